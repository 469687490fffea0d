/*
 * ctl_people.c: the help desk's view of people: show, list, stats, unlock.
 * Never a secret: a PIN hash is shown only as "issued".
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl.h"

static void print_time(const char *label, int64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0)
		return;
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", localtime_r(&tt, &tm));
	printf("%-16s %s\n", label, buf);
}

static void print_field(const char *label, const char *value)
{
	if (value && *value)
		printf("%-16s %s\n", label, value);
}

static void print_verdict(const struct person *p, const struct config *cfg)
{
	unsigned m = person_problems(p, cfg, time(NULL));

	if (!m) {
		printf("Activation today: would go through\n");
		return;
	}
	printf("Activation today: would not go through:\n");
	for (unsigned bit = 1; bit <= m; bit <<= 1)
		if (m & bit)
			printf("  - %s\n", person_problem_text(bit));
}

static void print_person(const struct person *p, const struct config *cfg)
{
	char count[64];

	print_field("ID number", p->id_number);
	print_field("Student number", p->student_number);
	printf("%-16s %s %s\n", "Name", p->given_name, p->family_name);
	print_field("Kind", person_kind_name(p->kind));
	print_field("Programme", p->programme[0] ? p->programme : "(none)");
	print_field("Fee paid on", p->fee_paid_on[0] ? p->fee_paid_on : "(not registered)");
	print_field("State", person_state_name(p->state));
	print_field("Username", p->username);
	print_field("E-mail", p->email);
	if (p->uid >= 0)
		printf("%-16s %lld\n", "UID", (long long)p->uid);
	print_field("PIN", p->pin_hash[0] ? (p->pin_spent ? "issued, spent" : "issued") : "not issued");
	print_time("PIN expires", p->pin_expires);
	snprintf(count, sizeof(count), "%u since unlock, %u against this PIN", p->failures, p->total_failures);
	print_field("Failures", count);
	print_time("Locked until", p->locked_until);
	print_time("Terms accepted", p->terms_accepted);
	print_time("Created", p->created);
	print_time("Updated", p->updated);
	print_verdict(p, cfg);
}

/* A dialogue or command that holds the person now, on this machine or another (lease.h). */
static void print_lease(struct ctl *c, const struct person *p)
{
	struct store_lease l;
	char held[160];

	if (store_lease_get(c->st, p->rowid, &l) != 0 || l.until <= time(NULL))
		return;
	snprintf(held, sizeof(held), "host %s, pid %lld", l.host, (long long)l.pid);
	print_field("Held by", held);
	print_time("Held until", l.until);
}

int ctl_cmd_show(struct ctl *c, int argc, char **argv)
{
	struct person p;

	if (argc != 2)
		return ctl_usage("show");
	if (ctl_find(c, argv[1], &p) != 0)
		return CTL_FAIL;
	print_person(&p, &c->cfg);
	print_lease(c, &p);
	return CTL_OK;
}

static int unlock_change(struct store *st, void *p)
{
	return store_person_unlock(st, ((const struct person *)p)->rowid);
}

int ctl_cmd_unlock(struct ctl *c, int argc, char **argv)
{
	struct person p;

	if (argc != 2)
		return ctl_usage("unlock");
	if (ctl_find(c, argv[1], &p) != 0)
		return CTL_FAIL;
	if (store_transaction(c->st, unlock_change, &p) != 0) {
		ctl_error("%s: %s", argv[1], store_errmsg(c->st));
		return CTL_FAIL;
	}
	ctl_audit(c, "unlock", &p, "ok");
	printf("%s: unlocked; failure count cleared\n", p.id_number);
	return CTL_OK;
}

static json_t *problems_json(unsigned m)
{
	json_t *a = json_array();

	for (unsigned bit = 1; bit <= m; bit <<= 1)
		if (m & bit)
			json_array_append_new(a, json_string(person_problem_tag(bit)));
	return a;
}

static json_t *person_json(const struct person *p, unsigned problems)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:b, s:o}",
			 "id_number", p->id_number, "student_number", p->student_number,
			 "given_name", p->given_name, "family_name", p->family_name,
			 "kind", person_kind_name(p->kind),
			 "programme", p->programme[0] ? p->programme : NULL,
			 "fee_paid_on", p->fee_paid_on[0] ? p->fee_paid_on : NULL,
			 "state", person_state_name(p->state),
			 "username", p->username[0] ? p->username : NULL,
			 "email", p->email[0] ? p->email : NULL,
			 "pin_issued", p->pin_hash[0] != '\0',
			 "problems", problems_json(problems));
}

struct list_ctx {
	const struct config *cfg;
	time_t now;
	json_t *array;	/* NULL: text output */
};

static void print_tags(unsigned m)
{
	const char *sep = "";

	if (!m)
		fputs("ready", stdout);
	for (unsigned bit = 1; bit <= m; bit <<= 1)
		if (m & bit) {
			printf("%s%s", sep, person_problem_tag(bit));
			sep = ",";
		}
	putchar('\n');
}

