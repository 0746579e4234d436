/* Facts for gssapi.c's messages (krb5_facts.h), read through MIT krb5's
 * own API, so that what a message says is what the library does: the
 * configuration files it reads (krb5_get_default_config_files), the keytab
 * it would take keys from, the realm it maps a host to. */
#include "config.h"

#include "auth/krb5_facts.h"
#include "buf.h"
#include "error.h"

#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <profile.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Exported by libkrb5 (krb5_3_MIT) but declared only in MIT's private
 * k5-int.h: the files krb5_init_context reads, KRB5_CONFIG's or the
 * compiled-in default list. */
krb5_error_code krb5_get_default_config_files(char ***filenames);
void krb5_free_config_files(char **filenames);

char *tdsc__krb5_config_desc(void) {
  const char *env = getenv("KRB5_CONFIG");
  if (env && *env)
    return tdsc__strdup_printf("KRB5_CONFIG=%s", env);
  char **files = NULL;
  char *res = NULL;
  if (krb5_get_default_config_files(&files) == 0 && files) {
    tdsc__buf b;
    tdsc__buf_init(&b);
    for (size_t i = 0; files[i]; i++) {
      if (i)
        tdsc__buf_put_str(&b, ":");
      tdsc__buf_put_str(&b, files[i]);
    }
    res = tdsc__strdup_printf("the default configuration %s",
                              tdsc__buf_cstr(&b) ? tdsc__buf_cstr(&b) : "");
    tdsc__buf_free(&b);
    krb5_free_config_files(files);
  }
  return res ? res : tdsc__strdup("the default configuration");
}

char *tdsc__krb5_config_problem(void) {
  char **files = NULL;
  char *desc = tdsc__krb5_config_desc();
  char *res = NULL;
  tdsc__buf why;
  tdsc__buf_init(&why);
  if (krb5_get_default_config_files(&files) != 0 || !files)
    goto out;
  /* MIT skips files that do not exist; with none left it runs on built-in
   * defaults and fails later with "no default realm". */
  bool readable = false;
  for (size_t i = 0; files[i]; i++) {
    if (access(files[i], R_OK) == 0) {
      readable = true;
      continue;
    }
    tdsc__buf_put_str(&why, why.len ? "; " : "");
    tdsc__buf_put_str(&why, files[i]);
    tdsc__buf_put_str(&why, errno == ENOENT ? " does not exist"
                                            : " cannot be read: ");
    if (errno != ENOENT)
      tdsc__buf_put_str(&why, strerror(errno));
  }
  krb5_free_config_files(files);
  if (!readable) {
    res = tdsc__strdup_printf("the Kerberos configuration (%s) cannot be "
                              "used: %s",
                              desc ? desc : "?", tdsc__buf_cstr(&why));
    goto out;
  }
  krb5_context kc = NULL;
  krb5_error_code rc = krb5_init_context(&kc);
  if (rc != 0) {
    res = tdsc__strdup_printf("the Kerberos configuration (%s) does not "
                              "parse: %s",
                              desc ? desc : "?", error_message(rc));
  } else {
    krb5_free_context(kc);
  }
out:
  tdsc__buf_free(&why);
  free(desc);
  return res;
}

