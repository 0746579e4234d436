/* The Kerberos diagnosis tables (krb5_diag.h): every error code of MIT
 * krb5's error tables that the AS, TGS and AP exchanges, the ccache, the
 * keytab and the profile produce (krb5_err.et, k5e1_err.et, kv5m_err.et,
 * prof_err.et, and the krb5 GSS mechanism's gssapi_err_krb5.et), and every
 * SECURITY_STATUS SSPI returns for Kerberos, Negotiate and NTLM, with the
 * tdsc code it becomes.  krb5_message.c composes the messages; this
 * file only decides the code.  Values are numbers, not MIT's or Windows'
 * macros, so both builds (and the unit test, which walks every code of
 * the tables) share one file; where the provider's header is at hand, a
 * static assertion checks each number against the provider's name (MIT's
 * below, winerror.h's in krb5_diag_win32.c). */
#include "config.h"

#include "auth/krb5_diag.h"
#include "auth/sspi_rows.h" /* the SSPI rows */

#ifdef TDSC_HAVE_GSSAPI
#include <krb5.h>
#include <profile.h>
#endif

/* Error table bases (com_err: a table's name hashed into the high bits). */
#define KRB5_(n) (-1765328384L + (n)) /* krb5_err.et */
#define K5E1_(n) (-1750600192L + (n)) /* k5e1_err.et */
#define KV5M_(n) (-1760647424L + (n)) /* kv5m_err.et */
#define PROF_(n) (-1429577728L + (n)) /* prof_err.et */
#define K5G_(n) (39756032L + (n))     /* gssapi_err_krb5.et */

#define E(x) TDSC_E_##x

/* clang-format off */
/* R: same code in every phase; P: (AS exchange, TGS/AP); F: KRB_FAILED on
 * purpose, with the reason as a comment; G: a range of KRB_FAILED. */
