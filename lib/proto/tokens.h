/* The token stream of a server response (MS-TDS 2.2.7), parsed
 * incrementally: the caller appends packet payloads to a buffer and asks for
 * the next event; a token that is not complete yet yields NEED_MORE with the
 * number of bytes it knows it needs, and consumes nothing.  No I/O.
 *
 * The parser keeps the current COLMETADATA (rows are decoded against it) and
 * owns the memory events point into, except TDSC__EV_LARGE_DATA and the
 * values of a whole ROW (all but PLP values, which are joined in the
 * parser's memory), which point into the caller's input so that a row is
 * decoded without copying: an event's pointers stay valid until the next
 * call to tdsc__tokp_next or tdsc__tokp_free, and those into the input
 * as long as the caller leaves the consumed bytes where they are.
 *
 * In lazy mode (tdsc__tokp_set_lazy) rows with large values arrive column
 * by column and large values in pieces, so that a value of any size passes
 * through a buffer of about one packet. */
#ifndef TDSC_TOKENS_H
#define TDSC_TOKENS_H

#include "proto/proto.h"

/* Token types (MS-TDS 2.2.7). */
enum {
  TDSC__TOK_ALTMETADATA = 0x88,
  TDSC__TOK_ALTROW = 0xD3,
  TDSC__TOK_COLMETADATA = 0x81,
  TDSC__TOK_COLINFO = 0xA5,
  TDSC__TOK_DATACLASSIFICATION = 0xA3,
  TDSC__TOK_DONE = 0xFD,
  TDSC__TOK_DONEPROC = 0xFE,
  TDSC__TOK_DONEINPROC = 0xFF,
  TDSC__TOK_ENVCHANGE = 0xE3,
  TDSC__TOK_ERROR = 0xAA,
  TDSC__TOK_FEATUREEXTACK = 0xAE,
  TDSC__TOK_FEDAUTHINFO = 0xEE,
  TDSC__TOK_INFO = 0xAB,
  TDSC__TOK_LOGINACK = 0xAD,
  TDSC__TOK_NBCROW = 0xD2,
  TDSC__TOK_OFFSET = 0x78,
  TDSC__TOK_ORDER = 0xA9,
  TDSC__TOK_RETURNSTATUS = 0x79,
  TDSC__TOK_RETURNVALUE = 0xAC,
  TDSC__TOK_ROW = 0xD1,
  TDSC__TOK_SESSIONSTATE = 0xE4,
  TDSC__TOK_SSPI = 0xED,
  TDSC__TOK_TABNAME = 0xA4
};

/* DONE status bits (2.2.7.6). */
enum {
  TDSC__DONE_MORE = 0x0001,
  TDSC__DONE_ERROR = 0x0002,
  TDSC__DONE_INXACT = 0x0004,
  TDSC__DONE_COUNT = 0x0010,
  TDSC__DONE_ATTN = 0x0020,
  TDSC__DONE_SRVERROR = 0x0100
};

/* ENVCHANGE types (2.2.7.9). */
enum {
  TDSC__ENV_DATABASE = 1,
  TDSC__ENV_LANGUAGE = 2,
  TDSC__ENV_CHARSET = 3,
  TDSC__ENV_PACKETSIZE = 4,
  TDSC__ENV_SORTLCID = 5,
  TDSC__ENV_SORTFLAGS = 6,
  TDSC__ENV_COLLATION = 7,
  TDSC__ENV_BEGINTRAN = 8,
  TDSC__ENV_COMMITTRAN = 9,
  TDSC__ENV_ROLLBACKTRAN = 10,
  TDSC__ENV_ENLISTDTC = 11,
  TDSC__ENV_DEFECTTRAN = 12,
  TDSC__ENV_MIRRORPARTNER = 13,
  TDSC__ENV_PROMOTETRAN = 15,
  TDSC__ENV_TRANMGRADDR = 16,
  TDSC__ENV_TRANENDED = 17,
  TDSC__ENV_RESETACK = 18,
  TDSC__ENV_USERINSTANCE = 19,
  TDSC__ENV_ROUTING = 20
};

/* How a column's values are length-prefixed on the wire (2.2.5.2). */
typedef enum tdsc__lenkind {
  TDSC__LEN_FIXED,     /* no prefix: fixed_len bytes, never NULL */
  TDSC__LEN_BYTE,      /* 1-byte length, 0 = NULL (GUID/INTN/...); for
                          DECIMALN/NUMERICN too */
  TDSC__LEN_USHORT,    /* 2-byte length, 0xFFFF = NULL */
  TDSC__LEN_LONG,      /* text/ntext/image: textptr, timestamp, 4-byte len */
  TDSC__LEN_PLP,       /* partially length-prefixed (MAX types, xml, udt) */
  TDSC__LEN_VARIANT    /* sql_variant: 4-byte length, 0 = NULL */
} tdsc__lenkind;