char *tdsc__krb5_keytab_problem(const char *kt, const char *want) {
  const char *path = strncmp(kt, "FILE:", 5) == 0 ? kt + 5 : kt;
  if (strchr(kt, ':') == NULL || path != kt) {
    if (access(path, F_OK) != 0)
      return tdsc__strdup_printf("the client keytab %s does not exist", path);
    if (access(path, R_OK) != 0)
      return tdsc__strdup_printf("the client keytab %s cannot be read: %s",
                                 path, strerror(errno));
  }
  krb5_context kc = NULL;
  krb5_keytab k = NULL;
  krb5_kt_cursor cur;
  krb5_keytab_entry e;
  krb5_principal wp = NULL;
  char *res = NULL;
  bool found = false;
  size_t n = 0;
  tdsc__buf held;
  tdsc__buf_init(&held);
  if (krb5_init_context(&kc) != 0)
    goto out;
  if (want && krb5_parse_name(kc, want, &wp) != 0)
    wp = NULL;
  krb5_error_code rc = krb5_kt_resolve(kc, kt, &k);
  if (rc == 0)
    rc = krb5_kt_start_seq_get(kc, k, &cur);
  if (rc != 0) {
    res = tdsc__strdup_printf("the client keytab %s cannot be read: %s", kt,
                              error_message(rc));
    goto out;
  }
  while (krb5_kt_next_entry(kc, k, &e, &cur) == 0) {
    char *name = NULL;
    if (!wp || krb5_principal_compare(kc, e.principal, wp))
      found = true;
    if (krb5_unparse_name(kc, e.principal, &name) == 0) {
      if (!strstr(tdsc__buf_cstr(&held) ? tdsc__buf_cstr(&held) : "", name) &&
          n++ < 4) {
        tdsc__buf_put_str(&held, held.len ? ", " : "");
        tdsc__buf_put_str(&held, name);
      }
      krb5_free_unparsed_name(kc, name);
    }
    krb5_free_keytab_entry_contents(kc, &e);
  }
  krb5_kt_end_seq_get(kc, k, &cur);
  if (!held.len)
    res = tdsc__strdup_printf("the client keytab %s holds no keys", kt);
  else if (!found)
    res = tdsc__strdup_printf("the client keytab %s holds no key for %s (it "
                              "holds %s)",
                              kt, want, tdsc__buf_cstr(&held));
out:
  tdsc__buf_free(&held);
  if (wp)
    krb5_free_principal(kc, wp);
  if (k)
    krb5_kt_close(kc, k);
  if (kc)
    krb5_free_context(kc);
  return res;
}

char *tdsc__krb5_service_realm(const char *spn) {
  const char *at = strrchr(spn, '@');
  if (at && at[1])
    return tdsc__strdup(at + 1);
  const char *slash = strchr(spn, '/');
  if (!slash)
    return NULL;
  char *host = tdsc__strdup(slash + 1);
  if (!host)
    return NULL;
  host[strcspn(host, ":@")] = '\0';
  krb5_context kc = NULL;
  char **realms = NULL, *res = NULL;
  if (krb5_init_context(&kc) == 0) {
    /* Only a realm the configuration names ([domain_realm]): without one,
     * MIT asks the client's own KDC (a referral), and its "unknown" then
     * means an unknown SPN, not a missing trust; the fallback guess (the
     * domain's upper-cased tail) would claim a trust path to a realm
     * nobody named. */
    if (krb5_get_host_realm(kc, host, &realms) == 0 && realms && realms[0] &&
        *realms[0])
      res = tdsc__strdup(realms[0]);
    if (realms)
      krb5_free_host_realm(kc, realms);
    krb5_free_context(kc);
  }
  free(host);
  return res;
}

char *tdsc__krb5_enctypes(void) {
  krb5_context kc = NULL;
  profile_t prof = NULL;
  char *val = NULL, *res = NULL;
  if (krb5_init_context(&kc) != 0)
    return NULL;
  if (krb5_get_profile(kc, &prof) == 0) {
    if (profile_get_string(prof, "libdefaults", "permitted_enctypes", NULL,
                           NULL, &val) == 0 &&
        val)
      res = tdsc__strdup(val);
    profile_release_string(val);
    profile_release(prof);
  }
  krb5_free_context(kc);
  return res ? res : tdsc__strdup("the library's defaults");
}

int tdsc__krb5_has_cross_tgt(gss_cred_id_t cred, const char *client_realm,
                             const char *svc_realm) {
  krb5_context kc = NULL;
  krb5_ccache cc = NULL;
  krb5_creds mcreds, creds;
  OM_uint32 minor;
  int res = -1;
  if (cred == GSS_C_NO_CREDENTIAL || krb5_init_context(&kc) != 0)
    return -1;
  memset(&mcreds, 0, sizeof mcreds);
  memset(&creds, 0, sizeof creds);
  if (krb5_cc_new_unique(kc, "MEMORY", NULL, &cc) != 0)
    goto out;
  /* A copy of what the credential holds: its TGT and every ticket MIT got
   * on the way, the cross-realm krbtgt among them when a KDC issued it. */
  if (GSS_ERROR(gss_krb5_copy_ccache(&minor, cred, cc)))
    goto out;
  if (krb5_build_principal(kc, &mcreds.server, (unsigned)strlen(client_realm),
                           client_realm, "krbtgt", svc_realm, NULL) != 0)
    goto out;
  res = krb5_cc_retrieve_cred(kc, cc, KRB5_TC_MATCH_SRV_NAMEONLY, &mcreds,
                              &creds) == 0;
  if (res)
    krb5_free_cred_contents(kc, &creds);
out:
  if (mcreds.server)
    krb5_free_principal(kc, mcreds.server);
  if (cc)
    krb5_cc_destroy(kc, cc);
  krb5_free_context(kc);
  return res;
}

