/*
 * ctl_change.c: what the help desk changes about one person. set: the
 * programme, fee date or kind by hand (say, having seen the receipt of a
 * fee the student system has not registered yet); the student system stays
 * the source, and the next import that carries the person brings its values
 * back. revoke and restore: no activation, and the local account locked
 * (or both undone). rename: a new username, in the account files too.
 */
#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "accounts.h"
#include "audit.h"
#include "rename.h"
#include "ctl.h"
#include "hook.h"
#include "text.h"
#include "username.h"

struct change {
	const char *programme, *fee_paid_on;
	int kind;		/* -1: unchanged */
};

static int check_programme(const char *v)
{
	if (strlen(v) >= PERSON_NAME_MAX) {
		ctl_error("--programme: too long (at most %d bytes)", PERSON_NAME_MAX - 1);
		return -1;
	}
	if (text_check_utf8_printable(v, strlen(v)) != 0) {
		ctl_error("--programme: not printable UTF-8");
		return -1;
	}
	return 0;
}

static int parse_change(int argc, char **argv, struct change *ch)
{
	static const struct option options[] = {
		{ "programme", required_argument, NULL, 'p' },
		{ "fee-paid-on", required_argument, NULL, 'f' },
		{ "kind", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "p:f:k:", options, NULL)) != -1) {
		if (o == 'p' && check_programme(optarg) == 0)
			ch->programme = optarg;
		else if (o == 'f' && (!optarg[0] || text_is_date(optarg)))
			ch->fee_paid_on = optarg;
		else if (o == 'k' && person_kind_parse(optarg, &ch->kind) == 0)
			continue;
		else {
			if (o == 'f')
				ctl_error("--fee-paid-on: expected a date YYYY-MM-DD, or \"\" to clear it");
			else if (o == 'k')
				ctl_error("--kind: expected student, exchange or employee");
			return -1;
		}
	}
	if (!ch->programme && !ch->fee_paid_on && ch->kind < 0)
		return -1;
	return optind == argc - 1 ? 0 : -1;
}

static void apply(const struct change *ch, struct person *p, char *what, size_t len)
{
	size_t n = 0;

	if (ch->programme) {
		snprintf(p->programme, sizeof(p->programme), "%s", ch->programme);
		n += (size_t)snprintf(what + n, len - n, "programme=%s ", ch->programme);
	}
	if (ch->fee_paid_on && n < len) {
		snprintf(p->fee_paid_on, sizeof(p->fee_paid_on), "%s", ch->fee_paid_on);
		n += (size_t)snprintf(what + n, len - n, "fee_paid_on=%s ",
				      ch->fee_paid_on[0] ? ch->fee_paid_on : "(none)");
	}
	if (ch->kind >= 0 && n < len) {
		p->kind = ch->kind;
		n += (size_t)snprintf(what + n, len - n, "kind=%s ", person_kind_name(ch->kind));
	}
	if (n > 0 && n <= len)
		what[n - 1] = '\0';
}

struct setting {
	struct person *p;
	const struct change *ch;
	char *what;
	size_t len;
};

static int set_change(struct store *st, void *ctx)
{
	const struct setting *s = ctx;
	int r = store_person_by_id_number(st, s->p->id_number, s->p);

	if (r)
		return r;
	apply(s->ch, s->p, s->what, s->len);
	return store_person_update_roster(st, s->p);
}

/* The row is read again inside the transaction: a dialogue may have reserved a username meanwhile. */
static int write_change(struct ctl *c, struct person *p, const struct change *ch, char *what, size_t len)
{
	struct setting s = { p, ch, what, len };

	return store_transaction(c->st, set_change, &s);
}

int ctl_cmd_set(struct ctl *c, int argc, char **argv)
{
	struct change ch = { .kind = -1 };
	char what[2 * PERSON_NAME_MAX];
	struct person p;

	if (parse_change(argc, argv, &ch) != 0)
		return ctl_usage("set");
	if (ctl_find(c, argv[optind], &p) != 0)
		return CTL_FAIL;
	if (write_change(c, &p, &ch, what, sizeof(what)) != 0) {
		ctl_error("%s: %s; nothing was changed", argv[optind], store_errmsg(c->st));
		return CTL_FAIL;
	}
	ctl_audit(c, "set", &p, what);
	printf("%s: %s (until an import brings the roster's values)\n", p.id_number, what);
	return CTL_OK;
}

