/* Unit tests of the token parser on whole replies of real servers, from
 * public packet captures (the vectors pb_* of SQL Server 2019 and 2022,
 * ndpi_* of an older server's RPC traffic): every token accepted, the
 * decoded values as the captures show them, and the same events when the
 * bytes come one at a time.  The session's view of the same replies is in
 * check_replay.c.  main() is in check_proto.c. */
#include "config.h"

#include "proto/proto.h"
#include "vectors.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *tdsc_test_captures_suite(void);
char *tdsc_test_token_trace(const uint8_t *in, size_t n);
char *tdsc_test_token_trace_fed(const uint8_t *in, size_t n, bool jump);

/* The trace of one reply vector's token stream (all packets' payloads),
 * checked against the same bytes fed one at a time and by NEED_MORE. */
static char *capture_trace(const char *name) {
  size_t n, npk;
  uint8_t *v = tdsc_test_vector_payload(name, &n, &npk);
  ck_assert_msg(v != NULL, "vector %s", name);
  char *t = tdsc_test_token_trace(v, n);
  char *bytewise = tdsc_test_token_trace_fed(v, n, false);
  char *jumps = tdsc_test_token_trace_fed(v, n, true);
  ck_assert_msg(strcmp(t, bytewise) == 0, "%s:\n%s\n--- byte by byte:\n%s",
                name, t, bytewise);
  ck_assert_str_eq(t, jumps);
  free(bytewise);
  free(jumps);
  free(v);
  if (getenv("TDSC_TEST_VERBOSE"))
    fprintf(stderr, "== %s (%zu packets)\n%s", name, npk, t);
  ck_assert_msg(!strstr(t, "FAIL") && !strstr(t, "NEED_MORE"), "%s:\n%s",
                name, t);
  return t;
}

/* Asserts that the trace holds exactly these lines, in this order. */
static void expect_exactly(const char *trace, const char *const *lines) {
  const char *at = trace;
  size_t i;
  for (i = 0; lines[i]; i++) {
    size_t len = strlen(lines[i]);
    ck_assert_msg(strncmp(at, lines[i], len) == 0 && at[len] == '\n',
                  "line %zu: want\n  %s\ngot\n%.*s\n--- trace:\n%s", i + 1,
                  lines[i], (int)strcspn(at, "\n"), at, trace);
    at += len + 1;
  }
  ck_assert_msg(*at == 0, "more lines than expected:\n%s", at);
}

/* ------------------------------------------------------------ PRELOGIN */

static void prelogin_of(const char *name, tdsc__prelogin *pl,
                        uint16_t *spid) {
  size_t n;
  uint8_t *v = tdsc_test_vector(name, &n);
  tdsc_error err = {0};
  ck_assert_ptr_nonnull(v);
  ck_assert_uint_gt(n, 8);
  *spid = (uint16_t)(v[4] << 8 | v[5]);
  ck_assert_int_eq(tdsc__prelogin_decode(v + 8, n - 8, pl, &err), TDSC_OK);
  free(v);
}

START_TEST(sql2019_and_2022_prelogin_replies) {
  TDSC_NEED_VECTORS();
  tdsc__prelogin pl;
  uint16_t spid;
  prelogin_of("pb_sql2019_login_select_01_server_reply.hex", &pl, &spid);
  ck_assert_uint_eq(spid, 0); /* SQL Server's PRELOGIN reply: SPID 0 */
  ck_assert_uint_eq(pl.ver_major, 15);
  ck_assert_uint_eq(pl.ver_minor, 0);
  ck_assert_uint_eq(pl.ver_build, 4236);
  ck_assert(pl.has_encryption);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_OFF); /* login-only TLS */
  ck_assert(!pl.has_thread_id);                        /* length 0 */
  ck_assert_uint_eq(pl.mars, 0);
  ck_assert(!pl.has_fedauth_required);
  prelogin_of("pb_sql2022_login_select_01_server_reply.hex", &pl, &spid);
  ck_assert_uint_eq(spid, 0);
  ck_assert_uint_eq(pl.ver_major, 16);
  ck_assert_uint_eq(pl.ver_build, 600);
  ck_assert_uint_eq(pl.encryption, TDSC__ENCRYPT_OFF);
}
END_TEST

/* ------------------------------------------------------------ logins */

