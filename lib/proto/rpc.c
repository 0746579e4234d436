/* RPC request payloads (MS-TDS 2.2.6.6) and the conversion of C values to
 * parameter values (2.2.5.5): exact or an error, never silently rounded
 * beyond what the SQL type is defined to do.  See rpc.h; the session's
 * stmt.c drives it and streams PLP chunks into packets. */
#include "config.h"

#include "proto/rpc.h"

#include "codepage.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/values.h" /* tdsc__collation_codepage */

/* TYPE_INFO type bytes (2.2.5.4). */
enum {
  W_GUID = 0x24,
  W_INTN = 0x26,
  W_DATEN = 0x28,
  W_TIMEN = 0x29,
  W_DATETIME2N = 0x2A,
  W_DATETIMEOFFSETN = 0x2B,
  W_SSVARIANT = 0x62,
  W_BITN = 0x68,
  W_DECIMALN = 0x6A,
  W_NUMERICN = 0x6C,
  W_FLTN = 0x6D,
  W_MONEYN = 0x6E,
  W_DATETIMN = 0x6F,
  W_BIGVARBIN = 0xA5,
  W_BIGVARCHR = 0xA7,
  W_BIGBINARY = 0xAD,
  W_BIGCHAR = 0xAF,
  W_NVARCHAR = 0xE7,
  W_NCHAR = 0xEF,
  W_XML = 0xF1
};

#define VAR_MAX 8000u    /* largest non-MAX character/binary length */
#define PLP_MAX 0xFFFFu  /* TYPE_VARLEN of the MAX types */
#define PLP_NULL UINT64_C(0xFFFFFFFFFFFFFFFF)
#define PLP_UNKNOWN UINT64_C(0xFFFFFFFFFFFFFFFE)
#define DAYS_0001_TO_1900 693595 /* 1900-01-01 as a day of the 0001 epoch */

static const char *pname(const tdsc__param *p) {
  return p->name && *p->name ? p->name : "(positional)";
}

static tdsc_errc conv(const tdsc__param *p, const char *what, tdsc_type t,
                      const char *why, tdsc_error *err) {
  tdsc__err_set(err, TDSC_E_CONVERSION,
                "parameter %s: cannot send %s as %s%s%s", pname(p), what,
                tdsc_type_name(t), why ? ": " : "", why ? why : "");
  /* the code's own hint speaks of getters: a bind needs its own */
  tdsc__err_hint(err, "Bind with the function that fits the parameter's "
                      "SQL type (tdsclient(3), Statements), or bind it as "
                      "text in the type's text form.");
  return TDSC_E_CONVERSION;
}

static void reset(tdsc__param *p, tdsc_type t) {
  const char *name = p->name;
  uint8_t status = p->status;
  memset(p, 0, sizeof *p);
  p->name = name;
  p->status = status;
  p->type = t;
  p->data = p->fixed;
}

static uint8_t dec_len(uint8_t prec) {
  return prec <= 9 ? 5 : prec <= 19 ? 9 : prec <= 28 ? 13 : 17;
}

