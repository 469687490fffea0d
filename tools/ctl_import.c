/*
 * ctl_import.c: activatectl import, the nightly roster import, and add, a
 * single person through the same checks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "import.h"
#include "roster.h"
#include "text.h"

struct progress {
	struct timespec start;
	bool shown;
};

static double elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* done/total, rate and ETA on one line, redrawn in place. */
static void show_progress(size_t done, size_t total, void *ctx)
{
	struct progress *pg = ctx;
	double secs = elapsed(&pg->start);
	double rate = secs > 0 ? (double)done / secs : 0;
	unsigned eta = rate > 0 ? (unsigned)((double)(total - done) / rate) : 0;
	int width = 30, filled = total ? (int)((double)width * (double)done / (double)total) : width;

	fprintf(stderr, "\rhashing PINs [%-*.*s] %zu/%zu  %.1f/s  ETA %u:%02u ", width, filled,
		"##############################", done, total, rate, eta / 60, eta % 60);
	if (done == total)
		fputc('\n', stderr);
	pg->shown = true;
}

static void print_report(const struct import_report *rep, bool dry_run)
{
	printf("%s%zu rows: %zu added, %zu updated, %zu unchanged, %zu skipped, %zu PINs hashed%s\n",
	       dry_run ? "dry run, nothing written: " : "", rep->rows, rep->added, rep->updated,
	       rep->unchanged, rep->skipped, rep->pins, dry_run ? " (would be)" : "");
}

static void print_skipped(const char *why, void *ctx)
{
	(void)ctx;
	printf("skipped: %s\n", why);
}

/* Returning students with a new ID number: the help desk must know that their old PIN is void. */
static void print_new_ids(const struct roster *roster, const char *name)
{
	for (size_t i = 0; i < roster->count; i++) {
		const struct roster_row *row = &roster->rows[i];

		if (row->action == IMPORT_UPDATE && row->old_id_number[0])
			printf("%s:%u: ID number %s is now %s (the same student number)%s\n", name, row->line,
			       row->old_id_number, row->person.id_number,
			       row->person.state == PERSON_PENDING && !row->hash_pin ? "; the PIN is void: issue a new one" : "");
	}
}

struct missing {
	char **ids;	/* the roster's ID numbers, sorted */
	size_t count;
};

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int print_if_missing(const struct person *p, void *ctx)
{
	struct missing *m = ctx;
	const char *key = p->id_number;

	if (!bsearch(&key, m->ids, m->count, sizeof(*m->ids), by_text))
		printf("missing: ID number %s, student number %s, %s %s, %s%s%s\n", p->id_number, p->student_number,
		       p->given_name, p->family_name, person_state_name(p->state), p->username[0] ? " as " : "",
		       p->username);
	return 0;
}

/* People in the database whose ID number the roster no longer has (never revoked here). */
static int report_missing(struct ctl *c, const struct roster *roster)
{
	struct missing m = { calloc(roster->count + 1, sizeof(char *)), roster->count };
	int r;

	if (!m.ids) {
		ctl_error("out of memory");
		return CTL_FAIL;
	}
	for (size_t i = 0; i < roster->count; i++)
		m.ids[i] = (char *)roster->rows[i].person.id_number;
	qsort(m.ids, m.count, sizeof(*m.ids), by_text);
	r = store_person_foreach(c->st, -1, print_if_missing, &m);
	free(m.ids);
	if (r)
		ctl_error("reading the database: %s", store_errmsg(c->st));
	return r ? CTL_FAIL : CTL_OK;
}

static int run_import(struct ctl *c, struct roster *roster, const char *name,
		      const struct import_opts *opts, bool report)
{
	struct import_report rep;
	char err[CONFIG_ERROR_MAX + 256];

	if (roster->has_pin && !opts->dry_run && ctl_load_pepper(c) != 0)
		return CTL_FAIL;
	if (import_roster(c->st, &c->cfg, c->pepper, roster, name, opts, &rep, err, sizeof(err)) != 0) {
		ctl_error("%s", err);
		ctl_error("nothing was changed");
		return CTL_FAIL;
	}
	print_new_ids(roster, name);
	print_report(&rep, opts->dry_run);
	if (!opts->dry_run && rep.added + rep.updated > 0) {
		char result[128];

		snprintf(result, sizeof(result), "%zu added, %zu updated, %zu PINs", rep.added, rep.updated,
			 rep.pins);
		ctl_audit(c, "import", NULL, result);
	}
	if (report && report_missing(c, roster) != CTL_OK)
		return CTL_FAIL;
	return rep.skipped ? CTL_SKIPPED : CTL_OK;
}

