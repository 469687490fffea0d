/*
 * store/postgres.c: the activation database in PostgreSQL (libpq), one
 * database for every machine of a campus. The same decisions as sqlite.c,
 * made safe between machines:
 *
 * - Transactions run at READ COMMITTED. Every write is the compare-and-swap
 *   sqlite.c makes (UPDATE ... WHERE version = $n, or on the columns the
 *   change needs); a person read inside a transaction locks the row
 *   (SELECT ... FOR UPDATE), which is what SQLite's write lock gave the
 *   read-decide-write of a dialogue or an import.
 * - A uniqueness the schema enforces is checked in the statement (NOT
 *   EXISTS, ON CONFLICT DO NOTHING), so the usual duplicate is -EEXIST and
 *   the transaction goes on, as in SQLite. Only a race with another
 *   machine's uncommitted row raises an error; that, a serialization
 *   failure and a deadlock end the transaction and are -EDEADLK, which
 *   store_transaction runs again.
 * - Appends to the audit chain are serialized by a transaction-scoped
 *   advisory lock, and seq is the last one plus one under it, so two
 *   machines never fork the chain and a rollback leaves no gap. Ids of an
 *   intent are locked the same way while the store checks nobody holds them.
 * - Nothing outlives a transaction on the server: no session SET (timeouts
 *   are set_config(..., true)), no session advisory lock, only unnamed
 *   statements, so PgBouncer in transaction mode works.
 * - Every statement waits at most database_timeout (+1 s) here, and the
 *   server cancels a transaction's statement at statement_timeout: an
 *   unreachable server is an error within a bound, never a hang.
 * - Parameters are always bound ($1...), in text format.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "store_backend.h"

#define PASSWORD_FILE_MAX 65536
#define PARAMS_MAX 32
#define BATCH_ROWS 500		/* rows a foreach fetches at once */
#define GRACE_MS 1000		/* the server's statement_timeout comes first */
#define SERVER_VERSION_MIN 110000

/* Advisory lock keys (the bigint space): ids are LOCK_ID + id (< 2^32). */
#define LOCK_ID INT64_C(0x7061637400000000)
#define LOCK_AUDIT_CHAIN INT64_C(0x7061637500000001)
#define LOCK_MIGRATE INT64_C(0x7061637500000002)

struct pg_store {
	struct store base;	/* first: store.c sees only this */
	PGconn *conn;
	unsigned timeout;	/* seconds */
	bool in_txn;
	int txn_error;		/* the first error of this transaction: it is over */
	bool chain_locked;	/* this transaction holds the audit chain's lock */
	bool chain_known;	/* ...and knows the newest row (nobody else can append meanwhile) */
	int64_t chain_seq;
	unsigned char chain_hash[32];
	bool broken;		/* timed out or lost: nothing more is sent */
	char err[512];
};

static struct pg_store *pg(struct store *st)
{
	return (struct pg_store *)st;
}

/* --- parameters ------------------------------------------------------------ */

struct params {
	int n;
	bool overflow;
	const char *v[PARAMS_MAX];
	char num[PARAMS_MAX][24];
};

static void add_text(struct params *ps, const char *text)
{
	if (ps->n >= PARAMS_MAX) {
		ps->overflow = true;
		return;
	}
	ps->v[ps->n++] = text;
}

/* Empty text is stored as NULL, so UNIQUE applies only to real usernames. */
static void add_text_or_null(struct params *ps, const char *text)
{
	add_text(ps, text && *text ? text : NULL);
}

static void add_int(struct params *ps, int64_t x)
{
	if (ps->n >= PARAMS_MAX) {
		ps->overflow = true;
		return;
	}
	snprintf(ps->num[ps->n], sizeof(ps->num[0]), "%" PRId64, x);
	ps->v[ps->n] = ps->num[ps->n];
	ps->n++;
}

/* --- running a statement ------------------------------------------------------ */

static int say(struct pg_store *s, int r, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s", what);
	return r;
}

/* libpq's message, one line, for logs: it never carries the password. */
static void keep_message(struct pg_store *s, const char *msg)
{
	size_t n;

	snprintf(s->err, sizeof(s->err), "%s", msg && *msg ? msg : "database error");
	n = strlen(s->err);
	while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' '))
		s->err[--n] = '\0';
	for (char *c = s->err; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
}

static int lost(struct pg_store *s)
{
	keep_message(s, PQerrorMessage(s->conn));
	s->broken = true;
	return -ECONNRESET;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_error(const PGresult *res)
{
	ExecStatusType t = PQresultStatus(res);

	return t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK && t != PGRES_EMPTY_QUERY;
}

/* Results until the last, within the deadline; the first error wins. */
static int wait_results(struct pg_store *s, PGresult **last)
{
	int64_t deadline = now_ms() + (int64_t)s->timeout * 1000 + GRACE_MS;
	int fd = PQsocket(s->conn);

	for (;;) {
		int flush = PQflush(s->conn);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left;
		int n;

		if (flush < 0)
			return lost(s);
		if (flush == 0 && !PQisBusy(s->conn)) {
			PGresult *res = PQgetResult(s->conn);

			if (!res)
				return 0;
			if (*last && is_error(*last)) {
				PQclear(res);
			} else {
				PQclear(*last);
				*last = res;
			}
			continue;
		}
		left = deadline - now_ms();
		if (left <= 0) {
			s->broken = true;
			snprintf(s->err, sizeof(s->err), "no answer from the database within %u s", s->timeout + 1);
			return -ETIMEDOUT;
		}
		if (flush)
			pfd.events |= POLLOUT;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno != EINTR)
			return lost(s);
		if (n > 0 && !PQconsumeInput(s->conn))
			return lost(s);
	}
}

static bool state_is(const char *sqlstate, const char *want)
{
	return sqlstate && strncmp(sqlstate, want, strlen(want)) == 0;
}

/*
 * An error result as a code. Inside a transaction a unique violation is a
 * race with another machine's uncommitted row (the statements check the
 * committed ones): like a deadlock, the transaction is run again.
 */
