/* What the value files share and callers do not (values.h is the
 * interface): values.c (C types), values_text.c (text), decimal.c
 * (exact decimals) and variant.c (sql_variant).  Calls go one way:
 * values_text.c -> values.c -> decimal.c, variant.c. */
#ifndef TDSC_VALUES_PRIV_H
#define TDSC_VALUES_PRIV_H

#include "proto/values.h"

/* values.c: the errors every getter gives, and the readers text builds on. */
tdsc_errc tdsc__val_conv_error(const tdsc__colinfo *c, const char *target,
                               tdsc_error *err);
tdsc_errc tdsc__val_bad_len(const tdsc__colinfo *c, size_t len, size_t want,
                            tdsc_error *err);
tdsc_errc tdsc__val_null_error(tdsc_error *err);
/* bit, tinyint, smallint, int, bigint; the payload length must match. */
tdsc_errc tdsc__val_read_int(const tdsc__colinfo *c, const tdsc__value *v,
                             int64_t *out, tdsc_error *err);
/* Any exact numeric type (integers, decimal/numeric, money) as a decimal;
 * CONVERSION (naming target) for the others. */
tdsc_errc tdsc__val_to_decimal(const tdsc__colinfo *c, const tdsc__value *v,
                               tdsc_decimal *d, const char *target,
                               tdsc_error *err);

/* decimal.c */
void tdsc__decimal_from_int(tdsc_decimal *d, int64_t i, uint8_t precision,
                            uint8_t scale);
/* decimal/numeric payload (2.2.5.5.1.5): a sign byte (1 positive, 0
 * negative), then a little-endian magnitude of 4, 8, 12 or 16 bytes. */
tdsc_errc tdsc__decimal_read(const tdsc__colinfo *c, const tdsc__value *v,
                             tdsc_decimal *d, tdsc_error *err);
double tdsc__decimal_to_double(const tdsc_decimal *d);

/* Runs getter on a variant's base value; the message says it was one. */
#define VARIANT_DISPATCH(c, v, err, call)                                      \
  do {                                                                         \
    tdsc__colinfo bc_;                                                         \
    tdsc__value bv_;                                                           \
    tdsc_errc rc_ = tdsc__variant_unpack(c, v, &bc_, &bv_, err);               \
    if (rc_ == TDSC_OK)                                                        \
      rc_ = call(&bc_, &bv_);                                                  \
    if (rc_ != TDSC_OK && rc_ != TDSC_E_NO_MEMORY)                             \
      tdsc__err_context(err, "sql_variant");                                   \
    return rc_;                                                                \
  } while (0)

#endif
