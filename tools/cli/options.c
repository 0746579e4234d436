/* tdsc's command line: sqlcmd's flags with sqlcmd's meanings (and tsql's
 * -S/-H/-p), turned into a connection string and the run's settings.  A
 * usage error prints one line naming the flag, never the whole help. */
#include "config.h"

#include "tdsc.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f) {
  fputs(
      "usage: tdsc [options] [SQL]\n"
      "Runs SQL (an argument, -Q, -i FILE..., or standard input; on a "
      "terminal,\nan interactive prompt) and prints its results.  Scripts "
      "are read as sqlcmd\nreads them: GO [count], $(var), :setvar, :r, :on "
      "error, :exit, :quit.\n\n"
      "Connection (added to the connection string after -c):\n"
      "  -c, --connect STRING   connection string (keywords below)\n"
      "  -S, --server TARGET    Server=: "
      "[tcp:|np:|lpc:]host[\\instance][,port]\n"
      "  -H HOST, -p PORT       tsql's host and port: Server=tcp:HOST,PORT\n"
      "  -U, --user NAME        UID= (no -P: TDSC_PASSWORD, SQLCMDPASSWORD, "
      "or a prompt)\n"
      "  -P, --password PWD     PWD= (visible to other users: prefer the "
      "environment)\n"
      "  -d, --database NAME    Database=\n"
      "  -E                     integrated security (Kerberos, then NTLM)\n"
      "  -N s|m|o               Encrypt=strict|mandatory|optional\n"
      "  -C                     TrustServerCertificate=yes (testing only)\n"
      "  -l SECONDS             LoginTimeout=\n"
      "  -t SECONDS             QueryTimeout=\n"
      "Input:\n"
      "  -Q, --query SQL        run SQL and exit\n"
      "  -q SQL                 run SQL, then read the terminal\n"
      "  -i, --input FILE       run the script FILE (several: in order)\n"
      "  -v NAME=VALUE          a scripting variable, for $(NAME)\n"
      "  -b                     stop at the first error (:on error exit)\n"
      "  -V LEVEL               errors of a lower severity do not fail "
      "(exit 0)\n"
      "  -x                     no $(NAME) substitution\n"
      "  -e                     echo the script's lines\n"
      "Output:\n"
      "  -o FILE                write results (and messages) to FILE\n"
      "      --csv              CSV (RFC 4180): NULL empty, '' as \"\"\n"
      "      --json             JSON: an array of result sets, messages, "
      "errors\n"
      "      --jsonl            JSON Lines: one object per line (large "
      "results)\n"
      "      --null TEXT        how CSV writes NULL (default: an empty "
      "field)\n"
      "  -h N                   the table's header every N rows; -1: none\n"
      "  -s SEP                 column separator (table: \" | \", CSV: \",\")\n"
      "  -W                     no padding (trailing spaces removed)\n"
      "  -w WIDTH               break table lines after WIDTH columns\n"
      "  -r[0|1]                messages to standard error (-o: they go to "
      "FILE)\n"
      "      --quiet            no row counts nor server messages\n"
      "  -?, --help             this help;  --version  the version\n\n"
      "Connection-string keywords:\n",
      f);
  for (size_t i = 0; tdsc_option_at(i); i++) {
    const tdsc_option_info *o = tdsc_option_at(i);
    fprintf(f, "  %-24s %s", o->keyword, o->doc);
    if (o->default_value)
      fprintf(f, " [%s]", o->default_value);
    if (o->aliases)
      fprintf(f, " (also: %s)", o->aliases);
    fputc('\n', f);
  }
}

/* strcasestr is a GNU extension (MinGW has none). */
static const char *find_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++)
    if (!strncasecmp(hay, needle, n))
      return hay;
  return NULL;
}

