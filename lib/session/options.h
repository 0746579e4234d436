/* Connection options: the one table of keywords (with aliases, defaults,
 * environment variables, secrecy) that the connection-string parser, the
 * CLI's --help and the manual page all read; and the parsed result. */
#ifndef TDSC_OPTIONS_H
#define TDSC_OPTIONS_H

#include "error.h"

typedef enum tdsc__encrypt {
  TDSC__ENC_OFF,       /* no TLS unless the server insists; login may go in clear */
  TDSC__ENC_OPTIONAL,  /* TLS at least for the login; fail rather than send a
                          password in clear */
  TDSC__ENC_MANDATORY, /* TLS for everything (TDS 7.x, after PRELOGIN) */
  TDSC__ENC_STRICT     /* TDS 8.0: TLS before anything else */
} tdsc__encrypt;

typedef enum tdsc__opt_id {
  TDSC__OPT_SERVER,
  TDSC__OPT_DATABASE,
  TDSC__OPT_UID,
  TDSC__OPT_PWD,
  TDSC__OPT_ENCRYPT,
  TDSC__OPT_TRUST_CERT,
  TDSC__OPT_HOST_IN_CERT,
  TDSC__OPT_CAFILE,
  TDSC__OPT_LOGIN_TIMEOUT,
  TDSC__OPT_QUERY_TIMEOUT,
  TDSC__OPT_CANCEL_TIMEOUT,
  TDSC__OPT_AUTHENTICATION,
  TDSC__OPT_APP,
  TDSC__OPT_WSID,
  TDSC__OPT_PACKET_SIZE,
  TDSC__OPT_LANGUAGE,
  TDSC__OPT_SERVER_SPN,
  TDSC__OPT_SPN_CANON,
  TDSC__OPT_KRB_CCACHE,
  TDSC__OPT_KRB_KEYTAB,
  TDSC__OPT_KRB_PRINCIPAL,
  TDSC__OPT_KRB_PASSWORD,
  TDSC__OPT_SPNEGO,
  TDSC__OPT_NTLM_USER,
  TDSC__OPT_NTLM_PASSWORD,
  TDSC__OPT_NTLM_CREDFILE,
  TDSC__OPT_TRANSPORT,
  TDSC__OPT_LOCAL_DIR,
  TDSC__OPT_BROWSER_PORT,
  TDSC__OPT_INTEGRATED,
  TDSC__OPT_MARS,
  TDSC__OPT_SERVICE,
  TDSC__OPT_TRACE,
  TDSC__OPT_ACCESS_TOKEN,
  TDSC__OPT_ENTRA_AUDIENCE,
  TDSC__OPT_ENTRA_TENANT,
  TDSC__OPT_ENTRA_AUTHORITY,
  TDSC__OPT_ENTRA_IMDS,
  TDSC__OPT_APP_INTENT,
  TDSC__OPT_MULTI_SUBNET,
  TDSC__OPT_FAILOVER_PARTNER,
  TDSC__OPT_ENTRA_CLIENT_CERT,
  TDSC__OPT_COUNT
} tdsc__opt_id;

typedef enum tdsc__opt_kind {
  TDSC__OPTK_STRING,
  TDSC__OPTK_BOOL,
  TDSC__OPTK_INT, /* with min/max */
  TDSC__OPTK_ENUM /* one of `values` */
} tdsc__opt_kind;

typedef struct tdsc__optdef {
  tdsc__opt_id id;
  tdsc__opt_kind kind;
  const char *values;    /* ENUM: '|'-separated accepted values */
  long min, max;         /* INT bounds */
  tdsc_option_info info; /* keyword, aliases, default, env, doc, secret */
} tdsc__optdef;

extern const tdsc__optdef tdsc__optdefs[TDSC__OPT_COUNT];

/* Mechanisms of Authentication= (an ordered list). */
typedef enum tdsc__mech {
  TDSC__MECH_SQL = 1,
  TDSC__MECH_KERBEROS = 2,
  TDSC__MECH_NTLM = 3,
  TDSC__MECH_ENTRA = 4, /* Microsoft Entra ID access token (FEDAUTH) */
  TDSC__MECH_ENTRA_SP = 5,       /* the token fetched: a client secret */
  TDSC__MECH_ENTRA_MSI = 6,      /* ... managed identity */
  TDSC__MECH_ENTRA_WORKLOAD = 7, /* ... workload identity */
} tdsc__mech;