static int map_error(struct pg_store *s, const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	keep_message(s, PQresultErrorMessage(res));
	if (state_is(code, "40001") || state_is(code, "40P01"))
		return -EDEADLK;
	if (state_is(code, "23505"))
		return s->in_txn ? -EDEADLK : -EEXIST;
	if (state_is(code, "23"))
		return -EINVAL;
	if (state_is(code, "57014"))
		return -ETIMEDOUT;
	if (state_is(code, "55P03"))
		return -EBUSY;
	if (state_is(code, "42501") || state_is(code, "28"))
		return -EACCES;
	if (state_is(code, "53"))
		return -ENOSPC;
	if (state_is(code, "08") || state_is(code, "57P"))
		return -ECONNRESET;
	if (state_is(code, "42P01"))
		return -ENOENT;
	return -EIO;
}

/*
 * Run one statement (ps NULL: the simple protocol, for migrations) and
 * keep its result in *out (may be NULL). Inside a transaction the first
 * error ends it: later statements are not sent, and commit returns it.
 */
static int run(struct pg_store *s, const char *sql, const struct params *ps, PGresult **out)
{
	PGresult *res = NULL;
	int r, sent;

	if (out)
		*out = NULL;
	if (s->broken)
		return -ENOTCONN;
	if (s->in_txn && s->txn_error)
		return s->txn_error;
	if (ps && ps->overflow)
		return say(s, -E2BIG, "too many parameters");
	s->err[0] = '\0';
	sent = ps ? PQsendQueryParams(s->conn, sql, ps->n, NULL, ps->v, NULL, NULL, 0) : PQsendQuery(s->conn, sql);
	r = sent ? wait_results(s, &res) : lost(s);
	if (r == 0 && !res)
		r = say(s, -EIO, "no result from the database");
	if (r == 0 && is_error(res))
		r = map_error(s, res);
	if (r && s->in_txn && !s->txn_error)
		s->txn_error = r;
	if (r == 0 && out) {
		*out = res;
		res = NULL;
	}
	PQclear(res);
	return r;
}

/* An UPDATE ... RETURNING or INSERT ... RETURNING: how many rows it wrote. */
static int run_count(struct pg_store *s, const char *sql, const struct params *ps, int *rows)
{
	PGresult *res;
	int r = run(s, sql, ps, &res);

	*rows = r == 0 ? PQntuples(res) : 0;
	PQclear(res);
	return r;
}

/* The first column of the only row as a number (count, exists). */
static int run_number(struct pg_store *s, const char *sql, const struct params *ps, int64_t *value)
{
	PGresult *res;
	int r = run(s, sql, ps, &res);

	if (r == 0 && (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)))
		r = say(s, -EIO, "unexpected result from the database");
	if (r == 0)
		*value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return r;
}

static int lock_key(struct pg_store *s, int64_t key)
{
	struct params ps = { 0 };

	add_int(&ps, key);
	return run(s, "SELECT pg_advisory_xact_lock($1::bigint)", &ps, NULL);
}

/* --- schema ---------------------------------------------------------------- */

/*
 * Migration N takes schema version N to N+1, the same steps as sqlite.c's,
 * so a version names one schema in both. Text columns compare bytewise
 * (COLLATE "C"), as SQLite's do. Never edit one that has shipped.
 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE person ("
	" rowid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" id_number text COLLATE \"C\" NOT NULL UNIQUE CHECK (length(id_number) BETWEEN 1 AND 64),"
	" student_number text COLLATE \"C\" NOT NULL UNIQUE CHECK (length(student_number) BETWEEN 1 AND 64),"
	" given_name text COLLATE \"C\" NOT NULL,"
	" family_name text COLLATE \"C\" NOT NULL,"
	" kind integer NOT NULL CHECK (kind BETWEEN 0 AND 2),"
	" programme text COLLATE \"C\","
	" fee_paid_on text COLLATE \"C\" CHECK (fee_paid_on IS NULL OR length(fee_paid_on) = 10),"
	" username text COLLATE \"C\" UNIQUE,"
	" email text COLLATE \"C\","
	" pin_hash text COLLATE \"C\","
	" pin_expires bigint NOT NULL DEFAULT 0,"
	" pin_spent bigint NOT NULL DEFAULT 0,"
	" failures bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),"
	" total_failures bigint NOT NULL DEFAULT 0 CHECK (total_failures >= 0),"
	" locks bigint NOT NULL DEFAULT 0 CHECK (locks >= 0),"
	" locked_until bigint NOT NULL DEFAULT 0,"
	" uid bigint,"
	" state integer NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),"
	" terms_accepted bigint NOT NULL DEFAULT 0,"
	" terms_hash text COLLATE \"C\","
	" created bigint NOT NULL,"
	" updated bigint NOT NULL);"
	"CREATE INDEX person_state ON person (state);"
	"CREATE TABLE throttle ("
	" rhost text COLLATE \"C\" NOT NULL,"
	" at bigint NOT NULL);"
	"CREATE INDEX throttle_rhost_at ON throttle (rhost, at);"
	"CREATE TABLE audit ("
	" seq bigint PRIMARY KEY,"
	" at bigint NOT NULL,"
	" event text COLLATE \"C\" NOT NULL,"
	" person bigint,"
	" username text COLLATE \"C\","
	" service text COLLATE \"C\","
	" rhost text COLLATE \"C\","
	" tty text COLLATE \"C\","
	" result text COLLATE \"C\" NOT NULL,"
	" hash bytea NOT NULL);"
	"CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
	" $f$BEGIN RAISE EXCEPTION 'audit is append-only'; END$f$;"
	"CREATE TRIGGER audit_append_only_u BEFORE UPDATE OR DELETE ON audit"
	" FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
	"CREATE TRIGGER audit_append_only_t BEFORE TRUNCATE ON audit"
	" FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
	/* 2: the compare-and-swap version, the rest of the intent, a rename under way */
	"ALTER TABLE person ADD COLUMN version bigint NOT NULL DEFAULT 0,"
	" ADD COLUMN gid bigint, ADD COLUMN home text COLLATE \"C\", ADD COLUMN rename_to text COLLATE \"C\","
	" ADD COLUMN revoked_from integer, ADD COLUMN revoke_expire text COLLATE \"C\";"
	"CREATE INDEX person_uid ON person (uid);"
	"CREATE INDEX person_gid ON person (gid);"
	"CREATE INDEX person_rename_to ON person (rename_to);"
	"UPDATE person SET gid = uid WHERE uid IS NOT NULL;",
	/* 3: the language of a person's letters (roster column "language") */
	"ALTER TABLE person ADD COLUMN language text COLLATE \"C\";",
	/* 4: the person lease, held by one machine's dialogue or command at a time */
	"CREATE TABLE person_lease ("
	" person bigint PRIMARY KEY,"
	" host text COLLATE \"C\" NOT NULL,"
	" pid bigint NOT NULL,"
	" until bigint NOT NULL);",
};

