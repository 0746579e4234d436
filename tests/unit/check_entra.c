/* Unit tests of lib/auth/jwt.c (a JWT's claims, no signature check) and
 * lib/auth/entra.c (the entra mechanism's token sources and its diagnosis
 * before sending): each failure gets its own code, and no message holds
 * any part of the token.  The server's side is tested in
 * tests/integration/check_entra.c. */
#include "config.h"

#include "auth/auth.h"
#include "auth/jwt.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void b64url(const char *in, char *out) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t n = strlen(in), o = 0;
  const unsigned char *p = (const unsigned char *)in;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
    if (i + 1 < n)
      out[o++] = a[v >> 6 & 63];
    if (i + 2 < n)
      out[o++] = a[v & 63];
  }
  out[o] = 0;
}

/* header.claims.signature, the signature a fixed text the tests look for */
#define SIG "U0lHTkFUVVJFLXNlY3JldC1zbGljZQ"
static char *jwt(const char *claims) {
  static char buf[4096];
  char h[256], c[2048];
  b64url("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", h);
  b64url(claims, c);
  snprintf(buf, sizeof buf, "%s.%s.%s", h, c, SIG);
  return buf;
}

static char *claims(long exp_in, long nbf_in, const char *aud) {
  static char buf[1024];
  long now = (long)time(NULL);
  snprintf(buf, sizeof buf,
           "{\"aud\":%s,\"iss\":\"https://sts.windows.net/t1/\","
           "\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld,\"oid\":\"o-1\","
           "\"tid\":\"t1\",\"upn\":\"alice@example.com\"}",
           aud, now - 60, now + nbf_in, now + exp_in);
  return buf;
}

START_TEST(jwt_reads_the_claims_entra_names) {
  tdsc__jwt_claims c;
  char why[200];
  ck_assert(tdsc__jwt_decode(
      jwt("{\"aud\":[\"x\",\"https://database.windows.net/\"],\"exp\":"
          "1700000000.5,\"nbf\":1,\"tid\":\"t\\u00e9\",\"upn\":\"a\\\"b\","
          "\"groups\":[{\"n\":[1,2,{}]}],\"x\":null,\"y\":true}"),
      &c, why, sizeof why));
  ck_assert_str_eq(c.alg, "RS256");
  ck_assert(c.has_exp);
  ck_assert_int_eq(c.exp, 1700000000);
  ck_assert_int_eq(c.nbf, 1);
  ck_assert_uint_eq(c.naud, 2);
  ck_assert_str_eq(c.aud[1], "https://database.windows.net/");
  ck_assert_str_eq(c.tid, "t\xc3\xa9");
  ck_assert_str_eq(c.upn, "a\"b");
}
END_TEST

START_TEST(jwt_refuses_what_is_not_a_jwt_without_quoting_it) {
  tdsc__jwt_claims c;
  char why[200];
  static const char *bad[] = {
      "secret-token-without-dots",
      "a.b",
      "a.b.c.d",
      "{\"access_token\":\"x\"}",
      "!!!.eyJ9.sig",
      "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.", /* unsigned */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    ck_assert_msg(!tdsc__jwt_decode(bad[i], &c, why, sizeof why), "%zu", i);
    ck_assert(why[0]);
    ck_assert_ptr_null(strstr(why, "secret"));
  }
  /* claims that are not one JSON object */
  static const char *json[] = {"[1]", "{\"exp\":}", "{\"exp\":1",
                               "{\"a\":\"\\x\"}", "{} x", "{\"a\":tru}"};
  for (size_t i = 0; i < sizeof json / sizeof json[0]; i++)
    ck_assert_msg(!tdsc__jwt_decode(jwt(json[i]), &c, why, sizeof why),
                  "%s", json[i]);
  /* nesting beyond the bound is refused, not followed */
  char deep[200] = "{\"a\":";
  for (int i = 0; i < 40; i++)
    strcat(deep, "[");
  ck_assert(!tdsc__jwt_decode(jwt(deep), &c, why, sizeof why));
}
END_TEST

