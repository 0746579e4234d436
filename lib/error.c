/* Error values: the internal builders every layer calls (error.h) and the
 * public accessors of tdsc_error, tdsc_message and tdsc_attempt.  The names,
 * hints and categories come from the one table in tdsclient/errors.h. */
#include "config.h"

#include "error.h"

#include "buf.h"
#include "sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- table */

#define ROW(name, num, cat, hint) {TDSC_E_##name, #name, hint, TDSC_CAT_##cat},
static const struct {
  tdsc_errc code;
  const char *name;
  const char *hint;
  tdsc_category cat;
} errc_table[] = {TDSC_ERRC_MAP(ROW)};
#undef ROW

static const char *const category_names[] = {
    "none",     "usage",     "resource", "transport", "tls",
    "kerberos", "ntlm",      "sql-login", "server",   "protocol",
    "entra"};

static int errc_index(tdsc_errc code) {
  for (size_t i = 0; i < sizeof errc_table / sizeof errc_table[0]; i++)
    if (errc_table[i].code == code)
      return (int)i;
  return -1;
}

const char *tdsc_errc_name(tdsc_errc code) {
  int i = errc_index(code);
  return i < 0 ? "UNKNOWN" : errc_table[i].name;
}

const char *tdsc_errc_hint(tdsc_errc code) {
  int i = errc_index(code);
  return i < 0 ? "" : errc_table[i].hint;
}

tdsc_category tdsc_errc_category(tdsc_errc code) {
  int i = errc_index(code);
  return i < 0 ? TDSC_CAT_NONE : errc_table[i].cat;
}

const char *tdsc_category_name(tdsc_category cat) {
  if ((unsigned)cat >= sizeof category_names / sizeof category_names[0])
    return "unknown";
  return category_names[cat];
}

const char *tdsc_version(void) { return TDSC_VERSION_STRING; }

/* ---------------------------------------------------------------- strings */

char *tdsc__strdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static char *vprintf_new(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return NULL;
  char *s = malloc((size_t)n + 1);
  if (s)
    vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *tdsc__strdup_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vprintf_new(fmt, ap);
  va_end(ap);
  return s;
}

/* A message we could not allocate: this fixed text stands in. */
static const char oom_text[] = "out of memory";

/* ---------------------------------------------------------------- builders */

void tdsc__msg_clear(tdsc_message *m) {
  if (!m)
    return;
  free(m->text);
  free(m->server);
  free(m->procedure);
  memset(m, 0, sizeof *m);
}

bool tdsc__msg_copy(tdsc_message *dst, const tdsc_message *src) {
  *dst = *src;
  dst->text = tdsc__strdup(src->text ? src->text : "");
  dst->server = tdsc__strdup(src->server ? src->server : "");
  dst->procedure = tdsc__strdup(src->procedure ? src->procedure : "");
  if (!dst->text || !dst->server || !dst->procedure) {
    tdsc__msg_clear(dst);
    return false;
  }
  return true;
}

static void attempt_clear(tdsc_attempt *a) {
  free(a->transport);
  free(a->address);
  free(a->tls);
  free(a->mechanism);
  free(a->target);
  free(a->binding);
  free(a->routed);
  free(a->token_source);
  free(a->token_claims);
  tdsc_error_free(a->error);
  memset(a, 0, sizeof *a);
}

void tdsc__err_clear(tdsc_error *e) {
  if (!e)
    return;
  if (!e->fixed)
    free(e->message);
  free(e->provider_text);
  free(e->hint);
  if (e->server_msg) {
    tdsc__msg_clear(e->server_msg);
    free(e->server_msg);
  }
  for (size_t i = 0; i < e->ntrail; i++)
    attempt_clear(&e->trail[i]);
  free(e->trail);
  free(e->report);
  memset(e, 0, sizeof *e);
}

/* A new failure replaces the error but keeps the trail: the trail belongs
 * to the connect, not to one failure. */
static void clear_keep_trail(tdsc_error *e) {
  tdsc_attempt *trail = e->trail;
  size_t ntrail = e->ntrail;
  e->trail = NULL;
  e->ntrail = 0;
  tdsc__err_clear(e);
  e->trail = trail;
  e->ntrail = ntrail;
}

