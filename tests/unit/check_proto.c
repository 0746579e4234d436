/* Unit tests of lib/proto's message codecs: packet headers, PRELOGIN,
 * LOGIN7, SQLBatch (one suite per source file), byte-exact against the
 * SQL Server vectors (vectors.h).  The token parser's suites are in
 * check_tokens.c; main() here runs them all. */
#include "config.h"

#include "proto/proto.h"
#include "vectors.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *tdsc_test_tokens_suite(void);
Suite *tdsc_test_captures_suite(void);
Suite *tdsc_test_typeinfo_suite(void);
Suite *tdsc_test_trace_suite(void);

static uint8_t *vec(const char *name, size_t *n) {
  uint8_t *v = tdsc_test_vector(name, n);
  ck_assert_msg(v != NULL, "vector %s", name);
  return v;
}

static void assert_bytes(const uint8_t *got, size_t ngot, const uint8_t *want,
                         size_t nwant) {
  ck_assert_uint_eq(ngot, nwant);
  for (size_t i = 0; i < nwant; i++)
    ck_assert_msg(got[i] == want[i], "byte %zu: got %02x, want %02x", i, got[i],
                  want[i]);
}

/* ------------------------------------------------------------ packet.c */

START_TEST(pkt_header_roundtrips_big_endian_length) {
  tdsc__pkt_hdr h = {TDSC__PKT_LOGIN7, TDSC__PKT_EOM, 0x0123, 0x005A, 1, 0};
  uint8_t out[8];
  const uint8_t want[8] = {0x10, 0x01, 0x01, 0x23, 0x00, 0x5A, 0x01, 0x00};
  tdsc__pkt_hdr_encode(out, &h);
  assert_bytes(out, 8, want, 8);
  tdsc__pkt_hdr d;
  ck_assert_int_eq(tdsc__pkt_hdr_decode(out, 4096, &d, NULL), TDSC_OK);
  ck_assert_uint_eq(d.type, 0x10);
  ck_assert_uint_eq(d.length, 0x0123);
  ck_assert_uint_eq(d.spid, 0x5A);
  ck_assert_uint_eq(d.packet_id, 1);
}
END_TEST

START_TEST(pkt_header_decodes_real_login_response) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *v = vec("pytds_login_resp.hex", &n);
  tdsc__pkt_hdr h;
  ck_assert_int_eq(tdsc__pkt_hdr_decode(v, 4096, &h, NULL), TDSC_OK);
  ck_assert_uint_eq(h.type, TDSC__PKT_REPLY);
  ck_assert_uint_eq(h.status, TDSC__PKT_EOM);
  ck_assert_uint_eq(h.length, n);
  ck_assert_uint_eq(h.spid, 0x5A);
  free(v);
}
END_TEST

START_TEST(pkt_header_rejects_short_and_oversized_lengths) {
  tdsc_error err = {0};
  const uint8_t short_len[8] = {4, 1, 0, 7, 0, 0, 1, 0};
  const uint8_t big_len[8] = {4, 1, 0x10, 0x01, 0, 0, 1, 0};
  tdsc__pkt_hdr h;
  ck_assert_int_eq(tdsc__pkt_hdr_decode(short_len, 4096, &h, &err),
                   TDSC_E_PROTOCOL);
  ck_assert_ptr_nonnull(strstr(err.message, "length 7"));
  ck_assert_int_eq(tdsc__pkt_hdr_decode(big_len, 4096, &h, &err),
                   TDSC_E_PROTOCOL);
  ck_assert_ptr_nonnull(strstr(err.message, "4097"));
  const uint8_t eight[8] = {4, 1, 0, 8, 0, 0, 1, 0};
  ck_assert_int_eq(tdsc__pkt_hdr_decode(eight, 4096, &h, &err), TDSC_OK);
  tdsc__err_clear(&err);
}
END_TEST

static Suite *packet_suite(void) {
  Suite *s = suite_create("packet");
  TCase *tc = tcase_create("header");
  tcase_add_test(tc, pkt_header_roundtrips_big_endian_length);
  tcase_add_test(tc, pkt_header_decodes_real_login_response);
  tcase_add_test(tc, pkt_header_rejects_short_and_oversized_lengths);
  suite_add_tcase(s, tc);
  return s;
}

/* ------------------------------------------------------------ prelogin.c */

static void decode_prelogin_vec(const char *name, tdsc__prelogin *pl) {
  size_t n;
  uint8_t *v = vec(name, &n);
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__prelogin_decode(v + 8, n - 8, pl, &err), TDSC_OK);
  free(v);
}

START_TEST(prelogin_spec_request_decodes_and_reencodes_byte_exact) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *v = vec("mstds_v39_01-pre-login-request.hex", &n);
  tdsc__prelogin pl;
  ck_assert_int_eq(tdsc__prelogin_decode(v + 8, n - 8, &pl, NULL), TDSC_OK);
  ck_assert_uint_eq(pl.ver_major, 9);
  ck_assert_uint_eq(pl.ver_minor, 0);
  ck_assert_uint_eq(pl.ver_build, 0);
  ck_assert_uint_eq(pl.ver_subbuild, 0);
  ck_assert(pl.has_encryption);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_ON);
  ck_assert(pl.has_instance);
  ck_assert_str_eq(pl.instance, "");
  ck_assert(pl.has_thread_id);
  ck_assert_uint_eq(pl.thread_id, 0xDB8);
  ck_assert(pl.has_mars);
  ck_assert_uint_eq(pl.mars, 1);
  ck_assert(!pl.has_fedauth_required);

  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__prelogin_encode(&pl, &out, NULL), TDSC_OK);
  assert_bytes(out.data, out.len, v + 8, n - 8);
  tdsc__buf_free(&out);
  free(v);
}
END_TEST

