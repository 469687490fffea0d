/* rename.c: finishing a recorded rename (see rename.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "accounts.h"
#include "audit.h"
#include "hook.h"
#include "rename.h"

struct username_change {
	struct person *p;
	const char *to;
};

/* Decided on the row as it is inside the transaction: still being renamed to this name. */
static int username_change(struct store *st, void *ctx)
{
	struct username_change *c = ctx;
	int r = store_person_by_id_number(st, c->p->id_number, c->p);

	if (r == 0 && strcmp(c->p->rename_to, c->to) != 0)
		r = -ESTALE;
	return r ? r : store_person_set_username(st, c->p, c->to);
}

/* The username, inside one transaction with its audit row. */
static int save_username(struct store *st, struct person *p, const char *to, const struct store_audit *ev,
			 char *err, size_t errlen)
{
	char result[2 * PERSON_USERNAME_MAX + 8];
	struct store_audit e = *ev;
	struct username_change c = { p, to };
	int r;

	snprintf(result, sizeof(result), "%s -> %s", p->username, to);
	e.person = p->rowid;
	e.username = to;
	e.result = result;
	r = audit_change(st, LOG_NOTICE, &e, username_change, &c);
	if (r) {
		snprintf(err, errlen, "the account files are renamed, but the database failed (%s)", store_errmsg(st));
		return r;
	}
	snprintf(p->username, sizeof(p->username), "%s", to);
	p->rename_to[0] = '\0';
	p->version++;
	return 0;
}

int rename_finish(const struct config *cfg, struct store *st, struct person *p, bool resume,
		  const struct store_audit *ev, bool *files_changed, char *err, size_t errlen)
{
	char to[PERSON_USERNAME_MAX];
	bool files = false;
	int r;

	err[0] = '\0';
	*files_changed = false;
	snprintf(to, sizeof(to), "%s", p->rename_to);
	/* a person with no account (pending, or an intent only) is renamed in the store alone */
	r = accounts_exists(cfg, p->username, &files);
	if (r == 0 && !files && resume)
		r = accounts_exists(cfg, to, &files);
	if (r) {
		snprintf(err, errlen, "the accounts (%s) cannot be read: %s; nothing was renamed",
			 accounts_backend_name(cfg), strerror(-r));
		return r;
	}
	r = files ? accounts_rename(cfg, p->username, to, resume, err, errlen) : 0;
	if (r)
		return r;
	*files_changed = files;
	if (err[0])
		syslog(LOG_AUTHPRIV | LOG_WARNING, "rename %s -> %s: %s", p->username, to, err);
	r = save_username(st, p, to, ev, err, errlen);
	if (r == 0 && files)
		hook_invalidate_caches(cfg);	/* nscd and sssd must not keep the old entry */
	return r;
}
