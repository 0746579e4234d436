/* Unit tests of the session layer's parsers: the connection string and its
 * option table (options.c), Server= targets (target.c), and the host's
 * lookup off the caller's thread (lookup.c). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "config.h"

#include "clock.h"
#include "session/session.h"
#include "sys.h"
#include "transport/lookup.h"
#include "transport/worker.h"

#include <check.h>
#include <dlfcn.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static tdsc__options o;
static tdsc_error err;

static tdsc_errc parse(const char *s) {
  tdsc__options_clear(&o);
  tdsc__err_clear(&err);
  return tdsc__options_parse(&o, s, &err);
}

START_TEST(keywords_and_aliases_are_case_insensitive) {
  ck_assert_int_eq(parse("server=tcp:h,1;USER ID=u;password=p;initial "
                         "catalog=db;Data  Source=x"),
                   TDSC_E_UNKNOWN_KEYWORD); /* "Data  Source": two blanks */
  ck_assert_int_eq(parse("server=tcp:h,1;USER ID=u;password=p;Initial "
                         "Catalog=db; App = my app ;"),
                   TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:h,1");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_UID), "u");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "p");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_DATABASE), "db");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_APP), "my app");
  ck_assert(o.given[TDSC__OPT_APP]);
}
END_TEST

START_TEST(defaults_apply_and_are_typed) {
  unsetenv("TDSC_SERVER");
  ck_assert_int_eq(parse(""), TDSC_OK);
  ck_assert_ptr_null(tdsc__opt(&o, TDSC__OPT_SERVER));
  ck_assert_int_eq(o.encrypt, TDSC__ENC_MANDATORY);
  ck_assert(!o.trust_cert);
  ck_assert_int_eq(o.login_timeout, 15);
  ck_assert_int_eq(o.query_timeout, 0);
  ck_assert_int_eq(o.packet_size, 4096);
  /* no UID: integrated security, Kerberos then NTLM; a UID: SQL login; a
   * UID DOMAIN\user: NTLM */
  ck_assert_uint_eq(o.nmechs, 2);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_KERBEROS);
  ck_assert_int_eq(o.mechs[1], TDSC__MECH_NTLM);
  ck_assert_int_eq(o.canon, TDSC__CANON_FORWARD);
  ck_assert(o.spnego);
  ck_assert_int_eq(parse("UID=a"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 1);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_SQL);
  ck_assert_int_eq(parse("UID=TDSC\\alice;PWD=x"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 1);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_NTLM);
  setenv("TDSC_SERVER", "tcp:fromenv,1", 1);
  ck_assert_int_eq(parse("UID=a"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:fromenv,1");
  ck_assert(!o.given[TDSC__OPT_SERVER]);
  ck_assert_int_eq(parse("Server=tcp:given,1"), TDSC_OK); /* string wins */
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:given,1");
  unsetenv("TDSC_SERVER");
}
END_TEST

/* An environment variable set but empty is as if unset: the default
 * stands (an exported-but-empty TDSC_LOCAL_DIR must not make the local
 * folder ""). */
START_TEST(an_empty_environment_variable_keeps_the_default) {
  setenv("TDSC_LOCAL_DIR", "", 1);
  setenv("TDSC_SERVER", "", 1);
  ck_assert_int_eq(parse("UID=a"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_LOCAL_DIR), "/run/tdsclient");
  ck_assert_ptr_null(tdsc__opt(&o, TDSC__OPT_SERVER));
  setenv("TDSC_LOCAL_DIR", "/tmp/x", 1);
  ck_assert_int_eq(parse("UID=a"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_LOCAL_DIR), "/tmp/x");
  unsetenv("TDSC_LOCAL_DIR");
  unsetenv("TDSC_SERVER");
}
END_TEST

START_TEST(encrypt_accepts_the_odbc_18_values) {
  static const struct {
    const char *v;
    tdsc__encrypt e;
  } cases[] = {{"off", TDSC__ENC_OFF},          {"no", TDSC__ENC_OPTIONAL},
               {"false", TDSC__ENC_OPTIONAL},   {"Optional", TDSC__ENC_OPTIONAL},
               {"yes", TDSC__ENC_MANDATORY},    {"true", TDSC__ENC_MANDATORY},
               {"MANDATORY", TDSC__ENC_MANDATORY}, {"strict", TDSC__ENC_STRICT}};
  char s[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(s, sizeof s, "Encrypt=%s", cases[i].v);
    ck_assert_int_eq(parse(s), TDSC_OK);
    ck_assert_msg(o.encrypt == cases[i].e, "%s", cases[i].v);
  }
  ck_assert_int_eq(parse("Encrypt=sometimes"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "sometimes"));
}
END_TEST

START_TEST(braced_values_keep_semicolons_and_braces) {
  ck_assert_int_eq(parse("PWD={a;b}}c=d};UID={ x }"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "a;b}c=d");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_UID), " x ");
  ck_assert_int_eq(parse("PWD={open"), TDSC_E_BAD_CONNSTR);
  ck_assert_int_eq(parse("PWD={a}b;"), TDSC_E_BAD_CONNSTR);
  ck_assert_int_eq(parse("justaword"), TDSC_E_BAD_CONNSTR);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "justaword"));
}
END_TEST

START_TEST(a_keyword_given_twice_is_refused) {
  ck_assert_int_eq(parse("UID=a;User ID=b"), TDSC_E_BAD_CONNSTR);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "UID"));
}
END_TEST

