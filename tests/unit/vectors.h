/* Test vectors: the hex files of tests/vectors (copied from shared/vectors,
 * provenance in its README.md), loaded as bytes. */
#ifndef TDSC_TEST_VECTORS_H
#define TDSC_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* Loads tests/vectors/<name> (e.g. "mstds_v39_04-login-response.hex"),
 * one line of hex; returns a malloc'd buffer (free it) and its length, or
 * NULL (with a message on stderr) when missing or malformed. */
uint8_t *tdsc_test_vector(const char *name, size_t *len);

/* Parses a hex string (whitespace ignored) into a malloc'd buffer. */
uint8_t *tdsc_test_hex(const char *hex, size_t *len);

#endif
