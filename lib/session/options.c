/* The connection option table and the connection-string parser
 * (options.h).  Syntax as ODBC's SQLDriverConnect: key=value pairs split by
 * ';', keys case-insensitive, values optionally in braces with '}}' for a
 * literal '}'.  Everything is checked here, before any network traffic. */
#include "config.h"

#include "session/options.h"

#include "session/conffile.h"

#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* clang-format off */
const tdsc__optdef tdsc__optdefs[TDSC__OPT_COUNT] = {
  {TDSC__OPT_SERVER, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Server", "Address|Addr|Data Source|Network Address", NULL, "TDSC_SERVER",
    "target: [tcp:]host[\\instance][,port]",
    false}},
  {TDSC__OPT_DATABASE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Database", "Initial Catalog", NULL, "TDSC_DATABASE",
    "database to use after login (the login's default otherwise)",
    false}},
  {TDSC__OPT_UID, TDSC__OPTK_STRING, NULL, 0, 0,
   {"UID", "User ID|User", NULL, "TDSC_UID",
    "SQL login name",
    false}},
  {TDSC__OPT_PWD, TDSC__OPTK_STRING, NULL, 0, 0,
   {"PWD", "Password", NULL, "TDSC_PASSWORD",
    "SQL login password (never printed)",
    true}},
  {TDSC__OPT_ENCRYPT, TDSC__OPTK_ENUM, "off|optional|mandatory|strict|yes|no|true|false", 0, 0,
   {"Encrypt", NULL, "mandatory", NULL,
    "off: TLS only if the server requires it (a password may go in clear); "
   "optional (no, false): TLS at least for the login; mandatory (yes, "
   "true): TLS for everything; strict: TDS 8.0, TLS first",
    false}},
  {TDSC__OPT_TRUST_CERT, TDSC__OPTK_BOOL, NULL, 0, 0,
   {"TrustServerCertificate", NULL, "no", NULL,
    "yes: do not verify the server's certificate (testing only)",
    false}},
  {TDSC__OPT_HOST_IN_CERT, TDSC__OPTK_STRING, NULL, 0, 0,
   {"HostNameInCertificate", NULL, NULL, NULL,
    "name to expect in the server's certificate (default: the host)",
    false}},
  {TDSC__OPT_CAFILE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"CAFile", "ServerCertificateCA", NULL, "TDSC_CAFILE",
    "PEM file of trusted CAs (default: the system store)",
    false}},
  {TDSC__OPT_LOGIN_TIMEOUT, TDSC__OPTK_INT, NULL, 0, 65535,
   {"LoginTimeout", "Connect Timeout|Connection Timeout|Timeout", "15", NULL,
    "seconds for the whole connect, 0 = no limit",
    false}},
  {TDSC__OPT_QUERY_TIMEOUT, TDSC__OPTK_INT, NULL, 0, 2147483,
   {"QueryTimeout", "Command Timeout", "0", NULL,
    "seconds to wait for each server response, 0 = no limit",
    false}},
  {TDSC__OPT_CANCEL_TIMEOUT, TDSC__OPTK_INT, NULL, 0, 65535,
   {"CancelTimeout", NULL, "10", NULL,
    "seconds a cancel or query timeout waits for the server's "
    "acknowledgement before closing the connection, 0 = no limit",
    false}},
  {TDSC__OPT_AUTHENTICATION, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Authentication", NULL, NULL, NULL,
    "ordered list of mechanisms to try: kerberos, ntlm, sql, entra "
    "(ActiveDirectoryAccessToken), entra-sp "
    "(ActiveDirectoryServicePrincipal), entra-msi "
    "(ActiveDirectoryManagedIdentity), entra-workload "
    "(ActiveDirectoryWorkloadIdentity), entra-default "
    "(ActiveDirectoryDefault: entra-sp from the environment, "
    "entra-workload, entra-msi) (default: "
    "sql with a UID, ntlm with a UID DOMAIN\\user, else kerberos,ntlm)",
    false}},
  {TDSC__OPT_APP, TDSC__OPTK_STRING, NULL, 0, 0,
   {"App", "Application Name|APP", "tdsclient", NULL,
    "application name sent at login",
    false}},
  {TDSC__OPT_WSID, TDSC__OPTK_STRING, NULL, 0, 0,
   {"WSID", "Workstation ID", NULL, NULL,
    "client host name sent at login (default: this host)",
    false}},
  {TDSC__OPT_PACKET_SIZE, TDSC__OPTK_INT, NULL, 512, 32767,
   {"PacketSize", "Packet Size", "4096", NULL,
    "TDS packet size to ask for",
    false}},
  {TDSC__OPT_LANGUAGE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Language", NULL, NULL, NULL,
    "session language (default: the login's)",
    false}},
  {TDSC__OPT_SERVER_SPN, TDSC__OPTK_STRING, NULL, 0, 0,
   {"ServerSPN", NULL, NULL, NULL,
    "Kerberos service principal of the server (default: "
    "MSSQLSvc/<fqdn>:<port>)",
    false}},
  {TDSC__OPT_SPN_CANON, TDSC__OPTK_ENUM, "none|forward|forward-reverse", 0, 0,
   {"SPNHostCanonicalization", NULL, "forward", NULL,
    "how the host name becomes the SPN's: none, forward DNS, or forward "
    "then reverse DNS",
    false}},
  {TDSC__OPT_KRB_CCACHE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"KrbCCache", NULL, NULL, NULL,
    "Kerberos credential cache to use (default: KRB5CCNAME's)",
    false}},
  {TDSC__OPT_KRB_KEYTAB, TDSC__OPTK_STRING, NULL, 0, 0,
   {"KrbKeytab", NULL, NULL, NULL,
    "client keytab, for services that run unattended",
    false}},
  {TDSC__OPT_KRB_PRINCIPAL, TDSC__OPTK_STRING, NULL, 0, 0,
   {"KrbPrincipal", NULL, NULL, NULL,
    "client principal (with KrbKeytab or KrbPassword)",
    false}},
  {TDSC__OPT_KRB_PASSWORD, TDSC__OPTK_STRING, NULL, 0, 0,
   {"KrbPassword", NULL, NULL, NULL,
    "password of KrbPrincipal, used in memory only (never printed)",
    true}},
  {TDSC__OPT_SPNEGO, TDSC__OPTK_BOOL, NULL, 0, 0,
   {"SPNEGO", "KrbSPNEGO", "yes", NULL,
    "wrap Kerberos and NTLM tokens in SPNEGO (yes) or send them raw (no)",
    false}},
  {TDSC__OPT_NTLM_USER, TDSC__OPTK_STRING, NULL, 0, 0,
   {"NTLMUser", NULL, NULL, NULL,
    "NTLM account, DOMAIN\\user (default: UID= when it has a backslash)",
    false}},
  {TDSC__OPT_NTLM_PASSWORD, TDSC__OPTK_STRING, NULL, 0, 0,
   {"NTLMPassword", NULL, NULL, NULL,
    "password of NTLMUser (default: PWD= with such a UID; never printed)",
    true}},
  {TDSC__OPT_NTLM_CREDFILE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"NTLMCredFile", NULL, NULL, "TDSC_NTLM_CREDFILE",
    "file of DOMAIN\\user:password lines, for unattended services",
    false}},
  {TDSC__OPT_TRANSPORT, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Transport", NULL, NULL, NULL,
    "transports to try, in order: shm, np, tcp (default for a local "
    "server: shm,np,tcp; remote: tcp)",
    false}},
  {TDSC__OPT_LOCAL_DIR, TDSC__OPTK_STRING, NULL, 0, 0,
   {"LocalDir", NULL, "/run/tdsclient", "TDSC_LOCAL_DIR",
    "POSIX: folder of the local server's shared-memory and pipe sockets "
    "(doc/local-endpoints.md)",
    false}},
  {TDSC__OPT_BROWSER_PORT, TDSC__OPTK_INT, NULL, 1, 65535,
   {"BrowserPort", NULL, "1434", NULL,
    "UDP port of SQL Browser, which resolves host\\instance",
    false}},
  /* ODBC's, ADO.NET's and JDBC's names for "log in with integrated
   * security": the integrated mechanisms of the policy (kerberos,ntlm), or
   * a SQL login for no/false; Authentication= says the same more
   * precisely, so giving both is an error. */
  {TDSC__OPT_INTEGRATED, TDSC__OPTK_ENUM, "sspi|yes|no|true|false", 0, 0,
   {"Integrated Security", "Trusted_Connection|IntegratedSecurity", NULL, NULL,
    "sspi, yes or true: Authentication=kerberos,ntlm; no or false: "
    "Authentication=sql",
    false}},
  {TDSC__OPT_MARS, TDSC__OPTK_BOOL, NULL, 0, 0,
   {"MultipleActiveResultSets", "MARS_Connection|MARS Connection", "no", NULL,
    "accepted as no (one request at a time per connection); yes is "
    "refused",
    false}},
  {TDSC__OPT_SERVICE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Service", NULL, NULL, "TDSC_SERVICE",
    "a [section] of the service file (TDSC_SERVICEFILE, "
    "~/.tdsc_service.conf, /etc/tdsclient/service.conf) whose keywords "
    "complete the string",
    false}},
  /* The protocol trace (trace.c): opened at connect, appended to. */
  {TDSC__OPT_TRACE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Trace", NULL, NULL, "TDSC_TRACE",
    "file to append a decoded protocol trace to (created 0600; secrets "
    "redacted)",
    false}},
  /* Microsoft Entra ID (lib/auth/entra.c): a bearer token, as secret as
   * a password. */
  {TDSC__OPT_ACCESS_TOKEN, TDSC__OPTK_STRING, NULL, 0, 0,
   {"AccessToken", NULL, NULL, NULL,
    "Microsoft Entra ID access token (a JWT) for Authentication=entra "
    "(never printed; sent only under TLS)",
    true}},
  {TDSC__OPT_ENTRA_AUDIENCE, TDSC__OPTK_STRING, NULL, 0, 0,
   {"EntraAudience", NULL, NULL, NULL,
    "the audience (aud claim) the access token must name (default: Azure "
    "SQL's, https://database.windows.net/ and its national clouds)",
    false}},
  /* The token sources over HTTP (lib/auth/oauth.c) */
  {TDSC__OPT_ENTRA_TENANT, TDSC__OPTK_STRING, NULL, 0, 0,
   {"EntraTenant", NULL, NULL, "AZURE_TENANT_ID",
    "the Entra ID tenant (id or domain) of a service principal "
    "(Authentication=ActiveDirectoryServicePrincipal)",
    false}},
  {TDSC__OPT_ENTRA_AUTHORITY, TDSC__OPTK_STRING, NULL, 0, 0,
   /* no default here: without it the server's STS URL names the
    * authority (its cloud), else oauth.c's https://login.microsoftonline.com */
   {"EntraAuthority", NULL, NULL, "AZURE_AUTHORITY_HOST",
    "the Entra ID authority whose token endpoint is asked "
    "({authority}/{tenant}/oauth2/v2.0/token; https, or http to loopback; "
    "default: the server's STS, else https://login.microsoftonline.com)",
    false}},
  {TDSC__OPT_ENTRA_IMDS, TDSC__OPTK_STRING, NULL, 0, 0,
   {"EntraIMDS", NULL, "http://169.254.169.254", NULL,
    "the instance metadata endpoint of managed identity (when "
    "IDENTITY_ENDPOINT and IDENTITY_HEADER are not set)",
    false}},
  /* LOGIN7's fReadOnlyIntent (MS-TDS 2.2.6.4): an availability group's
   * read-only routing sends such a login to a readable secondary. */
  {TDSC__OPT_APP_INTENT, TDSC__OPTK_ENUM, "ReadWrite|ReadOnly", 0, 0,
   {"ApplicationIntent", "Application Intent", "ReadWrite", NULL,
    "ReadOnly: the application only reads (a server with read-only "
    "routing may send the login to a readable secondary); ReadWrite",
    false}},
  {TDSC__OPT_MULTI_SUBNET, TDSC__OPTK_BOOL, NULL, 0, 0,
   {"MultiSubnetFailover", "Multi Subnet Failover", "no", NULL,
    "yes: try all of the host's addresses at once, not one after another "
    "250 ms apart (an availability group listener across subnets)",
    false}},
  /* Database mirroring (connect.c): the mirror, tried when the principal
   * named by Server= cannot serve the database. */
  {TDSC__OPT_FAILOVER_PARTNER, TDSC__OPTK_STRING, NULL, 0, 0,
   {"Failover Partner", "Failover_Partner|FailoverPartner", NULL, NULL,
    "database mirroring: the partner, host[\\instance][,port] over TCP, "
    "tried within LoginTimeout when Server= cannot serve Database= "
    "(needs Database=)",
    false}},
  /* A service principal's certificate credential (lib/auth/assertion.c):
   * the path only; the key's passphrase, if any, is PWD= (secret). */
  {TDSC__OPT_ENTRA_CLIENT_CERT, TDSC__OPTK_STRING, NULL, 0, 0,
   {"EntraClientCertificate", NULL, NULL, NULL,
    "PEM file of a service principal's certificate and private key, "
    "instead of a client secret (Authentication="
    "ActiveDirectoryServicePrincipal; PWD= is then the key's passphrase)",
    false}},
};
/* clang-format on */