typedef struct prov {
  const char *token;
  long ret; /* 0: the token's length */
  int calls;
  char resource[128];
} prov;

static long provide(void *ud, const char *resource, char *buf, size_t cap) {
  prov *p = ud;
  p->calls++;
  snprintf(p->resource, sizeof p->resource, "%s", resource);
  if (p->ret)
    return p->ret;
  size_t n = strlen(p->token);
  if (n < cap)
    memcpy(buf, p->token, n + 1);
  return (long)n;
}

/* Runs the mechanism's init; the message must not hold the signature. */
static tdsc_errc init(const tdsc__auth_params *p, tdsc_error *e,
                      const char **bearer, void **state) {
  tdsc_errc rc = tdsc__mech_entra->init(state, p, e);
  if (rc != TDSC_OK) {
    ck_assert_ptr_null(strstr(e->message, SIG));
    ck_assert_ptr_null(strstr(e->message, "U0lHTkFU"));
  }
  *bearer = tdsc__mech_entra->bearer(*state);
  return rc;
}

static tdsc_errc try_token(const char *token, const char *aud,
                           tdsc_error *e) {
  tdsc__auth_params p = {.access_token = token, .audience = aud};
  const char *b;
  void *st = NULL;
  tdsc_errc rc = init(&p, e, &b, &st);
  tdsc__mech_entra->free_state(st);
  return rc;
}

/* The token endpoints' answers (RFC 6749 5.1 and 5.2, Entra ID's
 * error_codes, IMDS's strings for numbers) through the same reader. */
