/* The token sources' HTTP (http.h) in a build without libcurl (the
 * Windows build, or configure --without-libcurl): every request is
 * refused, and entra.c says so with its own code before building one. */
#include "config.h"

#include "auth/http.h"

#include <stdio.h>

const bool tdsc__http_built = false;

void tdsc__http_perform(tdsc__http *h) {
  h->res = TDSC__HTTP_ABSENT;
  snprintf(h->why, sizeof h->why, "this build has no HTTP (no libcurl)");
}
