/* test_import.c: unit tests for roster.c and import.c (roster CSV in, database out). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "testutil.h"
#include "import.h"
#include "roster.h"
#include "secret.h"
#include "store.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* A literal and its length, so embedded NULs count. */
#define T(s) s, sizeof(s) - 1
#define ERR_MAX 512
#define NAME "roster.csv"

#define HEADER_REQ "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n"
#define HEADER_ALL "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on," \
	"username,email,pin\n"

/* Three people: two with PINs, one with a username and an e-mail address. */
#define GOOD HEADER_ALL \
	"1001,5001,Ada,Lovelace,student,Mathematics,2024-08-01,alove,ada@example.org,12345678\n" \
	"1002,5002,Alan,Turing,employee,,,,,\n" \
	"1003,5003,Grace,Hopper,exchange,Navy,2024-09-01,,,87654321\n"

static char dir[PATH_MAX];
static char csv[PATH_MAX];	/* dir/roster.csv, rewritten by each read */
static unsigned char *pepper;
static struct config cfg;
static struct store *st;	/* a fresh database for every test */
static const struct import_opts defaults;

static int group_setup(void **state)
{
	(void)state;
	assert_int_equal(secret_init(), 0);
	pepper = secret_alloc(SECRET_PEPPER_BYTES);
	assert_non_null(pepper);
	randombytes_buf(pepper, SECRET_PEPPER_BYTES);
	config_defaults(&cfg);
	cfg.pin_hash_cost = CONFIG_COST_MIN;
	tu_tmpdir(dir, sizeof(dir));
	tu_path(csv, sizeof(csv), dir, NAME);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	secret_free(pepper);
	tu_rm_rf(dir);
	return 0;
}

static int db_setup(void **state)
{
	static unsigned n;
	char name[32], path[PATH_MAX], err[ERR_MAX] = "";
	int r;

	(void)state;
	snprintf(name, sizeof(name), "test%u.db", ++n);
	r = store_open(tu_path(path, sizeof(path), dir, name), STORE_CREATE, &st, err, sizeof(err));
	if (r)
		fail_msg("store_open: %d %s", r, err);
	return 0;
}

static int db_teardown(void **state)
{
	(void)state;
	store_close(st);
	st = NULL;
	return 0;
}

static void assert_contains(const char *what, const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("%s: '%s' does not contain '%s'", what, hay, needle);
}

/* Write len bytes of text as dir/roster.csv and parse it. */
static int read_roster(const char *text, size_t len, char delim, struct roster *out, char *err)
{
	FILE *f;
	int r;

	tu_write_file(csv, text, len, 0600);
	f = fopen(csv, "re");
	assert_non_null(f);
	r = roster_read(f, NAME, delim, &cfg, out, err, ERR_MAX);
	fclose(f);
	return r;
}

/* Parse and import; opts NULL means the defaults. */
static int import_text(const char *text, size_t len, const struct import_opts *opts,
		       struct import_report *rep, char *err)
{
	struct roster ro;
	int r = read_roster(text, len, ',', &ro, err);

	if (r)
		return r;
	r = import_roster(st, &cfg, pepper, &ro, NAME, opts ? opts : &defaults, rep, err, ERR_MAX);
	roster_free(&ro);
	return r;
}

static void import_ok(const char *text, size_t len, const struct import_opts *opts,
		      struct import_report *rep)
{
	char err[ERR_MAX] = "";
	int r = import_text(text, len, opts, rep, err);

	if (r)
		fail_msg("import failed: %d '%s'", r, err);
}

static void assert_report(const struct import_report *rep, size_t rows, size_t added,
			  size_t updated, size_t unchanged, size_t pins)
{
	if (rep->rows != rows || rep->added != added || rep->updated != updated
	    || rep->unchanged != unchanged || rep->pins != pins)
		fail_msg("report rows/added/updated/unchanged/pins %zu/%zu/%zu/%zu/%zu, want "
			 "%zu/%zu/%zu/%zu/%zu", rep->rows, rep->added, rep->updated, rep->unchanged,
			 rep->pins, rows, added, updated, unchanged, pins);
}

static void get(const char *id, struct person *p)
{
	struct person other;
	int r = store_person_find(st, id, p, &other);

	if (r)
		fail_msg("store_person_find(%s): %d", id, r);
}

static void assert_absent(const char *id)
{
	struct person p;
	struct person other;

	if (store_person_find(st, id, &p, &other) != -ENOENT)
		fail_msg("%s is in the database", id);
}

static int dump_one(const struct person *p, void *ctx)
{
	fprintf(ctx, "%s|%s|%s|%s|%d|%s|%s|%s|%s|%s|%" PRId64 "|%d|%" PRId64 "\n", p->id_number,
		p->student_number, p->given_name, p->family_name, p->kind, p->programme,
		p->fee_paid_on, p->username, p->email, p->pin_hash, p->pin_expires, p->state,
		p->updated);
	return 0;
}