/* TYPE_INFO of the fixed-length nullable types and their NULL. */
static bool fixed_type(tdsc__param *p, tdsc_type t) {
  switch (t) {
  case TDSC_TYPE_BIT:
    p->wire_type = W_BITN, p->max_len = 1;
    return true;
  case TDSC_TYPE_TINYINT:
    p->wire_type = W_INTN, p->max_len = 1;
    return true;
  case TDSC_TYPE_SMALLINT:
    p->wire_type = W_INTN, p->max_len = 2;
    return true;
  case TDSC_TYPE_INT:
    p->wire_type = W_INTN, p->max_len = 4;
    return true;
  case TDSC_TYPE_BIGINT:
    p->wire_type = W_INTN, p->max_len = 8;
    return true;
  case TDSC_TYPE_REAL:
    p->wire_type = W_FLTN, p->max_len = 4;
    return true;
  case TDSC_TYPE_FLOAT:
    p->wire_type = W_FLTN, p->max_len = 8;
    return true;
  case TDSC_TYPE_SMALLMONEY:
    p->wire_type = W_MONEYN, p->max_len = 4;
    return true;
  case TDSC_TYPE_MONEY:
    p->wire_type = W_MONEYN, p->max_len = 8;
    return true;
  case TDSC_TYPE_UNIQUEIDENTIFIER:
    p->wire_type = W_GUID, p->max_len = 16;
    return true;
  case TDSC_TYPE_DATE:
    p->wire_type = W_DATEN, p->max_len = 3;
    return true;
  /* scale 7: every value the C struct can carry (100 ns) survives */
  case TDSC_TYPE_TIME:
    p->wire_type = W_TIMEN, p->max_len = 5, p->scale = 7;
    return true;
  case TDSC_TYPE_DATETIME2:
    p->wire_type = W_DATETIME2N, p->max_len = 8, p->scale = 7;
    return true;
  case TDSC_TYPE_DATETIMEOFFSET:
    p->wire_type = W_DATETIMEOFFSETN, p->max_len = 10, p->scale = 7;
    return true;
  case TDSC_TYPE_SMALLDATETIME:
    p->wire_type = W_DATETIMN, p->max_len = 4;
    return true;
  case TDSC_TYPE_DATETIME:
    p->wire_type = W_DATETIMN, p->max_len = 8;
    return true;
  default:
    return false;
  }
}

/* Character and binary types: text/ntext/image travel as the MAX types
 * (deprecated types; the server converts), sizes from the value. */
static bool var_type(tdsc__param *p, tdsc_type t, size_t n,
                     const uint8_t coll[5]) {
  static const uint8_t no_coll[5] = {0};
  bool big = n > VAR_MAX;
  switch (t) {
  case TDSC_TYPE_CHAR:
    p->wire_type = W_BIGCHAR, p->max_len = n ? (uint32_t)n : 1;
    break;
  case TDSC_TYPE_NCHAR:
    p->wire_type = W_NCHAR, p->max_len = n ? (uint32_t)n : 2;
    break;
  case TDSC_TYPE_BINARY:
    p->wire_type = W_BIGBINARY, p->max_len = n ? (uint32_t)n : 1;
    break;
  case TDSC_TYPE_TEXT:
    big = true;
    t = TDSC_TYPE_VARCHAR;
    /* fall through */
  case TDSC_TYPE_VARCHAR:
    p->wire_type = W_BIGVARCHR, p->max_len = big ? PLP_MAX : VAR_MAX;
    break;
  case TDSC_TYPE_NTEXT:
    big = true;
    t = TDSC_TYPE_NVARCHAR;
    /* fall through */
  case TDSC_TYPE_NVARCHAR:
    p->wire_type = W_NVARCHAR, p->max_len = big ? PLP_MAX : VAR_MAX;
    break;
  case TDSC_TYPE_IMAGE:
    big = true;
    t = TDSC_TYPE_VARBINARY;
    /* fall through */
  case TDSC_TYPE_VARBINARY:
    p->wire_type = W_BIGVARBIN, p->max_len = big ? PLP_MAX : VAR_MAX;
    break;
  case TDSC_TYPE_XML:
    p->wire_type = W_XML, p->max_len = PLP_MAX;
    break;
  default:
    return false;
  }
  p->type = t;
  if (p->wire_type != W_BIGBINARY && p->wire_type != W_BIGVARBIN &&
      p->wire_type != W_XML)
    memcpy(p->collation, coll ? coll : no_coll, 5);
  return true;
}

