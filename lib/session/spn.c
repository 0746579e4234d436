/* The server's Kerberos principal name (SPN) for a target, as SQL Server
 * registers it: MSSQLSvc/<fqdn>:<port> over TCP, MSSQLSvc/<fqdn> or
 * MSSQLSvc/<fqdn>:<instance> over pipes and shared memory (DESIGN.md
 * "SPN"), or as
 * ServerSPN= gives it.  How the host name was canonicalised is kept as text
 * for messages and the trail: a wrong SPN is the most common Kerberos
 * failure, and the first question is "which name did you ask for, and why". */
#include "config.h"

#include "session/session.h"

#include "transport/io.h" /* the DNS lookups */

#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 1025 /* NI_MAXHOST */

void tdsc__spn_for(const tdsc__options *o, const char *host, uint16_t port,
                   const char *instance, char *spn, size_t spnlen, char *how,
                   size_t howlen) {
  const char *given = tdsc__opt(o, TDSC__OPT_SERVER_SPN);
  if (given) {
    snprintf(spn, spnlen, "%s", given);
    snprintf(how, howlen, "given by ServerSPN=");
    return;
  }
  char name[NAME_MAX_LEN];
  snprintf(name, sizeof name, "%s", host);
  const char *method = "the host name as given (SPNHostCanonicalization=none)";
  char note[NAME_MAX_LEN + 96] = "";
  /* The trail must name the rule in force: with the default (forward) an
   * address is not looked up, which is not the same as none. */
  if (o->canon != TDSC__CANON_NONE && tdsc__is_ip_literal(host))
    method = o->canon == TDSC__CANON_REVERSE
                 ? "the address as given (SPNHostCanonicalization="
                   "forward-reverse does not look up an IP address)"
                 : "the address as given (SPNHostCanonicalization=forward "
                   "does not look up an IP address)";
  if (o->canon != TDSC__CANON_NONE && !tdsc__is_ip_literal(host)) {
    char canon[NAME_MAX_LEN], rev[NAME_MAX_LEN], why[160];
    bool reverse = o->canon == TDSC__CANON_REVERSE;
    if (tdsc__dns_canon(host, canon, sizeof canon, reverse ? rev : NULL,
                        sizeof rev, why, sizeof why) != 0) {
      snprintf(note, sizeof note, "; forward DNS failed (%s), so as given",
               why);
      method = "forward DNS";
    } else {
      if (*canon)
        snprintf(name, sizeof name, "%s", canon);
      method = "forward DNS (canonical name)";
      if (reverse && *rev) {
        snprintf(name, sizeof name, "%s", rev);
        method = "forward then reverse DNS";
      } else if (reverse) {
        method = "forward DNS (the reverse lookup found no name)";
      }
    }
  }
  if (tdsc__is_ip_literal(name))
    snprintf(note + strlen(note), sizeof note - strlen(note),
             "; it is an IP address, for which no SPN is normally "
             "registered: connect by host name");
  if (port) /* over TCP: the port, for default and named instances alike */
    snprintf(spn, spnlen, "MSSQLSvc/%s:%u", name, port);
  else if (instance && *instance) /* pipes, shared memory */
    snprintf(spn, spnlen, "MSSQLSvc/%s:%s", name, instance);
  else
    snprintf(spn, spnlen, "MSSQLSvc/%s", name);
  snprintf(how, howlen, "from '%s' by %s%s", host, method, note);
}

void tdsc__endpoint_spn(const tdsc__options *o, const tdsc__endpoint *ep,
                        char *spn, size_t spnlen, char *how, size_t howlen) {
  tdsc__spn_for(o, ep->host, ep->kind == TDSC__EP_TCP ? ep->port : 0,
                ep->instance, spn, spnlen, how, howlen);
}
