/*
 * store/sqlite.c: the activation database in SQLite, a file on this machine
 * (the default backend; store.c forwards to the table at the end).
 *
 * The file is checked before SQLite sees it (root-owned, private, not a
 * link); the schema is versioned with PRAGMA user_version and migrated in
 * order; statements are prepared once per connection and reused, which is
 * what keeps a nightly re-import of a whole roster to seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_backend.h"

enum stmt_id {
	ST_BY_ID, ST_BY_STUDENT, ST_BY_USERNAME, ST_INSERT, ST_UPDATE_ROSTER,
	ST_SET_PIN, ST_UNLOCK, ST_SET_STATE, ST_SET_USERNAME, ST_ALL, ST_BY_STATE, ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SET_FAILURES, ST_THROTTLE_COUNT, ST_THROTTLE_ADD, ST_THROTTLE_PRUNE, ST_THROTTLE_REBASE,
	ST_AUDIT_LAST, ST_AUDIT_INSERT, ST_AUDIT_ROWS, ST_RESERVE, ST_ACTIVATE, ST_SPEND_PIN,
	ST_INTENT, ST_SET_RENAME_TO, ST_UID_HELD, ST_SET_REVOKE_EXPIRE, ST_NAME_PENDING,
	ST_THROTTLE_ALL, ST_COPY_PERSON, ST_COPY_AUDIT,
	ST_LEASE_TAKE, ST_LEASE_RENEW, ST_LEASE_RELEASE, ST_LEASE_GET,
	ST_COUNT
};

#define PERSON_COLUMNS STORE_PERSON_COLUMNS

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BY_ID] = "SELECT " PERSON_COLUMNS " FROM person WHERE id_number = ?1",
	[ST_BY_STUDENT] = "SELECT " PERSON_COLUMNS " FROM person WHERE student_number = ?1",
	[ST_BY_USERNAME] = "SELECT " PERSON_COLUMNS " FROM person WHERE username = ?1",
	[ST_INSERT] = "INSERT INTO person (id_number, student_number, given_name, family_name, "
		"kind, programme, fee_paid_on, username, email, created, updated, language) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?13)",
	/* a PIN is bound to the ID number it was hashed with: a new number voids it */
	[ST_UPDATE_ROSTER] = "UPDATE person SET student_number = ?2, given_name = ?3, "
		"family_name = ?4, kind = ?5, programme = ?6, fee_paid_on = ?7, username = ?8, "
		"email = ?9, updated = ?10, version = version + 1, id_number = ?12, language = ?13, "
		"pin_hash = CASE WHEN id_number = ?12 THEN pin_hash END, "
		"pin_expires = CASE WHEN id_number = ?12 THEN pin_expires ELSE 0 END "
		"WHERE rowid = ?1 AND version = ?11",
	[ST_SET_PIN] = "UPDATE person SET pin_hash = ?2, pin_expires = ?3, pin_spent = 0, "
		"failures = 0, total_failures = 0, locks = 0, locked_until = 0, updated = ?4, "
		"version = version + 1 WHERE rowid = ?1 AND version = ?5",
	[ST_UNLOCK] = "UPDATE person SET failures = 0, locks = 0, locked_until = 0, updated = ?2, "
		"version = version + 1 WHERE rowid = ?1",
	[ST_SET_STATE] = "UPDATE person SET state = ?2, updated = ?3, version = version + 1, "
		"revoked_from = CASE WHEN ?2 = 3 AND state <> 3 THEN state ELSE revoked_from END "
		"WHERE rowid = ?1 AND version = ?4",
	/* the intent's home follows the name when it is .../OLD */
	[ST_SET_USERNAME] = "UPDATE person SET username = ?2, rename_to = NULL, updated = ?3, "
		"home = CASE WHEN username IS NOT NULL AND substr(home, -length(username) - 1) = '/' || username "
		"THEN substr(home, 1, length(home) - length(username)) || ?2 ELSE home END, "
		"version = version + 1 WHERE rowid = ?1 AND version = ?4",
	[ST_ALL] = "SELECT " PERSON_COLUMNS " FROM person ORDER BY id_number",
	[ST_BY_STATE] = "SELECT " PERSON_COLUMNS " FROM person WHERE state = ?1 ORDER BY id_number",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SET_FAILURES] = "UPDATE person SET failures = ?2, total_failures = ?3, locks = ?4, "
		"locked_until = ?5, updated = ?6, version = version + 1 WHERE rowid = ?1 AND version = ?7",
	[ST_THROTTLE_COUNT] = "SELECT count(*) FROM throttle WHERE rhost = ?1 AND at >= ?2",
	[ST_THROTTLE_ADD] = "INSERT INTO throttle (rhost, at) VALUES (?1, ?2)",
	[ST_THROTTLE_PRUNE] = "DELETE FROM throttle WHERE at < ?1",
	[ST_THROTTLE_REBASE] = "UPDATE throttle SET at = ?1 WHERE at > ?1",
	[ST_AUDIT_LAST] = "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (at, event, person, username, service, rhost, tty, "
		"result, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_AUDIT_ROWS] = "SELECT seq, at, event, person, username, service, rhost, tty, result, hash "
		"FROM audit WHERE at >= ?1 AND (?2 = 0 OR person = ?2) ORDER BY seq",
	[ST_RESERVE] = "UPDATE person SET username = ?2, state = 1, terms_accepted = ?3, "
		"terms_hash = ?4, updated = ?5, version = version + 1 "
		"WHERE rowid = ?1 AND version = ?6 AND state IN (0, 1)",
	[ST_ACTIVATE] = "UPDATE person SET state = 2, pin_spent = ?3, failures = 0, locks = 0, "
		"updated = ?3, version = version + 1 WHERE rowid = ?1 AND state = 1 AND uid = ?2 "
		"AND username = ?4 AND coalesce(pin_hash, '') = ?5 AND pin_spent = 0",
	[ST_SPEND_PIN] = "UPDATE person SET pin_spent = ?2, failures = 0, updated = ?4, version = version + 1 "
		"WHERE rowid = ?1 AND state = 2 AND pin_hash = ?3 AND pin_spent = ?5",
	[ST_INTENT] = "UPDATE person SET uid = ?3, gid = ?4, home = ?5, updated = ?6, version = version + 1 "
		"WHERE rowid = ?1 AND state = 1 AND username = ?2",
	[ST_SET_REVOKE_EXPIRE] = "UPDATE person SET revoke_expire = ?2, updated = ?3, version = version + 1 "
		"WHERE rowid = ?1 AND version = ?4",
	[ST_NAME_PENDING] = "SELECT count(*) FROM person WHERE rename_to = ?1 AND rowid <> ?2",
	[ST_UID_HELD] = "SELECT count(*) FROM person WHERE (uid = ?1 OR gid = ?1) AND rowid <> ?2",
	[ST_SET_RENAME_TO] = "UPDATE person SET rename_to = ?2, updated = ?3, version = version + 1 "
		"WHERE rowid = ?1 AND version = ?4",
	[ST_THROTTLE_ALL] = "SELECT rhost, at FROM throttle ORDER BY rowid",
	[ST_COPY_PERSON] = "INSERT INTO person (" PERSON_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
		"?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
	[ST_COPY_AUDIT] = "INSERT INTO audit (seq, at, event, person, username, service, rhost, tty, result, hash) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/* an expired lease, or one of this host's (whose flock the caller holds), is taken over */
	[ST_LEASE_TAKE] = "INSERT INTO person_lease (person, host, pid, until) VALUES (?1, ?2, ?3, ?4 + ?5) "
		"ON CONFLICT (person) DO UPDATE SET host = excluded.host, pid = excluded.pid, until = excluded.until "
		"WHERE person_lease.until <= ?4 OR person_lease.host = excluded.host",
	[ST_LEASE_RENEW] = "UPDATE person_lease SET until = ?4 + ?5 WHERE person = ?1 AND host = ?2 AND pid = ?3",
	[ST_LEASE_RELEASE] = "DELETE FROM person_lease WHERE person = ?1 AND host = ?2 AND pid = ?3",
	[ST_LEASE_GET] = "SELECT host, pid, until FROM person_lease WHERE person = ?1",
};

