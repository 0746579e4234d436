/* The SSPI rows of krb5_diag.c's table as X-macros: every SECURITY_STATUS
 * the Kerberos, Negotiate and NTLM packages return, and the NTSTATUS values
 * they pass through, with the tdsc code each becomes.  krb5_diag.c builds
 * the table from them on every platform; krb5_diag_win32.c checks each
 * number against winerror.h's name.  Included only by those two. */
#ifndef TDSC_SSPI_ROWS_H
#define TDSC_SSPI_ROWS_H

/* clang-format off */
/* S(name, value, Kerberos/Negotiate code, NTLM code).  The statuses of
 * winerror.h's SEC_E_* and SEC_I_* that the Kerberos, Negotiate and NTLM
 * packages return (TLS's, SChannel's, are lib/tls's), and the NTSTATUS
 * values they pass through for an account the domain refuses. */
#define SSPI_ROWS(S)                                                          \
  S(SEC_E_OK, 0x00000000, OK, OK)                                             \
  S(SEC_E_INSUFFICIENT_MEMORY, 0x80090300, NO_MEMORY, NO_MEMORY)              \
  /* our handles: a bug here, not a condition of the network */               \
  S(SEC_E_INVALID_HANDLE, 0x80090301, KRB_FAILED, NTLM_FAILED)                \
  S(SEC_E_UNSUPPORTED_FUNCTION, 0x80090302, KRB_FAILED, NTLM_REFUSED)         \
  S(SEC_E_TARGET_UNKNOWN, 0x80090303, KRB_SPN_UNKNOWN, NTLM_FAILED)           \
  /* Wine reports every krb5 failure so: sspi.c says so in the message */     \
  S(SEC_E_INTERNAL_ERROR, 0x80090304, KRB_FAILED, NTLM_FAILED)                \
  S(SEC_E_SECPKG_NOT_FOUND, 0x80090305, KRB_FAILED, NTLM_REFUSED)             \
  S(SEC_E_NOT_OWNER, 0x80090306, KRB_NO_CREDENTIALS, NTLM_NO_CREDENTIALS)     \
  S(SEC_E_CANNOT_INSTALL, 0x80090307, KRB_FAILED, NTLM_FAILED)                \
  S(SEC_E_INVALID_TOKEN, 0x80090308, PROTOCOL, PROTOCOL)                      \
  S(SEC_E_CANNOT_PACK, 0x80090309, KRB_FAILED, NTLM_FAILED)                   \
  S(SEC_E_QOP_NOT_SUPPORTED, 0x8009030A, KRB_FAILED, NTLM_FAILED)             \
  S(SEC_E_NO_IMPERSONATION, 0x8009030B, KRB_FAILED, NTLM_FAILED)              \
  S(SEC_E_LOGON_DENIED, 0x8009030C, KRB_PREAUTH_FAILED, NTLM_LOGON_DENIED)    \
  S(SEC_E_UNKNOWN_CREDENTIALS, 0x8009030D, KRB_NO_CREDENTIALS,                \
    NTLM_NO_CREDENTIALS)                                                      \
  S(SEC_E_NO_CREDENTIALS, 0x8009030E, KRB_NO_CREDENTIALS,                     \
    NTLM_NO_CREDENTIALS)                                                      \
  S(SEC_E_MESSAGE_ALTERED, 0x8009030F, KRB_MUTUAL_AUTH_FAILED, NTLM_FAILED)   \
  S(SEC_E_OUT_OF_SEQUENCE, 0x80090310, KRB_AP_REJECTED, NTLM_FAILED)          \
  S(SEC_E_NO_AUTHENTICATING_AUTHORITY, 0x80090311, KRB_KDC_UNREACHABLE,       \
    NTLM_LOGON_DENIED)                                                        \
  S(SEC_I_CONTINUE_NEEDED, 0x00090312, OK, OK)                                \
  S(SEC_I_COMPLETE_NEEDED, 0x00090313, OK, OK)                                \
  S(SEC_I_COMPLETE_AND_CONTINUE, 0x00090314, OK, OK)                          \
  S(SEC_I_LOCAL_LOGON, 0x00090315, OK, OK)                                    \
  S(SEC_I_GENERIC_EXTENSION_RECEIVED, 0x00090316, OK, OK)                     \
  S(SEC_E_BAD_PKGID, 0x80090316, KRB_FAILED, NTLM_FAILED)                     \
  S(SEC_E_CONTEXT_EXPIRED, 0x80090317, KRB_TICKET_EXPIRED, NTLM_FAILED)       \
  /* a context that ended: the server closed the exchange */                  \
  S(SEC_I_CONTEXT_EXPIRED, 0x00090317, KRB_FAILED, NTLM_FAILED)               \
  S(SEC_E_INCOMPLETE_MESSAGE, 0x80090318, PROTOCOL, PROTOCOL)                 \
  S(SEC_E_INCOMPLETE_CREDENTIALS, 0x80090320, KRB_NO_CREDENTIALS,             \
    NTLM_NO_CREDENTIALS)                                                      \
  S(SEC_E_BUFFER_TOO_SMALL, 0x80090321, KRB_FAILED, NTLM_FAILED)              \
  S(SEC_I_INCOMPLETE_CREDENTIALS, 0x00090320, KRB_NO_CREDENTIALS,             \
    NTLM_NO_CREDENTIALS)                                                      \
  S(SEC_I_RENEGOTIATE, 0x00090321, PROTOCOL, PROTOCOL) /* TLS only */         \
  S(SEC_E_WRONG_PRINCIPAL, 0x80090322, KRB_SERVICE_KEY_MISMATCH,              \
    NTLM_FAILED)                                                              \
  S(SEC_I_NO_LSA_CONTEXT, 0x00090323, OK, OK)                                 \
  S(SEC_E_TIME_SKEW, 0x80090324, KRB_CLOCK_SKEW, NTLM_FAILED)                 \
  /* 0x80090325-0x80090333: certificates and TLS (SChannel), lib/tls */       \
  S(SEC_E_ENCRYPT_FAILURE, 0x80090329, KRB_FAILED, NTLM_FAILED)               \
  S(SEC_E_DECRYPT_FAILURE, 0x80090330, KRB_SERVICE_KEY_MISMATCH, NTLM_FAILED) \
  S(SEC_E_UNFINISHED_CONTEXT_DELETED, 0x80090333, KRB_FAILED, NTLM_FAILED)    \
  S(SEC_E_NO_TGT_REPLY, 0x80090334, KRB_FAILED, NTLM_FAILED) /* U2U */        \
  S(SEC_E_NO_IP_ADDRESSES, 0x80090335, KRB_FAILED, NTLM_FAILED)               \
  S(SEC_E_WRONG_CREDENTIAL_HANDLE, 0x80090336, KRB_FAILED, NTLM_FAILED)       \
  S(SEC_E_CRYPTO_SYSTEM_INVALID, 0x80090337, KRB_ENCTYPE_UNSUPPORTED,         \
    NTLM_FAILED)                                                              \
  S(SEC_E_MAX_REFERRALS_EXCEEDED, 0x80090338, KRB_NO_TRUST_PATH, NTLM_FAILED) \
  S(SEC_E_MUST_BE_KDC, 0x80090339, KRB_FAILED, NTLM_FAILED)                   \
  S(SEC_E_STRONG_CRYPTO_NOT_SUPPORTED, 0x8009033A, KRB_ENCTYPE_UNSUPPORTED,   \
    NTLM_FAILED)                                                              \
  S(SEC_E_TOO_MANY_PRINCIPALS, 0x8009033B, KRB_SERVICE_KEY_MISMATCH,          \
    NTLM_FAILED) /* a duplicate SPN */                                        \
  S(SEC_E_NO_PA_DATA, 0x8009033C, KRB_POLICY_REFUSED, NTLM_FAILED)            \
  S(SEC_E_PKINIT_NAME_MISMATCH, 0x8009033D, KRB_FAILED, NTLM_FAILED)          \
  S(SEC_E_SMARTCARD_LOGON_REQUIRED, 0x8009033E, KRB_POLICY_REFUSED,           \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(SEC_E_SHUTDOWN_IN_PROGRESS, 0x8009033F, KRB_FAILED, NTLM_FAILED)          \
  S(SEC_E_KDC_INVALID_REQUEST, 0x80090340, KRB_FAILED, NTLM_FAILED)           \
  S(SEC_E_KDC_UNABLE_TO_REFER, 0x80090341, KRB_NO_TRUST_PATH, NTLM_FAILED)    \
  S(SEC_E_KDC_UNKNOWN_ETYPE, 0x80090342, KRB_ENCTYPE_UNSUPPORTED,             \
    NTLM_FAILED)                                                              \
  S(SEC_E_UNSUPPORTED_PREAUTH, 0x80090343, KRB_POLICY_REFUSED, NTLM_FAILED)   \
  S(SEC_E_DELEGATION_REQUIRED, 0x80090345, KRB_POLICY_REFUSED, NTLM_FAILED)   \
  /* channel bindings (extended protection) the server requires */            \
  S(SEC_E_BAD_BINDINGS, 0x80090346, KRB_AP_REJECTED, NTLM_FAILED)             \
  S(SEC_E_MULTIPLE_ACCOUNTS, 0x80090347, KRB_FAILED, NTLM_FAILED)             \
  S(SEC_E_NO_KERB_KEY, 0x80090348, KRB_ENCTYPE_UNSUPPORTED, NTLM_FAILED)      \
  S(SEC_E_DOWNGRADE_DETECTED, 0x80090350, KRB_MUTUAL_AUTH_FAILED,             \
    NTLM_FAILED)                                                              \
  /* 0x80090349, 0x80090351-0x8009035B: smart cards, PKINIT: never asked */   \
  S(SEC_E_NO_S4U_PROT_SUPPORT, 0x80090356, KRB_FAILED, NTLM_FAILED)           \
  S(SEC_E_CROSSREALM_DELEGATION_FAILURE, 0x80090357, KRB_NO_TRUST_PATH,       \
    NTLM_FAILED)                                                              \
  S(SEC_I_SIGNATURE_NEEDED, 0x0009035C, KRB_FAILED, NTLM_FAILED)              \
  S(SEC_E_INVALID_PARAMETER, 0x8009035D, KRB_FAILED, NTLM_FAILED)             \
  S(SEC_E_DELEGATION_POLICY, 0x8009035E, KRB_POLICY_REFUSED, NTLM_FAILED)     \
  S(SEC_E_POLICY_NLTM_ONLY, 0x8009035F, KRB_POLICY_REFUSED, NTLM_FAILED)      \
  S(SEC_I_NO_RENEGOTIATION, 0x00090360, PROTOCOL, PROTOCOL) /* TLS only */    \
  S(SEC_E_NO_CONTEXT, 0x80090361, KRB_FAILED, NTLM_FAILED)                    \
  S(SEC_E_PKU2U_CERT_FAILURE, 0x80090362, KRB_FAILED, NTLM_FAILED)            \
  S(SEC_E_MUTUAL_AUTH_FAILED, 0x80090363, KRB_MUTUAL_AUTH_FAILED,             \
    NTLM_FAILED)                                                              \
  S(SEC_I_MESSAGE_FRAGMENT, 0x00090364, OK, OK)                               \
  S(SEC_E_ONLY_HTTPS_ALLOWED, 0x80090365, KRB_FAILED, NTLM_FAILED)            \
  S(SEC_I_CONTINUE_NEEDED_MESSAGE_OK, 0x00090366, OK, OK)                     \
  S(SEC_I_ASYNC_CALL_PENDING, 0x00090368, OK, OK)                             \
  S(SEC_E_INVALID_UPN_NAME, 0x80090369, BAD_OPTION_VALUE, BAD_OPTION_VALUE)   \
  S(SEC_E_EXT_BUFFER_TOO_SMALL, 0x8009036A, KRB_FAILED, NTLM_FAILED)          \
  S(SEC_E_INSUFFICIENT_BUFFERS, 0x8009036B, KRB_FAILED, NTLM_FAILED)

/* NTSTATUS values an explicit-credential logon passes through. */
#define NTSTATUS_ROWS(S)                                                      \
  S(STATUS_UNSUCCESSFUL, 0xC0000001, KRB_FAILED, NTLM_FAILED) /* Wine */      \
  S(STATUS_NO_SUCH_USER, 0xC0000064, KRB_CLIENT_UNKNOWN, NTLM_LOGON_DENIED)   \
  S(STATUS_WRONG_PASSWORD, 0xC000006A, KRB_PREAUTH_FAILED, NTLM_LOGON_DENIED) \
  S(STATUS_LOGON_FAILURE, 0xC000006D, KRB_PREAUTH_FAILED, NTLM_LOGON_DENIED)  \
  S(STATUS_ACCOUNT_RESTRICTION, 0xC000006E, KRB_CLIENT_REVOKED,               \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_INVALID_LOGON_HOURS, 0xC000006F, KRB_CLIENT_REVOKED,               \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_INVALID_WORKSTATION, 0xC0000070, KRB_CLIENT_REVOKED,               \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_PASSWORD_EXPIRED, 0xC0000071, KRB_PASSWORD_EXPIRED,                \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_ACCOUNT_DISABLED, 0xC0000072, KRB_CLIENT_REVOKED,                  \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_NO_SUCH_DOMAIN, 0xC00000DF, KRB_REALM_UNKNOWN, NTLM_LOGON_DENIED)  \
  S(STATUS_TIME_DIFFERENCE_AT_DC, 0xC0000133, KRB_CLOCK_SKEW, NTLM_FAILED)    \
  S(STATUS_ACCOUNT_EXPIRED, 0xC0000193, KRB_CLIENT_REVOKED,                   \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_PASSWORD_MUST_CHANGE, 0xC0000224, KRB_PASSWORD_EXPIRED,            \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_ACCOUNT_LOCKED_OUT, 0xC0000234, KRB_CLIENT_REVOKED,                \
    NTLM_ACCOUNT_RESTRICTED)                                                  \
  S(STATUS_DOWNGRADE_DETECTED, 0xC0000388, KRB_MUTUAL_AUTH_FAILED,            \
    NTLM_FAILED)                                                              \
  S(STATUS_NTLM_BLOCKED, 0xC0000418, KRB_FAILED, NTLM_REFUSED)

/* clang-format on */

#endif
