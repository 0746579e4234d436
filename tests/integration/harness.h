/* Integration test harness: starts the test server (tests/server) as a
 * child process on a free loopback port, with its own SQLite database in a
 * scratch folder, and stops it even when a test fails. */
#ifndef TDSC_TEST_HARNESS_H
#define TDSC_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct th_server {
  pid_t pid;
  int port;
  char dir[256]; /* scratch folder (database, log) */
} th_server;

/* Exits the test program with 77 (skipped) when the server cannot run here
 * (no PYTHON3 or certificates). Call first in main(). */
void th_require_server(void);

/* Starts the server with the sample database, user sa / Secret-123 (also
 * reader / Read0nly), the test CA's localhost certificate, and the extra
 * arguments (NULL-terminated). Returns false (with a message on stderr)
 * when it does not report READY within 20 s. */
bool th_server_start(th_server *s, ...);
void th_server_stop(th_server *s);

/* Path of a file in the test certificates folder. Static buffer. */
const char *th_cert(const char *name);

/* A connection string for s with the test CA, followed by extra text. The
 * result is a static buffer, overwritten by the next call. */
const char *th_connstr(const th_server *s, const char *extra);

/* A clock offset for the next th_server_start only (libfaketime's FAKETIME
 * syntax, e.g. "+10m" for a server whose clock is ahead); reset by it.
 * The library is preloaded into the server itself, so that it stays our
 * direct child (the faketime command would put itself in between). */
extern const char *th_server_faketime;
/* An OpenSSL configuration file for the next th_server_start only (its
 * OPENSSL_CONF: MinProtocol, MaxProtocol, Ciphersuites...); reset by it. */
extern const char *th_server_openssl_conf;
#ifndef TH_LIBFAKETIME /* configure finds it; this is Debian's amd64 path */
#define TH_LIBFAKETIME "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
#endif

/* A throwaway Kerberos realm (tests/realm/realm.py) in a scratch folder;
 * its environment (KRB5_CONFIG, KRB5CCNAME, ...) is exported into this
 * process, so servers started afterwards inherit it. */
typedef struct th_realm {
  char dir[512];
  char realm[64];
} th_realm;

/* Exits with 77 when Kerberos tools are missing. */
void th_require_realm(void);
bool th_realm_create(th_realm *r);
/* Runs `realm.py CMD DIR ARGS...` (NULL-terminated); true on exit 0. */
bool th_realm_cmd(th_realm *r, const char *cmd, ...);
void th_realm_destroy(th_realm *r);
/* A loopback TCP port that was free a moment ago. */
int th_free_port(void);

/* Milliseconds on a monotonic clock. */
long long th_now_ms(void);

/* Runs a test program's suite (after th_require_server or
 * th_require_realm); main() returns what it returns. */
struct Suite;
int th_run_suite(struct Suite *s);

/* The report of c's last error, or "(no error)", for assertion messages. */
struct tdsc_conn;
const char *th_report(const struct tdsc_conn *c);

#endif