/* Migration N takes user_version N to N+1. Never edit one that has shipped. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE person ("
	" id_number TEXT NOT NULL UNIQUE CHECK (length(id_number) BETWEEN 1 AND 64),"
	" student_number TEXT NOT NULL UNIQUE CHECK (length(student_number) BETWEEN 1 AND 64),"
	" given_name TEXT NOT NULL,"
	" family_name TEXT NOT NULL,"
	" kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 2),"
	" programme TEXT,"
	" fee_paid_on TEXT CHECK (fee_paid_on IS NULL OR length(fee_paid_on) = 10),"
	" username TEXT UNIQUE,"
	" email TEXT,"
	" pin_hash TEXT,"
	" pin_expires INTEGER NOT NULL DEFAULT 0,"
	" pin_spent INTEGER NOT NULL DEFAULT 0,"
	" failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),"
	" total_failures INTEGER NOT NULL DEFAULT 0 CHECK (total_failures >= 0),"
	" locks INTEGER NOT NULL DEFAULT 0 CHECK (locks >= 0),"
	" locked_until INTEGER NOT NULL DEFAULT 0,"
	" uid INTEGER,"
	" state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),"
	" terms_accepted INTEGER NOT NULL DEFAULT 0,"
	" terms_hash TEXT,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL);"
	"CREATE INDEX person_state ON person (state);"
	"CREATE TABLE throttle ("
	" rhost TEXT NOT NULL,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX throttle_rhost_at ON throttle (rhost, at);"
	"CREATE TABLE audit ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" at INTEGER NOT NULL,"
	" event TEXT NOT NULL,"
	" person INTEGER,"
	" username TEXT,"
	" service TEXT,"
	" rhost TEXT,"
	" tty TEXT,"
	" result TEXT NOT NULL,"
	" hash BLOB NOT NULL);"
	"CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",
	/* 2: the compare-and-swap version, the rest of the intent, a rename under way */
	"ALTER TABLE person ADD COLUMN version INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE person ADD COLUMN gid INTEGER;"
	"ALTER TABLE person ADD COLUMN home TEXT;"
	"ALTER TABLE person ADD COLUMN rename_to TEXT;"
	"ALTER TABLE person ADD COLUMN revoked_from INTEGER;"
	"ALTER TABLE person ADD COLUMN revoke_expire TEXT;"
	"CREATE INDEX person_uid ON person (uid);"
	"CREATE INDEX person_gid ON person (gid);"
	"UPDATE person SET gid = uid WHERE uid IS NOT NULL;",
	/* 3: the language of a person's letters (roster column "language") */
	"ALTER TABLE person ADD COLUMN language TEXT;",
	/* 4: the person lease, held by one machine's dialogue or command at a time */
	"CREATE TABLE person_lease ("
	" person INTEGER PRIMARY KEY,"
	" host TEXT NOT NULL,"
	" pid INTEGER NOT NULL,"
	" until INTEGER NOT NULL);",
};

