/* Authentication mechanisms: one file per mechanism (gssapi.c for Kerberos
 * through MIT GSSAPI, ntlm.c, sspi.c, sqllogin.c), each exposing the same
 * small table (libpq's SASL mechanisms, curl's vauth).  The session drives a
 * mechanism through LOGIN7's SSPI field, packet type 0x11 and token 0xED;
 * a mechanism knows nothing of TDS.  Its state is opaque to the session. */
#ifndef TDSC_AUTH_H
#define TDSC_AUTH_H

#include "buf.h"
#include "error.h"

/* What a mechanism is given for one login attempt. Strings are UTF-8 and
 * may be NULL when not set. */
typedef struct tdsc__auth_params {
  const char *sql_user;     /* SQL login: UID= */
  const char *sql_password; /* SQL login: PWD= (kept as a pointer: it
                               lives as long as the attempt) */
  const char *spn;          /* service principal, "MSSQLSvc/host:port[@REALM]" */
  const char *ccache;       /* KrbCCache=: a credential cache name */
  const char *keytab;       /* KrbKeytab=: a client keytab */
  const char *principal;    /* KrbPrincipal=: the client principal */
  const char *password;     /* KrbPassword=: acquired in memory only */
  const char *ntlm_user;     /* NTLM: "DOMAIN\\user" (or "user@domain") */
  const char *ntlm_password;
  const char *ntlm_credfile; /* NTLM: a file of "DOMAIN\\user:password" */
  const char *workstation;   /* NTLM: this machine's name */
  bool spnego;              /* wrap in SPNEGO (RFC 4178); raw mechanism
                               tokens otherwise */
  const char *access_token; /* Entra ID: AccessToken= (a bearer secret) */
  tdsc_token_fn token_fn;   /* Entra ID: the application's provider */
  void *token_ud;
  const char *audience;     /* Entra ID: EntraAudience=, NULL for Azure SQL */
  /* Entra ID token sources over HTTP (oauth.h) */
  const char *client_id;     /* UID=: a service principal's application id,
                                a user-assigned identity's client id */
  const char *client_secret; /* PWD= (service principal): the secret, or
                                the passphrase of client_cert's key */
  const char *client_cert;   /* EntraClientCertificate=: PEM cert + key */
  const char *tenant;        /* EntraTenant= (AZURE_TENANT_ID) */
  const char *authority;     /* EntraAuthority= (AZURE_AUTHORITY_HOST) */
  const char *imds;          /* EntraIMDS=: the instance metadata endpoint */
  const char *cafile;        /* CAFile=: also trusted for token endpoints */
  bool encrypt_off;         /* Encrypt=off: no secret may go (entra.c) */
  int64_t deadline;         /* every call returns by then (clock.h) */
  bool pending_ok;          /* step may return TDSC__AUTH_PENDING (the
                               connect state machine); else every call
                               waits for its provider */
} tdsc__auth_params;

typedef enum tdsc__auth_status {
  TDSC__AUTH_CONTINUE, /* send *out (if not empty), expect a server token */
  TDSC__AUTH_DONE,     /* authenticated (and the server proved itself);
                          send *out if not empty */
  TDSC__AUTH_FAILED,   /* err says why */
  TDSC__AUTH_PENDING   /* a provider call runs on the worker (only with
                          pending_ok): wait until the mechanism's pollfd
                          is readable or the deadline, then step again
                          with the same input */
} tdsc__auth_status;

