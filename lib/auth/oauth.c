/* Token sources over HTTP (oauth.h): the requests of OAuth 2.0's client
 * credentials grant (RFC 6749 section 4.4, with a client secret or a
 * client assertion as RFC 7523 section 2.2 has it: signed by a service
 * principal's certificate, assertion.c, or for workload identity the
 * federated token) and of managed identity (Azure's App Service and instance metadata
 * endpoints), and the reading of their answers (RFC 6749 sections 5.1 and
 * 5.2, Entra ID's AADSTS error codes) into tdsc error codes.  No I/O:
 * entra.c runs the request.  Secrets go into the request only, and a
 * message that would quote one says so instead. */
#include "config.h"

#include "auth/oauth.h"

#include "auth/assertion.h"
#include "auth/jwt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"
#define IMDS_ADDRESS "169.254.169.254"
#define MAX_ASSERTION 65536u
/* The metadata address is the host's own on Azure and answers at once;
 * elsewhere nothing does, and a connect would wait out LoginTimeout (as
 * Azure's own libraries, a short probe first). */
#define IMDS_CONNECT_MS 1000

/* ---------------------------------------------------------- requests */

/* s percent-encoded (RFC 3986 unreserved kept) onto b. */
static void put_enc(tdsc__buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (isalnum(ch) || strchr("-._~", ch)) {
      tdsc__buf_put_u8(b, ch);
    } else {
      tdsc__buf_put_u8(b, '%');
      tdsc__buf_put_u8(b, (uint8_t)hex[ch >> 4]);
      tdsc__buf_put_u8(b, (uint8_t)hex[ch & 15]);
    }
  }
}

static void put_param(tdsc__buf *b, const char *name, const char *value) {
  if (b->len)
    tdsc__buf_put_u8(b, '&');
  tdsc__buf_put_str(b, name);
  tdsc__buf_put_u8(b, '=');
  put_enc(b, value);
}

/* Whether host (len bytes) is this machine's loopback, by address or by
 * the name libcurl resolves to it itself. */
static bool loopback(const char *h, size_t n) {
  if ((n == 9 && !strncasecmp(h, "localhost", 9)) || (n == 5 && !strncmp(h, "[::1]", 5)))
    return true;
  if (n < 4 || strncmp(h, "127.", 4))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)h[i]) && h[i] != '.')
      return false;
  return true;
}

/* The rule of the token endpoints: https, or plain http to loopback (a
 * test's authority, App Service's local endpoint) or, for managed
 * identity, to the link-local metadata address, which is http by design
 * and never leaves the host. */
static tdsc_errc endpoint_check(const char *url, const char *from, bool imds,
                                tdsc_error *err) {
  /* user:password@host (RFC 3986 3.2.1): a secret, which every message
   * naming the endpoint would quote */
  const char *auth = strstr(url, "://");
  if (auth && memchr(auth + 3, '@', strcspn(auth + 3, "/?#")))
    return tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_INSECURE,
                         "the token endpoint from %s carries credentials in "
                         "its address (user:password@host), which would be "
                         "quoted wherever the endpoint is named: give the "
                         "address alone",
                         from);
  if (!strncasecmp(url, "https://", 8) && url[8])
    return TDSC_OK;
  if (!strncasecmp(url, "http://", 7)) {
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    const char *colon = n && h[0] == '[' ? memchr(h, ']', n) : NULL;
    size_t hn = colon ? (size_t)(colon - h) + 1 : strcspn(h, ":/?#");
    if (!memchr(h, '@', n) &&
        (loopback(h, hn) || (imds && hn == strlen(IMDS_ADDRESS) &&
                             !strncmp(h, IMDS_ADDRESS, hn))))
      return TDSC_OK;
  }
  return tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_INSECURE,
                       "the token endpoint %.200s (from %s) is not https: a "
                       "secret or a token is sent over plain http only to "
                       "this machine's loopback%s",
                       url, from,
                       imds ? " or the instance metadata address "
                              IMDS_ADDRESS
                            : "");
}

