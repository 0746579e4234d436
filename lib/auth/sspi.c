/* Kerberos and NTLM through SSPI (Windows): the "kerberos" and "ntlm"
 * mechanisms of auth.h.  On Windows this file replaces gssapi.c and ntlm.c
 * (the build picks the files); the session cannot tell them apart: same
 * tokens on the wire, same error codes for the same failures.
 *
 * Packages: "Kerberos" and "NTLM" themselves, never "Negotiate": Negotiate
 * may silently fall back from Kerberos to NTLM (the policy must decide
 * that, visibly), and under Wine it emits raw Kerberos, not SPNEGO.  As in
 * gssapi.c and ntlm.c, SPNEGO (RFC 4178, MS-SPNG) is spnego.c's DER around
 * the package's own tokens, offering that one mechanism; the mechListMIC is
 * the package's MakeSignature / VerifySignature over the mechTypes DER.
 *
 * Credentials: the logged-on user's (AcquireCredentialsHandleW with no
 * authentication data), or explicit ones (KrbPrincipal=/KrbPassword=,
 * NTLMUser=/NTLMPassword=, NTLMCredFile=) in a SEC_WINNT_AUTH_IDENTITY_W.
 * Kerberos always asks for mutual authentication and fails unless SSPI
 * says it was granted (ISC_RET_MUTUAL_AUTH).
 *
 * Deadlines: AcquireCredentialsHandleW (Wine gets the TGT there) and
 * InitializeSecurityContextW may wait for a KDC.  As in gssapi.c, each such
 * call runs on the worker (auth/worker.h) and the caller waits until the login
 * deadline; on timeout it abandons the job, which then owns the handles
 * and buffers it uses and releases them when the call finally returns.
 *
 * Errors: SECURITY_STATUS -> the codes gssapi.c and ntlm.c give for the
 * same situation (krb5_diag.c's SSPI table, shared with the unit tests and
 * the doctor); the raw status is kept as
 * provider TDSC_PROVIDER_SSPI, [0] = the SECURITY_STATUS (signed, as the
 * SEC_E_* constants are).  Wine's kerberos.dll reports every krb5 failure
 * as SEC_E_INTERNAL_ERROR (and a failed password logon as
 * STATUS_UNSUCCESSFUL): those stay KRB_FAILED, and the message says so.
 *
 * Secrets: the password is copied into the job as UTF-16, wiped as soon as
 * AcquireCredentialsHandleW returns, and never kept in the state; no token
 * or password reaches a message. */
#include "config.h"

#include "auth/auth.h"
#include "auth/credfile.h"
#include "auth/exchange.h"
#include "auth/worker.h"
#include "auth/krb5_diag.h"
#include "auth/spnego.h"
#include "clock.h"
#include "sec_win32.h"

#define SECURITY_WIN32
#include <windows.h>

#include <security.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What Kerberos asks for: gssapi.c's KRB_FLAGS. */
#define KRB_REQ                                                                \
  (ISC_REQ_MUTUAL_AUTH | ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT |     \
   ISC_REQ_INTEGRITY | ISC_REQ_CONFIDENTIALITY | ISC_REQ_CONNECTION)
/* NTLM: SIGN and SEAL, as ntlm.c, so the session keys (and so SPNEGO's
 * mechListMIC) exist. */
#define NTLM_REQ                                                               \
  (ISC_REQ_INTEGRITY | ISC_REQ_CONFIDENTIALITY | ISC_REQ_CONNECTION)

#ifndef STATUS_UNSUCCESSFUL
#define STATUS_UNSUCCESSFUL ((SECURITY_STATUS)0xC0000001L)
#endif
#ifndef STATUS_NTLM_BLOCKED
#define STATUS_NTLM_BLOCKED ((SECURITY_STATUS)0xC0000418L)
#endif

static void wipe(void *p, size_t n) {
  if (p)
    SecureZeroMemory(p, n);
}

static bool under_wine(void) {
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}

/* ------------------------------------------------------------ statuses */

