/* Unit tests of the base layer: the error table and error values
 * (error.c), buffers and the bounds-checked reader (buf.c), UTF-16/UTF-8
 * conversion (utf.c). */
#include "config.h"

#include "buf.h"
#include "error.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- error.c */

START_TEST(every_code_has_a_name_a_hint_and_a_category) {
#define ROW(name, num, cat, hint)                                              \
  ck_assert_str_eq(tdsc_errc_name(TDSC_E_##name), #name);                      \
  ck_assert_int_eq(tdsc_errc_category(TDSC_E_##name), TDSC_CAT_##cat);         \
  ck_assert_uint_gt(strlen(tdsc_errc_hint(TDSC_E_##name)), 5);                 \
  ck_assert_int_eq(TDSC_E_##name, num);
  TDSC_ERRC_MAP(ROW)
#undef ROW
  ck_assert_str_eq(tdsc_errc_name((tdsc_errc)12345), "UNKNOWN");
  ck_assert_str_eq(tdsc_errc_hint((tdsc_errc)12345), "");
  ck_assert_str_eq(tdsc_category_name(TDSC_CAT_SQL_LOGIN), "sql-login");
  ck_assert_str_eq(tdsc_category_name((tdsc_category)99), "unknown");
  ck_assert_int_eq(tdsc_errc_category((tdsc_errc)12345), TDSC_CAT_NONE);
}
END_TEST

/* Every category's name, each in its place, and "unknown" from the first
 * value past the table (no read beyond it). */
START_TEST(each_category_has_its_own_name) {
  static const struct {
    tdsc_category cat;
    const char *name;
  } want[] = {{TDSC_CAT_NONE, "none"},         {TDSC_CAT_USAGE, "usage"},
              {TDSC_CAT_RESOURCE, "resource"}, {TDSC_CAT_TRANSPORT, "transport"},
              {TDSC_CAT_TLS, "tls"},           {TDSC_CAT_KERBEROS, "kerberos"},
              {TDSC_CAT_NTLM, "ntlm"},         {TDSC_CAT_SQL_LOGIN, "sql-login"},
              {TDSC_CAT_SERVER, "server"},     {TDSC_CAT_PROTOCOL, "protocol"},
              {TDSC_CAT_ENTRA, "entra"}};
  int last = 0;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    ck_assert_str_eq(tdsc_category_name(want[i].cat), want[i].name);
    if ((int)want[i].cat > last)
      last = (int)want[i].cat;
  }
  ck_assert_str_eq(tdsc_category_name((tdsc_category)(last + 1)), "unknown");
  ck_assert_str_eq(tdsc_category_name((tdsc_category)-1), "unknown");
}
END_TEST

START_TEST(codes_are_stable) {
  /* Published numbers: a change here breaks applications. */
  ck_assert_int_eq(TDSC_E_UNKNOWN_KEYWORD, 101);
  ck_assert_int_eq(TDSC_E_CONN_REFUSED, 301);
  ck_assert_int_eq(TDSC_E_TLS_CERT_UNTRUSTED, 400);
  ck_assert_int_eq(TDSC_E_LOGIN_FAILED, 700);
  ck_assert_int_eq(TDSC_E_PROTOCOL, 900);
}
END_TEST

START_TEST(an_error_builds_up_context_and_keeps_its_provider) {
  tdsc_error e = {0};
  ck_assert_int_eq(tdsc__err_errno(&e, TDSC_E_CONN_REFUSED, 111,
                                   "connecting to %s", "db,1433"),
                   TDSC_E_CONN_REFUSED);
  tdsc__err_context(&e, "PRELOGIN");
  ck_assert_str_eq(tdsc_error_message(&e), "PRELOGIN: connecting to db,1433");
  ck_assert_int_eq(tdsc_error_provider(&e), TDSC_PROVIDER_ERRNO);
  ck_assert_int_eq(tdsc_error_provider_status(&e, 0), 111);
  ck_assert_int_eq(tdsc_error_provider_status(&e, 7), 0);
  ck_assert_str_ne(tdsc_error_provider_text(&e), "");
  ck_assert_int_eq(tdsc_error_category(&e), TDSC_CAT_TRANSPORT);
  ck_assert_str_eq(tdsc_error_hint(&e), tdsc_errc_hint(TDSC_E_CONN_REFUSED));
  tdsc__err_clear(&e);
  ck_assert_int_eq(e.code, TDSC_OK);
  ck_assert_ptr_null(e.message);
}
END_TEST

START_TEST(the_trail_survives_a_new_failure_and_a_copy) {
  tdsc_error e = {0};
  tdsc__err_set(&e, TDSC_E_CONN_TIMEOUT, "no answer from %s", "a,1");
  ck_assert(tdsc__err_trail_add(&e, "tcp", "a,1", "-", "sql", "sa", &e));
  tdsc__err_set(&e, TDSC_E_LOGIN_FAILED, "refused");
  ck_assert(tdsc__err_trail_add(&e, "tcp", "b,1", "tds7", "sql", "sa", &e));
  ck_assert_uint_eq(tdsc_error_trail_count(&e), 2);
  const tdsc_attempt *a0 = tdsc_error_trail_at(&e, 0);
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a0)),
                   TDSC_E_CONN_TIMEOUT);
  ck_assert_uint_eq(tdsc_error_trail_count(tdsc_attempt_error(a0)), 0);
  ck_assert_ptr_null(tdsc_error_trail_at(&e, 2));
  tdsc_error *d = tdsc_error_dup(&e);
  ck_assert_ptr_nonnull(d);
  ck_assert_uint_eq(tdsc_error_trail_count(d), 2);
  ck_assert_str_eq(tdsc_attempt_address(tdsc_error_trail_at(d, 1)), "b,1");
  const char *rep = tdsc_error_report(d);
  ck_assert_ptr_nonnull(strstr(rep, "TDSC_E_LOGIN_FAILED"));
  ck_assert_ptr_nonnull(strstr(rep, "attempt 1: tcp a,1"));
  ck_assert_ptr_nonnull(strstr(rep, "TDSC_E_CONN_TIMEOUT"));
  ck_assert_ptr_nonnull(strstr(rep, "hint: "));
  /* the last attempt failed with the top error: not repeated */
  ck_assert_ptr_nonnull(strstr(rep, "attempt 2: tcp b,1, tls tds7, auth sql as sa: "
                                    "TDSC_E_LOGIN_FAILED (the error above)"));
  tdsc_error_free(d);
  tdsc_error_free(NULL);
  tdsc__err_clear(&e);
}
END_TEST

START_TEST(a_server_message_is_kept_verbatim) {
  tdsc_error e = {0};
  tdsc_message m = {.number = 18456, .state = 1, .cls = 14, .line = 1,
                    .is_error = true, .text = "Login failed for user 'sa'.",
                    .server = "srv", .procedure = ""};
  tdsc__err_set(&e, TDSC_E_LOGIN_FAILED, "refused");
  ck_assert(tdsc__err_server_msg(&e, &m));
  const tdsc_message *k = tdsc_error_server_message(&e);
  ck_assert_int_eq(tdsc_message_number(k), 18456);
  ck_assert_str_eq(tdsc_message_text(k), m.text);
  ck_assert_int_eq(tdsc_error_provider(&e), TDSC_PROVIDER_SERVER);
  ck_assert_int_eq(tdsc_error_provider_status(&e, 2), 14);
  tdsc__err_clear(&e);
  ck_assert_ptr_null(tdsc_error_server_message(&e));
}
END_TEST

/* ---------------------------------------------------------------- buf.c */

START_TEST(a_buffer_grows_and_writes_both_byte_orders) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc__buf_put_u8(&b, 0x12);
  tdsc__buf_put_u16le(&b, 0x3456);
  tdsc__buf_put_u16be(&b, 0x789A);
  tdsc__buf_put_u32le(&b, 0x01020304);
  tdsc__buf_put_u32be(&b, 0x05060708);
  tdsc__buf_put_u64le(&b, 0x1122334455667788ULL);
  static const uint8_t want[] = {0x12, 0x56, 0x34, 0x78, 0x9A, 0x04, 0x03,
                                 0x02, 0x01, 0x05, 0x06, 0x07, 0x08, 0x88,
                                 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
  ck_assert_uint_eq(b.len, sizeof want);
  ck_assert_mem_eq(b.data, want, sizeof want);
  tdsc__buf_set_u16le(&b, 1, 0xBEEF);
  ck_assert_uint_eq(b.data[1], 0xEF);
  tdsc__buf_set_u16le(&b, b.len - 1, 0); /* out of range: ignored */
  for (int i = 0; i < 10000; i++)
    tdsc__buf_put_u8(&b, (uint8_t)i);
  ck_assert_uint_eq(b.len, sizeof want + 10000);
  tdsc__buf_consume(&b, sizeof want);
  ck_assert_uint_eq(b.data[1], 1);
  ck_assert(!b.oom);
  tdsc__buf_wipe(&b);
  ck_assert_uint_eq(b.len, 0);
  tdsc__buf_free(&b);
}
END_TEST

/* An empty first packet extends an empty buffer by 0: no NULL + 0
 * (undefined; clang's UBSan reports it), a pointer to write 0 bytes at. */
START_TEST(extending_an_empty_buffer_by_nothing_gives_a_pointer) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  uint8_t *p = tdsc__buf_extend(&b, 0);
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(b.len, 0);
  ck_assert(!b.oom);
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(the_reader_fails_sticky_at_the_end) {
  static const uint8_t in[] = {1, 2, 3, 4, 5};
  tdsc__rd r;
  tdsc__rd_init(&r, in, sizeof in);
  ck_assert_uint_eq(tdsc__rd_u16le(&r), 0x0201);
  ck_assert_uint_eq(tdsc__rd_u16be(&r), 0x0304);
  ck_assert_uint_eq(tdsc__rd_left(&r), 1);
  ck_assert_uint_eq(tdsc__rd_u32le(&r), 0); /* over the end */
  ck_assert(!tdsc__rd_ok(&r));
  ck_assert_uint_eq(tdsc__rd_u8(&r), 0); /* even though one byte is left */
  ck_assert_ptr_null(tdsc__rd_take(&r, 0));
  ck_assert_uint_eq(tdsc__rd_left(&r), 0);
  tdsc__rd_init(&r, in, sizeof in);
  ck_assert_ptr_null(tdsc__rd_take(&r, SIZE_MAX)); /* no overflow */
}
END_TEST

/* ---------------------------------------------------------------- utf.c */

START_TEST(utf16_round_trips_including_surrogates) {
  const char *s = "Grüße, 日本 \xF0\x9F\x98\x80"; /* U+1F600 */
  tdsc__buf w, u;
  tdsc__buf_init(&w);
  tdsc__buf_init(&u);
  size_t n = tdsc__utf8_to_utf16le(s, strlen(s), &w);
  ck_assert_uint_eq(n, w.len);
  ck_assert_uint_eq(w.len, 2 * 10 + 4); /* 10 BMP chars + a pair */
  ck_assert_uint_eq(w.data[w.len - 4], 0x3D); /* D83D */
  ck_assert_uint_eq(w.data[w.len - 3], 0xD8);
  ck_assert(tdsc__utf16le_to_utf8(w.data, w.len, &u));
  ck_assert_uint_eq(u.len, strlen(s));
  ck_assert_mem_eq(u.data, s, u.len);
  tdsc__buf_free(&w);
  tdsc__buf_free(&u);
}
END_TEST

START_TEST(bad_sequences_become_replacement_characters) {
  tdsc__buf u, w;
  tdsc__buf_init(&u);
  tdsc__buf_init(&w);
  static const uint8_t lone[] = {0x00, 0xD8, 0x41, 0x00, 0x42}; /* odd */
  ck_assert(tdsc__utf16le_to_utf8(lone, sizeof lone, &u));
  ck_assert_uint_eq(u.len, 3 + 1 + 3);
  ck_assert_mem_eq(u.data, "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD", 7);
  const char *bad = "a\xC0\xAF" "b\xE2\x82"; /* overlong, truncated */
  tdsc__utf8_to_utf16le(bad, strlen(bad), &w);
  tdsc__buf_reset(&u);
  ck_assert(tdsc__utf16le_to_utf8(w.data, w.len, &u));
  ck_assert_ptr_nonnull(memchr(u.data, 'b', u.len));
  ck_assert_uint_eq(u.data[0], 'a');
  tdsc__buf_free(&u);
  tdsc__buf_free(&w);
}
END_TEST

/* The ASCII path takes four UTF-16 units at a time: a non-ASCII unit at
 * every place of runs of every length up to past two blocks, including
 * units whose high or low byte alone would pass for ASCII (U+0141 is 41
 * 01, U+0080 is 80 00), and an odd byte after them. */
START_TEST(utf16_ascii_blocks_stop_at_any_other_unit) {
  static const char *other[] = {"\xC5\x81", "\xC2\x80", "\xC3\xA9",
                                "\xE4\xB8\xAD", "\x7F"};
  for (size_t o = 0; o < sizeof other / sizeof other[0]; o++)
    for (size_t len = 0; len <= 13; len++)
      for (size_t k = 0; k <= len; k++) {
        char s[64];
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
          if (i == k) {
            memcpy(s + n, other[o], strlen(other[o]));
            n += strlen(other[o]);
          } else
            s[n++] = (char)('a' + i);
        }
        tdsc__buf w, u;
        tdsc__buf_init(&w);
        tdsc__buf_init(&u);
        tdsc__utf8_to_utf16le(s, n, &w);
        ck_assert(tdsc__utf16le_to_utf8(w.data, w.len, &u));
        ck_assert_uint_eq(u.len, n);
        ck_assert(n == 0 || memcmp(u.data, s, n) == 0);
        tdsc__buf_put(&w, "A", 1); /* an odd byte: U+FFFD */
        tdsc__buf_reset(&u);
        ck_assert(tdsc__utf16le_to_utf8(w.data, w.len, &u));
        ck_assert_uint_eq(u.len, n + 3);
        ck_assert(n == 0 || memcmp(u.data, s, n) == 0);
        ck_assert_mem_eq(u.data + n, "\xEF\xBF\xBD", 3);
        tdsc__buf_free(&w);
        tdsc__buf_free(&u);
      }
}
END_TEST

static Suite *base_suite(void) {
  Suite *s = suite_create("base");
  TCase *err = tcase_create("error");
  tcase_add_test(err, every_code_has_a_name_a_hint_and_a_category);
  tcase_add_test(err, each_category_has_its_own_name);
  tcase_add_test(err, codes_are_stable);
  tcase_add_test(err, an_error_builds_up_context_and_keeps_its_provider);
  tcase_add_test(err, the_trail_survives_a_new_failure_and_a_copy);
  tcase_add_test(err, a_server_message_is_kept_verbatim);
  suite_add_tcase(s, err);
  TCase *buf = tcase_create("buf");
  tcase_add_test(buf, a_buffer_grows_and_writes_both_byte_orders);
  tcase_add_test(buf, the_reader_fails_sticky_at_the_end);
  tcase_add_test(buf, extending_an_empty_buffer_by_nothing_gives_a_pointer);
  suite_add_tcase(s, buf);
  TCase *utf = tcase_create("utf");
  tcase_add_test(utf, utf16_round_trips_including_surrogates);
  tcase_add_test(utf, bad_sequences_become_replacement_characters);
  tcase_add_test(utf, utf16_ascii_blocks_stop_at_any_other_unit);
  suite_add_tcase(s, utf);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(base_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
