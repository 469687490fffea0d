/*
 * dialogue.c: the activation dialogue. Ask for the three details, verify
 * them as one (the answer never says which was wrong, and an unknown ID
 * number costs the same hash as a known one), count failures per person,
 * per remote host and per dialogue, then explain whatever prerequisite is
 * missing, and hand an eligible person to provisioning (provision.c).
 *
 * Every failure is written to the database before the person hears of it,
 * so a caller that kills the dialogue at any point gains no free tries.
 */
#include <errno.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"
#include "dialogue.h"
#include "i18n.h"
#include "network.h"
#include "provision.h"
#include "secret.h"
#include "slot.h"
#include "text.h"

#define SLOT_WAIT_MS 10000
#define PIN_MIN 6

struct details {
	char id[PERSON_NUMBER_MAX];
	char student[PERSON_NUMBER_MAX];
	char pin[SECRET_PIN_MAX];
	char reply[CONV_REPLY_MAX + 1];
};

enum verdict { V_OK, V_FAIL, V_LOCKED, V_SPENT, V_BUSY, V_ERROR };

static void audit(struct dialogue *d, int priority, const char *event, const struct person *p,
		  const char *result)
{
	struct store_audit ev = {
		.event = event, .person = p ? p->rowid : 0, .username = p ? p->username : NULL,
		.service = d->service, .rhost = d->rhost, .tty = d->tty, .result = result,
	};

	audit_record(d->st, priority, &ev);
}

static void support(struct dialogue *d)
{
	if (d->cfg->support_contact[0])
		conv_info(d->conv, "%s", d->cfg->support_contact);
}

