/* The token exchange of every context mechanism (Kerberos, NTLM; GSSAPI,
 * SSPI or our own NTLM), written once: raw mechanism tokens, or SPNEGO
 * (RFC 4178, MS-SPNG) around them through spnego.c's framing.  A mechanism
 * file gives a few hooks (one context call, the MIC over the mechTypes,
 * what a rejection means) and keeps its own credentials and error
 * translation; the order of tokens, negState, the mechListMIC rules and
 * every protocol error live here. */
#ifndef TDSC_EXCHANGE_H
#define TDSC_EXCHANGE_H

#include "auth/auth.h"
#include "auth/spnego.h"

/* What a mechanism is, whoever provides it (GSSAPI, SSPI, ntlm.c): one
 * row each in exchange.c. */
typedef struct tdsc__mech_facts {
  const char *label;        /* "Kerberos", "NTLM": for messages */
  const char *first_reply;  /* the server's first token: "AP-REP", ... */
  const tdsc__oid *oid;     /* the one mechanism offered in SPNEGO */
  const tdsc__oid *alias;   /* also accepted as supportedMech, or NULL */
  tdsc_errc broken_code;    /* a step after a failure */
  tdsc_errc no_token_code;  /* no server token where one is due (NTLM: a
                               server that sends no CHALLENGE refuses NTLM) */
  tdsc_errc reject_code[2]; /* negState reject before / after our context
                               completed (NTLM: refused / judged) */
  tdsc_errc mic_code;       /* the server's mechListMIC does not verify */
  bool one_round;           /* the first server token completes it (NTLM) */
  bool reject_decodes;      /* a reject's responseToken is the mechanism's
                               error (a KRB-ERROR), given to ctx first */
} tdsc__mech_facts;

extern const tdsc__mech_facts tdsc__facts_kerberos, tdsc__facts_ntlm;

/* What a provider does for the exchange. */
typedef struct tdsc__mech_hooks {
  /* One context call: in is NULL on the first; appends the mechanism's
   * token to tok; *complete when the context is established (Kerberos:
   * the server proved itself).  TDSC__AGAIN: the call runs on the worker
   * (worker.h); the driver returns TDSC__AUTH_PENDING and is called again
   * with the same input. */
  tdsc_errc (*ctx)(void *m, const uint8_t *in, size_t inlen, tdsc__buf *tok,
                   bool *complete, tdsc_error *err);
  /* The mechListMIC over msg (RFC 4178 5), appended to mic. */
  tdsc_errc (*get_mic)(void *m, const tdsc__buf *msg, tdsc__buf *mic,
                       tdsc_error *err);
  /* Whether the server's mechListMIC over msg verifies; when not, the
   * provider's status may be left in prov (the exchange says the rest). */
  bool (*verify_mic)(void *m, const tdsc__buf *msg, const uint8_t *mic,
                     size_t miclen, tdsc_error *prov);
  /* Who and what, for messages: "alice@R for MSSQLSvc/h:1433". */
  void (*subject)(void *m, char *buf, size_t n);
} tdsc__mech_hooks;

typedef struct tdsc__exchange {
  const tdsc__mech_facts *f;
  const tdsc__mech_hooks *h;
  void *m;
  bool spnego;
  enum {
    TDSC__XC_START,    /* nothing sent */
    TDSC__XC_RUNNING,  /* our first token sent, the context not complete */
    TDSC__XC_COMPLETE, /* the context complete (NTLM: AUTHENTICATE sent) */
    TDSC__XC_FINISHED, /* SPNEGO: the server's final NegTokenResp seen */
    TDSC__XC_BROKEN
  } ph;
  bool mic_sent;
  char *identity;      /* the mechanism's client identity (owned), or NULL */
  tdsc__buf mech_list; /* DER of the mechTypes we sent (the MIC covers it) */
  /* the channel bindings' application data (auth.h bind), empty: none;
   * the provider's ctx hook reads it */
  tdsc__buf bindings;
} tdsc__exchange;

void tdsc__exchange_init(tdsc__exchange *x, const tdsc__mech_facts *f,
                         const tdsc__mech_hooks *h, void *m, bool spnego);
/* The mech_ops step (auth.h) of every context mechanism: state is the
 * mechanism's, whose first member is its tdsc__exchange. */
tdsc__auth_status tdsc__exchange_step(void *state, const uint8_t *in,
                                      size_t inlen, tdsc__buf *out,
                                      tdsc_error *err);
/* The mech_ops bind (auth.h) of every context mechanism: keeps a copy for
 * the provider's ctx hook. */
tdsc_errc tdsc__exchange_bind(void *state, const uint8_t *app, size_t len,
                              tdsc_error *err);
/* The serialised gss_channel_bindings_struct of the application data app
 * (RFC 2744 section 3.11, MS-NLMP 2.2.2.1 MsvAvChannelBindings's input):
 * two empty addresses, then app's length and bytes, appended to out. */
void tdsc__chan_bindings_serialise(const uint8_t *app, size_t len,
                                   tdsc__buf *out);
/* The mech_ops identity (auth.h) of every context mechanism. */
const char *tdsc__exchange_identity(void *state);
void tdsc__exchange_free(tdsc__exchange *x);

#endif
