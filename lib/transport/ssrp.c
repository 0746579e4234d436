/* SQL Server Browser client (MC-SQLR): the CLNT_UCAST_INST encoder, the
 * SVR_RESP parser and the UDP exchange that uses them (ssrp.h).  It only
 * finds where an instance listens; the session connects with tcp.c or
 * a pipe afterwards.  Sockets through sock.h, every wait bounded by the
 * caller's deadline. */
#include "config.h"

#include "buf.h"
#include "clock.h"
#include "transport/ssrp.h"
#include "transport/io.h"
#include "transport/sock.h"
#include "sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Resend intervals: 250 ms, doubled up to 1 s (UDP loses datagrams; the
 * browser answers at once when it is there). */
#define RESEND_FIRST_MS 250
#define RESEND_MAX_MS 1000
/* Without a deadline, stop after what Microsoft's SqlClient waits at most
 * for a browser reply (15 s), rather than retrying forever. */
#define NO_DEADLINE_CAP_MS 15000
/* RESP_SIZE is a u16: the largest SVR_RESP is 3 + 65535 bytes. */
#define MAX_DATAGRAM (3 + 65535)

/* ---------------------------------------------------------------- request */

tdsc_errc tdsc__ssrp_request(const char *instance,
                             uint8_t out[TDSC__SSRP_REQ_MAX], size_t *outlen,
                             tdsc_error *err) {
  *outlen = 0;
  size_t n = instance ? strlen(instance) : 0;
  if (n == 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "no instance name to ask the SQL Server Browser for");
  if (n > TDSC__SSRP_INSTANCE_MAX)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the instance name \"%s\" is %zu bytes long; SQL "
                         "Server instance names have at most %d "
                         "(MC-SQLR 2.2.3)",
                         instance, n, TDSC__SSRP_INSTANCE_MAX);
  out[0] = 0x04; /* CLNT_UCAST_INST */
  memcpy(out + 1, instance, n);
  out[1 + n] = 0x00;
  *outlen = n + 2;
  return TDSC_OK;
}

/* ---------------------------------------------------------------- parser */

typedef struct tok {
  const uint8_t *p;
  size_t n;
} tok;

/* Next `;`-terminated token of data[*pos..len); false when no `;` is left
 * (cannot happen once the data is known to end with ";;"). */
static bool next_tok(const uint8_t *data, size_t len, size_t *pos, tok *t) {
  if (*pos >= len)
    return false;
  const uint8_t *semi = memchr(data + *pos, ';', len - *pos);
  if (!semi)
    return false;
  t->p = data + *pos;
  t->n = (size_t)(semi - t->p);
  *pos = (size_t)(semi - data) + 1;
  return true;
}

static bool tok_is(const tok *t, const char *s) {
  size_t n = strlen(s);
  return t->n == n && strncasecmp((const char *)t->p, s, n) == 0;
}

/* Copies a token into a fixed field; false if it does not fit. */
static bool tok_copy(const tok *t, char *dst, size_t cap) {
  if (t->n >= cap)
    return false;
  memcpy(dst, t->p, t->n);
  dst[t->n] = '\0';
  return true;
}

/* Prints a token for a message, cut at 40 bytes. */
static const char *tok_show(const tok *t, char buf[48]) {
  size_t n = t->n > 40 ? 40 : t->n;
  memcpy(buf, t->p, n);
  strcpy(buf + n, t->n > 40 ? "..." : "");
  return buf;
}

static tdsc_errc malformed(tdsc_error *err, size_t off, const char *what) {
  return tdsc__err_set(err, TDSC_E_BROWSER_REPLY_MALFORMED,
                       "malformed SQL Server Browser reply: %s (at byte %zu)",
                       what, off);
}

/* Parses one instance record starting at *pos (MC-SQLR 2.2.5
 * CLNT_UCAST_INST_RESPONSE): the four fixed pairs, then protocol pairs,
 * then the empty token of ";;".  Offsets in messages count from the start
 * of the datagram (data starts at byte 3). */