tdsc_errc tdsc__err_vset(tdsc_error *e, tdsc_errc code, const char *fmt,
                         va_list ap) {
  if (!e)
    return code;
  clear_keep_trail(e);
  e->dirty = true;
  e->code = code;
  e->message = vprintf_new(fmt, ap);
  if (!e->message) {
    e->message = (char *)oom_text;
    e->fixed = true;
  }
  return code;
}

tdsc_errc tdsc__err_fixed(tdsc_error *e, tdsc_errc code, const char *text) {
  if (!e)
    return code;
  clear_keep_trail(e);
  e->dirty = true;
  e->code = code;
  e->message = (char *)text; /* never written nor freed: fixed */
  e->fixed = true;
  return code;
}

tdsc_errc tdsc__err_set(tdsc_error *e, tdsc_errc code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tdsc__err_vset(e, code, fmt, ap);
  va_end(ap);
  return code;
}

/* The stand-in for a failed allocation takes no context: that would need
 * memory too, and "out of memory" says it all. */
void tdsc__err_context(tdsc_error *e, const char *fmt, ...) {
  if (!e || !e->message || e->message == oom_text)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *ctx = vprintf_new(fmt, ap);
  va_end(ap);
  if (!ctx)
    return;
  char *m = tdsc__strdup_printf("%s: %s", ctx, e->message);
  free(ctx);
  if (m) {
    if (!e->fixed)
      free(e->message);
    e->message = m;
    e->fixed = false;
  }
  free(e->report);
  e->report = NULL;
}

void tdsc__err_hint(tdsc_error *e, const char *fmt, ...) {
  if (!e || e->code == TDSC_OK)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *h = vprintf_new(fmt, ap);
  va_end(ap);
  if (!h)
    return; /* the code's own hint stands in */
  free(e->hint);
  e->hint = h;
  free(e->report);
  e->report = NULL;
}

void tdsc__err_provider(tdsc_error *e, tdsc_provider p, long long s0,
                        long long s1, long long s2, const char *text) {
  if (!e)
    return;
  e->dirty = true;
  e->provider = p;
  e->status[0] = s0;
  e->status[1] = s1;
  e->status[2] = s2;
  free(e->provider_text);
  e->provider_text = text ? tdsc__strdup(text) : NULL;
}

tdsc_errc tdsc__err_errno(tdsc_error *e, tdsc_errc code, int errnum,
                          const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tdsc__err_vset(e, code, fmt, ap);
  va_end(ap);
  char text[256];
  tdsc__err_provider(e, TDSC_PROVIDER_ERRNO, errnum, 0, 0,
                     tdsc__strerror(errnum, text, sizeof text));
  return code;
}

tdsc_errc tdsc__err_oom(tdsc_error *e) {
  return tdsc__err_fixed(e, TDSC_E_NO_MEMORY, oom_text);
}

bool tdsc__err_server_msg(tdsc_error *e, const tdsc_message *m) {
  tdsc_message *copy = calloc(1, sizeof *copy);
  if (!copy || !tdsc__msg_copy(copy, m)) {
    free(copy);
    return false;
  }
  if (e->server_msg) {
    tdsc__msg_clear(e->server_msg);
    free(e->server_msg);
  }
  e->server_msg = copy;
  e->dirty = true;
  e->provider = TDSC_PROVIDER_SERVER;
  e->status[0] = m->number;
  e->status[1] = m->state;
  e->status[2] = m->cls;
  return true;
}