static int pg_schema_version(struct store *st, int *version)
{
	int64_t v = 0;
	int r = run_number(pg(st), "SELECT coalesce(max(version), 0) FROM store_schema", NULL, &v);

	if (r == -ENOENT && !pg(st)->in_txn) {	/* no table yet: a new database */
		pg(st)->err[0] = '\0';
		r = 0;
	}
	*version = (int)v;
	return r;
}

static int pg_begin(struct store *st);
static int pg_commit(struct store *st);
static void pg_rollback(struct store *st);

/* Under the migration lock: whoever comes second finds the work done. */
static int migrate_locked(struct pg_store *s, char *err, size_t errlen)
{
	int version = 0, r = lock_key(s, LOCK_MIGRATE);
	struct params ps = { 0 };

	if (r == 0)
		r = run(s, "CREATE TABLE IF NOT EXISTS store_schema (version integer NOT NULL)", NULL, NULL);
	if (r == 0)
		r = pg_schema_version(&s->base, &version);
	if (r == 0 && version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema %d is newer than this program (%d)", version,
			 STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	for (int v = version; r == 0 && v < STORE_SCHEMA_VERSION; v++)
		r = run(s, migrations[v], NULL, NULL);
	add_int(&ps, STORE_SCHEMA_VERSION);
	if (r == 0 && version < STORE_SCHEMA_VERSION)
		r = run(s, "DELETE FROM store_schema", NULL, NULL);
	if (r == 0 && version < STORE_SCHEMA_VERSION)
		r = run(s, "INSERT INTO store_schema (version) VALUES ($1::integer)", &ps, NULL);
	if (r && r != -EPROTO)
		snprintf(err, errlen, "database schema: %s", s->err);
	return r;
}

static int run_migrations(struct pg_store *s, char *err, size_t errlen)
{
	int version = 0, r;

	/* the common case, a current schema, takes no lock */
	if (pg_schema_version(&s->base, &version) == 0 && version == STORE_SCHEMA_VERSION)
		return 0;
	for (int tries = 0; tries < STORE_TRIES; tries++) {
		r = pg_begin(&s->base);
		if (r == 0)
			r = migrate_locked(s, err, errlen);
		if (r == 0)
			r = pg_commit(&s->base);
		if (r)
			pg_rollback(&s->base);
		if (r != -EDEADLK)
			break;
	}
	if (r && !err[0])
		snprintf(err, errlen, "database schema: %s", s->err);
	return r;
}

/* --- connecting -------------------------------------------------------------- */

/*
 * The password: the first line of a root-only file, in guarded memory
 * (sodium_free wipes it). Never in argv, the environment or a log.
 */
static int read_password(const char *path, char **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	int r;

	*out = NULL;
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, errno == ELOOP ? "%s: is a symbolic link; refusing it" : "%s: %s", path,
			 strerror(errno));
		return r;
	}
	r = store_check_private(fd, path, "0600 or 0400", err, errlen);
	if (r == 0 && (fstat(fd, &sb) != 0 || sb.st_size > PASSWORD_FILE_MAX)) {
		snprintf(err, errlen, "%s: longer than %d bytes", path, PASSWORD_FILE_MAX);
		r = -EFBIG;
	}
	if (r == 0 && (sodium_init() < 0 || !(buf = sodium_malloc((size_t)sb.st_size + 1))))
		r = -ENOMEM;
	while (r == 0 && got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* shorter than it said: what there is */
		got += (size_t)n;
	}
	close(fd);
	if (r) {
		if (buf)
			sodium_free(buf);
		return r;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = buf;
	return 0;
}

/* Whether one host of a (comma-separated) list is reached over TCP. */
static bool any_tcp_host(const char *hosts)
{
	for (const char *h = hosts; h && *h; h += strcspn(h, ",") + (h[strcspn(h, ",")] == ',')) {
		if (*h != '/' && *h != '@' && *h != ',')
			return true;
	}
	return false;
}

static const char *option(const PQconninfoOption *opts, const char *key)
{
	for (const PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, key) == 0)
			return o->val && *o->val ? o->val : NULL;
	return NULL;
}

/*
 * What the URL asks for, checked before anything is sent: no password in
 * it, and TLS with a CA for any TCP host (the URL's, else PGHOST's; none:
 * libpq's Unix socket).
 */
static int check_url(const char *url, const struct store_options *opt, char *err, size_t errlen)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &why), *defaults = NULL;
	const char *host;
	bool tcp;
	int r = 0;

	if (!opts) {
		snprintf(err, errlen, "database URL: %s", why ? why : "cannot be parsed");
		PQfreemem(why);
		return -EINVAL;
	}
	host = option(opts, "host");
	if (!host && !option(opts, "hostaddr")) {
		defaults = PQconndefaults();
		host = option(defaults, "host");
	}
	tcp = option(opts, "hostaddr") || any_tcp_host(host);
	if (option(opts, "password")) {
		snprintf(err, errlen, "database URL: a password in it; put it in database_password_file");
		r = -EINVAL;
	} else if (tcp && (!opt->ca_file || !opt->ca_file[0])) {
		snprintf(err, errlen, "database: a TCP connection needs database_ca_file (TLS, sslmode=verify-full)");
		r = -EINVAL;
	}
	PQconninfoFree(opts);
	PQconninfoFree(defaults);
	return r;
}

/* The CA decides whom the password goes to: only root may change it. */
static int check_ca_file(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	return store_check_owner(&sb, path, 022, ", writable by root only", err, errlen);
}

/* A NOTICE (a table there already, for one) is no error: libpq would print it on stderr. */
static void quiet(void *ctx, const char *message)
{
	(void)ctx;
	(void)message;
}