/* Matches a keyword or one of its aliases, ignoring case and runs of
 * blanks ("data  source"). */
static bool name_eq(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen)
    return false;
  for (size_t i = 0; i < alen; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
      return false;
  return true;
}

static const tdsc__optdef *find_def(const char *key, size_t klen) {
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    const tdsc__optdef *d = &tdsc__optdefs[i];
    if (name_eq(key, klen, d->info.keyword, strlen(d->info.keyword)))
      return d;
    for (const char *a = d->info.aliases; a && *a;) {
      const char *bar = strchr(a, '|');
      size_t n = bar ? (size_t)(bar - a) : strlen(a);
      if (name_eq(key, klen, a, n))
        return d;
      a = bar ? bar + 1 : a + n;
    }
  }
  return NULL;
}

/* Keywords of other drivers' connection strings that have no meaning
 * here, with what to do instead. */
static const struct {
  const char *keyword, *why;
} foreign_keywords[] = {
    {"Driver", "names an ODBC driver for a driver manager; tdsclient is "
               "called directly: leave Driver= out"},
    {"DSN", "names an ODBC data source; tdsclient reads no ODBC data "
            "sources: give its Server=, Database= and other keywords in the "
            "string"},
    {"FileDSN", "names an ODBC data source file; tdsclient reads none: give "
                "its keywords in the string"},
    {"Provider", "names an OLE DB provider; tdsclient is called directly: "
                 "leave Provider= out"},
};