START_TEST(prelogin_real_sql2008_response) {
  TDSC_NEED_VECTORS();
  tdsc__prelogin pl;
  decode_prelogin_vec("esf_sql2008sp1_prelogin_response.hex", &pl);
  ck_assert_uint_eq(pl.ver_major, 10);
  ck_assert_uint_eq(pl.ver_minor, 0);
  ck_assert_uint_eq(pl.ver_build, 2531);
  ck_assert_uint_eq(pl.ver_subbuild, 0);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_ON);
  ck_assert(pl.has_instance);
  ck_assert(!pl.has_thread_id); /* length 0 */
  ck_assert_uint_eq(pl.mars, 1);
}
END_TEST

START_TEST(prelogin_real_sql2012_response) {
  TDSC_NEED_VECTORS();
  tdsc__prelogin pl;
  decode_prelogin_vec("esf_sql2012sp1_prelogin_response.hex", &pl);
  ck_assert_uint_eq(pl.ver_major, 11);
  ck_assert_uint_eq(pl.ver_build, 3000);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_ON);
}
END_TEST

START_TEST(prelogin_real_sql2008sp4_response_without_encryption) {
  TDSC_NEED_VECTORS();
  tdsc__prelogin pl;
  decode_prelogin_vec("pytds_login_prelogin_resp.hex", &pl);
  ck_assert_uint_eq(pl.ver_major, 10);
  ck_assert_uint_eq(pl.ver_build, 5512);
  ck_assert(pl.has_encryption);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_NOT_SUP);
  ck_assert_uint_eq(pl.mars, 0);
  ck_assert(!pl.has_fedauth_required);
}
END_TEST

START_TEST(prelogin_azure_response_with_fedauthrequired) {
  TDSC_NEED_VECTORS();
  tdsc__prelogin pl;
  decode_prelogin_vec("pytds_prelogin_resp_fedauth.hex", &pl);
  ck_assert_uint_eq(pl.ver_major, 12);
  ck_assert_uint_eq(pl.ver_build, 5349);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_NOT_SUP);
  ck_assert(!pl.has_thread_id);
  ck_assert(pl.has_fedauth_required);
  ck_assert_uint_eq(pl.fedauth_required, 1);
}
END_TEST

START_TEST(prelogin_encode_with_instance_and_fedauth) {
  tdsc__prelogin pl = {0}, back;
  pl.ver_major = 1;
  pl.ver_minor = 2;
  pl.ver_build = 0x0304;
  pl.ver_subbuild = 0x0506;
  pl.has_encryption = true;
  pl.encryption = TDSC__ENCRYPT_REQ;
  pl.has_instance = true;
  strcpy(pl.instance, "SQLEXPRESS");
  pl.has_fedauth_required = true;
  pl.fedauth_required = 1;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__prelogin_encode(&pl, &out, NULL), TDSC_OK);
  /* table: 4 entries + terminator = 21 bytes; VERSION data first */
  ck_assert_uint_eq(out.data[0], 0x00);
  ck_assert_uint_eq(out.data[1], 0);
  ck_assert_uint_eq(out.data[2], 21);
  ck_assert_uint_eq(out.data[20], 0xFF);
  const uint8_t ver[6] = {1, 2, 3, 4, 6, 5};
  assert_bytes(out.data + 21, 6, ver, 6);
  ck_assert_int_eq(tdsc__prelogin_decode(out.data, out.len, &back, NULL),
                   TDSC_OK);
  ck_assert_str_eq(back.instance, "SQLEXPRESS");
  ck_assert_uint_eq(back.ver_subbuild, 0x0506);
  ck_assert_uint_eq(back.encryption, TDSC__ENCRYPT_REQ);
  ck_assert_uint_eq(back.fedauth_required, 1);
  ck_assert(!back.has_nonce);
  tdsc__buf_free(&out);
}
END_TEST

static void prelogin_bad(const char *hex, const char *needle);

/* NONCEOPT is 0x07 with 32 bytes of data (2.2.6.5); a server's nonce is
 * kept for the FEDAUTH feature, and any other length is refused. */
START_TEST(prelogin_nonceopt_roundtrips_and_needs_32_bytes) {
  tdsc__prelogin pl = {0}, back;
  pl.has_fedauth_required = true;
  pl.fedauth_required = 1;
  pl.has_nonce = true;
  for (size_t i = 0; i < TDSC__NONCE_LEN; i++)
    pl.nonce[i] = (uint8_t)i;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__prelogin_encode(&pl, &out, NULL), TDSC_OK);
  /* VERSION, FEDAUTHREQUIRED, NONCEOPT: 3 entries + terminator */
  ck_assert_uint_eq(out.data[10], 0x07);
  ck_assert_uint_eq(out.data[13], 0);
  ck_assert_uint_eq(out.data[14], 32);
  ck_assert_uint_eq(out.len, 16 + 6 + 1 + 32);
  ck_assert_int_eq(tdsc__prelogin_decode(out.data, out.len, &back, NULL),
                   TDSC_OK);
  ck_assert(back.has_nonce);
  ck_assert_mem_eq(back.nonce, pl.nonce, TDSC__NONCE_LEN);
  tdsc__buf_free(&out);
  prelogin_bad("0700060002ff0000", "NONCEOPT");
}
END_TEST