/* How the host name becomes the SPN's (SPNHostCanonicalization=). */
typedef enum tdsc__canon {
  TDSC__CANON_NONE,    /* as given */
  TDSC__CANON_FORWARD, /* the canonical name forward DNS gives */
  TDSC__CANON_REVERSE  /* forward, then the reverse DNS name of the address */
} tdsc__canon;

typedef struct tdsc__options {
  char *value[TDSC__OPT_COUNT]; /* as given (or default / environment) */
  bool given[TDSC__OPT_COUNT];  /* set by the string (not a default) */
  /* given after a secret keyword (its id + 1, else 0), at this offset of
   * the string: such text may be the secret's tail, never quoted */
  uint8_t after_secret[TDSC__OPT_COUNT];
  size_t offset[TDSC__OPT_COUNT];
  /* what the configuration files did that the user should hear of when
   * the connect fails (a password file ignored), else "" */
  char note[1200];
  /* typed views, filled by the parser */
  tdsc__encrypt encrypt;
  bool trust_cert;
  long login_timeout; /* seconds, 0 = none */
  long query_timeout; /* seconds, 0 = none */
  long cancel_timeout; /* seconds, 0 = none */
  long packet_size;
  tdsc__mech mechs[8];
  size_t nmechs;
  bool entra_default; /* the list holds ActiveDirectoryDefault's chain */
  tdsc__canon canon;
  bool spnego;
  long browser_port;
  bool read_only; /* ApplicationIntent=ReadOnly: LOGIN7's fReadOnlyIntent */
  bool multi_subnet; /* MultiSubnetFailover=yes: addresses in parallel */
} tdsc__options;

/* Parses an ODBC/ADO-style connection string into opts (cleared first).
 * Errors: TDSC_E_BAD_CONNSTR (syntax, duplicates), TDSC_E_UNKNOWN_KEYWORD,
 * TDSC_E_BAD_OPTION_VALUE, each naming the keyword; a secret value is never
 * quoted in a message, nor any text after a secret keyword (an unbraced ';'
 * splits a secret): such errors name the secret keyword and the offset. */
tdsc_errc tdsc__options_parse(tdsc__options *opts, const char *connstr,
                              tdsc_error *err);
/* Frees the values (wiping secrets). */
void tdsc__options_clear(tdsc__options *opts);
/* The value of an option, or NULL when neither given nor defaulted. */
const char *tdsc__opt(const tdsc__options *opts, tdsc__opt_id id);
/* The mechanisms' names are their rows' in policy.c.  "kerberos", "ntlm",
 * "sql", "entra": the names of Authentication= and the trail. */
const char *tdsc__mech_name(tdsc__mech m);
/* The mechanism named by p (n bytes, any case; a name or an alias). */
bool tdsc__mech_named(const char *p, size_t n, tdsc__mech *m);
/* "sql, kerberos, ntlm or entra (ActiveDirectoryAccessToken)". */
void tdsc__mech_known(char *out, size_t cap);
/* A name that stands for several mechanisms in order (p, n bytes, any
 * case): their count and *mechs, or 0 for any other name. */
size_t tdsc__mech_group(const char *p, size_t n, const tdsc__mech **mechs);
/* The options given in the string (not defaults nor environment) as a
 * connection string that parses back to them, with option id set to value
 * (left out when value is NULL).  malloc'd, the caller wipes (it holds
 * secrets) and frees it; NULL when out of memory. */
char *tdsc__options_connstr(const tdsc__options *opts, tdsc__opt_id id,
                            const char *value);

/* A parsed Server= target (SQL Server's syntax: [proto:]host[\instance][,port]). */
typedef enum tdsc__proto {
  TDSC__PROTO_AUTO, /* no prefix */
  TDSC__PROTO_TCP,
  TDSC__PROTO_NP,
  TDSC__PROTO_SHM
} tdsc__proto;

typedef struct tdsc__target {
  tdsc__proto proto;
  char host[256];     /* "localhost" for (local) and . */
  char instance[128]; /* "" for the default instance */
  uint16_t port;      /* 0 = not given */
  char pipe[512];     /* np: path */
  /* The server as the user named it, for LOGIN7's ServerName (MS-TDS
   * 2.2.6.4): host[\instance] without the prefix or the port (other
   * drivers send it so, and Azure's gateway reads it); the path for np:. */
  char name[512];
} tdsc__target;