/* Edit distance of two keywords, case-insensitive, with a swap of two
 * neighbouring letters counted as one edit (the commonest typing slip:
 * "Usre"); the optimal string alignment distance.  Keywords longer than
 * the table are as good as unrelated. */
static size_t distance(const char *a, size_t alen, const char *b,
                       size_t blen) {
  enum { CAP = 48 };
  if (alen >= CAP || blen >= CAP)
    return SIZE_MAX;
  size_t d[CAP][CAP];
  for (size_t i = 0; i <= alen; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= blen; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= alen; i++)
    for (size_t j = 1; j <= blen; j++) {
      int ai = tolower((unsigned char)a[i - 1]);
      int bj = tolower((unsigned char)b[j - 1]);
      size_t best = d[i - 1][j - 1] + (ai != bj);
      if (d[i - 1][j] + 1 < best)
        best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[alen][blen];
}

/* The known keyword (not an alias: the name to write) closest to key,
 * when it is close enough to be a misspelling; NULL otherwise. */
static const char *closest_keyword(const char *key, size_t klen) {
  const char *best = NULL;
  size_t best_d = klen < 6 ? 1 : klen < 12 ? 2 : 3;
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    const tdsc__optdef *d = &tdsc__optdefs[i];
    const char *names = d->info.aliases;
    size_t dist = distance(key, klen, d->info.keyword,
                           strlen(d->info.keyword));
    for (const char *a = names; a && *a;) {
      size_t n = strcspn(a, "|");
      size_t da = distance(key, klen, a, n);
      dist = da < dist ? da : dist;
      a += n + (a[n] == '|');
    }
    if (dist <= best_d && (!best || dist < best_d)) {
      best = d->info.keyword;
      best_d = dist;
    }
  }
  return best;
}