#define KRB5_ROWS(R, P, F, G)                                                 \
  F(KRB5KDC_ERR_NONE, KRB5_(0)) /* not an error */                            \
  R(KRB5KDC_ERR_NAME_EXP, KRB5_(1), KRB_CLIENT_REVOKED)                       \
  R(KRB5KDC_ERR_SERVICE_EXP, KRB5_(2), KRB_SERVICE_REFUSED)                   \
  F(KRB5KDC_ERR_BAD_PVNO, KRB5_(3)) /* protocol version: no user remedy */    \
  F(KRB5KDC_ERR_C_OLD_MAST_KVNO, KRB5_(4)) /* KDC database state */           \
  F(KRB5KDC_ERR_S_OLD_MAST_KVNO, KRB5_(5)) /* KDC database state */           \
  R(KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, KRB5_(6), KRB_CLIENT_UNKNOWN)            \
  /* gssapi.c turns it into NO_TRUST_PATH when the realms differ */           \
  R(KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN, KRB5_(7), KRB_SPN_UNKNOWN)               \
  /* several accounts hold the SPN: the duplicate-SPN hint */                 \
  R(KRB5KDC_ERR_PRINCIPAL_NOT_UNIQUE, KRB5_(8), KRB_SERVICE_KEY_MISMATCH)     \
  F(KRB5KDC_ERR_NULL_KEY, KRB5_(9)) /* KDC database state; e-text says */     \
  R(KRB5KDC_ERR_CANNOT_POSTDATE, KRB5_(10), KRB_POLICY_REFUSED)               \
  R(KRB5KDC_ERR_NEVER_VALID, KRB5_(11), KRB_POLICY_REFUSED)                   \
  R(KRB5KDC_ERR_POLICY, KRB5_(12), KRB_POLICY_REFUSED)                        \
  R(KRB5KDC_ERR_BADOPTION, KRB5_(13), KRB_POLICY_REFUSED)                     \
  R(KRB5KDC_ERR_ETYPE_NOSUPP, KRB5_(14), KRB_ENCTYPE_UNSUPPORTED)             \
  R(KRB5KDC_ERR_SUMTYPE_NOSUPP, KRB5_(15), KRB_ENCTYPE_UNSUPPORTED)           \
  R(KRB5KDC_ERR_PADATA_TYPE_NOSUPP, KRB5_(16), KRB_POLICY_REFUSED)            \
  R(KRB5KDC_ERR_TRTYPE_NOSUPP, KRB5_(17), KRB_NO_TRUST_PATH)                  \
  R(KRB5KDC_ERR_CLIENT_REVOKED, KRB5_(18), KRB_CLIENT_REVOKED)                \
  R(KRB5KDC_ERR_SERVICE_REVOKED, KRB5_(19), KRB_SERVICE_REFUSED)              \
  R(KRB5KDC_ERR_TGT_REVOKED, KRB5_(20), KRB_TICKET_EXPIRED)                   \
  R(KRB5KDC_ERR_CLIENT_NOTYET, KRB5_(21), KRB_CLIENT_REVOKED)                 \
  R(KRB5KDC_ERR_SERVICE_NOTYET, KRB5_(22), KRB_SERVICE_REFUSED)               \
  R(KRB5KDC_ERR_KEY_EXP, KRB5_(23), KRB_PASSWORD_EXPIRED)                     \
  R(KRB5KDC_ERR_PREAUTH_FAILED, KRB5_(24), KRB_PREAUTH_FAILED)                \
  /* final only when the client had no way to pre-authenticate */             \
  R(KRB5KDC_ERR_PREAUTH_REQUIRED, KRB5_(25), KRB_POLICY_REFUSED)              \
  R(KRB5KDC_ERR_SERVER_NOMATCH, KRB5_(26), KRB_SERVICE_KEY_MISMATCH)          \
  R(KRB5KDC_ERR_MUST_USE_USER2USER, KRB5_(27), KRB_SERVICE_REFUSED)           \
  R(KRB5KDC_ERR_PATH_NOT_ACCEPTED, KRB5_(28), KRB_NO_TRUST_PATH)              \
  R(KRB5KDC_ERR_SVC_UNAVAILABLE, KRB5_(29), KRB_KDC_UNREACHABLE)              \
  F(KRB5PLACEHOLD_30, KRB5_(30)) /* unused */                                 \
  /* AS: the reply is sealed with the key of another password; later: the     \
   * server's key is not the one the KDC used */                              \
  P(KRB5KRB_AP_ERR_BAD_INTEGRITY, KRB5_(31), KRB_PREAUTH_FAILED,              \
    KRB_SERVICE_KEY_MISMATCH)                                                 \
  R(KRB5KRB_AP_ERR_TKT_EXPIRED, KRB5_(32), KRB_TICKET_EXPIRED)                \
  R(KRB5KRB_AP_ERR_TKT_NYV, KRB5_(33), KRB_CLOCK_SKEW)                        \
  R(KRB5KRB_AP_ERR_REPEAT, KRB5_(34), KRB_AP_REJECTED)                        \
  R(KRB5KRB_AP_ERR_NOT_US, KRB5_(35), KRB_SERVICE_KEY_MISMATCH)               \
  R(KRB5KRB_AP_ERR_BADMATCH, KRB5_(36), KRB_AP_REJECTED)                      \
  R(KRB5KRB_AP_ERR_SKEW, KRB5_(37), KRB_CLOCK_SKEW)                           \
  R(KRB5KRB_AP_ERR_BADADDR, KRB5_(38), KRB_AP_REJECTED)                       \
  F(KRB5KRB_AP_ERR_BADVERSION, KRB5_(39)) /* protocol version */              \
  F(KRB5KRB_AP_ERR_MSG_TYPE, KRB5_(40)) /* protocol: a bug on one side */     \
  R(KRB5KRB_AP_ERR_MODIFIED, KRB5_(41), KRB_SERVICE_KEY_MISMATCH)             \
  R(KRB5KRB_AP_ERR_BADORDER, KRB5_(42), KRB_AP_REJECTED)                      \
  R(KRB5KRB_AP_ERR_ILL_CR_TKT, KRB5_(43), KRB_NO_TRUST_PATH)                  \
  R(KRB5KRB_AP_ERR_BADKEYVER, KRB5_(44), KRB_SERVICE_KEY_MISMATCH)            \
  R(KRB5KRB_AP_ERR_NOKEY, KRB5_(45), KRB_SERVICE_KEY_MISMATCH)                \
  R(KRB5KRB_AP_ERR_MUT_FAIL, KRB5_(46), KRB_MUTUAL_AUTH_FAILED)               \
  R(KRB5KRB_AP_ERR_BADDIRECTION, KRB5_(47), KRB_AP_REJECTED)                  \
  R(KRB5KRB_AP_ERR_METHOD, KRB5_(48), KRB_POLICY_REFUSED)                     \
  R(KRB5KRB_AP_ERR_BADSEQ, KRB5_(49), KRB_AP_REJECTED)                        \
  R(KRB5KRB_AP_ERR_INAPP_CKSUM, KRB5_(50), KRB_ENCTYPE_UNSUPPORTED)           \
  R(KRB5KRB_AP_PATH_NOT_ACCEPTED, KRB5_(51), KRB_NO_TRUST_PATH)               \
  /* MIT retries over TCP: final only when no KDC answers over TCP */         \
  R(KRB5KRB_ERR_RESPONSE_TOO_BIG, KRB5_(52), KRB_KDC_UNREACHABLE)             \
  G(KRB5PLACEHOLD_53, KRB5_(53), KRB5_(59)) /* unused */                      \
  F(KRB5KRB_ERR_GENERIC, KRB5_(60)) /* the KDC's e-text is all we have */     \
  F(KRB5KRB_ERR_FIELD_TOOLONG, KRB5_(61)) /* protocol */                      \
  /* 62-66, 70-81, 100: PKINIT (certificates), which tdsclient never asks     \
   * for */                                                                   \
  G(KRB5KDC_ERR_CLIENT_NOT_TRUSTED, KRB5_(62), KRB5_(66))                     \
  F(KRB5KRB_AP_ERR_NO_TGT, KRB5_(67)) /* user-to-user, never used */         \
  R(KRB5KDC_ERR_WRONG_REALM, KRB5_(68), KRB_REALM_UNKNOWN)                    \
  R(KRB5KRB_AP_ERR_USER_TO_USER_REQUIRED, KRB5_(69), KRB_SERVICE_REFUSED)     \
  G(KRB5KDC_ERR_CANT_VERIFY_CERTIFICATE, KRB5_(70), KRB5_(81))                \
  G(KRB5PLACEHOLD_82, KRB5_(82), KRB5_(84)) /* unused */                      \
  R(KRB5KRB_AP_ERR_IAKERB_KDC_NOT_FOUND, KRB5_(85), KRB_KDC_UNREACHABLE)      \
  R(KRB5KRB_AP_ERR_IAKERB_KDC_NO_RESPONSE, KRB5_(86), KRB_KDC_UNREACHABLE)    \
  G(KRB5PLACEHOLD_87, KRB5_(87), KRB5_(89)) /* unused */                      \
  F(KRB5KDC_ERR_PREAUTH_EXPIRED, KRB5_(90)) /* a retry gets a fresh one */    \
  R(KRB5KDC_ERR_MORE_PREAUTH_DATA_REQUIRED, KRB5_(91), KRB_POLICY_REFUSED)    \
  F(KRB5PLACEHOLD_92, KRB5_(92)) /* unused */                                 \
  F(KRB5KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTION, KRB5_(93)) /* protocol */       \
  G(KRB5PLACEHOLD_94, KRB5_(94), KRB5_(99)) /* unused */                      \
  F(KRB5KDC_ERR_NO_ACCEPTABLE_KDF, KRB5_(100)) /* PKINIT */                   \
  G(KRB5PLACEHOLD_101, KRB5_(101), KRB5_(127)) /* unused */                   \
  F(KRB5_ERR_RCSID, KRB5_(128)) /* never returned */                          \
  F(KRB5_LIBOS_BADLOCKFLAG, KRB5_(129)) /* library misuse */                  \
  /* a password prompt was needed: no credentials were given */               \
  R(KRB5_LIBOS_CANTREADPWD, KRB5_(130), KRB_NO_CREDENTIALS)                   \
  F(KRB5_LIBOS_BADPWDMATCH, KRB5_(131)) /* interactive prompts only */        \
  F(KRB5_LIBOS_PWDINTR, KRB5_(132)) /* interactive prompts only */            \
  /* a principal or SPN that does not parse: the option to correct */         \
  R(KRB5_PARSE_ILLCHAR, KRB5_(133), BAD_OPTION_VALUE)                         \
  R(KRB5_PARSE_MALFORMED, KRB5_(134), BAD_OPTION_VALUE)                       \
  R(KRB5_CONFIG_CANTOPEN, KRB5_(135), KRB_CONFIG_INVALID)                     \
  R(KRB5_CONFIG_BADFORMAT, KRB5_(136), KRB_CONFIG_INVALID)                    \
  R(KRB5_CONFIG_NOTENUFSPACE, KRB5_(137), KRB_CONFIG_INVALID)                 \
  F(KRB5_BADMSGTYPE, KRB5_(138)) /* protocol */                               \
  R(KRB5_CC_BADNAME, KRB5_(139), KRB_CCACHE_UNUSABLE)                         \
  R(KRB5_CC_UNKNOWN_TYPE, KRB5_(140), KRB_CCACHE_UNUSABLE)                    \
  R(KRB5_CC_NOTFOUND, KRB5_(141), KRB_NO_CREDENTIALS)                         \
  R(KRB5_CC_END, KRB5_(142), KRB_NO_CREDENTIALS)                              \
  R(KRB5_NO_TKT_SUPPLIED, KRB5_(143), KRB_NO_CREDENTIALS)                     \
  R(KRB5KRB_AP_WRONG_PRINC, KRB5_(144), KRB_SERVICE_KEY_MISMATCH)             \
  R(KRB5KRB_AP_ERR_TKT_INVALID, KRB5_(145), KRB_TICKET_EXPIRED)               \
  R(KRB5_PRINC_NOMATCH, KRB5_(146), KRB_SERVICE_KEY_MISMATCH)                 \
  F(KRB5_KDCREP_MODIFIED, KRB5_(147)) /* a KDC reply not matching the ask */  \
  R(KRB5_KDCREP_SKEW, KRB5_(148), KRB_CLOCK_SKEW)                             \
  R(KRB5_IN_TKT_REALM_MISMATCH, KRB5_(149), KRB_REALM_UNKNOWN)                \
  R(KRB5_PROG_ETYPE_NOSUPP, KRB5_(150), KRB_ENCTYPE_UNSUPPORTED)              \
  R(KRB5_PROG_KEYTYPE_NOSUPP, KRB5_(151), KRB_ENCTYPE_UNSUPPORTED)            \
  R(KRB5_WRONG_ETYPE, KRB5_(152), KRB_ENCTYPE_UNSUPPORTED)                    \
  R(KRB5_PROG_SUMTYPE_NOSUPP, KRB5_(153), KRB_ENCTYPE_UNSUPPORTED)            \
  R(KRB5_REALM_UNKNOWN, KRB5_(154), KRB_REALM_UNKNOWN)                        \
  F(KRB5_SERVICE_UNKNOWN, KRB5_(155)) /* getservbyname("kerberos"), gone */   \
  R(KRB5_KDC_UNREACH, KRB5_(156), KRB_KDC_UNREACHABLE)                        \
  F(KRB5_NO_LOCALNAME, KRB5_(157)) /* an acceptor's auth_to_local */          \
  R(KRB5_MUTUAL_FAILED, KRB5_(158), KRB_MUTUAL_AUTH_FAILED)                   \
  /* 159-172: replay caches, which only acceptors keep; a replay itself is    \
   * the server's judgment of our authenticator */                            \
  G(KRB5_RC_TYPE_EXISTS, KRB5_(159), KRB5_(162))                              \
  R(KRB5_RC_REPLAY, KRB5_(163), KRB_AP_REJECTED)                              \
  G(KRB5_RC_IO, KRB5_(164), KRB5_(172))                                       \
  F(KRB5_TRANS_CANTOPEN, KRB5_(173)) /* krb4 translation file, obsolete */    \
  F(KRB5_TRANS_BADFORMAT, KRB5_(174)) /* krb4 translation file, obsolete */   \
  G(KRB5_LNAME_CANTOPEN, KRB5_(175), KRB5_(177)) /* acceptor's lname db */    \
  F(KRB5_CRYPTO_INTERNAL, KRB5_(178)) /* a library bug */                     \
  R(KRB5_KT_BADNAME, KRB5_(179), KRB_KEYTAB_UNUSABLE)                         \
  R(KRB5_KT_UNKNOWN_TYPE, KRB5_(180), KRB_KEYTAB_UNUSABLE)                    \
  /* AS: the client keytab; later: the acceptor's (the server's key) */       \
  P(KRB5_KT_NOTFOUND, KRB5_(181), KRB_KEYTAB_UNUSABLE,                        \
    KRB_SERVICE_KEY_MISMATCH)                                                 \
  R(KRB5_KT_END, KRB5_(182), KRB_KEYTAB_UNUSABLE)                             \
  R(KRB5_KT_NOWRITE, KRB5_(183), KRB_KEYTAB_UNUSABLE)                         \
  R(KRB5_KT_IOERR, KRB5_(184), KRB_KEYTAB_UNUSABLE)                           \
  R(KRB5_NO_TKT_IN_RLM, KRB5_(185), KRB_NO_TRUST_PATH)                        \
  R(KRB5DES_BAD_KEYPAR, KRB5_(186), KRB_ENCTYPE_UNSUPPORTED)                  \
  R(KRB5DES_WEAK_KEY, KRB5_(187), KRB_ENCTYPE_UNSUPPORTED)                    \
  R(KRB5_BAD_ENCTYPE, KRB5_(188), KRB_ENCTYPE_UNSUPPORTED)                    \
  R(KRB5_BAD_KEYSIZE, KRB5_(189), KRB_ENCTYPE_UNSUPPORTED)                    \
  F(KRB5_BAD_MSIZE, KRB5_(190)) /* a library bug */                           \
  F(KRB5_CC_TYPE_EXISTS, KRB5_(191)) /* type registration, library */         \
  F(KRB5_KT_TYPE_EXISTS, KRB5_(192)) /* type registration, library */         \
  R(KRB5_CC_IO, KRB5_(193), KRB_CCACHE_UNUSABLE)                              \
  R(KRB5_FCC_PERM, KRB5_(194), KRB_CCACHE_UNUSABLE)                           \
  R(KRB5_FCC_NOFILE, KRB5_(195), KRB_NO_CREDENTIALS)                          \
  R(KRB5_FCC_INTERNAL, KRB5_(196), KRB_CCACHE_UNUSABLE)                       \
  R(KRB5_CC_WRITE, KRB5_(197), KRB_CCACHE_UNUSABLE)                           \
  R(KRB5_CC_NOMEM, KRB5_(198), NO_MEMORY)                                     \
  R(KRB5_CC_FORMAT, KRB5_(199), KRB_CCACHE_UNUSABLE)                          \
  R(KRB5_CC_NOT_KTYPE, KRB5_(200), KRB_ENCTYPE_UNSUPPORTED)                   \
  F(KRB5_INVALID_FLAGS, KRB5_(201)) /* library misuse */                      \
  F(KRB5_NO_2ND_TKT, KRB5_(202)) /* user-to-user, never used */               \
  R(KRB5_NOCREDS_SUPPLIED, KRB5_(203), KRB_NO_CREDENTIALS)                    \
  G(KRB5_SENDAUTH_BADAUTHVERS, KRB5_(204), KRB5_(207)) /* sendauth, unused */ \
  R(KRB5_PREAUTH_BAD_TYPE, KRB5_(208), KRB_POLICY_REFUSED)                    \
  R(KRB5_PREAUTH_NO_KEY, KRB5_(209), KRB_POLICY_REFUSED)                      \
  R(KRB5_PREAUTH_FAILED, KRB5_(210), KRB_PREAUTH_FAILED)                      \
  F(KRB5_RCACHE_BADVNO, KRB5_(211)) /* acceptor's replay cache */             \
  R(KRB5_CCACHE_BADVNO, KRB5_(212), KRB_CCACHE_UNUSABLE)                      \
  R(KRB5_KEYTAB_BADVNO, KRB5_(213), KRB_KEYTAB_UNUSABLE)                      \
  F(KRB5_PROG_ATYPE_NOSUPP, KRB5_(214)) /* addresses, never sent */           \
  F(KRB5_RC_REQUIRED, KRB5_(215)) /* acceptor's replay cache */               \
  R(KRB5_ERR_BAD_HOSTNAME, KRB5_(216), KRB_SPN_UNKNOWN)                       \
  R(KRB5_ERR_HOST_REALM_UNKNOWN, KRB5_(217), KRB_REALM_UNKNOWN)               \
  F(KRB5_SNAME_UNSUPP_NAMETYPE, KRB5_(218)) /* library misuse */              \
  F(KRB5KRB_AP_ERR_V4_REPLY, KRB5_(219)) /* a Kerberos 4 KDC */               \
  R(KRB5_REALM_CANT_RESOLVE, KRB5_(220), KRB_KDC_UNREACHABLE)                 \
  R(KRB5_TKT_NOT_FORWARDABLE, KRB5_(221), KRB_POLICY_REFUSED)                 \
  F(KRB5_FWD_BAD_PRINCIPAL, KRB5_(222)) /* forwarding, never asked */         \
  F(KRB5_GET_IN_TKT_LOOP, KRB5_(223)) /* referral loop between KDCs */        \
  R(KRB5_CONFIG_NODEFREALM, KRB5_(224), KRB_REALM_UNKNOWN)                    \
  G(KRB5_SAM_UNSUPPORTED, KRB5_(225), KRB5_(228)) /* SAM preauth, retired */  \
  R(KRB5_KT_NAME_TOOLONG, KRB5_(229), KRB_KEYTAB_UNUSABLE)                    \
  P(KRB5_KT_KVNONOTFOUND, KRB5_(230), KRB_KEYTAB_UNUSABLE,                    \
    KRB_SERVICE_KEY_MISMATCH)                                                 \
  F(KRB5_APPL_EXPIRED, KRB5_(231)) /* never returned */                       \
  F(KRB5_LIB_EXPIRED, KRB5_(232)) /* never returned */                        \
  /* changing an expired password failed */                                   \
  R(KRB5_CHPW_PWDNULL, KRB5_(233), KRB_PASSWORD_EXPIRED)                      \
  R(KRB5_CHPW_FAIL, KRB5_(234), KRB_PASSWORD_EXPIRED)                         \
  R(KRB5_KT_FORMAT, KRB5_(235), KRB_KEYTAB_UNUSABLE)                          \
  R(KRB5_NOPERM_ETYPE, KRB5_(236), KRB_ENCTYPE_UNSUPPORTED)                   \
  R(KRB5_CONFIG_ETYPE_NOSUPP, KRB5_(237), KRB_ENCTYPE_UNSUPPORTED)            \
  F(KRB5_OBSOLETE_FN, KRB5_(238)) /* library misuse */                        \
  /* 239-242: resolving a KDC's host name */                                  \
  R(KRB5_EAI_FAIL, KRB5_(239), KRB_KDC_UNREACHABLE)                           \
  R(KRB5_EAI_NODATA, KRB5_(240), KRB_KDC_UNREACHABLE)                         \
  R(KRB5_EAI_NONAME, KRB5_(241), KRB_KDC_UNREACHABLE)                         \
  R(KRB5_EAI_SERVICE, KRB5_(242), KRB_KDC_UNREACHABLE)                        \
  R(KRB5_ERR_NUMERIC_REALM, KRB5_(243), KRB_REALM_UNKNOWN)                    \
  F(KRB5_ERR_BAD_S2K_PARAMS, KRB5_(244)) /* KDC's salt parameters, rare */    \
  F(KRB5_ERR_NO_SERVICE, KRB5_(245)) /* library misuse */                     \
  R(KRB5_CC_READONLY, KRB5_(246), KRB_CCACHE_UNUSABLE)                        \
  R(KRB5_CC_NOSUPP, KRB5_(247), KRB_CCACHE_UNUSABLE)                          \
  R(KRB5_DELTAT_BADFORMAT, KRB5_(248), KRB_CONFIG_INVALID)                    \
  F(KRB5_PLUGIN_NO_HANDLE, KRB5_(249)) /* internal to plugins */              \
  F(KRB5_PLUGIN_OP_NOTSUPP, KRB5_(250)) /* internal to plugins */             \
  R(KRB5_ERR_INVALID_UTF8, KRB5_(251), BAD_OPTION_VALUE)                      \
  R(KRB5_ERR_FAST_REQUIRED, KRB5_(252), KRB_POLICY_REFUSED)                   \
  F(KRB5_LOCAL_ADDR_REQUIRED, KRB5_(253)) /* addresses, never used */         \
  F(KRB5_REMOTE_ADDR_REQUIRED, KRB5_(254)) /* addresses, never used */        \
  F(KRB5_TRACE_NOSUPP, KRB5_(255)) /* tracing, never asked */                 \
  /* k5e1_err.et */                                                           \
  F(KRB5_PLUGIN_VER_NOTSUPP, K5E1_(0)) /* a broken installation */            \
  R(KRB5_PLUGIN_BAD_MODULE_SPEC, K5E1_(1), KRB_CONFIG_INVALID)                \
  F(KRB5_PLUGIN_NAME_NOTFOUND, K5E1_(2)) /* a broken installation */          \
  F(KRB5KDC_ERR_DISCARD, K5E1_(3)) /* KDC-internal */                         \
  R(KRB5_DCC_CANNOT_CREATE, K5E1_(4), KRB_CCACHE_UNUSABLE)                    \
  R(KRB5_KCC_INVALID_ANCHOR, K5E1_(5), KRB_CCACHE_UNUSABLE)                   \
  R(KRB5_KCC_UNKNOWN_VERSION, K5E1_(6), KRB_CCACHE_UNUSABLE)                  \
  R(KRB5_KCC_INVALID_UID, K5E1_(7), KRB_CCACHE_UNUSABLE)                      \
  R(KRB5_KCM_MALFORMED_REPLY, K5E1_(8), KRB_CCACHE_UNUSABLE)                  \
  R(KRB5_KCM_RPC_ERROR, K5E1_(9), KRB_CCACHE_UNUSABLE)                        \
  R(KRB5_KCM_REPLY_TOO_BIG, K5E1_(10), KRB_CCACHE_UNUSABLE)                   \
  R(KRB5_KCM_NO_SERVER, K5E1_(11), KRB_CCACHE_UNUSABLE)                       \
  G(KRB5_CERTAUTH_HWAUTH, K5E1_(12), K5E1_(13)) /* PKINIT */                  \
  /* kv5m_err.et: every code is a structure's bad magic number, memory        \
   * corruption inside the library, never a condition users meet */           \
  G(KV5M_NONE, KV5M_(0), KV5M_(60))                                           \
  /* prof_err.et: the profile (krb5.conf) */                                  \
  G(PROF_VERSION, PROF_(0), PROF_(1)) /* library internals */                 \
  /* a section or relation the library looked for is absent: callers treat    \
   * it as a default, it never ends a Kerberos exchange */                    \
  G(PROF_NO_SECTION, PROF_(2), PROF_(3))                                      \
  G(PROF_ADD_NOT_SECTION, PROF_(4), PROF_(12)) /* writing profiles; magic */  \
  R(PROF_SECTION_NOTOP, PROF_(13), KRB_CONFIG_INVALID)                        \
  R(PROF_SECTION_SYNTAX, PROF_(14), KRB_CONFIG_INVALID)                       \
  R(PROF_RELATION_SYNTAX, PROF_(15), KRB_CONFIG_INVALID)                      \
  R(PROF_EXTRA_CBRACE, PROF_(16), KRB_CONFIG_INVALID)                         \
  R(PROF_MISSING_OBRACE, PROF_(17), KRB_CONFIG_INVALID)                       \
  G(PROF_MAGIC_PROFILE, PROF_(18), PROF_(23)) /* library internals */         \
  R(PROF_NO_PROFILE, PROF_(24), KRB_CONFIG_INVALID)                           \
  F(PROF_MAGIC_FILE, PROF_(25)) /* library internals */                       \
  R(PROF_FAIL_OPEN, PROF_(26), KRB_CONFIG_INVALID)                            \
  F(PROF_EXISTS, PROF_(27)) /* writing profiles */                            \
  R(PROF_BAD_BOOLEAN, PROF_(28), KRB_CONFIG_INVALID)                          \
  R(PROF_BAD_INTEGER, PROF_(29), KRB_CONFIG_INVALID)                          \
  F(PROF_MAGIC_FILE_DATA, PROF_(30)) /* library internals */                  \
  R(PROF_FAIL_INCLUDE_FILE, PROF_(31), KRB_CONFIG_INVALID)                    \
  R(PROF_FAIL_INCLUDE_DIR, PROF_(32), KRB_CONFIG_INVALID)                     \
  F(PROF_UNSUPPORTED, PROF_(33)) /* writing profiles */                       \
  F(PROF_MAGIC_NODE_ITERATOR, PROF_(34)) /* library internals */              \
  R(PROF_MODULE, PROF_(35), KRB_CONFIG_INVALID)                               \
  R(PROF_MODULE_SYNTAX, PROF_(36), KRB_CONFIG_INVALID)                        \
  R(PROF_MODULE_INVALID, PROF_(37), KRB_CONFIG_INVALID)