bool tdsc__err_trail_add(tdsc_error *e, const char *transport,
                         const char *address, const char *tls,
                         const char *mechanism, const char *target,
                         const tdsc_error *outcome) {
  /* Copy the outcome first: it may be e itself, whose trail moves below. */
  tdsc_error *outcome_copy = NULL;
  if (outcome && outcome->code != TDSC_OK &&
      !(outcome_copy = tdsc_error_dup(outcome)))
    return false;
  tdsc_attempt *t = realloc(e->trail, (e->ntrail + 1) * sizeof *t);
  if (!t) {
    tdsc_error_free(outcome_copy);
    return false;
  }
  e->trail = t;
  e->dirty = true;
  tdsc_attempt *a = &t[e->ntrail];
  memset(a, 0, sizeof *a);
  a->transport = tdsc__strdup(transport ? transport : "");
  a->address = tdsc__strdup(address ? address : "");
  a->tls = tdsc__strdup(tls ? tls : "");
  a->mechanism = tdsc__strdup(mechanism ? mechanism : "");
  a->target = tdsc__strdup(target ? target : "");
  a->binding = tdsc__strdup("");
  a->routed = tdsc__strdup("");
  a->token_source = tdsc__strdup("");
  a->token_claims = tdsc__strdup("");
  if (outcome_copy) {
    a->error = outcome_copy;
    {
      /* An attempt's error does not carry the whole trail again. */
      for (size_t i = 0; i < a->error->ntrail; i++)
        attempt_clear(&a->error->trail[i]);
      free(a->error->trail);
      a->error->trail = NULL;
      a->error->ntrail = 0;
    }
  }
  if (!a->transport || !a->address || !a->tls || !a->mechanism || !a->target ||
      !a->binding || !a->routed || !a->token_source || !a->token_claims) {
    attempt_clear(a);
    return false;
  }
  e->ntrail++;
  free(e->report);
  e->report = NULL;
  return true;
}

bool tdsc__err_trail_binding(tdsc_error *e, const char *binding) {
  if (!e->ntrail || !binding)
    return true;
  char *b = tdsc__strdup(binding);
  if (!b)
    return false;
  tdsc_attempt *a = &e->trail[e->ntrail - 1];
  free(a->binding);
  a->binding = b;
  free(e->report);
  e->report = NULL;
  return true;
}

bool tdsc__err_trail_routed(tdsc_error *e, const char *routed) {
  if (!e->ntrail || !routed || !*routed)
    return true;
  char *r = tdsc__strdup(routed);
  if (!r)
    return false;
  tdsc_attempt *a = &e->trail[e->ntrail - 1];
  free(a->routed);
  a->routed = r;
  free(e->report);
  e->report = NULL;
  return true;
}

static bool set_last(tdsc_error *e, char **field, const char *v) {
  char *c = tdsc__strdup(v);
  if (!c)
    return false;
  free(*field);
  *field = c;
  free(e->report);
  e->report = NULL;
  return true;
}

bool tdsc__err_trail_token(tdsc_error *e, const char *source,
                           const char *claims) {
  if (!e->ntrail)
    return true;
  tdsc_attempt *a = &e->trail[e->ntrail - 1];
  return (!source || !*source || set_last(e, &a->token_source, source)) &&
         (!claims || !*claims || set_last(e, &a->token_claims, claims));
}

void tdsc__err_take_trail(tdsc_error *dst, tdsc_error *src) {
  for (size_t i = 0; i < dst->ntrail; i++)
    attempt_clear(&dst->trail[i]);
  free(dst->trail);
  dst->trail = src->trail;
  dst->ntrail = src->ntrail;
  dst->dirty = true;
  src->trail = NULL;
  src->ntrail = 0;
  free(dst->report);
  dst->report = NULL;
}

void tdsc__err_move(tdsc_error *dst, tdsc_error *src) {
  tdsc__err_clear(dst);
  *dst = *src;
  memset(src, 0, sizeof *src);
}

bool tdsc__err_copy(tdsc_error *dst, const tdsc_error *src) {
  tdsc__err_clear(dst);
  dst->dirty = true;
  dst->code = src->code;
  dst->provider = src->provider;
  memcpy(dst->status, src->status, sizeof dst->status);
  dst->fixed = src->fixed;
  dst->message = src->fixed ? src->message
                     : tdsc__strdup(src->message ? src->message : "");
  if (!dst->message)
    goto oom;
  if (src->provider_text &&
      !(dst->provider_text = tdsc__strdup(src->provider_text)))
    goto oom;
  if (src->hint && !(dst->hint = tdsc__strdup(src->hint)))
    goto oom;
  if (src->server_msg && !tdsc__err_server_msg(dst, src->server_msg))
    goto oom;
  dst->provider = src->provider; /* server_msg set SERVER; restore */
  memcpy(dst->status, src->status, sizeof dst->status);
  for (size_t i = 0; i < src->ntrail; i++) {
    const tdsc_attempt *a = &src->trail[i];
    if (!tdsc__err_trail_add(dst, a->transport, a->address, a->tls,
                             a->mechanism, a->target, a->error) ||
        !tdsc__err_trail_binding(dst, a->binding) ||
        !tdsc__err_trail_routed(dst, a->routed) ||
        !tdsc__err_trail_token(dst, a->token_source, a->token_claims))
      goto oom;
  }
  return true;
oom:
  tdsc__err_clear(dst);
  tdsc__err_oom(dst);
  return false;
}

