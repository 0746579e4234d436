/* tdsc's script reader, as sqlcmd reads scripts: lines gather into a batch
 * that a line "GO [count]" sends (count times); $(name) is replaced by a
 * scripting variable (-v, :setvar, else the environment); the commands
 * :setvar, :r FILE, :on error exit|ignore, :reset, :listvar, :exit, :quit
 * (and exit, quit) are done by tdsc, never sent.  main.c runs the batches;
 * interactive.c feeds the terminal's lines through the same reader. */
#include "config.h"

#include "tdsc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* :r nesting deeper than this is a loop, not a script. */
#define MAX_DEPTH 16

typedef struct var {
  char *name, *value;
} var;

struct script {
  const opts *o;
  batch_fn run;
  void *ctx;
  strbuf batch;
  unsigned batch_lines;
  bool poisoned; /* a line of the batch could not be read: never send it */
  var *vars;
  size_t nvars;
  bool exit_on_error;
  bool quit;
  int quit_status;
  bool failed;
  int depth;
};

static var *find_var(script *s, const char *name, size_t n) {
  for (size_t i = 0; i < s->nvars; i++)
    if (strlen(s->vars[i].name) == n && !strncasecmp(s->vars[i].name, name, n))
      return &s->vars[i];
  return NULL;
}

static void set_var(script *s, const char *name, size_t n, const char *value) {
  var *v = find_var(s, name, n);
  if (!v) {
    var *p = realloc(s->vars, (s->nvars + 1) * sizeof *p);
    if (!p)
      no_memory();
    s->vars = p;
    v = &s->vars[s->nvars++];
    v->name = malloc(n + 1);
    if (!v->name)
      no_memory();
    memcpy(v->name, name, n);
    v->name[n] = 0;
    v->value = NULL;
  }
  free(v->value);
  v->value = xstrdup(value);
}

static void unset_var(script *s, const char *name) {
  var *v = find_var(s, name, strlen(name));
  if (!v)
    return;
  free(v->name);
  free(v->value);
  *v = s->vars[--s->nvars];
}

/* sqlcmd's variable names: letters, digits, '_' and '-', not starting with
 * a digit? (sqlcmd allows it); no spaces, quotes or '$('. */
static bool name_char(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static void reader_error(script *s, const char *where, unsigned line,
                         const char *fmt, const char *arg) {
  fflush(stdout);
  fprintf(stderr, "error: tdsc: %s:%u: ", where, line);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  s->failed = true;
}

/* Replaces $(name) in line; false (said) for an undefined variable. */
static bool substitute(script *s, const char *line, strbuf *out,
                       const char *where, unsigned lineno) {
  const char *p = line;
  if (s->o->no_vars) {
    sb_puts(out, line);
    return true;
  }
  for (;;) {
    const char *d = strstr(p, "$(");
    if (!d) {
      sb_puts(out, p);
      return true;
    }
    sb_putn(out, p, (size_t)(d - p));
    const char *n = d + 2, *e = n;
    while (name_char(*e))
      e++;
    if (*e != ')' || e == n) { /* not a variable reference: as written */
      sb_putn(out, d, 2);
      p = d + 2;
      continue;
    }
    var *v = find_var(s, n, (size_t)(e - n));
    const char *value = v ? v->value : NULL;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(e - n), n);
    if (!value)
      value = getenv(name);
    if (!value) {
      reader_error(s, where, lineno, "'%s' scripting variable not defined.",
                   name);
      return false;
    }
    sb_puts(out, value);
    p = e + 1;
  }
}

/* Sends the batch (unless empty), count times; false to stop. */
static bool flush_batch(script *s, unsigned count) {
  bool go = true, blank = true;
  for (size_t i = 0; i < s->batch.len; i++)
    if (!isspace((unsigned char)s->batch.s[i]))
      blank = false;
  if (s->poisoned)
    go = !s->exit_on_error;
  else if (!blank && count)
    go = s->run(s->ctx, s->batch.s, count, NULL);
  s->batch.len = 0;
  if (s->batch.s)
    s->batch.s[0] = 0;
  s->batch_lines = 0;
  s->poisoned = false;
  return go;
}

