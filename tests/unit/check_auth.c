/* Unit tests of lib/auth: the SPNEGO codec (spnego.c, byte-exact vectors
 * cross-checked with `openssl asn1parse`, malformed input), the Kerberos
 * diagnosis table, and the kerberos mechanism (gssapi.c) against a real
 * throwaway MIT realm (tests/realm/realm.py), with this process playing
 * the acceptor through MIT GSSAPI (default mechanisms, so SPNEGO tokens go
 * to MIT's own SPNEGO acceptor).  Clock skew runs the acceptor in a child
 * process of this binary under faketime (--accept mode). */
#include "config.h"

#include "auth/auth.h"
#include "auth/exchange.h"
#include "auth/krb5_diag.h"
#include "auth/spnego.h"
#include "clock.h"
#include "vectors.h"
#ifdef TDSC_HAVE_GSSAPI
#include "auth/krb5_diag.h"
#include "transport/worker.h"
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <profile.h>
#include <et/com_err.h>
#endif

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t *hex(const char *h, size_t *n) {
  uint8_t *b = tdsc_test_hex(h, n);
  ck_assert_ptr_nonnull(b);
  return b;
}

/* ------------------------------------------------------------- SPNEGO */

/* Checked with `openssl asn1parse -inform DER -i`: appl[0] { OID
 * 1.3.6.1.5.5.2, cont[0] { SEQUENCE { cont[0] { SEQUENCE { OID
 * 1.2.840.113554.1.2.2 } }, cont[2] { OCTET STRING 010203 } } } }. */
static const char init_hex[] =
    "6022 06062b0601050502 a018 3016 a00d 300b 06092a864886f712010202"
    "a205 0403 010203";
/* cont[1] { SEQUENCE { cont[0] ENUMERATED 0, cont[1] OID krb5,
 * cont[2] OCTET STRING dead, cont[3] OCTET STRING 010203 } } */
static const char resp_hex[] =
    "a121 301f a0030a0100 a10b06092a864886f712010202 a2040402dead"
    "a305040301 0203";
static const char reject_hex[] = "a107 3005 a0030a0102";

START_TEST(spnego_init_token_is_byte_exact) {
  size_t n;
  uint8_t *want = hex(init_hex, &n);
  tdsc__buf b;
  tdsc__buf_init(&b);
  static const uint8_t tok[] = {1, 2, 3};
  ck_assert(tdsc__spnego_init_token(&tdsc__oid_krb5, 1, tok, 3, &b));
  ck_assert_uint_eq(b.len, n);
  ck_assert_mem_eq(b.data, want, n);
  /* and it parses back */
  tdsc__spnego_init in;
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__spnego_parse_init(b.data, b.len, &in, &e), TDSC_OK);
  ck_assert(tdsc__oid_eq(&tdsc__oid_krb5, in.first_mech, in.first_mech_len));
  ck_assert_uint_eq(in.toklen, 3);
  ck_assert_mem_eq(in.token, tok, 3);
  ck_assert_uint_eq(in.mech_list_len, 13);
  ck_assert_mem_eq(in.mech_list, want + 16, 13);
  tdsc__buf_free(&b);
  free(want);
}
END_TEST

START_TEST(spnego_mech_list_is_what_the_mic_covers) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  const tdsc__oid two[] = {tdsc__oid_ntlmssp, tdsc__oid_krb5};
  tdsc__spnego_mech_list(two, 2, &b);
  size_t n;
  uint8_t *want =
      hex("3017 060a2b06010401823702020a 06092a864886f712010202", &n);
  ck_assert_uint_eq(b.len, n);
  ck_assert_mem_eq(b.data, want, n);
  tdsc__buf_free(&b);
  free(want);
}
END_TEST

START_TEST(spnego_long_lengths_round_trip) {
  /* 300-byte token: two-byte long-form lengths at three levels. */
  uint8_t tok[300];
  for (size_t i = 0; i < sizeof tok; i++)
    tok[i] = (uint8_t)i;
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert(tdsc__spnego_init_token(&tdsc__oid_krb5, 1, tok, sizeof tok, &b));
  ck_assert_uint_eq(b.data[0], 0x60);
  ck_assert_uint_eq(b.data[1], 0x82);
  ck_assert_uint_eq((size_t)(b.data[2] << 8 | b.data[3]), b.len - 4);
  tdsc__spnego_init in;
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__spnego_parse_init(b.data, b.len, &in, &e), TDSC_OK);
  ck_assert_uint_eq(in.toklen, sizeof tok);
  ck_assert_mem_eq(in.token, tok, sizeof tok);
  /* NegTokenResp with a 200-byte MIC (0x81 form) */
  tdsc__buf_reset(&b);
  ck_assert(tdsc__spnego_resp_token(TDSC__NEG_ABSENT, NULL, NULL, 0, tok,
                                    200, &b));
  tdsc__spnego_resp r;
  ck_assert_int_eq(tdsc__spnego_parse_resp(b.data, b.len, &r, &e), TDSC_OK);
  ck_assert_int_eq(r.state, TDSC__NEG_ABSENT);
  ck_assert_ptr_null(r.token);
  ck_assert_uint_eq(r.miclen, 200);
  ck_assert_mem_eq(r.mic, tok, 200);
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(spnego_accept_completed_parses_and_rebuilds) {
  size_t n;
  uint8_t *in = hex(resp_hex, &n);
  tdsc__spnego_resp r;
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__spnego_parse_resp(in, n, &r, &e), TDSC_OK);
  ck_assert_int_eq(r.state, TDSC__NEG_ACCEPT_COMPLETED);
  ck_assert(tdsc__oid_eq(&tdsc__oid_krb5, r.mech, r.mechlen));
  ck_assert_uint_eq(r.toklen, 2);
  ck_assert_mem_eq(r.token, "\xde\xad", 2);
  ck_assert_uint_eq(r.miclen, 3);
  ck_assert_mem_eq(r.mic, "\x01\x02\x03", 3);
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert(tdsc__spnego_resp_token(TDSC__NEG_ACCEPT_COMPLETED,
                                    &tdsc__oid_krb5, r.token, r.toklen,
                                    r.mic, r.miclen, &b));
  ck_assert_uint_eq(b.len, n);
  ck_assert_mem_eq(b.data, in, n);
  tdsc__buf_free(&b);
  free(in);
}
END_TEST

START_TEST(spnego_reject_parses) {
  size_t n;
  uint8_t *in = hex(reject_hex, &n);
  tdsc__spnego_resp r;
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__spnego_parse_resp(in, n, &r, &e), TDSC_OK);
  ck_assert_int_eq(r.state, TDSC__NEG_REJECT);
  ck_assert_ptr_null(r.token);
  ck_assert_ptr_null(r.mic);
  ck_assert_ptr_null(r.mech);
  ck_assert_str_eq(tdsc__spnego_state_name(r.state), "reject");
  ck_assert_str_eq(tdsc__spnego_state_name(TDSC__NEG_ACCEPT_INCOMPLETE),
                   "accept-incomplete");
  ck_assert_str_eq(tdsc__spnego_state_name((tdsc__neg_state)7), "absent");
  free(in);
}
END_TEST

START_TEST(spnego_every_truncation_is_a_protocol_error) {
  const char *samples[] = {resp_hex, reject_hex};
  for (size_t s = 0; s < 2; s++) {
    size_t n;
    uint8_t *in = hex(samples[s], &n);
    for (size_t cut = 0; cut < n; cut++) {
      /* a private copy of exactly cut bytes, so valgrind sees overreads */
      uint8_t *p = malloc(cut ? cut : 1);
      memcpy(p, in, cut);
      tdsc__spnego_resp r;
      tdsc_error e = {0};
      ck_assert_int_eq(tdsc__spnego_parse_resp(p, cut, &r, &e),
                       TDSC_E_PROTOCOL);
      ck_assert_ptr_nonnull(strstr(tdsc_error_message(&e), "NegTokenResp"));
      tdsc__err_clear(&e);
      free(p);
    }
    free(in);
  }
  size_t n;
  uint8_t *in = hex(init_hex, &n);
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *p = malloc(cut ? cut : 1);
    memcpy(p, in, cut);
    tdsc__spnego_init r;
    tdsc_error e = {0};
    ck_assert_int_eq(tdsc__spnego_parse_init(p, cut, &r, &e),
                     TDSC_E_PROTOCOL);
    tdsc__err_clear(&e);
    free(p);
  }
  free(in);
}
END_TEST