typedef enum phase {
  PH_ACQUIRE, /* AcquireCredentialsHandleW */
  PH_INIT,    /* the first InitializeSecurityContextW (TGS exchange) */
  PH_ACCEPT   /* a server token given to InitializeSecurityContextW */
} phase;

/* The phase as krb5_message.c's Kerberos words know it. */
static tdsc__krb_phase krb_phase(phase ph) {
  return ph == PH_ACQUIRE ? TDSC__KRB_ACQUIRE
         : ph == PH_INIT  ? TDSC__KRB_INIT
                          : TDSC__KRB_ACCEPT;
}

/* ---------------------------------------------------------------- jobs */

/* The SSPI handles a call may touch: moved into the job while it runs, and
 * left there (the worker frees them) when the caller gives up. */
typedef struct sspi_res {
  CredHandle cred;
  CtxtHandle ctx;
  bool have_cred, have_ctx;
} sspi_res;

static void res_release(sspi_res *r) {
  if (r->have_ctx)
    DeleteSecurityContext(&r->ctx);
  if (r->have_cred)
    FreeCredentialsHandle(&r->cred);
  memset(r, 0, sizeof *r);
}

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
  /* outputs */
  SECURITY_STATUS status;
  ULONG attrs;
  uint8_t *out;
  ULONG outcap, outlen;
} sspi_job;

/* Frees j with what it holds: its inputs and the outputs nobody took. */
static void job_discard(void *arg) {
  sspi_job *j = arg;
  res_release(&j->res);
  if (j->idbuf) {
    wipe(j->idbuf, j->idbuf_len * sizeof(WCHAR));
    free(j->idbuf);
  }
  free(j->principal);
  free(j->target);
  free(j->in);
  free(j->out);
  free(j);
}

/* The SSPI call itself; may wait on a KDC for as long as SSPI likes. */
static void job_call(void *arg) {
  sspi_job *j = arg;
  TimeStamp expiry;
  if (j->kind == JOB_ACQUIRE) {
    j->status = AcquireCredentialsHandleW(
        j->principal, (WCHAR *)j->package, SECPKG_CRED_OUTBOUND, NULL,
        j->have_id ? &j->id : NULL, NULL, NULL, &j->res.cred, &expiry);
    j->res.have_cred = j->status == SEC_E_OK;
    /* SSPI keeps its own copy: ours goes now, not when the job dies */
    if (j->idbuf)
      wipe(j->idbuf, j->idbuf_len * sizeof(WCHAR));
    return;
  }
  SecBuffer ib = {j->inlen, SECBUFFER_TOKEN, j->in};
  SecBufferDesc id = {SECBUFFER_VERSION, 1, &ib};
  SecBuffer ob = {j->outcap, SECBUFFER_TOKEN, j->out};
  SecBufferDesc od = {SECBUFFER_VERSION, 1, &ob};
  CtxtHandle nctx;
  memset(&nctx, 0, sizeof nctx);
  /* Our own output buffer: Wine's packages fail ISC_REQ_ALLOCATE_MEMORY. */
  j->status = InitializeSecurityContextW(
      &j->res.cred, j->res.have_ctx ? &j->res.ctx : NULL, j->target, j->req, 0,
      SECURITY_NATIVE_DREP, j->in ? &id : NULL, 0,
      j->res.have_ctx ? &j->res.ctx : &nctx, &od, &j->attrs, &expiry);
  if (j->status == SEC_E_OK || j->status == SEC_I_CONTINUE_NEEDED ||
      j->status == SEC_I_COMPLETE_NEEDED ||
      j->status == SEC_I_COMPLETE_AND_CONTINUE) {
    if (!j->res.have_ctx) {
      j->res.ctx = nctx;
      j->res.have_ctx = true;
    }
    j->outlen = ob.cbBuffer;
  }
  if (j->status == SEC_I_COMPLETE_NEEDED ||
      j->status == SEC_I_COMPLETE_AND_CONTINUE) {
    SECURITY_STATUS c = CompleteAuthToken(&j->res.ctx, &od);
    if (c != SEC_E_OK)
      j->status = c;
    else
      j->status =
          j->status == SEC_I_COMPLETE_NEEDED ? SEC_E_OK : SEC_I_CONTINUE_NEEDED;
    j->outlen = ob.cbBuffer;
  }
}

