/* test_audit.c: the audit trail's chain, and what audit_verify finds when rows are edited or removed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "store.h"
#include "testutil.h"

static char dir[PATH_MAX], path[PATH_MAX + 16];
static struct store *st;

static void raw_exec(const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Five rows; people 7 and none take turns, as a dialogue's verify rows do. */
static int setup(void **state)
{
	char err[512];

	(void)state;
	tu_tmpdir(dir, sizeof(dir));
	tu_path(path, sizeof(path), dir, "audit.db");
	if (store_open(path, STORE_CREATE, &st, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	for (int i = 0; i < 5; i++) {
		struct store_audit ev = {
			.at = 1700000000 + i, .event = "verify", .person = i % 2 ? 0 : 7,
			.username = i == 4 ? "olanordm" : NULL, .service = "sshd", .rhost = "198.51.100.7",
			.result = i % 2 ? "failed, unknown id" : "failed",
		};

		assert_int_equal(audit_record(st, 5, &ev), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(st);
	tu_rm_rf(dir);
	return 0;
}

static int count_person(const struct store_audit_row *row, void *ctx)
{
	(*(int *)ctx)++;
	assert_int_equal(row->ev.person, 7);
	return 0;
}

static void test_intact(void **state)
{
	struct audit_verdict v;
	int n = 0;

	(void)state;
	assert_int_equal(audit_verify(st, &v), 0);
	assert_int_equal(v.rows, 5);
	assert_int_equal(v.first_seq, 1);
	assert_int_equal(v.last_seq, 5);
	assert_int_equal(v.last_at, 1700000004);
	assert_int_equal(v.broken_at, 0);
	assert_int_equal(v.missing_from, 0);
	/* a row without a person is stored without one, not with the row before's */
	assert_int_equal(store_audit_foreach(st, INT64_MIN, 7, count_person, &n), 0);
	assert_int_equal(n, 3);
}

static void test_edited_row(void **state)
{
	struct audit_verdict v;

	(void)state;
	raw_exec("DROP TRIGGER audit_append_only_u; UPDATE audit SET result = 'ok' WHERE seq = 3");
	assert_int_equal(audit_verify(st, &v), 0);
	assert_int_equal(v.broken_at, 3);
	assert_int_equal(v.missing_from, 0);
}

static void test_removed_row(void **state)
{
	struct audit_verdict v;

	(void)state;
	raw_exec("DROP TRIGGER audit_append_only_d; DELETE FROM audit WHERE seq = 2");
	assert_int_equal(audit_verify(st, &v), 0);
	assert_int_equal(v.rows, 4);
	assert_int_equal(v.missing_from, 2);
	assert_int_equal(v.missing_to, 2);
	assert_int_equal(v.broken_at, 3);
}

static void test_since_and_person(void **state)
{
	int n = 0;

	(void)state;
	assert_int_equal(store_audit_foreach(st, 1700000003, 7, count_person, &n), 0);
	assert_int_equal(n, 1);	/* seq 5 only */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_since_and_person, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
