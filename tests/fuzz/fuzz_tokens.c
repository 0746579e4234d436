/* Fuzz target: the token stream of a response (lib/proto/tokens.c) and
 * every value getter (lib/proto/values.c, values_text.c) on what it yields.
 *
 * Input: one flags byte, then the token stream (packet payloads, no
 * headers).  Flags: bit 0 lazy rows (tdsc__tokp_set_lazy); bit 1 fed in
 * pieces (bits 2..6 + 1 bytes more each time the parser asks for more, as
 * the session's buffer grows packet by packet; with bit 7, at once what
 * NEED_MORE asked for when that is more) rather than whole.
 *
 * Besides the sanitizers it checks the parser's contract (tokens.h): NEED_MORE
 * asks for more than it had, an event consumes no more than it was given,
 * LARGE_DATA points into the input, a lazy column's index is in range, and
 * the parser never loops without consuming. */
#include "config.h"

#include "fuzz.h"
#include "proto/tokens.h"
#include "proto/values.h"

#include <stdlib.h>
#include <string.h>

/* A lazy large value is gathered up to this much (the session holds up to
 * 1 GiB; here memory stays small). */
#define HOLD_MAX (1u << 20)

/* Every getter on one value, as tdsc_result_get_* would call them. */
static void exercise(const tdsc__colinfo *c, const tdsc__value *v) {
  tdsc_error err = {0};
  if (v->null) {
    FUZZ_CHECK(!v->len || v->data);
    return;
  }
  if (v->len)
    fuzz_touch(v->data, v->len);
  int64_t i64;
  double d;
  tdsc_decimal dec;
  tdsc_datetime dt;
  uint8_t guid[16];
  const uint8_t *bytes;
  size_t blen;
  tdsc__buf text;
  tdsc__buf_init(&text);
  (void)tdsc__val_int64(c, v, &i64, &err);
  (void)tdsc__val_double(c, v, &d, &err);
  if (tdsc__val_decimal(c, v, &dec, &err) == TDSC_OK)
    tdsc__decimal_text(&dec, &text);
  if (tdsc__val_datetime(c, v, &dt, &err) == TDSC_OK)
    tdsc__datetime_text(&dt, c->scale, &text);
  (void)tdsc__val_guid(c, v, guid, &err);
  if (tdsc__val_bytes(c, v, &bytes, &blen, &err) == TDSC_OK && blen)
    fuzz_touch(bytes, blen);
  if (tdsc__val_text(c, v, &text, &err) == TDSC_OK)
    fuzz_touch(text.data, text.len);
  tdsc__colinfo base;
  tdsc__value bv;
  if (tdsc__variant_unpack(c, v, &base, &bv, &err) == TDSC_OK) {
    FUZZ_CHECK(bv.null || !bv.len ||
               (bv.data >= v->data && bv.data + bv.len <= v->data + v->len));
    exercise(&base, &bv);
  }
  if (c->has_collation) {
    int cp = tdsc__collation_codepage(c->collation);
    (void)tdsc__codepage_to_utf8(cp, v->data, v->len, &text, &err);
  }
  tdsc__buf_free(&text);
  tdsc__err_clear(&err);
}

static void check_cols(const tdsc__colinfo *cols, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (cols[i].name)
      fuzz_touch(cols[i].name, strlen(cols[i].name));
}