struct sqlite_store {
	struct store base;	/* first: store.c sees only this */
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
};

static struct sqlite_store *sq(struct store *st)
{
	return (struct sqlite_store *)st;
}

static int map_rc(int rc)
{
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EINVAL;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* The directory must not let anyone but root swap the database under us. */
static int check_dir(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	struct stat st;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	if (lstat(dirname(copy), &st) != 0) {
		r = -errno;
		snprintf(err, errlen, "%s: directory: %s", path, strerror(errno));
	} else if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		r = -EPERM;
		snprintf(err, errlen, "%s: its directory must be a directory owned by root "
			 "and writable by root only", path);
	}
	free(copy);
	return r;
}

static int check_path(const char *path, int flags, char *err, size_t errlen)
{
	int oflags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
	int fd, r;

	r = check_dir(path, err, errlen);
	if (r)
		return r;
	fd = open(path, oflags);
	if (fd < 0 && errno == ENOENT && (flags & STORE_CREATE))
		fd = open(path, oflags | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		r = -errno;
		if (errno == ELOOP)
			snprintf(err, errlen, "%s: is a symbolic link; refusing it", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	r = store_check_private(fd, path, "0600", err, errlen);
	close(fd);
	return r;
}

static int sqlite_schema_version(struct store *st, int *version);

static int exec_sql(struct store *st, const char *sql)
{
	return map_rc(sqlite3_exec(sq(st)->db, sql, NULL, NULL, NULL));
}

static int run_migrations(struct store *st, char *err, size_t errlen)
{
	int version = 0, r;

	/* the common case, a current schema, takes no write lock */
	if (sqlite_schema_version(st, &version) == 0 && version == STORE_SCHEMA_VERSION)
		return 0;
	r = exec_sql(st, "BEGIN IMMEDIATE");
	if (r)
		goto fail;
	r = sqlite_schema_version(st, &version);
	if (r == 0 && version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema %d is newer than this program (%d)",
			 version, STORE_SCHEMA_VERSION);
		exec_sql(st, "ROLLBACK");
		return -EPROTO;
	}
	for (; r == 0 && version < STORE_SCHEMA_VERSION; version++) {
		char pragma[64];

		r = exec_sql(st, migrations[version]);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if (r == 0)
			r = exec_sql(st, pragma);
	}
	if (r == 0)
		r = exec_sql(st, "COMMIT");
	if (r == 0)
		return 0;
	exec_sql(st, "ROLLBACK");
fail:
	snprintf(err, errlen, "database schema: %s", sqlite3_errmsg(sq(st)->db));
	return r;
}

static int prepare_all(struct store *st, char *err, size_t errlen)
{
	for (int i = 0; i < ST_COUNT; i++) {
		int rc = sqlite3_prepare_v3(sq(st)->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &sq(st)->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "database: %s", sqlite3_errmsg(sq(st)->db));
			return map_rc(rc);
		}
	}
	return 0;
}

