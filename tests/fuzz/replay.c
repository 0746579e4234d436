/* main for a fuzz target built without libFuzzer: runs the target once
 * over each file named on the command line, or over every file of each
 * directory named there (not recursive), or, with no argument, over the
 * corpus compiled in (FUZZ_CORPUS, tests/fuzz/corpus/<target>).  Exits 0
 * when every input ran (a crash, a sanitizer report or a FUZZ_CHECK ends
 * the program first), 77 (skip) when there was nothing to run. */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) {
        fclose(f);
        free(buf);
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    if (!got)
      break;
    len += got;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    perror(path);
    return -1;
  }
  /* An exact-size copy, so that ASan sees a read past the input. */
  uint8_t *in = malloc(len ? len : 1);
  if (!in) {
    free(buf);
    return -1;
  }
  if (len)
    memcpy(in, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(in, len);
  free(in);
  return 0;
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; the count, or -1. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  long rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) {
        rc = -1;
        break;
      }
      names = nn;
    }
    size_t l = strlen(dir) + strlen(e->d_name) + 2;
    if (!(names[n] = malloc(l))) {
      rc = -1;
      break;
    }
    snprintf(names[n++], l, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (rc >= 0 && !stat(names[i], &st) && S_ISREG(st.st_mode)) {
      if (run_file(names[i]) < 0)
        rc = -1;
      else
        rc++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  long total = 0;
#ifdef FUZZ_CORPUS
  static char *dflt[] = {NULL, FUZZ_CORPUS, NULL};
  if (argc < 2) {
    dflt[0] = argv[0];
    argv = dflt;
    argc = 2;
  }
#endif
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st)) {
      perror(argv[i]);
      return 1;
    }
    long got = S_ISDIR(st.st_mode) ? run_dir(argv[i])
                                   : (run_file(argv[i]) < 0 ? -1 : 1);
    if (got < 0)
      return 1;
    total += got;
  }
  printf("%s: %ld inputs ran\n", argv[0], total);
  return total ? 0 : 77;
}
