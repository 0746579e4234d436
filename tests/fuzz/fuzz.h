/* The entry point every fuzz target defines (libFuzzer's), and helpers the
 * targets share.  Built two ways (Makefile.am): with `configure
 * --enable-fuzzing` and clang, each target links libFuzzer
 * (-fsanitize=fuzzer); otherwise it links replay.c, a main that runs the
 * target once over every file of its corpus, as a regression test in
 * make check (SQLite's fuzzcheck does the same). */
#ifndef TDSC_FUZZ_H
#define TDSC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding the sanitizers cannot see (a broken invariant): abort, so
 * that libFuzzer saves the input and replay fails. */
#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond))                                                             \
      fuzz_fail(__FILE__, __LINE__, #cond);                                  \
  } while (0)

void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* Reads every byte of p so that ASan checks the whole range (and MSan-like
 * uses of uninitialised bytes end up in a branch). */
static inline unsigned fuzz_touch(const void *p, size_t n) {
  const volatile uint8_t *b = (const volatile uint8_t *)p;
  unsigned s = 0;
  for (size_t i = 0; i < n; i++)
    s += b[i];
  return s;
}

#endif
