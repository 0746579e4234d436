# tdsc_gssapi.m4 - MIT Kerberos GSSAPI for tdsclient.          -*- Autoconf -*-
# serial 1
#
# TDSC_CHECK_GSSAPI
#   --with-gssapi (default: check): finds MIT's krb5-gssapi and krb5 through
#   pkg-config, checks that a program calling gss_init_sec_context with the
#   krb5 mechanism's OID links against them, and then sets have_gssapi=yes,
#   GSSAPI_CFLAGS / GSSAPI_LIBS and defines TDSC_HAVE_GSSAPI.  --with-gssapi
#   fails when they are missing; the default goes on without Kerberos
#   (lib/auth/gssapi_none.c then says so at run time).
AC_DEFUN([TDSC_CHECK_GSSAPI], [
  AC_ARG_WITH([gssapi],
    [AS_HELP_STRING([--without-gssapi], [build without Kerberos (GSSAPI)])],
    [], [with_gssapi=check])
  have_gssapi=no
  AS_IF([test "x$with_gssapi" != xno], [
    PKG_CHECK_MODULES([GSSAPI], [krb5-gssapi krb5], [have_gssapi=yes], [:])
    AS_IF([test "x$have_gssapi" = xyes], [
      tdsc_save_CFLAGS=$CFLAGS tdsc_save_LIBS=$LIBS
      CFLAGS="$CFLAGS $GSSAPI_CFLAGS" LIBS="$GSSAPI_LIBS $LIBS"
      AC_MSG_CHECKING([whether a GSSAPI program with the krb5 mechanism links])
      AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <gssapi/gssapi_krb5.h>]],
        [[OM_uint32 minor; gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
          return (int)gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ctx,
              GSS_C_NO_NAME, (gss_OID)gss_mech_krb5, 0, 0,
              GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, NULL, NULL,
              NULL);]])],
        [AC_MSG_RESULT([yes])],
        [AC_MSG_RESULT([no]); have_gssapi=no])
      CFLAGS=$tdsc_save_CFLAGS LIBS=$tdsc_save_LIBS])
    AS_IF([test "x$have_gssapi$with_gssapi" = xnoyes],
      [AC_MSG_ERROR([--with-gssapi: MIT krb5-gssapi not found (Debian: libkrb5-dev)])])])
  AS_IF([test "x$have_gssapi" = xyes],
        [AC_DEFINE([TDSC_HAVE_GSSAPI], [1], [Kerberos through GSSAPI])])
])
