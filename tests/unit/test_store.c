/*
 * test_store.c: unit tests for the store. The same tests of people,
 * compare-and-swap, transactions and processes racing each other run
 * twice: on SQLite files, and on a real PostgreSQL 15 server that
 * tests/unit/pgserver.sh starts for the run (TLS with verify-full, a
 * password file), a fresh database each. Then what is SQLite's own (file
 * checks, WAL, the write lock) and PostgreSQL's own (TLS and password
 * refusals, a deadlock run again, the server down or not answering).
 */
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
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "testutil.h"
#include "audit.h"
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

/* Which backend the generic tests run on, and the PostgreSQL server of the run. */
enum backend { SQLITE, POSTGRES };
static enum backend backend;
static struct {
	char dir[PATH_MAX];	/* pgserver.sh's: sock/, tls/ca.pem, password */
	unsigned port;
	char ca[PATH_MAX + 16], password[PATH_MAX + 16], socket[PATH_MAX + 16];
	unsigned bouncer;	/* PgBouncer's port (its socket in DIR/bouncer), or 0: straight to the server */
} pg;

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

/* --- a second, raw connection to look at the database directly ---------- */

/* The database name of a test URL: its path, up to the query. */
static const char *pg_dbname(const char *url)
{
	static char name[64];
	const char *at = strstr(url, "://");

	at = strchr(at ? at + 3 : url, '/');
	at = at ? at + 1 : url;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(at, "?"), at);
	return name;
}

/* The superuser, over the Unix socket (trust): the test's own view. */
static PGconn *pg_raw_open(const char *dbname)
{
	const char *keys[] = { "host", "port", "user", "dbname", NULL };
	char port[16];
	const char *values[5] = { pg.socket, port, "postgres", dbname, NULL };
	PGconn *c;

	snprintf(port, sizeof(port), "%u", pg.port);
	c = PQconnectdbParams(keys, values, 0);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("raw connection to %s: %s", dbname, PQerrorMessage(c));
	return c;
}

static PGresult *pg_raw_exec(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	return res;
}

/* sql on the maintenance database (CREATE DATABASE cannot run in another). */
static void pg_admin(const char *sql)
{
	PGconn *c = pg_raw_open("postgres");

	PQclear(pg_raw_exec(c, sql));
	PQfinish(c);
}

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
	sqlite3 *db;

	if (backend == POSTGRES) {
		PGconn *c = pg_raw_open(pg_dbname(path));

		PQclear(pg_raw_exec(c, sql));
		PQfinish(c);
		return;
	}
	db = raw_open(path, 0);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* The first column of the first row of sql, as text into buf. */
