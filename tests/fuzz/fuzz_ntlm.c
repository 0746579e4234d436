/* Fuzz target: the server's NTLM CHALLENGE (lib/auth/ntlm.c, MS-NLMP
 * 2.2.1.2) as the mechanism meets it, raw or inside SPNEGO.
 *
 * Input: one flags byte, then the server's tokens.  Flags bit 0: SPNEGO
 * (Spnego=yes); then the first token is preceded by its length (u16 big
 * endian) and the rest of the input is the second token, the acceptor's
 * final NegTokenResp.  Raw: the rest of the input is the CHALLENGE.  The
 * mechanism runs from its NEGOTIATE to its AUTHENTICATE with fixed nonces
 * (tdsc__ntlm_fix), so that each input behaves the same every run. */
#include "config.h"

#include "auth/auth.h"
#include "auth/ntlm_crypto.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool spnego = data[0] & 1;
  const uint8_t *t1 = data + 1, *t2 = NULL;
  size_t n1 = size - 1, n2 = 0;
  if (spnego) {
    if (n1 < 2)
      return 0;
    size_t l = (size_t)t1[0] << 8 | t1[1];
    t1 += 2;
    n1 -= 2;
    if (l < n1) {
      t2 = t1 + l;
      n2 = n1 - l;
      n1 = l;
    }
  }
  tdsc__auth_params prm = {0};
  prm.spn = "MSSQLSvc/db.example.test:1433@EXAMPLE.TEST";
  prm.ntlm_user = "EXAMPLE\\alice";
  prm.ntlm_password = "Secret1";
  prm.workstation = "WS1";
  prm.spnego = spnego;
  tdsc_error err = {0};
  tdsc__buf out;
  tdsc__buf_init(&out);
  void *st = NULL;
  const tdsc__mech_ops *m = tdsc__mech_ntlm;
  if (m->init(&st, &prm, &err) != TDSC_OK)
    goto done; /* no server input reached */
  static const tdsc__ntlm_fixed fixed = {
      {1, 2, 3, 4, 5, 6, 7, 8},
      {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24},
      0x01d0000000000000ull,
      NULL};
  tdsc__ntlm_fix(st, &fixed);
  FUZZ_CHECK(m->step(st, NULL, 0, &out, &err) == TDSC__AUTH_CONTINUE);
  tdsc__buf_reset(&out);
  tdsc__auth_status s = m->step(st, t1, n1, &out, &err);
  if (s == TDSC__AUTH_FAILED) {
    FUZZ_CHECK(err.code != TDSC_OK && err.message);
    /* a mechanism that failed stays failed */
    tdsc__err_clear(&err);
    FUZZ_CHECK(m->step(st, t1, n1, &out, &err) == TDSC__AUTH_FAILED);
    goto done;
  }
  FUZZ_CHECK(s == TDSC__AUTH_DONE && out.len > 0);
  fuzz_touch(out.data, out.len);
  const tdsc__ntlm_info *info = tdsc__ntlm_info_of(st);
  if (info->target)
    fuzz_touch(info->target, strlen(info->target));
  if (info->target_info_len)
    fuzz_touch(info->target_info, info->target_info_len);
  fuzz_touch(m->identity(st), strlen(m->identity(st)));
  if (t2) {
    tdsc__buf_reset(&out);
    s = m->step(st, t2, n2, &out, &err);
    FUZZ_CHECK(s != TDSC__AUTH_FAILED || (err.code != TDSC_OK && err.message));
    FUZZ_CHECK(s != TDSC__AUTH_CONTINUE);
  }
done:
  m->free_state(st);
  tdsc__buf_free(&out);
  tdsc__err_clear(&err);
  return 0;
}
