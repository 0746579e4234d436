/* Collations (MS-TDS 2.2.5.1.2) and the code pages of non-Unicode text:
 * which Windows code page a 5-byte collation stands for, and conversion of
 * char/varchar/text bytes from that code page to UTF-8 (the conversion
 * itself is the platform's: lib/codepage.h). */
#include "config.h"

#include "proto/values.h"

#include "codepage.h"

#include <stdio.h>
#include <string.h>

/* Collation bits of the first 4 bytes (little-endian), 2.2.5.1.2. */
#define COLL_LCID_MASK 0x000FFFFFu
#define COLL_FUTF8 (1u << 26)

/* SQL sort orders (SortId != 0) to code pages.  Source: the SortId list of
 * "SQL Server Collation Name" (Microsoft docs; the SQL_* collations and their
 * CPnnn suffix) as tabulated, with ids, in Microsoft's JDBC driver
 * (mssql-jdbc SQLCollation.java, SortOrder, from SQL Server's sqlscol.cpp).
 * Ranges: 30-35 cp437, 40-61 cp850 (49 is SQL_1xCompat_CP850), 50-54 and
 * 71-75 and 183-186 and 210-217 (EBCDIC sort rules on CP1 data) cp1252,
 * 80-98 cp1250, 104-108 cp1251, 112-124 cp1253, 128-130 cp1254, 136-138
 * cp1255, 144-146 cp1256, 152-160 cp1257, 192-206 the Asian code pages. */
static int sortid_codepage(uint8_t id) {
  switch (id) {
  case 30:
  case 31:
  case 32:
  case 33:
  case 34:
  case 35:
    return 437;
  case 40:
  case 41:
  case 42:
  case 43:
  case 44:
  case 45:
  case 49:
  case 55:
  case 56:
  case 57:
  case 58:
  case 59:
  case 60:
  case 61:
    return 850;
  case 50:
  case 51:
  case 52:
  case 53:
  case 54:
  case 71:
  case 72:
  case 73:
  case 74:
  case 75:
  case 183:
  case 184:
  case 185:
  case 186:
  case 210:
  case 211:
  case 212:
  case 213:
  case 214:
  case 215:
  case 216:
  case 217:
    return 1252;
  case 192:
  case 193:
  case 200:
    return 932;
  case 194:
  case 195:
  case 201:
    return 949;
  case 196:
  case 197:
  case 202:
    return 950;
  case 198:
  case 199:
  case 203:
    return 936;
  case 204:
  case 205:
  case 206:
    return 874;
  default:
    break;
  }
  if (id >= 80 && id <= 98)
    return 1250;
  if (id >= 104 && id <= 108)
    return 1251;
  if ((id >= 112 && id <= 114) || (id >= 120 && id <= 122) || id == 124)
    return 1253;
  if (id >= 128 && id <= 130)
    return 1254;
  if (id >= 136 && id <= 138)
    return 1255;
  if (id >= 144 && id <= 146)
    return 1256;
  if (id >= 152 && id <= 160)
    return 1257;
  return -1;
}

/* Windows collations (SortId 0): the code page of the locale's language.
 * Source: the Windows collation designators of "Windows Collation Name"
 * (Microsoft docs) and the ANSI code page of each LCID ([MS-LCID]; the
 * locales SQL Server supports as listed in mssql-jdbc's WindowsLocale).
 * Most languages use one code page for every sublanguage, so the primary
 * language id (low 10 bits) decides; Chinese, Serbian, Azeri, Uzbek and
 * Bosnian differ by sublanguage and are looked up whole first.  Locales
 * that have no ANSI code page (Unicode-only: Hindi, Tamil, ...) give -1:
 * SQL Server cannot store non-Unicode text in them. */