/* A work for a job of this kind; NULL: no memory. */
static tdsc__work *job_new(job_kind kind) {
  sspi_job *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->kind = kind;
  tdsc__work *w = tdsc__work_new(job_call, job_discard, j);
  if (!w)
    free(j);
  return w;
}

/* --------------------------------------------------------------- state */

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
} sspi_state;
_Static_assert(offsetof(sspi_state, x) == 0, "tdsc__exchange_step's state");

static const tdsc__mech_hooks hooks; /* with the steps */

static const char *who(const sspi_state *s) {
  if (s->x.identity && *s->x.identity)
    return s->x.identity;
  return "the logged-on user";
}

static const char *mech_label(const sspi_state *s) {
  return s->kind == MECH_KRB ? "Kerberos" : "NTLM";
}

static const char *wine_note(SECURITY_STATUS st) {
  if ((st == SEC_E_INTERNAL_ERROR || st == STATUS_UNSUCCESSFUL) && under_wine())
    return " (Wine's SSPI reports every Kerberos failure with this status; "
           "its trace channel +kerberos shows krb5's reason)";
  return "";
}

/* Fills err from a failed SSPI call; returns the tdsclient code. */
static tdsc_errc sspi_fail(sspi_state *s, tdsc_error *err, SECURITY_STATUS st,
                           phase ph) {
  char text[400];
  tdsc__sec_status_text(st, text, sizeof text);
  const char *spn = s->spn ? s->spn : "(no SPN)";
  const char *realm = s->realm ? s->realm : "(the logon domain's realm)";
  tdsc_errc ec;
  if (s->kind == MECH_NTLM) {
    ec = tdsc__sspi_classify((uint32_t)st, true);
    switch (ec) {
    case TDSC_E_NTLM_NO_CREDENTIALS:
      tdsc__err_set(err, ec, "no NTLM credentials for %s in %s: %s", who(s),
                    s->cred_desc, text);
      break;
    case TDSC_E_NTLM_LOGON_DENIED:
      tdsc__err_set(err, ec, "the NTLM logon of %s (%s) was denied: %s", who(s),
                    s->cred_desc, text);
      break;
    case TDSC_E_NTLM_ACCOUNT_RESTRICTED:
      tdsc__err_set(err, ec,
                    "the domain refuses the NTLM account %s (%s): %s", who(s),
                    s->cred_desc, text);
      break;
    case TDSC_E_NTLM_REFUSED:
      tdsc__err_set(err, ec,
                    "this machine's policy does not let %s use NTLM to %s: "
                    "%s",
                    who(s), spn, text);
      break;
    case TDSC_E_NO_MEMORY:
      tdsc__err_set(err, ec, "out of memory in SSPI (NTLM): %s", text);
      break;
    default:
      tdsc__err_set(err, ec, "NTLM (SSPI) for %s to %s failed while %s: %s",
                    who(s), spn,
                    ph == PH_ACQUIRE  ? "acquiring credentials"
                    : ph == PH_ACCEPT ? "answering the server's CHALLENGE"
                                      : "building the NEGOTIATE",
                    text);
      break;
    }
    tdsc__err_provider(err, TDSC_PROVIDER_SSPI, (long long)st, 0, 0, text);
    return ec;
  }
  /* Kerberos: the words are krb5_message.c's, as on MIT (gssapi.c) */
  ec = tdsc__sspi_classify((uint32_t)st, false);
  tdsc__krb_what w = {.phase = krb_phase(ph),
                      .spn = spn,
                      .who = who(s),
                      .cred_desc = s->cred_desc,
                      .realm = realm,
                      .text = text,
                      .provider = "SSPI",
                      .took_ms = -1,
                      .note = wine_note(st)};
  tdsc__krb_message(err, ec, &w);
  tdsc__err_provider(err, TDSC_PROVIDER_SSPI, (long long)st, 0, 0, text);
  return ec;
}

