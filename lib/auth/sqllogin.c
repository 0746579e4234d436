/* SQL Server's own login (MS-TDS 2.2.6.4: UserName and Password in
 * LOGIN7, the password scrambled, not encrypted): the "sql" mechanism of
 * auth.h.  No tokens; its only check is that there is a user to log in as,
 * before any traffic.  That the password travels only under TLS is the
 * policy's (session/policy.c: the row says it sends a secret). */
#include "config.h"

#include "auth/auth.h"

#include <stdlib.h>

typedef struct sql_state {
  const char *user, *password; /* the options' strings, not copies */
} sql_state;

static tdsc_errc sql_init(void **state, const tdsc__auth_params *p,
                          tdsc_error *err) {
  sql_state *s = calloc(1, sizeof *s);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  if (!p->sql_user)
    return tdsc__err_set(err, TDSC_E_LOGIN_NO_CREDENTIALS,
                         "SQL login needs UID= (and PWD=); none was given");
  s->user = p->sql_user;
  s->password = p->sql_password;
  return TDSC_OK;
}

static void sql_basic(void *state, const char **user, const char **password) {
  sql_state *s = state;
  *user = s->user;
  *password = s->password;
}

static const char *sql_identity(void *state) {
  sql_state *s = state;
  return s && s->user ? s->user : "";
}

static void sql_free(void *state) { free(state); }

static const tdsc__mech_ops sql_ops = {
    .name = "sql",
    .init = sql_init,
    .identity = sql_identity,
    .free_state = sql_free,
    .basic = sql_basic,
};

const tdsc__mech_ops *const tdsc__mech_sql = &sql_ops;