static int lcid_codepage(uint32_t lcid) {
  uint16_t langid = (uint16_t)(lcid & 0xFFFF);
  switch (langid) {
  case 0x0404:
  case 0x0C04:
  case 0x1404: /* zh-TW, zh-HK, zh-MO */
    return 950;
  case 0x0804:
  case 0x1004: /* zh-CN, zh-SG */
    return 936;
  case 0x081A:
  case 0x101A:
  case 0x141A:
  case 0x181A:
  case 0x041A:
    return 1250; /* Latin Serbian / Croatian / Bosnian */
  case 0x0C1A:
  case 0x1C1A:
  case 0x201A:
    return 1251; /* Cyrillic Serbian / Bosnian */
  case 0x042C:
  case 0x0443:
    return 1254; /* Latin Azeri, Latin Uzbek */
  case 0x082C:
  case 0x0843:
    return 1251; /* Cyrillic Azeri, Cyrillic Uzbek */
  case 0x0850:
    return 1251; /* Mongolian (traditional), as SQL Server maps it */
  default:
    break;
  }
  switch (langid & 0x3FF) {
  case 0x01:
  case 0x20:
  case 0x29:
  case 0x80:
  case 0x8C:
    return 1256; /* Arabic, Urdu, Farsi, Uighur, Dari */
  case 0x02:
  case 0x19:
  case 0x22:
  case 0x23:
  case 0x28:
  case 0x2F:
  case 0x3F:
  case 0x40:
  case 0x44:
  case 0x50:
  case 0x6D:
  case 0x85:
    return 1251; /* Bulgarian, Russian, Ukrainian, Belarusian, Tajik,
                    Macedonian, Kazakh, Kyrgyz, Tatar, Mongolian, Bashkir,
                    Yakut */
  case 0x05:
  case 0x0E:
  case 0x15:
  case 0x18:
  case 0x1A:
  case 0x1B:
  case 0x1C:
  case 0x24:
  case 0x42:
    return 1250; /* Czech, Hungarian, Polish, Romanian, Croatian, Slovak,
                    Albanian, Slovenian, Turkmen */
  case 0x08:
    return 1253; /* Greek */
  case 0x0D:
    return 1255; /* Hebrew */
  case 0x11:
    return 932; /* Japanese */
  case 0x12:
    return 949; /* Korean */
  case 0x1E:
    return 874; /* Thai */
  case 0x1F:
    return 1254; /* Turkish */
  case 0x25:
  case 0x26:
  case 0x27:
    return 1257; /* Estonian, Latvian, Lithuanian */
  case 0x2A:
    return 1258; /* Vietnamese */
  case 0x03:
  case 0x06:
  case 0x07:
  case 0x09:
  case 0x0A:
  case 0x0B:
  case 0x0C:
  case 0x0F:
  case 0x10:
  case 0x13:
  case 0x14:
  case 0x16:
  case 0x17:
  case 0x1D:
  case 0x21:
  case 0x2B:
  case 0x2D:
  case 0x2E:
  case 0x32:
  case 0x34:
  case 0x35:
  case 0x36:
  case 0x37:
  case 0x38:
  case 0x3B:
  case 0x3C:
  case 0x3E:
  case 0x41:
  case 0x52:
  case 0x56:
  case 0x5D:
  case 0x5E:
  case 0x5F:
  case 0x62:
  case 0x64:
  case 0x68:
  case 0x6A:
  case 0x6B:
  case 0x6C:
  case 0x6E:
  case 0x6F:
  case 0x70:
  case 0x78:
  case 0x7A:
  case 0x7C:
  case 0x7E:
  case 0x82:
  case 0x83:
  case 0x84:
  case 0x86:
  case 0x87:
  case 0x88:
    return 1252; /* Catalan, Danish, German, English, Spanish, Finnish,
                    French, Icelandic, Italian, Dutch, Norwegian,
                    Portuguese, Romansh, Swedish, Indonesian, Armenian,
                    Basque, Sorbian, Tswana, Xhosa, Zulu, Afrikaans,
                    Georgian, Faroese, Sami, Irish, Malay, Swahili, Welsh,
                    Galician, Inuktitut, Amharic, Tamazight, Frisian,
                    Filipino, Hausa, Yoruba, Quechua, Sotho, Luxembourgish,
                    Greenlandic, Igbo, Yi, Mapudungun, Mohawk, Breton,
                    Occitan, Corsican, Alsatian, K'iche', Kinyarwanda,
                    Wolof */
  default:
    return -1;
  }
}

int tdsc__collation_codepage(const uint8_t coll[5]) {
  uint32_t info = tdsc__le32(coll);
  uint8_t sortid = coll[4];
  if (info & COLL_FUTF8)
    return 0;
  if (sortid != 0)
    return sortid_codepage(sortid);
  return lcid_codepage(info & COLL_LCID_MASK);
}

/* ------------------------------------------------------------------ UTF-8 */

/* --------------------------------------------------------------- cp1252 */

/* 0x80-0x9F of Windows-1252 (0xA0-0xFF equal Latin-1).  The five bytes the
 * code page leaves undefined (81, 8D, 8F, 90, 9D) map to the C1 controls of
 * the same value, as Windows' MultiByteToWideChar does and so as SQL Server
 * itself converts them to nvarchar; iconv would reject them. */
static const uint16_t CP1252_HIGH[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static void cp1252_to_utf8(const uint8_t *p, size_t n, tdsc__buf *out) {
  tdsc__buf_reserve(out, n + n / 2);
  for (size_t i = 0; i < n; i++) {
    uint8_t b = p[i];
    if (b < 0x80)
      tdsc__buf_put_u8(out, b);
    else if (b < 0xA0)
      tdsc__buf_put_utf8(out, CP1252_HIGH[b - 0x80]);
    else
      tdsc__buf_put_utf8(out, b);
  }
}

static bool all_ascii(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] & 0x80)
      return false;
  return true;
}

tdsc_errc tdsc__codepage_to_utf8(int cp, const uint8_t *p, size_t n,
                                 tdsc__buf *out, tdsc_error *err) {
  switch (cp) {
  case 0:
    tdsc__utf8_sanitize(p, n, out);
    break;
  case 1252:
    cp1252_to_utf8(p, n, out);
    break;
  case 437:
  case 850:
  case 874:
  case 932:
  case 936:
  case 949:
  case 950:
  case 1250:
  case 1251:
  case 1253:
  case 1254:
  case 1255:
  case 1256:
  case 1257:
  case 1258:
    /* Every code page SQL Server uses agrees with ASCII below 0x80. */
    if (all_ascii(p, n)) {
      tdsc__buf_put(out, p, n);
      break;
    }
    if (!tdsc__cp_to_utf8(cp, p, n, out))
      return tdsc__err_set(err, TDSC_E_CONVERSION,
                           "no converter from code page %d to UTF-8 on this "
                           "system",
                           cp);
    break;
  default:
    return tdsc__err_set(err, TDSC_E_CONVERSION,
                         "cannot convert text in code page %d to UTF-8: "
                         "unknown code page",
                         cp);
  }
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}