tdsc_errc tdsc__param_null(tdsc__param *p, tdsc_type t, const uint8_t coll[5],
                           tdsc_error *err) {
  reset(p, t);
  p->null = true;
  if (fixed_type(p, t) || var_type(p, t, 0, coll))
    return TDSC_OK;
  if (t == TDSC_TYPE_DECIMAL || t == TDSC_TYPE_NUMERIC) {
    p->wire_type = t == TDSC_TYPE_DECIMAL ? W_DECIMALN : W_NUMERICN;
    p->precision = 18, p->scale = 0, p->max_len = dec_len(18);
    return TDSC_OK;
  }
  if (t == TDSC_TYPE_SQL_VARIANT) {
    p->wire_type = W_SSVARIANT, p->max_len = 8009;
    return TDSC_OK;
  }
  return conv(p, "NULL", t, "the type cannot be sent as a parameter", err);
}

static void put_le(uint8_t *d, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; i++, v >>= 8)
    d[i] = (uint8_t)v;
}

static tdsc_errc money(tdsc__param *p, tdsc_type t, __int128 scaled,
                       const char *what, tdsc_error *err) {
  if (t == TDSC_TYPE_SMALLMONEY) {
    if (scaled < INT32_MIN || scaled > INT32_MAX)
      return conv(p, what, t, "out of range", err);
    put_le(p->fixed, (uint64_t)(int64_t)scaled, 4);
    p->len = 4;
    return TDSC_OK;
  }
  if (scaled < INT64_MIN || scaled > INT64_MAX)
    return conv(p, what, t, "out of range", err);
  uint64_t u = (uint64_t)(int64_t)scaled;
  /* 2.2.5.5.1.4: the high 32 bits first, then the low 32 */
  put_le(p->fixed, u >> 32, 4);
  put_le(p->fixed + 4, u & 0xFFFFFFFFu, 4);
  p->len = 8;
  return TDSC_OK;
}

static unsigned digits128(unsigned __int128 m) {
  unsigned d = 0;
  while (m) {
    m /= 10;
    d++;
  }
  return d;
}

static tdsc_errc decimal_value(tdsc__param *p, tdsc_type t, bool neg,
                               unsigned __int128 mag, unsigned prec,
                               unsigned scale, const char *what,
                               tdsc_error *err) {
  unsigned d = digits128(mag);
  if (scale > 38)
    return conv(p, what, t, "scale above 38", err);
  if (prec < d)
    prec = d;
  if (prec < scale)
    prec = scale;
  if (prec < 1)
    prec = 1;
  if (prec > 38)
    return conv(p, what, t, "more than 38 digits", err);
  p->wire_type = t == TDSC_TYPE_DECIMAL ? W_DECIMALN : W_NUMERICN;
  p->precision = (uint8_t)prec;
  p->scale = (uint8_t)scale;
  p->max_len = dec_len(p->precision);
  p->fixed[0] = neg && mag ? 0 : 1; /* 2.2.5.5.1.6: 1 = positive */
  put_le(p->fixed + 1, (uint64_t)mag, 8);
  put_le(p->fixed + 9, (uint64_t)(mag >> 64), 8);
  p->len = p->max_len;
  return TDSC_OK;
}

tdsc_errc tdsc__param_int64(tdsc__param *p, tdsc_type t, int64_t v,
                            tdsc_error *err) {
  reset(p, t);
  const char *what = "an integer";
  switch (t) {
  case TDSC_TYPE_BIT:
    if (v != 0 && v != 1)
      return conv(p, what, t, "only 0 and 1 are bit values", err);
    break;
  case TDSC_TYPE_TINYINT:
    if (v < 0 || v > 255)
      return conv(p, what, t, "out of range 0..255", err);
    break;
  case TDSC_TYPE_SMALLINT:
    if (v < INT16_MIN || v > INT16_MAX)
      return conv(p, what, t, "out of range", err);
    break;
  case TDSC_TYPE_INT:
    if (v < INT32_MIN || v > INT32_MAX)
      return conv(p, what, t, "out of range", err);
    break;
  case TDSC_TYPE_BIGINT:
    break;
  case TDSC_TYPE_REAL:
  case TDSC_TYPE_FLOAT:
    return tdsc__param_double(p, t, (double)v, err);
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY:
    fixed_type(p, t);
    return money(p, t, (__int128)v * 10000, what, err);
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC: {
    unsigned __int128 mag = v < 0 ? (unsigned __int128)(-(__int128)v)
                                  : (unsigned __int128)v;
    return decimal_value(p, t, v < 0, mag, 0, 0, what, err);
  }
  default:
    return conv(p, what, t, NULL, err);
  }
  fixed_type(p, t);
  p->len = p->max_len;
  put_le(p->fixed, (uint64_t)v, p->len);
  return TDSC_OK;
}