static void expect_bad_resp(const char *h, const char *needle) {
  size_t n;
  uint8_t *in = hex(h, &n);
  tdsc__spnego_resp r;
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__spnego_parse_resp(in, n, &r, &e), TDSC_E_PROTOCOL);
  ck_assert_msg(strstr(tdsc_error_message(&e), needle), "%s lacks %s",
                tdsc_error_message(&e), needle);
  tdsc__err_clear(&e);
  free(in);
}

START_TEST(spnego_malformed_resp_says_what_is_wrong) {
  expect_bad_resp("a0 07 3005 a0030a0102", "expected tag 0xa1, found 0xa0");
  expect_bad_resp("a1 80 3005 a0030a0102 0000", "indefinite length");
  expect_bad_resp("a1 85 0000000007 3005a0030a0102", "length of 5 bytes");
  expect_bad_resp("a1 84 ffffffff 3005", "over the");
  expect_bad_resp("a1 84 00000100 3005", "runs past the end");
  expect_bad_resp("a1 82 01", "length truncated");
  expect_bad_resp("a1 07 3005 a0030a0107", "negState");
  expect_bad_resp("a1 07 3005 a0030a0102 00", "unexpected bytes after");
  expect_bad_resp("a1 06 3004 a4020400", "unexpected field (tag 0xa4)");
  expect_bad_resp("a1 08 3006 a2040403dead", "responseToken");
  expect_bad_resp("a1 07 3005 a1030600 00", "");
  expect_bad_resp("a1 04 3002 a100", "supportedMech missing");
  expect_bad_resp("", "missing");
  expect_bad_resp("a1 06 3004 a1020600", "empty supportedMech");
  expect_bad_resp("a1 07 3005 a0030a0104", "negState is not one of 0..3");
}
END_TEST

/* DER lengths at every size where the form changes (127/128 short/long,
 * 255/256 one/two bytes): tokens of every size up to 700 bytes, in
 * NegTokenInit and NegTokenResp, parse back to themselves, and the
 * outer length covers exactly the rest. */
START_TEST(spnego_every_token_size_round_trips) {
  static uint8_t tok[700];
  for (size_t i = 0; i < sizeof tok; i++)
    tok[i] = (uint8_t)(i * 7);
  for (size_t len = 1; len <= sizeof tok; len++) {
    tdsc__buf b;
    tdsc_error e = {0};
    tdsc__buf_init(&b);
    ck_assert(tdsc__spnego_init_token(&tdsc__oid_krb5, 1, tok, len, &b));
    tdsc__spnego_init in;
    ck_assert_msg(tdsc__spnego_parse_init(b.data, b.len, &in, &e) == TDSC_OK,
                  "init of %zu: %s", len, tdsc_error_message(&e));
    ck_assert_uint_eq(in.toklen, len);
    ck_assert_mem_eq(in.token, tok, len);
    /* DER: the outer length in its shortest form (X.690 10.1) */
    size_t body = b.len - 2 - (b.data[1] & 0x80 ? b.data[1] & 0x7F : 0);
    ck_assert_uint_eq(b.data[1], body < 0x80    ? body
                                 : body < 0x100 ? 0x81u
                                                : 0x82u);
    tdsc__buf_reset(&b);
    ck_assert(tdsc__spnego_resp_token(TDSC__NEG_ACCEPT_INCOMPLETE,
                                      &tdsc__oid_krb5, tok, len, tok, len / 3,
                                      &b));
    tdsc__spnego_resp r;
    ck_assert_msg(tdsc__spnego_parse_resp(b.data, b.len, &r, &e) == TDSC_OK,
                  "resp of %zu: %s", len, tdsc_error_message(&e));
    ck_assert_uint_eq(r.toklen, len);
    ck_assert_mem_eq(r.token, tok, len);
    ck_assert_uint_eq(r.miclen, len / 3);
    tdsc__err_clear(&e);
    tdsc__buf_free(&b);
  }
  /* an OID is equal only to itself, not to a prefix of it */
  ck_assert(tdsc__oid_eq(&tdsc__oid_krb5, tdsc__oid_krb5.der,
                         tdsc__oid_krb5.len));
  ck_assert(!tdsc__oid_eq(&tdsc__oid_krb5, tdsc__oid_krb5.der,
                          tdsc__oid_krb5.len - 1));
  ck_assert(!tdsc__oid_eq(&tdsc__oid_krb5, tdsc__oid_ms_krb5.der,
                          tdsc__oid_ms_krb5.len));
}
END_TEST

/* ------------------------------------------------------ SSPI statuses */

/* SChannel's (TLS, certificates, smart cards): lib/tls's, not ours. */
static bool schannel_status(uint32_t st) {
  return (st >= 0x80090325u && st <= 0x80090328u) || st == 0x80090331u ||
         st == 0x80090332u || st == 0x80090349u ||
         (st >= 0x80090351u && st <= 0x8009035Bu && st != 0x80090356u &&
          st != 0x80090357u) ||
         st == 0x80090367u;
}