static int connect_db(struct pg_store *s, const char *url, const struct store_options *opt, char *err,
		      size_t errlen)
{
	const char *keys[8], *values[8];
	char timeout[16], *password = NULL;
	bool ca = opt->ca_file && opt->ca_file[0];
	int n = 0, r = check_url(url, opt, err, errlen);

	if (r == 0 && ca)
		r = check_ca_file(opt->ca_file, err, errlen);
	if (r == 0 && opt->password_file && opt->password_file[0])
		r = read_password(opt->password_file, &password, err, errlen);
	if (r)
		return r;
	/* libpq's minimum is 2 s; before dbname, so the URL's own connect_timeout wins */
	snprintf(timeout, sizeof(timeout), "%u", s->timeout < 2 ? 2 : s->timeout);
	keys[n] = "connect_timeout", values[n++] = timeout;
	keys[n] = "dbname", values[n++] = url;
	keys[n] = "fallback_application_name", values[n++] = "pam_activate";
	if (password)
		keys[n] = "password", values[n++] = password;
	if (ca) {
		keys[n] = "sslmode", values[n++] = "verify-full";
		keys[n] = "sslrootcert", values[n++] = opt->ca_file;
	}
	keys[n] = NULL, values[n] = NULL;
	s->conn = PQconnectdbParams(keys, values, 1);
	if (password)
		sodium_free(password);
	if (!s->conn)
		return -ENOMEM;
	if (PQstatus(s->conn) != CONNECTION_OK) {
		keep_message(s, PQerrorMessage(s->conn));
		snprintf(err, errlen, "database: %s", s->err);
		return -ECONNREFUSED;
	}
	if (PQserverVersion(s->conn) < SERVER_VERSION_MIN) {
		snprintf(err, errlen, "database: PostgreSQL %d is too old (11 or later)", PQserverVersion(s->conn));
		return -EPROTO;
	}
	PQsetNoticeProcessor(s->conn, quiet, NULL);
	if (PQsetnonblocking(s->conn, 1) != 0) {
		keep_message(s, PQerrorMessage(s->conn));
		snprintf(err, errlen, "database: %s", s->err);
		return -EIO;
	}
	return 0;
}

static void pg_close(struct store *st)
{
	if (!st)
		return;
	PQfinish(pg(st)->conn);
	free(pg(st));
}

static int pg_open(const char *url, const struct store_options *opt, int flags, struct store **out, char *err,
		   size_t errlen)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	int r;

	(void)flags;	/* the database exists (the DBA's); the tables are made on open */
	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->base.be = &store_postgres;
	s->timeout = store_timeout(opt);
	err[0] = '\0';
	r = connect_db(s, url, opt, err, errlen);
	if (r == 0)
		r = run_migrations(s, err, errlen);
	if (r) {
		pg_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

static const char *pg_errmsg(struct store *st)
{
	struct pg_store *s = pg(st);

	if (!s->err[0] && s->conn)
		keep_message(s, PQerrorMessage(s->conn));
	return s->err;
}

/* --- transactions -------------------------------------------------------------- */

static int begin_as(struct store *st, const char *begin)
{
	struct pg_store *s = pg(st);
	struct params ps = { 0 };
	int r;

	if (s->in_txn)
		return say(s, -EINVAL, "a transaction is open already");
	s->txn_error = 0;
	s->chain_locked = s->chain_known = false;
	r = run(s, begin, NULL, NULL);
	if (r)
		return r;
	s->in_txn = true;
	/* the transaction's own: nothing of it is left for the next client of a pooled connection */
	add_int(&ps, (int64_t)s->timeout * 1000);
	add_int(&ps, (int64_t)s->timeout * 2000);
	/* synchronous_commit: a committed intent is durable before the account files change (rule 4) */
	r = run(s, "SELECT set_config('statement_timeout', $1, true), "
		"set_config('idle_in_transaction_session_timeout', $2, true), "
		"set_config('synchronous_commit', 'on', true)", &ps, NULL);
	if (r)
		pg_rollback(st);
	return r;
}

static int pg_begin(struct store *st)
{
	return begin_as(st, "BEGIN ISOLATION LEVEL READ COMMITTED");
}

static int pg_commit(struct store *st)
{
	struct pg_store *s = pg(st);
	PGresult *res;
	int r;

	if (!s->in_txn)
		return say(s, -EINVAL, "no transaction to commit");
	if (s->txn_error)
		return s->txn_error;
	r = run(s, "COMMIT", NULL, &res);
	/* a transaction the server had aborted answers COMMIT with ROLLBACK */
	if (r == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
		r = say(s, -EIO, "the transaction was rolled back");
	PQclear(res);
	s->in_txn = false;
	return r;
}

static void pg_rollback(struct store *st)
{
	struct pg_store *s = pg(st);

	if (!s->in_txn && (s->broken || PQtransactionStatus(s->conn) == PQTRANS_IDLE))
		return;
	s->in_txn = false;
	s->txn_error = 0;
	run(s, "ROLLBACK", NULL, NULL);
}

/* --- people ------------------------------------------------------------------- */

#define PERSON_SELECT "SELECT " STORE_PERSON_COLUMNS " FROM person WHERE "

struct row_ref {
	const PGresult *res;
	int row;
};

static const char *column_of(void *ctx, int i)
{
	const struct row_ref *ref = ctx;

	return PQgetisnull(ref->res, ref->row, i) ? NULL : PQgetvalue(ref->res, ref->row, i);
}

static void read_person(const PGresult *res, int row, struct person *p)
{
	struct row_ref ref = { res, row };

	store_read_person(p, column_of, &ref);
}

/* Inside a transaction the row is locked until it ends, as SQLite's write lock held it. */
static int find_one(struct store *st, const char *column, const char *key, struct person *out)
{
	static const char *const sql[][2] = {
		{ PERSON_SELECT "id_number = $1", PERSON_SELECT "id_number = $1 FOR UPDATE" },
		{ PERSON_SELECT "student_number = $1", PERSON_SELECT "student_number = $1 FOR UPDATE" },
		{ PERSON_SELECT "username = $1", PERSON_SELECT "username = $1 FOR UPDATE" },
	};
	int which = column[0] == 'i' ? 0 : column[0] == 's' ? 1 : 2;
	struct pg_store *s = pg(st);
	struct params ps = { 0 };
	PGresult *res;
	int r;

	add_text(&ps, key);
	r = run(s, sql[which][s->in_txn], &ps, &res);
	if (r == 0 && PQntuples(res) == 0)
		r = -ENOENT;
	else if (r == 0)
		read_person(res, 0, out);
	PQclear(res);
	return r;
}

static int pg_by_id_number(struct store *st, const char *id_number, struct person *out)
{
	return find_one(st, "id_number", id_number, out);
}

static int pg_by_student_number(struct store *st, const char *student_number, struct person *out)
{
	return find_one(st, "student_number", student_number, out);
}

static int pg_by_username(struct store *st, const char *username, struct person *out)
{
	return find_one(st, "username", username, out);
}

/* $2..$9: the roster fields after the ID number, $10 the time. */
static void add_roster(struct params *ps, const struct person *p, int64_t now)
{
	add_text(ps, p->student_number);
	add_text(ps, p->given_name);
	add_text(ps, p->family_name);
	add_int(ps, p->kind);
	add_text_or_null(ps, p->programme);
	add_text_or_null(ps, p->fee_paid_on);
	add_text_or_null(ps, p->username);
	add_text_or_null(ps, p->email);
	add_int(ps, now);
}

static int pg_insert(struct store *st, struct person *p)
{
	struct params ps = { 0 };
	int64_t now = time(NULL);
	PGresult *res;
	int r;

	add_text(&ps, p->id_number);
	add_roster(&ps, p, now);
	add_text_or_null(&ps, p->language);
	r = run(pg(st), "INSERT INTO person (id_number, student_number, given_name, family_name, kind, "
		"programme, fee_paid_on, username, email, created, updated, language) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) "
		"ON CONFLICT DO NOTHING RETURNING rowid", &ps, &res);
	if (r == 0 && PQntuples(res) == 0)
		r = -EEXIST;
	if (r == 0) {
		p->rowid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		p->created = p->updated = now;
		p->state = PERSON_PENDING;
		p->uid = -1;
	}
	PQclear(res);
	return r;
}

#define AS_EXPECTED "SELECT count(*) FROM person WHERE rowid = $1 AND version = $2"

/*
 * An UPDATE ... RETURNING that is a compare-and-swap. Nothing written:
 * -ESTALE, or -EEXIST when only the statement's uniqueness check stopped it,
 * p's row being as the swap expected (why_sql: the swap's own condition, as
 * a count, on $1 p's rowid and $2 its version; NULL: no uniqueness check).
 */
static int swap(struct store *st, const char *sql, const struct params *ps, const char *why_sql,
		const struct person *p)
{
	struct params why = { 0 };
	int64_t as_expected = 0;
	int rows, r = run_count(pg(st), sql, ps, &rows);

	if (r || rows > 0)
		return r;
	if (!why_sql || !p)
		return -ESTALE;
	add_int(&why, p->rowid);
	add_int(&why, p->version);
	r = run_number(pg(st), why_sql, &why, &as_expected);
	return r ? r : as_expected ? -EEXIST : -ESTALE;
}

/* Nobody else has the ID number $12, the student number $2 or the username $8. */
#define ROSTER_UNIQUE \
	" AND NOT EXISTS (SELECT 1 FROM person o WHERE o.rowid <> $1 AND (o.id_number = $12 " \
	"OR o.student_number = $2 OR o.username = $8))"

static int pg_update_roster(struct store *st, const struct person *p)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_roster(&ps, p, time(NULL));
	add_int(&ps, p->version);
	add_text(&ps, p->id_number);
	add_text_or_null(&ps, p->language);
	/* a PIN is bound to the ID number it was hashed with: a new number voids it */
	return swap(st, "UPDATE person SET student_number = $2, given_name = $3, family_name = $4, "
		      "kind = $5, programme = $6, fee_paid_on = $7, username = $8, email = $9, updated = $10, "
		      "version = version + 1, id_number = $12, language = $13, "
		      "pin_hash = CASE WHEN id_number = $12 THEN pin_hash END, "
		      "pin_expires = CASE WHEN id_number = $12 THEN pin_expires ELSE 0 END "
		      "WHERE rowid = $1 AND version = $11" ROSTER_UNIQUE " RETURNING rowid", &ps, AS_EXPECTED, p);
}

static int pg_set_pin(struct store *st, const struct person *p, const char *hash, int64_t expires)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_text(&ps, hash);
	add_int(&ps, expires);
	add_int(&ps, time(NULL));
	add_int(&ps, p->version);
	return swap(st, "UPDATE person SET pin_hash = $2, pin_expires = $3, pin_spent = 0, failures = 0, "
		      "total_failures = 0, locks = 0, locked_until = 0, updated = $4, version = version + 1 "
		      "WHERE rowid = $1 AND version = $5 RETURNING rowid", &ps, NULL, p);
}