static tdsc_errc parse_record(const uint8_t *data, size_t len, size_t *pos,
                              tdsc__ssrp_info *r, tdsc_error *err) {
  static const char *const fixed[4] = {"ServerName", "InstanceName",
                                       "IsClustered", "Version"};
  char show[48], msg[160];
  memset(r, 0, sizeof *r);
  for (int i = 0; i < 4; i++) {
    tok k = {0}, v = {0};
    size_t at = *pos + 3;
    if (!next_tok(data, len, pos, &k) || !tok_is(&k, fixed[i])) {
      snprintf(msg, sizeof msg, "expected \"%s\", found \"%s\"", fixed[i],
               k.p ? tok_show(&k, show) : "");
      return malformed(err, at, msg);
    }
    at = *pos + 3;
    if (!next_tok(data, len, pos, &v) || v.n == 0) {
      snprintf(msg, sizeof msg, "\"%s\" has no value", fixed[i]);
      return malformed(err, at, msg);
    }
    bool ok = true;
    switch (i) {
    case 0:
      ok = tok_copy(&v, r->server_name, sizeof r->server_name);
      break;
    case 1:
      ok = tok_copy(&v, r->instance_name, sizeof r->instance_name);
      break;
    case 2:
      if (tok_is(&v, "Yes"))
        r->is_clustered = true;
      else if (!tok_is(&v, "No"))
        ok = false;
      break;
    default:
      ok = tok_copy(&v, r->version, sizeof r->version);
      break;
    }
    if (!ok) {
      snprintf(msg, sizeof msg, "bad value \"%s\" for \"%s\"",
               tok_show(&v, show), fixed[i]);
      return malformed(err, at, msg);
    }
  }
  /* Protocol pairs in any order (2.2.5 note 1), up to the empty token. */
  bool seen_tcp = false, seen_np = false;
  for (;;) {
    tok k = {0}, v = {0};
    size_t at = *pos + 3;
    if (!next_tok(data, len, pos, &k))
      return malformed(err, at, "an instance does not end with \";;\"");
    if (k.n == 0)
      return TDSC_OK; /* the second ';' of ";;" */
    for (int i = 0; i < 4; i++)
      if (tok_is(&k, fixed[i])) {
        snprintf(msg, sizeof msg,
                 "\"%s\" among the protocols: the instance before it does "
                 "not end with \";;\"",
                 fixed[i]);
        return malformed(err, at, msg);
      }
    /* BV_INFO carries three values (item;group;org); the others one. */
    int nval = tok_is(&k, "bv") ? 3 : 1;
    for (int j = 0; j < nval; j++) {
      size_t vat = *pos + 3;
      if (!next_tok(data, len, pos, &v) || v.n == 0) {
        snprintf(msg, sizeof msg, "protocol \"%s\" has no value",
                 tok_show(&k, show));
        return malformed(err, vat, msg);
      }
    }
    if (tok_is(&k, "tcp")) {
      unsigned long port = 0;
      bool ok = v.n >= 1 && v.n <= 5 && !seen_tcp;
      for (size_t j = 0; ok && j < v.n; j++) {
        ok = v.p[j] >= '0' && v.p[j] <= '9';
        port = port * 10 + (unsigned long)(v.p[j] - '0');
      }
      if (!ok || port == 0 || port > 65535) {
        snprintf(msg, sizeof msg, "bad TCP port \"%s\"%s", tok_show(&v, show),
                 seen_tcp ? " (tcp listed twice)" : "");
        return malformed(err, at, msg);
      }
      r->tcp_port = (uint16_t)port;
      seen_tcp = true;
    } else if (tok_is(&k, "np")) {
      /* MC-SQLR 3.2.5.5: a parameter over 255 bytes is malformed. */
      if (seen_np || !tok_copy(&v, r->pipe, sizeof r->pipe))
        return malformed(
            err, at, seen_np ? "np listed twice" : "pipe name over 255 bytes");
      seen_np = true;
    }
    /* via, rpc, spx, adsp, bv and anything newer: not for us. */
  }
}

