/* Column values as UTF-8 text (values.h, tdsc_result_get_text): numbers
 * in the C locale's shortest exact form, character data through the
 * column's code page (collation.c), UTF-16 as UTF-8, binary as hex, dates
 * in ISO 8601 (datetime.c).  Reads the values with values.c's readers,
 * decimal.c and variant.c; called by the session's text getter. */
#include "config.h"

#include "proto/values_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces the locale's decimal point in a "%g" result with '.': the form
 * is [-]digits[<point>digits][e...], so the point is whatever sits between
 * the first digit run and the next digit or 'e' (it may be multibyte). */
static void c_locale_point(char *s) {
  char *p = s;
  if (*p == '-')
    p++;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p == '\0' || *p == 'e' || *p == '.')
    return;
  char *q = p;
  while (*q && !(*q >= '0' && *q <= '9') && *q != 'e')
    q++;
  *p = '.';
  memmove(p + 1, q, strlen(q) + 1);
}

/* The shortest "%.Ng" text that reads back as the same value in the
 * column's own precision (real: float, float: double). */
static void float_text(double d, bool single, tdsc__buf *out) {
  char s[64];
  if (isnan(d)) {
    tdsc__buf_put_str(out, "nan");
    return;
  }
  if (isinf(d)) {
    tdsc__buf_put_str(out, d < 0 ? "-inf" : "inf");
    return;
  }
  int maxp = single ? 9 : 17;
  for (int p = 1; p <= maxp; p++) {
    snprintf(s, sizeof s, "%.*g", p, d);
    if (single ? strtof(s, NULL) == (float)d : strtod(s, NULL) == d)
      break;
  }
  c_locale_point(s);
  tdsc__buf_put_str(out, s);
}

static void hex_text(const uint8_t *p, size_t n, tdsc__buf *out) {
  static const char hex[] = "0123456789ABCDEF";
  uint8_t *o = tdsc__buf_extend(out, 2 + 2 * n);
  if (!o)
    return;
  *o++ = '0';
  *o++ = 'x';
  for (size_t i = 0; i < n; i++) {
    *o++ = (uint8_t)hex[p[i] >> 4];
    *o++ = (uint8_t)hex[p[i] & 15];
  }
}

static tdsc_errc char_text(const tdsc__colinfo *c, const tdsc__value *v,
                           tdsc__buf *out, tdsc_error *err) {
  if (!c->has_collation)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s column has no collation, so no code page",
                         tdsc_type_name(c->type));
  int cp = tdsc__collation_codepage(c->collation);
  if (cp < 0)
    return tdsc__err_set(err, TDSC_E_CONVERSION,
                         "cannot read a %s column as text: its collation "
                         "(LCID 0x%05lx, SortId %u) has no known code page",
                         tdsc_type_name(c->type),
                         (unsigned long)(tdsc__le32(c->collation) & 0xFFFFF),
                         (unsigned)c->collation[4]);
  return tdsc__codepage_to_utf8(cp, v->data, v->len, out, err);
}

static unsigned frac_digits(const tdsc__colinfo *c) {
  switch (c->type) {
  case TDSC_TYPE_DATETIME:
    return 3;
  case TDSC_TYPE_TIME:
  case TDSC_TYPE_DATETIME2:
  case TDSC_TYPE_DATETIMEOFFSET:
    return c->scale;
  default:
    return 0;
  }
}

tdsc_errc tdsc__val_text(const tdsc__colinfo *c, const tdsc__value *v,
                         tdsc__buf *out, tdsc_error *err) {
  tdsc_errc rc = TDSC_OK;
  if (v->null)
    return tdsc__val_null_error(err);
  switch (c->type) {
  case TDSC_TYPE_BIT:
  case TDSC_TYPE_TINYINT:
  case TDSC_TYPE_SMALLINT:
  case TDSC_TYPE_INT:
  case TDSC_TYPE_BIGINT: {
    int64_t i;
    char s[24];
    if ((rc = tdsc__val_read_int(c, v, &i, err)) != TDSC_OK)
      return rc;
    snprintf(s, sizeof s, "%lld", (long long)i);
    tdsc__buf_put_str(out, s);
    break;
  }
  case TDSC_TYPE_REAL:
  case TDSC_TYPE_FLOAT: {
    double d;
    if ((rc = tdsc__val_double(c, v, &d, err)) != TDSC_OK)
      return rc;
    float_text(d, c->type == TDSC_TYPE_REAL, out);
    break;
  }
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY: {
    tdsc_decimal d;
    if ((rc = tdsc__val_to_decimal(c, v, &d, "text", err)) != TDSC_OK)
      return rc;
    tdsc__decimal_text(&d, out);
    break;
  }
  case TDSC_TYPE_CHAR:
  case TDSC_TYPE_VARCHAR:
  case TDSC_TYPE_TEXT:
    if ((rc = char_text(c, v, out, err)) != TDSC_OK)
      return rc;
    break;
  case TDSC_TYPE_XML:
  case TDSC_TYPE_NCHAR:
  case TDSC_TYPE_NVARCHAR:
  case TDSC_TYPE_NTEXT: {
    const uint8_t *p = v->data;
    size_t n = v->len;
    /* xml may start with a byte order mark: it is not part of the text. */
    if (c->type == TDSC_TYPE_XML && n >= 2 && p[0] == 0xFF && p[1] == 0xFE)
      p += 2, n -= 2;
    tdsc__utf16le_to_utf8(p, n, out);
    break;
  }
  case TDSC_TYPE_BINARY:
  case TDSC_TYPE_VARBINARY:
  case TDSC_TYPE_IMAGE:
  case TDSC_TYPE_UDT:
    hex_text(v->data, v->len, out);
    break;
  case TDSC_TYPE_UNIQUEIDENTIFIER: {
    uint8_t g[16];
    char s[40];
    if ((rc = tdsc__val_guid(c, v, g, err)) != TDSC_OK)
      return rc;
    snprintf(s, sizeof s,
             "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
             "%02X%02X%02X%02X%02X%02X",
             g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10],
             g[11], g[12], g[13], g[14], g[15]);
    tdsc__buf_put_str(out, s);
    break;
  }
  case TDSC_TYPE_DATE:
  case TDSC_TYPE_TIME:
  case TDSC_TYPE_SMALLDATETIME:
  case TDSC_TYPE_DATETIME:
  case TDSC_TYPE_DATETIME2:
  case TDSC_TYPE_DATETIMEOFFSET: {
    tdsc_datetime dt;
    if ((rc = tdsc__val_datetime(c, v, &dt, err)) != TDSC_OK)
      return rc;
    tdsc__datetime_text(&dt, frac_digits(c), out);
    break;
  }
  case TDSC_TYPE_SQL_VARIANT: {
#define CALL(bc, bv) tdsc__val_text(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  default:
    return tdsc__val_conv_error(c, "text", err);
  }
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}
