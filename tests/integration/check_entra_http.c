/* Entra ID tokens fetched over HTTP (issue 17's token sources): a service
 * principal's client secret, managed identity (the instance metadata
 * endpoint and App Service's) and workload identity, from a local identity
 * provider (tests/server/authority.py, plain http on loopback) that signs
 * RS256 tokens with a key generated here, which the test server validates
 * as Azure SQL does.  Each failure of the endpoint and of the identity
 * provider is provoked and asserted on its code and key facts; no secret
 * (client secret, token, assertion, IDENTITY_HEADER) shows in an error or
 * a trace; the fetch never blocks the connect that may not wait. */
#define _DEFAULT_SOURCE
#include "authority.h"
#include "expect.h"
#include "harness.h"
#include "login_as.h"

#include <tdsclient.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TENANT "72f988bf-0000-4000-8000-00000000cafe"
#define CLIENT "5e1f0000-0000-4000-8000-0000000000c1"
#define SECRET "Q~sp-secret-value-Zq7"
#define ASSERTION "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06d2wifQ.d2wtc2ln"
#define HEADER "idh-5ecret-4f1c"
#define SP_OID "0c0ffee0-0000-4000-8000-0000000000a1"
#define MSI_OID "0c0ffee0-0000-4000-8000-0000000000a2"
#define UAMI_OID "0c0ffee0-0000-4000-8000-0000000000a3"
#define UAMI "uami-0000-client"
#define KEY_PASS "Key-Pass-9f"

static char dir[256], authority[64], tls_authority[64];
static th_server srv;
static pid_t auth_pid = -1, tls_pid = -1;
/* the base64url of the header of every token the authority issues: a
 * slice of the token that must never be printed */
static char token_head[128];
/* ... and of every certificate's assertion tdsclient signs */
static char assertion_head[64];
/* the service principal's certificate files (certs_make) */
static const char *const cert_files[] = {
    "app.crt", "app.pem", "app-enc.pem", "other.pem", "mismatch.pem",
    "certonly.pem", "expired.pem", "ec.pem", "garbage.pem"};

