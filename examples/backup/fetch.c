/* tdsc-backup-fetch: asks a tdsc-backup-agent in serve mode for a backup
 * and saves the .zip it streams.
 *
 *   tdsc-backup-fetch HOST:PORT OUT.zip
 *
 * The protocol (README.md): the client sends "BACKUP\n"; the agent runs
 * its steps and answers "OK <size>\n" and <size> bytes of .zip, or
 * "ERR <n> <step> <code> <message>\n"; it closes the connection once its
 * work folder is clean.  Exit status: 0 saved, 2 usage, 3 agent
 * unreachable or protocol error, 10 + n when the agent's step n failed
 * (as the agent's own exit status), 15 when the transfer broke or OUT
 * could not be written. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *spec) {
  char host[256];
  const char *colon = strrchr(spec, ':');
  if (!colon || (size_t)(colon - spec) >= sizeof host)
    return -1;
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = '\0';
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *p;
  int rc = getaddrinfo(host, colon + 1, &hints, &ai), fd = -1;
  if (rc != 0) {
    fprintf(stderr, "tdsc-backup-fetch: %s: %s\n", spec, gai_strerror(rc));
    return -1;
  }
  for (p = ai; p && fd < 0; p = p->ai_next) {
    fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
    if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0)
    fprintf(stderr, "tdsc-backup-fetch: cannot reach %s: %s\n", spec,
            strerror(errno));
  freeaddrinfo(ai);
  return fd;
}

/* One line, byte by byte (the data that follows is not ours to read). */
static int read_line(int fd, char *line, size_t n) {
  size_t k = 0;
  while (k + 1 < n) {
    ssize_t r = read(fd, line + k, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    if (line[k] == '\n')
      break;
    k++;
  }
  line[k] = '\0';
  return 0;
}

int main(int argc, char **argv) {
  char line[1024], part[4096];
  if (argc != 3) {
    fputs("usage: tdsc-backup-fetch HOST:PORT OUT.zip\n", stderr);
    return 2;
  }
  int fd = connect_to(argv[1]);
  if (fd < 0)
    return 3;
  if (write(fd, "BACKUP\n", 7) != 7 || read_line(fd, line, sizeof line) != 0) {
    fprintf(stderr, "tdsc-backup-fetch: the agent at %s closed the connection\n",
            argv[1]);
    return 3;
  }
  if (!strncmp(line, "ERR ", 4)) {
    int step = atoi(line + 4);
    fprintf(stderr, "tdsc-backup-fetch: the agent failed: step %s\n", line + 4);
    return step > 0 ? 10 + step : 3;
  }
  char *end;
  long long size = strncmp(line, "OK ", 3) ? -1 : strtoll(line + 3, &end, 10);
  if (size < 0) {
    fprintf(stderr, "tdsc-backup-fetch: unexpected answer: %.80s\n", line);
    return 3;
  }
  /* into OUT.part, renamed once complete: OUT is whole or absent */
  snprintf(part, sizeof part, "%s.part", argv[2]);
  FILE *out = fopen(part, "wb");
  if (!out) {
    fprintf(stderr, "tdsc-backup-fetch: cannot create %s: %s\n", part,
            strerror(errno));
    return 15;
  }
  long long got = 0;
  char buf[65536];
  while (got < size) {
    size_t want = size - got < (long long)sizeof buf ? (size_t)(size - got) : sizeof buf;
    ssize_t r = read(fd, buf, want);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0 || fwrite(buf, 1, (size_t)r, out) != (size_t)r)
      break;
    got += r;
  }
  /* the agent closes after cleaning up: wait for that */
  while (got == size && read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
  if (fclose(out) != 0 || got != size || rename(part, argv[2]) != 0) {
    fprintf(stderr, "tdsc-backup-fetch: transfer broken: %lld of %lld bytes "
            "saved to %s\n", got, size, part);
    unlink(part);
    return 15;
  }
  printf("saved %s (%lld bytes)\n", argv[2], size);
  return 0;
}
