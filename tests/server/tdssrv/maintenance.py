"""DBCC CHECKDB / SHRINKFILE, BACKUP DATABASE, RESTORE VERIFYONLY over
SQLite's own tools (a mixin of Session)."""

import os
import re
import sqlite3
import time

from .coltypes import Column, colmetadata, encode_row
from .log import log
from .sqldb import SQLiteError
from .translate import first_group, unquote_sql
from .wire import DONE_COUNT, DONE_ERROR, DONE_MORE


class MaintenanceMixin:
    """Maintenance statements of a Session."""

    # ------------------------------------------------ maintenance statements
    # DBCC CHECKDB, DBCC SHRINKFILE, BACKUP DATABASE ... TO DISK and RESTORE
    # VERIFYONLY, over SQLite's own tools (integrity_check, VACUUM /
    # wal_checkpoint, the online backup API), answered with SQL Server's
    # message numbers and texts.  Informational messages are INFO class 0.

    def stream(self, data):
        """Sends what the answer has so far plus data ahead of the
        request's end (progress messages while a statement runs)."""
        self.w.token(data)
        self.w.flush_all()

    def maintenance(self, body, line, more):
        name = r"(?:\[([^\]]+)\]|n?'((?:[^']|'')*)'|([\w$#@]+))"
        m = re.match(r'dbcc\s+checkdb\s*(?:\(\s*' + name + r'[^)]*\))?'
                     r'\s*(?:with\s+.*)?$', body, re.I | re.S)
        if m:
            return self.dbcc_checkdb(first_group(m, 1, 3), line, more)
        m = re.match(r'dbcc\s+shrinkfile\s*\(\s*' + name +
                     r'\s*(?:,\s*(\d+|emptyfile|notruncate|truncateonly)\s*)?'
                     r'\)\s*(?:with\s+.*)?$', body, re.I | re.S)
        if m:
            return self.dbcc_shrinkfile(first_group(m, 1, 3), line, more)
        m = re.match(r'backup\s+database\s+' + name + r'\s+to\s+disk\s*=\s*'
                     r"n?'((?:[^']|'')*)'\s*(?:with\s+(.*))?$",
                     body, re.I | re.S)
        if m:
            return self.backup(first_group(m, 1, 3), unquote_sql(m.group(4)),
                               m.group(5) or '', line, more)
        m = re.match(r"restore\s+verifyonly\s+from\s+disk\s*=\s*"
                     r"n?'((?:[^']|'')*)'\s*(?:with\s+.*)?$", body, re.I | re.S)
        if m:
            return self.restore_verifyonly(unquote_sql(m.group(1)), line, more)
        return (self.err(102, 15, "Incorrect syntax near '%s'." %
                         body.split(None, 2)[:2][-1], line=line) +
                self.done(DONE_ERROR | more))

    def maint_db(self, arg):
        """The database a DBCC / BACKUP names ('' and 0: the current one)."""
        if arg in ('', '0', None):
            return self.database
        return self.known_db(arg)

    def no_db(self, arg, line, more, what=None):
        out = self.err(911, 16, "Database '%s' does not exist. Make sure that "
                       "the name is entered correctly." % arg, line=line)
        if what:
            out += self.err(3013, 16, '%s is terminating abnormally.' % what,
                            line=line)
        return out + self.done(DONE_ERROR | more)

    def dbcc_checkdb(self, arg, line, more):
        db = self.maint_db(arg)
        if db is None:
            return (self.err(2520, 16, "Could not find database '%s'. The "
                             "database either does not exist, or was dropped "
                             "before a statement tried to use it. Verify if "
                             "the database exists by querying the "
                             "sys.databases catalog view." % arg, line=line) +
                    self.done(DONE_ERROR | more))
        out = [self.info(2536, "DBCC results for '%s'." % db, line=line)]
        try:
            _, rows, _, _ = self.db.execute('PRAGMA integrity_check')
            problems = [r[0] for r in rows if r[0] != 'ok']
            _, tables, _, _ = self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                "name NOT LIKE 'sqlite%' ORDER BY name")
            for (t,) in tables:
                _, n, _, _ = self.db.execute('SELECT count(*) FROM "%s"'
                                             % t.replace('"', '""'))
                try:
                    _, p, _, _ = self.db.execute(
                        "SELECT count(*) FROM dbstat WHERE name = '%s'"
                        % t.replace("'", "''"))
                    pages = p[0][0]
                except SQLiteError:     # SQLite built without dbstat
                    pages = 1
                out.append(self.info(2593, 'There are %d rows in %d pages for '
                                     'object "dbo.%s".' % (n[0][0], pages, t),
                                     line=line))
        except SQLiteError as e:
            problems = [str(e)]
        if self.cfg.misbehave == 'checkdb-fails':
            problems.append('Object ID 901578250, index ID 1, partition ID '
                            '72057594038779904, alloc unit ID '
                            '72057594043301888 (type In-row data), page '
                            '(1:153). Test (IS_OFF (BUF_IOERR, pBUF->bstat)) '
                            'failed. Values are 133129 and -4')
        for p in problems:
            out.append(self.err(8939, 16, 'Table error: %s.' % p.rstrip('.'),
                                line=line))
        out.append(self.info(8989, "CHECKDB found 0 allocation errors and %d "
                             "consistency errors in database '%s'."
                             % (len(problems), db), line=line))
        if problems:
            out.append(self.info(8958, 'repair_allow_data_loss is the minimum '
                                 'repair level for the errors found by DBCC '
                                 'CHECKDB (%s).' % db, line=line))
        out.append(self.info(2528, 'DBCC execution completed. If DBCC printed '
                             'error messages, contact your system '
                             'administrator.', line=line))
        log('connection %d DBCC CHECKDB(%s): %d problem(s)' % (
            self.spid, db, len(problems)))
        out.append(self.done((DONE_ERROR if problems else 0) | more))
        return b''.join(out)

    def dbcc_shrinkfile(self, arg, line, more):
        # File 1 is the data file (logical name: the database's), file 2 the
        # log (<database>_log), as SQL Server names them by default.
        db = self.database
        files = {'1': 1, db.lower(): 1, '2': 2, db.lower() + '_log': 2}
        fid = files.get(arg.lower())
        if fid is None:
            return (self.err(8985, 16, "Could not locate file '%s' for "
                             "database '%s' in sys.database_files. The file "
                             "either does not exist, or was dropped." %
                             (arg, db), line=line) +
                    self.done(DONE_ERROR | more))
        if self.cfg.misbehave == 'shrink-fails':
            return (self.err(3023, 16, 'Backup, file manipulation operations '
                             '(such as ALTER DATABASE ADD FILE) and encryption '
                             'changes on a database must be serialized. '
                             'Reissue the statement after the current backup '
                             'or file manipulation operation is completed.',
                             line=line) + self.done(DONE_ERROR | more))
        try:
            if fid == 1:
                self.db.execute('VACUUM')
            else:
                self.db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
            _, r, _, _ = self.db.execute('PRAGMA page_size')
            psize = r[0][0]
            _, r, _, _ = self.db.execute('PRAGMA page_count')
            count = r[0][0]
            _, r, _, _ = self.db.execute('PRAGMA freelist_count')
            free = r[0][0]
        except SQLiteError as e:
            return self.sql_error(str(e), line, more)
        if fid == 1:   # in SQL Server's 8-KB pages
            cur = max(1, (count * psize + 8191) // 8192)
            used = max(1, ((count - free) * psize + 8191) // 8192)
        else:
            wal = self.cfg.db + '-wal'
            cur = (os.path.getsize(wal) + 8191) // 8192 if os.path.exists(wal) else 0
            cur, used = max(cur, 1), 0
        cols = [Column(n, 'int', False, 4) for n in (
            'DbId', 'FileId', 'CurrentSize', 'MinimumSize', 'UsedPages',
            'EstimatedPages')]
        log('connection %d DBCC SHRINKFILE(%s): file %d, %d pages' % (
            self.spid, arg, fid, cur))
        return (colmetadata(cols) +
                encode_row(cols, [5, fid, cur, 1 if fid == 1 else cur, used,
                                  used]) +
                self.done(DONE_COUNT | DONE_MORE, 0xC1, 1) +
                self.info(2528, 'DBCC execution completed. If DBCC printed '
                          'error messages, contact your system administrator.',
                          line=line) +
                self.done(more, 0xC1))

    def device_error(self, path, errno_, what, line, more):
        reason = {2: 'The system cannot find the file specified.',
                  3: 'The system cannot find the path specified.',
                  5: 'Access is denied.'}.get(errno_, os.strerror(errno_))
        return (self.err(3201, 16, "Cannot open backup device '%s'. Operating "
                         "system error %d(%s)." % (path, errno_, reason),
                         line=line) +
                self.err(3013, 16, '%s is terminating abnormally.' % what,
                         line=line) + self.done(DONE_ERROR | more))

    def backup(self, arg, path, options, line, more):
        db = self.maint_db(arg)
        if db is None:
            return self.no_db(arg, line, more, 'BACKUP DATABASE')
        m = re.search(r'\bstats(?:\s*=\s*(\d+))?', options, re.I)
        stats = (int(m.group(1) or 10) or 10) if m else 0
        # The target is opened first, as SQL Server does; a missing folder
        # is Windows' error 3 (path not found), as SQL Server reports it.
        try:
            open(path, 'wb').close()
        except OSError as e:
            log('connection %d BACKUP to %s: %s' % (self.spid, path, e))
            code = 3 if e.errno == 2 and not os.path.isdir(
                os.path.dirname(path) or '.') else e.errno
            return self.device_error(path, code, 'BACKUP DATABASE', line, more)
        start = time.monotonic()
        mine = []
        state = {'next': stats, 'done': 0, 'total': 0}

        def progress(status, remaining, total):
            done = total - remaining
            state['done'], state['total'] = done, total
            pct = done * 100 // total if total else 100
            if stats and pct >= state['next'] and pct < 100:
                mine.append(self.info(3211, '%d percent processed.' % pct,
                                      line=line))
                self.stream(b''.join(mine))
                mine.clear()
                state['next'] = (pct // stats + 1) * stats
            if (self.cfg.misbehave == 'backup-fails' and
                    done * 2 >= total and remaining):
                raise OSError(23, 'Data error (cyclic redundancy check).')

        src = dst = None
        try:
            src = sqlite3.connect(self.cfg.db)
            dst = sqlite3.connect(path)
            pages = src.execute('PRAGMA page_count').fetchone()[0]
            src.backup(dst, pages=max(1, pages // 100), progress=progress)
        except (sqlite3.Error, OSError) as e:
            log('connection %d BACKUP to %s failed: %s' % (self.spid, path, e))
            text = (e.strerror if isinstance(e, OSError) and e.strerror
                    else str(e))
            num = e.errno if isinstance(e, OSError) and e.errno else 1117
            return b''.join(mine) + (
                self.err(3203, 16, 'Read on "%s" failed: %d(%s)' % (
                    self.cfg.db, num, text), line=line) +
                self.err(3013, 16, 'BACKUP DATABASE is terminating abnormally.',
                         line=line) + self.done(DONE_ERROR | more))
        finally:
            for c in (dst, src):
                if c is not None:
                    c.close()
        secs = max(time.monotonic() - start, 0.001)
        psize = os.path.getsize(path)
        n = (psize + 8191) // 8192   # SQL Server's 8-KB pages
        if stats:
            mine.append(self.info(3211, '100 percent processed.', line=line))
        mine.append(self.info(4035, "Processed %d pages for database '%s', "
                              "file '%s' on file 1." % (n, db, db), line=line))
        mine.append(self.info(4035, "Processed 0 pages for database '%s', "
                              "file '%s_log' on file 1." % (db, db), line=line))
        mine.append(self.info(3014, 'BACKUP DATABASE successfully processed %d '
                              'pages in %.3f seconds (%.3f MB/sec).' % (
                                  n, secs, psize / secs / 1048576), line=line))
        log('connection %d BACKUP DATABASE %s to %s: %d bytes' % (
            self.spid, db, path, psize))
        return b''.join(mine) + self.done(more)

    def restore_verifyonly(self, path, line, more):
        what = 'VERIFY DATABASE'
        if not os.path.isfile(path):
            code = 2 if os.path.isdir(os.path.dirname(path) or '.') else 3
            return self.device_error(path, code, what, line, more)
        try:
            con = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
            try:
                res = [r[0] for r in con.execute('PRAGMA integrity_check')]
            finally:
                con.close()
        except sqlite3.Error as e:
            log('connection %d RESTORE VERIFYONLY %s: %s' % (self.spid, path, e))
            return (self.err(3241, 16, "The media family on device '%s' is "
                             "incorrectly formed. SQL Server cannot process "
                             "this media family." % path, line=line) +
                    self.err(3013, 16, '%s is terminating abnormally.' % what,
                             line=line) + self.done(DONE_ERROR | more))
        if res != ['ok']:
            return (self.err(3189, 16, 'Damage to the backup set was detected.',
                             line=line) +
                    self.err(3013, 16, '%s is terminating abnormally.' % what,
                             line=line) + self.done(DONE_ERROR | more))
        return (self.info(3262, 'The backup set on file 1 is valid.',
                          line=line) + self.done(more))