static int list_one(const struct person *p, void *ctx)
{
	struct list_ctx *lc = ctx;
	unsigned m = person_problems(p, lc->cfg, lc->now);

	if (lc->array)
		return json_array_append_new(lc->array, person_json(p, m)) == 0 ? 0 : -1;
	printf("%-12s %-12s %-12s %-9s %s %s\t", p->id_number, p->student_number,
	       p->username[0] ? p->username : "-", person_state_name(p->state), p->given_name,
	       p->family_name);
	print_tags(m);
	return 0;
}

static int parse_list_opts(int argc, char **argv, int *state, bool *json)
{
	static const struct option options[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "s:j", options, NULL)) != -1) {
		if (o == 'j')
			*json = true;
		else if (o == 's' && state && person_state_parse(optarg, state) == 0)
			continue;
		else if (o == 's' && state) {
			ctl_error("--state: expected pending, provisioning, active or revoked");
			return -1;
		} else
			return -1;
	}
	return optind == argc ? 0 : -1;
}

int ctl_cmd_list(struct ctl *c, int argc, char **argv)
{
	struct list_ctx lc = { .cfg = &c->cfg, .now = time(NULL) };
	int state = -1;
	bool json = false;

	if (parse_list_opts(argc, argv, &state, &json) != 0)
		return ctl_usage("list");
	if (ctl_open_store(c) != 0)
		return CTL_FAIL;
	lc.array = json ? json_array() : NULL;
	if (store_person_foreach(c->st, state, list_one, &lc) != 0) {
		ctl_error("%s", store_errmsg(c->st));
		json_decref(lc.array);
		return CTL_FAIL;
	}
	return json ? ctl_dump_json(lc.array) : CTL_OK;
}

struct stats {
	const struct config *cfg;
	time_t now;
	size_t total, ready;
	size_t state[PERSON_REVOKED + 1];
	size_t kind[PERSON_EMPLOYEE + 1];
	size_t problem[PERSON_PROBLEM_COUNT];
};

static int count_one(const struct person *p, void *ctx)
{
	struct stats *s = ctx;
	unsigned m = person_problems(p, s->cfg, s->now);

	s->total++;
	s->ready += m == 0;
	if (p->state >= 0 && p->state <= PERSON_REVOKED)
		s->state[p->state]++;
	if (p->kind >= 0 && p->kind <= PERSON_EMPLOYEE)
		s->kind[p->kind]++;
	for (int i = 0; i < PERSON_PROBLEM_COUNT; i++)
		s->problem[i] += (m >> i) & 1;
	return 0;
}

static json_t *stats_json(const struct stats *s)
{
	json_t *states = json_object(), *kinds = json_object(), *problems = json_object();

	for (int i = 0; i <= PERSON_REVOKED; i++)
		json_object_set_new(states, person_state_name(i), json_integer((json_int_t)s->state[i]));
	for (int i = 0; i <= PERSON_EMPLOYEE; i++)
		json_object_set_new(kinds, person_kind_name(i), json_integer((json_int_t)s->kind[i]));
	for (int i = 0; i < PERSON_PROBLEM_COUNT; i++)
		json_object_set_new(problems, person_problem_tag(1u << i),
				    json_integer((json_int_t)s->problem[i]));
	return json_pack("{s:I, s:I, s:o, s:o, s:o}", "total", (json_int_t)s->total,
			 "ready", (json_int_t)s->ready, "state", states, "kind", kinds,
			 "problems", problems);
}

static void print_stats(const struct stats *s)
{
	printf("%-16s %zu\n%-16s %zu\nby state:\n", "people", s->total, "ready now", s->ready);
	for (int i = 0; i <= PERSON_REVOKED; i++)
		printf("  %-14s %zu\n", person_state_name(i), s->state[i]);
	printf("by kind:\n");
	for (int i = 0; i <= PERSON_EMPLOYEE; i++)
		printf("  %-14s %zu\n", person_kind_name(i), s->kind[i]);
	printf("what stands in the way:\n");
	for (int i = 0; i < PERSON_PROBLEM_COUNT; i++)
		printf("  %-14s %zu\n", person_problem_tag(1u << i), s->problem[i]);
}

int ctl_cmd_stats(struct ctl *c, int argc, char **argv)
{
	struct stats s = { .cfg = &c->cfg, .now = time(NULL) };
	bool json = false;

	if (parse_list_opts(argc, argv, NULL, &json) != 0)
		return ctl_usage("stats");
	if (ctl_open_store(c) != 0)
		return CTL_FAIL;
	if (store_person_foreach(c->st, -1, count_one, &s) != 0) {
		ctl_error("%s", store_errmsg(c->st));
		return CTL_FAIL;
	}
	if (json)
		return ctl_dump_json(stats_json(&s));
	print_stats(&s);
	return CTL_OK;
}
