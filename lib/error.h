/* Internal error building: the structure behind the public tdsc_error, and
 * the helpers every layer uses to fill it.  Layers translate their own
 * provider status (errno, OpenSSL, GSSAPI) before calling these; this file
 * knows no layer.  See error.c. */
#ifndef TDSC_ERROR_H
#define TDSC_ERROR_H

#include "tdsclient.h"

#include <stdarg.h>

/* printf-style argument checking.  mingw's compiler reads "printf" as
 * msvcrt's dialect (no %zu, %lld); the library is built with mingw's C99
 * printf (__USE_MINGW_ANSI_STDIO), which is gnu_printf. */
#ifdef __MINGW32__
#define TDSC__PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#else
#define TDSC__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

/* Internal, never returned by a public call: a non-blocking step would
 * have to wait (transport/io.h "Non-blocking use"). */
#define TDSC__AGAIN ((tdsc_errc)-2)

struct tdsc_message {
  int32_t number;
  uint8_t state;
  uint8_t cls;
  int32_t line;
  bool is_error;
  char *text;      /* UTF-8, never NULL once filled */
  char *server;
  char *procedure;
};

struct tdsc_attempt {
  char *transport;
  char *address;
  char *tls;
  char *mechanism;
  char *target;
  char *binding;     /* channel binding: "tls-unique", "none: why", "" */
  char *routed;      /* "host,port" the server routed the login to, "" */
  char *token_source; /* an Entra ID token's source and claims (never */
  char *token_claims; /* the token), "" */
  tdsc_error *error; /* NULL when the attempt succeeded */
};

struct tdsc_error {
  tdsc_errc code;
  char *message;
  bool fixed;   /* message is a string literal (tdsc__err_fixed) */
  tdsc_provider provider;
  long long status[3];
  char *provider_text;
  char *hint; /* this failure's own hint, or NULL for the code's */
  tdsc_message *server_msg;
  tdsc_attempt *trail;
  size_t ntrail;
  char *report; /* built on demand by tdsc_error_report */
  bool dirty;   /* something was set since the last tdsc__err_clear: every
                   setter in error.c says so (the only writers) */
};

/* Frees what e holds and leaves it as TDSC_OK with no message. */
void tdsc__err_clear(tdsc_error *e);
/* True when e holds nothing (as tdsc__err_clear leaves it): every public
 * call starts by clearing the error, and a check is cheaper than the
 * frees and memset of a clear (issue 15's profile: 16% of a typed row). */
static inline bool tdsc__err_is_clear(const tdsc_error *e) {
  return !e->dirty && !e->report;
}
/* Sets code and message (printf-style), replacing what was there; keeps
 * nothing of the previous error. Returns code, so callers can write
 * `return tdsc__err_set(err, TDSC_E_X, "...")`. e may be NULL. */
tdsc_errc tdsc__err_set(tdsc_error *e, tdsc_errc code, const char *fmt, ...)
    TDSC__PRINTF(3, 4);
tdsc_errc tdsc__err_vset(tdsc_error *e, tdsc_errc code, const char *fmt,
                         va_list ap);
/* As tdsc__err_set, with a message that is a string literal: nothing is
 * allocated.  For the waits of non-blocking mode, met at every wait (the
 * blocking connect's too), where a failed allocation would change only
 * the words. */
tdsc_errc tdsc__err_fixed(tdsc_error *e, tdsc_errc code, const char *text);
/* Prepends context to the message: "<context>: <old message>". */
void tdsc__err_context(tdsc_error *e, const char *fmt, ...)
    TDSC__PRINTF(2, 3);
/* Sets this failure's own hint (printf-style), for when the facts make
 * the code's one-line hint wrong or vague (a TLS version mismatch in one
 * direction or the other); tdsc_error_hint returns it. Call after
 * tdsc__err_set: a new error drops it. On out-of-memory the code's hint
 * stays. */
void tdsc__err_hint(tdsc_error *e, const char *fmt, ...) TDSC__PRINTF(2, 3);
/* Records the raw provider status (text may be NULL). */
void tdsc__err_provider(tdsc_error *e, tdsc_provider p, long long s0,
                        long long s1, long long s2, const char *text);
/* errno shorthand: provider ERRNO with strerror text. */
tdsc_errc tdsc__err_errno(tdsc_error *e, tdsc_errc code, int errnum,
                          const char *fmt, ...)
    TDSC__PRINTF(4, 5);
/* Out of memory: never allocates. */
tdsc_errc tdsc__err_oom(tdsc_error *e);
/* Attaches a copy of a server message; returns false on out-of-memory. */
bool tdsc__err_server_msg(tdsc_error *e, const tdsc_message *m);
/* Appends an attempt to the trail; takes ownership of nothing (copies). */
bool tdsc__err_trail_add(tdsc_error *e, const char *transport,
                         const char *address, const char *tls,
                         const char *mechanism, const char *target,
                         const tdsc_error *outcome);
/* Sets the channel binding (tdsc_attempt_channel_binding) of the trail's
 * last attempt; false on out-of-memory (the trail keeps "" then). */
bool tdsc__err_trail_binding(tdsc_error *e, const char *binding);
/* Sets where the server routed the trail's last attempt
 * (tdsc_attempt_routed_to: "host,port"; "" leaves it); false on
 * out-of-memory. */
bool tdsc__err_trail_routed(tdsc_error *e, const char *routed);
/* Sets the token facts (tdsc_attempt_token_source, _claims) of the
 * trail's last attempt; NULL or "" leaves one; false on out-of-memory. */
bool tdsc__err_trail_token(tdsc_error *e, const char *source,
                           const char *claims);
/* Replaces dst's trail with src's, which src gives up. */
void tdsc__err_take_trail(tdsc_error *dst, tdsc_error *src);
/* Moves src into dst (dst cleared first, src left cleared). */
void tdsc__err_move(tdsc_error *dst, tdsc_error *src);
/* Deep copy into dst (cleared first); false on out-of-memory. */
bool tdsc__err_copy(tdsc_error *dst, const tdsc_error *src);

/* Messages: deep copy / free contents. */
bool tdsc__msg_copy(tdsc_message *dst, const tdsc_message *src);
void tdsc__msg_clear(tdsc_message *m);

/* printf into a new string; NULL on out-of-memory. */
char *tdsc__strdup_printf(const char *fmt, ...)
    TDSC__PRINTF(1, 2);
char *tdsc__strdup(const char *s); /* NULL in, NULL out */

#endif