/* The error of the collection's first cache, in MIT's order (the default
 * first), when it names no principal, and in *why (when wanted, and the
 * cache is there at all) the words naming it; 0 when it names one, or
 * there is none.  Only the first matters: after a readable one MIT's walk
 * stops, after an unreadable one it has already gone wrong. */
static krb5_error_code walk_collection(krb5_context kc, char **why) {
  krb5_cccol_cursor cur = NULL;
  krb5_ccache cc = NULL;
  krb5_principal pr = NULL;
  krb5_error_code rc = 0;
  if (krb5_cccol_cursor_new(kc, &cur) != 0)
    return 0;
  if (krb5_cccol_cursor_next(kc, cur, &cc) == 0 && cc) {
    rc = krb5_cc_get_principal(kc, cc, &pr);
    if (rc != 0 && why && rc != KRB5_FCC_NOFILE && rc != KRB5_CC_NOTFOUND &&
        rc != ENOENT)
      *why = tdsc__strdup_printf("the ticket cache %s cannot be read: %s",
                                 krb5_cc_get_name(kc, cc), error_message(rc));
    if (pr)
      krb5_free_principal(kc, pr);
    krb5_cc_close(kc, cc);
  }
  krb5_cccol_cursor_free(kc, &cur);
  return rc;
}

int32_t tdsc__krb5_collection_problem(void) {
  krb5_context kc = NULL;
  if (krb5_init_context(&kc) != 0)
    return 0; /* GSSAPI will say why */
  krb5_error_code rc = walk_collection(kc, NULL);
  krb5_free_context(kc);
  return rc;
}

char *tdsc__krb5_ccache_problem(const char *name) {
  krb5_context kc = NULL;
  krb5_ccache cc = NULL;
  krb5_principal pr = NULL;
  char *res = NULL;
  if (krb5_init_context(&kc) != 0)
    return NULL;
  if (!name) {
    walk_collection(kc, &res);
    krb5_free_context(kc);
    return res;
  }
  krb5_error_code rc = krb5_cc_resolve(kc, name, &cc);
  if (rc == 0)
    rc = krb5_cc_get_principal(kc, cc, &pr);
  /* No cache at all is "no credentials"; anything else is the cache's. */
  if (rc != 0 && rc != KRB5_FCC_NOFILE && rc != KRB5_CC_NOTFOUND &&
      rc != ENOENT)
    res = tdsc__strdup_printf("the ticket cache %s cannot be read: %s",
                              cc ? krb5_cc_get_name(kc, cc) : name,
                              error_message(rc));
  if (pr)
    krb5_free_principal(kc, pr);
  if (cc)
    krb5_cc_close(kc, cc);
  krb5_free_context(kc);
  return res;
}

/* One TCP connect to host:port within ms: what happened, in words. */
static const char *probe_one(const char *host, const char *port, int ms) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  const char *res = "cannot be resolved";
  if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
    return res;
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
  res = "could not be probed";
  if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0) {
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (rc != 0 && err == EINPROGRESS) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      socklen_t len = sizeof err;
      if (poll(&p, 1, ms) <= 0)
        err = ETIMEDOUT;
      else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    }
    res = err == 0              ? "accepts TCP connections but did not answer"
          : err == ECONNREFUSED ? "refused the connection (nothing listens)"
          : err == ETIMEDOUT    ? "did not answer a TCP connection"
                                : "is unreachable";
  }
  if (fd >= 0)
    close(fd);
  freeaddrinfo(ai);
  return res;
}

