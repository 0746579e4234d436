/* Microsoft Entra ID access tokens against the test server (issue 17):
 * RS256 JWTs signed here with keys generated at run time (OpenSSL), the
 * server validating them as Azure SQL does (tests/server/tdssrv/fedauth.py:
 * signature, audience, tenant, exp/nbf; principal -> login) over real TLS.
 * Each failure is provoked and asserted on its code; the ones the client
 * can see in the token come before anything is sent; the token never
 * shows in an error or in a protocol trace. */
#include "harness.h"
#include "login_as.h"

#include <tdsclient.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TENANT "72f988bf-0000-4000-8000-00000000cafe"
#define SQL_AUD "https://database.windows.net/"

static char dir[256];
static EVP_PKEY *key, *other_key;
static th_server srv, srv_nonce;

static void b64url(const unsigned char *in, size_t n, char *out) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
    if (i + 1 < n)
      out[o++] = a[v >> 6 & 63];
    if (i + 2 < n)
      out[o++] = a[v & 63];
  }
  out[o] = 0;
}

/* A token for claims, signed RS256 by k.  Static buffer. */
static const char *sign(EVP_PKEY *k, const char *claims) {
  static char tok[8192];
  const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"test\"}";
  b64url((const unsigned char *)hdr, strlen(hdr), tok);
  strcat(tok, ".");
  b64url((const unsigned char *)claims, strlen(claims), tok + strlen(tok));
  unsigned char sig[512];
  size_t siglen = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  ck_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
  ck_assert(EVP_DigestSign(md, sig, &siglen, (unsigned char *)tok,
                           strlen(tok)) == 1);
  EVP_MD_CTX_free(md);
  strcat(tok, ".");
  b64url(sig, siglen, tok + strlen(tok));
  return tok;
}

/* Claims as Entra ID issues them for alice, exp and nbf relative to now. */
static const char *claims(const char *aud, const char *tid, long exp_in,
                          long nbf_in) {
  static char buf[1024];
  long now = (long)time(NULL);
  snprintf(buf, sizeof buf,
           "{\"aud\":\"%s\",\"iss\":\"https://sts.windows.net/%s/\","
           "\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld,\"tid\":\"%s\","
           "\"oid\":\"0c0ffee0-0000-4000-8000-000000000001\","
           "\"upn\":\"alice@contoso.test\",\"ver\":\"1.0\"}",
           aud, tid, now - 60, now + nbf_in, now + exp_in, tid);
  return buf;
}

static const char *good_token(void) {
  return sign(key, claims(SQL_AUD, TENANT, 3600, -60));
}

static void start(th_server *s, const char *extra) {
  char pub[300];
  snprintf(pub, sizeof pub, "%s/tenant.pem", dir);
  ck_assert_msg(th_server_start(s, "--entra-key", pub, "--entra-tenant",
                                TENANT, "--entra-user",
                                "alice@contoso.test=alice_entra", extra,
                                (const char *)NULL),
                "the test server did not start");
}

static void world_up(void) {
  snprintf(dir, sizeof dir, "/tmp/tdsc-entra-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  key = EVP_RSA_gen(2048);
  other_key = EVP_RSA_gen(2048);
  ck_assert(key && other_key);
  char pub[300];
  snprintf(pub, sizeof pub, "%s/tenant.pem", dir);
  FILE *f = fopen(pub, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert(PEM_write_PUBKEY(f, key) == 1);
  fclose(f);
  start(&srv, NULL);
  start(&srv_nonce, "--entra-nonce");
}

static void world_down(void) {
  th_server_stop(&srv);
  th_server_stop(&srv_nonce);
  char pub[300];
  snprintf(pub, sizeof pub, "%s/tenant.pem", dir);
  unlink(pub);
  rmdir(dir);
  EVP_PKEY_free(key);
  EVP_PKEY_free(other_key);
}

/* Connects to port with the test CA and extra (no UID unless extra has
 * one). */
static tdsc_errc connect_port(int port, const char *extra, tdsc_conn **out) {
  static char cs[12000];
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s", port,
           th_cert("ca.pem"), extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

static tdsc_errc connect_token(int port, const char *token, const char *more,
                               tdsc_conn **out) {
  static char extra[10000];
  snprintf(extra, sizeof extra, "Authentication=entra;AccessToken=%s;%s",
           token, more ? more : "");
  return connect_port(port, extra, out);
}

static const tdsc_error *expect(tdsc_conn *c, tdsc_errc rc, tdsc_errc want) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), th_report(c));
  return e;
}