/* Appends a name to a bounded ", "-separated list. */
static void names_add(char *list, size_t cap, const char *name) {
  size_t used = strlen(list);
  if (used + 5 >= cap)
    return;
  int n = snprintf(list + used, cap - used, "%s%s", used ? ", " : "", name);
  if (n < 0 || (size_t)n >= cap - used)
    memcpy(list + cap - 4, "...", 4);
}

tdsc_errc tdsc__ssrp_parse(const uint8_t *p, size_t n,
                           const char *want_instance, tdsc__ssrp_info *out,
                           tdsc_error *err) {
  char msg[160];
  tdsc__rd rd;
  tdsc__rd_init(&rd, p, n);
  uint8_t type = tdsc__rd_u8(&rd);
  uint16_t size = tdsc__rd_u16le(&rd);
  if (!tdsc__rd_ok(&rd)) {
    snprintf(msg, sizeof msg,
             "%zu bytes, shorter than the 3-byte SVR_RESP header", n);
    return malformed(err, 0, msg);
  }
  if (type != 0x05) {
    snprintf(msg, sizeof msg, "first byte 0x%02x, not SVR_RESP (0x05)", type);
    return malformed(err, 0, msg);
  }
  /* MC-SQLR 2.2.6: a DAC reply counts the whole datagram in RESP_SIZE. */
  if (size == 6 && n == 6 && p[3] == 0x01)
    return malformed(err, 1,
                     "this is a DAC reply (to CLNT_UCAST_DAC), not "
                     "an instance description");
  if ((size_t)size != tdsc__rd_left(&rd)) {
    snprintf(msg, sizeof msg, "RESP_SIZE says %u bytes of data but %zu follow",
             (unsigned)size, tdsc__rd_left(&rd));
    return malformed(err, 1, msg);
  }
  const uint8_t *data = tdsc__rd_take(&rd, size);
  if (!data || size < 2 || data[size - 2] != ';' || data[size - 1] != ';')
    return malformed(err, 3 + (size_t)size,
                     "the data does not end with \";;\"");
  if (memchr(data, '\0', size))
    return malformed(
        err, 3 + (size_t)((const uint8_t *)memchr(data, '\0', size) - data),
        "a NUL byte inside the text");

  /* Check every record before picking one: a reply broken anywhere is
   * not trusted anywhere. */
  tdsc__ssrp_info rec, pick;
  char names[256] = "";
  bool found = false;
  size_t pos = 0;
  while (pos < size) {
    tdsc_errc rc = parse_record(data, size, &pos, &rec, err);
    if (rc != TDSC_OK)
      return rc;
    names_add(names, sizeof names, rec.instance_name);
    if (!found && want_instance &&
        strcasecmp(rec.instance_name, want_instance) == 0) {
      pick = rec;
      found = true;
    }
  }
  if (!found)
    return tdsc__err_set(err, TDSC_E_INSTANCE_NOT_FOUND,
                         "no instance \"%s\" in the SQL Server Browser's "
                         "reply (it lists: %s)",
                         want_instance ? want_instance : "", names);
  memcpy(pick.address, out->address, sizeof pick.address);
  *out = pick;
  return TDSC_OK;
}

/* ---------------------------------------------------------------- resolve */

typedef struct peer {
  tdsc__addr a;
  tdsc__sock fd; /* open while waiting for its reply */
  int errnum;    /* why it was given up, 0 if it was not */
} peer;

struct tdsc__ssrp_query {
  char *host;
  char *instance;
  uint16_t port;
  uint8_t req[TDSC__SSRP_REQ_MAX];
  size_t reqlen;
  peer *peers;
  size_t npeer;
  uint8_t *buf;
  struct pollfd *pfds; /* the blocking form's wait on every live peer */
  tdsc_error bad;      /* the first malformed reply, reported if no other */
  int64_t start;
  int64_t next_send;
  int interval;
  bool first_round;
};

