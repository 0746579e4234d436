/* Windows helpers of the SSPI and Schannel files (sec_win32.h). */
#include "config.h"

#include "sec_win32.h"

#define SECURITY_WIN32
#include <security.h>
#include <wincrypt.h>

#include <stdio.h>
#include <stdlib.h>

#ifndef STATUS_UNSUCCESSFUL
#define STATUS_UNSUCCESSFUL 0xC0000001L
#endif
#ifndef STATUS_NTLM_BLOCKED
#define STATUS_NTLM_BLOCKED 0xC0000418L
#endif

WCHAR *tdsc__utf8_to_wide(const char *s) {
  if (!s)
    return NULL;
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  if (n <= 0)
    return NULL;
  WCHAR *w = malloc((size_t)n * sizeof *w);
  if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) != n) {
    free(w);
    return NULL;
  }
  return w;
}

char *tdsc__wide_to_utf8(const WCHAR *w) {
  if (!w)
    return NULL;
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  if (n <= 0)
    return NULL;
  char *s = malloc((size_t)n);
  if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
    free(s);
    return NULL;
  }
  return s;
}

DWORD tdsc__read_file_win32(const char *path, tdsc__buf *out) {
  WCHAR *w = tdsc__utf8_to_wide(path);
  if (!w)
    return ERROR_NOT_ENOUGH_MEMORY;
  HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE)
    return GetLastError();
  LARGE_INTEGER size;
  DWORD rc = 0;
  if (GetFileSizeEx(h, &size) && size.QuadPart < (1 << 24) &&
      !tdsc__buf_reserve(out, (size_t)size.QuadPart + 4096 + 1))
    rc = ERROR_NOT_ENOUGH_MEMORY;
  while (rc == 0) {
    uint8_t *p = tdsc__buf_extend(out, 4096);
    DWORD got = 0;
    if (!p) {
      rc = ERROR_NOT_ENOUGH_MEMORY;
      break;
    }
    BOOL ok = ReadFile(h, p, 4096, &got, NULL);
    out->len -= 4096 - got;
    if (!ok)
      rc = GetLastError();
    else if (got == 0)
      break;
  }
  CloseHandle(h);
  return rc;
}

static const struct {
  long st;
  const char *name;
} status_names[] = {
#define S(x)                                                                   \
  { (long)(x), #x }
    S(SEC_E_OK),
    S(SEC_I_CONTINUE_NEEDED),
    S(SEC_I_COMPLETE_NEEDED),
    S(SEC_I_COMPLETE_AND_CONTINUE),
    S(SEC_I_CONTEXT_EXPIRED),
    S(SEC_I_RENEGOTIATE),
    S(SEC_E_INSUFFICIENT_MEMORY),
    S(SEC_E_INVALID_HANDLE),
    S(SEC_E_UNSUPPORTED_FUNCTION),
    S(SEC_E_TARGET_UNKNOWN),
    S(SEC_E_INTERNAL_ERROR),
    S(SEC_E_SECPKG_NOT_FOUND),
    S(SEC_E_INVALID_TOKEN),
    S(SEC_E_MESSAGE_ALTERED),
    S(SEC_E_OUT_OF_SEQUENCE),
    S(SEC_E_NO_AUTHENTICATING_AUTHORITY),
    S(SEC_E_INCOMPLETE_MESSAGE),
    S(SEC_E_BUFFER_TOO_SMALL),
    S(SEC_E_WRONG_PRINCIPAL),
    S(SEC_E_TIME_SKEW),
    S(SEC_E_UNTRUSTED_ROOT),
    S(SEC_E_ILLEGAL_MESSAGE),
    S(SEC_E_CERT_UNKNOWN),
    S(SEC_E_CERT_EXPIRED),
    S(SEC_E_ALGORITHM_MISMATCH),
    S(SEC_E_LOGON_DENIED),
    S(SEC_E_NO_CREDENTIALS),
    S(SEC_E_UNKNOWN_CREDENTIALS),
    S(SEC_E_CONTEXT_EXPIRED),
    S(SEC_E_QOP_NOT_SUPPORTED),
    S(SEC_E_DECRYPT_FAILURE),
    S(SEC_E_ENCRYPT_FAILURE),
    S(SEC_E_INVALID_PARAMETER),
    S(SEC_E_NO_KERB_KEY),
    S(SEC_E_NO_TGT_REPLY),
    S(SEC_E_KDC_INVALID_REQUEST),
    S(SEC_E_KDC_UNABLE_TO_REFER),
    S(SEC_E_KDC_UNKNOWN_ETYPE),
    S(SEC_E_UNSUPPORTED_PREAUTH),
    S(SEC_E_DELEGATION_REQUIRED),
    S(SEC_E_BAD_BINDINGS),
    S(SEC_E_MUTUAL_AUTH_FAILED),
    S(SEC_E_DOWNGRADE_DETECTED),
    S(SEC_E_STRONG_CRYPTO_NOT_SUPPORTED),
    S(SEC_E_CROSSREALM_DELEGATION_FAILURE),
    S(SEC_E_APPLICATION_PROTOCOL_MISMATCH),
    S(CERT_E_EXPIRED),
    S(CERT_E_VALIDITYPERIODNESTING),
    S(CERT_E_CHAINING),
    S(CERT_E_UNTRUSTEDROOT),
    S(CERT_E_UNTRUSTEDCA),
    S(CERT_E_UNTRUSTEDTESTROOT),
    S(CERT_E_CN_NO_MATCH),
    S(CERT_E_WRONG_USAGE),
    S(CERT_E_REVOKED),
    S(CERT_E_REVOCATION_FAILURE),
    S(CERT_E_ROLE),
    S(CERT_E_CRITICAL),
    S(CERT_E_PURPOSE),
    S(CERT_E_MALFORMED),
    S(TRUST_E_CERT_SIGNATURE),
    S(TRUST_E_BASIC_CONSTRAINTS),
    S(CRYPT_E_REVOKED),
    S(STATUS_UNSUCCESSFUL),
    S(STATUS_NTLM_BLOCKED),
#undef S
};

void tdsc__sec_status_text(long st, char *out, size_t cap) {
  const char *name = NULL;
  for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
    if (status_names[i].st == st)
      name = status_names[i].name;
  char sys[256] = "";
  DWORD n =
      FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                     NULL, (DWORD)st, 0, sys, sizeof sys, NULL);
  /* quoted inside our sentences: no CR LF, no final period */
  while (n > 0 && (sys[n - 1] == '\n' || sys[n - 1] == '\r' ||
                   sys[n - 1] == ' ' || sys[n - 1] == '.'))
    sys[--n] = '\0';
  snprintf(out, cap, "%s%s0x%08lx%s%s%s", name ? name : "", name ? " (" : "",
           (unsigned long)st, name ? ")" : "", n ? ": " : "", sys);
}