static tdsc_errc unknown_keyword(const char *key, size_t klen,
                                 tdsc_error *err) {
  for (size_t i = 0; i < sizeof foreign_keywords / sizeof foreign_keywords[0];
       i++)
    if (name_eq(key, klen, foreign_keywords[i].keyword,
                strlen(foreign_keywords[i].keyword)))
      return tdsc__err_set(err, TDSC_E_UNKNOWN_KEYWORD, "%.*s= %s",
                           (int)klen, key, foreign_keywords[i].why);
  const char *near = closest_keyword(key, klen);
  if (near)
    return tdsc__err_set(err, TDSC_E_UNKNOWN_KEYWORD,
                         "unknown keyword '%.*s' in the connection string: "
                         "did you mean %s?",
                         (int)klen, key, near);
  return tdsc__err_set(err, TDSC_E_UNKNOWN_KEYWORD,
                       "unknown keyword '%.*s' in the connection string",
                       (int)klen, key);
}

static bool parse_bool(const char *v, bool *out) {
  static const char *const yes[] = {"yes", "true", "1", "on"};
  static const char *const no[] = {"no", "false", "0", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (!strcasecmp(v, yes[i]))
      return (*out = true), true;
    if (!strcasecmp(v, no[i]))
      return (*out = false), true;
  }
  return false;
}

