/* tdsc: run SQL against a server and print the results (an aligned table,
 * CSV or JSON); on failure print the structured error (code, message,
 * hint, provider status, trail) and exit non-zero.  This file connects,
 * runs each batch the script reader hands it and keeps the exit status;
 * tdsc.h lists the others.  Uses the public API only. */
#include "config.h"

#include "tdsc.h"

#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
  tdsc_conn *c;
  opts *o;
  output w;
  script *sc;
  int status;
  bool interactive; /* a cancelled batch returns to the prompt */
  bool cancelled;   /* the last batch was cancelled (Ctrl-C) */
} run;

/* Ctrl-C cancels the running query (an attention, the connection stays
 * sound) instead of killing the program mid-stream; a second one kills
 * it.  tdsc_conn_cancel may be called from a signal handler. */
static tdsc_conn *volatile running;

static void on_interrupt(int sig) {
  if (running)
    tdsc_conn_cancel(running);
  signal(sig, SIG_DFL);
}

static void raise_status(run *r, int status) {
  if (status > r->status)
    r->status = status;
}

static void on_message(void *ud, const tdsc_message *m) {
  run *r = ud;
  progress_stop();
  if (r->o->quiet || tdsc_message_is_error(m))
    return; /* errors are reported with the step that meets them */
  r->w.ops->message(&r->w, m);
}

/* Whether the error now on the connection fails the run: -V LEVEL lets
 * server errors of a lower severity pass, as sqlcmd's -V does. */
static bool error_counts(const run *r) {
  const tdsc_error *e = tdsc_conn_error(r->c);
  const tdsc_message *m = e ? tdsc_error_server_message(e) : NULL;
  return !(m && r->o->severity && tdsc_message_class(m) < r->o->severity);
}

/* Handles a failed step (already printed): false when the batch cannot go
 * on (cancelled, connection lost). */
static bool step_failed(run *r, bool *had_error) {
  if (tdsc_error_code(tdsc_conn_error(r->c)) == TDSC_E_CANCELLED) {
    r->cancelled = true;
    if (!r->interactive)
      raise_status(r, EXIT_CANCELLED);
    return false;
  }
  if (!tdsc_conn_is_connected(r->c)) {
    raise_status(r, EXIT_CONNECT);
    return false;
  }
  if (error_counts(r)) {
    raise_status(r, EXIT_SQL);
    *had_error = true;
  }
  return true;
}

/* Runs one batch and prints its results; false when the script must stop. */
static bool run_once(run *r, const char *sql, bool *had_error) {
  tdsc_result *res;
  bool go = true;
  running = r->c;
  signal(SIGINT, on_interrupt);
  progress_start();
  if (tdsc_conn_execute(r->c, sql, &res) != TDSC_OK) {
    progress_stop();
    print_error(&r->w, r->c);
    running = NULL;
    signal(SIGINT, SIG_DFL);
    return step_failed(r, had_error) && tdsc_conn_is_connected(r->c);
  }
  for (;;) {
    progress_start();
    tdsc_step s = tdsc_result_next_set(res);
    progress_stop();
    if (s == TDSC_STEP_END)
      break;
    if (s == TDSC_STEP_ERROR) {
      print_error(&r->w, r->c);
      if (!(go = step_failed(r, had_error)))
        break;
      continue;
    }
    if (tdsc_result_column_count(res) == 0) {
      if (!r->o->quiet && tdsc_result_rows_affected(res) >= 0)
        r->w.ops->count(&r->w, tdsc_result_rows_affected(res));
      continue;
    }
    if (!r->w.ops->rows(&r->w, r->c, res) && !(go = step_failed(r, had_error)))
      break; /* reported once: the rest of the batch is lost */
  }
  tdsc_result_free(res);
  signal(SIGINT, SIG_DFL);
  running = NULL;
  return go;
}

static bool run_batch(void *ctx, const char *sql, unsigned times,
                      int *exit_value) {
  run *r = ctx;
  bool had_error = false;
  r->cancelled = false;
  r->w.capture = exit_value != NULL;
  r->w.captured = false;
  for (unsigned k = 0; k < times; k++)
    if (!run_once(r, sql, &had_error))
      /* at the prompt, Ctrl-C ends the batch, not the session */
      return r->cancelled && r->interactive && tdsc_conn_is_connected(r->c);
  if (exit_value) /* :exit(query): the query's value, as sqlcmd does */
    *exit_value = r->w.captured ? (int)r->w.value : -1;
  r->w.capture = false;
  /* -b and ":on error exit": the script ends after a failed batch */
  return !(had_error && script_exit_on_error(r->sc));
}