char *tdsc__krb5_kdc_probe(const char *kdcs, int ms) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  char *list = tdsc__strdup(kdcs), *save = NULL;
  for (char *k = list ? strtok_r(list, ", ", &save) : NULL; k;
       k = strtok_r(NULL, ", ", &save)) {
    /* krb5.conf's "host", "host:port", "[v6]:port"; MIT's default is 88 */
    char host[256], port[16] = "88";
    const char *h = k, *colon = strrchr(k, ':');
    size_t hl = colon ? (size_t)(colon - k) : strlen(k);
    if (*h == '[') {
      const char *close_br = strchr(h, ']');
      if (!close_br)
        continue;
      h++;
      hl = (size_t)(close_br - h);
      colon = close_br[1] == ':' ? close_br + 1 : NULL;
    }
    if (hl == 0 || hl >= sizeof host || strchr(h, '/'))
      continue; /* a URL (MS-KKDCP) or nonsense: not probed */
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (colon)
      snprintf(port, sizeof port, "%s", colon + 1);
    tdsc__buf_put_str(&b, b.len ? "; " : "");
    tdsc__buf_put_str(&b, k);
    tdsc__buf_put_str(&b, " ");
    tdsc__buf_put_str(&b, probe_one(host, port, ms));
  }
  free(list);
  char *res = b.len ? tdsc__strdup(tdsc__buf_cstr(&b)) : NULL;
  tdsc__buf_free(&b);
  return res;
}

/* ------------------------------------- realms and ccaches, for gssapi.c */

/* The KDCs krb5.conf names for realm, "a, b"; NULL when none or unknown. */
char *tdsc__krb5_kdc_list(const char *realm) {
  krb5_context kc = NULL;
  profile_t prof = NULL;
  char **vals = NULL;
  char *res = NULL;
  if (!realm || !*realm || krb5_init_context(&kc) != 0)
    return NULL;
  if (krb5_get_profile(kc, &prof) == 0) {
    const char *names[] = {"realms", realm, "kdc", NULL};
    if (profile_get_values(prof, names, &vals) == 0 && vals && vals[0]) {
      tdsc__buf b;
      tdsc__buf_init(&b);
      for (size_t i = 0; vals[i]; i++) {
        if (i)
          tdsc__buf_put_str(&b, ", ");
        tdsc__buf_put_str(&b, vals[i]);
      }
      res = tdsc__strdup(tdsc__buf_cstr(&b));
      tdsc__buf_free(&b);
    }
    if (vals)
      profile_free_list(vals);
    profile_release(prof);
  }
  krb5_free_context(kc);
  return res;
}

char *tdsc__krb5_default_realm(void) {
  krb5_context kc = NULL;
  char *r = NULL, *res = NULL;
  if (krb5_init_context(&kc) != 0)
    return NULL;
  if (krb5_get_default_realm(kc, &r) == 0) {
    res = tdsc__strdup(r);
    krb5_free_default_realm(kc, r);
  }
  krb5_free_context(kc);
  return res;
}

void tdsc__krb5_destroy_cc(const char *name) {
  krb5_context kc = NULL;
  krb5_ccache cc = NULL;
  if (krb5_init_context(&kc) != 0)
    return;
  if (krb5_cc_resolve(kc, name, &cc) == 0)
    krb5_cc_destroy(kc, cc);
  krb5_free_context(kc);
}

/* The principal of a ccache (NULL: the default one), for messages when
 * GSSAPI will not tell (its credentials expired). */
char *tdsc__krb5_ccache_principal(const char *name) {
  krb5_context kc = NULL;
  krb5_ccache cc = NULL;
  krb5_principal pr = NULL;
  char *text = NULL, *res = NULL;
  if (krb5_init_context(&kc) != 0)
    return NULL;
  if ((name ? krb5_cc_resolve(kc, name, &cc) : krb5_cc_default(kc, &cc)) ==
      0) {
    if (krb5_cc_get_principal(kc, cc, &pr) == 0 &&
        krb5_unparse_name(kc, pr, &text) == 0) {
      res = tdsc__strdup(text);
      krb5_free_unparsed_name(kc, text);
    }
    if (pr)
      krb5_free_principal(kc, pr);
    krb5_cc_close(kc, cc);
  }
  krb5_free_context(kc);
  return res;
}

char *tdsc__krb5_new_memcc(void) {
  krb5_context kc = NULL;
  krb5_ccache cc = NULL;
  char *res = NULL;
  if (krb5_init_context(&kc) != 0)
    return NULL;
  if (krb5_cc_new_unique(kc, "MEMORY", NULL, &cc) == 0) {
    res = tdsc__strdup_printf("MEMORY:%s", krb5_cc_get_name(kc, cc));
    krb5_cc_close(kc, cc);
  }
  krb5_free_context(kc);
  return res;
}