static bool bad(int *status, const char *fmt, const char *arg) {
  fputs("tdsc: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs(" (tdsc --help lists the options)\n", stderr);
  *status = EXIT_USAGE;
  return false;
}

static bool to_int(const char *s, long lo, long hi, long *out) {
  char *e;
  errno = 0;
  long v = strtol(s, &e, 10);
  if (errno || e == s || *e || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static bool is_var_assignment(const char *a) {
  const char *p = a;
  if (!*p || *p == '-' || *p == '=')
    return false;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
    p++;
  return *p == '=' && p > a;
}

/* sqlcmd accepts "-v a=1 b=2": each further NAME=VALUE becomes its own -v
 * before getopt sees them. */
static char **expand_vars(int *argc, char **argv) {
  char **out = calloc((size_t)*argc * 2 + 1, sizeof *out);
  int n = 0;
  if (!out)
    no_memory();
  for (int i = 0; i < *argc; i++) {
    out[n++] = argv[i];
    if (strcmp(argv[i], "-v") || i + 1 >= *argc)
      continue;
    out[n++] = argv[++i];
    while (i + 1 < *argc && is_var_assignment(argv[i + 1])) {
      out[n++] = (char *)"-v";
      out[n++] = argv[++i];
    }
  }
  *argc = n;
  return out;
}

/* An optional value given apart ("-N m", "-r 1"): taken when it is one of
 * the words the flag knows, or a short word (then refused by the caller). */
static const char *optional_value(int argc, char **argv,
                                  const char *const *words) {
  if (optarg)
    return optarg;
  if (optind < argc) {
    for (const char *const *w = words; *w; w++)
      if (!strcasecmp(argv[optind], *w))
        return argv[optind++];
    /* a short word apart is meant for the flag: checked by the caller */
    if (argv[optind][0] != '-' && strlen(argv[optind]) <= 10 &&
        !strchr(argv[optind], ' '))
      return argv[optind++];
  }
  return NULL;
}

bool opts_parse(opts *o, int argc, char **argv, int *status) {
  enum { OPT_CSV = 256, OPT_JSON, OPT_JSONL, OPT_QUIET, OPT_VERSION, OPT_NULL };
  static const struct option longopts[] = {
      {"connect", required_argument, NULL, 'c'},
      {"server", required_argument, NULL, 'S'},
      {"user", required_argument, NULL, 'U'},
      {"password", required_argument, NULL, 'P'},
      {"database", required_argument, NULL, 'd'},
      {"query", required_argument, NULL, 'Q'},
      {"input", required_argument, NULL, 'i'},
      {"output", required_argument, NULL, 'o'},
      {"csv", no_argument, NULL, OPT_CSV},
      {"json", no_argument, NULL, OPT_JSON},
      {"jsonl", no_argument, NULL, OPT_JSONL},
      {"null", required_argument, NULL, OPT_NULL},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {"help", no_argument, NULL, '?'},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0}};
  static const char *const encrypt_words[] = {
      "s",    "m",     "o",   "strict", "mandatory", "optional",
      "true", "false", "yes", "no",     "disable",   NULL};
  static const char *const r_words[] = {"0", "1", NULL};
  strbuf *flags = &o->flags;
  const char *server = NULL, *host = NULL, *port = NULL, *user = NULL,
             *password = NULL;
  bool integrated = false, cs_has_pwd = false;
  char **args;
  int opt;
  long v;

  *o = (opts){.redirect = -1};
  args = o->args = expand_vars(&argc, argv);
  *status = 0;
  sb_puts(&o->cs, "");
  sb_puts(flags, "");
  opterr = 0;
  optind = 1;
  while ((opt = getopt_long(argc, args,
                            ":c:S:U:P:d:EQ:q:i:o:bh:s:Ww:t:l:N::CV:r::v:xeH:p:",
                            longopts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      sb_puts(&o->cs, optarg);
      if (o->cs.len && o->cs.s[o->cs.len - 1] != ';')
        sb_puts(&o->cs, ";");
      if (find_nocase(optarg, "pwd") || find_nocase(optarg, "password"))
        cs_has_pwd = true;
      break;
    case 'S':
      server = optarg;
      break;
    case 'H':
      host = optarg;
      break;
    case 'p':
      if (!to_int(optarg, 1, 65535, &v))
        return bad(status,
                   "-p '%s': tsql's port number expected (sqlcmd's "
                   "-p statistics are not supported)",
                   optarg);
      port = optarg;
      break;
    case 'U':
      user = optarg;
      break;
    case 'P':
      password = optarg;
      break;
    case 'd':
      sb_add_kv(flags, "Database", optarg);
      break;
    case 'E':
      integrated = true;
      break;
    case 'N': {
      const char *e = optional_value(argc, args, encrypt_words);
      const char *mode = "mandatory";
      if (e && (!strcasecmp(e, "s") || !strcasecmp(e, "strict")))
        mode = "strict";
      else if (e && (!strcasecmp(e, "o") || !strcasecmp(e, "optional") ||
                     !strcasecmp(e, "false") || !strcasecmp(e, "no")))
        mode = "optional";
      else if (e && !strcasecmp(e, "disable"))
        mode = "off";
      else if (e && strcasecmp(e, "m") && strcasecmp(e, "mandatory") &&
               strcasecmp(e, "true") && strcasecmp(e, "yes"))
        return bad(status, "-N '%s': s, m or o expected", e);
      sb_add_kv(flags, "Encrypt", mode);
      break;
    }
    case 'C':
      sb_add_kv(flags, "TrustServerCertificate", "yes");
      break;
    case 'l':
      if (!to_int(optarg, 0, 65535, &v))
        return bad(status, "-l '%s': seconds expected", optarg);
      sb_add_kv(flags, "LoginTimeout", optarg);
      break;
    case 't':
      if (!to_int(optarg, 0, 65535, &v))
        return bad(status, "-t '%s': seconds expected", optarg);
      sb_add_kv(flags, "QueryTimeout", optarg);
      break;
    case 'Q':
      o->query = optarg;
      break;
    case 'q':
      o->iquery = optarg;
      break;
    case 'i':
      /* sqlcmd also takes "-i a.sql,b.sql" */
      for (const char *f = optarg; *f;) {
        size_t n = strcspn(f, ",");
        char **p = realloc(o->inputs, (o->ninputs + 1) * sizeof *p);
        if (!p || !(p[o->ninputs] = malloc(n + 1)))
          no_memory();
        o->inputs = p;
        memcpy(p[o->ninputs], f, n);
        p[o->ninputs++][n] = 0;
        f += n + (f[n] == ',');
      }
      break;
    case 'o':
      o->outfile = optarg;
      break;
    case 'v': {
      if (!is_var_assignment(optarg))
        return bad(status, "-v '%s': NAME=VALUE expected", optarg);
      const char **p = realloc(o->vars, (o->nvars + 1) * sizeof *p);
      if (!p)
        no_memory();
      o->vars = p;
      p[o->nvars++] = optarg;
      break;
    }
    case 'b':
      o->exit_on_error = true;
      break;
    case 'V':
      if (!to_int(optarg, 1, 25, &v))
        return bad(status, "-V '%s': a severity from 1 to 25 expected", optarg);
      o->severity = (int)v;
      break;
    case 'h':
      if (!to_int(optarg, -1, 2147483647, &v) || v == 0)
        return bad(status, "-h '%s': -1 or a count of rows expected", optarg);
      o->headers = (int)v;
      break;
    case 's':
      o->colsep = optarg;
      break;
    case 'W':
      o->trim = true;
      break;
    case 'w':
      if (!to_int(optarg, 1, 65535, &v))
        return bad(status, "-w '%s': a width expected", optarg);
      o->width = (int)v;
      break;
    case 'r': {
      const char *r = optional_value(argc, args, r_words);
      if (r && strcmp(r, "0") && strcmp(r, "1"))
        return bad(status, "-r%s: -r0 or -r1 expected", r);
      o->redirect = r && !strcmp(r, "1") ? 1 : 0;
      break;
    }
    case 'x':
      o->no_vars = true;
      break;
    case 'e':
      o->echo_input = true;
      break;
    case OPT_CSV:
      o->fmt = FMT_CSV;
      break;
    case OPT_JSON:
      o->fmt = FMT_JSON;
      break;
    case OPT_JSONL:
      o->fmt = FMT_JSONL;
      break;
    case OPT_NULL:
      o->null_text = optarg;
      break;
    case OPT_QUIET:
      o->quiet = true;
      break;
    case OPT_VERSION:
#ifdef HAVE_LIBEDIT
      printf("tdsc (tdsclient) %s (line editing: libedit)\n", tdsc_version());
#else
      printf("tdsc (tdsclient) %s\n", tdsc_version());
#endif
      return false;
    case ':':
      if (optopt)
        return bad(status, "option -%s needs a value",
                   (char[]){(char)optopt, 0});
      return bad(status, "option %s needs a value", args[optind - 1]);
    case '?':
      if (optopt == 0 && !strcmp(args[optind - 1], "--help")) {
        usage(stdout);
        return false;
      }
      if (optopt == '?') {
        usage(stdout);
        return false;
      }
      if (optopt)
        return bad(status, "unknown option -%s", (char[]){(char)optopt, 0});
      return bad(status, "unknown option %s", args[optind - 1]);
    default:
      return bad(status, "unknown option -%s", (char[]){(char)opt, 0});
    }
  }
  if (integrated && user)
    return bad(status,
               "%s-E (integrated security) and -U (a SQL login) "
               "exclude each other",
               "");
  if (server && (host || port))
    return bad(status, "%s-S and tsql's -H/-p name the server twice", "");
  if (port && !host)
    return bad(status,
               "%s-p (tsql's port) needs -H HOST (or give -S "
               "host,port)",
               "");
  if (o->query && o->iquery)
    return bad(status, "%s-Q and -q exclude each other", "");
  if (server) {
    sb_add_kv(flags, "Server", server);
    o->label = xstrdup(server);
  } else if (host) {
    strbuf t = {0};
    sb_printf(&t, "tcp:%s%s%s", host, port ? "," : "", port ? port : "");
    sb_add_kv(flags, "Server", t.s);
    o->label = t.s;
  }
  if (user)
    sb_add_kv(flags, "UID", user);
  if (integrated)
    sb_add_kv(flags, "Authentication", "kerberos,ntlm");
  /* TDSC_PASSWORD is read by the library itself (PWD='s variable); sqlcmd's
   * SQLCMDPASSWORD is honoured when it is the only one */
  if (!password && !cs_has_pwd && !getenv("TDSC_PASSWORD"))
    password = getenv("SQLCMDPASSWORD");
  if (password)
    sb_add_kv(flags, "PWD", password);
  o->want_password =
      user && !password && !cs_has_pwd && !getenv("TDSC_PASSWORD");
  sb_puts(&o->cs, flags->s);
  for (int i = optind; i < argc; i++) {
    char **p = realloc(o->sql_args, (o->nsql_args + 1) * sizeof *p);
    if (!p)
      no_memory();
    o->sql_args = p;
    p[o->nsql_args++] = args[i];
  }
  if (!o->label) {
    const char *env = getenv("TDSC_SERVER");
    o->label = xstrdup(env ? env : "tdsc");
    const char *s = find_nocase(o->cs.s, "server=");
    if (s) {
      s += 7;
      if (*s == '{')
        s++;
      size_t n = strcspn(s, ";}");
      free(o->label);
      o->label = malloc(n + 1);
      if (!o->label)
        no_memory();
      memcpy(o->label, s, n);
      o->label[n] = 0;
    }
  }
  return true;
}

void opts_free(opts *o) {
  sb_wipe(&o->cs);
  free(o->label);
  sb_wipe(&o->flags);
  for (size_t i = 0; i < o->ninputs; i++)
    free(o->inputs[i]);
  free(o->inputs);
  free(o->args);
  free(o->vars);
  free(o->sql_args);
}
