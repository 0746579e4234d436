/* TDS message codecs (MS-TDS 2.2): packet headers, PRELOGIN, LOGIN7,
 * SQLBatch.  Pure functions: bytes in, structures out (and back).  No I/O,
 * no global state.  The token stream is in tokens.h, column values in
 * values.h.  Used by lib/tls (PRELOGIN framing of the TLS handshake) and
 * lib/session. */
#ifndef TDSC_PROTO_H
#define TDSC_PROTO_H

#include "buf.h"
#include "error.h"

/* Packet types (MS-TDS 2.2.3.1.1). */
enum {
  TDSC__PKT_SQLBATCH = 0x01,
  TDSC__PKT_RPC = 0x03,
  TDSC__PKT_REPLY = 0x04, /* tabular result */
  TDSC__PKT_ATTENTION = 0x06,
  TDSC__PKT_BULK = 0x07,
  TDSC__PKT_FEDAUTH = 0x08,
  TDSC__PKT_TRANSMGR = 0x0E,
  TDSC__PKT_LOGIN7 = 0x10,
  TDSC__PKT_SSPI = 0x11,
  TDSC__PKT_PRELOGIN = 0x12
};

/* Packet status bits (MS-TDS 2.2.3.1.2). */
enum {
  TDSC__PKT_EOM = 0x01,
  TDSC__PKT_IGNORE = 0x02,
  TDSC__PKT_RESETCONN = 0x08,
  TDSC__PKT_RESETCONN_SKIPTRAN = 0x10
};

#define TDSC__PKT_HDR_LEN 8
#define TDSC__PKT_MIN 512     /* smallest packet size a server may set */
#define TDSC__PKT_MAX 32767   /* largest */
#define TDSC__PKT_DEFAULT 4096

typedef struct tdsc__pkt_hdr {
  uint8_t type;
  uint8_t status;
  uint16_t length; /* whole packet, header included (big-endian on wire) */
  uint16_t spid;
  uint8_t packet_id;
  uint8_t window;
} tdsc__pkt_hdr;

void tdsc__pkt_hdr_encode(uint8_t out[TDSC__PKT_HDR_LEN],
                          const tdsc__pkt_hdr *h);
/* The ATTENTION message (2.2.1.7): a packet header with no payload that
 * asks the server to stop the request in progress. */
void tdsc__attention_encode(uint8_t out[TDSC__PKT_HDR_LEN]);
/* Decodes and validates a header: length within [8, max_len]. Fails with
 * TDSC_E_PROTOCOL naming the bad field. */
tdsc_errc tdsc__pkt_hdr_decode(const uint8_t in[TDSC__PKT_HDR_LEN],
                               size_t max_len, tdsc__pkt_hdr *h,
                               tdsc_error *err);

/* PRELOGIN (MS-TDS 2.2.6.5). */
enum {
  TDSC__ENCRYPT_OFF = 0x00,
  TDSC__ENCRYPT_ON = 0x01,
  TDSC__ENCRYPT_NOT_SUP = 0x02,
  TDSC__ENCRYPT_REQ = 0x03
};

#define TDSC__NONCE_LEN 32u /* NONCE = 32BYTE (2.2.6.5) */

typedef struct tdsc__prelogin {
  /* VERSION: major, minor, build (UL_VERSION, big-endian) and sub-build. */
  uint8_t ver_major, ver_minor;
  uint16_t ver_build, ver_subbuild;
  bool has_encryption;
  uint8_t encryption;
  bool has_instance;
  char instance[128]; /* NUL-terminated; "" asks for the default instance.
                         In a server's answer (one byte): "" = the name
                         matched, "\x01" = it did not */
  bool has_thread_id;
  uint32_t thread_id;
  bool has_mars;
  uint8_t mars;
  bool has_fedauth_required;
  uint8_t fedauth_required; /* B_FEDAUTHREQUIRED: 0x01 = the client can
                               do (the server asks for) federated auth */
  bool has_nonce;           /* NONCEOPT (0x07): the server's nonce, which a
                               FEDAUTH security token echoes (2.2.6.4) */
  uint8_t nonce[TDSC__NONCE_LEN];
} tdsc__prelogin;

