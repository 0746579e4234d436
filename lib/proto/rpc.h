/* RPC request payloads (MS-TDS 2.2.6.6): ALL_HEADERS, the procedure (by
 * ProcID for the system procedures, by name otherwise), option flags, and
 * typed parameters (name, status, TYPE_INFO 2.2.5.6, value 2.2.5.5).  Pure
 * encoders like sqlbatch.c; a large value can be appended in PLP chunks
 * (2.2.5.2.3) as the caller reads it, so it never needs to be in memory
 * whole.  Used by lib/session/stmt.c. */
#ifndef TDSC_RPC_H
#define TDSC_RPC_H

#include "proto/proto.h"

/* ProcIDs of the special procedures (2.2.6.6). */
enum {
  TDSC__PROC_EXECUTESQL = 10,
  TDSC__PROC_PREPARE = 11,
  TDSC__PROC_EXECUTE = 12,
  TDSC__PROC_UNPREPARE = 15
};

/* Parameter status flags (2.2.6.6 StatusFlags). */
enum { TDSC__PARAM_BYREF = 0x01, TDSC__PARAM_DEFAULT = 0x02 };

/* One parameter, its value already converted to wire form by the
 * tdsc__param_* functions below (so type errors come at bind time). */
typedef struct tdsc__param {
  const char *name;  /* "@x" (UTF-8), or NULL / "" when positional */
  uint8_t status;    /* TDSC__PARAM_BYREF for OUTPUT */
  tdsc_type type;    /* as sent: text/ntext/image become the MAX types */
  uint8_t wire_type; /* TYPE_INFO type byte */
  uint32_t max_len;  /* TYPE_VARLEN: bytes; 0xFFFF = MAX (PLP) */
  uint8_t precision, scale;
  uint8_t collation[5]; /* character types */
  bool null;
  bool stream;          /* the value is appended later in PLP chunks */
  const uint8_t *data;  /* the value without its length prefix */
  size_t len;
  uint8_t fixed[17];    /* storage for data of fixed-size types */
} tdsc__param;

/* Value converters: fill p (type, TYPE_INFO fields, value) from a C value
 * for SQL type t; p->name is used in messages only. TDSC_E_CONVERSION
 * (naming the parameter, the C value kind and the SQL type) when t cannot
 * hold the value. Text and bytes are not copied: p->data points into the
 * caller's storage (store for text, which is converted into it). */
tdsc_errc tdsc__param_null(tdsc__param *p, tdsc_type t, const uint8_t coll[5],
                           tdsc_error *err);
tdsc_errc tdsc__param_int64(tdsc__param *p, tdsc_type t, int64_t v,
                            tdsc_error *err);
tdsc_errc tdsc__param_double(tdsc__param *p, tdsc_type t, double v,
                             tdsc_error *err);
tdsc_errc tdsc__param_decimal(tdsc__param *p, tdsc_type t,
                              const tdsc_decimal *v, tdsc_error *err);
tdsc_errc tdsc__param_datetime(tdsc__param *p, tdsc_type t,
                               const tdsc_datetime *v, tdsc_error *err);
tdsc_errc tdsc__param_guid(tdsc__param *p, const uint8_t v[16]);
/* UTF-8 text as nvarchar/nchar/ntext/xml (UTF-16LE) or varchar/char/text
 * (in the code page of coll; characters it lacks are TDSC_E_CONVERSION,
 * never replaced). The converted value is appended to store (reset first). */
tdsc_errc tdsc__param_text(tdsc__param *p, tdsc_type t, const char *utf8,
                           size_t n, const uint8_t coll[5], tdsc__buf *store,
                           tdsc_error *err);
tdsc_errc tdsc__param_bytes(tdsc__param *p, tdsc_type t, const void *b,
                            size_t n, tdsc_error *err);
/* A MAX value (varbinary, varchar, nvarchar) sent later in chunks. */
tdsc_errc tdsc__param_stream(tdsc__param *p, tdsc_type t,
                             const uint8_t coll[5], tdsc_error *err);

/* rpc_text.c: the non-character types from their text form (decimal,
 * numeric, money, smallmoney, the date and time types, uniqueidentifier):
 * *handled false for other types (p untouched).  A malformed text is
 * TDSC_E_CONVERSION naming p and the expected form. */
tdsc_errc tdsc__param_from_text(tdsc__param *p, tdsc_type t, const char *s,
                                size_t n, bool *handled, tdsc_error *err);
/* The decimal a double reads as (its shortest round-trip text):
 * TDSC_E_CONVERSION for NaN, infinities and values beyond 38 digits. */
tdsc_errc tdsc__double_to_decimal(double v, tdsc_decimal *out);

/* Starts an RPC payload: ALL_HEADERS (transaction descriptor), then
 * ProcID (proc_name NULL) or ProcName, then OptionFlags. */
tdsc_errc tdsc__rpc_begin(tdsc__buf *out, const uint8_t txn[8],
                          uint32_t outstanding, uint16_t proc_id,
                          const char *proc_name, uint16_t options,
                          tdsc_error *err);
/* Appends one parameter: name, status, TYPE_INFO, value. For a stream
 * parameter only the PLP total length follows TYPE_INFO (total < 0:
 * unknown, 2.2.5.2.3); the caller then appends chunks and the end. */
tdsc_errc tdsc__rpc_param(tdsc__buf *out, const tdsc__param *p,
                          long long total, tdsc_error *err);
/* A PLP chunk (n > 0) and the terminator. */
void tdsc__rpc_plp_chunk(tdsc__buf *out, const void *data, uint32_t n);
void tdsc__rpc_plp_end(tdsc__buf *out);

/* Appends the parameter's T-SQL type as sp_executesql's @params
 * declaration spells it: "int", "nvarchar(4000)", "varbinary(max)",
 * "decimal(10,2)", "datetime2(7)", ... */
void tdsc__param_decl(const tdsc__param *p, tdsc__buf *out);

#endif
