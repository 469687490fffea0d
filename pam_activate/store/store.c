/*
 * store/store.c: the front of the store. store_open picks a backend by the
 * database value (a path or sqlite:PATH, a postgresql:// URL) and every
 * other store.h call goes through the backend's table; what needs no SQL
 * of its own (a lookup by KEY, the file checks both backends make) lives
 * here once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_backend.h"

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The backend a database value names, and what it hands that backend. */
static int pick_backend(const char *database, const struct store_backend **be, const char **target,
			char *err, size_t errlen)
{
	if (has_prefix(database, "postgresql://") || has_prefix(database, "postgres://")) {
		*be = &store_postgres;
		*target = database;
		return 0;
	}
	*be = &store_sqlite;
	*target = has_prefix(database, "sqlite:") ? database + strlen("sqlite:") : database;
	if ((*target)[0] == '/')
		return 0;
	snprintf(err, errlen, "database '%s': not an absolute path, sqlite:PATH or a postgresql:// URL", database);
	return -EINVAL;
}

const char *store_sqlite_path(const char *database)
{
	const struct store_backend *be;
	const char *target;
	char err[8];

	return pick_backend(database, &be, &target, err, sizeof(err)) == 0 && be == &store_sqlite ? target : NULL;
}

int store_open_with(const char *database, const struct store_options *opt, int flags, struct store **out,
		    char *err, size_t errlen)
{
	static const struct store_options none = { NULL, NULL, 0 };
	const struct store_backend *be;
	const char *target;
	int r;

	*out = NULL;
	r = pick_backend(database, &be, &target, err, errlen);
	return r ? r : be->open(target, opt ? opt : &none, flags, out, err, errlen);
}

int store_open(const char *database, int flags, struct store **out, char *err, size_t errlen)
{
	return store_open_with(database, NULL, flags, out, err, errlen);
}

int store_open_config(const struct config *cfg, int flags, struct store **out, char *err, size_t errlen)
{
	const struct store_options opt = {
		cfg->database_password_file, cfg->database_ca_file, cfg->database_timeout,
	};

	return store_open_with(cfg->database, &opt, flags, out, err, errlen);
}

unsigned store_timeout(const struct store_options *opt)
{
	return opt && opt->timeout ? opt->timeout : STORE_TIMEOUT_DEFAULT;
}

int store_check_owner(const struct stat *sb, const char *path, mode_t forbidden, const char *expect,
		      char *err, size_t errlen)
{
	if (!S_ISREG(sb->st_mode) || sb->st_uid != 0 || (sb->st_mode & forbidden)) {
		snprintf(err, errlen, "%s: must be a regular file owned by root%s (it is %04o, owner %u)", path,
			 expect, (unsigned)(sb->st_mode & 07777), (unsigned)sb->st_uid);
		return -EPERM;
	}
	return 0;
}

