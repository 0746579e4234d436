/* Unit tests of lib/transport/ssrp.c (SQL Server Browser: request bytes,
 * reply parser against the MC-SQLR and real-server vectors, hostile
 * replies, and real UDP to a browser thread on loopback) and
 * lib/transport/pipe_posix.c (AF_UNIX named pipes against a server thread,
 * failures, and the Windows pipe name mapping).  No mocks. */
#include "config.h"

#include "clock.h"
#include "transport/io.h"
#include "transport/ssrp.h"
#include "vectors.h"

#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static bool contains(const char *hay, const char *needle) {
  return hay && strstr(hay, needle) != NULL;
}

#define ck_assert_msg_has(err, s)                                              \
  ck_assert_msg(contains((err).message, (s)), "message \"%s\" lacks \"%s\"",   \
                (err).message ? (err).message : "(null)", (s))

/* TDSC_TEST_SHOW=1 prints each checked error, to review the messages. */
static void show(const tdsc_error *e) {
  if (getenv("TDSC_TEST_SHOW"))
    fprintf(stderr, "[%s] %s\n  hint: %s\n", tdsc_errc_name(e->code),
            e->message ? e->message : "", tdsc_errc_hint(e->code));
}

static uint8_t *vec(const char *name, size_t *n) {
  uint8_t *p = tdsc_test_vector(name, n);
  ck_assert_msg(p != NULL, "vector %s missing", name);
  return p;
}

/* An SVR_RESP around text (RESP_SIZE = its length). */
static uint8_t *svr_resp(const char *text, size_t *n) {
  size_t len = strlen(text);
  uint8_t *p = malloc(len + 3);
  ck_assert_ptr_nonnull(p);
  p[0] = 0x05;
  p[1] = (uint8_t)(len & 0xff);
  p[2] = (uint8_t)(len >> 8);
  memcpy(p + 3, text, len);
  *n = len + 3;
  return p;
}

static tdsc_errc parse_text(const char *text, const char *want,
                            tdsc__ssrp_info *info, tdsc_error *err) {
  size_t n;
  uint8_t *p = svr_resp(text, &n);
  tdsc_errc rc = tdsc__ssrp_parse(p, n, want, info, err);
  free(p);
  return rc;
}

/* ---------------------------------------------------------------- request */

START_TEST(ssrp_request_matches_mcsqlr_4_2_bytes) {
  TDSC_NEED_VECTORS();
  size_t vn;
  uint8_t *v = vec("mcsqlr_4.2_clnt_ucast_inst_request.hex", &vn);
  uint8_t req[TDSC__SSRP_REQ_MAX];
  size_t n;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_request("YUKONSTD", req, &n, &err), TDSC_OK);
  ck_assert_uint_eq(n, vn);
  ck_assert_mem_eq(req, v, n);
  free(v);
}
END_TEST

/* ESF sent the name without the NUL and real servers answered; we send
 * the NUL (MC-SQLR 2.2.3, mcsqlr_4.2), so ours is ESF's plus one 0x00. */
START_TEST(ssrp_request_is_esf_bytes_plus_the_nul) {
  TDSC_NEED_VECTORS();
  size_t vn;
  uint8_t *v = vec("esf_ssrp_clnt_ucast_inst_request_MSSQLSERVER.hex", &vn);
  uint8_t req[TDSC__SSRP_REQ_MAX];
  size_t n;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_request("MSSQLSERVER", req, &n, &err), TDSC_OK);
  ck_assert_uint_eq(n, vn + 1);
  ck_assert_mem_eq(req, v, vn);
  ck_assert_uint_eq(req[vn], 0);
  free(v);
}
END_TEST

START_TEST(ssrp_request_rejects_empty_and_overlong_names) {
  uint8_t req[TDSC__SSRP_REQ_MAX];
  size_t n;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_request("", req, &n, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  char name[40];
  memset(name, 'A', 33);
  name[33] = '\0';
  ck_assert_int_eq(tdsc__ssrp_request(name, req, &n, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_msg_has(err, "32");
  show(&err);
  name[32] = '\0'; /* exactly 32 is allowed */
  ck_assert_int_eq(tdsc__ssrp_request(name, req, &n, &err), TDSC_OK);
  ck_assert_uint_eq(n, 34);
  tdsc__err_clear(&err);
}
END_TEST

/* ---------------------------------------------------------------- vectors */

START_TEST(ssrp_parses_mcsqlr_4_1_three_instances) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *p = vec("mcsqlr_4.1_svr_resp.hex", &n);
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "YUKONSTD", &i, &err), TDSC_OK);
  ck_assert_str_eq(i.server_name, "ILSUNG1");
  ck_assert_str_eq(i.instance_name, "YUKONSTD");
  ck_assert(!i.is_clustered);
  ck_assert_str_eq(i.version, "9.00.1399.06");
  ck_assert_uint_eq(i.tcp_port, 57137);
  ck_assert_str_eq(i.pipe, "");
  /* case-insensitive (MC-SQLR 2.2); pipe only, no tcp key: port 0 */
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "yukondev", &i, &err), TDSC_OK);
  ck_assert_str_eq(i.instance_name, "YUKONDEV");
  ck_assert_uint_eq(i.tcp_port, 0);
  ck_assert_str_eq(i.pipe, "\\\\ILSUNG1\\pipe\\MSSQL$YUKONDEV\\sql\\query");
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "MSSQLSERVER", &i, &err), TDSC_OK);
  ck_assert_uint_eq(i.tcp_port, 1433);
  ck_assert_str_eq(i.pipe, "\\\\ILSUNG1\\pipe\\sql\\query");
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "NOPE", &i, &err),
                   TDSC_E_INSTANCE_NOT_FOUND);
  ck_assert_msg_has(err, "NOPE");
  ck_assert_msg_has(err, "YUKONSTD, YUKONDEV, MSSQLSERVER");
  show(&err);
  tdsc__err_clear(&err);
  free(p);
}
END_TEST

