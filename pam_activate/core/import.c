/*
 * import.c: roster rows into the database.
 *
 * Three passes: plan (what changes, and conflicts with people already in the
 * database, read-only), hash (new PINs, on every core, outside any write
 * transaction so activations are not held up for minutes), write (one
 * BEGIN IMMEDIATE transaction; any error rolls all of it back). A re-import
 * of an unchanged roster hashes nothing and writes nothing.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "import.h"
#include "secret.h"

#define MAX_WORKERS 256

/* Shared with the worker processes: counters, then one hash per roster row. */
struct hash_shared {
	atomic_size_t next;	/* next row to claim */
	atomic_size_t done;	/* PINs hashed */
	atomic_int error;
	char hash[][SECRET_HASH_MAX];
};

static void conflict(char *err, size_t errlen, const char *name, const struct roster_row *row,
		     const char *field, const struct person *other)
{
	snprintf(err, errlen, "%s:%u: %s: already belongs to ID number %s", name, row->line, field,
		 other->id_number);
}

/* A student number or username already held by someone else in the database. */
static int check_conflicts(struct store *st, const char *name, const struct roster_row *row,
			   int64_t self, char *err, size_t errlen)
{
	struct person other;
	int r;

	r = store_person_by_student_number(st, row->person.student_number, &other);
	if (r == 0 && other.rowid != self) {
		conflict(err, errlen, name, row, "student_number", &other);
		return -EEXIST;
	}
	if (r && r != -ENOENT)
		return r;
	if (!row->person.username[0])
		return 0;
	r = store_person_by_username(st, row->person.username, &other);
	if (r == 0 && other.rowid != self) {
		conflict(err, errlen, name, row, "username", &other);
		return -EEXIST;
	}
	return r == -ENOENT ? 0 : r;
}

/* The roster's view of old, so that a comparison says whether anything changes. */
static void merge(const struct roster *roster, const struct person *old, struct roster_row *row)
{
	struct person *p = &row->person;

	row->kept_username = !roster->has_username || !p->username[0];
	row->kept_email = !roster->has_email || !p->email[0];
	row->kept_language = !roster->has_language || !p->language[0];
	if (row->kept_language)
		memcpy(p->language, old->language, sizeof(p->language));
	if (row->kept_username)
		memcpy(p->username, old->username, sizeof(p->username));
	if (row->kept_email)
		memcpy(p->email, old->email, sizeof(p->email));
}

static const char *const change_names[] = {
	"id_number", "student_number", "given_name", "family_name", "kind", "programme",
	"fee_paid_on", "username", "email", "language",
};

static unsigned roster_changes(const struct person *a, const struct person *b)
{
	const char *fa[] = { a->id_number, a->student_number, a->given_name, a->family_name, "",
			     a->programme, a->fee_paid_on, a->username, a->email, a->language };
	const char *fb[] = { b->id_number, b->student_number, b->given_name, b->family_name, "",
			     b->programme, b->fee_paid_on, b->username, b->email, b->language };
	unsigned changes = a->kind != b->kind ? IMPORT_CHANGED_KIND : 0;

	for (size_t i = 0; i < sizeof(fa) / sizeof(fa[0]); i++)
		if (strcmp(fa[i], fb[i]) != 0)
			changes |= 1u << i;
	return changes;
}

void import_change_names(unsigned changes, char *out, size_t len)
{
	size_t at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(change_names) / sizeof(change_names[0]) && at < len; i++)
		if (changes & (1u << i))
			at += (size_t)snprintf(out + at, len - at, "%s%s", at ? ", " : "", change_names[i]);
}

/*
 * The person a row is: by ID number, else by student number (a returning
 * student with a new ID number; -ENOENT: someone new).
 */
static int find_person(struct store *st, struct roster_row *row, struct person *old)
{
	int r = store_person_by_id_number(st, row->person.id_number, old);

	row->old_id_number[0] = '\0';
	if (r != -ENOENT)
		return r;
	r = store_person_by_student_number(st, row->person.student_number, old);
	if (r == 0)
		memcpy(row->old_id_number, old->id_number, sizeof(row->old_id_number));
	return r;
}