static bool parse_long(const char *v, long min, long max, long *out) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (!*v || *end || errno || n < min || n > max)
    return false;
  *out = n;
  return true;
}

/* Text that follows a secret keyword in the string may be the rest of the
 * secret (an unbraced ';' in a password splits it): errors about such text
 * name the secret keyword and the offset, never the text. */
static tdsc_errc hidden_text(tdsc_error *err, tdsc_errc code,
                             const tdsc__optdef *secret, size_t at,
                             const char *what) {
  return tdsc__err_set(err, code,
                       "%s at offset %zu of the connection string, after "
                       "the secret %s= (the text is not shown: it may be "
                       "part of that secret; a value holding ';' must be "
                       "braced, %s={...})",
                       what, at, secret->info.keyword, secret->info.keyword);
}

static tdsc_errc bad_value(const tdsc__options *o, const tdsc__optdef *d,
                           const char *v, const char *expect,
                           tdsc_error *err) {
  if (d->info.secret)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "invalid value for %s: expected %s", d->info.keyword,
                         expect);
  if (o->after_secret[d->id]) {
    char what[160];
    snprintf(what, sizeof what, "invalid value for %s (expected %s)",
             d->info.keyword, expect);
    return hidden_text(err, TDSC_E_BAD_OPTION_VALUE,
                       &tdsc__optdefs[o->after_secret[d->id] - 1],
                       o->offset[d->id], what);
  }
  return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                       "invalid value '%s' for %s: expected %s", v,
                       d->info.keyword, expect);
}

static tdsc_errc parse_mechs(tdsc__options *o, const char *v,
                             tdsc_error *err) {
  const tdsc__optdef *d = &tdsc__optdefs[TDSC__OPT_AUTHENTICATION];
  o->nmechs = 0;
  for (const char *p = v; *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t n = strcspn(p, ", ");
    if (!n)
      break;
    tdsc__mech m;
    const tdsc__mech *group = &m;
    size_t ng = 1;
    if (!tdsc__mech_named(p, n, &m) &&
        (ng = tdsc__mech_group(p, n, &group)) > 0)
      o->entra_default = true; /* the only group */
    if (!ng) {
      char known[512];
      tdsc__mech_known(known, sizeof known);
      if (o->after_secret[d->id])
        return bad_value(o, d, v, known, err);
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "Authentication lists '%.*s', which this version "
                           "does not know (it knows: %s)",
                           (int)n, p, known);
    }
    for (size_t g = 0; g < ng; g++) {
      for (size_t i = 0; i < o->nmechs; i++)
        if (o->mechs[i] == group[g])
          return o->after_secret[d->id]
                     ? bad_value(o, d, v, "each mechanism once", err)
                     : tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                                     "Authentication lists '%.*s'%s twice",
                                     (int)n, p,
                                     ng > 1 ? " (or one of its mechanisms)"
                                            : "");
      if (o->nmechs == sizeof o->mechs / sizeof o->mechs[0])
        return bad_value(o, d, v, "at most 8 mechanisms", err);
      o->mechs[o->nmechs++] = group[g];
    }
    p += n;
  }
  if (!o->nmechs)
    return bad_value(o, d, v, "a comma-separated list of mechanisms", err);
  return TDSC_OK;
}

