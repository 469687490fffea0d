/*
 * fuzz_roster.c: the roster CSV (roster.c) and the import plan (import.c).
 *
 * The first byte chooses the options (bits 0-1: the delimiter , ; TAB |;
 * bit 2: --skip-conflicts; bit 3: --update-pins); the rest is the CSV,
 * read with roster_read through fmemopen. A roster that parses is planned
 * with import_roster in dry-run mode (read only: nothing hashed, nothing
 * written) against a small database made once per process, in a private
 * directory under $TMPDIR, that holds three people the seeds name: 1001
 * (active, alove), 1002 (pending) and 1003 (revoked, ghopper). Without
 * root (the store refuses files root does not own) only the parse runs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "import.h"
#include "roster.h"
#include "secret.h"
#include "store.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Made once, read only afterwards: dry runs leave the database as it was. */
static struct store *store;
static char dir[4096], db[4200];
static int store_state;	/* 0: not yet, 1: open, -1: unavailable */

static void remove_store(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[4300];

	store_close(store);
	store = NULL;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffix[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void add_person(const char *id, const char *sn, const char *given, const char *family,
		       const char *username, int state)
{
	struct person p;

	memset(&p, 0, sizeof(p));
	snprintf(p.id_number, sizeof(p.id_number), "%s", id);
	snprintf(p.student_number, sizeof(p.student_number), "%s", sn);
	snprintf(p.given_name, sizeof(p.given_name), "%s", given);
	snprintf(p.family_name, sizeof(p.family_name), "%s", family);
	snprintf(p.username, sizeof(p.username), "%s", username);
	if (store_person_insert(store, &p) != 0 ||
	    (state != PERSON_PENDING && store_person_set_state(store, &p, state) != 0))
		abort();
}

static void open_store(void)
{
	const char *tmp = getenv("TMPDIR");
	char err[512];

	store_state = -1;
	snprintf(dir, sizeof(dir), "%s/fuzz_roster.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || chmod(dir, 0700) != 0)
		return;
	snprintf(db, sizeof(db), "%s/activate.db", dir);
	if (store_open(db, STORE_CREATE, &store, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_roster: no database (%s): the import plan is not fuzzed\n", err);
		rmdir(dir);
		return;
	}
	if (store_begin(store) != 0)
		abort();
	add_person("1001", "5001", "Ada", "Lovelace", "alove", PERSON_ACTIVE);
	add_person("1002", "5002", "Alan", "Turing", "", PERSON_PENDING);
	add_person("1003", "5003", "Grace", "Hopper", "ghopper", PERSON_REVOKED);
	if (store_commit(store) != 0)
		abort();
	atexit(remove_store);
	store_state = 1;
}

static void check_row(const struct roster *ro, const struct roster_row *row)
{
	const struct person *p = &row->person;

	if (!text_is_digits(p->id_number) || !text_is_digits(p->student_number) || row->line == 0)
		abort();
	if (!p->given_name[0] && !p->family_name[0])
		abort();
	if (row->pin && (!ro->has_pin || !text_is_digits(row->pin) || strlen(row->pin) < 6 ||
			 strlen(row->pin) >= SECRET_PIN_MAX))
		abort();
	if (text_check_utf8_printable(p->given_name, strlen(p->given_name)) != 0 ||
	    text_check_utf8_printable(p->family_name, strlen(p->family_name)) != 0 ||
	    text_check_utf8_printable(p->programme, strlen(p->programme)) != 0)
		abort();
}

static void plan(const struct config *cfg, struct roster *ro, uint8_t flags)
{
	struct import_opts opts = { .dry_run = true, .skip_conflicts = flags & 4, .update_pins = flags & 8,
				    .workers = 1 };
	struct import_report rep;
	char err[1024] = "";
	int r;

	if (store_state == 0)
		open_store();
	if (store_state != 1)
		return;
	r = import_roster(store, cfg, NULL, ro, "fuzz.csv", &opts, &rep, err, sizeof(err));
	if (r == 0) {
		if (rep.rows != ro->count || rep.added + rep.updated + rep.unchanged + rep.skipped != rep.rows ||
		    rep.pins > rep.rows || (rep.skipped && !opts.skip_conflicts))
			abort();
	} else if (!err[0] || (r != -EEXIST && r != -EINVAL)) {
		fprintf(stderr, "import_roster: %d %s\n", r, err);
		abort();	/* a plan fails only on a conflict, and says which */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delimiters[] = { ',', ';', '\t', '|' };
	struct config cfg;
	struct roster ro;
	char err[1024] = "";
	uint8_t flags;
	FILE *f;
	int r;

	if (size < 2)
		return 0;
	if (secret_init() != 0)
		abort();
	flags = data[0];
	f = fmemopen((void *)(data + 1), size - 1, "r");
	if (!f)
		abort();
	config_defaults(&cfg);
	r = roster_read(f, "fuzz.csv", delimiters[flags & 3], &cfg, &ro, err, sizeof(err));
	fclose(f);
	if (r != 0) {
		if (ro.count || ro.rows || ro.pins || !err[0])
			abort();	/* an error leaves the roster empty and says why */
		return 0;
	}
	for (size_t i = 0; i < ro.count; i++)
		check_row(&ro, &ro.rows[i]);
	plan(&cfg, &ro, flags);
	roster_free(&ro);
	return 0;
}
