/* The process-wide cache of fetched access tokens (token_cache.h): a few
 * entries under the global lock; a process talks to few identities. */
#include "config.h"

#include "auth/token_cache.h"

#include "buf.h"
#include "error.h"
#include "sys.h"

#include <stdlib.h>
#include <string.h>

#define ENTRIES 16

typedef struct entry {
  char *key; /* NULL: a free entry */
  char *token;
  size_t len;
  int64_t exp;
} entry;

static entry cache[ENTRIES]; /* guarded by tdsc__global_lock */

static void forget(entry *e) {
  if (!e->key)
    return;
  tdsc__wipe(e->key, strlen(e->key));
  free(e->key);
  tdsc__wipe(e->token, e->len);
  free(e->token);
  memset(e, 0, sizeof *e);
}

static entry *find(const char *key) {
  for (size_t i = 0; i < ENTRIES; i++)
    if (cache[i].key && !strcmp(cache[i].key, key))
      return &cache[i];
  return NULL;
}

static char *copy(const char *p, size_t n) {
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, p, n);
    c[n] = 0;
  }
  return c;
}

bool tdsc__token_cache_get(const char *key, int64_t now, char **token,
                           size_t *len) {
  *token = NULL;
  tdsc__global_lock();
  entry *e = find(key);
  if (e && e->exp - TDSC__TOKEN_RENEW_S <= now)
    forget(e), e = NULL;
  if (e && (*token = copy(e->token, e->len)) != NULL)
    *len = e->len;
  tdsc__global_unlock();
  return *token != NULL;
}

void tdsc__token_cache_put(const char *key, const char *token, size_t len,
                           int64_t exp) {
  /* the copies are made before the lock is taken, and dropped if the
   * memory for one of them is missing */
  entry n = {copy(key, strlen(key)), copy(token, len), len, exp};
  if (!n.key || !n.token) {
    if (n.token)
      tdsc__wipe(n.token, len);
    free(n.token);
    if (n.key)
      tdsc__wipe(n.key, strlen(n.key));
    free(n.key);
    return;
  }
  tdsc__global_lock();
  entry *e = find(key);
  for (size_t i = 0; !e && i < ENTRIES; i++)
    if (!cache[i].key)
      e = &cache[i];
  if (!e) { /* full: the first to expire goes */
    e = &cache[0];
    for (size_t i = 1; i < ENTRIES; i++)
      if (cache[i].exp < e->exp)
        e = &cache[i];
  }
  forget(e);
  *e = n;
  tdsc__global_unlock();
}

void tdsc__token_cache_drop(const char *key, const char *token, size_t len) {
  tdsc__global_lock();
  entry *e = find(key);
  if (e && e->len == len && !memcmp(e->token, token, len))
    forget(e);
  tdsc__global_unlock();
}

void tdsc__token_cache_clear(void) {
  tdsc__global_lock();
  for (size_t i = 0; i < ENTRIES; i++)
    forget(&cache[i]);
  tdsc__global_unlock();
}
