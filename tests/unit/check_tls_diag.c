/* The TLS diagnosis table (lib/tls/tls_diag.c), walked whole: every
 * verify result OpenSSL defines has its own row (number and name checked
 * against OpenSSL's headers), every TLS alert of RFC 8446 / RFC 5246 and
 * every Schannel status listed maps to a TLS code; the fallbacks are
 * explicit; and the mismatch judgment gives the hint its facts call for. */
#include "config.h"

#include "tls/tls_diag.h"

#include <check.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

static tdsc_error err;

/* Every X509_V_ERR_* of the OpenSSL this is built with. */
#define X(n) {n, #n}
static const struct {
  long value;
  const char *name;
} openssl_verify[] = {
    X(X509_V_ERR_UNSPECIFIED),
    X(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT),
    X(X509_V_ERR_UNABLE_TO_GET_CRL),
    X(X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE),
    X(X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE),
    X(X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY),
    X(X509_V_ERR_CERT_SIGNATURE_FAILURE),
    X(X509_V_ERR_CRL_SIGNATURE_FAILURE),
    X(X509_V_ERR_CERT_NOT_YET_VALID),
    X(X509_V_ERR_CERT_HAS_EXPIRED),
    X(X509_V_ERR_CRL_NOT_YET_VALID),
    X(X509_V_ERR_CRL_HAS_EXPIRED),
    X(X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD),
    X(X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD),
    X(X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD),
    X(X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD),
    X(X509_V_ERR_OUT_OF_MEM),
    X(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
    X(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN),
    X(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
    X(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE),
    X(X509_V_ERR_CERT_CHAIN_TOO_LONG),
    X(X509_V_ERR_CERT_REVOKED),
    X(X509_V_ERR_NO_ISSUER_PUBLIC_KEY),
    X(X509_V_ERR_PATH_LENGTH_EXCEEDED),
    X(X509_V_ERR_INVALID_PURPOSE),
    X(X509_V_ERR_CERT_UNTRUSTED),
    X(X509_V_ERR_CERT_REJECTED),
    X(X509_V_ERR_SUBJECT_ISSUER_MISMATCH),
    X(X509_V_ERR_AKID_SKID_MISMATCH),
    X(X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH),
    X(X509_V_ERR_KEYUSAGE_NO_CERTSIGN),
    X(X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER),
    X(X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION),
    X(X509_V_ERR_KEYUSAGE_NO_CRL_SIGN),
    X(X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION),
    X(X509_V_ERR_INVALID_NON_CA),
    X(X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED),
    X(X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE),
    X(X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED),
    X(X509_V_ERR_INVALID_EXTENSION),
    X(X509_V_ERR_INVALID_POLICY_EXTENSION),
    X(X509_V_ERR_NO_EXPLICIT_POLICY),
    X(X509_V_ERR_DIFFERENT_CRL_SCOPE),
    X(X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE),
    X(X509_V_ERR_UNNESTED_RESOURCE),
    X(X509_V_ERR_PERMITTED_VIOLATION),
    X(X509_V_ERR_EXCLUDED_VIOLATION),
    X(X509_V_ERR_SUBTREE_MINMAX),
    X(X509_V_ERR_APPLICATION_VERIFICATION),
    X(X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE),
    X(X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX),
    X(X509_V_ERR_UNSUPPORTED_NAME_SYNTAX),
    X(X509_V_ERR_CRL_PATH_VALIDATION_ERROR),
    X(X509_V_ERR_PATH_LOOP),
    X(X509_V_ERR_SUITE_B_INVALID_VERSION),
    X(X509_V_ERR_SUITE_B_INVALID_ALGORITHM),
    X(X509_V_ERR_SUITE_B_INVALID_CURVE),
    X(X509_V_ERR_SUITE_B_INVALID_SIGNATURE_ALGORITHM),
    X(X509_V_ERR_SUITE_B_LOS_NOT_ALLOWED),
    X(X509_V_ERR_SUITE_B_CANNOT_SIGN_P_384_WITH_P_256),
    X(X509_V_ERR_HOSTNAME_MISMATCH),
    X(X509_V_ERR_EMAIL_MISMATCH),
    X(X509_V_ERR_IP_ADDRESS_MISMATCH),
    X(X509_V_ERR_DANE_NO_MATCH),
    X(X509_V_ERR_EE_KEY_TOO_SMALL),
    X(X509_V_ERR_CA_KEY_TOO_SMALL),
    X(X509_V_ERR_CA_MD_TOO_WEAK),
    X(X509_V_ERR_INVALID_CALL),
    X(X509_V_ERR_STORE_LOOKUP),
    X(X509_V_ERR_NO_VALID_SCTS),
    X(X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION),
    X(X509_V_ERR_OCSP_VERIFY_NEEDED),
    X(X509_V_ERR_OCSP_VERIFY_FAILED),
    X(X509_V_ERR_OCSP_CERT_UNKNOWN),
    X(X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM),
    X(X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH),
    X(X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY),
    X(X509_V_ERR_INVALID_CA),
    X(X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA),
    X(X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN),
    X(X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA),
    X(X509_V_ERR_ISSUER_NAME_EMPTY),
    X(X509_V_ERR_SUBJECT_NAME_EMPTY),
    X(X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER),
    X(X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER),
    X(X509_V_ERR_EMPTY_SUBJECT_ALT_NAME),
    X(X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL),
    X(X509_V_ERR_CA_BCONS_NOT_CRITICAL),
    X(X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL),
    X(X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL),
    X(X509_V_ERR_CA_CERT_MISSING_KEY_USAGE),
    X(X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3),
    X(X509_V_ERR_EC_KEY_EXPLICIT_PARAMS),
};
#undef X

START_TEST(every_openssl_verify_result_has_its_row) {
  size_t n;
  const tdsc__tls_diag_row *t = tdsc__tls_diag_table(TDSC__TLS_DIAG_VERIFY, &n);
  size_t want = sizeof openssl_verify / sizeof openssl_verify[0];
  for (size_t i = 0; i < want; i++) {
    const tdsc__tls_diag_row *r =
        tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, openssl_verify[i].value);
    ck_assert_msg(r->value == openssl_verify[i].value, "%s has no row",
                  openssl_verify[i].name);
    ck_assert_str_eq(r->name, openssl_verify[i].name);
  }
  ck_assert_uint_eq(n, want + 1); /* and X509_V_OK */
  /* each row: a code of the TLS category, or one of the explicit others */
  for (size_t i = 0; i < n; i++) {
    tdsc_errc c = t[i].code;
    bool tls = tdsc_errc_category(c) == TDSC_CAT_TLS;
    bool explicit_other = c == TDSC_OK || c == TDSC_E_NO_MEMORY;
    ck_assert_msg(tls || explicit_other, "%s: %s", t[i].name,
                  tdsc_errc_name(c));
    /* TLS_HANDSHAKE only for verdicts about no certificate at all */
    if (c == TDSC_E_TLS_HANDSHAKE)
      ck_assert_msg(t[i].value == 1 || t[i].value == 50 || t[i].value == 69 ||
                        t[i].value == 70,
                    "%s", t[i].name);
  }
  /* the causes that have their own code */
  static const struct {
    long v;
    tdsc_errc code;
  } pinned[] = {
      {X509_V_ERR_CERT_HAS_EXPIRED, TDSC_E_TLS_CERT_EXPIRED},
      {X509_V_ERR_CERT_NOT_YET_VALID, TDSC_E_TLS_CERT_EXPIRED},
      {X509_V_ERR_HOSTNAME_MISMATCH, TDSC_E_TLS_CERT_NAME_MISMATCH},
      {X509_V_ERR_IP_ADDRESS_MISMATCH, TDSC_E_TLS_CERT_NAME_MISMATCH},
      {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, TDSC_E_TLS_CERT_UNTRUSTED},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TDSC_E_TLS_CERT_UNTRUSTED},
      {X509_V_ERR_CERT_REVOKED, TDSC_E_TLS_CERT_REVOKED},
      {X509_V_ERR_UNABLE_TO_GET_CRL, TDSC_E_TLS_REVOCATION_UNKNOWN},
      {X509_V_ERR_CRL_HAS_EXPIRED, TDSC_E_TLS_REVOCATION_UNKNOWN},
      {X509_V_ERR_INVALID_PURPOSE, TDSC_E_TLS_CERT_WRONG_PURPOSE},
      {X509_V_ERR_EE_KEY_TOO_SMALL, TDSC_E_TLS_CERT_WEAK},
      {X509_V_ERR_CA_MD_TOO_WEAK, TDSC_E_TLS_CERT_WEAK},
      {X509_V_ERR_CERT_SIGNATURE_FAILURE, TDSC_E_TLS_CERT_REJECTED},
      {X509_V_ERR_INVALID_CA, TDSC_E_TLS_CERT_REJECTED},
  };
  for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++)
    ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, pinned[i].v)->code,
                     pinned[i].code);
  /* a verdict a later OpenSSL adds: rejected, never passed */
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, 9999)->code,
                   TDSC_E_TLS_CERT_REJECTED);
}
END_TEST

