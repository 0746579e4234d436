/* The credentials of the SSPI mechanisms (sspi.c): the logged-on user's
 * (AcquireCredentialsHandleW with no authentication data), or explicit
 * ones (KrbPrincipal=/KrbPassword=, NTLMUser=/NTLMPassword=, NTLMCredFile=)
 * in a SEC_WINNT_AUTH_IDENTITY_W; the init of each mechanism, which checks
 * its options, acquires them on the worker and names the identity used.
 *
 * Secrets: the password is copied into the acquisition's job as UTF-16,
 * wiped as soon as AcquireCredentialsHandleW returns (sspi.c's job_call),
 * and never kept in the state. */
#include "config.h"

#include "auth/credfile.h"
#include "auth/krb5_diag.h"
#include "auth/sspi.h"
#include "sec_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    tdsc__sspi_wipe(p, wcslen(p) * sizeof(WCHAR));
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

/* The work that acquires s's credentials (its identity still to set); the
 * package's largest token is read on the way.  NULL: no memory. */
static tdsc__work *acquire_job(sspi_state *s) {
  s->max_token = max_token(s->package);
  tdsc__work *w = tdsc__sspi_job_new(JOB_ACQUIRE);
  if (w)
    ((sspi_job *)tdsc__work_payload(w))->package = s->package;
  return w;
}

tdsc_errc tdsc__sspi_krb_init(void **state, const tdsc__auth_params *p,
                          tdsc_error *err) {
  sspi_state *s = tdsc__sspi_state_new(MECH_KRB, p);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  tdsc_errc pc = tdsc__krb_check_params(p->spn, p->principal, p->password,
                                        err);
  if (pc)
    return pc;
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

  tdsc__work *w = acquire_job(s);
  if (!w)
    return tdsc__err_oom(err);
  sspi_job *j = tdsc__work_payload(w);
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
  tdsc_errc ec = tdsc__sspi_run(s, w, PH_ACQUIRE, err);
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

tdsc_errc tdsc__sspi_ntlm_init(void **state, const tdsc__auth_params *p,
                           tdsc_error *err) {
  sspi_state *s = tdsc__sspi_state_new(MECH_NTLM, p);
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
  tdsc__work *w = acquire_job(s);
  if (!w)
    return tdsc__err_oom(err);
  sspi_job *j = tdsc__work_payload(w);
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
  if ((ec = tdsc__sspi_run(s, w, PH_ACQUIRE, err)))
    return ec;
  tdsc__work_end(w);
  if (!s->x.identity) {
    s->x.identity = cred_name(s);
    if (!s->x.identity && !(s->x.identity = tdsc__strdup("")))
      return tdsc__err_oom(err);
  }
  return TDSC_OK;
}