START_TEST(sspi_table_maps_every_status_for_both_packages) {
  for (size_t i = 0; i < tdsc__sspi_table_len; i++) {
    const tdsc__sspi_row *r = &tdsc__sspi_table[i];
    for (size_t j = i + 1; j < tdsc__sspi_table_len; j++)
      ck_assert_msg(tdsc__sspi_table[j].status != r->status, "%s twice",
                    r->name);
    ck_assert_int_eq(tdsc__sspi_classify(r->status, false), r->krb);
    ck_assert_int_eq(tdsc__sspi_classify(r->status, true), r->ntlm);
    if (!(r->status & 0x80000000u))
      continue; /* success and information (SEC_I_*): the caller's */
    ck_assert_msg(tdsc_errc_category(r->krb) == TDSC_CAT_KERBEROS ||
                      r->krb == TDSC_E_PROTOCOL || r->krb == TDSC_E_NO_MEMORY ||
                      r->krb == TDSC_E_BAD_OPTION_VALUE,
                  "%s gives %s for Kerberos", r->name,
                  tdsc_errc_name(r->krb));
    ck_assert_msg(tdsc_errc_category(r->ntlm) == TDSC_CAT_NTLM ||
                      r->ntlm == TDSC_E_PROTOCOL ||
                      r->ntlm == TDSC_E_NO_MEMORY ||
                      r->ntlm == TDSC_E_BAD_OPTION_VALUE,
                  "%s gives %s for NTLM", r->name, tdsc_errc_name(r->ntlm));
  }
  /* the statuses users meet, pinned */
  ck_assert_int_eq(tdsc__sspi_classify(0x80090324u, false),
                   TDSC_E_KRB_CLOCK_SKEW); /* SEC_E_TIME_SKEW */
  ck_assert_int_eq(tdsc__sspi_classify(0x80090311u, false),
                   TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_int_eq(tdsc__sspi_classify(0x80090342u, false),
                   TDSC_E_KRB_ENCTYPE_UNSUPPORTED); /* KDC_UNKNOWN_ETYPE */
  ck_assert_int_eq(tdsc__sspi_classify(0xC0000072u, false),
                   TDSC_E_KRB_CLIENT_REVOKED); /* STATUS_ACCOUNT_DISABLED */
  ck_assert_int_eq(tdsc__sspi_classify(0xC0000072u, true),
                   TDSC_E_NTLM_ACCOUNT_RESTRICTED);
  ck_assert_int_eq(tdsc__sspi_classify(0xC0000071u, false),
                   TDSC_E_KRB_PASSWORD_EXPIRED);
  ck_assert_int_eq(tdsc__sspi_classify(0x8009030Cu, true),
                   TDSC_E_NTLM_LOGON_DENIED);
  ck_assert_int_eq(tdsc__sspi_classify(0xC0000418u, true),
                   TDSC_E_NTLM_REFUSED); /* STATUS_NTLM_BLOCKED */
  ck_assert_int_eq(tdsc__sspi_classify(0x8009FFFFu, false),
                   TDSC_E_KRB_FAILED);
  ck_assert_int_eq(tdsc__sspi_classify(0x8009FFFFu, true),
                   TDSC_E_NTLM_FAILED);
  /* every SEC_E_ / SEC_I_ status of the Windows headers has a row, but
   * SChannel's (mingw-w64's winerror.h, which scripts/deps-windows.sh
   * installs; without it, the Windows build's static assertions check the
   * numbers) */
  FILE *f = fopen("/usr/share/mingw-w64/include/winerror.h", "r");
  if (!f)
    return;
  char line[512];
  unsigned seen = 0;
  while (fgets(line, sizeof line, f)) {
    char name[128];
    unsigned v;
    if (sscanf(line, "#define SEC_%127s _HRESULT_TYPEDEF_(0x%x)", name, &v) !=
        2)
      continue;
    seen++;
    if (schannel_status(v))
      continue;
    bool found = false;
    for (size_t i = 0; i < tdsc__sspi_table_len; i++)
      found = found || tdsc__sspi_table[i].status == v;
    ck_assert_msg(found, "SEC_%s (0x%08x) has no row in krb5_diag.c", name,
                  v);
  }
  fclose(f);
  ck_assert_uint_gt(seen, 80);
}
END_TEST

#ifdef TDSC_HAVE_GSSAPI
/* ---------------------------------------------------------- diagnosis */

START_TEST(diagnosis_table_maps_each_measured_failure) {
  const OM_uint32 F = GSS_S_FAILURE;
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5_KDC_UNREACH, TDSC__KRB_INIT),
                   TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_int_eq(
      tdsc__krb_classify(F, KRB5_REALM_CANT_RESOLVE, TDSC__KRB_ACQUIRE),
      TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
                                      TDSC__KRB_INIT),
                   TDSC_E_KRB_SPN_UNKNOWN);
  ck_assert_int_eq(
      tdsc__krb_classify(GSS_S_NO_CRED, KRB5_CC_NOTFOUND, TDSC__KRB_ACQUIRE),
      TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_int_eq(tdsc__krb_classify(GSS_S_NO_CRED, 0, TDSC__KRB_ACQUIRE),
                   TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_int_eq(
      tdsc__krb_classify(F, KRB5KRB_AP_ERR_TKT_EXPIRED, TDSC__KRB_INIT),
      TDSC_E_KRB_TICKET_EXPIRED);
  ck_assert_int_eq(tdsc__krb_classify(GSS_S_CREDENTIALS_EXPIRED, 0,
                                      TDSC__KRB_INIT),
                   TDSC_E_KRB_TICKET_EXPIRED);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KRB_AP_ERR_SKEW,
                                      TDSC__KRB_ACCEPT),
                   TDSC_E_KRB_CLOCK_SKEW);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KRB_AP_ERR_TKT_NYV,
                                      TDSC__KRB_ACCEPT),
                   TDSC_E_KRB_CLOCK_SKEW);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KRB_AP_ERR_BADKEYVER,
                                      TDSC__KRB_ACCEPT),
                   TDSC_E_KRB_SERVICE_KEY_MISMATCH);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KRB_AP_ERR_BAD_INTEGRITY,
                                      TDSC__KRB_ACCEPT),
                   TDSC_E_KRB_SERVICE_KEY_MISMATCH);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KRB_AP_ERR_BAD_INTEGRITY,
                                      TDSC__KRB_ACQUIRE),
                   TDSC_E_KRB_PREAUTH_FAILED);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KRB_AP_ERR_MODIFIED,
                                      TDSC__KRB_ACCEPT),
                   TDSC_E_KRB_SERVICE_KEY_MISMATCH);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5_REALM_UNKNOWN,
                                      TDSC__KRB_ACQUIRE),
                   TDSC_E_KRB_REALM_UNKNOWN);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KDC_ERR_PREAUTH_FAILED,
                                      TDSC__KRB_ACQUIRE),
                   TDSC_E_KRB_PREAUTH_FAILED);
  ck_assert_int_eq(tdsc__krb_classify(F, KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN,
                                      TDSC__KRB_ACQUIRE),
                   TDSC_E_KRB_CLIENT_UNKNOWN);
  ck_assert_int_eq(tdsc__krb_classify(F, 100001, TDSC__KRB_INIT),
                   TDSC_E_KRB_FAILED);
  /* a minor status with no specific row leaves the word to the major */
  ck_assert_int_eq(tdsc__krb_classify(GSS_S_NO_CRED, KRB5KDC_ERR_BAD_PVNO,
                                      TDSC__KRB_ACQUIRE),
                   TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_int_eq(tdsc__krb_classify(GSS_S_BAD_NAME, 0, TDSC__KRB_INIT),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(tdsc__krb_classify(GSS_S_BAD_NAMETYPE, 0, TDSC__KRB_INIT),
                   TDSC_E_BAD_OPTION_VALUE);
}
END_TEST

/* MIT's error tables, as com_err knows them: base and the number of codes
 * (krb5_err.et 256, k5e1_err.et 14, kv5m_err.et 61, prof_err.et 38; the
 * GSS krb5 mechanism's gssapi_err_krb5.et 17, whose names MIT keeps
 * private).  A table that grew in a newer MIT fails the walk below. */
static const struct {
  const char *table;
  long base;
  int count;
} mit_tables[] = {
    {"krb5", -1765328384L, 256}, {"k5e1", -1750600192L, 14},
    {"kv5m", -1760647424L, 61},  {"prof", -1429577728L, 38},
    {"k5g", 39756032L, 17},
};

START_TEST(diagnosis_table_has_a_row_for_every_mit_code) {
  for (size_t t = 0; t < sizeof mit_tables / sizeof mit_tables[0]; t++) {
    for (int i = 0; i < mit_tables[t].count; i++) {
      long code = mit_tables[t].base + i;
      const tdsc__krb_row *r = tdsc__krb_row_of(code);
      ck_assert_msg(r, "%s code %d (%ld, \"%s\") has no row in krb5_diag.c",
                    mit_tables[t].table, i, code,
                    error_message((krb5_error_code)code));
      /* what a code becomes is its row's, in every phase */
      ck_assert_int_eq(tdsc__krb_classify(GSS_S_FAILURE, (int32_t)code,
                                          TDSC__KRB_ACQUIRE),
                       r->as == TDSC_E_KRB_FAILED ? TDSC_E_KRB_FAILED
                                                  : r->as);
      ck_assert_int_eq(tdsc__krb_classify(GSS_S_FAILURE, (int32_t)code,
                                          TDSC__KRB_INIT),
                       r->as == TDSC_E_KRB_FAILED ? TDSC_E_KRB_FAILED
                                                  : r->later);
    }
    /* com_err agrees on where each table ends (k5g is registered only
     * inside the GSS mechanism: not checked) */
    if (strcmp(mit_tables[t].table, "k5g") != 0) {
      long past = mit_tables[t].base + mit_tables[t].count;
      ck_assert_msg(strstr(error_message((krb5_error_code)past), "Unknown"),
                    "MIT's %s table has more codes than the walk: %s",
                    mit_tables[t].table, error_message((krb5_error_code)past));
      ck_assert_ptr_null(tdsc__krb_row_of(past));
    }
  }
}
END_TEST

START_TEST(diagnosis_rows_are_disjoint_and_give_kerberos_codes) {
  size_t failed = 0;
  for (size_t i = 0; i < tdsc__krb_table_len; i++) {
    const tdsc__krb_row *r = &tdsc__krb_table[i];
    ck_assert_msg(r->lo <= r->hi, "%s: empty range", r->name);
    for (size_t j = i + 1; j < tdsc__krb_table_len; j++)
      ck_assert_msg(tdsc__krb_table[j].hi < r->lo ||
                        tdsc__krb_table[j].lo > r->hi,
                    "%s and %s overlap", r->name, tdsc__krb_table[j].name);
    /* a row gives a code of the Kerberos family, or one of the three
     * others a Kerberos failure may be: a bad option, memory */
    tdsc_errc codes[2] = {r->as, r->later};
    for (int k = 0; k < 2; k++)
      ck_assert_msg(tdsc_errc_category(codes[k]) == TDSC_CAT_KERBEROS ||
                        codes[k] == TDSC_E_BAD_OPTION_VALUE ||
                        codes[k] == TDSC_E_NO_MEMORY,
                    "%s gives %s", r->name, tdsc_errc_name(codes[k]));
    /* a row either always stays KRB_FAILED (the commented list) or never */
    ck_assert_msg((r->as == TDSC_E_KRB_FAILED) ==
                      (r->later == TDSC_E_KRB_FAILED),
                  "%s is KRB_FAILED in one phase only", r->name);
    failed += r->as == TDSC_E_KRB_FAILED;
  }
  /* most of the space is specific: the KRB_FAILED rows are the explicit
   * list of krb5_diag.c (protocol, library internals, PKINIT, unused) */
  ck_assert_uint_lt(failed, tdsc__krb_table_len / 2);
}
END_TEST

START_TEST(diagnosis_names_the_causes_users_meet) {
  const OM_uint32 F = GSS_S_FAILURE;
  const struct {
    long code;
    tdsc__krb_phase ph;
    tdsc_errc want;
  } cases[] = {
      {KRB5KDC_ERR_NAME_EXP, TDSC__KRB_ACQUIRE, TDSC_E_KRB_CLIENT_REVOKED},
      {KRB5KDC_ERR_CLIENT_REVOKED, TDSC__KRB_ACQUIRE,
       TDSC_E_KRB_CLIENT_REVOKED},
      {KRB5KDC_ERR_KEY_EXP, TDSC__KRB_ACQUIRE, TDSC_E_KRB_PASSWORD_EXPIRED},
      {KRB5KDC_ERR_ETYPE_NOSUPP, TDSC__KRB_INIT,
       TDSC_E_KRB_ENCTYPE_UNSUPPORTED},
      {KRB5_CONFIG_BADFORMAT, TDSC__KRB_ACQUIRE, TDSC_E_KRB_CONFIG_INVALID},
      {PROF_RELATION_SYNTAX, TDSC__KRB_ACQUIRE, TDSC_E_KRB_CONFIG_INVALID},
      {KRB5_KT_NOTFOUND, TDSC__KRB_ACQUIRE, TDSC_E_KRB_KEYTAB_UNUSABLE},
      {KRB5_KT_NOTFOUND, TDSC__KRB_ACCEPT, TDSC_E_KRB_SERVICE_KEY_MISMATCH},
      {39756032L /* KG_CCACHE_NOMATCH */, TDSC__KRB_ACQUIRE,
       TDSC_E_KRB_WRONG_PRINCIPAL},
      {KRB5_CC_FORMAT, TDSC__KRB_ACQUIRE, TDSC_E_KRB_CCACHE_UNUSABLE},
      {KRB5_FCC_PERM, TDSC__KRB_ACQUIRE, TDSC_E_KRB_CCACHE_UNUSABLE},
      {KRB5KDC_ERR_SERVICE_REVOKED, TDSC__KRB_INIT,
       TDSC_E_KRB_SERVICE_REFUSED},
      {KRB5KDC_ERR_POLICY, TDSC__KRB_INIT, TDSC_E_KRB_POLICY_REFUSED},
      {KRB5KRB_AP_ERR_REPEAT, TDSC__KRB_ACCEPT, TDSC_E_KRB_AP_REJECTED},
      {KRB5KDC_ERR_PATH_NOT_ACCEPTED, TDSC__KRB_INIT,
       TDSC_E_KRB_NO_TRUST_PATH},
      {KRB5_KDC_UNREACH, TDSC__KRB_INIT, TDSC_E_KRB_KDC_UNREACHABLE},
      {KRB5_CC_NOTFOUND, TDSC__KRB_ACQUIRE, TDSC_E_KRB_NO_CREDENTIALS},
      {KRB5KRB_AP_ERR_BAD_INTEGRITY, TDSC__KRB_ACQUIRE,
       TDSC_E_KRB_PREAUTH_FAILED},
      {KRB5KRB_AP_ERR_BAD_INTEGRITY, TDSC__KRB_ACCEPT,
       TDSC_E_KRB_SERVICE_KEY_MISMATCH},
      {KRB5KDC_ERR_BAD_PVNO, TDSC__KRB_INIT, TDSC_E_KRB_FAILED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    ck_assert_msg(tdsc__krb_classify(F, (int32_t)cases[i].code,
                                     cases[i].ph) == cases[i].want,
                  "%s (phase %d) gave %s, want %s",
                  error_message((krb5_error_code)cases[i].code),
                  (int)cases[i].ph,
                  tdsc_errc_name(tdsc__krb_classify(
                      F, (int32_t)cases[i].code, cases[i].ph)),
                  tdsc_errc_name(cases[i].want));
}
END_TEST

/* The statuses the measured table above does not reach through a major
 * status that would classify them anyway: each under GSS_S_FAILURE, so
 * that only its own row names it (the KDC's clock skew, a missing ccache
 * file, an empty ccache, a keytab without the principal, no default
 * realm). */
START_TEST(diagnosis_names_each_status_by_its_own_row) {
  const OM_uint32 F = GSS_S_FAILURE;
  static const struct {
    int32_t code;
    tdsc_errc want;
  } rows[] = {
      {KRB5_KDCREP_SKEW, TDSC_E_KRB_CLOCK_SKEW},
      {KRB5_FCC_NOFILE, TDSC_E_KRB_NO_CREDENTIALS},
      {KRB5_CC_NOTFOUND, TDSC_E_KRB_NO_CREDENTIALS},
      {KRB5_CC_END, TDSC_E_KRB_NO_CREDENTIALS},
      {KRB5_CONFIG_NODEFREALM, TDSC_E_KRB_REALM_UNKNOWN},
      {KRB5_PREAUTH_FAILED, TDSC_E_KRB_PREAUTH_FAILED},
      {KRB5KDC_ERR_TGT_REVOKED, TDSC_E_KRB_TICKET_EXPIRED},
      {KRB5KRB_AP_ERR_NOKEY, TDSC_E_KRB_SERVICE_KEY_MISMATCH},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    for (int ph = TDSC__KRB_ACQUIRE; ph <= TDSC__KRB_ACCEPT; ph++)
      ck_assert_msg(tdsc__krb_classify(F, rows[i].code,
                                       (tdsc__krb_phase)ph) == rows[i].want,
                    "status %ld (phase %d) is %s, not %s",
                    (long)rows[i].code, ph,
                    tdsc_errc_name(tdsc__krb_classify(F, rows[i].code,
                                                      (tdsc__krb_phase)ph)),
                    tdsc_errc_name(rows[i].want));
  /* clock skew is never "expired": the policy falls back after one of
   * them only */
  ck_assert_int_ne(tdsc__krb_classify(F, KRB5KRB_AP_ERR_SKEW,
                                      TDSC__KRB_ACCEPT),
                   TDSC_E_KRB_TICKET_EXPIRED);
}
END_TEST

/* ------------------------------------------------------ the real realm */

static char realm_dir[256];
static char *python3;
static char *realm_py;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static void realm_cmd(const char *args) {
  sh("%s %s %s", python3, realm_py, args);
}

static char *path_in(const char *name) {
  static char buf[4][512];
  static int i;
  char *p = buf[i++ % 4];
  snprintf(p, 512, "%s/%s", realm_dir, name);
  return p;
}

static const char SPN[] = "MSSQLSvc/db.tdsc.test:1433";

static void realm_up(void) {
  char cmd[1024];
  strcpy(realm_dir, "/tmp/tdsc-krb-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(realm_dir));
  snprintf(cmd, sizeof cmd, "create %s --max-life 600 >/dev/null", realm_dir);
  realm_cmd(cmd);
  /* the realm's variables, for us and the acceptor */
  FILE *f = fopen(path_in("env"), "r");
  ck_assert_ptr_nonnull(f);
  char line[600];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq)
      continue;
    *eq = '\0';
    char *v = eq + 1;
    if (*v == '\'') { /* shlex.quote */
      v++;
      v[strcspn(v, "'")] = '\0';
    }
    setenv(line, v, 1);
  }
  fclose(f);
  setenv("KRB5_KTNAME", path_in("service.keytab"), 1);
  unsetenv("KRB5_CLIENT_KTNAME");
  snprintf(cmd, sizeof cmd,
           "addprinc %s alice --password alice-pw-1 >/dev/null && "
           "%s %s addprinc %s bob --randkey && "
           "%s %s addprinc %s %s --randkey && "
           "%s %s ktadd %s %s %s && %s %s ktadd %s %s bob",
           realm_dir, python3, realm_py, realm_dir, python3, realm_py,
           realm_dir, SPN, python3, realm_py, realm_dir,
           path_in("service.keytab"), SPN, python3, realm_py, realm_dir,
           path_in("bob.keytab"));
  realm_cmd(cmd);
}

static void realm_down(void) {
  if (!realm_dir[0])
    return;
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "%s %s destroy %s", python3, realm_py,
           realm_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "realm destroy failed: %s\n", realm_dir);
  realm_dir[0] = '\0';
}

static void kinit_alice(const char *ccache, int lifetime) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "kinit %s alice --password alice-pw-1%s%s%s%s",
           realm_dir, ccache ? " --ccache " : "", ccache ? ccache : "",
           lifetime ? " --lifetime " : "", lifetime ? "1" : "");
  realm_cmd(cmd);
}

