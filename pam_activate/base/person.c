/*
 * person.c: the rules that decide whether a person can activate today. Both
 * the dialogue and activatectl show ask here, so the help desk sees exactly
 * the reasons the student would be given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "person.h"

static const char *const kind_names[] = { "student", "exchange", "employee", NULL };
static const char *const state_names[] = { "pending", "provisioning", "active", "revoked", NULL };

static const struct {
	const char *tag;
	const char *text;
} problems[PERSON_PROBLEM_COUNT] = {
	{ "no-pin", "no PIN has been issued: run activatectl issue" },
	{ "pin-expired", "the PIN has expired: issue a new one" },
	{ "pin-spent", "the PIN is spent (used, or too many failures): issue a new one" },
	{ "locked", "locked after too many failed attempts: activatectl unlock, or wait" },
	{ "no-programme", "not connected to a programme of study" },
	{ "fee-missing", "semester fee not registered (payment can take up to three business days to register)" },
	{ "revoked", "the account is revoked" },
	{ "active", "already activated: a forgotten password needs a new PIN" },
};

static unsigned pin_problems(const struct person *p, const struct config *cfg, time_t now)
{
	if (!p->pin_hash[0])
		return PERSON_NO_PIN;
	if (p->pin_spent || p->total_failures >= cfg->max_total_failures)
		return PERSON_PIN_SPENT;
	if (p->pin_expires <= now)
		return PERSON_PIN_EXPIRED;
	return 0;
}

static unsigned study_problems(const struct person *p)
{
	unsigned m = 0;

	if (p->kind != PERSON_STUDENT)
		return 0;
	if (!p->programme[0])
		m |= PERSON_NO_PROGRAMME;
	if (!p->fee_paid_on[0])
		m |= PERSON_FEE_MISSING;
	return m;
}

unsigned person_problems(const struct person *p, const struct config *cfg, time_t now)
{
	unsigned m = 0;

	/* a new PIN lets an active person set a new password; the prerequisites are not asked again */
	if (p->state == PERSON_ACTIVE)
		return pin_problems(p, cfg, now) ? PERSON_ALREADY_ACTIVE : p->locked_until > now ? PERSON_LOCKED : 0;
	if (p->state == PERSON_REVOKED)
		m |= PERSON_REVOKED_STATE;
	if (p->locked_until > now)
		m |= PERSON_LOCKED;
	return m | pin_problems(p, cfg, now) | study_problems(p);
}

static int bit_index(unsigned problem)
{
	for (int i = 0; i < PERSON_PROBLEM_COUNT; i++)
		if (problem == (1u << i))
			return i;
	return -1;
}

void person_email(const struct person *p, const struct config *cfg, char *out, size_t len)
{
	const char *fmt = cfg->email_format, *u = strstr(fmt, "%u");

	out[0] = '\0';
	if (p->email[0])
		snprintf(out, len, "%s", p->email);
	else if (u)
		snprintf(out, len, "%.*s%s%s", (int)(u - fmt), fmt, p->username, u + 2);
}

const char *person_problem_text(unsigned problem)
{
	int i = bit_index(problem);

	return i < 0 ? "unknown problem" : problems[i].text;
}

const char *person_problem_tag(unsigned problem)
{
	int i = bit_index(problem);

	return i < 0 ? "unknown" : problems[i].tag;
}

static int parse_word(const char *const *names, const char *name, int *out)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

const char *person_kind_name(int kind)
{
	return kind >= 0 && kind <= PERSON_EMPLOYEE ? kind_names[kind] : "?";
}

const char *person_state_name(int state)
{
	return state >= 0 && state <= PERSON_REVOKED ? state_names[state] : "?";
}

int person_kind_parse(const char *name, int *kind)
{
	return parse_word(kind_names, name, kind);
}

int person_state_parse(const char *name, int *state)
{
	return parse_word(state_names, name, state);
}

int person_lock(const struct config *cfg, int64_t rowid, int wait_ms)
{
	struct timespec tick = { 0, 20L * 1000 * 1000 };
	char path[CONFIG_PATH_MAX + 64];
	int fd, waited = 0;

	snprintf(path, sizeof(path), "%s/person-%lld.lock", cfg->run_dir, (long long)rowid);
	if (mkdir(cfg->run_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK || waited >= wait_ms) {
			close(fd);
			return -EBUSY;
		}
		nanosleep(&tick, NULL);
		waited += 20;
	}
	return fd;
}
