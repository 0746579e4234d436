/* SQLBatch request payload (MS-TDS 2.2.6.7): ALL_HEADERS carrying the
 * transaction descriptor, then the batch text in UTF-16LE.  The session
 * splits the result into packets of type TDSC__PKT_SQLBATCH. */
#include "config.h"

#include "proto/proto.h"

/* ALL_HEADERS (2.2.5.3): TotalLength covers itself and every header; the
 * only header we send is the transaction descriptor (2.2.5.3.2), which
 * MARS-less connections must still include. */
#define TXN_HDR_LEN 18u
#define ALL_HDRS_LEN (4u + TXN_HDR_LEN)
#define HDR_TRANSACTION_DESCRIPTOR 2u

void tdsc__all_headers_put(tdsc__buf *out, const uint8_t txn_descriptor[8],
                           uint32_t outstanding_requests) {
  static const uint8_t no_txn[8] = {0};
  tdsc__buf_put_u32le(out, ALL_HDRS_LEN);
  tdsc__buf_put_u32le(out, TXN_HDR_LEN);
  tdsc__buf_put_u16le(out, HDR_TRANSACTION_DESCRIPTOR);
  tdsc__buf_put(out, txn_descriptor ? txn_descriptor : no_txn, 8);
  tdsc__buf_put_u32le(out, outstanding_requests);
}

tdsc_errc tdsc__sqlbatch_encode(const char *sql, size_t len,
                                const uint8_t txn_descriptor[8],
                                uint32_t outstanding_requests, tdsc__buf *out,
                                tdsc_error *err) {
  tdsc__all_headers_put(out, txn_descriptor, outstanding_requests);
  if (len > 0 && tdsc__utf8_to_utf16le(sql, len, out) == (size_t)-1)
    return tdsc__err_oom(err);
  if (out->oom)
    return tdsc__err_oom(err);
  return TDSC_OK;
}