static int configure(struct store *st, unsigned timeout, char *err, size_t errlen)
{
	int r;

	sqlite3_busy_timeout(sq(st)->db, timeout > INT_MAX / 1000 ? INT_MAX : (int)timeout * 1000);
	/*
	 * FULL: a commit is on disk before the account files change after it
	 * (the intent) or the person is told (a spent PIN); NORMAL in WAL mode
	 * may lose the last commits at a power cut.
	 */
	r = exec_sql(st, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
		     "PRAGMA journal_size_limit = 1048576; "
		     "PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF");
	if (r)
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(sq(st)->db));
	return r;
}

static void sqlite_close(struct store *st);

static int sqlite_open(const char *path, const struct store_options *opt, int flags, struct store **out,
		       char *err, size_t errlen)
{
	struct sqlite_store *s;
	struct store *st;
	int r;

	*out = NULL;
	r = check_path(path, flags, err, errlen);
	if (r)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	st = &s->base;
	st->be = &store_sqlite;
	r = map_rc(sqlite3_open_v2(path, &sq(st)->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW
				   | SQLITE_OPEN_FULLMUTEX, NULL));
	if (sq(st)->db)
		sqlite3_extended_result_codes(sq(st)->db, 1);
	if (r) {
		snprintf(err, errlen, "%s: %s", path, sq(st)->db ? sqlite3_errmsg(sq(st)->db) : "cannot open");
		goto fail;
	}
	r = configure(st, store_timeout(opt), err, errlen);
	if (r == 0)
		r = run_migrations(st, err, errlen);
	/*
	 * Keep the -wal file when the last connection closes: it is still
	 * checkpointed into the database and then cut to zero bytes (that is
	 * what journal_size_limit does at close), so the .db alone stays
	 * complete. Otherwise every helper creates it anew and pays for
	 * syncing it and the directory.
	 */
	if (r == 0)
		sqlite3_file_control(sq(st)->db, "main", SQLITE_FCNTL_PERSIST_WAL, &(int){ 1 });
	if (r == 0)
		r = prepare_all(st, err, errlen);
	if (r)
		goto fail;
	*out = st;
	return 0;
fail:
	sqlite_close(st);
	return r;
}

static void sqlite_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(sq(st)->stmt[i]);
	sqlite3_close(sq(st)->db);
	free(st);
}

static const char *sqlite_errmsg(struct store *st)
{
	return sqlite3_errmsg(sq(st)->db);
}

/* Run a prepared statement to completion; reset it whatever happens. */
/*
 * Binding a text or a blob copies it (SQLITE_TRANSIENT), and the copy can
 * fail. The parameter then stays NULL, and a statement run anyway would
 * look up nobody (the right details "do not match"), or append an audit row
 * that lost a field its chain hash covers (found by error injection). So
 * the first failure of a bind is kept, and the next step does not run but
 * returns it. Binds and their step are always in one function of one
 * process (the import hashes in processes, not threads).
 */
static int bind_failure = SQLITE_OK;

static int keep_failure(int rc)
{
	if (rc != SQLITE_OK && bind_failure == SQLITE_OK)
		bind_failure = rc;
	return rc;
}

static int bind_text(sqlite3_stmt *s, int col, const char *text, int n, void (*del)(void *))
{
	return keep_failure(sqlite3_bind_text(s, col, text, n, del));
}

static int bind_blob(sqlite3_stmt *s, int col, const void *data, int n, void (*del)(void *))
{
	return keep_failure(sqlite3_bind_blob(s, col, data, n, del));
}

static int step(sqlite3_stmt *s)
{
	int b = bind_failure;

	bind_failure = SQLITE_OK;
	if (b != SQLITE_OK) {
		sqlite3_clear_bindings(s);
		return b;
	}
	return sqlite3_step(s);
}

static int step_done(sqlite3_stmt *s)
{
	int rc = step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : map_rc(rc == SQLITE_ROW ? SQLITE_MISUSE : rc);
}

static int sqlite_begin(struct store *st)
{
	return step_done(sq(st)->stmt[ST_BEGIN]);
}

static int sqlite_commit(struct store *st)
{
	return step_done(sq(st)->stmt[ST_COMMIT]);
}

static void sqlite_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(sq(st)->db))
		step_done(sq(st)->stmt[ST_ROLLBACK]);
}