static void default_ccache(void) {
  char v[600];
  snprintf(v, sizeof v, "FILE:%s", path_in("ccache"));
  setenv("KRB5CCNAME", v, 1);
}

/* The acceptor: MIT's, with the default mechanisms and KRB5_KTNAME. */
typedef struct acceptor {
  gss_ctx_id_t ctx;
  bool complete;
  OM_uint32 major, minor;
  gss_cred_id_t cred;
} acceptor;

static void acc_free(acceptor *a) {
  OM_uint32 minor;
  if (a->ctx != GSS_C_NO_CONTEXT)
    gss_delete_sec_context(&minor, &a->ctx, GSS_C_NO_BUFFER);
  if (a->cred != GSS_C_NO_CREDENTIAL)
    gss_release_cred(&minor, &a->cred);
}

/* krb5 and MIT's SPNEGO, SPNEGO negotiating krb5 only: the default set
 * would also load gss-ntlmssp, whose acquire_cred_from leaks (valgrind). */
static void acc_cred(acceptor *a) {
  static gss_OID_desc spnego = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};
  OM_uint32 minor;
  gss_OID_desc mechs[2] = {*gss_mech_krb5, spnego};
  gss_OID_set_desc set = {2, mechs}, neg = {1, mechs};
  OM_uint32 m1 = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                   &set, GSS_C_ACCEPT, &a->cred, NULL, NULL);
  OM_uint32 m2 = m1 ? m1 : gss_set_neg_mechs(&minor, a->cred, &neg);
  if (m2 != GSS_S_COMPLETE) /* also in --accept mode, outside Check */
    fprintf(stderr, "acceptor credential: %x/%d\n", m2, (int)minor);
}

