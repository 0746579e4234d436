"""The type system: TDS column types (TYPE_INFO, values), declared SQLite
types to TDS columns, rows and COLMETADATA, date parsing."""

import datetime
import decimal
import re
import struct
import uuid

from . import tds_stream
from .wire import COLLATION, TOK_COLMETADATA, TOK_NBCROW, TOK_ROW, b_varchar


TICKS_PER_SEC = 10 ** 7
TICKS_PER_DAY = 86400 * TICKS_PER_SEC

# ------------------------------------------------------------ date parsing

_DT_RE = re.compile(
    r'^\s*(?:(\d{1,4})-(\d{1,2})-(\d{1,2}))?'
    r'(?:[ T]?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?)?'
    r'\s*(Z|[+-]\d{1,2}:?\d{2})?\s*$')


def parse_datetime(s):
    """Returns (days since 0001-01-01 or None, ticks of 100ns or None,
    offset minutes or None)."""
    m = _DT_RE.match(s)
    if not m or (m.group(1) is None and m.group(4) is None):
        raise ValueError('cannot parse date/time %r' % s)
    days = ticks = off = None
    if m.group(1) is not None:
        d = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        days = d.toordinal() - 1
    if m.group(4) is not None:
        hh, mm = int(m.group(4)), int(m.group(5))
        ss = int(m.group(6) or 0)
        frac = (m.group(7) or '')[:7].ljust(7, '0')
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError('bad time %r' % s)
        ticks = ((hh * 60 + mm) * 60 + ss) * TICKS_PER_SEC + int(frac)
    if m.group(8):
        z = m.group(8)
        if z == 'Z':
            off = 0
        else:
            sign = -1 if z[0] == '-' else 1
            digits = z[1:].replace(':', '')
            off = sign * (int(digits[:-2]) * 60 + int(digits[-2:]))
    return days, ticks, off


# --------------------------------------------------------------- type system

class ConvError(Exception):
    pass


def time_len(scale):
    return 3 if scale <= 2 else 4 if scale <= 4 else 5


def dec_len(prec):
    return 5 if prec <= 9 else 9 if prec <= 19 else 13 if prec <= 28 else 17


