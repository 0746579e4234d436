/* The protocol trace (tdsclient(3), TRACE): Trace= / TDSC_TRACE (a file,
 * appended to) and tdsc_conn_set_trace (a callback).  wire.c hands every
 * whole packet here, after TLS, through tdsc__trace_packet (one call where
 * a packet is sent, one where one is received); this file keeps the
 * message under way per direction, decodes the client's messages through
 * lib/proto/trace_msg.c and the server's token stream with a token parser
 * of its own, so that the trace never touches the session's state.  A
 * failure here (memory, a token that does not decode) only cuts the
 * trace; it never changes what the connection does. */
#include "config.h"

#include "session/session.h"

#include "proto/trace.h"
#include "proto/typeinfo.h"
#include "proto/values.h"
#include "sys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of a client message the trace keeps to decode, and how large a
 * server token it waits for before giving up on the rest of the message. */
#define OUT_KEEP ((size_t)64 * 1024)
#define IN_KEEP ((size_t)1024 * 1024)
/* Rows shown per result; the others are counted. */
#define ROWS_SHOWN 5

struct tdsc__trace {
  FILE *file; /* Trace=, owned; NULL when only the callback traces */
  tdsc_trace_fn fn;
  void *ud;
  tdsc__tout out_fn; /* emits to both */

  /* the client's message under way */
  bool out_open;
  uint8_t out_type;
  tdsc__buf out;
  bool out_cut;
  uint8_t last_req; /* type of the last whole message sent */

  /* the server's message under way */
  bool in_open;
  bool in_prelogin; /* it answers a PRELOGIN: not a token stream */
  tdsc__buf in;     /* bytes not decoded yet */
  bool in_stopped;  /* decoding gave up for the rest of the message */
  tdsc__tokp *tokp;
  size_t rows_shown, rows_hidden;
};

static void emit(void *ud, const char *line) {
  tdsc__trace *t = ud;
  if (t->file) {
    fputs(line, t->file);
    fputc('\n', t->file);
  }
  if (t->fn)
    t->fn(t->ud, line);
}

/* ---- life cycle */

static tdsc__trace *trace_new(void) {
  tdsc__trace *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->out_fn.emit = emit;
  t->out_fn.ud = t;
  tdsc__buf_init(&t->out);
  tdsc__buf_init(&t->in);
  return t;
}

static void trace_free(tdsc__trace *t) {
  if (!t)
    return;
  if (t->file)
    fclose(t->file);
  tdsc__buf_free(&t->out);
  tdsc__buf_free(&t->in);
  tdsc__tokp_free(t->tokp);
  free(t);
}

/* The trace exists only while it has somewhere to go: when off, the hooks
 * in wire.c cost one test of c->trace. */
static void settle(tdsc_conn *c) {
  if (c->trace && !c->trace->file && !c->trace->fn) {
    trace_free(c->trace);
    c->trace = NULL;
  }
}

static void banner(tdsc__trace *t, const char *why) {
  int64_t us = tdsc__wall_us();
  int64_t s = us / 1000000, days = s / 86400;
  /* civil date from days since 1970-01-01 (proleptic Gregorian) */
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
  tdsc__tout_line(&t->out_fn,
                  "# tdsclient %s protocol trace (%s), %04lld-%02lld-%02lld "
                  "UTC; secrets redacted",
                  tdsc_version(), why, (long long)y, (long long)m,
                  (long long)d);
}

