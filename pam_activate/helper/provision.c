/*
 * provision.c: from a verified, eligible person to an account.
 *
 * The protocol (doc/protocol.md, tests/model/activation.pml): under the
 * per-person lock the row is read again (reread) and every decision is a
 * compare-and-swap on it. reserve: the username, state provisioning.
 * record_intent: the uid, gid and home, durably, under the password-file
 * lock and before the first file changes. The files and the home are then
 * ensured against the intent (accounts/files.c, home.c), so a later attempt
 * knows every partial state as its own and rolls it forward. activate:
 * active, the PIN spent, only while it is still this PIN, unspent. A
 * dialogue cut short anywhere is finished by the next one, never repeated,
 * and the caller's signals are held off while the files change.
 *
 * An active person with a new PIN (a forgotten password) gets a new
 * password for the account they have, and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "accounts.h"
#include "audit.h"
#include "fault.h"
#include "hook.h"
#include "i18n.h"
#include "lease.h"
#include "logindefs.h"
#include "password.h"
#include "provision.h"
#include "rename.h"
#include "secret.h"
#include "text.h"
#include "username.h"

#define TERMS_MAX 4096
#define TERMS_CHUNK 480		/* under PAM_MAX_MSG_SIZE, with room for the relay */
#define PASSWORD_TRIES 3
#define HOOK_TIMEOUT_S 30

struct secrets {
	char reply[CONV_REPLY_MAX + 1];
	char suggestion[9][PASSWORD_MAX];
	char password[PASSWORD_MAX];
	char hash[PASSWORD_HASH_MAX];
};

static void audit(struct dialogue *d, int priority, const char *event, const struct person *p,
		  const char *result)
{
	struct store_audit ev = {
		.event = event, .person = p->rowid, .username = p->username, .service = d->service,
		.rhost = d->rhost, .tty = d->tty, .result = result,
	};

	audit_record(d->st, priority, &ev);
}

static enum dialogue_outcome failed_as(struct dialogue *d, const struct person *p, const char *event,
				       const char *text, const char *why)
{
	audit(d, LOG_ERR, event, p, why);
	conv_error(d->conv, "%s", text);
	if (d->cfg->support_contact[0])
		conv_info(d->conv, "%s", d->cfg->support_contact);
	return DIALOGUE_UNAVAILABLE;
}

/* The directory (accounts = ldap) did not answer: nothing was changed that a retry does not finish. */
static enum dialogue_outcome unavailable(struct dialogue *d, const struct person *p, const char *event,
					 const char *why)
{
	return failed_as(d, p, event, _("The activation service is not available right now."), why);
}

static enum dialogue_outcome failed(struct dialogue *d, const struct person *p, const char *why)
{
	return failed_as(d, p, "provision",
			 _("Your account could not be created. Nothing was used up: you can try again."), why);
}

static enum dialogue_outcome in_progress(struct dialogue *d)
{
	conv_error(d->conv, _("An activation of your account is already in progress."));
	return DIALOGUE_DENIED;
}

/*
 * The lease for another full term before anything is committed: lost (it
 * expired and another machine took the person over), this dialogue stops
 * and the other finishes.
 */
static bool renewed(struct dialogue *d, const struct person *p, enum dialogue_outcome *out)
{
	int r = d->lease ? lease_renew(d->lease, d->st) : 0;

	if (r == -ESTALE) {
		audit(d, LOG_WARNING, "provision", p, "the person's lease was taken over by another machine");
		*out = in_progress(d);
	} else if (r)
		*out = unavailable(d, p, "provision", "database: cannot renew the person's lease");
	return r == 0;
}

/*
 * The caller's signals that end a process are held while the account
 * files and the database change, and acted on (the process ends) once they
 * are consistent again. SIGKILL cannot be held: that is what the intent
 * and roll-forward are for.
 */
static void hold_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void release_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* Lines of printable UTF-8 (a message is cut between characters, so they must be characters). */
static bool terms_valid(const char *text, size_t n)
{
	const char *at = text, *end = text + n;

	while (at < end) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		size_t len = nl ? (size_t)(nl - at) : (size_t)(end - at);

		if (len && at[len - 1] == '\r')
			len--;
		if (text_check_utf8_printable(at, len) != 0)
			return false;
		at += (nl ? (size_t)(nl - at) : len) + 1;
	}
	return true;
}