START_TEST(oauth_reply_reads_tokens_and_errors) {
  tdsc__oauth_reply r;
  char why[128] = "";
  const char *ok = "{\"token_type\":\"Bearer\",\"expires_in\":\"3599\","
                   "\"access_token\":\"a.b\\u002fc.d\",\"x\":[{\"y\":null}]}";
  ck_assert(tdsc__oauth_reply_decode((const uint8_t *)ok, strlen(ok), &r, why,
                                     sizeof why));
  ck_assert_str_eq(r.access_token, "a.b/c.d");
  ck_assert_uint_eq(r.token_len, 7);
  ck_assert_str_eq(r.token_type, "Bearer");
  tdsc__oauth_reply_clear(&r);
  ck_assert_ptr_null(r.access_token);
  const char *err = "{\"error\":\"invalid_client\",\"error_description\":"
                    "\"AADSTS7000215: Invalid client secret.\","
                    "\"error_codes\":[7000215,1,2,3,4]}";
  ck_assert(tdsc__oauth_reply_decode((const uint8_t *)err, strlen(err), &r,
                                     why, sizeof why));
  ck_assert_ptr_null(r.access_token);
  ck_assert_str_eq(r.error, "invalid_client");
  ck_assert_uint_eq(r.ncodes, TDSC__OAUTH_MAX_CODES); /* the rest dropped */
  ck_assert_int_eq(r.codes[0], 7000215);
  tdsc__oauth_reply_clear(&r);
  static const struct {
    const char *body, *why;
  } bad[] = {
      {"", "empty"},
      {"<html>nginx</html>", "HTML"},
      {"{\"access_token\":\"abc\"", "well-formed"},
      {"{\"error_codes\":[\"x\"]}", "well-formed"},
      {"[1]", "well-formed"},
      {"{\"a\":1} trailing", "well-formed"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    ck_assert(!tdsc__oauth_reply_decode((const uint8_t *)bad[i].body,
                                        strlen(bad[i].body), &r, why,
                                        sizeof why));
    ck_assert_ptr_null(r.access_token); /* nothing left to free */
    ck_assert_msg(strstr(why, bad[i].why), "%s: %s", bad[i].body, why);
    ck_assert(!strstr(why, "abc")); /* never quotes the body */
  }
}
END_TEST

START_TEST(entra_names_each_unusable_token_before_sending) {
  tdsc_error e = {0};
  const char *sql = "\"https://database.windows.net/\"";
  ck_assert_int_eq(try_token(jwt(claims(3600, -60, sql)), NULL, &e), TDSC_OK);
  /* variants: no final '/', another cloud, the application id */
  ck_assert_int_eq(
      try_token(jwt(claims(3600, -60, "\"https://database.windows.net\"")),
                NULL, &e),
      TDSC_OK);
  ck_assert_int_eq(try_token(jwt(claims(3600, -60,
                                        "\"https://database.usgovcloudapi.net/"
                                        "\"")),
                             NULL, &e),
                   TDSC_OK);
  ck_assert_int_eq(
      try_token(jwt(claims(3600, -60,
                           "\"022907d3-0f1b-48f7-badc-1ba6abab6d66\"")),
                NULL, &e),
      TDSC_OK);

  ck_assert_int_eq(try_token(jwt(claims(-7200, -9000, sql)), NULL, &e),
                   TDSC_E_ENTRA_TOKEN_EXPIRED);
  ck_assert_ptr_nonnull(strstr(e.message, "expired at"));
  ck_assert_ptr_nonnull(strstr(e.message, "alice@example.com (tenant t1)"));
  ck_assert_ptr_nonnull(strstr(e.message, "UTC"));
  /* the time is computed, not asked of gmtime_r: pinned here */
  char fixed[200];
  snprintf(fixed, sizeof fixed,
           "{\"aud\":\"https://database.windows.net/\",\"exp\":951782399}");
  ck_assert_int_eq(try_token(jwt(fixed), NULL, &e),
                   TDSC_E_ENTRA_TOKEN_EXPIRED);
  ck_assert_msg(strstr(e.message, "2000-02-28 23:59:59 UTC"), "%s", e.message);
  snprintf(fixed, sizeof fixed,
           "{\"aud\":\"https://database.windows.net/\",\"exp\":951868800}");
  ck_assert_int_eq(try_token(jwt(fixed), NULL, &e),
                   TDSC_E_ENTRA_TOKEN_EXPIRED);
  ck_assert_msg(strstr(e.message, "2000-03-01 00:00:00 UTC"), "%s", e.message);
  ck_assert_int_eq(try_token(jwt(claims(0, -60, sql)), NULL, &e),
                   TDSC_E_ENTRA_TOKEN_EXPIRED); /* exp == now */

  ck_assert_int_eq(try_token(jwt(claims(7200, 3600, sql)), NULL, &e),
                   TDSC_E_ENTRA_TOKEN_NOT_YET_VALID);
  ck_assert_ptr_nonnull(strstr(e.message, "(nbf)"));
  /* within the 5 minutes of skew Entra ID allows: fine */
  ck_assert_int_eq(try_token(jwt(claims(7200, 240, sql)), NULL, &e), TDSC_OK);

  ck_assert_int_eq(
      try_token(jwt(claims(3600, -60, "\"https://graph.microsoft.com\"")),
                NULL, &e),
      TDSC_E_ENTRA_WRONG_AUDIENCE);
  ck_assert_ptr_nonnull(strstr(e.message, "https://graph.microsoft.com"));
  ck_assert_ptr_nonnull(strstr(e.message, "database.windows.net"));
  /* EntraAudience= replaces Azure SQL's audiences */
  ck_assert_int_eq(try_token(jwt(claims(3600, -60, sql)), "api://mine", &e),
                   TDSC_E_ENTRA_WRONG_AUDIENCE);
  ck_assert_int_eq(
      try_token(jwt(claims(3600, -60, "[\"x\",\"api://mine/\"]")),
                "api://mine", &e),
      TDSC_OK);

  ck_assert_int_eq(try_token("not-a-jwt-secret", NULL, &e),
                   TDSC_E_ENTRA_TOKEN_MALFORMED);
  ck_assert_ptr_null(strstr(e.message, "not-a-jwt"));
  ck_assert_int_eq(try_token(jwt("{\"aud\":\"x\"}"), NULL, &e),
                   TDSC_E_ENTRA_TOKEN_MALFORMED); /* no exp */
  ck_assert_ptr_nonnull(strstr(e.message, "exp"));
  tdsc__err_clear(&e);
}
END_TEST

START_TEST(entra_token_sources_and_tls) {
  tdsc_error e = {0};
  const char *b;
  void *st = NULL;
  tdsc__auth_params p = {0};
  /* no source: the mechanism is skipped (its no-credentials code) */
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_E_ENTRA_NO_TOKEN);
  tdsc__mech_entra->free_state(st);
  /* Encrypt=off: refused before the token is even asked for */
  prov pv = {.token = jwt(claims(3600, -60, "\"https://database.windows.net/\""))};
  p.token_fn = provide;
  p.token_ud = &pv;
  p.encrypt_off = true;
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_E_ENTRA_TLS_REQUIRED);
  ck_assert_int_eq(pv.calls, 0);
  tdsc__mech_entra->free_state(st);
  /* the provider: asked with the resource; its token is the one sent */
  p.encrypt_off = false;
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_OK);
  ck_assert_int_eq(pv.calls, 1);
  ck_assert_str_eq(pv.resource, "https://database.windows.net/");
  ck_assert_str_eq(b, pv.token);
  ck_assert_str_eq(tdsc__mech_entra->identity(st),
                   "alice@example.com (tenant t1)");
  tdsc__mech_entra->free_state(st);
  /* AccessToken= comes first */
  p.access_token = "x.y";
  pv.calls = 0;
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_E_ENTRA_TOKEN_MALFORMED);
  ck_assert_int_eq(pv.calls, 0);
  tdsc__mech_entra->free_state(st);
  p.access_token = NULL;
  /* a provider without a token: skipped; a failing one: its own code */
  pv.ret = -1;
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_E_ENTRA_NO_TOKEN);
  tdsc__mech_entra->free_state(st);
  pv.ret = -5;
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_E_ENTRA_PROVIDER_FAILED);
  ck_assert_ptr_nonnull(strstr(e.message, "-5"));
  tdsc__mech_entra->free_state(st);
  tdsc__err_clear(&e);
}
END_TEST

