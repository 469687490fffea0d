/*
 * ctl_issue.c: activatectl issue, the only place a PIN is ever visible.
 *
 * New PINs are hashed on every core, written in one transaction (the old
 * PIN stops working at commit), and only then printed: a printed PIN is
 * always one that works. With --output the file is created 0600, never over
 * an existing one. With --mail each person's PIN goes by e-mail instead
 * (ctl_letter.c) and is put in force only once the MTA accepted the letter.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl.h"
#include "ctl_letter.h"
#include "import.h"
#include "roster.h"
#include "secret.h"

/* A person for whom --pending issues a PIN: pending and no usable one. */
static bool needs_pin(const struct person *p, const struct config *cfg, time_t now)
{
	unsigned m = person_problems(p, cfg, now);

	return p->state == PERSON_PENDING && (m & (PERSON_NO_PIN | PERSON_PIN_EXPIRED | PERSON_PIN_SPENT));
}

static int add_row(struct roster *r, const struct person *p, const struct config *cfg)
{
	struct roster_row *row;

	if (roster_append(r, p, &row) != 0)
		return -ENOMEM;
	row->hash_pin = true;
	return secret_random_pin(cfg->pin_length, row->pin, SECRET_PIN_MAX);
}

struct pending {
	const struct config *cfg;
	struct roster *roster;
	time_t now;
};

static int add_pending(const struct person *p, void *ctx)
{
	struct pending *pd = ctx;

	return needs_pin(p, pd->cfg, pd->now) ? add_row(pd->roster, p, pd->cfg) : 0;
}

static int add_key(struct ctl *c, struct roster *r, const char *key)
{
	struct person p;

	if (ctl_find(c, key, &p) != 0)
		return -1;
	for (size_t i = 0; i < r->count; i++)
		if (r->rows[i].person.rowid == p.rowid) {
			/* two keys for one person would print two PINs, and only the last would work */
			fprintf(stderr, "activatectl: %s: the same person as %s; one PIN\n", key,
				r->rows[i].person.id_number);
			return 0;
		}
	if (p.state == PERSON_REVOKED) {
		ctl_error("%s: revoked; restore the person first", key);
		return -1;
	}
	if (p.state == PERSON_ACTIVE)
		fprintf(stderr, "activatectl: %s is active as %s: the new PIN sets a new password\n", key,
			p.username);
	return add_row(r, &p, &c->cfg);
}

/* One PIN, decided on the row as it is inside the transaction: never for a person revoked meanwhile. */
static int write_pin(struct store *st, struct person *p, int64_t expires)
{
	struct person now;
	int r = store_person_by_id_number(st, p->id_number, &now);

	if (r == 0 && now.state == PERSON_REVOKED)
		r = -ESTALE;
	return r ? r : store_person_set_pin(st, &now, p->pin_hash, expires);
}

struct pins {
	struct roster *r;
	struct person *one;	/* or just this person */
	int64_t expires;
};

static int pins_change(struct store *st, void *ctx)
{
	const struct pins *w = ctx;
	int r = 0;

	if (w->one)
		return write_pin(st, w->one, w->expires);
	for (size_t i = 0; r == 0 && i < w->r->count; i++)
		r = write_pin(st, &w->r->rows[i].person, w->expires);
	return r;
}

static int write_pins(struct ctl *c, struct roster *r)
{
	struct pins w = { r, NULL, (int64_t)time(NULL) + (int64_t)c->cfg.pin_ttl_days * 86400 };
	int ret = store_transaction(c->st, pins_change, &w);

	if (ret)
		ctl_error("writing the new PINs: %s; nothing was changed",
			  ret == -ESTALE ? "a person was revoked meanwhile; run it again" : store_errmsg(c->st));
	return ret;
}

/* Quote every cell, and defuse the first characters a spreadsheet runs as a formula. */
static void put_cell(FILE *f, const char *text, const char *sep)
{
	fputc('"', f);
	if (strchr("=+-@\t\r", text[0]) && text[0])
		fputc('\'', f);
	for (; *text; text++) {
		if (*text == '"')
			fputc('"', f);
		fputc(*text, f);
	}
	fputc('"', f);
	fputs(sep, f);
}

