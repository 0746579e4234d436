/* Fuzz target: the JWT claims reader (lib/auth/jwt.c) that the entra
 * mechanism runs on AccessToken= and on a provider's token before sending
 * it.  Input: the token text (a NUL ends it early, as for a caller).  Every
 * string it fills stays NUL-terminated within its field, the audience count
 * within its array, and a refusal always says why. */
#include "config.h"

#include "auth/jwt.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = 0;
  tdsc__jwt_claims c;
  char why[200] = "";
  if (tdsc__jwt_decode(s, &c, why, sizeof why)) {
    FUZZ_CHECK(c.naud <= TDSC__JWT_MAX_AUD);
    for (size_t i = 0; i < c.naud; i++)
      FUZZ_CHECK(memchr(c.aud[i], 0, sizeof c.aud[i]));
    FUZZ_CHECK(memchr(c.alg, 0, sizeof c.alg));
    FUZZ_CHECK(memchr(c.iss, 0, sizeof c.iss));
    FUZZ_CHECK(memchr(c.tid, 0, sizeof c.tid));
    FUZZ_CHECK(memchr(c.oid, 0, sizeof c.oid));
    FUZZ_CHECK(memchr(c.upn, 0, sizeof c.upn));
    FUZZ_CHECK(memchr(c.unique_name, 0, sizeof c.unique_name));
    FUZZ_CHECK(memchr(c.appid, 0, sizeof c.appid));
    fuzz_touch(&c, sizeof c);
  } else {
    FUZZ_CHECK(why[0] != 0);
  }
  free(s);
  return 0;
}