START_TEST(ssrp_parses_mcsqlr_4_2_instance_reply) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *p = vec("mcsqlr_4.2_svr_resp.hex", &n);
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "YUKONSTD", &i, &err), TDSC_OK);
  ck_assert_str_eq(i.server_name, "ILSUNG1");
  ck_assert_uint_eq(i.tcp_port, 57137);
  ck_assert_str_eq(i.pipe, "");
  free(p);
}
END_TEST

START_TEST(ssrp_parses_real_sql2008_and_sql2012_replies) {
  TDSC_NEED_VECTORS();
  size_t n;
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  uint8_t *p = vec("esf_sql2008sp1_ssrp_svr_resp.hex", &n);
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "MSSQLSERVER", &i, &err), TDSC_OK);
  ck_assert_str_eq(i.server_name, "SERVER04");
  ck_assert_str_eq(i.version, "10.0.2531.0");
  ck_assert_uint_eq(i.tcp_port, 1433);
  ck_assert_str_eq(i.pipe, "\\\\SERVER04\\pipe\\sql\\query");
  free(p);
  p = vec("esf_sql2012sp1_ssrp_svr_resp.hex", &n);
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "mssqlserver", &i, &err), TDSC_OK);
  ck_assert_str_eq(i.server_name, "WIN-DACKG7NJ71M");
  ck_assert_str_eq(i.version, "11.0.3000.0");
  ck_assert_uint_eq(i.tcp_port, 1433);
  ck_assert_str_eq(i.pipe, "");
  free(p);
}
END_TEST

START_TEST(ssrp_parses_jtds_sql2000_two_instances) {
  TDSC_NEED_VECTORS();
  size_t n;
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  uint8_t *p = vec("jtds_sql2000_ssrp_bcast_ex_svr_resp.hex", &n);
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "DOG", &i, &err), TDSC_OK);
  ck_assert_str_eq(i.server_name, "BRINKLEY");
  ck_assert_str_eq(i.version, "8.00.194");
  ck_assert_uint_eq(i.tcp_port, 3546);
  ck_assert_str_eq(i.pipe, "\\\\BRINKLEY\\pipe\\MSSQL$DOG\\sql\\query");
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "MSSQLSERVER", &i, &err), TDSC_OK);
  ck_assert_uint_eq(i.tcp_port, 1433);
  free(p);
}
END_TEST

