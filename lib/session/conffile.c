/* Configuration files that complete a connection string (options.c calls
 * these before the environment and the defaults):
 *   - a service file, as libpq's pg_service.conf: [name] sections of
 *     connection-string keywords, chosen by Service=;
 *   - freetds.conf server sections: Server=<name> resolves to the
 *     section's host, port or instance, and encryption;
 *   - a password file, as libpq's .pgpass: server:port:database:user:password
 *     lines, '*' matching anything, read only when it is private.
 * Each file is read when the connect needs it, never kept; a value found
 * here never overrides one the string gave. */
#include "config.h"

#include "session/conffile.h"

#include "buf.h"
#include "sys.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A line of at most this many bytes; longer ones are an error. */
enum { LINE_MAX_BYTES = 4096 };

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
               s[n - 1] == '\n'))
    s[--n] = 0;
  return s;
}

/* Reads the next line of f into line (capacity LINE_MAX_BYTES): 1, 0 at
 * the end, -1 for a line too long. */
static int next_line(FILE *f, char *line) {
  if (!fgets(line, LINE_MAX_BYTES, f))
    return 0;
  size_t n = strlen(line);
  if (n == LINE_MAX_BYTES - 1 && line[n - 1] != '\n' && !feof(f))
    return -1;
  return 1;
}

/* Calls fn(key, value, ud) for each "key = value" line of section name
 * (case-insensitive) of the INI file f; lines starting with '#' or ';' are
 * comments.  Returns 1 when the section was found, 0 when not, -1 on a
 * malformed line (its number in *lineno) or when fn returns false. */
static int ini_section(FILE *f, const char *name,
                       bool (*fn)(const char *key, const char *value,
                                  void *ud),
                       void *ud, unsigned *lineno) {
  char line[LINE_MAX_BYTES];
  bool in = false, found = false;
  int r;
  *lineno = 0;
  while ((r = next_line(f, line)) == 1) {
    ++*lineno;
    char *s = trim(line);
    if (!*s || *s == '#' || *s == ';')
      continue;
    if (*s == '[') {
      char *end = strchr(s, ']');
      if (!end)
        return -1;
      *end = 0;
      in = !strcasecmp(trim(s + 1), name);
      found = found || in;
      continue;
    }
    if (!in)
      continue;
    char *eq = strchr(s, '=');
    if (!eq)
      return -1;
    *eq = 0;
    if (!fn(trim(s), trim(eq + 1), ud))
      return -1;
  }
  if (r < 0) {
    ++*lineno;
    return -1;
  }
  return found;
}

/* The first path of the list that exists: the variable's value when set
 * (then only it), else the files in the home folder and the system's. */
static bool pick(const char *env, const char *home_name,
                 const char *system_path, char *out, size_t cap) {
  const char *v = getenv(env);
  if (v && *v) {
    snprintf(out, cap, "%s", v);
    return true;
  }
  const char *home = getenv("HOME");
  if (home && *home &&
      (size_t)snprintf(out, cap, "%s/%s", home, home_name) < cap) {
    FILE *f = fopen(out, "r");
    if (f) {
      fclose(f);
      return true;
    }
  }
  FILE *f = fopen(system_path, "r");
  if (!f)
    return false;
  fclose(f);
  snprintf(out, cap, "%s", system_path);
  return true;
}

/* ----------------------------------------------------------- service file */

struct service_ctx {
  tdsc__conf_set_fn set;
  void *ud;
  const char *path;
  unsigned lineno;
  tdsc_error *err;
  tdsc_errc rc;
};

static bool service_pair(const char *key, const char *value, void *p) {
  struct service_ctx *c = p;
  c->rc = c->set(key, value, c->ud, c->err);
  return c->rc == TDSC_OK;
}

tdsc_errc tdsc__conf_service(const char *name, tdsc__conf_set_fn set,
                             void *ud, tdsc_error *err) {
  char path[1024];
  if (!pick("TDSC_SERVICEFILE", ".tdsc_service.conf",
            "/etc/tdsclient/service.conf", path, sizeof path))
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "Service=%s: no service file (TDSC_SERVICEFILE, "
                         "~/.tdsc_service.conf, /etc/tdsclient/service.conf)",
                         name);
  FILE *f = fopen(path, "r");
  if (!f)
    return tdsc__err_errno(err, TDSC_E_BAD_OPTION_VALUE, errno,
                           "Service=%s: cannot read the service file %s",
                           name, path);
  struct service_ctx c = {set, ud, path, 0, err, TDSC_OK};
  int r = ini_section(f, name, service_pair, &c, &c.lineno);
  fclose(f);
  if (r < 0 && c.rc != TDSC_OK) {
    tdsc__err_context(err, "Service=%s, %s line %u", name, path, c.lineno);
    return c.rc;
  }
  if (r < 0)
    return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                         "Service=%s: %s line %u is neither [section], "
                         "key = value nor a comment (or is too long)",
                         name, path, c.lineno);
  if (r == 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "Service=%s: the service file %s has no [%s] "
                         "section",
                         name, path, name);
  return TDSC_OK;
}

