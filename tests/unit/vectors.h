/* Test vectors: real SQL Server bytes and the specifications' examples, one
 * line of hex per file, read from the vectors folder that lives beside the
 * source tree, not in it (its README gives each file's provenance).  The
 * folder is $TDSC_VECTORS, else the one configure found (TDSC_VECTORS_DIR);
 * where it is absent, the tests that need it say so and pass by. */
#ifndef TDSC_TEST_VECTORS_H
#define TDSC_TEST_VECTORS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* The vectors folder, or NULL when it is absent; the first call that finds
 * it absent prints why on stderr ("vectors: ... absent"). */
const char *tdsc_test_vectors_dir(void);

/* Returns from the calling test, after one line on stderr naming it, when
 * the vectors folder is absent: the bytes are public material that the
 * repository does not copy. */
#define TDSC_NEED_VECTORS()                                                    \
  do {                                                                         \
    if (!tdsc_test_vectors_dir()) {                                            \
      fprintf(stderr, "SKIP %s: no vectors folder\n", __func__);              \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Loads <dir>/<name> (e.g. "mstds_v39_04-login-response.hex"), one line of
 * hex; returns a malloc'd buffer (free it) and its length, or NULL (with a
 * message on stderr) when missing or malformed. */
uint8_t *tdsc_test_vector(const char *name, size_t *len);

/* The same, for a vector holding whole TDS messages: the payloads of all
 * its packets, 8-byte headers removed (checked: lengths add up, the last
 * packet alone has EOM).  *npackets gets the packet count if not NULL. */
uint8_t *tdsc_test_vector_payload(const char *name, size_t *len,
                                  size_t *npackets);

/* Parses a hex string (whitespace ignored) into a malloc'd buffer. */
uint8_t *tdsc_test_hex(const char *hex, size_t *len);

#endif