static void prelogin_bad(const char *hex, const char *needle) {
  size_t n;
  uint8_t *p = tdsc_test_hex(hex, &n);
  tdsc__prelogin pl;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__prelogin_decode(p, n, &pl, &err), TDSC_E_PROTOCOL);
  ck_assert_msg(strstr(err.message, needle), "'%s' lacks '%s'", err.message,
                needle);
  tdsc__err_clear(&err);
  free(p);
}

START_TEST(prelogin_rejects_malformed_tables) {
  prelogin_bad("", "terminator");
  prelogin_bad("000006000601", "terminator");
  /* six entries and no terminator: a long table is still read to its end */
  prelogin_bad("0000000000" "0000000000" "0000000000" "0000000000"
               "0000000000" "0000000000",
               "terminator");
  prelogin_bad("0000060006ff0900000000", "outside");   /* data cut */
  prelogin_bad("0000ff0006ff", "outside");             /* offset huge */
  prelogin_bad("0000020006ff090000000000", "outside"); /* inside table */
  prelogin_bad("0000060005ff0900000000", "VERSION");
  prelogin_bad("0200060002ff4142", "NUL");
  prelogin_bad("0300060002ff4142", "THREADID");
  /* the one-byte options, one byte too long */
  prelogin_bad("0100060002ff0000", "ENCRYPTION");
  prelogin_bad("0400060002ff0000", "MARS");
  prelogin_bad("0600060002ff0000", "FEDAUTHREQUIRED");
}
END_TEST

START_TEST(prelogin_server_instance_validity_byte) {
  size_t n;
  uint8_t *p = tdsc_test_hex("0200060001ff01", &n);
  tdsc__prelogin pl;
  ck_assert_int_eq(tdsc__prelogin_decode(p, n, &pl, NULL), TDSC_OK);
  ck_assert(pl.has_instance);
  ck_assert_str_eq(pl.instance, "\x01"); /* name did not match */
  free(p);
}
END_TEST

START_TEST(prelogin_skips_unknown_options) {
  size_t n;
  /* option 0x09 (not in MS-TDS yet) of 2 bytes, then MARS; NONCEOPT
   * (0x07) is read now (prelogin_nonceopt_...) */
  uint8_t *p = tdsc_test_hex("09000b0002"
                             "04000d0001"
                             "ff"
                             "0000"
                             "01",
                             &n);
  tdsc__prelogin pl;
  ck_assert_int_eq(tdsc__prelogin_decode(p, n, &pl, NULL), TDSC_OK);
  ck_assert(pl.has_mars);
  ck_assert_uint_eq(pl.mars, 1);
  free(p);
}
END_TEST

/* INSTOPT (2.2.6.5) at the boundary of our 128-byte instance buffer: a
 * 127-character name and its NUL fit, 128 characters do not (a one-byte
 * overflow if the bound slipped), both ways. */