static tdsc_errc sspi_timeout(sspi_state *s, tdsc_error *err, int64_t started,
                              phase ph) {
  memset(&s->res, 0, sizeof s->res); /* now the abandoned job's */
  const char *doing =
      ph == PH_ACQUIRE ? "acquiring credentials" : "getting a ticket";
  long long waited = (long long)(tdsc__now_ms() - started);
  if (s->kind == MECH_NTLM)
    return tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                         "NTLM (SSPI) for %s did not finish within the login "
                         "timeout (waited %lld ms) while %s",
                         who(s), waited, doing);
  tdsc__krb_what kw = {.phase = krb_phase(ph),
                       .spn = s->spn ? s->spn : "(no SPN)",
                       .who = who(s),
                       .realm = s->realm ? s->realm
                                         : "(the logon domain's realm)"};
  return tdsc__krb_timeout_message(err, &kw, waited);
}

/* Runs w (inputs set, res empty) with s's deadline: moves s->res in and
 * back.  On failure err is set and w is gone. */
static tdsc_errc sspi_run(sspi_state *s, tdsc__work *w, phase ph,
                          tdsc_error *err) {
  sspi_job *j = tdsc__work_payload(w);
  int64_t started = tdsc__now_ms();
  j->res = s->res;
  memset(&s->res, 0, sizeof s->res);
  if (!tdsc__work_run(w, s->deadline))
    return sspi_timeout(s, err, started, ph);
  s->res = j->res;
  memset(&j->res, 0, sizeof j->res);
  if (j->status != SEC_E_OK && j->status != SEC_I_CONTINUE_NEEDED) {
    tdsc_errc ec = sspi_fail(s, err, j->status, ph);
    tdsc__work_end(w);
    return ec;
  }
  return TDSC_OK;
}

/* ---------------------------------------------------------- credentials */

/* Points id at copies of user, domain and password (UTF-8 in, UTF-16 in
 * one buffer the job owns and wipes). */
static bool set_identity(sspi_job *j, const char *user, const char *domain,
                         const char *password) {
  WCHAR *u = tdsc__utf8_to_wide(user),
        *d = tdsc__utf8_to_wide(domain ? domain : "");
  WCHAR *p = tdsc__utf8_to_wide(password);
  bool ok = u && d && p;
  if (ok) {
    size_t ul = wcslen(u), dl = wcslen(d), pl = wcslen(p);
    j->idbuf_len = ul + dl + pl + 3;
    j->idbuf = malloc(j->idbuf_len * sizeof(WCHAR));
    ok = j->idbuf != NULL;
    if (ok) {
      WCHAR *q = j->idbuf;
      memcpy(q, u, (ul + 1) * sizeof(WCHAR));
      j->id.User = (unsigned short *)q;
      j->id.UserLength = (unsigned long)ul;
      q += ul + 1;
      memcpy(q, d, (dl + 1) * sizeof(WCHAR));
      j->id.Domain = (unsigned short *)q;
      j->id.DomainLength = (unsigned long)dl;
      q += dl + 1;
      memcpy(q, p, (pl + 1) * sizeof(WCHAR));
      j->id.Password = (unsigned short *)q;
      j->id.PasswordLength = (unsigned long)pl;
      j->id.Flags = SEC_WINNT_AUTH_IDENTITY_UNICODE;
      j->have_id = true;
    }
  }
  if (p)
    wipe(p, wcslen(p) * sizeof(WCHAR));
  free(u);
  free(d);
  free(p);
  return ok;
}

/* The name SSPI gives the credentials ("DOMAIN\user", "user@REALM"), or
 * for NTLM the logged-on account; NULL when nobody says. */
