/* NTLM's cryptographic primitives (MS-NLMP 6) and the internals of ntlm.c
 * that the unit tests reach (tests/unit/check_ntlm.c).  Nothing here is
 * exported from libtdsclient (-fvisibility=hidden, tdsc__ prefix).
 *
 * MD4 and RC4 are written here (RFC 1320, the public RC4 description):
 * OpenSSL 3 keeps them in its "legacy" provider only, which a distribution
 * may not ship and a FIPS configuration refuses, and loading it into the
 * application's default library context would change what the whole
 * process can do.  MD5 and HMAC-MD5 come from OpenSSL's default provider
 * (EVP), randomness from RAND_bytes. */
#ifndef TDSC_NTLM_CRYPTO_H
#define TDSC_NTLM_CRYPTO_H

#include "buf.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ primitives */

/* MD4 (RFC 1320) of p[0..n). */
void tdsc__md4(const void *p, size_t n, uint8_t out[16]);

/* RC4: a keyed stream; the state continues across calls (MS-NLMP 6,
 * "RC4(Handle, D)"). */
typedef struct tdsc__rc4 {
  uint8_t s[256];
  uint8_t i, j;
} tdsc__rc4;

void tdsc__rc4_init(tdsc__rc4 *r, const uint8_t *key, size_t keylen);
/* XORs the next n bytes of the stream into in, to out (may alias). */
void tdsc__rc4_crypt(tdsc__rc4 *r, const uint8_t *in, uint8_t *out, size_t n);
void tdsc__rc4_wipe(tdsc__rc4 *r);

/* A part of a message to hash. */
typedef struct tdsc__iov {
  const void *p;
  size_t n;
} tdsc__iov;

/* MD5 / HMAC-MD5 (RFC 2104) over the concatenation of parts[0..n).  False
 * when OpenSSL has no MD5 (a FIPS-only configuration). */
bool tdsc__md5(const tdsc__iov *parts, size_t n, uint8_t out[16]);
bool tdsc__hmac_md5(const uint8_t *key, size_t keylen, const tdsc__iov *parts,
                    size_t n, uint8_t out[16]);


/* NegotiateFlags (MS-NLMP 2.2.2.5): ntlm.c's messages, and the sealing key's
 * length (tdsc__ntlm_sealkey) */
enum {
  NEG_UNICODE = 0x00000001u,
  NEG_OEM = 0x00000002u,
  NEG_REQUEST_TARGET = 0x00000004u,
  NEG_SIGN = 0x00000010u,
  NEG_SEAL = 0x00000020u,
  NEG_NTLM = 0x00000200u,
  NEG_ALWAYS_SIGN = 0x00008000u,
  NEG_ESS = 0x00080000u, /* NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY */
  NEG_TARGET_INFO = 0x00800000u,
  NEG_VERSION = 0x02000000u,
  NEG_128 = 0x20000000u,
  NEG_KEY_EXCH = 0x40000000u,
  NEG_56 = 0x80000000u
};

/* ------------------------------------------------- ntlm.c, for the tests */

/* NTOWFv2 (MS-NLMP 3.3.2) from the NT hash (MD4 of the UTF-16LE password):
 * HMAC_MD5(nthash, UNICODE(Uppercase(user) || domain)). */
bool tdsc__ntlm_ntowfv2(const uint8_t nthash[16], const char *user,
                        const char *domain, uint8_t out[16]);

/* NTLM session security keys (MS-NLMP 3.4.5.2, 3.4.5.3) for the client
 * (to_server) or the server direction, under the negotiated flags. */
bool tdsc__ntlm_signkey(const uint8_t exported[16], bool client_to_server,
                        uint8_t out[16]);
bool tdsc__ntlm_sealkey(const uint8_t exported[16], uint32_t flags,
                        bool client_to_server, uint8_t out[16]);
/* MAC with extended session security (MS-NLMP 3.4.4.2): the 16-byte
 * NTLMSSP_MESSAGE_SIGNATURE of msg with sequence number seq; the checksum
 * goes through the RC4 handle seal when key exchange was negotiated (the
 * handle's stream continues, as after sealing a message). */
bool tdsc__ntlm_mac(const uint8_t signkey[16], tdsc__rc4 *seal, bool key_exch,
                    uint32_t seq, const uint8_t *msg, size_t len,
                    uint8_t out[16]);

/* Fixes what a real exchange draws at random or reads from the clock, so
 * that the MS-NLMP 4.2.4 vectors can be reproduced; tests only. */
typedef struct tdsc__ntlm_fixed {
  uint8_t client_challenge[8];
  uint8_t session_key[16]; /* the random ExportedSessionKey */
  uint64_t time;           /* FILETIME, used when the server sent none */
  const uint8_t *version;  /* 8 bytes, NULL: ours */
} tdsc__ntlm_fixed;

void tdsc__ntlm_fix(void *state, const tdsc__ntlm_fixed *f);

/* What the last CHALLENGE said and what the AUTHENTICATE derived from it;
 * for tests (the keys are secrets: never print them elsewhere). */
typedef struct tdsc__ntlm_info {
  uint32_t challenge_flags;
  uint32_t flags; /* negotiated, sent in AUTHENTICATE */
  char *target;   /* TargetName, UTF-8 */
  uint8_t server_challenge[8];
  const uint8_t *target_info; /* the server's AV pairs (into its state) */
  size_t target_info_len;
  bool have_timestamp;
  uint64_t timestamp;
  char *nb_domain, *nb_computer, *dns_domain, *dns_computer;
  uint8_t version[8];
  bool have_version;
  uint8_t session_base_key[16];
  uint8_t exported_session_key[16];
  bool mic_sent;
  bool server_mic_verified; /* SPNEGO: the acceptor's mechListMIC */
} tdsc__ntlm_info;

const tdsc__ntlm_info *tdsc__ntlm_info_of(void *state);

#endif