static void acc_step(acceptor *a, const uint8_t *in, size_t len,
                     tdsc__buf *reply) {
  OM_uint32 minor;
  gss_buffer_desc tin = {len, (void *)in}, tout = GSS_C_EMPTY_BUFFER;
  if (a->cred == GSS_C_NO_CREDENTIAL)
    acc_cred(a);
  a->major = gss_accept_sec_context(
      &a->minor, &a->ctx, a->cred, &tin,
      GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &tout, NULL, NULL, NULL);
  a->complete = a->major == GSS_S_COMPLETE;
  tdsc__buf_reset(reply);
  tdsc__buf_put(reply, tout.value, tout.length);
  gss_release_buffer(&minor, &tout);
}

/* Runs the acceptor in a child of this binary under faketime OFFSET. */
static void acc_step_faketime(const char *offset, const uint8_t *in,
                              size_t len, tdsc__buf *reply) {
  FILE *f = fopen(path_in("tok.in"), "wb");
  ck_assert_ptr_nonnull(f);
  fwrite(in, 1, len, f);
  fclose(f);
  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ck_assert_int_gt(n, 0);
  exe[n] = '\0';
  /* The child is only MIT's acceptor on the skew error path, where MIT
   * leaks: leak detection stays on for this process, off in the child. */
  sh("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" "
     "faketime -f '%s' %s --accept < %s > %s",
     offset, exe,
     path_in("tok.in"), path_in("tok.out"));
  f = fopen(path_in("tok.out"), "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t buf[8192];
  size_t got = fread(buf, 1, sizeof buf, f);
  fclose(f);
  tdsc__buf_reset(reply);
  tdsc__buf_put(reply, buf, got);
}

typedef struct run {
  tdsc_errc code;
  tdsc_error err;
  char identity[256];
  int rounds;
  bool acceptor_complete;
  OM_uint32 acc_major, acc_minor;
  int64_t ms;
  tdsc_errc again; /* the server's last token once more, after DONE */
} run;

static tdsc__auth_params params(bool spnego, int64_t timeout_ms) {
  tdsc__auth_params p = {0};
  p.spn = SPN;
  p.spnego = spnego;
  p.deadline = tdsc__deadline_in(timeout_ms);
  return p;
}

/* One login: the mechanism against the acceptor until DONE or FAILED. */
static void login(const tdsc__auth_params *p, run *r,
                  const char *faketime_offset) {
  memset(r, 0, sizeof *r);
  int64_t t0 = tdsc__now_ms();
  const tdsc__mech_ops *m = tdsc__mech_kerberos;
  ck_assert_ptr_nonnull(m);
  void *st = NULL;
  acceptor a = {GSS_C_NO_CONTEXT, false, 0, 0, GSS_C_NO_CREDENTIAL};
  tdsc__buf out, srv;
  tdsc__buf_init(&out);
  tdsc__buf_init(&srv);
  r->code = m->init(&st, p, &r->err);
  if (r->code == TDSC_OK) {
    const uint8_t *in = NULL;
    size_t inlen = 0;
    for (r->rounds = 1; r->rounds < 8; r->rounds++) {
      tdsc__buf_reset(&out);
      tdsc__auth_status s = m->step(st, in, inlen, &out, &r->err);
      if (s == TDSC__AUTH_FAILED) {
        r->code = tdsc_error_code(&r->err);
        ck_assert_int_ne(r->code, TDSC_OK);
        break;
      }
      if (out.len) {
        if (faketime_offset)
          acc_step_faketime(faketime_offset, out.data, out.len, &srv);
        else
          acc_step(&a, out.data, out.len, &srv);
      }
      if (s == TDSC__AUTH_DONE) {
        /* a finished context takes no more tokens: the server's last one
         * again must be a protocol error, not fed to the context */
        if (in) {
          tdsc_error e2 = {0};
          tdsc__buf_reset(&out);
          r->again = m->step(st, in, inlen, &out, &e2) == TDSC__AUTH_FAILED
                         ? tdsc_error_code(&e2)
                         : TDSC_OK;
          tdsc__err_clear(&e2);
        }
        break;
      }
      ck_assert_msg(srv.len > 0, "acceptor failed without a token: %x/%d",
                    a.major, (int)a.minor);
      in = srv.data;
      inlen = srv.len;
    }
  }
  snprintf(r->identity, sizeof r->identity, "%s", m->identity(st));
  r->acceptor_complete = a.complete;
  r->acc_major = a.major;
  r->acc_minor = a.minor;
  m->free_state(st);
  acc_free(&a);
  tdsc__buf_free(&out);
  tdsc__buf_free(&srv);
  r->ms = tdsc__now_ms() - t0;
  fprintf(stderr, "  [%s] %s (%lld ms): %s | provider %lld/%lld/%lld %s\n",
          tdsc_errc_name(r->code), r->identity, (long long)r->ms,
          tdsc_error_message(&r->err),
          tdsc_error_provider_status(&r->err, 0),
          tdsc_error_provider_status(&r->err, 1),
          tdsc_error_provider_status(&r->err, 2),
          tdsc_error_provider_text(&r->err));
}

static void expect_ok(run *r, const char *who) {
  ck_assert_msg(r->code == TDSC_OK, "%s: %s", tdsc_errc_name(r->code),
                tdsc_error_message(&r->err));
  ck_assert(r->acceptor_complete);
  ck_assert_str_eq(r->identity, who);
  tdsc__err_clear(&r->err);
}

static void expect_code(run *r, tdsc_errc code, const char *needle) {
  ck_assert_msg(r->code == code, "want %s, got %s: %s", tdsc_errc_name(code),
                tdsc_errc_name(r->code), tdsc_error_message(&r->err));
  if (needle)
    ck_assert_msg(strstr(tdsc_error_message(&r->err), needle),
                  "message lacks \"%s\": %s", needle,
                  tdsc_error_message(&r->err));
  tdsc__err_clear(&r->err);
}

START_TEST(kerberos_raw_with_default_ccache_authenticates_mutually) {
  default_ccache();
  kinit_alice(NULL, 0);
  tdsc__auth_params p = params(false, 10000);
  run r;
  login(&p, &r, NULL);
  expect_ok(&r, "alice@TDSC.TEST");
  ck_assert_int_eq(r.rounds, 2); /* AP-REQ, then AP-REP verified */
  ck_assert_int_eq(r.again, TDSC_E_PROTOCOL);
}
END_TEST

START_TEST(kerberos_spnego_with_default_ccache_authenticates_mutually) {
  default_ccache();
  kinit_alice(NULL, 0);
  tdsc__auth_params p = params(true, 10000);
  run r;
  login(&p, &r, NULL);
  expect_ok(&r, "alice@TDSC.TEST");
}
END_TEST

START_TEST(kerberos_named_ccache_is_used) {
  unsetenv("KRB5CCNAME");
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  char cc[600];
  snprintf(cc, sizeof cc, "FILE:%s", path_in("named.cc"));
  kinit_alice(cc, 0);
  tdsc__auth_params p = params(true, 10000);
  p.ccache = cc;
  run r;
  login(&p, &r, NULL);
  expect_ok(&r, "alice@TDSC.TEST");
}
END_TEST

START_TEST(kerberos_client_keytab_is_used_in_memory) {
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  tdsc__auth_params p = params(true, 10000);
  p.keytab = path_in("bob.keytab");
  p.principal = "bob";
  run r;
  login(&p, &r, NULL);
  expect_ok(&r, "bob@TDSC.TEST");
  /* without a principal: the keytab's own */
  p.principal = NULL;
  login(&p, &r, NULL);
  expect_ok(&r, "bob@TDSC.TEST");
  ck_assert_int_ne(access("/nonexistent/ccache", F_OK), 0);
}
END_TEST

START_TEST(kerberos_password_is_used_in_memory) {
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  tdsc__auth_params p = params(false, 10000);
  p.principal = "alice@TDSC.TEST";
  p.password = "alice-pw-1";
  run r;
  login(&p, &r, NULL);
  expect_ok(&r, "alice@TDSC.TEST");
}
END_TEST

START_TEST(kerberos_unregistered_spn_is_spn_unknown) {
  default_ccache();
  kinit_alice(NULL, 0);
  tdsc__auth_params p = params(true, 10000);
  p.spn = "MSSQLSvc/nowhere.tdsc.test:1433";
  run r;
  login(&p, &r, NULL);
  ck_assert_int_eq(tdsc_error_provider(&r.err), TDSC_PROVIDER_GSSAPI);
  ck_assert_int_eq(tdsc_error_provider_status(&r.err, 2),
                   KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN);
  expect_code(&r, TDSC_E_KRB_SPN_UNKNOWN, "MSSQLSvc/nowhere.tdsc.test:1433");
}
END_TEST

START_TEST(kerberos_without_ccache_is_no_credentials) {
  char cc[600];
  snprintf(cc, sizeof cc, "FILE:%s", path_in("absent.cc"));
  setenv("KRB5CCNAME", cc, 1);
  tdsc__auth_params p = params(false, 10000);
  run r;
  login(&p, &r, NULL);
  expect_code(&r, TDSC_E_KRB_NO_CREDENTIALS, "absent.cc");
}
END_TEST

START_TEST(kerberos_expired_ticket_is_ticket_expired) {
  default_ccache();
  kinit_alice(NULL, 1);
  sleep(2);
  tdsc__auth_params p = params(false, 10000);
  run r;
  login(&p, &r, NULL);
  expect_code(&r, TDSC_E_KRB_TICKET_EXPIRED, "alice@TDSC.TEST");
}
END_TEST

START_TEST(kerberos_stale_service_keytab_is_key_mismatch) {
  default_ccache();
  kinit_alice(NULL, 0);
  char cmd[1200];
  /* service.keytab keeps kvno 2; the KDC moves to kvno 3 */
  snprintf(cmd, sizeof cmd, "cpw %s %s --randkey", realm_dir, SPN);
  realm_cmd(cmd);
  for (int spnego = 0; spnego < 2; spnego++) {
    tdsc__auth_params p = params(spnego, 10000);
    run r;
    login(&p, &r, NULL);
    ck_assert_int_eq(tdsc_error_provider_status(&r.err, 2),
                     KRB5KRB_AP_ERR_BADKEYVER);
    expect_code(&r, TDSC_E_KRB_SERVICE_KEY_MISMATCH, SPN);
  }
  snprintf(cmd, sizeof cmd, "ktadd %s %s %s", realm_dir,
           path_in("service.keytab"), SPN);
  realm_cmd(cmd);
}
END_TEST

START_TEST(kerberos_unknown_realm_is_realm_unknown) {
  tdsc__auth_params p = params(false, 10000);
  p.principal = "alice@NOWHERE.TEST";
  p.password = "alice-pw-1";
  run r;
  login(&p, &r, NULL);
  expect_code(&r, TDSC_E_KRB_REALM_UNKNOWN, "alice@NOWHERE.TEST");
}
END_TEST

START_TEST(kerberos_wrong_password_is_preauth_failed) {
  tdsc__auth_params p = params(true, 10000);
  p.principal = "alice";
  p.password = "not-the-password";
  run r;
  login(&p, &r, NULL);
  ck_assert_ptr_null(strstr(tdsc_error_message(&r.err), "not-the-password"));
  ck_assert_ptr_null(strstr(tdsc_error_provider_text(&r.err),
                            "not-the-password"));
  expect_code(&r, TDSC_E_KRB_PREAUTH_FAILED, "alice@TDSC.TEST");
}
END_TEST

static void pause_worker(void) { usleep(300000); }

START_TEST(kerberos_unknown_client_is_client_unknown) {
  tdsc__auth_params p = params(true, 10000);
  p.principal = "mallory";
  p.password = "whatever";
  run r;
  /* No worker thread may still call GSSAPI once a call that was not
   * abandoned returned: the program may exit or unload the library then
   * (a worker releasing the job's name after the caller went on aborted
   * in krb5's destroyed mutexes at exit).  The pause keeps each worker
   * running a while after it woke its caller. */
  tdsc__work_pause = pause_worker;
  login(&p, &r, NULL);
  unsigned active = tdsc__work_active();
  tdsc__work_pause = NULL;
  expect_code(&r, TDSC_E_KRB_CLIENT_UNKNOWN, "mallory@TDSC.TEST");
  ck_assert_uint_eq(active, 0);
}
END_TEST

START_TEST(kerberos_server_clock_ahead_is_clock_skew) {
  default_ccache();
  kinit_alice(NULL, 0);
  const char *offsets[] = {"+10m", "-10m"};
  const long codes[] = {KRB5KRB_AP_ERR_SKEW, KRB5KRB_AP_ERR_TKT_NYV};
  for (int i = 0; i < 2; i++) {
    tdsc__auth_params p = params(false, 10000);
    run r;
    login(&p, &r, offsets[i]);
    ck_assert_int_eq(tdsc_error_provider_status(&r.err, 2), codes[i]);
    expect_code(&r, TDSC_E_KRB_CLOCK_SKEW, "the server");
  }
}
END_TEST

/* A hand-made SPNEGO acceptor (krb5 acceptor + spnego.c) that insists on
 * the MIC exchange, as RFC 4178 5 allows and Windows' acceptor does:
 * mode 0 sends accept-incomplete + its MIC and wants ours; mode 1 sends
 * request-mic without a MIC; mode 2 sends a corrupted MIC. */
static void mic_login(int mode, run *r) {
  memset(r, 0, sizeof *r);
  tdsc__auth_params p = params(true, 10000);
  void *st = NULL;
  const tdsc__mech_ops *m = tdsc__mech_kerberos;
  tdsc__buf out, srv;
  tdsc__buf_init(&out);
  tdsc__buf_init(&srv);
  gss_ctx_id_t actx = GSS_C_NO_CONTEXT;
  OM_uint32 maj, min;
  uint8_t *mech_list = NULL;
  size_t mech_list_len = 0;
  ck_assert_int_eq(m->init(&st, &p, &r->err), TDSC_OK);
  ck_assert_int_eq(m->step(st, NULL, 0, &out, &r->err), TDSC__AUTH_CONTINUE);
  tdsc__spnego_init ini;
  ck_assert_int_eq(tdsc__spnego_parse_init(out.data, out.len, &ini, &r->err),
                   TDSC_OK);
  mech_list = malloc(ini.mech_list_len);
  memcpy(mech_list, ini.mech_list, ini.mech_list_len);
  mech_list_len = ini.mech_list_len;
  gss_buffer_desc tin = {ini.toklen, (void *)ini.token};
  gss_buffer_desc aprep = GSS_C_EMPTY_BUFFER, mic = GSS_C_EMPTY_BUFFER;
  maj = gss_accept_sec_context(&min, &actx, GSS_C_NO_CREDENTIAL, &tin,
                               GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &aprep,
                               NULL, NULL, NULL);
  ck_assert_int_eq(maj, GSS_S_COMPLETE);
  gss_buffer_desc ml = {mech_list_len, mech_list};
  if (mode != 1) {
    ck_assert_int_eq(gss_get_mic(&min, actx, GSS_C_QOP_DEFAULT, &ml, &mic),
                     GSS_S_COMPLETE);
    if (mode == 2)
      ((uint8_t *)mic.value)[mic.length - 1] ^= 1;
  }
  tdsc__spnego_resp_token(mode == 1 ? TDSC__NEG_REQUEST_MIC
                                    : TDSC__NEG_ACCEPT_INCOMPLETE,
                          &tdsc__oid_krb5, aprep.value, aprep.length,
                          mic.length ? mic.value : NULL, mic.length, &srv);
  gss_release_buffer(&min, &aprep);
  gss_release_buffer(&min, &mic);
  tdsc__buf_reset(&out);
  tdsc__auth_status s = m->step(st, srv.data, srv.len, &out, &r->err);
  if (s == TDSC__AUTH_FAILED) {
    r->code = tdsc_error_code(&r->err);
    goto done;
  }
  ck_assert_int_eq(s, TDSC__AUTH_CONTINUE);
  /* our NegTokenResp carries only the mechListMIC, over what we sent */
  tdsc__spnego_resp cr;
  ck_assert_int_eq(tdsc__spnego_parse_resp(out.data, out.len, &cr, &r->err),
                   TDSC_OK);
  ck_assert_ptr_nonnull(cr.mic);
  ck_assert_ptr_null(cr.token);
  gss_buffer_desc cmic = {cr.miclen, (void *)cr.mic};
  ck_assert_int_eq(gss_verify_mic(&min, actx, &ml, &cmic, NULL),
                   GSS_S_COMPLETE);
  tdsc__buf_reset(&srv);
  tdsc__spnego_resp_token(TDSC__NEG_ACCEPT_COMPLETED, NULL, NULL, 0, NULL, 0,
                          &srv);
  tdsc__buf_reset(&out);
  ck_assert_int_eq(m->step(st, srv.data, srv.len, &out, &r->err),
                   TDSC__AUTH_DONE);
  ck_assert_uint_eq(out.len, 0);
  r->code = TDSC_OK;
done:
  m->free_state(st);
  gss_delete_sec_context(&min, &actx, GSS_C_NO_BUFFER);
  free(mech_list);
  tdsc__buf_free(&out);
  tdsc__buf_free(&srv);
}

START_TEST(kerberos_spnego_mic_exchange_is_verified_and_answered) {
  default_ccache();
  kinit_alice(NULL, 0);
  run r;
  mic_login(0, &r);
  ck_assert_int_eq(r.code, TDSC_OK);
  mic_login(1, &r);
  ck_assert_int_eq(r.code, TDSC_OK);
  mic_login(2, &r);
  expect_code(&r, TDSC_E_KRB_MUTUAL_AUTH_FAILED, "mechListMIC");
}
END_TEST

START_TEST(kerberos_spnego_against_mit_acceptor_needs_no_mic) {
  /* MIT's SPNEGO acceptor, krb5 first and only in our list: it completes
   * in one reply (accept-completed, AP-REP) without a mechListMIC. */
  default_ccache();
  kinit_alice(NULL, 0);
  tdsc__auth_params p = params(true, 10000);
  void *st = NULL;
  const tdsc__mech_ops *m = tdsc__mech_kerberos;
  tdsc_error e = {0};
  tdsc__buf out, srv;
  tdsc__buf_init(&out);
  tdsc__buf_init(&srv);
  acceptor a = {GSS_C_NO_CONTEXT, false, 0, 0, GSS_C_NO_CREDENTIAL};
  ck_assert_int_eq(m->init(&st, &p, &e), TDSC_OK);
  ck_assert_int_eq(m->step(st, NULL, 0, &out, &e), TDSC__AUTH_CONTINUE);
  acc_step(&a, out.data, out.len, &srv);
  ck_assert(a.complete);
  tdsc__spnego_resp sr;
  ck_assert_int_eq(tdsc__spnego_parse_resp(srv.data, srv.len, &sr, &e),
                   TDSC_OK);
  ck_assert_int_eq(sr.state, TDSC__NEG_ACCEPT_COMPLETED);
  ck_assert(tdsc__oid_eq(&tdsc__oid_krb5, sr.mech, sr.mechlen));
  ck_assert_ptr_nonnull(sr.token);
  ck_assert_ptr_null(sr.mic);
  tdsc__buf_reset(&out);
  ck_assert_int_eq(m->step(st, srv.data, srv.len, &out, &e), TDSC__AUTH_DONE);
  ck_assert_uint_eq(out.len, 0);
  m->free_state(st);
  acc_free(&a);
  tdsc__buf_free(&out);
  tdsc__buf_free(&srv);
}
END_TEST

/* KDC stopped / silent: each in its own realm (fixture per test). */
START_TEST(kerberos_kdc_stopped_is_unreachable_quickly) {
  default_ccache();
  kinit_alice(NULL, 0); /* TGT in hand: the TGS request finds no KDC */
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "stop %s", realm_dir);
  realm_cmd(cmd);
  tdsc__auth_params p = params(true, 10000);
  run r;
  login(&p, &r, NULL);
  ck_assert_int_eq(tdsc_error_provider_status(&r.err, 2), KRB5_KDC_UNREACH);
  ck_assert_int_lt(r.ms, 2000);
  expect_code(&r, TDSC_E_KRB_KDC_UNREACHABLE, "127.0.0.1:");
  /* and with a password: the AS exchange */
  p = params(false, 10000);
  p.principal = "alice";
  p.password = "alice-pw-1";
  login(&p, &r, NULL);
  expect_code(&r, TDSC_E_KRB_KDC_UNREACHABLE, "TDSC.TEST");
}
END_TEST

