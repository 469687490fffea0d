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
#include <stdio.h>
#include <string.h>

#include "accounts.h"
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

/* The row is read again inside the transaction: a dialogue may have reserved a username meanwhile. */
static int write_change(struct ctl *c, struct person *p, const struct change *ch, char *what, size_t len)
{
	int r = store_begin(c->st);

	if (r == 0)
		r = store_person_by_id_number(c->st, p->id_number, p);
	if (r == 0) {
		apply(ch, p, what, len);
		r = store_person_update_roster(c->st, p);
	}
	if (r == 0)
		r = store_commit(c->st);
	if (r)
		store_rollback(c->st);
	return r;
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

/*
 * The account files first, then the database: the database write lock is
 * not held while waiting for the password-file lock, and if the database
 * fails the file change is undone. A person without an account (yet) has
 * no shadow entry; one mid-activation may have one already.
 */
static int lock_account(struct ctl *c, const struct person *p, bool lock, bool *has_account)
{
	char err[512] = "";
	int r = p->username[0] ? accounts_set_locked(&c->cfg, p->username, lock, err, sizeof(err)) : -ENOENT;

	*has_account = r == 0 || r == -ENODATA;
	if (r == -ENODATA)
		fprintf(stderr, "activatectl: %s: %s\n", p->id_number, err);
	if (r == -ENOENT && p->uid > 0) {
		ctl_error("%s: %s has no shadow entry; nothing was changed", p->id_number, p->username);
		return -1;
	}
	if (r && r != -ENOENT && r != -ENODATA) {
		ctl_error("%s: %s; nothing was changed", p->id_number, err);
		return -1;
	}
	return 0;
}

static int change_state(struct ctl *c, const struct person *p, bool lock, int state_with_account,
			int state_without, bool *has_account)
{
	int r;

	if (lock_account(c, p, lock, has_account) != 0)
		return -1;
	r = store_begin(c->st);
	if (r == 0)
		r = store_person_set_state(c->st, p->rowid, *has_account ? state_with_account : state_without);
	if (r == 0)
		r = store_commit(c->st);
	if (r) {
		char err[512];

		ctl_error("%s: %s; nothing was changed", p->id_number, store_errmsg(c->st));
		store_rollback(c->st);
		if (*has_account)
			accounts_set_locked(&c->cfg, p->username, !lock, err, sizeof(err));
	}
	if (*has_account)
		hook_invalidate_caches(&c->cfg);	/* nscd and sssd must not keep the old entry */
	return r;
}

int ctl_cmd_revoke(struct ctl *c, int argc, char **argv)
{
	struct person p;
	bool account;

	if (argc != 2)
		return ctl_usage("revoke");
	if (ctl_find(c, argv[1], &p) != 0)
		return CTL_FAIL;
	if (p.state == PERSON_REVOKED) {
		printf("%s: already revoked\n", p.id_number);
		return CTL_OK;
	}
	if (change_state(c, &p, true, PERSON_REVOKED, PERSON_REVOKED, &account) != 0)
		return CTL_FAIL;
	ctl_audit(c, "revoke", &p, account ? "revoked; account locked" : "revoked");
	printf("%s: revoked%s\n", p.id_number, account ? "; the account is locked and expired" : "");
	return CTL_OK;
}

/* Active again with an account; mid-activation if the files have one but it never finished; else pending. */
int ctl_cmd_restore(struct ctl *c, int argc, char **argv)
{
	struct person p;
	bool account;

	if (argc != 2)
		return ctl_usage("restore");
	if (ctl_find(c, argv[1], &p) != 0)
		return CTL_FAIL;
	if (p.state != PERSON_REVOKED) {
		ctl_error("%s: not revoked (%s)", p.id_number, person_state_name(p.state));
		return CTL_FAIL;
	}
	if (change_state(c, &p, false, p.uid > 0 ? PERSON_ACTIVE : PERSON_PROVISIONING, PERSON_PENDING,
			 &account) != 0)
		return CTL_FAIL;
	ctl_audit(c, "restore", &p, account ? "account unlocked" : "pending");
	printf("%s: %s\n", p.id_number, !account ? "pending again" : p.uid > 0 ? "active again; the account is unlocked"
	       : "the account is unlocked; the next activation finishes it");
	return CTL_OK;
}

/* A name the person can have: valid, not reserved, nobody's in the files, NSS or the database. */
static int check_new_name(struct ctl *c, const char *name)
{
	struct person other;

	if (username_reserved(&c->cfg, name) || accounts_name_taken(&c->cfg, name) ||
	    store_person_by_username(c->st, name, &other) == 0) {
		ctl_error("%s: taken or reserved", name);
		return -1;
	}
	return 0;
}

static int save_username(struct ctl *c, const struct person *p, const char *name)
{
	int r = store_begin(c->st);

	if (r == 0)
		r = store_person_set_username(c->st, p->rowid, name);
	if (r == 0)
		r = store_commit(c->st);
	if (r)
		store_rollback(c->st);
	return r;
}

/* The account files (and home) first; if the database then fails, they are renamed back. */
int ctl_cmd_rename(struct ctl *c, int argc, char **argv)
{
	char err[512] = "", result[2 * PERSON_USERNAME_MAX + 8];
	struct person p;
	bool files;

	if (argc != 3 || !username_valid(argv[2], c->cfg.username_max_length)) {
		if (argc == 3)
			ctl_error("%s: a username is a-z then a-z and 0-9, at most %u characters", argv[2],
				  c->cfg.username_max_length);
		return ctl_usage("rename");
	}
	if (ctl_find(c, argv[1], &p) != 0)
		return CTL_FAIL;
	if (!p.username[0] || p.state == PERSON_REVOKED) {
		ctl_error("%s: %s", p.id_number, p.username[0] ? "revoked; restore the person first" : "has no username yet");
		return CTL_FAIL;
	}
	if (strcmp(p.username, argv[2]) == 0 || check_new_name(c, argv[2]) != 0)
		return strcmp(p.username, argv[2]) == 0 ? CTL_OK : CTL_FAIL;
	files = p.uid > 0 || accounts_name_taken(&c->cfg, p.username);
	if (files && accounts_rename(&c->cfg, p.username, argv[2], err, sizeof(err)) != 0) {
		ctl_error("%s: %s; nothing was changed", p.id_number, err);
		return CTL_FAIL;
	}
	if (err[0])
		fprintf(stderr, "activatectl: %s\n", err);
	if (save_username(c, &p, argv[2]) != 0) {
		ctl_error("%s: %s; nothing was changed", p.id_number, store_errmsg(c->st));
		if (files && accounts_rename(&c->cfg, argv[2], p.username, err, sizeof(err)) != 0)
			ctl_error("and the account files could not be renamed back: %s", err);
		return CTL_FAIL;
	}
	if (files)
		hook_invalidate_caches(&c->cfg);
	snprintf(result, sizeof(result), "%s -> %s", p.username, argv[2]);
	ctl_audit(c, "rename", &p, result);
	printf("%s: renamed %s\n", p.id_number, result);
	return CTL_OK;
}