/* The login replies of 2019 and 2022: SESSIONSTATE-capable FEATUREEXTACK
 * (0x0B, data classification 0x09 v1, UTF-8 0x0A, session recovery 0x01
 * with its initial state), LOGINACK TDS 7.4 whose program name ends in two
 * NULs (not shown: the parser stops at the first).  The trace shows the
 * version's four bytes: 16.0.2.88 is 16.0.600 (build 0x0258), 15.0.16.140
 * is 15.0.4236, as their PRELOGIN replies say. */
static const char sessionrecovery_ack[] =
    "01:000900608114ffe7ffff00020207010401000504ffffffff0601000701020808"
    "00000000000000000904ffffffff";

START_TEST(sql2019_login_reply) {
  TDSC_NEED_VECTORS();
  char *t = capture_trace("pb_sql2019_login_select_02_server_reply.hex");
  char ack[300];
  snprintf(ack, sizeof ack, "FEATUREEXTACK 09:0101 0a:01 %s",
           sessionrecovery_ack);
  const char *const want[] = {
      "ENVCHANGE 1 new=master old=master",
      "INFO 5701 st=2 cls=0 text=Changed database context to 'master'. "
      "srv=muazzam-Latitude-E5470 proc= line=1",
      "ENVCHANGE 7 new=(null) old=(null) nv=0904d00034 ov=",
      "ENVCHANGE 2 new=us_english old=",
      "INFO 5703 st=1 cls=0 text=Changed language setting to us_english. "
      "srv=muazzam-Latitude-E5470 proc= line=1",
      "LOGINACK if=1 tds=74000004 prog=Microsoft SQL Server ver=15.0.16.140",
      "ENVCHANGE 4 new=4096 old=4096 nv=3400300039003600",
      ack,
      "DONE fd st=0000 cmd=0000 rows=0",
      NULL};
  expect_exactly(t, want);
  free(t);
}
END_TEST

START_TEST(sql2022_login_replies) {
  TDSC_NEED_VECTORS();
  char ack[300];
  snprintf(ack, sizeof ack, "FEATUREEXTACK 0b:00 09:0101 0a:01 %s",
           sessionrecovery_ack);
  const char *const want[] = {
      "ENVCHANGE 1 new=master old=master",
      "INFO 5701 st=2 cls=0 text=Changed database context to 'master'. "
      "srv=sql1 proc= line=1",
      "ENVCHANGE 7 new=(null) old=(null) nv=0904d00034 ov=",
      "ENVCHANGE 2 new=us_english old=",
      "INFO 5703 st=1 cls=0 text=Changed language setting to us_english. "
      "srv=sql1 proc= line=1",
      "LOGINACK if=1 tds=74000004 prog=Microsoft SQL Server ver=16.0.2.88",
      "ENVCHANGE 4 new=4096 old=4096 nv=3400300039003600",
      ack,
      "DONE fd st=0000 cmd=0000 rows=0",
      NULL};
  char *t = capture_trace("pb_sql2022_login_select_02_server_reply.hex");
  expect_exactly(t, want);
  free(t);
  t = capture_trace("pb_sql2022_login_insert_02_server_reply.hex");
  expect_exactly(t, want);
  free(t);
}
END_TEST

/* The replies to the SET options the driver sends after login: a
 * SESSIONSTATE (skipped: we ask for no session recovery) and DONE. */
START_TEST(sessionstate_replies_are_skipped) {
  TDSC_NEED_VECTORS();
  static const char *const sets[] = {"pb_sql2019_login_select_0%d",
                                     "pb_sql2022_login_select_0%d",
                                     "pb_sql2022_login_insert_0%d"};
  for (size_t i = 0; i < 3; i++)
    for (int k = 3; k <= 4; k++) {
      char name[80], done[64];
      snprintf(name, sizeof name, sets[i], k);
      strcat(name, "_server_reply.hex");
      snprintf(done, sizeof done, "DONE fd st=0000 cmd=%s rows=0",
               k == 3 ? "00fd" : "00be");
      const char *const want[] = {"SKIPPED e4", done, NULL};
      char *t = capture_trace(name);
      expect_exactly(t, want);
      free(t);
    }
}
END_TEST

/* ------------------------------------------------------------ results */