tdsc_errc tdsc__param_double(tdsc__param *p, tdsc_type t, double v,
                             tdsc_error *err) {
  reset(p, t);
  const char *what = "a double";
  if (t == TDSC_TYPE_DECIMAL || t == TDSC_TYPE_NUMERIC ||
      t == TDSC_TYPE_MONEY || t == TDSC_TYPE_SMALLMONEY) {
    /* the double's shortest round-trip decimal text (0.1 is 0.1); money
     * then rounds half away from zero to 4 places (tdsclient(3)) */
    tdsc_decimal d;
    if (tdsc__double_to_decimal(v, &d) != TDSC_OK)
      return conv(p, what, t,
                  isfinite(v) ? "beyond 38 decimal digits"
                              : "SQL Server has no NaN or infinity",
                  err);
    return tdsc__param_decimal(p, t, &d, err);
  }
  if (t != TDSC_TYPE_REAL && t != TDSC_TYPE_FLOAT)
    return conv(p, what, t, NULL, err);
  if (!isfinite(v))
    return conv(p, what, t, "SQL Server has no NaN or infinity", err);
  fixed_type(p, t);
  if (t == TDSC_TYPE_REAL) {
    if (fabs(v) > 3.40282346638528859812e+38)
      return conv(p, what, t, "out of range", err);
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le(p->fixed, u, 4);
    p->len = 4;
  } else {
    uint64_t u;
    memcpy(&u, &v, 8);
    put_le(p->fixed, u, 8);
    p->len = 8;
  }
  return TDSC_OK;
}

static unsigned __int128 mag128(const tdsc_decimal *v) {
  unsigned __int128 m = 0;
  for (int i = 15; i >= 0; i--)
    m = (m << 8) | v->magnitude[i];
  return m;
}

tdsc_errc tdsc__param_decimal(tdsc__param *p, tdsc_type t,
                              const tdsc_decimal *v, tdsc_error *err) {
  reset(p, t);
  const char *what = "a decimal";
  unsigned __int128 m = mag128(v);
  if (t == TDSC_TYPE_DECIMAL || t == TDSC_TYPE_NUMERIC)
    return decimal_value(p, t, v->negative, m, v->precision, v->scale, what,
                         err);
  if (t != TDSC_TYPE_MONEY && t != TDSC_TYPE_SMALLMONEY)
    return conv(p, what, t, NULL, err);
  /* money has 4 decimals: scale up exactly, or round half away from zero
   * (as SQL Server converts decimal to money) */
  unsigned s = v->scale;
  if (s > 38 || digits128(m) > 38)
    return conv(p, what, t, "more than 38 digits", err);
  for (; s < 4; s++) {
    if (m > (((unsigned __int128)1) << 100))
      return conv(p, what, t, "out of range", err);
    m *= 10;
  }
  for (; s > 4; s--)
    m = s == 5 ? (m + 5) / 10 : m / 10;
  if (m > ((unsigned __int128)1 << 64))
    return conv(p, what, t, "out of range", err);
  fixed_type(p, t);
  __int128 sv = v->negative ? -(__int128)m : (__int128)m;
  return money(p, t, sv, what, err);
}

/* Days since 0001-01-01 of a valid civil date (Howard Hinnant's
 * days_from_civil, shifted to the TDS epoch). */
static int64_t days_0001(int32_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 + 719162; /* 1970 epoch -> 0001 */
}

