/* The authentication policy (DESIGN.md "The authentication policy"): the
 * table of mechanisms, what each one's failures and the server's refusals
 * mean, and the ordered fallback of Authentication= with the choice of the
 * headline failure.  connect.c runs the attempts and asks here; it never
 * names a mechanism.  A new mechanism is one file in lib/auth and one row
 * below (a federated one also fedauth.c's hooks). */
#include "config.h"

#include "session/session.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One row per mechanism of Authentication= (options.h). */
static const tdsc__mech_row rows[] = {
    {
        .mech = TDSC__MECH_SQL,
        .name = "sql",
        .label = "SQL",
        .ops = &tdsc__mech_sql,
        .owns_uid = true,
        .secret = true, /* the password itself, merely scrambled */
        .no_credentials = TDSC_E_LOGIN_NO_CREDENTIALS,
        .on_18456 = TDSC_E_LOGIN_FAILED,
        .on_18452 = {TDSC_E_UNTRUSTED_DOMAIN,
                     TDSC_E_UNTRUSTED_DOMAIN}, /* Windows logins only */
    },
    {
        .mech = TDSC__MECH_KERBEROS,
        .name = "kerberos",
        .label = "Kerberos",
        .ops = &tdsc__mech_kerberos,
        .absent_code = TDSC_E_KRB_FAILED,
        .absent = "this build of tdsclient has no Kerberos (GSSAPI): rebuild "
                  "it with MIT krb5 (Debian: libkrb5-dev)",
        .spn = true,
        .trail_spn = true,
        .unproven = TDSC_E_KRB_MUTUAL_AUTH_FAILED, /* no AP-REP seen */
        .no_credentials = TDSC_E_KRB_NO_CREDENTIALS,
        .on_18456 = TDSC_E_INTEGRATED_LOGIN_FAILED,
        /* the server's domain does not trust the client's realm */
        .on_18452 = {TDSC_E_UNTRUSTED_DOMAIN, TDSC_E_UNTRUSTED_DOMAIN},
    },
    {
        .mech = TDSC__MECH_NTLM,
        .name = "ntlm",
        .label = "NTLM",
        .ops = &tdsc__mech_ntlm,
        .absent_code = TDSC_E_NTLM_FAILED,
        .absent = "this build of tdsclient has no NTLM",
        .spn = true,    /* MsvAvTargetName */
        .secret = true, /* a password's response, crackable */
        .no_credentials = TDSC_E_NTLM_NO_CREDENTIALS,
        .on_18456 = TDSC_E_INTEGRATED_LOGIN_FAILED, /* no login mapped */
        /* For NTLM the 18452 says more by when it comes: before the
         * client's AUTHENTICATE the server refused NTLM itself; after it,
         * the domain refused the credentials (wrong password, unknown
         * account: the server does not say which). */
        .on_18452 = {TDSC_E_NTLM_REFUSED, TDSC_E_NTLM_LOGON_DENIED},
    },
    {
        .mech = TDSC__MECH_ENTRA,
        .name = "entra",
        .alias = "ActiveDirectoryAccessToken", /* ODBC's and SqlClient's name */
        .label = "Entra ID",
        .ops = &tdsc__mech_entra,
        .secret = true, /* a bearer token: whoever reads it may use it */
        .fedauth = true,
        .no_credentials = TDSC_E_ENTRA_NO_TOKEN,
        /* Azure SQL refuses a token it cannot validate, or a principal
         * without a user, with 18456 (fedauth.c's hint says which) */
        .on_18456 = TDSC_E_ENTRA_TOKEN_REJECTED,
        .on_18452 = {TDSC_E_ENTRA_TOKEN_REJECTED, TDSC_E_ENTRA_TOKEN_REJECTED},
    },
    /* The same, the token fetched over HTTP (oauth.c) first.  UID= is the
     * client id of the application or of a user-assigned identity, as in
     * ODBC and SqlClient, so Kerberos does not take it for a principal. */
    {
        .mech = TDSC__MECH_ENTRA_SP,
        .name = "entra-sp",
        .alias = "ActiveDirectoryServicePrincipal",
        .label = "Entra ID (service principal)",
        .ops = &tdsc__mech_entra_sp,
        .owns_uid = true,
        .secret = true,
        .fedauth = true,
        .no_credentials = TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS,
        .on_18456 = TDSC_E_ENTRA_TOKEN_REJECTED,
        .on_18452 = {TDSC_E_ENTRA_TOKEN_REJECTED, TDSC_E_ENTRA_TOKEN_REJECTED},
    },
    {
        .mech = TDSC__MECH_ENTRA_MSI,
        .name = "entra-msi",
        .alias = "ActiveDirectoryManagedIdentity",
        .label = "Entra ID (managed identity)",
        .ops = &tdsc__mech_entra_msi,
        .owns_uid = true,
        .secret = true,
        .fedauth = true,
        .no_credentials = TDSC_E_ENTRA_NO_TOKEN, /* always has a source */
        .on_18456 = TDSC_E_ENTRA_TOKEN_REJECTED,
        .on_18452 = {TDSC_E_ENTRA_TOKEN_REJECTED, TDSC_E_ENTRA_TOKEN_REJECTED},
    },
    {
        .mech = TDSC__MECH_ENTRA_WORKLOAD,
        .name = "entra-workload",
        .alias = "ActiveDirectoryWorkloadIdentity",
        .label = "Entra ID (workload identity)",
        .ops = &tdsc__mech_entra_workload,
        .owns_uid = true,
        .secret = true,
        .fedauth = true,
        .no_credentials = TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS,
        .on_18456 = TDSC_E_ENTRA_TOKEN_REJECTED,
        .on_18452 = {TDSC_E_ENTRA_TOKEN_REJECTED, TDSC_E_ENTRA_TOKEN_REJECTED},
    },
};

