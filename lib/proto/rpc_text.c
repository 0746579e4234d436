/* Parameters from text and from doubles (rpc.h): strict parsers of the
 * text forms tdsc_result_get_text writes (decimal "-1234.5678", ISO 8601
 * dates and times, GUIDs 8-4-4-4-12), turned into the typed values that
 * rpc.c's converters send.  A text that does not parse, or that would
 * lose digits (more decimals than the type keeps), is TDSC_E_CONVERSION
 * naming the parameter and the expected form: never truncated or
 * rounded.  Also tdsc_decimal_from_string, the public helper. */
#include "config.h"

#include "proto/rpc.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses [+-]digits[.digits] (and, with allow_exp, an exponent e[+-]d,
 * for doubles' own text): at least one digit, at most 38 significant
 * ones.  *why says what is wrong. */
static bool decimal_parse(const char *s, size_t n, bool allow_exp,
                          tdsc_decimal *out, const char **why) {
  memset(out, 0, sizeof *out);
  size_t i = 0;
  if (i < n && (s[i] == '+' || s[i] == '-'))
    out->negative = s[i++] == '-';
  char digits[80];
  size_t nd = 0, scale = 0, ndigits_seen = 0;
  bool point = false;
  for (; i < n; i++) {
    char ch = s[i];
    if (ch >= '0' && ch <= '9') {
      ndigits_seen++;
      if (nd == 0 && ch == '0' && !point)
        continue; /* leading zeros of the integer part */
      if (nd >= sizeof digits - 1) {
        *why = "more than 38 digits";
        return false;
      }
      digits[nd++] = ch;
      scale += point;
    } else if (ch == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (ndigits_seen == 0) {
    *why = "no digits";
    return false;
  }
  long exp = 0;
  if (i < n && allow_exp && (s[i] == 'e' || s[i] == 'E')) {
    char *end;
    char buf[16];
    size_t el = n - i - 1 < sizeof buf - 1 ? n - i - 1 : sizeof buf - 1;
    memcpy(buf, s + i + 1, el);
    buf[el] = 0;
    exp = strtol(buf, &end, 10);
    if (end == buf || *end) {
      *why = "a malformed exponent";
      return false;
    }
    i = n;
  }
  if (i != n) {
    *why = "a character that is not a digit, a sign or one '.'";
    return false;
  }
  /* apply the exponent: move the point */
  long sc = (long)scale - exp;
  while (sc < 0) {
    if (nd >= sizeof digits - 1) {
      *why = "more than 38 digits";
      return false;
    }
    digits[nd++] = '0';
    sc++;
  }
  /* trailing zeros past the point that an exponent produced are kept:
   * they are what the text says */
  if (nd > 38 || sc > 38) {
    *why = "more than 38 digits";
    return false;
  }
  unsigned __int128 m = 0;
  for (size_t k = 0; k < nd; k++)
    m = m * 10 + (unsigned)(digits[k] - '0');
  for (int b = 0; b < 16; b++)
    out->magnitude[b] = (uint8_t)(m >> (8 * b));
  out->scale = (uint8_t)sc;
  size_t prec = nd > (size_t)sc ? nd : (size_t)sc;
  out->precision = (uint8_t)(prec ? prec : 1);
  if (m == 0)
    out->negative = false;
  return true;
}

tdsc_errc tdsc_decimal_from_string(const char *s, tdsc_decimal *out) {
  if (!s || !out)
    return TDSC_E_INVALID_ARGUMENT;
  const char *why;
  return decimal_parse(s, strlen(s), false, out, &why) ? TDSC_OK
                                                       : TDSC_E_CONVERSION;
}

static tdsc_errc text_error(const tdsc__param *p, tdsc_type t, const char *form,
                            const char *why, tdsc_error *err) {
  const char *name = p->name && *p->name ? p->name : "(positional)";
  tdsc__err_set(err, TDSC_E_CONVERSION,
                "parameter %s: the text is not a %s (%s); write %s", name,
                tdsc_type_name(t), why, form);
  tdsc__err_hint(err, "Pass text in the form the message shows, or bind "
                      "the typed value (tdsc_stmt_bind_decimal, "
                      "tdsc_stmt_bind_datetime, tdsc_stmt_bind_guid).");
  return TDSC_E_CONVERSION;
}

/* Reads exactly k digits at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, int k, long *v) {
  *v = 0;
  for (int j = 0; j < k; j++, (*i)++) {
    if (*i >= n || s[*i] < '0' || s[*i] > '9')
      return false;
    *v = *v * 10 + (s[*i] - '0');
  }
  return true;
}

/* ISO 8601 as tdsc_result_get_text writes it: date "YYYY-MM-DD", time
 * "hh:mm[:ss[.fffffff]]", both separated by ' ' or 'T', an offset
 * "+hh:mm", "-hh:mm" or "Z".  max_frac: fractional digits the type keeps. */
static bool datetime_parse(const char *s, size_t n, bool want_date,
                           bool want_time, bool want_offset, int max_frac,
                           tdsc_datetime *dt, const char **why) {
  memset(dt, 0, sizeof *dt);
  size_t i = 0;
  long v;
  *why = "not in the expected form";
  if (want_date) {
    if (!digits(s, n, &i, 4, &v))
      return false;
    dt->year = (int32_t)v;
    if (i >= n || s[i++] != '-' || !digits(s, n, &i, 2, &v))
      return false;
    dt->month = (uint8_t)v;
    if (i >= n || s[i++] != '-' || !digits(s, n, &i, 2, &v))
      return false;
    dt->day = (uint8_t)v;
    dt->has_date = true;
    if (want_time) {
      if (i >= n || (s[i] != ' ' && s[i] != 'T'))
        return false;
      i++;
    }
  }
  if (want_time) {
    if (!digits(s, n, &i, 2, &v))
      return false;
    dt->hour = (uint8_t)v;
    if (i >= n || s[i++] != ':' || !digits(s, n, &i, 2, &v))
      return false;
    dt->minute = (uint8_t)v;
    if (i < n && s[i] == ':') {
      i++;
      if (!digits(s, n, &i, 2, &v))
        return false;
      dt->second = (uint8_t)v;
      if (i < n && s[i] == '.') {
        i++;
        uint32_t ns = 0, scale = 100000000;
        int k = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++) {
          if (k >= max_frac) {
            *why = max_frac ? "more fractional digits than the type keeps"
                            : "fractional seconds the type does not keep";
            return false;
          }
          ns += (uint32_t)(s[i] - '0') * scale;
          scale /= 10;
        }
        if (k == 0)
          return false;
        dt->nanosecond = ns;
      }
    }
    dt->has_time = true;
  }
  if (want_offset) {
    if (i < n && s[i] == 'Z') {
      i++;
    } else if (i < n && (s[i] == ' ' || s[i] == '+' || s[i] == '-')) {
      if (s[i] == ' ')
        i++;
      if (i >= n || (s[i] != '+' && s[i] != '-'))
        return false;
      int sign = s[i++] == '-' ? -1 : 1;
      long oh, om;
      if (!digits(s, n, &i, 2, &oh) || i >= n || s[i++] != ':' ||
          !digits(s, n, &i, 2, &om) || om > 59)
        return false;
      dt->offset_minutes = (int16_t)(sign * (oh * 60 + om));
    } else {
      *why = "no offset (+hh:mm, -hh:mm or Z)";
      return false;
    }
    dt->has_offset = true;
  }
  if (i != n) {
    *why = "text after the value";
    return false;
  }
  return true;
}

static int hexval(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* 8-4-4-4-12 hex digits, optionally in braces, in RFC 4122 order. */
static bool guid_parse(const char *s, size_t n, uint8_t g[16]) {
  if (n == 38 && s[0] == '{' && s[37] == '}')
    s++, n -= 2;
  if (n != 36)
    return false;
  size_t k = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i++] != '-')
        return false;
      continue;
    }
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    g[k++] = (uint8_t)(hi << 4 | lo);
    i += 2;
  }
  return k == 16;
}