/* A line that is GO [count] [-- comment]: *count set. */
static bool is_go(const char *line, unsigned *count, bool *bad) {
  const char *p = line;
  *bad = false;
  while (isspace((unsigned char)*p))
    p++;
  if (strncasecmp(p, "go", 2) ||
      (p[2] && !isspace((unsigned char)p[2]) && strncmp(p + 2, "--", 2)))
    return false;
  p += 2;
  while (isspace((unsigned char)*p))
    p++;
  *count = 1;
  if (isdigit((unsigned char)*p)) {
    char *e;
    errno = 0;
    unsigned long n = strtoul(p, &e, 10);
    if (errno || n == 0 || n > 1000000000UL)
      *bad = true;
    *count = (unsigned)n;
    p = e;
    while (isspace((unsigned char)*p))
      p++;
  }
  if (*p && strncmp(p, "--", 2))
    *bad = true; /* "GO x": sqlcmd refuses it too */
  return true;
}

/* The next word of a command's arguments: quoted "..." ("" a quote) or up
 * to a space; NULL when none. */
static char *arg_word(const char **pp, strbuf *w) {
  const char *p = *pp;
  while (isspace((unsigned char)*p))
    p++;
  if (!*p)
    return NULL;
  w->len = 0;
  sb_puts(w, "");
  if (*p == '"') {
    for (p++; *p; p++) {
      if (*p == '"') {
        if (p[1] != '"') {
          p++;
          break;
        }
        p++;
      }
      sb_putc(w, *p);
    }
  } else {
    while (*p && !isspace((unsigned char)*p))
      sb_putc(w, *p++);
  }
  *pp = p;
  return w->s;
}

static bool read_lines(script *s, line_source *src, const char *name);

