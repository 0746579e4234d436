/* Configuration files that complete a connection string: the service file
 * (Service=), freetds.conf server sections (Server=<name>) and the password
 * file.  See conffile.c; options.c is the only caller. */
#ifndef TDSC_CONFFILE_H
#define TDSC_CONFFILE_H

#include "error.h"

/* Receives each key = value of a service section; an error stops the
 * reading (its code is returned, with the file and line as context). */
typedef tdsc_errc (*tdsc__conf_set_fn)(const char *key, const char *value,
                                       void *ud, tdsc_error *err);

/* Reads section [name] of the service file (TDSC_SERVICEFILE, else
 * ~/.tdsc_service.conf, else /etc/tdsclient/service.conf) and passes each
 * pair to set.  Errors: BAD_OPTION_VALUE when there is no file or no such
 * section, BAD_CONNSTR for a malformed line (file and line named), or
 * set's. */
tdsc_errc tdsc__conf_service(const char *name, tdsc__conf_set_fn set,
                             void *ud, tdsc_error *err);

/* A freetds.conf server section. */
typedef struct tdsc__conf_server {
  bool found;
  char host[256], port[8], instance[128], encryption[16];
  char path[1024]; /* the file it came from */
} tdsc__conf_server;

/* Looks up section [name] in FREETDSCONF, else ~/.freetds.conf, else
 * /etc/freetds/freetds.conf; out->found when it has a host, port or
 * instance.  No file is not an error; an unreadable FREETDSCONF or a
 * malformed line is. */
tdsc_errc tdsc__conf_freetds(const char *name, tdsc__conf_server *out,
                             tdsc_error *err);

/* The password of the first line of the password file (TDSC_PASSFILE, else
 * ~/.tdscpass) that matches server:port:database:user ('*' matches
 * anything, a field compares case-insensitively; NULL values match only
 * '*'), malloc'd into *password (the caller wipes and frees it), or NULL.
 * A file that group or others may read is ignored: note then says so (to
 * be told to the user), else it is "".  Errors: NO_MEMORY only. */
tdsc_errc tdsc__conf_password(const char *server, const char *port,
                              const char *database, const char *user,
                              char **password, char *note, size_t notecap,
                              tdsc_error *err);

#endif
