/*
 * ctl_audit.c: activatectl audit: the trail, filtered by time or person,
 * as text or JSON; --verify walks the whole chain (audit.c) and says
 * whether it is intact.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "ctl.h"
#include "text.h"

struct audit_opts {
	int64_t since;
	const char *person_key;
	bool json, verify;
};

/* Local time, as people read it or (iso) as ISO 8601 with the offset. */
static void format_time(int64_t at, char *out, size_t len, bool iso)
{
	time_t t = (time_t)at;
	struct tm tm;
	size_t n = 0;

	if (localtime_r(&t, &tm))
		n = iso ? strftime(out, len, "%Y-%m-%dT%H:%M:%S%z", &tm) : strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
	if (n == 0)
		snprintf(out, len, "%" PRId64, at);
}

/* Local midnight of YYYY-MM-DD. */
static int parse_since(const char *arg, int64_t *since)
{
	struct tm tm = { .tm_isdst = -1 };

	if (!text_is_date(arg) || sscanf(arg, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*since = (int64_t)mktime(&tm);
	return 0;
}

static int parse_opts(int argc, char **argv, struct audit_opts *o)
{
	static const struct option options[] = {
		{ "since", required_argument, NULL, 's' },
		{ "person", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:p:jv", options, NULL)) != -1) {
		if (c == 's' && parse_since(optarg, &o->since) != 0) {
			ctl_error("--since: expected a date, YYYY-MM-DD");
			return -1;
		}
		if (c == 'p')
			o->person_key = optarg;
		else if (c == 'j')
			o->json = true;
		else if (c == 'v')
			o->verify = true;
		else if (c != 's')
			return -1;
	}
	if (o->verify && (o->since != INT64_MIN || o->person_key)) {
		ctl_error("--verify checks the whole trail: no --since or --person with it");
		return -1;
	}
	return optind == argc ? 0 : -1;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static json_t *int_or_null(int64_t v)
{
	return v ? json_integer((json_int_t)v) : json_null();
}

static int print_row(const struct store_audit_row *row, void *ctx)
{
	json_t *array = ctx;
	char when[32], person[24];

	if (array) {
		format_time(row->ev.at, when, sizeof(when), true);
		return json_array_append_new(array, json_pack("{s:I, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?, s:s?}",
			"seq", (json_int_t)row->seq, "time", when, "event", row->ev.event,
			"result", row->ev.result, "person", int_or_null(row->ev.person),
			"username", row->ev.username, "service", row->ev.service, "rhost", row->ev.rhost,
			"tty", row->ev.tty)) == 0 ? 0 : -1;
	}
	format_time(row->ev.at, when, sizeof(when), false);
	snprintf(person, sizeof(person), "%" PRId64, row->ev.person);
	printf("%6" PRId64 "  %s  %-12s %-24s person=%s user=%s service=%s rhost=%s tty=%s\n", row->seq,
	       when, row->ev.event, row->ev.result, row->ev.person ? person : "-", or_dash(row->ev.username),
	       or_dash(row->ev.service), or_dash(row->ev.rhost), or_dash(row->ev.tty));
	return 0;
}

static bool intact(const struct audit_verdict *v)
{
	return !v->broken_at && !v->missing_from;
}

static void print_verdict(const struct audit_verdict *v)
{
	char when[32];

	format_time(v->last_at, when, sizeof(when), false);
	if (v->missing_from)
		printf("audit trail BROKEN: rows %" PRId64 " to %" PRId64 " are missing\n", v->missing_from,
		       v->missing_to);
	if (v->broken_at)
		printf("audit trail BROKEN: row %" PRId64 " does not follow the chain "
		       "(it was edited, or rows before it were removed)\n", v->broken_at);
	if (intact(v) && v->rows)
		printf("audit trail intact: %" PRId64 " rows, the newest is row %" PRId64 " of %s\n"
		       "(rows removed from the end leave no trace in a chain: compare with syslog)\n",
		       v->rows, v->last_seq, when);
	else if (intact(v))
		printf("audit trail intact: no rows yet\n");
}

static int verify(struct ctl *c, bool json)
{
	struct audit_verdict v;
	char when[32];

	if (audit_verify(c->st, &v) != 0) {
		ctl_error("audit trail: %s", store_errmsg(c->st));
		return CTL_FAIL;
	}
	if (!json) {
		print_verdict(&v);
		return intact(&v) ? CTL_OK : CTL_FAIL;
	}
	format_time(v.last_at, when, sizeof(when), true);
	ctl_dump_json(json_pack("{s:b, s:I, s:o, s:o, s:s?, s:o, s:o, s:o}", "intact", intact(&v), "rows",
		       (json_int_t)v.rows, "first_seq", int_or_null(v.first_seq), "last_seq",
		       int_or_null(v.last_seq), "newest", v.rows ? when : NULL,
		       "broken_at", int_or_null(v.broken_at), "missing_from", int_or_null(v.missing_from),
		       "missing_to", int_or_null(v.missing_to)));
	return intact(&v) ? CTL_OK : CTL_FAIL;
}

int ctl_cmd_audit(struct ctl *c, int argc, char **argv)
{
	struct audit_opts o = { .since = INT64_MIN };
	struct person p = { .rowid = 0 };
	json_t *array;

	if (parse_opts(argc, argv, &o) != 0)
		return ctl_usage("audit");
	if (ctl_open_store(c) != 0 || (o.person_key && ctl_find(c, o.person_key, &p) != 0))
		return CTL_FAIL;
	if (o.verify)
		return verify(c, o.json);
	array = o.json ? json_array() : NULL;
	if (store_audit_foreach(c->st, o.since, p.rowid, print_row, array) != 0) {
		ctl_error("audit trail: %s", store_errmsg(c->st));
		json_decref(array);
		return CTL_FAIL;
	}
	return array ? ctl_dump_json(array) : CTL_OK;
}