static int plan_row(struct store *st, const struct roster *roster, const char *name,
		    struct roster_row *row, char *err, size_t errlen)
{
	struct person old;
	int r = find_person(st, row, &old);

	if (r == -ENOENT) {
		row->action = IMPORT_ADD;
		return check_conflicts(st, name, row, -1, err, errlen);
	}
	if (r)
		return r;
	if (old.username[0] && row->person.username[0] && strcmp(old.username, row->person.username) != 0
	    && old.state != PERSON_PENDING) {
		snprintf(err, errlen, "%s:%u: username: the account is %s as %s; use activatectl rename",
			 name, row->line, person_state_name(old.state), old.username);
		return -EEXIST;
	}
	merge(roster, &old, row);
	row->person.rowid = old.rowid;
	row->person.version = old.version;	/* the write is a compare-and-swap on it */
	row->person.state = old.state;	/* for --update-pins: pending people only */
	row->changes = roster_changes(&old, &row->person);
	row->action = row->changes ? IMPORT_UPDATE : IMPORT_SAME;
	return row->action == IMPORT_SAME ? 0 : check_conflicts(st, name, row, old.rowid, err, errlen);
}

/*
 * A roster PIN is hashed for someone new, for a pending person when asked
 * (--update-pins), and for a pending person whose ID number changed (the
 * old PIN was bound to the old number). Never for active or revoked
 * people: a roster PIN would become a password-reset key.
 */
static bool wants_pin(const struct roster_row *row, const struct import_opts *opts)
{
	if (!row->pin)
		return false;
	if (row->action == IMPORT_ADD)
		return true;
	return row->action != IMPORT_SKIP && row->person.state == PERSON_PENDING &&
	       (opts->update_pins || row->old_id_number[0]);
}

/* plan_row; with skip_conflicts a conflict skips the row (and says so) instead. */
static int plan_or_skip(struct store *st, const struct roster *roster, const struct import_opts *opts,
			const char *name, struct roster_row *row, char *err, size_t errlen)
{
	int r = plan_row(st, roster, name, row, err, errlen);

	if (r != -EEXIST || !opts->skip_conflicts)
		return r;
	if (opts->skipped)
		opts->skipped(err, opts->skipped_ctx);
	err[0] = '\0';
	row->action = IMPORT_SKIP;
	return 0;
}

static void hash_rows(struct hash_shared *sh, const struct roster *roster,
		      const unsigned char *pepper, int cost)
{
	size_t i;

	while ((i = atomic_fetch_add(&sh->next, 1)) < roster->count && !atomic_load(&sh->error)) {
		const struct roster_row *row = &roster->rows[i];

		if (!row->hash_pin)
			continue;
		if (secret_pin_hash(pepper, row->person.id_number, row->pin, cost, sh->hash[i]) != 0)
			atomic_store(&sh->error, -ENOMEM);
		atomic_fetch_add(&sh->done, 1);
	}
}

