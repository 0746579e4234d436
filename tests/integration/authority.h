/* The loopback identity provider of the Entra ID tests
 * (tests/server/authority.py): the tenant's signing key written into a
 * folder, and the authority started with the caller's arguments (inline,
 * as login_as.h: each test program takes what it needs). */
#ifndef TDSC_TESTS_AUTHORITY_H
#define TDSC_TESTS_AUTHORITY_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

/* dir/tenant.pem (the public key, for the test server's --entra-key) and
 * dir/tenant.key (the private one, for the authority's --key). */
static inline bool th_entra_keys(const char *dir) {
  char path[600];
  EVP_PKEY *key = EVP_RSA_gen(2048);
  bool ok = key != NULL;
  snprintf(path, sizeof path, "%s/tenant.pem", dir);
  FILE *f = ok ? fopen(path, "w") : NULL;
  ok = f && PEM_write_PUBKEY(f, key) == 1;
  if (f && fclose(f) != 0)
    ok = false;
  snprintf(path, sizeof path, "%s/tenant.key", dir);
  f = ok ? fopen(path, "w") : NULL;
  ok = f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
  if (f && fclose(f) != 0)
    ok = false;
  EVP_PKEY_free(key);
  return ok;
}

/* Runs authority.py with args (NULL-terminated; --tls-cert among them
 * makes it https) and waits for its "READY <port>": the port, or -1.
 * *pid is the process (SIGTERM ends it; it also ends with this one). */
static inline int th_authority_start(const char *const *args, pid_t *pid) {
  const char *argv[40];
  char script[600], line[64];
  size_t k = 0;
  snprintf(script, sizeof script, "%s/tests/server/authority.py",
           getenv("TDSC_SRCDIR"));
  argv[k++] = getenv("PYTHON3");
  argv[k++] = script;
  for (; *args && k < sizeof argv / sizeof argv[0] - 1; args++)
    argv[k++] = *args;
  argv[k] = NULL;
  int fds[2];
  if (!argv[0] || pipe(fds) != 0)
    return -1;
  *pid = fork();
  if (*pid < 0)
    return -1;
  if (*pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  size_t n = 0;
  while (n < sizeof line - 1) {
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    if (poll(&p, 1, 20000) <= 0 || read(fds[0], line + n, 1) != 1 ||
        line[n] == '\n')
      break;
    n++;
  }
  line[n] = 0;
  close(fds[0]);
  int port;
  return sscanf(line, "READY %d", &port) == 1 ? port : -1;
}

#endif