tdsc_errc tdsc__trace_open(tdsc_conn *c) {
  const char *path = tdsc__opt(&c->opts, TDSC__OPT_TRACE);
  if (!path || !*path)
    return TDSC_OK;
  FILE *f = tdsc__fopen_append_private(path);
  if (!f) {
    int e = errno;
    tdsc__err_errno(&c->err, TDSC_E_TRACE_FILE, e,
                    "cannot open the trace file '%s' (%s) for appending", path,
                    c->opts.given[TDSC__OPT_TRACE] ? "Trace=" : "TDSC_TRACE");
    return TDSC_E_TRACE_FILE;
  }
  if (!c->trace && !(c->trace = trace_new())) {
    fclose(f);
    return tdsc__err_oom(&c->err);
  }
  if (c->trace->file)
    fclose(c->trace->file);
  c->trace->file = f;
  c->trace->fn = c->trace_fn;
  c->trace->ud = c->trace_ud;
  banner(c->trace, c->opts.given[TDSC__OPT_TRACE] ? "Trace=" : "TDSC_TRACE");
  fflush(f);
  return TDSC_OK;
}

void tdsc__trace_close(tdsc_conn *c) {
  if (!c->trace)
    return;
  if (c->trace->file) {
    fclose(c->trace->file);
    c->trace->file = NULL;
  }
  /* a new connection starts with no message under way */
  c->trace->out_open = c->trace->in_open = false;
  settle(c);
}

void tdsc__trace_free(tdsc_conn *c) {
  trace_free(c->trace);
  c->trace = NULL;
}

void tdsc_conn_set_trace(tdsc_conn *c, tdsc_trace_fn fn, void *userdata) {
  if (!c)
    return;
  c->trace_fn = fn;
  c->trace_ud = userdata;
  if (!c->trace && fn) {
    if (!(c->trace = trace_new()))
      return; /* out of memory: no trace, the connection goes on */
    c->trace->fn = fn;
    c->trace->ud = userdata;
    banner(c->trace, "tdsc_conn_set_trace");
    return;
  }
  if (c->trace) {
    c->trace->fn = fn;
    c->trace->ud = userdata;
    settle(c);
  }
}

void tdsc__trace_note(tdsc_conn *c, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  tdsc__tout_line(&c->trace->out_fn, "# %s", line);
  if (c->trace->file)
    fflush(c->trace->file);
}

/* ---- the server's token stream */

static const char *env_name(uint8_t t) {
  static const char *const names[] = {
      NULL,          "DATABASE",      "LANGUAGE",     "CHARSET",
      "PACKETSIZE",  "SORTLCID",      "SORTFLAGS",    "COLLATION",
      "BEGINTRAN",   "COMMITTRAN",    "ROLLBACKTRAN", "ENLISTDTC",
      "DEFECTTRAN",  "MIRRORPARTNER", NULL,           "PROMOTETRAN",
      "TRANMGRADDR", "TRANENDED",     "RESETACK",     "USERINSTANCE",
      "ROUTING"};
  return t < sizeof names / sizeof *names && names[t] ? names[t] : "?";
}

static const char *token_name(uint8_t tok) {
  switch (tok) {
  case TDSC__TOK_ALTMETADATA:
    return "ALTMETADATA";
  case TDSC__TOK_ALTROW:
    return "ALTROW";
  case TDSC__TOK_COLINFO:
    return "COLINFO";
  case TDSC__TOK_DATACLASSIFICATION:
    return "DATACLASSIFICATION";
  case TDSC__TOK_FEDAUTHINFO:
    return "FEDAUTHINFO";
  case TDSC__TOK_OFFSET:
    return "OFFSET";
  case TDSC__TOK_ORDER:
    return "ORDER";
  case TDSC__TOK_SESSIONSTATE:
    return "SESSIONSTATE";
  case TDSC__TOK_TABNAME:
    return "TABNAME";
  }
  return "token";
}

/* Appends a value's text (quoted, cut) or "NULL" to b. */
static void put_value(tdsc__buf *b, const tdsc__colinfo *ci,
                      const tdsc__value *v) {
  if (v->null) {
    tdsc__buf_put_str(b, "NULL");
    return;
  }
  tdsc__buf txt;
  tdsc__buf_init(&txt);
  tdsc_error err = {0};
  if (tdsc__val_text(ci, v, &txt, &err) == TDSC_OK && !txt.oom) {
    tdsc__trace_quote(b, txt.data ? txt.data : (const uint8_t *)"", txt.len,
                      60);
  } else {
    char s[64];
    snprintf(s, sizeof s, "<%zu bytes>", v->len);
    tdsc__buf_put_str(b, s);
  }
  tdsc__err_clear(&err);
  tdsc__buf_free(&txt);
}

