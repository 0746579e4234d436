/* Integration test harness (harness.h). */
#define _GNU_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *th_server_faketime;
const char *th_server_openssl_conf;

long long th_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void th_require_server(void) {
  const char *py = getenv("PYTHON3");
  const char *certs = getenv("TDSC_TEST_CERTS");
  const char *src = getenv("TDSC_SRCDIR");
  if (!py || !*py || !certs || !src) {
    fprintf(stderr, "SKIP: PYTHON3, TDSC_TEST_CERTS or TDSC_SRCDIR unset "
                    "(run through make check)\n");
    exit(77);
  }
  if (access(th_cert("ca.pem"), R_OK) != 0) {
    fprintf(stderr, "SKIP: no test certificates in %s\n", certs);
    exit(77);
  }
  signal(SIGPIPE, SIG_IGN);
}

const char *th_cert(const char *name) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", getenv("TDSC_TEST_CERTS"), name);
  return path;
}

/* Scratch folders live under $TMPDIR, not the build tree: socket paths
 * (the named pipe, the shared-memory rendezvous) must fit sun_path's 108
 * bytes wherever the checkout is, distcheck's _build/sub included. */
static const char *th_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t && strlen(t) < 60 ? t : "/tmp";
}

bool th_server_start(th_server *s, ...) {
  const char *argv[64];
  int argc = 0;
  char script[1024], db[512], init[1024], log[512], cert[1024], key[1024];
  const char *src = getenv("TDSC_SRCDIR");
  memset(s, 0, sizeof *s);
  s->pid = -1;
  snprintf(s->dir, sizeof s->dir, "%s/tdsc-srv.XXXXXX", th_tmpdir());
  if (!mkdtemp(s->dir)) {
    perror("mkdtemp");
    return false;
  }
  snprintf(script, sizeof script, "%s/tests/server/tdsserver.py", src);
  snprintf(db, sizeof db, "%s/db.sqlite", s->dir);
  snprintf(init, sizeof init, "%s/tests/server/sample.sql", src);
  snprintf(log, sizeof log, "%s/server.log", s->dir);
  snprintf(cert, sizeof cert, "%s", th_cert("server.pem"));
  snprintf(key, sizeof key, "%s", th_cert("server.key"));
  const char *faketime = th_server_faketime;
  th_server_faketime = NULL;
  const char *openssl_conf = th_server_openssl_conf;
  th_server_openssl_conf = NULL;
  argv[argc++] = getenv("PYTHON3");
  argv[argc++] = script;
  const char *fixed[] = {"--host", "127.0.0.1", "--port", "0", "--db", db,
                         "--init", init, "--user", "sa:Secret-123", "--user",
                         "reader:Read0nly", "--log", log};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    argv[argc++] = fixed[i];
  /* --cert/--key unless the caller brings its own */
  bool own_cert = false;
  va_list ap;
  va_start(ap, s);
  const char *a;
  int extra_start = argc;
  while ((a = va_arg(ap, const char *)) && argc < 60) {
    if (!strcmp(a, "--cert"))
      own_cert = true;
    argv[argc++] = a;
  }
  va_end(ap);
  if (!own_cert) {
    /* keep the caller's arguments last: later options win in argparse */
    memmove(&argv[extra_start + 4], &argv[extra_start],
            (size_t)(argc - extra_start) * sizeof argv[0]);
    argv[extra_start] = "--cert";
    argv[extra_start + 1] = cert;
    argv[extra_start + 2] = "--key";
    argv[extra_start + 3] = key;
    argc += 4;
  }
  argv[argc] = NULL;

  int fds[2];
  if (pipe(fds) != 0) {
    perror("pipe");
    return false;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return false;
  }
  if (pid == 0) {
    /* Dies with the test process, even when a failed assertion ends it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (faketime) {
      setenv("LD_PRELOAD", TH_LIBFAKETIME, 1);
      setenv("FAKETIME", faketime, 1);
      setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
    }
    if (openssl_conf)
      setenv("OPENSSL_CONF", openssl_conf, 1);
    dup2(fds[1], 1);
    int errfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (errfd >= 0)
      dup2(errfd, 2);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], (char *const *)argv);
    perror("execv");
    _exit(127);
  }
  close(fds[1]);
  s->pid = pid;
  char line[128];
  size_t len = 0;
  long long deadline = th_now_ms() + 20000;
  while (len < sizeof line - 1) {
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    long long left = deadline - th_now_ms();
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      break;
    ssize_t n = read(fds[0], line + len, 1);
    if (n <= 0)
      break;
    if (line[len] == '\n')
      break;
    len++;
  }
  line[len] = 0;
  close(fds[0]);
  if (sscanf(line, "READY %d", &s->port) != 1) {
    fprintf(stderr, "test server did not start (got '%s'); log: %s\n", line,
            log);
    th_server_stop(s);
    return false;
  }
  return true;
}

void th_server_stop(th_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
      if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
        s->pid = -1;
        break;
      }
      usleep(100000);
    }
    if (s->pid > 0) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, NULL, 0);
    }
  }
  s->pid = -1;
  if (s->dir[0] && !getenv("TDSC_KEEP_TMP")) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", s->dir);
  }
  s->dir[0] = 0;
}

const char *th_connstr(const th_server *s, const char *extra) {
  static char buf[2048];
  snprintf(buf, sizeof buf,
           "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;CAFile=%s;%s",
           s->port, th_cert("ca.pem"), extra ? extra : "");
  return buf;
}

/* ---------------------------------------------------------------- realm */

void th_require_realm(void) {
  th_require_server();
  const char *kdc = getenv("KRB5KDC");
  if (!kdc || !*kdc || access(kdc, X_OK) != 0) {
    fprintf(stderr, "SKIP: no krb5kdc (Debian: krb5-kdc)\n");
    exit(77);
  }
}

static bool run_argv(const char *const *argv) {
  pid_t pid = fork();
  if (pid < 0)
    return false;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
      dup2(devnull, 1); /* realm.py echoes its environment: not wanted here */
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid)
    return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool th_realm_cmd(th_realm *r, const char *cmd, ...) {
  char script[1024];
  const char *argv[32];
  int argc = 0;
  snprintf(script, sizeof script, "%s/tests/realm/realm.py",
           getenv("TDSC_SRCDIR"));
  argv[argc++] = getenv("PYTHON3");
  argv[argc++] = script;
  argv[argc++] = cmd;
  argv[argc++] = r->dir;
  va_list ap;
  va_start(ap, cmd);
  const char *a;
  while ((a = va_arg(ap, const char *)) && argc < 30)
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  bool ok = run_argv(argv);
  if (!ok)
    fprintf(stderr, "realm.py %s %s failed\n", cmd, r->dir);
  return ok;
}

bool th_realm_create(th_realm *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->dir, sizeof r->dir, "%s/tdsc-realm.XXXXXX", th_tmpdir());
  if (!mkdtemp(r->dir))
    return false;
  rmdir(r->dir); /* realm.py creates it */
  if (!th_realm_cmd(r, "create", "--max-life", "600", (const char *)NULL))
    return false;
  char envpath[600], line[1024];
  snprintf(envpath, sizeof envpath, "%s/env", r->dir);
  FILE *f = fopen(envpath, "r");
  if (!f)
    return false;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    char *eq = strchr(line, '=');
    if (!eq)
      continue;
    *eq = 0;
    setenv(line, eq + 1, 1);
    if (!strcmp(line, "TDSC_REALM"))
      snprintf(r->realm, sizeof r->realm, "%s", eq + 1);
  }
  fclose(f);
  return r->realm[0] != 0;
}

void th_realm_destroy(th_realm *r) {
  if (r->dir[0] && !getenv("TDSC_KEEP_TMP"))
    th_realm_cmd(r, "destroy", (const char *)NULL);
  r->dir[0] = 0;
}

int th_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

int th_run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

const char *th_report(const tdsc_conn *c) {
  const tdsc_error *e = tdsc_conn_error(c);
  return e ? tdsc_error_report(e) : "(no error)";
}