static void wait_workers_gone(void) {
  int64_t end = tdsc__now_ms() + 15000;
  while (tdsc__work_active() && tdsc__now_ms() < end)
    usleep(10000);
  ck_assert_uint_eq(tdsc__work_active(), 0);
}

START_TEST(kerberos_kdc_silent_is_unreachable_by_the_deadline) {
  default_ccache();
  kinit_alice(NULL, 0);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "silent %s", realm_dir);
  realm_cmd(cmd);
  tdsc__auth_params p = params(true, 1500);
  run r;
  login(&p, &r, NULL);
  ck_assert_int_ge(r.ms, 1400);
  ck_assert_int_lt(r.ms, 2500);
  expect_code(&r, TDSC_E_KRB_KDC_UNREACHABLE, "within the login timeout");
  p = params(false, 1000);
  p.principal = "alice";
  p.password = "alice-pw-1";
  login(&p, &r, NULL);
  ck_assert_int_lt(r.ms, 2000);
  expect_code(&r, TDSC_E_KRB_KDC_UNREACHABLE, "within the login timeout");
  ck_assert_uint_ge(tdsc__work_active(), 1);
  /* the listener goes away: the abandoned workers end and free their
   * state on their own */
  snprintf(cmd, sizeof cmd, "stop %s", realm_dir);
  realm_cmd(cmd);
  wait_workers_gone();
}
END_TEST