/* One :command line (or exit/quit); false to stop. */
static bool command(script *s, const char *line, const char *where,
                    unsigned lineno) {
  strbuf text = {0}, word = {0};
  bool go = true;
  if (!substitute(s, line, &text, where, lineno)) {
    go = !s->exit_on_error;
    goto out;
  }
  const char *p = text.s;
  while (isspace((unsigned char)*p))
    p++;
  if (*p == ':')
    p++;
  size_t n = 0;
  while (isalpha((unsigned char)p[n]))
    n++;
  const char *args = p + n;
  if (n == 6 && !strncasecmp(p, "setvar", 6)) {
    const char *a = args;
    char *vname = arg_word(&a, &word);
    if (!vname) {
      reader_error(s, where, lineno, "%s: :setvar needs a variable name", "");
      go = !s->exit_on_error;
      goto out;
    }
    char *nm = xstrdup(vname);
    for (const char *c = nm; *c; c++)
      if (!name_char(*c)) {
        reader_error(s, where, lineno, "'%s': not a variable name", nm);
        free(nm);
        go = !s->exit_on_error;
        goto out;
      }
    char *value = arg_word(&a, &word);
    if (value)
      set_var(s, nm, strlen(nm), value);
    else
      unset_var(s, nm); /* ":setvar name" removes it, as in sqlcmd */
    free(nm);
  } else if (n == 1 && (*p == 'r' || *p == 'R')) {
    const char *a = args;
    char *path = arg_word(&a, &word);
    if (!path) {
      reader_error(s, where, lineno, "%s:r needs a file name", "");
      go = !s->exit_on_error;
    } else if (s->depth >= MAX_DEPTH) {
      reader_error(s, where, lineno, ":r %s nests too deep (a loop?)", path);
      go = false;
    } else {
      char *pth = xstrdup(path);
      FILE *f = fopen(pth, "r");
      if (!f) {
        reader_error(s, where, lineno, ":r %s: cannot open it", pth);
        go = !s->exit_on_error;
      } else {
        line_source fs = {file_next, f};
        s->depth++;
        go = read_lines(s, &fs, pth); /* its lines join the batch */
        s->depth--;
        fclose(f);
      }
      free(pth);
    }
  } else if (n == 2 && !strncasecmp(p, "on", 2)) {
    const char *a = args;
    char *w1 = arg_word(&a, &word);
    if (w1 && !strcasecmp(w1, "error")) {
      char *w2 = arg_word(&a, &word);
      if (w2 && !strcasecmp(w2, "exit"))
        s->exit_on_error = true;
      else if (w2 && !strcasecmp(w2, "ignore"))
        s->exit_on_error = false;
      else
        w1 = NULL;
    } else {
      w1 = NULL;
    }
    if (!w1) {
      reader_error(s, where, lineno, "%s:on error takes exit or ignore", "");
      go = !s->exit_on_error;
    }
  } else if ((n == 4 && !strncasecmp(p, "exit", 4)) ||
             (n == 4 && !strncasecmp(p, "quit", 4))) {
    const char *a = args;
    while (isspace((unsigned char)*a))
      a++;
    bool is_exit = !strncasecmp(p, "exit", 4);
    if (is_exit && *a == '(') {
      const char *q = a + 1;
      while (isspace((unsigned char)*q))
        q++;
      const char *close = strrchr(q, ')');
      if (!close) {
        reader_error(s, where, lineno, "%s:exit( without its ')'", "");
        go = false;
        goto out;
      }
      if (close == q) {
        go = flush_batch(s, 1); /* :exit() runs the batch, then ends */
      } else {
        /* :exit(query): the batch with the query; the first value of the
         * last result set becomes the exit status (sqlcmd's rule) */
        int value = -1;
        sb_putn(&s->batch, q, (size_t)(close - q));
        sb_putc(&s->batch, '\n');
        if (!s->poisoned)
          s->run(s->ctx, s->batch.s, 1, &value);
        s->quit_status = value;
        s->batch.len = 0;
        s->batch.s[0] = 0;
        s->batch_lines = 0;
        s->poisoned = false;
      }
    } else if (*a) {
      reader_error(s, where, lineno, "unexpected text after :%s",
                   is_exit ? "exit" : "quit");
      go = !s->exit_on_error;
      goto out;
    }
    s->quit = true;
    go = false;
  } else if (n == 5 && !strncasecmp(p, "reset", 5)) {
    s->batch.len = 0;
    if (s->batch.s)
      s->batch.s[0] = 0;
    s->batch_lines = 0;
    s->poisoned = false;
  } else if (n == 7 && !strncasecmp(p, "listvar", 7)) {
    for (size_t i = 0; i < s->nvars; i++)
      printf("%s = \"%s\"\n", s->vars[i].name, s->vars[i].value);
  } else {
    reader_error(s, where, lineno, "unknown command '%s' (tdsc(1) lists them)",
                 text.s);
    go = !s->exit_on_error;
  }
out:
  free(text.s);
  free(word.s);
  return go;
}

/* A line that is a command: ":name ..." or exit / quit alone. */
static bool is_command(const char *line) {
  while (isspace((unsigned char)*line))
    line++;
  if (*line == ':' && isalpha((unsigned char)line[1]))
    return true;
  if (!strncmp(line, "!!", 2))
    return true; /* sqlcmd's shell escape: refused, never sent as SQL */
  for (size_t k = 0; k < 2; k++) {
    const char *w = k ? "quit" : "exit";
    if (!strncasecmp(line, w, 4)) {
      const char *p = line + 4;
      while (isspace((unsigned char)*p))
        p++;
      if (!*p || (k == 0 && *p == '('))
        return true;
    }
  }
  return false;
}

static bool process_line(script *s, const char *line, const char *where,
                         unsigned lineno) {
  unsigned count;
  bool bad;
  if (is_go(line, &count, &bad)) {
    if (bad) {
      reader_error(s, where, lineno, "'%s': GO takes a positive count", line);
      s->poisoned = true;
      return !s->exit_on_error && flush_batch(s, 0);
    }
    return flush_batch(s, count);
  }
  if (is_command(line))
    return command(s, line, where, lineno);
  if (s->poisoned) { /* the batch is lost already: read on to its GO */
    s->batch_lines++;
    return true;
  }
  size_t mark = s->batch.len;
  if (!substitute(s, line, &s->batch, where, lineno)) {
    s->batch.len = mark;
    s->poisoned = true;
    s->batch_lines++;
    return !s->exit_on_error;
  }
  sb_putc(&s->batch, '\n');
  s->batch_lines++;
  return true;
}