static bool valid_date(const tdsc_datetime *v) {
  static const uint8_t mdays[12] = {31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  if (v->year < 1 || v->year > 9999 || v->month < 1 || v->month > 12 ||
      v->day < 1 || v->day > mdays[v->month - 1])
    return false;
  bool leap = (v->year % 4 == 0 && v->year % 100 != 0) || v->year % 400 == 0;
  return !(v->month == 2 && v->day == 29 && !leap);
}

tdsc_errc tdsc__param_datetime(tdsc__param *p, tdsc_type t,
                               const tdsc_datetime *v, tdsc_error *err) {
  reset(p, t);
  const char *what = "a date/time";
  if (!fixed_type(p, t) || p->wire_type < W_DATEN ||
      (p->wire_type > W_DATETIMEOFFSETN && p->wire_type != W_DATETIMN))
    return conv(p, what, t, NULL, err);
  bool need_date = t != TDSC_TYPE_TIME;
  bool need_time = t != TDSC_TYPE_DATE;
  if (need_date && !valid_date(v))
    return conv(p, what, t, "invalid date", err);
  if (need_time && (v->hour > 23 || v->minute > 59 || v->second > 59 ||
                    v->nanosecond > 999999999u))
    return conv(p, what, t, "invalid time of day", err);
  int64_t days = need_date ? days_0001(v->year, v->month, v->day) : 0;
  uint64_t sec = (uint64_t)v->hour * 3600 + v->minute * 60u + v->second;
  /* scale 7: 100 ns units; finer nanoseconds are truncated */
  uint64_t units = sec * 10000000u + v->nanosecond / 100;
  uint8_t *o = p->fixed;
  switch (t) {
  case TDSC_TYPE_DATE:
    put_le(o, (uint64_t)days, 3);
    p->len = 3;
    return TDSC_OK;
  case TDSC_TYPE_TIME:
    put_le(o, units, 5);
    p->len = 5;
    return TDSC_OK;
  case TDSC_TYPE_DATETIME2:
    put_le(o, units, 5);
    put_le(o + 5, (uint64_t)days, 3);
    p->len = 8;
    return TDSC_OK;
  case TDSC_TYPE_DATETIMEOFFSET: {
    /* 2.2.5.5.1.8: the date and time are UTC; the offset follows */
    if (v->offset_minutes < -840 || v->offset_minutes > 840)
      return conv(p, what, t, "offset beyond +/-14:00", err);
    const int64_t per_day = INT64_C(864000000000);
    int64_t total = days * per_day + (int64_t)units -
                    (int64_t)v->offset_minutes * 600000000;
    if (total < 0 || total >= (int64_t)(3652059) * per_day)
      return conv(p, what, t, "out of range in UTC", err);
    put_le(o, (uint64_t)(total % per_day), 5);
    put_le(o + 5, (uint64_t)(total / per_day), 3);
    put_le(o + 8, (uint16_t)v->offset_minutes, 2);
    p->len = 10;
    return TDSC_OK;
  }
  case TDSC_TYPE_DATETIME: {
    /* 2.2.5.5.1.8 DATETIME: days since 1900-01-01, then 1/300 s ticks
     * (rounded, as SQL Server rounds to .000/.003/.007) */
    int64_t d = days - DAYS_0001_TO_1900;
    uint64_t ticks = sec * 300 + (v->nanosecond * 3ull + 5000000) / 10000000;
    if (ticks >= 300ull * 86400) {
      ticks -= 300ull * 86400;
      d++;
    }
    if (v->year < 1753 || d > INT32_MAX)
      return conv(p, what, t, "datetime starts in 1753", err);
    put_le(o, (uint64_t)d, 4);
    put_le(o + 4, ticks, 4);
    p->len = 8;
    return TDSC_OK;
  }
  case TDSC_TYPE_SMALLDATETIME: {
    int64_t d = days - DAYS_0001_TO_1900;
    /* minutes, rounded: 29.999 s rounds up (SQL Server's rule) */
    uint64_t ns = sec * 1000000000ull + v->nanosecond;
    uint64_t min = (ns + 29999000000ull) / 60000000000ull;
    if (min >= 1440) {
      min -= 1440;
      d++;
    }
    if (d < 0 || d > 65535)
      return conv(p, what, t, "smalldatetime spans 1900-01-01..2079-06-06",
                  err);
    put_le(o, (uint64_t)d, 2);
    put_le(o + 2, min, 2);
    p->len = 4;
    return TDSC_OK;
  }
  default:
    return conv(p, what, t, NULL, err);
  }
}

tdsc_errc tdsc__param_guid(tdsc__param *p, const uint8_t v[16]) {
  reset(p, TDSC_TYPE_UNIQUEIDENTIFIER);
  fixed_type(p, TDSC_TYPE_UNIQUEIDENTIFIER);
  /* RFC 4122 order to the wire's: the first three fields little-endian */
  static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6,
                                    8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; i++)
    p->fixed[i] = v[order[i]];
  p->len = 16;
  return TDSC_OK;
}