static int pg_unlock(struct store *st, int64_t rowid)
{
	struct params ps = { 0 };
	int rows, r;

	add_int(&ps, rowid);
	add_int(&ps, time(NULL));
	r = run_count(pg(st), "UPDATE person SET failures = 0, locks = 0, locked_until = 0, updated = $2, "
		      "version = version + 1 WHERE rowid = $1 RETURNING rowid", &ps, &rows);
	return r == 0 && rows == 0 ? -ENOENT : r;
}

/* The server's clock, in whole seconds: every machine's lease expires by the same clock. */
#define PG_NOW "floor(extract(epoch FROM clock_timestamp()))::bigint"

static void add_lease(struct params *ps, int64_t person, const struct store_lease *me)
{
	add_int(ps, person);
	add_text(ps, me->host);
	add_int(ps, me->pid);
}

/* An expired lease, or one of this host's (whose flock the caller holds), is taken over. */
static int pg_lease_take(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	struct params ps = { 0 };
	int rows, r;

	add_lease(&ps, person, me);
	add_int(&ps, seconds);
	r = run_count(pg(st), "INSERT INTO person_lease (person, host, pid, until) VALUES ($1, $2, $3, " PG_NOW " + $4) "
		      "ON CONFLICT (person) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, until = EXCLUDED.until "
		      "WHERE person_lease.until <= " PG_NOW " OR person_lease.host = EXCLUDED.host RETURNING person",
		      &ps, &rows);
	return r == 0 && rows == 0 ? -EBUSY : r;
}

static int pg_lease_renew(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	struct params ps = { 0 };
	int rows, r;

	add_lease(&ps, person, me);
	add_int(&ps, seconds);
	r = run_count(pg(st), "UPDATE person_lease SET until = " PG_NOW " + $4 "
		      "WHERE person = $1 AND host = $2 AND pid = $3 RETURNING person", &ps, &rows);
	return r == 0 && rows == 0 ? -ESTALE : r;
}

static int pg_lease_release(struct store *st, int64_t person, const struct store_lease *me)
{
	struct params ps = { 0 };

	add_lease(&ps, person, me);
	return run(pg(st), "DELETE FROM person_lease WHERE person = $1 AND host = $2 AND pid = $3", &ps, NULL);
}

