/* SPNEGO (RFC 4178) tokens: the DER of NegTokenInit and NegTokenResp, so
 * that each mechanism runs its own GSSAPI mechanism directly (exact error
 * codes, no silent substitution of another mechanism) and is wrapped here.
 * Pure codec: bytes in, bytes out; mechanism-neutral (Kerberos in
 * gssapi.c, NTLMSSP later).  Every malformed input is TDSC_E_PROTOCOL with
 * a message naming the field and the offset. */
#ifndef TDSC_SPNEGO_H
#define TDSC_SPNEGO_H

#include "buf.h"
#include "error.h"

/* An OBJECT IDENTIFIER as its DER contents (no tag, no length). */
typedef struct tdsc__oid {
  const uint8_t *der;
  size_t len;
} tdsc__oid;

extern const tdsc__oid tdsc__oid_spnego;  /* 1.3.6.1.5.5.2 */
extern const tdsc__oid tdsc__oid_krb5;    /* 1.2.840.113554.1.2.2 */
extern const tdsc__oid tdsc__oid_ms_krb5; /* 1.2.840.48018.1.2.2 (Windows) */
extern const tdsc__oid tdsc__oid_ntlmssp; /* 1.3.6.1.4.1.311.2.2.10 */

bool tdsc__oid_eq(const tdsc__oid *a, const uint8_t *der, size_t len);

/* negState (RFC 4178 4.2.2); ABSENT when the field is not in the token. */
typedef enum tdsc__neg_state {
  TDSC__NEG_ACCEPT_COMPLETED = 0,
  TDSC__NEG_ACCEPT_INCOMPLETE = 1,
  TDSC__NEG_REJECT = 2,
  TDSC__NEG_REQUEST_MIC = 3,
  TDSC__NEG_ABSENT = -1
} tdsc__neg_state;

/* The negState's name as RFC 4178 spells it ("accept-completed", ...;
 * "absent" for ABSENT and for values the RFC does not define). */
const char *tdsc__spnego_state_name(tdsc__neg_state st);

/* Appends the DER of MechTypeList (SEQUENCE OF OID) for mechs[0..n): the
 * exact bytes the mechListMIC covers (RFC 4178 5). */
void tdsc__spnego_mech_list(const tdsc__oid *mechs, size_t n,
                            tdsc__buf *out);

/* Appends the initiator's first token (RFC 4178 4.2.1 inside the RFC 2743
 * 3.1 InitialContextToken framing): [APPLICATION 0] { spnego OID,
 * [0] NegTokenInit { [0] mechTypes, [2] mechToken } }.  mechtok may be
 * NULL/0 (no optimistic token).  False on out-of-memory (out->oom). */
bool tdsc__spnego_init_token(const tdsc__oid *mechs, size_t n,
                             const uint8_t *mechtok, size_t mechtoklen,
                             tdsc__buf *out);

/* Appends a NegTokenResp (RFC 4178 4.2.2): [1] { [0] negState (omitted
 * when ABSENT), [1] supportedMech (when mech != NULL), [2] responseToken
 * (when tok != NULL), [3] mechListMIC (when mic != NULL) }. */
bool tdsc__spnego_resp_token(tdsc__neg_state st, const tdsc__oid *mech,
                             const uint8_t *tok, size_t toklen,
                             const uint8_t *mic, size_t miclen,
                             tdsc__buf *out);

/* A parsed NegTokenResp.  Pointers point into the input, which must
 * outlive this struct; a field absent from the token has NULL/0. */
typedef struct tdsc__spnego_resp {
  tdsc__neg_state state;
  const uint8_t *mech; /* supportedMech OID contents */
  size_t mechlen;
  const uint8_t *token; /* responseToken */
  size_t toklen;
  const uint8_t *mic; /* mechListMIC */
  size_t miclen;
} tdsc__spnego_resp;

/* Parses a NegTokenResp ([1] ...).  TDSC_E_PROTOCOL (err says what and
 * where) on anything malformed, trailing bytes included. */
tdsc_errc tdsc__spnego_parse_resp(const uint8_t *in, size_t len,
                                  tdsc__spnego_resp *r, tdsc_error *err);

/* A parsed initial token (the acceptor's view; for tests and servers). */
typedef struct tdsc__spnego_init {
  const uint8_t *mech_list; /* the whole MechTypeList DER (tag included) */
  size_t mech_list_len;
  const uint8_t *first_mech; /* contents of the first OID */
  size_t first_mech_len;
  const uint8_t *token; /* mechToken, NULL if absent */
  size_t toklen;
  const uint8_t *mic; /* mechListMIC, NULL if absent */
  size_t miclen;
} tdsc__spnego_init;

/* Parses an initial SPNEGO token (framing + NegTokenInit). */
tdsc_errc tdsc__spnego_parse_init(const uint8_t *in, size_t len,
                                  tdsc__spnego_init *r, tdsc_error *err);

#endif