/* UTF-8 to a code page (lib/codepage.h), failing on a character the code
 * page lacks (no transliteration: "?" in a parameter is data loss). */
static tdsc_errc to_codepage(const tdsc__param *p, tdsc_type t, int cp,
                             const char *s, size_t n, tdsc__buf *out,
                             tdsc_error *err) {
  size_t bad = 0;
  switch (tdsc__cp_from_utf8(cp, s, n, out, &bad)) {
  case TDSC__CP_OK:
    return TDSC_OK;
  case TDSC__CP_NO_CONVERTER:
    return conv(p, "non-ASCII text", t,
                "the collation's code page is not available here; bind it "
                "as nvarchar",
                err);
  case TDSC__CP_LOSSY:
    return tdsc__err_set(err, TDSC_E_CONVERSION,
                         "parameter %s: the text has a character (at byte "
                         "%zu) that the connection's code page %d lacks; "
                         "bind it as nvarchar",
                         pname(p), bad, cp);
  case TDSC__CP_OOM:
    break;
  }
  return tdsc__err_oom(err);
}

tdsc_errc tdsc__param_text(tdsc__param *p, tdsc_type t, const char *utf8,
                           size_t n, const uint8_t coll[5], tdsc__buf *store,
                           tdsc_error *err) {
  reset(p, t);
  tdsc__buf_reset(store);
  bool wide = t == TDSC_TYPE_NCHAR || t == TDSC_TYPE_NVARCHAR ||
              t == TDSC_TYPE_NTEXT || t == TDSC_TYPE_XML;
  bool narrow = t == TDSC_TYPE_CHAR || t == TDSC_TYPE_VARCHAR ||
                t == TDSC_TYPE_TEXT;
  if (!wide && !narrow) {
    bool handled;
    tdsc_errc rc = tdsc__param_from_text(p, t, utf8, n, &handled, err);
    if (handled)
      return rc;
    return conv(p, "text", t, NULL, err);
  }
  if (wide) {
    if (n && tdsc__utf8_to_utf16le(utf8, n, store) == (size_t)-1)
      return tdsc__err_oom(err);
  } else {
    int cp = coll ? tdsc__collation_codepage(coll) : 1252;
    bool ascii = true;
    for (size_t i = 0; i < n; i++)
      ascii &= (utf8[i] & 0x80) == 0;
    if (cp == 0 || ascii) /* UTF-8 collation, or text every page agrees on */
      tdsc__buf_put(store, utf8, n);
    else if (cp < 0)
      return conv(p, "non-ASCII text", t,
                  "the connection's collation has an unknown code page; "
                  "bind it as nvarchar",
                  err);
    else {
      tdsc_errc rc = to_codepage(p, t, cp, utf8, n, store, err);
      if (rc != TDSC_OK)
        return rc;
    }
  }
  if (store->oom)
    return tdsc__err_oom(err);
  if ((t == TDSC_TYPE_CHAR || t == TDSC_TYPE_NCHAR) && store->len > VAR_MAX)
    return conv(p, "text", t, "longer than 8000 bytes", err);
  var_type(p, t, store->len, coll);
  p->data = store->data;
  p->len = store->len;
  return TDSC_OK;
}

