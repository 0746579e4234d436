#!/bin/sh
# The documents stand alone: README, the manual pages, doc/ and the
# examples name nothing outside the repository, and every document a
# manual page cites is one that `make install` installs (dist_doc_DATA).
set -u
src=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
fail=0
check() { if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
cd "$src" || exit 1
out=$(grep -rnE '\.\./shared|DESIGN\.md|STYLE\.md' README.md man doc examples 2>/dev/null)
[ -z "$out" ]; check "no document points outside the repository${out:+: $out}" $?
installed=$(sed -n '/^dist_doc_DATA/,/[^\\]$/p' Makefile.am | tr -d '\\' | tr ' \t' '\n\n' | sed -n 's,^doc/,,p')
out=$(grep -n 'doc/[a-z]' man/*.[1-9])
[ -z "$out" ]; check "no manual page cites a source-tree path${out:+: $out}" $?
for m in man/*.[1-9]; do
	for cited in $(grep -o '[A-Za-z0-9_-]*\.md' "$m" | sort -u); do
		echo "$installed" | grep -qx "$cited"
		check "$m cites $cited, which is installed" $?
	done
done
for d in $installed; do
	[ -f "doc/$d" ]; check "doc/$d exists" $?
done
exit $fail