/* Errors: TDSC_E_BAD_OPTION_VALUE naming the part that is wrong. */
tdsc_errc tdsc__target_parse(const char *server, tdsc__target *t,
                             tdsc_error *err);
/* The same syntax for another keyword (kw, "Failover Partner"), named in
 * the errors. */
tdsc_errc tdsc__target_parse_as(const char *kw, const char *server,
                                tdsc__target *t, tdsc_error *err);
/* Failover Partner= (options parsed): a TCP target, with Database=,
 * without MultiSubnetFailover=yes, TCP in Transport=.  Errors:
 * TDSC_E_BAD_OPTION_VALUE, TDSC_E_BAD_CONNSTR (a conflicting pair). */
tdsc_errc tdsc__partner_check(const tdsc__options *o, tdsc_error *err);

/* One way to reach the server (DESIGN.md "Transports and targets"). */
typedef enum tdsc__ep_kind {
  TDSC__EP_SHM,  /* shared memory, through its rendezvous socket */
  TDSC__EP_PIPE, /* named pipe: on POSIX an AF_UNIX socket */
  TDSC__EP_TCP
} tdsc__ep_kind;

typedef struct tdsc__endpoint {
  tdsc__ep_kind kind;
  char host[256];     /* for TCP, SSRP and the SPN */
  char instance[128]; /* "" for the default instance */
  uint16_t port;      /* TCP; 0 = ask SQL Browser for the instance's */
  bool parallel;      /* TCP: the host's addresses all at once
                         (MultiSubnetFailover=yes) */
  char path[512];     /* pipe or rendezvous socket */
} tdsc__endpoint;

#define TDSC__MAX_ENDPOINTS 3

/* The endpoints to try for a target, in order: a local target without a
 * protocol prefix tries shared memory, then named pipe, then TCP; a remote
 * one TCP; a prefix pins one; Transport= reorders or narrows the list.
 * Errors: TDSC_E_BAD_OPTION_VALUE (e.g. a remote pipe, or Transport=
 * excluding the prefix). */
tdsc_errc tdsc__endpoints_plan(const tdsc__options *o, const tdsc__target *t,
                               tdsc__endpoint *eps, size_t *n,
                               tdsc_error *err);
/* True for a name of this machine (localhost, loopback, its host name). */
bool tdsc__host_is_local(const char *host);
const char *tdsc__ep_name(tdsc__ep_kind k); /* "shm", "np", "tcp" */

struct tdsc__io;
/* For an instance reached over TCP without a port, asks SQL Browser for
 * it (MC-SQLR) and sets ep->port; otherwise nothing.  address (capacity
 * cap) says what was asked, for messages.  Errors: the SSRP codes,
 * TDSC_E_INSTANCE_NOT_FOUND. */
tdsc_errc tdsc__endpoint_resolve(const tdsc__options *o, tdsc__endpoint *ep,
                                 int64_t deadline, char *address, size_t cap,
                                 tdsc_error *err);
/* Takes SQL Browser's answer (info) for ep's instance: sets ep->port, or
 * TDSC_E_INSTANCE_NOT_FOUND when the instance does not listen on TCP. */
struct tdsc__ssrp_info;
tdsc_errc tdsc__endpoint_browsed(tdsc__endpoint *ep,
                                 const struct tdsc__ssrp_info *info,
                                 tdsc_error *err);
/* Starts opening ep's transport without blocking (a pipe, shared memory;
 * for TCP the port is resolved and addrs, naddr are the host's addresses,
 * taken over: tdsc__tcp_open).  Errors: the transport's. */
struct tdsc__addr;
struct tdsc__opener;
tdsc_errc tdsc__endpoint_opener(const tdsc__endpoint *ep,
                                struct tdsc__addr *addrs, size_t naddr,
                                struct tdsc__opener **out, tdsc_error *err);
/* Opens ep's transport (port resolved) into *io; address receives the
 * socket path or the address connected to.  Errors: the transport's. */
tdsc_errc tdsc__endpoint_open(const tdsc__endpoint *ep, int64_t deadline,
                              struct tdsc__io **io, char *address, size_t cap,
                              tdsc_error *err);
/* True for a failure that says this endpoint does not reach the server,
 * so that the next one of the plan is worth a try. */
bool tdsc__endpoint_unreachable(tdsc_errc rc);

#endif