typedef struct tdsc__mech_ops {
  const char *name; /* "kerberos", as in Authentication= */
  /* Prepares one login: acquires credentials for p. Fails with the
   * mechanism's codes (e.g. TDSC_E_KRB_NO_CREDENTIALS) without any token
   * exchanged. *state is freed with free_state, also after a failure. */
  tdsc_errc (*init)(void **state, const tdsc__auth_params *p,
                    tdsc_error *err);
  /* Optional: with pending_ok, init may leave acquiring the credentials
   * (which may ask a KDC) to this, called after init and before any
   * traffic until it stops returning TDSC__AUTH_PENDING (waiting on
   * pollfd meanwhile): DONE, or FAILED with init's codes. */
  tdsc__auth_status (*acquire)(void *state, tdsc_error *err);
  /* One step: in is the server's token (NULL, 0 on the first call), *out
   * receives the token to send (appended; may stay empty). */
  tdsc__auth_status (*step)(void *state, const uint8_t *in, size_t inlen,
                            tdsc__buf *out, tdsc_error *err);
  /* The client identity used, for trails and messages ("" if unknown). */
  const char *(*identity)(void *state);
  void (*free_state)(void *state);
  /* A mechanism without tokens (step NULL: SQL login) gives instead the
   * user name and password the login record carries (MS-TDS 2.2.6.4). */
  void (*basic)(void *state, const char **user, const char **password);
  /* While step returns PENDING: a descriptor readable once the provider
   * call is done (POSIX; -1 or a NULL op: none, poll again shortly). */
  intptr_t (*pollfd)(void *state);
  /* A mechanism of federated authentication (MS-TDS 2.2.6.4 FEDAUTH)
   * gives its security token (UTF-8, valid as long as the state), which
   * session/fedauth.c puts in LOGIN7; NULL for the others. */
  const char *(*bearer)(void *state);
  /* Optional (the context mechanisms): the channel bindings of the TLS
   * session the login travels in (RFC 5056; doc/channel-binding.md),
   * given before the first step: app is the application data of RFC
   * 2744's gss_channel_bindings_struct ("tls-unique:" and the binding's
   * bytes; both addresses empty), copied.  Not called: no bindings. */
  tdsc_errc (*bind)(void *state, const uint8_t *app, size_t len,
                    tdsc_error *err);
  /* Optional (a mechanism of federated authentication whose token is got
   * during the login: MS-TDS's ADAL workflow): LOGIN7's FEDAUTH names the
   * library and fedauth_workflow, no token; the server's FEDAUTHINFO
   * (2.2.7.12: its STS URL and SPN, either NULL when absent) is given
   * here, which readies the token's fetch (or fails: the mechanism's
   * codes, TDSC_E_PROTOCOL for what the server said); acquire then gets
   * it (PENDING on its pollfd as before the login) and bearer gives it,
   * for the Federated Authentication Token message (2.2.6.3). */
  tdsc_errc (*fedauth_info)(void *state, const char *sts_url,
                            const char *spn, tdsc_error *err);
  uint8_t fedauth_workflow;
  /* Optional: the server's verdict on the login, once it came: accepted
   * (LOGINACK) or refused (an ERROR token) — for what the mechanism keeps
   * beyond the login (entra.c's cache of fetched tokens). */
  void (*judged)(void *state, bool accepted);
  /* Optional (the entra mechanisms): what the mechanism read of its
   * token, for the trail (tdsc_attempt_token_source, _claims): where it
   * came from and its non-secret claims, each "" while unknown, never
   * the token; valid as long as the state, also after a failure. */
  void (*token_facts)(void *state, const char **source, const char **claims);
} tdsc__mech_ops;

/* Kerberos through GSSAPI (gssapi.c); NULL where the build has no GSSAPI. */
extern const tdsc__mech_ops *const tdsc__mech_kerberos;
/* NTLMv2, written here on OpenSSL's primitives (ntlm.c). */
extern const tdsc__mech_ops *const tdsc__mech_ntlm;
/* SQL Server's own login: UID=/PWD= in LOGIN7, no tokens (sqllogin.c). */
extern const tdsc__mech_ops *const tdsc__mech_sql;
/* Microsoft Entra ID access tokens, sent as a FEDAUTH security token
 * (entra.c). */
extern const tdsc__mech_ops *const tdsc__mech_entra;
/* The same with the token fetched over HTTP (entra.c, oauth.c): a service
 * principal's client secret, managed identity, workload identity. */
extern const tdsc__mech_ops *const tdsc__mech_entra_sp;
extern const tdsc__mech_ops *const tdsc__mech_entra_msi;
extern const tdsc__mech_ops *const tdsc__mech_entra_workload;

#endif