static int parse_delimiter(const char *arg, char *delim)
{
	if (strcmp(arg, "\\t") == 0 || strcmp(arg, "tab") == 0)
		*delim = '\t';
	else if (strlen(arg) == 1 && arg[0] != '"' && arg[0] != '\n' && arg[0] != '\r')
		*delim = arg[0];
	else
		return -EINVAL;
	return 0;
}

/* 1-1024 written in digits: sscanf would take "-1" and "4x". */
static int parse_jobs(const char *arg, unsigned *jobs)
{
	if (!text_is_digits(arg) || strlen(arg) > 4 || atoi(arg) < 1 || atoi(arg) > 1024)
		return -EINVAL;
	*jobs = (unsigned)atoi(arg);
	return 0;
}

static int import_file(struct ctl *c, const char *path, char delim, const struct import_opts *given, bool report)
{
	char err[CONFIG_ERROR_MAX + 256];
	struct roster roster;
	struct progress pg;
	struct import_opts opts;
	FILE *f;
	int rc;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		ctl_error("%s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	rc = roster_read(f, path, delim, &c->cfg, &roster, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	if (rc) {
		ctl_error("%s", err);
		ctl_error("nothing was changed");
		return CTL_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &pg.start);
	opts = *given;
	if (isatty(STDERR_FILENO)) {
		opts.progress = show_progress;
		opts.progress_ctx = &pg;
	}
	rc = run_import(c, &roster, path, &opts, report);
	roster_free(&roster);
	return rc;
}

int ctl_cmd_import(struct ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "update-pins", no_argument, NULL, 'u' },
		{ "delimiter", required_argument, NULL, 'd' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "skip-conflicts", no_argument, NULL, 's' },
		{ "report-missing", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_opts opts = { .dry_run = false, .skipped = print_skipped };
	bool report = false;
	char delim = ',';
	int o;

	while ((o = getopt_long(argc, argv, "nud:j:sm", options, NULL)) != -1) {
		if (o == 's')
			opts.skip_conflicts = true;
		else if (o == 'm')
			report = true;
		else if (o == 'n')
			opts.dry_run = true;
		else if (o == 'u')
			opts.update_pins = true;
		else if (o == 'd' && parse_delimiter(optarg, &delim) == 0)
			continue;
		else if (o == 'j' && parse_jobs(optarg, &opts.workers) == 0)
			continue;
		else
			return ctl_usage("import");
	}
	if (optind != argc - 1)
		return ctl_usage("import");
	if (ctl_open_store(c) != 0)
		return CTL_FAIL;
	return import_file(c, argv[optind], delim, &opts, report);
}

static const char *const add_columns[] = {
	"id_number", "student_number", "given_name", "family_name", "kind", "programme",
	"fee_paid_on", "username", "email",
};
#define ADD_FIELDS (sizeof(add_columns) / sizeof(add_columns[0]))

static int add_values(int argc, char **argv, const char **values)
{
	static const struct option options[] = {
		{ "id-number", required_argument, NULL, 0 },
		{ "student-number", required_argument, NULL, 1 },
		{ "given-name", required_argument, NULL, 2 },
		{ "family-name", required_argument, NULL, 3 },
		{ "kind", required_argument, NULL, 4 },
		{ "programme", required_argument, NULL, 5 },
		{ "fee-paid-on", required_argument, NULL, 6 },
		{ "username", required_argument, NULL, 7 },
		{ "email", required_argument, NULL, 8 },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	for (size_t i = 0; i < ADD_FIELDS; i++)
		values[i] = "";
	values[4] = "student";
	while ((o = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (o < 0 || o >= (int)ADD_FIELDS)
			return -1;
		values[o] = optarg;
	}
	return optind == argc ? 0 : -1;
}

int ctl_cmd_add(struct ctl *c, int argc, char **argv)
{
	const char *values[ADD_FIELDS];
	char err[CONFIG_ERROR_MAX + 256];
	struct import_opts opts = { .dry_run = false };
	struct roster roster;
	struct person old;
	int rc;

	if (add_values(argc, argv, values) != 0)
		return ctl_usage("add");
	if (roster_read_fields("add", ADD_FIELDS, add_columns, values, &c->cfg, &roster, err,
			       sizeof(err)) != 0) {
		ctl_error("%s", err);
		return CTL_FAIL;
	}
	rc = CTL_FAIL;
	if (ctl_open_store(c) != 0)
		goto out;
	if (store_person_by_id_number(c->st, values[0], &old) == 0) {
		ctl_error("id_number: %s is already in the database (import updates people)", values[0]);
		goto out;
	}
	rc = run_import(c, &roster, "add", &opts, false);
out:
	roster_free(&roster);
	return rc;
}