START_TEST(prelogin_instopt_at_the_buffer_boundary) {
  tdsc__prelogin pl;
  size_t cap = sizeof pl.instance;
  uint8_t p[6 + 200];
  for (size_t name = cap - 1; name <= cap; name++) {
    size_t len = name + 1;
    p[0] = 0x02, p[1] = 0, p[2] = 6, p[3] = 0, p[4] = (uint8_t)len;
    p[5] = 0xFF;
    memset(p + 6, 'I', name);
    p[6 + name] = 0;
    memset(&pl, 0x5A, sizeof pl);
    tdsc_error err = {0};
    tdsc_errc rc = tdsc__prelogin_decode(p, 6 + len, &pl, &err);
    if (name < cap) {
      ck_assert_int_eq(rc, TDSC_OK);
      ck_assert_uint_eq(strlen(pl.instance), name);
    } else {
      ck_assert_int_eq(rc, TDSC_E_PROTOCOL);
      ck_assert_ptr_nonnull(strstr(err.message, "INSTOPT longer than 127"));
    }
    tdsc__err_clear(&err);
  }
  tdsc__prelogin out = {0};
  memset(out.instance, 'J', cap - 1);
  out.has_instance = true;
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert_int_eq(tdsc__prelogin_encode(&out, &b, NULL), TDSC_OK);
  /* VERSION then INSTOPT: its length is the name and its NUL */
  ck_assert_uint_eq(b.data[5], 0x02);
  ck_assert_uint_eq((unsigned)(b.data[8] << 8 | b.data[9]), cap);
  memset(out.instance, 'J', cap); /* no NUL left */
  tdsc__buf_reset(&b);
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__prelogin_encode(&out, &b, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  tdsc__err_clear(&err);
  tdsc__buf_free(&b);
}
END_TEST

/* ENCRYPTION's value is kept whole: NOT_SUP (2) and REQ (3) are not OFF
 * and ON. */
START_TEST(prelogin_encryption_values_are_kept_whole) {
  for (uint8_t v = 0; v < 4; v++) {
    uint8_t p[] = {0x01, 0, 6, 0, 1, 0xFF, v};
    tdsc__prelogin pl;
    ck_assert_int_eq(tdsc__prelogin_decode(p, sizeof p, &pl, NULL), TDSC_OK);
    ck_assert(pl.has_encryption);
    ck_assert_uint_eq(pl.encryption, v);
  }
  /* a zero length means absent, for ENCRYPTION too */
  uint8_t empty[] = {0x01, 0, 6, 0, 0, 0xFF};
  tdsc__prelogin pl;
  ck_assert_int_eq(tdsc__prelogin_decode(empty, sizeof empty, &pl, NULL),
                   TDSC_OK);
  ck_assert(!pl.has_encryption);
}
END_TEST

static Suite *prelogin_suite(void) {
  Suite *s = suite_create("prelogin");
  TCase *tc = tcase_create("vectors");
  tcase_add_test(tc, prelogin_spec_request_decodes_and_reencodes_byte_exact);
  tcase_add_test(tc, prelogin_real_sql2008_response);
  tcase_add_test(tc, prelogin_real_sql2012_response);
  tcase_add_test(tc, prelogin_real_sql2008sp4_response_without_encryption);
  tcase_add_test(tc, prelogin_azure_response_with_fedauthrequired);
  suite_add_tcase(s, tc);
  tc = tcase_create("codec");
  tcase_add_test(tc, prelogin_encode_with_instance_and_fedauth);
  tcase_add_test(tc, prelogin_nonceopt_roundtrips_and_needs_32_bytes);
  tcase_add_test(tc, prelogin_rejects_malformed_tables);
  tcase_add_test(tc, prelogin_skips_unknown_options);
  tcase_add_test(tc, prelogin_instopt_at_the_buffer_boundary);
  tcase_add_test(tc, prelogin_encryption_values_are_kept_whole);
  tcase_add_test(tc, prelogin_server_instance_validity_byte);
  suite_add_tcase(s, tc);
  return s;
}

/* ------------------------------------------------------------ login7.c */

/* A test-side LOGIN7 reader, the inverse of the encoder, so that the spec's
 * example can be re-encoded from its own fields. Strings are malloc'd. */
typedef struct {
  tdsc__login7 l;
  char *s[10];
} decoded_login7;

static char *utf16_field(const uint8_t *p, size_t base, bool scrambled) {
  uint16_t off = tdsc__le16(p + base), nch = tdsc__le16(p + base + 2);
  if (nch == 0)
    return NULL;
  uint8_t *tmp = malloc((size_t)nch * 2);
  memcpy(tmp, p + off, (size_t)nch * 2);
  if (scrambled)
    for (size_t i = 0; i < (size_t)nch * 2; i++) {
      uint8_t x = tmp[i] ^ 0xA5;
      tmp[i] = (uint8_t)((x << 4) | (x >> 4));
    }
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc__utf16le_to_utf8(tmp, (size_t)nch * 2, &b);
  free(tmp);
  return tdsc__buf_cstr(&b);
}

static void login7_decode(const uint8_t *p, decoded_login7 *d) {
  memset(d, 0, sizeof *d);
  tdsc__login7 *l = &d->l;
  l->tds_version = tdsc__le32(p + 4);
  l->packet_size = tdsc__le32(p + 8);
  l->client_prog_ver = tdsc__le32(p + 12);
  l->client_pid = tdsc__le32(p + 16);
  l->connection_id = tdsc__le32(p + 20);
  l->option_flags1 = p[24];
  l->option_flags2 = p[25];
  l->type_flags = p[26];
  l->option_flags3 = p[27];
  l->client_timezone = (int32_t)tdsc__le32(p + 28);
  l->client_lcid = tdsc__le32(p + 32);
  const char **f[] = {&l->hostname, &l->username,   &l->password,
                      &l->appname,  &l->servername, NULL,
                      &l->library,  &l->language,   &l->database};
  for (size_t i = 0; i < 9; i++) {
    if (!f[i])
      continue;
    d->s[i] = utf16_field(p, 36 + 4 * i, i == 2);
    *f[i] = d->s[i];
  }
  memcpy(l->client_id, p + 72, 6);
  d->s[9] = utf16_field(p, 82, false);
  l->attach_db = d->s[9];
}

static void login7_free(decoded_login7 *d) {
  for (size_t i = 0; i < 10; i++)
    free(d->s[i]);
}

START_TEST(login7_spec_example_reencodes_byte_exact) {
  TDSC_NEED_VECTORS();
  /* MS-TDS 4.2 is a TDS 7.2 LOGIN7, but 7.2 already has the full 94-byte
   * header (ChangePassword, cbSSPILong), so our encoder reproduces it
   * exactly from its decoded fields; only TDSVersion differs from 7.4 and
   * that is a field. */
  size_t n;
  uint8_t *v = vec("mstds_v39_02-login-request.hex", &n);
  const uint8_t *p = v + 8;
  decoded_login7 d;
  login7_decode(p, &d);
  ck_assert_uint_eq(d.l.tds_version, 0x72090002);
  ck_assert_uint_eq(d.l.packet_size, 4096);
  ck_assert_str_eq(d.l.hostname, "skostov1");
  ck_assert_str_eq(d.l.username, "sa");
  ck_assert_ptr_null(d.l.password);
  ck_assert_str_eq(d.l.appname, "OSQL-32");
  ck_assert_str_eq(d.l.library, "ODBC");
  ck_assert_uint_eq(d.l.client_lcid, 0x409);

  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&d.l, &out, NULL), TDSC_OK);
  assert_bytes(out.data, out.len, p, n - 8);
  tdsc__buf_free(&out);
  login7_free(&d);
  free(v);
}
END_TEST