/* Appends the PRELOGIN payload (no packet header): VERSION, ENCRYPTION,
 * INSTOPT, THREADID, MARS, FEDAUTHREQUIRED, NONCEOPT (those with has_* set;
 * VERSION always), then TERMINATOR. */
tdsc_errc tdsc__prelogin_encode(const tdsc__prelogin *pl, tdsc__buf *out,
                                tdsc_error *err);
/* Decodes a PRELOGIN payload. Unknown options are skipped; offsets and
 * lengths outside the payload, and known options of the wrong length, are
 * TDSC_E_PROTOCOL. */
tdsc_errc tdsc__prelogin_decode(const uint8_t *p, size_t n,
                                tdsc__prelogin *pl, tdsc_error *err);

/* LOGIN7 (MS-TDS 2.2.6.4). */
#define TDSC__TDS74 0x74000004u
#define TDSC__TDS80 0x08000000u

/* OptionFlags1..3, TypeFlags bits we set. */
enum {
  TDSC__OF1_USE_DB_ON = 0x20,       /* fUseDB: warn on database change */
  TDSC__OF1_INIT_DB_FATAL = 0x40,   /* fDatabase: fail if db unavailable */
  TDSC__OF1_SET_LANG_ON = 0x80,
  TDSC__OF2_INIT_LANG_FATAL = 0x01,
  TDSC__OF2_ODBC = 0x02,
  TDSC__OF2_INTEGRATED = 0x80,      /* fIntSecurity */
  TDSC__OF3_UNKNOWN_COLLATION = 0x08,
  TDSC__OF3_EXTENSION = 0x10,       /* fExtension: FeatureExt present */
  TDSC__TF_READ_ONLY_INTENT = 0x20
};

/* FeatureExt ids (MS-TDS 2.2.6.4). */
enum {
  TDSC__FEAT_SESSIONRECOVERY = 0x01,
  TDSC__FEAT_FEDAUTH = 0x02,
  TDSC__FEAT_COLUMNENCRYPTION = 0x04,
  TDSC__FEAT_GLOBALTRANSACTIONS = 0x05,
  TDSC__FEAT_AZURESQLSUPPORT = 0x08,
  TDSC__FEAT_DATACLASSIFICATION = 0x09,
  TDSC__FEAT_UTF8_SUPPORT = 0x0A,
  TDSC__FEAT_TERMINATOR = 0xFF
};

typedef struct tdsc__login7 {
  uint32_t tds_version;
  uint32_t packet_size;
  uint32_t client_prog_ver;
  uint32_t client_pid;
  uint32_t connection_id;
  uint8_t option_flags1, option_flags2, type_flags, option_flags3;
  int32_t client_timezone;
  uint32_t client_lcid;
  /* UTF-8 strings, NULL for empty; sent as UTF-16LE. */
  const char *hostname;
  const char *username;
  const char *password; /* scrambled on the wire (2.2.6.4), never logged */
  const char *appname;
  const char *servername;
  const char *library;
  const char *language;
  const char *database;
  const char *attach_db;
  const char *change_password;
  const uint8_t *sspi; /* integrated security token, or NULL */
  size_t sspi_len;
  uint8_t client_id[6]; /* MAC address or zeros */
  bool feature_utf8;    /* request UTF8_SUPPORT */
  /* FEDAUTH (feature 0x02) with bFedAuthLibrary = security token: sent
   * when fedauth_token is set (the token as UTF-8, sent as UTF-16LE; a
   * secret, wiped from the encoder's buffers), fIntSecurity left clear. */
  const char *fedauth_token;
  bool fedauth_echo;            /* the server's FEDAUTHREQUIRED was 0x01 */
  const uint8_t *fedauth_nonce; /* the server's NONCEOPT, TDSC__NONCE_LEN
                                   bytes, or NULL */
  /* FEDAUTH with bFedAuthLibrary = ADAL (0x02) instead, when not 0 and
   * fedauth_token is NULL: Options and this Workflow byte, no token (the
   * server answers with FEDAUTHINFO; tdsc__fedauth_token_encode then
   * sends the token); fedauth_echo as above. */
  uint8_t fedauth_workflow;
} tdsc__login7;