static char *cred_name(sspi_state *s) {
  SecPkgCredentials_NamesW n;
  memset(&n, 0, sizeof n);
  if (QueryCredentialsAttributesW(&s->res.cred, SECPKG_CRED_ATTR_NAMES, &n) ==
          SEC_E_OK &&
      n.sUserName) {
    char *r = tdsc__wide_to_utf8(n.sUserName);
    FreeContextBuffer(n.sUserName);
    if (r && *r)
      return r;
    free(r);
  }
  if (s->kind == MECH_NTLM) {
    WCHAR name[256];
    DWORD len = sizeof name / sizeof name[0];
    /* NTLM authenticates the account: DOMAIN\user (MACHINE\user). */
    typedef BOOLEAN(WINAPI * get_name_ex)(int, LPWSTR, PULONG);
    HMODULE sec = GetModuleHandleW(L"secur32.dll");
    get_name_ex f =
        sec ? (get_name_ex)(void (*)(void))GetProcAddress(sec, "GetUserNameExW")
            : NULL;
    if (f && f(2 /* NameSamCompatible */, name, &len))
      return tdsc__wide_to_utf8(name);
  }
  return NULL;
}

/* Whether two account names ("user@REALM", "DOMAIN\\user", "user") name
 * the same user: the user parts, without regard to case (Windows'), and
 * the realms when both give one. */
static bool same_account(const char *a, const char *b) {
  const char *ua = strchr(a, '\\') ? strchr(a, '\\') + 1 : a;
  const char *ub = strchr(b, '\\') ? strchr(b, '\\') + 1 : b;
  size_t la = strcspn(ua, "@"), lb = strcspn(ub, "@");
  if (la != lb || _strnicmp(ua, ub, la) != 0)
    return false;
  const char *ra = ua[la] ? ua + la + 1 : NULL;
  const char *rb = ub[lb] ? ub + lb + 1 : NULL;
  return !ra || !rb || _stricmp(ra, rb) == 0;
}

static const char *realm_of(const char *principal) {
  const char *at = principal ? strrchr(principal, '@') : NULL;
  return at && at[1] ? at + 1 : NULL;
}

static bool ntlm_identity_of(sspi_state *s, sspi_job *j, const char *name,
                             size_t namelen, const char *pw) {
  char *nm = malloc(namelen + 1);
  if (!nm)
    return false;
  memcpy(nm, name, namelen);
  nm[namelen] = '\0';
  char *bs = strchr(nm, '\\'), *at = strrchr(nm, '@');
  const char *user = nm, *domain = "";
  if (bs) {
    *bs = '\0';
    domain = nm;
    user = bs + 1;
  } else if (at) {
    *at = '\0';
    domain = at + 1;
  }
  free(s->x.identity);
  s->x.identity = *domain ? tdsc__strdup_printf("%s\\%s", domain, user)
                          : tdsc__strdup(user);
  bool ok = s->x.identity && set_identity(j, user, domain, pw);
  free(nm);
  return ok;
}

/* NTLMCredFile= (credfile.h): the entry for want, or the first, as j's
 * identity. */
static tdsc_errc read_credfile(sspi_state *s, sspi_job *j, const char *path,
                               const char *want, tdsc_error *err) {
  tdsc__buf all;
  tdsc__buf_init(&all);
  DWORD werr = tdsc__read_file_win32(path, &all);
  tdsc__buf_put_u8(&all, 0);
  tdsc_errc rc;
  char *name, *pw;
  unsigned lineno;
  if (werr == ERROR_NOT_ENOUGH_MEMORY || (!werr && all.oom))
    rc = tdsc__err_oom(err);
  else if (werr)
    rc = tdsc__err_errno(err, TDSC_E_NTLM_CREDFILE_UNUSABLE, (int)werr,
                         "cannot read the NTLM credential file %s", path);
  else if (!(rc = tdsc__credfile_pick((char *)all.data, path, want, &name, &pw,
                                      &lineno, err))) {
    if (!ntlm_identity_of(s, j, name, strlen(name), pw) ||
        !(s->cred_desc = tdsc__strdup_printf("line %u of %s", lineno, path)))
      rc = tdsc__err_oom(err);
  }
  tdsc__buf_wipe(&all);
  tdsc__buf_free(&all);
  return rc;
}

static ULONG max_token(const WCHAR *package) {
  PSecPkgInfoW info = NULL;
  ULONG n = 0;
  if (QuerySecurityPackageInfoW((WCHAR *)package, &info) == SEC_E_OK && info) {
    n = info->cbMaxToken;
    FreeContextBuffer(info);
  }
  return n >= 1024 ? n : 65535; /* LOGIN7's SSPI field holds up to 64 KiB */
}