static int finish_pending_rename(struct ctl *c, struct person *p);

/* One change of the row, deciding on it as it is inside the transaction. */
typedef int row_fn(struct store *st, struct person *p, const void *arg);

struct row_change {
	struct person *p;
	row_fn *fn;
	const void *arg;
};

static int row_change(struct store *st, void *ctx)
{
	struct row_change *c = ctx;
	int r = store_person_by_id_number(st, c->p->id_number, c->p);

	return r ? r : c->fn(st, c->p, c->arg);
}

/* ... and, with event, the audit row of it in the same transaction: recorded exactly when it happened. */
static int change_row_as(struct ctl *c, struct person *p, row_fn *fn, const void *arg, const char *event,
			 const char *result)
{
	struct store_audit ev = {
		.event = event, .person = p->rowid, .username = p->username[0] ? p->username : NULL,
		.service = "activatectl", .result = result,
	};
	struct row_change change = { p, fn, arg };
	int r = audit_change(c->st, LOG_NOTICE, event ? &ev : NULL, row_change, &change);

	if (r == 0)
		p->version++;
	return r;
}

static int change_row(struct ctl *c, struct person *p, row_fn *fn, const void *arg)
{
	return change_row_as(c, p, fn, arg, NULL, NULL);
}

static int set_state(struct store *st, struct person *p, const void *arg)
{
	int r = store_person_set_state(st, p, *(const int *)arg);

	if (r == 0) {
		if (*(const int *)arg == PERSON_REVOKED && p->state != PERSON_REVOKED)
			p->revoked_from = p->state;
		p->state = *(const int *)arg;
	}
	return r;
}

static int set_revoke_expire(struct store *st, struct person *p, const void *arg)
{
	int r = store_person_set_revoke_expire(st, p, arg);

	if (r == 0)
		p->revoke_expire_set = arg != NULL;
	return r;
}

/*
 * The account's expiry, kept before revoke's mark replaces it: while the
 * line is not marked its expiry is the real one (so a revoke run again
 * after a cut keeps what the first recorded).
 */
static int keep_expiry(struct ctl *c, struct person *p)
{
	char expire[24];
	bool marked;

	if (!p->username[0] || accounts_shadow_expire(&c->cfg, p->username, expire, sizeof(expire), &marked) != 0 ||
	    marked)
		return 0;
	if (change_row(c, p, set_revoke_expire, expire) != 0) {
		ctl_error("%s: %s; nothing was changed", p->id_number, store_errmsg(c->st));
		return -1;
	}
	return 0;
}

static int set_rename_to(struct store *st, struct person *p, const void *arg)
{
	int r = store_person_set_rename_to(st, p, arg);

	if (r == 0)
		snprintf(p->rename_to, sizeof(p->rename_to), "%s", arg ? (const char *)arg : "");
	return r;
}

/*
 * Lock or unlock the account, if there is one (a person mid-activation may
 * have a half-made one). Idempotent: a second revoke or restore changes
 * nothing, so a command cut short is finished by running it again.
 */
static int lock_account(struct ctl *c, const struct person *p, bool lock, bool *has_account, bool *changed)
{
	char err[512] = "";
	const char *expire = !lock && p->revoke_expire_set ? p->revoke_expire : NULL;
	int r = p->username[0] ? accounts_set_locked(&c->cfg, p->username, lock, expire, err, sizeof(err)) : -ENOENT;

	*has_account = r == 0 || r == -ENODATA || r == -EALREADY;
	*changed = r == 0;
	if (r == -ENODATA)
		fprintf(stderr, "activatectl: %s: %s\n", p->id_number, err);
	if (r == -ENOENT && p->state == PERSON_ACTIVE) {
		ctl_error("%s: %s has no shadow entry; nothing was changed", p->id_number, p->username);
		return -1;
	}
	if (r && r != -ENOENT && r != -ENODATA && r != -EALREADY) {
		ctl_error("%s: %s", p->id_number, err);
		return -1;
	}
	if (*changed)
		hook_invalidate_caches(&c->cfg);	/* nscd and sssd must not keep the old entry */
	return 0;
}