/* A non-blocking caller waits on one socket (the first live peer); the
 * others are looked at again after this long (as tcp.c's). */
#define RECHECK_MS 50

/* Moves a local error into the caller's (which may be NULL). */
static void hand_over(tdsc_error *err, tdsc_error *e) {
  if (err)
    tdsc__err_move(err, e);
  else
    tdsc__err_clear(e);
}

static void give_up(peer *pe, int errnum) {
  pe->errnum = errnum;
  tdsc__sock_close(pe->fd);
  pe->fd = TDSC__NO_SOCK;
}

/* Appends "addr: text" to a bounded list (as tcp.c's list_add). */
static void list_add(char *list, size_t cap, const char *addr,
                     const char *text) {
  size_t used = strlen(list);
  if (used + 4 >= cap)
    return;
  int n = snprintf(list + used, cap - used, "%s%s: %s", used ? "; " : "", addr,
                   text);
  if (n < 0 || (size_t)n >= cap - used)
    memcpy(list + cap - 4, "...", 4);
}

void tdsc__ssrp_free(tdsc__ssrp_query *q) {
  if (!q)
    return;
  tdsc__err_clear(&q->bad);
  for (size_t i = 0; i < q->npeer; i++)
    tdsc__sock_close(q->peers[i].fd);
  free(q->peers);
  free(q->buf);
  free(q->pfds);
  free(q->host);
  free(q->instance);
  free(q);
}

tdsc_errc tdsc__ssrp_start(const char *host, uint16_t browser_port,
                           const char *instance, tdsc__addr *addrs,
                           size_t naddr, tdsc__ssrp_query **out,
                           tdsc_error *err) {
  *out = NULL;
  tdsc__ssrp_query *q = NULL;
  tdsc_errc rc;
  if (!host || !*host) {
    rc = tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                       "no host name to ask the SQL Server Browser");
    goto fail;
  }
  if (browser_port == 0)
    browser_port = TDSC__SSRP_PORT;
  if (!(q = calloc(1, sizeof *q))) {
    rc = tdsc__err_oom(err);
    goto fail;
  }
  q->port = browser_port;
  if ((rc = tdsc__ssrp_request(instance, q->req, &q->reqlen, err)) != TDSC_OK)
    goto fail;
  if (!addrs && (rc = tdsc__resolve(host, browser_port, SOCK_DGRAM, &addrs,
                                    &naddr, err)) != TDSC_OK)
    goto fail;
  q->host = tdsc__strdup(host);
  q->instance = tdsc__strdup(instance);
  q->buf = malloc(MAX_DATAGRAM);
  q->peers = calloc(naddr, sizeof *q->peers);
  q->pfds = calloc(naddr, sizeof *q->pfds);
  if (!q->host || !q->instance || !q->buf || !q->peers || !q->pfds) {
    rc = tdsc__err_oom(err);
    goto fail;
  }
  q->npeer = naddr;
  for (size_t i = 0; i < naddr; i++) {
    peer *pe = &q->peers[i];
    pe->a = addrs[i];
    pe->fd = tdsc__sock_open(pe->a.family, SOCK_DGRAM, IPPROTO_UDP);
    if (pe->fd == TDSC__NO_SOCK) {
      pe->errnum = tdsc__sock_errno();
      continue;
    }
    /* Connected: the kernel drops datagrams from other sources, and an
     * ICMP port unreachable comes back as ECONNREFUSED. */
    if (connect(pe->fd, (struct sockaddr *)&pe->a.sa, pe->a.salen) < 0)
      give_up(pe, tdsc__sock_errno());
  }
  free(addrs);
  q->start = q->next_send = tdsc__now_ms();
  q->interval = RESEND_FIRST_MS;
  q->first_round = true;
  *out = q;
  return TDSC_OK;

fail:
  free(addrs);
  tdsc__ssrp_free(q);
  return rc;
}