/* No part of the token in text: slices of its claims and its signature. */
static void assert_no_token_in(const char *text, const char *token) {
  size_t n = strlen(token);
  const char *dot = strrchr(token, '.');
  const char *at[] = {token + n / 4, dot ? dot + 9 : token};
  char slice[24];
  for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
    snprintf(slice, sizeof slice, "%.20s", at[i]);
    ck_assert_msg(!strstr(text, slice), "token slice '%s' found", slice);
  }
}

/* ---------------------------------------------------------------- login */

START_TEST(good_token_logs_in_as_the_mapped_login) {
  tdsc_conn *c;
  tdsc_errc rc = connect_token(srv.port, good_token(), NULL, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "alice_entra");
  ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
  const tdsc_attempt *a = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a), "entra");
  ck_assert_str_eq(tdsc_attempt_target(a), "alice@contoso.test (tenant " TENANT
                                           ")");
  /* the trail keeps the token's source and claims, never the token */
  ck_assert_str_eq(tdsc_attempt_token_source(a), "AccessToken=");
  const char *cl = tdsc_attempt_token_claims(a);
  const char *want[] = {"aud=" SQL_AUD ", ",
                        "iss=https://sts.windows.net/" TENANT "/, ",
                        "tid=" TENANT ", ",
                        "upn=alice@contoso.test, ",
                        "oid=0c0ffee0-0000-4000-8000-000000000001, ",
                        "nbf=20",
                        "exp=20"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_msg(strstr(cl, want[i]), "no '%s' in '%s'", want[i], cl);
  ck_assert_msg(strlen(cl) > 4 && !strcmp(cl + strlen(cl) - 4, " UTC"), "%s",
                cl);
  assert_no_token_in(cl, good_token());
  tdsc_conn_free(c);
  /* ODBC's name of the mechanism; the server's nonce echoed in LOGIN7
   * (the server closes the connection when it is not) */
  static char extra[10000];
  snprintf(extra, sizeof extra,
           "Authentication=ActiveDirectoryAccessToken;AccessToken=%s",
           good_token());
  rc = connect_port(srv_nonce.port, extra, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "alice_entra");
  tdsc_conn_free(c);
  /* AccessToken= alone selects entra (as in ODBC) */
  snprintf(extra, sizeof extra, "AccessToken=%s;Encrypt=strict",
           good_token());
  rc = connect_port(srv.port, extra, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "alice_entra");
  tdsc_conn_free(c);
}
END_TEST

/* ------------------------------------------------ found before sending */

/* A port nobody listens on: a client that tried to send would get
 * CONN_REFUSED, so the code proves nothing went out. */
START_TEST(unusable_tokens_are_named_before_anything_is_sent) {
  int port = th_free_port();
  struct {
    const char *token;
    tdsc_errc code;
    const char *fact;
  } cases[] = {
      {NULL, TDSC_E_ENTRA_TOKEN_EXPIRED, "expired at"},
      {NULL, TDSC_E_ENTRA_TOKEN_NOT_YET_VALID, "(nbf)"},
      {NULL, TDSC_E_ENTRA_WRONG_AUDIENCE, "https://graph.microsoft.com"},
      {"eyJub3QiOiJhIGp3dCJ9", TDSC_E_ENTRA_TOKEN_MALFORMED, "not a JWT"},
  };
  char tok[3][8192];
  snprintf(tok[0], sizeof tok[0], "%s",
           sign(key, claims(SQL_AUD, TENANT, -600, -4000)));
  snprintf(tok[1], sizeof tok[1], "%s",
           sign(key, claims(SQL_AUD, TENANT, 7200, 3600)));
  snprintf(tok[2], sizeof tok[2], "%s",
           sign(key, claims("https://graph.microsoft.com", TENANT, 3600, -60)));
  for (int i = 0; i < 3; i++)
    cases[i].token = tok[i];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tdsc_conn *c;
    tdsc_errc rc = connect_token(port, cases[i].token, NULL, &c);
    const tdsc_error *e = expect(c, rc, cases[i].code);
    ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_ENTRA);
    ck_assert_msg(strstr(tdsc_error_message(e), cases[i].fact), "%s",
                  tdsc_error_message(e));
    assert_no_token_in(tdsc_error_report(e), cases[i].token);
    tdsc_conn_free(c);
  }
}
END_TEST