static int pg_lease_get(struct store *st, int64_t person, struct store_lease *out)
{
	struct params ps = { 0 };
	PGresult *res;
	int r;

	add_int(&ps, person);
	r = run(pg(st), "SELECT host, pid, until FROM person_lease WHERE person = $1", &ps, &res);
	if (r)
		return r;
	if (PQntuples(res) == 1) {
		snprintf(out->host, sizeof(out->host), "%s", PQgetvalue(res, 0, 0));
		out->pid = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		out->until = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	} else
		r = -ENOENT;
	PQclear(res);
	return r;
}

static int pg_set_state(struct store *st, const struct person *p, int state)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_int(&ps, state);
	add_int(&ps, time(NULL));
	add_int(&ps, p->version);
	return swap(st, "UPDATE person SET state = $2::integer, updated = $3, version = version + 1, "
		      "revoked_from = CASE WHEN $2::integer = 3 AND state <> 3 THEN state ELSE revoked_from END "
		      "WHERE rowid = $1 AND version = $4 RETURNING rowid", &ps, NULL, p);
}

/* One text column of p ($2; NULL text: NULL), compare-and-swap on its version ($4). */
static int set_text_swapped(struct store *st, const char *sql, const char *why_sql, const struct person *p,
			    const char *text)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_text(&ps, text);	/* NULL binds NULL; "" stays "" */
	add_int(&ps, time(NULL));
	add_int(&ps, p->version);
	return swap(st, sql, &ps, why_sql, p);
}

static int pg_set_username(struct store *st, const struct person *p, const char *username)
{
	/* the intent's home follows the name when it is .../OLD */
	return set_text_swapped(st, "UPDATE person SET username = $2::text, rename_to = NULL, updated = $3, "
				"home = CASE WHEN username IS NOT NULL AND right(home, length(username) + 1) = "
				"'/' || username THEN left(home, length(home) - length(username)) || $2::text "
				"ELSE home END, version = version + 1 WHERE rowid = $1 AND version = $4 "
				"AND NOT EXISTS (SELECT 1 FROM person o WHERE o.rowid <> $1 AND o.username = $2::text) "
				"RETURNING rowid", AS_EXPECTED, p, username);
}

static int pg_set_revoke_expire(struct store *st, const struct person *p, const char *expire)
{
	return set_text_swapped(st, "UPDATE person SET revoke_expire = $2, updated = $3, version = version + 1 "
				"WHERE rowid = $1 AND version = $4 RETURNING rowid", NULL, p, expire);
}

static int pg_set_rename_to(struct store *st, const struct person *p, const char *username)
{
	return set_text_swapped(st, "UPDATE person SET rename_to = $2, updated = $3, version = version + 1 "
				"WHERE rowid = $1 AND version = $4 RETURNING rowid", NULL, p, username);
}

static int pg_set_failures(struct store *st, const struct person *p)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_int(&ps, p->failures);
	add_int(&ps, p->total_failures);
	add_int(&ps, p->locks);
	add_int(&ps, p->locked_until);
	add_int(&ps, time(NULL));
	add_int(&ps, p->version);
	return swap(st, "UPDATE person SET failures = $2, total_failures = $3, locks = $4, "
		      "locked_until = $5, updated = $6, version = version + 1 WHERE rowid = $1 AND version = $7 "
		      "RETURNING rowid", &ps, NULL, p);
}

static int pg_reserve(struct store *st, const struct person *p)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_text(&ps, p->username);
	add_int(&ps, p->terms_accepted);
	add_text_or_null(&ps, p->terms_hash);
	add_int(&ps, time(NULL));
	add_int(&ps, p->version);
	return swap(st, "UPDATE person SET username = $2::text, state = 1, terms_accepted = $3, "
		      "terms_hash = $4, updated = $5, version = version + 1 "
		      "WHERE rowid = $1 AND version = $6 AND state IN (0, 1) "
		      "AND NOT EXISTS (SELECT 1 FROM person o WHERE o.rowid <> $1 AND o.username = $2::text) "
		      "RETURNING rowid", &ps, AS_EXPECTED " AND state IN (0, 1)", p);
}

/*
 * Machines share the store but not their account files: an id is taken
 * for the campus when an intent holds it. The ids are locked (in order, so
 * two intents cannot deadlock), then checked, then recorded: a second
 * machine waits, then sees the first's intent and chooses again (-EEXIST).
 */
static int lock_ids(struct pg_store *s, int64_t uid, int64_t gid)
{
	int64_t lo = uid < gid ? uid : gid, hi = uid < gid ? gid : uid;
	int r = lock_key(s, LOCK_ID + lo);

	return r == 0 && hi != lo ? lock_key(s, LOCK_ID + hi) : r;
}

static int pg_record_intent(struct store *st, const struct person *p, int64_t uid, int64_t gid, const char *home)
{
	struct pg_store *s = pg(st);
	struct params held = { 0 }, ps = { 0 };
	int64_t others = 0;
	int r = lock_ids(s, uid, gid);

	add_int(&held, p->rowid);
	add_int(&held, uid);
	add_int(&held, gid);
	if (r == 0)
		r = run_number(s, "SELECT count(*) FROM person WHERE rowid <> $1 AND "
			       "(uid IN ($2, $3) OR gid IN ($2, $3))", &held, &others);
	if (r == 0 && others)
		return say(s, -EEXIST, "the ids are another person's intent");
	add_int(&ps, p->rowid);
	add_text(&ps, p->username);
	add_int(&ps, uid);
	add_int(&ps, gid);
	add_text(&ps, home);
	add_int(&ps, time(NULL));
	return r ? r : swap(st, "UPDATE person SET uid = $3, gid = $4, home = $5, updated = $6, "
			      "version = version + 1 WHERE rowid = $1 AND state = 1 AND username = $2 "
			      "RETURNING rowid", &ps, NULL, NULL);
}

/* A count of other people matching $1 (self is $2); fail closed. */
static int count_other(struct store *st, const char *sql, struct params *ps, int64_t self, bool *held)
{
	int64_t n = 1;
	int r;

	add_int(ps, self);
	r = run_number(pg(st), sql, ps, &n);
	*held = r != 0 || n > 0;
	return r;
}