static void write_file(const char *name, const char *text, char *path,
                       size_t cap) {
  snprintf(path, cap, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

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

/* A throwaway self-signed certificate for pub's key, CN=cn, valid from
 * now + from to now + to (seconds). */
static X509 *cert_new(const char *cn, EVP_PKEY *pub, long from, long to) {
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_set_pubkey(x, pub);
  ck_assert_int_gt(X509_sign(x, pub, EVP_sha256()), 0);
  return x;
}

/* x in PEM to dir/name, followed by key's PEM when key is given
 * (encrypted with pass when given). */
static void pem_write(const char *name, X509 *x, EVP_PKEY *key,
                      const char *pass) {
  char path[300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert(f && PEM_write_X509(f, x) == 1);
  if (key)
    ck_assert(PEM_write_PrivateKey(f, key, pass ? EVP_aes_256_cbc() : NULL,
                                   NULL, 0, NULL, (void *)pass) == 1);
  fclose(f);
}

/* The application's certificate (app.crt, registered with the authority)
 * and the files tdsclient is given: good, encrypted, not registered, a key
 * of another certificate, no key, expired, not RSA, not PEM. */
static void certs_make(void) {
  EVP_PKEY *app = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
  EVP_PKEY *ec = EVP_EC_gen("P-256");
  ck_assert(app && other && ec);
  const long day = 86400;
  X509 *x = cert_new("tdsc-test-app", app, -day, day);
  pem_write("app.crt", x, NULL, NULL);
  pem_write("app.pem", x, app, NULL);
  pem_write("app-enc.pem", x, app, KEY_PASS);
  pem_write("mismatch.pem", x, other, NULL);
  pem_write("certonly.pem", x, NULL, NULL);
  X509_free(x);
  x = cert_new("tdsc-test-other", other, -day, day);
  pem_write("other.pem", x, other, NULL);
  X509_free(x);
  x = cert_new("tdsc-test-app", app, -2 * day, -day);
  pem_write("expired.pem", x, app, NULL);
  X509_free(x);
  x = cert_new("tdsc-test-ec", ec, -day, day);
  pem_write("ec.pem", x, ec, NULL);
  X509_free(x);
  char g[300];
  write_file("garbage.pem", "not a certificate\n", g, sizeof g);
  EVP_PKEY_free(app);
  EVP_PKEY_free(other);
  EVP_PKEY_free(ec);
  /* the head every assertion of tdsclient's starts with: 18 bytes, six
   * whole base64 groups */
  const char *hdr = "{\"alg\":\"PS256\",\"ty";
  b64url((const unsigned char *)hdr, strlen(hdr), assertion_head);
}

/* Starts authority.py (https when tls) into *pid; its URL into url. */
static void authority_start(bool tls, pid_t *pid, char *url, size_t cap) {
  char tls_cert[600], tls_key[600]; /* th_cert's buffer is static */
  snprintf(tls_cert, sizeof tls_cert, "%s", th_cert("server.pem"));
  snprintf(tls_key, sizeof tls_key, "%s", th_cert("server.key"));
  char keyf[300], secretf[300], assertf[300], certf[300];
  snprintf(certf, sizeof certf, "%s/app.crt", dir);
  snprintf(keyf, sizeof keyf, "%s/tenant.key", dir);
  write_file("secret", SECRET, secretf, sizeof secretf);
  write_file("assertion", ASSERTION "\n", assertf, sizeof assertf);
  const char *args[] = {"--key",
                        keyf,
                        "--tenant",
                        TENANT,
                        "--client-id",
                        CLIENT,
                        "--secret-file",
                        secretf,
                        "--assertion-file",
                        assertf,
                        "--identity-header",
                        HEADER,
                        "--principal",
                        CLIENT "=" SP_OID,
                        "--principal",
                        "system=" MSI_OID,
                        "--principal",
                        UAMI "=" UAMI_OID,
                        "--slow",
                        "6",
                        "--client-cert",
                        certf,
                        tls ? "--tls-cert" : NULL,
                        tls_cert,
                        "--tls-key",
                        tls_key,
                        NULL};
  int port = th_authority_start(args, pid);
  ck_assert_msg(port > 0, "the authority did not start");
  /* https: by the name the test certificate is for */
  snprintf(url, cap, tls ? "https://localhost:%d" : "http://127.0.0.1:%d",
           port);
}

static void world_up(void) {
  snprintf(dir, sizeof dir, "/tmp/tdsc-entra-http-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert(th_entra_keys(dir));
  char path[300];
  certs_make();
  /* python's json.dumps of the authority's header */
  const char *hdr = "{\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": \"test\"}";
  b64url((const unsigned char *)hdr, strlen(hdr), token_head);
  snprintf(path, sizeof path, "%s/tenant.pem", dir);
  ck_assert_msg(th_server_start(&srv, "--entra-key", path, "--entra-tenant",
                                TENANT, "--entra-user", SP_OID "=sp_entra",
                                "--entra-user", MSI_OID "=msi_entra",
                                "--entra-user", UAMI_OID "=uami_entra",
                                (const char *)NULL),
                "the test server did not start");
  authority_start(false, &auth_pid, authority, sizeof authority);
  authority_start(true, &tls_pid, tls_authority, sizeof tls_authority);
  unsetenv("AZURE_TENANT_ID");
  unsetenv("AZURE_AUTHORITY_HOST");
  unsetenv("IDENTITY_ENDPOINT");
  unsetenv("IDENTITY_HEADER");
}

static void world_down(void) {
  th_server_stop(&srv);
  pid_t pids[] = {auth_pid, tls_pid};
  for (size_t i = 0; i < 2; i++)
    if (pids[i] > 0) {
      kill(pids[i], SIGTERM);
      waitpid(pids[i], NULL, 0);
    }
  const char *files[] = {"tenant.pem", "tenant.key", "secret", "assertion",
                         "trace.txt"};
  char path[300];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  for (size_t i = 0; i < sizeof cert_files / sizeof cert_files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, cert_files[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* Connects to the test server with the test CA and the printf-formatted
 * rest of the string. */
static tdsc_errc connect_with(tdsc_conn **out, const char *fmt, ...) {
  char extra[2000], cs[2600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(extra, sizeof extra, fmt, ap);
  va_end(ap);
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s", srv.port,
           th_cert("ca.pem"), extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

/* No secret of any source in text. */
static void assert_no_secret(const char *text) {
  const char *secrets[] = {SECRET,     ASSERTION,      HEADER,
                           token_head, assertion_head, KEY_PASS,
                           "PRIVATE KEY-----"};
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
    ck_assert_msg(!strstr(text, secrets[i]), "a secret in:\n%s", text);
}

static const tdsc_error *expect(tdsc_conn *c, tdsc_errc rc, tdsc_errc want,
                                const char *fact) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), th_report(c));
  if (fact)
    ck_assert_msg(strstr(tdsc_error_message(e), fact), "no '%s' in:\n%s",
                  fact, tdsc_error_report(e));
  assert_no_secret(tdsc_error_report(e));
  return e;
}

/* The token facts of attempt a (tdsc_attempt_token_source, _claims) name
 * each of the NULL-terminated facts, in its source (from) or claims, and
 * no secret. */
static void token_facts_name(const tdsc_attempt *a, const char *in,
                             const char *const *facts) {
  ck_assert_ptr_nonnull(a);
  const char *text = !strcmp(in, "source") ? tdsc_attempt_token_source(a)
                                           : tdsc_attempt_token_claims(a);
  for (; *facts; facts++)
    ck_assert_msg(strstr(text, *facts), "no '%s' in the token's %s: '%s'",
                  *facts, in, text);
  assert_no_secret(text);
}

static const char *sp_as(const char *mechs, const char *tenant,
                         const char *uid, const char *pwd) {
  static char buf[600];
  snprintf(buf, sizeof buf,
           "Authentication=%s;UID=%s;PWD=%s;EntraTenant=%s;EntraAuthority=%s",
           mechs, uid, pwd, tenant, authority);
  return buf;
}

static const char *sp(const char *tenant, const char *uid, const char *pwd) {
  return sp_as("ActiveDirectoryServicePrincipal", tenant, uid, pwd);
}

/* ------------------------------------------------- service principal */

START_TEST(service_principal_logs_in_with_its_secret) {
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s", sp(TENANT, CLIENT, SECRET));
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  const tdsc_attempt *a = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a), "entra-sp");
  ck_assert_str_eq(tdsc_attempt_target(a), SP_OID " (tenant " TENANT ")");
  /* the trail keeps where the token came from and what it claims */
  char endpoint[200];
  snprintf(endpoint, sizeof endpoint,
           "token endpoint %s/" TENANT "/oauth2/v2.0/token,", authority);
  token_facts_name(a, "source",
                   (const char *const[]){endpoint, "client id " CLIENT ",",
                                         "tenant " TENANT ";",
                                         "a client secret (not shown)", NULL});
  token_facts_name(a, "claims",
                   (const char *const[]){"aud=https://database.windows.net",
                                         "tid=" TENANT, "oid=" SP_OID, "exp=20",
                                         " UTC", NULL});
  ck_assert_ptr_null(strstr(tdsc_attempt_token_claims(a), "upn="));
  tdsc_conn_free(c);
  /* the policy's own name; the authority from the environment */
  setenv("AZURE_AUTHORITY_HOST", authority, 1);
  rc = connect_with(&c, "Authentication=entra-sp;UID=" CLIENT
                        ";PWD=" SECRET ";EntraTenant=" TENANT);
  unsetenv("AZURE_AUTHORITY_HOST");
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  tdsc_conn_free(c);
}
END_TEST

/* An https authority is verified: trusted through CAFile=, refused
 * (unreachable, TLS named) without it. */
START_TEST(https_authority_is_verified) {
  tdsc_conn *c;
  tdsc_errc rc = connect_with(
      &c, "Authentication=entra-sp;UID=" CLIENT ";PWD=" SECRET
          ";EntraTenant=" TENANT ";EntraAuthority=%s", tls_authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  tdsc_conn_free(c);
  char cs[1000];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;TrustServerCertificate=yes;"
           "Authentication=entra-sp;UID=" CLIENT ";PWD=" SECRET
           ";EntraTenant=" TENANT ";EntraAuthority=%s",
           srv.port, tls_authority);
  c = tdsc_conn_new();
  rc = tdsc_conn_connect(c, cs);
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_UNREACHABLE, "certificate");
  tdsc_conn_free(c);
}
END_TEST

START_TEST(identity_provider_refusals_are_named) {
  static const struct {
    const char *tenant, *uid, *pwd;
    tdsc_errc code;
    const char *fact;
    long status, aadsts;
  } cases[] = {
      {TENANT, CLIENT, "wrong", TDSC_E_ENTRA_CLIENT_SECRET_INVALID,
       "AADSTS7000215", 401, 7000215},
      {TENANT, "nobody", SECRET, TDSC_E_ENTRA_APP_NOT_FOUND, "AADSTS700016",
       400, 700016},
      {"nosuch-tenant", CLIENT, SECRET, TDSC_E_ENTRA_TENANT_NOT_FOUND,
       "AADSTS90002", 400, 90002},
      {"expired-secret", CLIENT, SECRET, TDSC_E_ENTRA_CLIENT_SECRET_EXPIRED,
       "AADSTS7000222", 401, 7000222},
      {"user-password", CLIENT, SECRET, TDSC_E_ENTRA_IDENTITY_REFUSED,
       "AADSTS50126", 400, 50126},
      /* an identity provider that quotes the secret is not quoted */
      {"echo-secret", CLIENT, SECRET, TDSC_E_ENTRA_CLIENT_SECRET_INVALID,
       "withheld", 401, 7000215},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tdsc_conn *c;
    tdsc_errc rc =
        connect_with(&c, "%s", sp(cases[i].tenant, cases[i].uid, cases[i].pwd));
    const tdsc_error *e = expect(c, rc, cases[i].code, cases[i].fact);
    ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_ENTRA);
    ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_HTTP);
    ck_assert_int_eq(tdsc_error_provider_status(e, 0), cases[i].status);
    ck_assert_int_eq(tdsc_error_provider_status(e, 1), cases[i].aadsts);
    ck_assert_msg(strstr(tdsc_error_message(e), authority), "%s",
                  tdsc_error_message(e));
    tdsc_conn_free(c);
  }
}
END_TEST

START_TEST(bad_answers_and_bad_tokens_are_named) {
  static const struct {
    const char *tenant;
    tdsc_errc code;
    const char *fact;
  } cases[] = {
      {"garbage", TDSC_E_ENTRA_ENDPOINT_BAD_RESPONSE, "HTML"},
      {"http500", TDSC_E_ENTRA_ENDPOINT_HTTP_ERROR, "HTTP 502"},
      {"no-token", TDSC_E_ENTRA_ENDPOINT_BAD_RESPONSE, "without an access_token"},
      /* the fetched token's claims are checked before it is sent */
      {"expired-token", TDSC_E_ENTRA_TOKEN_EXPIRED, "expired at"},
      {"wrong-aud", TDSC_E_ENTRA_WRONG_AUDIENCE, "graph.microsoft.com"},
      /* and the server judges it */
      {"unmapped", TDSC_E_ENTRA_TOKEN_REJECTED, "<token-identified"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tdsc_conn *c;
    tdsc_errc rc = connect_with(&c, "%s", sp(cases[i].tenant, CLIENT, SECRET));
    const tdsc_error *e = expect(c, rc, cases[i].code, cases[i].fact);
    if (i < 3)
      ck_assert_msg(strstr(tdsc_error_message(e), authority), "%s",
                    tdsc_error_message(e));
    /* the claims are kept when they fail the attempt (and the failure's
     * trail has them too); no token, no claims */
    const tdsc_attempt *a = tdsc_error_trail_at(e, 0);
    token_facts_name(a, "source", (const char *const[]){authority, NULL});
    if (i == 3)
      token_facts_name(a, "claims", (const char *const[]){"exp=", NULL});
    else if (i == 4)
      token_facts_name(a, "claims",
                       (const char *const[]){"aud=https://graph", NULL});
    else if (i < 3)
      ck_assert_str_eq(tdsc_attempt_token_claims(a), "");
    ck_assert_str_eq(tdsc_attempt_token_claims(tdsc_conn_attempt_at(c, 0)),
                     tdsc_attempt_token_claims(a));
    tdsc_conn_free(c);
  }
}
END_TEST

START_TEST(endpoint_out_of_reach_or_insecure_or_incomplete) {
  tdsc_conn *c;
  int dead = th_free_port();
  tdsc_errc rc = connect_with(
      &c, "Authentication=entra-sp;UID=" CLIENT ";PWD=" SECRET
          ";EntraTenant=" TENANT ";EntraAuthority=http://127.0.0.1:%d",
      dead);
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d", dead);
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_UNREACHABLE, where);
  tdsc_conn_free(c);
  /* plain http elsewhere than loopback: refused before any traffic */
  rc = connect_with(&c, "Authentication=entra-sp;UID=" CLIENT ";PWD=" SECRET
                        ";EntraTenant=" TENANT
                        ";EntraAuthority=http://login.example.test");
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_INSECURE, "login.example.test");
  tdsc_conn_free(c);
  rc = connect_with(&c, "Authentication=entra-msi;EntraIMDS=http://10.1.2.3");
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_INSECURE, "10.1.2.3");
  tdsc_conn_free(c);
  /* credentials in the address: refused, and never quoted */
  rc = connect_with(&c, "Authentication=entra-sp;UID=" CLIENT ";PWD=" SECRET
                        ";EntraTenant=" TENANT
                        ";EntraAuthority=https://me:Hunter-2-pw@login.example."
                        "test");
  const tdsc_error *ui =
      expect(c, rc, TDSC_E_ENTRA_ENDPOINT_INSECURE, "credentials");
  ck_assert_ptr_null(strstr(tdsc_error_report(ui), "Hunter-2-pw"));
  tdsc_conn_free(c);
  /* what is missing is named, and the mechanism is only passed over
   * (the tenant may come from the server's FEDAUTHINFO: not missing) */
  rc = connect_with(&c, "Authentication=entra-sp,kerberos;PWD=" SECRET
                        ";EntraAuthority=%s;KrbCCache=FILE:%s/none",
                    authority, dir);
  const tdsc_error *e =
      expect(c, rc, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS, "UID=");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2); /* kerberos tried too */
  tdsc_conn_free(c);
  rc = connect_with(&c, "Authentication=entra-sp;UID=" CLIENT
                        ";EntraTenant=" TENANT);
  expect(c, rc, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS, "PWD=");
  tdsc_conn_free(c);
}
END_TEST