/* A fallback is not silent: say which attempts failed before this one. */
static void report_fallback(const run *r) {
  size_t n = tdsc_conn_attempt_count(r->c);
  if (r->o->quiet || n < 2)
    return;
  const tdsc_attempt *ok = tdsc_conn_attempt_at(r->c, n - 1);
  fprintf(stderr, "note: logged in with %s after %zu failed attempt%s:\n",
          tdsc_attempt_mechanism(ok), n - 1, n == 2 ? "" : "s");
  for (size_t i = 0; i + 1 < n; i++) {
    const tdsc_attempt *a = tdsc_conn_attempt_at(r->c, i);
    const tdsc_error *e = tdsc_attempt_error(a);
    fprintf(stderr, "  attempt %zu: %s %s as %s: TDSC_E_%s: %s\n", i + 1,
            tdsc_attempt_mechanism(a), tdsc_attempt_address(a),
            tdsc_attempt_target(a), tdsc_errc_name(tdsc_error_code(e)),
            tdsc_error_message(e));
  }
}

/* Feeds the script reader from the sources the command line names. */
static void run_sources(run *r) {
  const opts *o = r->o;
  bool go = true;
  if (o->query) {
    go = script_run_text(r->sc, o->query, "-Q");
  } else if (o->iquery || !(o->ninputs || o->nsql_args)) {
    if (o->iquery)
      go = script_run_text(r->sc, o->iquery, "-q");
    if (go && stdin_is_terminal()) {
      r->interactive = true;
      go = interactive_run(r->sc, o->label, r->c);
    } else if (go)
      go = script_run_file(r->sc, "-");
  } else {
    for (size_t i = 0; go && i < o->ninputs; i++)
      go = script_run_file(r->sc, o->inputs[i]);
    if (go && o->nsql_args) {
      strbuf q = {0};
      for (size_t i = 0; i < o->nsql_args; i++) {
        if (i)
          sb_putc(&q, ' ');
        sb_puts(&q, o->sql_args[i]);
      }
      go = script_run_text(r->sc, q.s, "(arguments)");
      free(q.s);
    }
  }
  (void)go;
  if (script_failed(r->sc))
    raise_status(r, EXIT_SQL);
  int asked;
  if (script_quit(r->sc, &asked) && asked >= 0)
    r->status = asked; /* :exit(query) names the status */
}

int main(int argc, char **argv) {
  opts o;
  run r = {.o = &o};
  FILE *out = stdout;

  setlocale(LC_CTYPE, "");
  if (!opts_parse(&o, argc, argv, &r.status))
    goto done;
  if (o.query && o.ninputs) {
    fputs("tdsc: -Q and -i exclude each other (tdsc --help lists the "
          "options)\n",
          stderr);
    r.status = EXIT_USAGE;
    goto done;
  }
  if (o.outfile && strcmp(o.outfile, "-") && !(out = fopen(o.outfile, "w"))) {
    fprintf(stderr, "tdsc: -o %s: cannot write it\n", o.outfile);
    r.status = EXIT_USAGE;
    goto done;
  }
  output_init(&r.w, &o, out);
  if (o.want_password && stdin_is_terminal()) {
    const char *u = strstr(o.cs.s, "UID={");
    char *pw = prompt_password(u ? u : "");
    if (pw) {
      sb_add_kv(&o.cs, "PWD", pw);
      strbuf wipe = {pw, strlen(pw), strlen(pw) + 1};
      sb_wipe(&wipe);
    }
  }
  if (!(r.c = tdsc_conn_new()))
    no_memory(); /* tdsc_conn_new fails on nothing else */
  if (tdsc_conn_connect(r.c, o.cs.s) != TDSC_OK) {
    print_error(&r.w, r.c);
    r.status = tdsc_error_category(tdsc_conn_error(r.c)) == TDSC_CAT_USAGE
                   ? EXIT_USAGE
                   : EXIT_CONNECT;
    goto finish;
  }
  report_fallback(&r);
  /* After the login: its database and language notices are noise here. */
  tdsc_conn_set_message_handler(r.c, on_message, &r);
  progress_init(isatty_stderr());
  r.sc = script_new(&o, run_batch, &r);
  run_sources(&r);
  progress_shutdown();
finish:
  r.w.ops->finish(&r.w);
done:
  script_free(r.sc);
  tdsc_conn_free(r.c);
  if (out != stdout && out && fclose(out) != 0 && !r.status)
    r.status = EXIT_SQL;
  opts_free(&o);
  return r.status;
}