/* The person of key, locked, as they are now, with a rename that was cut short finished: 0, or -1. */
static int open_person(struct ctl *c, const char *key, struct person *p)
{
	if (ctl_find(c, key, p) != 0 || ctl_lock_person(c, p) != 0)
		return -1;
	if (finish_pending_rename(c, p) != 0) {
		ctl_unlock_person(c);
		return -1;
	}
	return 0;
}

/* Files first (locked at once), then the store: run again, it finishes what a cut left. */
int ctl_cmd_revoke(struct ctl *c, int argc, char **argv)
{
	int state = PERSON_REVOKED;
	struct person p;
	bool account = false, changed, was = false;

	if (argc != 2)
		return ctl_usage("revoke");
	if (open_person(c, argv[1], &p) != 0)
		return CTL_FAIL;
	was = p.state == PERSON_REVOKED;
	if (keep_expiry(c, &p) != 0 || lock_account(c, &p, true, &account, &changed) != 0) {
		ctl_unlock_person(c);
		return CTL_FAIL;
	}
	if (!was && change_row_as(c, &p, set_state, &state, "revoke", account ? "revoked; account locked"
				  : "revoked") != 0) {
		ctl_error(account ? "%s: the account is locked, but the database failed (%s): run revoke again"
			  : "%s: %s; nothing was changed", p.id_number, store_errmsg(c->st));
		ctl_unlock_person(c);
		return CTL_FAIL;
	}
	ctl_unlock_person(c);
	if (was) {
		printf("%s: already revoked%s\n", p.id_number, account ? "; the account is locked" : "");
		return CTL_OK;
	}
	printf("%s: revoked%s\n", p.id_number, account ? "; the account is locked and expired" : "");
	return CTL_OK;
}

/* The state a revoke left; from before the revoke marks were kept, what the account says. */
static int restored_state(const struct ctl *c, const struct person *p)
{
	if (p->revoked_from >= 0 && p->revoked_from != PERSON_REVOKED)
		return p->revoked_from;
	return p->username[0] && accounts_name_taken(&c->cfg, p->username)
		? (p->pin_spent ? PERSON_ACTIVE : PERSON_PROVISIONING) : PERSON_PENDING;
}

/* The store first (the account stays locked until it is done), then the files: run again, it finishes. */
int ctl_cmd_restore(struct ctl *c, int argc, char **argv)
{
	struct person p;
	bool account = false, changed, was;
	int state;

	if (argc != 2)
		return ctl_usage("restore");
	if (open_person(c, argv[1], &p) != 0)
		return CTL_FAIL;
	was = p.state == PERSON_REVOKED;
	if (!was && !p.revoke_expire_set) {	/* nothing of a revoke left to undo */
		ctl_unlock_person(c);
		if (p.revoked_from < 0) {
			ctl_error("%s: not revoked (%s)", p.id_number, person_state_name(p.state));
			return CTL_FAIL;
		}
		printf("%s: restored already (%s)\n", p.id_number, person_state_name(p.state));
		return CTL_OK;
	}
	state = was ? restored_state(c, &p) : p.state;
	if (was && change_row_as(c, &p, set_state, &state, "restore", person_state_name(state)) != 0) {
		ctl_error("%s: %s; nothing was changed", p.id_number, store_errmsg(c->st));
		ctl_unlock_person(c);
		return CTL_FAIL;
	}
	/* only a mark this tool's revoke made (it kept the expiry then); an administrator's own stays */
	if ((p.revoke_expire_set && lock_account(c, &p, false, &account, &changed) != 0) ||
	    change_row(c, &p, set_revoke_expire, NULL) != 0) {
		ctl_error("%s: restored in the database, but the account is still locked: run restore again",
			  p.id_number);
		ctl_unlock_person(c);
		return CTL_FAIL;
	}
	ctl_unlock_person(c);
	printf("%s: %s\n", p.id_number, state == PERSON_PENDING ? "pending again"
	       : state == PERSON_ACTIVE ? "active again; the account is unlocked"
	       : "the account is unlocked; the next activation finishes it");
	return CTL_OK;
}