/* Everything import may touch, one line per person; free the result. */
static char *db_dump(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(store_person_foreach(st, -1, dump_one, f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void assert_pin(const char *id, const char *pin, int want)
{
	struct person p;
	int r;

	get(id, &p);
	r = secret_pin_verify(pepper, id, pin, p.pin_hash);
	if (r != want)
		fail_msg("PIN %s for %s: verify gave %d, want %d", pin, id, r, want);
}

/* --- good files ------------------------------------------------------------ */

static void test_good_file(void **state)
{
	struct import_report rep;
	struct person p;
	time_t before, after;
	int64_t ttl = (int64_t)cfg.pin_ttl_days * 86400;

	(void)state;
	before = time(NULL);
	import_ok(T(GOOD), NULL, &rep);
	after = time(NULL);
	assert_report(&rep, 3, 3, 0, 0, 2);

	get("1001", &p);
	assert_string_equal(p.student_number, "5001");
	assert_string_equal(p.given_name, "Ada");
	assert_string_equal(p.family_name, "Lovelace");
	assert_int_equal(p.kind, PERSON_STUDENT);
	assert_string_equal(p.programme, "Mathematics");
	assert_string_equal(p.fee_paid_on, "2024-08-01");
	assert_string_equal(p.username, "alove");
	assert_string_equal(p.email, "ada@example.org");
	assert_int_equal(p.state, PERSON_PENDING);
	assert_in_range(p.pin_expires, before + ttl, after + ttl);
	assert_pin("1001", "12345678", 0);
	assert_pin("1001", "12345679", -EACCES);
	assert_int_equal(secret_pin_verify(pepper, "1003", "12345678", p.pin_hash), -EACCES);

	get("1002", &p);
	assert_int_equal(p.kind, PERSON_EMPLOYEE);
	assert_string_equal(p.programme, "");
	assert_string_equal(p.fee_paid_on, "");
	assert_string_equal(p.username, "");
	assert_string_equal(p.pin_hash, "");
	assert_int_equal(p.pin_expires, 0);

	get("1003", &p);
	assert_int_equal(p.kind, PERSON_EXCHANGE);
	assert_in_range(p.pin_expires, before + ttl, after + ttl);
	assert_pin("1003", "87654321", 0);
}

static void test_header_only(void **state)
{
	struct import_report rep;
	char *dump;

	(void)state;
	import_ok(T(HEADER_ALL), NULL, &rep);
	assert_report(&rep, 0, 0, 0, 0, 0);
	dump = db_dump();
	assert_string_equal(dump, "");
	free(dump);
}

/* Free column order and case, BOM, CRLF, quoted commas and quotes, a field across lines. */
static void test_rfc4180(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf" "Kind,FAMILY_NAME,Given_Name,id_number,Student_Number,programme,fee_paid_on\r\n"
		"student,\"Ødegård, Jr.\",Kari,2001,6001,\"Economics, \"\"Applied\"\"\",2024-08-15\r\n"
		"exchange,\"Ærø\r\n\",Åsmund,2002,6002,,\r\n"
		"employee,Berg,\"\"\"Bo\"\"\",2003,6003,,\r\n";
	struct import_report rep;
	struct person p;

	(void)state;
	import_ok(T(text), NULL, &rep);
	assert_report(&rep, 3, 3, 0, 0, 0);
	get("2001", &p);
	assert_string_equal(p.family_name, "Ødegård, Jr.");
	assert_string_equal(p.given_name, "Kari");
	assert_string_equal(p.programme, "Economics, \"Applied\"");
	assert_string_equal(p.fee_paid_on, "2024-08-15");
	get("2002", &p);
	assert_string_equal(p.given_name, "Åsmund");
	assert_string_equal(p.family_name, "Ærø");
	assert_int_equal(p.kind, PERSON_EXCHANGE);
	assert_string_equal(p.student_number, "6002");
	get("2003", &p);
	assert_string_equal(p.given_name, "\"Bo\"");
	assert_string_equal(p.fee_paid_on, "");
}

/* Line numbers count physical lines, and a row is named by the line it starts on. */
static void test_multiline_line_numbers(void **state)
{
	static const struct {
		const char *what, *text, *want;
	} cases[] = {
		{ "row after a two-line field",
		  HEADER_REQ "1002,5002,Ann,Ek,student,Maths,2024-08-01\n"
		  "1003,5003,Bo,\"Ek\n\",student,Maths,2024-08-01\n"
		  "1005,5005,Cy,Ek,alien,Maths,2024-08-01\n",
		  NAME ":5: kind: " },
		{ "row whose first field spans two lines",
		  HEADER_REQ "1002,5002,Ann,Ek,student,Maths,2024-08-01\n"
		  "\"1003\n\",5003,Bo,Ek,alien,Maths,2024-08-01\n",
		  NAME ":3: kind: " },
		{ "newline inside a name",
		  HEADER_REQ "1002,5002,Ann,Ek,student,Maths,2024-08-01\n"
		  "1003,5003,Bo,\"Ek\nLund\",student,Maths,2024-08-01\n",
		  NAME ":3: family_name: " },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct roster ro;
		char err[ERR_MAX] = "";

		if (read_roster(cases[i].text, strlen(cases[i].text), ',', &ro, err) != -EINVAL)
			fail_msg("%s: read did not fail", cases[i].what);
		assert_contains(cases[i].what, err, cases[i].want);
	}
}

static void test_semicolon_delimiter(void **state)
{
	static const char text[] =
		"id_number;student_number;given_name;family_name;kind;programme;fee_paid_on\n"
		"3001;7001;Jon;Berg, Jr.;employee;\"Law; Ethics\";\n";
	struct roster ro;
	char err[ERR_MAX] = "";

	(void)state;
	assert_int_equal(read_roster(T(text), ';', &ro, err), 0);
	assert_int_equal(ro.count, 1);
	assert_int_equal(ro.rows[0].line, 2);
	assert_string_equal(ro.rows[0].person.id_number, "3001");
	assert_string_equal(ro.rows[0].person.family_name, "Berg, Jr.");
	assert_string_equal(ro.rows[0].person.programme, "Law; Ethics");
	assert_int_equal(ro.rows[0].person.kind, PERSON_EMPLOYEE);
	roster_free(&ro);

	/* the same file split on commas has no proper header */
	assert_int_equal(read_roster(T(text), ',', &ro, err), -EINVAL);
	assert_contains("comma", err, NAME ":1: ");
}

/* A spreadsheet formula is a name like any other: kept as text, exactly. */
static void test_formula_cell_is_text(void **state)
{
	static const char text[] = HEADER_REQ
		"4001,8001,Eve,\"=cmd|' /C calc'!A0\",student,\"=1+2\",2024-08-01\n"
		"4002,8002,Mal,@SUM(A1),student,+Maths,2024-08-01\n";
	struct import_report rep;
	struct person p;

	(void)state;
	import_ok(T(text), NULL, &rep);
	get("4001", &p);
	assert_string_equal(p.family_name, "=cmd|' /C calc'!A0");
	assert_string_equal(p.programme, "=1+2");
	get("4002", &p);
	assert_string_equal(p.family_name, "@SUM(A1)");
	assert_string_equal(p.programme, "+Maths");
}

/* More rows than the first allocation: every row keeps its own PIN. */
static void test_many_rows_with_pins(void **state)
{
	char *text = NULL, err[ERR_MAX] = "", want[16];
	size_t len = 0;
	struct roster ro;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	fputs(HEADER_ALL, f);
	for (unsigned i = 0; i < 600; i++)
		fprintf(f, "%u,%u,A,B,student,,,,,%08u\n", 10000 + i, 20000 + i, 30000000 + i);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(read_roster(text, len, ',', &ro, err), 0);
	free(text);
	assert_int_equal(ro.count, 600);
	for (unsigned i = 0; i < 600; i++) {
		snprintf(want, sizeof(want), "%08u", 30000000 + i);
		assert_non_null(ro.rows[i].pin);
		assert_string_equal(ro.rows[i].pin, want);
		assert_int_equal(ro.rows[i].line, i + 2);
	}
	roster_free(&ro);
}

/* --- bad files ------------------------------------------------------------- */

/*
 * text must fail to read with -EINVAL, err containing want (and want2 if
 * set), no rows handed out, and the database exactly as it was.
 */
static void assert_bad_file(const char *what, const char *text, size_t len,
			    const char *want, const char *want2)
{
	char err[ERR_MAX] = "";
	char *before = db_dump(), *after;
	struct roster ro;
	int r = read_roster(text, len, ',', &ro, err);

	if (r != -EINVAL)
		fail_msg("%s: read returned %d, want -EINVAL (err '%s')", what, r, err);
	if (ro.count != 0 || ro.rows != NULL || ro.pins != NULL)
		fail_msg("%s: rows handed out after an error", what);
	assert_contains(what, err, want);
	if (want2)
		assert_contains(what, err, want2);
	after = db_dump();
	if (strcmp(before, after) != 0)
		fail_msg("%s: the database changed", what);
	free(before);
	free(after);
}

/* Header, good rows on lines 2, 4 and 5 around bad (len bytes) on line 3. */
static char *around(const char *bad, size_t badlen, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	assert_non_null(f);
	fputs(HEADER_ALL "1002,5002,Ann,Ek,student,Maths,2024-08-01,ann,,11223344\n", f);
	fwrite(bad, 1, badlen, f);
	fputs("\n1004,5004,Cy,Ek,student,Maths,2024-08-01,,,\n"
	      "1005,5005,Di,Ek,employee,,,,,\n", f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void assert_bad_line3(const char *what, const char *bad, size_t badlen,
			     const char *want, const char *want2)
{
	size_t len;
	char *text = around(bad, badlen, &len);

	assert_bad_file(what, text, len, want, want2);
	free(text);
	assert_absent("1002");
	assert_absent("1004");
	assert_absent("1005");
}

#define A16 "aaaaaaaaaaaaaaaa"

static void test_bad_row_in_middle(void **state)
{
	static const struct {
		const char *what, *row;
		size_t len;
		const char *want, *want2;
	} cases[] = {
		{ "kind", T("1003,5003,Bo,Ek,alien,Maths,2024-08-01,,,"), NAME ":3: kind: ", NULL },
		{ "id letters", T("12a,5003,Bo,Ek,student,Maths,2024-08-01,,,"),
		  NAME ":3: id_number: digits only", NULL },
		{ "id too long", T("12345678901234567,5003,Bo,Ek,student,Maths,2024-08-01,,,"),
		  NAME ":3: id_number: longer than 16 digits", NULL },
		{ "student number empty", T("1003,,Bo,Ek,student,Maths,2024-08-01,,,"),
		  NAME ":3: student_number: required", NULL },
		{ "no name", T("1003,5003,,,student,Maths,2024-08-01,,,"), NAME ":3: family_name: ", NULL },
		{ "30 February", T("1003,5003,Bo,Ek,student,Maths,2024-02-30,,,"),
		  NAME ":3: fee_paid_on: ", NULL },
		{ "date format", T("1003,5003,Bo,Ek,student,Maths,01.08.2024,,,"),
		  NAME ":3: fee_paid_on: ", NULL },
		{ "username", T("1003,5003,Bo,Ek,student,Maths,2024-08-01,Bo,,"), NAME ":3: username: ", NULL },
		{ "email", T("1003,5003,Bo,Ek,student,Maths,2024-08-01,,bo.example.org,"),
		  NAME ":3: email: ", NULL },
		{ "pin too short", T("1003,5003,Bo,Ek,student,Maths,2024-08-01,,,12345"), NAME ":3: pin: ", NULL },
		{ "pin letters", T("1003,5003,Bo,Ek,student,Maths,2024-08-01,,,1234567a"),
		  NAME ":3: pin: digits only", NULL },
		{ "too few fields", T("1003,5003,Bo,Ek,student"), NAME ":3: expected 10 fields, found 5", NULL },
		{ "too many fields", T("1003,5003,Bo,Ek,student,Maths,2024-08-01,,,,"),
		  NAME ":3: expected 10 fields, found 11", NULL },
		{ "long name", T("1003,5003," A16 A16 A16 A16 A16 A16 A16 A16 "a,Ek,student,,,,,"),
		  NAME ":3: given_name: longer than 128 bytes", NULL },
		{ "ESC in a name", T("1003,5003,Bo\x1b[31m,Ek,student,Maths,2024-08-01,,,"),
		  NAME ":3: given_name: ", "control characters" },
		{ "C1 control in a name", T("1003,5003,Bo,Ek\xc2\x85,student,Maths,2024-08-01,,,"),
		  NAME ":3: family_name: ", NULL },
		{ "invalid UTF-8", T("1003,5003,Bo,Ek\xff,student,Maths,2024-08-01,,,"),
		  NAME ":3: family_name: ", "invalid UTF-8" },
		{ "overlong UTF-8", T("1003,5003,Bo,\xc0\xafk,student,Maths,2024-08-01,,,"),
		  NAME ":3: family_name: ", NULL },
		{ "NUL in a field", T("1003,5003,Bo\0b,Ek,student,Maths,2024-08-01,,,"), NAME ":3: given_name: NUL byte", NULL },
		{ "stray quote", T("1003,5003,Bo\"b,Ek,student,Maths,2024-08-01,,,"), NAME ":3: ", NULL },
	};
	struct import_report rep;

	(void)state;
	import_ok(T(HEADER_REQ "9001,9901,Old,Timer,student,Maths,2024-01-01\n"), NULL, &rep);
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_bad_line3(cases[i].what, cases[i].row, cases[i].len, cases[i].want, cases[i].want2);
}

static void test_huge_field(void **state)
{
	size_t n = 1024 * 1024, len;
	char *row = malloc(n + n / 64 + 64), *text;
	int k;

	(void)state;
	assert_non_null(row);
	k = snprintf(row, 64, "1003,5003,Bo,");
	memset(row + k, 'x', n);
	strcpy(row + k + n, ",student,Maths,2024-08-01,,,");
	text = around(row, strlen(row), &len);
	assert_bad_file("1 MiB field", text, len, NAME ":3: family_name: longer than 4096 bytes", NULL);
	assert_absent("1002");
	free(text);
	/* quoted, the row's first field, across 16 385 lines: named by the line it starts on */
	k = snprintf(row, 64, "\"");
	for (size_t i = 0; i < n / 64; i++)
		k += snprintf(row + k, 65, "%063d\n", 1);
	strcpy(row + k, "\",5003,Bo,Ek,student,Maths,2024-08-01,,,");
	text = around(row, strlen(row), &len);
	assert_bad_file("1 MiB field over lines", text, len, NAME ":3: id_number: longer than 4096 bytes", NULL);
	free(text);
	free(row);
}

static void test_header_errors(void **state)
{
	static const struct {
		const char *what, *text, *want, *want2;
	} cases[] = {
		{ "empty file", "", NAME ": ", "header" },
		{ "blank lines only", "\n\r\n\n", NAME ": ", "header" },
		{ "unknown column",
		  "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,shoe_size\n"
		  "1001,5001,A,B,student,,,44\n", NAME ":1: shoe_size: ", "unknown column" },
		{ "column twice",
		  "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,KIND\n"
		  "1001,5001,A,B,student,,,student\n", NAME ":1: KIND: ", "twice" },
		{ "required column missing",
		  "id_number,student_number,given_name,family_name,kind,fee_paid_on\n"
		  "1001,5001,A,B,student,\n", NAME ":1: programme: ", "missing" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_bad_file(cases[i].what, cases[i].text, strlen(cases[i].text), cases[i].want,
				cases[i].want2);
	assert_absent("1001");
}

static void test_duplicates_in_file(void **state)
{
	static const struct {
		const char *what, *text, *want;
	} cases[] = {
		{ "id_number", HEADER_ALL
		  "1001,5001,A,B,student,,,,,\n1002,5002,C,D,student,,,,,\n"
		  "1001,5003,E,F,student,,,,,\n",
		  NAME ":4: id_number: same as on line 2" },
		{ "student_number", HEADER_ALL
		  "1001,5001,A,B,student,,,,,\n1002,5002,C,D,student,,,,,\n"
		  "1003,5001,E,F,student,,,,,\n",
		  NAME ":4: student_number: same as on line 2" },
		{ "username", HEADER_ALL
		  "1001,5001,A,B,student,,,,,\n1002,5002,C,D,student,,,cd,,\n"
		  "1003,5003,E,F,student,,,,,\n1004,5004,G,H,student,,,cd,,\n",
		  NAME ":5: username: same as on line 3" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_bad_file(cases[i].what, cases[i].text, strlen(cases[i].text), cases[i].want, NULL);
	assert_absent("1001");
}

/* --- re-imports and the database ------------------------------------------ */

static void test_reimport_unchanged(void **state)
{
	struct import_report rep;
	struct person p1, p2;
	char *before, *after;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	get("1001", &p1);
	before = db_dump();
	import_ok(T(GOOD), NULL, &rep);
	assert_report(&rep, 3, 0, 0, 3, 0);
	after = db_dump();
	assert_string_equal(after, before);	/* nothing re-hashed, nothing written */
	get("1001", &p2);
	assert_string_equal(p2.pin_hash, p1.pin_hash);
	free(before);
	free(after);
}

static void test_reimport_changed_programme(void **state)
{
	static const char changed[] = HEADER_ALL
		"1001,5001,Ada,Lovelace,student,Physics,2024-08-01,alove,ada@example.org,12345678\n"
		"1002,5002,Alan,Turing,employee,,,,,\n"
		"1003,5003,Grace,Hopper,exchange,Navy,2024-09-01,,,87654321\n";
	struct import_report rep;
	struct person p1, p2;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	get("1001", &p1);
	import_ok(T(changed), NULL, &rep);
	assert_report(&rep, 3, 0, 1, 2, 0);
	get("1001", &p2);
	assert_string_equal(p2.programme, "Physics");
	assert_string_equal(p2.pin_hash, p1.pin_hash);
	assert_int_equal(p2.pin_expires, p1.pin_expires);
}

static void test_reimport_pins(void **state)
{
	static const char new_pin[] = HEADER_ALL
		"1001,5001,Ada,Lovelace,student,Mathematics,2024-08-01,alove,ada@example.org,11112222\n"
		"1002,5002,Alan,Turing,employee,,,,,\n"
		"1003,5003,Grace,Hopper,exchange,Navy,2024-09-01,,,87654321\n";
	const struct import_opts update = { .update_pins = true };
	struct import_report rep;
	struct person p1, p2;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	get("1001", &p1);

	/* without update_pins the pin column of existing people is ignored */
	import_ok(T(new_pin), NULL, &rep);
	assert_report(&rep, 3, 0, 0, 3, 0);
	get("1001", &p2);
	assert_string_equal(p2.pin_hash, p1.pin_hash);
	assert_pin("1001", "12345678", 0);
	assert_pin("1001", "11112222", -EACCES);

	/* with it every row with a PIN is hashed again */
	import_ok(T(new_pin), &update, &rep);
	assert_report(&rep, 3, 0, 2, 1, 2);
	get("1001", &p2);
	assert_string_not_equal(p2.pin_hash, p1.pin_hash);
	assert_true(p2.pin_expires >= p1.pin_expires);
	assert_pin("1001", "11112222", 0);
	assert_pin("1001", "12345678", -EACCES);
	assert_pin("1003", "87654321", 0);
	get("1002", &p2);
	assert_string_equal(p2.pin_hash, "");

	/* never for an active or revoked person: the PIN would reset their password */
	get("1001", &p1);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_person_set_state(st, &p1, PERSON_ACTIVE), 0);
	get("1003", &p2);
	assert_int_equal(store_person_set_state(st, &p2, PERSON_REVOKED), 0);
	assert_int_equal(store_commit(st), 0);
	import_ok(T(GOOD), &update, &rep);
	assert_pin("1001", "11112222", 0);
	assert_pin("1001", "12345678", -EACCES);
	get("1003", &p1);
	assert_string_equal(p1.pin_hash, p2.pin_hash);	/* not hashed again */
}

static void test_dry_run(void **state)
{
	static const char changed[] = HEADER_ALL
		"1001,5001,Ada,Lovelace,student,Physics,2024-08-01,alove,ada@example.org,12345678\n"
		"1004,5004,Kurt,Gödel,student,Logic,2024-08-01,,,44445555\n";
	const struct import_opts dry = { .dry_run = true };
	struct import_report rep;
	char *before, *after;

	(void)state;
	import_ok(T(GOOD), &dry, &rep);
	assert_report(&rep, 3, 3, 0, 0, 2);
	after = db_dump();
	assert_string_equal(after, "");
	free(after);

	import_ok(T(GOOD), NULL, &rep);
	before = db_dump();
	import_ok(T(changed), &dry, &rep);
	assert_report(&rep, 2, 1, 1, 0, 1);
	after = db_dump();
	assert_string_equal(after, before);
	assert_absent("1004");
	free(before);
	free(after);
}

/* A value already held by someone else in the database: nothing of the file is written. */
static void test_conflict_with_database(void **state)
{
	static const struct {
		const char *what, *text, *want;
	} cases[] = {
		{ "existing person, taken student number", HEADER_ALL
		  "1010,5010,New,One,student,,,,,\n"
		  "1002,5001,Alan,Turing,employee,,,,,\n",
		  NAME ":3: student_number: " },
		{ "new person, taken username", HEADER_ALL
		  "1010,5010,New,One,student,,,,,\n"
		  "1011,5011,New,Two,student,,,alove,,\n",
		  NAME ":3: username: " },
	};
	struct import_report rep;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char err[ERR_MAX] = "";
		char *before = db_dump(), *after;
		int r = import_text(cases[i].text, strlen(cases[i].text), NULL, &rep, err);

		if (r == 0)
			fail_msg("%s: import succeeded", cases[i].what);
		assert_contains(cases[i].what, err, cases[i].want);
		after = db_dump();
		if (strcmp(before, after) != 0)
			fail_msg("%s: the database changed", cases[i].what);
		assert_absent("1010");
		assert_absent("1011");
		free(before);
		free(after);
	}
}

/* The audit rows of one event, "result|result|..." in order; free the result. */
static int audit_one(const struct store_audit_row *row, void *ctx)
{
	if (strcmp(row->ev.event, "roster-update") == 0)
		fprintf(ctx, "%s|", row->ev.result);
	return 0;
}

static char *updates_audited(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(store_audit_foreach(st, 0, 0, audit_one, f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/*
 * A returning student: a new ID number with the student number the
 * database has is the same person, updated (and audited), never a
 * conflict; a pending one's old PIN is void (it was bound to the old
 * number) unless the row brings a new one.
 */
static void test_returning_student(void **state)
{
	static const char again[] = HEADER_ALL
		"2001,5001,Ada,Lovelace,student,Physics,2024-08-01,,,\n"
		"2002,5002,Alan,Turing,employee,,,,,\n"
		"2003,5003,Grace,Hopper,exchange,Navy,2024-09-01,,,33334444\n";
	struct import_report rep;
	struct person ada, p;
	char *audited;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	get("1001", &ada);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_person_set_state(st, &ada, PERSON_ACTIVE), 0);
	assert_int_equal(store_commit(st), 0);
	import_ok(T(again), NULL, &rep);
	assert_report(&rep, 3, 0, 3, 0, 1);
	get("2001", &p);
	assert_int_equal(p.rowid, ada.rowid);
	assert_string_equal(p.username, "alove");	/* kept: the roster has none */
	assert_string_equal(p.programme, "Physics");
	assert_int_equal(p.state, PERSON_ACTIVE);
	get("2002", &p);
	assert_string_equal(p.pin_hash, "");
	assert_pin("2003", "33334444", 0);
	assert_pin("2003", "87654321", -EACCES);
	assert_absent("1001");
	audited = updates_audited();
	assert_contains("audit", audited, NAME ":2: id_number, programme (ID number was 1001: matched by student number)|");
	assert_contains("audit", audited, NAME ":4: id_number (ID number was 1003");
	free(audited);
	import_ok(T(again), NULL, &rep);
	assert_report(&rep, 3, 0, 0, 3, 0);
}

static void note_skip(const char *why, void *ctx)
{
	char *seen = ctx;

	snprintf(seen + strlen(seen), ERR_MAX - strlen(seen), "%s|", why);
}

/* --skip-conflicts: the rows that can be applied are, each conflict is said with its line. */
static void test_skip_conflicts(void **state)
{
	static const char mixed[] = HEADER_ALL
		"1010,5010,New,One,student,,,,,12121212\n"
		"1002,5003,Alan,Turing,employee,,,,,\n"
		"1011,5011,New,Two,student,,,alove,,\n"
		"1001,5001,Ada,Lovelace,student,Physics,2024-08-01,,ada@example.org,12345678\n";
	char seen[ERR_MAX] = "";
	struct import_opts skip = { .skip_conflicts = true, .skipped = note_skip, .skipped_ctx = seen };
	struct import_report rep;
	struct person p;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	import_ok(T(mixed), &skip, &rep);
	assert_int_equal(rep.skipped, 2);
	assert_report(&rep, 4, 1, 1, 0, 1);
	assert_string_equal(seen, NAME ":3: student_number: already belongs to ID number 1003|"
			    NAME ":4: username: already belongs to ID number 1001|");
	get("1010", &p);
	get("1001", &p);
	assert_string_equal(p.programme, "Physics");
	assert_absent("1011");
	get("1002", &p);
	assert_string_equal(p.student_number, "5002");
}

static void test_reimport_keeps_username(void **state)
{
	static const char without[] = HEADER_REQ
		"1001,5001,Ada,Lovelace,student,Mathematics,2024-08-01\n";
	static const char empty[] = HEADER_ALL
		"1001,5001,Ada,Lovelace,student,Mathematics,2024-08-01,,,\n";
	static const char changed[] = HEADER_REQ
		"1001,5001,Ada,Lovelace,student,Physics,2024-08-01\n";
	struct import_report rep;
	struct person p;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	import_ok(T(without), NULL, &rep);
	assert_report(&rep, 1, 0, 0, 1, 0);
	import_ok(T(empty), NULL, &rep);
	assert_report(&rep, 1, 0, 0, 1, 0);
	import_ok(T(changed), NULL, &rep);
	assert_report(&rep, 1, 0, 1, 0, 0);
	get("1001", &p);
	assert_string_equal(p.programme, "Physics");
	assert_string_equal(p.username, "alove");
	assert_string_equal(p.email, "ada@example.org");
}

/* --- hashing and roster_read_fields ----------------------------------------- */

struct progress {
	unsigned calls;
	size_t done, total;
};

static void on_progress(size_t done, size_t total, void *ctx)
{
	struct progress *pr = ctx;

	pr->calls++;
	pr->done = done;
	pr->total = total;
}

static void test_hash_pins_workers(void **state)
{
	static const char text[] = HEADER_ALL
		"1001,5001,A,B,student,,,,,10000001\n1002,5002,A,B,student,,,,,10000002\n"
		"1003,5003,A,B,student,,,,,\n1004,5004,A,B,student,,,,,10000004\n"
		"1005,5005,A,B,student,,,,,10000005\n";

	(void)state;
	for (unsigned workers = 1; workers <= 2; workers++) {
		struct progress pr = { 0 };
		struct import_opts opts = { .workers = workers, .progress = on_progress,
					    .progress_ctx = &pr };
		char err[ERR_MAX] = "";
		struct roster ro;
		size_t total = 0;

		assert_int_equal(read_roster(T(text), ',', &ro, err), 0);
		for (size_t i = 0; i < ro.count; i++) {
			ro.rows[i].hash_pin = ro.rows[i].pin != NULL;
			total += ro.rows[i].hash_pin;
		}
		assert_int_equal(total, 4);
		assert_int_equal(import_hash_pins(&ro, pepper, cfg.pin_hash_cost, total, &opts), 0);
		for (size_t i = 0; i < ro.count; i++) {
			const struct roster_row *row = &ro.rows[i];

			if (!row->pin) {
				assert_string_equal(row->person.pin_hash, "");
				continue;
			}
			if (secret_pin_verify(pepper, row->person.id_number, row->pin,
					      row->person.pin_hash) != 0)
				fail_msg("workers %u: hash of line %u does not verify", workers, row->line);
		}
		assert_true(pr.calls >= 1);
		assert_int_equal(pr.done, 4);
		assert_int_equal(pr.total, 4);
		roster_free(&ro);
	}
}

static void test_read_fields(void **state)
{
	static const char *const columns[] = {
		"id_number", "student_number", "given_name", "family_name", "kind", "programme",
		"fee_paid_on", "username", "pin",
	};
	static const char *const good[] = {
		"1001", "5001", "Åse", "Ødegård", "exchange", "Law", "2024-08-01", "aode", "12345678",
	};
	static const char *const bad_kind[] = {
		"1001", "5001", "Åse", "Ødegård", "alien", "Law", "2024-08-01", "aode", "12345678",
	};
	static const char *const bad_id[] = {
		"10x1", "5001", "Åse", "Ødegård", "student", "Law", "2024-08-01", "aode", "12345678",
	};
	struct import_report rep;
	struct roster ro;
	char err[ERR_MAX] = "";
	struct person p;

	(void)state;
	assert_int_equal(roster_read_fields("add", N_ELEMS(columns), columns, good, &cfg, &ro,
					    err, sizeof(err)), 0);
	assert_int_equal(ro.count, 1);
	assert_string_equal(ro.rows[0].person.given_name, "Åse");
	assert_int_equal(ro.rows[0].person.kind, PERSON_EXCHANGE);
	assert_string_equal(ro.rows[0].person.username, "aode");
	assert_string_equal(ro.rows[0].pin, "12345678");
	assert_int_equal(import_roster(st, &cfg, pepper, &ro, "add", &defaults, &rep, err,
				       sizeof(err)), 0);
	assert_report(&rep, 1, 1, 0, 0, 1);
	roster_free(&ro);
	get("aode", &p);
	assert_string_equal(p.family_name, "Ødegård");
	assert_pin("1001", "12345678", 0);

	assert_int_equal(roster_read_fields("add", N_ELEMS(columns), columns, bad_kind, &cfg, &ro,
					    err, sizeof(err)), -EINVAL);
	assert_contains("bad kind", err, "add:2: kind: ");
	assert_int_equal(ro.count, 0);
	assert_int_equal(roster_read_fields("add", N_ELEMS(columns), columns, bad_id, &cfg, &ro,
					    err, sizeof(err)), -EINVAL);
	assert_contains("bad id", err, "add:2: id_number: ");
	assert_int_equal(roster_read_fields("add", 5, columns, good, &cfg, &ro, err, sizeof(err)),
			 -EINVAL);
	assert_contains("missing columns", err, "add:1: programme: ");
}

/* An activation of 1002 while the import hashes (the last progress call comes before its writes). */
static void activate_meanwhile(size_t done, size_t total, void *ctx)
{
	struct person p;
	bool *ran = ctx;

	(void)done;
	(void)total;
	if (*ran)
		return;
	*ran = true;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_person_by_id_number(st, "1002", &p), 0);
	snprintf(p.username, sizeof(p.username), "aturing");
	assert_int_equal(store_person_reserve(st, &p), 0);
	assert_int_equal(store_person_by_id_number(st, "1002", &p), 0);
	assert_int_equal(store_person_set_state(st, &p, PERSON_ACTIVE), 0);
	assert_int_equal(store_commit(st), 0);
}

/*
 * Finding 1: the import planned 1002 before it hashed the new PINs; 1002
 * activated meanwhile. The row is planned again inside the write: the
 * roster's change lands and the username and state the activation wrote stay.
 */
static void test_import_racing_an_activation(void **state)
{
	static const char second[] = GOOD "1004,5004,Edsger,Dijkstra,student,Informatics,2024-08-01,,,11223344\n";
	struct import_report rep;
	bool ran = false;
	struct import_opts opts = { .progress = activate_meanwhile, .progress_ctx = &ran };
	struct person p;
	char text[sizeof(second) + 16];

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	snprintf(text, sizeof(text), "%s", second);
	*strstr(text, "Alan,Turing,employee,,") = '\0';
	strcat(text, "Alan,Turing,employee,Logic,");
	strcat(text, strstr(second, "Alan,Turing,employee,,") + strlen("Alan,Turing,employee,,"));
	import_ok(text, strlen(text), &opts, &rep);
	assert_true(ran);
	assert_int_equal(store_person_by_id_number(st, "1002", &p), 0);
	assert_string_equal(p.username, "aturing");
	assert_int_equal(p.state, PERSON_ACTIVE);
	assert_string_equal(p.programme, "Logic");
	assert_int_equal(store_person_by_id_number(st, "1004", &p), 0);
}

/*
 * The review's finding: import --update-pins planned 1002 pending, then
 * 1002 activated while the PINs were hashed. The roster PIN must not reach
 * an active person (it would reset their password).
 */
static void test_update_pins_racing_an_activation(void **state)
{
	static const char second[] = HEADER_ALL
		"1001,5001,Ada,Lovelace,student,Mathematics,2024-08-01,alove,ada@example.org,12345678\n"
		"1002,5002,Alan,Turing,employee,,,,,99998888\n"
		"1003,5003,Grace,Hopper,exchange,Navy,2024-09-01,,,87654321\n";
	struct import_report rep;
	bool ran = false;
	struct import_opts opts = { .progress = activate_meanwhile, .progress_ctx = &ran, .update_pins = true };
	struct person p;

	(void)state;
	import_ok(T(GOOD), NULL, &rep);
	import_ok(second, sizeof(second) - 1, &opts, &rep);
	assert_true(ran);
	assert_int_equal(store_person_by_id_number(st, "1002", &p), 0);
	assert_int_equal(p.state, PERSON_ACTIVE);
	assert_string_equal(p.pin_hash, "");
}

#define DB_TEST(f) cmocka_unit_test_setup_teardown(f, db_setup, db_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		DB_TEST(test_good_file),
		DB_TEST(test_header_only),
		DB_TEST(test_rfc4180),
		DB_TEST(test_multiline_line_numbers),
		DB_TEST(test_semicolon_delimiter),
		DB_TEST(test_formula_cell_is_text),
		DB_TEST(test_many_rows_with_pins),
		DB_TEST(test_bad_row_in_middle),
		DB_TEST(test_huge_field),
		DB_TEST(test_header_errors),
		DB_TEST(test_duplicates_in_file),
		DB_TEST(test_reimport_unchanged),
		DB_TEST(test_reimport_changed_programme),
		DB_TEST(test_reimport_pins),
		DB_TEST(test_dry_run),
		DB_TEST(test_conflict_with_database),
		DB_TEST(test_reimport_keeps_username),
		DB_TEST(test_returning_student),
		DB_TEST(test_skip_conflicts),
		DB_TEST(test_hash_pins_workers),
		DB_TEST(test_read_fields),
		DB_TEST(test_import_racing_an_activation),
		DB_TEST(test_update_pins_racing_an_activation),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
