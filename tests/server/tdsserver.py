#!/usr/bin/env python3
"""tdsserver.py -- a small TDS 7.4 / 8.0 server backed by SQLite.

Test server for tdsclient (see tests/server/README.md).  Standard library
only; SQLite is driven through ctypes (libsqlite3.so.0) so that the declared
types of result columns are visible.

Usage (see README.md for every option):
  tdsserver.py --host 127.0.0.1 --port 0 --db FILE.sqlite \
      --init tests/server/sample.sql --user sa:secret --cert server.pem \
      --key server.key
Prints "READY <port>" on stdout once listening.

Integrated (Kerberos/SPNEGO, NTLM) logins need python3-gssapi, imported only
when --keytab or --ntlm-users is given; NTLM also needs gss-ntlmssp.

The server is the package tdssrv/ next to this file (tdssrv/__init__.py
lists its modules); this is its entry point.
"""

import sys

from tdssrv.main import main

if __name__ == '__main__':
    sys.exit(main())