static sspi_state *state_new(mech_kind kind, const tdsc__auth_params *p) {
  sspi_state *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->kind = kind;
  s->package = kind == MECH_KRB ? L"Kerberos" : L"NTLM";
  s->req = kind == MECH_KRB ? KRB_REQ : NTLM_REQ;
  s->deadline = p->deadline;
  tdsc__exchange_init(
      &s->x, kind == MECH_KRB ? &tdsc__facts_kerberos : &tdsc__facts_ntlm,
      &hooks, s, p->spnego);
  return s;
}

static tdsc_errc krb_init(void **state, const tdsc__auth_params *p,
                          tdsc_error *err) {
  sspi_state *s = state_new(MECH_KRB, p);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  tdsc_errc ec = tdsc__krb_check_params(p->spn, p->principal, p->password,
                                        err);
  if (ec)
    return ec;
  /* An MIT ccache or keytab means nothing to SSPI: say so rather than
   * authenticate as someone else than asked. */
  if (p->ccache || p->keytab)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s=%s names an MIT Kerberos %s, which SSPI "
                         "(Windows) cannot use: it takes the logged-on "
                         "user's tickets, or KrbPrincipal= with KrbPassword=",
                         p->ccache ? "KrbCCache" : "KrbKeytab",
                         p->ccache ? p->ccache : p->keytab,
                         p->ccache ? "ticket cache" : "keytab");
  s->spn = tdsc__strdup(p->spn);
  s->target = tdsc__utf8_to_wide(p->spn);
  s->x.identity = tdsc__strdup(p->principal ? p->principal : "");
  const char *r = realm_of(p->spn) ? realm_of(p->spn) : realm_of(p->principal);
  char env[256];
  DWORD envn = GetEnvironmentVariableA("USERDNSDOMAIN", env, sizeof env);
  if (!r && envn > 0 && envn < sizeof env)
    r = env;
  s->realm = r ? tdsc__strdup(r) : NULL;
  s->cred_desc = p->password ? tdsc__strdup("a password (in memory)")
                 : p->principal
                     ? tdsc__strdup_printf("the logon session's tickets for %s",
                                           p->principal)
                     : tdsc__strdup("the logon session's tickets");
  if (!s->spn || !s->target || !s->x.identity || !s->cred_desc ||
      (r && !s->realm))
    return tdsc__err_oom(err);
  s->max_token = max_token(s->package);

  tdsc__work *w = job_new(JOB_ACQUIRE);
  if (!w)
    return tdsc__err_oom(err);
  sspi_job *j = tdsc__work_payload(w);
  j->package = s->package;
  bool ok = true;
  if (p->password) {
    /* user@REALM -> User "user", Domain "REALM" (Windows and Wine join
     * them back into the principal). */
    const char *at = strrchr(p->principal, '@');
    size_t ulen = at ? (size_t)(at - p->principal) : strlen(p->principal);
    char *user = malloc(ulen + 1);
    ok = user != NULL;
    if (ok) {
      memcpy(user, p->principal, ulen);
      user[ulen] = '\0';
      ok = set_identity(j, user, at ? at + 1 : "", p->password);
      free(user);
    }
  } else if (p->principal) {
    ok = (j->principal = tdsc__utf8_to_wide(p->principal)) != NULL;
  }
  if (!ok) {
    tdsc__work_end(w);
    return tdsc__err_oom(err);
  }
  ec = sspi_run(s, w, PH_ACQUIRE, err);
  if (ec)
    return ec;
  tdsc__work_end(w);
  if (p->principal && !p->password) {
    /* The logon session's tickets are its user's, whatever principal was
     * named: the principal asked for is the one used, or this fails. */
    char *held = cred_name(s);
    if (held && !same_account(held, p->principal)) {
      ec = tdsc__err_set(err, TDSC_E_KRB_WRONG_PRINCIPAL,
                         "the logon session holds the credentials of %s, "
                         "not of %s as asked",
                         held, p->principal);
      free(held);
      return ec;
    }
    free(held);
  }
  if (!*s->x.identity) {
    char *id = cred_name(s);
    if (id) {
      free(s->x.identity);
      s->x.identity = id;
    }
  }
  return TDSC_OK;
}