/* gssapi_err_krb5.et: the krb5 GSS mechanism's own minor codes (MIT keeps
 * their macros private). */
#define KG_ROWS(R, G)                                                         \
  R(KG_CCACHE_NOMATCH, K5G_(0), KRB_WRONG_PRINCIPAL)                          \
  R(KG_KEYTAB_NOMATCH, K5G_(1), KRB_KEYTAB_UNUSABLE)                          \
  R(KG_TGT_MISSING, K5G_(2), KRB_NO_CREDENTIALS)                              \
  G(KG_NO_SUBKEY, K5G_(3), K5G_(11)) /* token and context internals */        \
  R(KG_EMPTY_CCACHE, K5G_(12), KRB_NO_CREDENTIALS)                            \
  R(KG_NO_CTYPES, K5G_(13), KRB_ENCTYPE_UNSUPPORTED)                          \
  G(KG_LUCID_VERSION, K5G_(14), K5G_(16)) /* API internals */

/* clang-format on */

#define ROW_R(name, v, c) {v, v, #name, E(c), E(c)},
#define ROW_P(name, v, a, l) {v, v, #name, E(a), E(l)},
#define ROW_F(name, v) {v, v, #name, E(KRB_FAILED), E(KRB_FAILED)},
#define ROW_G(name, lo, hi) {lo, hi, #name, E(KRB_FAILED), E(KRB_FAILED)},