START_TEST(sql2019_select_reply) {
  TDSC_NEED_VECTORS();
  /* int id, nvarchar(100) name: 10, N'Fast & Furious' */
  const char *const want[] = {
      "COLMETADATA 2 [26 t=4 k=1 fl=0 ml=4 p=0 s=0 ut=0 f=0009 id] "
      "[e7 t=16 k=2 fl=0 ml=200 p=0 s=0 ut=0 f=0009 name coll=0904d00034]",
      "ROW d1 0a000000 "
      "460061007300740020002600200046007500720069006f0075007300",
      "DONE fd st=0010 cmd=00c1 rows=1", NULL};
  char *t = capture_trace("pb_sql2019_login_select_05_server_reply.hex");
  expect_exactly(t, want);
  free(t);
}
END_TEST

START_TEST(sql2022_select_and_insert_replies) {
  TDSC_NEED_VECTORS();
  /* int id, nvarchar(50) name, int quantity: 2, N'orange', 154 */
  const char *const sel[] = {
      "COLMETADATA 3 [26 t=4 k=1 fl=0 ml=4 p=0 s=0 ut=0 f=0009 id] "
      "[e7 t=16 k=2 fl=0 ml=100 p=0 s=0 ut=0 f=0009 name coll=0904d00034] "
      "[26 t=4 k=1 fl=0 ml=4 p=0 s=0 ut=0 f=0009 quantity]",
      "ROW d1 02000000 6f00720061006e0067006500 9a000000",
      "DONE fd st=0010 cmd=00c1 rows=1", NULL};
  char *t = capture_trace("pb_sql2022_login_select_05_server_reply.hex");
  expect_exactly(t, sel);
  free(t);
  const char *const ins[] = {"DONE fd st=0010 cmd=00c3 rows=1", NULL};
  t = capture_trace("pb_sql2022_login_insert_05_server_reply.hex");
  expect_exactly(t, ins);
  free(t);
}
END_TEST

/* ------------------------------------------------------------ RPC */

START_TEST(older_server_set_options_batch) {
  TDSC_NEED_VECTORS();
  /* SET TRANSACTION ISOLATION LEVEL (0xf9) with DONE_MORE, then SET
   * IMPLICIT_TRANSACTIONS (0xba) */
  const char *const want[] = {"DONE fd st=0001 cmd=00f9 rows=0",
                              "DONE fd st=0000 cmd=00ba rows=0", NULL};
  for (int s = 0; s <= 4; s += 4) {
    char name[64];
    snprintf(name, sizeof name, "ndpi_rpc_s%d_01_server_reply.hex", s);
    char *t = capture_trace(name);
    expect_exactly(t, want);
    free(t);
  }
}
END_TEST

START_TEST(sp_prepexec_with_rows_then_handle) {
  TDSC_NEED_VECTORS();
  /* nvarchar(30) name, surname, nvarchar(40) city, int id: one row, then
   * DONEINPROC, RETURNSTATUS 0, the unnamed handle (int 1), DONEPROC */
  const char *const want[] = {
      "COLMETADATA 4 [ef t=15 k=2 fl=0 ml=60 p=0 s=0 ut=0 f=0009 name "
      "coll=0904d00034] [ef t=15 k=2 fl=0 ml=60 p=0 s=0 ut=0 f=0009 surname "
      "coll=0904d00034] [ef t=15 k=2 fl=0 ml=80 p=0 s=0 ut=0 f=0009 city "
      "coll=0904d00034] [38 t=4 k=0 fl=4 ml=4 p=0 s=0 ut=0 f=0008 id]",
      NULL};
  char *t = capture_trace("ndpi_rpc_s0_02_server_reply.hex");
  ck_assert_msg(strncmp(t, want[0], strlen(want[0])) == 0, "%s", t);
  const char *row = strchr(t, '\n') + 1;
  ck_assert(strncmp(row, "ROW d1 7a007a007a002000", 23) == 0);
  const char *rest = strchr(row, '\n') + 1;
  const char *const tail[] = {"DONE ff st=0011 cmd=00c1 rows=1",
                              "RETURNSTATUS 0", "RETURNVALUE 01000000",
                              "DONE fe st=0000 cmd=00e0 rows=0", NULL};
  expect_exactly(rest, tail);
  ck_assert_ptr_nonnull(strstr(row, " 02000000\n")); /* id 2 */
  free(t);
}
END_TEST