/* --accept mode: the acceptor in a child (for faketime): token on stdin,
 * the acceptor's reply on stdout; exit 0 whatever the acceptor said. */
static int accept_main(void) {
  static uint8_t buf[65536];
  size_t n = fread(buf, 1, sizeof buf, stdin);
  acceptor a = {GSS_C_NO_CONTEXT, false, 0, 0, GSS_C_NO_CREDENTIAL};
  tdsc__buf reply;
  tdsc__buf_init(&reply);
  acc_step(&a, buf, n, &reply);
  if (reply.len)
    fwrite(reply.data, 1, reply.len, stdout);
  tdsc__buf_free(&reply);
  acc_free(&a);
  return 0;
}

static bool have_kdc(void) {
  const char *k = getenv("KRB5KDC");
  if (k && access(k, X_OK) == 0)
    return true;
  return access("/usr/sbin/krb5kdc", X_OK) == 0 ||
         system("command -v krb5kdc >/dev/null 2>&1") == 0;
}
#endif /* TDSC_HAVE_GSSAPI */

/* ------------------------------------------------------ the exchange */

/* exchange.c's contract with a provider whose call runs on a worker
 * (NB.md): TDSC__AGAIN from the context call is TDSC__AUTH_PENDING, the
 * exchange is left as it was, and the same input given again continues
 * it.  No real provider defers its calls yet, so this provider is the
 * test's: it defers every first call for a given input. */
