/* Transaction manager requests (MS-TDS 2.2.6.9): begin, commit, roll back
 * and save a local transaction without SQL text.  The server answers with
 * ENVCHANGE 8/9/10 carrying the transaction descriptor (2.2.7.9), which
 * the session keeps for the ALL_HEADERS of later requests. */
#include "config.h"

#include "proto/proto.h"

#include <string.h>

/* A transaction or savepoint name: B_VARBYTE (a byte count, then that many
 * bytes) of UTF-16LE; 2.2.6.9 spells the names B_VARBYTE, not B_VARCHAR. */
static tdsc_errc put_name(tdsc__buf *out, const char *name, tdsc_error *err) {
  size_t at = out->len;
  tdsc__buf_put_u8(out, 0);
  if (!name || !*name)
    return TDSC_OK;
  size_t bytes = tdsc__utf8_to_utf16le(name, strlen(name), out);
  if (bytes == (size_t)-1 || out->oom)
    return tdsc__err_oom(err);
  if (bytes > 255)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "the transaction name '%.40s...' is longer than 127 "
                         "UTF-16 units",
                         name);
  out->data[at] = (uint8_t)bytes;
  return TDSC_OK;
}

tdsc_errc tdsc__tm_encode(tdsc__tm_type type, uint8_t isolation,
                          const char *name, const uint8_t txn_descriptor[8],
                          tdsc__buf *out, tdsc_error *err) {
  if (isolation > 5)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "isolation level %u is not one of 0..5", isolation);
  if (type == TDSC__TM_SAVE && (!name || !*name))
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "a savepoint needs a name");
  tdsc__all_headers_put(out, txn_descriptor, 1);
  tdsc__buf_put_u16le(out, (uint16_t)type);
  tdsc_errc rc;
  switch (type) {
  case TDSC__TM_BEGIN:
    tdsc__buf_put_u8(out, isolation);
    rc = put_name(out, name, err);
    break;
  case TDSC__TM_COMMIT:
  case TDSC__TM_ROLLBACK:
    rc = put_name(out, name, err);
    tdsc__buf_put_u8(out, 0); /* XACT_FLAGS: no fBeginXact */
    break;
  case TDSC__TM_SAVE:
  default:
    rc = put_name(out, name, err);
    break;
  }
  if (rc == TDSC_OK && out->oom)
    rc = tdsc__err_oom(err);
  return rc;
}
