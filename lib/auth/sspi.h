/* What sspi.c (the mechanisms: jobs on the worker, statuses, context
 * steps) and sspi_cred.c (credentials: identities, NTLMCredFile=, the
 * acquisition that init makes) share.  Windows only; private to them. */
#ifndef TDSC_AUTH_SSPI_H
#define TDSC_AUTH_SSPI_H

#include "auth/auth.h"
#include "auth/exchange.h"
#include "transport/worker.h"
#include "transport/io.h" /* the waker */

#define SECURITY_WIN32
#include <windows.h>

#include <security.h>

#include <stddef.h>

/* Wipes a secret (a password copied into a job). */
static inline void tdsc__sspi_wipe(void *p, size_t n) {
  if (p)
    SecureZeroMemory(p, n);
}

/* Which call a failure comes from (sspi.c's messages). */
typedef enum phase {
  PH_ACQUIRE, /* AcquireCredentialsHandleW */
  PH_INIT,    /* the first InitializeSecurityContextW (TGS exchange) */
  PH_ACCEPT   /* a server token given to InitializeSecurityContextW */
} phase;

/* The SSPI handles a call may touch: moved into the job while it runs, and
 * left there (the worker frees them) when the caller gives up. */
typedef struct sspi_res {
  CredHandle cred;
  CtxtHandle ctx;
  bool have_cred, have_ctx;
} sspi_res;

typedef enum job_kind { JOB_ACQUIRE, JOB_INIT } job_kind;

/* A call's payload (worker.h): what one SSPI call reads and writes. */
typedef struct sspi_job {
  job_kind kind;
  sspi_res res;
  /* inputs, owned by the job */
  const WCHAR *package; /* static */
  WCHAR *principal;
  bool have_id;
  SEC_WINNT_AUTH_IDENTITY_W id; /* its strings point into idbuf */
  WCHAR *idbuf;
  size_t idbuf_len; /* in WCHARs, for the wipe */
  WCHAR *target;
  ULONG req;
  uint8_t *in;
  ULONG inlen;
  /* the channel bindings: a SEC_CHANNEL_BINDINGS and its application data
   * after it (doc/channel-binding.md), or NULL */
  uint8_t *cb;
  ULONG cblen;
  /* outputs */
  SECURITY_STATUS status;
  ULONG attrs;
  uint8_t *out;
  ULONG outcap, outlen;
} sspi_job;

typedef enum mech_kind { MECH_KRB, MECH_NTLM } mech_kind;

typedef struct sspi_state {
  tdsc__exchange x; /* first: the token exchange (exchange.c) steps it */
  mech_kind kind;
  const WCHAR *package;
  sspi_res res;
  int64_t deadline;
  ULONG req, attrs;
  ULONG max_token;
  char *spn;           /* as given, for messages */
  WCHAR *target;       /* what InitializeSecurityContextW is given */
  char *cred_desc;     /* "the logged-on user's credentials", for messages */
  char *realm;         /* the realm a Kerberos failure concerns, or NULL */
  /* a context call on the worker that the caller does not wait for
   * (auth.h PENDING): woken through wake */
  tdsc__waker *wake; /* NULL: every call waits (the params' pending_ok) */
  tdsc__work *pending;
  int64_t started; /* when the running call began, for messages */
} sspi_state;
_Static_assert(offsetof(sspi_state, x) == 0, "tdsc__exchange_step's state");

/* A work for a job of this kind; NULL: no memory (sspi.c). */
tdsc__work *tdsc__sspi_job_new(job_kind kind);
/* Runs w (inputs set, res empty) with s's deadline, waiting: moves s->res
 * in and back.  On failure err is set and w is gone (sspi.c). */
tdsc_errc tdsc__sspi_run(sspi_state *s, tdsc__work *w, phase ph,
                         tdsc_error *err);
/* A state of this kind for p, its exchange set up; NULL: no memory
 * (sspi.c). */
sspi_state *tdsc__sspi_state_new(mech_kind kind, const tdsc__auth_params *p);

/* The mechanisms' init (auth.h), in sspi_cred.c. */
tdsc_errc tdsc__sspi_krb_init(void **state, const tdsc__auth_params *p,
                              tdsc_error *err);
tdsc_errc tdsc__sspi_ntlm_init(void **state, const tdsc__auth_params *p,
                               tdsc_error *err);

#endif
