/* tdsc-doctor's shared pieces: the report model (checks with a status, facts
 * as key/value pairs, and for warn/fail the tdsclient error code), the
 * context every check reads (the parsed connection string, the target, the
 * library's plan of endpoints) and the check groups, one file each:
 * network.c (the transport a connect would use, PRELOGIN, TLS over it),
 * names.c (DNS, the SPN of that endpoint), kerberos.c (KDC, credentials,
 * service ticket, KDC clock; kerberos_none.c without GSSAPI), login.c (the
 * library's own connect, each mechanism of the policy, server clock).
 * Everything the library decides (target, transport order, SPN, policy,
 * the code of a failure) comes from the library's internal functions, never
 * from a copy here.  tdsc-doctor.c renders the report. */
#ifndef TDSC_DOCTOR_H
#define TDSC_DOCTOR_H

#include "session/options.h"
#include "transport/io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum doc_status { DOC_OK, DOC_SKIP, DOC_WARN, DOC_FAIL } doc_status;

typedef struct doc_fact {
  char *key;
  char *value;
} doc_fact;

/* One check of the report. */
typedef struct doc_check {
  const char *id;    /* stable: "names", "kdc", ... */
  const char *title; /* "Name resolution" */
  doc_status status;
  bool done;         /* status set by the check (else: skip, not run) */
  tdsc_errc code;    /* for warn / fail; TDSC_OK otherwise */
  char *message;     /* what went wrong, naming the objects; or NULL */
  char *provider;    /* raw provider status as text, or NULL */
  doc_fact *facts;
  size_t nfacts;
} doc_check;

enum {
  DOC_TRANSPORT,
  DOC_NAMES,
  DOC_KDC,
  DOC_CREDS,
  DOC_TICKET,
  DOC_CLOCK,
  DOC_TLS_OFFER,
  DOC_TLS,
  DOC_TLS_STRICT,
  DOC_CONNECT,
  DOC_AUTH_KERBEROS,
  DOC_AUTH_NTLM,
  DOC_AUTH_SQL,
  DOC_AUTH_ENTRA,
  DOC_AUTH_ENTRA_SP,
  DOC_AUTH_ENTRA_MSI,
  DOC_AUTH_ENTRA_WORKLOAD,
  DOC_NCHECKS
};

#define DOC_SPN_LEN 600
#define DOC_MAX_CANDS 4

/* What every check reads, and what earlier checks leave for later ones. */
typedef struct doc_ctx {
  tdsc__options opts;
  const char *connstr; /* as given: what the library connects with */
  tdsc__target target;
  tdsc__endpoint plan[TDSC__MAX_ENDPOINTS]; /* tdsc__endpoints_plan's */
  size_t nplan;
  tdsc__endpoint ep; /* the endpoint a connect uses (port resolved) */
  bool ep_reached;   /* it accepted a connection */
  int timeout_ms;    /* for each network step */
  doc_check checks[DOC_NCHECKS];
  /* names.c */
  char spn[DOC_SPN_LEN]; /* the SPN the library will use */
  char spn_how[1024];
  char cands[DOC_MAX_CANDS][DOC_SPN_LEN]; /* distinct candidates */
  size_t ncands;
  /* kerberos.c */
  bool kdc_answers;         /* false: the ticket check need not wait */
  bool have_kdc_offset;
  long long kdc_offset_s;   /* KDC clock - local clock */
  /* login.c */
  bool have_server_offset;
  long long server_offset_s;
  char working[64]; /* "kerberos, sql" */
  tdsc_errc verdict; /* the library's connect: TDSC_OK or its code */
} doc_ctx;

/* Whether the connection string's Authentication= policy lists m. */
bool doc_policy_has(const doc_ctx *d, tdsc__mech m);

/* ---- report building (tdsc-doctor.c) */
void doc_fact_add(doc_check *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the status; code and message (printf) for warn / fail. */
void doc_set(doc_check *c, doc_status st, tdsc_errc code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* From a structured error: status st, its code, message and provider. */
void doc_set_error(doc_check *c, doc_status st, const tdsc_error *e);
void doc_check_clear(doc_check *c);

/* ---- the check groups, in the order they run */
void doc_transport(doc_ctx *d);                     /* network.c: the plan */
void doc_names(doc_ctx *d);                         /* names.c */
void doc_kerberos(doc_ctx *d);                      /* kdc, creds, ticket */
void doc_tls(doc_ctx *d);                           /* network.c: tls-* */
void doc_logins(doc_ctx *d);                        /* connect, auth-* */
void doc_clock(doc_ctx *d);                         /* login.c: the verdict */
void doc_logins_end(doc_ctx *d);                    /* closes what is open */

/* Runs fn(arg, out) in a child process and copies its out (outlen bytes)
 * back: a KDC that accepts connections but never answers costs krb5 27 s,
 * and a child can be killed. False on timeout (out untouched) or when the
 * child could not run. (tdsc-doctor.c) */
bool doc_bounded(void (*fn)(void *arg, void *out), void *arg, void *out,
                 size_t outlen, int timeout_ms);

long long doc_now_ms(void);

#endif