tdsc_errc tdsc__param_bytes(tdsc__param *p, tdsc_type t, const void *b,
                            size_t n, tdsc_error *err) {
  reset(p, t);
  if (t != TDSC_TYPE_BINARY && t != TDSC_TYPE_VARBINARY &&
      t != TDSC_TYPE_IMAGE)
    return conv(p, "bytes", t, NULL, err);
  if (t == TDSC_TYPE_BINARY && n > VAR_MAX)
    return conv(p, "bytes", t, "longer than 8000 bytes", err);
  var_type(p, t, n, NULL);
  p->data = b;
  p->len = n;
  return TDSC_OK;
}

tdsc_errc tdsc__param_stream(tdsc__param *p, tdsc_type t,
                             const uint8_t coll[5], tdsc_error *err) {
  reset(p, t);
  if (t != TDSC_TYPE_VARBINARY && t != TDSC_TYPE_VARCHAR &&
      t != TDSC_TYPE_NVARCHAR)
    return conv(p, "a stream", t, "only varbinary, varchar and nvarchar "
                "(as MAX) can be streamed", err);
  var_type(p, t, VAR_MAX + 1, coll);
  p->stream = true;
  return TDSC_OK;
}

tdsc_errc tdsc__rpc_begin(tdsc__buf *out, const uint8_t txn[8],
                          uint32_t outstanding, uint16_t proc_id,
                          const char *proc_name, uint16_t options,
                          tdsc_error *err) {
  tdsc__all_headers_put(out, txn, outstanding);
  if (proc_name) {
    /* ProcName: US_VARCHAR (length in characters) */
    size_t at = out->len;
    tdsc__buf_put_u16le(out, 0);
    size_t n = tdsc__utf8_to_utf16le(proc_name, strlen(proc_name), out);
    if (n == (size_t)-1)
      return tdsc__err_oom(err);
    if (n / 2 > 1046 || n == 0)
      return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                           "procedure name of %zu characters (1 to 1046 "
                           "allowed)", n / 2);
    if (!out->oom)
      tdsc__buf_set_u16le(out, at, (uint16_t)(n / 2));
  } else {
    tdsc__buf_put_u16le(out, 0xFFFF); /* then ProcID */
    tdsc__buf_put_u16le(out, proc_id);
  }
  tdsc__buf_put_u16le(out, options);
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}

static void put_typeinfo(tdsc__buf *out, const tdsc__param *p) {
  tdsc__buf_put_u8(out, p->wire_type);
  switch (p->wire_type) {
  case W_DATEN:
    return;
  case W_TIMEN:
  case W_DATETIME2N:
  case W_DATETIMEOFFSETN:
    tdsc__buf_put_u8(out, p->scale);
    return;
  case W_DECIMALN:
  case W_NUMERICN:
    tdsc__buf_put_u8(out, (uint8_t)p->max_len);
    tdsc__buf_put_u8(out, p->precision);
    tdsc__buf_put_u8(out, p->scale);
    return;
  case W_SSVARIANT:
    tdsc__buf_put_u32le(out, p->max_len);
    return;
  case W_XML:
    tdsc__buf_put_u8(out, 0); /* no schema */
    return;
  case W_BIGVARBIN:
  case W_BIGBINARY:
    tdsc__buf_put_u16le(out, (uint16_t)p->max_len);
    return;
  case W_BIGVARCHR:
  case W_BIGCHAR:
  case W_NVARCHAR:
  case W_NCHAR:
    tdsc__buf_put_u16le(out, (uint16_t)p->max_len);
    tdsc__buf_put(out, p->collation, 5);
    return;
  default: /* BYTELEN types */
    tdsc__buf_put_u8(out, (uint8_t)p->max_len);
  }
}

static bool is_plp(const tdsc__param *p) {
  return p->wire_type == W_XML || p->max_len == PLP_MAX;
}