/* The terms file whole, or -EFBIG if it is more than TERMS_MAX bytes. */
static int read_terms(const char *path, char *text, size_t *n)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -EIO;
	*n = fread(text, 1, TERMS_MAX + 1, f);
	fclose(f);
	if (*n > TERMS_MAX)
		return -EFBIG;
	text[*n] = '\0';
	return terms_valid(text, *n) ? 0 : -EINVAL;
}

/*
 * The terms in messages that each fit a frame, cut after a newline where
 * there is one, never inside a UTF-8 character: all of them is shown.
 */
static int show_terms(struct dialogue *d, const char *text, size_t n)
{
	size_t at = 0;

	while (at < n) {
		size_t len = n - at < TERMS_CHUNK ? n - at : TERMS_CHUNK;

		if (at + len < n) {
			const char *nl = memrchr(text + at, '\n', len);

			if (nl && nl > text + at)
				len = (size_t)(nl - (text + at)) + 1;
			while (len > 1 && ((unsigned char)text[at + len] & 0xC0) == 0x80)
				len--;
		}
		if (conv_info(d->conv, "%.*s", (int)len, text + at) != 0)
			return -ECONNABORTED;
		at += len;
	}
	return 0;
}

/* The terms, shown whole and accepted with "yes"; the hash of exactly what was shown is kept. */
static int accept_terms(struct dialogue *d, struct person *p, struct secrets *s)
{
	unsigned char h[32];
	char text[TERMS_MAX + 2];
	size_t n;
	int r;

	if (!d->cfg->terms_file[0])
		return 0;
	r = read_terms(d->cfg->terms_file, text, &n);
	if (r)
		return r;
	if (d->desk)
		;	/* accepted at the desk, on paper: the hash says which text */
	else if (show_terms(d, text, n) != 0)
		return -ECONNABORTED;
	else if (conv_prompt(d->conv, true, _("Type yes to accept the terms of use: "), s->reply,
			     sizeof(s->reply)) != 0)
		return -ECONNABORTED;
	else if (strcmp(text_trim(s->reply), "yes") != 0 && strcmp(text_trim(s->reply), _("yes")) != 0)
		return -EPERM;
	crypto_generichash(h, sizeof(h), (const unsigned char *)text, n, NULL, 0);
	sodium_bin2hex(p->terms_hash, sizeof(p->terms_hash), h, sizeof(h));
	p->terms_accepted = (int64_t)time(NULL);
	return 0;
}

struct taken_ctx {
	struct dialogue *d;
	int64_t self;
	struct account_names *names;
	int error;	/* a lookup failed: the pick is over */
};

/*
 * A list or a database that fails is not an answer: taken as "taken", the
 * pick would hand out the next name (the person's username for good,
 * because of a passing error), or walk all of them with an NSS lookup each,
 * for longer than the caller waits.
 */
static bool taken(const char *name, void *ctx)
{
	struct taken_ctx *t = ctx;
	struct person other;
	bool reserved, pending = true;
	int r;

	if (t->error)
		return true;
	r = username_check_reserved(t->d->cfg, name, &reserved);
	if (r == 0 && (reserved || accounts_names_has(t->names, name)))
		return true;
	if (r == 0)
		r = store_person_name_pending(t->d->st, name, t->self, &pending);
	if (r == 0 && pending)
		return true;	/* the new name of a rename under way */
	if (r == 0)
		r = store_person_by_username(t->d->st, name, &other);
	if (r == -ENOENT)
		return false;
	if (r)
		t->error = r;
	return r || other.rowid != t->self;
}

/*
 * Reserve a username in the database: the roster's, or a free one from the
 * name. Picked inside the write transaction, so that concurrent dialogues
 * cannot pick the same one.
 */
static int pick_and_reserve(struct dialogue *d, struct person *p, bool roster)
{
	struct taken_ctx t = { d, p->rowid, NULL, 0 };
	char base[PERSON_USERNAME_MAX];
	int r;

	t.names = accounts_names_load(d->cfg);
	if (!t.names)
		return errno == EHOSTDOWN ? -EHOSTDOWN : -ENOMEM;	/* the directory did not answer */
	if (roster) {
		r = accounts_names_has(t.names, p->username) ? -EEXIST : 0;
	} else {
		username_base(d->cfg, p, base, sizeof(base));
		r = username_pick(d->cfg, base, taken, &t, p->username, sizeof(p->username)) ? -ENOSPC : 0;
	}
	accounts_names_free(t.names);
	if (t.error)
		return t.error;
	return r ? r : store_person_reserve(d->st, p);
}