START_TEST(slow_endpoint_gets_its_own_timeout) {
  tdsc_conn *c;
  long long t0 = th_now_ms();
  tdsc_errc rc =
      connect_with(&c, "%s;LoginTimeout=2", sp("slow", CLIENT, SECRET));
  long long took = th_now_ms() - t0;
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_TIMEOUT, authority);
  ck_assert_msg(took >= 1500 && took < 4500, "took %lld ms", took);
  tdsc_conn_free(c);
}
END_TEST

/* The non-blocking connect: each call returns at once while the endpoint
 * stalls; the wait is on a descriptor the worker signals; the login
 * timeout ends it with the endpoint's code. */
START_TEST(fetch_never_blocks_the_nonblocking_connect) {
  char cs[1200];
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s;"
           "LoginTimeout=2", srv.port, th_cert("ca.pem"),
           sp("slow", CLIENT, SECRET));
  tdsc_conn *c = tdsc_conn_new();
  long long t0 = th_now_ms(), slowest = 0;
  tdsc_errc rc = tdsc_conn_connect_start(c, cs);
  slowest = th_now_ms() - t0;
  int waits = 0;
  while (rc == TDSC_E_WOULD_BLOCK) {
    struct pollfd p = {.fd = tdsc_conn_socket(c), .events = POLLIN};
    int ms = tdsc_conn_timeout_ms(c);
    ck_assert_int_ge(poll(&p, p.fd >= 0 ? 1 : 0, ms < 0 ? 1000 : ms), 0);
    waits++;
    long long t = th_now_ms();
    rc = tdsc_conn_connect_poll(c);
    if (th_now_ms() - t > slowest)
      slowest = th_now_ms() - t;
    ck_assert_msg(th_now_ms() - t0 < 6000, "still connecting");
  }
  ck_assert_msg(slowest < 300, "a call blocked for %lld ms", slowest);
  ck_assert_int_ge(waits, 1);
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_TIMEOUT, authority);
  tdsc_conn_free(c);
  /* and a good one logs in the same way */
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s", srv.port,
           th_cert("ca.pem"), sp(TENANT, CLIENT, SECRET));
  c = tdsc_conn_new();
  rc = th_connect_wait(c, tdsc_conn_connect_start(c, cs), NULL);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  tdsc_conn_free(c);
}
END_TEST

/* -------------------------------- service principal with a certificate */

static const char *sp_cert(const char *mechs, const char *tenant,
                           const char *file, const char *pass) {
  static char buf[900];
  snprintf(buf, sizeof buf,
           "Authentication=%s;UID=" CLIENT ";EntraTenant=%s;"
           "EntraAuthority=%s;EntraClientCertificate=%s/%s%s%s",
           mechs, tenant, authority, dir, file, pass ? ";PWD=" : "",
           pass ? pass : "");
  return buf;
}

/* The authority verifies the assertion as Entra ID does (signature with
 * the registered certificate's key, x5t#S256, aud, iss, sub, exp, a jti
 * never seen): a login proves each. */
START_TEST(certificate_signs_the_client_assertion) {
  tdsc_conn *c;
  for (int i = 0; i < 2; i++) { /* a new jti each time */
    tdsc_errc rc = connect_with(
        &c, "%s", sp_cert("ActiveDirectoryServicePrincipal", TENANT,
                          "app.pem", NULL));
    ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
    th_expect_login_as(c, "sp_entra");
    ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 0)),
                     "entra-sp");
    token_facts_name(tdsc_conn_attempt_at(c, 0), "source",
                     (const char *const[]){"client id " CLIENT,
                                           "certificate /CN=tdsc-test-app,",
                                           "thumbprint ", NULL});
    tdsc_conn_free(c);
  }
  /* an encrypted key: PWD= is its passphrase */
  tdsc_errc rc = connect_with(
      &c, "%s", sp_cert("entra-sp", TENANT, "app-enc.pem", KEY_PASS));
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  tdsc_conn_free(c);
}
END_TEST

