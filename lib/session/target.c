/* Server= targets in SQL Server's own syntax:
 *   [tcp:|np:|lpc:|shm:]host[\instance][,port], (local), ., [::1],1433
 * (DESIGN.md "Transports and targets").  Parsing only: which transport is
 * reachable is the connect's business. */
#include "config.h"

#include "session/options.h"
#include "sys.h"
#include "transport/io.h"
#include "transport/ssrp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static bool copy(char *dst, size_t cap, const char *src, size_t n) {
  if (n >= cap)
    return false;
  memcpy(dst, src, n);
  dst[n] = 0;
  return true;
}

tdsc_errc tdsc__target_parse_as(const char *kw, const char *s,
                                tdsc__target *t, tdsc_error *err) {
  memset(t, 0, sizeof *t);
  if (!s || !*s)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s= is missing: name the server, e.g. "
                         "%s=tcp:db.example.com,1433",
                         kw, kw);
  static const struct {
    const char *prefix;
    tdsc__proto proto;
  } prefixes[] = {{"tcp:", TDSC__PROTO_TCP},
                  {"np:", TDSC__PROTO_NP},
                  {"lpc:", TDSC__PROTO_SHM},
                  {"shm:", TDSC__PROTO_SHM}};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    size_t n = strlen(prefixes[i].prefix);
    if (!strncasecmp(s, prefixes[i].prefix, n)) {
      t->proto = prefixes[i].proto;
      s += n;
      break;
    }
  }
  if (t->proto == TDSC__PROTO_NP) {
    if (!copy(t->pipe, sizeof t->pipe, s, strlen(s)) || !*s)
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "%s=np: needs a pipe path", kw);
    snprintf(t->name, sizeof t->name, "%s", t->pipe);
    return TDSC_OK;
  }

  const char *host = s, *end;
  size_t hlen;
  if (*s == '[') { /* [IPv6]... */
    end = strchr(s, ']');
    if (!end)
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "%s='%s': '[' without ']'", kw, host);
    host = s + 1;
    hlen = (size_t)(end - host);
    s = end + 1;
  } else {
    hlen = strcspn(s, "\\,");
    /* host:port is how URLs and JDBC write it; SQL Server's clients write
     * host,port.  A name with one ':' and digits after it can only be
     * that (an IPv6 address has more than one; bracket it to add a port). */
    const char *colon = memchr(s, ':', hlen);
    if (colon && !memchr(colon + 1, ':', hlen - (size_t)(colon + 1 - s)) &&
        colon + 1 < s + hlen &&
        strspn(colon + 1, "0123456789") == (size_t)(s + hlen - colon - 1))
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "%s='%s': a port is given after ',' in SQL "
                           "Server's syntax: write %s=%.*s,%.*s",
                           kw, host, kw, (int)(colon - s), s,
                           (int)(s + hlen - colon - 1), colon + 1);
    s += hlen;
  }
  if (*s == '\\') {
    size_t n = strcspn(s + 1, ",");
    if (!n || !copy(t->instance, sizeof t->instance, s + 1, n))
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "%s=: the instance name after '\\' is empty "
                           "or longer than 127 characters", kw);
    s += 1 + n;
  }
  if (*s == ',') {
    char *pend;
    long port = strtol(s + 1, &pend, 10);
    if (s[1] < '0' || s[1] > '9' || *pend || port < 1 || port > 65535)
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "%s=: port '%s' is not a number from 1 to "
                           "65535",
                           kw, s + 1);
    t->port = (uint16_t)port;
  } else if (*s) {
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s=: unexpected '%s' after the host name", kw, s);
  }
  while (hlen && host[hlen - 1] == ' ')
    hlen--;
  while (hlen && *host == ' ')
    host++, hlen--;
  if (!hlen && t->proto != TDSC__PROTO_SHM)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s=: the host name is empty", kw);
  /* fits: host (< 256) + '\\' + instance (< 128) < sizeof name */
  snprintf(t->name, sizeof t->name, "%.*s%s%s", (int)hlen, host,
           t->instance[0] ? "\\" : "", t->instance);
  if ((hlen == 1 && *host == '.') ||
      (hlen == 7 && !strncasecmp(host, "(local)", 7)) || !hlen) {
    host = "localhost";
    hlen = 9;
  }
  if (!copy(t->host, sizeof t->host, host, hlen))
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s=: the host name is longer than 255 bytes", kw);
  return TDSC_OK;
}