static int print_pins(FILE *f, const struct roster *r)
{
	fputs("id_number,student_number,given_name,family_name,pin\n", f);
	for (size_t i = 0; i < r->count; i++) {
		const struct person *p = &r->rows[i].person;

		put_cell(f, p->id_number, ",");
		put_cell(f, p->student_number, ",");
		put_cell(f, p->given_name, ",");
		put_cell(f, p->family_name, ",");
		put_cell(f, r->rows[i].pin, "\n");
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

static FILE *open_output(const char *path)
{
	int fd;
	FILE *f;

	if (!path)
		return stdout;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ctl_error("%s: %s%s", path, strerror(errno), errno == EEXIST ? " (never overwritten)" : "");
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static int collect(struct ctl *c, int argc, char **argv, bool pending, struct roster *r)
{
	struct pending pd = { &c->cfg, r, time(NULL) };

	r->has_pin = true;
	if (ctl_open_store(c) != 0)
		return -1;
	if (pending)
		return store_person_foreach(c->st, PERSON_PENDING, add_pending, &pd);
	for (int i = optind; i < argc; i++)
		if (add_key(c, r, argv[i]) != 0)
			return -1;
	return 0;
}

/* A row a person the help desk named; one row for a whole --pending batch. */
static void audit_issue(struct ctl *c, const struct roster *r, bool pending)
{
	char result[64];

	if (pending) {
		snprintf(result, sizeof(result), "%zu new PINs (--pending)", r->count);
		ctl_audit(c, "issue", NULL, result);
		return;
	}
	for (size_t i = 0; i < r->count; i++)
		ctl_audit(c, "issue", &r->rows[i].person, "new PIN");
}

static int issue(struct ctl *c, struct roster *r, const char *output, bool pending)
{
	struct import_opts opts = { .workers = 0 };
	FILE *f;

	if (r->count == 0) {
		fprintf(stderr, "activatectl: nobody needs a PIN\n");
		return CTL_OK;
	}
	if (ctl_load_pepper(c) != 0 || (f = open_output(output)) == NULL)
		return CTL_FAIL;
	if (import_hash_pins(r, c->pepper, c->cfg.pin_hash_cost, r->count, &opts) != 0 ||
	    write_pins(c, r) != 0) {
		if (output) {
			fclose(f);
			unlink(output);
		}
		return CTL_FAIL;
	}
	audit_issue(c, r, pending);
	if (print_pins(f, r) != 0 || (output && (fsync(fileno(f)) != 0 || fclose(f) != 0))) {
		ctl_error("the new PINs are in force but could not all be written out: issue them again");
		return CTL_FAIL;
	}
	fprintf(stderr, "activatectl: %zu PIN%s issued, valid %u days\n", r->count,
		r->count == 1 ? "" : "s", c->cfg.pin_ttl_days);
	return CTL_OK;
}

#define MAIL_LANGUAGES 8

struct mailing {
	struct ctl *c;
	struct letter letter[MAIL_LANGUAGES];
	char language[MAIL_LANGUAGES][PERSON_LANGUAGE_MAX + CONFIG_TEXT_MAX];
	size_t nletters;
	char *buf;		/* the letter being sent: it carries the PIN */
	int mbox;		/* --dry-run: the letters go here; -1 */
	int64_t expires;
	size_t sent, failed;
};

static const struct letter *letter_for(struct mailing *m, const char *language, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->nletters; i++)
		if (strcmp(m->language[i], language) == 0)
			return &m->letter[i];
	if (m->nletters == MAIL_LANGUAGES) {
		snprintf(err, errlen, "more than %d languages in one run", MAIL_LANGUAGES);
		return NULL;
	}
	if (letter_load(m->c->cfg.pin_letter, language, &m->letter[m->nletters], err, errlen) != 0)
		return NULL;
	snprintf(m->language[m->nletters], sizeof(m->language[0]), "%s", language);
	return &m->letter[m->nletters++];
}

/* The PIN in force for this person alone, once the MTA has the letter. */
static int put_in_force(struct mailing *m, struct person *p)
{
	struct pins w = { NULL, p, m->expires };

	return store_transaction(m->c->st, pins_change, &w);
}

static void not_sent(struct mailing *m, const struct person *p, const char *why)
{
	printf("not sent: ID number %s: %s; no PIN issued\n", p->id_number, why);
	m->failed++;
}

static void deliver(struct mailing *m, const struct letter *t, struct roster_row *row)
{
	struct person *p = &row->person;
	const char *sendmail = m->c->cfg.sendmail;
	char why[CONFIG_PATH_MAX + 64];
	size_t len = 0;
	int status, r = letter_compose(t, m->c->cfg.mail_from, p, row->pin, (time_t)m->expires, m->buf, LETTER_MAX, &len);

	if (r) {
		not_sent(m, p, "the letter is longer than 64 KiB, or the address is not usable");
		goto out;
	}
	if (m->mbox >= 0) {
		if ((r = letter_mbox_append(m->mbox, m->buf, len)) != 0)
			not_sent(m, p, "the mbox cannot be written");
		goto out;
	}
	if ((r = letter_send(sendmail, m->buf, len, &status)) != 0) {
		if (status != -1 && WIFEXITED(status))
			snprintf(why, sizeof(why), "%s exited %d", sendmail, WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why), "%s: %s", sendmail, strerror(-r));
		not_sent(m, p, why);
		goto out;
	}
	if ((r = put_in_force(m, p)) != 0) {
		printf("sent, but not in force: ID number %s (revoked meanwhile?): issue a new PIN\n", p->id_number);
		m->failed++;
		goto out;
	}
	ctl_audit(m->c, "issue", p, "new PIN by e-mail");
out:
	m->sent += r == 0;
	sodium_memzero(m->buf, LETTER_MAX);
}

static void mail_one(struct mailing *m, struct roster_row *row)
{
	const char *language = row->person.language[0] ? row->person.language : m->c->cfg.mail_language;
	char err[CONFIG_ERROR_MAX + 4300];
	const struct letter *t;

	if (!row->person.email[0])
		return;	/* listed already */
	t = letter_for(m, language, err, sizeof(err));
	if (!t)
		not_sent(m, &row->person, err);
	else
		deliver(m, t, row);
}

/* People without an address get no PIN: listed, and left out of the hashing. */
static size_t drop_unaddressed(struct roster *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->count; i++) {
		struct roster_row *row = &r->rows[i];

		if (row->person.email[0]) {
			n++;
			continue;
		}
		row->hash_pin = false;
		printf("no e-mail address: ID number %s (%s %s): no PIN issued\n", row->person.id_number,
		       row->person.given_name, row->person.family_name);
	}
	return n;
}