/* A name the person can have: valid, not reserved, nobody's in the files, NSS or the database. */
static int check_new_name(struct ctl *c, const char *name, int64_t self)
{
	struct person other;
	bool pending = true;

	store_person_name_pending(c->st, name, self, &pending);
	if (pending || username_reserved(&c->cfg, name) || accounts_name_taken(&c->cfg, name) ||
	    store_person_by_username(c->st, name, &other) == 0) {
		ctl_error("%s: taken or reserved", name);
		return -1;
	}
	return 0;
}

/* The new name, or the one of a rename under way (which must be the one asked for). */
static int rename_target(struct ctl *c, struct person *p, const char *to, bool *resume)
{
	*resume = p->rename_to[0] != '\0';
	if (*resume && strcmp(p->rename_to, to) != 0) {
		ctl_error("%s: a rename to %s is under way; run rename %s %s to finish it", p->id_number, p->rename_to,
			  p->id_number, p->rename_to);
		return -1;
	}
	if (*resume)
		return 0;
	if (check_new_name(c, to, p->rowid) != 0)
		return -1;
	if (change_row(c, p, set_rename_to, to) != 0) {
		ctl_error("%s: %s; nothing was changed", p->id_number, store_errmsg(c->st));
		return -1;
	}
	return 0;
}

/*
 * The rename is recorded first (rename_to), then the account files and the
 * home, then the username: cut anywhere, the same command finishes it.
 */
static const struct store_audit ctl_event = { .event = "rename", .service = "activatectl" };

static int do_rename(struct ctl *c, struct person *p, const char *to)
{
	char err[512] = "";
	bool resume, files, refused;
	int r;

	if (rename_target(c, p, to, &resume) != 0)
		return -1;
	r = rename_finish(&c->cfg, c->st, p, resume, &ctl_event, &files, err, sizeof(err));
	refused = r && !resume && !files && (r == -EEXIST || r == -ENOENT || r == -EINVAL);
	if (refused)
		change_row(c, p, set_rename_to, NULL);	/* refused before any file changed */
	if (r) {
		ctl_error("%s: %s%s", p->id_number, err, refused ? "; nothing was changed"
			  : "; run the same rename again to finish it");
		return -1;
	}
	if (err[0])
		fprintf(stderr, "activatectl: %s\n", err);
	return 0;
}

/* A rename cut short is finished before anything else is done to the person. */
static int finish_pending_rename(struct ctl *c, struct person *p)
{
	char err[512] = "";
	bool files;

	if (!p->rename_to[0])
		return 0;
	if (rename_finish(&c->cfg, c->st, p, true, &ctl_event, &files, err, sizeof(err)) != 0) {
		ctl_error("%s: a rename to %s is under way and cannot be finished: %s", p->id_number, p->rename_to, err);
		return -1;
	}
	printf("%s: finished the rename to %s first\n", p->id_number, p->username);
	return 0;
}

int ctl_cmd_rename(struct ctl *c, int argc, char **argv)
{
	char from[PERSON_USERNAME_MAX];
	struct person p;
	int r;

	if (argc != 3 || !username_valid(argv[2], c->cfg.username_max_length)) {
		if (argc == 3)
			ctl_error("%s: a username is a-z then a-z and 0-9, at most %u characters", argv[2],
				  c->cfg.username_max_length);
		return ctl_usage("rename");
	}
	if (ctl_find(c, argv[1], &p) != 0 || ctl_lock_person(c, &p) != 0)
		return CTL_FAIL;
	if (!p.username[0] || p.state == PERSON_REVOKED) {
		ctl_error("%s: %s", p.id_number, p.username[0] ? "revoked; restore the person first" : "has no username yet");
		ctl_unlock_person(c);
		return CTL_FAIL;
	}
	if (strcmp(p.username, argv[2]) == 0) {
		ctl_unlock_person(c);
		return CTL_OK;
	}
	snprintf(from, sizeof(from), "%s", p.username);
	r = do_rename(c, &p, argv[2]);
	ctl_unlock_person(c);
	if (r)
		return CTL_FAIL;
	printf("%s: renamed %s -> %s\n", p.id_number, from, argv[2]);
	return CTL_OK;
}
