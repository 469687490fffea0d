/*
 * provision.c: from a verified, eligible person to an account.
 *
 * The order is what makes interruptions safe: the username is reserved in
 * the database (state provisioning) before any file changes; the files
 * change under the password-file lock; only then is the person active and
 * the PIN spent. A dialogue cut short anywhere is finished by the next one
 * with the same username, never repeated. A per-person lock under run_dir
 * keeps two dialogues for the same person from provisioning at once.
 *
 * An active person with a new PIN (a forgotten password) gets a new
 * password for the account they have, and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "logindefs.h"
#include "password.h"
#include "provision.h"
#include "secret.h"
#include "text.h"
#include "username.h"

#define TERMS_MAX 4096
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

static enum dialogue_outcome failed(struct dialogue *d, const struct person *p, const char *why)
{
	return failed_as(d, p, "provision",
			 _("Your account could not be created. Nothing was used up: you can try again."), why);
}

/* One dialogue a person provisions at a time; the lock dies with the helper. */
static int lock_person(const struct config *cfg, int64_t rowid)
{
	char path[CONFIG_PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/person-%lld.lock", cfg->run_dir, (long long)rowid);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -EBUSY;
	}
	return fd;
}

/* The terms, shown and accepted with "yes"; their hash is kept with the person. */
static int accept_terms(struct dialogue *d, struct person *p, struct secrets *s)
{
	unsigned char h[32];
	char text[TERMS_MAX + 1];
	size_t n;
	FILE *f;

	if (!d->cfg->terms_file[0])
		return 0;
	f = fopen(d->cfg->terms_file, "re");
	if (!f)
		return -EIO;
	n = fread(text, 1, TERMS_MAX, f);
	fclose(f);
	text[n] = '\0';
	conv_info(d->conv, "%s", text);
	if (conv_prompt(d->conv, true, _("Type yes to accept the terms of use: "), s->reply,
			sizeof(s->reply)) != 0)
		return -ECONNABORTED;
	if (strcmp(text_trim(s->reply), "yes") != 0 && strcmp(text_trim(s->reply), _("yes")) != 0)
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
};

static bool taken(const char *name, void *ctx)
{
	struct taken_ctx *t = ctx;
	struct person other;

	if (username_reserved(t->d->cfg, name) || accounts_names_has(t->names, name))
		return true;
	return store_person_by_username(t->d->st, name, &other) != -ENOENT && other.rowid != t->self;
}

/*
 * Reserve a username in the database: the roster's, or a free one from the
 * name. Picked inside the write transaction, so that concurrent dialogues
 * cannot pick the same one.
 */
static int pick_and_reserve(struct dialogue *d, struct person *p, bool roster)
{
	struct taken_ctx t = { d, p->rowid, NULL };
	char base[PERSON_USERNAME_MAX];
	int r;

	if (roster)
		return accounts_name_taken(d->cfg, p->username) ? -EEXIST : store_person_reserve(d->st, p);
	t.names = accounts_names_load(d->cfg);
	if (!t.names)
		return -ENOMEM;
	username_base(d->cfg, p, base, sizeof(base));
	r = username_pick(d->cfg, base, taken, &t, p->username, sizeof(p->username));
	accounts_names_free(t.names);
	return r ? -ENOSPC : store_person_reserve(d->st, p);
}

static int reserve(struct dialogue *d, struct person *p)
{
	bool roster = p->username[0] != '\0';
	int r;

	if (p->state == PERSON_PROVISIONING)
		return 0;	/* reserved by an attempt that was cut short: finish it */
	r = store_begin(d->st);
	if (r == 0)
		r = pick_and_reserve(d, p, roster);
	if (r == 0)
		r = store_commit(d->st);
	if (r)
		store_rollback(d->st);
	return r;
}

static void show_suggestions(struct dialogue *d, struct secrets *s, unsigned n)
{
	char line[CONV_REPLY_MAX], *at = line;

	at += snprintf(line, sizeof(line), "%s", _("Choose a password. Suggestions:"));
	for (unsigned i = 0; i < n; i++)
		at += snprintf(at, sizeof(line) - (size_t)(at - line), "\n  %u  %s", i + 1, s->suggestion[i]);
	conv_info(d->conv, "%s", line);
	sodium_memzero(line, sizeof(line));
}