START_TEST(encrypt_off_never_sends_the_token) {
  tdsc_conn *c;
  tdsc_errc rc = connect_token(srv.port, good_token(), "Encrypt=off", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_ENTRA_TLS_REQUIRED);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "Encrypt=off"));
  tdsc_conn_free(c);
  /* nor does it fall back to a password in clear: the chain stops */
  static char extra[10000];
  snprintf(extra, sizeof extra,
           "Authentication=entra,sql;AccessToken=%s;Encrypt=off;UID=sa;"
           "PWD=Secret-123",
           good_token());
  rc = connect_port(srv.port, extra, &c);
  e = expect(c, rc, TDSC_E_ENTRA_TLS_REQUIRED);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
}
END_TEST

/* ------------------------------------------------- judged by the server */

START_TEST(server_refuses_a_token_it_cannot_trust) {
  const char *toks[2];
  char t0[8192], t1[8192];
  /* signed by a key that is not the tenant's; from another tenant */
  snprintf(t0, sizeof t0, "%s",
           sign(other_key, claims(SQL_AUD, TENANT, 3600, -60)));
  snprintf(t1, sizeof t1, "%s",
           sign(key, claims(SQL_AUD, "00000000-0000-4000-8000-0000000000ff",
                            3600, -60)));
  toks[0] = t0;
  toks[1] = t1;
  for (int i = 0; i < 2; i++) {
    tdsc_conn *c;
    tdsc_errc rc = connect_token(srv.port, toks[i], NULL, &c);
    const tdsc_error *e = expect(c, rc, TDSC_E_ENTRA_TOKEN_REJECTED);
    ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_SERVER);
    ck_assert_int_eq(tdsc_error_provider_status(e, 0), 18456);
    ck_assert_ptr_nonnull(
        strstr(tdsc_error_message(e), "<token-identified principal>"));
    assert_no_token_in(tdsc_error_report(e), toks[i]);
    tdsc_conn_free(c);
  }
}
END_TEST

/* Azure SQL's answer to a token that expired by its own clock: 18456 state
 * 233, "Token is expired." (the server's clock an hour ahead). */
START_TEST(server_clock_ahead_sees_the_token_expired) {
  if (access(TH_LIBFAKETIME, R_OK) != 0)
    return; /* no libfaketime: nothing to put the server's clock ahead */
  th_server ahead;
  th_server_faketime = "+1h";
  start(&ahead, NULL);
  tdsc_conn *c;
  const char *tok = sign(key, claims(SQL_AUD, TENANT, 600, -60));
  tdsc_errc rc = connect_token(ahead.port, tok, NULL, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_ENTRA_TOKEN_REJECTED);
  ck_assert_int_eq(tdsc_error_provider_status(e, 1), 233);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "Token is expired"));
  tdsc_conn_free(c);
  th_server_stop(&ahead);
}
END_TEST

/* A server that takes the token but does not say so in FEATUREEXTACK, or
 * says more than MS-TDS 2.2.7.11 allows: the login is not trusted. */