/* Check one reply: trimmed, printable, ASCII digits, at most max of them. */
static int check_digits(struct dialogue *d, const char *what, char *reply, unsigned max,
			char *out, size_t size)
{
	const char *v = text_trim(reply);

	if (text_check_utf8_printable(v, strlen(v)) != 0 || !text_is_digits(v)) {
		conv_error(d->conv, _("%s: type digits 0-9 only."), what);
		return -EINVAL;
	}
	if (strlen(v) > max || strlen(v) >= size) {
		conv_error(d->conv, _("%s: too long (at most %u digits)."), what, max);
		return -EINVAL;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int ask(struct dialogue *d, struct details *det, bool echo, const char *prompt,
	       const char *what, unsigned max, char *out, size_t size)
{
	int r = conv_prompt(d->conv, echo, prompt, det->reply, sizeof(det->reply));

	if (r == -E2BIG)
		conv_error(d->conv, _("%s: too long (at most %u digits)."), what, max);
	else if (r == 0)
		r = check_digits(d, what, det->reply, max, out, size);
	sodium_memzero(det->reply, sizeof(det->reply));
	return r == -E2BIG ? -EINVAL : r;
}

static int ask_details(struct dialogue *d, struct details *det)
{
	const struct config *cfg = d->cfg;
	int r;

	r = ask(d, det, true, _("ID number: "), _("ID number"), cfg->id_number_max_length,
		det->id, sizeof(det->id));
	if (r == 0)
		r = ask(d, det, true, _("Student number: "), _("Student number"),
			cfg->student_number_max_length, det->student, sizeof(det->student));
	if (r == 0)
		r = ask(d, det, false, _("PIN code: "), _("PIN code"), SECRET_PIN_MAX - 1, det->pin,
			sizeof(det->pin));
	return r;
}

static bool same_text(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

/*
 * One Argon2id verification, real or dummy, under a host-wide slot. The
 * real one only for a person whose two numbers both matched and who may
 * be verified (not locked, PIN not spent by failures): for anyone else the
 * dummy runs, so that the answer takes the same time whatever the ID
 * number is and whatever state its owner is in.
 */
static int check_pin(struct dialogue *d, const struct details *det, const struct person *p, bool *ok)
{
	int slot, r = -EACCES;

	*ok = false;
	if (slot_acquire(d->cfg->run_dir, d->cfg->max_concurrent_hashes, SLOT_WAIT_MS, &slot) != 0)
		return -EBUSY;
	if (p && p->pin_hash[0] && strlen(det->pin) >= PIN_MIN)
		r = secret_pin_verify(d->pepper, det->id, det->pin, p->pin_hash);
	else
		secret_pin_verify_dummy(d->pepper, det->pin, d->cfg->pin_hash_cost);
	slot_release(slot);
	*ok = r == 0;
	return r == -EACCES || r == -EINVAL ? 0 : r;
}

/* lock_time doubled for each lock after the first, never beyond lock_time_max. */
static int64_t lock_seconds(const struct config *cfg, unsigned locks)
{
	unsigned shift = locks > 0 ? locks - 1 : 0;
	int64_t t = (int64_t)cfg->lock_time << (shift > 30 ? 30 : shift);

	return t < (int64_t)cfg->lock_time_max ? t : (int64_t)cfg->lock_time_max;
}

struct rebase {
	const struct config *cfg;
	struct person *p;
	int64_t now;
};

/* Inside the transaction, on the row as it is now: a lock still too far off ends one lock from now. */
static int rebase_change(struct store *st, void *ctx)
{
	struct rebase *rb = ctx;
	int64_t until;
	int r = store_person_by_id_number(st, rb->p->id_number, rb->p);

	if (r)
		return r;
	until = rb->now + lock_seconds(rb->cfg, rb->p->locks);
	if (rb->p->locked_until <= until)
		return -EALREADY;	/* unlocked, or rebased by another dialogue, meanwhile */
	rb->p->locked_until = until;
	r = store_person_set_failures(st, rb->p);
	if (r == 0)
		rb->p->version++;
	return r;
}

/*
 * A lock that ends further off than a lock of its number lasts began in
 * the future: the clock was set back (or lock_time made shorter). It
 * counts from now, so that it neither ends early nor lasts until the clock
 * catches up (a day, for a clock set back a day).
 */
static int rebase_lock(struct dialogue *d, struct person *p, int64_t now)
{
	struct rebase rb = { d->cfg, p, now };
	struct store_audit ev = {
		.event = "lock", .person = p->rowid, .username = p->username, .service = d->service,
		.rhost = d->rhost, .tty = d->tty,
		.result = "counted from now: it ended further off than a lock lasts (the clock set back?)",
	};
	int r = audit_change(d->st, LOG_WARNING, &ev, rebase_change, &rb);

	return r == -EALREADY ? 0 : r;
}

/*
 * *matched: the ID number and the student number are one person's. Only
 * then do a lock or a spent PIN show, and only then does a failure count
 * against the person: an ID number alone tells nothing and locks no one.
 */
static enum verdict verify(struct dialogue *d, const struct details *det, struct person *p, bool *matched)
{
	int r = store_person_by_id_number(d->st, det->id, p);
	int64_t now = time(NULL);
	enum verdict v = V_OK;
	bool ok;

	if (r && r != -ENOENT)
		return V_ERROR;
	*matched = r == 0 && same_text(det->student, p->student_number);
	if (*matched && p->locked_until > now + lock_seconds(d->cfg, p->locks) && rebase_lock(d, p, now) != 0)
		return V_ERROR;
	if (*matched && p->locked_until > now)
		v = V_LOCKED;
	else if (*matched && p->state != PERSON_ACTIVE && p->total_failures >= d->cfg->max_total_failures)
		v = V_SPENT;
	r = check_pin(d, det, *matched && v == V_OK ? p : NULL, &ok);
	if (r)
		return r == -EBUSY ? V_BUSY : V_ERROR;
	return v != V_OK ? v : ok ? V_OK : V_FAIL;
}

struct counting {
	struct dialogue *d;
	struct person *p;
	bool matched;
};

/* The failure counts of p, decided on the row as it is now (locked, in PostgreSQL). */
static int failure_change(struct store *st, void *ctx)
{
	const struct counting *c = ctx;
	struct person *p = c->p;
	int64_t now = time(NULL);
	int r = 0;

	if (c->d->rhost[0])
		r = store_throttle_rebase(st, now);
	if (r == 0 && c->d->rhost[0])
		r = store_throttle_add(st, c->d->rhost, now, now - c->d->cfg->throttle_window);
	if (r || !c->matched)
		return r;
	r = store_person_by_id_number(st, p->id_number, p);
	if (r)
		return r;
	p->failures++;
	p->total_failures++;
	if (p->failures >= c->d->cfg->max_attempts) {
		p->locks++;
		p->failures = 0;
		p->locked_until = now + lock_seconds(c->d->cfg, p->locks);
	}
	return store_person_set_failures(st, p);
}

static int count_failure(struct dialogue *d, struct person *p, bool matched)
{
	struct counting c = { d, p, matched };

	return store_transaction(d->st, failure_change, &c);
}

static int success_change(struct store *st, void *ctx)
{
	struct person *p = ((const struct counting *)ctx)->p;
	int r = store_person_by_id_number(st, p->id_number, p);

	p->failures = 0;
	p->locks = 0;
	return r ? r : store_person_set_failures(st, p);
}

/* A success starts the failures and the doubling of locks over. */
static int count_success(struct dialogue *d, struct person *p)
{
	struct counting c = { d, p, true };

	if (p->failures == 0 && p->locks == 0)
		return 0;
	return store_transaction(d->st, success_change, &c);
}

/*
 * An address with too many failures in the window; a lab or NAT network
 * has its own limit, or none. Failures recorded after now (the clock was
 * set back) count as made now: the address is held back for one window
 * from here, not until the clock catches up. A failure rebases them too
 * (count_failure); here it takes a write only for an address held back.
 */
static bool throttled(struct dialogue *d)
{
	int64_t now = time(NULL);
	unsigned n = 0, future = 0, limit;
	bool unlimited;

	if (!d->rhost[0])
		return false;
	network_limit(d->cfg->throttle_networks, d->rhost, d->cfg->throttle_failures, &limit, &unlimited);
	if (unlimited)
		return false;
	if (store_throttle_count(d->st, d->rhost, now - d->cfg->throttle_window, &n) != 0)
		return true;	/* fail closed */
	if (n >= limit && (store_throttle_count(d->st, d->rhost, now + 1, &future) != 0 ||
			   (future > 0 && store_throttle_rebase(d->st, now) != 0)))
		return true;
	return n >= limit;
}

static void say_locked(struct dialogue *d, const struct person *p)
{
	time_t until = (time_t)p->locked_until, now = time(NULL);
	struct tm tm_until, tm_now;
	char when[32];

	localtime_r(&until, &tm_until);
	localtime_r(&now, &tm_now);
	strftime(when, sizeof(when), tm_until.tm_yday == tm_now.tm_yday ? "%H:%M" : "%Y-%m-%d %H:%M",
		 &tm_until);
	conv_error(d->conv, _("Too many failed attempts. Try again after %s, or contact support."), when);
	support(d);
}

static void say_failed(struct dialogue *d, unsigned tries_left)
{
	if (tries_left)
		conv_error(d->conv, _("The details you gave do not match our records. Tries left: %u."),
			   tries_left);
	else
		conv_error(d->conv, _("The details you gave do not match our records."));
}

static const char *problem_message(unsigned bit)
{
	switch (bit) {
	case PERSON_NO_PIN:
		return N_("No PIN code has been issued to you.");
	case PERSON_PIN_EXPIRED:
		return N_("Your PIN code has expired. Ask for a new one.");
	case PERSON_PIN_SPENT:
		return N_("Your PIN code can no longer be used. Ask for a new one.");
	case PERSON_NO_PROGRAMME:
		return N_("You are not connected to a programme of study yet, so your account "
			  "cannot be activated.");
	case PERSON_FEE_MISSING:
		return N_("Your semester fee is not registered yet. A payment can take up to three "
			  "business days to register; try again when it has.");
	case PERSON_REVOKED_STATE:
		return N_("This account has been closed.");
	default:
		return NULL;
	}
}

/* Each prerequisite that is missing, in its own words; then the support line. */
static void explain(struct dialogue *d, const struct person *p, unsigned m)
{
	if (m & PERSON_ALREADY_ACTIVE) {
		conv_error(d->conv, _("Your account is already active, with the username %s. "
				      "If you have forgotten your password, ask for a new PIN code."),
			   p->username[0] ? p->username : "?");
		support(d);
		return;
	}
	for (unsigned bit = 1; bit <= m; bit <<= 1)
		if ((m & bit) && problem_message(bit))
			conv_error(d->conv, "%s", _(problem_message(bit)));
	support(d);
}

static void problem_tags(unsigned m, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit <= m && used < size; bit <<= 1)
		if (m & bit)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "",
						 person_problem_tag(bit));
}

static enum dialogue_outcome eligible(struct dialogue *d, struct person *p)
{
	unsigned m = person_problems(p, d->cfg, time(NULL)) & ~(unsigned)PERSON_LOCKED;
	char tags[160];

	if (m) {
		problem_tags(m, tags, sizeof(tags));
		audit(d, LOG_NOTICE, "refused", p, tags);
		explain(d, p, m);
		return DIALOGUE_DENIED;
	}
	return provision_run(d, p);
}

static enum dialogue_outcome unavailable(struct dialogue *d)
{
	audit(d, LOG_ERR, "database", NULL, store_errmsg(d->st));
	conv_error(d->conv, _("The activation service is not available right now."));
	support(d);
	return DIALOGUE_UNAVAILABLE;
}

/* One verification; -1 to ask again, or the outcome that ends the dialogue. */
static int attempt(struct dialogue *d, struct details *det, unsigned tries_left)
{
	struct person p;
	bool matched;

	switch (verify(d, det, &p, &matched)) {
	case V_OK:
		if (count_success(d, &p) != 0)
			return unavailable(d);
		return eligible(d, &p);
	case V_FAIL:
		if (count_failure(d, &p, matched) != 0)
			return unavailable(d);
		audit(d, LOG_NOTICE, "verify", matched ? &p : NULL, matched ? "failed" : "failed, details of nobody");
		if (matched && p.locked_until > time(NULL)) {
			say_locked(d, &p);
			return DIALOGUE_DENIED;
		}
		say_failed(d, tries_left);
		return -1;
	case V_LOCKED:
		if (count_failure(d, &p, false) != 0)
			return unavailable(d);
		audit(d, LOG_NOTICE, "verify", &p, "locked");
		say_locked(d, &p);
		return DIALOGUE_DENIED;
	case V_SPENT:
		audit(d, LOG_NOTICE, "verify", &p, "pin spent by failures");
		conv_error(d->conv, "%s", _(problem_message(PERSON_PIN_SPENT)));
		support(d);
		return DIALOGUE_DENIED;
	case V_BUSY:
		audit(d, LOG_WARNING, "verify", NULL, "busy");
		conv_error(d->conv, _("The service is busy. Try again in a minute."));
		return DIALOGUE_DENIED;
	default:
		return unavailable(d);
	}
}

static enum dialogue_outcome refuse_throttled(struct dialogue *d)
{
	audit(d, LOG_WARNING, "throttle", NULL, "too many failures from this host");
	conv_error(d->conv, _("Too many failed attempts from your network address. Try again later."));
	support(d);
	return DIALOGUE_DENIED;
}

static enum dialogue_outcome run_tries(struct dialogue *d, struct details *det)
{
	for (unsigned tries = d->cfg->max_tries; tries > 0; tries--) {
		int r = ask_details(d, det);

		if (r == -ECONNABORTED) {
			audit(d, LOG_NOTICE, "conversation", NULL, "aborted or timed out at the details");
			return DIALOGUE_CONV_ERR;
		}
		if (r == 0 && throttled(d))
			return refuse_throttled(d);
		if (r == 0)
			r = attempt(d, det, tries - 1);
		sodium_memzero(det, sizeof(*det));
		if (r >= 0)
			return (enum dialogue_outcome)r;
	}
	audit(d, LOG_NOTICE, "dialogue", NULL, "max tries");
	conv_error(d->conv, _("Too many failed attempts in this session."));
	return DIALOGUE_MAXTRIES;
}

/*
 * A failure ends with a prompt: text after the last prompt is lost in some
 * clients (sshd's final instruction under ssh -q, greeters that restart at
 * once). The failure itself goes just before it, as a message: sshd puts
 * such messages into the prompt's own text, other clients show them above
 * it, so repeating it in the prompt would show it twice.
 */
static void closing_prompt(struct dialogue *d)
{
	char reply[CONV_REPLY_MAX + 1];

	conv_prompt(d->conv, true, _("Press Enter to close: "), reply, sizeof(reply));
	sodium_memzero(reply, sizeof(reply));
}

static enum dialogue_outcome run_dialogue(struct dialogue *d)
{
	struct details *det;
	enum dialogue_outcome out;

	if (conv_info(d->conv, _("Account activation. You need the ID number from your e-mail, "
				 "your student number and your PIN code.")) != 0)
		return DIALOGUE_CONV_ERR;
	if (throttled(d))
		return refuse_throttled(d);
	det = secret_alloc(sizeof(*det));
	if (!det)
		return unavailable(d);
	out = run_tries(d, det);
	secret_free(det);
	return out;
}

enum dialogue_outcome dialogue_run(struct dialogue *d)
{
	enum dialogue_outcome out;

	d->username[0] = '\0';
	out = run_dialogue(d);
	if (out != DIALOGUE_ACTIVATED && out != DIALOGUE_CONV_ERR)
		closing_prompt(d);
	conv_flush(d->conv);
	return out;
}