/* p as it stands in the database now (inside the caller's transaction, if any). */
static int reread(struct dialogue *d, struct person *p)
{
	char pin[PERSON_HASH_MAX];
	int r;

	memcpy(pin, p->pin_hash, sizeof(pin));
	r = store_person_by_id_number(d->st, p->id_number, p);
	if (r == 0 && strcmp(pin, p->pin_hash) != 0)
		r = -ESTALE;	/* a new PIN was issued since this one was verified */
	return r;
}

struct reserving {
	struct dialogue *d;
	struct person *p;
	int64_t accepted;
	char terms[PERSON_HASH_MAX];
	bool earlier;		/* reserved by an attempt that was cut short */
};

static int reserve_change(struct store *st, void *ctx)
{
	struct reserving *c = ctx;
	struct person *p = c->p;
	bool roster;
	int r = reread(c->d, p);

	(void)st;
	if (r == 0 && c->accepted) {	/* what this dialogue showed and the person accepted */
		p->terms_accepted = c->accepted;
		memcpy(p->terms_hash, c->terms, sizeof(p->terms_hash));
	}
	c->earlier = r == 0 && p->state == PERSON_PROVISIONING && p->username[0];
	if (r || c->earlier)
		return r;
	if (p->state != PERSON_PENDING && p->state != PERSON_PROVISIONING)
		return -ESTALE;
	roster = p->username[0] != '\0';
	r = pick_and_reserve(c->d, p, roster);
	/* picked free, then taken on another machine before the write: pick again */
	return r == -EEXIST && !roster ? -EDEADLK : r;
}

/*
 * Reserve a username, deciding on the row as it is inside the write
 * transaction: still pending (or provisioning), still this PIN.
 */
static int reserve(struct dialogue *d, struct person *p)
{
	struct reserving c = { .d = d, .p = p, .accepted = p->terms_accepted };
	int r;

	memcpy(c.terms, p->terms_hash, sizeof(p->terms_hash));
	r = store_transaction(d->st, reserve_change, &c);
	if (r || c.earlier)
		return r == -EDEADLK ? -EEXIST : r;
	p->version++;
	p->state = PERSON_PROVISIONING;
	return 0;
}

static int show_suggestions(struct dialogue *d, struct secrets *s, unsigned n)
{
	char line[CONV_REPLY_MAX];
	size_t used = (size_t)snprintf(line, sizeof(line), "%s", _("Choose a password. Suggestions:"));
	int r = 0;

	for (unsigned i = 0; i < n && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "\n  %u  %s", i + 1, s->suggestion[i]);
	if (used >= sizeof(line))
		r = -E2BIG;	/* never a suggestion cut short: the person would type what they cannot see */
	else
		r = conv_info(d->conv, "%s", line);
	sodium_memzero(line, sizeof(line));
	return r;
}

/* A suggestion by its number, or a password of the person's own, asked twice. */
static int take_password(struct dialogue *d, const struct person *p, struct secrets *s, unsigned n)
{
	char reason[256] = "";
	const char *v = text_trim(s->reply);

	if (n && strlen(v) == 1 && v[0] >= '1' && v[0] < (char)('1' + n)) {
		memcpy(s->password, s->suggestion[v[0] - '1'], PASSWORD_MAX);
		return 0;
	}
	if (strlen(s->reply) >= sizeof(s->password)) {
		conv_error(d->conv, _("That password is too long (at most %u characters)."),
			   (unsigned)sizeof(s->password) - 1);
		return -EAGAIN;
	}
	if (password_check(d->cfg, s->reply, p->username, p, reason, sizeof(reason)) != 0) {
		conv_error(d->conv, _("That password cannot be used: %s."), reason[0] ? reason : _("it is too weak"));
		return -EAGAIN;
	}
	memcpy(s->password, s->reply, strlen(s->reply) + 1);
	if (conv_prompt(d->conv, false, _("Repeat the password: "), s->reply, sizeof(s->reply)) != 0)
		return -ECONNABORTED;
	if (strcmp(s->reply, s->password) != 0) {
		conv_error(d->conv, _("The two passwords differ."));
		return -EAGAIN;
	}
	return 0;
}

