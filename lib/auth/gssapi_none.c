/* Kerberos in a build without GSSAPI (configure --without-gssapi, or no
 * MIT krb5): the mechanism table is absent, and the session says so when
 * Authentication= asks for kerberos. */
#include "config.h"

#include "auth/auth.h"

const tdsc__mech_ops *const tdsc__mech_kerberos = NULL;