START_TEST(certificate_failures_are_named) {
  static const struct {
    const char *tenant, *file, *pass;
    tdsc_errc code;
    const char *fact;
  } cases[] = {
      {TENANT, "app-enc.pem", "Wrong-pass", TDSC_E_ENTRA_CLIENT_CERT_PASSPHRASE,
       "does not decrypt"},
      {TENANT, "app-enc.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_PASSPHRASE,
       "no passphrase"},
      {TENANT, "mismatch.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_KEY_MISMATCH,
       "not the key of its certificate"},
      {TENANT, "certonly.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_NO_KEY,
       "no private key"},
      {TENANT, "ec.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_NO_KEY, "not RSA"},
      {TENANT, "no-such.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE,
       "no-such.pem"},
      {TENANT, "garbage.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE,
       "no PEM certificate"},
      {TENANT, "expired.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_EXPIRED,
       "expired at"},
      /* the identity provider's judgments, the certificate named */
      {TENANT, "other.pem", NULL, TDSC_E_ENTRA_CLIENT_CERT_REFUSED,
       "AADSTS700027"},
      {"stale-assertion", "app.pem", NULL,
       TDSC_E_ENTRA_CLIENT_ASSERTION_EXPIRED, "AADSTS700024"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tdsc_conn *c;
    tdsc_errc rc = connect_with(&c, "%s",
                                sp_cert("entra-sp", cases[i].tenant,
                                        cases[i].file, cases[i].pass));
    const tdsc_error *e = expect(c, rc, cases[i].code, cases[i].fact);
    ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_ENTRA);
    if (i >= 8) {
      ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_HTTP);
      ck_assert_msg(strstr(tdsc_error_message(e), "thumbprint "), "%s",
                    tdsc_error_message(e));
    }
    tdsc_conn_free(c);
  }
}
END_TEST

/* A certificate this machine cannot use is passed over as an unusable
 * keytab is; the identity provider's refusal of it stops the chain. */
START_TEST(certificate_policy_falls_back_or_stops) {
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s;EntraIMDS=%s",
                              sp_cert("entra-sp,entra-msi", TENANT,
                                      "no-such.pem", NULL),
                              authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra"); /* UID= as a user-assigned identity */
  ck_assert_int_eq(
      tdsc_error_code(tdsc_attempt_error(tdsc_conn_attempt_at(c, 0))),
      TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE);
  tdsc_conn_free(c);
  const tdsc_error *e;
  rc = connect_with(&c, "%s",
                    sp_cert("entra-sp,sql", TENANT, "other.pem", NULL));
  e = expect(c, rc, TDSC_E_ENTRA_CLIENT_CERT_REFUSED, "not falling back");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
}
END_TEST

/* ------------------------------------------------ managed identity */

START_TEST(managed_identity_from_the_metadata_endpoint) {
  tdsc_conn *c;
  tdsc_errc rc = connect_with(
      &c, "Authentication=ActiveDirectoryManagedIdentity;EntraIMDS=%s",
      authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "msi_entra");
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 0)),
                   "entra-msi");
  token_facts_name(tdsc_conn_attempt_at(c, 0), "source",
                   (const char *const[]){"managed identity endpoint ",
                                         "/metadata/identity/oauth2/token",
                                         "the system-assigned identity", NULL});
  token_facts_name(tdsc_conn_attempt_at(c, 0), "claims",
                   (const char *const[]){"oid=" MSI_OID, NULL});
  tdsc_conn_free(c);
  /* a user-assigned identity, by its client id in UID= */
  rc = connect_with(&c, "Authentication=entra-msi;UID=" UAMI ";EntraIMDS=%s",
                    authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "uami_entra");
  token_facts_name(tdsc_conn_attempt_at(c, 0), "source",
                   (const char *const[]){"client id " UAMI, NULL});
  tdsc_conn_free(c);
  rc = connect_with(&c, "Authentication=entra-msi;UID=no-identity;"
                        "EntraIMDS=%s", authority);
  expect(c, rc, TDSC_E_ENTRA_IDENTITY_REFUSED, "Identity not found");
  tdsc_conn_free(c);
  rc = connect_with(&c, "Authentication=entra-msi;UID=garbage;EntraIMDS=%s",
                    authority);
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_BAD_RESPONSE, "/metadata/identity");
  tdsc_conn_free(c);
  /* no metadata endpoint (not on Azure): curable, sql is tried */
  rc = connect_with(&c, "Authentication=entra-msi,sql;UID=sa;PWD=Secret-123;"
                        "EntraIMDS=http://127.0.0.1:%d", th_free_port());
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  ck_assert_int_eq(
      tdsc_error_code(tdsc_attempt_error(tdsc_conn_attempt_at(c, 0))),
      TDSC_E_ENTRA_ENDPOINT_UNREACHABLE);
  tdsc_conn_free(c);
}
END_TEST

START_TEST(managed_identity_from_app_service) {
  char ep[128];
  snprintf(ep, sizeof ep, "%s/msi/token", authority);
  setenv("IDENTITY_ENDPOINT", ep, 1);
  setenv("IDENTITY_HEADER", HEADER, 1);
  tdsc_conn *c;
  /* EntraIMDS= points nowhere: App Service's endpoint is the one asked */
  tdsc_errc rc = connect_with(&c, "Authentication=entra-msi;"
                                  "EntraIMDS=http://127.0.0.1:1");
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "msi_entra");
  tdsc_conn_free(c);
  setenv("IDENTITY_HEADER", "not-" HEADER, 1);
  rc = connect_with(&c, "Authentication=entra-msi");
  expect(c, rc, TDSC_E_ENTRA_IDENTITY_REFUSED, "/msi/token");
  tdsc_conn_free(c);
  unsetenv("IDENTITY_ENDPOINT");
  unsetenv("IDENTITY_HEADER");
}
END_TEST

/* ------------------------------------------------ workload identity */

START_TEST(workload_identity_presents_the_federated_token) {
  char path[300];
  snprintf(path, sizeof path, "%s/assertion", dir);
  setenv("AZURE_FEDERATED_TOKEN_FILE", path, 1);
  setenv("AZURE_CLIENT_ID", CLIENT, 1);
  setenv("AZURE_TENANT_ID", TENANT, 1);
  setenv("AZURE_AUTHORITY_HOST", authority, 1);
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "Authentication="
                                  "ActiveDirectoryWorkloadIdentity");
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 0)),
                   "entra-workload");
  token_facts_name(tdsc_conn_attempt_at(c, 0), "source",
                   (const char *const[]){"client id " CLIENT, "tenant " TENANT,
                                         "federated token file ", path, NULL});
  tdsc_conn_free(c);
  /* a token the identity provider has no federation for */
  char other[300];
  write_file("other-assertion", "eyJvdGhlciI6MX0.e30.c2ln", other,
             sizeof other);
  setenv("AZURE_FEDERATED_TOKEN_FILE", other, 1);
  rc = connect_with(&c, "Authentication=entra-workload");
  expect(c, rc, TDSC_E_ENTRA_IDENTITY_REFUSED, "AADSTS700213");
  tdsc_conn_free(c);
  unlink(other);
  setenv("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token", 1);
  rc = connect_with(&c, "Authentication=entra-workload");
  expect(c, rc, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS, "/nonexistent/token");
  tdsc_conn_free(c);
  unsetenv("AZURE_FEDERATED_TOKEN_FILE");
  rc = connect_with(&c, "Authentication=entra-workload");
  expect(c, rc, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS,
         "AZURE_FEDERATED_TOKEN_FILE");
  tdsc_conn_free(c);
  unsetenv("AZURE_CLIENT_ID");
  unsetenv("AZURE_TENANT_ID");
  unsetenv("AZURE_AUTHORITY_HOST");
}
END_TEST

