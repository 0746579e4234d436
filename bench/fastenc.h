/* Token-stream encoders for the benchmarks (bench/fastsrv.c and the
 * decode-only workload of bench/rows_bench.c): small, written for this
 * purpose only, so that the server never measures the library it serves.
 * MS-TDS 2.2.7 (tokens) and 2.2.5 (types). */
#ifndef TDSC_BENCH_FASTENC_H
#define TDSC_BENCH_FASTENC_H

#include <stddef.h>
#include <stdint.h>

typedef struct fe_buf {
  uint8_t *p;
  size_t len, cap;
} fe_buf;

void fe_reserve(fe_buf *b, size_t n);
void fe_bytes(fe_buf *b, const void *p, size_t n);
void fe_u8(fe_buf *b, uint8_t v);
void fe_u16(fe_buf *b, uint16_t v);
void fe_u32(fe_buf *b, uint32_t v);
void fe_u64(fe_buf *b, uint64_t v);
/* B_VARCHAR: a byte of UTF-16 units, then UTF-16LE of an ASCII string. */
void fe_bvarchar(fe_buf *b, const char *ascii);

/* The mixed workload: int, bigint, nvarchar(50), decimal(18,4),
 * datetime2(7), float, bit, uniqueidentifier, varbinary(16), all nullable,
 * some NULLs. */
#define FE_MIXED_NCOLS 9
void fe_mixed_colmetadata(fe_buf *b);
/* Row i of the mixed workload (a ROW token). */
void fe_mixed_row(fe_buf *b, uint32_t i);

/* The decode-only workload: 8 int columns (INTN 4), never NULL. */
void fe_ints_colmetadata(fe_buf *b);
void fe_ints_row(fe_buf *b, uint32_t i);

/* SELECT 1: one unnamed int column. */
void fe_one_colmetadata(fe_buf *b);

/* One varbinary(max) column (PLP). */
void fe_blob_colmetadata(fe_buf *b);

/* DONE (2.2.7.6) with DONE_COUNT; more sets DONE_MORE. */
void fe_done(fe_buf *b, uint64_t rows, int more);

#endif