START_TEST(login7_password_is_scrambled_and_roundtrips) {
  tdsc__login7 l = {0};
  l.tds_version = TDSC__TDS74;
  l.hostname = "h";
  l.username = "sa";
  l.password = "sa\xc3\xa9"; /* "saé" */
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  uint16_t off = tdsc__le16(out.data + 44), nch = tdsc__le16(out.data + 46);
  ck_assert_uint_eq(nch, 3);
  /* 's' 0x73 -> 0x37^0xA5 = 0x92; 0x00 -> 0xA5; 'a' 0x61 -> 0x16^0xA5 =
   * 0xB3; 'é' U+00E9 -> 0x9E^0xA5 = 0x3B */
  const uint8_t want[6] = {0x92, 0xA5, 0xB3, 0xA5, 0x3B, 0xA5};
  assert_bytes(out.data + off, 6, want, 6);
  decoded_login7 d;
  login7_decode(out.data, &d);
  ck_assert_str_eq(d.l.password, "sa\xc3\xa9");
  ck_assert_uint_eq(tdsc__le32(out.data), out.len);
  ck_assert_uint_eq(tdsc__le32(out.data + 4), TDSC__TDS74);
  login7_free(&d);
  tdsc__buf_free(&out);
}
END_TEST

START_TEST(login7_utf8_feature_extension_layout) {
  tdsc__login7 l = {0};
  l.tds_version = TDSC__TDS74;
  l.hostname = "host";
  l.appname = "app";
  l.library = "tdsclient";
  l.feature_utf8 = true;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  ck_assert_uint_eq(out.data[27] & TDSC__OF3_EXTENSION, TDSC__OF3_EXTENSION);
  uint16_t ib = tdsc__le16(out.data + 56), cb = tdsc__le16(out.data + 58);
  ck_assert_uint_eq(cb, 4);
  /* the DWORD sits between ServerName's and CltIntName's data (4.16) */
  ck_assert_uint_eq(ib, 94 + 2 * (4 + 3));
  ck_assert_uint_eq(tdsc__le16(out.data + 60), ib + 4);
  uint32_t fe = tdsc__le32(out.data + ib);
  const uint8_t want[6] = {TDSC__FEAT_UTF8_SUPPORT, 0, 0, 0, 0, 0xFF};
  ck_assert_uint_eq(fe + 6, out.len);
  assert_bytes(out.data + fe, 6, want, 6);
  tdsc__buf_free(&out);
}
END_TEST

/* FEDAUTH, security token (MS-TDS 2.2.6.4): FeatureId 0x02, DataLen,
 * Options = bFedAuthLibrary (0x01) << 1 | fFedAuthEcho, the token as
 * L_VARBYTE in UTF-16LE, then the server's nonce; before UTF8_SUPPORT.
 * The spec's own example (4.3, Live ID library 0x00) has Options 0x01:
 * the echo is bit 0, the library above it. */
START_TEST(login7_fedauth_security_token_layout) {
  uint8_t nonce[TDSC__NONCE_LEN];
  for (size_t i = 0; i < sizeof nonce; i++)
    nonce[i] = (uint8_t)(0xA0 + i);
  tdsc__login7 l = {0};
  l.tds_version = TDSC__TDS74;
  l.hostname = "h";
  l.feature_utf8 = true;
  l.fedauth_token = "ab";
  l.fedauth_echo = true;
  l.fedauth_nonce = nonce;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  ck_assert_uint_eq(out.data[27] & TDSC__OF3_EXTENSION, TDSC__OF3_EXTENSION);
  ck_assert_uint_eq(out.data[25] & TDSC__OF2_INTEGRATED, 0);
  uint32_t fe = tdsc__le32(out.data + tdsc__le16(out.data + 56));
  const uint8_t head[] = {0x02, 41, 0, 0, 0, 0x03, 4, 0, 0, 0,
                          'a',  0,  'b', 0};
  ck_assert_uint_eq(out.len, fe + sizeof head + 32 + 5 + 1);
  assert_bytes(out.data + fe, sizeof head, head, sizeof head);
  assert_bytes(out.data + fe + sizeof head, 32, nonce, 32);
  const uint8_t tail[] = {TDSC__FEAT_UTF8_SUPPORT, 0, 0, 0, 0, 0xFF};
  assert_bytes(out.data + fe + sizeof head + 32, 6, tail, 6);

  /* no echo, no nonce: Options 0x02, DataLen 1 + 4 + 4 */
  l.fedauth_echo = false;
  l.fedauth_nonce = NULL;
  l.feature_utf8 = false;
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  fe = tdsc__le32(out.data + tdsc__le16(out.data + 56));
  const uint8_t bare[] = {0x02, 9, 0, 0, 0, 0x02, 4, 0, 0, 0,
                          'a',  0, 'b', 0, 0xFF};
  ck_assert_uint_eq(out.len, fe + sizeof bare);
  assert_bytes(out.data + fe, sizeof bare, bare, sizeof bare);
  tdsc__buf_free(&out);
}
END_TEST

START_TEST(login7_fedauth_empty_token_is_refused) {
  tdsc__login7 l = {0};
  l.fedauth_token = "";
  tdsc__buf out;
  tdsc__buf_init(&out);
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "empty"));
  ck_assert_uint_eq(out.len, 0);
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
}
END_TEST

/* FEDAUTH, ADAL (MS-TDS 2.2.6.4): Options = 0x02 << 1 | fFedAuthEcho and
 * the Workflow byte, no token: it follows FEDAUTHINFO in a message of its
 * own (2.2.6.3), DataLen, the token as L_VARBYTE in UTF-16LE, then the
 * server's nonce. */
