/* What lib/auth/sspi.c and lib/tls/tls_schannel.c share (Windows builds
 * only): UTF-8 <-> UTF-16 strings for the W APIs, reading a file named in
 * UTF-8, and the text of a SECURITY_STATUS or certificate HRESULT for
 * messages and provider texts. */
#ifndef TDSC_SEC_WIN32_H
#define TDSC_SEC_WIN32_H

#include "buf.h"

#include <windows.h>

/* A new NUL-terminated copy (malloc'ed; the caller frees); NULL for NULL,
 * on out-of-memory, or for text the conversion rejects. */
WCHAR *tdsc__utf8_to_wide(const char *s);
char *tdsc__wide_to_utf8(const WCHAR *w);

/* Appends the whole file path (UTF-8, any name Windows takes) to out, in
 * one allocation for files under 16 MiB so that no realloc leaves a copy
 * of a secret behind.  0, or the Win32 error (what TDSC_PROVIDER_ERRNO
 * carries on Windows). */
DWORD tdsc__read_file_win32(const char *path, tdsc__buf *out);

/* "SEC_E_TARGET_UNKNOWN (0x80090303): <the system's text>" into out: the
 * symbolic name when known (SEC_E_*, SEC_I_*, CERT_E_*, TRUST_E_*, the
 * STATUS_* values SSPI lets through), the number, and FormatMessage's text
 * when the system has one (Wine often has none). */
void tdsc__sec_status_text(long status, char *out, size_t cap);

#endif