static void describe(tdsc__tokp *p, const tdsc__event *ev,
                     const uint8_t *in, size_t have, tdsc__buf *held) {
  const tdsc__colinfo *cols = tdsc__tokp_cols(p);
  size_t ncols = tdsc__tokp_ncols(p);
  switch (ev->kind) {
  case TDSC__EV_COLMETADATA:
    FUZZ_CHECK(ev->u.colmetadata.ncols == ncols);
    check_cols(ev->u.colmetadata.cols, ev->u.colmetadata.ncols);
    break;
  case TDSC__EV_ROW:
    FUZZ_CHECK(ev->u.row.ncols == ncols);
    for (size_t i = 0; i < ev->u.row.ncols; i++)
      exercise(&cols[i], &ev->u.row.values[i]);
    break;
  case TDSC__EV_ROW_BEGIN:
    FUZZ_CHECK(ev->u.row.ncols == ncols && tdsc__tokp_in_row(p));
    break;
  case TDSC__EV_COLUMN:
    FUZZ_CHECK(ev->u.column.index < ncols);
    exercise(&cols[ev->u.column.index], &ev->u.column.value);
    break;
  case TDSC__EV_LARGE_BEGIN:
    FUZZ_CHECK(ev->u.large.index < ncols);
    tdsc__buf_reset(held);
    break;
  case TDSC__EV_LARGE_DATA:
    FUZZ_CHECK(ev->u.large.index < ncols && ev->u.large.len > 0);
    FUZZ_CHECK(ev->u.large.data >= in &&
               ev->u.large.data + ev->u.large.len <= in + have);
    if (held->len + ev->u.large.len <= HOLD_MAX)
      tdsc__buf_put(held, ev->u.large.data, ev->u.large.len);
    break;
  case TDSC__EV_LARGE_END: {
    FUZZ_CHECK(ev->u.large.index < ncols);
    /* as the session holds it (stream.c): never a NULL pointer, also
     * for an empty value */
    tdsc__value v = {false, held->data ? held->data : (const uint8_t *)"",
                     held->len};
    if (!held->oom)
      exercise(&cols[ev->u.large.index], &v);
    tdsc__buf_reset(held);
    break;
  }
  case TDSC__EV_RETURNVALUE:
    FUZZ_CHECK(ev->u.returnvalue.ncols == 1);
    check_cols(ev->u.returnvalue.col, 1);
    exercise(ev->u.returnvalue.col, &ev->u.returnvalue.values[0]);
    break;
  case TDSC__EV_INFO:
    if (ev->u.msg.text)
      fuzz_touch(ev->u.msg.text, strlen(ev->u.msg.text));
    break;
  case TDSC__EV_ENVCHANGE:
    if (ev->u.envchange.new_text)
      fuzz_touch(ev->u.envchange.new_text, strlen(ev->u.envchange.new_text));
    if (ev->u.envchange.new_len)
      fuzz_touch(ev->u.envchange.new_val, ev->u.envchange.new_len);
    if (ev->u.envchange.old_len)
      fuzz_touch(ev->u.envchange.old_val, ev->u.envchange.old_len);
    break;
  case TDSC__EV_FEATUREEXTACK:
    for (size_t i = 0; i < ev->u.featureextack.n; i++)
      if (ev->u.featureextack.lens[i])
        fuzz_touch(ev->u.featureextack.data[i], ev->u.featureextack.lens[i]);
    break;
  case TDSC__EV_SSPI:
    if (ev->u.sspi.len)
      fuzz_touch(ev->u.sspi.data, ev->u.sspi.len);
    break;
  case TDSC__EV_FEDAUTHINFO: /* NUL-terminated, in the parser's memory */
    if (ev->u.fedauthinfo.sts_url)
      fuzz_touch(ev->u.fedauthinfo.sts_url,
                 strlen(ev->u.fedauthinfo.sts_url));
    if (ev->u.fedauthinfo.spn)
      fuzz_touch(ev->u.fedauthinfo.spn, strlen(ev->u.fedauthinfo.spn));
    break;
  default:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t flags = data[0];
  const uint8_t *in = data + 1;
  size_t n = size - 1;
  bool pieces = flags & 2;
  size_t step = (size_t)((flags >> 2) & 0x1f) + 1;
  tdsc__tokp *p = tdsc__tokp_new();
  if (!p)
    return 0;
  tdsc__tokp_set_lazy(p, flags & 1);
  tdsc__buf held;
  tdsc__buf_init(&held);
  tdsc_error err = {0};
  size_t pos = 0, have = pieces ? (step < n ? step : n) : n;
  unsigned idle = 0; /* events in a row that consumed nothing */
  for (;;) {
    size_t used = 0, need = 0;
    tdsc__event ev;
    tdsc__tok_status st =
        tdsc__tokp_next(p, in + pos, have, &used, &need, &ev, &err);
    if (st == TDSC__TOK_FAIL) {
      FUZZ_CHECK(err.code != TDSC_OK && err.message);
      break;
    }
    if (st == TDSC__TOK_NEED_MORE) {
      FUZZ_CHECK(need > have);
      if (pos + have == n)
        break; /* the stream ends inside a token */
      size_t more = pieces ? step : n - pos - have;
      if (pieces && need - have > more && (flags & 0x80))
        more = need - have; /* jump to what it asked for */
      have += more < n - pos - have ? more : n - pos - have;
      continue;
    }
    FUZZ_CHECK(used <= have);
    describe(p, &ev, in + pos, have, &held);
    idle = used ? 0 : idle + 1;
    FUZZ_CHECK(idle <= 70000); /* more than any row's columns */
    pos += used;
    have -= used;
  }
  tdsc__buf_free(&held);
  tdsc__err_clear(&err);
  tdsc__tokp_free(p);
  return 0;
}
