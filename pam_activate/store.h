/*
 * store.h: the activation database. The only interface that speaks SQL; the
 * rest of the code sees people, throttle counts and audit rows.
 */
#ifndef ACTIVATE_STORE_H
#define ACTIVATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "person.h"

struct store;

#define STORE_CREATE 1		/* create the file (0600) if missing */

/* The schema version this build writes; older files are migrated on open. */
#define STORE_SCHEMA_VERSION 1

/*
 * Open (and with STORE_CREATE create) the database at path. The file must be
 * a regular file owned by root, not a symlink, without group or other access,
 * in a directory only root can write. err says why on failure.
 */
int store_open(const char *path, int flags, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);

/* The last SQLite error, for logs. */
const char *store_errmsg(struct store *st);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Every change runs inside one. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

int store_schema_version(struct store *st, int *version);

/* Look a person up by ID number, student number or username. -ENOENT if none. */
int store_person_find(struct store *st, const char *key, struct person *out);
int store_person_by_id_number(struct store *st, const char *id_number, struct person *out);
int store_person_by_student_number(struct store *st, const char *student_number, struct person *out);
int store_person_by_username(struct store *st, const char *username, struct person *out);

/* Insert a new person (state pending); sets p->rowid. -EEXIST on a duplicate. */
int store_person_insert(struct store *st, struct person *p);

/* Write the roster fields (names, kind, programme, fee, username, email) of p->rowid. */
int store_person_update_roster(struct store *st, const struct person *p);

/* A new PIN hash: failures, total failures and the spent mark start over. */
int store_person_set_pin(struct store *st, int64_t rowid, const char *hash, int64_t expires);

/* Clear the lock and the failure count (the help desk's unlock). */
int store_person_unlock(struct store *st, int64_t rowid);

/* A person's new username (rename); -EEXIST if someone has it. */
int store_person_set_username(struct store *st, int64_t rowid, const char *username);

/* Set a person's state (revoke, restore); other fields are left alone. */
int store_person_set_state(struct store *st, int64_t rowid, int state);

/* The failure counters and lock of a person, as the dialogue decided them. */
int store_person_set_failures(struct store *st, const struct person *p);

/*
 * Reserve p->username and move p to provisioning (from pending or
 * provisioning), recording the terms accepted. -EEXIST if the username went
 * to someone else meanwhile; -ENOENT if p is no longer pending/provisioning.
 */
int store_person_reserve(struct store *st, const struct person *p);

/*
 * An active person's PIN marked spent (or, after a failure, not): only
 * while it is still the PIN p holds, so one issued meanwhile is left alone.
 */
int store_person_spend_pin(struct store *st, const struct person *p, bool spent);

/* provisioning -> active with uid; the PIN is spent. -ENOENT if not provisioning. */
int store_person_activate(struct store *st, int64_t rowid, int64_t uid);

/* Failures from rhost at or after since; and one more at "at". */
int store_throttle_count(struct store *st, const char *rhost, int64_t since, unsigned *count);
int store_throttle_add(struct store *st, const char *rhost, int64_t at, int64_t prune_before);

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