const tdsc__mech_row *tdsc__mech_row_of(tdsc__mech m) {
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (rows[i].mech == m)
      return &rows[i];
  return NULL; /* options.c accepts only the mechanisms above */
}

static bool names(const char *name, const char *p, size_t n) {
  return name && strlen(name) == n && !strncasecmp(name, p, n);
}

bool tdsc__mech_named(const char *p, size_t n, tdsc__mech *m) {
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (names(rows[i].name, p, n) || names(rows[i].alias, p, n)) {
      *m = rows[i].mech;
      return true;
    }
  return false;
}

const char *tdsc__mech_name(tdsc__mech m) {
  const tdsc__mech_row *r = tdsc__mech_row_of(m);
  return r ? r->name : "?";
}

/* Names that stand for several mechanisms, tried in order.
 * ActiveDirectoryDefault: the chain of Azure's DefaultAzureCredential for
 * a program without a user at a keyboard (its developer tools' sources
 * are not read): the environment's service principal (entra-sp without
 * UID=, oauth.c), workload identity, managed identity. */
static const struct {
  const char *name, *alias;
  tdsc__mech mechs[3];
} groups[] = {
    {"entra-default",
     "ActiveDirectoryDefault",
     {TDSC__MECH_ENTRA_SP, TDSC__MECH_ENTRA_WORKLOAD, TDSC__MECH_ENTRA_MSI}},
};

size_t tdsc__mech_group(const char *p, size_t n, const tdsc__mech **mechs) {
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (names(groups[i].name, p, n) || names(groups[i].alias, p, n)) {
      *mechs = groups[i].mechs;
      return sizeof groups[i].mechs / sizeof groups[i].mechs[0];
    }
  return 0;
}

void tdsc__mech_known(char *out, size_t cap) {
  size_t nr = sizeof rows / sizeof rows[0];
  size_t n = nr + sizeof groups / sizeof groups[0], at = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && at < cap; i++) {
    const char *sep = i == 0 ? "" : i + 1 < n ? ", " : " or ";
    const char *name = i < nr ? rows[i].name : groups[i - nr].name;
    const char *alias = i < nr ? rows[i].alias : groups[i - nr].alias;
    int k = snprintf(out + at, cap - at, "%s%s%s%s%s", sep, name,
                     alias ? " (" : "", alias ? alias : "", alias ? ")" : "");
    if (k < 0)
      break;
    at += (size_t)k;
  }
}

/* Failures that are the KDC's or the server's judgment of the client's
 * identity: the account refused, its password expired or wrong, the login
 * refused.  Trying another mechanism after one would be guessing at
 * another identity, so the chain stops there and says so. */
static bool judged(tdsc_errc rc) {
  switch (rc) {
  case TDSC_E_KRB_CLIENT_REVOKED:
  case TDSC_E_KRB_PASSWORD_EXPIRED:
  case TDSC_E_KRB_PREAUTH_FAILED:
  case TDSC_E_NTLM_LOGON_DENIED:
  case TDSC_E_NTLM_ACCOUNT_RESTRICTED:
  case TDSC_E_LOGIN_FAILED:
  case TDSC_E_INTEGRATED_LOGIN_FAILED:
  case TDSC_E_UNTRUSTED_DOMAIN:
  case TDSC_E_ENTRA_TOKEN_REJECTED:
  /* the identity provider judged the application or identity */
  case TDSC_E_ENTRA_CLIENT_SECRET_INVALID:
  case TDSC_E_ENTRA_CLIENT_SECRET_EXPIRED:
  case TDSC_E_ENTRA_APP_NOT_FOUND:
  case TDSC_E_ENTRA_CLIENT_CERT_REFUSED:
  case TDSC_E_ENTRA_IDENTITY_REFUSED:
    return true;
  default:
    return false;
  }
}

