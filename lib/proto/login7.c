/* LOGIN7 payload encoder (MS-TDS 2.2.6.4): the fixed header, the
 * offset/length table, the UTF-16LE strings (password scrambled), the SSPI
 * blob and the FeatureExt block.  lib/session fills tdsc__login7 from the
 * connection options and the auth mechanism's first token. */
#include "config.h"

#include "proto/proto.h"

#include <string.h>

#define FIXED_LEN 94u         /* header through cbSSPILong (2.2.6.4) */
#define LOGIN7_MAX 131071u    /* "MUST NOT be longer than 128K-1 bytes" */
#define MAX_CHARS 128u        /* most string fields */
#define MAX_CHARS_ATTACH 260u /* AtchDBFile allows a path (2.2.6.4) */

/* Positions of the offset/length pairs inside the fixed header. */
enum {
  OL_HOSTNAME = 36,
  OL_USERNAME = 40,
  OL_PASSWORD = 44,
  OL_APPNAME = 48,
  OL_SERVERNAME = 52,
  OL_EXTENSION = 56,
  OL_CLTINTNAME = 60,
  OL_LANGUAGE = 64,
  OL_DATABASE = 68,
  OL_CLIENTID = 72,
  OL_SSPI = 78,
  OL_ATCHDBFILE = 82,
  OL_CHANGEPASSWORD = 86,
  OL_SSPILONG = 90
};

/* Password obfuscation of 2.2.6.4: each byte of the UTF-16LE text has its
 * nibbles swapped, then is XORed with 0xA5. Not encryption: LOGIN7 must
 * travel inside TLS for this to be safe. */
static void scramble(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(((p[i] << 4) | (p[i] >> 4)) ^ 0xA5);
}

/* Appends s as UTF-16LE and fills in its offset and length (characters).
 * A NULL or empty string gets length 0 and the current offset, as servers
 * expect "the next free position" there. */
static tdsc_errc put_string(tdsc__buf *out, size_t ol, const char *field,
                            const char *s, size_t max_chars, bool secret,
                            tdsc_error *err) {
  size_t off = out->len, bytes = 0;
  if (s && *s) {
    if (secret) {
      /* Convert in a side buffer so the plain text is wiped, not left in
       * freed memory or in out's slack after a realloc. */
      tdsc__buf tmp;
      tdsc__buf_init(&tmp);
      bytes = tdsc__utf8_to_utf16le(s, strlen(s), &tmp);
      if (bytes == (size_t)-1) {
        tdsc__buf_wipe(&tmp);
        tdsc__buf_free(&tmp);
        return tdsc__err_oom(err);
      }
      if (bytes / 2 <= max_chars) {
        scramble(tmp.data, bytes);
        tdsc__buf_put(out, tmp.data, bytes);
      }
      tdsc__buf_wipe(&tmp);
      tdsc__buf_free(&tmp);
    } else {
      bytes = tdsc__utf8_to_utf16le(s, strlen(s), out);
      if (bytes == (size_t)-1)
        return tdsc__err_oom(err);
    }
    if (bytes / 2 > max_chars)
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "LOGIN7: %s is %zu characters long; the protocol "
                           "allows at most %zu",
                           field, bytes / 2, max_chars);
  }
  if (off > UINT16_MAX && bytes == 0)
    off = 0; /* unused field behind a huge SSPI token: offset ignored */
  if (off > UINT16_MAX)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "LOGIN7: %s starts beyond the 64 KiB the offset "
                         "table can address (SSPI token too large?)",
                         field);
  tdsc__buf_set_u16le(out, ol, (uint16_t)off);
  tdsc__buf_set_u16le(out, ol + 2, (uint16_t)(bytes / 2));
  return TDSC_OK;
}

/* The token (UTF-8) as UTF-16LE in tok, which the caller wipes and
 * frees whatever the outcome; *bytes its length.  A token is a bearer
 * secret, converted in a side buffer as the password is. */
static tdsc_errc token_utf16(const char *token, tdsc__buf *tok, size_t *bytes,
                             tdsc_error *err) {
  size_t n = strlen(token);
  tdsc__buf_init(tok);
  if (!n) /* "The length of FedAuthToken MUST NOT be 0." */
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the federated authentication token is empty");
  *bytes = tdsc__utf8_to_utf16le(token, n, tok);
  if (*bytes == (size_t)-1 || tok->oom)
    return tdsc__err_oom(err);
  if (*bytes > LOGIN7_MAX)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the federated authentication token (%zu bytes in "
                         "UTF-16) exceeds the 128 KiB a login message may "
                         "be",
                         *bytes);
  return TDSC_OK;
}