int store_check_private(int fd, const char *path, const char *mode_text, char *err, size_t errlen)
{
	char expect[64];
	struct stat sb;

	if (fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	snprintf(expect, sizeof(expect), " with mode %s", mode_text);
	return store_check_owner(&sb, path, 077, expect, err, errlen);
}

static void copy_text(char *dst, size_t size, const char *text)
{
	snprintf(dst, size, "%s", text ? text : "");
}

static int64_t number(const char *text, int64_t if_null)
{
	return text ? strtoll(text, NULL, 10) : if_null;
}

void store_read_person(struct person *p, const char *(*col)(void *ctx, int i), void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->rowid = number(col(ctx, 0), 0);
	copy_text(p->id_number, sizeof(p->id_number), col(ctx, 1));
	copy_text(p->student_number, sizeof(p->student_number), col(ctx, 2));
	copy_text(p->given_name, sizeof(p->given_name), col(ctx, 3));
	copy_text(p->family_name, sizeof(p->family_name), col(ctx, 4));
	p->kind = (int)number(col(ctx, 5), 0);
	copy_text(p->programme, sizeof(p->programme), col(ctx, 6));
	copy_text(p->fee_paid_on, sizeof(p->fee_paid_on), col(ctx, 7));
	copy_text(p->username, sizeof(p->username), col(ctx, 8));
	copy_text(p->email, sizeof(p->email), col(ctx, 9));
	copy_text(p->pin_hash, sizeof(p->pin_hash), col(ctx, 10));
	p->pin_expires = number(col(ctx, 11), 0);
	p->pin_spent = number(col(ctx, 12), 0);
	p->failures = (unsigned)number(col(ctx, 13), 0);
	p->total_failures = (unsigned)number(col(ctx, 14), 0);
	p->locks = (unsigned)number(col(ctx, 15), 0);
	p->locked_until = number(col(ctx, 16), 0);
	p->uid = number(col(ctx, 17), -1);
	p->state = (int)number(col(ctx, 18), 0);
	p->terms_accepted = number(col(ctx, 19), 0);
	copy_text(p->terms_hash, sizeof(p->terms_hash), col(ctx, 20));
	p->created = number(col(ctx, 21), 0);
	p->updated = number(col(ctx, 22), 0);
	p->version = number(col(ctx, 23), 0);
	p->gid = number(col(ctx, 24), -1);
	copy_text(p->home, sizeof(p->home), col(ctx, 25));
	copy_text(p->rename_to, sizeof(p->rename_to), col(ctx, 26));
	p->revoked_from = (int)number(col(ctx, 27), -1);
	p->revoke_expire_set = col(ctx, 28) != NULL;
	copy_text(p->revoke_expire, sizeof(p->revoke_expire), col(ctx, 28));
	copy_text(p->language, sizeof(p->language), col(ctx, 29));
}

static void put_text(struct store_person_values *out, int i, const char *text, bool empty_is_null)
{
	out->v[i] = empty_is_null && !text[0] ? NULL : text;
	out->number[i] = false;
}

static void put_number(struct store_person_values *out, int i, int64_t x, bool null)
{
	snprintf(out->num[i], sizeof(out->num[i]), "%" PRId64, x);
	out->v[i] = null ? NULL : out->num[i];
	out->number[i] = true;
}

/* What the stores keep as NULL: empty optional text (so UNIQUE holds), -1 for no id. */
void store_person_values(const struct person *p, struct store_person_values *out)
{
	put_number(out, 0, p->rowid, false);
	put_text(out, 1, p->id_number, false);
	put_text(out, 2, p->student_number, false);
	put_text(out, 3, p->given_name, false);
	put_text(out, 4, p->family_name, false);
	put_number(out, 5, p->kind, false);
	put_text(out, 6, p->programme, true);
	put_text(out, 7, p->fee_paid_on, true);
	put_text(out, 8, p->username, true);
	put_text(out, 9, p->email, true);
	put_text(out, 10, p->pin_hash, true);
	put_number(out, 11, p->pin_expires, false);
	put_number(out, 12, p->pin_spent, false);
	put_number(out, 13, p->failures, false);
	put_number(out, 14, p->total_failures, false);
	put_number(out, 15, p->locks, false);
	put_number(out, 16, p->locked_until, false);
	put_number(out, 17, p->uid, p->uid < 0);
	put_number(out, 18, p->state, false);
	put_number(out, 19, p->terms_accepted, false);
	put_text(out, 20, p->terms_hash, true);
	put_number(out, 21, p->created, false);
	put_number(out, 22, p->updated, false);
	put_number(out, 23, p->version, false);
	put_number(out, 24, p->gid, p->gid < 0);
	put_text(out, 25, p->home, true);
	put_text(out, 26, p->rename_to, true);
	put_number(out, 27, p->revoked_from, p->revoked_from < 0);
	put_text(out, 28, p->revoke_expire, false);
	out->v[28] = p->revoke_expire_set ? p->revoke_expire : NULL;
	put_text(out, 29, p->language, true);
}

static int copy_person(const struct person *p, void *to)
{
	return ((struct store *)to)->be->copy_person(to, p);
}

static int copy_throttle(const char *rhost, int64_t at, void *to)
{
	return ((struct store *)to)->be->copy_throttle(to, rhost, at);
}

static int copy_audit(const struct store_audit_row *row, void *to)
{
	return ((struct store *)to)->be->copy_audit(to, row);
}

int store_copy(struct store *from, struct store *to)
{
	int r = from->be->begin_copy(from);

	if (r)
		return r;
	r = store_begin(to);
	if (r == 0)
		r = from->be->person_foreach(from, -1, copy_person, to);
	if (r == 0)
		r = from->be->throttle_foreach(from, copy_throttle, to);
	if (r == 0)
		r = from->be->audit_foreach(from, INT64_MIN, 0, copy_audit, to);
	if (r == 0 && to->be->copy_finish)
		r = to->be->copy_finish(to);
	if (r == 0)
		r = store_commit(to);
	if (r)
		store_rollback(to);
	store_rollback(from);	/* it only read */
	return r;
}

static int count_person(const struct person *p, void *ctx)
{
	(void)p;
	((struct store_counts *)ctx)->people++;
	return 0;
}

static int count_throttle(const char *rhost, int64_t at, void *ctx)
{
	(void)rhost;
	(void)at;
	((struct store_counts *)ctx)->throttle++;
	return 0;
}

static int count_audit(const struct store_audit_row *row, void *ctx)
{
	(void)row;
	((struct store_counts *)ctx)->audit++;
	return 0;
}

int store_count(struct store *st, struct store_counts *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = st->be->person_foreach(st, -1, count_person, out);
	if (r == 0)
		r = st->be->throttle_foreach(st, count_throttle, out);
	return r ? r : st->be->audit_foreach(st, INT64_MIN, 0, count_audit, out);
}

void store_close(struct store *st)
{
	if (st)
		st->be->close(st);
}

const char *store_backend_name(struct store *st)
{
	return st->be->name;
}

const char *store_errmsg(struct store *st)
{
	return st ? st->be->errmsg(st) : "no database";
}

int store_begin(struct store *st)
{
	return st->be->begin(st);
}

int store_commit(struct store *st)
{
	return st->be->commit(st);
}

void store_rollback(struct store *st)
{
	st->be->rollback(st);
}

int store_transaction(struct store *st, int (*fn)(struct store *st, void *ctx), void *ctx)
{
	int r = -EDEADLK;

	for (int tries = 0; tries < STORE_TRIES && r == -EDEADLK; tries++) {
		r = store_begin(st);
		if (r == 0)
			r = fn(st, ctx);
		if (r == 0)
			r = store_commit(st);
		if (r)
			store_rollback(st);
	}
	return r;
}

int store_schema_version(struct store *st, int *version)
{
	return st->be->schema_version(st, version);
}

/* A backend without a snapshot of its own (PostgreSQL) is copied row by row into a new SQLite file. */
int store_snapshot(struct store *st, const char *path)
{
	struct store *copy;
	char err[256];
	int r;

	if (st->be->snapshot)
		return st->be->snapshot(st, path);
	r = store_open(path, STORE_CREATE, &copy, err, sizeof(err));
	if (r)
		return r;
	r = store_copy(st, copy);
	store_close(copy);
	return r;
}

int store_person_by_id_number(struct store *st, const char *id_number, struct person *out)
{
	return st->be->by_id_number(st, id_number, out);
}

int store_person_by_student_number(struct store *st, const char *student_number, struct person *out)
{
	return st->be->by_student_number(st, student_number, out);
}

int store_person_by_username(struct store *st, const char *username, struct person *out)
{
	return st->be->by_username(st, username, out);
}

typedef int (*find_fn)(struct store *st, const char *key, struct person *out);

static const struct {
	const char *prefix;
	find_fn find;
} key_kinds[] = {
	{ "id:", store_person_by_id_number },
	{ "sn:", store_person_by_student_number },
	{ "user:", store_person_by_username },
};

#define N_KINDS (sizeof(key_kinds) / sizeof(key_kinds[0]))

/* A prefixed KEY asks one column. */
static int find_prefixed(struct store *st, const char *key, struct person *out, bool *prefixed)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (has_prefix(key, key_kinds[i].prefix)) {
			*prefixed = true;
			return key_kinds[i].find(st, key + strlen(key_kinds[i].prefix), out);
		}
	*prefixed = false;
	return -ENOENT;
}

