/* PRELOGIN payload codec (MS-TDS 2.2.6.5): an option table (token, offset,
 * length) closed by 0xFF, then the option data.  lib/session builds the
 * client's request and reads the server's answer (encryption mode, version,
 * FEDAUTHREQUIRED) with these; packet framing is packet.c's. */
#include "config.h"

#include "proto/proto.h"

#include <string.h>

/* PL_OPTION_TOKEN values (2.2.6.5). */
enum {
  OPT_VERSION = 0x00,
  OPT_ENCRYPTION = 0x01,
  OPT_INSTOPT = 0x02,
  OPT_THREADID = 0x03,
  OPT_MARS = 0x04,
  OPT_TRACEID = 0x05,
  OPT_FEDAUTHREQUIRED = 0x06,
  OPT_NONCEOPT = 0x07,
  OPT_TERMINATOR = 0xFF
};

#define ENTRY_LEN 5u /* token, offset (USHORT BE), length (USHORT BE) */

tdsc_errc tdsc__prelogin_encode(const tdsc__prelogin *pl, tdsc__buf *out,
                                tdsc_error *err) {
  struct {
    uint8_t token;
    uint8_t data[sizeof pl->instance];
    size_t len;
  } opt[7];
  size_t nopt = 0;

  /* VERSION: UL_VERSION is big-endian (major, minor, build), US_SUBBUILD
   * little-endian like every other USHORT of TDS. */
  opt[nopt].token = OPT_VERSION;
  opt[nopt].data[0] = pl->ver_major;
  opt[nopt].data[1] = pl->ver_minor;
  opt[nopt].data[2] = (uint8_t)(pl->ver_build >> 8);
  opt[nopt].data[3] = (uint8_t)pl->ver_build;
  opt[nopt].data[4] = (uint8_t)pl->ver_subbuild;
  opt[nopt].data[5] = (uint8_t)(pl->ver_subbuild >> 8);
  opt[nopt++].len = 6;
  if (pl->has_encryption) {
    opt[nopt].token = OPT_ENCRYPTION;
    opt[nopt].data[0] = pl->encryption;
    opt[nopt++].len = 1;
  }
  if (pl->has_instance) {
    size_t n = strnlen(pl->instance, sizeof pl->instance);
    if (n >= sizeof pl->instance)
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "PRELOGIN: instance name longer than %zu bytes",
                           sizeof pl->instance - 1);
    opt[nopt].token = OPT_INSTOPT;
    memcpy(opt[nopt].data, pl->instance, n + 1); /* with its NUL */
    opt[nopt++].len = n + 1;
  }
  if (pl->has_thread_id) {
    opt[nopt].token = OPT_THREADID;
    for (int i = 0; i < 4; i++)
      opt[nopt].data[i] = (uint8_t)(pl->thread_id >> (8 * i));
    opt[nopt++].len = 4;
  }
  if (pl->has_mars) {
    opt[nopt].token = OPT_MARS;
    opt[nopt].data[0] = pl->mars;
    opt[nopt++].len = 1;
  }
  if (pl->has_fedauth_required) {
    opt[nopt].token = OPT_FEDAUTHREQUIRED;
    opt[nopt].data[0] = pl->fedauth_required;
    opt[nopt++].len = 1;
  }
  if (pl->has_nonce) {
    opt[nopt].token = OPT_NONCEOPT;
    memcpy(opt[nopt].data, pl->nonce, TDSC__NONCE_LEN);
    opt[nopt++].len = TDSC__NONCE_LEN;
  }

  size_t off = nopt * ENTRY_LEN + 1; /* data starts after the terminator */
  for (size_t i = 0; i < nopt; i++) {
    tdsc__buf_put_u8(out, opt[i].token);
    tdsc__buf_put_u16be(out, (uint16_t)off);
    tdsc__buf_put_u16be(out, (uint16_t)opt[i].len);
    off += opt[i].len;
  }
  tdsc__buf_put_u8(out, OPT_TERMINATOR);
  for (size_t i = 0; i < nopt; i++)
    tdsc__buf_put(out, opt[i].data, opt[i].len);
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}