static int open_mbox(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		ctl_error("%s: %s%s", path, strerror(errno), errno == EEXIST ? " (never overwritten)" : "");
	return fd;
}

static int issue_by_mail(struct ctl *c, struct roster *r, const char *mbox_path)
{
	struct import_opts opts = { .workers = 0 };
	struct mailing m = { .c = c, .mbox = -1, .expires = (int64_t)time(NULL) + (int64_t)c->cfg.pin_ttl_days * 86400 };
	size_t addressed = drop_unaddressed(r);
	int rc = CTL_FAIL;

	if (ctl_load_pepper(c) != 0 || !(m.buf = secret_alloc(LETTER_MAX)))
		return CTL_FAIL;
	if (mbox_path && (m.mbox = open_mbox(mbox_path)) < 0)
		goto out;
	if (!mbox_path && import_hash_pins(r, c->pepper, c->cfg.pin_hash_cost, addressed, &opts) != 0) {
		ctl_error("hashing the new PINs failed; nothing was sent");
		goto out;
	}
	for (size_t i = 0; i < r->count; i++)
		mail_one(&m, &r->rows[i]);
	if (mbox_path)
		printf("dry run: %zu letters in %s, nothing sent and no PIN issued (the PINs in it do not work)\n",
		       m.sent, mbox_path);
	else
		printf("%zu letters sent, %zu without an e-mail address, %zu not sent\n", m.sent,
		       r->count - addressed, m.failed);
	rc = m.failed ? CTL_FAIL : CTL_OK;
out:
	if (m.mbox >= 0 && (fsync(m.mbox) != 0 || close(m.mbox) != 0))
		rc = CTL_FAIL;
	for (size_t i = 0; i < m.nletters; i++)
		letter_free(&m.letter[i]);
	secret_free(m.buf);
	return rc;
}

int ctl_cmd_issue(struct ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "pending", no_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "mail", no_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	bool pending = false, mail = false, dry = false;
	struct roster r = { .rows = NULL };
	int o, rc = CTL_FAIL;

	while ((o = getopt_long(argc, argv, "po:mn", options, NULL)) != -1) {
		if (o == 'p')
			pending = true;
		else if (o == 'o')
			output = optarg;
		else if (o == 'm')
			mail = true;
		else if (o == 'n')
			dry = true;
		else
			return ctl_usage("issue");
	}
	/* --mail: the letters go out, or with --dry-run into the mbox --output names */
	if (pending == (optind < argc) || (dry && !mail) || (mail && (dry != (output != NULL))))
		return ctl_usage("issue");
	if (collect(c, argc, argv, pending, &r) == 0)
		rc = mail && r.count ? issue_by_mail(c, &r, output) : issue(c, &r, output, pending);
	roster_free(&r);
	return rc;
}
