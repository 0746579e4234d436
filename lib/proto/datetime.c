/* Date and time values (MS-TDS 2.2.5.5.1.7-2.2.5.5.1.8): the six date/time
 * types' payloads to tdsc_datetime parts, and those parts to ISO 8601 text.
 * Calendar arithmetic is proleptic Gregorian on day counts; values.c calls
 * in here for the date/time getters and for text rendering. */
#include "config.h"

#include "proto/values.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_SEC 1000000000ULL
#define SEC_PER_DAY 86400ULL

/* Day numbers relative to 1970-01-01 of the two epochs TDS uses. */
#define EPOCH_0001 (-719162) /* date, datetime2, datetimeoffset */
#define EPOCH_1900 (-25567)  /* datetime, smalldatetime */
/* 9999-12-31, the last day of every SQL Server date type, from 0001-01-01 */
#define MAX_DAYS_0001 3652058

/* Days since 1970-01-01 to year/month/day, exact for any int64 input in
 * range of the year type: the era-based method (400-year cycles of 146097
 * days, years counted from March so the leap day comes last). */
static void civil_from_days(int64_t z, int32_t *y, uint8_t *m, uint8_t *d) {
  z += 719468; /* shift the epoch to 0000-03-01 */
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  /* within the era every quantity is small and not negative: 32-bit
   * unsigned arithmetic, whose divisions by constants are the cheapest
   * (issue 15: this was a quarter of a datetime2 getter) */
  uint32_t doe = (uint32_t)(z - era * 146097); /* [0, 146096] */
  uint32_t yoe =
      (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);     /* [0, 365] */
  uint32_t mp = (5 * doy + 2) / 153;                          /* [0, 11] */
  uint32_t dd = doy - (153 * mp + 2) / 5 + 1;                 /* [1, 31] */
  uint32_t mm = mp < 10 ? mp + 3 : mp - 9;                    /* [1, 12] */
  *y = (int32_t)((int64_t)yoe + era * 400 + (mm <= 2));
  *m = (uint8_t)mm;
  *d = (uint8_t)dd;
}

static tdsc_errc conv_error(const tdsc__colinfo *c, tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_CONVERSION,
                       "cannot read a %s column as datetime",
                       tdsc_type_name(c->type));
}

static tdsc_errc bad_len(const tdsc__colinfo *c, size_t len, tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_PROTOCOL,
                       "%s value of %zu bytes (scale %u) is malformed",
                       tdsc_type_name(c->type), len, (unsigned)c->scale);
}

/* 10^n for the scales of time(n) (0-7) and their complements to 9 */
static const uint64_t pow10u[10] = {1,         10,         100,
                                    1000,      10000,      100000,
                                    1000000,   10000000,   100000000,
                                    1000000000};

/* Bytes of a time(n) part: 2.2.5.5.1.8 (scale 0-2: 3, 3-4: 4, 5-7: 5). */
static size_t time_len(uint8_t scale) {
  return scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
}

/* Reads a time(n) part: 10^-n second units since midnight, little-endian. */
static bool read_time(tdsc__rd *r, uint8_t scale, uint64_t *ns) {
  size_t n = time_len(scale);
  const uint8_t *p = tdsc__rd_take(r, n);
  uint64_t units = 0;
  if (!p)
    return false;
  for (size_t i = n; i-- > 0;)
    units = (units << 8) | p[i];
  if (units >= SEC_PER_DAY * pow10u[scale])
    return false;
  *ns = units * pow10u[9 - scale];
  return true;
}

/* Reads a 3-byte date part: days since 0001-01-01 (2.2.5.5.1.7). */
static bool read_date(tdsc__rd *r, int64_t *days) {
  const uint8_t *p = tdsc__rd_take(r, 3);
  if (!p)
    return false;
  uint32_t d = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
  if (d > MAX_DAYS_0001)
    return false;
  *days = (int64_t)d + EPOCH_0001;
  return true;
}

static void set_date(tdsc_datetime *dt, int64_t days1970) {
  civil_from_days(days1970, &dt->year, &dt->month, &dt->day);
  dt->has_date = true;
}

static void set_time(tdsc_datetime *dt, uint64_t ns) {
  uint64_t s = ns / NS_PER_SEC;
  dt->nanosecond = (uint32_t)(ns % NS_PER_SEC);
  dt->hour = (uint8_t)(s / 3600);
  dt->minute = (uint8_t)(s / 60 % 60);
  dt->second = (uint8_t)(s % 60);
  dt->has_time = true;
}