tdsc_errc tdsc__target_parse(const char *s, tdsc__target *t,
                             tdsc_error *err) {
  return tdsc__target_parse_as("Server", s, t, err);
}

/* Failover Partner= (database mirroring, connect.c): checked by the
 * option parser, before any traffic.  The partner is parsed as Server= is, but reached over TCP
 * only: mirroring partners are two instances, each with its own TCP
 * endpoint, and a pipe or shared memory would reach this machine's
 * server, not a partner's. */
tdsc_errc tdsc__partner_check(const tdsc__options *o, tdsc_error *err) {
  const char *fp = o->value[TDSC__OPT_FAILOVER_PARTNER];
  const char *kw = tdsc__optdefs[TDSC__OPT_FAILOVER_PARTNER].info.keyword;
  if (!fp)
    return TDSC_OK;
  tdsc__target t;
  tdsc_errc rc = tdsc__target_parse_as(kw, fp, &t, err);
  if (rc != TDSC_OK)
    return rc;
  if (t.proto != TDSC__PROTO_AUTO && t.proto != TDSC__PROTO_TCP)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s=%s: the partner is reached over TCP only (a "
                         "pipe or shared memory reaches this machine's "
                         "server, not a mirroring partner); write "
                         "host[\\instance][,port]",
                         kw, fp);
  /* SqlClient refuses the same pair: MultiSubnetFailover is an
   * availability group listener's, whose one name follows the primary;
   * mirroring names the two partners instead */
  if (o->multi_subnet)
    return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                         "%s= and MultiSubnetFailover=yes are given: "
                         "MultiSubnetFailover is for an availability group "
                         "listener, %s= for database mirroring; keep the "
                         "one that matches the server",
                         kw, kw);
  const char *db = o->value[TDSC__OPT_DATABASE];
  if (!db || !*db)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s= needs Database=: a server is the mirroring "
                         "principal of some databases and the mirror of "
                         "others, so only the database says which partner "
                         "serves the login (SqlClient and ODBC require it "
                         "too)",
                         kw);
  const char *list = o->value[TDSC__OPT_TRANSPORT];
  bool tcp = !list;
  for (const char *p = list; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t len = strcspn(p, ", ");
    tcp |= len == 3 && !strncasecmp(p, "tcp", 3);
    p += len;
  }
  if (!tcp)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "%s= is reached over TCP, which Transport=%s "
                         "leaves out: add tcp to Transport=",
                         kw, list);
  return TDSC_OK;
}

/* ---------------------------------------------------------------- plans */

const char *tdsc__ep_name(tdsc__ep_kind k) {
  switch (k) {
  case TDSC__EP_SHM: return "shm";
  case TDSC__EP_PIPE: return "np";
  case TDSC__EP_TCP: break;
  }
  return "tcp";
}

bool tdsc__host_is_local(const char *host) {
  char me[256];
  if (!strcasecmp(host, "localhost") || !strcmp(host, "::1") ||
      !strncmp(host, "127.", 4))
    return true;
  if (!tdsc__hostname(me, sizeof me))
    return false;
  size_t short_len = strcspn(me, ".");
  return !strcasecmp(host, me) ||
         (strlen(host) == short_len && !strncasecmp(host, me, short_len));
}

/* The local server's endpoints (doc/local-endpoints.md): shared memory
 * where the platform has it (tdsc__shm_path_for), and the pipe SQL Server
 * names \\.\pipe\sql\query (default instance) or
 * \\.\pipe\MSSQL$I\sql\query, mapped as every pipe name is. */
static void local_shm_path(const char *dir, const char *instance, char *shm,
                           size_t shmlen) {
  tdsc__shm_path_for(dir, instance, shm, shmlen);
}