/* The copy is made into an empty file of mode 0600: as private as the database, whatever the umask. */
static int sqlite_snapshot(struct store *st, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	sqlite3_stmt *s;
	int rc;

	if (fd < 0)
		return -errno;
	close(fd);
	rc = sqlite3_prepare_v2(sq(st)->db, "VACUUM INTO ?1", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	bind_text(s, 1, path, -1, SQLITE_TRANSIENT);
	rc = step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int sqlite_schema_version(struct store *st, int *version)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(sq(st)->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	rc = step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

/* Column i of the current row as text; NULL for SQL NULL. */
static const char *column_of(void *stmt, int i)
{
	return (const char *)sqlite3_column_text(stmt, i);
}

static void read_person(sqlite3_stmt *s, struct person *p)
{
	store_read_person(p, column_of, s);
}

/* Empty text is stored as NULL, so UNIQUE applies only to real usernames. */
static int bind_text_or_null(sqlite3_stmt *s, int col, const char *text)
{
	if (!text || !*text)
		return sqlite3_bind_null(s, col);
	return bind_text(s, col, text, -1, SQLITE_TRANSIENT);
}

static int find_one(struct store *st, enum stmt_id id, const char *key, struct person *out)
{
	sqlite3_stmt *s = sq(st)->stmt[id];
	int rc;

	bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
	rc = step(s);
	if (rc == SQLITE_ROW)
		read_person(s, out);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

static int sqlite_person_by_id_number(struct store *st, const char *id_number, struct person *out)
{
	return find_one(st, ST_BY_ID, id_number, out);
}

static int sqlite_person_by_student_number(struct store *st, const char *student_number, struct person *out)
{
	return find_one(st, ST_BY_STUDENT, student_number, out);
}

static int sqlite_person_by_username(struct store *st, const char *username, struct person *out)
{
	return find_one(st, ST_BY_USERNAME, username, out);
}

static void bind_roster(sqlite3_stmt *s, const struct person *p, int64_t now)
{
	bind_text(s, 2, p->student_number, -1, SQLITE_TRANSIENT);
	bind_text(s, 3, p->given_name, -1, SQLITE_TRANSIENT);
	bind_text(s, 4, p->family_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 5, p->kind);
	bind_text_or_null(s, 6, p->programme);
	bind_text_or_null(s, 7, p->fee_paid_on);
	bind_text_or_null(s, 8, p->username);
	bind_text_or_null(s, 9, p->email);
	sqlite3_bind_int64(s, 10, now);
	bind_text_or_null(s, 13, p->language);
}

static int sqlite_person_insert(struct store *st, struct person *p)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_INSERT];
	int64_t now = time(NULL);
	int r;

	bind_text(s, 1, p->id_number, -1, SQLITE_TRANSIENT);
	bind_roster(s, p, now);
	r = step_done(s);
	if (r == 0) {
		p->rowid = sqlite3_last_insert_rowid(sq(st)->db);
		p->created = p->updated = now;
		p->state = PERSON_PENDING;
		p->uid = -1;
	}
	return r;
}

static int changed_one(struct store *st, int r)
{
	if (r == 0 && sqlite3_changes(sq(st)->db) == 0)
		return -ENOENT;
	return r;
}

/* A compare-and-swap that found the row changed (or gone) is -ESTALE. */
static int swapped(struct store *st, int r)
{
	r = changed_one(st, r);
	return r == -ENOENT ? -ESTALE : r;
}

static int sqlite_person_update_roster(struct store *st, const struct person *p)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_UPDATE_ROSTER];

	sqlite3_bind_int64(s, 1, p->rowid);
	bind_roster(s, p, time(NULL));
	sqlite3_bind_int64(s, 11, p->version);
	bind_text(s, 12, p->id_number, -1, SQLITE_TRANSIENT);
	return swapped(st, step_done(s));
}

static int sqlite_person_set_pin(struct store *st, const struct person *p, const char *hash, int64_t expires)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_SET_PIN];

	sqlite3_bind_int64(s, 1, p->rowid);
	bind_text(s, 2, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, expires);
	sqlite3_bind_int64(s, 4, time(NULL));
	sqlite3_bind_int64(s, 5, p->version);
	return swapped(st, step_done(s));
}

static int sqlite_person_unlock(struct store *st, int64_t rowid)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_UNLOCK];

	sqlite3_bind_int64(s, 1, rowid);
	sqlite3_bind_int64(s, 2, time(NULL));
	return changed_one(st, step_done(s));
}

static int sqlite_person_set_state(struct store *st, const struct person *p, int state)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_SET_STATE];

	sqlite3_bind_int64(s, 1, p->rowid);
	sqlite3_bind_int(s, 2, state);
	sqlite3_bind_int64(s, 3, time(NULL));
	sqlite3_bind_int64(s, 4, p->version);
	return swapped(st, step_done(s));
}

/* One text column of p (?2; NULL text: NULL), compare-and-swap on its version (?4). */
static int set_text_swapped(struct store *st, enum stmt_id id, const struct person *p, const char *text)
{
	sqlite3_stmt *s = sq(st)->stmt[id];

	sqlite3_bind_int64(s, 1, p->rowid);
	bind_text(s, 2, text, -1, SQLITE_TRANSIENT);	/* NULL binds NULL; "" stays "" */
	sqlite3_bind_int64(s, 3, time(NULL));
	sqlite3_bind_int64(s, 4, p->version);
	return swapped(st, step_done(s));
}