/* ---------------------------------------------------------- freetds.conf */

struct freetds_ctx {
  tdsc__conf_server *out;
};

static bool freetds_pair(const char *key, const char *value, void *p) {
  tdsc__conf_server *s = ((struct freetds_ctx *)p)->out;
  char *dst = NULL;
  size_t cap = 0;
  if (!strcasecmp(key, "host")) {
    dst = s->host;
    cap = sizeof s->host;
  } else if (!strcasecmp(key, "port")) {
    dst = s->port;
    cap = sizeof s->port;
  } else if (!strcasecmp(key, "instance")) {
    dst = s->instance;
    cap = sizeof s->instance;
  } else if (!strcasecmp(key, "encryption")) {
    dst = s->encryption;
    cap = sizeof s->encryption;
  } else {
    return true; /* FreeTDS's other settings mean nothing here */
  }
  if (strlen(value) >= cap)
    return false;
  strcpy(dst, value);
  return true;
}

tdsc_errc tdsc__conf_freetds(const char *name, tdsc__conf_server *out,
                             tdsc_error *err) {
  memset(out, 0, sizeof *out);
  char path[1024];
  if (!pick("FREETDSCONF", ".freetds.conf", "/etc/freetds/freetds.conf",
            path, sizeof path))
    return TDSC_OK;
  FILE *f = fopen(path, "r");
  if (!f) /* FREETDSCONF names a file that is not there: say so */
    return tdsc__err_errno(err, TDSC_E_BAD_OPTION_VALUE, errno,
                           "cannot read the FreeTDS configuration %s", path);
  struct freetds_ctx c = {out};
  unsigned lineno;
  int r = ini_section(f, name, freetds_pair, &c, &lineno);
  fclose(f);
  if (r < 0)
    return tdsc__err_set(err, TDSC_E_BAD_CONNSTR,
                         "Server=%s: %s line %u is malformed or a value "
                         "there is too long",
                         name, path, lineno);
  out->found = r == 1 && (out->host[0] || out->port[0] || out->instance[0]);
  if (out->found)
    snprintf(out->path, sizeof out->path, "%s", path);
  return TDSC_OK;
}

/* --------------------------------------------------------- password file */

/* One field of a password-file line, up to an unescaped ':' ('\' escapes
 * ':' and '\'), unescaped into out; returns what follows the ':' or NULL
 * when the line ends first. */
static char *field(char *p, char *out, size_t cap, bool last) {
  size_t n = 0;
  for (; *p && (last || *p != ':'); p++) {
    if (*p == '\\' && p[1])
      p++;
    if (n + 1 < cap)
      out[n++] = *p;
  }
  out[n] = 0;
  if (last)
    return p;
  return *p == ':' ? p + 1 : NULL;
}

static bool matches(const char *pattern, const char *value) {
  return !strcmp(pattern, "*") || (value && !strcasecmp(pattern, value));
}

tdsc_errc tdsc__conf_password(const char *server, const char *port,
                              const char *database, const char *user,
                              char **password, char *note, size_t notecap,
                              tdsc_error *err) {
  *password = NULL;
  note[0] = 0;
  char path[1024];
  const char *env = getenv("TDSC_PASSFILE");
  const char *home = getenv("HOME");
  if (env && *env)
    snprintf(path, sizeof path, "%s", env);
  else if (home && *home)
    snprintf(path, sizeof path, "%s/.tdscpass", home);
  else
    return TDSC_OK;
  FILE *f = fopen(path, "r");
  if (!f)
    return TDSC_OK; /* no password file is the usual case */
  unsigned mode;
  if (!tdsc__file_private(fileno(f), &mode)) {
    fclose(f);
    snprintf(note, notecap,
             "the password file %s was ignored: its mode %03o lets other "
             "users read it (chmod 600 %s)",
             path, mode, path);
    return TDSC_OK;
  }
  char line[LINE_MAX_BYTES];
  char fs[4][256], pw[1024];
  int r;
  tdsc_errc rc = TDSC_OK;
  while ((r = next_line(f, line)) == 1) {
    char *s = trim(line);
    if (!*s || *s == '#')
      continue;
    char *p = s;
    for (int i = 0; i < 4 && p; i++)
      p = field(p, fs[i], sizeof fs[i], false);
    if (!p)
      continue; /* fewer than five fields: not a password line */
    field(p, pw, sizeof pw, true);
    if (matches(fs[0], server) && matches(fs[1], port) &&
        matches(fs[2], database) && matches(fs[3], user)) {
      if (!(*password = tdsc__strdup(pw)))
        rc = tdsc__err_oom(err);
      break;
    }
  }
  tdsc__wipe(line, sizeof line);
  tdsc__wipe(pw, sizeof pw);
  fclose(f);
  return rc;
}