/* At the desk: one generated password, shown once by activatectl and changed at the first login. */
static int desk_password(struct dialogue *d, struct secrets *s)
{
	if (password_suggest(s->suggestion, 1) != 0)
		return -EIO;
	memcpy(s->password, s->suggestion[0], PASSWORD_MAX);
	memcpy(d->desk_password, s->password, PASSWORD_MAX);
	return 0;
}

static int choose_password(struct dialogue *d, const struct person *p, struct secrets *s)
{
	unsigned n = d->cfg->suggestions;
	int r = -EAGAIN;

	if (d->desk)
		return desk_password(d, s);
	if (n && password_suggest(s->suggestion, n) != 0)
		n = 0;
	for (int tries = 0; tries < PASSWORD_TRIES && r == -EAGAIN; tries++) {
		if (n && show_suggestions(d, s, n) == -E2BIG)
			n = 0;
		if (conv_prompt(d->conv, false, n ? _("Type the number of a suggestion, or a password of your own: ")
				: _("New password: "), s->reply, sizeof(s->reply)) != 0)
			return -ECONNABORTED;
		r = take_password(d, p, s, n);
	}
	return r;
}

static void closing(struct dialogue *d, const struct person *p, struct secrets *s, bool reset)
{
	char address[PERSON_EMAIL_MAX + 64], email[PERSON_EMAIL_MAX + 128] = "";
	char host[HOST_NAME_MAX + 1] = "", prompt[CONV_REPLY_MAX];

	person_email(p, d->cfg, address, sizeof(address));
	if (address[0])
		snprintf(email, sizeof(email), _("\nE-mail: %s"), address);
	if (reset)
		conv_info(d->conv, _("Your new password is set.\nUsername: %s%s"), p->username, email);
	else
		conv_info(d->conv, _("Your account is ready.\nUsername: %s%s\nThese will not be shown again."),
			  p->username, email);
	if (gethostname(host, sizeof(host) - 1) != 0 || !text_is_hostname(host))
		snprintf(host, sizeof(host), "%s", "this-host");
	if (d->cfg->on_success == CONFIG_ON_SUCCESS_DENY)
		conv_info(d->conv, _("Log in again with the username %s (over SSH: ssh %s@%s)."),
			  p->username, p->username, host);
	/* The last prompt carries the username: info after it can be lost. */
	if (d->cfg->on_success == CONFIG_ON_SUCCESS_LOGIN)	/* a greeter or login(1): the session comes next */
		snprintf(prompt, sizeof(prompt), _("Your username is %s. Type it and press Enter to log in: "), p->username);
	else
		snprintf(prompt, sizeof(prompt), _("Your username is %s. Type it and press Enter; then you are done "
						   "and may close this window: "), p->username);
	conv_prompt(d->conv, true, prompt, s->reply, sizeof(s->reply));
}

struct intent {
	const struct person *p;
	const struct account *a;
};

static int intent_change(struct store *st, void *ctx)
{
	const struct intent *i = ctx;

	return store_person_record_intent(st, i->p, i->a->uid, i->a->gid, i->a->home);
}

/* The intent, durable before the first account change (files.c calls it under the lock, ldap.c after the id is allocated). */
static int record_intent(const struct account *a, void *ctx)
{
	struct dialogue *d = ((void **)ctx)[0];
	struct person *p = ((void **)ctx)[1];
	struct intent i = { p, a };
	int r = store_transaction(d->st, intent_change, &i);

	if (r)
		return r;
	FAULT(d->cfg, "intent");
	p->uid = a->uid;
	p->gid = a->gid;
	memcpy(p->home, a->home, strnlen(a->home, sizeof(p->home) - 1));
	p->home[strnlen(a->home, sizeof(p->home) - 1)] = '\0';
	return 0;
}

static struct store_audit event_of(const struct dialogue *d, const char *event, const struct person *p,
				   const char *result)
{
	return (struct store_audit){
		.event = event, .person = p->rowid, .username = p->username, .service = d->service,
		.rhost = d->rhost, .tty = d->tty, .result = result,
	};
}

/* An id another person's intent holds is not free, even before their files have it (fail closed). */
static bool id_held(unsigned long id, void *ctx)
{
	struct dialogue *d = ((void **)ctx)[0];
	struct person *p = ((void **)ctx)[1];
	bool held = true;

	store_person_id_held(d->st, (int64_t)id, p->rowid, &held);
	return held;
}