tdsc_errc tdsc__val_datetime(const tdsc__colinfo *c, const tdsc__value *v,
                             tdsc_datetime *out, tdsc_error *err) {
  tdsc__rd r;
  tdsc_datetime dt;
  int64_t days = 0;
  uint64_t ns = 0;

  if (v->null)
    return tdsc__err_set(err, TDSC_E_NULL_VALUE, "the value is NULL");
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
    tdsc__colinfo bc;
    tdsc__value bv;
    tdsc_errc rc = tdsc__variant_unpack(c, v, &bc, &bv, err);
    if (rc == TDSC_OK)
      rc = tdsc__val_datetime(&bc, &bv, out, err);
    if (rc != TDSC_OK)
      tdsc__err_context(err, "sql_variant");
    return rc;
  }
  memset(&dt, 0, sizeof dt);
  tdsc__rd_init(&r, v->data, v->len);
  switch (c->type) {
  case TDSC_TYPE_DATE:
    if (v->len != 3 || !read_date(&r, &days))
      return bad_len(c, v->len, err);
    set_date(&dt, days);
    break;
  case TDSC_TYPE_TIME:
    if (c->scale > 7 || v->len != time_len(c->scale) ||
        !read_time(&r, c->scale, &ns))
      return bad_len(c, v->len, err);
    set_time(&dt, ns);
    break;
  case TDSC_TYPE_DATETIME2:
    if (c->scale > 7 || v->len != time_len(c->scale) + 3 ||
        !read_time(&r, c->scale, &ns) || !read_date(&r, &days))
      return bad_len(c, v->len, err);
    set_date(&dt, days);
    set_time(&dt, ns);
    break;
  case TDSC_TYPE_DATETIMEOFFSET: {
    /* Stored as UTC plus the offset (2.2.5.5.1.8); shown as local time. */
    if (c->scale > 7 || v->len != time_len(c->scale) + 5 ||
        !read_time(&r, c->scale, &ns) || !read_date(&r, &days))
      return bad_len(c, v->len, err);
    int16_t off = (int16_t)tdsc__rd_u16le(&r);
    if (off < -840 || off > 840)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "datetimeoffset offset of %d minutes is out of "
                           "range (-14:00..+14:00)",
                           (int)off);
    int64_t local = (int64_t)ns + (int64_t)off * 60 * (int64_t)NS_PER_SEC;
    int64_t day_ns = (int64_t)(SEC_PER_DAY * NS_PER_SEC);
    if (local < 0) {
      local += day_ns;
      days--;
    } else if (local >= day_ns) {
      local -= day_ns;
      days++;
    }
    set_date(&dt, days);
    set_time(&dt, (uint64_t)local);
    dt.offset_minutes = off;
    dt.has_offset = true;
    break;
  }
  case TDSC_TYPE_DATETIME: {
    /* 2.2.5.5.1.8: signed days since 1900-01-01, then 1/300 s ticks. SQL
     * Server shows milliseconds rounded to the nearest (.000/.003/.007), so
     * ms = round(ticks * 10 / 3); the +1 rounds thirds correctly. */
    if (v->len != 8)
      return bad_len(c, v->len, err);
    int32_t d = (int32_t)tdsc__rd_u32le(&r);
    uint32_t ticks = tdsc__rd_u32le(&r);
    if (ticks >= 300 * SEC_PER_DAY || d < -53690 || d > 2958463)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "datetime value (day %ld, tick %lu) is out of "
                           "range",
                           (long)d, (unsigned long)ticks);
    uint64_t ms = ((uint64_t)ticks * 10 + 1) / 3;
    set_date(&dt, (int64_t)d + EPOCH_1900);
    set_time(&dt, ms * 1000000);
    break;
  }
  case TDSC_TYPE_SMALLDATETIME: {
    if (v->len != 4)
      return bad_len(c, v->len, err);
    uint16_t d = tdsc__rd_u16le(&r);
    uint16_t min = tdsc__rd_u16le(&r);
    if (min >= 1440)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "smalldatetime minute %u is out of range",
                           (unsigned)min);
    set_date(&dt, (int64_t)d + EPOCH_1900);
    set_time(&dt, (uint64_t)min * 60 * NS_PER_SEC);
    break;
  }
  default:
    return conv_error(c, err);
  }
  *out = dt;
  return TDSC_OK;
}

void tdsc__datetime_text(const tdsc_datetime *dt, unsigned frac_digits,
                         tdsc__buf *out) {
  char s[80];
  int n = 0;
  if (frac_digits > 9)
    frac_digits = 9;
  if (dt->has_date)
    n += snprintf(s + n, sizeof s - (size_t)n, "%04ld-%02u-%02u",
                  (long)dt->year, (unsigned)dt->month, (unsigned)dt->day);
  if (dt->has_time) {
    n += snprintf(s + n, sizeof s - (size_t)n, "%s%02u:%02u:%02u",
                  dt->has_date ? " " : "", (unsigned)dt->hour,
                  (unsigned)dt->minute, (unsigned)dt->second);
    if (frac_digits > 0) {
      char f[10];
      snprintf(f, sizeof f, "%09lu",
               (unsigned long)(dt->nanosecond % 1000000000u));
      n += snprintf(s + n, sizeof s - (size_t)n, ".%.*s", (int)frac_digits, f);
    }
  }
  if (dt->has_offset) {
    int off = dt->offset_minutes;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
      off = -off;
    n += snprintf(s + n, sizeof s - (size_t)n, "%s%c%02d:%02d",
                  (dt->has_date || dt->has_time) ? " " : "", sign, off / 60,
                  off % 60);
  }
  tdsc__buf_put(out, s, (size_t)n);
}