/* The lines of a FILE (a line_source's state). */
const char *file_next(line_source *src, unsigned batch_line) {
  static strbuf line;
  FILE *f = src->state;
  char chunk[4096];
  (void)batch_line;
  line.len = 0;
  if (!fgets(chunk, sizeof chunk, f))
    return NULL;
  do {
    sb_puts(&line, chunk);
    if (line.len && line.s[line.len - 1] == '\n')
      break;
  } while (fgets(chunk, sizeof chunk, f));
  while (line.len &&
         (line.s[line.len - 1] == '\n' || line.s[line.len - 1] == '\r'))
    line.s[--line.len] = 0;
  return line.s;
}

static bool read_lines(script *s, line_source *src, const char *name) {
  unsigned lineno = 0;
  const char *line;
  while ((line = src->next(src, s->batch_lines + 1))) {
    lineno++;
    if (lineno == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
      line += 3; /* a UTF-8 byte order mark, as editors on Windows write */
    else if (lineno == 1 &&
             (!strncmp(line, "\xFF\xFE", 2) || !strncmp(line, "\xFE\xFF", 2))) {
      reader_error(s, name, lineno,
                   "%s is UTF-16: convert it to UTF-8 (iconv -f UTF-16 -t "
                   "UTF-8)",
                   name);
      return false;
    }
    if (s->o->echo_input)
      printf("%s\n", line);
    if (!process_line(s, line, name, lineno))
      return false;
  }
  return true;
}

bool script_run(script *s, line_source *src, const char *name) {
  if (!read_lines(s, src, name))
    return false;
  return flush_batch(s, 1); /* the end of a source ends its last batch */
}

static const char *text_next(line_source *src, unsigned batch_line) {
  static strbuf line;
  const char **pp = src->state;
  (void)batch_line;
  if (!*pp)
    return NULL;
  const char *nl = strchr(*pp, '\n');
  size_t n = nl ? (size_t)(nl - *pp) : strlen(*pp);
  line.len = 0;
  sb_putn(&line, *pp, n);
  if (line.len && line.s[line.len - 1] == '\r')
    line.s[--line.len] = 0;
  *pp = nl ? nl + 1 : NULL;
  return line.s;
}

bool script_run_text(script *s, const char *text, const char *name) {
  const char *p = text;
  line_source src = {text_next, (void *)&p};
  return script_run(s, &src, name);
}

bool script_run_file(script *s, const char *path) {
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  if (!f) {
    fprintf(stderr, "error: tdsc: %s: cannot open it\n", path);
    s->failed = true;
    return !s->exit_on_error;
  }
  line_source src = {file_next, f};
  bool go = script_run(s, &src, strcmp(path, "-") ? path : "(stdin)");
  if (f != stdin)
    fclose(f);
  return go;
}

script *script_new(const opts *o, batch_fn run, void *ctx) {
  script *s = calloc(1, sizeof *s);
  if (!s)
    no_memory();
  s->o = o;
  s->run = run;
  s->ctx = ctx;
  s->exit_on_error = o->exit_on_error;
  s->quit_status = -1;
  for (size_t i = 0; i < o->nvars; i++) {
    const char *eq = strchr(o->vars[i], '=');
    set_var(s, o->vars[i], (size_t)(eq - o->vars[i]), eq + 1);
  }
  return s;
}

void script_free(script *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nvars; i++) {
    free(s->vars[i].name);
    free(s->vars[i].value);
  }
  free(s->vars);
  free(s->batch.s);
  free(s);
}

bool script_quit(const script *s, int *status) {
  *status = s->quit_status;
  return s->quit;
}

bool script_failed(const script *s) { return s->failed; }

bool script_exit_on_error(const script *s) { return s->exit_on_error; }