static char *raw_text(const char *path, const char *sql, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s = NULL;

	if (backend == POSTGRES) {
		PGconn *c = pg_raw_open(pg_dbname(path));
		PGresult *res = pg_raw_exec(c, sql);

		if (PQntuples(res) < 1)
			fail_msg("%s: no row", sql);
		snprintf(buf, len, "%s", PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(c);
		return buf;
	}
	db = raw_open(path, 0);

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

/* How the tests reach a database of the backend under test. */
static struct store_options options(void)
{
	struct store_options o = { NULL, NULL, 0 };

	if (backend == POSTGRES) {
		o.password_file = pg.password;
		o.ca_file = pg.ca;
	}
	return o;
}

static int open_db(const char *db, int flags, struct store **st, char *err, size_t errlen)
{
	struct store_options o = options();

	return store_open_with(db, &o, flags, st, err, errlen);
}

/*
 * A fresh, empty database: a new SQLite path, or a new PostgreSQL
 * database reached over TCP with TLS (verify-full) and the password file.
 */
static char *fresh_db(char *buf, size_t len, const char *name)
{
	static unsigned n;
	char sql[128];
	int w;

	if (backend == SQLITE)
		return fresh_path(buf, len, name);
	snprintf(sql, sizeof(sql), "CREATE DATABASE t%u OWNER activate", ++n);
	pg_admin(sql);
	if (pg.bouncer)
		w = snprintf(buf, len, "postgresql:///t%u?host=%s/bouncer&port=%u&user=activate", n, pg.dir, pg.bouncer);
	else
		w = snprintf(buf, len, "postgresql://activate@localhost:%u/t%u", pg.port, n);
	assert_true(w > 0 && (size_t)w < len);
	return buf;
}

struct fixture {
	char path[PATH_MAX];	/* the database value: a path or a URL */
	struct store *st;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[ERR_MAX] = "";

	assert_non_null(f);
	fresh_db(f->path, sizeof(f->path), "fixture.db");
	if (open_db(f->path, STORE_CREATE, &f->st, err, sizeof(err)) != 0)
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
	backend = SQLITE;
	tu_tmpdir(dir, sizeof(dir));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tu_rm_rf(dir);
	return 0;
}

/* pgserver.sh with its arguments; its first line of output in out (may be NULL). */
static int pgserver(const char *args, char *out, size_t len)
{
	const char *src = getenv("top_srcdir");
	char cmd[2 * PATH_MAX + 64];
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "sh '%s/tests/unit/pgserver.sh' %s", src ? src : ".", args);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	if (out && !fgets(out, (int)len, p))
		out[0] = '\0';
	status = pclose(p);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* A PostgreSQL server of its own for the run: a test that cannot run fails. */
static int pg_group_setup(void **state)
{
	char line[PATH_MAX + 32] = "";

	group_setup(state);
	backend = POSTGRES;
	if (pgserver("start", line, sizeof(line)) != 0 || sscanf(line, "%4095s %u", pg.dir, &pg.port) != 2) {
		fprintf(stderr, "test_store: no PostgreSQL server (tests/unit/pgserver.sh start failed)\n");
		return -1;
	}
	snprintf(pg.ca, sizeof(pg.ca), "%s/tls/ca.pem", pg.dir);
	snprintf(pg.password, sizeof(pg.password), "%s/password", pg.dir);
	snprintf(pg.socket, sizeof(pg.socket), "%s/sock", pg.dir);
	return 0;
}

/* The same server behind PgBouncer in transaction mode, one server connection shared by all. */
static int bouncer_group_setup(void **state)
{
	char args[PATH_MAX + 16], line[64] = "";

	if (pg_group_setup(state) != 0)
		return -1;
	snprintf(args, sizeof(args), "bouncer '%s'", pg.dir);
	if (pgserver(args, line, sizeof(line)) != 0 || sscanf(line, "%u", &pg.bouncer) != 1) {
		fprintf(stderr, "test_store: no PgBouncer (tests/unit/pgserver.sh bouncer failed)\n");
		return -1;
	}
	return 0;
}

static int pg_group_teardown(void **state)
{
	char args[PATH_MAX + 16];

	snprintf(args, sizeof(args), "stop '%s'", pg.dir);
	pgserver(args, NULL, 0);
	pg.bouncer = 0;
	return group_teardown(state);
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


/* --- compare-and-swap: a duplicate is -EEXIST, a changed row -ESTALE --------- */

static int cas_inside(struct store *st, void *ctx)
{
	struct person *b = ctx, dup = person("9102", "S9101", "");
	struct person taken = *b;
	int r;

	snprintf(taken.username, sizeof(taken.username), "kari");
	/* each refusal leaves the transaction usable, as in SQLite */
	if ((r = store_person_update_roster(st, &taken)) != -EEXIST)
		return r ? r : -EPROTO;
	if ((r = store_person_insert(st, &dup)) != -EEXIST)
		return r ? r : -EPROTO;
	if ((r = store_person_set_username(st, b, "kari")) != -EEXIST)
		return r ? r : -EPROTO;
	b->failures = 2;
	return store_person_set_failures(st, b);
}

static void test_cas_semantics(void **state)
{
	struct fixture *f = *state;
	struct person a = person("9101", "S9101", "kari"), b = person("9102", "S9102", ""), out;

	insert(f->st, &a);
	insert(f->st, &b);
	assert_int_equal(store_transaction(f->st, cas_inside, &b), 0);
	assert_int_equal(store_person_by_id_number(f->st, "9102", &out), 0);
	assert_int_equal(out.failures, 2);
	assert_string_equal(out.username, "");
	assert_int_equal(out.version, b.version + 1);

	/* stale: b is one version behind now */
	assert_int_equal(store_person_set_failures(f->st, &b), -ESTALE);
	assert_int_equal(store_person_set_username(f->st, &b, "other"), -ESTALE);
	snprintf(b.username, sizeof(b.username), "other");
	assert_int_equal(store_person_reserve(f->st, &b), -ESTALE);
	/* as expected but taken: -EEXIST */
	snprintf(out.username, sizeof(out.username), "kari");
	assert_int_equal(store_person_reserve(f->st, &out), -EEXIST);
	snprintf(out.username, sizeof(out.username), "ola");
	assert_int_equal(store_person_reserve(f->st, &out), 0);
	assert_int_equal(store_person_by_username(f->st, "ola", &out), 0);
	assert_int_equal(out.state, PERSON_PROVISIONING);
}

/* --- a snapshot: every row, as it is, in a new SQLite file ----------------------- */

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct person a = person("9201", "S9201", "snap"), b = person("9202", "S9202", ""), got, want;
	struct store_audit ev = { .event = "snap", .service = "test", .result = "ok", .person = 1 };
	struct store_counts n, m;
	struct audit_verdict v;
	char path[PATH_MAX], err[ERR_MAX];
	struct store *copy;

	insert(f->st, &a);
	insert(f->st, &b);
	assert_int_equal(store_person_set_pin(f->st, &a, "$argon2id$snap", 1900000000), 0);
	raw_exec(f->path, "UPDATE person SET uid = 7001, gid = 7002, home = '/home/snap', revoke_expire = '', "
		 "revoked_from = 2, terms_hash = 'abc', language = 'nb' WHERE id_number = '9201'");
	assert_int_equal(audit_record(f->st, LOG_DEBUG, &ev), 0);
	assert_int_equal(audit_record(f->st, LOG_DEBUG, &ev), 0);
	assert_int_equal(store_throttle_add(f->st, "192.0.2.9", time(NULL), 0), 0);
	fresh_path(path, sizeof(path), "snapshot.db");
	assert_int_equal(store_snapshot(f->st, path), 0);
	if (store_open(path, 0, &copy, err, sizeof(err)) != 0)
		fail_msg("the snapshot: %s", err);
	assert_string_equal(store_backend_name(copy), "sqlite");
	assert_int_equal(store_count(f->st, &n), 0);
	assert_int_equal(store_count(copy, &m), 0);
	assert_int_equal(n.people, 2);
	assert_int_equal(n.audit, 2);
	assert_int_equal(n.throttle, 1);
	assert_memory_equal(&n, &m, sizeof(n));
	for (size_t i = 0; i < 2; i++) {
		const char *id = i ? "9202" : "9201";

		assert_int_equal(store_person_by_id_number(f->st, id, &want), 0);
		assert_int_equal(store_person_by_id_number(copy, id, &got), 0);
		assert_memory_equal(&got, &want, sizeof(got));	/* every field, the version and NULLs too */
	}
	assert_true(got.uid == -1 && got.gid == -1 && got.revoked_from == -1 && !got.revoke_expire_set);
	assert_int_equal(store_person_by_id_number(copy, "9201", &got), 0);
	assert_true(got.revoke_expire_set && got.revoked_from == 2 && got.uid == 7001);
	assert_int_equal(audit_verify(copy, &v), 0);
	assert_true(v.rows == 2 && v.last_seq == 2 && !v.broken_at && !v.missing_from);
	store_close(copy);
}

/* --- processes racing: each decision taken once ------------------------------- */

#define RACERS 8

typedef int (*racer_fn)(struct store *st, unsigned i, void *ctx);

/* A child's result as its exit code. */
static int code_of(int r, const char *what, struct store *st)
{
	if (r == 0)
		return 0;
	if (r == -ESTALE)
		return 1;
	if (r == -EEXIST)
		return 2;
	fprintf(stderr, "%s: %d (%s)\n", what, r, store_errmsg(st));
	return 3;
}

/*
 * n children, each with a connection of its own opened first, then all
 * released at once on the decision; their exit codes in codes. Children
 * use no cmocka asserts.
 */
static void race(const char *db, unsigned n, racer_fn fn, void *ctx, int *codes)
{
	pid_t pid[RACERS * 2];
	int go[2], ready[2];
	char c;

	assert_true(n <= RACERS * 2);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	for (unsigned i = 0; i < n; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			char err[ERR_MAX] = "";
			struct store *st;
			int r;

			close(go[1]);
			close(ready[0]);
			if (open_db(db, 0, &st, err, sizeof(err)) != 0) {
				fprintf(stderr, "racer %u: %s\n", i, err);
				_exit(100);
			}
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 0)
				_exit(101);
			r = fn(st, i, ctx);
			store_close(st);
			_exit(r);
		}
	}
	close(go[0]);
	close(ready[1]);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(go[1]);	/* all at once */
	for (unsigned i = 0; i < n; i++) {
		int status = 0;

		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 200;
	}
}

