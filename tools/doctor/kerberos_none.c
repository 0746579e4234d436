/* Checks 2-4 without GSSAPI (configure --without-gssapi): the library
 * cannot do Kerberos, so there is nothing to diagnose; each says skip. */
#include "config.h"

#include "doctor/doctor.h"

void doc_kerberos(doc_ctx *d) {
  for (int i = DOC_KDC; i <= DOC_TICKET; i++)
    doc_set(&d->checks[i], DOC_SKIP, TDSC_OK,
            "tdsclient was built without GSSAPI: no Kerberos");
}