static void flush_rows(tdsc__trace *t) {
  if (t->rows_hidden)
    tdsc__tout_line(&t->out_fn, "  ... %zu more ROW tokens", t->rows_hidden);
  t->rows_hidden = 0;
}

static void trace_done(tdsc__trace *t, const tdsc__event *ev) {
  static const struct {
    uint16_t bit;
    const char *name;
  } bits[] = {{TDSC__DONE_MORE, "MORE"},     {TDSC__DONE_ERROR, "ERROR"},
              {TDSC__DONE_INXACT, "INXACT"}, {TDSC__DONE_COUNT, "COUNT"},
              {TDSC__DONE_ATTN, "ATTN"},     {TDSC__DONE_SRVERROR, "SRVERROR"}};
  char s[96] = "";
  for (size_t i = 0; i < sizeof bits / sizeof *bits; i++)
    if (ev->u.done.status & bits[i].bit) {
      strcat(s, *s ? "|" : "");
      strcat(s, bits[i].name);
    }
  uint8_t tok = ev->u.done.token;
  tdsc__tout_line(&t->out_fn, "  %s status=0x%04x (%s) curcmd=%u rowcount=%llu",
                  tok == TDSC__TOK_DONEPROC     ? "DONEPROC"
                  : tok == TDSC__TOK_DONEINPROC ? "DONEINPROC"
                                                : "DONE",
                  ev->u.done.status, *s ? s : "FINAL", ev->u.done.curcmd,
                  (unsigned long long)ev->u.done.rowcount);
}