/* ---------------------------------------------------------------- public */

tdsc_errc tdsc_error_code(const tdsc_error *e) {
  return e ? e->code : TDSC_E_INVALID_ARGUMENT;
}

tdsc_category tdsc_error_category(const tdsc_error *e) {
  return tdsc_errc_category(tdsc_error_code(e));
}

const char *tdsc_error_message(const tdsc_error *e) {
  return e && e->message ? e->message : "";
}

const char *tdsc_error_hint(const tdsc_error *e) {
  if (e && e->hint)
    return e->hint;
  return tdsc_errc_hint(tdsc_error_code(e));
}

tdsc_provider tdsc_error_provider(const tdsc_error *e) {
  return e ? e->provider : TDSC_PROVIDER_NONE;
}

long long tdsc_error_provider_status(const tdsc_error *e, unsigned idx) {
  return e && idx < 3 ? e->status[idx] : 0;
}

const char *tdsc_error_provider_text(const tdsc_error *e) {
  return e && e->provider_text ? e->provider_text : "";
}

const tdsc_message *tdsc_error_server_message(const tdsc_error *e) {
  return e ? e->server_msg : NULL;
}

size_t tdsc_error_trail_count(const tdsc_error *e) {
  return e ? e->ntrail : 0;
}

const tdsc_attempt *tdsc_error_trail_at(const tdsc_error *e, size_t i) {
  return e && i < e->ntrail ? &e->trail[i] : NULL;
}

tdsc_error *tdsc_error_dup(const tdsc_error *e) {
  if (!e)
    return NULL;
  tdsc_error *d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  if (!tdsc__err_copy(d, e)) {
    tdsc__err_clear(d);
    free(d);
    return NULL;
  }
  return d;
}

void tdsc_error_free(tdsc_error *e) {
  if (!e)
    return;
  tdsc__err_clear(e);
  free(e);
}

static const char *provider_name(tdsc_provider p) {
  switch (p) {
  case TDSC_PROVIDER_ERRNO: return "errno";
  case TDSC_PROVIDER_GETADDRINFO: return "getaddrinfo";
  case TDSC_PROVIDER_OPENSSL: return "openssl";
  case TDSC_PROVIDER_GSSAPI: return "gssapi";
  case TDSC_PROVIDER_SSPI: return "sspi";
  case TDSC_PROVIDER_SERVER: return "server";
  case TDSC_PROVIDER_HTTP: return "http";
  case TDSC_PROVIDER_NONE: break;
  }
  return "none";
}

static void report_provider(tdsc__buf *b, const tdsc_error *e,
                            const char *indent) {
  char line[160];
  if (e->provider == TDSC_PROVIDER_NONE)
    return;
  snprintf(line, sizeof line, "%sprovider: %s %lld %lld %lld", indent,
           provider_name(e->provider), e->status[0], e->status[1],
           e->status[2]);
  tdsc__buf_put_str(b, line);
  if (e->provider_text && *e->provider_text) {
    tdsc__buf_put_str(b, " (");
    tdsc__buf_put_str(b, e->provider_text);
    tdsc__buf_put_str(b, ")");
  }
  tdsc__buf_put_str(b, "\n");
}

