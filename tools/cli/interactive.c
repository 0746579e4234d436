/* tdsc's interactive mode: on a terminal, a prompt naming the server and
 * the current database ("db.example.com/sales 1> ", then "2> " for the
 * batch's next lines), lines read with libedit (editing, history of the
 * session) when tdsc was built with it, else plainly; the lines go through
 * the script reader like a file's, so GO runs the batch and :quit ends. */
#include "config.h"

#include "tdsc.h"

#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

typedef struct tty_state {
  const char *label;
  tdsc_conn *c;
  strbuf prompt;
  strbuf line;
} tty_state;

static const char *tty_next(line_source *src, unsigned batch_line) {
  tty_state *t = src->state;
  t->prompt.len = 0;
  if (batch_line <= 1) {
    const char *db = tdsc_conn_database(t->c);
    sb_printf(&t->prompt, "%s%s%s 1> ", t->label, *db ? "/" : "", db);
  } else {
    sb_printf(&t->prompt, "%u> ", batch_line);
  }
  fflush(stdout);
#ifdef HAVE_LIBEDIT
  char *l = readline(t->prompt.s);
  if (!l)
    return NULL;
  if (*l)
    add_history(l); /* this session's only: never written to a file */
  t->line.len = 0;
  sb_puts(&t->line, l);
  free(l);
  return t->line.s;
#else
  char chunk[4096];
  fputs(t->prompt.s, stdout);
  fflush(stdout);
  t->line.len = 0;
  sb_puts(&t->line, "");
  while (fgets(chunk, sizeof chunk, stdin)) {
    sb_puts(&t->line, chunk);
    if (t->line.s[t->line.len - 1] == '\n') {
      t->line.s[--t->line.len] = 0;
      return t->line.s;
    }
  }
  return t->line.len ? t->line.s : NULL;
#endif
}

bool interactive_run(script *s, const char *label, tdsc_conn *c) {
  tty_state t = {.label = label, .c = c};
#ifdef HAVE_LIBEDIT
  using_history();
#endif
  line_source src = {tty_next, &t};
  bool go = script_run(s, &src, "(terminal)");
  if (!go || feof(stdin))
    putchar('\n');
  free(t.prompt.s);
  sb_wipe(&t.line);
#ifdef HAVE_LIBEDIT
  clear_history();
#endif
  return go;
}