static void trace_event(tdsc__trace *t, const tdsc__event *ev) {
  const tdsc__tout *o = &t->out_fn;
  tdsc__buf b;
  tdsc__buf_init(&b);
  char kind[160];
  if (ev->kind != TDSC__EV_ROW)
    flush_rows(t);
  switch (ev->kind) {
  case TDSC__EV_LOGINACK:
    tdsc__tout_line(
        o,
        "  LOGINACK interface=%u TDSVersion=0x%08x "
        "ProgName=\"%s\" version %u.%u.%u",
        ev->u.loginack.interface, ev->u.loginack.tds_version,
        ev->u.loginack.prog_name ? ev->u.loginack.prog_name : "",
        ev->u.loginack.ver[0], ev->u.loginack.ver[1],
        (unsigned)(ev->u.loginack.ver[2] << 8 | ev->u.loginack.ver[3]));
    break;
  case TDSC__EV_ENVCHANGE: {
    uint8_t type = ev->u.envchange.type;
    if (type == TDSC__ENV_ROUTING) {
      tdsc__tout_line(
          o, "  ENVCHANGE ROUTING protocol=%u port=%u server=\"%s\"",
          ev->u.envchange.routing.protocol, ev->u.envchange.routing.port,
          ev->u.envchange.routing.server ? ev->u.envchange.routing.server : "");
    } else if (ev->u.envchange.new_text || ev->u.envchange.old_text) {
      const char *nt = ev->u.envchange.new_text, *ot = ev->u.envchange.old_text;
      tdsc__trace_quote(&b, (const uint8_t *)(nt ? nt : ""),
                        nt ? strlen(nt) : 0, 128);
      tdsc__buf_put_str(&b, " (was ");
      tdsc__trace_quote(&b, (const uint8_t *)(ot ? ot : ""),
                        ot ? strlen(ot) : 0, 128);
      tdsc__buf_put_str(&b, ")");
      const char *s = tdsc__buf_cstr(&b);
      tdsc__tout_line(o, "  ENVCHANGE %s (%u) %s", env_name(type), type,
                      s ? s : "");
    } else {
      for (size_t i = 0; i < ev->u.envchange.new_len && i < 16; i++) {
        char h[4];
        snprintf(h, sizeof h, "%02x", ev->u.envchange.new_val[i]);
        tdsc__buf_put_str(&b, h);
      }
      const char *s = tdsc__buf_cstr(&b);
      tdsc__tout_line(o, "  ENVCHANGE %s (%u) new=%s (%zu bytes)",
                      env_name(type), type, s && *s ? s : "-",
                      ev->u.envchange.new_len);
    }
    break;
  }
  case TDSC__EV_INFO: {
    const tdsc_message *m = &ev->u.msg;
    tdsc__trace_quote(&b, (const uint8_t *)(m->text ? m->text : ""),
                      m->text ? strlen(m->text) : 0, 500);
    const char *s = tdsc__buf_cstr(&b);
    tdsc__tout_line(o,
                    "  %s %d state %u class %u: %s (server \"%s\", "
                    "procedure \"%s\", line %d)",
                    m->is_error ? "ERROR" : "INFO", m->number, m->state, m->cls,
                    s ? s : "", m->server ? m->server : "",
                    m->procedure ? m->procedure : "", m->line);
    break;
  }
  case TDSC__EV_COLMETADATA:
    t->rows_shown = 0;
    tdsc__tout_line(o, "  COLMETADATA %zu columns", ev->u.colmetadata.ncols);
    for (size_t i = 0; i < ev->u.colmetadata.ncols; i++) {
      const tdsc__colinfo *ci = &ev->u.colmetadata.cols[i];
      tdsc__tout_line(o,
                      "    [%zu] \"%s\" %s (0x%02x) max %u precision %u "
                      "scale %u%s",
                      i, ci->name ? ci->name : "",
                      tdsc__typeinfo_name(ci->wire_type), ci->wire_type,
                      ci->max_len, ci->precision, ci->scale,
                      ci->flags & 1 ? " nullable" : "");
    }
    break;
  case TDSC__EV_ROW: {
    if (t->rows_shown >= ROWS_SHOWN) {
      t->rows_hidden++;
      break;
    }
    t->rows_shown++;
    const tdsc__colinfo *cols = tdsc__tokp_cols(t->tokp);
    size_t n = ev->u.row.ncols;
    for (size_t i = 0; i < n && b.len < 1500; i++) {
      char h[32];
      snprintf(h, sizeof h, "%s[%zu]=", i ? " " : "", i);
      tdsc__buf_put_str(&b, h);
      put_value(&b, &cols[i], &ev->u.row.values[i]);
    }
    const char *s = tdsc__buf_cstr(&b);
    tdsc__tout_line(o, "  %s %s",
                    ev->token == TDSC__TOK_NBCROW ? "NBCROW" : "ROW",
                    s ? s : "");
    break;
  }
  case TDSC__EV_ORDER:
    tdsc__tout_line(o, "  ORDER");
    break;
  case TDSC__EV_RETURNSTATUS:
    tdsc__tout_line(o, "  RETURNSTATUS %d", (int)ev->u.return_status);
    break;
  case TDSC__EV_DONE:
    trace_done(t, ev);
    break;
  case TDSC__EV_FEATUREEXTACK:
    for (size_t i = 0; i < ev->u.featureextack.n; i++)
      tdsc__tout_line(
          o, "  FEATUREEXTACK feature 0x%02x, %u bytes%s",
          ev->u.featureextack.ids[i], ev->u.featureextack.lens[i],
          ev->u.featureextack.ids[i] == TDSC__FEAT_FEDAUTH ? ", redacted" : "");
    if (ev->u.featureextack.n == 0)
      tdsc__tout_line(o, "  FEATUREEXTACK (no features)");
    break;
  case TDSC__EV_SSPI:
    tdsc__tout_line(o, "  SSPI <%s>",
                    tdsc__trace_sspi_kind(ev->u.sspi.data, ev->u.sspi.len, kind,
                                          sizeof kind));
    break;
  case TDSC__EV_RETURNVALUE: {
    const tdsc__colinfo *ci = ev->u.returnvalue.col;
    put_value(&b, ci, &ev->u.returnvalue.values[0]);
    const char *s = tdsc__buf_cstr(&b);
    tdsc__tout_line(o, "  RETURNVALUE ordinal %u \"%s\" %s status 0x%02x = %s",
                    ev->u.returnvalue.ordinal, ci->name ? ci->name : "",
                    tdsc__typeinfo_name(ci->wire_type),
                    ev->u.returnvalue.status, s ? s : "");
    break;
  }
  case TDSC__EV_SKIPPED:
    tdsc__tout_line(o, "  %s (0x%02x)", token_name(ev->token), ev->token);
    break;
  case TDSC__EV_FEDAUTHINFO: /* the server's, no secret */
    tdsc__tout_line(o, "  FEDAUTHINFO STSURL \"%s\" SPN \"%s\"",
                    ev->u.fedauthinfo.sts_url ? ev->u.fedauthinfo.sts_url
                                              : "(none)",
                    ev->u.fedauthinfo.spn ? ev->u.fedauthinfo.spn : "(none)");
    break;
  default: /* lazy-row events: this parser is never lazy */
    break;
  }
  tdsc__buf_free(&b);
}