/* Fills the typed views from the text values. */
static tdsc_errc typecheck(tdsc__options *o, tdsc_error *err) {
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    const tdsc__optdef *d = &tdsc__optdefs[i];
    const char *v = o->value[i];
    if (!v)
      continue;
    long n;
    bool b;
    switch (d->kind) {
    case TDSC__OPTK_STRING:
      break;
    case TDSC__OPTK_BOOL:
      if (!parse_bool(v, &b))
        return bad_value(o, d, v, "yes or no", err);
      break;
    case TDSC__OPTK_INT:
      if (!parse_long(v, d->min, d->max, &n)) {
        char expect[64];
        snprintf(expect, sizeof expect, "an integer from %ld to %ld", d->min,
                 d->max);
        return bad_value(o, d, v, expect, err);
      }
      break;
    case TDSC__OPTK_ENUM: {
      bool found = false;
      for (const char *a = d->values; *a && !found;) {
        size_t k = strcspn(a, "|");
        found = strlen(v) == k && !strncasecmp(v, a, k);
        a += k + (a[k] == '|');
      }
      if (!found) {
        char expect[128] = "one of ";
        size_t k = strlen(expect);
        for (const char *a = d->values; *a && k + 3 < sizeof expect; a++)
          if (*a == '|') {
            expect[k++] = ',';
            expect[k++] = ' ';
          } else {
            expect[k++] = *a;
          }
        expect[k] = 0;
        return bad_value(o, d, v, expect, err);
      }
      break;
    }
    }
  }
  const char *enc = o->value[TDSC__OPT_ENCRYPT];
  bool yes;
  if (!strcasecmp(enc, "off"))
    o->encrypt = TDSC__ENC_OFF;
  else if (!strcasecmp(enc, "strict"))
    o->encrypt = TDSC__ENC_STRICT;
  else if (!strcasecmp(enc, "optional") || (parse_bool(enc, &yes) && !yes))
    o->encrypt = TDSC__ENC_OPTIONAL;
  else
    o->encrypt = TDSC__ENC_MANDATORY;
  parse_bool(o->value[TDSC__OPT_TRUST_CERT], &o->trust_cert);
  parse_long(o->value[TDSC__OPT_LOGIN_TIMEOUT], 0, 65535, &o->login_timeout);
  parse_long(o->value[TDSC__OPT_QUERY_TIMEOUT], 0, 2147483,
             &o->query_timeout);
  parse_long(o->value[TDSC__OPT_CANCEL_TIMEOUT], 0, 65535,
             &o->cancel_timeout);
  parse_long(o->value[TDSC__OPT_PACKET_SIZE], 512, 32767, &o->packet_size);
  const char *canon = o->value[TDSC__OPT_SPN_CANON];
  o->canon = !strcasecmp(canon, "none")      ? TDSC__CANON_NONE
             : !strcasecmp(canon, "forward") ? TDSC__CANON_FORWARD
                                             : TDSC__CANON_REVERSE;
  parse_bool(o->value[TDSC__OPT_SPNEGO], &o->spnego);
  o->read_only = !strcasecmp(o->value[TDSC__OPT_APP_INTENT], "ReadOnly");
  parse_bool(o->value[TDSC__OPT_MULTI_SUBNET], &o->multi_subnet);
  parse_long(o->value[TDSC__OPT_BROWSER_PORT], 1, 65535, &o->browser_port);
  tdsc_errc rc = tdsc__partner_check(o, err);
  if (rc != TDSC_OK)
    return rc;
  bool mars = false;
  parse_bool(o->value[TDSC__OPT_MARS], &mars);
  if (mars)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "MultipleActiveResultSets=yes is not supported: a "
                         "connection runs one request at a time (read or "
                         "free a result before the next request), so open "
                         "a connection for each concurrent request");
  const char *mechs = o->value[TDSC__OPT_AUTHENTICATION];
  const char *uid = o->value[TDSC__OPT_UID];
  const char *integrated = o->value[TDSC__OPT_INTEGRATED];
  if (integrated && mechs)
    return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                         "both Authentication= and %s= are given: keep "
                         "Authentication= (the ordered list of mechanisms "
                         "to try)",
                         tdsc__optdefs[TDSC__OPT_INTEGRATED].info.keyword);
  if (integrated) /* sspi, yes, true: the integrated mechanisms */
    mechs = parse_bool(integrated, &yes) && !yes ? "sql" : "kerberos,ntlm";
  if (!mechs && o->value[TDSC__OPT_ACCESS_TOKEN])
    mechs = "entra"; /* a token says how to log in (as ODBC's does) */
  if (!mechs) /* integrated security unless a SQL login was given; a UID
                 of the form DOMAIN\user is a Windows account (FreeTDS's
                 convention): NTLM */
    mechs = !uid ? "kerberos,ntlm" : strchr(uid, '\\') ? "ntlm" : "sql";
  return parse_mechs(o, mechs, err);
}

void tdsc__options_clear(tdsc__options *o) {
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    if (o->value[i] && tdsc__optdefs[i].info.secret)
      tdsc__wipe(o->value[i], strlen(o->value[i]));
    free(o->value[i]);
  }
  memset(o, 0, sizeof *o);
}

const char *tdsc__opt(const tdsc__options *o, tdsc__opt_id id) {
  return o->value[id];
}

