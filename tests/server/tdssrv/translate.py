"""T-SQL to SQLite: statement splitting, comments, the light text
translation, WAITFOR times."""

import datetime
import re


# ------------------------------------------------------------ T-SQL helpers

def split_statements(text):
    """Split a batch on ';' outside quotes, brackets and comments.
    Returns [(statement_text, line_number)]."""
    out = []
    i, n = 0, len(text)
    start = 0
    while i < n:
        c = text[i]
        if c in '\'"':
            j = i + 1
            while j < n:
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == '[':
            j = text.find(']', i + 1)
            i = n if j < 0 else j + 1
        elif text.startswith('--', i):
            j = text.find('\n', i)
            i = n if j < 0 else j + 1
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            i = n if j < 0 else j + 2
        elif c == ';':
            out.append((start, i))
            i += 1
            start = i
        else:
            i += 1
    out.append((start, n))
    res = []
    for s, e in out:
        stmt = text[s:e]
        body = strip_comments(stmt).strip()
        if not body:
            continue
        # line of the first non-blank, non-comment character
        k = s
        while k < e and text[k].isspace():
            k += 1
        res.append((stmt.strip(), text.count('\n', 0, k) + 1))
    return res


def strip_comments(s):
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in '\'"':
            j = i + 1
            while j < n:
                if s[j] == c:
                    if j + 1 < n and s[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(s[i:j + 1])
            i = j + 1
        elif s.startswith('--', i):
            j = s.find('\n', i)
            i = n if j < 0 else j
        elif s.startswith('/*', i):
            j = s.find('*/', i + 2)
            i = n if j < 0 else j + 2
            out.append(' ')
        else:
            out.append(c)
            i += 1
    return ''.join(out)


_IDENT = re.compile(r'[A-Za-z0-9_@#$]')
_LOGIN_FN_RE = re.compile(r'(?:(?:suser_s?name|original_login)\s*\(\s*\)'
                          r'|system_user(?![\w@#$]))', re.I)
_NOW_RE = re.compile(r'sysutcdatetime\s*\(\s*\)', re.I)
_EXACT_RE = re.compile(r'(decimal|numeric|dec|money|smallmoney)\b(?!_)', re.I)


def translate(sql, consts=None):
    """Light T-SQL -> SQLite translation: N'..' -> '..', 0xABCD -> X'ABCD',
    (max) -> (2147483647), @@NAME -> its value from consts (e.g. @@VERSION
    inside any expression).  Quoted strings and brackets are left alone."""
    out = []
    i, n = 0, len(sql)
    ddl = bool(re.match(r'\s*(create|alter)\s', strip_comments(sql), re.I))
    while i < n:
        c = sql[i]
        prev = sql[i - 1] if i else ' '
        if c == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif c == '[':
            j = sql.find(']', i + 1)
            j = n - 1 if j < 0 else j
            out.append(sql[i:j + 1])
            i = j + 1
        elif c in 'Nn' and i + 1 < n and sql[i + 1] == "'" and not _IDENT.match(prev):
            i += 1
        elif (c == '0' and i + 1 < n and sql[i + 1] in 'xX'
              and not _IDENT.match(prev)):
            m = re.match(r'0[xX]([0-9A-Fa-f]*)', sql[i:])
            h = m.group(1)
            if len(h) % 2:
                h = '0' + h
            out.append("X'%s'" % h)
            i += m.end()
        elif (ddl and not _IDENT.match(prev) and _EXACT_RE.match(sql, i)
              and re.search(r'[\w\]"`]\s+$', sql[max(0, i - 200):i])):
            # exact numeric column types get TEXT affinity in SQLite
            # ("decimal_text(18,4)"), so stored values stay exact
            m = _EXACT_RE.match(sql, i)
            out.append(m.group(1) + '_text')
            i = m.end()
        elif c == '@' and consts and sql.startswith('@@', i):
            m = re.match(r'@@(\w+)', sql[i:])
            val = consts.get(m.group(1).upper()) if m else None
            if val is None:
                out.append(c)
                i += 1
                continue
            out.append(str(val) if isinstance(val, int)
                       else "'" + str(val).replace("'", "''") + "'")
            i += m.end()
        elif (consts and 'LOGIN' in consts and not _IDENT.match(prev)
              and _LOGIN_FN_RE.match(sql, i)):
            # SUSER_NAME(), SUSER_SNAME(), ORIGINAL_LOGIN(), SYSTEM_USER
            m = _LOGIN_FN_RE.match(sql, i)
            out.append("'" + str(consts['LOGIN']).replace("'", "''") + "'")
            i = m.end()
        elif not _IDENT.match(prev) and _NOW_RE.match(sql, i):
            # SYSUTCDATETIME(): the server's clock as text (tdsc-doctor's
            # clock check; faketime moves it)
            out.append(datetime.datetime.now(datetime.timezone.utc)
                       .strftime("'%Y-%m-%d %H:%M:%S.%f'"))
            i = _NOW_RE.match(sql, i).end()
        elif c == '(' and re.match(r'\(\s*max\s*\)', sql[i:], re.I):
            m = re.match(r'\(\s*max\s*\)', sql[i:], re.I)
            out.append('(2147483647)')
            i += m.end()
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def unquote_sql(s):
    return s.replace("''", "'")


def first_group(m, lo, hi):
    """The first group in lo..hi that matched, unquoted ('' when none)."""
    for i in range(lo, hi + 1):
        if m.group(i) is not None:
            return unquote_sql(m.group(i))
    return ''


def parse_delay(text):
    """WAITFOR DELAY 'hh:mm[:ss[.mmm]]' -> seconds, or None."""
    m = re.match(r'^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,3}))?)?\s*$',
                 text)
    if not m:
        return None
    h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 24 or mi > 59 or sec > 59:
        return None
    ms = int((m.group(4) or '0').ljust(3, '0'))
    return h * 3600 + mi * 60 + sec + ms / 1000.0
