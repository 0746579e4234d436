/* Fuzz target: a token endpoint's answer (tdsc__oauth_reply_decode in
 * lib/auth/jwt.c, the project's one JSON reader), which entra.c reads from
 * an identity provider over HTTP.  Input: the body.  Every string it fills
 * stays NUL-terminated within its field, the token within the body's
 * length, the code count within its array; a refusal says why and leaves
 * nothing allocated. */
#include "config.h"

#include "auth/jwt.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tdsc__oauth_reply r;
  char why[128] = "";
  if (tdsc__oauth_reply_decode(data, size, &r, why, sizeof why)) {
    FUZZ_CHECK(r.ncodes <= TDSC__OAUTH_MAX_CODES);
    FUZZ_CHECK(memchr(r.token_type, 0, sizeof r.token_type));
    FUZZ_CHECK(memchr(r.error, 0, sizeof r.error));
    FUZZ_CHECK(memchr(r.error_description, 0, sizeof r.error_description));
    FUZZ_CHECK(memchr(r.message, 0, sizeof r.message));
    if (r.access_token) {
      FUZZ_CHECK(r.token_len == strlen(r.access_token));
      FUZZ_CHECK(r.token_len < size);
      fuzz_touch(r.access_token, r.token_len + 1);
    }
    fuzz_touch(&r, sizeof r);
  } else {
    FUZZ_CHECK(why[0] != 0);
    FUZZ_CHECK(r.access_token == NULL);
  }
  tdsc__oauth_reply_clear(&r);
  return 0;
}