/* Decodes the complete tokens of t->in; at the end of the message, says
 * what was left over. */
static void decode_tokens(tdsc__trace *t, bool eom) {
  if (!t->tokp && !(t->tokp = tdsc__tokp_new())) {
    t->in_stopped = true;
    return;
  }
  size_t pos = 0;
  while (!t->in_stopped) {
    size_t avail = t->in.len - pos, used = 0, need = 0;
    if (avail == 0)
      break;
    tdsc__event ev;
    tdsc_error err = {0};
    tdsc__tok_status st = tdsc__tokp_next(t->tokp, t->in.data + pos, avail,
                                          &used, &need, &ev, &err);
    if (st == TDSC__TOK_EVENT) {
      trace_event(t, &ev);
      pos += used;
    } else if (st == TDSC__TOK_FAIL) {
      tdsc__tout_line(&t->out_fn,
                      "  (the token stream does not decode from here: %s)",
                      tdsc_error_message(&err));
      t->in_stopped = true;
    } else {
      if (eom)
        tdsc__tout_line(&t->out_fn,
                        "  (the message ends inside a token: %zu bytes "
                        "left)",
                        avail);
      else if (need > IN_KEEP) {
        tdsc__tout_line(&t->out_fn,
                        "  (a token of %zu bytes or more: not decoded, nor "
                        "the rest of this message)",
                        need);
        t->in_stopped = true;
      }
      tdsc__err_clear(&err);
      break;
    }
    tdsc__err_clear(&err);
  }
  tdsc__buf_consume(&t->in, t->in_stopped ? t->in.len : pos);
}

/* ---- the hook */

static void pkt_line(tdsc__trace *t, int dir, const tdsc__pkt_hdr *h,
                     size_t n) {
  int64_t us = tdsc__wall_us();
  int64_t day_us = us % ((int64_t)86400 * 1000000);
  int64_t s = day_us / 1000000;
  char st[64] = "";
  if (h->status & TDSC__PKT_EOM)
    strcat(st, " EOM");
  if (h->status & TDSC__PKT_IGNORE)
    strcat(st, " IGNORE");
  if (h->status & TDSC__PKT_RESETCONN)
    strcat(st, " RESETCONNECTION");
  if (h->status & TDSC__PKT_RESETCONN_SKIPTRAN)
    strcat(st, " RESETCONNECTIONSKIPTRAN");
  tdsc__tout_line(&t->out_fn,
                  "%02lld:%02lld:%02lld.%06lld %s %s (0x%02x) packet %u, "
                  "%zu bytes, status 0x%02x%s, spid %u",
                  (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60), (long long)(day_us % 1000000),
                  dir == TDSC__TRACE_SEND ? ">" : "<",
                  tdsc__trace_pkt_name(h->type), h->type, h->packet_id,
                  n + TDSC__PKT_HDR_LEN, h->status, st, h->spid);
}

