/*
 * store.h: the activation database. The only interface that speaks SQL; the
 * rest of the code sees people, throttle counts and audit rows. Two
 * backends behind it (store.c picks one): SQLite (sqlite.c), a file on this
 * machine, and PostgreSQL (postgres.c), one database for a whole campus.
 */
#ifndef ACTIVATE_STORE_H
#define ACTIVATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "person.h"

struct store;

#define STORE_LEASE_HOST_MAX 64	/* a lease holder's host id, in characters */

#define STORE_CREATE 1		/* create the file (0600) if missing */

/* The schema version this build writes; older files are migrated on open. */
#define STORE_SCHEMA_VERSION 4

/* How to reach a PostgreSQL store; SQLite uses the timeout alone. */
struct store_options {
	const char *password_file;	/* the role's password: a root-only file; NULL or "": none */
	const char *ca_file;		/* the CA a TCP connection is verified against (verify-full) */
	unsigned timeout;		/* seconds a connection or a transaction may wait; 0: 10 */
};

/*
 * Open the database named by database: "sqlite:PATH" or an absolute PATH
 * (SQLite; with STORE_CREATE the file is created if missing), or a
 * "postgresql://" or "postgres://" URL (PostgreSQL; the database must
 * exist, STORE_CREATE changes nothing). Either way the schema is brought
 * to STORE_SCHEMA_VERSION. A SQLite file must be a regular file owned by
 * root, not a symlink, without group or other access, in a directory only
 * root can write. err says why on failure. store_open uses no options.
 */
int store_open(const char *database, int flags, struct store **out, char *err, size_t errlen);
int store_open_with(const char *database, const struct store_options *opt, int flags, struct store **out,
		    char *err, size_t errlen);
/* ...with the database and its options from the configuration. */
int store_open_config(const struct config *cfg, int flags, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);

/* The file of a SQLite database value (PATH or sqlite:PATH); NULL for any other. */
const char *store_sqlite_path(const char *database);

/* Which backend st is: "sqlite" or "postgresql". */
const char *store_backend_name(struct store *st);

/* The last error of the backend, for logs (never a password). */
const char *store_errmsg(struct store *st);

/*
 * Begin, commit, roll back. Every change runs inside one. SQLite: BEGIN
 * IMMEDIATE, the whole file's write lock. PostgreSQL: READ COMMITTED, each
 * person read inside it locks the row (FOR UPDATE) as SQLite's lock would.
 */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * fn inside one transaction: committed if fn returns 0, else rolled back.
 * A transaction the server ended for a conflict with another machine's
 * (PostgreSQL: a deadlock, a serialization failure, a race on a unique
 * value: -EDEADLK) is run again, a few times at most; so fn decides on
 * what it reads inside, and running it again decides anew.
 */
int store_transaction(struct store *st, int (*fn)(struct store *st, void *ctx), void *ctx);

int store_schema_version(struct store *st, int *version);

/*
 * A consistent copy of the whole database in a new SQLite file at path
 * (SQLite: VACUUM INTO; PostgreSQL: every row copied, in one snapshot).
 */
int store_snapshot(struct store *st, const char *path);

/*
 * Every row of from (people, throttle, audit) into to, as they are: rowids,
 * versions, seq and hashes kept. from is read in one snapshot (SQLite:
 * under its write lock, so nothing is written meanwhile); to is written in
 * one transaction, all or nothing. to should be empty (see store_count).
 */
int store_copy(struct store *from, struct store *to);

struct store_counts {
	int64_t people, throttle, audit;
};
int store_count(struct store *st, struct store_counts *out);

/*
 * Look a person up by a KEY: an ID number, a student number or a username,
 * or one of them alone with a prefix "id:", "sn:" or "user:". -ENOENT if
 * none; -ENOTUNIQ if the KEY names two people by different columns (then
 * out and other hold both).
 */
int store_person_find(struct store *st, const char *key, struct person *out, struct person *other);
int store_person_by_id_number(struct store *st, const char *id_number, struct person *out);
int store_person_by_student_number(struct store *st, const char *student_number, struct person *out);
int store_person_by_username(struct store *st, const char *username, struct person *out);

/* Insert a new person (state pending); sets p->rowid. -EEXIST on a duplicate. */
int store_person_insert(struct store *st, struct person *p);

/*
 * Compare-and-swap: each change below that takes a whole person writes only
 * if the row is still at p->version (or, where said, still in the state
 * the change needs), else -ESTALE: the caller reads the row again, inside
 * its transaction, and decides anew. Every write bumps the version.
 */

/* Write the roster fields (ID number, names, kind, programme, fee, username, email) of p; a new ID number voids the PIN. */
int store_person_update_roster(struct store *st, const struct person *p);

/* A new PIN hash: failures, total failures, locks and the spent mark start over. */
int store_person_set_pin(struct store *st, const struct person *p, const char *hash, int64_t expires);