START_TEST(ssrp_dac_reply_is_malformed_for_an_instance_request) {
  TDSC_NEED_VECTORS();
  size_t n;
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  uint8_t *p = vec("mcsqlr_4.3_svr_resp_dac.hex", &n);
  ck_assert_int_eq(tdsc__ssrp_parse(p, n, "YUKONSTD", &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  ck_assert_msg_has(err, "DAC");
  show(&err);
  tdsc__err_clear(&err);
  free(p);
}
END_TEST

/* ---------------------------------------------------------------- hostile */

static const char *const all_vectors[] = {
    "mcsqlr_4.1_svr_resp.hex", "mcsqlr_4.2_svr_resp.hex",
    "esf_sql2008sp1_ssrp_svr_resp.hex", "esf_sql2012sp1_ssrp_svr_resp.hex",
    "jtds_sql2000_ssrp_bcast_ex_svr_resp.hex"};
static const char *const all_wanted[] = {"MSSQLSERVER", "YUKONSTD",
                                         "MSSQLSERVER", "MSSQLSERVER", "DOG"};

static bool same_info(const tdsc__ssrp_info *a, const tdsc__ssrp_info *b) {
  return strcmp(a->server_name, b->server_name) == 0 &&
         strcmp(a->instance_name, b->instance_name) == 0 &&
         strcmp(a->version, b->version) == 0 && a->tcp_port == b->tcp_port &&
         strcmp(a->pipe, b->pipe) == 0 && a->is_clustered == b->is_clustered;
}

START_TEST(ssrp_truncation_at_every_offset_is_malformed) {
  TDSC_NEED_VECTORS();
  for (size_t v = 0; v < sizeof all_vectors / sizeof all_vectors[0]; v++) {
    size_t n;
    uint8_t *p = vec(all_vectors[v], &n);
    for (size_t k = 0; k < n; k++) {
      /* a copy of exactly k bytes, so ASan sees any overread */
      uint8_t *c = malloc(k ? k : 1);
      memcpy(c, p, k);
      tdsc__ssrp_info i;
      tdsc_error err = {0};
      ck_assert_int_eq(tdsc__ssrp_parse(c, k, all_wanted[v], &i, &err),
                       TDSC_E_BROWSER_REPLY_MALFORMED);
      ck_assert_ptr_nonnull(err.message);
      tdsc__err_clear(&err);
      free(c);
    }
    free(p);
  }
}
END_TEST

/* Truncated with RESP_SIZE made to agree: malformed, or (cut right after
 * a whole instance) a shorter list that finds the same or nothing. */
START_TEST(ssrp_truncation_with_matching_size_never_misreads) {
  TDSC_NEED_VECTORS();
  for (size_t v = 0; v < sizeof all_vectors / sizeof all_vectors[0]; v++) {
    size_t n;
    uint8_t *p = vec(all_vectors[v], &n);
    tdsc__ssrp_info full, i;
    tdsc_error err = {0};
    ck_assert_int_eq(tdsc__ssrp_parse(p, n, all_wanted[v], &full, &err),
                     TDSC_OK);
    for (size_t k = 3; k < n; k++) {
      uint8_t *c = malloc(k);
      memcpy(c, p, k);
      c[1] = (uint8_t)((k - 3) & 0xff);
      c[2] = (uint8_t)((k - 3) >> 8);
      tdsc_errc rc = tdsc__ssrp_parse(c, k, all_wanted[v], &i, &err);
      ck_assert_msg(rc == TDSC_E_BROWSER_REPLY_MALFORMED ||
                        rc == TDSC_E_INSTANCE_NOT_FOUND ||
                        (rc == TDSC_OK && same_info(&i, &full)),
                    "%s cut at %zu: %s", all_vectors[v], k, tdsc_errc_name(rc));
      tdsc__err_clear(&err);
      free(c);
    }
    free(p);
  }
}
END_TEST

START_TEST(ssrp_size_field_lying_is_malformed) {
  TDSC_NEED_VECTORS();
  for (size_t v = 0; v < sizeof all_vectors / sizeof all_vectors[0]; v++) {
    size_t n;
    uint8_t *p = vec(all_vectors[v], &n);
    tdsc__ssrp_info i;
    tdsc_error err = {0};
    for (int d = -2; d <= 2; d++) {
      if (d == 0)
        continue;
      uint8_t *c = malloc(n);
      memcpy(c, p, n);
      unsigned size = (unsigned)(c[1] | c[2] << 8) + (unsigned)d;
      c[1] = (uint8_t)(size & 0xff);
      c[2] = (uint8_t)(size >> 8);
      ck_assert_int_eq(tdsc__ssrp_parse(c, n, all_wanted[v], &i, &err),
                       TDSC_E_BROWSER_REPLY_MALFORMED);
      ck_assert_msg_has(err, "RESP_SIZE");
      free(c);
    }
    show(&err);
    tdsc__err_clear(&err);
    /* 0xFFFF on a short datagram */
    p[1] = p[2] = 0xff;
    ck_assert_int_eq(tdsc__ssrp_parse(p, n, all_wanted[v], &i, &err),
                     TDSC_E_BROWSER_REPLY_MALFORMED);
    tdsc__err_clear(&err);
    free(p);
  }
}
END_TEST

START_TEST(ssrp_missing_double_semicolon_is_malformed) {
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(parse_text("ServerName;S;InstanceName;I;IsClustered;No;"
                              "Version;1.0;tcp;1433;",
                              "I", &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  ck_assert_msg_has(err, ";;");
  show(&err);
  ck_assert_int_eq(parse_text("ServerName;S;InstanceName;I;IsClustered;No;"
                              "Version;1.0;tcp;1433",
                              "I", &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  /* the first instance lacks its ";;": its tcp value runs into the next */
  ck_assert_int_eq(parse_text("ServerName;S;InstanceName;A;IsClustered;No;"
                              "Version;1.0;tcp;1433;ServerName;S;"
                              "InstanceName;B;IsClustered;No;Version;1.0;;",
                              "B", &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(ssrp_instance_without_tcp_key_has_port_zero) {
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(parse_text("ServerName;S;InstanceName;I;IsClustered;Yes;"
                              "Version;16.0.1000.6;np;\\\\S\\pipe\\x;;",
                              "i", &i, &err),
                   TDSC_OK);
  ck_assert(i.is_clustered);
  ck_assert_uint_eq(i.tcp_port, 0);
  ck_assert_str_eq(i.pipe, "\\\\S\\pipe\\x");
  /* no protocol at all (TCP and pipes disabled): nothing to connect to,
   * which the session reports; the reply itself is well-formed */
  ck_assert_int_eq(parse_text("ServerName;S;InstanceName;I;IsClustered;No;"
                              "Version;16.0.1000.6;;",
                              "I", &i, &err),
                   TDSC_OK);
  ck_assert_uint_eq(i.tcp_port, 0);
  ck_assert_str_eq(i.pipe, "");
  /* other protocols are skipped, bv with its three values */
  ck_assert_int_eq(parse_text("ServerName;S;InstanceName;I;IsClustered;No;"
                              "Version;8.0;rpc;S;bv;item;group;org;"
                              "via;S,0:1433;tcp;2000;;",
                              "I", &i, &err),
                   TDSC_OK);
  ck_assert_uint_eq(i.tcp_port, 2000);
}
END_TEST

START_TEST(ssrp_bad_fields_are_malformed) {
  static const char *const bad[] = {
      "",
      ";;",
      ";;;;",
      "InstanceName;I;ServerName;S;IsClustered;No;Version;1.0;;",
      "ServerName;S;InstanceName;;IsClustered;No;Version;1.0;;",
      "ServerName;S;InstanceName;I;IsClustered;Maybe;Version;1.0;;",
      "ServerName;S;InstanceName;I;IsClustered;No;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;tcp;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;tcp;0;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;tcp;65536;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;tcp;14x3;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;tcp;-1;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;tcp;1;tcp;2;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;np;;",
      "ServerName;S;InstanceName;I;IsClustered;No;Version;1.0;bv;a;b;;",
      "ServerName;S;InstanceName;I;IsClustered;No;"
      "Version;123456789012345678901234567890123;;",
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    tdsc__ssrp_info i;
    tdsc_error err = {0};
    tdsc_errc rc = parse_text(bad[k], "I", &i, &err);
    ck_assert_msg(rc == TDSC_E_BROWSER_REPLY_MALFORMED, "\"%s\": %s", bad[k],
                  tdsc_errc_name(rc));
    show(&err);
    tdsc__err_clear(&err);
  }
  /* not SVR_RESP; a NUL inside */
  uint8_t junk[] = {0x04, 0x02, 0x00, ';', ';'};
  uint8_t nul[] = {0x05, 0x02, 0x00, '\0', ';'};
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_parse(junk, sizeof junk, "I", &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  ck_assert_msg_has(err, "0x04");
  ck_assert_int_eq(tdsc__ssrp_parse(nul, sizeof nul, "I", &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  tdsc__err_clear(&err);
}
END_TEST

/* Every byte of every vector replaced by each of a few troublemakers:
 * a defined code, never a crash or an overread. */
START_TEST(ssrp_byte_substitutions_never_crash) {
  TDSC_NEED_VECTORS();
  static const uint8_t subst[] = {';', '\0', 'x', 0xff, '0'};
  for (size_t v = 0; v < sizeof all_vectors / sizeof all_vectors[0]; v++) {
    size_t n;
    uint8_t *p = vec(all_vectors[v], &n);
    for (size_t k = 0; k < n; k++)
      for (size_t s = 0; s < sizeof subst; s++) {
        uint8_t *c = malloc(n);
        memcpy(c, p, n);
        c[k] = subst[s];
        tdsc__ssrp_info i;
        tdsc_error err = {0};
        tdsc_errc rc = tdsc__ssrp_parse(c, n, all_wanted[v], &i, &err);
        ck_assert(rc == TDSC_OK || rc == TDSC_E_BROWSER_REPLY_MALFORMED ||
                  rc == TDSC_E_INSTANCE_NOT_FOUND);
        tdsc__err_clear(&err);
        free(c);
      }
    free(p);
  }
}
END_TEST

/* ---------------------------------------------------------------- browser */

enum browser_mode { B_ANSWER, B_SILENT, B_DROP_FIRST, B_GARBAGE };

typedef struct browser {
  int fd;
  uint16_t port;
  enum browser_mode mode;
  char reply[512];
  int requests;
  uint8_t last[64];
  size_t lastlen;
  volatile bool stop;
  pthread_t th;
} browser;

static void *browser_main(void *arg) {
  browser *b = arg;
  while (!b->stop) {
    struct pollfd p = {.fd = b->fd, .events = POLLIN};
    if (poll(&p, 1, 20) <= 0)
      continue;
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    uint8_t buf[256];
    ssize_t n =
        recvfrom(b->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n <= 0)
      continue;
    b->requests++;
    b->lastlen = (size_t)n < sizeof b->last ? (size_t)n : sizeof b->last;
    memcpy(b->last, buf, b->lastlen);
    if (b->mode == B_SILENT || (b->mode == B_DROP_FIRST && b->requests == 1))
      continue;
    /* As SQL Server Browser (MC-SQLR 3.1.5.2): CLNT_UCAST_INST for an
     * instance it lacks goes unanswered; CLNT_UCAST_EX lists them all. */
    if (b->mode != B_GARBAGE && buf[0] == 0x04 &&
        !((size_t)n >= 11 &&
          strncasecmp((char *)buf + 1, "SQLEXPRESS", 10) == 0 &&
          ((size_t)n == 11 || buf[11] == 0)))
      continue;
    if (b->mode != B_GARBAGE && buf[0] != 0x04 && buf[0] != 0x03)
      continue;
    size_t rn;
    uint8_t *r = b->mode == B_GARBAGE ? svr_resp("not;an;ssrp;reply", &rn)
                                      : svr_resp(b->reply, &rn);
    (void)sendto(b->fd, r, rn, 0, (struct sockaddr *)&from, fl);
    free(r);
  }
  return NULL;
}

/* A UDP "browser" on loopback of family; false when the family is
 * missing (no IPv6). */
static bool browser_start(browser *b, int family, enum browser_mode mode) {
  memset(b, 0, sizeof *b);
  b->mode = mode;
  snprintf(b->reply, sizeof b->reply,
           "ServerName;TESTHOST;InstanceName;SQLEXPRESS;IsClustered;No;"
           "Version;16.0.1000.6;tcp;41433;"
           "np;\\\\TESTHOST\\pipe\\MSSQL$SQLEXPRESS\\sql\\query;;");
  b->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (b->fd < 0)
    return false;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (family == AF_INET6) {
    int one = 1;
    setsockopt(b->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_loopback;
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sl = sizeof *s4;
  }
  if (bind(b->fd, (struct sockaddr *)&ss, sl) < 0 ||
      getsockname(b->fd, (struct sockaddr *)&ss, &sl) < 0) {
    close(b->fd);
    return false;
  }
  b->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
  ck_assert_int_eq(pthread_create(&b->th, NULL, browser_main, b), 0);
  return true;
}

static void browser_stop(browser *b) {
  b->stop = true;
  pthread_join(b->th, NULL);
  close(b->fd);
}

START_TEST(ssrp_udp_browser_gives_the_instance_port) {
  browser b;
  ck_assert(browser_start(&b, AF_INET, B_ANSWER));
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_resolve("127.0.0.1", b.port, "sqlexpress",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_OK);
  browser_stop(&b);
  ck_assert_uint_eq(i.tcp_port, 41433);
  ck_assert_str_eq(i.instance_name, "SQLEXPRESS");
  ck_assert_str_eq(i.pipe, "\\\\TESTHOST\\pipe\\MSSQL$SQLEXPRESS\\sql\\query");
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)b.port);
  ck_assert_str_eq(i.address, addr);
  /* what went on the wire: 0x04, the name as given, NUL */
  ck_assert_uint_eq(b.lastlen, 12);
  ck_assert_mem_eq(b.last, "\x04sqlexpress\0", 12);
}
END_TEST

START_TEST(ssrp_udp_unknown_instance_lists_known_ones) {
  browser b;
  ck_assert(browser_start(&b, AF_INET, B_ANSWER));
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_resolve("127.0.0.1", b.port, "PROD",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_E_INSTANCE_NOT_FOUND);
  browser_stop(&b);
  ck_assert_msg_has(err, "PROD");
  ck_assert_msg_has(err, "SQLEXPRESS");
  ck_assert_msg_has(err, "127.0.0.1");
  /* the instance request, unanswered, then both again with CLNT_UCAST_EX */
  ck_assert_int_eq(b.requests, 3);
  ck_assert_uint_eq(b.lastlen, 1);
  ck_assert_uint_eq(b.last[0], 0x03);
  show(&err);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(ssrp_udp_silent_browser_is_unreachable_at_the_deadline) {
  browser b;
  ck_assert(browser_start(&b, AF_INET, B_SILENT));
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(tdsc__ssrp_resolve("127.0.0.1", b.port, "SQLEXPRESS",
                                      tdsc__deadline_in(900), &i, &err),
                   TDSC_E_BROWSER_UNREACHABLE);
  int64_t took = tdsc__now_ms() - t0;
  browser_stop(&b);
  ck_assert_int_ge(took, 850);
  ck_assert_int_lt(took, 1500);
  /* CLNT_UCAST_INST at 0, 250 and 750 ms, CLNT_UCAST_EX with the last two */
  ck_assert_int_eq(b.requests, 5);
  ck_assert_msg_has(err, "no answer");
  ck_assert_msg_has(err, "SQLEXPRESS");
  ck_assert_int_eq(err.provider, TDSC_PROVIDER_ERRNO);
  ck_assert_int_eq(err.status[0], ETIMEDOUT);
  show(&err);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(ssrp_udp_lost_request_is_sent_again) {
  browser b;
  ck_assert(browser_start(&b, AF_INET, B_DROP_FIRST));
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(tdsc__ssrp_resolve("127.0.0.1", b.port, "SQLEXPRESS",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_OK);
  int64_t took = tdsc__now_ms() - t0;
  browser_stop(&b);
  ck_assert_int_ge(b.requests, 2);
  ck_assert_int_ge(took, 200);
  ck_assert_int_lt(took, 1000);
  ck_assert_uint_eq(i.tcp_port, 41433);
}
END_TEST

/* Nothing bound: loopback answers with ICMP port unreachable, so the
 * failure comes at once, not at the deadline. */
START_TEST(ssrp_udp_closed_port_is_unreachable_at_once) {
  browser b;
  ck_assert(browser_start(&b, AF_INET, B_SILENT));
  uint16_t port = b.port;
  browser_stop(&b);
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(tdsc__ssrp_resolve("127.0.0.1", port, "SQLEXPRESS",
                                      tdsc__deadline_in(5000), &i, &err),
                   TDSC_E_BROWSER_UNREACHABLE);
  ck_assert_int_lt(tdsc__now_ms() - t0, 1000);
  ck_assert_msg_has(err, "port unreachable");
  show(&err);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(ssrp_udp_garbage_reply_is_malformed) {
  browser b;
  ck_assert(browser_start(&b, AF_INET, B_GARBAGE));
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_resolve("127.0.0.1", b.port, "SQLEXPRESS",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_E_BROWSER_REPLY_MALFORMED);
  browser_stop(&b);
  ck_assert_msg_has(err, "127.0.0.1");
  show(&err);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(ssrp_udp_ipv6_and_localhost_reach_an_ipv6_only_browser) {
  browser b;
  if (!browser_start(&b, AF_INET6, B_ANSWER)) {
    fprintf(stderr, "no IPv6 loopback: skipped\n");
    return;
  }
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_resolve("::1", b.port, "SQLEXPRESS",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_OK);
  ck_assert_uint_eq(i.tcp_port, 41433);
  char addr[32];
  snprintf(addr, sizeof addr, "[::1]:%u", (unsigned)b.port);
  ck_assert_str_eq(i.address, addr);
  /* localhost asks ::1 and 127.0.0.1 at once; only ::1 answers */
  ck_assert_int_eq(tdsc__ssrp_resolve("localhost", b.port, "SQLEXPRESS",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_OK);
  ck_assert_str_eq(i.address, addr);
  browser_stop(&b);
}
END_TEST

START_TEST(ssrp_unknown_host_is_host_not_found) {
  tdsc__ssrp_info i;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__ssrp_resolve("no-such-host.invalid", 0, "SQLEXPRESS",
                                      tdsc__deadline_in(3000), &i, &err),
                   TDSC_E_HOST_NOT_FOUND);
  ck_assert_msg_has(err, "no-such-host.invalid");
  tdsc__err_clear(&err);
}
END_TEST

/* ---------------------------------------------------------------- pipes */

static char tmpdir[64];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/tdsc-np-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tree(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  (void)system(cmd);
}

/* A listening AF_UNIX socket at path. */
static int unix_listener(const char *path, int backlog) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
  ck_assert_int_eq(listen(fd, backlog), 0);
  return fd;
}

typedef struct echo_srv {
  int lfd;
  pthread_t th;
} echo_srv;

/* Accepts one client, answers a 5-byte message with "pong!", closes. */
static void *echo_main(void *arg) {
  echo_srv *s = arg;
  int c = accept(s->lfd, NULL, NULL);
  if (c < 0)
    return NULL;
  char buf[5];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = recv(c, buf + got, sizeof buf - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  if (got == sizeof buf && memcmp(buf, "ping!", 5) == 0)
    (void)send(c, "pong!", 5, MSG_NOSIGNAL);
  close(c);
  return NULL;
}

START_TEST(pipe_connects_exchanges_and_sees_the_close) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/sql.sock", tmpdir);
  echo_srv s = {.lfd = unix_listener(path, 4)};
  ck_assert_int_eq(pthread_create(&s.th, NULL, echo_main, &s), 0);
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  int64_t dl = tdsc__deadline_in(3000);
  ck_assert_int_eq(tdsc__pipe_connect(path, dl, &io, &err), TDSC_OK);
  ck_assert_str_eq(io->ops->name, "np");
  ck_assert_ptr_null(io->next);
  ck_assert_int_eq(io->ops->write(io, "ping!", 5, dl, &err), TDSC_OK);
  char buf[5];
  ck_assert_int_eq(tdsc__io_read_full(io, buf, 5, dl, &err), TDSC_OK);
  ck_assert_mem_eq(buf, "pong!", 5);
  size_t got;
  ck_assert_int_eq(io->ops->read(io, buf, 5, &got, dl, &err),
                   TDSC_E_CONN_CLOSED);
  ck_assert_msg_has(err, path);
  show(&err);
  tdsc__io_destroy_all(io);
  pthread_join(s.th, NULL);
  close(s.lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

START_TEST(pipe_missing_path_is_not_found) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/none.sock", tmpdir);
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_connect(path, tdsc__deadline_in(1000), &io, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  ck_assert_ptr_null(io);
  ck_assert_msg_has(err, path);
  ck_assert_msg_has(err, "no such socket file");
  ck_assert_int_eq(err.status[0], ENOENT);
  show(&err);
  /* a missing folder on the way too */
  snprintf(path, sizeof path, "%s/no/such.sock", tmpdir);
  ck_assert_int_eq(tdsc__pipe_connect(path, tdsc__deadline_in(1000), &io, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

START_TEST(pipe_stale_socket_or_plain_file_is_not_found) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/stale.sock", tmpdir);
  close(unix_listener(path, 1)); /* the file stays, nobody listens */
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_connect(path, tdsc__deadline_in(1000), &io, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  ck_assert_msg_has(err, "stale");
  show(&err);
  snprintf(path, sizeof path, "%s/plain", tmpdir);
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ck_assert_int_ge(fd, 0);
  close(fd);
  ck_assert_int_eq(tdsc__pipe_connect(path, tdsc__deadline_in(1000), &io, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  ck_assert_msg_has(err, "not a socket");
  show(&err);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

START_TEST(pipe_without_permission_is_not_found_saying_why) {
  if (geteuid() == 0) {
    fprintf(stderr, "root ignores file permissions: skipped\n");
    return;
  }
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/locked.sock", tmpdir);
  int lfd = unix_listener(path, 1);
  ck_assert_int_eq(chmod(path, 0), 0);
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_connect(path, tdsc__deadline_in(1000), &io, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  ck_assert_msg_has(err, "permission denied");
  ck_assert_int_eq(err.status[0], EACCES);
  show(&err);
  close(lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

/* Linux refuses a non-blocking connect with EAGAIN while the listen queue
 * is full; we retry until the deadline, then say PIPE_BUSY. */
START_TEST(pipe_full_listen_queue_is_busy_at_the_deadline) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/busy.sock", tmpdir);
  int lfd = unix_listener(path, 0);
  tdsc__io *held[8] = {0};
  tdsc_error err = {0};
  tdsc_errc rc = TDSC_OK;
  int64_t took = 0;
  size_t k;
  for (k = 0; k < 8 && rc == TDSC_OK; k++) {
    int64_t t0 = tdsc__now_ms();
    rc = tdsc__pipe_connect(path, tdsc__deadline_in(300), &held[k], &err);
    took = tdsc__now_ms() - t0;
  }
  ck_assert_int_eq(rc, TDSC_E_PIPE_BUSY);
  ck_assert_int_ge(took, 250);
  ck_assert_int_lt(took, 1000);
  ck_assert_msg_has(err, path);
  show(&err);
  for (size_t j = 0; j < k; j++)
    if (held[j])
      tdsc__io_destroy_all(held[j]);
  close(lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

/* The opener does not wait for a full queue: it asks to be stepped again
 * on a timer, with no descriptor (there is none to wait on), until the
 * deadline, then says PIPE_BUSY. */
START_TEST(pipe_open_retries_a_full_queue_on_a_timer) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/busy.sock", tmpdir);
  int lfd = unix_listener(path, 0);
  /* fill the queue: connects that are never accepted */
  int held[8];
  size_t nheld = 0;
  for (; nheld < 8; nheld++) {
    held[nheld] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(held[nheld], (struct sockaddr *)&sa, sizeof sa) != 0) {
      ck_assert_int_eq(errno, EAGAIN);
      close(held[nheld]);
      break;
    }
  }
  ck_assert_uint_lt(nheld, 8);
  tdsc_error err = {0};
  tdsc__opener *o = NULL;
  ck_assert_int_eq(tdsc__pipe_open(path, &o, &err), TDSC_OK);
  tdsc__io *io = NULL;
  tdsc__open_wait w;
  ck_assert_int_eq(
      tdsc__opener_step(o, tdsc__deadline_in(60000), &io, NULL, 0, &w, &err),
      TDSC__AGAIN);
  ck_assert_ptr_null(io);
  ck_assert(w.fd == TDSC__NO_POLLFD);
  ck_assert_int_gt(w.timer_ms, 0);
  ck_assert_int_eq(
      tdsc__opener_step(o, tdsc__now_ms() - 1, &io, NULL, 0, &w, &err),
      TDSC_E_PIPE_BUSY);
  ck_assert_msg_has(err, "stayed full");
  tdsc__opener_free(o);
  for (size_t j = 0; j < nheld; j++)
    close(held[j]);
  close(lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

/* A connected client and the server's end of it. */
static tdsc__io *pipe_pair(const char *path, int *lfd, int *srv) {
  *lfd = unix_listener(path, 4);
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_connect(path, tdsc__deadline_in(1000), &io, &err),
                   TDSC_OK);
  *srv = accept(*lfd, NULL, NULL);
  ck_assert_int_ge(*srv, 0);
  return io;
}

START_TEST(pipe_silent_server_is_read_timeout) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/silent.sock", tmpdir);
  int lfd, srv;
  tdsc__io *io = pipe_pair(path, &lfd, &srv);
  tdsc_error err = {0};
  char buf[8];
  size_t got;
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(
      io->ops->read(io, buf, sizeof buf, &got, tdsc__deadline_in(200), &err),
      TDSC_E_READ_TIMEOUT);
  int64_t took = tdsc__now_ms() - t0;
  ck_assert_int_ge(took, 150);
  ck_assert_int_lt(took, 1000);
  ck_assert_msg_has(err, path);
  show(&err);
  tdsc__io_destroy_all(io);
  close(srv);
  close(lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

/* The server closes with our request unread: Linux resets the pipe. */
START_TEST(pipe_server_closing_with_unread_data_is_reset) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/reset.sock", tmpdir);
  int lfd, srv;
  tdsc__io *io = pipe_pair(path, &lfd, &srv);
  tdsc_error err = {0};
  int64_t dl = tdsc__deadline_in(1000);
  ck_assert_int_eq(io->ops->write(io, "data", 4, dl, &err), TDSC_OK);
  close(srv);
  char buf[8];
  size_t got;
  ck_assert_int_eq(io->ops->read(io, buf, sizeof buf, &got, dl, &err),
                   TDSC_E_CONN_RESET);
  ck_assert_msg_has(err, "reset");
  show(&err);
  tdsc__io_destroy_all(io);
  close(lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

START_TEST(pipe_write_to_closed_server_is_reset_not_sigpipe) {
  make_tmpdir();
  char path[128];
  snprintf(path, sizeof path, "%s/gone.sock", tmpdir);
  int lfd, srv;
  tdsc__io *io = pipe_pair(path, &lfd, &srv);
  close(srv);
  tdsc_error err = {0};
  ck_assert_int_eq(io->ops->write(io, "data", 4, tdsc__deadline_in(1000), &err),
                   TDSC_E_CONN_RESET);
  show(&err);
  tdsc__io_destroy_all(io);
  close(lfd);
  tdsc__err_clear(&err);
  remove_tree(tmpdir);
}
END_TEST

START_TEST(pipe_bad_paths_are_bad_option_values) {
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_connect("", tdsc__deadline_in(100), &io, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  char longp[200];
  memset(longp, 'a', sizeof longp - 1);
  longp[0] = '/';
  longp[sizeof longp - 1] = '\0';
  ck_assert_int_eq(tdsc__pipe_connect(longp, tdsc__deadline_in(100), &io, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_msg_has(err, "107");
  show(&err);
  tdsc__err_clear(&err);
}
END_TEST

/* ---------------------------------------------------------------- mapping */

START_TEST(pipe_name_of_local_host_maps_under_dir) {
  char out[108];
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\.\\pipe\\MSSQL$SQLEXPRESS\\sql\\"
                                       "query",
                                       "/run/tdsclient", out, sizeof out, &err),
                   TDSC_OK);
  ck_assert_str_eq(out, "/run/tdsclient/pipe/MSSQL$SQLEXPRESS/sql/query");
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\.\\pipe\\sql\\query", NULL, out,
                                       sizeof out, &err),
                   TDSC_OK);
  ck_assert_str_eq(out, "/run/tdsclient/pipe/sql/query");
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\(local)\\PIPE\\sql\\query",
                                       "/tmp/x", out, sizeof out, &err),
                   TDSC_OK);
  ck_assert_str_eq(out, "/tmp/x/pipe/sql/query");
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\LocalHost\\pipe\\sql\\query",
                                       "/tmp/x", out, sizeof out, &err),
                   TDSC_OK);
  /* this machine's own name, in upper case, as SSRP replies give it */
  char me[256], win[300];
  ck_assert_int_eq(gethostname(me, sizeof me), 0);
  me[strcspn(me, ".")] = '\0';
  for (char *p = me; *p; p++)
    *p = (char)toupper((unsigned char)*p);
  snprintf(win, sizeof win, "\\\\%s\\pipe\\MSSQL$DOG\\sql\\query", me);
  ck_assert_int_eq(tdsc__pipe_path_for(win, "/d", out, sizeof out, &err),
                   TDSC_OK);
  ck_assert_str_eq(out, "/d/pipe/MSSQL$DOG/sql/query");
}
END_TEST

START_TEST(pipe_name_of_another_host_is_not_reachable) {
  char out[108];
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\SERVER04-ELSEWHERE\\pipe\\sql\\"
                                       "query",
                                       NULL, out, sizeof out, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  ck_assert_str_eq(out, "");
  ck_assert_msg_has(err, "SERVER04-ELSEWHERE");
  ck_assert_msg_has(err, "TCP");
  show(&err);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(pipe_names_that_escape_or_break_are_rejected) {
  static const char *const bad[] = {
      "sql\\query",
      "\\\\.\\pipe\\",
      "\\\\.\\notpipe\\x",
      "\\\\.\\pipe\\..\\x",
      "\\\\.\\pipe\\a\\\\b",
      "\\\\.\\pipe\\a/b",
      "\\\\\\pipe\\x",
      "\\\\.\\pipe\\a\\.\\b",
      "\\\\.\\pipe\\a\\",
      "\\\\.",
      "",
      "\\\\.\\pipe",
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char out[108];
    tdsc_error err = {0};
    tdsc_errc rc =
        tdsc__pipe_path_for(bad[k], "/run/tdsclient", out, sizeof out, &err);
    ck_assert_msg(rc == TDSC_E_BAD_OPTION_VALUE, "\"%s\": %s", bad[k],
                  tdsc_errc_name(rc));
    show(&err);
    tdsc__err_clear(&err);
  }
  char small[16];
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\.\\pipe\\sql\\query",
                                       "/run/tdsclient", small, sizeof small,
                                       &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_str_eq(small, "");
  tdsc__err_clear(&err);
}
END_TEST

/* The mapping and the transport together, as the session will use them. */
START_TEST(pipe_mapped_name_connects) {
  make_tmpdir();
  char dir[128], path[128];
  snprintf(dir, sizeof dir, "%s/pipe/MSSQL$DOG/sql", tmpdir);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__pipe_path_for("\\\\.\\pipe\\MSSQL$DOG\\sql\\query",
                                       tmpdir, path, sizeof path, &err),
                   TDSC_OK);
  echo_srv s = {.lfd = unix_listener(path, 4)};
  ck_assert_int_eq(pthread_create(&s.th, NULL, echo_main, &s), 0);
  tdsc__io *io = NULL;
  int64_t dl = tdsc__deadline_in(3000);
  ck_assert_int_eq(tdsc__pipe_connect(path, dl, &io, &err), TDSC_OK);
  ck_assert_int_eq(io->ops->write(io, "ping!", 5, dl, &err), TDSC_OK);
  char buf[5];
  ck_assert_int_eq(tdsc__io_read_full(io, buf, 5, dl, &err), TDSC_OK);
  ck_assert_mem_eq(buf, "pong!", 5);
  tdsc__io_destroy_all(io);
  pthread_join(s.th, NULL);
  close(s.lfd);
  remove_tree(tmpdir);
}
END_TEST

/* ---------------------------------------------------------------- main */

static Suite *transport_suite(void) {
  Suite *su = suite_create("transport");
  TCase *tc = tcase_create("ssrp");
  tcase_add_test(tc, ssrp_request_matches_mcsqlr_4_2_bytes);
  tcase_add_test(tc, ssrp_request_is_esf_bytes_plus_the_nul);
  tcase_add_test(tc, ssrp_request_rejects_empty_and_overlong_names);
  tcase_add_test(tc, ssrp_parses_mcsqlr_4_1_three_instances);
  tcase_add_test(tc, ssrp_parses_mcsqlr_4_2_instance_reply);
  tcase_add_test(tc, ssrp_parses_real_sql2008_and_sql2012_replies);
  tcase_add_test(tc, ssrp_parses_jtds_sql2000_two_instances);
  tcase_add_test(tc, ssrp_dac_reply_is_malformed_for_an_instance_request);
  tcase_add_test(tc, ssrp_truncation_at_every_offset_is_malformed);
  tcase_add_test(tc, ssrp_truncation_with_matching_size_never_misreads);
  tcase_add_test(tc, ssrp_size_field_lying_is_malformed);
  tcase_add_test(tc, ssrp_missing_double_semicolon_is_malformed);
  tcase_add_test(tc, ssrp_instance_without_tcp_key_has_port_zero);
  tcase_add_test(tc, ssrp_bad_fields_are_malformed);
  tcase_add_test(tc, ssrp_byte_substitutions_never_crash);
  suite_add_tcase(su, tc);

  tc = tcase_create("ssrp_udp");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, ssrp_udp_browser_gives_the_instance_port);
  tcase_add_test(tc, ssrp_udp_unknown_instance_lists_known_ones);
  tcase_add_test(tc, ssrp_udp_silent_browser_is_unreachable_at_the_deadline);
  tcase_add_test(tc, ssrp_udp_lost_request_is_sent_again);
  tcase_add_test(tc, ssrp_udp_closed_port_is_unreachable_at_once);
  tcase_add_test(tc, ssrp_udp_garbage_reply_is_malformed);
  tcase_add_test(tc, ssrp_udp_ipv6_and_localhost_reach_an_ipv6_only_browser);
  tcase_add_test(tc, ssrp_unknown_host_is_host_not_found);
  suite_add_tcase(su, tc);

  tc = tcase_create("pipe");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, pipe_connects_exchanges_and_sees_the_close);
  tcase_add_test(tc, pipe_missing_path_is_not_found);
  tcase_add_test(tc, pipe_stale_socket_or_plain_file_is_not_found);
  tcase_add_test(tc, pipe_without_permission_is_not_found_saying_why);
  tcase_add_test(tc, pipe_full_listen_queue_is_busy_at_the_deadline);
  tcase_add_test(tc, pipe_open_retries_a_full_queue_on_a_timer);
  tcase_add_test(tc, pipe_silent_server_is_read_timeout);
  tcase_add_test(tc, pipe_server_closing_with_unread_data_is_reset);
  tcase_add_test(tc, pipe_write_to_closed_server_is_reset_not_sigpipe);
  tcase_add_test(tc, pipe_bad_paths_are_bad_option_values);
  tcase_add_test(tc, pipe_name_of_local_host_maps_under_dir);
  tcase_add_test(tc, pipe_name_of_another_host_is_not_reachable);
  tcase_add_test(tc, pipe_names_that_escape_or_break_are_rejected);
  tcase_add_test(tc, pipe_mapped_name_connects);
  suite_add_tcase(su, tc);
  return su;
}

/* tdsc_conn_cancel may run in a signal handler (tdsc's Ctrl-C): firing the
 * waker must leave errno as the interrupted code had it, also when the
 * pipe is full and write fails with EAGAIN. */
START_TEST(firing_the_waker_keeps_errno) {
  tdsc__waker *w = tdsc__waker_new();
  ck_assert_ptr_nonnull(w);
  struct pollfd p = {tdsc__waker_fd(w), POLLIN, 0};
  ck_assert_int_eq(poll(&p, 1, 0), 0);
  for (int i = 0; i < 70000; i++) /* past a 64 KiB pipe */
    tdsc__waker_fire(w);
  errno = EINTR;
  tdsc__waker_fire(w);
  ck_assert_int_eq(errno, EINTR);
  ck_assert_int_eq(poll(&p, 1, 0), 1);
  tdsc__waker_clear(w);
  p.revents = 0;
  ck_assert_int_eq(poll(&p, 1, 0), 0);
  tdsc__waker_free(w);
}
END_TEST

static Suite *waker_suite(void) {
  Suite *su = suite_create("waker");
  TCase *tc = tcase_create("posix");
  tcase_add_test(tc, firing_the_waker_keeps_errno);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  SRunner *sr = srunner_create(transport_suite());
  srunner_add_suite(sr, waker_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