START_TEST(login7_fedauth_adal_layout_and_token_message) {
  tdsc__login7 l = {0};
  l.tds_version = TDSC__TDS74;
  l.hostname = "h";
  l.fedauth_workflow = TDSC__FEDAUTH_WORKFLOW_MSI;
  l.fedauth_echo = true;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  ck_assert_uint_eq(out.data[27] & TDSC__OF3_EXTENSION, TDSC__OF3_EXTENSION);
  ck_assert_uint_eq(out.data[25] & TDSC__OF2_INTEGRATED, 0);
  uint32_t fe = tdsc__le32(out.data + tdsc__le16(out.data + 56));
  const uint8_t adal[] = {0x02, 2, 0, 0, 0, 0x05, 0x03, 0xFF};
  ck_assert_uint_eq(out.len, fe + sizeof adal);
  assert_bytes(out.data + fe, sizeof adal, adal, sizeof adal);
  l.fedauth_echo = false;
  l.fedauth_workflow = TDSC__FEDAUTH_WORKFLOW_PASSWORD;
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  fe = tdsc__le32(out.data + tdsc__le16(out.data + 56));
  const uint8_t pw[] = {0x02, 2, 0, 0, 0, 0x04, 0x01, 0xFF};
  assert_bytes(out.data + fe, sizeof pw, pw, sizeof pw);

  uint8_t nonce[TDSC__NONCE_LEN];
  for (size_t i = 0; i < sizeof nonce; i++)
    nonce[i] = (uint8_t)(0xA0 + i);
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__fedauth_token_encode("ab", NULL, &out, NULL),
                   TDSC_OK);
  const uint8_t bare[] = {8, 0, 0, 0, 4, 0, 0, 0, 'a', 0, 'b', 0};
  ck_assert_uint_eq(out.len, sizeof bare);
  assert_bytes(out.data, sizeof bare, bare, sizeof bare);
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__fedauth_token_encode("ab", nonce, &out, NULL),
                   TDSC_OK);
  const uint8_t head[] = {40, 0, 0, 0, 4, 0, 0, 0, 'a', 0, 'b', 0};
  ck_assert_uint_eq(out.len, sizeof head + 32);
  assert_bytes(out.data, sizeof head, head, sizeof head);
  assert_bytes(out.data + sizeof head, 32, nonce, 32);

  /* an empty token is refused, nothing appended */
  tdsc_error err = {0};
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__fedauth_token_encode("", NULL, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "empty"));
  ck_assert_uint_eq(out.len, 0);
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
}
END_TEST

START_TEST(login7_rejects_overlong_fields_by_name) {
  char s[300];
  memset(s, 'x', sizeof s - 1);
  s[sizeof s - 1] = 0;
  tdsc__buf out;
  tdsc__buf_init(&out);
  tdsc_error err = {0};
  tdsc__login7 l = {0};
  s[129] = 0;
  l.password = s;
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "password"));
  ck_assert_ptr_null(strstr(err.message, "xxx"));
  s[129] = 'x';
  s[128] = 0; /* exactly 128: fine */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  l.password = NULL;
  s[128] = 'x';
  l.database = s; /* 299 characters */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "database"));
  l.database = NULL;
  s[260] = 0; /* AtchDBFile allows 260 */
  l.attach_db = s;
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
}
END_TEST

START_TEST(login7_long_sspi_uses_cbsspilong) {
  size_t big = 70000;
  uint8_t *tok = malloc(big);
  memset(tok, 0x4E, big);
  tdsc__login7 l = {0};
  l.hostname = "h";
  l.sspi = tok;
  l.sspi_len = big;
  l.option_flags2 = TDSC__OF2_INTEGRATED;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  ck_assert_uint_eq(tdsc__le16(out.data + 80), 0xFFFF);
  ck_assert_uint_eq(tdsc__le32(out.data + 90), big);
  uint16_t ib = tdsc__le16(out.data + 78);
  ck_assert_uint_eq(out.data[ib], 0x4E);
  ck_assert_uint_eq(out.len, (size_t)ib + big);
  tdsc__buf_free(&out);

  uint8_t small[3] = {1, 2, 3};
  l.sspi = small;
  l.sspi_len = 3;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  ck_assert_uint_eq(tdsc__le16(out.data + 80), 3);
  ck_assert_uint_eq(tdsc__le32(out.data + 90), 0);
  tdsc__buf_free(&out);
  free(tok);
}
END_TEST

/* cbSSPI is a USHORT: 65535 itself does not fit, since 0xFFFF means "see
 * cbSSPILong" (2.2.6.4); 65534 is the largest length that does. */
static void sspi_of(size_t len, uint16_t want_short, uint32_t want_long) {
  uint8_t *tok = malloc(len);
  ck_assert_ptr_nonnull(tok);
  memset(tok, 0x4E, len);
  tdsc__login7 l = {0};
  l.sspi = tok;
  l.sspi_len = len;
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, NULL), TDSC_OK);
  ck_assert_uint_eq(tdsc__le16(out.data + 80), want_short);
  ck_assert_uint_eq(tdsc__le32(out.data + 90), want_long);
  uint16_t ib = tdsc__le16(out.data + 78);
  ck_assert_uint_eq(out.len, (size_t)ib + len);
  tdsc__buf_free(&out);
  free(tok);
}

START_TEST(login7_sspi_length_at_the_ushort_boundary) {
  sspi_of(65534, 65534, 0);
  sspi_of(65535, 0xFFFF, 65535);
  sspi_of(65536, 0xFFFF, 65536);
}
END_TEST

/* LOGIN7 "MUST NOT be longer than 128K-1 bytes": the largest SSPI token
 * that keeps it at 131071 passes, one byte more does not, and a token
 * over the limit by itself is named as such. */