START_TEST(numbers_are_range_checked) {
  ck_assert_int_eq(parse("LoginTimeout=-1"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("LoginTimeout=99999999999999999999"),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("PacketSize=511"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("PacketSize=32768"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("PacketSize=32767;Connect Timeout=0"), TDSC_OK);
  ck_assert_int_eq(o.packet_size, 32767);
  ck_assert_int_eq(o.login_timeout, 0);
  ck_assert_int_eq(parse("TrustServerCertificate=perhaps"),
                   TDSC_E_BAD_OPTION_VALUE);
}
END_TEST

/* Each rule of the parser at its boundary: the smallest and largest
 * numbers and one past, every spelling of a boolean, enum values with one
 * letter more or less, blanks around keys and values, a key without '='. */
START_TEST(the_parser_holds_at_its_boundaries) {
  ck_assert_int_eq(parse("PacketSize=512;LoginTimeout=65535"), TDSC_OK);
  ck_assert_int_eq(o.packet_size, 512);
  ck_assert_int_eq(o.login_timeout, 65535);
  ck_assert_int_eq(parse("LoginTimeout=65536"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("LoginTimeout=30s"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("LoginTimeout="), TDSC_E_BAD_OPTION_VALUE);
  static const char *const yes[] = {"yes", "true", "1", "on", "YES"};
  static const char *const no[] = {"no", "false", "0", "off", "Off"};
  char s[80];
  for (size_t i = 0; i < 5; i++) {
    snprintf(s, sizeof s, "TrustServerCertificate=%s", yes[i]);
    ck_assert_int_eq(parse(s), TDSC_OK);
    ck_assert_msg(o.trust_cert, "%s", s);
    snprintf(s, sizeof s, "TrustServerCertificate=%s", no[i]);
    ck_assert_int_eq(parse(s), TDSC_OK);
    ck_assert_msg(!o.trust_cert, "%s", s);
  }
  ck_assert_int_eq(parse("Encrypt=strictly"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("Encrypt=stric"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("SPNHostCanonicalization=forward"), TDSC_OK);
  ck_assert_int_eq(o.canon, TDSC__CANON_FORWARD);
  ck_assert_int_eq(parse("SPNHostCanonicalization=none"), TDSC_OK);
  ck_assert_int_eq(o.canon, TDSC__CANON_NONE);
  ck_assert_int_eq(parse("Authentication=kerberoz"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("Authentication=ntln"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("Authentication=sq"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("Authentication=ntlm"), TDSC_OK);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_NTLM);
  ck_assert_int_eq(parse("Authentication=kerberos"), TDSC_OK);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_KERBEROS);
  /* blanks: around a key, after a value, and inside braces kept */
  ck_assert_int_eq(parse(" UID \t= a b \t; PWD={ p }  ;"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_UID), "a b");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), " p ");
  ck_assert_int_eq(parse("UID"), TDSC_E_BAD_CONNSTR);
  ck_assert_int_eq(parse("UID;PWD=x"), TDSC_E_BAD_CONNSTR);
  ck_assert_int_eq(parse("PWD={a}}}"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "a}");
  ck_assert_int_eq(parse("PWD={a}} b}"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "a} b");
  /* text glued after a braced value is an error, even when it reads as
   * the next pair */
  ck_assert_int_eq(parse("PWD={a}UID=x"), TDSC_E_BAD_CONNSTR);
  ck_assert_int_eq(parse("PWD={a}  ;UID=x"), TDSC_OK);
  ck_assert_int_eq(parse("PWD={a{b}"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "a{b");
  ck_assert_int_eq(parse("Encrpyt=strict"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_int_eq(parse("Encrypt=strict;Encrypt=off"), TDSC_E_BAD_CONNSTR);
}
END_TEST

START_TEST(the_spn_follows_the_canonicalization_rule) {
  char spn[300], how[600];
  ck_assert_int_eq(parse("SPNHostCanonicalization=none"), TDSC_OK);
  tdsc__spn_for(&o, "db", 1433, "", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/db:1433");
  ck_assert_ptr_nonnull(strstr(how, "as given"));
  ck_assert_int_eq(parse(""), TDSC_OK); /* forward DNS */
  tdsc__spn_for(&o, "localhost", 2000, "", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/localhost:2000");
  ck_assert_ptr_nonnull(strstr(how, "forward DNS"));
  tdsc__spn_for(&o, "no-such-host.invalid", 1, "", spn, sizeof spn, how,
                sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/no-such-host.invalid:1");
  ck_assert_ptr_nonnull(strstr(how, "forward DNS failed"));
  tdsc__spn_for(&o, "127.0.0.1", 1433, "", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/127.0.0.1:1433");
  ck_assert_ptr_nonnull(strstr(how, "IP address"));
  /* issue 11: the trail said "=none" although the default was in force */
  ck_assert_msg(!strstr(how, "=none") &&
                    strstr(how, "SPNHostCanonicalization=forward "),
                "%s", how);
  ck_assert_int_eq(parse("SPNHostCanonicalization=forward-reverse"), TDSC_OK);
  tdsc__spn_for(&o, "::1", 1433, "", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/::1:1433");
  ck_assert_msg(strstr(how, "=forward-reverse") && !strstr(how, "=none"),
                "%s", how);
  ck_assert_int_eq(parse("SPNHostCanonicalization=none"), TDSC_OK);
  tdsc__spn_for(&o, "127.0.0.1", 1433, "", spn, sizeof spn, how, sizeof how);
  ck_assert_ptr_nonnull(strstr(how, "SPNHostCanonicalization=none"));
  ck_assert_int_eq(parse(""), TDSC_OK);
  ck_assert_int_eq(parse("ServerSPN=MSSQLSvc/real.example:1433@EX.TEST"),
                   TDSC_OK);
  tdsc__spn_for(&o, "alias", 1433, "", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/real.example:1433@EX.TEST");
  ck_assert_str_eq(how, "given by ServerSPN=");
  /* over pipes and shared memory: no port, the instance if named */
  ck_assert_int_eq(parse("SPNHostCanonicalization=none"), TDSC_OK);
  tdsc__spn_for(&o, "db", 0, "", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/db");
  tdsc__spn_for(&o, "db", 0, "INST", spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/db:INST");
}
END_TEST

START_TEST(a_secret_is_never_quoted_in_an_error) {
  /* PWD takes any text; make one fail through a neighbour instead, and
   * check the message of a malformed secret itself. */
  ck_assert_int_eq(parse("PWD={hunter2"), TDSC_E_BAD_CONNSTR);
  ck_assert_ptr_null(strstr(tdsc_error_message(&err), "hunter2"));
  ck_assert_int_eq(parse("PWD=hunter2;Nope=1"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_null(strstr(tdsc_error_message(&err), "hunter2"));
}
END_TEST

/* Issue 11: an unbraced ';' splits a password, and its tail became the
 * next "keyword" of the parse error ("'ret99' has no '=value'").  Every
 * keyword and alias the option table marks secret, every error the parser
 * can give after it: the text after the secret is never in the message,
 * which names the secret keyword and the offset instead. */
START_TEST(no_text_after_a_secret_keyword_is_ever_quoted) {
  static const struct {
    const char *tail; /* after "<secret>=abc;" */
    tdsc_errc code;
    const char *names; /* what the message must name */
  } tails[] = {
      {"ret99", TDSC_E_BAD_CONNSTR, "=value"},
      {"ret99;UID=u", TDSC_E_BAD_CONNSTR, "=value"},
      {"ret99=x", TDSC_E_UNKNOWN_KEYWORD, "unknown keyword"},
      {"UID=u;UID=ret99", TDSC_E_BAD_CONNSTR, "twice"},
      {"App={ret99", TDSC_E_BAD_CONNSTR, "braced"},
      {"App={x}ret99", TDSC_E_BAD_CONNSTR, "braced"},
      {"Encrypt=ret99", TDSC_E_BAD_OPTION_VALUE, "Encrypt"},
      {"TrustServerCertificate=ret99", TDSC_E_BAD_OPTION_VALUE,
       "TrustServerCertificate"},
      {"LoginTimeout=ret99", TDSC_E_BAD_OPTION_VALUE, "LoginTimeout"},
      {"Authentication=ret99", TDSC_E_BAD_OPTION_VALUE, "Authentication"},
      {"Authentication=sql,sql,ret99", TDSC_E_BAD_OPTION_VALUE,
       "Authentication"},
  };
  size_t nsecret = 0;
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    const tdsc_option_info *info = &tdsc__optdefs[i].info;
    if (!info->secret)
      continue;
    nsecret++;
    /* the keyword, then each alias */
    char names[256];
    snprintf(names, sizeof names, "%s%s%s", info->keyword,
             info->aliases ? "|" : "", info->aliases ? info->aliases : "");
    for (char *save = NULL, *k = strtok_r(names, "|", &save); k;
         k = strtok_r(NULL, "|", &save)) {
      for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        char cs[256], at[64];
        snprintf(cs, sizeof cs, "Server=h;%s=abc;%s", k, tails[t].tail);
        snprintf(at, sizeof at, "offset %zu", strlen("Server=h;") +
                                                   strlen(k) + 5);
        tdsc_errc rc = parse(cs);
        const char *m = tdsc_error_message(&err);
        ck_assert_msg(rc == tails[t].code, "%s: %s: %s", cs,
                      tdsc_errc_name(rc), m);
        ck_assert_msg(!strstr(m, "ret99") && !strstr(m, "abc"), "%s: %s",
                      cs, m);
        ck_assert_msg(strstr(m, info->keyword) && strstr(m, tails[t].names),
                      "%s: %s", cs, m);
        ck_assert_msg(strstr(m, "offset "), "%s: %s", cs, m);
        if (t == 0)
          ck_assert_msg(strstr(m, at), "%s: %s (want %s)", cs, m, at);
      }
    }
  }
  ck_assert_uint_ge(nsecret, 3); /* PWD, KrbPassword, NTLMPassword */
  /* before any secret, the text is the best pointer to the mistake */
  ck_assert_int_eq(parse("UID=abc;ret99"), TDSC_E_BAD_CONNSTR);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "'ret99'"));
  ck_assert_int_eq(parse("Encrypt=ret99;PWD=x"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "'ret99'"));
}
END_TEST

START_TEST(authentication_is_an_ordered_list_of_known_mechanisms) {
  ck_assert_int_eq(parse("Authentication=SQL"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 1);
  ck_assert_int_eq(parse("Authentication=ntlm,sql,kerberos"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 3);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_NTLM);
  ck_assert_int_eq(parse("Authentication= kerberos , sql"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 2);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_KERBEROS);
  ck_assert_int_eq(o.mechs[1], TDSC__MECH_SQL);
  ck_assert_int_eq(parse("SPNHostCanonicalization=forward-reverse;"
                         "SPNEGO=no"),
                   TDSC_OK);
  ck_assert_int_eq(o.canon, TDSC__CANON_REVERSE);
  ck_assert(!o.spnego);
  ck_assert_int_eq(parse("SPNHostCanonicalization=dns"),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err),
                               "none, forward, forward-reverse"));
  ck_assert_int_eq(parse("Authentication=sql,sql"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("Authentication=magic"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "magic"));
  /* the names known are policy.c's rows, aliases with them */
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(&err),
             "sql, kerberos, ntlm, entra (ActiveDirectoryAccessToken), "
             "entra-sp (ActiveDirectoryServicePrincipal), entra-msi "
             "(ActiveDirectoryManagedIdentity), entra-workload "
             "(ActiveDirectoryWorkloadIdentity) or entra-default "
             "(ActiveDirectoryDefault)"));
  /* a name for several mechanisms, in DefaultAzureCredential's order */
  ck_assert_int_eq(parse("Authentication=ActiveDirectoryDefault"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 3);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_ENTRA_SP);
  ck_assert_int_eq(o.mechs[1], TDSC__MECH_ENTRA_WORKLOAD);
  ck_assert_int_eq(o.mechs[2], TDSC__MECH_ENTRA_MSI);
  ck_assert(o.entra_default);
  ck_assert_int_eq(parse("Authentication=entra-msi"), TDSC_OK);
  ck_assert(!o.entra_default);
  /* every mechanism once: the list holds them all */
  ck_assert_int_eq(parse("Authentication=ActiveDirectoryServicePrincipal,"
                         "activedirectorymanagedidentity,entra-workload,sql,"
                         "kerberos,ntlm,entra"),
                   TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 7);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_ENTRA_SP);
  ck_assert_int_eq(o.mechs[1], TDSC__MECH_ENTRA_MSI);
  ck_assert_int_eq(o.mechs[2], TDSC__MECH_ENTRA_WORKLOAD);
  ck_assert_int_eq(o.mechs[6], TDSC__MECH_ENTRA);
  ck_assert_int_eq(parse("Authentication=activedirectoryaccesstoken,NTLM"),
                   TDSC_OK);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_ENTRA);
  ck_assert_int_eq(o.mechs[1], TDSC__MECH_NTLM);
  ck_assert_str_eq(tdsc__mech_name(o.mechs[0]), "entra");
  ck_assert_int_eq(parse("Authentication=entra,ActiveDirectoryAccessToken"),
                   TDSC_E_BAD_OPTION_VALUE); /* the same mechanism twice */
  ck_assert_int_eq(parse("Authentication=,"), TDSC_E_BAD_OPTION_VALUE);
}
END_TEST

START_TEST(the_public_option_table_is_the_parsers) {
  size_t n = 0;
  for (; tdsc_option_at(n); n++) {
    const tdsc_option_info *i = tdsc_option_at(n);
    ck_assert_ptr_nonnull(i->keyword);
    ck_assert_ptr_nonnull(i->doc);
    char s[128];
    snprintf(s, sizeof s, "%s=%s", i->keyword,
             i->default_value ? i->default_value : "x");
    ck_assert_msg(parse(s) != TDSC_E_UNKNOWN_KEYWORD, "%s", s);
    /* tests/integration/secrets.sh finds the secret keywords by these
     * words in --help: they must follow the flag */
    ck_assert_msg(!i->secret == !strstr(i->doc, "never printed"), "%s",
                  i->keyword);
  }
  ck_assert_uint_eq(n, TDSC__OPT_COUNT);
  ck_assert(tdsc_option_at(TDSC__OPT_PWD)->secret);
}
END_TEST

/* ---------------------------------------------------------------- targets */

/* ODBC, ADO.NET and JDBC users' connection strings (issue: their keywords
 * were unknown, with no pointer to the equivalent). */
START_TEST(integrated_security_selects_the_integrated_mechanisms) {
  static const char *const yes[] = {"Integrated Security=SSPI",
                                    "Integrated Security=true",
                                    "integrated security=yes",
                                    "Trusted_Connection=yes",
                                    "Trusted_Connection=Yes;UID=alice"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    ck_assert_msg(parse(yes[i]) == TDSC_OK, "%s", yes[i]);
    ck_assert_uint_eq(o.nmechs, 2);
    ck_assert_int_eq(o.mechs[0], TDSC__MECH_KERBEROS);
    ck_assert_int_eq(o.mechs[1], TDSC__MECH_NTLM);
  }
  ck_assert_int_eq(parse("Integrated Security=false;UID=sa"), TDSC_OK);
  ck_assert_uint_eq(o.nmechs, 1);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_SQL);
  ck_assert_int_eq(parse("Trusted_Connection=maybe"),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_int_eq(parse("Integrated Security=SSPI;Authentication=sql"),
                   TDSC_E_BAD_CONNSTR);
  ck_assert_ptr_nonnull(strstr(err.message, "Authentication="));
}
END_TEST

START_TEST(mars_false_is_accepted_true_refused) {
  ck_assert_int_eq(parse("MultipleActiveResultSets=false"), TDSC_OK);
  ck_assert_int_eq(parse("MultipleActiveResultSets=False;MARS_Connection=no"),
                   TDSC_E_BAD_CONNSTR); /* the same keyword twice */
  ck_assert_int_eq(parse("MultipleActiveResultSets=true"),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "not supported"));
  ck_assert_int_eq(parse("MARS_Connection=yes"), TDSC_E_BAD_OPTION_VALUE);
}
END_TEST

START_TEST(application_intent_is_read_only_or_read_write) {
  ck_assert_int_eq(parse("Server=h"), TDSC_OK);
  ck_assert(!o.read_only); /* ReadWrite by default */
  ck_assert_int_eq(parse("ApplicationIntent=ReadOnly"), TDSC_OK);
  ck_assert(o.read_only);
  ck_assert_int_eq(parse("Application Intent=readonly"), TDSC_OK);
  ck_assert(o.read_only);
  ck_assert_int_eq(parse("ApplicationIntent=READWRITE"), TDSC_OK);
  ck_assert(!o.read_only);
  ck_assert_int_eq(parse("ApplicationIntent=Read"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "ApplicationIntent"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "ReadOnly"));
}
END_TEST

/* MultiSubnetFailover=yes makes the TCP endpoints (a routed one too,
 * connect.c) start their addresses in parallel; no by default. */
START_TEST(multi_subnet_failover_connects_in_parallel) {
  tdsc__target t;
  tdsc__endpoint eps[TDSC__MAX_ENDPOINTS];
  size_t n = 0;
  ck_assert_int_eq(parse("Server=tcp:db.example,1433"), TDSC_OK);
  ck_assert(!o.multi_subnet);
  ck_assert_int_eq(tdsc__target_parse("tcp:db.example,1433", &t, &err),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__endpoints_plan(&o, &t, eps, &n, &err), TDSC_OK);
  ck_assert_uint_eq(n, 1);
  ck_assert(!eps[0].parallel);
  ck_assert_int_eq(
      parse("Server=tcp:db.example,1433;MultiSubnetFailover=yes"), TDSC_OK);
  ck_assert(o.multi_subnet);
  ck_assert_int_eq(tdsc__endpoints_plan(&o, &t, eps, &n, &err), TDSC_OK);
  ck_assert_uint_eq(n, 1);
  ck_assert(eps[0].parallel);
  ck_assert_int_eq(parse("MultiSubnetFailover=maybe"),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(&err), "MultiSubnetFailover"));
}
END_TEST

START_TEST(foreign_keywords_say_what_to_do_instead) {
  ck_assert_int_eq(parse("Driver={ODBC Driver 18 for SQL Server};Server=h"),
                   TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(strstr(err.message, "leave Driver= out"));
  ck_assert_int_eq(parse("DSN=prod"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(strstr(err.message, "data source"));
  ck_assert_int_eq(parse("Provider=SQLNCLI11"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(strstr(err.message, "Provider="));
}
END_TEST

START_TEST(an_unknown_keyword_names_the_closest_known_one) {
  ck_assert_int_eq(parse("Usre=sa"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(strstr(err.message, "did you mean UID?"));
  ck_assert_int_eq(parse("Databse=x"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(strstr(err.message, "did you mean Database?"));
  ck_assert_int_eq(parse("TrustServerCertficate=yes"),
                   TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(
      strstr(err.message, "did you mean TrustServerCertificate?"));
  /* nothing near: no guess */
  ck_assert_int_eq(parse("Frobnicate=1"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_null(strstr(err.message, "did you mean"));
}
END_TEST

START_TEST(the_library_reads_the_password_from_the_environment) {
  setenv("TDSC_PASSWORD", "from-env", 1);
  ck_assert_int_eq(parse("UID=sa"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "from-env");
  ck_assert(!o.given[TDSC__OPT_PWD]);
  ck_assert_int_eq(parse("UID=sa;PWD=given"), TDSC_OK); /* the string wins */
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "given");
  setenv("TDSC_PASSWORD", "", 1); /* empty: as if unset */
  ck_assert_int_eq(parse("UID=sa"), TDSC_OK);
  ck_assert_ptr_null(tdsc__opt(&o, TDSC__OPT_PWD));
  unsetenv("TDSC_PASSWORD");
}
END_TEST

/* Configuration files (conffile.c): a scratch folder, files written per
 * test, the variables pointing at them. */
static char confdir[64];
static const char *conf_write(const char *name, const char *text,
                              int mode) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", confdir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  chmod(path, (mode_t)mode);
  return path;
}
static void conf_setup(void) {
  strcpy(confdir, "/tmp/tdsc-conf.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(confdir));
  setenv("HOME", confdir, 1); /* no ~/.freetds.conf etc. of the user */
  unsetenv("TDSC_SERVICE");
  unsetenv("TDSC_PASSWORD");
}
static void conf_teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", confdir);
  ck_assert_int_eq(system(cmd), 0);
  unsetenv("TDSC_SERVICEFILE");
  unsetenv("FREETDSCONF");
  unsetenv("TDSC_PASSFILE");
}

START_TEST(a_service_section_completes_the_string) {
  setenv("TDSC_SERVICEFILE",
         conf_write("svc.conf",
                    "# services\n[other]\nServer = tcp:elsewhere,1\n"
                    "[prod]\nServer = tcp:db.example.com,1433\n"
                    "Database = sales\n  UID = app \n\n[later]\nUID = no\n",
                    0644),
         1);
  ck_assert_int_eq(parse("Service=prod;UID=me"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:db.example.com,1433");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_DATABASE), "sales");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_UID), "me"); /* the string wins */
  setenv("TDSC_SERVICE", "prod", 1); /* or from the environment */
  ck_assert_int_eq(parse(""), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_UID), "app");
  unsetenv("TDSC_SERVICE");
  ck_assert_int_eq(parse("Service=nosuch"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "no [nosuch] section"));
  setenv("TDSC_SERVICEFILE",
         conf_write("bad.conf", "[s]\nServer = x\nUsre = y\n", 0644), 1);
  ck_assert_int_eq(parse("Service=s"), TDSC_E_UNKNOWN_KEYWORD);
  ck_assert_ptr_nonnull(strstr(err.message, "did you mean UID?"));
  ck_assert_ptr_nonnull(strstr(err.message, "line 3"));
  setenv("TDSC_SERVICEFILE", conf_write("bad2.conf", "[s]\nnonsense\n", 0644),
         1);
  ck_assert_int_eq(parse("Service=s"), TDSC_E_BAD_CONNSTR);
  ck_assert_ptr_nonnull(strstr(err.message, "line 2"));
  setenv("TDSC_SERVICEFILE", "/nonexistent/tdsc/svc.conf", 1);
  ck_assert_int_eq(parse("Service=s"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/tdsc/svc.conf"));
}
END_TEST

START_TEST(a_freetds_conf_section_resolves_a_server_name) {
  setenv("FREETDSCONF",
         conf_write("freetds.conf",
                    "[global]\n\ttds version = 7.4\n"
                    "[orders]\n\thost = db1.example.com\n\tport = 1533\n"
                    "\tencryption = require\n"
                    "[named]\n\thost = db2\n\tinstance = SQLEXPRESS\n"
                    "[bare]\n\tport = 2000\n\tencryption = off\n",
                    0644),
         1);
  ck_assert_int_eq(parse("Server=orders"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:db1.example.com,1533");
  ck_assert_int_eq(o.encrypt, TDSC__ENC_MANDATORY);
  ck_assert_int_eq(parse("Server=NAMED"), TDSC_OK); /* case-insensitive */
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "db2\\SQLEXPRESS");
  ck_assert_int_eq(parse("Server=bare"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:bare,2000");
  ck_assert_int_eq(o.encrypt, TDSC__ENC_OFF);
  /* Encrypt= chosen in the string is not overridden */
  ck_assert_int_eq(parse("Server=bare;Encrypt=strict"), TDSC_OK);
  ck_assert_int_eq(o.encrypt, TDSC__ENC_STRICT);
  /* a name with no section, or a target in SQL Server's syntax: as is */
  ck_assert_int_eq(parse("Server=unlisted"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "unlisted");
  ck_assert_int_eq(parse("Server=orders,1433"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "orders,1433");
  ck_assert_int_eq(parse("Server=global"), TDSC_OK); /* no host or port */
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "global");
  setenv("FREETDSCONF", "/nonexistent/freetds.conf", 1);
  ck_assert_int_eq(parse("Server=orders"), TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/freetds.conf"));
}
END_TEST

START_TEST(the_password_file_gives_the_matching_line_when_private) {
  const char *pf = conf_write("pass",
                              "# server:port:database:user:password\n"
                              "db1:1433:*:alice:first:with:colons\n"
                              "*:*:sales:bob:b\\:ob\n"
                              "*:*:*:carol:third\n",
                              0600);
  setenv("TDSC_PASSFILE", pf, 1);
  ck_assert_int_eq(parse("Server=tcp:db1,1433;UID=alice"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "first:with:colons");
  ck_assert_int_eq(parse("Server=tcp:db1,1434;UID=alice"), TDSC_OK);
  ck_assert_ptr_null(tdsc__opt(&o, TDSC__OPT_PWD)); /* other port */
  ck_assert_int_eq(parse("Server=x;UID=bob;Database=sales"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "b:ob");
  ck_assert_int_eq(parse("Server=x;UID=bob"), TDSC_OK);
  ck_assert_ptr_null(tdsc__opt(&o, TDSC__OPT_PWD)); /* no database */
  ck_assert_int_eq(parse("Server=x;UID=carol;PWD=given"), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "given");
  ck_assert_str_eq(o.note, "");
  /* readable by others: ignored, and the note says why */
  chmod(pf, 0644);
  ck_assert_int_eq(parse("Server=x;UID=carol"), TDSC_OK);
  ck_assert_ptr_null(tdsc__opt(&o, TDSC__OPT_PWD));
  ck_assert_ptr_nonnull(strstr(o.note, "ignored"));
  ck_assert_ptr_nonnull(strstr(o.note, "644"));
  ck_assert_ptr_null(strstr(o.note, "third"));
}
END_TEST

START_TEST(targets_follow_sql_servers_syntax) {
  static const struct {
    const char *in;
    tdsc__proto proto;
    const char *host, *instance;
    int port;
    const char *name; /* LOGIN7's ServerName: as written, no port */
  } ok[] = {
      {"tcp:db.example.com,1433", TDSC__PROTO_TCP, "db.example.com", "", 1433,
       "db.example.com"},
      {"db", TDSC__PROTO_AUTO, "db", "", 0, "db"},
      {"db,2000", TDSC__PROTO_AUTO, "db", "", 2000, "db"},
      {"db\\SQLEXPRESS", TDSC__PROTO_AUTO, "db", "SQLEXPRESS", 0,
       "db\\SQLEXPRESS"},
      {"tcp:db\\INST,1500", TDSC__PROTO_TCP, "db", "INST", 1500, "db\\INST"},
      {"(local)", TDSC__PROTO_AUTO, "localhost", "", 0, "(local)"},
      {".", TDSC__PROTO_AUTO, "localhost", "", 0, "."},
      {".\\SQLEXPRESS", TDSC__PROTO_AUTO, "localhost", "SQLEXPRESS", 0,
       ".\\SQLEXPRESS"},
      {"[::1],1433", TDSC__PROTO_AUTO, "::1", "", 1433, "::1"},
      {"tcp:[fe80::1],1", TDSC__PROTO_TCP, "fe80::1", "", 1, "fe80::1"},
      {"lpc:", TDSC__PROTO_SHM, "localhost", "", 0, ""},
      {"shm:.\\INST", TDSC__PROTO_SHM, "localhost", "INST", 0, ".\\INST"},
      {"TCP: db ,5", TDSC__PROTO_TCP, "db", "", 5, "db"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    tdsc__target t;
    tdsc_errc rc = tdsc__target_parse(ok[i].in, &t, &err);
    ck_assert_msg(rc == TDSC_OK, "%s: %s", ok[i].in, tdsc_error_message(&err));
    ck_assert_msg(t.proto == ok[i].proto, "%s: proto", ok[i].in);
    ck_assert_str_eq(t.host, ok[i].host);
    ck_assert_str_eq(t.instance, ok[i].instance);
    ck_assert_int_eq(t.port, ok[i].port);
    ck_assert_str_eq(t.name, ok[i].name);
  }
  tdsc__target t;
  ck_assert_int_eq(tdsc__target_parse("np:\\\\host\\pipe\\sql\\query", &t,
                                      &err),
                   TDSC_OK);
  ck_assert_int_eq(t.proto, TDSC__PROTO_NP);
  ck_assert_str_eq(t.pipe, "\\\\host\\pipe\\sql\\query");
  ck_assert_str_eq(t.name, t.pipe);
}
END_TEST

START_TEST(bad_targets_name_what_is_wrong) {
  static const struct {
    const char *in, *named;
  } bad[] = {{"", "missing"},           {"db,0", "'0'"},
             {"db,65536", "65536"},      {"db,12x", "12x"},
             {"db,", "''"},              {"[::1", "'['"},
             {"db\\", "instance"},       {"tcp:,1433", "empty"},
             {"np:", "pipe"},            {"[::1]x", "'x'"},
             /* host:port, as URLs write it: say how SQL Server writes it */
             {"127.0.0.1:36735", "Server=127.0.0.1,36735"},
             {"tcp:db.example.com:1433", "Server=db.example.com,1433"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tdsc__target t;
    tdsc__err_clear(&err);
    ck_assert_int_eq(tdsc__target_parse(bad[i].in, &t, &err),
                     TDSC_E_BAD_OPTION_VALUE);
    ck_assert_msg(strstr(tdsc_error_message(&err), bad[i].named),
                  "'%s': message '%s' lacks '%s'", bad[i].in,
                  tdsc_error_message(&err), bad[i].named);
  }
  /* ports 1 and 65535 are the ends; a sign or a blank is not a digit */
  static const char *const port_ok[] = {"db,1", "db,65535"};
  static const char *const port_bad[] = {"db,+5", "db, 5", "db,-1"};
  for (size_t i = 0; i < 2; i++) {
    tdsc__target t;
    ck_assert_int_eq(tdsc__target_parse(port_ok[i], &t, &err), TDSC_OK);
  }
  for (size_t i = 0; i < 3; i++) {
    tdsc__target t;
    ck_assert_msg(tdsc__target_parse(port_bad[i], &t, &err) ==
                      TDSC_E_BAD_OPTION_VALUE,
                  "%s accepted", port_bad[i]);
  }
  /* a host name of 255 characters fits the buffer, 256 do not */
  {
    char h[300];
    tdsc__target t;
    memset(h, 'h', sizeof h);
    h[255] = 0;
    ck_assert_int_eq(tdsc__target_parse(h, &t, &err), TDSC_OK);
    ck_assert_uint_eq(strlen(t.host), 255);
    h[255] = 'h';
    h[256] = 0;
    ck_assert_int_eq(tdsc__target_parse(h, &t, &err),
                     TDSC_E_BAD_OPTION_VALUE);
  }
  char longhost[400];
  memset(longhost, 'a', sizeof longhost - 1);
  longhost[sizeof longhost - 1] = 0;
  tdsc__target t;
  ck_assert_int_eq(tdsc__target_parse(longhost, &t, &err),
                   TDSC_E_BAD_OPTION_VALUE);
}
END_TEST

/* ---------------------------------------------------------------- plans */

static size_t plan(const char *connstr, const char *server,
                   tdsc__endpoint *eps) {
  tdsc__target t;
  size_t n = 0;
  ck_assert_int_eq(parse(connstr), TDSC_OK);
  ck_assert_int_eq(tdsc__target_parse(server, &t, &err), TDSC_OK);
  tdsc_errc rc = tdsc__endpoints_plan(&o, &t, eps, &n, &err);
  ck_assert_msg(rc == TDSC_OK, "%s: %s", server, tdsc_error_message(&err));
  return n;
}

START_TEST(ipv6_and_colons_that_are_not_a_port_stay_hosts) {
  static const char *const ok[] = {"::1", "fe80::1", "[::1],1433",
                                   "host:name"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    tdsc__target t;
    tdsc__err_clear(&err);
    ck_assert_msg(tdsc__target_parse(ok[i], &t, &err) == TDSC_OK, "%s: %s",
                  ok[i], tdsc_error_message(&err));
  }
}
END_TEST

START_TEST(a_local_server_is_tried_by_shm_then_pipe_then_tcp) {
  tdsc__endpoint e[TDSC__MAX_ENDPOINTS];
  ck_assert_uint_eq(plan("LocalDir=/run/x", "(local)", e), 3);
  ck_assert_int_eq(e[0].kind, TDSC__EP_SHM);
  ck_assert_str_eq(e[0].path, "/run/x/MSSQLSERVER.shm");
  ck_assert_int_eq(e[1].kind, TDSC__EP_PIPE);
  ck_assert_str_eq(e[1].path, "/run/x/pipe/sql/query");
  ck_assert_int_eq(e[2].kind, TDSC__EP_TCP);
  ck_assert_int_eq(e[2].port, 1433);
  /* a named instance: its own socket names, and SQL Browser for TCP */
  ck_assert_uint_eq(plan("LocalDir=/run/x", ".\\SQLEXPRESS", e), 3);
  ck_assert_str_eq(e[0].path, "/run/x/SQLEXPRESS.shm");
  ck_assert_str_eq(e[1].path, "/run/x/pipe/MSSQL$SQLEXPRESS/sql/query");
  ck_assert_int_eq(e[2].port, 0);
  ck_assert_str_eq(e[2].instance, "SQLEXPRESS");
}
END_TEST

START_TEST(a_remote_server_or_a_port_means_tcp) {
  tdsc__endpoint e[TDSC__MAX_ENDPOINTS];
  ck_assert_uint_eq(plan("", "db.example.com", e), 1);
  ck_assert_int_eq(e[0].kind, TDSC__EP_TCP);
  ck_assert_uint_eq(plan("", "localhost,1500", e), 1);
  ck_assert_int_eq(e[0].port, 1500);
  ck_assert_uint_eq(plan("", "db.example.com\\INST", e), 1);
  ck_assert_int_eq(e[0].port, 0); /* SQL Browser will say */
}
END_TEST

START_TEST(a_prefix_pins_the_transport) {
  tdsc__endpoint e[TDSC__MAX_ENDPOINTS];
  ck_assert_uint_eq(plan("LocalDir=/d", "shm:", e), 1);
  ck_assert_int_eq(e[0].kind, TDSC__EP_SHM);
  ck_assert_uint_eq(plan("LocalDir=/d", "np:/tmp/s.sock", e), 1);
  ck_assert_str_eq(e[0].path, "/tmp/s.sock");
  ck_assert_uint_eq(plan("LocalDir=/d", "np:\\\\.\\pipe\\MSSQL$I\\sql\\query",
                         e),
                    1);
  ck_assert_str_eq(e[0].path, "/d/pipe/MSSQL$I/sql/query");
  ck_assert_uint_eq(plan("", "tcp:localhost", e), 1);
  ck_assert_int_eq(e[0].kind, TDSC__EP_TCP);
}
END_TEST

START_TEST(transport_reorders_and_narrows) {
  tdsc__endpoint e[TDSC__MAX_ENDPOINTS];
  ck_assert_uint_eq(plan("Transport=tcp,shm", "localhost", e), 2);
  ck_assert_int_eq(e[0].kind, TDSC__EP_TCP);
  ck_assert_int_eq(e[1].kind, TDSC__EP_SHM);
  tdsc__target t;
  size_t n;
  ck_assert_int_eq(parse("Transport=shm"), TDSC_OK);
  ck_assert_int_eq(tdsc__target_parse("db.example.com", &t, &err), TDSC_OK);
  ck_assert_int_eq(tdsc__endpoints_plan(&o, &t, e, &n, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "remote"));
  ck_assert_int_eq(parse("Transport=carrier-pigeon"), TDSC_OK);
  ck_assert_int_eq(tdsc__target_parse("localhost", &t, &err), TDSC_OK);
  ck_assert_int_eq(tdsc__endpoints_plan(&o, &t, e, &n, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "carrier-pigeon"));
  /* another host's pipe needs SMB */
  ck_assert_int_eq(parse(""), TDSC_OK);
  ck_assert_int_eq(
      tdsc__target_parse("np:\\\\far.example\\pipe\\sql\\query", &t, &err),
      TDSC_OK);
  ck_assert_int_eq(tdsc__endpoints_plan(&o, &t, e, &n, &err),
                   TDSC_E_PIPE_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "far.example"));
}
END_TEST

/* A LocalDir too long for a socket address fails the plans that hold a
 * local endpoint, by name, and leaves tcp: alone (the CI checkout that
 * found it had a long path). */
START_TEST(a_long_local_dir_spoils_only_local_plans) {
  tdsc__endpoint e[TDSC__MAX_ENDPOINTS];
  char cs[300], dir[200];
  memset(dir, 'd', sizeof dir - 1);
  dir[0] = '/';
  dir[sizeof dir - 1] = 0;
  snprintf(cs, sizeof cs, "LocalDir=%s", dir);
  ck_assert_uint_eq(plan(cs, "tcp:localhost\\INST", e), 1);
  ck_assert_int_eq(e[0].kind, TDSC__EP_TCP);
  ck_assert_uint_eq(plan(cs, "tcp:localhost", e), 1);
  tdsc__target t;
  size_t n;
  ck_assert_int_eq(parse(cs), TDSC_OK);
  ck_assert_int_eq(tdsc__target_parse("(local)", &t, &err), TDSC_OK);
  ck_assert_int_eq(tdsc__endpoints_plan(&o, &t, e, &n, &err),
                   TDSC_E_BAD_OPTION_VALUE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(&err), "too long"));
}
END_TEST

static void teardown(void) {
  tdsc__options_clear(&o);
  tdsc__err_clear(&err);
}

/* ---------------------------------------------------------------- shared
 * The internal functions connect.c and tdsc-doctor share: the doctor walks
 * the library's path only as long as they say what connect.c does. */

START_TEST(the_options_as_a_string_read_back_as_given) {
  ck_assert_int_eq(parse("Server=tcp:db,1;UID=u;PWD={p;w}}d};"
                         "Authentication=sql;LoginTimeout=3"),
                   TDSC_OK);
  char *cs = tdsc__options_connstr(&o, TDSC__OPT_AUTHENTICATION, "ntlm");
  ck_assert_ptr_nonnull(cs);
  ck_assert_ptr_null(strstr(cs, "Encrypt")); /* defaults stay defaults */
  ck_assert_int_eq(parse(cs), TDSC_OK);
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_PWD), "p;w}d");
  ck_assert_str_eq(tdsc__opt(&o, TDSC__OPT_SERVER), "tcp:db,1");
  ck_assert_int_eq(o.login_timeout, 3);
  ck_assert_uint_eq(o.nmechs, 1);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_NTLM);
  ck_assert_str_eq(tdsc__mech_name(o.mechs[0]), "ntlm");
  free(cs);
  /* NULL leaves the option out: the library's default applies again */
  cs = tdsc__options_connstr(&o, TDSC__OPT_AUTHENTICATION, NULL);
  ck_assert_int_eq(parse(cs), TDSC_OK);
  ck_assert_int_eq(o.mechs[0], TDSC__MECH_SQL); /* UID without '\\' */
  free(cs);
}
END_TEST

START_TEST(an_endpoints_spn_is_its_transports) {
  char spn[300], how[600];
  tdsc__endpoint ep = {.kind = TDSC__EP_TCP, .host = "db", .port = 1500};
  ck_assert_int_eq(parse("SPNHostCanonicalization=none"), TDSC_OK);
  tdsc__endpoint_spn(&o, &ep, spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/db:1500");
  ep.kind = TDSC__EP_SHM; /* shared memory and pipes: never the port */
  tdsc__endpoint_spn(&o, &ep, spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/db");
  ep.kind = TDSC__EP_PIPE;
  snprintf(ep.instance, sizeof ep.instance, "INST");
  tdsc__endpoint_spn(&o, &ep, spn, sizeof spn, how, sizeof how);
  ck_assert_str_eq(spn, "MSSQLSvc/db:INST");
}
END_TEST

START_TEST(only_an_unreachable_endpoint_moves_the_plan_on) {
  static const tdsc_errc next[] = {
      TDSC_E_SHM_NOT_FOUND, TDSC_E_PIPE_NOT_FOUND, TDSC_E_PIPE_BUSY,
      TDSC_E_CONN_REFUSED, TDSC_E_BROWSER_UNREACHABLE};
  static const tdsc_errc stop[] = {
      TDSC_OK, TDSC_E_HOST_NOT_FOUND, TDSC_E_INSTANCE_NOT_FOUND,
      TDSC_E_TLS_CERT_UNTRUSTED, TDSC_E_LOGIN_FAILED, TDSC_E_KRB_SPN_UNKNOWN};
  for (size_t i = 0; i < sizeof next / sizeof *next; i++)
    ck_assert_msg(tdsc__endpoint_unreachable(next[i]), "%s",
                  tdsc_errc_name(next[i]));
  for (size_t i = 0; i < sizeof stop / sizeof *stop; i++)
    ck_assert_msg(!tdsc__endpoint_unreachable(stop[i]), "%s",
                  tdsc_errc_name(stop[i]));
}
END_TEST

/* ---------------------------------------------------------------- lookup */

/* A name service that takes its time, for one name.  Inside one process
 * getaddrinfo cannot be pointed at a silent DNS server (resolv.conf is the
 * machine's), so this definition stands in front of the C library's for
 * SLOW_NAME only, answering it after SLOW_MS; every other name goes to the
 * real resolver. */
#define SLOW_NAME "slow.tdsc.test"
#define SLOW_MS 1500
int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res) {
  static int (*real)(const char *, const char *, const struct addrinfo *,
                     struct addrinfo **);
  if (node && strcmp(node, SLOW_NAME) == 0) {
    struct timespec ts = {SLOW_MS / 1000, (SLOW_MS % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return EAI_NONAME;
  }
  if (!real)
    *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
  return real(node, service, hints, res);
}

/* Linked with --wrap=tdsc__thread_start: once armed, the next thread
 * cannot be made, as under the system's limit on threads. */
static bool no_thread;
tdsc__thread *__real_tdsc__thread_start(void (*fn)(void *arg), void *arg);
tdsc__thread *__wrap_tdsc__thread_start(void (*fn)(void *arg), void *arg);
tdsc__thread *__wrap_tdsc__thread_start(void (*fn)(void *arg), void *arg) {
  if (no_thread) {
    no_thread = false;
    return NULL;
  }
  return __real_tdsc__thread_start(fn, arg);
}

/* Steps l until it is done, waiting as it asks; the steps that returned
 * TDSC__AGAIN in *waits. */
static tdsc_errc lookup_run(tdsc__lookup *l, int64_t deadline,
                            tdsc__addr **addrs, size_t *n, int *waits) {
  *waits = 0;
  for (;;) {
    intptr_t fd;
    tdsc_errc rc = tdsc__lookup_step(l, deadline, addrs, n, &fd, &err);
    if (rc != TDSC__AGAIN)
      return rc;
    ck_assert(fd != TDSC__NO_POLLFD);
    (*waits)++;
    struct pollfd p = {.fd = (int)fd, .events = POLLIN};
    int left = tdsc__ms_left(deadline);
    poll(&p, 1, left < 0 ? 5000 : left);
  }
}

/* Issue 16: a connect step never waits for the name service; the lookup
 * runs on the worker, and a silent one fails at the deadline with the name
 * it was asked, while the caller goes on. */
START_TEST(a_slow_name_service_is_left_at_the_deadline) {
  tdsc__lookup *l;
  ck_assert_int_eq(tdsc__lookup_start(SLOW_NAME, 1433, SOCK_STREAM, &l, &err),
                   TDSC_OK);
  tdsc__addr *addrs;
  size_t n;
  int waits;
  int64_t t0 = tdsc__now_ms();
  tdsc_errc rc = lookup_run(l, tdsc__deadline_in(200), &addrs, &n, &waits);
  int64_t took = tdsc__now_ms() - t0;
  ck_assert_int_eq(rc, TDSC_E_HOST_NOT_FOUND);
  ck_assert_int_ge(waits, 1); /* the first step returned at once */
  ck_assert_int_lt(took, SLOW_MS);
  ck_assert_ptr_nonnull(strstr(err.message, SLOW_NAME " (port 1433)"));
  ck_assert_ptr_nonnull(strstr(err.message, "did not answer within"));
  tdsc__lookup_free(l);
  /* the abandoned call returns in its own time, and is reaped */
  ck_assert_uint_eq(tdsc__work_active(), 1);
  for (int i = 0; i < 100 && tdsc__work_active(); i++)
    poll(NULL, 0, 50);
  ck_assert_uint_eq(tdsc__work_active(), 0);
}
END_TEST

static void count_call(void *payload) { ++*(int *)payload; }
static void keep_payload(void *payload) { (void)payload; }

/* A call whose thread cannot be made does not run on the caller's thread
 * instead, where it would hold the caller past its deadline (and a
 * non-blocking one in its poll): it is NO_MEMORY, saying what could not
 * start, and nothing ran. */
START_TEST(a_call_without_its_thread_is_no_memory_not_run_here) {
  tdsc__lookup *l = NULL;
  no_thread = true;
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(tdsc__lookup_start(SLOW_NAME, 1433, SOCK_STREAM, &l, &err),
                   TDSC_E_NO_MEMORY);
  ck_assert_int_lt(tdsc__now_ms() - t0, SLOW_MS); /* the name was not asked */
  ck_assert_ptr_null(l);
  ck_assert_ptr_nonnull(
      strstr(err.message, "cannot start a thread for a name lookup"));
  int calls = 0;
  tdsc__work *w = tdsc__work_new(count_call, keep_payload, &calls);
  ck_assert_ptr_nonnull(w);
  no_thread = true;
  ck_assert_int_eq(tdsc__work_run(w, tdsc__deadline_in(1000)), 0);
  ck_assert_int_eq(calls, 0);
  no_thread = true;
  ck_assert(!tdsc__work_start(w, NULL));
  ck_assert_int_eq(calls, 0);
  tdsc__work_end(w);
  /* the next thread is made: the same call runs there */
  w = tdsc__work_new(count_call, keep_payload, &calls);
  ck_assert_int_eq(tdsc__work_run(w, tdsc__deadline_in(5000)), 1);
  ck_assert_int_eq(calls, 1);
  tdsc__work_end(w);
}
END_TEST

/* The resolver's own answers come through the worker unchanged. */
START_TEST(a_lookup_gives_the_resolvers_answer) {
  tdsc__lookup *l;
  tdsc__addr *addrs;
  size_t n;
  int waits;
  /* a name the resolver knows: this machine's own */
  char host[256];
  ck_assert_int_eq(gethostname(host, sizeof host), 0);
  ck_assert_int_eq(tdsc__lookup_start(host, 1433, SOCK_STREAM, &l, &err),
                   TDSC_OK);
  ck_assert_int_eq(lookup_run(l, tdsc__deadline_in(10000), &addrs, &n, &waits),
                   TDSC_OK);
  ck_assert_uint_ge(n, 1);
  ck_assert_ptr_nonnull(strstr(addrs[0].text, ":1433"));
  free(addrs);
  tdsc__lookup_free(l);
  /* a name it does not */
  ck_assert_int_eq(
      tdsc__lookup_start(SLOW_NAME ".invalid", 1433, SOCK_STREAM, &l, &err),
      TDSC_OK);
  ck_assert_int_eq(lookup_run(l, tdsc__deadline_in(10000), &addrs, &n, &waits),
                   TDSC_E_HOST_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(err.message, SLOW_NAME ".invalid"));
  ck_assert_int_eq(err.provider, TDSC_PROVIDER_GETADDRINFO);
  tdsc__lookup_free(l);
  /* localhost and numeric hosts need no worker: done at the first step */
  ck_assert_int_eq(tdsc__lookup_start("localhost", 1433, SOCK_DGRAM, &l, &err),
                   TDSC_OK);
  ck_assert_int_eq(lookup_run(l, TDSC__NO_DEADLINE, &addrs, &n, &waits),
                   TDSC_OK);
  ck_assert_int_eq(waits, 0);
  ck_assert_uint_eq(n, 2);
  free(addrs);
  tdsc__lookup_free(l);
  /* a lookup left before its answer is taken leaks nothing */
  ck_assert_int_eq(tdsc__lookup_start(host, 1433, SOCK_STREAM, &l, &err),
                   TDSC_OK);
  tdsc__lookup_free(l);
}
END_TEST

static Suite *session_suite(void) {
  Suite *s = suite_create("session");
  TCase *opt = tcase_create("options");
  tcase_add_checked_fixture(opt, NULL, teardown);
  tcase_add_test(opt, keywords_and_aliases_are_case_insensitive);
  tcase_add_test(opt, defaults_apply_and_are_typed);
  tcase_add_test(opt, an_empty_environment_variable_keeps_the_default);
  tcase_add_test(opt, the_parser_holds_at_its_boundaries);
  tcase_add_test(opt, encrypt_accepts_the_odbc_18_values);
  tcase_add_test(opt, braced_values_keep_semicolons_and_braces);
  tcase_add_test(opt, a_keyword_given_twice_is_refused);
  tcase_add_test(opt, numbers_are_range_checked);
  tcase_add_test(opt, a_secret_is_never_quoted_in_an_error);
  tcase_add_test(opt, no_text_after_a_secret_keyword_is_ever_quoted);
  tcase_add_test(opt, authentication_is_an_ordered_list_of_known_mechanisms);
  tcase_add_test(opt, the_public_option_table_is_the_parsers);
  tcase_add_test(opt, the_spn_follows_the_canonicalization_rule);
  tcase_add_test(opt, integrated_security_selects_the_integrated_mechanisms);
  tcase_add_test(opt, mars_false_is_accepted_true_refused);
  tcase_add_test(opt, application_intent_is_read_only_or_read_write);
  tcase_add_test(opt, multi_subnet_failover_connects_in_parallel);
  tcase_add_test(opt, foreign_keywords_say_what_to_do_instead);
  tcase_add_test(opt, an_unknown_keyword_names_the_closest_known_one);
  tcase_add_test(opt, the_library_reads_the_password_from_the_environment);
  TCase *conf = tcase_create("configuration files");
  tcase_add_checked_fixture(conf, conf_setup, conf_teardown);
  tcase_add_test(conf, a_service_section_completes_the_string);
  tcase_add_test(conf, a_freetds_conf_section_resolves_a_server_name);
  tcase_add_test(conf, the_password_file_gives_the_matching_line_when_private);
  suite_add_tcase(s, opt);
  suite_add_tcase(s, conf);
  TCase *tgt = tcase_create("target");
  tcase_add_checked_fixture(tgt, NULL, teardown);
  tcase_add_test(tgt, targets_follow_sql_servers_syntax);
  tcase_add_test(tgt, bad_targets_name_what_is_wrong);
  tcase_add_test(tgt, ipv6_and_colons_that_are_not_a_port_stay_hosts);
  tcase_add_test(tgt, a_local_server_is_tried_by_shm_then_pipe_then_tcp);
  tcase_add_test(tgt, a_remote_server_or_a_port_means_tcp);
  tcase_add_test(tgt, a_prefix_pins_the_transport);
  tcase_add_test(tgt, transport_reorders_and_narrows);
  tcase_add_test(tgt, a_long_local_dir_spoils_only_local_plans);
  suite_add_tcase(s, tgt);
  TCase *shared = tcase_create("shared with tdsc-doctor");
  tcase_add_test(shared, the_options_as_a_string_read_back_as_given);
  tcase_add_test(shared, an_endpoints_spn_is_its_transports);
  tcase_add_test(shared, only_an_unreachable_endpoint_moves_the_plan_on);
  suite_add_tcase(s, shared);
  TCase *lk = tcase_create("lookup");
  tcase_add_checked_fixture(lk, NULL, teardown);
  tcase_set_timeout(lk, 30);
  tcase_add_test(lk, a_slow_name_service_is_left_at_the_deadline);
  tcase_add_test(lk, a_lookup_gives_the_resolvers_answer);
  tcase_add_test(lk, a_call_without_its_thread_is_no_memory_not_run_here);
  suite_add_tcase(s, lk);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(session_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
