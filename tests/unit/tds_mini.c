/* A minimal TDS client over any tdsc__io: see tds_mini.h. */
#include "config.h"

#include "tds_mini.h"

#include "proto/proto.h"
#include "tls/tls.h"

#include <string.h>
#include <unistd.h>

tdsc_errc mini_send(tdsc__io *io, uint8_t type, const void *payload, size_t len,
                    int64_t deadline, tdsc_error *err) {
  const uint8_t *p = payload;
  uint8_t id = 1;
  do {
    size_t n = len < 4096 - TDSC__PKT_HDR_LEN ? len : 4096 - TDSC__PKT_HDR_LEN;
    uint8_t pkt[4096];
    tdsc__pkt_hdr h = {.type = type,
                       .status = n == len ? TDSC__PKT_EOM : 0,
                       .length = (uint16_t)(n + TDSC__PKT_HDR_LEN),
                       .packet_id = id++};
    tdsc__pkt_hdr_encode(pkt, &h);
    memcpy(pkt + TDSC__PKT_HDR_LEN, p, n);
    tdsc_errc rc =
        io->ops->write(io, pkt, n + TDSC__PKT_HDR_LEN, deadline, err);
    if (rc != TDSC_OK)
      return rc;
    p += n;
    len -= n;
  } while (len > 0);
  return TDSC_OK;
}

tdsc_errc mini_recv(tdsc__io *io, tdsc__buf *out, uint8_t *type,
                    int64_t deadline, tdsc_error *err) {
  tdsc__buf_reset(out);
  bool first = true;
  for (;;) {
    uint8_t hb[TDSC__PKT_HDR_LEN];
    tdsc__pkt_hdr h;
    tdsc_errc rc = tdsc__io_read_full(io, hb, sizeof hb, deadline, err);
    if (rc == TDSC_OK)
      rc = tdsc__pkt_hdr_decode(hb, TDSC__PKT_MAX, &h, err);
    if (rc != TDSC_OK)
      return rc;
    if (first)
      *type = h.type;
    first = false;
    size_t n = h.length - TDSC__PKT_HDR_LEN;
    uint8_t *dst = tdsc__buf_extend(out, n);
    if (!dst)
      return tdsc__err_oom(err);
    rc = tdsc__io_read_full(io, dst, n, deadline, err);
    if (rc != TDSC_OK)
      return rc;
    if (h.status & TDSC__PKT_EOM)
      return TDSC_OK;
  }
}

tdsc_errc mini_login(tdsc__io **io, mini_tls tls, const char *cafile,
                     const char *user, const char *password, int64_t deadline,
                     tdsc_error *err) {
  tdsc__tls_opts o = {.host = "localhost", .cafile = cafile, .verify = true};
  tdsc_errc rc;
  if (tls == MINI_TLS_STRICT) {
    o.strict = true;
    if ((rc = tdsc__tls_start(io, &o, deadline, err)) != TDSC_OK)
      return rc;
  }
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc__prelogin pl = {.ver_major = 1,
                       .has_encryption = true,
                       .encryption = tls == MINI_TLS_TDS7
                                         ? TDSC__ENCRYPT_ON
                                         : TDSC__ENCRYPT_NOT_SUP};
  uint8_t type;
  rc = tdsc__prelogin_encode(&pl, &b, err);
  if (rc == TDSC_OK)
    rc = mini_send(*io, TDSC__PKT_PRELOGIN, b.data, b.len, deadline, err);
  if (rc == TDSC_OK)
    rc = mini_recv(*io, &b, &type, deadline, err);
  if (rc == TDSC_OK && tls == MINI_TLS_TDS7)
    rc = tdsc__tls_start(io, &o, deadline, err);
  if (rc != TDSC_OK)
    goto done;
  tdsc__login7 l = {.tds_version = TDSC__TDS74,
                    .packet_size = 4096,
                    .client_pid = (uint32_t)getpid(),
                    .option_flags1 = TDSC__OF1_USE_DB_ON |
                                     TDSC__OF1_INIT_DB_FATAL |
                                     TDSC__OF1_SET_LANG_ON,
                    .option_flags2 = TDSC__OF2_INIT_LANG_FATAL | TDSC__OF2_ODBC,
                    .client_lcid = 0x0409,
                    .hostname = "tds-mini",
                    .username = user,
                    .password = password,
                    .appname = "tds-mini",
                    .servername = "localhost",
                    .library = "tdsclient"};
  tdsc__buf_reset(&b);
  rc = tdsc__login7_encode(&l, &b, err);
  if (rc == TDSC_OK)
    rc = mini_send(*io, TDSC__PKT_LOGIN7, b.data, b.len, deadline, err);
  if (rc == TDSC_OK)
    rc = mini_recv(*io, &b, &type, deadline, err);
  /* Success starts with ENVCHANGE; a refusal with ERROR (0xAA). */
  if (rc == TDSC_OK && (b.len == 0 || b.data[0] == 0xAA))
    rc = tdsc__err_set(err, TDSC_E_LOGIN_FAILED, "the login was refused");
done:
  tdsc__buf_wipe(&b);
  tdsc__buf_free(&b);
  return rc;
}

tdsc_errc mini_query(tdsc__io *io, const char *sql, tdsc__buf *out,
                     int64_t deadline, tdsc_error *err) {
  static const uint8_t no_txn[8] = {0};
  tdsc__buf b;
  tdsc__buf_init(&b);
  uint8_t type;
  tdsc_errc rc = tdsc__sqlbatch_encode(sql, strlen(sql), no_txn, 1, &b, err);
  if (rc == TDSC_OK)
    rc = mini_send(io, TDSC__PKT_SQLBATCH, b.data, b.len, deadline, err);
  tdsc__buf_free(&b);
  if (rc == TDSC_OK)
    rc = mini_recv(io, out, &type, deadline, err);
  return rc;
}
