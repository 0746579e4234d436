/* NTLM's primitives (MS-NLMP 6): MD4 (RFC 1320) and RC4 written here,
 * MD5 and HMAC-MD5 through OpenSSL's EVP.  Why MD4 and RC4 are not taken
 * from OpenSSL: see ntlm_crypto.h.  Neither is used for anything but NTLM:
 * MD4 once per login over the password, RC4 over 16- and 8-byte keys. */
#include "config.h"

#include "auth/ntlm_crypto.h"

#include <openssl/evp.h>
#include <string.h>

/* ------------------------------------------------------------------ MD4 */

static uint32_t rol(uint32_t x, unsigned s) {
  return (x << s) | (x >> (32 - s));
}

/* RFC 1320 3.4: three rounds of sixteen operations over one block. */
static void md4_block(uint32_t h[4], const uint8_t blk[64]) {
  uint32_t x[16];
  for (int i = 0; i < 16; i++)
    x[i] = tdsc__le32(blk + 4 * i);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
#define F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G(x, y, z) (((x) & (y)) | ((x) & (z)) | ((y) & (z)))
#define H(x, y, z) ((x) ^ (y) ^ (z))
  static const unsigned s1[4] = {3, 7, 11, 19}, s2[4] = {3, 5, 9, 13},
                        s3[4] = {3, 9, 11, 15};
  static const int o3[16] = {0, 8, 4, 12, 2, 10, 6, 14,
                             1, 9, 5, 13, 3, 11, 7, 15};
  for (int i = 0; i < 16; i++) {
    uint32_t t = a + F(b, c, d) + x[i];
    a = d, d = c, c = b, b = rol(t, s1[i % 4]);
  }
  for (int i = 0; i < 16; i++) {
    int k = (i % 4) * 4 + i / 4;
    uint32_t t = a + G(b, c, d) + x[k] + 0x5a827999u;
    a = d, d = c, c = b, b = rol(t, s2[i % 4]);
  }
  for (int i = 0; i < 16; i++) {
    uint32_t t = a + H(b, c, d) + x[o3[i]] + 0x6ed9eba1u;
    a = d, d = c, c = b, b = rol(t, s3[i % 4]);
  }
#undef F
#undef G
#undef H
  h[0] += a, h[1] += b, h[2] += c, h[3] += d;
  tdsc__wipe(x, sizeof x);
}

void tdsc__md4(const void *p, size_t n, uint8_t out[16]) {
  const uint8_t *m = p;
  uint32_t h[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  uint8_t tail[128];
  size_t full = n & ~(size_t)63, rest = n - full;
  for (size_t i = 0; i < full; i += 64)
    md4_block(h, m + i);
  /* RFC 1320 3.1-3.2: 0x80, zeros to 56 mod 64, bit length (LE 64). */
  memset(tail, 0, sizeof tail);
  if (rest)
    memcpy(tail, m + full, rest);
  tail[rest] = 0x80;
  size_t tlen = rest < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)n << 3;
  for (int i = 0; i < 8; i++)
    tail[tlen - 8 + i] = (uint8_t)(bits >> (8 * i));
  md4_block(h, tail);
  if (tlen == 128)
    md4_block(h, tail + 64);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      out[4 * i + j] = (uint8_t)(h[i] >> (8 * j));
  tdsc__wipe(tail, sizeof tail);
  tdsc__wipe(h, sizeof h);
}

/* ------------------------------------------------------------------ RC4 */

void tdsc__rc4_init(tdsc__rc4 *r, const uint8_t *key, size_t keylen) {
  for (int i = 0; i < 256; i++)
    r->s[i] = (uint8_t)i;
  uint8_t j = 0;
  for (int i = 0; i < 256; i++) {
    j = (uint8_t)(j + r->s[i] + key[(size_t)i % keylen]);
    uint8_t t = r->s[i];
    r->s[i] = r->s[j];
    r->s[j] = t;
  }
  r->i = r->j = 0;
}

void tdsc__rc4_crypt(tdsc__rc4 *r, const uint8_t *in, uint8_t *out, size_t n) {
  uint8_t i = r->i, j = r->j;
  for (size_t k = 0; k < n; k++) {
    i = (uint8_t)(i + 1);
    j = (uint8_t)(j + r->s[i]);
    uint8_t t = r->s[i];
    r->s[i] = r->s[j];
    r->s[j] = t;
    out[k] = in[k] ^ r->s[(uint8_t)(r->s[i] + r->s[j])];
  }
  r->i = i;
  r->j = j;
}

void tdsc__rc4_wipe(tdsc__rc4 *r) { tdsc__wipe(r, sizeof *r); }

/* ------------------------------------------------------- MD5, HMAC-MD5 */

bool tdsc__md5(const tdsc__iov *parts, size_t n, uint8_t out[16]) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  bool ok = c && EVP_DigestInit_ex(c, EVP_md5(), NULL) == 1;
  for (size_t i = 0; ok && i < n; i++)
    ok = EVP_DigestUpdate(c, parts[i].p, parts[i].n) == 1;
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(c, out, &len) == 1 && len == 16;
  EVP_MD_CTX_free(c);
  return ok;
}

/* RFC 2104: MD5((K ^ opad) || MD5((K ^ ipad) || text)); K of up to 64
 * bytes (NTLM's keys are 16). */
bool tdsc__hmac_md5(const uint8_t *key, size_t keylen, const tdsc__iov *parts,
                    size_t n, uint8_t out[16]) {
  uint8_t k[64], pad[64], inner[16];
  bool ok = true;
  memset(k, 0, sizeof k);
  if (keylen > sizeof k) {
    tdsc__iov kv = {key, keylen};
    ok = tdsc__md5(&kv, 1, k);
  } else {
    memcpy(k, key, keylen);
  }
  tdsc__iov v[9];
  for (size_t off = 0; ok && off < 2; off++) {
    uint8_t x = off == 0 ? 0x36 : 0x5c;
    for (size_t i = 0; i < sizeof pad; i++)
      pad[i] = k[i] ^ x;
    v[0].p = pad;
    v[0].n = sizeof pad;
    if (off == 0) {
      size_t m = 1;
      /* more than 8 parts: hash in one go through a copy is not needed by
       * any caller; refuse rather than truncate */
      if (n > 8) {
        ok = false;
        break;
      }
      for (size_t i = 0; i < n; i++)
        v[m++] = parts[i];
      ok = tdsc__md5(v, m, inner);
    } else {
      v[1].p = inner;
      v[1].n = sizeof inner;
      ok = tdsc__md5(v, 2, out);
    }
  }
  tdsc__wipe(k, sizeof k);
  tdsc__wipe(pad, sizeof pad);
  tdsc__wipe(inner, sizeof inner);
  return ok;
}
