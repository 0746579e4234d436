/* Column values: from a decoded value's payload bytes (tokens.h) to C types
 * and to UTF-8 text, per the column's TYPE_INFO (MS-TDS 2.2.5.5).  Pure
 * functions, byte-exact; used by the session's result getters. */
#ifndef TDSC_VALUES_H
#define TDSC_VALUES_H

#include "proto/tokens.h"

/* Each function fails with TDSC_E_CONVERSION (message names the column's
 * type and the target) when the type does not fit, or TDSC_E_PROTOCOL when
 * the payload's length is wrong for its type. v must not be NULL-valued. */
tdsc_errc tdsc__val_int64(const tdsc__colinfo *c, const tdsc__value *v,
                          int64_t *out, tdsc_error *err);
tdsc_errc tdsc__val_double(const tdsc__colinfo *c, const tdsc__value *v,
                           double *out, tdsc_error *err);
tdsc_errc tdsc__val_decimal(const tdsc__colinfo *c, const tdsc__value *v,
                            tdsc_decimal *out, tdsc_error *err);
tdsc_errc tdsc__val_datetime(const tdsc__colinfo *c, const tdsc__value *v,
                             tdsc_datetime *out, tdsc_error *err);
tdsc_errc tdsc__val_guid(const tdsc__colinfo *c, const tdsc__value *v,
                         uint8_t out[16], tdsc_error *err);
tdsc_errc tdsc__val_bytes(const tdsc__colinfo *c, const tdsc__value *v,
                          const uint8_t **out, size_t *len, tdsc_error *err);
/* Appends the value's text (see tdsc_result_get_text) to out, without a
 * NUL. */
tdsc_errc tdsc__val_text(const tdsc__colinfo *c, const tdsc__value *v,
                         tdsc__buf *out, tdsc_error *err);

/* sql_variant (MS-TDS 2.2.5.5.4): the column info of the base type inside
 * a variant value, and that inner value (pointing into v's payload). The
 * getters above accept a variant and read its base value; this is for
 * callers that want the base type itself. TDSC_E_PROTOCOL when the payload
 * is malformed or its base type is not one a variant may hold. */
tdsc_errc tdsc__variant_unpack(const tdsc__colinfo *c, const tdsc__value *v,
                               tdsc__colinfo *base, tdsc__value *bv,
                               tdsc_error *err);

/* Text forms, exposed for unit tests and the CLI. */
void tdsc__decimal_text(const tdsc_decimal *d, tdsc__buf *out);
/* ISO 8601: "2024-02-29", "13:45:01.1234567", "2024-02-29 13:45:01.123",
 * "... +05:30"; fractional digits = scale (datetime: 3, smalldatetime: 0). */
void tdsc__datetime_text(const tdsc_datetime *dt, unsigned frac_digits,
                         tdsc__buf *out);

/* Collations (2.2.5.1.2): the Windows code page of a 5-byte collation, 0
 * when its fUTF8 bit is set (UTF-8), or -1 when unknown. */
int tdsc__collation_codepage(const uint8_t coll[5]);
/* Converts single/multi-byte text in code page cp (as returned above; 0 =
 * UTF-8, copied after validation) to UTF-8, appended to out. Fails with
 * TDSC_E_CONVERSION for an unknown code page. */
tdsc_errc tdsc__codepage_to_utf8(int cp, const uint8_t *p, size_t n,
                                 tdsc__buf *out, tdsc_error *err);

#endif
