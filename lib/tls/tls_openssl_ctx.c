/* The OpenSSL contexts of tls_openssl.c, built and kept for the process
 * per set of trust settings (issue 15: SSL_CTX_new and loading a CAFile
 * were a third of a TLS connect's instructions).  tls_openssl.c drives
 * each connection's SSL object over them. */
#include "config.h"

#include "tls/tls_openssl.h"

#include "sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>

static bool store_has_crls(X509_STORE *store) {
  STACK_OF(X509_OBJECT) *objs = store ? X509_STORE_get0_objects(store) : NULL;
  for (int i = 0; objs && i < sk_X509_OBJECT_num(objs); i++)
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_CRL)
      return true;
  return false;
}

/* SSLKEYLOGFILE (the NSS key log format Wireshark reads): each secret
 * line OpenSSL hands over is appended to the file, created 0600, opened
 * per line so that nothing stays open and a file that cannot be written
 * changes nothing about the connection (tdsclient(3), TRACE). */
static void keylog_cb(const SSL *ssl, const char *line) {
  (void)ssl;
  const char *path = getenv("SSLKEYLOGFILE");
  if (!path || !*path)
    return;
  FILE *f = tdsc__fopen_append_private(path);
  if (!f)
    return;
  fprintf(f, "%s\n", line);
  fclose(f);
}

/* Builds the SSL_CTX of opts' trust settings: TLS 1.2 at least, the
 * verification, CAFile's certificates and CRLs, SSLKEYLOGFILE.  Nothing
 * of one connection (host, SNI, ALPN: set on its SSL object), so that
 * connects with the same settings can share it (tdsc__ossl_ctx_get). */
static tdsc_errc ctx_build(const tdsc__tls_opts *opts, tdsc__ossl_verify_cb vcb,
                           SSL_CTX **out, tdsc_error *err) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  *out = NULL;
  if (!ctx)
    return tdsc__ossl_setup_error(err, TDSC_E_NO_MEMORY,
                                  "cannot create a TLS context", NULL);
  /* TLS 1.2 at least (MS-TDS asks no less, and older versions are broken),
   * but never below what the OpenSSL configuration (MinProtocol) already
   * demands: raising is ours to do, lowering is not. */
  const char *keylog = getenv("SSLKEYLOGFILE");
  if (keylog && *keylog)
    SSL_CTX_set_keylog_callback(ctx, keylog_cb);
  long cfg_min = SSL_CTX_get_min_proto_version(ctx);
  if (cfg_min == 0 || cfg_min < TLS1_2_VERSION)
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  /* report_only verifies as verify does, but OpenSSL only records the
   * verdict (SSL_VERIFY_NONE): the doctor sees the certificate either way. */
  bool verifying = opts->verify || opts->report_only;
  if (verifying) {
    if (opts->cafile) {
      if (SSL_CTX_load_verify_locations(ctx, opts->cafile, NULL) != 1) {
        SSL_CTX_free(ctx);
        return tdsc__ossl_setup_error(
            err, TDSC_E_BAD_OPTION_VALUE,
            "cannot load the CA certificates of CAFile=", opts->cafile);
      }
      /* CRLs in CAFile turn revocation checking on, for the whole chain:
       * whoever put them there wants them used, and a chain the CRLs do
       * not cover fails with TLS_REVOCATION_UNKNOWN rather than pass
       * unchecked. */
      if (store_has_crls(SSL_CTX_get_cert_store(ctx)))
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
                                    X509_V_FLAG_CRL_CHECK |
                                        X509_V_FLAG_CRL_CHECK_ALL);
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      SSL_CTX_free(ctx);
      return tdsc__ossl_setup_error(err, TDSC_E_TLS_HANDSHAKE,
                                    "cannot load the system CA store", NULL);
    }
    SSL_CTX_set_verify(ctx, opts->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       vcb);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  }
  *out = ctx;
  return TDSC_OK;
}

/* Contexts shared by the connects of the same trust settings (issue 15:
 * SSL_CTX_new and loading a CAFile were a third of a TLS connect's
 * instructions).  The key is everything ctx_build reads: whether and how
 * the certificate is verified, CAFile= and the file as it is on disk
 * (device, inode, size, modification and change times, looked at on each
 * connect: a file changed or replaced gets a new context), and whether
 * SSLKEYLOGFILE is set.  OpenSSL reads its own configuration once per
 * process anyway.  The system store (no CAFile=, verifying) is not kept:
 * OpenSSL may read its folder lazily, and those files are not ours to
 * watch.  An SSL_CTX is safe to share between threads once set up; the
 * list is guarded by tdsc__global_lock, each entry holds one reference
 * (SSL_new takes its own), and ctx_cache_free (atexit: at exit before
 * OpenSSL's own clean-up, or when the library is unloaded) drops them. */
#define CTX_CACHE_MAX 8

typedef struct ctx_key {
  const char *cafile; /* NULL: not verifying */
  bool verify, report_only, keylog;
  struct stat st; /* the CAFile's, compared by ctx_same */
} ctx_key;