/* A pair of the service file: fills what the string did not give. */
static tdsc_errc service_set(const char *key, const char *value, void *ud,
                             tdsc_error *err) {
  tdsc__options *o = ud;
  const tdsc__optdef *d = find_def(key, strlen(key));
  if (!d)
    return unknown_keyword(key, strlen(key), err);
  if (d->id == TDSC__OPT_SERVICE)
    return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                         "a service section cannot name another Service=");
  if (o->value[d->id])
    return TDSC_OK; /* the string wins */
  return (o->value[d->id] = tdsc__strdup(value)) ? TDSC_OK
                                                 : tdsc__err_oom(err);
}

/* Server=<name>, a bare name, resolved through a freetds.conf section as
 * FreeTDS's users expect: its host (the name itself when absent), port or
 * instance, and its encryption when Encrypt= was not chosen. */
static tdsc_errc freetds_server(tdsc__options *o, bool encrypt_chosen,
                                tdsc_error *err) {
  const char *name = o->value[TDSC__OPT_SERVER];
  if (!name || !*name || strpbrk(name, ":,\\[/ "))
    return TDSC_OK;
  tdsc__conf_server fs;
  tdsc_errc rc = tdsc__conf_freetds(name, &fs, err);
  if (rc != TDSC_OK || !fs.found)
    return rc;
  const char *host = fs.host[0] ? fs.host : name;
  char *target = fs.instance[0]
                     ? tdsc__strdup_printf("%s\\%s%s%s", host, fs.instance,
                                           fs.port[0] ? "," : "", fs.port)
                     : tdsc__strdup_printf("tcp:%s%s%s", host,
                                           fs.port[0] ? "," : "", fs.port);
  if (!target)
    return tdsc__err_oom(err);
  free(o->value[TDSC__OPT_SERVER]);
  o->value[TDSC__OPT_SERVER] = target;
  static const char *const enc[][2] = {{"off", "off"},
                                       {"request", "optional"},
                                       {"require", "mandatory"},
                                       {"strict", "strict"}};
  for (size_t i = 0; !encrypt_chosen && fs.encryption[0] && i < 4; i++)
    if (!strcasecmp(fs.encryption, enc[i][0])) {
      free(o->value[TDSC__OPT_ENCRYPT]);
      if (!(o->value[TDSC__OPT_ENCRYPT] = tdsc__strdup(enc[i][1])))
        return tdsc__err_oom(err);
    }
  return TDSC_OK;
}

/* PWD= from the password file when neither the string, the service file
 * nor TDSC_PASSWORD gave one, for a login named by UID=. */
static tdsc_errc password_file(tdsc__options *o, tdsc_error *err) {
  const char *uid = o->value[TDSC__OPT_UID];
  const char *server = o->value[TDSC__OPT_SERVER];
  if (o->value[TDSC__OPT_PWD] || !uid || !server)
    return TDSC_OK;
  tdsc__target t;
  tdsc_error ignored = {0};
  if (tdsc__target_parse(server, &t, &ignored) != TDSC_OK) {
    tdsc__err_clear(&ignored);
    return TDSC_OK; /* the connect reports the target */
  }
  char port[8] = "";
  if (t.port)
    snprintf(port, sizeof port, "%u", (unsigned)t.port);
  return tdsc__conf_password(t.host, t.port ? port : NULL,
                             o->value[TDSC__OPT_DATABASE], uid,
                             &o->value[TDSC__OPT_PWD], o->note,
                             sizeof o->note, err);
}

/* Reads one value at *p (braced or bare), leaving *p after it. */
static tdsc_errc read_value(const char **pp, tdsc__buf *val, const char *key,
                            size_t klen, tdsc_error *err) {
  const char *p = *pp;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '{') {
    for (p++;; p++) {
      if (!*p)
        return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                             "the value of '%.*s' opens a '{' that is never "
                             "closed",
                             (int)klen, key);
      if (*p == '}') {
        if (p[1] != '}')
          break;
        p++;
      }
      tdsc__buf_put_u8(val, (uint8_t)*p);
    }
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p && *p != ';')
      return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                           "unexpected text after the braced value of '%.*s'",
                           (int)klen, key);
  } else {
    size_t n = strcspn(p, ";");
    size_t m = n;
    while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
      m--;
    tdsc__buf_put(val, p, m);
    p += n;
  }
  *pp = p;
  return TDSC_OK;
}

