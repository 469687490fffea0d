/* test_store.c: unit tests for store/sqlite.c (file checks, schema, people, transactions, locking). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"
#include "store.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_MAX 512


/* A KEY that names one person (the ambiguous case has its own test). */
static int find_key(struct store *st, const char *key, struct person *out)
{
	struct person other;

	return store_person_find(st, key, out, &other);
}

static char dir[PATH_MAX];	/* 0700, root's: every database lives under it */

/* A fresh, unused path dir/NAME-N (N counts up across the run). */
static char *fresh_path(char *buf, size_t len, const char *name)
{
	static unsigned n;
	char leaf[64];

	snprintf(leaf, sizeof(leaf), "%s-%u", name, ++n);
	return tu_path(buf, len, dir, leaf);
}

static void assert_contains(const char *what, const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("%s: '%s' does not contain '%s'", what, hay, needle);
}

/* A roster person; no cmocka asserts, so forked children may use it too. */
static struct person person(const char *id, const char *student, const char *username)
{
	struct person p;

	memset(&p, 0, sizeof(p));
	snprintf(p.id_number, sizeof(p.id_number), "%s", id);
	snprintf(p.student_number, sizeof(p.student_number), "%s", student);
	snprintf(p.given_name, sizeof(p.given_name), "Kari");
	snprintf(p.family_name, sizeof(p.family_name), "Nordmann");
	p.kind = PERSON_STUDENT;
	snprintf(p.programme, sizeof(p.programme), "Physics");
	snprintf(p.fee_paid_on, sizeof(p.fee_paid_on), "2024-08-01");
	snprintf(p.username, sizeof(p.username), "%s", username);
	return p;
}

static void insert(struct store *st, struct person *p)
{
	int r = store_person_insert(st, p);

	if (r != 0)
		fail_msg("insert %s: %d (%s)", p->id_number, r, store_errmsg(st));
}

/* --- a second, raw SQLite connection to look at the file directly -------- */