/* Clear the lock, the lock count and the failure count (the help desk's unlock). */
int store_person_unlock(struct store *st, int64_t rowid);

/* A person's new username (rename; a rename under way is over); -EEXIST if someone has it. */
int store_person_set_username(struct store *st, const struct person *p, const char *username);

/* A rename under way (recorded before the account files change), or none (NULL). */
int store_person_set_rename_to(struct store *st, const struct person *p, const char *username);

/* The account's expiry as it was before a revoke (the shadow field, "" for none), for restore to give back. */
int store_person_set_revoke_expire(struct store *st, const struct person *p, const char *expire);

/* Set a person's state (revoke, restore); other fields are left alone. */
int store_person_set_state(struct store *st, const struct person *p, int state);

/* The failure counters and lock of a person, as the dialogue decided them. */
int store_person_set_failures(struct store *st, const struct person *p);

/*
 * Reserve p->username and move p to provisioning (from pending or
 * provisioning), recording the terms accepted. -EEXIST if the username went
 * to someone else meanwhile; -ESTALE if the row changed since p was read.
 */
int store_person_reserve(struct store *st, const struct person *p);

/*
 * The intent of a provisioning person: the ids and home its account will
 * have, recorded before the first account file changes, so that any later
 * attempt knows every partial state as its own. Only while p is
 * provisioning under p->username (else -ESTALE), and only while no other
 * person holds uid or gid as either (else -EEXIST: another machine's
 * intent took it meanwhile; choose again).
 */
int store_person_record_intent(struct store *st, const struct person *p, int64_t uid, int64_t gid,
			       const char *home);

/* Whether a person other than self holds id as uid or gid (an intent, or an account); true on error. */
int store_person_id_held(struct store *st, int64_t id, int64_t self, bool *held);

/* Whether a person other than self is being renamed to name (rename_to); true on error. */
int store_person_name_pending(struct store *st, const char *name, int64_t self, bool *pending);

/*
 * An active person's PIN marked spent (or, after a failure, given back):
 * only while it is still the PIN p holds and still unspent (given back:
 * still spent by us), so one PIN changes a password once. -ESTALE if not.
 */
int store_person_spend_pin(struct store *st, struct person *p, bool spent);

/*
 * provisioning -> active; the PIN is spent. Only while p is provisioning
 * with the intent's uid and username, and its PIN is the one p holds, unspent.
 */
int store_person_activate(struct store *st, const struct person *p);

/*
 * The person lease: who may change a person now, across every machine on
 * the store (core/lease.c takes it after the host's own flock). A holder
 * is a host (lease.c's id of this machine's run_dir) and a pid. take
 * succeeds when there is no lease, it has expired, or it is held by the
 * same host (whose flock the caller now holds, so that holder is gone);
 * else -EBUSY. The lease lasts seconds by the backend's clock (PostgreSQL:
 * the server's, so the machines' clocks need not agree). renew: -ESTALE
 * when it is no longer ours. Leases are not person data: no version bump.
 */
struct store_lease {
	char host[STORE_LEASE_HOST_MAX + 1];
	int64_t pid;
	int64_t until;		/* seconds since the epoch, by the store's clock */
};
int store_lease_take(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds);
int store_lease_renew(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds);
int store_lease_release(struct store *st, int64_t person, const struct store_lease *me);
/* The lease on person as it is (-ENOENT: none). */
int store_lease_get(struct store *st, int64_t person, struct store_lease *out);

/* Failures from rhost at or after since; and one more at "at". */
int store_throttle_count(struct store *st, const char *rhost, int64_t since, unsigned *count);
int store_throttle_add(struct store *st, const char *rhost, int64_t at, int64_t prune_before);
/* Failures recorded after now (the clock was set back) are taken as made now. */
int store_throttle_rebase(struct store *st, int64_t now);

struct store_audit {
	int64_t at;
	const char *event;
	int64_t person;		/* rowid, 0: nobody */
	const char *username, *service, *rhost, *tty, *result;
};

/* The hash of the newest audit row (all zero, and *empty, for none). */
int store_audit_last_hash(struct store *st, unsigned char hash[32], int *empty);
int store_audit_insert(struct store *st, const struct store_audit *a, const unsigned char hash[32]);

/* An audit row as stored; its strings live until the callback returns. */
struct store_audit_row {
	int64_t seq;
	struct store_audit ev;
	unsigned char hash[32];
	bool hash_ok;		/* the stored hash had 32 bytes */
};

/* Call cb for the audit rows at or after since (a time) of person (0: all), oldest first. */
int store_audit_foreach(struct store *st, int64_t since, int64_t person,
			int (*cb)(const struct store_audit_row *row, void *ctx), void *ctx);

/* Call cb for every person (state < 0) or those in one state, in ID-number order. */
int store_person_foreach(struct store *st, int state,
			 int (*cb)(const struct person *p, void *ctx), void *ctx);

#endif
