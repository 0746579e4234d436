/* The Kerberos diagnosis tables, shared by gssapi.c (MIT krb5 error codes)
 * and sspi.c (SECURITY_STATUS and NTSTATUS values), and by tdsc-doctor:
 * provider status -> tdsc error code.  One table per provider, every code
 * of the provider's error space has a row (krb5_diag.c); codes that stay
 * KRB_FAILED are rows too, each with the reason.  Also: the count of KDC
 * worker threads still running (gssapi.c, "Deadlines").  And the words
 * of a Kerberos failure, written once for both providers (krb5_message.c). */
#ifndef TDSC_KRB5_DIAG_H
#define TDSC_KRB5_DIAG_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* When the failure happened: decides what BAD_INTEGRITY means (a wrong
 * password at the KDC, or a server that cannot decrypt its ticket). */
typedef enum tdsc__krb_phase {
  TDSC__KRB_ACQUIRE, /* getting the client's credentials (AS exchange) */
  TDSC__KRB_INIT,    /* first token: TGS exchange for the SPN */
  TDSC__KRB_ACCEPT   /* processing the server's token (AP-REP/KRB-ERROR) */
} tdsc__krb_phase;

/* One row of the krb5 table: codes lo..hi (a range only for the magic
 * numbers of kv5m and the unused placeholders), MIT's name, and the code
 * while acquiring credentials (AS exchange) and after (TGS, AP). */
typedef struct tdsc__krb_row {
  long lo, hi;
  const char *name;
  tdsc_errc as, later;
} tdsc__krb_row;

extern const tdsc__krb_row tdsc__krb_table[];
extern const size_t tdsc__krb_table_len;

/* The row of a krb5 error code, or NULL when no table has it. */
const tdsc__krb_row *tdsc__krb_row_of(long code);

/* Maps GSSAPI's major status and the krb5 mechanism's minor status (a
 * krb5_error_code) to a tdsc code; TDSC_E_KRB_FAILED when unknown. */
tdsc_errc tdsc__krb_classify(uint32_t major, int32_t krb5_code,
                             tdsc__krb_phase phase);

/* One row of the SSPI table: a SECURITY_STATUS (or an NTSTATUS some
 * packages return) and its code for Kerberos (or Negotiate) and NTLM. */
typedef struct tdsc__sspi_row {
  uint32_t status;
  const char *name;
  tdsc_errc krb, ntlm;
} tdsc__sspi_row;

extern const tdsc__sspi_row tdsc__sspi_table[];
extern const size_t tdsc__sspi_table_len;

/* The code for an SSPI status; KRB_FAILED / NTLM_FAILED when unknown. */
tdsc_errc tdsc__sspi_classify(uint32_t status, bool ntlm);

/* What a Kerberos failure message names (krb5_message.c), gathered by
 * gssapi.c or sspi.c.  The first six are always set (words such as "the
 * default principal" where a name is unknown); the others are NULL (or
 * took_ms -1) when the provider cannot tell. */
typedef struct tdsc__krb_what {
  tdsc__krb_phase phase;
  const char *spn;       /* the service principal asked for */
  const char *who;       /* the client principal */
  const char *cred_desc; /* where its credentials are: "ccache FILE:/x" */
  const char *realm;     /* the realm the failure concerns */
  const char *text;      /* the provider's own words for the status */
  const char *provider;  /* "GSSAPI", "SSPI" */
  const char *client_realm, *svc_realm; /* NO_TRUST_PATH: both realms */
  const char *asked, *held;  /* the principal asked for; whose the creds are */
  const char *keytab;        /* KEYTAB_UNUSABLE: the client keytab */
  const char *problem;  /* KEYTAB, CCACHE, CONFIG: the provider-side fact
                         * (krb5_facts.h) that explains it, naming the file */
  const char *kdcs;     /* the KDCs and what a probe found */
  long long took_ms;    /* KDC_UNREACHABLE: how long the provider tried */
  const char *enctypes; /* ENCTYPE_UNSUPPORTED: what this client allows */
  const char *config;   /* CONFIG_INVALID, REALM_UNKNOWN: the config files */
  const char *note;     /* appended to the generic message (Wine's SSPI) */
} tdsc__krb_what;

/* Sets err to the message of code ec for the failure w describes, one
 * wording per code whatever the provider; returns ec.  The caller adds the
 * raw provider status (tdsc__err_provider). */
tdsc_errc tdsc__krb_message(tdsc_error *err, tdsc_errc ec,
                            const tdsc__krb_what *w);

/* Sets err to KRB_KDC_UNREACHABLE for a provider call the login deadline
 * cut short after waited_ms; returns that code. */
tdsc_errc tdsc__krb_timeout_message(tdsc_error *err, const tdsc__krb_what *w,
                                    long long waited_ms);

/* What both providers require of Kerberos' parameters: an SPN, and
 * KrbPassword= only with KrbPrincipal=.  INVALID_ARGUMENT, or TDSC_OK. */
tdsc_errc tdsc__krb_check_params(const char *spn, const char *principal,
                                 const char *password, tdsc_error *err);

/* KRB_MUTUAL_AUTH_FAILED: the context with spn completed, but the
 * provider says the server never proved itself (no AP-REP). */
tdsc_errc tdsc__krb_not_mutual(tdsc_error *err, const char *spn);

#endif