static int activate_change(struct store *st, void *p)
{
	return store_person_activate(st, p);
}

/*
 * active, the PIN spent: only while this is still the person's intent and
 * PIN, unspent; the audit row in the same transaction.
 */
static int activate(struct dialogue *d, struct person *p)
{
	struct store_audit ev = event_of(d, "activated", p, d->desk ? d->desk : "ok");

	return audit_change(d->st, LOG_NOTICE, &ev, activate_change, p);
}

static void gecos_of(const struct person *p, char *gecos, size_t size)
{
	snprintf(gecos, size, "%s%s%s", p->given_name, p->given_name[0] ? " " : "", p->family_name);
	for (char *c = gecos; *c; c++)
		if (*c == ',' || *c == ':')
			*c = ' ';
}

/*
 * The account ensured against the intent, then the person active; signals
 * held meanwhile. *unsure: the database failed at the activation itself,
 * so whether the PIN is spent is not known here (a commit whose fsync
 * failed may still be found in the log by the next connection).
 */
static int commit(struct dialogue *d, struct person *p, struct account *a, const struct logindefs *ld,
		  bool *unsure, char *err, size_t errlen)
{
	sigset_t old;
	int r;

	*unsure = false;
	hold_signals(&old);
	r = accounts_provision(d->cfg, ld, a, err, errlen);
	FAULT(d->cfg, "after-files");
	if (r == 0) {
		r = activate(d, p);
		*unsure = r != 0 && r != -ESTALE;
	}
	if (r == -ESTALE) {
		/* revoked while this dialogue ran, most likely: the account it just made must not work */
		int l = accounts_set_locked(d->cfg, p->username, true, NULL, err, errlen);

		if (l != 0 && l != -EALREADY)
			audit(d, LOG_ERR, "provision", p, "cannot lock the account made for a person no longer activating");
		snprintf(err, errlen, "database: cannot mark active (revoked meanwhile?); the account is locked");
	} else if (*unsure)	/* the account is complete: the next attempt finishes, or finds it done */
		snprintf(err, errlen, "database: cannot mark active (%s)", strerror(-r));
	release_signals(&old);
	return r;
}

static enum dialogue_outcome create(struct dialogue *d, struct person *p, struct secrets *s)
{
	char gecos[2 * PERSON_NAME_MAX + 2], err[512] = "", email[PERSON_EMAIL_MAX + 64];
	void *ctx[2] = { d, p };
	struct account a = {
		.name = p->username, .gecos = gecos, .hash = s->hash, .given_name = p->given_name,
		.family_name = p->family_name, .email = email, .record_intent = record_intent, .id_held = id_held,
		.intent_ctx = ctx,
		.ids_known = p->uid >= 0 && p->gid >= 0, .uid = (uid_t)p->uid, .gid = (gid_t)p->gid,
		.must_change = d->desk != NULL,
	};
	struct logindefs ld;
	enum dialogue_outcome out;
	bool unsure = false;
	int r;

	gecos_of(p, gecos, sizeof(gecos));
	person_email(p, d->cfg, email, sizeof(email));
	r = logindefs_read(d->cfg->sysroot, &ld, err, sizeof(err));
	if (r == 0 && (r = password_hash(d->cfg, &ld, s->password, s->hash, sizeof(s->hash))) != 0)
		snprintf(err, sizeof(err), "password hash: method not available");
	if (r == 0 && strlen(d->cfg->home_base) + strlen(p->username) + 2 > PERSON_HOME_MAX) {
		snprintf(err, sizeof(err), "home_base: too long for a home (at most %d bytes)", PERSON_HOME_MAX - 1);
		r = -ENAMETOOLONG;
	}
	FAULT(d->cfg, "before-files");
	conv_working(d->conv);
	if (r == 0 && !renewed(d, p, &out))
		return out;
	if (r == 0)
		r = commit(d, p, &a, &ld, &unsure, err, sizeof(err));
	if (r && unsure)	/* never "nothing was used up" when that is not known */
		return failed_as(d, p, "provision", _("The activation service is not available right now."), err);
	if (r)
		return r == -EHOSTDOWN ? unavailable(d, p, "provision", err) : failed(d, p, err);
	hook_invalidate_caches(d->cfg);
	r = hook_run(d->cfg, p->username, a.uid, a.home, p->id_number, HOOK_TIMEOUT_S);
	if (r)
		audit(d, LOG_WARNING, "hook", p, r == -ETIMEDOUT ? "timed out" : "failed");
	return DIALOGUE_ACTIVATED;
}

