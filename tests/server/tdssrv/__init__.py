"""The TDS test server (entry point: ../tdsserver.py), by responsibility:

wire          packets and tokens: constants, token writers, framing
              (TDSConn), TLS through memory BIOs, PRELOGIN, ALL_HEADERS
coltypes      TDS column types and values, COLMETADATA and rows, dates
translate     T-SQL to SQLite text: statements, comments, translation
sqldb         SQLite through ctypes, the attention-aware progress handler
sqlfuncs      SQLite C constants, the T-SQL functions added to SQLite
acceptors     authentication acceptors: GSSAPI / NTLM helpers, mapping
epa           Extended Protection: the channel bindings integrated logins
              must carry (off / allowed / required)
login         the session up to the login (PRELOGIN, TLS, LOGIN7; mixin)
session       one connection: requests, batches, statements, errors
maintenance   DBCC, BACKUP, RESTORE VERIFYONLY (mixin of the session)
tds_stream    answers streamed while produced, attention, PLP, WAITFOR
tds_expr      large values, DATALENGTH, HASHBYTES, CONVERT, SELECT @p
tds_xact      transactions, TM requests, the descriptor check
tds_rpc       RPC requests (sp_executesql, sp_prepare, ...)
tds_checks    SQL Server's checks on stored values (temporary triggers)
shm           the shared-memory transport
listeners     shared memory, named pipe, SQL Server Browser listeners
main          command line, TLS contexts, the TCP listener, the way out
log           the --log file

Modules import each other by name (no module reaches another through
sys.modules).  Standard library only, plus python3-gssapi for integrated
logins."""