/* The scope of a client-credentials request: the resource + "/.default"
 * (Entra ID v2.0 endpoint). */
static void put_scope(tdsc__buf *b, const char *resource) {
  size_t n = strlen(resource);
  char *scope = tdsc__strdup_printf("%s%s.default", resource,
                                    n && resource[n - 1] == '/' ? "" : "/");
  if (!scope) {
    b->oom = true;
    return;
  }
  put_param(b, "scope", scope);
  free(scope);
}

static bool tenant_ok(const char *t) {
  if (!*t || strlen(t) > 128)
    return false;
  for (; *t; t++)
    if (!isalnum((unsigned char)*t) && !strchr("-._", *t))
      return false;
  return true;
}

/* Reads the federated token file (workload identity): its text, trimmed. */
static char *read_assertion(const char *path, tdsc_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    tdsc__err_errno(err, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS, errno,
                    "cannot read the federated token file %s "
                    "(AZURE_FEDERATED_TOKEN_FILE)",
                    path);
    return NULL;
  }
  char *buf = calloc(1, MAX_ASSERTION + 1);
  size_t n = buf ? fread(buf, 1, MAX_ASSERTION + 1, f) : 0;
  fclose(f);
  if (!buf) {
    tdsc__err_oom(err);
    return NULL;
  }
  while (n && isspace((unsigned char)buf[n - 1]))
    buf[--n] = 0;
  if (!n || n > MAX_ASSERTION || memchr(buf, 0, n)) {
    tdsc__wipe(buf, MAX_ASSERTION + 1);
    free(buf);
    tdsc__err_set(err, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS,
                  "the federated token file %s (AZURE_FEDERATED_TOKEN_FILE) "
                  "is %s",
                  path, n ? "not a token (too large, or binary)" : "empty");
    return NULL;
  }
  return buf;
}

static tdsc_errc missing(tdsc_error *err, const char *source,
                         const char *what) {
  return tdsc__err_set(err, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS,
                       "%s needs %s", source, what);
}

/* A service principal's credentials: from the string (UID=, PWD= the
 * secret or, with EntraClientCertificate=, the key's passphrase) or, when
 * UID= is not given, from the environment as Azure's EnvironmentCredential
 * reads it (AZURE_CLIENT_ID; AZURE_CLIENT_SECRET, else
 * AZURE_CLIENT_CERTIFICATE_PATH with AZURE_CLIENT_CERTIFICATE_PASSWORD):
 * one source or the other, never a mix. */
typedef struct sp_creds {
  bool env;
  const char *client, *secret, *cert, *pass;
} sp_creds;

static void sp_creds_of(const tdsc__auth_params *p, sp_creds *k) {
  memset(k, 0, sizeof *k);
  k->env = !(p->client_id && *p->client_id);
  if (!k->env) {
    k->client = p->client_id;
    k->cert = p->client_cert;
    k->secret = k->cert && *k->cert ? NULL : p->client_secret;
    k->pass = k->cert && *k->cert ? p->client_secret : NULL;
    return;
  }
  k->client = getenv("AZURE_CLIENT_ID");
  k->secret = getenv("AZURE_CLIENT_SECRET");
  if (!(k->secret && *k->secret)) {
    k->secret = NULL;
    k->cert = getenv("AZURE_CLIENT_CERTIFICATE_PATH");
    k->pass = getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD");
  }
}

/* The secret of the request for the endpoint at h->url: the client
 * secret, or an assertion signed by the certificate's key (assertion.h).
 * *assertion: whether it is an assertion. */
static tdsc_errc sp_credential(const sp_creds *k, tdsc__http *h,
                               bool *assertion, tdsc_error *err) {
  *assertion = k->cert && *k->cert;
  if (!*assertion)
    return (h->secret = tdsc__strdup(k->secret)) ? TDSC_OK
                                                  : tdsc__err_oom(err);
  tdsc__cert_facts facts;
  tdsc_errc rc = tdsc__client_assertion(
      k->cert,
      k->env ? "AZURE_CLIENT_CERTIFICATE_PATH" : "EntraClientCertificate=",
      k->pass, k->client, h->url, &h->secret, &facts, err);
  if (facts.sha1[0])
    snprintf(h->about, sizeof h->about,
             "the assertion was signed by the certificate %.120s, thumbprint "
             "%s",
             facts.subject, facts.sha1);
  return rc;
}