static unsigned worker_count(const struct import_opts *opts)
{
	long n = opts->workers ? (long)opts->workers : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

/* Reap finished workers; the number still running. A worker that died is an error. */
static unsigned reap_workers(pid_t *pid, unsigned n, struct hash_shared *sh, int flags)
{
	unsigned running = 0;

	for (unsigned i = 0; i < n; i++) {
		int status;

		if (pid[i] <= 0)
			continue;
		if (waitpid(pid[i], &status, flags) == 0) {
			running++;
			continue;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			atomic_store(&sh->error, -ECHILD);
		pid[i] = 0;
	}
	return running;
}

static void wait_workers(pid_t *pid, unsigned n, struct hash_shared *sh, size_t total,
			 const struct import_opts *opts)
{
	struct timespec tick = { 0, 200L * 1000 * 1000 };

	while (opts->progress && reap_workers(pid, n, sh, WNOHANG) > 0) {
		opts->progress(atomic_load(&sh->done), total, opts->progress_ctx);
		nanosleep(&tick, NULL);
	}
	reap_workers(pid, n, sh, 0);
	if (opts->progress)
		opts->progress(atomic_load(&sh->done), total, opts->progress_ctx);
}

/*
 * Processes, not threads: Argon2id maps and unmaps its memory for every
 * hash, and threads sharing one address space pay for each unmap with TLB
 * shootdowns on every core (measured: 79 % of the ideal rate with threads
 * on two cores, 94 % with processes).
 */
int import_hash_pins(struct roster *roster, const unsigned char *pepper, int cost, size_t total,
		     const struct import_opts *opts)
{
	size_t size = sizeof(struct hash_shared) + roster->count * SECRET_HASH_MAX;
	pid_t pid[MAX_WORKERS] = { 0 };
	struct hash_shared *sh;
	unsigned n = worker_count(opts);
	int r;

	if (total == 0)
		return 0;
	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -ENOMEM;
	fflush(NULL);	/* nothing buffered may be written twice */
	for (unsigned i = 0; i < n; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			hash_rows(sh, roster, pepper, cost);
			_exit(0);
		}
	}
	if (pid[0] < 0)
		hash_rows(sh, roster, pepper, cost);	/* no fork at all: do it here */
	wait_workers(pid, n, sh, total, opts);
	r = atomic_load(&sh->error);
	for (size_t i = 0; r == 0 && i < roster->count; i++)
		if (roster->rows[i].hash_pin)
			memcpy(roster->rows[i].person.pin_hash, sh->hash[i], SECRET_HASH_MAX);
	if (r == 0 && atomic_load(&sh->done) != total)
		r = -EIO;
	sodium_memzero(sh, size);
	munmap(sh, size);
	return r;
}

/*
 * The row planned before the hashing (minutes, outside any transaction) is
 * planned again inside the write transaction when the person changed
 * meanwhile (an activation reserved a username, someone added them): what
 * is written is always decided on the row as it is now.
 */
static int replan_row(struct store *st, const struct roster *roster, const struct import_opts *opts,
		      const char *name, struct roster_row *row, char *err, size_t errlen)
{
	bool had_hash = row->hash_pin;
	int r;

	if (row->kept_username)
		row->person.username[0] = '\0';
	if (row->kept_email)
		row->person.email[0] = '\0';
	if (row->kept_language)
		row->person.language[0] = '\0';
	r = plan_or_skip(st, roster, opts, name, row, err, errlen);
	row->hash_pin = had_hash && wants_pin(row, opts);
	return r;
}

static int write_planned(struct store *st, const struct config *cfg, struct roster_row *row)
{
	int r = 0;

	if (row->action == IMPORT_ADD)
		r = store_person_insert(st, &row->person);	/* version 0 */
	else if (row->action == IMPORT_UPDATE && (r = store_person_update_roster(st, &row->person)) == 0)
		row->person.version++;
	if (r == 0 && row->hash_pin)	/* the PIN too only while the person is as planned (still pending) */
		r = store_person_set_pin(st, &row->person, row->person.pin_hash,
					 (int64_t)time(NULL) + (int64_t)cfg->pin_ttl_days * 86400);
	return r;
}

static int write_row(struct store *st, const struct config *cfg, const struct roster *roster,
		     const struct import_opts *opts, const char *name, struct roster_row *row, char *err, size_t errlen)
{
	int r = write_planned(st, cfg, row);

	if (r == -ESTALE || r == -EEXIST)	/* changed, or someone took the ID number, meanwhile */
		r = replan_row(st, roster, opts, name, row, err, errlen);
	else
		return r;
	return r ? r : write_planned(st, cfg, row);
}

/* An update's audit row, in the import's transaction: what changed, committed with it. */
static int audit_update(struct store *st, const char *name, const struct roster_row *row)
{
	char what[256], result[512];
	struct store_audit ev = {
		.event = "roster-update", .person = row->person.rowid, .service = "activatectl",
		.username = row->person.username[0] ? row->person.username : NULL, .result = result,
	};

	if (row->action != IMPORT_UPDATE)
		return 0;
	import_change_names(row->changes, what, sizeof(what));
	if (row->old_id_number[0])
		snprintf(result, sizeof(result), "%s:%u: %s (ID number was %s: matched by student number)",
			 name, row->line, what, row->old_id_number);
	else
		snprintf(result, sizeof(result), "%s:%u: %s", name, row->line, what);
	return audit_append(st, &ev);
}

struct writing {
	const struct config *cfg;
	struct roster *roster;
	const struct import_opts *opts;
	const char *name;
	char *err;
	size_t errlen;
	size_t done;		/* rows written, in the last attempt */
};

/*
 * Every row, in one transaction. Run again after a conflict, each row is
 * written anew: a row written in the attempt that was rolled back misses
 * its compare-and-swap and is planned again on the row as it is now.
 */
static int write_rows(struct store *st, void *ctx)
{
	struct writing *w = ctx;
	int r = 0;

	w->err[0] = '\0';
	for (w->done = 0; r == 0 && w->done < w->roster->count; w->done++) {
		struct roster_row *row = &w->roster->rows[w->done];

		r = write_row(st, w->cfg, w->roster, w->opts, w->name, row, w->err, w->errlen);
		if (r == 0)
			r = audit_update(st, w->name, row);
	}
	return r;
}

static int write_all(struct store *st, const struct config *cfg, struct roster *roster,
		     const struct import_opts *opts, const char *name, char *err, size_t errlen)
{
	struct writing w = { cfg, roster, opts, name, err, errlen, 0 };
	int r = store_transaction(st, write_rows, &w);

	if (r == 0 || err[0])
		return r;	/* done, or the re-plan said why */
	if (w.done > 0 && w.done <= roster->count)
		snprintf(err, errlen, "%s:%u: %s", name, roster->rows[w.done - 1].line, store_errmsg(st));
	else
		snprintf(err, errlen, "%s: %s", name, store_errmsg(st));
	return r;
}

static void count(struct roster *roster, const struct import_opts *opts, struct import_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->rows = roster->count;
	for (size_t i = 0; i < roster->count; i++) {
		struct roster_row *row = &roster->rows[i];

		row->hash_pin = wants_pin(row, opts);
		rep->pins += row->hash_pin;
		rep->skipped += row->action == IMPORT_SKIP;
		rep->added += row->action == IMPORT_ADD;
		rep->updated += row->action == IMPORT_UPDATE || (row->action == IMPORT_SAME && row->hash_pin);
		rep->unchanged += row->action == IMPORT_SAME && !row->hash_pin;
	}
}

int import_roster(struct store *st, const struct config *cfg, const unsigned char *pepper,
		  struct roster *roster, const char *name, const struct import_opts *opts,
		  struct import_report *rep, char *err, size_t errlen)
{
	int r = 0;

	err[0] = '\0';
	for (size_t i = 0; r == 0 && i < roster->count; i++)
		r = plan_or_skip(st, roster, opts, name, &roster->rows[i], err, errlen);
	if (r && !err[0])
		snprintf(err, errlen, "%s: %s", name, store_errmsg(st));
	if (r)
		return r;
	count(roster, opts, rep);
	if (opts->dry_run)
		return 0;
	if (rep->pins && !pepper) {
		snprintf(err, errlen, "%s: the roster has PINs but no pepper was loaded", name);
		return -EINVAL;
	}
	r = import_hash_pins(roster, pepper, cfg->pin_hash_cost, rep->pins, opts);
	if (r) {
		snprintf(err, errlen, "%s: hashing PINs: %s", name, strerror(-r));
		return r;
	}
	return write_all(st, cfg, roster, opts, name, err, errlen);
}