const tdsc__krb_row tdsc__krb_table[] = {KRB5_ROWS(ROW_R, ROW_P, ROW_F, ROW_G)
                                             KG_ROWS(ROW_R, ROW_G)};
const size_t tdsc__krb_table_len =
    sizeof tdsc__krb_table / sizeof tdsc__krb_table[0];

#ifdef TDSC_HAVE_GSSAPI
/* Our numbers are MIT's. */
#define CHK_R(name, v, c) _Static_assert((name) == (v), #name);
#define CHK_P(name, v, a, l) _Static_assert((name) == (v), #name);
#define CHK_F(name, v) _Static_assert((name) == (v), #name);
#define CHK_G(name, lo, hi) _Static_assert((name) == (lo), #name);
KRB5_ROWS(CHK_R, CHK_P, CHK_F, CHK_G)
#endif

const tdsc__krb_row *tdsc__krb_row_of(long code) {
  for (size_t i = 0; i < tdsc__krb_table_len; i++)
    if (code >= tdsc__krb_table[i].lo && code <= tdsc__krb_table[i].hi)
      return &tdsc__krb_table[i];
  return NULL;
}

/* GSSAPI routine errors (RFC 2744 3.9.1), by number for the same reason. */
#define GSS_ROUTINE(major) ((major)&0x00FF0000u)
#define GSS_NO_CRED (7u << 16)
#define GSS_CREDENTIALS_EXPIRED (11u << 16)
#define GSS_BAD_NAME (2u << 16)
#define GSS_BAD_NAMETYPE (3u << 16)

