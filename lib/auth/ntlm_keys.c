/* NTLMv2's keys (MS-NLMP 3.3.2, 3.4.4, 3.4.5) on ntlm_crypto.c's
 * primitives: NTOWFv2 from the NT hash, the signing and sealing keys of
 * extended session security, and the MAC that SPNEGO's mechListMIC is.
 * ntlm.c's mechanism uses them; tests/unit/check_ntlm.c checks them
 * against MS-NLMP 4.2.4's example. */
#include "config.h"

#include "auth/ntlm_crypto.h"

#include <string.h>

/* Uppercase of a UTF-16 unit, for NTOWFv2's Uppercase(User): ASCII,
 * Latin-1, Latin Extended-A, basic Greek and Cyrillic (Windows uses its
 * own table; names outside these ranges are rare in accounts). */
static uint16_t upcase16(uint16_t c) {
  if (c >= 'a' && c <= 'z')
    return (uint16_t)(c - 0x20);
  if (c >= 0xe0 && c <= 0xfe && c != 0xf7)
    return (uint16_t)(c - 0x20);
  if (c == 0xff)
    return 0x178;
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
    return (uint16_t)(c & ~1u);
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
    return (uint16_t)((c & 1u) ? c : c - 1);
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2)
    return (uint16_t)(c - 0x20);
  if (c >= 0x430 && c <= 0x44f)
    return (uint16_t)(c - 0x20);
  if (c >= 0x450 && c <= 0x45f)
    return (uint16_t)(c - 0x50);
  return c;
}

bool tdsc__ntlm_ntowfv2(const uint8_t nthash[16], const char *user,
                        const char *domain, uint8_t out[16]) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  size_t un = tdsc__utf8_to_utf16le(user, strlen(user), &b);
  if (un == (size_t)-1) {
    tdsc__buf_free(&b);
    return false;
  }
  for (size_t i = 0; i + 1 < un; i += 2) {
    uint16_t c = upcase16(tdsc__le16(b.data + i));
    tdsc__buf_set_u16le(&b, i, c);
  }
  bool ok = tdsc__utf8_to_utf16le(domain, strlen(domain), &b) != (size_t)-1;
  tdsc__iov v = {b.data, b.len};
  ok = ok && tdsc__hmac_md5(nthash, 16, &v, 1, out);
  tdsc__buf_free(&b);
  return ok;
}

/* MS-NLMP 3.4.5.2 SIGNKEY with extended session security. */
bool tdsc__ntlm_signkey(const uint8_t exported[16], bool client_to_server,
                        uint8_t out[16]) {
  static const char c2s[] =
      "session key to client-to-server signing key magic constant";
  static const char s2c[] =
      "session key to server-to-client signing key magic constant";
  tdsc__iov v[2] = {{exported, 16},
                    {client_to_server ? c2s : s2c, sizeof c2s}}; /* + NUL */
  return tdsc__md5(v, 2, out);
}

/* MS-NLMP 3.4.5.3 SEALKEY with extended session security. */
bool tdsc__ntlm_sealkey(const uint8_t exported[16], uint32_t flags,
                        bool client_to_server, uint8_t out[16]) {
  static const char c2s[] =
      "session key to client-to-server sealing key magic constant";
  static const char s2c[] =
      "session key to server-to-client sealing key magic constant";
  size_t n = (flags & NEG_128) ? 16 : (flags & NEG_56) ? 7 : 5;
  tdsc__iov v[2] = {{exported, n}, {client_to_server ? c2s : s2c, sizeof c2s}};
  return tdsc__md5(v, 2, out);
}

/* MS-NLMP 3.4.4.2: Version 1, checksum HMAC_MD5(SigningKey, SeqNum ||
 * Message)[0..7], RC4'd with the sealing handle under KEY_EXCH, SeqNum. */
bool tdsc__ntlm_mac(const uint8_t signkey[16], tdsc__rc4 *seal, bool key_exch,
                    uint32_t seq, const uint8_t *msg, size_t len,
                    uint8_t out[16]) {
  uint8_t seqb[4] = {(uint8_t)seq, (uint8_t)(seq >> 8), (uint8_t)(seq >> 16),
                     (uint8_t)(seq >> 24)};
  uint8_t h[16];
  tdsc__iov v[2] = {{seqb, 4}, {msg, len}};
  if (!tdsc__hmac_md5(signkey, 16, v, 2, h))
    return false;
  out[0] = 1, out[1] = out[2] = out[3] = 0;
  if (key_exch)
    tdsc__rc4_crypt(seal, h, out + 4, 8);
  else
    memcpy(out + 4, h, 8);
  memcpy(out + 12, seqb, 4);
  tdsc__wipe(h, sizeof h);
  return true;
}