static tdsc_errc ntlm_init(void **state, const tdsc__auth_params *p,
                           tdsc_error *err) {
  sspi_state *s = state_new(MECH_NTLM, p);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  /* MsvAvTargetName is the SPN without Kerberos' "@REALM" (ntlm.c) */
  if (p->spn && *p->spn) {
    size_t n = strcspn(p->spn, "@");
    s->spn = malloc(n + 1);
    if (!s->spn)
      return tdsc__err_oom(err);
    memcpy(s->spn, p->spn, n);
    s->spn[n] = '\0';
    if (!(s->target = tdsc__utf8_to_wide(s->spn)))
      return tdsc__err_oom(err);
  }
  s->max_token = max_token(s->package);
  tdsc__work *w = job_new(JOB_ACQUIRE);
  if (!w)
    return tdsc__err_oom(err);
  sspi_job *j = tdsc__work_payload(w);
  j->package = s->package;
  const char *user = p->ntlm_user && *p->ntlm_user ? p->ntlm_user : NULL;
  tdsc_errc ec = TDSC_OK;
  if (user && p->ntlm_password) {
    if (!ntlm_identity_of(s, j, user, strlen(user), p->ntlm_password) ||
        !(s->cred_desc = tdsc__strdup("a password given in the connection "
                                      "options")))
      ec = tdsc__err_oom(err);
  } else if (p->ntlm_credfile && *p->ntlm_credfile) {
    ec = read_credfile(s, j, p->ntlm_credfile, user, err);
  } else if (user) {
    ec = tdsc__err_set(err, TDSC_E_NTLM_NO_CREDENTIALS,
                       "NTLM user %s has no password (NTLMPassword= or "
                       "NTLMCredFile=)",
                       user);
  } else {
    /* The logged-on user: what Windows' integrated security means. */
    if (!(s->cred_desc = tdsc__strdup("the logged-on user's credentials")))
      ec = tdsc__err_oom(err);
  }
  if (ec) {
    tdsc__work_end(w);
    return ec;
  }
  if ((ec = sspi_run(s, w, PH_ACQUIRE, err)))
    return ec;
  tdsc__work_end(w);
  if (!s->x.identity) {
    s->x.identity = cred_name(s);
    if (!s->x.identity && !(s->x.identity = tdsc__strdup("")))
      return tdsc__err_oom(err);
  }
  return TDSC_OK;
}

/* ---------------------------------------------------------------- steps */

/* The exchange's context call (exchange.h): one InitializeSecurityContextW
 * round on the worker, in NULL the first time. */
static tdsc_errc sspi_ctx(void *m, const uint8_t *in, size_t inlen,
                          tdsc__buf *tok, bool *complete, tdsc_error *err) {
  sspi_state *s = m;
  phase ph = in ? PH_ACCEPT : PH_INIT;
  if (inlen > ULONG_MAX)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server's %s token is too long (%zu bytes)",
                         mech_label(s), inlen);
  tdsc__work *w = job_new(JOB_INIT);
  if (!w)
    return tdsc__err_oom(err);
  sspi_job *j = tdsc__work_payload(w);
  j->req = s->req;
  j->outcap = s->max_token;
  j->out = malloc(j->outcap);
  if (s->target && !(j->target = _wcsdup(s->target))) {
    tdsc__work_end(w);
    return tdsc__err_oom(err);
  }
  if (j->out && in && inlen) {
    j->in = malloc(inlen);
    if (j->in) {
      memcpy(j->in, in, inlen);
      j->inlen = (ULONG)inlen;
    }
  }
  if (!j->out || (in && inlen && !j->in)) {
    tdsc__work_end(w);
    return tdsc__err_oom(err);
  }
  tdsc_errc ec = sspi_run(s, w, ph, err);
  if (ec)
    return ec;
  tdsc__buf_put(tok, j->out, j->outlen);
  s->attrs = j->attrs;
  *complete = j->status == SEC_E_OK;
  tdsc__work_end(w);
  if (tok->oom)
    return tdsc__err_oom(err);
  if (*complete && s->kind == MECH_KRB && !(s->attrs & ISC_RET_MUTUAL_AUTH))
    return tdsc__krb_not_mutual(err, s->spn);
  return TDSC_OK;
}