/* ----------------------------------------- ActiveDirectoryDefault */

static void azure_env_clear(void) {
  const char *vars[] = {"AZURE_CLIENT_ID", "AZURE_TENANT_ID",
                        "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                        "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
}

/* Attempt k of c's connect used mech and ended with code. */
static void attempt_is(tdsc_conn *c, size_t k, const char *mech,
                       tdsc_errc code) {
  const tdsc_attempt *a = tdsc_conn_attempt_at(c, k);
  ck_assert_msg(a, "no attempt %zu:\n%s", k, th_report(c));
  ck_assert_str_eq(tdsc_attempt_mechanism(a), mech);
  const tdsc_error *e = tdsc_attempt_error(a); /* NULL: logged in */
  tdsc_errc got = e ? tdsc_error_code(e) : TDSC_OK;
  ck_assert_msg(got == code, "attempt %zu: %s, want %s", k,
                tdsc_errc_name(got), tdsc_errc_name(code));
}

/* Each source chosen by which variables are set, the absent ones before
 * it passed over (a trail entry each), in DefaultAzureCredential's order. */
START_TEST(default_chain_takes_the_first_source_present) {
  char dead[64], assertion[300], cert[300];
  snprintf(dead, sizeof dead, "http://127.0.0.1:%d", th_free_port());
  snprintf(assertion, sizeof assertion, "%s/assertion", dir);
  snprintf(cert, sizeof cert, "%s/app-enc.pem", dir);
  azure_env_clear();
  setenv("AZURE_AUTHORITY_HOST", authority, 1);
  setenv("AZURE_TENANT_ID", TENANT, 1);
  setenv("AZURE_CLIENT_ID", CLIENT, 1);
  /* the environment's secret */
  setenv("AZURE_CLIENT_SECRET", SECRET, 1);
  tdsc_conn *c;
  tdsc_errc rc = connect_with(
      &c, "Authentication=ActiveDirectoryDefault;EntraIMDS=%s", dead);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  attempt_is(c, 0, "entra-sp", TDSC_OK);
  ck_assert_ptr_null(tdsc_conn_attempt_at(c, 1)); /* stopped there */
  tdsc_conn_free(c);
  /* the environment's certificate, its passphrase there too */
  unsetenv("AZURE_CLIENT_SECRET");
  setenv("AZURE_CLIENT_CERTIFICATE_PATH", cert, 1);
  setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", KEY_PASS, 1);
  rc = connect_with(&c, "Authentication=entra-default;EntraIMDS=%s", dead);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  attempt_is(c, 0, "entra-sp", TDSC_OK);
  tdsc_conn_free(c);
  /* workload identity: the environment's service principal is not
   * complete (a client id and tenant, no secret nor certificate) */
  unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
  unsetenv("AZURE_CLIENT_CERTIFICATE_PASSWORD");
  setenv("AZURE_FEDERATED_TOKEN_FILE", assertion, 1);
  rc = connect_with(&c, "Authentication=ActiveDirectoryDefault;EntraIMDS=%s",
                    dead);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  attempt_is(c, 0, "entra-sp", TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS);
  ck_assert_msg(strstr(tdsc_error_message(tdsc_attempt_error(
                           tdsc_conn_attempt_at(c, 0))),
                       "AZURE_CLIENT_SECRET"),
                "%s", th_report(c));
  attempt_is(c, 1, "entra-workload", TDSC_OK);
  tdsc_conn_free(c);
  /* managed identity, nothing in the environment */
  azure_env_clear();
  rc = connect_with(&c, "Authentication=ActiveDirectoryDefault;EntraIMDS=%s",
                    authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "msi_entra");
  attempt_is(c, 0, "entra-sp", TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS);
  attempt_is(c, 1, "entra-workload", TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS);
  attempt_is(c, 2, "entra-msi", TDSC_OK);
  tdsc_conn_free(c);
}
END_TEST

START_TEST(default_chain_without_any_source_says_what_it_looked_for) {
  char dead[64];
  snprintf(dead, sizeof dead, "127.0.0.1:%d", th_free_port());
  azure_env_clear();
  tdsc_conn *c;
  tdsc_errc rc = connect_with(
      &c, "Authentication=ActiveDirectoryDefault;EntraIMDS=http://%s", dead);
  const tdsc_error *e = expect(c, rc, TDSC_E_ENTRA_NO_SOURCE, dead);
  const char *looked[] = {"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                          "AZURE_CLIENT_CERTIFICATE_PATH",
                          "AZURE_FEDERATED_TOKEN_FILE", "managed identity"};
  for (size_t i = 0; i < sizeof looked / sizeof looked[0]; i++)
    ck_assert_msg(strstr(tdsc_error_message(e), looked[i]), "no %s in %s",
                  looked[i], tdsc_error_message(e));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 3);
  tdsc_conn_free(c);
  /* a source that is there but broken is the headline, not "no source" */
  setenv("AZURE_TENANT_ID", TENANT, 1);
  setenv("AZURE_CLIENT_ID", CLIENT, 1);
  setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/app.pem", 1);
  rc = connect_with(
      &c, "Authentication=ActiveDirectoryDefault;EntraIMDS=http://%s", dead);
  expect(c, rc, TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE,
         "/nonexistent/app.pem (AZURE_CLIENT_CERTIFICATE_PATH)");
  tdsc_conn_free(c);
  /* an identity judged stops the chain: workload and managed identity
   * are not tried */
  unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
  setenv("AZURE_CLIENT_SECRET", "wrong", 1);
  setenv("AZURE_AUTHORITY_HOST", authority, 1);
  rc = connect_with(
      &c, "Authentication=ActiveDirectoryDefault;EntraIMDS=http://%s", dead);
  e = expect(c, rc, TDSC_E_ENTRA_CLIENT_SECRET_INVALID, "not falling back");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
  azure_env_clear();
  /* its mechanisms are listed once */
  rc = connect_with(&c, "Authentication=entra-msi,ActiveDirectoryDefault");
  expect(c, rc, TDSC_E_BAD_OPTION_VALUE, "twice");
  tdsc_conn_free(c);
}
END_TEST

/* ----------------------------------------------------- policy, trace */

START_TEST(identity_provider_judgment_stops_the_chain) {
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s",
                              sp_as("entra-sp,sql", TENANT, CLIENT, "wrong"));
  const tdsc_error *e =
      expect(c, rc, TDSC_E_ENTRA_CLIENT_SECRET_INVALID, "not falling back");
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "identity provider"));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
  /* Encrypt=off: nothing is fetched, nothing sent */
  rc = connect_with(&c, "%s;Encrypt=off", sp(TENANT, CLIENT, SECRET));
  expect(c, rc, TDSC_E_ENTRA_TLS_REQUIRED, "no token was fetched");
  tdsc_conn_free(c);
}
END_TEST

