/* Token-stream encoders for the benchmarks: see fastenc.h. */
#include "fastenc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fe_reserve(fe_buf *b, size_t n) {
  if (b->len + n <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + n)
    cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) {
    perror("realloc");
    exit(2);
  }
  b->p = p;
  b->cap = cap;
}

void fe_bytes(fe_buf *b, const void *p, size_t n) {
  fe_reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

void fe_u8(fe_buf *b, uint8_t v) { fe_bytes(b, &v, 1); }

void fe_u16(fe_buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  fe_bytes(b, x, 2);
}

void fe_u32(fe_buf *b, uint32_t v) {
  fe_u16(b, (uint16_t)v);
  fe_u16(b, (uint16_t)(v >> 16));
}

void fe_u64(fe_buf *b, uint64_t v) {
  fe_u32(b, (uint32_t)v);
  fe_u32(b, (uint32_t)(v >> 32));
}

static void utf16(fe_buf *b, const char *ascii) {
  for (; *ascii; ascii++)
    fe_u16(b, (uint8_t)*ascii);
}

void fe_bvarchar(fe_buf *b, const char *ascii) {
  fe_u8(b, (uint8_t)strlen(ascii));
  utf16(b, ascii);
}

/* UserType, Flags (nullable), then TYPE_INFO by the caller. */
static void col_start(fe_buf *b) {
  fe_u32(b, 0);
  fe_u16(b, 0x0001);
}

static const uint8_t collation[5] = {0x09, 0x04, 0xD0, 0x00, 0x34};

void fe_mixed_colmetadata(fe_buf *b) {
  fe_u8(b, 0x81);
  fe_u16(b, FE_MIXED_NCOLS);
  col_start(b), fe_u8(b, 0x26), fe_u8(b, 4), fe_bvarchar(b, "i");
  col_start(b), fe_u8(b, 0x26), fe_u8(b, 8), fe_bvarchar(b, "big");
  col_start(b), fe_u8(b, 0xE7), fe_u16(b, 100), fe_bytes(b, collation, 5),
      fe_bvarchar(b, "name");
  col_start(b), fe_u8(b, 0x6A), fe_u8(b, 9), fe_u8(b, 18), fe_u8(b, 4),
      fe_bvarchar(b, "amount");
  col_start(b), fe_u8(b, 0x2A), fe_u8(b, 7), fe_bvarchar(b, "at");
  col_start(b), fe_u8(b, 0x6D), fe_u8(b, 8), fe_bvarchar(b, "f");
  col_start(b), fe_u8(b, 0x68), fe_u8(b, 1), fe_bvarchar(b, "flag");
  col_start(b), fe_u8(b, 0x24), fe_u8(b, 16), fe_bvarchar(b, "id");
  col_start(b), fe_u8(b, 0xA5), fe_u16(b, 16), fe_bvarchar(b, "bin");
}

void fe_mixed_row(fe_buf *b, uint32_t i) {
  char name[64];
  fe_u8(b, 0xD1);
  /* int: NULL every 11th row */
  if (i % 11 == 10)
    fe_u8(b, 0);
  else
    fe_u8(b, 4), fe_u32(b, i);
  fe_u8(b, 8), fe_u64(b, (uint64_t)i * 1000003u);
  /* nvarchar(50): 6 to 40 ASCII characters, NULL every 13th row */
  if (i % 13 == 12) {
    fe_u16(b, 0xFFFF);
  } else {
    int n = snprintf(name, sizeof name, "customer %u %.*s", i,
                     (int)(i % 29), "abcdefghijklmnopqrstuvwxyz0123");
    fe_u16(b, (uint16_t)(2 * n));
    utf16(b, name);
  }
  /* decimal(18,4): sign byte, 8-byte magnitude (2.2.5.5.1.6) */
  if (i % 7 == 6) {
    fe_u8(b, 0);
  } else {
    fe_u8(b, 9), fe_u8(b, i & 1 ? 1 : 0);
    fe_u64(b, (uint64_t)i * 12345u + 6789u);
  }
  /* datetime2(7): 5 bytes of 100 ns ticks, 3 bytes of days */
  {
    uint64_t ticks = ((uint64_t)i * 37u % 86400u) * 10000000u + i % 1000;
    uint32_t days = 737000u + i % 3000;
    uint8_t x[8];
    for (int k = 0; k < 5; k++)
      x[k] = (uint8_t)(ticks >> (8 * k));
    for (int k = 0; k < 3; k++)
      x[5 + k] = (uint8_t)(days >> (8 * k));
    fe_u8(b, 8);
    fe_bytes(b, x, 8);
  }
  {
    double d = i * 0.5 + 0.25;
    fe_u8(b, 8);
    fe_bytes(b, &d, 8);
  }
  if (i % 5 == 4)
    fe_u8(b, 0);
  else
    fe_u8(b, 1), fe_u8(b, (uint8_t)(i & 1));
  {
    uint8_t g[16];
    for (int k = 0; k < 16; k++)
      g[k] = (uint8_t)(i * 31u + (uint32_t)k * 7u);
    fe_u8(b, 16);
    fe_bytes(b, g, 16);
  }
  if (i % 3 == 2) {
    fe_u16(b, 0xFFFF);
  } else {
    uint8_t v[16];
    uint16_t n = (uint16_t)(1 + i % 16);
    for (int k = 0; k < n; k++)
      v[k] = (uint8_t)(i + (uint32_t)k);
    fe_u16(b, n);
    fe_bytes(b, v, n);
  }
}

void fe_ints_colmetadata(fe_buf *b) {
  fe_u8(b, 0x81);
  fe_u16(b, 8);
  for (int k = 0; k < 8; k++) {
    char nm[4] = {'c', (char)('0' + k), 0, 0};
    col_start(b), fe_u8(b, 0x26), fe_u8(b, 4), fe_bvarchar(b, nm);
  }
}

void fe_ints_row(fe_buf *b, uint32_t i) {
  fe_u8(b, 0xD1);
  for (uint32_t k = 0; k < 8; k++)
    fe_u8(b, 4), fe_u32(b, i * 8 + k);
}

void fe_one_colmetadata(fe_buf *b) {
  fe_u8(b, 0x81);
  fe_u16(b, 1);
  col_start(b), fe_u8(b, 0x26), fe_u8(b, 4), fe_u8(b, 0);
}

void fe_blob_colmetadata(fe_buf *b) {
  fe_u8(b, 0x81);
  fe_u16(b, 1);
  col_start(b), fe_u8(b, 0xA5), fe_u16(b, 0xFFFF), fe_bvarchar(b, "blob");
}

void fe_done(fe_buf *b, uint64_t rows, int more) {
  fe_u8(b, 0xFD);
  fe_u16(b, (uint16_t)(0x0010 | (more ? 0x0001 : 0)));
  fe_u16(b, 0xC1); /* SELECT */
  fe_u64(b, rows);
}
