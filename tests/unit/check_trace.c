/* The protocol trace's decoders (lib/proto/trace_msg.c): a LOGIN7 with a
 * password, a new password and an NTLM token decodes its fields and names
 * its secrets without any byte of them; SSPI tokens are told apart by
 * mechanism; every prefix of a message, and garbage, decodes without
 * reading outside it (ASan, valgrind). */
#include "config.h"

#include "proto/proto.h"
#include "proto/rpc.h"
#include "proto/trace.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *tdsc_test_trace_suite(void);

static tdsc__buf lines;

static void collect(void *ud, const char *line) {
  (void)ud;
  ck_assert_ptr_null(strchr(line, '\n'));
  tdsc__buf_put_str(&lines, line);
  tdsc__buf_put_u8(&lines, '\n');
}

static const tdsc__tout out = {collect, NULL};

static const char *text(void) {
  const char *s = tdsc__buf_cstr(&lines);
  ck_assert_ptr_nonnull(s);
  return s;
}

/* An NTLM AUTHENTICATE-like token: signature, type 3, then "response"
 * bytes that must never show. */
static const uint8_t ntlm3[] = {'N',  'T',  'L',  'M',  'S',  'S',  'P',  0,
                                3,    0,    0,    0,    0xde, 0xad, 0xbe, 0xef,
                                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

static void login(tdsc__buf *b) {
  tdsc__login7 l = {.tds_version = TDSC__TDS74,
                    .packet_size = 4096,
                    .hostname = "client-host",
                    .username = "zed",
                    .password = "Zz9-secret",
                    .appname = "app",
                    .servername = "db.example",
                    .library = "tdsclient",
                    .database = "sales",
                    .change_password = "New-pass-7",
                    .sspi = ntlm3,
                    .sspi_len = sizeof ntlm3,
                    .feature_utf8 = true};
  tdsc_error err = {0};
  tdsc__buf_init(b);
  ck_assert_int_eq(tdsc__login7_encode(&l, b, &err), TDSC_OK);
}

START_TEST(login7_fields_shown_secrets_named_only) {
  tdsc__buf b;
  login(&b);
  tdsc__buf_init(&lines);
  tdsc__trace_client_msg(&out, TDSC__PKT_LOGIN7, b.data, b.len, false);
  const char *t = text();
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 UserName=\"zed\"\n"));
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 HostName=\"client-host\"\n"));
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 ServerName=\"db.example\"\n"));
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 Database=\"sales\"\n"));
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 Password=<redacted>\n"));
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 ChangePassword=<redacted>\n"));
  ck_assert_ptr_nonnull(strstr(t, "  LOGIN7 SSPI=<24 bytes, NTLMSSP "
                                  "AUTHENTICATE, redacted>\n"));
  ck_assert_ptr_nonnull(strstr(t, "FeatureExt UTF8_SUPPORT (0x0a)"));
  ck_assert_ptr_null(strstr(t, "Zz9"));
  ck_assert_ptr_null(strstr(t, "secret"));
  ck_assert_ptr_null(strstr(t, "New-pass"));
  ck_assert_ptr_null(strstr(t, "dead"));
  ck_assert_ptr_null(strstr(t, "DEAD"));
  ck_assert_ptr_null(strstr(t, "1122"));
  tdsc__buf_free(&lines);
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(sspi_tokens_named_by_mechanism) {
  char buf[160];
  static const uint8_t spnego_krb[] = {0x60, 0x20, 0x06, 0x06, 0x2b, 0x06, 0x01,
                                       0x05, 0x05, 0x02, 0xa0, 0x10, 0x06, 0x09,
                                       0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01,
                                       0x02, 0x02, 0x99, 0x98};
  ck_assert_str_eq(
      tdsc__trace_sspi_kind(spnego_krb, sizeof spnego_krb, buf, sizeof buf),
      "25 bytes, SPNEGO NegTokenInit (Kerberos), redacted");
  static const uint8_t raw_krb[] = {0x60, 0x10, 0x06, 0x09, 0x2a, 0x86,
                                    0x48, 0x86, 0xf7, 0x12, 0x01, 0x02,
                                    0x02, 0x01, 0x00, 0x6e};
  ck_assert_str_eq(
      tdsc__trace_sspi_kind(raw_krb, sizeof raw_krb, buf, sizeof buf),
      "16 bytes, Kerberos (GSS-API token), redacted");
  uint8_t resp[40] = {0xa1, 0x26};
  memcpy(resp + 10, ntlm3, 12);
  ck_assert_str_eq(tdsc__trace_sspi_kind(resp, sizeof resp, buf, sizeof buf),
                   "40 bytes, SPNEGO NegTokenResp carrying NTLMSSP "
                   "AUTHENTICATE, redacted");
  ck_assert_str_eq(
      tdsc__trace_sspi_kind((const uint8_t *)"", 0, buf, sizeof buf),
      "0 bytes, unrecognised mechanism, redacted");
}
END_TEST

