/* Loads the hex test vectors of the vectors folder (vectors.h). */
#include "vectors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef TDSC_VECTORS_DIR
#define TDSC_VECTORS_DIR "../shared/vectors"
#endif

const char *tdsc_test_vectors_dir(void) {
  static int said;
  const char *dir = getenv("TDSC_VECTORS");
  struct stat st;
  if (!dir || !*dir)
    dir = TDSC_VECTORS_DIR;
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    return dir;
  if (!said++)
    fprintf(stderr,
            "vectors: folder %s absent: the tests that replay real SQL "
            "Server bytes are skipped (set TDSC_VECTORS to the folder, or "
            "configure TDSC_VECTORS=...)\n",
            dir);
  return NULL;
}

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
  const char *dir = tdsc_test_vectors_dir();
  if (!dir)
    return NULL;
  snprintf(path, sizeof path, "%s/%s", dir, name);
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

uint8_t *tdsc_test_vector_payload(const char *name, size_t *len,
                                  size_t *npackets) {
  size_t n, o = 0, k = 0, i = 0;
  uint8_t *v = tdsc_test_vector(name, &n);
  if (!v)
    return NULL;
  /* In place: each packet's payload moves down over the headers. */
  while (i < n) {
    size_t plen = i + 8 <= n ? (size_t)(v[i + 2] << 8 | v[i + 3]) : 0;
    bool eom = i + 8 <= n && (v[i + 1] & 0x01);
    if (plen < 8 || i + plen > n || eom != (i + plen == n)) {
      fprintf(stderr, "vector %s: packet %zu at %zu is malformed\n", name,
              k + 1, i);
      free(v);
      return NULL;
    }
    memmove(v + o, v + i + 8, plen - 8);
    o += plen - 8;
    i += plen;
    k++;
  }
  *len = o;
  if (npackets)
    *npackets = k;
  return v;
}