static tdsc_errc bad_len(tdsc_error *err, const char *name, uint16_t len,
                         unsigned want) {
  return tdsc__err_set(err, TDSC_E_PROTOCOL,
                       "PRELOGIN: option %s has length %u, expected %u", name,
                       (unsigned)len, want);
}

tdsc_errc tdsc__prelogin_decode(const uint8_t *p, size_t n, tdsc__prelogin *pl,
                                tdsc_error *err) {
  tdsc__rd r;
  size_t table_end;

  memset(pl, 0, sizeof *pl);
  /* First pass: find the terminator, so that option data can be required
   * to lie after the table. */
  tdsc__rd_init(&r, p, n);
  for (;;) {
    uint8_t tok = tdsc__rd_u8(&r);
    if (!tdsc__rd_ok(&r))
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "PRELOGIN: option table has no terminator (0xFF) "
                           "within the %zu-byte payload",
                           n);
    if (tok == OPT_TERMINATOR)
      break;
    tdsc__rd_skip(&r, 4);
  }
  table_end = r.pos;

  tdsc__rd_init(&r, p, table_end);
  for (;;) {
    uint8_t tok = tdsc__rd_u8(&r);
    if (tok == OPT_TERMINATOR)
      break;
    uint16_t off = tdsc__rd_u16be(&r);
    uint16_t len = tdsc__rd_u16be(&r);
    if (off < table_end || (size_t)off + len > n)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "PRELOGIN: option 0x%02X data (offset %u, length "
                           "%u) lies outside the %zu-byte payload",
                           tok, (unsigned)off, (unsigned)len, n);
    const uint8_t *d = p + off;
    /* A zero length means the option is absent (servers send THREADID
     * that way). */
    if (len == 0)
      continue;
    switch (tok) {
    case OPT_VERSION:
      if (len != 6)
        return bad_len(err, "VERSION", len, 6);
      pl->ver_major = d[0];
      pl->ver_minor = d[1];
      pl->ver_build = (uint16_t)((d[2] << 8) | d[3]);
      pl->ver_subbuild = tdsc__le16(d + 4);
      break;
    case OPT_ENCRYPTION:
      if (len != 1)
        return bad_len(err, "ENCRYPTION", len, 1);
      pl->has_encryption = true;
      pl->encryption = d[0];
      break;
    case OPT_INSTOPT: {
      const uint8_t *nul = memchr(d, 0, len);
      if (!nul && len == 1) {
        /* A server answers with one byte, B_FINSTVALIDITY: 0x00 when the
         * instance name matched, non-zero when not. Kept as a one-byte
         * "string" so that "" still means "matched". */
        pl->instance[0] = (char)d[0];
        pl->instance[1] = 0;
        pl->has_instance = true;
        break;
      }
      if (!nul)
        return tdsc__err_set(err, TDSC_E_PROTOCOL,
                             "PRELOGIN: INSTOPT is not NUL-terminated");
      size_t sl = (size_t)(nul - d);
      if (sl >= sizeof pl->instance)
        return tdsc__err_set(err, TDSC_E_PROTOCOL,
                             "PRELOGIN: INSTOPT longer than %zu bytes",
                             sizeof pl->instance - 1);
      memcpy(pl->instance, d, sl + 1);
      pl->has_instance = true;
      break;
    }
    case OPT_THREADID:
      if (len != 4)
        return bad_len(err, "THREADID", len, 4);
      pl->has_thread_id = true;
      pl->thread_id = tdsc__le32(d);
      break;
    case OPT_MARS:
      if (len != 1)
        return bad_len(err, "MARS", len, 1);
      pl->has_mars = true;
      pl->mars = d[0];
      break;
    case OPT_FEDAUTHREQUIRED:
      if (len != 1)
        return bad_len(err, "FEDAUTHREQUIRED", len, 1);
      pl->has_fedauth_required = true;
      pl->fedauth_required = d[0];
      break;
    case OPT_NONCEOPT:
      if (len != TDSC__NONCE_LEN)
        return bad_len(err, "NONCEOPT", len, TDSC__NONCE_LEN);
      pl->has_nonce = true;
      memcpy(pl->nonce, d, TDSC__NONCE_LEN);
      break;
    default: /* TRACEID, later additions: not ours to read */
      break;
    }
  }
  return TDSC_OK;
}