static int pg_id_held(struct store *st, int64_t id, int64_t self, bool *held)
{
	struct params ps = { 0 };

	add_int(&ps, id);
	return count_other(st, "SELECT count(*) FROM person WHERE (uid = $1 OR gid = $1) AND rowid <> $2",
			   &ps, self, held);
}

static int pg_name_pending(struct store *st, const char *name, int64_t self, bool *pending)
{
	struct params ps = { 0 };

	add_text(&ps, name);
	return count_other(st, "SELECT count(*) FROM person WHERE rename_to = $1 AND rowid <> $2",
			   &ps, self, pending);
}

static int pg_spend_pin(struct store *st, struct person *p, bool spent)
{
	struct params ps = { 0 };
	int64_t now = time(NULL);
	int r;

	add_int(&ps, p->rowid);
	add_int(&ps, spent ? now : 0);
	add_text(&ps, p->pin_hash);
	add_int(&ps, now);
	add_int(&ps, spent ? 0 : p->pin_spent);
	/* at READ COMMITTED a second spender waits for the first, then finds pin_spent changed */
	r = swap(st, "UPDATE person SET pin_spent = $2, failures = 0, updated = $4, "
		 "version = version + 1 WHERE rowid = $1 AND state = 2 AND pin_hash = $3 AND pin_spent = $5 "
		 "RETURNING rowid", &ps, NULL, NULL);
	if (r == 0)
		p->pin_spent = spent ? now : 0;
	return r;
}

static int pg_activate(struct store *st, const struct person *p)
{
	struct params ps = { 0 };

	add_int(&ps, p->rowid);
	add_int(&ps, p->uid);
	add_int(&ps, time(NULL));
	add_text(&ps, p->username);
	add_text(&ps, p->pin_hash);
	return swap(st, "UPDATE person SET state = 2, pin_spent = $3, failures = 0, locks = 0, "
		    "updated = $3, version = version + 1 WHERE rowid = $1 AND state = 1 AND uid = $2 "
		    "AND username = $4 AND coalesce(pin_hash, '') = $5 AND pin_spent = 0 RETURNING rowid",
		    &ps, NULL, NULL);
}

/* Every person (state < 0) or those in one state, in ID-number order, a batch at a time. */
static int pg_person_foreach(struct store *st, int state, int (*cb)(const struct person *p, void *ctx), void *ctx)
{
	char after[PERSON_NUMBER_MAX] = "";
	int r = 0, rows = BATCH_ROWS;

	while (r == 0 && rows == BATCH_ROWS) {
		struct params ps = { 0 };
		struct person p;
		PGresult *res;

		add_int(&ps, state);
		add_text(&ps, after);
		add_int(&ps, BATCH_ROWS);
		r = run(pg(st), PERSON_SELECT "($1::integer < 0 OR state = $1::integer) AND id_number > $2 "
			"ORDER BY id_number LIMIT $3", &ps, &res);
		rows = r == 0 ? PQntuples(res) : 0;
		for (int i = 0; r == 0 && i < rows; i++) {
			read_person(res, i, &p);
			memcpy(after, p.id_number, sizeof(after));
			r = cb(&p, ctx);
		}
		PQclear(res);
	}
	return r;
}

/* --- throttle ------------------------------------------------------------------ */

static int pg_throttle_count(struct store *st, const char *rhost, int64_t since, unsigned *count)
{
	struct params ps = { 0 };
	int64_t n = 0;
	int r;

	add_text(&ps, rhost);
	add_int(&ps, since);
	r = run_number(pg(st), "SELECT count(*) FROM throttle WHERE rhost = $1 AND at >= $2", &ps, &n);
	if (r == 0)
		*count = n > UINT_MAX ? UINT_MAX : (unsigned)n;
	return r;
}

static int pg_throttle_add(struct store *st, const char *rhost, int64_t at, int64_t prune_before)
{
	struct params prune = { 0 }, ps = { 0 };
	int r;

	add_int(&prune, prune_before);
	r = run(pg(st), "DELETE FROM throttle WHERE at < $1", &prune, NULL);
	add_text(&ps, rhost);
	add_int(&ps, at);
	return r ? r : run(pg(st), "INSERT INTO throttle (rhost, at) VALUES ($1, $2)", &ps, NULL);
}

static int pg_throttle_rebase(struct store *st, int64_t now)
{
	struct params ps = { 0 };

	add_int(&ps, now);
	return run(pg(st), "UPDATE throttle SET at = $1 WHERE at > $1", &ps, NULL);
}

/* --- audit -------------------------------------------------------------------- */

/* The chain's lock, once a transaction: appends are one at a time across the campus. */
static int lock_chain(struct pg_store *s)
{
	int r;

	if (!s->in_txn)
		return say(s, -EINVAL, "the audit trail is appended inside a transaction");
	if (s->chain_locked)
		return 0;
	r = lock_key(s, LOCK_AUDIT_CHAIN);
	s->chain_locked = r == 0;
	return r;
}

static bool hex_hash(const char *hex, unsigned char hash[32])
{
	size_t got = 0;

	memset(hash, 0, 32);
	return hex && strlen(hex) == 64 && sodium_hex2bin(hash, 32, hex, 64, NULL, &got, NULL) == 0 && got == 32;
}

/* The newest row, read once a transaction under the chain's lock, then kept as this transaction appends. */
static int chain_head(struct pg_store *s)
{
	PGresult *res;
	int r = lock_chain(s);

	if (r || s->chain_known)
		return r;
	r = run(s, "SELECT seq, encode(hash, 'hex') FROM audit ORDER BY seq DESC LIMIT 1", NULL, &res);
	if (r)
		return r;
	memset(s->chain_hash, 0, sizeof(s->chain_hash));
	s->chain_seq = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (PQntuples(res) && !hex_hash(PQgetvalue(res, 0, 1), s->chain_hash))
		r = say(s, -EIO, "audit: the newest row's hash is not 32 bytes");
	PQclear(res);
	s->chain_known = r == 0;
	return r;
}

static int pg_audit_last_hash(struct store *st, unsigned char hash[32], int *empty)
{
	struct pg_store *s = pg(st);
	int r = chain_head(s);

	memcpy(hash, s->chain_hash, 32);
	*empty = r == 0 && s->chain_seq == 0;
	return r;
}

