# tdsc_cflags.m4 - compiler-flag checks for tdsclient.          -*- Autoconf -*-
# serial 1
#
# TDSC_CHECK_CFLAG(FLAG, [ACTION-IF-ACCEPTED], [ACTION-IF-NOT])
#   Compiles and links an empty program with FLAG added to CFLAGS, with
#   warnings turned into errors, so that a compiler that only warns about a
#   flag it does not know counts as refusing it.  Caches the answer per flag.
#
# TDSC_ADD_CFLAGS(VARIABLE, FLAG...)
#   Appends each FLAG the compiler accepts to VARIABLE; says which it leaves
#   out.  The project's warning set goes through it, so that --enable-werror
#   never fails on a flag an older or other compiler lacks.
AC_DEFUN([TDSC_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([tdsc_cv], [tdsc_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [tdsc_cv], [
    tdsc_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
                   [AS_VAR_SET([tdsc_cv], [yes])],
                   [AS_VAR_SET([tdsc_cv], [no])])
    CFLAGS=$tdsc_save_CFLAGS])
  AS_VAR_IF([tdsc_cv], [yes], [$2], [$3])
  AS_VAR_POPDEF([tdsc_cv])
])

AC_DEFUN([TDSC_ADD_CFLAGS], [
  for tdsc_flag in $2; do
    TDSC_CHECK_CFLAG([$tdsc_flag], [$1="$$1 $tdsc_flag"],
                     [AC_MSG_WARN([$CC does not accept $tdsc_flag: left out])])
  done
])