/* A token larger than the first buffer: asked again, once, in one of the
 * size the provider named. */
START_TEST(entra_provider_is_asked_again_for_a_large_token) {
  char *big = malloc(20000);
  char c[16000];
  long now = (long)time(NULL);
  int k = snprintf(c, sizeof c,
                   "{\"aud\":\"https://database.windows.net/\",\"exp\":%ld,"
                   "\"pad\":\"",
                   now + 3600);
  memset(c + k, 'p', 9000);
  strcpy(c + k + 9000, "\"}");
  char h[64];
  b64url("{\"alg\":\"RS256\"}", h);
  strcpy(big, h);
  strcat(big, ".");
  b64url(c, big + strlen(big));
  strcat(big, "." SIG);
  ck_assert_uint_gt(strlen(big), 8192);
  prov pv = {.token = big};
  tdsc__auth_params p = {.token_fn = provide, .token_ud = &pv};
  tdsc_error e = {0};
  const char *b;
  void *st = NULL;
  ck_assert_int_eq(init(&p, &e, &b, &st), TDSC_OK);
  ck_assert_int_eq(pv.calls, 2);
  ck_assert_str_eq(b, big);
  tdsc__mech_entra->free_state(st);
  free(big);
  tdsc__err_clear(&e);
}
END_TEST

int main(void) {
  Suite *s = suite_create("entra");
  TCase *tc = tcase_create("jwt");
  tcase_add_test(tc, jwt_reads_the_claims_entra_names);
  tcase_add_test(tc, jwt_refuses_what_is_not_a_jwt_without_quoting_it);
  suite_add_tcase(s, tc);
  tc = tcase_create("mechanism");
  tcase_add_test(tc, oauth_reply_reads_tokens_and_errors);
  tcase_add_test(tc, entra_names_each_unusable_token_before_sending);
  tcase_add_test(tc, entra_token_sources_and_tls);
  tcase_add_test(tc, entra_provider_is_asked_again_for_a_large_token);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