START_TEST(no_secret_in_the_protocol_trace) {
  char path[300];
  snprintf(path, sizeof path, "%s/trace.txt", dir);
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s;Trace=%s", sp(TENANT, CLIENT, SECRET),
                              path);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  tdsc_conn_free(c);
  /* a certificate's: neither the passphrase nor the assertion */
  rc = connect_with(&c, "%s;Trace=%s",
                    sp_cert("entra-sp", TENANT, "app-enc.pem", KEY_PASS),
                    path);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  tdsc_conn_free(c);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  ck_assert_msg(strstr(text, "FEDAUTH"), "%s", text);
  assert_no_secret(text);
}
END_TEST

/* ------------------------------------ FEDAUTHINFO (the ADAL workflow) */

/* A second test server whose FEDAUTHINFO (MS-TDS 2.2.7.12) is set by
 * opt/val (--fedauth-sts URL, --fedauth-spn SPN, --fedauth-info MODE). */
static void adal_server(th_server *s, const char *opt, const char *val) {
  char path[300];
  snprintf(path, sizeof path, "%s/tenant.pem", dir);
  ck_assert_msg(th_server_start(s, "--entra-key", path, "--entra-tenant",
                                TENANT, "--entra-user", SP_OID "=sp_entra",
                                "--entra-user", MSI_OID "=msi_entra", opt,
                                val, (const char *)NULL),
                "the test server did not start");
}

static tdsc_errc connect_to(const th_server *s, tdsc_conn **out,
                            const char *fmt, ...) {
  char extra[2000], cs[2600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(extra, sizeof extra, fmt, ap);
  va_end(ap);
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s", s->port,
           th_cert("ca.pem"), extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

/* A listening socket on loopback that nothing answers: its port into
 * *port.  Whether anyone connected to it tells whether an HTTP request
 * was even tried. */
static int silent_listener(int *port) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t n = sizeof sa;
  ck_assert(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            listen(l, 4) == 0 &&
            getsockname(l, (struct sockaddr *)&sa, &n) == 0);
  ck_assert_int_eq(fcntl(l, F_SETFL, O_NONBLOCK), 0);
  *port = ntohs(sa.sin_port);
  return l;
}

static void assert_never_asked(int l) {
  int k = accept(l, NULL, NULL);
  ck_assert_msg(k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
                "a token endpoint was asked");
  close(l);
}

/* The tenant of the server's STS URL is the one asked when EntraTenant=
 * names none; EntraTenant= wins over it; managed identity never asks the
 * STS; workload identity takes it too. */
START_TEST(fedauthinfo_tenant_comes_from_the_sts_url) {
  th_server s2, s3;
  char sts[128];
  snprintf(sts, sizeof sts, "%s/" TENANT, authority);
  adal_server(&s2, "--fedauth-sts", sts);
  tdsc_conn *c;
  tdsc_errc rc = connect_to(&s2, &c, "Authentication=entra-sp;UID=" CLIENT
                                     ";PWD=" SECRET ";EntraAuthority=%s",
                            authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  ck_assert_str_eq(tdsc_attempt_target(tdsc_conn_attempt_at(c, 0)),
                   SP_OID " (tenant " TENANT ")");
  tdsc_conn_free(c);
  rc = connect_to(&s2, &c, "Authentication=entra-msi;EntraIMDS=%s",
                  authority);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "msi_entra");
  tdsc_conn_free(c);
  char path[300];
  snprintf(path, sizeof path, "%s/assertion", dir);
  setenv("AZURE_FEDERATED_TOKEN_FILE", path, 1);
  rc = connect_to(&s2, &c, "Authentication=entra-workload;UID=" CLIENT
                           ";EntraAuthority=%s", authority);
  unsetenv("AZURE_FEDERATED_TOKEN_FILE");
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  th_expect_login_as(c, "sp_entra");
  tdsc_conn_free(c);
  th_server_stop(&s2);
  /* a tenant the identity provider does not know: it was the one asked */
  snprintf(sts, sizeof sts, "%s/nosuch-tenant", authority);
  adal_server(&s3, "--fedauth-sts", sts);
  rc = connect_to(&s3, &c, "Authentication=entra-sp;UID=" CLIENT
                           ";PWD=" SECRET ";EntraAuthority=%s", authority);
  expect(c, rc, TDSC_E_ENTRA_TENANT_NOT_FOUND, "AADSTS90002");
  tdsc_conn_free(c);
  rc = connect_to(&s3, &c, "%s", sp(TENANT, CLIENT, SECRET));
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  tdsc_conn_free(c);
  th_server_stop(&s3);
}
END_TEST

/* Without EntraAuthority= the token is asked of the STS URL's authority,
 * the server's cloud (here a sovereign one), not of the public cloud's
 * default: a proxy that answers nothing (HTTPS_PROXY) sees to which host
 * the request went, and nothing leaves this machine. */
START_TEST(fedauthinfo_sts_authority_is_asked_without_entra_authority) {
  int port;
  int l = silent_listener(&port);
  char proxy[64];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", port);
  setenv("HTTPS_PROXY", proxy, 1);
  th_server s2;
  adal_server(&s2, "--fedauth-sts", "https://login.microsoftonline.us/" TENANT);
  tdsc_conn *c;
  tdsc_errc rc = connect_to(&s2, &c,
                            "Authentication=entra-sp;UID=" CLIENT ";PWD=" SECRET
                            ";LoginTimeout=2");
  unsetenv("HTTPS_PROXY");
  expect(c, rc, TDSC_E_ENTRA_ENDPOINT_TIMEOUT,
         "https://login.microsoftonline.us/" TENANT "/oauth2/v2.0/token");
  tdsc_conn_free(c);
  th_server_stop(&s2);
  int k = accept(l, NULL, NULL);
  ck_assert_msg(k >= 0, "the request did not go through the proxy");
  char line[256] = "";
  ssize_t n = read(k, line, sizeof line - 1);
  line[n > 0 ? n : 0] = 0;
  ck_assert_msg(!strncmp(line, "CONNECT login.microsoftonline.us:443 ", 37),
                "%s", line);
  close(k);
  close(l);
}
END_TEST

/* The STS URL is the server's word: a host that is neither a Microsoft
 * Entra authority nor EntraAuthority='s (its port included) is refused
 * with its own code, naming the host, before any request; so is an SPN
 * for another resource. */
START_TEST(fedauthinfo_foreign_sts_or_resource_is_refused) {
  int port;
  int l = silent_listener(&port);
  th_server s2, s3, s4;
  adal_server(&s2, "--fedauth-sts", "https://sts.example.test/" TENANT);
  tdsc_conn *c;
  tdsc_errc rc = connect_to(&s2, &c, "Authentication=entra-sp;UID=" CLIENT
                                     ";PWD=" SECRET ";EntraTenant=" TENANT
                                     ";EntraAuthority=http://127.0.0.1:%d",
                            port);
  const tdsc_error *e =
      expect(c, rc, TDSC_E_ENTRA_STS_UNTRUSTED, "host sts.example.test");
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_ENTRA);
  tdsc_conn_free(c);
  /* not even to a Microsoft host when the user named no authority: the
   * default one is Entra's, the STS is not */
  rc = connect_to(&s2, &c, "Authentication=entra-sp,sql;UID=" CLIENT
                           ";PWD=" SECRET);
  e = expect(c, rc, TDSC_E_ENTRA_STS_UNTRUSTED, "sts.example.test");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1); /* no fallback */
  tdsc_conn_free(c);
  th_server_stop(&s2);
  char sts[128];
  snprintf(sts, sizeof sts, "http://127.0.0.1:%d/" TENANT, port + 1);
  adal_server(&s3, "--fedauth-sts", sts);
  char path[300];
  snprintf(path, sizeof path, "%s/assertion", dir);
  setenv("AZURE_FEDERATED_TOKEN_FILE", path, 1);
  rc = connect_to(&s3, &c, "Authentication=entra-workload;UID=" CLIENT
                           ";EntraAuthority=http://127.0.0.1:%d", port);
  unsetenv("AZURE_FEDERATED_TOKEN_FILE");
  expect(c, rc, TDSC_E_ENTRA_STS_UNTRUSTED, "host 127.0.0.1:");
  tdsc_conn_free(c);
  th_server_stop(&s3);
  adal_server(&s4, "--fedauth-spn", "https://management.azure.com/");
  rc = connect_to(&s4, &c, "Authentication=entra-sp;UID=" CLIENT
                           ";PWD=" SECRET ";EntraTenant=" TENANT
                           ";EntraAuthority=http://127.0.0.1:%d", port);
  expect(c, rc, TDSC_E_ENTRA_WRONG_AUDIENCE, "management.azure.com");
  tdsc_conn_free(c);
  rc = connect_to(&s4, &c, "Authentication=entra-msi;EntraIMDS=http://"
                           "127.0.0.1:%d", port);
  expect(c, rc, TDSC_E_ENTRA_WRONG_AUDIENCE, "management.azure.com");
  tdsc_conn_free(c);
  th_server_stop(&s4);
  assert_never_asked(l);
}
END_TEST