/* Every prefix of each message kind, and bytes of every value, decode
 * without reading past the end (the sanitizers watch) and never show the
 * password. */
START_TEST(every_prefix_and_garbage_decodes_safely) {
  tdsc__buf b;
  login(&b);
  static const uint8_t types[] = {TDSC__PKT_LOGIN7, TDSC__PKT_PRELOGIN,
                                  TDSC__PKT_RPC,    TDSC__PKT_SQLBATCH,
                                  TDSC__PKT_SSPI,   TDSC__PKT_TRANSMGR};
  for (size_t ti = 0; ti < sizeof types; ti++)
    for (size_t n = 0; n <= b.len; n++) {
      uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overruns */
      memcpy(copy, b.data, n);
      tdsc__buf_init(&lines);
      tdsc__trace_client_msg(&out, types[ti], copy, n, n < b.len);
      tdsc__trace_prelogin(&out, "answer", copy, n);
      if (lines.len)
        ck_assert_ptr_null(strstr(text(), "Zz9"));
      tdsc__buf_free(&lines);
      free(copy);
    }
  srand(19);
  for (int i = 0; i < 2000; i++) {
    size_t n = (size_t)(rand() % 300);
    uint8_t *g = malloc(n ? n : 1);
    for (size_t j = 0; j < n; j++)
      g[j] = (uint8_t)(rand() % 4 ? rand() : (j % 7 ? 0 : 0xFF));
    tdsc__buf_init(&lines);
    tdsc__trace_client_msg(&out, types[i % sizeof types], g, n, false);
    tdsc__buf_free(&lines);
    free(g);
  }
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(rpc_by_name_with_a_plp_parameter) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc_error err = {0};
  static const uint8_t txn[8] = {0};
  ck_assert_int_eq(tdsc__rpc_begin(&b, txn, 1, 0, "dbo.load", 0, &err),
                   TDSC_OK);
  tdsc__param p;
  memset(&p, 0, sizeof p);
  p.name = "@blob";
  ck_assert_int_eq(tdsc__param_stream(&p, TDSC_TYPE_VARBINARY, NULL, &err),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__rpc_param(&b, &p, 3, &err), TDSC_OK);
  tdsc__rpc_plp_chunk(&b, "abc", 3);
  tdsc__rpc_plp_end(&b);
  tdsc__buf_init(&lines);
  tdsc__trace_client_msg(&out, TDSC__PKT_RPC, b.data, b.len, false);
  const char *t = text();
  ck_assert_msg(strstr(t, "  RPC ProcName \"dbo.load\""), "%s", t);
  ck_assert_msg(
      strstr(t, "\"@blob\" BIGVARBIN(max 65535, p0 s0) = \"0x616263\""), "%s",
      t);
  tdsc__buf_free(&lines);
  tdsc__buf_free(&b);
}
END_TEST

Suite *tdsc_test_trace_suite(void) {
  Suite *s = suite_create("trace");
  TCase *tc = tcase_create("decoders");
  tcase_add_test(tc, login7_fields_shown_secrets_named_only);
  tcase_add_test(tc, sspi_tokens_named_by_mechanism);
  tcase_add_test(tc, every_prefix_and_garbage_decodes_safely);
  tcase_add_test(tc, rpc_by_name_with_a_plp_parameter);
  suite_add_tcase(s, tc);
  return s;
}