/* The fallback rule (DESIGN.md "Authentication policy"): move on to the
 * next mechanism only when this one failed before anyone judged an
 * identity, for a reason another mechanism can cure: this machine's
 * Kerberos set-up (no KDC, no ticket, no usable krb5.conf, keytab or
 * cache, a cache of another principal), the realms (unknown, no trust
 * path), the service (SPN unknown or refused, no common enctype), missing
 * NTLM credentials, or a server refusing NTLM.  Never after a judgment
 * (judged), nor after a failure that may be an attack (the server not
 * proving itself) or that the user must fix (clocks, KDC policy). */
static bool curable(tdsc_errc rc) {
  switch (rc) {
  /* an unusable access token, found before it was sent: no identity was
   * judged (as Kerberos's expired ticket) */
  case TDSC_E_ENTRA_NO_TOKEN:
  case TDSC_E_ENTRA_TOKEN_EXPIRED:
  case TDSC_E_ENTRA_TOKEN_NOT_YET_VALID:
  case TDSC_E_ENTRA_WRONG_AUDIENCE:
  case TDSC_E_ENTRA_TOKEN_MALFORMED:
  case TDSC_E_ENTRA_PROVIDER_FAILED:
  /* no token source here (no HTTP, no credentials, no metadata endpoint:
   * not on Azure), as a KDC out of reach */
  case TDSC_E_ENTRA_NO_HTTP:
  case TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS:
  case TDSC_E_ENTRA_ENDPOINT_UNREACHABLE:
  case TDSC_E_ENTRA_ENDPOINT_TIMEOUT:
  /* a certificate file this machine cannot use, as an unusable keytab:
   * nothing was sent, no identity judged (an expired certificate too:
   * it was refused here, before the identity provider saw it) */
  case TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE:
  case TDSC_E_ENTRA_CLIENT_CERT_NO_KEY:
  case TDSC_E_ENTRA_CLIENT_CERT_KEY_MISMATCH:
  case TDSC_E_ENTRA_CLIENT_CERT_PASSPHRASE:
  case TDSC_E_ENTRA_CLIENT_CERT_EXPIRED:
  case TDSC_E_KRB_KDC_UNREACHABLE:
  case TDSC_E_KRB_SPN_UNKNOWN:
  case TDSC_E_KRB_NO_CREDENTIALS:
  case TDSC_E_KRB_TICKET_EXPIRED:
  case TDSC_E_KRB_REALM_UNKNOWN:
  case TDSC_E_KRB_CLIENT_UNKNOWN:
  case TDSC_E_KRB_NO_TRUST_PATH:
  case TDSC_E_KRB_ENCTYPE_UNSUPPORTED:
  case TDSC_E_KRB_CONFIG_INVALID:
  case TDSC_E_KRB_KEYTAB_UNUSABLE:
  case TDSC_E_KRB_WRONG_PRINCIPAL:
  case TDSC_E_KRB_CCACHE_UNUSABLE:
  case TDSC_E_KRB_SERVICE_REFUSED:
  case TDSC_E_NTLM_NO_CREDENTIALS:
  case TDSC_E_NTLM_CREDFILE_UNUSABLE:
  case TDSC_E_NTLM_REFUSED:
  case TDSC_E_LOGIN_NO_CREDENTIALS:
    return true;
  default:
    return false;
  }
}

/* Failures that only say a mechanism had nothing to try with: each row's
 * no_credentials. */
static bool skipped(tdsc_errc rc) {
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (rc == rows[i].no_credentials)
      return rc != TDSC_OK;
  return false;
}

bool tdsc__mech_passed_over(tdsc_errc rc) { return skipped(rc); }

void tdsc__policy_fit_hint(tdsc_conn *c, bool local_attempt, const char *host) {
  if (c->err.code != TDSC_E_KRB_KDC_UNREACHABLE)
    return;
  if (!local_attempt && tdsc__host_is_local(host))
    return; /* the code's hint holds: TCP to a server on this machine */
  tdsc__err_hint(&c->err,
                 "No KDC of the realm answered: this machine is off its "
                 "domain (VPN?), the KDC is down, or krb5.conf names the "
                 "wrong KDC. Reach the domain, or allow NTLM%s.",
                 local_attempt ? " (this attempt was already local: the "
                                 "transport does not avoid the KDC)"
                               : "");
}