tdsc_errc tdsc__rpc_param(tdsc__buf *out, const tdsc__param *p,
                          long long total, tdsc_error *err) {
  /* ParamMetaData: B_VARCHAR name (characters), StatusFlags, TYPE_INFO */
  size_t at = out->len;
  tdsc__buf_put_u8(out, 0);
  if (p->name && *p->name) {
    size_t n = tdsc__utf8_to_utf16le(p->name, strlen(p->name), out);
    if (n == (size_t)-1)
      return tdsc__err_oom(err);
    if (n / 2 > 128)
      return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                           "parameter name %s is longer than 128 characters",
                           p->name);
    if (!out->oom)
      out->data[at] = (uint8_t)(n / 2);
  }
  tdsc__buf_put_u8(out, p->status);
  put_typeinfo(out, p);
  if (p->stream) {
    tdsc__buf_put_u64le(out, total < 0 ? PLP_UNKNOWN : (uint64_t)total);
  } else if (is_plp(p)) {
    if (p->null) {
      tdsc__buf_put_u64le(out, PLP_NULL);
    } else {
      tdsc__buf_put_u64le(out, p->len);
      /* chunks of at most 2^31 - 1: values beyond 2 GiB are not SQL's */
      if (p->len)
        tdsc__rpc_plp_chunk(out, p->data, (uint32_t)p->len);
      tdsc__rpc_plp_end(out);
    }
  } else if (p->wire_type == W_SSVARIANT) {
    tdsc__buf_put_u32le(out, 0); /* only NULL variants are sent */
  } else if (p->wire_type == W_BIGVARBIN || p->wire_type == W_BIGBINARY ||
             p->wire_type == W_BIGVARCHR || p->wire_type == W_BIGCHAR ||
             p->wire_type == W_NVARCHAR || p->wire_type == W_NCHAR) {
    tdsc__buf_put_u16le(out, p->null ? 0xFFFF : (uint16_t)p->len);
    if (!p->null)
      tdsc__buf_put(out, p->data, p->len);
  } else {
    tdsc__buf_put_u8(out, p->null ? 0 : (uint8_t)p->len);
    if (!p->null)
      tdsc__buf_put(out, p->data, p->len);
  }
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}

void tdsc__rpc_plp_chunk(tdsc__buf *out, const void *data, uint32_t n) {
  tdsc__buf_put_u32le(out, n);
  tdsc__buf_put(out, data, n);
}

void tdsc__rpc_plp_end(tdsc__buf *out) { tdsc__buf_put_u32le(out, 0); }

void tdsc__param_decl(const tdsc__param *p, tdsc__buf *out) {
  char tmp[48];
  const char *n = tdsc_type_name(p->type);
  bool max = p->max_len == PLP_MAX;
  switch (p->wire_type) {
  case W_DECIMALN:
  case W_NUMERICN:
    snprintf(tmp, sizeof tmp, "%s(%u,%u)", n, p->precision, p->scale);
    break;
  case W_TIMEN:
  case W_DATETIME2N:
  case W_DATETIMEOFFSETN:
    snprintf(tmp, sizeof tmp, "%s(%u)", n, p->scale);
    break;
  case W_BIGVARCHR:
  case W_BIGVARBIN:
  case W_BIGCHAR:
  case W_BIGBINARY:
    if (max)
      snprintf(tmp, sizeof tmp, "%s(max)", n);
    else
      snprintf(tmp, sizeof tmp, "%s(%u)", n, (unsigned)p->max_len);
    break;
  case W_NVARCHAR:
  case W_NCHAR:
    if (max)
      snprintf(tmp, sizeof tmp, "%s(max)", n);
    else
      snprintf(tmp, sizeof tmp, "%s(%u)", n, (unsigned)p->max_len / 2);
    break;
  default:
    snprintf(tmp, sizeof tmp, "%s", n);
  }
  tdsc__buf_put_str(out, tmp);
}
