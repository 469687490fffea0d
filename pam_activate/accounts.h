/*
 * accounts.h: the local account files (passwd, shadow, group, gshadow) and
 * the home directory of a new account, under sysroot.
 */
#ifndef ACTIVATE_ACCOUNTS_H
#define ACTIVATE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "logindefs.h"

struct account {
	const char *name;	/* checked with username_valid */
	const char *gecos;	/* the person's name; ':' ',' and controls are refused */
	const char *hash;	/* crypt(3) hash for shadow ("!" locks it) */
	const char *shell;	/* NULL: the configured shell */
	bool system;		/* a system account (SYS_UID_MIN..): no home, no groups,
				   kept as it is if it exists */
	bool must_change;	/* the password must be changed at the first login (lastchg 0) */
	bool ids_known;		/* in: uid and gid are the recorded intent's */
	bool chose_ids;		/* out: this attempt chose them (and recorded the intent) */
	uid_t uid;		/* in with ids_known, else out */
	gid_t gid;
	char home[4096];	/* out: as written in passwd */
	/*
	 * Called under the lock with the ids just chosen, before any file
	 * changes: it makes the intent durable (nonzero: nothing is written).
	 */
	int (*record_intent)(const struct account *a, void *ctx);
	/* Whether another person's intent holds id (may be NULL): such an id is not free. */
	bool (*id_held)(unsigned long id, void *ctx);
	void *intent_ctx;
};

/*
 * Make sure the account exists: under the password-file locks (lckpwdf's
 * .pwd.lock and shadow-utils' NAME.lock), a user-private group, the passwd
 * and shadow entries, gshadow where present, membership of the configured
 * groups, each file replaced atomically with a backup NAME-; then the home
 * directory from skel. Idempotent against the intent: an entry already
 * there with the intent's ids is kept (an interrupted attempt made it), the
 * shadow hash is this attempt's, a missing piece is added; an entry of the
 * name with other ids, or any entry without an intent, is refused. err says
 * why on failure; on failure before the rename of a file nothing of it
 * changed.
 */
int accounts_provision(const struct config *cfg, const struct logindefs *ld, struct account *a,
		       char *err, size_t errlen);

/*
 * Lock name's account (revoked: one more '!' before the hash and expired on
 * day 1, so that keys and other methods fail in pam_unix's account check
 * too) or unlock it (that undone), in sysroot's shadow, atomically as
 * above. Unlocking gives back expire as the expiry (NULL: none). Both are
 * idempotent: locking a revoked account or unlocking one that is not
 * changes nothing (-EALREADY). -ENOENT: no shadow entry; -ENODATA
 * (unlocking): only '!' would be left, so it stays locked.
 */
int accounts_set_locked(const struct config *cfg, const char *name, bool locked, const char *expire, char *err,
			size_t errlen);

/* name's expiry field in shadow as it stands, and whether it carries revoke's mark; read only. */
int accounts_shadow_expire(const struct config *cfg, const char *name, char *expire, size_t size, bool *revoked);

/* A new password hash for name in sysroot's shadow (and today as the date of the last change); -EALREADY: it is that one. */
int accounts_set_password(const struct config *cfg, const char *name, const char *hash, char *err, size_t errlen);

/*
 * Rename the account from to to: the user in passwd and shadow, its own
 * group (its primary group, when named like the user) in group and
 * gshadow, the name in every member and administrator list, and the home
 * directory when it is home_base/from (refused if home_base/to exists).
 * The caller checks that to is a valid, free username. resume: finish a
 * rename that was interrupted (the files may carry either name). On
 * success err is empty, or says the home could not be moved (the files are
 * renamed).
 */
int accounts_rename(const struct config *cfg, const char *from, const char *to, bool resume, char *err,
		    size_t errlen);

/* True if name has an entry in any of sysroot's four account files (NSS not asked), or one cannot be read. */
bool accounts_in_files(const struct config *cfg, const char *name);

/* True if name is a user or group in sysroot's files or known to NSS. */
bool accounts_name_taken(const struct config *cfg, const char *name);

/* The same for many names: sysroot's passwd and group read once. */
struct account_names;
struct account_names *accounts_names_load(const struct config *cfg);
bool accounts_names_has(const struct account_names *n, const char *name);
void accounts_names_free(struct account_names *n);

#endif
