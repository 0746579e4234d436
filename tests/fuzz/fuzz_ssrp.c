/* Fuzz target: SQL Server Browser replies (lib/transport/ssrp.c,
 * MC-SQLR 2.2.5): one datagram, looked up for a few instance names.  What
 * parses must have NUL-terminated fields. */
#include "config.h"

#include "fuzz.h"
#include "transport/ssrp.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"MSSQLSERVER", "YUKONSTD", "DOG",
                                      "SQLEXPRESS", "A"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    tdsc_error err = {0};
    tdsc__ssrp_info info;
    memset(&info, 0xA5, sizeof info);
    if (tdsc__ssrp_parse(data, size, names[i], &info, &err) == TDSC_OK) {
      FUZZ_CHECK(memchr(info.server_name, 0, sizeof info.server_name));
      FUZZ_CHECK(memchr(info.instance_name, 0, sizeof info.instance_name));
      FUZZ_CHECK(memchr(info.version, 0, sizeof info.version));
      FUZZ_CHECK(memchr(info.pipe, 0, sizeof info.pipe));
    } else {
      FUZZ_CHECK(err.code != TDSC_OK && err.message);
    }
    tdsc__err_clear(&err);
  }
  return 0;
}
