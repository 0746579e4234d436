/* dblib_typed: FreeTDS db-lib reads the test server's `typed` table and
 * checks every column of every row against tests/peers/typed_table.expected
 * (the canonical text form described in tests/server/README.md), and the
 * db-lib type of every column.
 *
 * usage: dblib_typed HOST PORT USER PASSWORD EXPECTED_FILE [require|off]
 * Exit 0 when everything matches, 1 on any mismatch, 2 on usage/connect
 * errors. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sybfront.h>
#include <sybdb.h>

#ifndef SYBUNIQUE
#define SYBUNIQUE 36 /* uniqueidentifier: not in sybdb.h */
#endif

/* ---------------------------------------------------------- SHA-256 */
typedef struct {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t n;
} sha256_ctx;

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_block(sha256_ctx *c, const unsigned char *p)
{
	uint32_t w[64], a, b, cc, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 |
		       (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void
sha256_hex(const unsigned char *data, size_t len, char out[65])
{
	static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	sha256_ctx c;
	unsigned char pad[128];
	size_t i, padlen;

	memcpy(c.h, init, sizeof(init));
	for (i = 0; i + 64 <= len; i += 64)
		sha256_block(&c, data + i);
	padlen = len - i;
	memset(pad, 0, sizeof(pad));
	memcpy(pad, data + i, padlen);
	pad[padlen] = 0x80;
	padlen = padlen + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		pad[padlen - 1 - i] = (unsigned char) (((uint64_t) len * 8) >> (8 * i));
	sha256_block(&c, pad);
	if (padlen == 128)
		sha256_block(&c, pad + 64);
	for (i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", (unsigned) c.h[i]);
}

/* ---------------------------------------------------------- formatting */

static int
msg_handler(DBPROCESS *dbproc, DBINT msgno, int msgstate, int severity, char *msgtext,
	    char *srvname, char *procname, int line)
{
	(void) dbproc; (void) srvname; (void) procname; (void) line;
	if (msgno != 5701 && msgno != 5703)
		fprintf(stderr, "server message %d state %d severity %d: %s\n", (int) msgno,
			msgstate, severity, msgtext);
	return 0;
}

static int
err_handler(DBPROCESS *dbproc, int severity, int dberr, int oserr, char *dberrstr,
	    char *oserrstr)
{
	(void) dbproc;
	fprintf(stderr, "db-lib error %d severity %d: %s", dberr, severity, dberrstr);
	if (oserr != DBNOERR && oserrstr)
		fprintf(stderr, " (os: %s)", oserrstr);
	fputc('\n', stderr);
	return INT_CANCEL;
}

/* shortest "%.Ng" that reads back as the same double, like Python's repr */
static void
fmt_double(double v, char *out, size_t n)
{
	int p;

	for (p = 1; p <= 17; p++) {
		snprintf(out, n, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			break;
	}
	if (!strchr(out, '.') && !strchr(out, 'e') && !strchr(out, 'n') && !strchr(out, 'i'))
		strncat(out, ".0", n - strlen(out) - 1);
}

static void
fmt_scaled(int64_t v, int scale, char *out, size_t n)
{
	uint64_t a = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
	uint64_t div = 1;
	int i;

	for (i = 0; i < scale; i++)
		div *= 10;
	snprintf(out, n, "%s%llu.%0*llu", v < 0 ? "-" : "", (unsigned long long) (a / div), scale,
		 (unsigned long long) (a % div));
}

static size_t
utf8_chars(const unsigned char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* canonical text of one value; returns a malloc'd string */
static char *
canonical(DBPROCESS *dbproc, int col, int type, const BYTE *data, DBINT len)
{
	char buf[512], hash[65];
	char *out;
	DBDATEREC2 dr;
	int i;

	if (data == NULL)
		return strdup("NULL");
	switch (type) {
	case SYBBIT:
		snprintf(buf, sizeof(buf), "%d", *(const DBBIT *) data ? 1 : 0);
		break;
	case SYBINT1:
		snprintf(buf, sizeof(buf), "%u", (unsigned) *(const DBTINYINT *) data);
		break;
	case SYBINT2:
		snprintf(buf, sizeof(buf), "%d", (int) *(const DBSMALLINT *) data);
		break;
	case SYBINT4:
		snprintf(buf, sizeof(buf), "%d", (int) *(const DBINT *) data);
		break;
	case SYBINT8:
		snprintf(buf, sizeof(buf), "%lld", (long long) *(const DBBIGINT *) data);
		break;
	case SYBREAL:
		fmt_double((double) *(const DBREAL *) data, buf, sizeof(buf));
		break;
	case SYBFLT8:
		fmt_double(*(const DBFLT8 *) data, buf, sizeof(buf));
		break;
	case SYBMONEY: {
		const DBMONEY *m = (const DBMONEY *) data;
		fmt_scaled((int64_t) (((uint64_t) (uint32_t) m->mnyhigh << 32) | m->mnylow), 4, buf,
			   sizeof(buf));
		break;
	}
	case SYBMONEY4:
		fmt_scaled(((const DBMONEY4 *) data)->mny4, 4, buf, sizeof(buf));
		break;
	case SYBDECIMAL:
	case SYBNUMERIC:
	case SYBUNIQUE: {
		DBINT n = dbconvert(dbproc, type, data, len, SYBCHAR, (BYTE *) buf, sizeof(buf) - 1);
		if (n < 0)
			n = 0;
		buf[n] = '\0';
		for (i = 0; buf[i]; i++)
			buf[i] = (char) toupper((unsigned char) buf[i]);
		break;
	}
	case SYBCHAR:
	case SYBVARCHAR:
	case SYBTEXT:
	case SYBNVARCHAR:
	case SYBNTEXT:
		if (utf8_chars(data, (size_t) len) > 1000) {
			sha256_hex(data, (size_t) len, hash);
			snprintf(buf, sizeof(buf), "len=%d sha256=%s", (int) len, hash);
			break;
		}
		out = malloc((size_t) len + 1);
		memcpy(out, data, (size_t) len);
		out[len] = '\0';
		return out;
	case SYBBINARY:
	case SYBVARBINARY:
	case SYBIMAGE:
		if (len > 1000) {
			sha256_hex(data, (size_t) len, hash);
			snprintf(buf, sizeof(buf), "len=%d sha256=%s", (int) len, hash);
			break;
		}
		out = malloc(2 * (size_t) len + 3);
		strcpy(out, "0x");
		for (i = 0; i < len; i++)
			sprintf(out + 2 + 2 * i, "%02X", data[i]);
		return out;
	case SYBMSDATE:
	case SYBMSTIME:
	case SYBMSDATETIME2:
	case SYBMSDATETIMEOFFSET:
	case SYBDATETIME:
	case SYBDATETIME4: {
		char d[32], t[32];
		if (dbanydatecrack(dbproc, &dr, type, data) != SUCCEED) {
			snprintf(buf, sizeof(buf), "<dbanydatecrack failed>");
			break;
		}
		snprintf(d, sizeof(d), "%04d-%02d-%02d", (int) dr.dateyear, (int) dr.datemonth + 1,
			 (int) dr.datedmonth);
		snprintf(t, sizeof(t), "%02d:%02d:%02d", (int) dr.datehour, (int) dr.dateminute,
			 (int) dr.datesecond);
		if (type == SYBMSDATE)
			snprintf(buf, sizeof(buf), "%s", d);
		else if (type == SYBMSTIME)
			snprintf(buf, sizeof(buf), "%s.%07d", t, (int) (dr.datensecond / 100));
		else if (type == SYBDATETIME4)
			snprintf(buf, sizeof(buf), "%s %s", d, t);
		else if (type == SYBDATETIME) /* 1/300 s ticks: round to the ms */
			snprintf(buf, sizeof(buf), "%s %s.%03d", d, t,
				 (int) ((dr.datensecond + 500000) / 1000000));
		else if (type == SYBMSDATETIME2)
			snprintf(buf, sizeof(buf), "%s %s.%07d", d, t, (int) (dr.datensecond / 100));
		else {
			int tz = (int) dr.datetzone, a = tz < 0 ? -tz : tz;
			snprintf(buf, sizeof(buf), "%s %s.%07d %c%02d:%02d", d, t,
				 (int) (dr.datensecond / 100), tz < 0 ? '-' : '+', a / 60, a % 60);
		}
		break;
	}
	default:
		snprintf(buf, sizeof(buf), "<unhandled type %d in column %d>", type, col);
	}
	return strdup(buf);
}

/* ---------------------------------------------------------- main */

/* db-lib type expected for each column of `typed` (FreeTDS 1.3 mapping of
 * the TDS types the server sends) */
static const struct {
	const char *name;
	int type;
} columns[] = {
	{"id", SYBINT4},	       {"c_bit", SYBBIT},	    {"c_tinyint", SYBINT1},
	{"c_smallint", SYBINT2},       {"c_int", SYBINT4},	    {"c_bigint", SYBINT8},
	{"c_real", SYBREAL},	       {"c_float", SYBFLT8},	    {"c_decimal", SYBDECIMAL},
	{"c_numeric", SYBNUMERIC},     {"c_money", SYBMONEY},	    {"c_smallmoney", SYBMONEY4},
	{"c_char", SYBCHAR},	       {"c_varchar", SYBCHAR},	    {"c_varcharmax", SYBCHAR},
	{"c_text", SYBTEXT},	       {"c_nchar", SYBCHAR},	    {"c_nvarchar", SYBCHAR},
	{"c_nvarcharmax", SYBCHAR},    {"c_ntext", SYBTEXT},	    {"c_binary", SYBBINARY},
	{"c_varbinary", SYBBINARY},    {"c_varbinarymax", SYBBINARY}, {"c_image", SYBIMAGE},
	{"c_guid", SYBUNIQUE},	       {"c_date", SYBMSDATE},	    {"c_time", SYBMSTIME},
	{"c_smalldatetime", SYBDATETIME4}, {"c_datetime", SYBDATETIME},
	{"c_datetime2", SYBMSDATETIME2}, {"c_dto", SYBMSDATETIMEOFFSET},
};
#define NCOLS ((int) (sizeof(columns) / sizeof(columns[0])))

int
main(int argc, char **argv)
{
	LOGINREC *login;
	DBPROCESS *dbproc;
	char server[300], line[70000];
	FILE *fp;
	int bad = 0, row = 0, ncols, i;
	RETCODE rc;

	if (argc < 6) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD EXPECTED_FILE [require|off]\n",
			argv[0]);
		return 2;
	}
	fp = fopen(argv[5], "r");
	if (!fp) {
		perror(argv[5]);
		return 2;
	}
	if (dbinit() == FAIL)
		return 2;
	dberrhandle(err_handler);
	dbmsghandle(msg_handler);
	login = dblogin();
	DBSETLUSER(login, argv[3]);
	DBSETLPWD(login, argv[4]);
	DBSETLAPP(login, "dblib_typed");
	DBSETLCHARSET(login, "UTF-8");
	DBSETLDBNAME(login, "tdsc_test");
	DBSETLVERSION(login, DBVERSION_74);
	if (argc > 6 && strcmp(argv[6], "require") == 0)
		DBSETLENCRYPT(login, TRUE);
	snprintf(server, sizeof(server), "%s:%s", argv[1], argv[2]);
	dbproc = dbopen(login, server);
	dbloginfree(login);
	if (!dbproc) {
		fprintf(stderr, "cannot connect to %s\n", server);
		return 2;
	}
	dbcmd(dbproc, "SELECT * FROM typed ORDER BY id");
	if (dbsqlexec(dbproc) == FAIL || dbresults(dbproc) != SUCCEED) {
		fprintf(stderr, "query failed\n");
		return 2;
	}
	ncols = dbnumcols(dbproc);
	if (ncols != NCOLS) {
		printf("MISMATCH: %d columns, want %d\n", ncols, NCOLS);
		return 1;
	}
	for (i = 0; i < ncols; i++) {
		if (strcmp(dbcolname(dbproc, i + 1), columns[i].name) != 0) {
			printf("MISMATCH: column %d named %s, want %s\n", i + 1, dbcolname(dbproc, i + 1),
			       columns[i].name);
			bad++;
		}
		if (dbcoltype(dbproc, i + 1) != columns[i].type) {
			printf("MISMATCH: column %s has db-lib type %d (%s), want %d\n", columns[i].name,
			       dbcoltype(dbproc, i + 1), dbprtype(dbcoltype(dbproc, i + 1)),
			       columns[i].type);
			bad++;
		}
	}
	while ((rc = dbnextrow(dbproc)) != NO_MORE_ROWS) {
		if (rc != REG_ROW) {
			printf("MISMATCH: dbnextrow returned %d\n", rc);
			bad++;
			break;
		}
		row++;
		if (!fgets(line, sizeof(line), fp)) {
			printf("MISMATCH: row %d is not in the expected file\n", row);
			bad++;
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		{
			char *p = line, *next;
			for (i = 0; i < ncols; i++) {
				int type = dbcoltype(dbproc, i + 1);
				char *got;
				next = p ? strchr(p, '\t') : NULL;
				if (next)
					*next = '\0';
				got = canonical(dbproc, i + 1, type, dbdata(dbproc, i + 1),
						dbdatlen(dbproc, i + 1));
				if (!p || strcmp(got, p) != 0) {
					printf("MISMATCH: row %d %s: got '%s', want '%s'\n", row,
					       columns[i].name, got, p ? p : "(missing)");
					bad++;
				}
				free(got);
				p = next ? next + 1 : NULL;
			}
		}
	}
	if (row != 3) {
		printf("MISMATCH: %d rows, want 3\n", row);
		bad++;
	}
	dbclose(dbproc);
	dbexit();
	fclose(fp);
	if (bad) {
		printf("%d mismatch(es)\n", bad);
		return 1;
	}
	printf("dblib_typed: all %d rows x %d columns match\n", row, ncols);
	return 0;
}