/* The PIN spent for a new password (or given back), and the audit row of it, in one transaction. */
/* A dialogue that ended at a prompt (cut off, timed out, or the person gave up): in the audit trail, with the step. */
static enum dialogue_outcome ended_at(struct dialogue *d, const struct person *p, const char *step)
{
	char why[64];

	snprintf(why, sizeof(why), "aborted or timed out at %s", step);
	audit(d, LOG_NOTICE, "conversation", p, why);
	return DIALOGUE_CONV_ERR;
}

/* No password after PASSWORD_TRIES refusals: said, and recorded. */
static enum dialogue_outcome no_password(struct dialogue *d, const struct person *p)
{
	audit(d, LOG_NOTICE, "password", p, "none chosen");
	conv_error(d->conv, _("No password was chosen. Nothing was used up: you can try again."));
	return DIALOGUE_DENIED;
}

static int spend_change(struct store *st, void *p)
{
	return store_person_spend_pin(st, p, true);
}

static int give_back_change(struct store *st, void *p)
{
	return store_person_spend_pin(st, p, false);
}

static int spend_pin(struct dialogue *d, struct person *p, bool spent)
{
	struct store_audit ev = event_of(d, "password", p, spent ? "new password" : "failed; the PIN is given back");

	return audit_change(d->st, spent ? LOG_NOTICE : LOG_ERR, &ev, spent ? spend_change : give_back_change, p);
}

static enum dialogue_outcome password_failed(struct dialogue *d, const struct person *p, const char *why)
{
	return failed_as(d, p, "password",
			 _("Your password could not be changed. Nothing was used up: you can try again."), why);
}

/*
 * The new hash in shadow. A failure after the file was replaced (the fsync
 * of its directory) has changed the password all the same, and the PIN
 * must not be given back for it: a second try finds the hash there
 * (-EALREADY), as it finishes one that failed before the change.
 */
static int set_password(struct dialogue *d, const struct person *p, const struct secrets *s, char *err,
			size_t errlen)
{
	int r = accounts_set_password(d->cfg, p->username, s->hash, err, errlen);

	if (r && r != -EALREADY)
		r = accounts_set_password(d->cfg, p->username, s->hash, err, errlen);
	return r == -EALREADY ? 0 : r;
}

/*
 * The PIN is spent before the file changes and given back if that fails:
 * cut short in between, the person needs a new PIN, and a PIN never
 * changes a password twice.
 */
static enum dialogue_outcome new_password(struct dialogue *d, struct person *p, struct secrets *s)
{
	char err[512] = "";
	struct logindefs ld;
	enum dialogue_outcome out;
	sigset_t old;
	bool given_back;
	int r = choose_password(d, p, s);

	if (r == -ECONNABORTED)
		return ended_at(d, p, "the new password");
	if (r)
		return no_password(d, p);
	r = logindefs_read(d->cfg->sysroot, &ld, err, sizeof(err));
	if (r == 0 && (r = password_hash(d->cfg, &ld, s->password, s->hash, sizeof(s->hash))) != 0)
		snprintf(err, sizeof(err), "password hash: method not available");
	if (r)
		return password_failed(d, p, err);
	conv_working(d->conv);
	if (!renewed(d, p, &out))
		return out;
	hold_signals(&old);
	r = spend_pin(d, p, true);
	if (r) {
		release_signals(&old);
		if (r != -ESTALE)	/* a spend whose commit failed may be in the log all the same */
			return failed_as(d, p, "password", _("The activation service is not available right now."),
					 "database: cannot spend the PIN");
		return password_failed(d, p, "database: the PIN is spent already, or changed");
	}
	r = set_password(d, p, s, err, sizeof(err));
	given_back = r != 0 && spend_pin(d, p, false) == 0;
	release_signals(&old);
	if (r && !given_back)	/* the PIN spent, or not known whether: never "nothing was used up" */
		return failed_as(d, p, "password", _("The activation service is not available right now."), err);
	if (r)
		return r == -EHOSTDOWN ? unavailable(d, p, "password", err) : password_failed(d, p, err);
	hook_invalidate_caches(d->cfg);
	return DIALOGUE_ACTIVATED;
}

