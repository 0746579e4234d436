/* tdsc, the query CLI: declarations shared by its files.
 *   main.c         connect, run batches, exit status, Ctrl-C
 *   options.c      command line (sqlcmd's and tsql's flags) -> struct opts
 *   script.c       script reader: GO [n], :setvar, $(var), :r, :on error
 *   output.c       aligned table (streamed) and CSV; output_json.c JSON
 *   interactive.c  the terminal prompt (libedit when built with it)
 *   progress_posix.c  the elapsed-time indicator on a terminal
 *   term_posix.c, term_win32.c  terminal checks, the password prompt
 *   util.c         growing strings, display width
 * Uses the public API only. */
#ifndef TDSC_TOOL_H
#define TDSC_TOOL_H

#include <tdsclient.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses (man/tdsc.1): unchanged since 0.1. */
enum { EXIT_SQL = 1, EXIT_CONNECT = 2, EXIT_USAGE = 64, EXIT_CANCELLED = 130 };

/* ---------------------------------------------------------------- util.c */
typedef struct strbuf {
  char *s;
  size_t len, cap;
} strbuf;

void sb_putn(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_putc(strbuf *b, char c);
/* MinGW's "printf" format is msvcrt's (no %zu); tdsc is built with its C99
 * printf (lib/error.h says the same). */
#ifdef __MINGW32__
#define TDSC_TOOL_PRINTF __attribute__((format(gnu_printf, 2, 3)))
#else
#define TDSC_TOOL_PRINTF __attribute__((format(printf, 2, 3)))
#endif
void sb_printf(strbuf *b, const char *fmt, ...) TDSC_TOOL_PRINTF;
/* Zeroes the bytes (it may have held a password) and frees them. */
void sb_wipe(strbuf *b);
/* Appends key={value} with '}' doubled, so any value survives. */
void sb_add_kv(strbuf *b, const char *key, const char *value);
/* tdsc's own allocation failed: said the way the library says it; exits. */
void no_memory(void) __attribute__((noreturn));
char *xstrdup(const char *s);
/* Display width of UTF-8 text on a terminal. */
size_t display_width(const char *s);

/* ------------------------------------------------------------- options.c */
typedef enum out_format { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_JSONL } out_format;

typedef struct opts {
  strbuf cs;          /* the connection string (holds the password) */
  char *label;        /* server as the prompt shows it */
  const char *query;  /* -Q: run, then exit */
  const char *iquery; /* -q: run, then read the terminal */
  char **inputs;      /* -i FILE..., in order */
  size_t ninputs;
  char **sql_args; /* the SQL given as arguments */
  size_t nsql_args;
  const char **vars; /* -v name=value, in order */
  size_t nvars;
  const char *outfile; /* -o */
  bool exit_on_error;  /* -b */
  int severity;        /* -V: the least severity that is an error */
  int headers;         /* -h: 0 once per result set, -1 never, N every N */
  const char *colsep;  /* -s (NULL: " | ") */
  bool trim;           /* -W */
  int width;           /* -w, 0: no wrapping */
  int redirect;        /* -r: -1 not given, 0 errors, 1 every message */
  bool quiet;          /* --quiet */
  bool no_vars;        /* -x: no $(name) substitution */
  bool echo_input;     /* -e */
  out_format fmt;
  const char *null_text; /* --null (CSV) */
  bool want_password;    /* -U without a password anywhere: prompt */
  strbuf flags;          /* the flags' keywords (parsing) */
  char **args;           /* argv with -v lists expanded (parsing) */
} opts;

/* Parses argv into *o; on a usage error prints one line and returns false
 * with *status set (0 after --help / --version). */
bool opts_parse(opts *o, int argc, char **argv, int *status);
void opts_free(opts *o);

/* ------------------------------------------------------------ output.c */
typedef struct output output;
typedef struct output_ops {
  /* Prints the current result set (columns > 0) to its end; false after a
   * failed step or cell, the error printed. */
  bool (*rows)(output *, tdsc_conn *, tdsc_result *);
  void (*count)(output *, int64_t n); /* a statement's row count */
  void (*message)(output *, const tdsc_message *);
  void (*error)(output *, const tdsc_error *); /* besides the report */
  void (*finish)(output *);
} output_ops;

struct output {
  const output_ops *ops;
  const opts *o;
  FILE *out;    /* results */
  FILE *msg;    /* row counts and server messages */
  size_t sets;  /* result sets printed so far */
  bool begun;   /* JSON: the opening bracket is out */
  bool capture; /* :exit(query): keep the first value of each set */
  bool captured;
  long long value;
};

void output_init(output *w, const opts *o, FILE *out);
extern const output_ops output_table_ops, output_csv_ops;
extern const output_ops output_json_ops, output_jsonl_ops;
/* The structured error report on stderr (and to w's format). */
void print_error(output *w, const tdsc_conn *c);
/* The text of a cell (null_text for NULL), or false after printing the
 * error: a cell that cannot be read ends the result (its connection may be
 * gone), it is never printed as a placeholder. */
bool cell_text(output *w, const tdsc_conn *c, tdsc_result *r, size_t i,
               const char *null_text, const char **t, bool *is_null);
/* For :exit(query): the first column of a set's first row, as an integer
 * (the formats call it on each set's first row). */
void output_capture(output *w, tdsc_result *r);
/* "(N rows affected)", as sqlcmd prints it. */
void print_count(FILE *f, int64_t n);

/* ------------------------------------------------------------ script.c */
typedef struct script script;
/* Runs one batch `times` times; returns false when the script must stop
 * (:on error exit / -b after an error, a lost connection, Ctrl-C).  With
 * exit_value (:exit(query)), sets it to the first value of the last result
 * set, -1 when there is none. */
typedef bool (*batch_fn)(void *ctx, const char *sql, unsigned times,
                         int *exit_value);

typedef struct line_source {
  /* The next line without its newline, or NULL at the end; batch_line is
   * the number the line will have in the batch (for a prompt). Owned by
   * the source, valid until the next call. */
  const char *(*next)(struct line_source *, unsigned batch_line);
  void *state;
} line_source;

script *script_new(const opts *o, batch_fn run, void *ctx);
void script_free(script *s);
/* Reads and runs a whole source (a file, -Q text, the terminal); `name`
 * names it in messages. Returns false when the script must stop. */
bool script_run(script *s, line_source *src, const char *name);
/* Runs text as a script (for -Q, -q and SQL arguments). */
bool script_run_text(script *s, const char *text, const char *name);
/* Runs a file (:r and -i); false when it cannot be read (said) or stops. */
bool script_run_file(script *s, const char *path);
/* Whether :exit / :quit was met, and the status it asked for (-1: none). */
bool script_quit(const script *s, int *status);
/* Whether the reader itself failed (undefined variable, unreadable :r). */
bool script_failed(const script *s);
/* Whether an error ends the script now (-b, :on error exit). */
bool script_exit_on_error(const script *s);
/* The lines of a FILE * (line_source.state). */
const char *file_next(line_source *src, unsigned batch_line);

/* -------------------------------------------------------- interactive.c */
/* Reads batches from the terminal until :quit or end of input. */
bool interactive_run(script *s, const char *label, tdsc_conn *c);
/* Whether standard input / standard error is a terminal (term_*.c). */
bool stdin_is_terminal(void);
bool isatty_stderr(void);
/* Asks for the password on the terminal without echo; NULL when there is
 * no terminal.  The caller wipes and frees it. */
char *prompt_password(const char *user);

/* ---------------------------------------------------- progress_posix.c */
/* On a terminal: shows the elapsed time on stderr while a request waits
 * for its first answer.  progress_start before the call that waits,
 * progress_stop when something arrived. */
void progress_init(bool enabled);
void progress_start(void);
void progress_stop(void);
void progress_shutdown(void);

#endif
