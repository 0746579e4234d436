/* The words of a Kerberos failure (krb5_diag.h): one message per tdsc
 * code, naming the SPN, the client, the realm and where the credentials
 * came from.  gssapi.c (MIT) and sspi.c (Windows) decide the code
 * (krb5_diag.c's tables, plus the facts only their provider can find:
 * krb5_facts.c) and gather the facts; this file alone turns them into
 * the message, so that the same failure reads the same on both builds. */
#include "config.h"

#include "auth/krb5_diag.h"

#include <stdio.h>

/* What the caller was doing when the failure happened. */
static const char *doing(tdsc__krb_phase phase) {
  return phase == TDSC__KRB_ACQUIRE ? "getting initial credentials"
         : phase == TDSC__KRB_INIT  ? "getting a ticket"
                                    : "processing the server's token";
}

static const char *or_q(const char *s) { return s ? s : "?"; }

tdsc_errc tdsc__krb_message(tdsc_error *err, tdsc_errc ec,
                            const tdsc__krb_what *w) {
  const char *rn = w->realm, *spn = w->spn, *who = w->who, *t = w->text;
  const char *dn = doing(w->phase);
  bool acquire = w->phase == TDSC__KRB_ACQUIRE;
  switch (ec) {
  case TDSC_E_KRB_KDC_UNREACHABLE:
    if (w->took_ms >= 0)
      return tdsc__err_set(err, ec,
                           "no KDC of realm %s could be reached while %s for "
                           "%s as %s (krb5 gave up after %lld ms; %s): %s",
                           rn, dn, spn, who, (long long)w->took_ms,
                           w->kdcs ? w->kdcs : "no kdc in krb5.conf; DNS", t);
    return tdsc__err_set(err, ec,
                         "no KDC of realm %s could be reached while %s for "
                         "%s as %s: %s",
                         rn, dn, spn, who, t);
  case TDSC_E_KRB_SPN_UNKNOWN:
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s has no service principal %s "
                         "(asked by %s): %s",
                         rn, spn, who, t);
  case TDSC_E_KRB_NO_TRUST_PATH:
    if (w->client_realm && w->svc_realm)
      return tdsc__err_set(err, ec,
                           "realm %s of client %s has no trust path to realm "
                           "%s of service %s: the KDC of %s has no "
                           "cross-realm principal krbtgt/%s@%s: %s",
                           w->client_realm, who, w->svc_realm, spn,
                           w->client_realm, w->svc_realm, w->client_realm, t);
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s found no trust path "
                         "(cross-realm krbtgt) to the realm of %s while %s "
                         "as %s: %s",
                         rn, spn, dn, who, t);
  case TDSC_E_KRB_NO_CREDENTIALS:
    return tdsc__err_set(err, ec, "no Kerberos credentials for %s in %s: %s",
                         who, w->cred_desc, t);
  case TDSC_E_KRB_WRONG_PRINCIPAL:
    return tdsc__err_set(err, ec,
                         "%s holds the credentials of %s, not of %s as "
                         "asked: %s",
                         w->cred_desc, w->held ? w->held : "another principal",
                         w->asked ? w->asked : who, t);
  case TDSC_E_KRB_KEYTAB_UNUSABLE:
    if (w->problem)
      return tdsc__err_set(err, ec, "%s (getting initial credentials for %s)",
                           w->problem, w->asked ? w->asked : "its principal");
    return tdsc__err_set(
        err, ec, "the client keytab %s cannot be used for %s: %s",
        or_q(w->keytab), w->asked ? w->asked : "its principal", t);
  case TDSC_E_KRB_CCACHE_UNUSABLE:
    if (w->problem)
      return tdsc__err_set(err, ec, "%s (getting credentials for %s): %s",
                           w->problem, spn, t);
    return tdsc__err_set(err, ec,
                         "the ticket cache (%s) cannot be used for %s: %s",
                         w->cred_desc, who, t);
  case TDSC_E_KRB_CLIENT_REVOKED:
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s refuses the account of %s "
                         "(expired, disabled, locked out, not yet valid or "
                         "outside its logon hours): %s",
                         rn, who, t);
  case TDSC_E_KRB_PASSWORD_EXPIRED:
    return tdsc__err_set(err, ec,
                         "the password of %s has expired (KDC of realm %s): "
                         "%s",
                         who, rn, t);
  case TDSC_E_KRB_ENCTYPE_UNSUPPORTED:
    return tdsc__err_set(
        err, ec,
        "%s and the KDC of realm %s share no encryption "
        "type while %s for %s%s%s%s: %s",
        acquire ? "the client's keys" : "the service key", rn, dn,
        acquire ? who : spn, w->enctypes ? " (this client allows " : "",
        w->enctypes ? w->enctypes : "", w->enctypes ? ")" : "", t);
  case TDSC_E_KRB_SERVICE_REFUSED:
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s will not issue a ticket for the "
                         "service %s (asked by %s): %s",
                         rn, spn, who, t);
  case TDSC_E_KRB_POLICY_REFUSED:
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s refused by policy while %s for "
                         "%s as %s: %s",
                         rn, dn, spn, who, t);
  case TDSC_E_KRB_AP_REJECTED:
    return tdsc__err_set(err, ec,
                         "the server behind %s rejected the authenticator of "
                         "%s: %s",
                         spn, who, t);
  case TDSC_E_BAD_OPTION_VALUE:
    return tdsc__err_set(err, ec,
                         "a Kerberos name does not parse (client %s, SPN %s): "
                         "%s",
                         who, spn, t);
  case TDSC_E_KRB_TICKET_EXPIRED:
    return tdsc__err_set(err, ec,
                         "the Kerberos ticket of %s (%s) has expired; getting "
                         "a ticket for %s failed: %s",
                         who, w->cred_desc, spn, t);
  case TDSC_E_KRB_CLOCK_SKEW:
    return tdsc__err_set(
        err, ec,
        "%s and this machine disagree on the time (Kerberos "
        "authentication of %s to %s): %s",
        w->phase == TDSC__KRB_ACCEPT ? "the server" : "the KDC", who, spn, t);
  case TDSC_E_KRB_SERVICE_KEY_MISMATCH:
    return tdsc__err_set(err, ec,
                         "the server could not decrypt the ticket the KDC of "
                         "realm %s issued for %s (its keytab or password is "
                         "not the KDC's, or the SPN belongs to another "
                         "account), client %s: %s",
                         rn, spn, who, t);
  case TDSC_E_KRB_CONFIG_INVALID:
    if (w->problem)
      return tdsc__err_set(err, ec, "%s (while %s; SPN %s)", w->problem, dn,
                           spn);
    return tdsc__err_set(err, ec,
                         "the Kerberos configuration (%s) cannot be used: %s",
                         or_q(w->config), t);
  case TDSC_E_KRB_REALM_UNKNOWN:
    return tdsc__err_set(err, ec,
                         "the Kerberos configuration (%s) does not know the "
                         "realm of %s (or of %s): %s",
                         or_q(w->config), who, spn, t);
  case TDSC_E_KRB_PREAUTH_FAILED:
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s refused the key of %s (%s): %s",
                         rn, who, w->cred_desc, t);
  case TDSC_E_KRB_CLIENT_UNKNOWN:
    return tdsc__err_set(err, ec,
                         "the KDC of realm %s does not know the client "
                         "principal %s: %s",
                         rn, who, t);
  case TDSC_E_KRB_MUTUAL_AUTH_FAILED:
    return tdsc__err_set(err, ec,
                         "the server did not prove its identity as %s "
                         "(Kerberos mutual authentication): %s",
                         spn, t);
  case TDSC_E_PROTOCOL:
    return tdsc__err_set(err, ec,
                         "the server's Kerberos token for %s is malformed "
                         "(while %s): %s",
                         spn, dn, t);
  case TDSC_E_NO_MEMORY:
    return tdsc__err_set(err, ec, "out of memory in %s (Kerberos): %s",
                         or_q(w->provider), t);
  default:
    return tdsc__err_set(err, ec,
                         "Kerberos authentication to %s as %s failed while "
                         "%s: %s%s",
                         spn, who, dn, t, w->note ? w->note : "");
  }
}

tdsc_errc tdsc__krb_timeout_message(tdsc_error *err, const tdsc__krb_what *w,
                                    long long waited_ms) {
  return tdsc__err_set(err, TDSC_E_KRB_KDC_UNREACHABLE,
                       "the KDC for realm %s%s%s%s did not answer within the "
                       "login timeout (waited %lld ms) while %s for %s as %s",
                       w->realm, w->kdcs ? " (" : "", w->kdcs ? w->kdcs : "",
                       w->kdcs ? ")" : "", waited_ms, doing(w->phase), w->spn,
                       w->who);
}

tdsc_errc tdsc__krb_check_params(const char *spn, const char *principal,
                                 const char *password, tdsc_error *err) {
  if (!spn || !*spn)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "Kerberos needs a service principal name (SPN)");
  if (password && !principal)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "KrbPassword= needs KrbPrincipal= (whose password "
                         "it is)");
  return TDSC_OK;
}

tdsc_errc tdsc__krb_not_mutual(tdsc_error *err, const char *spn) {
  return tdsc__err_set(err, TDSC_E_KRB_MUTUAL_AUTH_FAILED,
                       "the Kerberos context with %s was established "
                       "without mutual authentication",
                       spn);
}