/* MC-SQLR 3.1.5.2: a browser MUST ignore CLNT_UCAST_INST for an instance
 * it does not have, so silence cannot tell "no such instance" from "no
 * browser".  From the first resend on we also send CLNT_UCAST_EX (0x03),
 * answered with every instance: the reply either holds ours after all or
 * names the ones to suggest. */
static void send_round(tdsc__ssrp_query *q, int64_t now) {
  static const uint8_t ucast_ex = 0x03;
  for (size_t i = 0; i < q->npeer; i++) {
    if (q->peers[i].fd == TDSC__NO_SOCK)
      continue;
    ssize_t s = send(q->peers[i].fd, (const void *)q->req, q->reqlen,
                     MSG_NOSIGNAL);
    if (s >= 0 && !q->first_round)
      s = send(q->peers[i].fd, (const void *)&ucast_ex, 1, MSG_NOSIGNAL);
    int e = s < 0 ? tdsc__sock_errno() : 0;
    if (s < 0 && !tdsc__sock_again(e))
      give_up(&q->peers[i], e);
  }
  q->first_round = false;
  q->next_send = now + q->interval;
  q->interval =
      q->interval * 2 > RESEND_MAX_MS ? RESEND_MAX_MS : q->interval * 2;
}

/* Reads what pe has: 1 a well-formed answer decided (rc), 0 nothing (or
 * a reply that only gave the peer up). */
static int take_reply(tdsc__ssrp_query *q, peer *pe, tdsc__ssrp_info *out,
                      tdsc_errc *rc, tdsc_error *err) {
  ssize_t got = recv(pe->fd, (void *)q->buf, MAX_DATAGRAM, MSG_TRUNC);
  if (got < 0) {
    int e = tdsc__sock_errno();
    if (!tdsc__sock_again(e))
      give_up(pe, e);
    return 0;
  }
  size_t len = (size_t)got > MAX_DATAGRAM ? MAX_DATAGRAM : (size_t)got;
  tdsc_error e = {0};
  tdsc_errc prc = tdsc__ssrp_parse(q->buf, len, q->instance, out, &e);
  if (prc == TDSC_OK || prc == TDSC_E_INSTANCE_NOT_FOUND) {
    /* A well-formed answer decides, found or not. */
    snprintf(out->address, sizeof out->address, "%s", pe->a.text);
    if (prc != TDSC_OK)
      tdsc__err_context(&e, "SQL Server Browser at %s", pe->a.text);
    hand_over(err, &e);
    *rc = prc;
    return 1;
  }
  if (prc != TDSC_E_BROWSER_REPLY_MALFORMED) {
    hand_over(err, &e); /* out of memory */
    *rc = prc;
    return 1;
  }
  tdsc__err_context(&e, "SQL Server Browser at %s", pe->a.text);
  if (q->bad.code == TDSC_OK)
    tdsc__err_move(&q->bad, &e);
  tdsc__err_clear(&e);
  give_up(pe, TDSC__SOCK_EPROTO);
  return 0;
}

/* No answer decided: a malformed one, or every address's fate. */
static tdsc_errc no_answer(tdsc__ssrp_query *q, tdsc_error *err) {
  if (q->bad.code != TDSC_OK) {
    hand_over(err, &q->bad);
    return TDSC_E_BROWSER_REPLY_MALFORMED;
  }
  char tried[1024] = "";
  bool refused = false, waited = false;
  int first_errno = 0;
  for (size_t i = 0; i < q->npeer; i++) {
    const peer *pe = &q->peers[i];
    if (pe->fd != TDSC__NO_SOCK) {
      waited = true;
      list_add(tried, sizeof tried, pe->a.text, "no answer");
    } else if (TDSC__SOCK_UDP_REFUSED(pe->errnum)) {
      refused = true;
      list_add(tried, sizeof tried, pe->a.text,
               "port unreachable (nothing listens there)");
    } else {
      if (!first_errno)
        first_errno = pe->errnum;
      char text[160];
      list_add(tried, sizeof tried, pe->a.text,
               tdsc__strerror(pe->errnum, text, sizeof text));
    }
  }
  int errnum = waited    ? TDSC__SOCK_ETIMEDOUT
               : refused ? TDSC__SOCK_ECONNREFUSED
                         : first_errno;
  return tdsc__err_errno(
      err, TDSC_E_BROWSER_UNREACHABLE, errnum,
      "no reply from the SQL Server Browser of %s (UDP %u) about instance "
      "\"%s\" %s %lld ms (%s)",
      q->host, (unsigned)q->port, q->instance, waited ? "within" : "after",
      (long long)(tdsc__now_ms() - q->start), tried);
}