tdsc_errc tdsc__krb_classify(uint32_t major, int32_t code,
                             tdsc__krb_phase phase) {
  const tdsc__krb_row *r = code ? tdsc__krb_row_of(code) : NULL;
  if (r && r->as != TDSC_E_KRB_FAILED)
    return phase == TDSC__KRB_ACQUIRE ? r->as : r->later;
  switch (GSS_ROUTINE(major)) {
  case GSS_NO_CRED:
    return TDSC_E_KRB_NO_CREDENTIALS;
  case GSS_CREDENTIALS_EXPIRED:
    return TDSC_E_KRB_TICKET_EXPIRED;
  case GSS_BAD_NAME:
  case GSS_BAD_NAMETYPE:
    return TDSC_E_BAD_OPTION_VALUE;
  default:
    return TDSC_E_KRB_FAILED;
  }
}

/* ------------------------------------------------------------------ SSPI */

#define ROW_S(name, v, k, n) {(uint32_t)(v), #name, E(k), E(n)},
const tdsc__sspi_row tdsc__sspi_table[] = {SSPI_ROWS(ROW_S)
                                               NTSTATUS_ROWS(ROW_S)};
const size_t tdsc__sspi_table_len =
    sizeof tdsc__sspi_table / sizeof tdsc__sspi_table[0];

tdsc_errc tdsc__sspi_classify(uint32_t status, bool ntlm) {
  for (size_t i = 0; i < tdsc__sspi_table_len; i++)
    if (tdsc__sspi_table[i].status == status)
      return ntlm ? tdsc__sspi_table[i].ntlm : tdsc__sspi_table[i].krb;
  return ntlm ? TDSC_E_NTLM_FAILED : TDSC_E_KRB_FAILED;
}
