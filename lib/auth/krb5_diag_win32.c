/* Windows only: the SSPI rows of krb5_diag.c's table (sspi_rows.h) hold
 * numbers, so that every build shares them; here each is checked against
 * winerror.h's name at compile time.  Nothing to link. */
#include "config.h"

#include <windows.h> /* winerror.h needs its types */

#include <stdint.h>

#include "auth/sspi_rows.h"

/* Our numbers are winerror.h's. */
#define CHK_S(name, v, k, n) _Static_assert((uint32_t)(name) == (v), #name);
SSPI_ROWS(CHK_S)