static tdsc_errc local_pipe_path(const char *dir, const char *instance,
                                 char *pipe, size_t pipelen, tdsc_error *err) {
  char win[300];
  if (*instance && strcasecmp(instance, "MSSQLSERVER"))
    snprintf(win, sizeof win, "\\\\.\\pipe\\MSSQL$%s\\sql\\query", instance);
  else
    snprintf(win, sizeof win, "\\\\.\\pipe\\sql\\query");
  return tdsc__pipe_path_for(win, dir, pipe, pipelen, err);
}

tdsc_errc tdsc__endpoints_plan(const tdsc__options *o, const tdsc__target *t,
                               tdsc__endpoint *eps, size_t *n,
                               tdsc_error *err) {
  const char *dir = tdsc__opt(o, TDSC__OPT_LOCAL_DIR);
  const char *list = tdsc__opt(o, TDSC__OPT_TRANSPORT);
  bool local = tdsc__host_is_local(t->host) ||
               t->proto == TDSC__PROTO_SHM ||
               (t->proto == TDSC__PROTO_NP && t->pipe[0] == '/');
  bool auto_local = t->proto == TDSC__PROTO_AUTO && local && !t->port;
  tdsc__endpoint all[TDSC__MAX_ENDPOINTS];
  size_t nall = 0;
  char shm[512] = "", pipe[512] = "";
  tdsc_errc rc;
  if (!dir)
    dir = "/run/tdsclient";
  /* the local endpoints' paths only where the plan holds them: a long
   * LocalDir must not stand in the way of tcp: */
  local_shm_path(dir, t->instance, shm, sizeof shm);
  if (auto_local && (rc = local_pipe_path(dir, t->instance, pipe, sizeof pipe,
                                          err)) != TDSC_OK)
    return rc;

  *n = 0;
  memset(all, 0, sizeof all);
  for (size_t i = 0; i < TDSC__MAX_ENDPOINTS; i++) {
    snprintf(all[i].host, sizeof all[i].host, "%s", t->host);
    snprintf(all[i].instance, sizeof all[i].instance, "%s", t->instance);
  }
  /* what the target allows, in the default order */
  if (t->proto == TDSC__PROTO_SHM || auto_local) {
    all[nall].kind = TDSC__EP_SHM;
    snprintf(all[nall++].path, sizeof all[0].path, "%s", shm);
  }
  if (t->proto == TDSC__PROTO_NP) {
    all[nall].kind = TDSC__EP_PIPE;
    if (t->pipe[0] == '/') /* already a POSIX socket path */
      snprintf(all[nall].path, sizeof all[0].path, "%s", t->pipe);
    else if ((rc = tdsc__pipe_path_for(t->pipe, dir, all[nall].path,
                                       sizeof all[0].path, err)) != TDSC_OK)
      return rc;
    snprintf(all[nall].host, sizeof all[0].host, "localhost");
    nall++;
  } else if (auto_local) {
    all[nall].kind = TDSC__EP_PIPE;
    snprintf(all[nall++].path, sizeof all[0].path, "%s", pipe);
  }
  if (t->proto == TDSC__PROTO_TCP || t->proto == TDSC__PROTO_AUTO) {
    all[nall].kind = TDSC__EP_TCP;
    all[nall].parallel = o->multi_subnet;
    /* host,port wins; an instance without a port asks SQL Browser */
    all[nall++].port = t->port ? t->port : t->instance[0] ? 0 : 1433;
  }

  if (!list) {
    memcpy(eps, all, nall * sizeof all[0]);
    *n = nall;
    return TDSC_OK;
  }
  /* Transport=: the order and the subset of what the target allows */
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t len = strcspn(p, ", ");
    if (!len)
      break;
    tdsc__ep_kind k;
    if (len == 3 && !strncasecmp(p, "shm", 3))
      k = TDSC__EP_SHM;
    else if ((len == 2 && !strncasecmp(p, "np", 2)) ||
             (len == 4 && !strncasecmp(p, "pipe", 4)))
      k = TDSC__EP_PIPE;
    else if (len == 3 && !strncasecmp(p, "tcp", 3))
      k = TDSC__EP_TCP;
    else
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "Transport= lists '%.*s': the transports are shm, "
                           "np and tcp",
                           (int)len, p);
    for (size_t i = 0; i < nall; i++)
      if (all[i].kind == k && *n < TDSC__MAX_ENDPOINTS) {
        bool dup = false;
        for (size_t j = 0; j < *n; j++)
          dup |= eps[j].kind == k;
        if (!dup)
          eps[(*n)++] = all[i];
      }
    p += len;
  }
  if (!*n)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "Transport=%s leaves no way to reach %s%s%s: %s", list,
                         t->host, t->instance[0] ? "\\" : "", t->instance,
                         local ? "it allows shm, np, tcp"
                               : "a remote server is reached over tcp only");
  return TDSC_OK;
}

