#!/bin/sh
# Installs the Debian packages for the Windows build and its tests: the
# mingw-w64 cross compiler (./configure --host=x86_64-w64-mingw32) and Wine
# to run the result (tests/windows/run-wine.sh); winbind gives Wine's NTLM
# its ntlm_auth.  Run as root; like scripts/deps.sh, which does the work,
# it does nothing when all are already there.
exec sh "$(dirname "$0")/deps.sh" gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev \
	binutils-mingw-w64-x86-64 wine wine64 winbind
