#!/bin/sh
# Generates tdsc-errors(7) from the error table (include/tdsclient/errors.h)
# through the C preprocessor, so the page can never drift from the enum.
# Usage: gen-errors-man.sh CC INCLUDEDIR VERSION
set -eu
cc=$1 inc=$2 version=$3
cat <<HDR
.TH TDSC-ERRORS 7 "" "tdsclient $version" "tdsclient"
.SH NAME
tdsc-errors \- the error codes of tdsclient, their categories and hints
.SH DESCRIPTION
Every failure of tdsclient carries one of these codes (enum
.BR tdsc_errc ,
names
.BR TDSC_E_* ),
a category, a message naming the concrete objects involved, the hint below,
and the raw status of the provider it came from.
Numbers are stable: codes are only ever added.
.SH CODES
HDR
printf '#include <tdsclient/errors.h>\n#define X(n, num, cat, hint) @@ROW n num cat hint\nTDSC_ERRC_MAP(X)\n' |
  $cc -E -P -I"$inc" -x c - |
  sed 's/@@ROW/\n@@ROW/g' | grep '^@@ROW' |
  sed -e 's/^@@ROW \([A-Z0-9_]*\) \([0-9]*\) \([A-Z_]*\) \(.*\)$/.TP\n.B TDSC_E_\1 (\2, \3)\n\4/' |
  sed -e 's/" *"//g' -e 's/^"//' -e 's/" *$//' -e 's/^\./\\\&./' -e 's/^\\&\.\(TP\|B \)/.\1/'
cat <<FTR
.SH SEE ALSO
.BR tdsclient (3),
.BR tdsc (1)
FTR