static int sqlite_person_set_username(struct store *st, const struct person *p, const char *username)
{
	return set_text_swapped(st, ST_SET_USERNAME, p, username);
}

static int sqlite_person_set_revoke_expire(struct store *st, const struct person *p, const char *expire)
{
	return set_text_swapped(st, ST_SET_REVOKE_EXPIRE, p, expire);
}

static int sqlite_person_set_rename_to(struct store *st, const struct person *p, const char *username)
{
	return set_text_swapped(st, ST_SET_RENAME_TO, p, username);
}

static int sqlite_person_foreach(struct store *st, int state,
			 int (*cb)(const struct person *p, void *ctx), void *ctx)
{
	sqlite3_stmt *s = sq(st)->stmt[state < 0 ? ST_ALL : ST_BY_STATE];
	struct person p;
	int rc = SQLITE_DONE, r = 0;

	if (state >= 0)
		sqlite3_bind_int(s, 1, state);
	while (r == 0 && (rc = step(s)) == SQLITE_ROW) {
		read_person(s, &p);
		r = cb(&p, ctx);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(rc);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

static int sqlite_person_set_failures(struct store *st, const struct person *p)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_SET_FAILURES];

	sqlite3_bind_int64(s, 1, p->rowid);
	sqlite3_bind_int64(s, 2, p->failures);
	sqlite3_bind_int64(s, 3, p->total_failures);
	sqlite3_bind_int64(s, 4, p->locks);
	sqlite3_bind_int64(s, 5, p->locked_until);
	sqlite3_bind_int64(s, 6, time(NULL));
	sqlite3_bind_int64(s, 7, p->version);
	return swapped(st, step_done(s));
}

/* The lease statement id for person and me (?1-?3), with now (?4) and seconds (?5) where it takes them. */
static sqlite3_stmt *lease_stmt(struct store *st, enum stmt_id id, int64_t person, const struct store_lease *me,
				unsigned seconds)
{
	sqlite3_stmt *s = sq(st)->stmt[id];

	sqlite3_bind_int64(s, 1, person);
	bind_text(s, 2, me->host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, me->pid);
	if (id != ST_LEASE_RELEASE) {
		sqlite3_bind_int64(s, 4, time(NULL));
		sqlite3_bind_int64(s, 5, seconds);
	}
	return s;
}

static int sqlite_lease_take(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	int r = changed_one(st, step_done(lease_stmt(st, ST_LEASE_TAKE, person, me, seconds)));

	return r == -ENOENT ? -EBUSY : r;
}

static int sqlite_lease_renew(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	return swapped(st, step_done(lease_stmt(st, ST_LEASE_RENEW, person, me, seconds)));
}

static int sqlite_lease_release(struct store *st, int64_t person, const struct store_lease *me)
{
	return step_done(lease_stmt(st, ST_LEASE_RELEASE, person, me, 0));
}

static int sqlite_lease_get(struct store *st, int64_t person, struct store_lease *out)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_LEASE_GET];
	int rc;

	sqlite3_bind_int64(s, 1, person);
	rc = step(s);
	if (rc == SQLITE_ROW) {
		snprintf(out->host, sizeof(out->host), "%s", column_of(s, 0));
		out->pid = sqlite3_column_int64(s, 1);
		out->until = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
}

static int sqlite_throttle_count(struct store *st, const char *rhost, int64_t since, unsigned *count)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_THROTTLE_COUNT];
	int rc;

	bind_text(s, 1, rhost, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, since);
	rc = step(s);
	if (rc == SQLITE_ROW)
		*count = (unsigned)sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

static int sqlite_throttle_add(struct store *st, const char *rhost, int64_t at, int64_t prune_before)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_THROTTLE_PRUNE];
	int r;

	sqlite3_bind_int64(s, 1, prune_before);
	r = step_done(s);
	if (r)
		return r;
	s = sq(st)->stmt[ST_THROTTLE_ADD];
	bind_text(s, 1, rhost, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, at);
	return step_done(s);
}

static int sqlite_throttle_rebase(struct store *st, int64_t now)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_THROTTLE_REBASE];

	sqlite3_bind_int64(s, 1, now);
	return step_done(s);
}