/* One column of COLMETADATA (2.2.7.4). */
typedef struct tdsc__colinfo {
  uint8_t wire_type;   /* the TYPE_INFO byte, e.g. 0xE7 for NVARCHAR */
  tdsc_type type;      /* the SQL type it stands for */
  tdsc__lenkind lenkind;
  uint32_t fixed_len;  /* TDSC__LEN_FIXED only */
  uint32_t max_len;    /* TYPE_VARLEN from TYPE_INFO; 0xFFFF for MAX (PLP) */
  uint8_t precision;
  uint8_t scale;
  bool has_collation;
  uint8_t collation[5];
  uint32_t user_type;
  uint16_t flags;      /* bit 0 fNullable (2.2.7.4) */
  char *name;          /* UTF-8, owned by the parser */
} tdsc__colinfo;

/* One value of a row, decoded to its payload bytes (length prefix, text
 * pointer and PLP chunking removed). */
typedef struct tdsc__value {
  bool null;
  const uint8_t *data;
  size_t len;
} tdsc__value;

typedef enum tdsc__ev_kind {
  TDSC__EV_LOGINACK,
  TDSC__EV_ENVCHANGE,
  TDSC__EV_INFO,          /* also used for ERROR: see msg.is_error */
  TDSC__EV_COLMETADATA,
  TDSC__EV_ROW,           /* ROW and NBCROW alike */
  TDSC__EV_ORDER,
  TDSC__EV_RETURNSTATUS,
  TDSC__EV_DONE,          /* DONE, DONEPROC, DONEINPROC: see done.token */
  TDSC__EV_FEATUREEXTACK,
  TDSC__EV_SSPI,
  TDSC__EV_RETURNVALUE,   /* one output parameter: see u.returnvalue */
  TDSC__EV_SKIPPED,       /* a token read and ignored (TABNAME, COLINFO,
                             SESSIONSTATE, DATACLASSIFICATION, ...) */
  /* Lazy rows only (see tdsc__tokp_set_lazy): */
  TDSC__EV_ROW_BEGIN,     /* a ROW/NBCROW starts; u.row.ncols, no values */
  TDSC__EV_COLUMN,        /* one whole value: u.column */
  TDSC__EV_LARGE_BEGIN,   /* a PLP/LONG value starts: u.large.index, total */
  TDSC__EV_LARGE_DATA,    /* its next bytes: u.large.data, len */
  TDSC__EV_LARGE_END,     /* after its last byte: u.large.index */
  TDSC__EV_FEDAUTHINFO    /* FEDAUTHINFO (2.2.7.12): u.fedauthinfo */
} tdsc__ev_kind;

typedef struct tdsc__routing {
  uint8_t protocol; /* 0 = TCP */
  uint16_t port;
  char *server;     /* UTF-8, owned by the parser */
} tdsc__routing;

typedef struct tdsc__event {
  tdsc__ev_kind kind;
  uint8_t token; /* the token byte */
  union {
    struct {
      uint8_t interface;
      uint32_t tds_version; /* as on the wire, e.g. 0x74000004 */
      char *prog_name;      /* UTF-8 */
      uint8_t ver[4];       /* major, minor, build hi, build lo */
    } loginack;
    struct {
      uint8_t type;
      /* database, language, charset, packet size, ...: UTF-8 text; NULL
       * for binary types */
      char *new_text, *old_text;
      /* raw values (collation: 5 bytes; transactions: 8 bytes) */
      const uint8_t *new_val, *old_val;
      size_t new_len, old_len;
      tdsc__routing routing; /* type 20 */
    } envchange;
    tdsc_message msg; /* INFO / ERROR; strings owned by the parser */
    struct {
      size_t ncols;
      const tdsc__colinfo *cols;
    } colmetadata;
    struct {
      size_t ncols;
      const tdsc__value *values; /* NULL for TDSC__EV_ROW_BEGIN */
    } row;
    /* TDSC__EV_COLUMN: column `index` (from 0) of the current row, whole;
     * value.data in the parser's memory. */
    struct {
      size_t index;
      tdsc__value value;
    } column;
    /* TDSC__EV_LARGE_*: column `index`'s value, `total` bytes long
     * (UINT64_MAX: not announced, PLP_UNKNOWN_LEN); set on all three.
     * LARGE_DATA only: data/len, pointing into the caller's input. */
    struct {
      size_t index;
      uint64_t total;
      const uint8_t *data;
      size_t len;
    } large;
    /* RETURNVALUE (2.2.7.19): starts like row (one value), then the
     * parameter's TYPE_INFO with its name ("@x", UTF-8) in col->name. */
    struct {
      size_t ncols; /* 1 */
      const tdsc__value *values;
      const tdsc__colinfo *col;
      uint16_t ordinal;
      uint8_t status; /* 0x01 output parameter, 0x02 UDF return value */
    } returnvalue;
    int32_t return_status;
    struct {
      uint8_t token;
      uint16_t status;
      uint16_t curcmd;
      uint64_t rowcount;
    } done;
    struct {
      size_t n;
      const uint8_t *ids;        /* n feature ids */
      const uint8_t *const *data; /* n pointers */
      const uint32_t *lens;      /* n lengths */
    } featureextack;
    struct {
      const uint8_t *data;
      size_t len;
    } sspi;
    /* FEDAUTHINFO (2.2.7.12): the STS URL (FedAuthInfoID 0x01) and the
     * SPN (0x02), UTF-8 in the parser's memory, NULL when the token has
     * none; options of other ids are skipped. */
    struct {
      const char *sts_url;
      const char *spn;
    } fedauthinfo;
  } u;
} tdsc__event;