/* FEDAUTH (2.2.6.4): Options (the library in the high 7 bits,
 * fFedAuthEcho in bit 0), then for a security token FedAuthToken as
 * L_VARBYTE (a DWORD byte count, then the token in UTF-16LE) and the
 * server's nonce when its PRELOGIN sent one; for ADAL the Workflow byte
 * alone (the token follows FEDAUTHINFO in its own message). */
static tdsc_errc put_fedauth(tdsc__buf *b, const tdsc__login7 *l,
                             tdsc_error *err) {
  uint8_t echo = l->fedauth_echo ? 1u : 0u;
  if (!l->fedauth_token) {
    tdsc__buf_put_u8(b, TDSC__FEAT_FEDAUTH);
    tdsc__buf_put_u32le(b, 2);
    tdsc__buf_put_u8(b, (uint8_t)(TDSC__FEDAUTH_LIB_ADAL << 1 | echo));
    tdsc__buf_put_u8(b, l->fedauth_workflow);
    return TDSC_OK;
  }
  tdsc__buf tok;
  size_t bytes = 0;
  tdsc_errc rc = token_utf16(l->fedauth_token, &tok, &bytes, err);
  if (rc == TDSC_OK) {
    size_t data_len =
        1 + 4 + bytes + (l->fedauth_nonce ? TDSC__NONCE_LEN : 0);
    tdsc__buf_put_u8(b, TDSC__FEAT_FEDAUTH);
    tdsc__buf_put_u32le(b, (uint32_t)data_len);
    tdsc__buf_put_u8(b,
                     (uint8_t)(TDSC__FEDAUTH_LIB_SECURITY_TOKEN << 1 | echo));
    tdsc__buf_put_u32le(b, (uint32_t)bytes);
    tdsc__buf_put(b, tok.data, bytes);
    if (l->fedauth_nonce)
      tdsc__buf_put(b, l->fedauth_nonce, TDSC__NONCE_LEN);
  } else {
    tdsc__err_context(err, "LOGIN7");
  }
  tdsc__buf_wipe(&tok);
  tdsc__buf_free(&tok);
  return rc;
}

tdsc_errc tdsc__fedauth_token_encode(const char *token, const uint8_t *nonce,
                                     tdsc__buf *out, tdsc_error *err) {
  tdsc__buf tok;
  size_t bytes = 0;
  tdsc_errc rc = token_utf16(token, &tok, &bytes, err);
  if (rc == TDSC_OK) {
    size_t nn = nonce ? TDSC__NONCE_LEN : 0;
    tdsc__buf_put_u32le(out, (uint32_t)(4 + bytes + nn)); /* DataLen */
    tdsc__buf_put_u32le(out, (uint32_t)bytes);
    tdsc__buf_put(out, tok.data, bytes);
    if (nonce)
      tdsc__buf_put(out, nonce, nn);
    if (out->oom)
      rc = tdsc__err_oom(err);
  } else {
    tdsc__err_context(err, "federated authentication token message");
  }
  tdsc__buf_wipe(&tok);
  tdsc__buf_free(&tok);
  return rc;
}