/* A suggestion by its number, or a password of the person's own, asked twice. */
static int take_password(struct dialogue *d, const struct person *p, struct secrets *s, unsigned n)
{
	char reason[256];
	const char *v = text_trim(s->reply);

	if (n && strlen(v) == 1 && v[0] >= '1' && v[0] < (char)('1' + n)) {
		memcpy(s->password, s->suggestion[v[0] - '1'], PASSWORD_MAX);
		return 0;
	}
	if (strlen(s->reply) >= sizeof(s->password) ||
	    password_check(d->cfg, s->reply, p->username, p, reason, sizeof(reason)) != 0) {
		conv_error(d->conv, _("That password cannot be used: %s."), reason);
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

static int choose_password(struct dialogue *d, const struct person *p, struct secrets *s)
{
	unsigned n = d->cfg->suggestions;
	int r = -EAGAIN;

	if (n && password_suggest(s->suggestion, n) != 0)
		n = 0;
	for (int tries = 0; tries < PASSWORD_TRIES && r == -EAGAIN; tries++) {
		if (n)
			show_suggestions(d, s, n);
		if (conv_prompt(d->conv, false, n ? _("Type the number of a suggestion, or a password of your own: ")
				: _("New password: "), s->reply, sizeof(s->reply)) != 0)
			return -ECONNABORTED;
		r = take_password(d, p, s, n);
	}
	return r;
}

static void closing(struct dialogue *d, const struct person *p, struct secrets *s, bool reset)
{
	char address[PERSON_EMAIL_MAX + 64] = "", email[PERSON_EMAIL_MAX + 128] = "";
	char host[HOST_NAME_MAX + 1] = "", prompt[CONV_REPLY_MAX];
	const char *fmt = d->cfg->email_format;

	if (p->email[0])
		snprintf(address, sizeof(address), "%s", p->email);
	else if (fmt[0] && strstr(fmt, "%u"))
		snprintf(address, sizeof(address), "%.*s%s%s", (int)(strstr(fmt, "%u") - fmt), fmt,
			 p->username, strstr(fmt, "%u") + 2);
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
	snprintf(prompt, sizeof(prompt), _("Your username is %s. Type it and press Enter to finish: "),
		 p->username);
	conv_prompt(d->conv, true, prompt, s->reply, sizeof(s->reply));
}

static enum dialogue_outcome create(struct dialogue *d, struct person *p, struct secrets *s)
{
	char gecos[2 * PERSON_NAME_MAX + 2], err[512];
	struct account a = { .name = p->username, .gecos = gecos, .hash = s->hash };
	struct logindefs ld;
	int r;

	snprintf(gecos, sizeof(gecos), "%s%s%s", p->given_name, p->given_name[0] ? " " : "", p->family_name);
	for (char *c = gecos; *c; c++)
		if (*c == ',' || *c == ':')
			*c = ' ';
	r = logindefs_read(d->cfg->sysroot, &ld, err, sizeof(err));
	if (r == 0 && (r = password_hash(d->cfg, &ld, s->password, s->hash, sizeof(s->hash))) != 0)
		snprintf(err, sizeof(err), "password hash: method not available");
	FAULT(d->cfg, "before-files");
	if (r == 0)
		r = accounts_provision(d->cfg, &ld, &a, err, sizeof(err));
	if (r)
		return failed(d, p, err);
	FAULT(d->cfg, "after-files");
	r = store_begin(d->st);
	if (r == 0)
		r = store_person_activate(d->st, p->rowid, a.uid);
	if (r == 0)
		r = store_commit(d->st);
	if (r) {
		store_rollback(d->st);
		/* revoked while this dialogue ran, most likely: the account it just made must not work */
		if (accounts_set_locked(d->cfg, p->username, true, err, sizeof(err)) != 0)
			audit(d, LOG_ERR, "provision", p, "cannot lock the account made for a person no longer activating");
		return failed(d, p, "database: cannot mark active (revoked meanwhile?); the account is locked");
	}
	p->uid = a.uid;
	audit(d, LOG_NOTICE, "activated", p, "ok");
	hook_invalidate_caches(d->cfg);
	r = hook_run(d->cfg, p->username, a.uid, a.home, p->id_number, HOOK_TIMEOUT_S);
	if (r)
		audit(d, LOG_WARNING, "hook", p, r == -ETIMEDOUT ? "timed out" : "failed");
	return DIALOGUE_ACTIVATED;
}

static int spend_pin(struct dialogue *d, const struct person *p, bool spent)
{
	int r = store_begin(d->st);

	if (r == 0)
		r = store_person_spend_pin(d->st, p, spent);
	if (r == 0)
		r = store_commit(d->st);
	if (r)
		store_rollback(d->st);
	return r;
}

static enum dialogue_outcome password_failed(struct dialogue *d, const struct person *p, const char *why)
{
	return failed_as(d, p, "password",
			 _("Your password could not be changed. Nothing was used up: you can try again."), why);
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
	int r = choose_password(d, p, s);

	if (r == -ECONNABORTED)
		return DIALOGUE_CONV_ERR;
	if (r) {
		conv_error(d->conv, _("No password was chosen. Nothing was used up: you can try again."));
		return DIALOGUE_DENIED;
	}
	r = logindefs_read(d->cfg->sysroot, &ld, err, sizeof(err));
	if (r == 0 && (r = password_hash(d->cfg, &ld, s->password, s->hash, sizeof(s->hash))) != 0)
		snprintf(err, sizeof(err), "password hash: method not available");
	if (r)
		return password_failed(d, p, err);
	if (spend_pin(d, p, true) != 0)
		return password_failed(d, p, "database: cannot spend the PIN");
	r = accounts_set_password(d->cfg, p->username, s->hash, err, sizeof(err));
	if (r) {
		spend_pin(d, p, false);
		return password_failed(d, p, err);
	}
	audit(d, LOG_NOTICE, "password", p, "new password");
	hook_invalidate_caches(d->cfg);
	return DIALOGUE_ACTIVATED;
}

static enum dialogue_outcome steps(struct dialogue *d, struct person *p, struct secrets *s)
{
	int r = p->state == PERSON_PENDING ? accept_terms(d, p, s) : 0;

	if (r == -ECONNABORTED)
		return DIALOGUE_CONV_ERR;
	if (r == -EPERM) {
		conv_error(d->conv, _("You did not accept the terms of use, so nothing was changed."));
		return DIALOGUE_DENIED;
	}
	if (r)
		return failed(d, p, "terms_file cannot be read");
	r = reserve(d, p);
	if (r)
		return failed(d, p, r == -EEXIST ? "username taken" : "cannot reserve a username");
	FAULT(d->cfg, "reserved");
	conv_info(d->conv, _("Your username will be %s."), p->username);
	r = choose_password(d, p, s);
	if (r == -ECONNABORTED)
		return DIALOGUE_CONV_ERR;
	if (r) {
		conv_error(d->conv, _("No password was chosen. Nothing was used up: you can try again."));
		return DIALOGUE_DENIED;
	}
	return create(d, p, s);
}

enum dialogue_outcome provision_run(struct dialogue *d, struct person *p)
{
	struct secrets *s;
	enum dialogue_outcome out;
	bool reset;
	int lock = lock_person(d->cfg, p->rowid);

	if (lock == -EBUSY) {
		conv_error(d->conv, _("An activation of your account is already in progress."));
		return DIALOGUE_DENIED;
	}
	if (lock < 0)
		return failed(d, p, "run_dir: cannot lock");
	s = secret_alloc(sizeof(*s));
	if (!s) {
		close(lock);
		return failed(d, p, "out of memory");
	}
	reset = p->state == PERSON_ACTIVE;
	out = reset ? new_password(d, p, s) : steps(d, p, s);
	if (out == DIALOGUE_ACTIVATED) {
		snprintf(d->username, sizeof(d->username), "%s", p->username);
		closing(d, p, s, reset);
	}
	secret_free(s);
	close(lock);
	return out;
}