/* The package's signature over msg, the mechTypes we sent (RFC 4178 5). */
static tdsc_errc sspi_get_mic(void *m, const tdsc__buf *msg, tdsc__buf *mic,
                              tdsc_error *err) {
  sspi_state *s = m;
  SecPkgContext_Sizes sz;
  SECURITY_STATUS st =
      QueryContextAttributesW(&s->res.ctx, SECPKG_ATTR_SIZES, &sz);
  if (st != SEC_E_OK)
    return sspi_fail(s, err, st, PH_ACCEPT);
  uint8_t *sig = tdsc__buf_extend(mic, sz.cbMaxSignature);
  uint8_t *data = malloc(msg->len);
  if (!sig || !data) {
    free(data);
    return tdsc__err_oom(err);
  }
  memcpy(data, msg->data, msg->len);
  SecBuffer b[2] = {{(ULONG)msg->len, SECBUFFER_DATA, data},
                    {sz.cbMaxSignature, SECBUFFER_TOKEN, sig}};
  SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
  st = MakeSignature(&s->res.ctx, 0, &d, 0);
  free(data);
  if (st != SEC_E_OK)
    return sspi_fail(s, err, st, PH_ACCEPT);
  mic->len -= sz.cbMaxSignature - b[1].cbBuffer;
  return TDSC_OK;
}

/* Verifies the server's mechListMIC with VerifySignature. */
static bool sspi_verify_mic(void *m, const tdsc__buf *msg, const uint8_t *mic,
                            size_t miclen, tdsc_error *prov) {
  sspi_state *s = m;
  uint8_t *data = malloc(msg->len + miclen);
  if (!data)
    return false;
  memcpy(data, msg->data, msg->len);
  memcpy(data + msg->len, mic, miclen);
  SecBuffer b[2] = {{(ULONG)msg->len, SECBUFFER_DATA, data},
                    {(ULONG)miclen, SECBUFFER_TOKEN, data + msg->len}};
  SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
  ULONG qop = 0;
  SECURITY_STATUS vs = VerifySignature(&s->res.ctx, &d, 0, &qop);
  free(data);
  if (vs == SEC_E_OK)
    return true;
  char text[400];
  tdsc__sec_status_text(vs, text, sizeof text);
  tdsc__err_provider(prov, TDSC_PROVIDER_SSPI, (long long)vs, 0, 0, text);
  return false;
}

static void sspi_subject(void *m, char *buf, size_t n) {
  sspi_state *s = m;
  snprintf(buf, n, "%s%s%s", who(s), s->spn ? " for " : "",
           s->spn ? s->spn : "");
}

static const tdsc__mech_hooks hooks = {sspi_ctx, sspi_get_mic, sspi_verify_mic,
                                       sspi_subject};

static void sspi_free(void *state) {
  sspi_state *s = state;
  if (!s)
    return;
  res_release(&s->res);
  tdsc__exchange_free(&s->x);
  free(s->spn);
  free(s->target);
  free(s->cred_desc);
  free(s->realm);
  free(s);
}

static const tdsc__mech_ops kerberos_ops = {
    .name = "kerberos",
    .init = krb_init,
    .step = tdsc__exchange_step,
    .identity = tdsc__exchange_identity,
    .free_state = sspi_free,
};
static const tdsc__mech_ops ntlm_ops = {
    .name = "ntlm",
    .init = ntlm_init,
    .step = tdsc__exchange_step,
    .identity = tdsc__exchange_identity,
    .free_state = sspi_free,
};

const tdsc__mech_ops *const tdsc__mech_kerberos = &kerberos_ops;
const tdsc__mech_ops *const tdsc__mech_ntlm = &ntlm_ops;