static int sqlite_audit_last_hash(struct store *st, unsigned char hash[32], int *empty)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_AUDIT_LAST];
	int rc = step(s);

	memset(hash, 0, 32);
	*empty = rc != SQLITE_ROW;
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32)
		memcpy(hash, sqlite3_column_blob(s, 0), 32);
	else if (rc == SQLITE_ROW)
		rc = SQLITE_CORRUPT;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int sqlite_audit_insert(struct store *st, const struct store_audit *a, const unsigned char hash[32])
{
	sqlite3_stmt *s = sq(st)->stmt[ST_AUDIT_INSERT];

	sqlite3_bind_int64(s, 1, a->at);
	bind_text(s, 2, a->event, -1, SQLITE_TRANSIENT);
	if (a->person > 0)
		sqlite3_bind_int64(s, 3, a->person);
	else
		sqlite3_bind_null(s, 3);	/* a reset keeps the last row's person */
	bind_text_or_null(s, 4, a->username);
	bind_text_or_null(s, 5, a->service);
	bind_text_or_null(s, 6, a->rhost);
	bind_text_or_null(s, 7, a->tty);
	bind_text(s, 8, a->result, -1, SQLITE_TRANSIENT);
	bind_blob(s, 9, hash, 32, SQLITE_TRANSIENT);
	return step_done(s);
}

static const char *column_text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

static void read_audit_row(sqlite3_stmt *s, struct store_audit_row *row)
{
	row->seq = sqlite3_column_int64(s, 0);
	row->ev.at = sqlite3_column_int64(s, 1);
	row->ev.event = column_text(s, 2);
	row->ev.person = sqlite3_column_int64(s, 3);
	row->ev.username = column_text(s, 4);
	row->ev.service = column_text(s, 5);
	row->ev.rhost = column_text(s, 6);
	row->ev.tty = column_text(s, 7);
	row->ev.result = column_text(s, 8);
	row->hash_ok = sqlite3_column_bytes(s, 9) == 32;
	memset(row->hash, 0, sizeof(row->hash));
	if (row->hash_ok)
		memcpy(row->hash, sqlite3_column_blob(s, 9), 32);
}

static int sqlite_audit_foreach(struct store *st, int64_t since, int64_t person,
			int (*cb)(const struct store_audit_row *row, void *ctx), void *ctx)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_AUDIT_ROWS];
	struct store_audit_row row;
	int rc = SQLITE_DONE, r = 0;

	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, person);
	while (r == 0 && (rc = step(s)) == SQLITE_ROW) {
		read_audit_row(s, &row);
		r = cb(&row, ctx);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(rc);
	sqlite3_reset(s);
	return r;
}

static int sqlite_person_reserve(struct store *st, const struct person *p)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_RESERVE];

	sqlite3_bind_int64(s, 1, p->rowid);
	bind_text(s, 2, p->username, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, p->terms_accepted);
	bind_text_or_null(s, 4, p->terms_hash);
	sqlite3_bind_int64(s, 5, time(NULL));
	sqlite3_bind_int64(s, 6, p->version);
	return swapped(st, step_done(s));
}

static int sqlite_person_spend_pin(struct store *st, struct person *p, bool spent)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_SPEND_PIN];
	int64_t now = time(NULL);
	int r;

	sqlite3_bind_int64(s, 1, p->rowid);
	sqlite3_bind_int64(s, 2, spent ? now : 0);
	bind_text(s, 3, p->pin_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, spent ? 0 : p->pin_spent);
	r = swapped(st, step_done(s));
	if (r == 0)
		p->pin_spent = spent ? now : 0;
	return r;
}

static int count_other(sqlite3_stmt *s, int64_t self, bool *held)
{
	int rc;

	sqlite3_bind_int64(s, 2, self);
	rc = step(s);
	*held = rc != SQLITE_ROW || sqlite3_column_int64(s, 0) > 0;	/* fail closed */
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

static int sqlite_person_id_held(struct store *st, int64_t id, int64_t self, bool *held)
{
	sqlite3_bind_int64(sq(st)->stmt[ST_UID_HELD], 1, id);
	return count_other(sq(st)->stmt[ST_UID_HELD], self, held);
}

static int sqlite_person_name_pending(struct store *st, const char *name, int64_t self, bool *pending)
{
	bind_text(sq(st)->stmt[ST_NAME_PENDING], 1, name, -1, SQLITE_TRANSIENT);
	return count_other(sq(st)->stmt[ST_NAME_PENDING], self, pending);
}

/* An intent holds its ids for the campus: -EEXIST when another person's holds one (the caller chooses again). */
static int sqlite_person_record_intent(struct store *st, const struct person *p, int64_t uid, int64_t gid,
				       const char *home)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_INTENT];
	bool held = true;
	int r = sqlite_person_id_held(st, uid, p->rowid, &held);

	if (r == 0 && !held && gid != uid)
		r = sqlite_person_id_held(st, gid, p->rowid, &held);
	if (r || held)
		return r ? r : -EEXIST;
	sqlite3_bind_int64(s, 1, p->rowid);
	bind_text(s, 2, p->username, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, uid);
	sqlite3_bind_int64(s, 4, gid);
	bind_text(s, 5, home, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 6, time(NULL));
	return swapped(st, step_done(s));
}