/* A FEDAUTHINFO that breaks MS-TDS 2.2.7.12, none where the ADAL
 * workflow waits for one, two of them, an STS URL that is not
 * https://host/tenant: protocol errors saying so. */
START_TEST(fedauthinfo_broken_is_a_protocol_error) {
  static const struct {
    const char *opt, *val, *fact;
  } cases[] = {
      {"--fedauth-info", "malformed", "lie outside the token's data"},
      {"--fedauth-info", "none", "without FEDAUTHINFO"},
      {"--fedauth-info", "twice", "FEDAUTHINFO twice"},
      {"--fedauth-info", "with-ack", "before it was sent the token"},
      {"--fedauth-sts", "https://login.microsoftonline.com/" TENANT "/x",
       "not of the form https://host/tenant"},
      {"--fedauth-sts", "https://login.microsoftonline.com/?t=" TENANT,
       "not of the form"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    th_server s2;
    adal_server(&s2, cases[i].opt, cases[i].val);
    tdsc_conn *c;
    tdsc_errc rc = connect_to(&s2, &c, "%s", sp(TENANT, CLIENT, SECRET));
    expect(c, rc, TDSC_E_PROTOCOL, cases[i].fact);
    tdsc_conn_free(c);
    th_server_stop(&s2);
  }
}
END_TEST

/* ------------------------------------------ the process's token cache */

/* A token a server accepted serves the next logins (token_cache.h): the
 * 'once' tenants of the authority refuse every request after the first,
 * as Entra ID refuses a client that asks too often. */
START_TEST(a_fetched_token_serves_the_next_logins) {
  for (int i = 0; i < 3; i++) {
    tdsc_conn *c;
    tdsc_errc rc = connect_with(&c, "%s", sp("once-kept", CLIENT, SECRET));
    ck_assert_msg(rc == TDSC_OK, "login %d: %s", i + 1, th_report(c));
    th_expect_login_as(c, "sp_entra");
    const char *from = tdsc_attempt_token_source(tdsc_conn_attempt_at(c, 0));
    ck_assert_msg((strstr(from, "kept from an earlier login") != NULL) ==
                      (i > 0),
                  "login %d: %s", i + 1, from);
    tdsc_conn_free(c);
  }
  /* another secret is another key: the authority is asked, and judges */
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s", sp("once-kept", CLIENT, "wrong"));
  expect(c, rc, TDSC_E_ENTRA_CLIENT_SECRET_INVALID, "7000215");
  tdsc_conn_free(c);
}
END_TEST

/* A token within the renewal margin of its exp is fetched anew: here the
 * authority refuses the second request, which shows it was made. */
START_TEST(a_token_near_its_expiry_is_fetched_anew) {
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s", sp("once-short", CLIENT, SECRET));
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  tdsc_conn_free(c);
  rc = connect_with(&c, "%s", sp("once-short", CLIENT, SECRET));
  expect(c, rc, TDSC_E_ENTRA_IDENTITY_REFUSED, "AADSTS50196");
  tdsc_conn_free(c);
}
END_TEST

/* A kept token a server refuses is forgotten: the next login asks the
 * authority again (which refuses here, showing it was asked). */
START_TEST(a_kept_token_a_server_refuses_is_forgotten) {
  char path[300];
  snprintf(path, sizeof path, "%s/tenant.pem", dir);
  th_server stranger; /* knows no login for the service principal */
  ck_assert_msg(th_server_start(&stranger, "--entra-key", path,
                                "--entra-tenant", TENANT, "--entra-user",
                                MSI_OID "=msi_entra", (const char *)NULL),
                "the second test server did not start");
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c, "%s", sp("once-drop", CLIENT, SECRET));
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  tdsc_conn_free(c);
  rc = connect_to(&stranger, &c, "%s", sp("once-drop", CLIENT, SECRET));
  expect(c, rc, TDSC_E_ENTRA_TOKEN_REJECTED, NULL);
  tdsc_conn_free(c);
  th_server_stop(&stranger);
  rc = connect_with(&c, "%s", sp("once-drop", CLIENT, SECRET));
  expect(c, rc, TDSC_E_ENTRA_IDENTITY_REFUSED, "AADSTS50196");
  tdsc_conn_free(c);
}
END_TEST

/* Off Azure nothing answers the metadata address: the SYN is dropped.  A
 * loopback listener whose accept queue is full (listen(0), one connection
 * waiting in it) drops it too.  The request gives up after a second, not
 * LoginTimeout, and the chain goes on. */
START_TEST(metadata_address_that_drops_the_connection_costs_a_second) {
  int l = socket(AF_INET, SOCK_STREAM, 0),
      filler = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t n = sizeof sa;
  ck_assert(l >= 0 && filler >= 0 &&
            bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            listen(l, 0) == 0 &&
            getsockname(l, (struct sockaddr *)&sa, &n) == 0 &&
            connect(filler, (struct sockaddr *)&sa, sizeof sa) == 0);
  long long t0 = th_now_ms();
  tdsc_conn *c;
  tdsc_errc rc = connect_with(&c,
                              "Authentication=entra-msi,sql;UID=sa;"
                              "PWD=Secret-123;LoginTimeout=10;"
                              "EntraIMDS=http://127.0.0.1:%d",
                              ntohs(sa.sin_port));
  long long took = th_now_ms() - t0;
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  const tdsc_error *e = tdsc_attempt_error(tdsc_conn_attempt_at(c, 0));
  ck_assert_int_eq(tdsc_error_code(e), TDSC_E_ENTRA_ENDPOINT_UNREACHABLE);
  ck_assert_msg(strstr(tdsc_error_message(e), "no connection within 1000 ms"),
                "%s", tdsc_error_message(e));
  ck_assert_msg(took < 9000, "the chain took %lld ms (LoginTimeout=10)", took);
  tdsc_conn_free(c);
  close(filler);
  close(l);
}
END_TEST

