/* Fuzz target: the connection string (lib/session/options.c) and what the
 * session derives from it before any I/O: the Server= target
 * (target.c) and the endpoints to try.  Input: the string (a NUL ends it
 * early, as it would for a caller). */
#include "config.h"

#include "fuzz.h"
#include "session/options.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = 0;
  tdsc__options o;
  tdsc_error err = {0};
  if (tdsc__options_parse(&o, s, &err) == TDSC_OK) {
    for (int i = 0; i < TDSC__OPT_COUNT; i++) {
      const char *v = tdsc__opt(&o, (tdsc__opt_id)i);
      if (v)
        fuzz_touch(v, strlen(v));
    }
    FUZZ_CHECK(o.nmechs <= sizeof o.mechs / sizeof o.mechs[0]);
    const char *server = tdsc__opt(&o, TDSC__OPT_SERVER);
    tdsc__target t;
    if (server && tdsc__target_parse(server, &t, &err) == TDSC_OK) {
      FUZZ_CHECK(memchr(t.host, 0, sizeof t.host));
      FUZZ_CHECK(memchr(t.instance, 0, sizeof t.instance));
      FUZZ_CHECK(memchr(t.pipe, 0, sizeof t.pipe));
      tdsc__endpoint eps[TDSC__MAX_ENDPOINTS];
      size_t n = 0;
      if (tdsc__endpoints_plan(&o, &t, eps, &n, &err) == TDSC_OK)
        FUZZ_CHECK(n >= 1 && n <= TDSC__MAX_ENDPOINTS);
    }
  } else {
    FUZZ_CHECK(err.code != TDSC_OK && err.message);
  }
  tdsc__options_clear(&o);
  tdsc__err_clear(&err);
  free(s);
  return 0;
}