START_TEST(login7_total_length_at_the_128k_boundary) {
  tdsc__login7 l = {0};
  tdsc__buf out;
  tdsc_error err = {0};
  size_t probe = 100000;
  uint8_t *tok = calloc(1, 131073);
  ck_assert_ptr_nonnull(tok);
  l.hostname = "h";
  l.sspi = tok;
  l.sspi_len = probe;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  size_t fit = probe + (131071 - out.len);
  tdsc__buf_reset(&out);
  l.sspi_len = fit;
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  ck_assert_uint_eq(out.len, 131071);
  ck_assert_uint_eq(tdsc__le32(out.data), 131071);
  tdsc__buf_reset(&out);
  l.sspi_len = fit + 1;
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "131072 bytes exceeds"));
  tdsc__buf_reset(&out);
  l.sspi_len = 131072;
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "SSPI token of 131072 bytes"));
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
  free(tok);
}
END_TEST

/* The password-change field (ibChangePassword, 2.2.6.4) is scrambled like
 * the password, at its own place in the offset table, and bounded like it:
 * 128 characters pass, 129 do not, and the error quotes nothing of it. */
START_TEST(login7_new_password_is_scrambled_in_its_own_field) {
  tdsc__login7 l = {0};
  l.hostname = "h";
  l.attach_db = "a.mdf";
  l.change_password = "Nw!";
  tdsc__buf out;
  tdsc_error err = {0};
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  uint16_t ib = tdsc__le16(out.data + 86), cch = tdsc__le16(out.data + 88);
  ck_assert_uint_eq(cch, 3);
  /* 'N' 0x4E -> swap 0xE4 ^ 0xA5 = 0x41; 0x00 -> 0xA5; 'w' 0x77 -> 0xD2;
   * '!' 0x21 -> 0x12 ^ 0xA5 = 0xB7 */
  static const uint8_t want[6] = {0x41, 0xA5, 0xD2, 0xA5, 0xB7, 0xA5};
  ck_assert_uint_le((size_t)ib + 6, out.len);
  ck_assert_mem_eq(out.data + ib, want, 6);
  /* AtchDBFile keeps its own entry */
  ck_assert_uint_eq(tdsc__le16(out.data + 84), 5);
  ck_assert_uint_ne(tdsc__le16(out.data + 82), ib);
  char s[131];
  memset(s, 'q', sizeof s);
  s[128] = 0;
  l.change_password = s;
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  s[128] = 'q';
  s[129] = 0;
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "new password"));
  ck_assert_ptr_null(strstr(err.message, "qqq"));
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
}
END_TEST

/* Every name field holds 128 characters, not 129. */
START_TEST(login7_names_at_the_128_character_boundary) {
  char s[131];
  memset(s, 'n', sizeof s);
  tdsc__login7 l = {0};
  tdsc__buf out;
  tdsc_error err = {0};
  tdsc__buf_init(&out);
  s[128] = 0;
  l.username = s;
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err), TDSC_OK);
  ck_assert_uint_eq(tdsc__le16(out.data + 42), 128);
  s[128] = 'n';
  s[129] = 0;
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__login7_encode(&l, &out, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "user name is 129 characters"));
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
}
END_TEST

static Suite *login7_suite(void) {
  Suite *s = suite_create("login7");
  TCase *tc = tcase_create("encode");
  tcase_add_test(tc, login7_spec_example_reencodes_byte_exact);
  tcase_add_test(tc, login7_password_is_scrambled_and_roundtrips);
  tcase_add_test(tc, login7_utf8_feature_extension_layout);
  tcase_add_test(tc, login7_fedauth_security_token_layout);
  tcase_add_test(tc, login7_fedauth_empty_token_is_refused);
  tcase_add_test(tc, login7_fedauth_adal_layout_and_token_message);
  tcase_add_test(tc, login7_rejects_overlong_fields_by_name);
  tcase_add_test(tc, login7_long_sspi_uses_cbsspilong);
  tcase_add_test(tc, login7_sspi_length_at_the_ushort_boundary);
  tcase_add_test(tc, login7_total_length_at_the_128k_boundary);
  tcase_add_test(tc, login7_new_password_is_scrambled_in_its_own_field);
  tcase_add_test(tc, login7_names_at_the_128_character_boundary);
  suite_add_tcase(s, tc);
  return s;
}

/* ------------------------------------------------------------ sqlbatch.c */

START_TEST(sqlbatch_matches_spec_example) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *v = vec("mstds_v39_06-sql-batch-client-request.hex", &n);
  const uint8_t *p = v + 8;
  size_t plen = n - 8;
  /* text after the 22-byte ALL_HEADERS, back to UTF-8 */
  tdsc__buf text;
  tdsc__buf_init(&text);
  tdsc__utf16le_to_utf8(p + 22, plen - 22, &text);
  ck_assert_ptr_nonnull(strstr(tdsc__buf_cstr(&text), "select 'foo' as 'bar'"));
  /* Read by the grammar, the example's header says: descriptor
   * 00 00 00 00 00 00 00 01, outstanding requests 0 (the 01 looks like an
   * outstanding count of 1 shifted one byte left, but the bytes are what
   * they are and must come out the same). */
  const uint8_t txn[8] = {0, 0, 0, 0, 0, 0, 0, 1};
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__sqlbatch_encode((const char *)text.data, text.len, txn,
                                         0, &out, NULL),
                   TDSC_OK);
  assert_bytes(out.data, out.len, p, plen);
  tdsc__buf_free(&out);
  tdsc__buf_free(&text);
  free(v);
}
END_TEST

