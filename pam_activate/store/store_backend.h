/*
 * store_backend.h: what a store backend provides, private to store/. store.c
 * picks a backend by the database value and forwards every store.h call
 * through its table; each backend's handle begins with a struct store, so
 * the front needs nothing else of it. Also the checks the backends share.
 */
#ifndef ACTIVATE_STORE_BACKEND_H
#define ACTIVATE_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "store.h"

struct store {
	const struct store_backend *be;
};

struct store_backend {
	const char *name;
	int (*open)(const char *target, const struct store_options *opt, int flags, struct store **out,
		    char *err, size_t errlen);
	void (*close)(struct store *st);
	const char *(*errmsg)(struct store *st);
	int (*begin)(struct store *st);
	int (*commit)(struct store *st);
	void (*rollback)(struct store *st);
	int (*schema_version)(struct store *st, int *version);
	int (*snapshot)(struct store *st, const char *path);
	int (*by_id_number)(struct store *st, const char *key, struct person *out);
	int (*by_student_number)(struct store *st, const char *key, struct person *out);
	int (*by_username)(struct store *st, const char *key, struct person *out);
	int (*insert)(struct store *st, struct person *p);
	int (*update_roster)(struct store *st, const struct person *p);
	int (*set_pin)(struct store *st, const struct person *p, const char *hash, int64_t expires);
	int (*unlock)(struct store *st, int64_t rowid);
	int (*set_username)(struct store *st, const struct person *p, const char *username);
	int (*set_rename_to)(struct store *st, const struct person *p, const char *username);
	int (*set_revoke_expire)(struct store *st, const struct person *p, const char *expire);
	int (*set_state)(struct store *st, const struct person *p, int state);
	int (*set_failures)(struct store *st, const struct person *p);
	int (*reserve)(struct store *st, const struct person *p);
	int (*record_intent)(struct store *st, const struct person *p, int64_t uid, int64_t gid, const char *home);
	int (*id_held)(struct store *st, int64_t id, int64_t self, bool *held);
	int (*name_pending)(struct store *st, const char *name, int64_t self, bool *pending);
	int (*spend_pin)(struct store *st, struct person *p, bool spent);
	int (*activate)(struct store *st, const struct person *p);
	int (*lease_take)(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds);
	int (*lease_renew)(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds);
	int (*lease_release)(struct store *st, int64_t person, const struct store_lease *me);
	int (*lease_get)(struct store *st, int64_t person, struct store_lease *out);
	int (*throttle_count)(struct store *st, const char *rhost, int64_t since, unsigned *count);
	int (*throttle_add)(struct store *st, const char *rhost, int64_t at, int64_t prune_before);
	int (*throttle_rebase)(struct store *st, int64_t now);
	int (*audit_last_hash)(struct store *st, unsigned char hash[32], int *empty);
	int (*audit_insert)(struct store *st, const struct store_audit *a, const unsigned char hash[32]);
	int (*audit_foreach)(struct store *st, int64_t since, int64_t person,
			     int (*cb)(const struct store_audit_row *row, void *ctx), void *ctx);
	int (*person_foreach)(struct store *st, int state, int (*cb)(const struct person *p, void *ctx), void *ctx);
	/* store_copy: a transaction whose reads see one moment (and, in SQLite, no one writes) */
	int (*begin_copy)(struct store *st);
	int (*throttle_foreach)(struct store *st, int (*cb)(const char *rhost, int64_t at, void *ctx), void *ctx);
	/* rows as they are, with their rowid, version, seq and hash */
	int (*copy_person)(struct store *st, const struct person *p);
	int (*copy_throttle)(struct store *st, const char *rhost, int64_t at);
	int (*copy_audit)(struct store *st, const struct store_audit_row *row);
	int (*copy_finish)(struct store *st);	/* NULL: nothing to do */
};

extern const struct store_backend store_sqlite;
extern const struct store_backend store_postgres;

/*
 * A file the store trusts (the SQLite database, the PostgreSQL password):
 * a regular file owned by root, without group or other access. mode_text
 * names what is expected in the error ("0600").
 */
int store_check_private(int fd, const char *path, const char *mode_text, char *err, size_t errlen);
/* ...the rule itself: a regular file of root's with none of the forbidden mode bits. */
int store_check_owner(const struct stat *sb, const char *path, mode_t forbidden, const char *expect,
		      char *err, size_t errlen);

/*
 * The columns every backend selects for a person, in this order; col(ctx, i)
 * gives column i as text, NULL for SQL NULL. store_read_person fills p.
 */
#define STORE_PERSON_COLUMNS \
	"rowid, id_number, student_number, given_name, family_name, kind, programme, " \
	"fee_paid_on, username, email, pin_hash, pin_expires, pin_spent, failures, " \
	"total_failures, locks, locked_until, uid, state, terms_accepted, terms_hash, " \
	"created, updated, version, gid, home, rename_to, revoked_from, revoke_expire, language"
void store_read_person(struct person *p, const char *(*col)(void *ctx, int i), void *ctx);

/* The other way: p as the values of STORE_PERSON_COLUMNS (NULL for SQL NULL), for a copy. */
#define STORE_PERSON_NCOLUMNS 30
struct store_person_values {
	const char *v[STORE_PERSON_NCOLUMNS];
	bool number[STORE_PERSON_NCOLUMNS];
	char num[STORE_PERSON_NCOLUMNS][24];
};
void store_person_values(const struct person *p, struct store_person_values *out);

/* Run a transaction this many times at most when the server aborts it for a conflict (-EDEADLK). */
#define STORE_TRIES 5

/* The default of database_timeout, in seconds, when opt gives none. */
#define STORE_TIMEOUT_DEFAULT 10
unsigned store_timeout(const struct store_options *opt);

#endif