START_TEST(every_tls_alert_maps_to_a_tls_code) {
  /* RFC 8446 6.2 and RFC 5246 7.2 (including the TLS 1.2-only ones) */
  static const int alerts[] = {0,  10, 20, 21, 22, 30, 40, 41, 42, 43, 44,
                               45, 46, 47, 48, 49, 50, 51, 60, 70, 71, 80,
                               86, 90, 100, 109, 110, 111, 112, 113, 114,
                               115, 116, 120};
  size_t n;
  tdsc__tls_diag_table(TDSC__TLS_DIAG_ALERT, &n);
  ck_assert_uint_eq(n, sizeof alerts / sizeof alerts[0]);
  for (size_t i = 0; i < n; i++) {
    const tdsc__tls_diag_row *r =
        tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, alerts[i]);
    ck_assert_msg(r->value == alerts[i], "alert %d has no row", alerts[i]);
    ck_assert_msg(tdsc_errc_category(r->code) == TDSC_CAT_TLS, "%s", r->name);
    ck_assert_ptr_nonnull(r->what);
  }
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, 116)->code,
                   TDSC_E_TLS_CLIENT_CERT_REQUIRED);
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, 120)->code,
                   TDSC_E_TLS_STRICT_UNSUPPORTED);
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, 112)->code,
                   TDSC_E_TLS_CERT_NAME_MISMATCH);
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, 40)->code,
                   TDSC_E_TLS_CIPHER_MISMATCH);
  /* protocol_version: the server supports none of our TLS versions */
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, 70)->code,
                   TDSC_E_TLS_PROTOCOL_MISMATCH);
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, 200)->code,
                   TDSC_E_TLS_HANDSHAKE);
  /* OpenSSL's numbers are the RFC's */
  ck_assert_int_eq(SSL_AD_PROTOCOL_VERSION, 70);
  ck_assert_int_eq(SSL_AD_HANDSHAKE_FAILURE, 40);
  ck_assert_int_eq(SSL_AD_CERTIFICATE_REQUIRED, 116);
  ck_assert_int_eq(SSL_AD_NO_APPLICATION_PROTOCOL, 120);
}
END_TEST