int store_person_find(struct store *st, const char *key, struct person *out, struct person *other)
{
	struct person hit = { .rowid = 0 };
	bool prefixed, found = false;
	int r = find_prefixed(st, key, out, &prefixed);

	if (prefixed)
		return r;
	for (size_t i = 0; i < N_KINDS; i++) {
		r = key_kinds[i].find(st, key, &hit);
		if (r == -ENOENT)
			continue;
		if (r)
			return r;
		if (found && hit.rowid != out->rowid) {
			*other = hit;
			return -ENOTUNIQ;
		}
		if (!found)
			*out = hit;
		found = true;
	}
	return found ? 0 : -ENOENT;
}

int store_person_insert(struct store *st, struct person *p)
{
	return st->be->insert(st, p);
}

int store_person_update_roster(struct store *st, const struct person *p)
{
	return st->be->update_roster(st, p);
}

int store_person_set_pin(struct store *st, const struct person *p, const char *hash, int64_t expires)
{
	return st->be->set_pin(st, p, hash, expires);
}

int store_person_unlock(struct store *st, int64_t rowid)
{
	return st->be->unlock(st, rowid);
}

int store_lease_take(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	return st->be->lease_take(st, person, me, seconds);
}

int store_lease_renew(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	return st->be->lease_renew(st, person, me, seconds);
}