/* ---------------------------------------------------------------- reach */

/* connect.c walks the plan with these, and tdsc-doctor's transport check
 * too, so that both reach the server the same way. */

tdsc_errc tdsc__endpoint_resolve(const tdsc__options *o, tdsc__endpoint *ep,
                                 int64_t deadline, char *address, size_t cap,
                                 tdsc_error *err) {
  if (ep->kind != TDSC__EP_TCP || ep->port)
    return TDSC_OK;
  tdsc__ssrp_info info;
  snprintf(address, cap, "%s\\%s (SQL Browser)", ep->host, ep->instance);
  tdsc_errc rc = tdsc__ssrp_resolve(ep->host, (uint16_t)o->browser_port,
                                    ep->instance, deadline, &info, err);
  return rc == TDSC_OK ? tdsc__endpoint_browsed(ep, &info, err) : rc;
}

tdsc_errc tdsc__endpoint_browsed(tdsc__endpoint *ep,
                                 const tdsc__ssrp_info *info,
                                 tdsc_error *err) {
  if (!info->tcp_port)
    return tdsc__err_set(err, TDSC_E_INSTANCE_NOT_FOUND,
                         "SQL Browser at %s knows instance %s but it does "
                         "not listen on TCP%s%s",
                         info->address, ep->instance,
                         info->pipe[0] ? "; its pipe is " : "", info->pipe);
  ep->port = info->tcp_port;
  return TDSC_OK;
}

tdsc_errc tdsc__endpoint_opener(const tdsc__endpoint *ep, tdsc__addr *addrs,
                                size_t naddr, tdsc__opener **out,
                                tdsc_error *err) {
  switch (ep->kind) {
  case TDSC__EP_SHM:
    free(addrs);
    return tdsc__shm_open(ep->path, out, err);
  case TDSC__EP_PIPE:
    free(addrs);
    return tdsc__pipe_open(ep->path, out, err);
  case TDSC__EP_TCP:
    break;
  }
  return tdsc__tcp_open(ep->host, ep->port, addrs, naddr, ep->parallel, out,
                        err);
}

tdsc_errc tdsc__endpoint_open(const tdsc__endpoint *ep, int64_t deadline,
                              tdsc__io **io, char *address, size_t cap,
                              tdsc_error *err) {
  *io = NULL;
  if (ep->kind == TDSC__EP_TCP && !ep->parallel) /* it waits on every
                                                    attempt at once */
    return tdsc__tcp_connect(ep->host, ep->port, deadline, io, address, cap,
                             err);
  tdsc__opener *o;
  tdsc_errc rc = tdsc__endpoint_opener(ep, NULL, 0, &o, err);
  return rc == TDSC_OK ? tdsc__opener_run(o, deadline, io, address, cap, err)
                       : rc;
}

bool tdsc__endpoint_unreachable(tdsc_errc rc) {
  switch (rc) {
  case TDSC_E_SHM_NOT_FOUND:
  case TDSC_E_PIPE_NOT_FOUND:
  case TDSC_E_PIPE_BUSY:
  case TDSC_E_CONN_REFUSED:
  case TDSC_E_BROWSER_UNREACHABLE:
    return true;
  default:
    return false;
  }
}
