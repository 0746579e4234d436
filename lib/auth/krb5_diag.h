/* Internals of gssapi.c exposed for its unit tests: the diagnosis table
 * (GSSAPI major status + krb5 error code -> tdsc error code) and the count
 * of KDC worker threads still running (see gssapi.c, "Deadlines"). */
#ifndef TDSC_KRB5_DIAG_H
#define TDSC_KRB5_DIAG_H

#include "error.h"

#include <stdint.h>

/* When the failure happened: decides what BAD_INTEGRITY means (a wrong
 * password at the KDC, or a server that cannot decrypt its ticket). */
typedef enum tdsc__krb_phase {
  TDSC__KRB_ACQUIRE, /* getting the client's credentials (AS exchange) */
  TDSC__KRB_INIT,    /* first token: TGS exchange for the SPN */
  TDSC__KRB_ACCEPT   /* processing the server's token (AP-REP/KRB-ERROR) */
} tdsc__krb_phase;

/* Maps GSSAPI's major status and the krb5 mechanism's minor status (a
 * krb5_error_code) to a KRB_* code; TDSC_E_KRB_FAILED when unknown. */
tdsc_errc tdsc__krb_classify(uint32_t major, int32_t krb5_code,
                             tdsc__krb_phase phase);

/* Worker threads of abandoned or running GSSAPI calls still alive. */
unsigned tdsc__krb_workers_active(void);

#endif