typedef enum tdsc__tok_status {
  TDSC__TOK_EVENT,     /* *ev filled, *used bytes consumed */
  TDSC__TOK_NEED_MORE, /* nothing consumed; *need = total bytes wanted from
                          the start of the input (a lower bound) */
  TDSC__TOK_FAIL       /* err set (TDSC_E_PROTOCOL or TDSC_E_NO_MEMORY) */
} tdsc__tok_status;

typedef struct tdsc__tokp tdsc__tokp;

/* NULL on out-of-memory. */
tdsc__tokp *tdsc__tokp_new(void);
void tdsc__tokp_free(tdsc__tokp *p);
/* Forgets the column metadata and abandons a lazy row under way (a new
 * request, or a stream given up); keeps the lazy setting. */
void tdsc__tokp_reset(tdsc__tokp *p);

/* Lazy rows (for streaming large values): after tdsc__tokp_set_lazy(p, true),
 * a ROW or NBCROW token whose COLMETADATA has at least one column of
 * TDSC__LEN_PLP or TDSC__LEN_LONG is delivered column by column instead of
 * as one TDSC__EV_ROW:
 *   TDSC__EV_ROW_BEGIN        consumes the token byte (and NBCROW's null bitmap)
 *   then for each column i in order, either
 *   TDSC__EV_COLUMN           u.column.index = i, u.column.value: the whole value
 *                             (every column that is not PLP/LONG, and NULLs of
 *                             every kind, including PLP NULL and a LONG column's
 *                             textptr length 0; NBC-null columns consume nothing)
 *   or, for a non-NULL PLP/LONG column,
 *   TDSC__EV_LARGE_BEGIN      u.large.index = i, u.large.total = length when
 *                             known, UINT64_MAX when unknown (PLP_UNKNOWN_LEN)
 *   TDSC__EV_LARGE_DATA       u.large.data/len: the next bytes of the value,
 *                             as many as the input holds of the current chunk
 *                             (at least 1); points into the input buffer
 *   TDSC__EV_LARGE_END        u.large.index = i, after the last byte
 *                             (PLP terminator consumed)
 *   After the last column the row is complete and tokens follow as usual.
 * NEED_MORE and `need` keep their meaning; a LARGE_DATA event never needs
 * more than the chunk header plus one byte, so a caller's buffer stays at
 * about one packet.  Rows of a COLMETADATA without such columns, and
 * everything else, are parsed as before even in lazy mode.
 *
 * Events that consume nothing (an NBC-null column, a LONG value's
 * LARGE_END) are delivered even for an empty input.  Large values have no
 * size limit (TDSC__VALUE_MAX does not apply); PLP chunks must add up to a
 * known total, a LONG value stay within the column's maximum length.
 * RETURNVALUE tokens are always whole.  The setting is read when a row
 * token starts: changing it inside a row takes effect at the next row. */
void tdsc__tokp_set_lazy(tdsc__tokp *p, bool lazy);
/* True between TDSC__EV_ROW_BEGIN and the end of that row. */
bool tdsc__tokp_in_row(const tdsc__tokp *p);

/* Parses one token from in[0..n). */
tdsc__tok_status tdsc__tokp_next(tdsc__tokp *p, const uint8_t *in, size_t n,
                                 size_t *used, size_t *need, tdsc__event *ev,
                                 tdsc_error *err);

/* The current column metadata (also after the COLMETADATA event). */
size_t tdsc__tokp_ncols(const tdsc__tokp *p);
const tdsc__colinfo *tdsc__tokp_cols(const tdsc__tokp *p);

#endif