tdsc_errc tdsc__param_from_text(tdsc__param *p, tdsc_type t, const char *s,
                                size_t n, bool *handled, tdsc_error *err) {
  const char *why = "";
  *handled = true;
  switch (t) {
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY: {
    tdsc_decimal d;
    bool money = t == TDSC_TYPE_MONEY || t == TDSC_TYPE_SMALLMONEY;
    const char *form = money ? "[-]digits[.dddd], at most 4 decimals"
                             : "[-]digits[.digits], at most 38 digits";
    if (!decimal_parse(s, n, false, &d, &why))
      return text_error(p, t, form, why, err);
    if (money && d.scale > 4)
      return text_error(p, t, form, "more than 4 decimals", err);
    return tdsc__param_decimal(p, t, &d, err);
  }
  case TDSC_TYPE_DATE:
  case TDSC_TYPE_TIME:
  case TDSC_TYPE_DATETIME2:
  case TDSC_TYPE_DATETIMEOFFSET:
  case TDSC_TYPE_DATETIME:
  case TDSC_TYPE_SMALLDATETIME: {
    bool d = t != TDSC_TYPE_TIME, tm = t != TDSC_TYPE_DATE;
    bool off = t == TDSC_TYPE_DATETIMEOFFSET;
    int frac = t == TDSC_TYPE_DATETIME        ? 3
               : t == TDSC_TYPE_SMALLDATETIME ? 0
                                              : 7;
    const char *form =
        t == TDSC_TYPE_DATE             ? "YYYY-MM-DD"
        : t == TDSC_TYPE_TIME           ? "hh:mm:ss[.fffffff]"
        : t == TDSC_TYPE_DATETIMEOFFSET ? "YYYY-MM-DD hh:mm:ss[.fffffff] "
                                          "+hh:mm"
        : t == TDSC_TYPE_DATETIME       ? "YYYY-MM-DD hh:mm:ss[.fff]"
        : t == TDSC_TYPE_SMALLDATETIME  ? "YYYY-MM-DD hh:mm[:ss]"
                                        : "YYYY-MM-DD hh:mm:ss[.fffffff]";
    tdsc_datetime dt;
    if (!datetime_parse(s, n, d, tm, off, frac, &dt, &why))
      return text_error(p, t, form, why, err);
    tdsc_errc rc = tdsc__param_datetime(p, t, &dt, err);
    if (rc == TDSC_E_CONVERSION)
      tdsc__err_context(err, "from the text");
    return rc;
  }
  case TDSC_TYPE_UNIQUEIDENTIFIER: {
    uint8_t g[16];
    if (!guid_parse(s, n, g))
      return text_error(p, t,
                        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex, "
                        "braces optional)",
                        "not a GUID", err);
    return tdsc__param_guid(p, g);
  }
  default:
    *handled = false;
    return TDSC_OK;
  }
}

tdsc_errc tdsc__double_to_decimal(double v, tdsc_decimal *out) {
  if (!isfinite(v))
    return TDSC_E_CONVERSION;
  /* the shortest text that reads back as v: exactly the double's value
   * as a person would write it (0.1, not 0.1000000000000000055...) */
  char buf[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  /* printf and strtod follow LC_NUMERIC: the point may be a comma */
  char dp = localeconv()->decimal_point[0];
  for (char *c = buf; dp != '.' && *c; c++)
    if (*c == dp)
      *c = '.';
  const char *why;
  return decimal_parse(buf, strlen(buf), true, out, &why) ? TDSC_OK
                                                          : TDSC_E_CONVERSION;
}
