/* Facts about this machine's MIT Kerberos set-up that gssapi.c's messages
 * state: which configuration files are read and whether they can be, what
 * a client keytab holds, which realm a service host maps to, which
 * encryption types the client allows; and the few krb5 calls gssapi.c
 * needs beside GSSAPI (the default realm, a ccache's principal, a private
 * MEMORY ccache).  Each returns a malloc'd string (the caller frees it),
 * or NULL when the fact is unknown or there is no problem.  MIT only
 * (krb5_facts.c). */
#ifndef TDSC_KRB5_FACTS_H
#define TDSC_KRB5_FACTS_H

#include <gssapi/gssapi.h>
#include <stdbool.h>
#include <stdint.h>

/* "KRB5_CONFIG=/a/krb5.conf" or "the default configuration /etc/krb5.conf"
 * (the files MIT reads, ':'-separated). */
char *tdsc__krb5_config_desc(void);

/* Why the configuration cannot be used, naming the file and where its name
 * came from: every file is missing or unreadable, or one does not parse.
 * NULL: at least one file is readable and the set parses. */
char *tdsc__krb5_config_problem(void);

/* Why the client keytab kt (with or without "FILE:") cannot give want's
 * key (want may be NULL: any key): missing, unreadable, empty, or holding
 * other principals (named).  NULL: it holds a key for want. */
char *tdsc__krb5_keytab_problem(const char *kt, const char *want);

/* The realm the host of SPN "service/host[:port][@REALM]" belongs to, as
 * the SPN or [domain_realm] names it; NULL when nothing names one. */
char *tdsc__krb5_service_realm(const char *spn);

/* The client's permitted_enctypes, "aes256-cts aes128-cts" or "the
 * library's defaults". */
char *tdsc__krb5_enctypes(void);

/* What each KDC of kdcs ("host:port, host" as krb5.conf lists them)
 * does with a TCP connection now, within ms: "127.0.0.1:88 refused the
 * connection (nothing listens)"; NULL when none can be probed. */
char *tdsc__krb5_kdc_probe(const char *kdcs, int ms);

/* Why the ticket cache name cannot be read, naming it; NULL when it can, or
 * when there is none (that is "no credentials").  name NULL: the default
 * collection's first cache, in MIT's order (the default first). */
char *tdsc__krb5_ccache_problem(const char *name);

/* The error of the default collection's first cache when it names no
 * principal; 0 when it names one, or there is none.  MIT 1.20's
 * krb5_cccol_have_content, which gss_acquire_cred runs when given neither
 * a name nor a cache, frees an uninitialised principal after such a cache:
 * the program crashes or not by what its stack held.  Asked before that
 * call, so that it is made only when it is safe. */
int32_t tdsc__krb5_collection_problem(void);

/* Whether cred holds the cross-realm TGT krbtgt/svc_realm@client_realm
 * (a KDC issued it: there is a trust path): 1 yes, 0 no, -1 unknown. */
int tdsc__krb5_has_cross_tgt(gss_cred_id_t cred, const char *client_realm,
                             const char *svc_realm);

/* The KDCs krb5.conf names for realm, "a, b"; NULL when none or unknown. */
char *tdsc__krb5_kdc_list(const char *realm);

/* The default realm of the configuration; NULL when there is none. */
char *tdsc__krb5_default_realm(void);

/* The principal of the ccache name (NULL: the default one), for messages
 * when GSSAPI will not tell (its credentials expired); NULL if unknown. */
char *tdsc__krb5_ccache_principal(const char *name);

/* A new private MEMORY ccache's name ("MEMORY:xyz"), for the TGT a keytab
 * gives; NULL on failure.  tdsc__krb5_destroy_cc destroys it. */
char *tdsc__krb5_new_memcc(void);
void tdsc__krb5_destroy_cc(const char *name);

#endif
