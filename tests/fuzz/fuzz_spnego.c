/* Fuzz target: SPNEGO tokens (lib/auth/spnego.c), the server's
 * NegTokenResp and an initial NegTokenInit; a parsed NegTokenResp is
 * encoded again and must parse to the same fields (RFC 4178 4.2). */
#include "config.h"

#include "auth/spnego.h"
#include "fuzz.h"

#include <string.h>

static bool same(const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen) {
  return alen == blen && (!alen || !memcmp(a, b, alen));
}

static void resp(const uint8_t *data, size_t size) {
  tdsc_error err = {0};
  tdsc__spnego_resp r;
  if (tdsc__spnego_parse_resp(data, size, &r, &err) != TDSC_OK) {
    FUZZ_CHECK(err.code != TDSC_OK && err.message);
    tdsc__err_clear(&err);
    return;
  }
  const uint8_t *end = data + size;
  FUZZ_CHECK(!r.mech || (r.mech >= data && r.mech + r.mechlen <= end));
  FUZZ_CHECK(!r.token || (r.token >= data && r.token + r.toklen <= end));
  FUZZ_CHECK(!r.mic || (r.mic >= data && r.mic + r.miclen <= end));
  (void)tdsc__spnego_state_name(r.state);
  if (r.state < TDSC__NEG_ABSENT || r.state > TDSC__NEG_REQUEST_MIC)
    return; /* a value we would not send: nothing to compare */
  tdsc__oid mech = {r.mech, r.mechlen};
  tdsc__buf b;
  tdsc__buf_init(&b);
  if (tdsc__spnego_resp_token(r.state, r.mech ? &mech : NULL, r.token,
                              r.toklen, r.mic, r.miclen, &b)) {
    tdsc__spnego_resp again;
    FUZZ_CHECK(tdsc__spnego_parse_resp(b.data, b.len, &again, &err) ==
               TDSC_OK);
    FUZZ_CHECK(again.state == r.state);
    FUZZ_CHECK(same(again.mech, again.mechlen, r.mech, r.mechlen));
    FUZZ_CHECK(same(again.token, again.toklen, r.token, r.toklen));
    FUZZ_CHECK(same(again.mic, again.miclen, r.mic, r.miclen));
  }
  tdsc__buf_free(&b);
  tdsc__err_clear(&err);
}

static void init(const uint8_t *data, size_t size) {
  tdsc_error err = {0};
  tdsc__spnego_init r;
  if (tdsc__spnego_parse_init(data, size, &r, &err) == TDSC_OK) {
    fuzz_touch(r.mech_list, r.mech_list_len);
    if (r.first_mech)
      fuzz_touch(r.first_mech, r.first_mech_len);
    if (r.token)
      fuzz_touch(r.token, r.toklen);
    if (r.mic)
      fuzz_touch(r.mic, r.miclen);
  }
  tdsc__err_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  resp(data, size);
  init(data, size);
  return 0;
}