tdsc_errc tdsc__options_parse(tdsc__options *o, const char *s,
                              tdsc_error *err) {
  tdsc_errc rc = TDSC_OK;
  tdsc__buf val;
  tdsc__buf_init(&val);
  memset(o, 0, sizeof *o);
  if (!s)
    s = "";
  /* the last secret keyword met: what follows it is never quoted */
  const tdsc__optdef *secret = NULL;
  for (const char *p = s; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ';')
      p++;
    if (!*p)
      break;
    const char *key = p;
    size_t at = (size_t)(p - s);
    size_t klen = strcspn(p, "=;");
    if (p[klen] != '=') {
      rc = secret ? hidden_text(err, TDSC_E_BAD_CONNSTR, secret, at,
                                "text without '=value'")
                  : tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                                  "'%.*s' has no '=value' (write key=value "
                                  "pairs separated by ';')",
                                  (int)klen, key);
      goto out;
    }
    p += klen + 1;
    while (klen && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
      klen--;
    const tdsc__optdef *d = find_def(key, klen);
    if (!d) {
      rc = secret ? hidden_text(err, TDSC_E_UNKNOWN_KEYWORD, secret, at,
                                "an unknown keyword")
                  : unknown_keyword(key, klen, err);
      goto out;
    }
    if (o->given[d->id]) {
      rc = secret ? hidden_text(err, TDSC_E_BAD_CONNSTR, secret, at,
                                "a keyword given twice")
                  : tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                                  "%s is given twice (last as '%.*s')",
                                  d->info.keyword, (int)klen, key);
      goto out;
    }
    if (secret) {
      o->after_secret[d->id] = (uint8_t)(secret->id + 1);
      o->offset[d->id] = at;
    }
    tdsc__buf_reset(&val);
    if ((rc = read_value(&p, &val, key, klen, err)) != TDSC_OK) {
      if (secret)
        hidden_text(err, rc, secret, at, "a malformed braced value");
      goto out;
    }
    char *v = tdsc__buf_cstr(&val);
    if (!v || !(o->value[d->id] = tdsc__strdup(v))) {
      rc = tdsc__err_oom(err);
      goto out;
    }
    o->given[d->id] = true;
    if (d->info.secret)
      secret = d;
  }
  const char *service = o->value[TDSC__OPT_SERVICE];
  if (!service)
    service = getenv(tdsc__optdefs[TDSC__OPT_SERVICE].info.env);
  if (service && *service &&
      (rc = tdsc__conf_service(service, service_set, o, err)) != TDSC_OK)
    goto out;
  bool encrypt_chosen = o->value[TDSC__OPT_ENCRYPT] != NULL;
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    const tdsc__optdef *d = &tdsc__optdefs[i];
    const char *fallback = NULL;
    if (o->value[i])
      continue;
    if (d->info.env)
      fallback = getenv(d->info.env);
    if (!fallback || !*fallback)
      fallback = d->info.default_value;
    if (fallback && !(o->value[i] = tdsc__strdup(fallback))) {
      rc = tdsc__err_oom(err);
      goto out;
    }
  }
  if ((rc = freetds_server(o, encrypt_chosen, err)) != TDSC_OK ||
      (rc = password_file(o, err)) != TDSC_OK)
    goto out;
  rc = typecheck(o, err);
out:
  tdsc__buf_wipe(&val);
  tdsc__buf_free(&val);
  if (rc != TDSC_OK)
    tdsc__options_clear(o);
  return rc;
}

const tdsc_option_info *tdsc_option_at(size_t i) {
  return i < TDSC__OPT_COUNT ? &tdsc__optdefs[i].info : NULL;
}

/* Key={value}; with '}' doubled: read_value's quoting, so that any value
 * reads back as it was. */
static void put_pair(tdsc__buf *b, const char *key, const char *value) {
  tdsc__buf_put(b, key, strlen(key));
  tdsc__buf_put(b, "={", 2);
  for (const char *p = value; *p; p++) {
    tdsc__buf_put_u8(b, (uint8_t)*p);
    if (*p == '}')
      tdsc__buf_put_u8(b, '}');
  }
  tdsc__buf_put(b, "};", 2);
}

char *tdsc__options_connstr(const tdsc__options *o, tdsc__opt_id id,
                            const char *value) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++)
    if (o->given[i] && i != id)
      put_pair(&b, tdsc__optdefs[i].info.keyword, o->value[i]);
  if (value)
    put_pair(&b, tdsc__optdefs[id].info.keyword, value);
  char *s = tdsc__buf_cstr(&b);
  char *out = s ? tdsc__strdup(s) : NULL;
  tdsc__buf_wipe(&b); /* it may hold PWD= */
  tdsc__buf_free(&b);
  return out;
}