/* Client credentials (RFC 6749 4.4): POST to the tenant's v2.0 token
 * endpoint. */
static tdsc_errc client_credentials(tdsc__token_source src,
                                    const tdsc__auth_params *p,
                                    const tdsc__oauth_sts *sts, tdsc__http *h,
                                    tdsc__buf *body, tdsc__buf *key,
                                    tdsc_error *err) {
  bool wl = src == TDSC__SRC_WORKLOAD;
  const char *what = wl ? "workload identity" : "a service principal";
  sp_creds k;
  sp_creds_of(p, &k);
  const char *client = wl ? p->client_id : k.client;
  const char *tenant = p->tenant;
  const char *file = wl ? getenv("AZURE_FEDERATED_TOKEN_FILE") : NULL;
  if (wl && !client)
    client = getenv("AZURE_CLIENT_ID");
  if (wl && !tenant)
    tenant = getenv("AZURE_TENANT_ID");
  if (!tenant && sts) /* the server's STS URL names it */
    tenant = sts->tenant;
  if (!client || !*client)
    return missing(err, what,
                   wl ? "a client id (AZURE_CLIENT_ID or UID=)"
                      : "its client (application) id: UID=, or for the "
                        "environment's AZURE_CLIENT_ID (not set)");
  if (!tenant || !*tenant)
    return missing(err, what,
                   "a tenant (EntraTenant= or AZURE_TENANT_ID)");
  if (!tenant_ok(tenant))
    return tdsc__err_set(err, TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS,
                         "the tenant '%.140s' is neither a tenant id nor a "
                         "domain name",
                         tenant);
  if (!wl && !(k.secret && *k.secret) && !(k.cert && *k.cert))
    return missing(err, what,
                   k.env ? "with AZURE_CLIENT_ID its client secret in "
                           "AZURE_CLIENT_SECRET or its certificate in "
                           "AZURE_CLIENT_CERTIFICATE_PATH (neither is set)"
                         : "its client secret in PWD= or its certificate in "
                           "EntraClientCertificate=");
  if (wl && !(file && *file))
    return missing(err, what,
                   "a federated token file (AZURE_FEDERATED_TOKEN_FILE)");
  const char *authority = p->authority                  ? p->authority
                          : sts && sts->authority ? sts->authority
                                                  : DEFAULT_AUTHORITY;
  tdsc_errc rc = endpoint_check(authority, "EntraAuthority= or "
                                "AZURE_AUTHORITY_HOST", false, err);
  if (rc)
    return rc;
  size_t an = strlen(authority);
  while (an && authority[an - 1] == '/')
    an--;
  h->url = tdsc__strdup_printf("%.*s/%s/oauth2/v2.0/token", (int)an,
                               authority, tenant);
  if (!h->url)
    return tdsc__err_oom(err);
  bool assertion = wl;
  if (wl) {
    h->secret = read_assertion(file, err);
    if (!h->secret)
      return err->code;
  } else if ((rc = sp_credential(&k, h, &assertion, err)) != TDSC_OK) {
    return rc;
  }
  char presented[340]; /* a certificate's words are sp_credential's */
  snprintf(presented, sizeof presented, "%.100s%.230s",
           wl          ? "the assertion of the federated token file "
           : assertion ? ""
                       : "a client secret (not shown)",
           wl          ? file
           : assertion ? h->about
                       : "");
  snprintf(h->about, sizeof h->about, "client id %.64s, tenant %.128s; %s",
           client, tenant, presented);
  put_param(body, "grant_type", "client_credentials");
  put_param(body, "client_id", client);
  if (assertion) {
    put_param(body, "client_assertion_type",
              "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    put_param(body, "client_assertion", h->secret);
  } else {
    put_param(body, "client_secret", h->secret);
  }
  const char *resource = sts && sts->resource ? sts->resource
                         : p->audience        ? p->audience
                                              : "https://database.windows.net/";
  put_scope(body, resource);
  /* the key: an assertion is signed anew for each request (its id and
   * times), so the certificate's thumbprint (in about) stands for it */
  put_param(key, "client_id", client);
  put_param(key, "resource", resource);
  put_param(key, "credential", assertion && !wl ? h->about : h->secret);
  return TDSC_OK;
}

/* Managed identity: App Service's local endpoint when IDENTITY_ENDPOINT
 * and IDENTITY_HEADER are set (api-version 2019-08-01, the header
 * X-IDENTITY-HEADER), else the instance metadata endpoint (api-version
 * 2018-02-01, the header Metadata: true). */
static tdsc_errc managed(const tdsc__auth_params *p,
                         const tdsc__oauth_sts *sts, tdsc__http *h,
                         tdsc__buf *q, tdsc_error *err) {
  const char *ep = getenv("IDENTITY_ENDPOINT");
  const char *hdr = getenv("IDENTITY_HEADER");
  bool app = ep && *ep && hdr && *hdr;
  const char *base = app ? ep : p->imds ? p->imds : DEFAULT_IMDS;
  tdsc_errc rc = endpoint_check(base, app ? "IDENTITY_ENDPOINT" : "EntraIMDS=",
                                !app, err);
  if (rc)
    return rc;
  size_t bn = strlen(base);
  while (!app && bn && base[bn - 1] == '/')
    bn--;
  tdsc__buf_put(q, base, bn);
  if (!app)
    tdsc__buf_put_str(q, "/metadata/identity/oauth2/token");
  tdsc__buf_put_str(q, strchr(base, '?') ? "&" : "?");
  tdsc__buf_put_str(q, app ? "api-version=2019-08-01"
                           : "api-version=2018-02-01");
  put_param(q, "resource", sts && sts->resource ? sts->resource
                           : p->audience        ? p->audience
                                                : "https://database.windows.net/");
  if (p->client_id && *p->client_id)
    put_param(q, "client_id", p->client_id); /* a user-assigned identity */
  h->url = tdsc__buf_cstr(q);
  if (h->url)
    tdsc__buf_init(q); /* the url owns the bytes now; else the caller
                          frees them */
  if (!app)
    h->connect_timeout_ms = IMDS_CONNECT_MS;
  bool user = p->client_id && *p->client_id;
  snprintf(h->about, sizeof h->about, "%s%.64s",
           user ? "client id " : "the system-assigned identity",
           user ? p->client_id : "");
  /* IDENTITY_HEADER is a secret; nothing in IMDS's request is */
  h->secret = app ? tdsc__strdup(hdr) : NULL;
  h->headers[0] = app ? tdsc__strdup_printf("X-IDENTITY-HEADER: %s", hdr)
                      : tdsc__strdup("Metadata: true");
  if (!h->url || (app && !h->secret) || !h->headers[0])
    return tdsc__err_oom(err);
  return TDSC_OK;
}

tdsc_errc tdsc__oauth_request(tdsc__token_source src,
                              const tdsc__auth_params *p,
                              const tdsc__oauth_sts *sts, tdsc__http *h,
                              char *endpoint, size_t cap, char **key,
                              tdsc_error *err) {
  if (!tdsc__http_built)
    return tdsc__err_set(err, TDSC_E_ENTRA_NO_HTTP,
                         "this build of tdsclient has no HTTP token sources "
                         "(built without libcurl), so %s cannot fetch a "
                         "token",
                         src == TDSC__SRC_MANAGED ? "managed identity"
                         : src == TDSC__SRC_WORKLOAD ? "workload identity"
                                                     : "a service principal");
  tdsc__buf b, k;
  tdsc__buf_init(&b);
  tdsc__buf_init(&k);
  tdsc__buf_put_u8(&k, (uint8_t)('0' + src));
  tdsc_errc rc = src == TDSC__SRC_MANAGED
                     ? managed(p, sts, h, &b, err)
                     : client_credentials(src, p, sts, h, &b, &k, err);
  if (rc == TDSC_OK && src != TDSC__SRC_MANAGED) {
    h->body = tdsc__buf_cstr(&b);
    if (h->body)
      tdsc__buf_init(&b); /* the body owns the bytes now */
    else
      rc = tdsc__err_oom(err); /* b's bytes are wiped and freed below */
  }
  tdsc__buf_wipe(&b);
  tdsc__buf_free(&b);
  if (rc == TDSC_OK && p->cafile && !(h->cafile = tdsc__strdup(p->cafile)))
    rc = tdsc__err_oom(err);
  if (rc == TDSC_OK && key) {
    /* the endpoint (tenant, resource and client id of managed identity
     * in its query), how it is verified and IDENTITY_HEADER complete the
     * token's identity: a request that would fail never gets the token
     * of one that did not */
    put_param(&k, "url", h->url);
    put_param(&k, "cafile", h->cafile ? h->cafile : "");
    if (src == TDSC__SRC_MANAGED && h->secret)
      put_param(&k, "header", h->secret);
    if (!(*key = tdsc__buf_cstr(&k)))
      rc = tdsc__err_oom(err);
    else
      tdsc__buf_init(&k); /* *key owns the bytes now */
  }
  tdsc__buf_wipe(&k);
  tdsc__buf_free(&k);
  if (rc == TDSC_OK)
    snprintf(endpoint, cap, "%.*s", (int)strcspn(h->url, "?"), h->url);
  return rc;
}

/* ----------------------------------------------------------- answers */

/* The identity provider's AADSTS codes that name their own remedy. */
static const struct {
  int64_t aadsts;
  tdsc_errc code;
} aadsts_codes[] = {
    {7000215, TDSC_E_ENTRA_CLIENT_SECRET_INVALID},
    {7000222, TDSC_E_ENTRA_CLIENT_SECRET_EXPIRED},
    {700016, TDSC_E_ENTRA_APP_NOT_FOUND},
    {90002, TDSC_E_ENTRA_TENANT_NOT_FOUND},
    /* the certificate unknown to the application, or the signature not
     * its key's; the assertion out of its time range */
    {700027, TDSC_E_ENTRA_CLIENT_CERT_REFUSED},
    {700024, TDSC_E_ENTRA_CLIENT_ASSERTION_EXPIRED},
};

static tdsc_errc refused(const tdsc__http *h, const char *endpoint,
                         const tdsc__oauth_reply *r, tdsc_error *err) {
  tdsc_errc code = TDSC_E_ENTRA_IDENTITY_REFUSED;
  int64_t first = r->ncodes ? r->codes[0] : 0;
  for (size_t i = 0; i < sizeof aadsts_codes / sizeof aadsts_codes[0]; i++)
    for (size_t k = 0; k < r->ncodes; k++)
      if (r->codes[k] == aadsts_codes[i].aadsts && code ==
          TDSC_E_ENTRA_IDENTITY_REFUSED) {
        code = aadsts_codes[i].code;
        first = r->codes[k];
      }
  const char *desc = r->error_description[0] ? r->error_description
                                             : r->message;
  /* an identity provider that quotes the secret back is not quoted; its
   * head suffices (the description may be cut in the middle of it) */
  char head[9] = "";
  if (h->secret)
    snprintf(head, sizeof head, "%s", h->secret);
  if (head[0] && strstr(desc, head))
    desc = "(its description is withheld: it quotes the secret)";
  tdsc__wipe(head, sizeof head);
  /* Entra ID ends its descriptions with "\r\nTrace ID: ...": one line */
  char line[400];
  size_t n = 0;
  for (; desc[n] && n + 1 < sizeof line; n++)
    line[n] = (unsigned char)desc[n] < 0x20 ? ' ' : desc[n];
  while (n && line[n - 1] == ' ')
    n--;
  line[n] = 0;
  char num[40] = "";
  if (first)
    snprintf(num, sizeof num, ", AADSTS%lld", (long long)first);
  tdsc__err_set(err, code,
                "the identity provider at %s refused to issue a token "
                "(HTTP %ld, error '%s'%s): %s%s%s",
                endpoint, h->status, r->error[0] ? r->error : "(none)", num,
                line[0] ? line : "(no description)", h->about[0] ? "; " : "",
                h->about);
  tdsc__err_provider(err, TDSC_PROVIDER_HTTP, h->status, first, 0, NULL);
  return code;
}

tdsc_errc tdsc__oauth_read(tdsc__token_source src, const tdsc__http *h,
                            const char *endpoint, char **token, size_t *len,
                            tdsc_error *err) {
  (void)src;
  char why[128];
  tdsc_errc code;
  *token = NULL;
  *len = 0;
  switch (h->res) {
  case TDSC__HTTP_OK:
    break;
  case TDSC__HTTP_ABSENT:
    return tdsc__err_set(err, TDSC_E_ENTRA_NO_HTTP, "%s", h->why);
  case TDSC__HTTP_NO_MEMORY:
    return tdsc__err_oom(err);
  case TDSC__HTTP_TIMEOUT:
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_TIMEOUT,
                         "the token endpoint %s did not answer within the "
                         "login timeout (%s)",
                         endpoint, h->why);
    tdsc__err_provider(err, TDSC_PROVIDER_HTTP, 0, 0, h->provider, h->why);
    return code;
  default:
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_UNREACHABLE,
                         "the token endpoint %s could not be reached: %s",
                         endpoint, h->why);
    tdsc__err_provider(err, TDSC_PROVIDER_HTTP, 0, 0, h->provider, h->why);
    return code;
  }
  tdsc__oauth_reply r;
  bool json = tdsc__oauth_reply_decode(h->resp.data, h->resp.len, &r, why,
                                       sizeof why);
  bool ok_status = h->status >= 200 && h->status < 300;
  if (r.oom) {
    code = tdsc__err_oom(err);
  } else if (!json && !ok_status) {
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_HTTP_ERROR,
                         "the token endpoint %s answered HTTP %ld without "
                         "an OAuth 2.0 error (%s, %zu bytes)",
                         endpoint, h->status, why, h->resp.len);
  } else if (!json) {
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_BAD_RESPONSE,
                         "the token endpoint %s answered HTTP %ld with "
                         "something that is not a token response: %s "
                         "(%zu bytes)",
                         endpoint, h->status, why, h->resp.len);
  } else if (r.error[0] || r.ncodes || (!ok_status && r.message[0])) {
    code = refused(h, endpoint, &r, err);
  } else if (!ok_status) {
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_HTTP_ERROR,
                         "the token endpoint %s answered HTTP %ld with JSON "
                         "that names no error",
                         endpoint, h->status);
  } else if (!r.access_token || !r.token_len) {
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_BAD_RESPONSE,
                         "the token endpoint %s answered HTTP %ld without "
                         "an access_token",
                         endpoint, h->status);
  } else if (r.token_type[0] && strcasecmp(r.token_type, "Bearer")) {
    code = tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_BAD_RESPONSE,
                         "the token endpoint %s issued a token of type "
                         "'%.31s', not a Bearer token",
                         endpoint, r.token_type);
  } else {
    *token = r.access_token;
    *len = r.token_len;
    r.access_token = NULL;
    code = TDSC_OK;
  }
  if (code != TDSC_OK && code != TDSC_E_ENTRA_IDENTITY_REFUSED &&
      err->provider == TDSC_PROVIDER_NONE)
    tdsc__err_provider(err, TDSC_PROVIDER_HTTP, h->status, 0, 0, NULL);
  tdsc__oauth_reply_clear(&r);
  return code;
}