START_TEST(attention_matches_spec_example) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *v = vec("mstds_v39_10-attention-request.hex", &n);
  uint8_t pkt[TDSC__PKT_HDR_LEN];
  tdsc__attention_encode(pkt);
  assert_bytes(pkt, sizeof pkt, v, n);
  free(v);
}
END_TEST

/* Transaction manager requests (2.2.6.9), built by hand from the grammar:
 * ALL_HEADERS with the descriptor, RequestType, the payload with names as
 * B_VARBYTE of UTF-16LE. */
START_TEST(tm_requests_follow_the_grammar) {
  static const uint8_t txn[8] = {1, 0, 0, 0, 0x5a, 0, 0, 0};
  static const uint8_t hdrs[22] = {0x16, 0, 0, 0, 0x12, 0, 0, 0, 2, 0,
                                   1,    0, 0, 0, 0x5a, 0, 0, 0, 1, 0,
                                   0,    0};
  tdsc__buf out;
  tdsc_error err = {0};
  tdsc__buf_init(&out);
  /* begin, serializable, no name */
  ck_assert_int_eq(tdsc__tm_encode(TDSC__TM_BEGIN, 4, NULL, NULL, &out, &err),
                   TDSC_OK);
  static const uint8_t begin[] = {5, 0, 4, 0};
  ck_assert_uint_eq(out.len, 22 + sizeof begin);
  ck_assert_int_eq(memcmp(out.data + 22, begin, sizeof begin), 0);
  ck_assert_int_eq(memcmp(out.data + 10, "\0\0\0\0\0\0\0\0", 8), 0);
  /* commit: empty name, no fBeginXact */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__tm_encode(TDSC__TM_COMMIT, 0, "", txn, &out, &err),
                   TDSC_OK);
  static const uint8_t commit[] = {7, 0, 0, 0};
  assert_bytes(out.data, 22, hdrs, sizeof hdrs);
  ck_assert_uint_eq(out.len, 22 + sizeof commit);
  ck_assert_int_eq(memcmp(out.data + 22, commit, sizeof commit), 0);
  /* rollback to a savepoint named "sé" (4 bytes of UTF-16LE) */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(
      tdsc__tm_encode(TDSC__TM_ROLLBACK, 0, "s\xc3\xa9", txn, &out, &err),
      TDSC_OK);
  static const uint8_t rollback[] = {8, 0, 4, 's', 0, 0xe9, 0, 0};
  ck_assert_uint_eq(out.len, 22 + sizeof rollback);
  ck_assert_int_eq(memcmp(out.data + 22, rollback, sizeof rollback), 0);
  /* save */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__tm_encode(TDSC__TM_SAVE, 0, "p", txn, &out, &err),
                   TDSC_OK);
  static const uint8_t save[] = {9, 0, 2, 'p', 0};
  ck_assert_uint_eq(out.len, 22 + sizeof save);
  ck_assert_int_eq(memcmp(out.data + 22, save, sizeof save), 0);
  /* refusals */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(tdsc__tm_encode(TDSC__TM_SAVE, 0, "", txn, &out, &err),
                   TDSC_E_INVALID_ARGUMENT);
  ck_assert_int_eq(tdsc__tm_encode(TDSC__TM_BEGIN, 6, NULL, txn, &out, &err),
                   TDSC_E_INVALID_ARGUMENT);
  char longname[200];
  memset(longname, 'x', 128);
  longname[128] = 0; /* 256 bytes of UTF-16 */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(
      tdsc__tm_encode(TDSC__TM_BEGIN, 0, longname, txn, &out, &err),
      TDSC_E_INVALID_ARGUMENT);
  longname[127] = 0; /* 254: fits */
  tdsc__buf_reset(&out);
  ck_assert_int_eq(
      tdsc__tm_encode(TDSC__TM_BEGIN, 0, longname, txn, &out, &err),
      TDSC_OK);
  ck_assert_uint_eq(out.data[25], 254); /* after type and isolation */
  tdsc__err_clear(&err);
  tdsc__buf_free(&out);
}
END_TEST

START_TEST(sqlbatch_carries_transaction_descriptor) {
  const uint8_t txn[8] = {1, 0, 0, 0, 0x5a, 0, 0, 0};
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_int_eq(tdsc__sqlbatch_encode("\xc3\xa9", 2, txn, 2, &out, NULL),
                   TDSC_OK);
  size_t n;
  uint8_t *want = tdsc_test_hex("16000000 12000000 0200 010000005a000000 "
                                "02000000 e900",
                                &n);
  assert_bytes(out.data, out.len, want, n);
  free(want);
  tdsc__buf_free(&out);
}
END_TEST

static Suite *sqlbatch_suite(void) {
  Suite *s = suite_create("sqlbatch");
  TCase *tc = tcase_create("encode");
  tcase_add_test(tc, sqlbatch_matches_spec_example);
  tcase_add_test(tc, sqlbatch_carries_transaction_descriptor);
  tcase_add_test(tc, attention_matches_spec_example);
  tcase_add_test(tc, tm_requests_follow_the_grammar);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(packet_suite());
  srunner_add_suite(sr, prelogin_suite());
  srunner_add_suite(sr, login7_suite());
  srunner_add_suite(sr, sqlbatch_suite());
  srunner_add_suite(sr, tdsc_test_typeinfo_suite());
  srunner_add_suite(sr, tdsc_test_tokens_suite());
  srunner_add_suite(sr, tdsc_test_captures_suite());
  srunner_add_suite(sr, tdsc_test_trace_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