int store_lease_release(struct store *st, int64_t person, const struct store_lease *me)
{
	return st->be->lease_release(st, person, me);
}

int store_lease_get(struct store *st, int64_t person, struct store_lease *out)
{
	return st->be->lease_get(st, person, out);
}

int store_person_set_username(struct store *st, const struct person *p, const char *username)
{
	return st->be->set_username(st, p, username);
}

int store_person_set_rename_to(struct store *st, const struct person *p, const char *username)
{
	return st->be->set_rename_to(st, p, username && username[0] ? username : NULL);
}

int store_person_set_revoke_expire(struct store *st, const struct person *p, const char *expire)
{
	return st->be->set_revoke_expire(st, p, expire);
}

int store_person_set_state(struct store *st, const struct person *p, int state)
{
	return st->be->set_state(st, p, state);
}

int store_person_set_failures(struct store *st, const struct person *p)
{
	return st->be->set_failures(st, p);
}

int store_person_reserve(struct store *st, const struct person *p)
{
	return st->be->reserve(st, p);
}

int store_person_record_intent(struct store *st, const struct person *p, int64_t uid, int64_t gid,
			       const char *home)
{
	return st->be->record_intent(st, p, uid, gid, home);
}

int store_person_id_held(struct store *st, int64_t id, int64_t self, bool *held)
{
	return st->be->id_held(st, id, self, held);
}

int store_person_name_pending(struct store *st, const char *name, int64_t self, bool *pending)
{
	return st->be->name_pending(st, name, self, pending);
}

int store_person_spend_pin(struct store *st, struct person *p, bool spent)
{
	return st->be->spend_pin(st, p, spent);
}

int store_person_activate(struct store *st, const struct person *p)
{
	return st->be->activate(st, p);
}

int store_throttle_count(struct store *st, const char *rhost, int64_t since, unsigned *count)
{
	return st->be->throttle_count(st, rhost, since, count);
}

int store_throttle_add(struct store *st, const char *rhost, int64_t at, int64_t prune_before)
{
	return st->be->throttle_add(st, rhost, at, prune_before);
}

int store_throttle_rebase(struct store *st, int64_t now)
{
	return st->be->throttle_rebase(st, now);
}

int store_audit_last_hash(struct store *st, unsigned char hash[32], int *empty)
{
	return st->be->audit_last_hash(st, hash, empty);
}

int store_audit_insert(struct store *st, const struct store_audit *a, const unsigned char hash[32])
{
	return st->be->audit_insert(st, a, hash);
}

int store_audit_foreach(struct store *st, int64_t since, int64_t person,
			int (*cb)(const struct store_audit_row *row, void *ctx), void *ctx)
{
	return st->be->audit_foreach(st, since, person, cb, ctx);
}

int store_person_foreach(struct store *st, int state, int (*cb)(const struct person *p, void *ctx), void *ctx)
{
	return st->be->person_foreach(st, state, cb, ctx);
}
