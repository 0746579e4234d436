/* Loads the hex test vectors of tests/vectors (vectors.h). */
#include "vectors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TDSC_VECTORS_DIR
#define TDSC_VECTORS_DIR "tests/vectors"
#endif

uint8_t *tdsc_test_hex(const char *hex, size_t *len) {
  size_t n = strlen(hex);
  uint8_t *out = malloc(n / 2 + 1);
  size_t o = 0;
  int hi = -1;
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)hex[i], v;
    if (isspace(c))
      continue;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else {
      free(out);
      return NULL;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out[o++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  if (hi >= 0) {
    free(out);
    return NULL;
  }
  *len = o;
  return out;
}

uint8_t *tdsc_test_vector(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", TDSC_VECTORS_DIR, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "vector %s: cannot open\n", path);
    return NULL;
  }
  char *text = NULL;
  size_t cap = 0;
  ssize_t got = getline(&text, &cap, f);
  fclose(f);
  uint8_t *out = got > 0 ? tdsc_test_hex(text, len) : NULL;
  free(text);
  if (!out)
    fprintf(stderr, "vector %s: malformed\n", path);
  return out;
}
