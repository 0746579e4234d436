/* tdsclient error table: the single source of every error code.
 *
 * Each row: X(NAME, number, CATEGORY, "one-line remediation hint").
 * From this list come the tdsc_errc enum (TDSC_E_<NAME>), tdsc_errc_name(),
 * tdsc_errc_hint(), tdsc_errc_category() and the tdsc-errors(7) manual page.
 *
 * Numbers are stable and grouped by category in hundreds: never renumber or
 * remove a row, only append within a group.  Include <tdsclient.h>, not this
 * file.
 */
#ifndef TDSCLIENT_ERRORS_H
#define TDSCLIENT_ERRORS_H

/* clang-format off */
#define TDSC_ERRC_MAP(X)                                                      \
  X(OK,                     0, NONE,                                          \
    "No error.")                                                              \
                                                                              \
  X(INVALID_ARGUMENT,     100, USAGE,                                         \
    "A NULL handle or an out-of-range argument was passed; check the call "   \
    "against its manual page.")                                               \
  X(UNKNOWN_KEYWORD,      101, USAGE,                                         \
    "Remove or correct the keyword; tdsclient(3) lists every recognised "     \
    "keyword and its aliases.")                                               \
  X(BAD_OPTION_VALUE,     102, USAGE,                                         \
    "Correct the value; the message names the keyword and what it accepts.")  \
  X(BAD_CONNSTR,          103, USAGE,                                         \
    "The connection string is malformed: write key=value pairs separated by " \
    "';', and brace values that contain ';' as {va;lue}.")                    \
  X(BUSY,                 104, USAGE,                                         \
    "Read the open result to its end or free it before sending another "      \
    "request on this connection.")                                            \
  X(NOT_CONNECTED,        105, USAGE,                                         \
    "Connect first, or reconnect: the connection is closed or broken.")       \
  X(CONVERSION,           106, USAGE,                                         \
    "Use the getter that fits the column's type (tdsc_column_type), or "      \
    "tdsc_result_get_text, which renders every type.")                        \
  X(NULL_VALUE,           107, USAGE,                                         \
    "The value is NULL: test tdsc_result_is_null before reading it.")         \
  X(NO_ROW,               108, USAGE,                                         \
    "No current row: read values only after tdsc_result_next_row returned "   \
    "TDSC_STEP_ROW.")                                                         \
  X(COLUMN_RANGE,         109, USAGE,                                         \
    "The column index is past the last column: see "                          \
    "tdsc_result_column_count.")                                              \
  X(CANCELLED,            110, USAGE,                                         \
    "The request was cancelled by tdsc_conn_cancel; the connection is still " \
    "open and takes the next request.")                                       \
  X(VALUE_CONSUMED,       111, USAGE,                                         \
    "The column was read in pieces with tdsc_result_read, or skipped while "  \
    "another column was: read a row's columns in order, each once.")          \
  X(VALUE_TOO_LARGE,      112, USAGE,                                         \
    "The value is too large to hold in memory: read it in pieces with "       \
    "tdsc_result_read.")                                                      \
  X(TRACE_FILE,           113, USAGE,                                         \
    "The protocol trace file (Trace=, TDSC_TRACE) cannot be opened for "      \
    "appending: correct the path or its folder's permissions, or unset it.")  \
  X(WOULD_BLOCK,          114, USAGE,                                         \
    "Non-blocking mode: the call has to wait for the network; wait on "       \
    "tdsc_conn_socket for tdsc_conn_wants, then call the same function "      \
    "again (its progress is kept).")                                          \
                                                                              \
  X(NO_MEMORY,            200, RESOURCE,                                      \
    "Out of memory: free memory or lower the packet size.")                   \
  X(SYSTEM,               201, RESOURCE,                                      \
    "An operating system call failed; the provider status holds errno.")      \
                                                                              \
  X(HOST_NOT_FOUND,       300, TRANSPORT,                                     \
    "The server name does not resolve: check its spelling, DNS and "          \
    "/etc/hosts, or connect by IP address to rule DNS out.")                  \
  X(CONN_REFUSED,         301, TRANSPORT,                                     \
    "Nothing listens on that address and port: check the port, that SQL "     \
    "Server runs with TCP enabled, and local firewalls.")                     \
  X(CONN_TIMEOUT,         302, TRANSPORT,                                     \
    "The server did not answer within LoginTimeout: a firewall may drop the " \
    "packets, or the host is down; check routing, or raise LoginTimeout.")    \
  X(READ_TIMEOUT,         303, TRANSPORT,                                     \
    "The server did not answer within the timeout: raise it (LoginTimeout, "  \
    "QueryTimeout), or check the server's load and the network.")             \
  X(CONN_RESET,           304, TRANSPORT,                                     \
    "The connection was reset: the server or a middlebox dropped it; check "  \
    "the server's error log and any proxy or firewall on the way.")           \
  X(CONN_CLOSED,          305, TRANSPORT,                                     \
    "The server closed the connection: its error log says why (it may "       \
    "refuse this client's encryption settings or TDS version).")              \
  X(NET_UNREACHABLE,      306, TRANSPORT,                                     \
    "No route to the server: check the network configuration, VPN and the "   \
    "address family (IPv4/IPv6).")                                            \
  X(SOCKET,               307, TRANSPORT,                                     \
    "A socket call failed; the provider status holds errno.")                 \
  X(BROWSER_UNREACHABLE,  308, TRANSPORT,                                     \
    "SQL Server Browser did not answer on UDP 1434: it is stopped, or a "     \
    "firewall drops UDP 1434. Start the SQL Server Browser service, open "    \
    "UDP 1434, or connect with host,port (the instance's TCP port) to "       \
    "skip it.")                                                               \
  X(INSTANCE_NOT_FOUND,   309, TRANSPORT,                                     \
    "The SQL Server Browser knows no instance by that name: check the "       \
    "spelling against the names the message lists, and that the instance "    \
    "is installed and running.")                                              \
  X(BROWSER_REPLY_MALFORMED, 310, TRANSPORT,                                  \
    "The reply on UDP 1434 breaks MC-SQLR (SQL Server Resolution "            \
    "Protocol): something other than SQL Server Browser may answer there; "   \
    "capture it and report it, or connect with host,port.")                   \
  X(PIPE_NOT_FOUND,       311, TRANSPORT,                                     \
    "No server listens on that named pipe (on POSIX a socket path): check "   \
    "the path and that the server runs with named pipes enabled; the "        \
    "message says whether the file is missing, stale or not permitted.")      \
  X(PIPE_BUSY,            312, TRANSPORT,                                     \
    "Every instance of the named pipe stayed busy (the server's listen "      \
    "queue is full) until the timeout: retry, raise LoginTimeout, or "        \
    "connect by TCP.")                                                        \
  X(SHM_NOT_FOUND,        313, TRANSPORT,                                     \
    "No server offers shared memory at that path: it is not running on this " \
    "machine, runs without shared memory, or died and left a stale socket "   \
    "file (the message says which); start it, or connect by pipe or TCP.")    \
                                                                              \
  X(TLS_CERT_UNTRUSTED,   400, TLS,                                           \
    "The server's certificate does not chain to a trusted CA: give the CA "   \
    "with CAFile=, or install it in the system store; TrustServerCertificate" \
    "=yes turns verification off (testing only).")                            \
  X(TLS_CERT_EXPIRED,     401, TLS,                                           \
    "The server's certificate is expired or not yet valid: renew it on the "  \
    "server, or check this machine's clock.")                                 \
  X(TLS_CERT_NAME_MISMATCH, 402, TLS,                                         \
    "The certificate does not name the host connected to: connect with a "   \
    "name it lists, or set HostNameInCertificate= to the name it holds.")     \
  X(TLS_PROTOCOL_MISMATCH, 403, TLS,                                          \
    "Client and server share no TLS version or cipher: enable TLS 1.2 or "    \
    "later on the server (or update it).")                                    \
  X(TLS_HANDSHAKE,        404, TLS,                                           \
    "The TLS handshake failed; the provider status holds OpenSSL's reason.")  \
  X(TLS_ENCRYPTION_UNAVAILABLE, 405, TLS,                                     \
    "The server cannot encrypt as Encrypt= requires: install a certificate "  \
    "on the server, or lower Encrypt= (off sends the login in clear).")       \
  X(TLS_STRICT_UNSUPPORTED, 406, TLS,                                         \
    "The server did not answer a TDS 8.0 (Encrypt=strict) TLS handshake: it " \
    "predates SQL Server 2022 or is not set up for strict; use "              \
    "Encrypt=mandatory.")                                                     \
  X(TLS_CERT_REJECTED,    407, TLS,                                           \
    "The server's certificate failed verification (see the provider "         \
    "status for OpenSSL's verify result): fix the certificate on the server.")\
  X(TLS_CLIENT_VERSION_TOO_LOW, 408, TLS,                                     \
    "The server requires a newer TLS version than this client allows (the "  \
    "message names both): raise the client's maximum (MaxProtocol in its "    \
    "OpenSSL configuration, OPENSSL_CONF), or let the server accept it.")    \
  X(TLS_CIPHER_MISMATCH,  409, TLS,                                           \
    "Client and server share a TLS version but no cipher suite (the message " \
    "lists the client's): enable one of them on the server, or widen the "    \
    "client's CipherString/Ciphersuites (OpenSSL configuration).")           \
  X(TLS_CLIENT_CONFIG,    410, TLS,                                           \
    "This client's own TLS settings leave nothing to offer (no version in "   \
    "its range, or no cipher): correct MinProtocol, MaxProtocol, "             \
    "CipherString or Ciphersuites in the OpenSSL configuration it names.")   \
  X(TLS_CERT_REVOKED,     411, TLS,                                           \
    "The CA revoked the server's certificate (its CRL in CAFile lists it): "  \
    "install a new certificate on the server.")                               \
  X(TLS_CERT_WRONG_PURPOSE, 412, TLS,                                         \
    "The server's certificate is not for TLS servers (its key usage or "      \
    "extended key usage lacks serverAuth): reissue it for server "            \
    "authentication.")                                                        \
  X(TLS_CERT_WEAK,        413, TLS,                                           \
    "The certificate's key or signature is weaker than this client's "        \
    "security level allows: reissue it (RSA 2048 or more, SHA-256), or lower "\
    "the level in the client's OpenSSL configuration (not advised).")        \
  X(TLS_REVOCATION_UNKNOWN, 414, TLS,                                         \
    "Revocation could not be checked (CAFile holds CRLs, so each "            \
    "certificate is checked): add a current CRL of the issuing CA to "        \
    "CAFile, or remove the CRLs to turn the check off.")                      \
  X(TLS_CLIENT_CERT_REQUIRED, 415, TLS,                                       \
    "The server (or a TLS proxy before it) demands a client certificate, "    \
    "which tdsclient does not send: turn client-certificate authentication "  \
    "off there.")                                                             \
                                                                              \
  X(KRB_KDC_UNREACHABLE,  500, KERBEROS,                                    \
    "No KDC of the realm answered: this machine is off its domain (VPN?), "   \
    "the KDC is down, or krb5.conf names the wrong KDC. Reach the domain, "   \
    "connect through a local transport (shared memory, named pipe), or "      \
    "allow NTLM.")                                                            \
  X(KRB_SPN_UNKNOWN,      501, KERBEROS,                                    \
    "The KDC knows no service principal by that name: register the SPN for "  \
    "SQL Server's service account (setspn -S MSSQLSvc/host:port account), "   \
    "or connect by the name it is registered under (or ServerSPN=).")        \
  X(KRB_NO_CREDENTIALS,   502, KERBEROS,                                    \
    "There is no Kerberos ticket to use: run kinit, or give the service a "   \
    "keytab (KrbKeytab=) or a ticket cache (KrbCCache=).")                   \
  X(KRB_TICKET_EXPIRED,   503, KERBEROS,                                    \
    "The Kerberos ticket has expired: renew it (kinit -R, or kinit).")       \
  X(KRB_CLOCK_SKEW,       504, KERBEROS,                                    \
    "The clocks of client, server and KDC differ by more than Kerberos "      \
    "allows (5 minutes by default): synchronise them with NTP.")             \
  X(KRB_SERVICE_KEY_MISMATCH, 505, KERBEROS,                                \
    "The server cannot decrypt its ticket: the service account's password "   \
    "changed and its keytab is stale, or the SPN is registered to another "   \
    "account as well (duplicate SPN: setspn -X, setspn -Q).")                \
  X(KRB_REALM_UNKNOWN,    506, KERBEROS,                                    \
    "This machine's Kerberos configuration does not know the realm: add it "  \
    "to krb5.conf ([realms], [domain_realm]) or correct the principal.")     \
  X(KRB_PREAUTH_FAILED,   507, KERBEROS,                                    \
    "The KDC refused the password (or keytab key) of the client principal: "  \
    "correct it, or refresh the keytab after a password change.")            \
  X(KRB_CLIENT_UNKNOWN,   508, KERBEROS,                                    \
    "The KDC does not know the client principal: check its spelling and "     \
    "realm.")                                                                 \
  X(KRB_MUTUAL_AUTH_FAILED, 509, KERBEROS,                                  \
    "The server did not prove its identity: it may not be the server the "    \
    "SPN names; check DNS and the SPN.")                                      \
  X(KRB_FAILED,           510, KERBEROS,                                    \
    "Kerberos failed; the provider status holds GSSAPI's major and minor "    \
    "codes and the krb5 error.")                                              \
  X(KRB_CLIENT_REVOKED,   511, KERBEROS,                                    \
    "The KDC refuses the client account itself: it is expired, disabled or "  \
    "locked out (or not yet valid). An administrator must re-enable it "      \
    "(kadmin modprinc, or the domain's account settings); another "           \
    "mechanism is not tried for an identity the KDC judged.")                 \
  X(KRB_PASSWORD_EXPIRED, 512, KERBEROS,                                    \
    "The client's password has expired: change it (kpasswd, or a Windows "   \
    "logon), then get a new ticket (kinit) or export a new keytab.")         \
  X(KRB_NO_TRUST_PATH,    513, KERBEROS,                                    \
    "The client's realm has no trust path to the service's realm: the "       \
    "cross-realm krbtgt the message names is missing. Create the trust, "     \
    "log in as a principal of the service's realm, or fix [domain_realm] "    \
    "if the service is in the client's realm.")                              \
  X(KRB_ENCTYPE_UNSUPPORTED, 514, KERBEROS,                                 \
    "Client, KDC and service key share no encryption type: allow AES "        \
    "(aes256-cts, aes128-cts) in krb5.conf's permitted_enctypes, on the "     \
    "accounts (msDS-SupportedEncryptionTypes) and in the keytabs.")          \
  X(KRB_CONFIG_INVALID,   515, KERBEROS,                                    \
    "The Kerberos configuration cannot be used: the file the message names "  \
    "(from KRB5_CONFIG or the default) is missing, unreadable or has a "      \
    "syntax error there; fix it or point KRB5_CONFIG at a valid krb5.conf.")  \
  X(KRB_KEYTAB_UNUSABLE,  516, KERBEROS,                                    \
    "The client keytab the message names is missing, unreadable, or holds "   \
    "no key for the principal: check the path and permissions of "           \
    "KrbKeytab= (or KRB5_CLIENT_KTNAME), and export the principal's keys "    \
    "into it (kadmin ktadd, ktpass).")                                        \
  X(KRB_WRONG_PRINCIPAL,  517, KERBEROS,                                    \
    "The ticket cache holds another principal than the one asked for (UID=, " \
    "KrbPrincipal=): run kinit as that principal (or point KrbCCache= at "    \
    "its cache), or ask for the principal the cache holds.")                 \
  X(KRB_CCACHE_UNUSABLE,  518, KERBEROS,                                    \
    "The ticket cache cannot be read (corrupt, wrong owner or permissions, "  \
    "unknown type or unreachable cache daemon): check KRB5CCNAME or "         \
    "KrbCCache=, then kdestroy and kinit again.")                            \
  X(KRB_SERVICE_REFUSED,  519, KERBEROS,                                    \
    "The KDC will not issue tickets for the service principal: its account "  \
    "is expired, disabled or may not act as a service; fix the SQL Server "   \
    "service account at the KDC.")                                            \
  X(KRB_POLICY_REFUSED,   520, KERBEROS,                                    \
    "The KDC's policy refuses the request (a ticket option, or a "            \
    "pre-authentication this client cannot do, such as a smart card or "      \
    "OTP): the message gives the KDC's words; ask its administrator.")       \
  X(KRB_AP_REJECTED,      521, KERBEROS,                                    \
    "The server rejected the Kerberos authenticator (a replay, an address "   \
    "or sequence mismatch): retry; if it persists, check the server's "       \
    "clock and replay cache, and look for a proxy that replays traffic.")     \
                                                                              \
  X(NTLM_NO_CREDENTIALS,  600, NTLM,                                        \
    "No NTLM credentials were given: set NTLMUser= and NTLMPassword= (or "    \
    "NTLMCredFile=), or UID=DOMAIN\\user with PWD=.")                         \
  X(NTLM_LOGON_DENIED,    601, NTLM,                                        \
    "The server's domain refused the NTLM credentials: a wrong password, an " \
    "unknown or disabled account, or a locked-out one; the server cannot "    \
    "tell the client which: its security event log can.")                    \
  X(NTLM_REFUSED,         602, NTLM,                                        \
    "The server did not take part in NTLM (no challenge came back): it may "  \
    "restrict NTLM by policy; use Kerberos or SQL login.")                    \
  X(NTLM_FAILED,          603, NTLM,                                        \
    "NTLM failed: the server's challenge was malformed or asked for what "    \
    "this client does not do (the message says what).")                      \
  X(NTLM_CREDFILE_UNUSABLE, 604, NTLM,                                      \
    "The NTLM credential file the message names is missing, unreadable, "     \
    "malformed (line given) or has no entry for the user: fix NTLMCredFile= " \
    "or the file (lines DOMAIN\\user:password).")                            \
  X(NTLM_ACCOUNT_RESTRICTED, 605, NTLM,                                       \
    "The domain refuses the NTLM account itself: it is disabled, expired, "   \
    "locked out, or its password expired or must change; an administrator "   \
    "must fix the account (or change the password).")                        \
                                                                              \
  X(LOGIN_FAILED,         700, SQL_LOGIN,                                     \
    "SQL Server rejected the login (18456). The real reason (bad password, "  \
    "unknown or disabled login, no access to the database) is only in the "   \
    "server's error log, under the state it logged.")                         \
  X(LOGIN_NO_DATABASE,    701, SQL_LOGIN,                                     \
    "The login cannot open the requested database (4060): check Database= "   \
    "and the login's access to it.")                                          \
  X(LOGIN_NO_CREDENTIALS, 702, SQL_LOGIN,                                     \
    "SQL login had no user name to log in with: give UID= and PWD= (or "      \
    "TDSC_UID, a service file), or list only the integrated mechanisms "      \
    "in Authentication=.")                                                    \
                                                                              \
  X(SERVER_ERROR,         800, SERVER,                                        \
    "The server reported an error: its number, state, class and line are in " \
    "the error's server message.")                                            \
  X(INTEGRATED_LOGIN_FAILED, 801, SERVER,                                     \
    "The server authenticated the principal but refused the login (18456): "  \
    "it has no login for it; create one (CREATE LOGIN [DOMAIN\\user] FROM "    \
    "WINDOWS) or grant access through a group.")                             \
  X(UNTRUSTED_DOMAIN,     802, SERVER,                                        \
    "The server does not accept this integrated login (18452): the identity " \
    "is from a domain it does not trust, or it accepts SQL logins only.")    \
  X(QUERY_TIMEOUT,        803, SERVER,                                        \
    "The server did not answer within the query timeout, so the request was " \
    "cancelled (the connection stays open): raise QueryTimeout or the "       \
    "statement's timeout, or find what blocks the query on the server.")      \
                                                                              \
  X(PROTOCOL,             900, PROTOCOL,                                      \
    "The server sent bytes that break the TDS protocol: rerun with "          \
    "TDSC_TRACE=<file> (a decoded trace, secrets redacted) and report it "    \
    "with the message.")                                                      \
  X(PROTOCOL_VERSION,     901, PROTOCOL,                                      \
    "The server does not speak TDS 7.4: tdsclient needs SQL Server 2012 or "  \
    "later.")                                                                 \
  X(ROUTING_UNSUPPORTED,  902, PROTOCOL,                                      \
    "Not returned any more: routing (ENVCHANGE routing) is followed. Older "  \
    "versions returned it when the server redirected the login elsewhere.")  \
  X(ROUTING_TOO_MANY_HOPS, 903, PROTOCOL,                                     \
    "The servers routed the login in a loop, or more than 5 times "           \
    "(ENVCHANGE routing): check the routing configuration (the gateway's, "   \
    "the availability group's read-only routing list), or connect to the "    \
    "last server named in the trail.")                                        \
                                                                              \
  X(ENTRA_NO_TOKEN,       1000, ENTRA,                                        \
    "The entra mechanism had no access token: give AccessToken= or set a "    \
    "token provider (tdsc_conn_set_token_provider), or drop entra from "      \
    "Authentication=.")                                                       \
  X(ENTRA_TOKEN_EXPIRED,  1001, ENTRA,                                        \
    "The access token expired (its exp claim, time in the message): get a "   \
    "new one from Microsoft Entra ID (e.g. az account get-access-token "      \
    "--resource https://database.windows.net/).")                             \
  X(ENTRA_TOKEN_NOT_YET_VALID, 1002, ENTRA,                                   \
    "The access token is not valid yet (its nbf claim is in the future): "    \
    "this machine's clock or the issuer's is wrong; fix the clock.")          \
  X(ENTRA_WRONG_AUDIENCE, 1003, ENTRA,                                        \
    "The access token was issued for another resource (its aud claim): ask "  \
    "for a token for https://database.windows.net/ (or set EntraAudience= "   \
    "to the resource the server expects).")                                   \
  X(ENTRA_TOKEN_MALFORMED, 1004, ENTRA,                                       \
    "The access token is not a JWT this client can read (three base64url "    \
    "parts, JSON claims with exp): pass the access token itself, not an ID "  \
    "token, a refresh token or a JSON response holding it.")                  \
  X(ENTRA_TLS_REQUIRED,   1005, ENTRA,                                        \
    "An access token is a bearer secret and is never sent without TLS: "      \
    "remove Encrypt=off (or set Encrypt=mandatory or strict).")               \
  X(ENTRA_TOKEN_REJECTED, 1006, ENTRA,                                        \
    "The server refused the token's identity (18456): the token's tenant, "   \
    "issuer or signature is not the server's, or no user is created for the " \
    "principal (CREATE USER [name] FROM EXTERNAL PROVIDER).")                 \
  X(ENTRA_PROVIDER_FAILED, 1007, ENTRA,                                       \
    "The application's token provider (tdsc_conn_set_token_provider) "        \
    "reported a failure: see the application's own log for why.")     \
  X(ENTRA_NO_HTTP,        1008, ENTRA,                                        \
    "This build of tdsclient cannot fetch the token this way (a POSIX build " \
    "without libcurl has no HTTP token sources; the Windows build signs no "  \
    "certificate assertion): give AccessToken=, a token provider or, on "     \
    "Windows, the client secret, or use a build with libcurl (Debian: "       \
    "libcurl4-openssl-dev).")                                                 \
  X(ENTRA_NO_CLIENT_CREDENTIALS, 1009, ENTRA,                                 \
    "The token source lacks what it needs (named in the message): for a "     \
    "service principal UID= (client id), PWD= (client secret) and "          \
    "EntraTenant=; for workload identity AZURE_FEDERATED_TOKEN_FILE, "        \
    "AZURE_CLIENT_ID and AZURE_TENANT_ID.")                                   \
  X(ENTRA_ENDPOINT_INSECURE, 1010, ENTRA,                                     \
    "A token endpoint is reached by https only (plain http only on this "     \
    "machine's loopback, or the instance metadata address): fix "            \
    "EntraAuthority=, EntraIMDS= or the environment variable named.")         \
  X(ENTRA_ENDPOINT_UNREACHABLE, 1011, ENTRA,                                  \
    "The token endpoint named in the message could not be reached (refused, " \
    "no such host, TLS failed): check the address, the network and, for "     \
    "managed identity, that this machine runs on Azure.")                     \
  X(ENTRA_ENDPOINT_TIMEOUT, 1012, ENTRA,                                      \
    "The token endpoint named in the message did not answer within the "     \
    "login timeout: check the network to it, or raise LoginTimeout.")         \
  X(ENTRA_ENDPOINT_BAD_RESPONSE, 1013, ENTRA,                                 \
    "The token endpoint answered something that is not an OAuth 2.0 token "   \
    "response (not JSON, or no access_token): check that the address is the " \
    "identity provider's token endpoint (no proxy or portal in between).")    \
  X(ENTRA_ENDPOINT_HTTP_ERROR, 1014, ENTRA,                                   \
    "The token endpoint answered an HTTP error without an OAuth 2.0 error "   \
    "(status in the message): check the address and the endpoint's health.")  \
  X(ENTRA_CLIENT_SECRET_INVALID, 1015, ENTRA,                                 \
    "Microsoft Entra ID refused the client secret (AADSTS7000215): PWD= "     \
    "must be the secret's value (not its id) of the application in UID=.")   \
  X(ENTRA_CLIENT_SECRET_EXPIRED, 1016, ENTRA,                                 \
    "The client secret has expired (AADSTS7000222): create a new secret for " \
    "the application (Certificates & secrets) and use it in PWD=.")           \
  X(ENTRA_APP_NOT_FOUND,  1017, ENTRA,                                        \
    "No application with the client id in UID= exists in the tenant "         \
    "(AADSTS700016): check UID= and EntraTenant=, or consent the "            \
    "application in that tenant.")                                            \
  X(ENTRA_TENANT_NOT_FOUND, 1018, ENTRA,                                      \
    "Microsoft Entra ID knows no such tenant (AADSTS90002): check "           \
    "EntraTenant= (a tenant id or a verified domain) and EntraAuthority= "   \
    "(the cloud).")                                                           \
  X(ENTRA_IDENTITY_REFUSED, 1019, ENTRA,                                      \
    "The identity provider refused to issue a token (its error and AADSTS "   \
    "code in the message): fix the identity's credentials or configuration " \
    "as the message says.")                                                   \
  X(ENTRA_CLIENT_CERT_UNREADABLE, 1020, ENTRA,                                \
    "The file of EntraClientCertificate= cannot be read or holds no PEM "     \
    "certificate: give the path of a PEM file with the application's "        \
    "certificate and its private key (e.g. openssl pkcs12 -in app.pfx "       \
    "-out app.pem).")                                                         \
  X(ENTRA_CLIENT_CERT_NO_KEY, 1021, ENTRA,                                    \
    "The file of EntraClientCertificate= holds a certificate but no RSA "     \
    "private key: append the certificate's private key (PEM) to the file.")   \
  X(ENTRA_CLIENT_CERT_KEY_MISMATCH, 1022, ENTRA,                              \
    "The private key in the file of EntraClientCertificate= is not the "      \
    "certificate's: put the key the certificate was issued for beside it.")   \
  X(ENTRA_CLIENT_CERT_PASSPHRASE, 1023, ENTRA,                                \
    "The certificate's private key is encrypted and no passphrase or a "     \
    "wrong one was given: set PWD= (AZURE_CLIENT_CERTIFICATE_PASSWORD for "   \
    "the environment's certificate) to the key's passphrase.")                \
  X(ENTRA_CLIENT_CERT_EXPIRED, 1024, ENTRA,                                   \
    "The certificate of EntraClientCertificate= is outside its validity "     \
    "(dates in the message): register a new certificate for the "             \
    "application and use it, or fix this machine's clock.")                   \
  X(ENTRA_CLIENT_CERT_REFUSED, 1025, ENTRA,                                   \
    "Microsoft Entra ID refused the certificate's assertion (AADSTS700027): " \
    "upload the certificate (its public part; thumbprint in the message) to " \
    "the application in UID= (Certificates & secrets), in the tenant asked.") \
  X(ENTRA_CLIENT_ASSERTION_EXPIRED, 1026, ENTRA,                              \
    "The identity provider found the client assertion outside its time "     \
    "range (AADSTS700024): fix this machine's clock (a certificate's "        \
    "assertion) or renew the federated token file (workload identity).")    \
  X(ENTRA_NO_SOURCE,      1027, ENTRA,                                        \
    "Authentication=ActiveDirectoryDefault found no credential: set "         \
    "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or "            \
    "AZURE_CLIENT_CERTIFICATE_PATH, or run where workload identity "          \
    "(AZURE_FEDERATED_TOKEN_FILE) or a managed identity is, or choose "       \
    "another Authentication=.")                                               \
  X(ENTRA_STS_UNTRUSTED,  1030, ENTRA,                                        \
    "The server's FEDAUTHINFO names a token service on a host that is not a " \
    "Microsoft Entra authority: no credential was sent there.  If the host "  \
    "is yours, name it in EntraAuthority=; else the server is not to be "     \
    "trusted.")
/* clang-format on */

#endif