static void assert_codes(const char *what, const int *codes, unsigned n, unsigned want_zero, int others)
{
	unsigned zero = 0;

	for (unsigned i = 0; i < n; i++) {
		if (codes[i] == 0)
			zero++;
		else if (codes[i] != others)
			fail_msg("%s: racer %u ended with %d, want 0 or %d", what, i, codes[i], others);
	}
	if (zero != want_zero)
		fail_msg("%s: %u racers succeeded, want %u", what, zero, want_zero);
}

static int spend_change(struct store *st, void *p)
{
	return store_person_spend_pin(st, p, true);
}

static int spend_racer(struct store *st, unsigned i, void *ctx)
{
	struct person p;
	int r = store_person_by_id_number(st, ctx, &p);

	(void)i;
	return code_of(r ? r : store_transaction(st, spend_change, &p), "spend", st);
}

/* One PIN, eight machines: it is spent once. */
static void test_race_spend_pin(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8001", "S8001", "racer");
	int codes[RACERS];

	insert(f->st, &p);
	raw_exec(f->path, "UPDATE person SET state = 2, pin_hash = '$argon2id$one' WHERE id_number = '8001'");
	race(f->path, RACERS, spend_racer, "8001", codes);
	assert_codes("spend a PIN", codes, RACERS, 1, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE pin_spent > 0"), 1);
}

static int activate_change(struct store *st, void *p)
{
	return store_person_activate(st, p);
}

static int activate_racer(struct store *st, unsigned i, void *ctx)
{
	struct person p;
	int r = store_person_by_id_number(st, ctx, &p);

	(void)i;
	return code_of(r ? r : store_transaction(st, activate_change, &p), "activate", st);
}

static void test_race_activate(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8051", "S8051", "racer");
	int codes[RACERS];

	insert(f->st, &p);
	raw_exec(f->path, "UPDATE person SET state = 1, pin_hash = '$argon2id$one', uid = 5000, gid = 5000 "
		 "WHERE id_number = '8051'");
	race(f->path, RACERS, activate_racer, "8051", codes);
	assert_codes("activate", codes, RACERS, 1, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE state = 2 AND pin_spent > 0"), 1);
}

/* The dialogue's reserve: the row read inside the transaction, then one username for it. */
static int reserve_change(struct store *st, void *ctx)
{
	struct person *p = ctx;
	int r = store_person_by_id_number(st, p->id_number, p);

	snprintf(p->username, sizeof(p->username), "olanordm");
	return r ? r : store_person_reserve(st, p);
}

static int reserve_racer(struct store *st, unsigned i, void *ctx)
{
	struct person p;

	(void)ctx;
	snprintf(p.id_number, sizeof(p.id_number), "81%02u", i);
	return code_of(store_transaction(st, reserve_change, &p), "reserve", st);
}

/* Eight people named alike, on eight machines at once: one gets the name. */
static void test_race_reserve(void **state)
{
	struct fixture *f = *state;
	int codes[RACERS];

	for (unsigned i = 0; i < RACERS; i++) {
		char id[16];
		struct person p;

		snprintf(id, sizeof(id), "81%02u", i);
		p = person(id, id + 1, "");
		insert(f->st, &p);
	}
	race(f->path, RACERS, reserve_racer, NULL, codes);
	assert_codes("reserve a username", codes, RACERS, 1, 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE username = 'olanordm' AND state = 1"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE state = 0"), RACERS - 1);
}

/* The dialogue's count_failure: read, decide, write; no failure may be lost. */
static int failure_change(struct store *st, void *ctx)
{
	struct person *p = ctx;
	int r = store_person_by_id_number(st, "8201", p);

	p->failures++;
	p->total_failures++;
	return r ? r : store_person_set_failures(st, p);
}

static int failure_racer(struct store *st, unsigned i, void *ctx)
{
	struct person p;

	(void)i;
	(void)ctx;
	return code_of(store_transaction(st, failure_change, &p), "failure", st);
}

static void test_race_failures(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8201", "S8201", "");
	int codes[RACERS];

	insert(f->st, &p);
	race(f->path, RACERS, failure_racer, NULL, codes);
	assert_codes("count a failure", codes, RACERS, RACERS, 0);
	assert_int_equal(raw_int(f->path, "SELECT failures FROM person WHERE id_number = '8201'"), RACERS);
	assert_int_equal(raw_int(f->path, "SELECT total_failures FROM person WHERE id_number = '8201'"), RACERS);
	assert_int_equal(raw_int(f->path, "SELECT version FROM person WHERE id_number = '8201'"), RACERS);
}

static int intent_change(struct store *st, void *ctx)
{
	struct person *p = ctx;
	int r = store_person_by_id_number(st, p->id_number, p);

	return r ? r : store_person_record_intent(st, p, 6000, 6000, "/home/x");
}

static int intent_racer(struct store *st, unsigned i, void *ctx)
{
	struct person p;

	(void)ctx;
	snprintf(p.id_number, sizeof(p.id_number), "83%02u", i);
	return code_of(store_transaction(st, intent_change, &p), "intent", st);
}

/* Machines choosing ids at once: one intent holds an id. */
static void test_race_intent(void **state)
{
	struct fixture *f = *state;
	int codes[RACERS];

	for (unsigned i = 0; i < RACERS; i++) {
		char id[16], user[16];
		struct person p;

		snprintf(id, sizeof(id), "83%02u", i);
		snprintf(user, sizeof(user), "user%u", i);
		p = person(id, id + 1, user);
		insert(f->st, &p);
	}
	raw_exec(f->path, "UPDATE person SET state = 1");
	race(f->path, RACERS, intent_racer, NULL, codes);
	assert_codes("record an intent", codes, RACERS, 1, 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person WHERE uid = 6000 OR gid = 6000"), 1);
}

#define AUDIT_ROWS 25

static int audit_racer(struct store *st, unsigned i, void *ctx)
{
	char result[32];
	int r = 0;

	(void)ctx;
	for (unsigned n = 0; r == 0 && n < AUDIT_ROWS; n++) {
		struct store_audit ev = { .event = "race", .service = "test", .result = result };

		snprintf(result, sizeof(result), "racer %u row %u", i, n);
		r = audit_record(st, LOG_DEBUG, &ev);
	}
	return code_of(r, "audit", st);
}

/* Appends from eight machines: one chain, no fork, no gap. */
static void test_race_audit_chain(void **state)
{
	struct fixture *f = *state;
	struct audit_verdict v;
	int codes[RACERS];

	race(f->path, RACERS, audit_racer, NULL, codes);
	assert_codes("append to the audit trail", codes, RACERS, RACERS, 0);
	assert_int_equal(audit_verify(f->st, &v), 0);
	assert_int_equal(v.rows, RACERS * AUDIT_ROWS);
	assert_int_equal(v.first_seq, 1);
	assert_int_equal(v.last_seq, RACERS * AUDIT_ROWS);
	assert_int_equal(v.broken_at, 0);
	assert_int_equal(v.missing_from, 0);
}

#define THROTTLE_ROWS 20

static int throttle_change(struct store *st, void *ctx)
{
	int64_t now = time(NULL);

	return store_throttle_add(st, ctx, now, now - 600);
}

static int throttle_racer(struct store *st, unsigned i, void *ctx)
{
	int r = 0;

	(void)i;
	for (unsigned n = 0; r == 0 && n < THROTTLE_ROWS; n++)
		r = store_transaction(st, throttle_change, ctx);
	return code_of(r, "throttle", st);
}

/* The per-host throttle counts the failures of every machine. */
static void test_race_throttle(void **state)
{
	struct fixture *f = *state;
	unsigned count = 0;
	int codes[RACERS];

	race(f->path, RACERS, throttle_racer, "192.0.2.7", codes);
	assert_codes("count a host's failures", codes, RACERS, RACERS, 0);
	assert_int_equal(store_throttle_count(f->st, "192.0.2.7", (int64_t)time(NULL) - 600, &count), 0);
	assert_int_equal(count, RACERS * THROTTLE_ROWS);
	assert_int_equal(store_throttle_count(f->st, "192.0.2.8", 0, &count), 0);
	assert_int_equal(count, 0);
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

	fresh_db(path, len, name);
	if (open_db(path, STORE_CREATE, &st, err, sizeof(err)) != 0)
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
	r = open_db(path, 0, &st, err, sizeof(err));
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

static struct store_lease lease_holder(const char *host, int64_t pid)
{
	struct store_lease l = { .pid = pid };

	snprintf(l.host, sizeof(l.host), "%s", host);
	return l;
}

/* What the dialogue and activatectl rely on: one holder; its own host takes over; an expired one is free. */
static void test_lease_semantics(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8701", "S8701", "leased");
	struct store_lease a = lease_holder("aaaa", 10), a2 = lease_holder("aaaa", 11), b = lease_holder("bbbb", 20), got;

	insert(f->st, &p);
	assert_int_equal(store_lease_get(f->st, p.rowid, &got), -ENOENT);
	assert_int_equal(store_lease_take(f->st, p.rowid, &a, 600), 0);
	assert_int_equal(store_lease_get(f->st, p.rowid, &got), 0);
	assert_string_equal(got.host, "aaaa");
	assert_int_equal(got.pid, 10);
	assert_true(got.until >= time(NULL) + 590);
	/* another machine: busy, and it can neither renew nor release what it does not hold */
	assert_int_equal(store_lease_take(f->st, p.rowid, &b, 600), -EBUSY);
	assert_int_equal(store_lease_renew(f->st, p.rowid, &b, 600), -ESTALE);
	assert_int_equal(store_lease_release(f->st, p.rowid, &b), 0);
	assert_int_equal(store_lease_get(f->st, p.rowid, &got), 0);
	assert_string_equal(got.host, "aaaa");
	/* the same machine (whose flock the caller holds): the old holder is gone, taken over */
	assert_int_equal(store_lease_take(f->st, p.rowid, &a2, 600), 0);
	assert_int_equal(store_lease_renew(f->st, p.rowid, &a, 600), -ESTALE);
	assert_int_equal(store_lease_renew(f->st, p.rowid, &a2, 0), 0);	/* now expired */
	assert_int_equal(store_lease_take(f->st, p.rowid, &b, 600), 0);	/* ...so another machine may */
	assert_int_equal(store_lease_renew(f->st, p.rowid, &a2, 600), -ESTALE);
	assert_int_equal(store_lease_release(f->st, p.rowid, &b), 0);
	assert_int_equal(store_lease_get(f->st, p.rowid, &got), -ENOENT);
	/* leases are not person data: a compare-and-swap on the person still holds */
	assert_int_equal(store_person_by_id_number(f->st, "8701", &p), 0);
	assert_int_equal(store_lease_take(f->st, p.rowid, &a, 600), 0);
	assert_int_equal(store_person_set_state(f->st, &p, PERSON_REVOKED), 0);
}

static int lease_racer(struct store *st, unsigned i, void *ctx)
{
	char host[16];
	struct store_lease me;
	int r;

	snprintf(host, sizeof(host), "machine%02u", i);
	me = lease_holder(host, 1000 + i);
	r = store_lease_take(st, *(int64_t *)ctx, &me, 600);
	return r == -EBUSY ? 1 : code_of(r, "lease", st);
}

/* Sixteen machines take one person's lease at once: one has it. */
static void test_race_lease(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8751", "S8751", "racer");
	int codes[RACERS * 2];

	insert(f->st, &p);
	race(f->path, RACERS * 2, lease_racer, &p.rowid, codes);
	assert_codes("take a lease", codes, RACERS * 2, 1, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM person_lease"), 1);
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
	if (backend == SQLITE)
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


/* --- PostgreSQL's own: TLS, the password, migrations, conflicts, outages --- */

static int try_open(const char *db, const struct store_options *o, struct store **st, char *err)
{
	err[0] = '\0';
	*st = (struct store *)st;	/* must come back NULL on failure */
	return store_open_with(db, o, 0, st, err, ERR_MAX);
}

static void test_pg_connections(void **state)
{
	char db[PATH_MAX], url[3 * PATH_MAX], other_ca[PATH_MAX + 32], pw[PATH_MAX], link[PATH_MAX + 8];
	char err[ERR_MAX];
	struct store_options o = options(), none = { NULL, NULL, 0 }, bad;
	struct store *st;

	(void)state;
	fresh_db(db, sizeof(db), "tls");
	/* verify-full with the CA (the fixtures' way) */
	assert_int_equal(try_open(db, &o, &st, err), 0);
	store_close(st);
	/* the Unix socket needs no TLS; the password still */
	snprintf(url, sizeof(url), "postgresql:///%s?host=%s&port=%u&user=activate", pg_dbname(db), pg.socket, pg.port);
	bad = none;
	bad.password_file = pg.password;
	assert_int_equal(try_open(url, &bad, &st, err), 0);
	assert_string_equal(store_backend_name(st), "postgresql");
	store_close(st);
	/* TCP without a CA: refused before anything is sent */
	bad = o;
	bad.ca_file = NULL;
	assert_int_equal(try_open(db, &bad, &st, err), -EINVAL);
	assert_null(st);
	assert_contains("TCP without a CA", err, "needs database_ca_file");
	/* a CA that signed nothing of the server's */
	snprintf(other_ca, sizeof(other_ca), "%s/tls/other-ca.pem", pg.dir);
	bad = o;
	bad.ca_file = other_ca;
	assert_int_not_equal(try_open(db, &bad, &st, err), 0);
	assert_null(st);
	assert_contains("another CA", err, "certificate");
	/* the right CA, the wrong host name */
	snprintf(url, sizeof(url), "postgresql://activate@pam-activate-test.invalid:%u/%s?hostaddr=127.0.0.1",
		 pg.port, pg_dbname(db));
	assert_int_not_equal(try_open(url, &o, &st, err), 0);
	assert_null(st);
	assert_contains("the wrong host name", err, "does not match");
	/* sslmode=disable in the URL changes nothing: pg_hba takes TLS only */
	snprintf(url, sizeof(url), "%s?sslmode=disable", db);
	assert_int_equal(try_open(url, &o, &st, err), 0);
	store_close(st);
	/* a password in the URL */
	snprintf(url, sizeof(url), "postgresql://activate:secret@localhost:%u/%s", pg.port, pg_dbname(db));
	assert_int_equal(try_open(url, &o, &st, err), -EINVAL);
	assert_contains("a password in the URL", err, "database_password_file");
	assert_null(strstr(err, "secret"));
	/* the password file: private to root, not a link, the right password */
	tu_path(pw, sizeof(pw), dir, "pg-password");
	bad = o;
	bad.password_file = pw;
	tu_write_file(pw, "wrong\n", 6, 0600);
	assert_int_not_equal(try_open(db, &bad, &st, err), 0);
	assert_contains("a wrong password", err, "password authentication failed");
	assert_null(strstr(err, "wrong\n"));
	tu_write_file(pw, "x\n", 2, 0644);
	assert_int_equal(try_open(db, &bad, &st, err), -EPERM);
	assert_contains("a readable password file", err, "0644");
	assert_int_equal(chmod(pw, 0600), 0);
	assert_int_equal(chown(pw, 1, 0), 0);
	assert_int_equal(try_open(db, &bad, &st, err), -EPERM);
	assert_contains("someone else's password file", err, "owner 1");
	snprintf(link, sizeof(link), "%s.link", pw);
	assert_int_equal(symlink(pg.password, link), 0);
	bad.password_file = link;
	assert_int_equal(try_open(db, &bad, &st, err), -ELOOP);
	assert_contains("a linked password file", err, "symbolic link");
	/* a URL libpq cannot read */
	assert_int_equal(try_open("postgresql://localhost/x?nosuchoption=1", &o, &st, err), -EINVAL);
}

static int open_racer(struct store *st, unsigned i, void *ctx)
{
	int version = 0;
	int r = store_schema_version(st, &version);

	(void)i;
	(void)ctx;
	return r == 0 && version == STORE_SCHEMA_VERSION ? 0 : 3;
}

/* Helpers opening a new database at once: one makes the schema, the others find it made. */
static void test_pg_migrations(void **state)
{
	char db[PATH_MAX], err[ERR_MAX], want[64];
	int codes[RACERS];
	struct store *st;

	(void)state;
	fresh_db(db, sizeof(db), "migrate");
	race(db, RACERS, open_racer, NULL, codes);	/* each opens (and migrates) before the race */
	assert_codes("open a new database", codes, RACERS, RACERS, 0);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM store_schema"), 1);
	assert_int_equal(raw_int(db, "SELECT version FROM store_schema"), STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pg_tables WHERE tablename IN "
				 "('person', 'throttle', 'audit')"), 3);
	/* the trail is append-only there too */
	assert_int_equal(open_db(db, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(audit_record(st, LOG_DEBUG, &(struct store_audit){ .event = "e", .result = "r" }), 0);
	store_close(st);
	{
		PGconn *c = pg_raw_open(pg_dbname(db));
		PGresult *res = PQexec(c, "UPDATE audit SET result = 'edited'");

		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		assert_contains("an edited audit row", PQresultErrorMessage(res), "append-only");
		PQclear(res);
		PQfinish(c);
	}
	raw_exec(db, "UPDATE store_schema SET version = version + 1");
	assert_int_equal(try_open(db, &(struct store_options){ pg.password, pg.ca, 0 }, &st, err), -EPROTO);
	snprintf(want, sizeof(want), "schema %d is newer", STORE_SCHEMA_VERSION + 1);
	assert_contains("a newer schema", err, want);
}

static int read_change(struct store *st, void *ctx)
{
	struct person p;
	struct store_audit ev = { .event = "pooled", .result = "ok" };
	int r = store_person_by_id_number(st, ctx, &p);

	return r ? r : audit_append(st, &ev);
}

/*
 * Through PgBouncer with one server connection, whatever a transaction of
 * the store set or locked would be seen by the next client: nothing is.
 */
static void test_bouncer_no_session_state(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8701", "S8701", "pooled");
	const char *keys[] = { "host", "port", "user", "dbname", "password", NULL };
	char host[PATH_MAX + 16], port[16], password[128] = "";
	const char *values[6] = { host, port, "activate", pg_dbname(f->path), password, NULL };
	static const char *const checks[][2] = {
		{ "SHOW statement_timeout", "0" },
		{ "SHOW idle_in_transaction_session_timeout", "0" },
		{ "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "0" },
		{ "SELECT count(*) FROM pg_prepared_statements", "0" },
	};
	FILE *pw = fopen(pg.password, "r");
	PGconn *c;

	insert(f->st, &p);
	assert_int_equal(store_transaction(f->st, read_change, "8701"), 0);
	assert_non_null(pw);
	assert_non_null(fgets(password, sizeof(password), pw));
	fclose(pw);
	password[strcspn(password, "\n")] = '\0';
	snprintf(host, sizeof(host), "%s/bouncer", pg.dir);
	snprintf(port, sizeof(port), "%u", pg.bouncer);
	c = PQconnectdbParams(keys, values, 0);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	for (size_t i = 0; i < N_ELEMS(checks); i++) {
		PGresult *res = pg_raw_exec(c, checks[i][0]);

		if (strcmp(PQgetvalue(res, 0, 0), checks[i][1]) != 0)
			fail_msg("%s: %s after the store's transaction, want %s", checks[i][0], PQgetvalue(res, 0, 0),
				 checks[i][1]);
		PQclear(res);
	}
	PQfinish(c);
	sodium_memzero(password, sizeof(password));
}

/* Two transactions locking two rows in opposite orders: the server ends one, and it runs again. */
struct crossing {
	const char *first, *second;	/* ID numbers, in the order this one locks them */
	int mine, theirs;		/* pipe ends: "I hold my first row" */
	unsigned attempts;
};

static int cross_change(struct store *st, void *ctx)
{
	struct crossing *x = ctx;
	struct person a, b;
	char c = 'x';
	int r;

	x->attempts++;
	r = store_person_by_id_number(st, x->first, &a);
	/* the first attempt waits until the other holds its first row: then each wants the other's */
	if (r == 0 && x->attempts == 1 && (write(x->mine, &c, 1) != 1 || read(x->theirs, &c, 1) != 1))
		r = -EIO;
	if (r == 0)
		r = store_person_by_id_number(st, x->second, &b);
	a.failures++;
	b.failures++;
	if (r == 0)
		r = store_person_set_failures(st, &a);
	return r ? r : store_person_set_failures(st, &b);
}

static void test_pg_deadlock_run_again(void **state)
{
	struct fixture *f = *state;
	struct person a = person("8401", "S8401", ""), b = person("8402", "S8402", "");
	int ab[2], ba[2];
	pid_t pid[2];

	insert(f->st, &a);
	insert(f->st, &b);
	assert_int_equal(pipe(ab), 0);
	assert_int_equal(pipe(ba), 0);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct crossing x = { i ? "8402" : "8401", i ? "8401" : "8402",
					      i ? ba[1] : ab[1], i ? ab[0] : ba[0], 0 };
			char err[ERR_MAX];
			struct store *st;
			int r;

			if (open_db(f->path, 0, &st, err, sizeof(err)) != 0)
				_exit(100);
			r = store_transaction(st, cross_change, &x);
			if (r)
				fprintf(stderr, "crossing %d: %d (%s)\n", i, r, store_errmsg(st));
			store_close(st);
			_exit(r ? 3 : 10 + (int)x.attempts);
		}
	}
	{
		int status[2], attempts = 0;

		for (int i = 0; i < 2; i++) {
			assert_int_equal(waitpid(pid[i], &status[i], 0), pid[i]);
			assert_true(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) >= 11);
			attempts += WEXITSTATUS(status[i]) - 10;
		}
		assert_int_equal(attempts, 3);	/* one of them ran twice */
	}
	assert_int_equal(raw_int(f->path, "SELECT sum(failures) FROM person"), 4);
	assert_int_equal(raw_int(f->path, "SELECT min(failures) FROM person"), 2);
}

static void pgserver_on(const char *verb)
{
	char args[PATH_MAX + 16];

	snprintf(args, sizeof(args), "%s '%s'", verb, pg.dir);
	if (pgserver(args, NULL, 0) != 0)
		fail_msg("pgserver.sh %s failed", verb);
}

/* The server stopped: every call fails (the helper says "not available"), nothing half-done. */
static void test_pg_server_down(void **state)
{
	struct fixture *f = *state;
	struct person p = person("8501", "S8501", ""), q = person("8502", "S8502", ""), out;
	char err[ERR_MAX];
	struct store *st;

	insert(f->st, &p);
	assert_int_equal(store_begin(f->st), 0);
	insert(f->st, &q);
	pgserver_on("halt");
	assert_int_not_equal(store_commit(f->st), 0);
	store_rollback(f->st);
	assert_int_not_equal(store_person_by_id_number(f->st, "8501", &out), 0);
	assert_int_not_equal(store_begin(f->st), 0);
	assert_int_not_equal(try_open(f->path, &(struct store_options){ pg.password, pg.ca, 0 }, &st, err), 0);
	assert_null(st);
	assert_contains("the server down", err, "database: ");
	pgserver_on("resume");
	/* the connection is not used again; a new one finds what was committed, and only that */
	assert_int_equal(open_db(f->path, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(store_person_by_id_number(st, "8501", &out), 0);
	assert_int_equal(store_person_by_id_number(st, "8502", &out), -ENOENT);
	store_close(st);
}

/* The server not answering at all (stopped, not gone): each call gives up within database_timeout. */
static void test_pg_no_answer(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options();
	struct person p = person("8601", "S8601", ""), out;
	char err[ERR_MAX];
	struct store *st, *again;

	o.timeout = 1;
	insert(f->st, &p);
	assert_int_equal(store_open_with(f->path, &o, 0, &st, err, sizeof(err)), 0);
	alarm(120);	/* a hang fails the test rather than the run */
	pgserver_on("freeze");
	assert_int_equal(store_person_by_id_number(st, "8601", &out), -ETIMEDOUT);
	assert_contains("no answer", store_errmsg(st), "no answer from the database");
	assert_int_equal(store_begin(st), -ENOTCONN);
	assert_int_not_equal(store_open_with(f->path, &o, 0, &again, err, sizeof(err)), 0);
	assert_null(again);
	pgserver_on("thaw");
	alarm(0);
	store_close(st);
	assert_int_equal(store_person_by_id_number(f->st, "8601", &out), 0);
}

#define GENERIC_TESTS \
	cmocka_unit_test_setup_teardown(test_duplicates, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_empty_usernames_are_null, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_missing_rowid, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_lookups_and_round_trip, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_set_pin_and_unlock, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_foreach, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_transactions, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_cas_semantics, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_snapshot, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_spend_pin, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_activate, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_reserve, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_failures, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_intent, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_audit_chain, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_throttle, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_lease_semantics, fixture_setup, fixture_teardown), \
	cmocka_unit_test_setup_teardown(test_race_lease, fixture_setup, fixture_teardown), \
	cmocka_unit_test(test_two_writers)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		cmocka_unit_test(test_create_fresh),
		cmocka_unit_test(test_migrate_empty_file),
		cmocka_unit_test(test_newer_schema_refused),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_open_dispatch),
		GENERIC_TESTS,
		cmocka_unit_test(test_busy_wait),
	};
	const struct CMUnitTest postgres_tests[] = {
		GENERIC_TESTS,
		cmocka_unit_test(test_pg_connections),
		cmocka_unit_test(test_pg_migrations),
		cmocka_unit_test_setup_teardown(test_pg_deadlock_run_again, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_pg_server_down, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_pg_no_answer, fixture_setup, fixture_teardown),
	};
	const struct CMUnitTest bouncer_tests[] = {
		GENERIC_TESTS,
		cmocka_unit_test_setup_teardown(test_bouncer_no_session_state, fixture_setup, fixture_teardown),
	};
	int failed = cmocka_run_group_tests_name("sqlite", sqlite_tests, group_setup, group_teardown);

	failed += cmocka_run_group_tests_name("postgresql", postgres_tests, pg_group_setup, pg_group_teardown);
	return failed + cmocka_run_group_tests_name("pgbouncer", bouncer_tests, bouncer_group_setup,
						    pg_group_teardown);
}
