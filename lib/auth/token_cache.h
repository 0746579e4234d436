/* The access tokens the entra mechanisms fetched over HTTP (entra.c),
 * kept for the whole process until shortly before they expire, as the
 * identity providers' own client libraries keep them: a pool of
 * connections, or a gateway's routed second login, asks the token
 * endpoint once rather than at every login (the metadata endpoint and
 * Entra ID both throttle clients that ask too often).  A token is kept
 * only once a server accepted it, and dropped when a server refuses it.
 *
 * The key names everything the token depends on (oauth.c builds it: the
 * source, the endpoint, the client, the resource and the credential), so
 * that a request with another secret never gets the token of the right
 * one.  It holds that secret: keys and tokens are wiped when they go. */
#ifndef TDSC_AUTH_TOKEN_CACHE_H
#define TDSC_AUTH_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token is no longer given out this many seconds before its exp: it
 * must outlast the login, and Entra ID's clients renew at this margin. */
#define TDSC__TOKEN_RENEW_S 300

/* A copy of the token kept for key (*token malloc'd, NUL-terminated, the
 * caller wipes it) if one is kept that is not within TDSC__TOKEN_RENEW_S
 * of its exp at now (seconds since 1970); false otherwise, also when no
 * memory remained for the copy. */
bool tdsc__token_cache_get(const char *key, int64_t now, char **token,
                           size_t *len);

/* Keeps a copy of token (len bytes, exp its exp claim) for key, in place
 * of any kept for it; when the cache is full, the entry that expires
 * first goes.  Nothing is kept when no memory remains (the next login
 * fetches again). */
void tdsc__token_cache_put(const char *key, const char *token, size_t len,
                           int64_t exp);

/* Forgets the token kept for key if it is still token (len bytes): a
 * server refused it. */
void tdsc__token_cache_drop(const char *key, const char *token, size_t len);

/* Forgets every token (tests: each run starts from an empty cache). */
void tdsc__token_cache_clear(void);

#endif
