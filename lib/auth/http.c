/* What the token sources' HTTP requests share whatever the backend
 * (http.h): freeing a request, wiping whatever secret it held. */
#include "config.h"

#include "auth/http.h"

#include <stdlib.h>
#include <string.h>

static void wipe_free(char **p) {
  if (*p) {
    tdsc__wipe(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

void tdsc__http_clear(tdsc__http *h) {
  wipe_free(&h->url);
  for (size_t i = 0; i < sizeof h->headers / sizeof h->headers[0]; i++)
    wipe_free(&h->headers[i]);
  wipe_free(&h->body);
  wipe_free(&h->cafile);
  wipe_free(&h->secret);
  tdsc__buf_wipe(&h->resp);
  tdsc__buf_free(&h->resp);
}