typedef struct fake_mech {
  tdsc__exchange x;
  int calls, deferred;
} fake_mech;

static tdsc_errc fake_ctx(void *m, const uint8_t *in, size_t inlen,
                          tdsc__buf *tok, bool *complete, tdsc_error *err) {
  fake_mech *f = m;
  (void)inlen;
  (void)err;
  if (f->deferred == f->calls) {
    f->deferred++;
    return TDSC__AGAIN;
  }
  f->calls++;
  if (!in) {
    tdsc__buf_put(tok, "AP-REQ", 6);
    return TDSC_OK;
  }
  *complete = true; /* the server's answer proves it */
  return TDSC_OK;
}

static void fake_subject(void *m, char *buf, size_t n) {
  (void)m;
  snprintf(buf, n, "fake for MSSQLSvc/fake");
}

START_TEST(exchange_pending_keeps_its_place_and_resumes) {
  static const tdsc__mech_hooks hooks = {fake_ctx, NULL, NULL, fake_subject};
  fake_mech f = {0};
  tdsc__exchange_init(&f.x, &tdsc__facts_kerberos, &hooks, &f, false);
  tdsc__buf out;
  tdsc__buf_init(&out);
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__exchange_step(&f, NULL, 0, &out, &e),
                   TDSC__AUTH_PENDING);
  ck_assert_uint_eq(out.len, 0);
  ck_assert_int_eq(tdsc__exchange_step(&f, NULL, 0, &out, &e),
                   TDSC__AUTH_CONTINUE);
  ck_assert_mem_eq(out.data, "AP-REQ", 6);
  const uint8_t rep[] = "AP-REP";
  ck_assert_int_eq(tdsc__exchange_step(&f, rep, 6, &out, &e),
                   TDSC__AUTH_PENDING);
  ck_assert_int_eq(tdsc__exchange_step(&f, rep, 6, &out, &e), TDSC__AUTH_DONE);
  ck_assert_int_eq(f.calls, 2);
  /* a raw Kerberos exchange has no round after the AP-REP */
  ck_assert_int_eq(tdsc__exchange_step(&f, rep, 6, &out, &e),
                   TDSC__AUTH_FAILED);
  ck_assert_int_eq(e.code, TDSC_E_PROTOCOL);
  ck_assert_ptr_nonnull(strstr(e.message, "fake for MSSQLSvc/fake"));
  ck_assert_int_eq(tdsc__exchange_step(&f, rep, 6, &out, &e),
                   TDSC__AUTH_FAILED);
  ck_assert_int_eq(e.code, TDSC_E_KRB_FAILED);
  ck_assert_str_eq(tdsc__exchange_identity(&f), "");
  tdsc__err_clear(&e);
  tdsc__buf_free(&out);
  tdsc__exchange_free(&f.x);
}
END_TEST

static Suite *auth_suite(bool realm) {
  Suite *s = suite_create("auth");
  TCase *tc = tcase_create("spnego");
  tcase_add_test(tc, spnego_init_token_is_byte_exact);
  tcase_add_test(tc, spnego_mech_list_is_what_the_mic_covers);
  tcase_add_test(tc, spnego_long_lengths_round_trip);
  tcase_add_test(tc, spnego_accept_completed_parses_and_rebuilds);
  tcase_add_test(tc, spnego_reject_parses);
  tcase_add_test(tc, spnego_every_truncation_is_a_protocol_error);
  tcase_add_test(tc, spnego_malformed_resp_says_what_is_wrong);
  tcase_add_test(tc, sspi_table_maps_every_status_for_both_packages);
  tcase_add_test(tc, spnego_every_token_size_round_trips);
  tcase_add_test(tc, exchange_pending_keeps_its_place_and_resumes);
  suite_add_tcase(s, tc);
#ifdef TDSC_HAVE_GSSAPI
  tc = tcase_create("diagnosis");
  tcase_add_test(tc, diagnosis_table_maps_each_measured_failure);
  tcase_add_test(tc, diagnosis_table_has_a_row_for_every_mit_code);
  tcase_add_test(tc, diagnosis_rows_are_disjoint_and_give_kerberos_codes);
  tcase_add_test(tc, diagnosis_names_the_causes_users_meet);
  tcase_add_test(tc, diagnosis_names_each_status_by_its_own_row);
  suite_add_tcase(s, tc);
  if (!realm)
    return s;
  tc = tcase_create("realm");
  tcase_set_timeout(tc, 120);
  tcase_add_unchecked_fixture(tc, realm_up, realm_down);
  tcase_add_test(tc, kerberos_raw_with_default_ccache_authenticates_mutually);
  tcase_add_test(tc,
                 kerberos_spnego_with_default_ccache_authenticates_mutually);
  tcase_add_test(tc, kerberos_named_ccache_is_used);
  tcase_add_test(tc, kerberos_client_keytab_is_used_in_memory);
  tcase_add_test(tc, kerberos_password_is_used_in_memory);
  tcase_add_test(tc, kerberos_unregistered_spn_is_spn_unknown);
  tcase_add_test(tc, kerberos_without_ccache_is_no_credentials);
  tcase_add_test(tc, kerberos_expired_ticket_is_ticket_expired);
  tcase_add_test(tc, kerberos_stale_service_keytab_is_key_mismatch);
  tcase_add_test(tc, kerberos_unknown_realm_is_realm_unknown);
  tcase_add_test(tc, kerberos_wrong_password_is_preauth_failed);
  tcase_add_test(tc, kerberos_unknown_client_is_client_unknown);
  tcase_add_test(tc, kerberos_spnego_mic_exchange_is_verified_and_answered);
  tcase_add_test(tc, kerberos_spnego_against_mit_acceptor_needs_no_mic);
  if (system("command -v faketime >/dev/null 2>&1") == 0)
    tcase_add_test(tc, kerberos_server_clock_ahead_is_clock_skew);
  suite_add_tcase(s, tc);
  tc = tcase_create("kdc_down");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, realm_up, realm_down);
  tcase_add_test(tc, kerberos_kdc_stopped_is_unreachable_quickly);
  tcase_add_test(tc, kerberos_kdc_silent_is_unreachable_by_the_deadline);
  suite_add_tcase(s, tc);
#else
  (void)realm;
#endif
  return s;
}

int main(int argc, char **argv) {
#ifdef TDSC_HAVE_GSSAPI
  if (argc > 1 && strcmp(argv[1], "--accept") == 0)
    return accept_main();
  bool realm = have_kdc();
  python3 = getenv("PYTHON3");
  if (!python3 || !*python3)
    python3 = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                      : "python3";
  const char *src = getenv("TDSC_SRCDIR");
  static char rp[1024];
  if (src && *src)
    snprintf(rp, sizeof rp, "%s/tests/realm/realm.py", src);
  else
    snprintf(rp, sizeof rp, "%s/tests/realm/realm.py", TDSC_TEST_SRCDIR);
  realm_py = rp;
#else
  (void)argc;
  (void)argv;
  bool realm = false;
#endif
  SRunner *sr = srunner_create(auth_suite(realm));
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (failed)
    return EXIT_FAILURE;
  return realm ? EXIT_SUCCESS : 77;
}