START_TEST(fedauth_acknowledgement_is_required_and_checked) {
  static const struct {
    const char *mode, *fact;
  } cases[] = {{"--entra-ack=none", "without acknowledging FEDAUTH"},
               {"--entra-ack=data", "5 bytes of data"},
               /* FEDAUTHINFO (the ADAL workflow) to a login whose token
                * went in LOGIN7 */
               {"--fedauth-info=to-token", "sent its token in LOGIN7"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    th_server odd;
    start(&odd, cases[i].mode);
    tdsc_conn *c;
    tdsc_errc rc = connect_token(odd.port, good_token(), NULL, &c);
    const tdsc_error *e = expect(c, rc, TDSC_E_PROTOCOL);
    ck_assert_msg(strstr(tdsc_error_message(e), cases[i].fact), "%s",
                  tdsc_error_message(e));
    tdsc_conn_free(c);
    th_server_stop(&odd);
  }
}
END_TEST

/* ------------------------------------------------------------- provider */

typedef struct prov {
  int calls;
  char resource[128];
  bool none;
  const char *token; /* NULL: good_token() */
} prov;

static long provide(void *ud, const char *resource, char *buf, size_t cap) {
  prov *p = ud;
  p->calls++;
  snprintf(p->resource, sizeof p->resource, "%s", resource);
  if (p->none)
    return -1;
  const char *t = p->token ? p->token : good_token();
  size_t n = strlen(t);
  if (n < cap)
    memcpy(buf, t, n + 1);
  return (long)n;
}

START_TEST(token_provider_is_asked_when_the_mechanism_runs) {
  prov p = {0};
  tdsc_conn *c = tdsc_conn_new();
  tdsc_conn_set_token_provider(c, provide, &p);
  char cs[1024];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;CAFile=%s;Authentication=entra",
           srv.port, th_cert("ca.pem"));
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  ck_assert_int_eq(p.calls, 1);
  ck_assert_str_eq(p.resource, SQL_AUD);
  th_expect_login_as(c, "alice_entra");
  const tdsc_attempt *a = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_token_source(a),
                   "the application's token provider");
  ck_assert_msg(strstr(tdsc_attempt_token_claims(a), "upn=alice@contoso.test"),
                "%s", tdsc_attempt_token_claims(a));
  tdsc_conn_free(c);
  /* an expired token from the provider: its claims name exp, in the
   * failure's trail as in the connection's */
  char expired[8192], when[64];
  long exp = (long)time(NULL) - 600;
  snprintf(expired, sizeof expired, "%s",
           sign(key, claims(SQL_AUD, TENANT, -600, -4000)));
  time_t t = (time_t)exp;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof when, "exp=%Y-%m-%d %H:%M", &tm);
  p.token = expired;
  c = tdsc_conn_new();
  tdsc_conn_set_token_provider(c, provide, &p);
  const tdsc_error *e =
      expect(c, tdsc_conn_connect(c, cs), TDSC_E_ENTRA_TOKEN_EXPIRED);
  a = tdsc_error_trail_at(e, 0);
  ck_assert_str_eq(tdsc_attempt_token_source(a),
                   "the application's token provider");
  ck_assert_msg(strstr(tdsc_attempt_token_claims(a), when), "no '%s' in '%s'",
                when, tdsc_attempt_token_claims(a));
  ck_assert_str_eq(tdsc_attempt_token_claims(tdsc_conn_attempt_at(c, 0)),
                   tdsc_attempt_token_claims(a));
  assert_no_token_in(tdsc_attempt_token_claims(a), expired);
  tdsc_error *kept = tdsc_error_dup(e); /* beyond the connection */
  tdsc_conn_free(c);
  ck_assert_ptr_nonnull(kept);
  a = tdsc_error_trail_at(kept, 0);
  ck_assert_str_eq(tdsc_attempt_token_source(a),
                   "the application's token provider");
  ck_assert_ptr_nonnull(strstr(tdsc_attempt_token_claims(a), when));
  tdsc_error_free(kept);
  p.token = NULL;
  /* a provider without a token: the mechanism is skipped, no claims */
  p.none = true;
  c = tdsc_conn_new();
  tdsc_conn_set_token_provider(c, provide, &p);
  expect(c, tdsc_conn_connect(c, cs), TDSC_E_ENTRA_NO_TOKEN);
  ck_assert_str_eq(tdsc_attempt_token_claims(tdsc_conn_attempt_at(c, 0)), "");
  tdsc_conn_free(c);
}
END_TEST

/* --------------------------------------------------------------- policy */

START_TEST(entra_without_a_token_source_skips_to_sql) {
  tdsc_conn *c;
  tdsc_errc rc = connect_port(
      srv.port, "Authentication=entra,sql;UID=sa;PWD=Secret-123", &c);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sa");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  const tdsc_attempt *a0 = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a0), "entra");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a0)),
                   TDSC_E_ENTRA_NO_TOKEN);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 1)), "sql");
  ck_assert_str_eq(tdsc_attempt_token_source(tdsc_conn_attempt_at(c, 1)), "");
  ck_assert_str_eq(tdsc_attempt_token_source(tdsc_conn_attempt_at(c, 0)), "");
  tdsc_conn_free(c);
  /* an expired token judged nobody: sql is tried too, the trail says why */
  static char extra[10000];
  snprintf(extra, sizeof extra,
           "Authentication=entra,sql;UID=sa;PWD=Secret-123;AccessToken=%s",
           sign(key, claims(SQL_AUD, TENANT, -600, -4000)));
  rc = connect_port(srv.port, extra, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  ck_assert_int_eq(
      tdsc_error_code(tdsc_attempt_error(tdsc_conn_attempt_at(c, 0))),
      TDSC_E_ENTRA_TOKEN_EXPIRED);
  tdsc_conn_free(c);
}
END_TEST