START_TEST(every_schannel_status_maps_to_a_code) {
  size_t n;
  const tdsc__tls_diag_row *t = tdsc__tls_diag_table(TDSC__TLS_DIAG_SSPI, &n);
  ck_assert_uint_ge(n, 30);
  for (size_t i = 0; i < n; i++) {
    ck_assert_msg(tdsc_errc_category(t[i].code) == TDSC_CAT_TLS ||
                      t[i].code == TDSC_E_NO_MEMORY,
                  "%s", t[i].name);
    ck_assert_ptr_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_SSPI, t[i].value),
                     &t[i]); /* no number twice */
  }
  /* the same cause, the same code, whichever library found it */
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_SSPI, (long)0x800B010CUL)->code,
                   tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, 23)->code);
  ck_assert_int_eq(tdsc__tls_diag_find(TDSC__TLS_DIAG_SSPI, (long)0x800B0110UL)->code,
                   tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, 26)->code);
}
END_TEST

static tdsc__tls_facts facts(int min, int max, int alert, int server) {
  tdsc__tls_facts f = {.client_min = min, .client_max = max,
                       .highest = 0x0304, .alert_received = alert,
                       .server_version = server};
  snprintf(f.ciphers, sizeof f.ciphers, "AES128-SHA256");
  snprintf(f.conf, sizeof f.conf, "OPENSSL_CONF=/x.cnf");
  return f;
}