typedef struct ctx_entry {
  struct ctx_entry *next;
  ctx_key k;    /* k.cafile is cafile */
  char *cafile; /* the entry's copy */
  SSL_CTX *ctx;
} ctx_entry;

static ctx_entry *ctx_cache; /* most recently used first */
static bool ctx_cache_armed; /* ctx_cache_free registered */

/* The same settings and CAFile name; file too: the same file as well. */
static bool ctx_same(const ctx_key *a, const ctx_key *b, bool file) {
  if (a->verify != b->verify || a->report_only != b->report_only ||
      a->keylog != b->keylog || !a->cafile != !b->cafile)
    return false;
  if (!a->cafile)
    return true;
  if (strcmp(a->cafile, b->cafile) != 0)
    return false;
  return !file ||
         (a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino &&
          a->st.st_size == b->st.st_size && a->st.st_mtime == b->st.st_mtime &&
          a->st.st_ctime == b->st.st_ctime);
}

static void ctx_entry_free(ctx_entry *e) {
  SSL_CTX_free(e->ctx);
  free(e->cafile);
  free(e);
}

static void ctx_cache_free(void) {
  tdsc__global_lock();
  ctx_entry *e = ctx_cache;
  ctx_cache = NULL;
  tdsc__global_unlock();
  while (e) {
    ctx_entry *next = e->next;
    ctx_entry_free(e);
    e = next;
  }
}

/* The cache's context for key k (k->ctx NULL), referenced for the caller,
 * or NULL.  Under the lock. */
static SSL_CTX *ctx_find(const ctx_key *k) {
  for (ctx_entry **pe = &ctx_cache; *pe; pe = &(*pe)->next) {
    ctx_entry *e = *pe;
    if (!ctx_same(&e->k, k, true) || !SSL_CTX_up_ref(e->ctx))
      continue;
    *pe = e->next; /* to the front */
    e->next = ctx_cache;
    ctx_cache = e;
    return e->ctx;
  }
  return NULL;
}

/* Keeps ctx (the caller keeps its own reference) under key k; on any
 * failure it is simply not kept.  Drops the entries of the same CAFile
 * and settings whose file has changed, and the least recently used past
 * CTX_CACHE_MAX. */
static void ctx_keep(const ctx_key *k, SSL_CTX *ctx) {
  ctx_entry *e = calloc(1, sizeof *e), *drop = NULL;
  if (!e)
    return;
  e->k = *k;
  e->cafile = k->cafile ? strdup(k->cafile) : NULL;
  e->k.cafile = e->cafile;
  if ((k->cafile && !e->cafile) || !SSL_CTX_up_ref(ctx)) {
    free(e->cafile);
    free(e);
    return;
  }
  e->ctx = ctx;
  tdsc__global_lock();
  if (!ctx_cache_armed)
    ctx_cache_armed = atexit(ctx_cache_free) == 0;
  if (!ctx_cache_armed) { /* nothing would free it */
    tdsc__global_unlock();
    ctx_entry_free(e);
    return;
  }
  e->next = ctx_cache;
  ctx_cache = e;
  size_t n = 1;
  for (ctx_entry **pe = &e->next; *pe;) {
    ctx_entry *o = *pe;
    /* the same CAFile as another file (or a duplicate from a race) */
    bool stale = k->cafile && ctx_same(&o->k, k, false);
    if (stale || ++n > CTX_CACHE_MAX) {
      *pe = o->next;
      o->next = drop;
      drop = o;
      continue;
    }
    pe = &o->next;
  }
  tdsc__global_unlock();
  while (drop) { /* outside the lock: the last reference frees a store */
    ctx_entry *next = drop->next;
    ctx_entry_free(drop);
    drop = next;
  }
}

/* The context of opts' trust settings, referenced for the caller (who
 * frees it with SSL_CTX_free): the cache's when it has one, else a new one
 * that the cache then keeps (the system store's excepted). */
tdsc_errc tdsc__ossl_ctx_get(const tdsc__tls_opts *opts,
                             tdsc__ossl_verify_cb vcb, SSL_CTX **out,
                             tdsc_error *err) {
  const char *keylog = getenv("SSLKEYLOGFILE");
  ctx_key k = {.verify = opts->verify,
               .report_only = opts->report_only,
               .keylog = keylog && *keylog};
  bool verifying = opts->verify || opts->report_only;
  bool cached = !verifying || opts->cafile;
  if (verifying && opts->cafile) {
    k.cafile = opts->cafile;
    /* a file we cannot stat is left to ctx_build to report */
    cached = stat(opts->cafile, &k.st) == 0;
  }
  if (cached) {
    tdsc__global_lock();
    *out = ctx_find(&k);
    tdsc__global_unlock();
    if (*out)
      return TDSC_OK;
  }
  tdsc_errc rc = ctx_build(opts, vcb, out, err);
  if (rc == TDSC_OK && cached)
    ctx_keep(&k, *out);
  return rc;
}