#define TDSC__FEDAUTH_LIB_SECURITY_TOKEN 0x01u /* bFedAuthLibrary */
#define TDSC__FEDAUTH_LIB_ADAL 0x02u
/* The ADAL workflows of LOGIN7's FEDAUTH (2.2.6.4): a token got with
 * credentials the client holds (SqlClient and go-mssqldb send it for a
 * service principal too), or by managed identity. */
#define TDSC__FEDAUTH_WORKFLOW_PASSWORD 0x01u
#define TDSC__FEDAUTH_WORKFLOW_MSI 0x03u

/* Appends the LOGIN7 payload (no packet header). Sets OF3_EXTENSION itself
 * when a feature is requested. Strings longer than the field allows are
 * TDSC_E_BAD_OPTION_VALUE naming the field. */
tdsc_errc tdsc__login7_encode(const tdsc__login7 *l, tdsc__buf *out,
                              tdsc_error *err);

/* Appends the payload of a Federated Authentication Token message (packet
 * type 0x08, MS-TDS 2.2.6.3, bFedAuthLibrary = ADAL): DataLen, the token
 * (UTF-8 in, UTF-16LE L_VARBYTE out; a secret, wiped from the encoder's
 * buffers) and the server's nonce when not NULL (TDSC__NONCE_LEN bytes).
 * An empty token or one too large is TDSC_E_BAD_OPTION_VALUE. */
tdsc_errc tdsc__fedauth_token_encode(const char *token, const uint8_t *nonce,
                                     tdsc__buf *out, tdsc_error *err);

/* ALL_HEADERS (2.2.5.3) with the transaction descriptor header (2.2.5.3.2):
 * the start of SQLBatch and RPC payloads (sqlbatch.c). */
void tdsc__all_headers_put(tdsc__buf *out, const uint8_t txn_descriptor[8],
                           uint32_t outstanding_requests);

/* SQLBatch payload (MS-TDS 2.2.6.7): ALL_HEADERS with the transaction
 * descriptor header (2.2.5.3.2), then the text as UTF-16LE. */
tdsc_errc tdsc__sqlbatch_encode(const char *sql, size_t len,
                                const uint8_t txn_descriptor[8],
                                uint32_t outstanding_requests,
                                tdsc__buf *out, tdsc_error *err);

/* Transaction manager request (MS-TDS 2.2.6.9), packet type
 * TDSC__PKT_TRANSMGR: ALL_HEADERS, the request type, its payload. */
typedef enum tdsc__tm_type {
  TDSC__TM_BEGIN = 5,    /* isolation, name (may be empty) */
  TDSC__TM_COMMIT = 7,   /* name (may be empty), no new transaction */
  TDSC__TM_ROLLBACK = 8, /* name: empty, or a savepoint to roll back to */
  TDSC__TM_SAVE = 9      /* name: the savepoint, not empty */
} tdsc__tm_type;
/* name is UTF-8 (NULL = empty) and goes out as a B_VARBYTE of UTF-16LE, so
 * at most 127 UTF-16 units (TDSC_E_INVALID_ARGUMENT beyond);
 * isolation (TM_BEGIN only) 0 = unchanged, 1..5 = read uncommitted, read
 * committed, repeatable read, serializable, snapshot. */
tdsc_errc tdsc__tm_encode(tdsc__tm_type type, uint8_t isolation,
                          const char *name, const uint8_t txn_descriptor[8],
                          tdsc__buf *out, tdsc_error *err);

#endif