bool tdsc__policy_failed(tdsc__policy *p, tdsc_conn *c, size_t i,
                         tdsc_errc rc) {
  tdsc_error *keep = skipped(rc) ? &p->first_skip : &p->first;
  if (keep->code == TDSC_OK) {
    if (!tdsc__err_copy(keep, &c->err)) {
      p->oom = true;
      return false;
    }
    *(skipped(rc) ? &p->first_skip_at : &p->first_at) = i;
  }
  if (!curable(rc)) {
    p->stopped = true;
    return false;
  }
  return true;
}

void tdsc__policy_clear(tdsc__policy *p) {
  tdsc__err_clear(&p->first);
  tdsc__err_clear(&p->first_skip);
}

/* The headline (tdsclient(3), AUTHENTICATION): a failure that stopped the
 * chain (a judgment, or one no other mechanism can cure) must be fixed
 * whatever the mechanism, so it is the headline.  When every mechanism
 * failed curably, the earliest real failure is (an obstacle on the path
 * the user prefers), and when every mechanism only lacked credentials, the
 * first one's (credentials for the preferred mechanism: kinit rather than
 * NTLMUser=).  i: the mechanism tried last. */
/* ActiveDirectoryDefault's chain ended at managed identity, out of reach
 * (not on Azure), each source before it absent: no source at all, which
 * one code says, with what was looked for (each source's own reason is
 * its trail entry). */
static bool no_source(const tdsc__policy *p, const tdsc_conn *c, size_t i,
                      tdsc_errc rc) {
  return c->opts.entra_default && !p->stopped &&
         c->opts.mechs[i] == TDSC__MECH_ENTRA_MSI &&
         (rc == TDSC_E_ENTRA_ENDPOINT_UNREACHABLE ||
          rc == TDSC_E_ENTRA_ENDPOINT_TIMEOUT) &&
         (p->first.code == TDSC_OK || p->first_at == i);
}

tdsc_errc tdsc__policy_verdict(tdsc__policy *p, tdsc_conn *c, size_t i,
                               tdsc_errc rc) {
  if (p->oom)
    return tdsc__err_oom(&c->err);
  if (no_source(p, c, i, rc)) {
    char *msi = tdsc__strdup(tdsc_error_message(&c->err));
    tdsc__policy_clear(p);
    if (!msi)
      return tdsc__err_oom(&c->err);
    rc = tdsc__err_set(
        &c->err, TDSC_E_ENTRA_NO_SOURCE,
        "Authentication=ActiveDirectoryDefault found no Entra ID credential "
        "here: no complete service principal (UID= with PWD= or "
        "EntraClientCertificate=, or the environment's AZURE_CLIENT_ID, "
        "AZURE_TENANT_ID, and AZURE_CLIENT_SECRET or "
        "AZURE_CLIENT_CERTIFICATE_PATH), no workload identity "
        "(AZURE_FEDERATED_TOKEN_FILE), no managed identity (%s)",
        msi);
    free(msi);
    return rc;
  }
  tdsc_error *head = p->stopped                 ? NULL
                     : p->first.code != TDSC_OK ? &p->first
                                                : &p->first_skip;
  if (head && head->code != TDSC_OK &&
      (head == &p->first ? p->first_at : p->first_skip_at) != i) {
    /* the whole trail, with the headline failure's code and words */
    tdsc__err_take_trail(head, &c->err);
    tdsc__err_move(&c->err, head);
    rc = c->err.code;
  }
  tdsc__policy_clear(p);
  if (i + 1 < c->opts.nmechs) {
    /* Say why the rest of the list was not tried: the policy is visible. */
    char rest[64] = "";
    for (size_t k = i + 1; k < c->opts.nmechs; k++)
      snprintf(rest + strlen(rest), sizeof rest - strlen(rest), "%s%s",
               k > i + 1 ? ", " : "", tdsc__mech_name(c->opts.mechs[k]));
    if (judged(rc))
      tdsc__err_context(
          &c->err,
          "not falling back to %s: the %s judged this identity "
          "(another mechanism would only try another one)",
          rest,
          tdsc_errc_category(rc) == TDSC_CAT_KERBEROS ? "KDC"
          : tdsc_errc_category(rc) == TDSC_CAT_ENTRA &&
                  rc != TDSC_E_ENTRA_TOKEN_REJECTED
              ? "identity provider"
              : "server");
    else
      tdsc__err_context(&c->err,
                        "not falling back to %s: another mechanism cannot "
                        "cure this failure",
                        rest);
  } else if (c->opts.nmechs > 1) {
    tdsc__err_context(&c->err,
                      "every mechanism of Authentication= failed; "
                      "%s",
                      p->stopped ? "the last, which stopped the chain"
                      : skipped(rc)
                          ? "each lacked credentials; the first mechanism's"
                          : "the first real failure");
  }
  return rc;
}