static sqlite3 *raw_open(const char *path, int flags)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | flags, NULL) != SQLITE_OK)
		fail_msg("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path, 0);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* The first column of the first row of sql, as text into buf. */
static char *raw_text(const char *path, const char *sql, char *buf, size_t len)
{
	sqlite3 *db = raw_open(path, 0);
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: no row (%s)", sql, sqlite3_errmsg(db));
	snprintf(buf, len, "%s", sqlite3_column_type(s, 0) == SQLITE_NULL ? "NULL"
		 : (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return buf;
}

static long long raw_int(const char *path, const char *sql)
{
	char buf[64];

	return strtoll(raw_text(path, sql, buf, sizeof(buf)), NULL, 10);
}

/* --- per-test fixture: a fresh database, open ------------------------------ */

struct fixture {
	char path[PATH_MAX];
	struct store *st;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[ERR_MAX] = "";

	assert_non_null(f);
	fresh_path(f->path, sizeof(f->path), "fixture.db");
	if (store_open(f->path, STORE_CREATE, &f->st, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	tu_tmpdir(dir, sizeof(dir));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tu_rm_rf(dir);
	return 0;
}

/* --- store_open: creating and migrating ---------------------------------- */

static void test_create_fresh(void **state)
{
	char path[PATH_MAX], err[ERR_MAX] = "", mode[16];
	struct store *st = NULL;
	struct person p = person("1001", "S1001", "kari");
	struct stat sb;
	int version = -1;

	(void)state;
	fresh_path(path, sizeof(path), "fresh.db");
	if (store_open(path, STORE_CREATE, &st, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	assert_non_null(st);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(store_schema_version(st, &version), 0);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	insert(st, &p);
	/* SQLite's side files are as private as the database */
	for (size_t i = 0; i < 2; i++) {
		char side[PATH_MAX + 8];

		snprintf(side, sizeof(side), "%s%s", path, i ? "-shm" : "-wal");
		assert_int_equal(lstat(side, &sb), 0);
		if ((sb.st_mode & 07777) != 0600)
			fail_msg("%s has mode %04o", side, (unsigned)(sb.st_mode & 07777));
	}
	store_close(st);

	assert_string_equal(raw_text(path, "PRAGMA journal_mode", mode, sizeof(mode)), "wal");
	assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);

	/* opening again, with or without STORE_CREATE, changes nothing */
	for (int flags = 0; flags <= STORE_CREATE; flags += STORE_CREATE) {
		if (store_open(path, flags, &st, err, sizeof(err)) != 0)
			fail_msg("reopen (flags %d): %s", flags, err);
		assert_int_equal(store_schema_version(st, &version), 0);
		assert_int_equal(version, STORE_SCHEMA_VERSION);
		assert_int_equal(find_key(st, "1001", &p), 0);
		store_close(st);
	}
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM person"), 1);
}

static void test_migrate_empty_file(void **state)
{
	char path[PATH_MAX], err[ERR_MAX] = "";
	struct store *st = NULL;
	struct person p = person("1002", "S1002", "");
	int version = -1;

	(void)state;
	fresh_path(path, sizeof(path), "empty.db");
	tu_write_file(path, "", 0, 0600);
	if (store_open(path, 0, &st, err, sizeof(err)) != 0)
		fail_msg("store_open of an empty file: %s", err);
	assert_int_equal(store_schema_version(st, &version), 0);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	insert(st, &p);
	store_close(st);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
				"AND name IN ('person', 'throttle', 'audit')"), 3);
}

static void test_newer_schema_refused(void **state)
{
	char path[PATH_MAX], err[ERR_MAX] = "", want[64];
	struct store *st = (struct store *)&st;	/* must come back NULL */
	sqlite3 *db;

	(void)state;
	fresh_path(path, sizeof(path), "newer.db");
	tu_write_file(path, "", 0, 0600);
	db = raw_open(path, 0);
	snprintf(want, sizeof(want), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
	assert_int_equal(sqlite3_exec(db, want, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(path, 0, &st, err, sizeof(err)), -EPROTO);
	assert_null(st);
	snprintf(want, sizeof(want), "schema %d is newer", STORE_SCHEMA_VERSION + 1);
	assert_contains("newer schema", err, want);
	assert_int_equal(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION + 1);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master"), 0);
}

/* --- store_open: what it refuses ------------------------------------------ */

enum prep {
	PREP_FILE,		/* an empty file with the given mode */
	PREP_FOREIGN_FILE,	/* an empty 0600 file owned by uid 1 */
	PREP_SYMLINK,		/* a symlink to a good empty 0600 file */
	PREP_DANGLING,		/* a symlink to nothing */
	PREP_DIRECTORY,		/* a directory where the file should be */
	PREP_MISSING,		/* nothing */
	PREP_DIR_MODE,		/* a good empty 0600 file; its directory gets the given mode */
	PREP_FOREIGN_DIR,	/* a good empty 0600 file; its directory is owned by uid 1 */
};

static void test_open_refusals(void **state)
{
	static const struct {
		const char *what;
		enum prep prep;
		mode_t mode;
		int flags;
		int want;
		const char *msg;
	} cases[] = {
		{ "symlink", PREP_SYMLINK, 0, 0, -ELOOP, "symbolic link" },
		{ "symlink, STORE_CREATE", PREP_SYMLINK, 0, STORE_CREATE, -ELOOP, "symbolic link" },
		{ "dangling symlink, STORE_CREATE", PREP_DANGLING, 0, STORE_CREATE, -ELOOP,
		  "symbolic link" },
		{ "mode 0640", PREP_FILE, 0640, 0, -EPERM, "0640" },
		{ "mode 0604", PREP_FILE, 0604, STORE_CREATE, -EPERM, "0604" },
		{ "mode 0660", PREP_FILE, 0660, 0, -EPERM, "0660" },
		{ "owned by uid 1", PREP_FOREIGN_FILE, 0600, 0, -EPERM, "owner 1" },
		{ "a directory", PREP_DIRECTORY, 0700, STORE_CREATE, -EPERM, "regular file" },
		{ "missing", PREP_MISSING, 0, 0, -ENOENT, "No such file" },
		{ "directory 0777", PREP_DIR_MODE, 0777, 0, -EPERM, "directory" },
		{ "directory 0770", PREP_DIR_MODE, 0770, STORE_CREATE, -EPERM, "directory" },
		{ "directory 0702", PREP_DIR_MODE, 0702, 0, -EPERM, "directory" },
		{ "directory of uid 1", PREP_FOREIGN_DIR, 0700, 0, -EPERM, "directory" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char sub[PATH_MAX], path[PATH_MAX], target[PATH_MAX], wal[PATH_MAX + 8];
		char err[ERR_MAX] = "";
		struct store *st = (struct store *)&st;
		struct stat sb;
		int r;

		fresh_path(sub, sizeof(sub), "refuse");
		assert_int_equal(mkdir(sub, 0700), 0);
		tu_path(path, sizeof(path), sub, "activate.db");
		tu_path(target, sizeof(target), sub, "target.db");
		switch (cases[i].prep) {
		case PREP_FILE:
			tu_write_file(path, "", 0, cases[i].mode);
			break;
		case PREP_FOREIGN_FILE:
			tu_write_file(path, "", 0, cases[i].mode);
			assert_int_equal(chown(path, 1, 0), 0);
			break;
		case PREP_SYMLINK:
			tu_write_file(target, "", 0, 0600);
			assert_int_equal(symlink(target, path), 0);
			break;
		case PREP_DANGLING:
			assert_int_equal(symlink(target, path), 0);
			break;
		case PREP_DIRECTORY:
			assert_int_equal(mkdir(path, cases[i].mode), 0);
			break;
		case PREP_MISSING:
			break;
		case PREP_DIR_MODE:
			tu_write_file(path, "", 0, 0600);
			assert_int_equal(chmod(sub, cases[i].mode), 0);
			break;
		case PREP_FOREIGN_DIR:
			tu_write_file(path, "", 0, 0600);
			assert_int_equal(chown(sub, 1, 0), 0);
			break;
		}

		r = store_open(path, cases[i].flags, &st, err, sizeof(err));
		if (r != cases[i].want)
			fail_msg("%s: store_open returned %d, want %d (err '%s')", cases[i].what,
				 r, cases[i].want, err);
		assert_null(st);
		assert_contains(cases[i].what, err, path);
		assert_contains(cases[i].what, err, cases[i].msg);

		/* nothing was created and no file was touched */
		snprintf(wal, sizeof(wal), "%s-wal", path);
		assert_int_equal(lstat(wal, &sb), -1);
		if (cases[i].prep == PREP_MISSING)
			assert_int_equal(lstat(path, &sb), -1);
		else if (cases[i].prep == PREP_DANGLING)
			assert_int_equal(lstat(target, &sb), -1);
		else if (cases[i].prep == PREP_SYMLINK)
			assert_true(stat(target, &sb) == 0 && sb.st_size == 0);
		else if (cases[i].prep != PREP_DIRECTORY)
			assert_true(lstat(path, &sb) == 0 && sb.st_size == 0);
		assert_int_equal(chmod(sub, 0700), 0);
	}
}

/* --- store_open: which backend ---------------------------------------------- */

static void test_open_dispatch(void **state)
{
	static const char *const bad[] = { "activate.db", "sqlite:activate.db", "mysql://db/activate", "" };
	char path[PATH_MAX], value[PATH_MAX + 8], err[ERR_MAX];
	struct store *st;
	struct person p = person("1801", "S1801", ""), out;

	(void)state;
	fresh_path(path, sizeof(path), "prefixed.db");
	snprintf(value, sizeof(value), "sqlite:%s", path);
	assert_string_equal(store_sqlite_path(value), path);
	assert_string_equal(store_sqlite_path(path), path);
	assert_null(store_sqlite_path("postgresql://db/activate"));
	if (store_open(value, STORE_CREATE, &st, err, sizeof(err)) != 0)
		fail_msg("store_open %s: %s", value, err);
	assert_string_equal(store_backend_name(st), "sqlite");
	insert(st, &p);
	store_close(st);
	if (store_open(path, 0, &st, err, sizeof(err)) != 0)	/* the same file, as a plain path */
		fail_msg("store_open %s: %s", path, err);
	assert_int_equal(store_person_by_id_number(st, "1801", &out), 0);
	store_close(st);
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		st = (struct store *)&st;
		err[0] = '\0';
		assert_int_equal(store_open(bad[i], STORE_CREATE, &st, err, sizeof(err)), -EINVAL);
		assert_null(st);
		snprintf(value, sizeof(value), "'%s'", bad[i]);
		assert_contains("a database value store_open refuses", err, value);
	}
}

/* --- constraints ------------------------------------------------------------ */

static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	struct person a = person("2001", "S2001", "kari");
	static const struct {
		const char *what, *id, *student, *username;
	} dups[] = {
		{ "id number", "2001", "S2999", "other" },
		{ "student number", "2999", "S2001", "other" },
		{ "username", "2999", "S2999", "kari" },
	};
	struct person p;

	insert(f->st, &a);
	for (size_t i = 0; i < N_ELEMS(dups); i++) {
		p = person(dups[i].id, dups[i].student, dups[i].username);
		if (store_person_insert(f->st, &p) != -EEXIST)
			fail_msg("duplicate %s was not refused with -EEXIST", dups[i].what);
	}
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person"), 1);

	/* the statement recovers: the row refused last goes in once made unique */
	p = person("2999", "S2999", "other");
	insert(f->st, &p);

	/* an update may not take another's username either */
	snprintf(p.username, sizeof(p.username), "kari");
	assert_int_equal(store_person_update_roster(f->st, &p), -EEXIST);
}

static void test_empty_usernames_are_null(void **state)
{
	struct fixture *f = *state;
	struct person a = person("2101", "S2101", ""), b = person("2102", "S2102", "");
	struct person out;

	insert(f->st, &a);
	insert(f->st, &b);
	assert_true(a.rowid > 0 && b.rowid > 0 && a.rowid != b.rowid);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE username IS NULL"), 2);
	assert_int_equal(store_person_by_id_number(f->st, "2102", &out), 0);
	assert_string_equal(out.username, "");
	assert_int_equal(store_person_by_username(f->st, "", &out), -ENOENT);
	assert_int_equal(find_key(f->st, "", &out), -ENOENT);
}

static void test_missing_rowid(void **state)
{
	struct fixture *f = *state;
	struct person p = person("2201", "S2201", "");

	insert(f->st, &p);
	p.rowid += 1000;
	assert_int_equal(store_person_update_roster(f->st, &p), -ESTALE);
	assert_int_equal(store_person_set_pin(f->st, &p, "$argon2id$x", 1), -ESTALE);
	assert_int_equal(store_person_unlock(f->st, p.rowid), -ENOENT);
}

/* --- lookups and round trips --------------------------------------------- */

static void assert_roster_equal(const struct person *got, const struct person *want)
{
	assert_int_equal(got->rowid, want->rowid);
	assert_string_equal(got->id_number, want->id_number);
	assert_string_equal(got->student_number, want->student_number);
	assert_string_equal(got->given_name, want->given_name);
	assert_string_equal(got->family_name, want->family_name);
	assert_int_equal(got->kind, want->kind);
	assert_string_equal(got->programme, want->programme);
	assert_string_equal(got->fee_paid_on, want->fee_paid_on);
	assert_string_equal(got->username, want->username);
	assert_string_equal(got->email, want->email);
}

static void test_lookups_and_round_trip(void **state)
{
	struct fixture *f = *state;
	struct person p = person("19900101", "S4711", "aodegard"), other = person("3001", "S3001", "x");
	struct person out;
	char sql[256];
	time_t before = time(NULL);
	int (*const by[])(struct store *, const char *, struct person *) = {
		find_key, store_person_by_id_number,
		find_key, store_person_by_student_number,
		find_key, store_person_by_username,
	};
	const char *const keys[] = { "19900101", "19900101", "S4711", "S4711", "aodegard", "aodegard" };

	snprintf(p.given_name, sizeof(p.given_name), "Åse Marie");
	snprintf(p.family_name, sizeof(p.family_name), "Ødegård");
	snprintf(p.programme, sizeof(p.programme), "Ingeniørfag – bygg");
	snprintf(p.email, sizeof(p.email), "åse.ødegård@example.no");
	snprintf(p.fee_paid_on, sizeof(p.fee_paid_on), "2024-08-15");
	p.kind = PERSON_EXCHANGE;
	insert(f->st, &other);
	insert(f->st, &p);
	assert_true(p.rowid > other.rowid);

	for (size_t i = 0; i < N_ELEMS(by); i++) {
		memset(&out, 0x5a, sizeof(out));
		if (by[i](f->st, keys[i], &out) != 0)
			fail_msg("lookup %zu of '%s' failed", i, keys[i]);
		assert_roster_equal(&out, &p);
	}
	/* the state of a new person */
	assert_int_equal(out.state, PERSON_PENDING);
	assert_int_equal(out.uid, -1);
	assert_string_equal(out.pin_hash, "");
	assert_int_equal(out.pin_expires, 0);
	assert_int_equal(out.pin_spent, 0);
	assert_int_equal(out.failures, 0);
	assert_int_equal(out.total_failures, 0);
	assert_int_equal(out.locks, 0);
	assert_int_equal(out.locked_until, 0);
	assert_int_equal(out.terms_accepted, 0);
	assert_true(out.created >= before && out.created <= time(NULL));
	assert_int_equal(out.updated, out.created);

	static const char *const unknown[] = { "19900102", "S47", "aodegar", "Ødegård", "" };
	for (size_t i = 0; i < N_ELEMS(unknown); i++) {
		assert_int_equal(find_key(f->st, unknown[i], &out), -ENOENT);
		assert_int_equal(store_person_by_id_number(f->st, unknown[i], &out), -ENOENT);
		assert_int_equal(store_person_by_student_number(f->st, unknown[i], &out), -ENOENT);
		assert_int_equal(store_person_by_username(f->st, unknown[i], &out), -ENOENT);
	}

	/* update_roster: the new fields read back; empty ones come back empty */
	snprintf(p.student_number, sizeof(p.student_number), "S4712");
	snprintf(p.given_name, sizeof(p.given_name), "Zoë");
	snprintf(p.family_name, sizeof(p.family_name), "Öztürk-Çelik");
	p.kind = PERSON_EMPLOYEE;
	p.programme[0] = p.fee_paid_on[0] = p.username[0] = p.email[0] = '\0';
	assert_int_equal(store_person_update_roster(f->st, &p), 0);
	assert_int_equal(store_person_by_id_number(f->st, "19900101", &out), 0);
	assert_roster_equal(&out, &p);
	assert_int_equal(find_key(f->st, "S4711", &out), -ENOENT);
	assert_int_equal(find_key(f->st, "aodegard", &out), -ENOENT);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM person WHERE rowid = %lld AND "
		 "programme IS NULL AND fee_paid_on IS NULL AND username IS NULL AND email IS NULL",
		 (long long)p.rowid);
	assert_int_equal(raw_int(f->path, sql), 1);
}

/* --- PINs and locks --------------------------------------------------------- */

static void test_set_pin_and_unlock(void **state)
{
	struct fixture *f = *state;
	struct person p = person("4001", "S4001", "pin"), out;
	char sql[256];

	insert(f->st, &p);
	snprintf(sql, sizeof(sql), "UPDATE person SET pin_hash = 'old', pin_expires = 5, "
		 "pin_spent = 77, failures = 3, total_failures = 9, locked_until = 4000000000 "
		 "WHERE rowid = %lld", (long long)p.rowid);
	raw_exec(f->path, sql);
	assert_int_equal(find_key(f->st, "4001", &out), 0);
	assert_int_equal(out.failures, 3);	/* the store sees the committed change */

	assert_int_equal(store_person_set_pin(f->st, &out, "$argon2id$new", 1900000000), 0);
	assert_int_equal(store_person_set_pin(f->st, &out, "$argon2id$new", 1900000000), -ESTALE);	/* out is stale now */
	assert_int_equal(find_key(f->st, "4001", &out), 0);
	assert_string_equal(out.pin_hash, "$argon2id$new");
	assert_int_equal(out.pin_expires, 1900000000);
	assert_int_equal(out.pin_spent, 0);
	assert_int_equal(out.failures, 0);
	assert_int_equal(out.total_failures, 0);
	assert_int_equal(out.locked_until, 0);

	raw_exec(f->path, "UPDATE person SET pin_spent = 88, failures = 4, total_failures = 6, "
		 "locked_until = 4000000000 WHERE id_number = '4001'");
	assert_int_equal(store_person_unlock(f->st, p.rowid), 0);
	assert_int_equal(find_key(f->st, "4001", &out), 0);
	assert_int_equal(out.failures, 0);
	assert_int_equal(out.locked_until, 0);
	/* an unlock is not a new PIN */
	assert_int_equal(out.total_failures, 6);
	assert_int_equal(out.pin_spent, 88);
	assert_string_equal(out.pin_hash, "$argon2id$new");
	assert_int_equal(out.pin_expires, 1900000000);
}

/* --- store_person_foreach ---------------------------------------------------- */

struct walk {
	char ids[8][PERSON_NUMBER_MAX];
	unsigned n;
	unsigned stop_at;	/* return 42 from the stop_at'th call; 0: never */
};

static int collect(const struct person *p, void *ctx)
{
	struct walk *w = ctx;

	if (w->n < N_ELEMS(w->ids))
		memcpy(w->ids[w->n], p->id_number, sizeof(w->ids[0]));
	w->n++;
	return w->n == w->stop_at ? 42 : 0;
}

static void test_foreach(void **state)
{
	static const char *const ids[] = { "5300", "5100", "5400", "5200", "5150" };
	static const struct {
		int state;
		unsigned stop_at;
		int ret;
		const char *want[5];
	} cases[] = {
		{ -1, 0, 0, { "5100", "5150", "5200", "5300", "5400" } },
		{ PERSON_PENDING, 0, 0, { "5100", "5200", "5400" } },
		{ PERSON_ACTIVE, 0, 0, { "5150", "5300" } },
		{ PERSON_REVOKED, 0, 0, { NULL } },
		{ -1, 2, 42, { "5100", "5150" } },
		{ PERSON_PENDING, 1, 42, { "5100" } },
		{ -1, 0, 0, { "5100", "5150", "5200", "5300", "5400" } },	/* again, after a stop */
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < N_ELEMS(ids); i++) {
		struct person p = person(ids[i], ids[i], "");

		insert(f->st, &p);
	}
	raw_exec(f->path, "UPDATE person SET state = 2 WHERE id_number IN ('5150', '5300')");

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct walk w = { .stop_at = cases[i].stop_at };
		unsigned n = 0;

		assert_int_equal(store_person_foreach(f->st, cases[i].state, collect, &w), cases[i].ret);
		while (n < N_ELEMS(cases[i].want) && cases[i].want[n])
			n++;
		if (w.n != n)
			fail_msg("case %zu: %u calls, want %u", i, w.n, n);
		for (unsigned j = 0; j < n; j++)
			assert_string_equal(w.ids[j], cases[i].want[j]);
	}
}

/* --- transactions -------------------------------------------------------------- */

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	struct person p = person("6001", "S6001", "tx"), out;

	assert_int_equal(store_begin(f->st), 0);
	insert(f->st, &p);
	assert_int_equal(find_key(f->st, "6001", &out), 0);	/* visible inside */
	store_rollback(f->st);
	assert_int_equal(find_key(f->st, "6001", &out), -ENOENT);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person"), 0);
	store_rollback(f->st);	/* outside a transaction: harmless */

	assert_int_equal(store_begin(f->st), 0);
	insert(f->st, &p);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(find_key(f->st, "6001", &out), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE id_number = '6001'"), 1);
}

/* --- two processes ------------------------------------------------------------------ */

static void assert_child_ok(pid_t pid, const char *what)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: child ended with status 0x%x", what, (unsigned)status);
}

/* Make an empty database and close it: no connection may cross a fork. */
static void make_db(char *path, size_t len, const char *name)
{
	char err[ERR_MAX] = "";
	struct store *st;

	fresh_path(path, len, name);
	if (store_open(path, STORE_CREATE, &st, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	store_close(st);
}

#define WRITER_PEOPLE 300

/* A child: wait for the start (EOF on go), then insert 300 people, one transaction each. */
static int writer(const char *path, int go, unsigned which)
{
	char err[ERR_MAX] = "", id[32], student[32];
	struct store *st;
	int r;

	if (read(go, id, 1) != 0)
		return 2;
	r = store_open(path, 0, &st, err, sizeof(err));
	if (r) {
		fprintf(stderr, "writer %u: store_open: %d %s\n", which, r, err);
		return 3;
	}
	for (unsigned i = 0; i < WRITER_PEOPLE; i++) {
		struct person p;

		snprintf(id, sizeof(id), "%u%05u", which, i);
		snprintf(student, sizeof(student), "S%u%05u", which, i);
		p = person(id, student, "");
		r = store_begin(st);
		if (r == 0)
			r = store_person_insert(st, &p);
		if (r == 0)
			r = store_commit(st);
		if (r) {
			fprintf(stderr, "writer %u: person %u: %d %s\n", which, i, r, store_errmsg(st));
			store_rollback(st);
			store_close(st);
			return 4;
		}
	}
	store_close(st);
	return 0;
}

static void test_two_writers(void **state)
{
	char path[PATH_MAX], mode[16];
	int go[2];
	pid_t pid[2];

	(void)state;
	make_db(path, sizeof(path), "writers.db");
	assert_int_equal(pipe(go), 0);
	for (unsigned i = 0; i < N_ELEMS(pid); i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			close(go[1]);
			_exit(writer(path, go[0], i + 1));
		}
	}
	close(go[0]);
	close(go[1]);	/* both start at once */
	assert_child_ok(pid[0], "writer 1");
	assert_child_ok(pid[1], "writer 2");
	assert_int_equal(raw_int(path, "SELECT count(*) FROM person"), 2 * WRITER_PEOPLE);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM person WHERE id_number LIKE '1%'"),
			 WRITER_PEOPLE);
	assert_string_equal(raw_text(path, "PRAGMA integrity_check", mode, sizeof(mode)), "ok");
}

/* A child: on EOF on go, take the write lock, insert, say so, hold it 200 ms, commit. */
static int holder(const char *path, int go, int locked)
{
	const struct timespec hold = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
	char err[ERR_MAX] = "", c = 'x';
	struct person p = person("7001", "S7001", "holder");
	struct store *st;

	if (read(go, &c, 1) != 0 || store_open(path, 0, &st, err, sizeof(err)) != 0)
		return 2;
	if (store_begin(st) != 0 || store_person_insert(st, &p) != 0)
		return 3;
	if (write(locked, &c, 1) != 1)
		return 4;
	nanosleep(&hold, NULL);
	if (store_commit(st) != 0)
		return 5;
	store_close(st);
	return 0;
}

static void test_busy_wait(void **state)
{
	char path[PATH_MAX], err[ERR_MAX] = "", c;
	int go[2], locked[2];
	struct store *st;
	struct person out;
	pid_t pid;

	(void)state;
	make_db(path, sizeof(path), "busy.db");
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(locked), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(locked[0]);
		_exit(holder(path, go[0], locked[1]));
	}
	close(go[0]);
	close(locked[1]);
	if (store_open(path, 0, &st, err, sizeof(err)) != 0)	/* after the fork */
		fail_msg("store_open: %s", err);
	close(go[1]);
	assert_int_equal(read(locked[0], &c, 1), 1);	/* the child holds the write lock now */
	close(locked[0]);

	/* waits for the holder's commit, then has the lock and sees its row */
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(find_key(st, "7001", &out), 0);
	store_rollback(st);
	store_close(st);
	assert_child_ok(pid, "holder");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_fresh),
		cmocka_unit_test(test_migrate_empty_file),
		cmocka_unit_test(test_newer_schema_refused),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_open_dispatch),
		cmocka_unit_test_setup_teardown(test_duplicates, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_empty_usernames_are_null, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_missing_rowid, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_lookups_and_round_trip, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_set_pin_and_unlock, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foreach, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_transactions, fixture_setup, fixture_teardown),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_busy_wait),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