tdsc_errc tdsc__login7_encode(const tdsc__login7 *l, tdsc__buf *out,
                              tdsc_error *err) {
  tdsc__buf b; /* the payload; offsets are relative to its start */
  tdsc_errc rc = TDSC_OK;
  uint8_t flags3 = l->option_flags3;
  bool fedauth = l->fedauth_token || l->fedauth_workflow;
  bool ext = l->feature_utf8 || fedauth;
  size_t ext_dword = 0;

  tdsc__buf_init(&b);
  if (ext)
    flags3 |= TDSC__OF3_EXTENSION;

  tdsc__buf_put_u32le(&b, 0); /* Length, set at the end */
  tdsc__buf_put_u32le(&b, l->tds_version);
  tdsc__buf_put_u32le(&b, l->packet_size);
  tdsc__buf_put_u32le(&b, l->client_prog_ver);
  tdsc__buf_put_u32le(&b, l->client_pid);
  tdsc__buf_put_u32le(&b, l->connection_id);
  tdsc__buf_put_u8(&b, l->option_flags1);
  tdsc__buf_put_u8(&b, l->option_flags2);
  tdsc__buf_put_u8(&b, l->type_flags);
  tdsc__buf_put_u8(&b, flags3);
  tdsc__buf_put_u32le(&b, (uint32_t)l->client_timezone);
  tdsc__buf_put_u32le(&b, l->client_lcid);
  if (!tdsc__buf_extend(&b, FIXED_LEN - b.len)) {
    rc = tdsc__err_oom(err);
    goto done;
  }
  memset(b.data + OL_HOSTNAME, 0, FIXED_LEN - OL_HOSTNAME);
  memcpy(b.data + OL_CLIENTID, l->client_id, 6);

#define STR(ol, name, s, max, secret)                                          \
  do {                                                                         \
    rc = put_string(&b, ol, name, s, max, secret, err);                        \
    if (rc != TDSC_OK)                                                         \
      goto done;                                                               \
  } while (0)

  /* Data in the order of the offset table, as SQL Server's own clients lay
   * it out (compare MS-TDS 4.2 and 4.16). */
  STR(OL_HOSTNAME, "host name", l->hostname, MAX_CHARS, false);
  STR(OL_USERNAME, "user name", l->username, MAX_CHARS, false);
  STR(OL_PASSWORD, "password", l->password, MAX_CHARS, true);
  STR(OL_APPNAME, "application name", l->appname, MAX_CHARS, false);
  STR(OL_SERVERNAME, "server name", l->servername, MAX_CHARS, false);
  /* ibExtension points to a DWORD holding the FeatureExt offset; cbExtension
   * is that DWORD's size in bytes (2.2.6.4, TDS 7.4). */
  tdsc__buf_set_u16le(&b, OL_EXTENSION, (uint16_t)b.len);
  if (ext) {
    ext_dword = b.len;
    tdsc__buf_put_u32le(&b, 0);
    tdsc__buf_set_u16le(&b, OL_EXTENSION + 2, 4);
  }
  STR(OL_CLTINTNAME, "library name", l->library, MAX_CHARS, false);
  STR(OL_LANGUAGE, "language", l->language, MAX_CHARS, false);
  STR(OL_DATABASE, "database", l->database, MAX_CHARS, false);

  /* SSPI: bytes, not characters; a token of 64 KiB or more puts 0xFFFF in
   * cbSSPI and its real length in cbSSPILong. */
  if (b.len > UINT16_MAX) {
    rc = tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                       "LOGIN7: SSPI offset beyond 64 KiB");
    goto done;
  }
  tdsc__buf_set_u16le(&b, OL_SSPI, (uint16_t)b.len);
  if (l->sspi && l->sspi_len) {
    if (l->sspi_len > LOGIN7_MAX) {
      rc = tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "LOGIN7: SSPI token of %zu bytes exceeds the "
                         "128 KiB LOGIN7 limit",
                         l->sspi_len);
      goto done;
    }
    tdsc__buf_put(&b, l->sspi, l->sspi_len);
    if (l->sspi_len < UINT16_MAX) {
      tdsc__buf_set_u16le(&b, OL_SSPI + 2, (uint16_t)l->sspi_len);
    } else {
      tdsc__buf_set_u16le(&b, OL_SSPI + 2, UINT16_MAX);
      tdsc__buf_set_u32le(&b, OL_SSPILONG, (uint32_t)l->sspi_len);
    }
  }
  STR(OL_ATCHDBFILE, "attach database file", l->attach_db, MAX_CHARS_ATTACH,
      false);
  STR(OL_CHANGEPASSWORD, "new password", l->change_password, MAX_CHARS, true);
#undef STR

  if (ext) {
    /* FeatureExt (2.2.6.4): FeatureId, FeatureDataLen (DWORD), data; then
     * the terminator. UTF8_SUPPORT carries no data in the request (the
     * server's FEATUREEXTACK answers with one byte). */
    tdsc__buf_set_u32le(&b, ext_dword, (uint32_t)b.len);
    if (fedauth && (rc = put_fedauth(&b, l, err)) != TDSC_OK)
      goto done;
    if (l->feature_utf8) {
      tdsc__buf_put_u8(&b, TDSC__FEAT_UTF8_SUPPORT);
      tdsc__buf_put_u32le(&b, 0);
    }
    tdsc__buf_put_u8(&b, TDSC__FEAT_TERMINATOR);
  }
  if (b.oom) {
    rc = tdsc__err_oom(err);
    goto done;
  }
  if (b.len > LOGIN7_MAX) {
    rc = tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                       "LOGIN7: %zu bytes exceeds the 128 KiB limit", b.len);
    goto done;
  }
  tdsc__buf_set_u32le(&b, 0, (uint32_t)b.len);
  tdsc__buf_put(out, b.data, b.len);
  if (out->oom)
    rc = tdsc__err_oom(err);

done:
  /* b held the scrambled password: wipe it before it is freed. */
  tdsc__buf_wipe(&b);
  tdsc__buf_free(&b);
  return rc;
}