static int sqlite_person_activate(struct store *st, const struct person *p)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_ACTIVATE];

	sqlite3_bind_int64(s, 1, p->rowid);
	sqlite3_bind_int64(s, 2, p->uid);
	sqlite3_bind_int64(s, 3, time(NULL));
	bind_text(s, 4, p->username, -1, SQLITE_TRANSIENT);
	bind_text(s, 5, p->pin_hash, -1, SQLITE_TRANSIENT);
	return swapped(st, step_done(s));
}

/* --- store_copy ------------------------------------------------------------- */

static int sqlite_throttle_foreach(struct store *st, int (*cb)(const char *rhost, int64_t at, void *ctx), void *ctx)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_THROTTLE_ALL];
	int rc = SQLITE_DONE, r = 0;

	while (r == 0 && (rc = step(s)) == SQLITE_ROW)
		r = cb(column_text(s, 0), sqlite3_column_int64(s, 1), ctx);
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(rc);
	sqlite3_reset(s);
	return r;
}

static int sqlite_copy_person(struct store *st, const struct person *p)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_COPY_PERSON];
	struct store_person_values v = { 0 };

	store_person_values(p, &v);
	for (int i = 0; i < STORE_PERSON_NCOLUMNS; i++) {
		if (!v.v[i])
			sqlite3_bind_null(s, i + 1);
		else if (v.number[i])
			sqlite3_bind_int64(s, i + 1, strtoll(v.v[i], NULL, 10));
		else
			bind_text(s, i + 1, v.v[i], -1, SQLITE_TRANSIENT);
	}
	return step_done(s);
}

static int sqlite_copy_throttle(struct store *st, const char *rhost, int64_t at)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_THROTTLE_ADD];

	bind_text(s, 1, rhost, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, at);
	return step_done(s);
}

static int sqlite_copy_audit(struct store *st, const struct store_audit_row *row)
{
	sqlite3_stmt *s = sq(st)->stmt[ST_COPY_AUDIT];

	sqlite3_bind_int64(s, 1, row->seq);
	sqlite3_bind_int64(s, 2, row->ev.at);
	bind_text(s, 3, row->ev.event, -1, SQLITE_TRANSIENT);
	if (row->ev.person > 0)
		sqlite3_bind_int64(s, 4, row->ev.person);
	bind_text(s, 5, row->ev.username, -1, SQLITE_TRANSIENT);
	bind_text(s, 6, row->ev.service, -1, SQLITE_TRANSIENT);
	bind_text(s, 7, row->ev.rhost, -1, SQLITE_TRANSIENT);
	bind_text(s, 8, row->ev.tty, -1, SQLITE_TRANSIENT);
	bind_text(s, 9, row->ev.result, -1, SQLITE_TRANSIENT);
	bind_blob(s, 10, row->hash, 32, SQLITE_TRANSIENT);
	return step_done(s);
}

const struct store_backend store_sqlite = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.errmsg = sqlite_errmsg,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.schema_version = sqlite_schema_version,
	.snapshot = sqlite_snapshot,
	.by_id_number = sqlite_person_by_id_number,
	.by_student_number = sqlite_person_by_student_number,
	.by_username = sqlite_person_by_username,
	.insert = sqlite_person_insert,
	.update_roster = sqlite_person_update_roster,
	.set_pin = sqlite_person_set_pin,
	.unlock = sqlite_person_unlock,
	.lease_take = sqlite_lease_take,
	.lease_renew = sqlite_lease_renew,
	.lease_release = sqlite_lease_release,
	.lease_get = sqlite_lease_get,
	.set_username = sqlite_person_set_username,
	.set_rename_to = sqlite_person_set_rename_to,
	.set_revoke_expire = sqlite_person_set_revoke_expire,
	.set_state = sqlite_person_set_state,
	.set_failures = sqlite_person_set_failures,
	.reserve = sqlite_person_reserve,
	.record_intent = sqlite_person_record_intent,
	.id_held = sqlite_person_id_held,
	.name_pending = sqlite_person_name_pending,
	.spend_pin = sqlite_person_spend_pin,
	.activate = sqlite_person_activate,
	.throttle_count = sqlite_throttle_count,
	.throttle_add = sqlite_throttle_add,
	.throttle_rebase = sqlite_throttle_rebase,
	.audit_last_hash = sqlite_audit_last_hash,
	.audit_insert = sqlite_audit_insert,
	.audit_foreach = sqlite_audit_foreach,
	.person_foreach = sqlite_person_foreach,
	.begin_copy = sqlite_begin,
	.throttle_foreach = sqlite_throttle_foreach,
	.copy_person = sqlite_copy_person,
	.copy_throttle = sqlite_copy_throttle,
	.copy_audit = sqlite_copy_audit,
};