/* ------------------------------------------------------ tdsc-doctor */

/* tdsc-doctor's text report for the test server with the rest of the
 * string (single-quoted: no quote in it), into out (static). */
static const char *doctor(const char *fmt, ...) {
  static char extra[2000], cmd[3000], out[1 << 16];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(extra, sizeof extra, fmt, ap);
  va_end(ap);
  const char *build = getenv("TDSC_BUILDDIR");
  ck_assert_ptr_nonnull(build);
  snprintf(cmd, sizeof cmd,
           "%s/tools/tdsc-doctor -t 5 -c 'Server=tcp:localhost,%d;"
           "CAFile=%s;%s' 2>&1",
           build, srv.port, th_cert("ca.pem"), extra);
  FILE *f = popen(cmd, "r");
  ck_assert_ptr_nonnull(f);
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = 0;
  pclose(f);
  assert_no_secret(out);
  ck_assert_msg(!strstr(out, HEADER) && !strstr(out, "PWD="), "%s", out);
  return out;
}

/* The line of check title in the report and the facts after it, up to
 * the next check (static). */
static const char *doctor_check(const char *out, const char *title) {
  static char sect[1 << 14];
  const char *at = strstr(out, title);
  ck_assert_msg(at, "no check '%s' in:\n%s", title, out);
  while (at > out && at[-1] != '\n')
    at--;
  const char *end = strstr(at + 1, "\n[");
  size_t n = end ? (size_t)(end - at) : strlen(at);
  snprintf(sect, sizeof sect, "%.*s", (int)n, at);
  return sect;
}

static void names(const char *text, const char *const *facts) {
  for (; *facts; facts++)
    ck_assert_msg(strstr(text, *facts), "no '%s' in:\n%s", *facts, text);
}

/* Issue 17's "done when": the doctor reports the fetched token's source
 * and claims, never the token nor the secret, as the trail has them. */
START_TEST(doctor_reports_the_fetched_token_and_where_it_came_from) {
  const char *out = doctor("%s", sp(TENANT, CLIENT, SECRET));
  const char *c = doctor_check(out, "Login with a service principal's");
  char endpoint[200];
  snprintf(endpoint, sizeof endpoint,
           "from token endpoint %s/" TENANT "/oauth2/v2.0/token", authority);
  names(c, (const char *const[]){"[ ok ]", "token 1", endpoint,
                                 "client id " CLIENT,
                                 "a client secret (not shown)", "claims 1",
                                 "oid=" SP_OID, "tid=" TENANT, "exp=20", NULL});
  /* the other entra rows: not the policy's */
  names(doctor_check(out, "Login with a managed identity's"),
        (const char *const[]){"[skip]", "does not list entra-msi", NULL});
  /* an expired token fetched: named with its exp, the verdict's */
  out = doctor("%s", sp("expired-token", CLIENT, SECRET));
  c = doctor_check(out, "Login with a service principal's");
  names(c, (const char *const[]){"[FAIL]", "ENTRA_TOKEN_EXPIRED", "claims 1",
                                 "exp=20", "tenant expired-token;", NULL});
  /* a certificate's thumbprint */
  out = doctor("%s", sp_cert("entra-sp", TENANT, "app.pem", NULL));
  names(
      doctor_check(out, "Login with a service principal's"),
      (const char *const[]){"[ ok ]", "/CN=tdsc-test-app, thumbprint ", NULL});
}
END_TEST

/* ActiveDirectoryDefault's chain is each of its sources' row: the one
 * that logged in from the trail, the others probed alone (managed
 * identity logs in, workload identity has nothing to try with). */
START_TEST(doctor_covers_the_default_chain) {
  azure_env_clear();
  setenv("AZURE_CLIENT_ID", CLIENT, 1);
  setenv("AZURE_CLIENT_SECRET", SECRET, 1);
  setenv("AZURE_TENANT_ID", TENANT, 1);
  setenv("AZURE_AUTHORITY_HOST", authority, 1);
  const char *out =
      doctor("Authentication=ActiveDirectoryDefault;EntraIMDS=%s", authority);
  azure_env_clear();
  names(doctor_check(out, "Login with a service principal's"),
        (const char *const[]){"[ ok ]", "client id " CLIENT, "oid=" SP_OID,
                              NULL});
  names(doctor_check(out, "Login with a managed identity's"),
        (const char *const[]){"[ ok ]", "alone (Authentication=entra-msi)",
                              "from managed identity endpoint ", "oid=" MSI_OID,
                              NULL});
  names(doctor_check(out, "Login with a workload identity's"),
        (const char *const[]){"[skip]", "ENTRA_NO_CLIENT_CREDENTIALS", NULL});
  names(doctor_check(out, "Login with a Microsoft Entra ID token"),
        (const char *const[]){"[skip]", "does not list entra", NULL});
}
END_TEST

int main(void) {
  th_require_server();
  Suite *s = suite_create("entra_http");
  TCase *tc = tcase_create("entra_http");
  tcase_set_timeout(tc, 120);
  tcase_add_unchecked_fixture(tc, world_up, world_down);
  tcase_add_test(tc, service_principal_logs_in_with_its_secret);
  tcase_add_test(tc, https_authority_is_verified);
  tcase_add_test(tc, certificate_signs_the_client_assertion);
  tcase_add_test(tc, certificate_failures_are_named);
  tcase_add_test(tc, certificate_policy_falls_back_or_stops);
  tcase_add_test(tc, identity_provider_refusals_are_named);
  tcase_add_test(tc, bad_answers_and_bad_tokens_are_named);
  tcase_add_test(tc, endpoint_out_of_reach_or_insecure_or_incomplete);
  tcase_add_test(tc, slow_endpoint_gets_its_own_timeout);
  tcase_add_test(tc, fetch_never_blocks_the_nonblocking_connect);
  tcase_add_test(tc, managed_identity_from_the_metadata_endpoint);
  tcase_add_test(tc, managed_identity_from_app_service);
  tcase_add_test(tc, workload_identity_presents_the_federated_token);
  tcase_add_test(tc, default_chain_takes_the_first_source_present);
  tcase_add_test(tc, default_chain_without_any_source_says_what_it_looked_for);
  tcase_add_test(tc, identity_provider_judgment_stops_the_chain);
  tcase_add_test(tc, no_secret_in_the_protocol_trace);
  tcase_add_test(tc, fedauthinfo_tenant_comes_from_the_sts_url);
  tcase_add_test(tc,
                 fedauthinfo_sts_authority_is_asked_without_entra_authority);
  tcase_add_test(tc, fedauthinfo_foreign_sts_or_resource_is_refused);
  tcase_add_test(tc, fedauthinfo_broken_is_a_protocol_error);
  tcase_add_test(tc, a_fetched_token_serves_the_next_logins);
  tcase_add_test(tc, a_token_near_its_expiry_is_fetched_anew);
  tcase_add_test(tc, a_kept_token_a_server_refuses_is_forgotten);
  tcase_add_test(tc, metadata_address_that_drops_the_connection_costs_a_second);
  tcase_add_test(tc, doctor_reports_the_fetched_token_and_where_it_came_from);
  tcase_add_test(tc, doctor_covers_the_default_chain);
  suite_add_tcase(s, tc);
  return th_run_suite(s);
}