static enum dialogue_outcome steps(struct dialogue *d, struct person *p, struct secrets *s)
{
	int r = p->state == PERSON_PENDING ? accept_terms(d, p, s) : 0;

	if (r == -ECONNABORTED)
		return ended_at(d, p, "the terms");
	if (r == -EPERM) {
		audit(d, LOG_NOTICE, "terms", p, "declined");
		conv_error(d->conv, _("You did not accept the terms of use, so nothing was changed."));
		return DIALOGUE_DENIED;
	}
	if (r)
		return failed(d, p, r == -EFBIG ? "terms_file is longer than 4096 bytes"
			      : r == -EINVAL ? "terms_file is not printable UTF-8" : "terms_file cannot be read");
	r = reserve(d, p);
	if (r == -EHOSTDOWN)
		return unavailable(d, p, "provision", "the directory did not answer (ldap_uri, ldap_timeout)");
	if (r)
		return failed(d, p, r == -EEXIST ? "username taken" : r == -ESTALE ? "the person changed meanwhile"
			      : "cannot reserve a username");
	FAULT(d->cfg, "reserved");
	if (!d->desk)
		conv_info(d->conv, _("Your username will be %s."), p->username);
	r = choose_password(d, p, s);
	if (r == -ECONNABORTED)
		return ended_at(d, p, "the password");
	if (r)
		return no_password(d, p);
	return create(d, p, s);
}

/* A rename of this person that was cut short is finished first (the files may carry either name). */
static int finish_rename(struct dialogue *d, struct person *p)
{
	struct store_audit ev = { .event = "rename", .service = d->service, .rhost = d->rhost, .tty = d->tty };
	char err[512];
	bool files;
	int r;

	if (!p->rename_to[0])
		return 0;
	r = rename_finish(d->cfg, d->st, p, true, &ev, &files, err, sizeof(err));
	if (r)
		audit(d, LOG_ERR, "rename", p, err);
	return r;
}

/* The person as they are now, under the lock: still one this dialogue may provision? If not, say why. */
static int still_eligible(struct dialogue *d, struct person *p)
{
	int r = reread(d, p);

	if (r == 0)
		r = finish_rename(d, p);
	if (r == -ESTALE)
		conv_error(d->conv, "%s", _("Your PIN code can no longer be used. Ask for a new one."));
	else if (r)	/* the database or the files failed: nothing else is in progress (the lock is ours) */
		conv_error(d->conv, "%s", _("The activation service is not available right now."));
	else if (p->state == PERSON_REVOKED)
		conv_error(d->conv, "%s", _("This account has been closed."));
	else if (p->state == PERSON_ACTIVE && p->pin_spent)
		conv_error(d->conv, _("Your account is already active, with the username %s. "
				      "If you have forgotten your password, ask for a new PIN code."), p->username);
	else
		return 0;
	if (d->cfg->support_contact[0])
		conv_info(d->conv, "%s", d->cfg->support_contact);
	return -1;
}

enum dialogue_outcome provision_run(struct dialogue *d, struct person *p)
{
	struct secrets *s;
	enum dialogue_outcome out;
	bool reset;
	struct lease lease;
	int r;

	FAULT(d->cfg, "verified");	/* decided, not yet locked: where two dialogues with one PIN race */
	r = lease_take(&lease, d->cfg, d->st, p->rowid, 0);
	if (r == -EBUSY)
		return in_progress(d);
	if (r) {
		char why[128];

		snprintf(why, sizeof(why), "cannot take the person's lock (run_dir, or the lease in the database): %s",
			 strerror(-r));
		return unavailable(d, p, "provision", why);
	}
	d->lease = &lease;
	/* decided before the lock: another dialogue may have finished with this PIN meanwhile */
	if (still_eligible(d, p) != 0) {
		out = DIALOGUE_DENIED;
		goto release;
	}
	s = secret_alloc(sizeof(*s));
	if (!s) {
		out = failed(d, p, "out of memory");
		goto release;
	}
	reset = p->state == PERSON_ACTIVE;
	out = reset && !d->desk ? new_password(d, p, s) : steps(d, p, s);
	if (out == DIALOGUE_ACTIVATED) {
		snprintf(d->username, sizeof(d->username), "%s", p->username);
		if (!d->desk)
			closing(d, p, s, reset);
	}
	secret_free(s);
release:
	d->lease = NULL;
	lease_release(&lease, d->st);
	return out;
}