const char *tdsc_error_report(const tdsc_error *e) {
  if (!e)
    return "";
  if (e->report)
    return e->report;
  tdsc__buf b;
  tdsc__buf_init(&b);
  char line[96];
  snprintf(line, sizeof line, "error: TDSC_E_%s (%d, %s)\n",
           tdsc_errc_name(e->code), (int)e->code,
           tdsc_category_name(tdsc_error_category(e)));
  tdsc__buf_put_str(&b, line);
  tdsc__buf_put_str(&b, "message: ");
  tdsc__buf_put_str(&b, tdsc_error_message(e));
  tdsc__buf_put_str(&b, "\nhint: ");
  tdsc__buf_put_str(&b, tdsc_error_hint(e));
  tdsc__buf_put_str(&b, "\n");
  report_provider(&b, e, "");
  for (size_t i = 0; i < e->ntrail; i++) {
    const tdsc_attempt *a = &e->trail[i];
    snprintf(line, sizeof line, "attempt %zu: ", i + 1);
    tdsc__buf_put_str(&b, line);
    tdsc__buf_put_str(&b, a->transport);
    if (*a->address) {
      tdsc__buf_put_str(&b, " ");
      tdsc__buf_put_str(&b, a->address);
    }
    tdsc__buf_put_str(&b, ", tls ");
    tdsc__buf_put_str(&b, *a->tls ? a->tls : "-");
    tdsc__buf_put_str(&b, ", auth ");
    tdsc__buf_put_str(&b, *a->mechanism ? a->mechanism : "-");
    if (*a->target) {
      tdsc__buf_put_str(&b, " as ");
      tdsc__buf_put_str(&b, a->target);
    }
    if (*a->binding) {
      tdsc__buf_put_str(&b, ", channel binding ");
      tdsc__buf_put_str(&b, a->binding);
    }
    if (*a->routed) {
      tdsc__buf_put_str(&b, ", routed to ");
      tdsc__buf_put_str(&b, a->routed);
    }
    if (a->error && a->error->code == e->code && a->error->message &&
        e->message && !strcmp(a->error->message, e->message)) {
      tdsc__buf_put_str(&b, ": TDSC_E_");
      tdsc__buf_put_str(&b, tdsc_errc_name(a->error->code));
      tdsc__buf_put_str(&b, " (the error above)\n");
    } else if (a->error) {
      tdsc__buf_put_str(&b, ": TDSC_E_");
      tdsc__buf_put_str(&b, tdsc_errc_name(a->error->code));
      tdsc__buf_put_str(&b, ": ");
      tdsc__buf_put_str(&b, tdsc_error_message(a->error));
      tdsc__buf_put_str(&b, "\n");
      report_provider(&b, a->error, "  ");
    } else {
      tdsc__buf_put_str(&b, ": ok\n");
    }
  }
  /* The report is a cache: building it does not change the error. */
  tdsc_error *mut = (tdsc_error *)e;
  mut->report = tdsc__buf_cstr(&b) ? (char *)b.data : NULL;
  if (!mut->report) {
    tdsc__buf_free(&b);
    return tdsc_error_message(e);
  }
  return mut->report;
}

/* ---------------------------------------------------------------- attempts */

const char *tdsc_attempt_transport(const tdsc_attempt *a) {
  return a ? a->transport : "";
}
const char *tdsc_attempt_address(const tdsc_attempt *a) {
  return a ? a->address : "";
}
const char *tdsc_attempt_tls(const tdsc_attempt *a) { return a ? a->tls : ""; }
const char *tdsc_attempt_mechanism(const tdsc_attempt *a) {
  return a ? a->mechanism : "";
}
const char *tdsc_attempt_target(const tdsc_attempt *a) {
  return a ? a->target : "";
}
const char *tdsc_attempt_channel_binding(const tdsc_attempt *a) {
  return a ? a->binding : "";
}
const char *tdsc_attempt_routed_to(const tdsc_attempt *a) {
  return a ? a->routed : "";
}
const char *tdsc_attempt_token_source(const tdsc_attempt *a) {
  return a ? a->token_source : "";
}
const char *tdsc_attempt_token_claims(const tdsc_attempt *a) {
  return a ? a->token_claims : "";
}
const tdsc_error *tdsc_attempt_error(const tdsc_attempt *a) {
  return a ? a->error : NULL;
}

/* ---------------------------------------------------------------- messages */

int32_t tdsc_message_number(const tdsc_message *m) { return m ? m->number : 0; }
uint8_t tdsc_message_state(const tdsc_message *m) { return m ? m->state : 0; }
uint8_t tdsc_message_class(const tdsc_message *m) { return m ? m->cls : 0; }
const char *tdsc_message_text(const tdsc_message *m) {
  return m && m->text ? m->text : "";
}
const char *tdsc_message_server(const tdsc_message *m) {
  return m && m->server ? m->server : "";
}
const char *tdsc_message_procedure(const tdsc_message *m) {
  return m && m->procedure ? m->procedure : "";
}
int32_t tdsc_message_line(const tdsc_message *m) { return m ? m->line : 0; }
bool tdsc_message_is_error(const tdsc_message *m) {
  return m ? m->is_error : false;
}
