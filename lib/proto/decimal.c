/* Exact decimals (MS-TDS 2.2.5.5.1.5 decimal/numeric): the payload read
 * into a tdsc_decimal, integers and money widened into one, and a
 * decimal's text and nearest double.  Called by values.c and
 * values_text.c; calls nothing of theirs. */
#include "config.h"

#include "proto/values_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mag_from_u64(uint8_t mag[16], uint64_t u) {
  memset(mag, 0, 16);
  for (int i = 0; i < 8; i++)
    mag[i] = (uint8_t)(u >> (8 * i));
}

static bool mag_is_zero(const uint8_t mag[16]) {
  for (int i = 0; i < 16; i++)
    if (mag[i])
      return false;
  return true;
}

void tdsc__decimal_from_int(tdsc_decimal *d, int64_t i, uint8_t precision,
                            uint8_t scale) {
  d->precision = precision;
  d->scale = scale;
  d->negative = i < 0;
  /* 0 - (uint64_t)i is |i| also for INT64_MIN */
  mag_from_u64(d->magnitude, i < 0 ? 0 - (uint64_t)i : (uint64_t)i);
}

/* decimal/numeric payload (2.2.5.5.1.5): a sign byte (1 positive, 0
 * negative), then a little-endian magnitude of 4, 8, 12 or 16 bytes. */
tdsc_errc tdsc__decimal_read(const tdsc__colinfo *c, const tdsc__value *v,
                             tdsc_decimal *d, tdsc_error *err) {
  if (v->len != 5 && v->len != 9 && v->len != 13 && v->len != 17)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s value of %zu bytes (expected 5, 9, 13 or 17)",
                         tdsc_type_name(c->type), v->len);
  if (v->data[0] > 1)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s value has sign byte 0x%02x (expected 0 or 1)",
                         tdsc_type_name(c->type), (unsigned)v->data[0]);
  if (c->scale > 38 || c->scale > c->precision || c->precision > 38)
    return tdsc__err_set(err, TDSC_E_PROTOCOL, "%s(%u,%u) is not a valid type",
                         tdsc_type_name(c->type), (unsigned)c->precision,
                         (unsigned)c->scale);
  memset(d, 0, sizeof *d);
  d->precision = c->precision;
  d->scale = c->scale;
  memcpy(d->magnitude, v->data + 1, v->len - 1);
  /* A zero with sign byte 0 is still zero: never report "-0". */
  d->negative = v->data[0] == 0 && !mag_is_zero(d->magnitude);
  return TDSC_OK;
}

/* Writes the magnitude's decimal digits, most significant first, without
 * leading zeros ("0" for zero); returns their count (at most 39). The
 * 128-bit number is four 32-bit limbs divided by 10^9 by hand, so that no
 * compiler-specific 128-bit type is needed. */
static size_t mag_digits(const uint8_t mag[16], char out[40]) {
  uint32_t limb[4];
  char rev[48];
  size_t n = 0;
  for (int i = 0; i < 4; i++)
    limb[i] = tdsc__le32(mag + 4 * i);
  for (;;) {
    uint64_t rem = 0;
    bool zero = true;
    for (int i = 3; i >= 0; i--) {
      uint64_t cur = (rem << 32) | limb[i];
      limb[i] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
      if (limb[i])
        zero = false;
    }
    for (int k = 0; k < 9; k++) {
      rev[n++] = (char)('0' + rem % 10);
      rem /= 10;
    }
    if (zero)
      break;
  }
  while (n > 1 && rev[n - 1] == '0')
    n--;
  for (size_t i = 0; i < n; i++)
    out[i] = rev[n - 1 - i];
  out[n] = '\0';
  return n;
}

void tdsc__decimal_text(const tdsc_decimal *d, tdsc__buf *out) {
  char digits[40];
  size_t n = mag_digits(d->magnitude, digits);
  size_t scale = d->scale;
  if (d->negative && !(n == 1 && digits[0] == '0'))
    tdsc__buf_put_u8(out, '-');
  if (scale == 0) {
    tdsc__buf_put(out, digits, n);
    return;
  }
  /* At least one digit before the point: pad with zeros to scale + 1. */
  size_t lead_zeros = n < scale + 1 ? scale + 1 - n : 0;
  size_t total = n + lead_zeros, int_part = total - scale;
  for (size_t i = 0; i < total; i++) {
    if (i == int_part)
      tdsc__buf_put_u8(out, '.');
    tdsc__buf_put_u8(out,
                     (uint8_t)(i < lead_zeros ? '0' : digits[i - lead_zeros]));
  }
}

/* Exact decimal to the nearest double: strtod of "digitsE-scale" rounds
 * correctly, and a form without a decimal point reads the same in every
 * locale. */
double tdsc__decimal_to_double(const tdsc_decimal *d) {
  char s[64];
  char digits[40];
  mag_digits(d->magnitude, digits);
  snprintf(s, sizeof s, "%s%se-%u", d->negative ? "-" : "", digits,
           (unsigned)d->scale);
  return strtod(s, NULL);
}