tdsc_errc tdsc__ssrp_step(tdsc__ssrp_query *q, int64_t deadline,
                          tdsc__ssrp_info *out, intptr_t *fd, int *timer_ms,
                          tdsc_error *err) {
  memset(out, 0, sizeof *out);
  *fd = TDSC__NO_POLLFD;
  *timer_ms = -1;
  if (deadline == TDSC__NO_DEADLINE)
    deadline = q->start + NO_DEADLINE_CAP_MS;
  int64_t now = tdsc__now_ms();
  if (now >= q->next_send)
    send_round(q, now);
  size_t live = 0;
  for (size_t i = 0; i < q->npeer; i++) {
    peer *pe = &q->peers[i];
    tdsc_errc rc;
    if (pe->fd != TDSC__NO_SOCK && take_reply(q, pe, out, &rc, err))
      return rc;
    if (pe->fd == TDSC__NO_SOCK)
      continue;
    if (!live++)
      *fd = (intptr_t)pe->fd;
  }
  int wait = tdsc__ms_left(deadline);
  if (live == 0 || wait == 0)
    return no_answer(q, err); /* every address refused, failed or bad */
  int64_t until = q->next_send - tdsc__now_ms();
  if (until < wait)
    wait = until < 0 ? 0 : (int)until;
  if (live > 1 && wait > RECHECK_MS)
    wait = RECHECK_MS;
  *timer_ms = wait;
  return TDSC__AGAIN;
}

tdsc_errc tdsc__ssrp_resolve(const char *host, uint16_t browser_port,
                             const char *instance, int64_t deadline,
                             tdsc__ssrp_info *out, tdsc_error *err) {
  memset(out, 0, sizeof *out);
  tdsc__ssrp_query *q;
  tdsc_errc rc =
      tdsc__ssrp_start(host, browser_port, instance, NULL, 0, &q, err);
  while (rc == TDSC_OK) {
    intptr_t fd;
    int ms;
    rc = tdsc__ssrp_step(q, deadline, out, &fd, &ms, err);
    if (rc != TDSC__AGAIN)
      break;
    /* Blocking, every live address is waited on at once; the step reads
     * what came and resends when it is time. */
    size_t np = 0;
    for (size_t i = 0; i < q->npeer; i++)
      if (q->peers[i].fd != TDSC__NO_SOCK)
        q->pfds[np++] = (struct pollfd){.fd = q->peers[i].fd, .events = POLLIN};
    int64_t until = q->next_send - tdsc__now_ms();
    int left = tdsc__ms_left(deadline == TDSC__NO_DEADLINE
                                 ? q->start + NO_DEADLINE_CAP_MS
                                 : deadline);
    ms = until < left ? (until < 0 ? 0 : (int)until) : left;
    if (tdsc__sock_poll(q->pfds, (tdsc__nfds)np, ms) < 0 &&
        tdsc__sock_errno() != TDSC__SOCK_EINTR) {
      rc = tdsc__err_errno(err, TDSC_E_SOCKET, tdsc__sock_errno(),
                           "cannot wait for the SQL Server Browser of %s",
                           host);
      break;
    }
    rc = TDSC_OK;
  }
  tdsc__ssrp_free(q);
  return rc;
}
