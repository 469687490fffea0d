/* rename.c: finishing a recorded rename (see rename.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "accounts.h"
#include "audit.h"
#include "hook.h"
#include "rename.h"

/* The username, inside one transaction with its audit row, decided on the row as it is now. */
static int save_username(struct store *st, struct person *p, const char *to, const struct store_audit *ev,
			 char *err, size_t errlen)
{
	char result[2 * PERSON_USERNAME_MAX + 8];
	struct store_audit e = *ev;
	int r = store_begin(st);

	snprintf(result, sizeof(result), "%s -> %s", p->username, to);
	e.person = p->rowid;
	e.username = to;
	e.result = result;
	if (r == 0)
		r = store_person_by_id_number(st, p->id_number, p);
	if (r == 0 && strcmp(p->rename_to, to) != 0)
		r = -ESTALE;
	if (r == 0)
		r = store_person_set_username(st, p, to);
	if (r == 0)
		r = audit_append(st, &e);
	if (r == 0)
		r = store_commit(st);
	if (r) {
		store_rollback(st);
		snprintf(err, errlen, "the account files are renamed, but the database failed (%s)", store_errmsg(st));
		return r;
	}
	audit_log(LOG_NOTICE, &e);
	snprintf(p->username, sizeof(p->username), "%s", to);
	p->rename_to[0] = '\0';
	p->version++;
	return 0;
}

int rename_finish(const struct config *cfg, struct store *st, struct person *p, bool resume,
		  const struct store_audit *ev, bool *files_changed, char *err, size_t errlen)
{
	char to[PERSON_USERNAME_MAX];
	/* a person with no account (pending, or an intent only) is renamed in the store alone */
	bool files = accounts_in_files(cfg, p->username) || (resume && accounts_in_files(cfg, p->rename_to));
	int r;

	err[0] = '\0';
	*files_changed = false;
	snprintf(to, sizeof(to), "%s", p->rename_to);
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