class Column:
    """One result column: how to describe it and how to encode values."""

    def __init__(self, name, kind, nullable=True, size=0, prec=0, scale=0):
        self.name = name
        self.kind = kind          # see encode()
        self.nullable = nullable
        self.size = size          # bytes for fixed/var types; -1 = max (PLP)
        self.prec = prec
        self.scale = scale

    # SQL Server describes a NOT NULL column of a fixed-length type with the
    # fixed type (INT4 0x38, no length byte; MS-TDS 2.2.5.4.1), a nullable
    # one with the nullable type (INTN 0x26 and a length); clients see it.
    FIXED = {('bit', 1): 0x32, ('int', 1): 0x30, ('int', 2): 0x34,
             ('int', 4): 0x38, ('int', 8): 0x7F, ('float', 4): 0x3B,
             ('float', 8): 0x3E, ('money', 4): 0x7A, ('money', 8): 0x3C,
             ('datetime', 4): 0x3A, ('datetime', 8): 0x3D}

    def fixed(self):
        """The fixed type's byte, or None when the column is nullable."""
        if self.nullable:
            return None
        return self.FIXED.get((self.kind, self.size))

    # -- metadata
    def typeinfo(self):
        k = self.kind
        if self.fixed() is not None:
            return bytes([self.fixed()])
        if k == 'bit':
            return bytes([0x68, 1])
        if k == 'int':
            return bytes([0x26, self.size])
        if k == 'float':
            return bytes([0x6D, self.size])
        if k == 'money':
            return bytes([0x6E, self.size])
        if k in ('decimal', 'numeric'):
            return bytes([0x6A if k == 'decimal' else 0x6C,
                          dec_len(self.prec), self.prec, self.scale])
        if k in ('char', 'varchar'):
            t = 0xAF if k == 'char' else 0xA7
            return struct.pack('<BH', t, 0xFFFF if self.size < 0 else self.size) + COLLATION
        if k in ('nchar', 'nvarchar'):
            t = 0xEF if k == 'nchar' else 0xE7
            return struct.pack('<BH', t, 0xFFFF if self.size < 0 else self.size) + COLLATION
        if k in ('binary', 'varbinary'):
            t = 0xAD if k == 'binary' else 0xA5
            return struct.pack('<BH', t, 0xFFFF if self.size < 0 else self.size)
        if k in ('text', 'ntext'):
            t = 0x23 if k == 'text' else 0x63
            return struct.pack('<BI', t, 0x7FFFFFFF) + COLLATION + b'\x00'
        if k == 'image':
            return struct.pack('<BI', 0x22, 0x7FFFFFFF) + b'\x00'
        if k == 'guid':
            return bytes([0x24, 16])
        if k == 'date':
            return bytes([0x28])
        if k == 'time':
            return bytes([0x29, self.scale])
        if k == 'datetime2':
            return bytes([0x2A, self.scale])
        if k == 'datetimeoffset':
            return bytes([0x2B, self.scale])
        if k == 'datetime':
            return bytes([0x6F, self.size])
        raise AssertionError(k)

    def metadata(self):
        flags = 0x0008 | (0x0001 if self.nullable else 0)
        return (struct.pack('<IH', 0, flags) + self.typeinfo() +
                b_varchar(self.name))

    # -- values
    def null(self):
        k = self.kind
        if self.size < 0 and k in ('varchar', 'nvarchar', 'varbinary'):
            return b'\xff' * 8
        if k in ('char', 'varchar', 'nchar', 'nvarchar', 'binary', 'varbinary'):
            return b'\xff\xff'
        return b'\x00'   # 1-byte length 0 (also textptr length 0)

    def encode(self, v):
        if v is None:
            if self.fixed() is not None:  # only a broken NOT NULL gets here
                raise ConvError('Cannot insert the value NULL into a NOT '
                                'NULL column.')
            return self.null()
        if self.fixed() is not None:  # the same bytes, no length prefix
            return self.encode_n(v)[1:]
        return self.encode_n(v)

    def encode_n(self, v):
        k = self.kind
        try:
            if k == 'bit':
                return bytes([1, 1 if as_int(v) else 0])
            if k == 'int':
                iv = as_int(v)
                if self.size == 1:
                    return bytes([1]) + struct.pack('<B', iv)
                fmt = {2: '<h', 4: '<i', 8: '<q'}[self.size]
                return bytes([self.size]) + struct.pack(fmt, iv)
            if k == 'float':
                fv = float(v)
                return bytes([self.size]) + struct.pack(
                    '<f' if self.size == 4 else '<d', fv)
            if k == 'money':
                d = as_decimal(v).quantize(decimal.Decimal('0.0001'),
                                           rounding=decimal.ROUND_HALF_EVEN)
                iv = int(d.scaleb(4))
                if self.size == 4:
                    return bytes([4]) + struct.pack('<i', iv)
                return bytes([8]) + struct.pack('<iI', iv >> 32, iv & 0xFFFFFFFF)
            if k in ('decimal', 'numeric'):
                d = as_decimal(v)
                q = decimal.Decimal(1).scaleb(-self.scale)
                with decimal.localcontext() as ctx:
                    ctx.prec = 80
                    d = d.quantize(q, rounding=decimal.ROUND_HALF_UP)
                    iv = int(d.scaleb(self.scale))
                if abs(iv) >= 10 ** self.prec:
                    raise ConvError('Arithmetic overflow error converting to %s'
                                    % k)
                ln = dec_len(self.prec)
                return (bytes([ln, 0 if iv < 0 else 1]) +
                        abs(iv).to_bytes(ln - 1, 'little'))
            if k in ('char', 'varchar', 'text'):
                b = as_str(v).encode('cp1252', 'replace') if not isinstance(v, bytes) else v
                if k == 'char' and len(b) < self.size:
                    b = b + b' ' * (self.size - len(b))
                return self.var(b)
            if k in ('nchar', 'nvarchar', 'ntext'):
                b = (as_str(v) if not isinstance(v, bytes) else v.decode('utf-8', 'replace')).encode('utf-16-le')
                if k == 'nchar' and len(b) < self.size:
                    b = b + ' '.encode('utf-16-le') * ((self.size - len(b)) // 2)
                return self.var(b)
            if k in ('binary', 'varbinary', 'image'):
                b = v if isinstance(v, bytes) else as_str(v).encode('utf-8')
                if k == 'binary' and len(b) < self.size:
                    b = b + b'\x00' * (self.size - len(b))
                return self.var(b)
            if k == 'guid':
                if isinstance(v, bytes) and len(v) == 16:
                    u = uuid.UUID(bytes=v)
                else:
                    u = uuid.UUID(as_str(v).strip('{}'))
                return bytes([16]) + u.bytes_le
            if k in ('date', 'time', 'datetime2', 'datetimeoffset', 'datetime'):
                days, ticks, off = parse_datetime(as_str(v))
                return self.enc_dt(days, ticks, off)
        except (ValueError, TypeError, decimal.InvalidOperation, struct.error,
                OverflowError) as e:
            raise ConvError('Conversion failed when converting the value %r '
                            'to data type %s (%s).' % (short(v), k, e))
        raise AssertionError(k)

    def var(self, b):
        k = self.kind
        if k in ('text', 'ntext', 'image'):
            return (bytes([16]) + b'\x11' * 16 + b'\x00' * 8 +
                    struct.pack('<I', len(b)) + b)
        if self.size < 0:
            return tds_stream.plp_bytes(b, k in ('nvarchar', 'nchar', 'ntext'))
        if len(b) > self.size:
            raise ValueError('String or binary data would be truncated')
        return struct.pack('<H', len(b)) + b

    def enc_dt(self, days, ticks, off):
        k = self.kind
        sc = self.scale
        if k == 'date':
            if days is None:
                raise ValueError('no date')
            return bytes([3]) + days.to_bytes(3, 'little')
        if ticks is None:
            ticks = 0
        if days is None:
            days = 0 if k != 'datetime' else 693595   # 1900-01-01
        if k == 'datetime':
            base = datetime.date(1900, 1, 1).toordinal() - 1
            d = days - base
            if self.size == 4:
                minutes = (ticks + 30 * TICKS_PER_SEC) // (60 * TICKS_PER_SEC)
                if minutes >= 1440:
                    d, minutes = d + 1, minutes - 1440
                return bytes([4]) + struct.pack('<HH', d, minutes)
            t300 = (ticks * 300 + TICKS_PER_SEC // 2) // TICKS_PER_SEC
            if t300 >= 300 * 86400:
                d, t300 = d + 1, t300 - 300 * 86400
            return bytes([8]) + struct.pack('<iI', d, t300)
        if k == 'datetimeoffset':
            if off is None:
                off = 0
            total = days * TICKS_PER_DAY + ticks - off * 60 * TICKS_PER_SEC
            days, ticks = divmod(total, TICKS_PER_DAY)
        div = 10 ** (7 - sc)
        units = (ticks + div // 2) // div
        if units >= 86400 * 10 ** sc:      # rounding to the next day
            units -= 86400 * 10 ** sc
            days += 1
        tl = time_len(sc)
        tb = units.to_bytes(tl, 'little')
        if k == 'time':
            return bytes([tl]) + tb
        db = days.to_bytes(3, 'little')
        if k == 'datetime2':
            return bytes([tl + 3]) + tb + db
        return bytes([tl + 5]) + tb + db + struct.pack('<h', off)


def short(v):
    s = repr(v)
    return s if len(s) < 60 else s[:57] + '...'


def as_int(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != int(v):
            raise ValueError('not an integer')
        return int(v)
    if isinstance(v, str):
        return int(v.strip())
    raise TypeError('not an integer')


def as_decimal(v):
    if isinstance(v, bytes):
        raise TypeError('binary')
    if isinstance(v, float):
        return decimal.Decimal(repr(v))
    return decimal.Decimal(str(v).strip())


def as_str(v):
    if isinstance(v, float):
        return repr(v)
    return str(v)


_DECL_RE = re.compile(r'^\s*([a-z_][a-z0-9_ ]*?)\s*(?:\(\s*([^)]*?)\s*\))?\s*$')


def column_from_decl(name, decl, notnull):
    """Column for a declared type, or None if the type is unknown."""
    m = _DECL_RE.match(decl.lower())
    if not m:
        return None
    base = m.group(1)
    if base.endswith('_text'):
        base = base[:-5]
    args = [a.strip() for a in (m.group(2) or '').split(',') if a.strip()]
    try:
        nums = [int(a) if a != 'max' else 2147483647 for a in args]
    except ValueError:
        return None
    nul = not notnull

    def n_or(d):
        return nums[0] if nums else d
    if base == 'bit':
        return Column(name, 'bit', nul, 1)
    ints = {'tinyint': 1, 'smallint': 2, 'int': 4, 'integer': 4, 'bigint': 8}
    if base in ints:
        return Column(name, 'int', nul, ints[base])
    if base == 'real':
        return Column(name, 'float', nul, 4)
    if base in ('float', 'double', 'double precision'):
        size = 4 if nums and nums[0] <= 24 else 8
        return Column(name, 'float', nul, size)
    if base in ('decimal', 'numeric', 'dec'):
        p = nums[0] if nums else 18
        s = nums[1] if len(nums) > 1 else 0
        if not 1 <= p <= 38 or not 0 <= s <= p:
            return None
        return Column(name, 'numeric' if base == 'numeric' else 'decimal',
                      nul, dec_len(p), p, s)
    if base == 'money':
        return Column(name, 'money', nul, 8)
    if base == 'smallmoney':
        return Column(name, 'money', nul, 4)
    if base in ('char', 'character', 'varchar', 'character varying'):
        n = n_or(1)
        kind = 'char' if base in ('char', 'character') else 'varchar'
        if n > 8000:
            return Column(name, 'varchar', nul, -1)
        return Column(name, kind, nul, n)
    if base == 'text':
        return Column(name, 'text', nul, 0x7FFFFFFF)
    if base in ('nchar', 'nvarchar', 'national char', 'national character'):
        n = n_or(1)
        kind = 'nchar' if base != 'nvarchar' else 'nvarchar'
        if n > 4000:
            return Column(name, 'nvarchar', nul, -1)
        return Column(name, kind, nul, 2 * n)
    if base == 'ntext':
        return Column(name, 'ntext', nul, 0x7FFFFFFF)
    if base in ('binary', 'varbinary'):
        n = n_or(1)
        if n > 8000:
            return Column(name, 'varbinary', nul, -1)
        return Column(name, base, nul, n)
    if base == 'image':
        return Column(name, 'image', nul, 0x7FFFFFFF)
    if base == 'uniqueidentifier':
        return Column(name, 'guid', nul, 16)
    if base == 'date':
        return Column(name, 'date', nul, 3)
    if base in ('time', 'datetime2', 'datetimeoffset'):
        sc = nums[0] if nums else 7
        if not 0 <= sc <= 7:
            return None
        return Column(name, base, nul, 0, 0, sc)
    if base == 'smalldatetime':
        return Column(name, 'datetime', nul, 4)
    if base == 'datetime':
        return Column(name, 'datetime', nul, 8)
    return None


def column_from_values(name, values):
    kinds = set(type(v) for v in values if v is not None)
    if not kinds:
        return Column(name, 'int', True, 4)
    if kinds <= {int}:
        big = any(not -2 ** 31 <= v < 2 ** 31 for v in values if v is not None)
        return Column(name, 'int', True, 8 if big else 4)
    if kinds <= {int, float}:
        return Column(name, 'float', True, 8)
    if kinds == {bytes}:
        mx = max(len(v) for v in values if v is not None)
        return Column(name, 'varbinary', True, 8000 if mx <= 8000 else -1)
    mx = max(len(as_str(v) if not isinstance(v, bytes) else v.decode('utf-8', 'replace'))
             for v in values if v is not None)
    return Column(name, 'nvarchar', True, 8000 if mx <= 4000 else -1)


def encode_row(cols, row):
    parts = [c.encode(v) for c, v in zip(cols, row)]
    plain = bytes([TOK_ROW]) + b''.join(parts)
    if any(v is None for v in row):
        bitmap = bytearray((len(cols) + 7) // 8)
        for i, v in enumerate(row):
            if v is None:
                bitmap[i // 8] |= 1 << (i % 8)
        nbc = (bytes([TOK_NBCROW]) + bytes(bitmap) +
               b''.join(p for p, v in zip(parts, row) if v is not None))
        if len(nbc) <= len(plain):
            return nbc
    return plain


def colmetadata(cols):
    return (bytes([TOK_COLMETADATA]) + struct.pack('<H', len(cols)) +
            b''.join(c.metadata() for c in cols))