static void sent(tdsc__trace *t, const tdsc__pkt_hdr *h, const uint8_t *payload,
                 size_t n) {
  if (!t->out_open) {
    t->out_open = true;
    t->out_type = h->type;
    t->out_cut = false;
    tdsc__buf_reset(&t->out);
    /* a request starts: the server's message under way, if any, was
     * answered (an attention interrupts it: its rest is a new message) */
  }
  size_t keep = t->out.len < OUT_KEEP ? OUT_KEEP - t->out.len : 0;
  tdsc__buf_put(&t->out, payload, n < keep ? n : keep);
  t->out_cut = t->out_cut || n > keep || t->out.oom;
  if (!(h->status & TDSC__PKT_EOM))
    return;
  t->out_open = false;
  if (h->status & TDSC__PKT_IGNORE)
    tdsc__tout_line(&t->out_fn, "  (message abandoned: the server ignores it)");
  else
    tdsc__trace_client_msg(&t->out_fn, t->out_type,
                           t->out.data ? t->out.data : (const uint8_t *)"",
                           t->out.len, t->out_cut);
  if (h->type != TDSC__PKT_ATTENTION)
    t->last_req = t->out_type;
  tdsc__buf_reset(&t->out);
}

static void received(tdsc__trace *t, const tdsc__pkt_hdr *h,
                     const uint8_t *payload, size_t n) {
  bool eom = (h->status & TDSC__PKT_EOM) != 0;
  if (!t->in_open) {
    t->in_open = true;
    t->in_stopped = false;
    t->in_prelogin = t->last_req == TDSC__PKT_PRELOGIN;
    t->rows_shown = t->rows_hidden = 0;
    tdsc__buf_reset(&t->in);
    if (t->tokp)
      tdsc__tokp_reset(t->tokp);
  }
  if (!t->in_stopped) {
    tdsc__buf_put(&t->in, payload, n);
    if (t->in.oom) {
      tdsc__tout_line(&t->out_fn, "  (out of memory: not decoded)");
      t->in_stopped = true;
      tdsc__buf_free(&t->in);
    }
  }
  if (t->in_prelogin) {
    if (eom && !t->in_stopped)
      tdsc__trace_prelogin(&t->out_fn, "PRELOGIN answer",
                           t->in.data ? t->in.data : (const uint8_t *)"",
                           t->in.len);
    else if (t->in.len > IN_KEEP)
      t->in_stopped = true;
  } else if (!t->in_stopped) {
    decode_tokens(t, eom);
  }
  if (eom) {
    flush_rows(t);
    t->in_open = false;
    tdsc__buf_reset(&t->in);
  }
}

void tdsc__trace_packet(tdsc_conn *c, int dir, const uint8_t *hdr,
                        const uint8_t *payload, size_t n) {
  tdsc__trace *t = c->trace;
  tdsc__pkt_hdr h;
  tdsc_error err = {0};
  if (tdsc__pkt_hdr_decode(hdr, TDSC__PKT_MAX + 1, &h, &err) != TDSC_OK) {
    tdsc__tout_line(&t->out_fn, "%s packet with a malformed header: %s",
                    dir == TDSC__TRACE_SEND ? ">" : "<",
                    tdsc_error_message(&err));
    tdsc__err_clear(&err);
    return;
  }
  pkt_line(t, dir, &h, n);
  if (dir == TDSC__TRACE_SEND)
    sent(t, &h, payload, n);
  else
    received(t, &h, payload, n);
  if (t->file)
    fflush(t->file);
}