START_TEST(rejected_token_stops_the_chain) {
  tdsc_conn *c;
  static char extra[10000];
  snprintf(extra, sizeof extra,
           "Authentication=entra,sql;UID=sa;PWD=Secret-123;AccessToken=%s",
           sign(other_key, claims(SQL_AUD, TENANT, 3600, -60)));
  tdsc_errc rc = connect_port(srv.port, extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_ENTRA_TOKEN_REJECTED);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "not falling back"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "judged this identity"));
  tdsc_conn_free(c);
}
END_TEST

/* ---------------------------------------------------------------- trace */

START_TEST(token_never_in_the_protocol_trace) {
  char path[300], extra[400];
  snprintf(path, sizeof path, "%s/trace.txt", dir);
  snprintf(extra, sizeof extra, "Trace=%s", path);
  char tok[8192];
  snprintf(tok, sizeof tok, "%s", good_token());
  tdsc_conn *c;
  tdsc_errc rc = connect_token(srv_nonce.port, tok, extra, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "alice_entra");
  tdsc_conn_free(c);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  unlink(path);
  text[n] = 0;
  /* the trace saw the login (so the check below means something) */
  ck_assert_msg(strstr(text, "FEDAUTH"), "%s", text);
  ck_assert_msg(strstr(text, "redacted"), "%s", text);
  assert_no_token_in(text, tok);
}
END_TEST

/* tdsc-doctor names the token's claims, never the token. */
START_TEST(doctor_reports_the_claims_not_the_token) {
  const char *build = getenv("TDSC_BUILDDIR");
  ck_assert_ptr_nonnull(build);
  char tok[8192];
  snprintf(tok, sizeof tok, "%s",
           sign(key, claims(SQL_AUD, TENANT, -600, -4000)));
  static char cmd[12000], out[1 << 16];
  snprintf(cmd, sizeof cmd,
           "%s/tools/tdsc-doctor -t 5 -c 'Server=tcp:localhost,%d;CAFile=%s;"
           "Authentication=entra;AccessToken=%s' 2>&1",
           build, srv.port, th_cert("ca.pem"), tok);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  pclose(p);
  ck_assert_msg(strstr(out, "alice@contoso.test"), "%s", out);
  ck_assert_msg(strstr(out, TENANT), "%s", out);
  ck_assert_msg(strstr(out, "ENTRA_TOKEN_EXPIRED"), "%s", out);
  ck_assert_msg(strstr(out, "s from now)"), "%s", out);
  assert_no_token_in(out, tok);
}
END_TEST

int main(void) {
  th_require_server();
  Suite *s = suite_create("entra");
  TCase *tc = tcase_create("entra");
  tcase_set_timeout(tc, 120);
  tcase_add_unchecked_fixture(tc, world_up, world_down);
  tcase_add_test(tc, good_token_logs_in_as_the_mapped_login);
  tcase_add_test(tc, unusable_tokens_are_named_before_anything_is_sent);
  tcase_add_test(tc, encrypt_off_never_sends_the_token);
  tcase_add_test(tc, server_refuses_a_token_it_cannot_trust);
  tcase_add_test(tc, server_clock_ahead_sees_the_token_expired);
  tcase_add_test(tc, fedauth_acknowledgement_is_required_and_checked);
  tcase_add_test(tc, token_provider_is_asked_when_the_mechanism_runs);
  tcase_add_test(tc, entra_without_a_token_source_skips_to_sql);
  tcase_add_test(tc, rejected_token_stops_the_chain);
  tcase_add_test(tc, token_never_in_the_protocol_trace);
  tcase_add_test(tc, doctor_reports_the_claims_not_the_token);
  suite_add_tcase(s, tc);
  return th_run_suite(s);
}