START_TEST(sp_prepexec_without_rows_returns_each_handle) {
  TDSC_NEED_VECTORS();
  static const struct {
    int n;
    const char *doneinproc, *handle;
  } c[] = {{2, "DONE ff st=0001 cmd=00c6 rows=0", "RETURNVALUE 01000000"},
           {3, "DONE ff st=0011 cmd=00c3 rows=1", "RETURNVALUE 02000000"},
           {7, "DONE ff st=0001 cmd=00c7 rows=0", "RETURNVALUE 04000000"}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "ndpi_rpc_s4_%02d_server_reply.hex", c[i].n);
    const char *const want[] = {c[i].doneinproc, "RETURNSTATUS 0",
                                c[i].handle, "DONE fe st=0000 cmd=00e0 rows=0",
                                NULL};
    char *t = capture_trace(name);
    expect_exactly(t, want);
    free(t);
  }
}
END_TEST

START_TEST(two_sp_execute_in_one_batch_double_returnstatus) {
  TDSC_NEED_VECTORS();
  /* Two RPCs in one request: the first DONEPROC has DONE_MORE and
   * RPCINBATCH (0x80); each procedure reports RETURNSTATUS twice. */
  const char *const want[] = {
      "DONE ff st=0011 cmd=00c3 rows=1", "RETURNSTATUS 0", "RETURNSTATUS 0",
      "DONE fe st=0081 cmd=00e0 rows=0", "DONE ff st=0011 cmd=00c3 rows=1",
      "RETURNSTATUS 0",                  "RETURNSTATUS 0",
      "DONE fe st=0000 cmd=00e0 rows=0", NULL};
  char *t = capture_trace("ndpi_rpc_s4_04_server_reply.hex");
  expect_exactly(t, want);
  free(t);
}
END_TEST

START_TEST(sp_prepexec_and_sp_execute_of_a_char_select) {
  TDSC_NEED_VECTORS();
  /* char(30) column1..3 ("first", "second", "third", blank-padded) three
   * rows; sp_prepexec ends with handle 3, sp_execute without one */
  const char *row = "ROW d1 666972737420202020202020202020202020202020202020"
                    "202020202020 7365636f6e64202020202020202020202020202020"
                    "202020202020202020 746869726420202020202020202020202020"
                    "202020202020202020202020";
  const char *meta =
      "COLMETADATA 3 [af t=12 k=2 fl=0 ml=30 p=0 s=0 ut=0 f=0008 column1 "
      "coll=0904d00034] [af t=12 k=2 fl=0 ml=30 p=0 s=0 ut=0 f=0009 column2 "
      "coll=0904d00034] [af t=12 k=2 fl=0 ml=30 p=0 s=0 ut=0 f=0009 column3 "
      "coll=0904d00034]";
  const char *const prepexec[] = {meta,
                                  row,
                                  row,
                                  row,
                                  "DONE ff st=0011 cmd=00c1 rows=3",
                                  "RETURNSTATUS 0",
                                  "RETURNVALUE 03000000",
                                  "DONE fe st=0000 cmd=00e0 rows=0",
                                  NULL};
  char *t = capture_trace("ndpi_rpc_s4_05_server_reply.hex");
  expect_exactly(t, prepexec);
  free(t);
  const char *const execute[] = {meta,
                                 row,
                                 row,
                                 row,
                                 "DONE ff st=0011 cmd=00c1 rows=3",
                                 "RETURNSTATUS 0",
                                 "DONE fe st=0000 cmd=00e0 rows=0",
                                 NULL};
  t = capture_trace("ndpi_rpc_s4_06_server_reply.hex");
  expect_exactly(t, execute);
  free(t);
}
END_TEST

Suite *tdsc_test_captures_suite(void) {
  Suite *s = suite_create("captures");
  TCase *tc = tcase_create("sql2019_2022");
  tcase_add_test(tc, sql2019_and_2022_prelogin_replies);
  tcase_add_test(tc, sql2019_login_reply);
  tcase_add_test(tc, sql2022_login_replies);
  tcase_add_test(tc, sessionstate_replies_are_skipped);
  tcase_add_test(tc, sql2019_select_reply);
  tcase_add_test(tc, sql2022_select_and_insert_replies);
  suite_add_tcase(s, tc);
  tc = tcase_create("rpc");
  tcase_add_test(tc, older_server_set_options_batch);
  tcase_add_test(tc, sp_prepexec_with_rows_then_handle);
  tcase_add_test(tc, sp_prepexec_without_rows_returns_each_handle);
  tcase_add_test(tc, two_sp_execute_in_one_batch_double_returnstatus);
  tcase_add_test(tc, sp_prepexec_and_sp_execute_of_a_char_select);
  suite_add_tcase(s, tc);
  return s;
}