/* One audit row at seq, as given (empty text is NULL, as every append stores it). */
static int insert_audit(struct pg_store *s, int64_t seq, const struct store_audit *a, const unsigned char hash[32])
{
	struct params ps = { 0 };
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	add_int(&ps, seq);
	add_int(&ps, a->at);
	add_text(&ps, a->event);
	if (a->person > 0)
		add_int(&ps, a->person);
	else
		add_text(&ps, NULL);
	add_text_or_null(&ps, a->username);
	add_text_or_null(&ps, a->service);
	add_text_or_null(&ps, a->rhost);
	add_text_or_null(&ps, a->tty);
	add_text(&ps, a->result);
	add_text(&ps, hex);
	return run(s, "INSERT INTO audit (seq, at, event, person, username, service, rhost, tty, result, hash) "
		   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, decode($10, 'hex'))", &ps, NULL);
}

static int pg_audit_insert(struct store *st, const struct store_audit *a, const unsigned char hash[32])
{
	struct pg_store *s = pg(st);
	int r = chain_head(s);

	/* seq under the chain's lock: no gap for a rolled-back append, as a sequence would leave */
	if (r == 0)
		r = insert_audit(s, s->chain_seq + 1, a, hash);
	if (r == 0) {
		s->chain_seq++;
		memcpy(s->chain_hash, hash, 32);
	}
	return r;
}

static void read_audit_row(const PGresult *res, int i, struct store_audit_row *row)
{
	struct row_ref ref = { res, i };

	row->seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	row->ev.at = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	row->ev.event = column_of(&ref, 2);
	row->ev.person = column_of(&ref, 3) ? strtoll(PQgetvalue(res, i, 3), NULL, 10) : 0;
	row->ev.username = column_of(&ref, 4);
	row->ev.service = column_of(&ref, 5);
	row->ev.rhost = column_of(&ref, 6);
	row->ev.tty = column_of(&ref, 7);
	row->ev.result = column_of(&ref, 8);
	row->hash_ok = hex_hash(column_of(&ref, 9), row->hash);
}

static int pg_audit_foreach(struct store *st, int64_t since, int64_t person,
			    int (*cb)(const struct store_audit_row *row, void *ctx), void *ctx)
{
	int64_t after = 0;
	int r = 0, rows = BATCH_ROWS;

	while (r == 0 && rows == BATCH_ROWS) {
		struct params ps = { 0 };
		struct store_audit_row row;
		PGresult *res;

		add_int(&ps, since);
		add_int(&ps, person);
		add_int(&ps, after);
		add_int(&ps, BATCH_ROWS);
		r = run(pg(st), "SELECT seq, at, event, person, username, service, rhost, tty, result, "
			"encode(hash, 'hex') FROM audit WHERE at >= $1 AND ($2::bigint = 0 OR person = $2::bigint) "
			"AND seq > $3 ORDER BY seq LIMIT $4", &ps, &res);
		rows = r == 0 ? PQntuples(res) : 0;
		for (int i = 0; r == 0 && i < rows; i++) {
			read_audit_row(res, i, &row);
			after = row.seq;
			r = cb(&row, ctx);
		}
		PQclear(res);
	}
	return r;
}

/* --- store_copy ------------------------------------------------------------- */

/* Every batch of the copy sees the same moment. */
static int pg_begin_copy(struct store *st)
{
	return begin_as(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

static int pg_throttle_foreach(struct store *st, int (*cb)(const char *rhost, int64_t at, void *ctx), void *ctx)
{
	PGresult *res;
	int r = run(pg(st), "SELECT rhost, at FROM throttle ORDER BY at, rhost", NULL, &res);

	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = cb(PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL, 10), ctx);
	PQclear(res);
	return r;
}

static int pg_copy_person(struct store *st, const struct person *p)
{
	struct store_person_values v = { 0 };
	struct params ps = { 0 };

	store_person_values(p, &v);
	for (int i = 0; i < STORE_PERSON_NCOLUMNS; i++)
		add_text(&ps, v.v[i]);
	return run(pg(st), "INSERT INTO person (" STORE_PERSON_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, "
		   "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, "
		   "$27, $28, $29, $30)", &ps, NULL);
}

static int pg_copy_throttle(struct store *st, const char *rhost, int64_t at)
{
	struct params ps = { 0 };

	add_text(&ps, rhost);
	add_int(&ps, at);
	return run(pg(st), "INSERT INTO throttle (rhost, at) VALUES ($1, $2)", &ps, NULL);
}

static int pg_copy_audit(struct store *st, const struct store_audit_row *row)
{
	return insert_audit(pg(st), row->seq, &row->ev, row->hash);
}

/* The rowids came along: new people are numbered after them. */
static int pg_copy_finish(struct store *st)
{
	return run(pg(st), "SELECT setval(pg_get_serial_sequence('person', 'rowid'), coalesce(max(rowid), 0) + 1, "
		   "false) FROM person", NULL, NULL);
}

const struct store_backend store_postgres = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.errmsg = pg_errmsg,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.schema_version = pg_schema_version,
	.snapshot = NULL,	/* store.c copies the rows into a new SQLite file */
	.by_id_number = pg_by_id_number,
	.by_student_number = pg_by_student_number,
	.by_username = pg_by_username,
	.insert = pg_insert,
	.update_roster = pg_update_roster,
	.set_pin = pg_set_pin,
	.unlock = pg_unlock,
	.lease_take = pg_lease_take,
	.lease_renew = pg_lease_renew,
	.lease_release = pg_lease_release,
	.lease_get = pg_lease_get,
	.set_username = pg_set_username,
	.set_rename_to = pg_set_rename_to,
	.set_revoke_expire = pg_set_revoke_expire,
	.set_state = pg_set_state,
	.set_failures = pg_set_failures,
	.reserve = pg_reserve,
	.record_intent = pg_record_intent,
	.id_held = pg_id_held,
	.name_pending = pg_name_pending,
	.spend_pin = pg_spend_pin,
	.activate = pg_activate,
	.throttle_count = pg_throttle_count,
	.throttle_add = pg_throttle_add,
	.throttle_rebase = pg_throttle_rebase,
	.audit_last_hash = pg_audit_last_hash,
	.audit_insert = pg_audit_insert,
	.audit_foreach = pg_audit_foreach,
	.person_foreach = pg_person_foreach,
	.begin_copy = pg_begin_copy,
	.throttle_foreach = pg_throttle_foreach,
	.copy_person = pg_copy_person,
	.copy_throttle = pg_copy_throttle,
	.copy_audit = pg_copy_audit,
	.copy_finish = pg_copy_finish,
};