static tdsc_errc judge(tdsc__tls_facts f) {
  tdsc__err_clear(&err);
  return tdsc__tls_diag_mismatch(&f, "db at 10.0.0.1:1433", &err);
}

/* Issue 11: "enable TLS 1.2 on the server" for every mismatch.  The hint
 * now follows from which side holds back. */
START_TEST(the_mismatch_hint_follows_from_each_sides_part) {
  /* server TLS 1.3 only, client capped at 1.2: raise the client */
  ck_assert_int_eq(judge(facts(0x0303, 0x0303, 70, 0)),
                   TDSC_E_TLS_CLIENT_VERSION_TOO_LOW);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(&err), "Allow TLS 1.3 on this client"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "TLS 1.2 only"));
  /* the same alert with the client's ceiling at its newest: the server
   * is the older side */
  ck_assert_int_eq(judge(facts(0x0303, 0, 70, 0)), TDSC_E_TLS_PROTOCOL_MISMATCH);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(&err), "on the server"));
  /* the server chose TLS 1.0 */
  ck_assert_int_eq(judge(facts(0x0303, 0x0304, -1, 0x0301)),
                   TDSC_E_TLS_PROTOCOL_MISMATCH);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "chose TLS 1.0"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(&err), "Enable TLS 1.2"));
  /* a cipher mismatch names the client's suites, never "enable TLS 1.2" */
  ck_assert_int_eq(judge(facts(0x0303, 0x0303, 40, 0)), TDSC_E_TLS_CIPHER_MISMATCH);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "AES128-SHA256"));
  ck_assert_ptr_null(strstr(tdsc_error_hint(&err), "TLS 1.2"));
  ck_assert_int_eq(judge(facts(0x0303, 0x0303, 71, 0)), TDSC_E_TLS_CIPHER_MISMATCH);
  /* the client had nothing to offer */
  tdsc__tls_facts f = facts(0x0303, 0x0302, -1, 0);
  f.client_empty = true;
  ck_assert_int_eq(judge(f), TDSC_E_TLS_CLIENT_CONFIG);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(&err), "raise MaxProtocol in OPENSSL_CONF=/x.cnf"));
  f = facts(0x0303, 0x0304, -1, 0);
  f.client_empty = true;
  ck_assert_int_eq(judge(f), TDSC_E_TLS_CLIENT_CONFIG);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(&err), "CipherString"));
  /* no mismatch in the facts: nothing said */
  ck_assert_int_eq(judge(facts(0x0303, 0x0304, 80, 0)), TDSC_OK);
  ck_assert_int_eq(judge(facts(0x0303, 0x0304, -1, 0x0303)), TDSC_OK);
  tdsc__err_clear(&err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tls_diag");
  TCase *tc = tcase_create("tables");
  tcase_add_test(tc, every_openssl_verify_result_has_its_row);
  tcase_add_test(tc, every_tls_alert_maps_to_a_tls_code);
  tcase_add_test(tc, every_schannel_status_maps_to_a_code);
  tcase_add_test(tc, the_mismatch_hint_follows_from_each_sides_part);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
