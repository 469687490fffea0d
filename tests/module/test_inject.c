/*
 * test_inject.c: error injection into the real activate-helper. Whole
 * dialogues run through the real pam_activate.so (pam_wrapper, a scripted
 * conversation that answers by the prompt) on a sandbox database and
 * sysroot, the helper under tests/module/failinject.so (its header says
 * what fails, and how N is counted). The module gives the helper a clean
 * environment, so the service's helper= is a wrapper script that puts
 * FAILINJECT and LD_PRELOAD back for the helper alone, and records how it
 * ended: nothing of pam_wrapper's process is counted or failed.
 *
 * The scenarios: a full activation (terms, a username past a local user's
 * and a reserved one, a suggested password, the home); a wrong PIN twice;
 * a wrong PIN, then the right one; a new password with a new PIN. For each
 * scenario and class of calls (file, sqlite, crypt: every call, the wrong-
 * then-right file calls every other one; mem: about 50 calls spread over
 * the run), call N fails for N = 1, 2, ... until a run has no call N; then
 * about 20 points where every call of file, or of sqlite, from N on fails
 * (a disk that stays broken); then 240 random runs (fixed seeds, p 0.01 to
 * 0.05 for file, sqlite and crypt, a 40th of it for mem). After every run
 * where a failure fired, the same person tries again with nothing failing.
 *
 * After each run: PAM_SUCCESS only with the job done (the account
 * complete, the person active, the PIN spent, the chosen password in
 * shadow); never a PIN spent or a person active without a complete
 * account; an entry of the person in the files only under a recorded
 * intent with its ids, in a prefix of the commit order; the username the
 * one the pick gives with nothing failing, never someone else's or a
 * reserved one; every other line of the account files byte for byte;
 * pwck and grpck clean but for the person's own entries of such a partial
 * state; nothing in etc or home the next run does not clear or ignore; no
 * crash; the person told of every failure, and nothing untrue (every
 * message is classified and checked against the database and the files as
 * they were before and are after: "Nothing was used up" with the PIN spent
 * is a lie, so are "do not match" for the right details and "already in
 * progress" with nothing in progress). After the retry: the job finished,
 * or "already active" when the failed run had finished it; everything
 * clean; the audit chain intact with one "activated" event.
 *
 * Environment: top_builddir (as make check sets it); INJECT_ONLY="SCENARIO
 * CONTROL" one point, told in full (CONTROL as failinject.c reads it, e.g.
 * "activation nth 17 file"); INJECT_SCENARIOS, INJECT_CLASSES: only these
 * (comma-separated); INJECT_RANDOM=K random runs; INJECT_MEM_POINTS=K;
 * VERBOSE=1 every point; KEEP=1 keeps the sandbox (in /dev/shm, or
 * INJECT_TMPDIR). Needs root, pwck, grpck and pam_wrapper.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <crypt.h>
#include <security/pam_appl.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "store.h"

#define ID "1001"
#define SN "5001"
#define PIN "11111111"
#define WRONG_PIN "99999999"
/*
 * Ola Nordmann's name would be olanordm, a local user has it, and olanord2
 * is reserved: a failure that makes the pick miss either hands out a name
 * that is not free, or one other than the person gets with nothing failing.
 */
#define USER "olanord3"
#define LOCAL_USER "olanordm"
#define RESERVED "olanord2"
#define OWN_PASSWORD "Quiet-Harbour-Violet-47"
#define MAX_TRIES 2

static const char *const clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

static char tmp[PATH_MAX], build[PATH_MAX], work[PATH_MAX + 8], fidir[PATH_MAX + 8];
static char reset_pin[32];
static bool verbose;

/* --- small things --------------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *f, ...)
{
	va_list ap;

	fputs("FAIL: ", stdout);
	va_start(ap, f);
	vprintf(f, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

static char *__attribute__((format(printf, 1, 2))) fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	if (n < 0)
		die("out of memory");
	return s;
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t cap = 0, len = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(data, cap = (cap + 4096) * 2);

			if (!p)
				die("out of memory");
			data = p;
		}
		size_t n = fread(data + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	data[len] = '\0';
	return data;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
	if (chmod(path, mode) != 0)
		die("chmod %s: %s", path, strerror(errno));
}

/* sh -c CMD with a plain environment: no pam_wrapper in cp, pwck or activatectl. */
static int sh(const char *cmd)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	pid_t pid;
	int status;

	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, (char *const *)clean_env) != 0)
		die("cannot start /bin/sh");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void sh_or_die(const char *cmd)
{
	if (sh(cmd) != 0)
		die("%s", cmd);
}

/* --- problems of one point --------------------------------------------------- */

struct problems {
	char *text;
	size_t n;
};

static void __attribute__((format(printf, 2, 3))) bad(struct problems *p, const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		die("out of memory");
	va_end(ap);
	if (p->n < 12) {	/* the first few say enough */
		char *joined = fmt("%s%s%s", p->text ? p->text : "", p->text ? "; " : "", s);

		free(p->text);
		p->text = joined;
	}
	p->n++;
	free(s);
}

/* --- the conversation ------------------------------------------------------- */

enum kind { K_INFO, K_ERROR, K_PROMPT, K_SECRET };

struct msg {
	enum kind kind;
	char *text;
};

struct dialogue {
	const char *pins[MAX_TRIES];	/* the PIN typed at each PIN prompt */
	unsigned pin_prompts, wrong_typed;
	struct msg *msgs;
	size_t nmsgs;
	char chosen[256];		/* the password the person chose */
	char suggestion[256];		/* suggestion 1 as last shown */
	bool unexpected;
};

static void keep(struct dialogue *d, enum kind k, const char *text)
{
	struct msg *m = realloc(d->msgs, (d->nmsgs + 1) * sizeof(*m));

	if (!m)
		die("out of memory");
	d->msgs = m;
	m[d->nmsgs].kind = k;
	m[d->nmsgs].text = strdup(text ? text : "(null)");
	d->nmsgs++;
}

static void forget(struct dialogue *d)
{
	for (size_t i = 0; i < d->nmsgs; i++)
		free(d->msgs[i].text);
	free(d->msgs);
	d->msgs = NULL;
	d->nmsgs = 0;
}

/* Suggestion 1 of "Choose a password. Suggestions:\n  1  WORDS\n  2 ...". */
static void note_suggestion(struct dialogue *d, const char *text)
{
	const char *at = strstr(text, "\n  1  ");
	size_t n;

	if (!strstr(text, "Choose a password. Suggestions:") || !at)
		return;
	at += 6;
	n = strcspn(at, "\n");
	snprintf(d->suggestion, sizeof(d->suggestion), "%.*s", (int)n, at);
}

/* The person's answer to a prompt, by its text, as kill-every-syscall's expect script answers. */
static const char *answer(struct dialogue *d, const char *prompt, char *buf, size_t size)
{
	if (!strcmp(prompt, "ID number: "))
		return ID;
	if (!strcmp(prompt, "Student number: "))
		return SN;
	if (!strcmp(prompt, "PIN code: ")) {
		const char *pin = d->pins[d->pin_prompts < MAX_TRIES ? d->pin_prompts : MAX_TRIES - 1];

		d->pin_prompts++;
		d->wrong_typed += !strcmp(pin, WRONG_PIN);
		return pin;
	}
	if (!strcmp(prompt, "Type yes to accept the terms of use: "))
		return "yes";
	if (!strcmp(prompt, "Type the number of a suggestion, or a password of your own: ")) {
		snprintf(d->chosen, sizeof(d->chosen), "%s", d->suggestion);
		return "1";
	}
	if (!strcmp(prompt, "New password: ") || !strcmp(prompt, "Repeat the password: ")) {
		snprintf(d->chosen, sizeof(d->chosen), "%s", OWN_PASSWORD);
		return OWN_PASSWORD;
	}
	if (!strncmp(prompt, "Your username is ", 17)) {
		snprintf(buf, size, "%.*s", (int)strcspn(prompt + 17, "."), prompt + 17);
		return buf;
	}
	if (!strcmp(prompt, "Press Enter to close: "))
		return "";
	d->unexpected = true;
	return NULL;
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct dialogue *d = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));
	char buf[128];

	if (!out)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *text = msg[i]->msg ? msg[i]->msg : "";
		const char *a;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_ON:
		case PAM_PROMPT_ECHO_OFF:
			keep(d, msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? K_PROMPT : K_SECRET, text);
			a = answer(d, text, buf, sizeof(buf));
			if (!a) {
				for (int j = 0; j < i; j++)
					free(out[j].resp);
				free(out);
				return PAM_CONV_ERR;
			}
			out[i].resp = strdup(a);
			break;
		case PAM_ERROR_MSG:
			keep(d, K_ERROR, text);
			break;
		default:
			keep(d, K_INFO, text);
			note_suggestion(d, text);
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

static int run_pam(struct dialogue *d)
{
	struct pam_conv c = { conv, d };
	pam_handle_t *ph = NULL;
	int rc = PAM_SYSTEM_ERR;

	for (int i = 0; i < 20 && rc != PAM_SUCCESS; i++) {	/* pam_wrapper's set-up can collide with a stale one */
		rc = pam_start("inject", "activate", &c, &ph);
		if (rc != PAM_SUCCESS)
			usleep(20000);
	}
	if (rc != PAM_SUCCESS)
		die("pam_start: %d", rc);
	rc = pam_authenticate(ph, 0);
	pam_end(ph, rc);
	return rc;
}

static bool said(const struct dialogue *d, const char *needle)
{
	for (size_t i = 0; i < d->nmsgs; i++)
		if (strstr(d->msgs[i].text, needle))
			return true;
	return false;
}

static void print_transcript(const char *title, const struct dialogue *d, int rc)
{
	static const char *const tags[] = { "info", "error", "prompt", "secret" };

	printf("    %s (PAM %d):\n", title, rc);
	for (size_t i = 0; i < d->nmsgs; i++) {
		char *nl, *t = strdup(d->msgs[i].text);

		while ((nl = strchr(t, '\n')) != NULL)
			*nl = '|';
		printf("      [%s] %s\n", tags[d->msgs[i].kind], t);
		free(t);
	}
}

/* --- what the helper and failinject say about a run ---------------------------- */

#define MAX_FIRED 64

struct fired {
	char name[32];
	char where[96];
};

struct run_report {
	struct fired fired[MAX_FIRED];
	size_t nfired, total_fired;
	unsigned starts;
	bool ended;		/* failinject's destructor ran: main returned or exit() */
	int status;		/* the helper's exit status, as its wrapper saw it; -1 unknown */
	char *calls;		/* "calls NAME K" lines of a count run */
};

static void read_report(struct run_report *rr)
{
	char *path = fmt("%s/report", fidir), *text = slurp(path), *line, *save = NULL, *st;

	free(path);
	memset(rr, 0, sizeof(*rr));
	rr->status = -1;
	path = fmt("%s/status", fidir);
	st = slurp(path);
	free(path);
	if (st)
		rr->status = atoi(st);
	free(st);
	if (!text)
		return;
	rr->calls = strdup("");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[32], where[96];

		if (!strncmp(line, "start ", 6))
			rr->starts++;
		else if (!strcmp(line, "end"))
			rr->ended = true;
		else if (!strncmp(line, "fired ", 6))
			rr->total_fired = strtoul(line + 6, NULL, 10);
		else if (sscanf(line, "fail %31s %*u %*u %95s", name, where) == 2) {
			if (rr->nfired < MAX_FIRED) {
				snprintf(rr->fired[rr->nfired].name, sizeof(rr->fired[0].name), "%s", name);
				snprintf(rr->fired[rr->nfired].where, sizeof(rr->fired[0].where), "%s", where);
				rr->nfired++;
			}
			rr->total_fired++;
		} else if (!strncmp(line, "calls ", 6)) {
			char *more = fmt("%s%s\n", rr->calls, line + 6);

			free(rr->calls);
			rr->calls = more;
		}
	}
	free(text);
}

static void set_control(const char *line)
{
	char *path = fmt("%s/control", fidir);

	put_file(path, line, 0600);
	free(path);
	path = fmt("%s/report", fidir);
	unlink(path);
	free(path);
	path = fmt("%s/status", fidir);
	unlink(path);
	free(path);
}

/* --- the world after a run: the database and the sysroot ---------------------------- */

struct row {
	int state;		/* 0 pending, 1 provisioning, 2 active, 3 revoked; -1 no row */
	long long spent, uid, gid, failures, locked_until;
	char username[64], pin_hash[160];
	int people;
	bool db_ok;
};

static void read_row(struct row *r)
{
	char *path = fmt("%s/db/activate.db", work);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	memset(r, 0, sizeof(*r));
	r->state = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die("cannot open %s", path);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "SELECT state, pin_spent, ifnull(username, ''), ifnull(uid, -1), ifnull(gid, -1), "
			       "failures, locked_until, ifnull(pin_hash, ''), (SELECT count(*) FROM person) "
			       "FROM person WHERE id_number = '" ID "'", -1, &s, NULL) != SQLITE_OK)
		die("query: %s", sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW) {
		r->state = sqlite3_column_int(s, 0);
		r->spent = sqlite3_column_int64(s, 1);
		snprintf(r->username, sizeof(r->username), "%s", (const char *)sqlite3_column_text(s, 2));
		r->uid = sqlite3_column_int64(s, 3);
		r->gid = sqlite3_column_int64(s, 4);
		r->failures = sqlite3_column_int64(s, 5);
		r->locked_until = sqlite3_column_int64(s, 6);
		snprintf(r->pin_hash, sizeof(r->pin_hash), "%s", (const char *)sqlite3_column_text(s, 7));
		r->people = sqlite3_column_int(s, 8);
	}
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		r->db_ok = !strcmp((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
}

static long long db_count(const char *query)
{
	char *path = fmt("%s/db/activate.db", work);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die("cannot open %s", path);
	if (sqlite3_prepare_v2(db, query, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
	return n;
}

enum file_id { PASSWD, SHADOW, GROUP, GSHADOW, NFILES };
static const char *const file_names[NFILES] = { "passwd", "shadow", "group", "gshadow" };
static const int commit_order[NFILES] = { GROUP, GSHADOW, PASSWD, SHADOW };

/* Field i (0-based) of a line, up to the next ':' or newline, into buf. */
static void field(const char *line, int i, char *buf, size_t size)
{
	const char *at = line;

	for (int k = 0; k < i && at; k++) {
		at = strpbrk(at, ":\n");
		at = at && *at == ':' ? at + 1 : NULL;
	}
	if (!at) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, size, "%.*s", (int)strcspn(at, ":\n"), at);
}

/* Two lines the same, each up to its newline. */
static bool same_line(const char *a, const char *b)
{
	size_t n = strcspn(a, "\n");

	return n == strcspn(b, "\n") && !strncmp(a, b, n);
}

/* The line of NAME in text, or NULL; *count how many there are. */
static const char *entry(const char *text, const char *name, int *count)
{
	size_t n = strlen(name);
	const char *first = NULL;

	*count = 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, name, n) && l[n] == ':') {
			if (!first)
				first = l;
			(*count)++;
		}
	return first;
}

/* NAME in the member list (field 3) of GROUP's line. */
static bool member(const char *text, const char *group, const char *name)
{
	int count;
	const char *l = entry(text, group, &count);
	char list[4096], *save = NULL;

	if (!l)
		return false;
	field(l, 3, list, sizeof(list));
	for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (!strcmp(m, name))
			return true;
	return false;
}

/* text without NAME's lines and without NAME in member lists (fields 2 and 3 of group files). */
static char *strip(const char *text, bool group_file, const char *name)
{
	size_t n = strlen(name), cap = strlen(text) + 1, used = 0;
	char *out = malloc(cap);

	if (!out)
		die("out of memory");
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n');
		int fieldno = 0;

		if (!(strncmp(l, name, n) == 0 && l[n] == ':'))
			for (size_t i = 0; i < len;) {
				size_t tok = strcspn(l + i, ",:\n");

				if (i + tok > len)
					tok = len - i;
				/* a member-list item that is NAME: dropped, with its comma */
				if (group_file && fieldno >= 2 && tok == n && !strncmp(l + i, name, n)) {
					if (l[i + tok] == ',')
						tok++;
					else if (used && out[used - 1] == ',')
						used--;
					i += tok;
					continue;
				}
				memcpy(out + used, l + i, tok);
				used += tok;
				i += tok;
				if (i < len) {
					fieldno += l[i] == ':';
					out[used++] = l[i++];
				}
			}
		l += len;
	}
	out[used] = '\0';
	return out;
}

struct files {
	char *text[NFILES], *tpl[NFILES];
	int count[NFILES];	/* lines of USER in each */
	const char *line[NFILES];
};

static void load_files(struct files *f, const char *tpl)
{
	for (int i = 0; i < NFILES; i++) {
		char *path = fmt("%s/root/etc/%s", work, file_names[i]), *tpath = fmt("%s/root/etc/%s", tpl, file_names[i]);

		f->text[i] = slurp(path);
		f->tpl[i] = slurp(tpath);
		if (!f->text[i] || !f->tpl[i])
			die("cannot read %s or %s", path, tpath);
		f->line[i] = entry(f->text[i], USER, &f->count[i]);
		free(path);
		free(tpath);
	}
}

static void free_files(struct files *f)
{
	for (int i = 0; i < NFILES; i++) {
		free(f->text[i]);
		free(f->tpl[i]);
	}
}

static long id_field(const char *line, int i)
{
	char buf[32];

	if (!line)
		return -1;
	field(line, i, buf, sizeof(buf));
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

static bool unchanged(const struct files *f)
{
	for (int i = 0; i < NFILES; i++)
		if (strcmp(f->text[i], f->tpl[i]) != 0)
			return false;
	return true;
}

/* Every line not about USER byte for byte as in the template, and kari and per still members of students. */
static void others_kept(struct problems *p, const struct files *f)
{
	for (int i = 0; i < NFILES; i++) {
		bool g = i == GROUP || i == GSHADOW;
		char *a = strip(f->text[i], g, USER), *b = strip(f->tpl[i], g, USER);

		if (strcmp(a, b) != 0)
			bad(p, "%s: lines of others changed", file_names[i]);
		free(a);
		free(b);
	}
	if (!member(f->text[GROUP], "students", "kari") || !member(f->text[GROUP], "students", "per"))
		bad(p, "group: kari or per no longer in students");
}

static const char *const skel[][2] = {	/* path, kind: what the home must hold */
	{ ".profile", "f" }, { ".bigrc", "f" }, { ".config", "d" }, { ".config/app.conf", "f" }, { ".bash_profile", "l" },
};

/* The home of USER complete: owned by uid:gid, 0700, skel's entries with skel's modes, contents and links. */
static const char *home_incomplete(long uid, long gid)
{
	static char why[256];
	char *home = fmt("%s/root/home/%s", work, USER);
	struct stat st;
	const char *r = NULL;

	if (lstat(home, &st) != 0 || !S_ISDIR(st.st_mode))
		r = "no home";
	else if ((long)st.st_uid != uid || (long)st.st_gid != gid || (st.st_mode & 07777) != 0700)
		r = "home owner or mode wrong";
	for (size_t i = 0; !r && i < sizeof(skel) / sizeof(skel[0]); i++) {
		char *h = fmt("%s/%s", home, skel[i][0]), *s = fmt("%s/root/etc/skel/%s", work, skel[i][0]);
		struct stat hs, ss;

		if (lstat(h, &hs) != 0 || lstat(s, &ss) != 0 || (long)hs.st_uid != uid || (long)hs.st_gid != gid ||
		    (hs.st_mode & S_IFMT) != (ss.st_mode & S_IFMT) ||
		    (skel[i][1][0] != 'l' && (hs.st_mode & 07777) != (ss.st_mode & 07777))) {
			snprintf(why, sizeof(why), "home: %s missing or not as in skel", skel[i][0]);
			r = why;
		} else if (skel[i][1][0] == 'f') {
			char *a = slurp(h), *b = slurp(s);

			if (!a || !b || strcmp(a, b) != 0) {
				snprintf(why, sizeof(why), "home: %s differs from skel", skel[i][0]);
				r = why;
			}
			free(a);
			free(b);
		}
		free(h);
		free(s);
	}
	free(home);
	return r;
}

/* Why USER's account is not complete (all four entries, ids agreeing, a member of students, the home), or NULL. */
static const char *incomplete(const struct files *f)
{
	long uid = id_field(f->line[PASSWD], 2), gid = id_field(f->line[PASSWD], 3);

	for (int i = 0; i < NFILES; i++)
		if (f->count[i] != 1)
			return "not in all four files once";
	if (id_field(f->line[GROUP], 2) != gid)
		return "passwd and group gids differ";
	if (!member(f->text[GROUP], "students", USER) || !member(f->text[GSHADOW], "students", USER))
		return "not a member of students";
	return home_incomplete(uid, gid);
}

/* pwck and grpck, read-only on the sysroot; their complaints, "no changes" left out. */
static char *pw_complaints(void)
{
	char *out = fmt("%s/pwck.out", tmp), *cmd, *text, *kept;
	size_t used = 0;

	cmd = fmt("(pwck -r -R %s/root; grpck -r -R %s/root) >%s 2>&1", work, work, out);
	sh(cmd);
	free(cmd);
	text = slurp(out);
	free(out);
	if (!text)
		die("no pwck output");
	kept = calloc(1, strlen(text) + 1);
	if (!kept)
		die("out of memory");
	for (char *l = text, *nl; *l; l = nl ? nl + 1 : l + strlen(l)) {
		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		if (*l && !strstr(l, "no changes")) {
			used += (size_t)sprintf(kept + used, "%s\n", l);
		}
		if (!nl)
			break;
	}
	free(text);
	return kept;
}

static char litter_seen[256];

/* The kinds of litter seen (passwd+, shadow.lock, group.12345 as group.PID), for the summary. */
static void note_litter(const char *name)
{
	char kind[64];
	size_t n = strcspn(name, ".+");

	snprintf(kind, sizeof(kind), "%.*s%s", (int)n, name, name[n] == '+' ? "+" : strstr(name, ".lock") ? ".lock" : ".PID");
	if (!strstr(litter_seen, kind) && strlen(litter_seen) + strlen(kind) + 2 < sizeof(litter_seen))
		snprintf(litter_seen + strlen(litter_seen), sizeof(litter_seen) - strlen(litter_seen), " %s", kind);
}

/* What may be in etc: the files, their backups, login.defs, skel, lckpwdf's lock; and what a failure may leave. */
static void etc_entries(struct problems *p, bool litter_ok, unsigned *litter)
{
	static const char *const fine[] = { "passwd", "shadow", "group", "gshadow", "passwd-", "shadow-", "group-",
					    "gshadow-", "login.defs", "skel", ".pwd.lock", NULL };
	char *path = fmt("%s/root/etc", work);
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		die("opendir %s", path);
	while ((e = readdir(d)) != NULL) {
		bool ok = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");

		for (int i = 0; fine[i] && !ok; i++)
			ok = !strcmp(e->d_name, fine[i]);
		if (ok)
			continue;
		/* NAME+ (a temporary), NAME.lock or NAME.PID of a process that is gone: the next run clears them */
		if (litter_ok && (strchr(e->d_name, '+') || strchr(e->d_name, '.'))) {
			(*litter)++;
			note_litter(e->d_name);
			continue;
		}
		bad(p, "left in etc: %s", e->d_name);
	}
	closedir(d);
	free(path);
}

static void home_entries(struct problems *p, bool partial_ok)
{
	char *path = fmt("%s/root/home", work);
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		die("opendir %s", path);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "kari") &&
		    strcmp(e->d_name, "per") && strcmp(e->d_name, LOCAL_USER) && strcmp(e->d_name, USER) &&
		    !(partial_ok && !strcmp(e->d_name, "." USER ".activate")))
			bad(p, "stray in home: %s", e->d_name);
	closedir(d);
	free(path);
}

static bool password_is(const char *shadow_line, const char *password)
{
	char hash[512];
	struct crypt_data *cd;
	bool ok;

	if (!shadow_line || !password[0])
		return false;
	field(shadow_line, 1, hash, sizeof(hash));
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		die("out of memory");
	ok = crypt_r(password, hash, cd) && !strcmp(cd->output, hash);
	free(cd);
	return ok;
}

/* --- scenarios ---------------------------------------------------------------------- */

enum goal { ACTIVATE, NEW_PASSWORD, DENIED };

struct scenario {
	const char *name;
	const char *tpl;		/* the sandbox it starts from */
	const char *pins[MAX_TRIES];
	enum goal goal;		/* with nothing failing */
	unsigned long file_stride;	/* of its file sweep */
};

static char tpl_pending[PATH_MAX + 16], tpl_reset[PATH_MAX + 16];

static struct scenario scenarios[] = {
	{ "activation", tpl_pending, { PIN, PIN }, ACTIVATE, 1 },
	{ "wrong-pin", tpl_pending, { WRONG_PIN, WRONG_PIN }, DENIED, 1 },
	/* after its first try, the activation's calls again: every other one */
	{ "wrong-then-right", tpl_pending, { WRONG_PIN, PIN }, ACTIVATE, 2 },
	{ "new-password", tpl_reset, { reset_pin, reset_pin }, NEW_PASSWORD, 1 },
};

static const struct scenario *scenario_named(const char *name)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static const char *copy_from;
static size_t copy_from_len;

/* One entry of the template into work: type, owner and mode (root writes into a directory of any mode). */
static int copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char *to = fmt("%s%s", work, path + copy_from_len), *data;
	int r = 0;

	(void)ftw;
	if (type == FTW_D)
		r = mkdir(to, 0700);
	else if (type == FTW_SL) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);

		r = n < 0 ? -1 : (target[n] = '\0', symlink(target, to));
	} else if (type == FTW_F) {
		data = slurp(path);
		if (data) {
			FILE *f = fopen(to, "we");

			r = !f || fwrite(data, 1, (size_t)st->st_size, f) != (size_t)st->st_size ? -1 : 0;
			if (f && fclose(f) != 0)
				r = -1;
		} else
			r = -1;
		free(data);
	}
	if (r == 0)
		r = lchown(to, st->st_uid, st->st_gid);
	if (r == 0 && type != FTW_SL)
		r = chmod(to, st->st_mode & 07777);
	if (r != 0)
		die("copying %s to %s: %s", path, to, strerror(errno));
	free(to);
	return 0;
}

/* work becomes a copy of tpl: in this process, a point costs no cp and no rm */
static void restore(const char *tpl)
{
	if (access(work, F_OK) == 0 && nftw(work, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		die("removing %s: %s", work, strerror(errno));
	copy_from = tpl;
	copy_from_len = strlen(tpl);
	if (nftw(tpl, copy_one, 16, FTW_PHYS) != 0)
		die("copying %s", tpl);
}

/* --- judging a run ------------------------------------------------------------------- */

/* What the world was before the run: messages about the past are judged against it. */
struct before {
	struct row row;
	char shadow_line[1024];
};

struct judged {
	struct row row;
	struct files f;
	const char *why;	/* why USER's account is incomplete, or NULL */
	bool partial;		/* some but not all entries, or no home: an attempt to roll forward */
	bool chosen_set;	/* shadow holds the password the person chose */
};

static void look(struct judged *j, const char *tpl, const struct dialogue *d)
{
	read_row(&j->row);
	load_files(&j->f, tpl);
	j->chosen_set = password_is(j->f.line[SHADOW], d->chosen);
	j->why = incomplete(&j->f);
	j->partial = j->why != NULL;
	if (j->partial) {
		bool any = false;

		for (int i = 0; i < NFILES; i++)
			any |= j->f.count[i] > 0;
		char *home = fmt("%s/root/home/%s", work, USER);
		char *tmphome = fmt("%s/root/home/." USER ".activate", work);

		any |= access(home, F_OK) == 0 || access(tmphome, F_OK) == 0;
		j->partial = any;
		free(home);
		free(tmphome);
	}
}

/* Every message classified, and each checked against the world before and after the run. */
static void judge_messages(struct problems *p, const struct dialogue *d, int rc, const struct judged *j,
			   const struct before *b, const struct scenario *sc)
{
	unsigned no_match = 0;
	bool failed = rc != PAM_SUCCESS, told_failure = false;
	static const char *const neutral[] = {
		"Account activation. You need the ID number", "Choose a password. Suggestions:",
		"Use the machines for your studies.", "Contact the IT help desk if you need help.",
		"Your username will be " USER ".", "Log in again with the username", NULL,
	};
	static const char *const never[] = {	/* untrue for this person in this sandbox, whatever fails */
		"already in progress", "can no longer be used", "has been closed", "No PIN code has been issued",
		"has expired", "programme of study", "semester fee", "Try again after", "from your network address",
		"type digits 0-9 only", "too long (at most", "did not accept the terms", "The two passwords differ",
		"That password is too long", NULL,
	};

	for (size_t i = 0; i < d->nmsgs; i++) {
		const struct msg *m = &d->msgs[i];
		const char *t = m->text;
		bool known = m->kind == K_PROMPT || m->kind == K_SECRET;

		for (int k = 0; never[k]; k++)
			if (strstr(t, never[k])) {
				bad(p, "untrue: \"%.80s\"", t);
				known = true;
			}
		for (int k = 0; neutral[k] && !known; k++)
			known = !strncmp(t, neutral[k], strlen(neutral[k]));
		if (strstr(t, "do not match our records")) {
			known = true;
			if (++no_match > d->wrong_typed)
				bad(p, "untrue: \"do not match\" for the right details");
		}
		if (strstr(t, "Too many failed attempts in this session.")) {
			known = told_failure = true;
			if (d->wrong_typed < MAX_TRIES)
				bad(p, "untrue: \"too many failed attempts in this session\" after %u wrong", d->wrong_typed);
		}
		if (strstr(t, "Your account is ready.")) {
			known = true;
			if (j->why || j->row.state != 2 || !j->row.spent)
				bad(p, "untrue: \"account is ready\" (%s, state %d, spent %lld)", j->why ? j->why : "complete",
				    j->row.state, j->row.spent);
			if (!j->chosen_set)
				bad(p, "untrue: \"account is ready\", but shadow has not the password chosen");
		}
		if (strstr(t, "Your new password is set.")) {
			known = true;
			if (!j->chosen_set || !j->row.spent)
				bad(p, "untrue: \"new password is set\" (spent %lld)", j->row.spent);
		}
		if (strstr(t, "Nothing was used up")) {
			known = told_failure = true;
			if (j->row.spent != b->row.spent || (j->row.state == 2) != (b->row.state == 2))
				bad(p, "untrue: \"%.60s\": the PIN is spent now", t);
			if (sc->goal == NEW_PASSWORD && !same_line(j->f.line[SHADOW] ? j->f.line[SHADOW] : "", b->shadow_line))
				bad(p, "untrue: \"%.60s\": the password was changed", t);
		}
		if (strstr(t, "already active, with the username")) {
			known = told_failure = true;
			if (b->row.state != 2 || !b->row.spent || !strstr(t, "username " USER "."))
				bad(p, "untrue: \"already active\" (before: state %d, spent %lld)", b->row.state, b->row.spent);
		}
		if (strstr(t, "The activation service is not available right now.") ||
		    strstr(t, "The service is busy. Try again in a minute.") ||
		    strstr(t, "could not be created") || strstr(t, "could not be changed") ||
		    strstr(t, "That password cannot be used:") || strstr(t, "No password was chosen.")) {
			known = told_failure = true;
			if (!failed)
				bad(p, "a failure said, but PAM_SUCCESS: \"%.60s\"", t);
		}
		if (!known)
			bad(p, "a message the test does not know: \"%.80s\"", t);
	}
	if (failed && !told_failure && !(sc->goal == DENIED && no_match))
		bad(p, "PAM %d, and the person was told no failure%s", rc, d->nmsgs ? "" : " (nothing at all)");
	if (d->unexpected)
		bad(p, "a prompt the test does not know");
}

/* After any run, failed or not. */
static void judge_world(struct problems *p, const struct dialogue *d, int rc, const struct judged *j,
			const struct before *b, const struct scenario *sc, bool retry, unsigned *litter)
{
	const struct row *r = &j->row;
	char *pw;

	if (r->people != 2 || !r->db_ok)
		bad(p, "database: %d people, quick_check %s", r->people, r->db_ok ? "ok" : "failed");
	if (r->username[0] && strcmp(r->username, USER))
		bad(p, "the username %s%s, not " USER, r->username,
		    !strcmp(r->username, LOCAL_USER) ? " (someone else's)" : !strcmp(r->username, RESERVED) ? " (reserved)" : "");
	if (r->state == 2 && j->why)
		bad(p, "active, but the account: %s", j->why);
	if (r->spent && j->why)
		bad(p, "PIN spent, but the account: %s", j->why);
	if (sc->goal != NEW_PASSWORD && (r->state == 2) != (r->spent != 0))
		bad(p, "active %d but PIN spent %lld", r->state == 2, r->spent);
	if (rc == PAM_SUCCESS) {
		if (j->why || r->state != 2 || !r->spent)
			bad(p, "PAM_SUCCESS, but %s, state %d, spent %lld", j->why ? j->why : "complete", r->state, r->spent);
		if (!j->chosen_set)
			bad(p, "PAM_SUCCESS, but shadow has not the password chosen");
		if (!said(d, sc->goal == NEW_PASSWORD ? "Your new password is set." : "Your account is ready."))
			bad(p, "PAM_SUCCESS without saying so");
	}
	if (j->partial) {	/* entries made before the failure: only under the intent, in commit order */
		bool seen_gap = false;

		if (retry)
			bad(p, "after the retry, the account: %s", j->why);
		if (r->state != 1 && r->state != 2)
			bad(p, "entries in the files, but state %d", r->state);
		for (int k = 0; k < NFILES; k++) {
			int i = commit_order[k];

			if (j->f.count[i] > 1)
				bad(p, "%s: %d entries of %s", file_names[i], j->f.count[i], USER);
			if (j->f.count[i] && seen_gap)
				bad(p, "%s has the entry, an earlier file of the commit not", file_names[i]);
			seen_gap |= j->f.count[i] == 0;
		}
		if (j->f.line[PASSWD] && (id_field(j->f.line[PASSWD], 2) != r->uid || id_field(j->f.line[PASSWD], 3) != r->gid))
			bad(p, "passwd ids %ld:%ld, intent %lld:%lld", id_field(j->f.line[PASSWD], 2),
			    id_field(j->f.line[PASSWD], 3), r->uid, r->gid);
		if (j->f.line[GROUP] && id_field(j->f.line[GROUP], 2) != r->gid)
			bad(p, "group gid %ld, intent %lld", id_field(j->f.line[GROUP], 2), r->gid);
	} else if (!j->why && r->uid != id_field(j->f.line[PASSWD], 2))
		bad(p, "uid %lld in the store, %ld in passwd", r->uid, id_field(j->f.line[PASSWD], 2));
	others_kept(p, &j->f);
	if (sc->goal == NEW_PASSWORD)	/* a new password changes the shadow line, and nothing else */
		for (int i = 0; i < NFILES; i++) {
			int n;
			const char *t = entry(j->f.tpl[i], USER, &n);

			if (i != SHADOW && (!j->f.line[i] || !t || !same_line(j->f.line[i], t)))
				bad(p, "%s: the entry of " USER " changed", file_names[i]);
		}
	if (sc->goal == NEW_PASSWORD && r->spent == b->row.spent && !same_line(j->f.line[SHADOW] ? j->f.line[SHADOW] : "", b->shadow_line))
		bad(p, "the password changed, the PIN not spent");
	pw = unchanged(&j->f) ? strdup("") : pw_complaints();	/* the template passes them */
	/* a partial state may draw complaints about the person's own entries, none about anyone else's */
	for (char *l = pw; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n'))
		if (!j->partial || retry || !strstr(l, "'" USER "'"))
			bad(p, "pwck/grpck: %.*s", (int)strcspn(l, "\n"), l);
	free(pw);
	etc_entries(p, true, litter);
	home_entries(p, !retry);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- one point ---------------------------------------------------------------------- */

struct stats {
	unsigned long dialogues, points, failed_points, fired, litter, crashes, loader_deaths;
	unsigned long by_fn_count;
	char by_fn[64][40];
	unsigned long by_fn_n[64];
};

static struct stats stats;

static void count_fired(const struct run_report *rr)
{
	stats.fired += rr->total_fired;
	for (size_t i = 0; i < rr->nfired; i++) {
		size_t k = 0;

		while (k < stats.by_fn_count && strcmp(stats.by_fn[k], rr->fired[i].name))
			k++;
		if (k == stats.by_fn_count && k < 64)
			snprintf(stats.by_fn[stats.by_fn_count++], sizeof(stats.by_fn[0]), "%s", rr->fired[i].name);
		if (k < 64)
			stats.by_fn_n[k]++;
	}
}

/*
 * The dynamic loader ends a process (status 127) when it cannot allocate
 * the thread-local storage of a library dlopened later (NSS modules): no
 * program can handle that failure, but what the person was told and what
 * the files and the database hold is judged as for any other.
 */
static bool loader_died(const struct run_report *rr)
{
	if (rr->status != 127 || rr->ended || !rr->nfired)
		return false;
	for (size_t i = 0; i < rr->nfired; i++)
		if (strncmp(rr->fired[i].where, "ld-linux", 8))
			return false;
	return true;
}

static void snapshot_before(struct before *b, const char *tpl)
{
	struct files f;

	read_row(&b->row);
	load_files(&f, tpl);
	snprintf(b->shadow_line, sizeof(b->shadow_line), "%.*s", f.line[SHADOW] ? (int)strcspn(f.line[SHADOW], "\n") : 0,
		 f.line[SHADOW] ? f.line[SHADOW] : "");
	free_files(&f);
}

static int dialogue(const struct scenario *sc, const char *control, struct dialogue *d, struct run_report *rr,
		    struct before *b)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->pins[0] = sc->pins[0];
	d->pins[1] = sc->pins[1];
	snapshot_before(b, sc->tpl);
	set_control(control);
	rc = run_pam(d);
	stats.dialogues++;
	read_report(rr);
	return rc;
}

/* The audit chain as activatectl audit --verify checks it (in this process: no exec a point). */
static void audit_intact(struct problems *p)
{
	char *path = fmt("%s/db/activate.db", work), err[256];
	struct store *st = NULL;
	struct audit_verdict v;

	if (store_open(path, 0, &st, err, sizeof(err)) != 0)
		bad(p, "the database does not open: %s", err);
	else if (audit_verify(st, &v) != 0 || v.broken_at || v.missing_from)
		bad(p, "the audit chain is broken (at row %lld, gap from %lld)", (long long)v.broken_at,
		    (long long)v.missing_from);
	store_close(st);
	free(path);
}

/* The retry: the same person, the right details, nothing failing. */
static void retry(struct problems *p, const struct scenario *sc, const struct dialogue *first, unsigned *litter)
{
	static const struct scenario again[] = {
		{ "retry", NULL, { PIN, PIN }, ACTIVATE, 1 }, { "retry", NULL, { reset_pin, reset_pin }, NEW_PASSWORD, 1 },
	};
	struct scenario s = again[sc->goal == NEW_PASSWORD];
	struct dialogue d;
	struct run_report rr;
	struct before b;
	struct judged j;
	int rc;

	s.tpl = sc->tpl;
	rc = dialogue(&s, "off", &d, &rr, &b);
	look(&j, s.tpl, &d);
	judge_messages(p, &d, rc, &j, &b, &s);
	judge_world(p, &d, rc, &j, &b, &s, true, litter);
	if (rc == PAM_SUCCESS)
		;
	else if (b.row.spent && said(&d, "already active, with the username " USER ".")) {
		/* done by the failed run: then it said so, or told that the PIN was used up */
		if (s.goal == NEW_PASSWORD && !password_is(b.shadow_line, first->chosen) && said(first, "Nothing was used up"))
			bad(p, "the failed run spent the PIN without the new password, and said nothing was used up");
	} else
		bad(p, "the retry did not finish (PAM %d)", rc);
	if (j.why)
		bad(p, "after the retry: %s", j.why);
	if (j.row.state != 2 || !j.row.spent)
		bad(p, "after the retry: state %d, spent %lld", j.row.state, j.row.spent);
	audit_intact(p);
	if (s.goal == ACTIVATE && db_count("SELECT count(*) FROM audit WHERE event = 'activated'") != 1)
		bad(p, "'activated' audited %lld times", db_count("SELECT count(*) FROM audit WHERE event = 'activated'"));
	/* each spend of the PIN for a new password is audited with it, and so is each give-back */
	if (s.goal == NEW_PASSWORD && db_count("SELECT sum(result = 'new password') - sum(result LIKE '%given back') "
					       "FROM audit WHERE event = 'password'") != 1)
		bad(p, "the audit trail has not one spend of the PIN more than give-backs");
	if (p->n && verbose)
		print_transcript("retry", &d, rc);
	forget(&d);
	free_files(&j.f);
	free(rr.calls);
}

/*
 * One run with CONTROL, judged; the retry when something failed. Returns
 * the number of failures that fired (0: the run got past the last call N).
 */
static size_t point(const struct scenario *sc, const char *control)
{
	struct problems p = { NULL, 0 };
	struct dialogue d;
	struct run_report rr;
	struct before b;
	struct judged j;
	unsigned litter = 0;
	double t0 = seconds();
	int rc;
	size_t fired;

	restore(sc->tpl);
	rc = dialogue(sc, control, &d, &rr, &b);
	fired = rr.total_fired;
	{	/* kept beside the retry's, for KEEP=1 */
		char *from = fmt("%s/report", fidir), *to = fmt("%s/report-run", fidir);

		rename(from, to);
		free(from);
		free(to);
	}

	stats.points++;
	look(&j, sc->tpl, &d);
	count_fired(&rr);
	if (rr.starts != 1)
		bad(&p, "failinject started %u times (the helper did not run under it?)", rr.starts);
	if (loader_died(&rr))
		stats.loader_deaths++;	/* glibc's, not the helper's: the rest must hold all the same */
	else if (rr.status < 0 || rr.status >= 128 || !rr.ended) {
		bad(&p, "the helper ended badly (status %d%s)", rr.status, rr.ended ? "" : ", no exit");
		stats.crashes++;
	}
	judge_messages(&p, &d, rc, &j, &b, sc);
	judge_world(&p, &d, rc, &j, &b, sc, false, &litter);
	if (!fired && (sc->goal == DENIED ? rc == PAM_SUCCESS : rc != PAM_SUCCESS))
		bad(&p, "with nothing failing, PAM %d", rc);
	if (fired && !p.n)
		retry(&p, sc, &d, &litter);
	stats.litter += litter != 0;
	if (p.n) {
		stats.failed_points++;
		printf("FAIL %s [%s]: %s\n", sc->name, control, p.text);
		for (size_t i = 0; i < rr.nfired && i < 4; i++)
			printf("    fired: %s at %s\n", rr.fired[i].name, rr.fired[i].where);
		if (verbose || stats.failed_points <= 10)
			print_transcript("the run", &d, rc);
	} else if (verbose)
		printf("ok %s [%s]: PAM %d, %zu fired%s, %.3f s\n", sc->name, control, rc, fired,
		       rr.nfired ? "" : " (past the last call)", seconds() - t0);
	free(p.text);
	free(rr.calls);
	forget(&d);
	free_files(&j.f);
	return fired;
}

/* --- the sandbox ---------------------------------------------------------------------- */

static void make_sysroot(const char *w)
{
	char *cmd = fmt("mkdir -p %s/root/etc/skel/.config %s/root/home/kari %s/root/home/per %s/root/bin %s/root/usr/sbin "
			"%s/root/root %s/db %s/run %s/root/home/" LOCAL_USER " && chmod 0700 %s/root/root %s/db && "
			"chown 1001:1001 %s/root/home/kari && chown 1002:1002 %s/root/home/per && "
			"chown 1003:100 %s/root/home/" LOCAL_USER " && : >%s/root/bin/bash && : >%s/root/usr/sbin/nologin && "
			"chmod 0755 %s/root/bin/bash %s/root/usr/sbin/nologin && ln -s .profile %s/root/etc/skel/.bash_profile && "
			"head -c 100000 /dev/zero | tr '\\0' x >%s/root/etc/skel/.bigrc",
			w, w, w, w, w, w, w, w, w, w, w, w, w, w, w, w, w, w, w, w);
	char *path;

	sh_or_die(cmd);
	free(cmd);
#define PUT(rel, text, mode) (path = fmt("%s/root/%s", w, rel), put_file(path, text, mode), free(path))
	PUT("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nkari:x:1001:1001:Kari Lie:/home/kari:/bin/bash\n"
	    "per:x:1002:1002:Per Hansen:/home/per:/bin/bash\n"
	    LOCAL_USER ":x:1003:100:Ola Nordmann (staff):/home/" LOCAL_USER ":/bin/bash\n", 0644);
	PUT("etc/shadow", "root:*:19000:0:99999:7:::\nkari:!:19000:0:99999:7:::\nper:!:19000:0:99999:7:::\n"
	    LOCAL_USER ":!:19000:0:99999:7:::\n", 0640);
	/* the local user's primary group is users: only passwd knows the name */
	PUT("etc/group", "root:x:0:\nkari:x:1001:\nper:x:1002:\nusers:x:100:kari\nstudents:x:500:kari,per\n", 0644);
	PUT("etc/gshadow", "root:*::\nkari:!::\nper:!::\nusers:*::kari\nstudents:!:kari:kari,per\n", 0640);
	PUT("etc/login.defs", "UID_MIN 70000\nUID_MAX 79999\nGID_MIN 70000\nGID_MAX 79999\nPASS_MAX_DAYS 99999\n"
	    "PASS_MIN_DAYS 0\nPASS_WARN_AGE 7\nENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 1\n", 0644);	/* the cheapest: the driver checks every hash too */
	PUT("etc/skel/.profile", "# ~/.profile\n", 0644);
	PUT("etc/skel/.config/app.conf", "x=1\n", 0600);
#undef PUT
}

static void write_services(void)
{
	char *path, *text, *helper = fmt("%s/helper-inject", tmp), *lib = fmt("%s/tests/module/.libs/failinject.so", build);

	if (access(lib, R_OK) != 0)
		die("%s is not built", lib);
	/* the module starts the helper with a clean environment: the wrapper puts the injection back, for the helper only */
	text = fmt("#!/bin/sh\nFAILINJECT=%s LD_PRELOAD=%s %s/activate-helper \"$@\"\ns=$?\necho $s >%s/status\nexit $s\n",
		   fidir, lib, build, fidir);
	put_file(helper, text, 0755);
	free(text);
	path = fmt("%s/svc/inject", tmp);
	text = fmt("auth [success=done ignore=ignore default=die] %s/.libs/pam_activate.so relay=%s/.libs/pam_activate_relay.so "
		   "config=%s/conf helper=%s helper_timeout=30 fail_delay=0 on_success=login\naccount required pam_permit.so\n",
		   build, build, tmp, helper);
	put_file(path, text, 0644);
	free(text);
	free(path);
	path = fmt("%s/svc/other", tmp);
	put_file(path, "auth required pam_deny.so\naccount required pam_deny.so\n", 0644);
	free(path);
	free(helper);
	free(lib);
}

static void ctl(const char *args, const char *out)
{
	char *cmd = fmt("%s/activatectl --config %s/conf %s >%s 2>&1", build, tmp, args, out);

	if (sh(cmd) != 0) {
		char *text = slurp(out);

		die("activatectl %s: %s", args, text ? text : "");
	}
	free(cmd);
}

/* The reset template: the person active, with a new PIN (a forgotten password). */
static void make_reset_template(void)
{
	char *out = fmt("%s/issue.out", tmp), *text, *line, *cmd;

	if (point(&scenarios[0], "off") != 0 || stats.failed_points)
		die("a plain activation does not work");
	ctl("issue " ID, out);
	text = slurp(out);
	/* under the CSV header: "ID","SN","GIVEN","FAMILY","PIN" */
	line = text ? strstr(text, "\n\"" ID "\",") : NULL;
	if (!line)
		die("activatectl issue printed no PIN: %s", text ? text : "");
	line[1 + strcspn(line + 1, "\n")] = '\0';
	line = strrchr(line, ',') + 1;
	snprintf(reset_pin, sizeof(reset_pin), "%.*s", (int)strspn(line + (*line == '"'), "0123456789"), line + (*line == '"'));
	free(text);
	free(out);
	cmd = fmt("rm -rf %s && cp -a %s %s", tpl_reset, work, tpl_reset);
	sh_or_die(cmd);
	free(cmd);
}

static void set_paths(void)
{
	snprintf(work, sizeof(work), "%s/w", tmp);
	snprintf(fidir, sizeof(fidir), "%s/fi", tmp);
	snprintf(tpl_pending, sizeof(tpl_pending), "%s/tpl-pending", tmp);
	snprintf(tpl_reset, sizeof(tpl_reset), "%s/tpl-reset", tmp);
}

static void make_sandbox(void)
{
	char *w = strdup(work), *path, *text;

	make_sysroot(w);
	path = fmt("%s/terms.txt", tmp);
	put_file(path, "Use the machines for your studies.\n", 0644);
	free(path);
	path = fmt("%s/reserved", tmp);
	put_file(path, "# names never handed out\n" RESERVED "\n", 0644);
	free(path);
	path = fmt("%s/conf", tmp);
	text = fmt("database = %s/db/activate.db\npepper_file = %s/pepper\nsysroot = %s/root\nrun_dir = %s/run\n"
		   "pin_hash_cost = min\ngroups = students\nterms_file = %s/terms.txt\nmax_tries = %d\n"
		   "reserved_usernames = %s/reserved\n", w, tmp, w, w, tmp, MAX_TRIES, tmp);
	put_file(path, text, 0600);
	free(text);
	free(path);
	path = fmt("%s/roster.csv", tmp);
	put_file(path, "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin\n"
		 ID "," SN ",Ola,Nordmann,student,Informatics,2026-08-14," PIN "\n"
		 "1002,5002,Siri,Dahl,student,Maths,2026-08-14,22222222\n", 0644);
	free(path);
	text = fmt("%s/init.out", tmp);
	ctl("init", text);
	path = fmt("import %s/roster.csv", tmp);
	ctl(path, text);
	free(path);
	free(text);
	path = fmt("cp -a %s %s", w, tpl_pending);
	sh_or_die(path);
	free(path);
	free(w);
}

/* --- the sweeps ---------------------------------------------------------------------- */

static unsigned long class_calls(const char *calls, const char *class)
{
	static const char *const members[][40] = {
		{ "mem", "malloc", "calloc", "realloc", "mmap", NULL },
		{ "file", "open", "open64", "openat", "openat64", "fopen", "fopen64", "read", "pread64", "write", "pwrite64",
		  "fsync", "fdatasync", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "fchown", "fchownat", "fchmod",
		  "link", "linkat", "unlink", "unlinkat", "close", "ftruncate", "copy_file_range", "symlinkat", NULL },
		{ "crypt", "crypt", "crypt_r", "crypt_rn", "crypt_ra", "crypt_gensalt_rn", "crypt_gensalt_ra", NULL },
		{ "sqlite", "sqlite3_open_v2", "sqlite3_prepare_v2", "sqlite3_prepare_v3", "sqlite3_step", "sqlite3_exec",
		  "sqlite3_bind_text", "sqlite3_bind_blob", NULL },
	};
	unsigned long total = 0;

	for (size_t c = 0; c < sizeof(members) / sizeof(members[0]); c++) {
		if (strcmp(members[c][0], class))
			continue;
		for (int i = 1; members[c][i]; i++) {
			char name[40];
			unsigned long k;

			for (const char *l = calls; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
				if (sscanf(l, "%39s %lu", name, &k) == 2 && !strcmp(name, members[c][i]))
					total += k;
		}
	}
	return total;
}

static const char *const classes[] = { "file", "sqlite", "crypt", "mem" };

#define FROM_POINTS 40	/* of each sweep with "from" */

/* N = 1, 1+stride, ... until a run has no call N of CLASS; "from" adds every later call of it. */
/* A name in a list the environment gives (INJECT_SCENARIOS, INJECT_CLASSES), or any when it gives none. */
static bool chosen(const char *var, const char *name)
{
	const char *v = getenv(var);
	size_t n = strlen(name);

	if (!v || !*v)
		return true;
	for (const char *at = strstr(v, name); at; at = strstr(at + 1, name))
		if ((at == v || at[-1] == ' ' || at[-1] == ',') && (at[n] == '\0' || at[n] == ' ' || at[n] == ','))
			return true;
	return false;
}

static void sweep(const struct scenario *sc, const char *class, unsigned long stride, bool from)
{
	unsigned long n, points = 0, before = stats.fired;
	double t0 = seconds();

	if (!chosen("INJECT_CLASSES", class))
		return;
	for (n = 1;; n += stride) {
		char *control = fmt("nth %lu %s%s", n, class, from ? " from" : "");
		size_t fired = point(sc, control);

		free(control);
		points++;
		if (!fired)
			break;
		if (n > 1000000)
			die("the sweep of %s does not end", class);
	}
	printf("  %-16s %-6s%s stride %-3lu %4lu points, %5lu failures fired, %.1f s\n", sc->name, class,
	       from ? " from" : "     ", stride, points, stats.fired - before, seconds() - t0);
}

static void reference(const struct scenario *sc, unsigned long totals[4])
{
	struct dialogue d;
	struct run_report rr;
	struct before b;
	int rc;

	restore(sc->tpl);
	rc = dialogue(sc, "count", &d, &rr, &b);
	if ((sc->goal == DENIED) != (rc != PAM_SUCCESS) || rr.nfired)
		die("%s: the run with nothing failing ends with PAM %d", sc->name, rc);
	for (int c = 0; c < 4; c++)
		totals[c] = class_calls(rr.calls, classes[c]);
	printf("  %-16s calls: file %lu, sqlite %lu, crypt %lu, mem %lu\n", sc->name, totals[0], totals[1], totals[2],
	       totals[3]);
	forget(&d);
	free(rr.calls);
}

static unsigned long env_number(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : dflt;
}

static void random_runs(unsigned long runs)
{
	static const double ps[] = { 0.01, 0.02, 0.05 };
	unsigned long before = stats.fired, points = stats.points;

	for (unsigned long seed = 1; seed <= runs; seed++) {
		const struct scenario *sc = &scenarios[seed % 4];
		/* every fourth run lets memory fail too, rarer: a dialogue makes thousands of allocations */
		char *control = seed % 4 == 3 ? fmt("random %lu %g mem", seed, ps[seed % 3] / 40)
				: fmt("random %lu %g file,sqlite,crypt", seed, ps[seed % 3]);

		point(sc, control);
		free(control);
	}
	printf("  random: %lu runs, %lu failures fired\n", stats.points - points, stats.fired - before);
}

static void run_all(void)
{
	unsigned long mem_points = env_number("INJECT_MEM_POINTS", 50);

	printf("reference runs (nothing fails):\n");
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		unsigned long totals[4];
		const struct scenario *sc = &scenarios[s];

		if (!chosen("INJECT_SCENARIOS", sc->name))
			continue;
		reference(sc, totals);
		for (int c = 0; c < 4; c++) {
			unsigned long stride = c == 0 ? sc->file_stride : c == 3 ? totals[3] / (mem_points ? mem_points : 1) + 1 : 1;

			sweep(sc, classes[c], stride, false);
		}
		/* a disk that stays broken: every call of the class from N on */
		sweep(sc, "file", totals[0] / FROM_POINTS + 1, true);
		sweep(sc, "sqlite", totals[1] / FROM_POINTS + 1, true);
	}
	random_runs(env_number("INJECT_RANDOM", 240));
}

/* One point, told in full: a failure found again. */
static int run_only(const char *spec)
{
	char name[64];
	const char *control;
	const struct scenario *sc;

	if (sscanf(spec, "%63s", name) != 1 || !(sc = scenario_named(name)) || !(control = strchr(spec, ' ')))
		die("INJECT_ONLY: \"SCENARIO CONTROL\", e.g. \"activation nth 17 file\"");
	verbose = true;
	point(sc, control + 1);
	return stats.failed_points ? 1 : 0;
}

/*
 * A dialogue fsyncs a dozen times (SQLite's synchronous = FULL, every
 * account file): thousands of them on a disk shared with other work take
 * minutes, on tmpfs nothing, and the code under test runs the same.
 */
static const char *sandbox_base(void)
{
	const char *base = getenv("INJECT_TMPDIR");
	struct statfs fs;

	if (base && *base)
		return base;
	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	base = getenv("TMPDIR");
	return base && *base ? base : "/tmp";
}

int main(int argc, char **argv)
{
	const char *b = getenv("top_builddir");
	int rc;

	(void)argc;
	if (geteuid() != 0)
		die("test_inject needs root (the account files and the database are root's)");
	if (access("/usr/sbin/pwck", X_OK) != 0 || access("/usr/sbin/grpck", X_OK) != 0)
		die("test_inject needs pwck and grpck (package passwd)");
	if (!realpath(b ? b : ".", build))
		die("top_builddir: %s", strerror(errno));
	if (!getenv("PAM_WRAPPER")) {	/* again, under pam_wrapper, with a service directory of its own */
		snprintf(tmp, sizeof(tmp), "%s/test_inject.XXXXXX", sandbox_base());
		if (!mkdtemp(tmp))
			die("mkdtemp: %s", strerror(errno));
		setenv("TEST_INJECT_DIR", tmp, 1);
		set_paths();
		for (const char *const *d = (const char *const[]){ "svc", "fi", "pw", NULL }; *d; d++) {
			char *path = fmt("%s/%s", tmp, *d);

			if (mkdir(path, 0700) != 0)
				die("mkdir %s: %s", path, strerror(errno));
			free(path);
		}
		write_services();	/* pam_wrapper copies the service directory when it starts */
		setenv("LD_PRELOAD", PAM_WRAPPER_LIB, 1);
		setenv("PAM_WRAPPER", "1", 1);
		{
			char *svc = fmt("%s/svc", tmp), *pw = fmt("%s/pw", tmp);

			setenv("PAM_WRAPPER_SERVICE_DIR", svc, 1);
			setenv("PAM_WRAPPER_RUNTIME_DIR", pw, 1);
		}
		execv("/proc/self/exe", argv);
		die("execv: %s", strerror(errno));
	}
	snprintf(tmp, sizeof(tmp), "%s", getenv("TEST_INJECT_DIR"));
	set_paths();
	verbose = getenv("VERBOSE") && !strcmp(getenv("VERBOSE"), "1");
	if (sodium_init() < 0)
		die("libsodium does not start");
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_sandbox();
	make_reset_template();
	if (getenv("INJECT_ONLY"))
		rc = run_only(getenv("INJECT_ONLY"));
	else {
		run_all();
		rc = stats.failed_points ? 1 : 0;
	}
	printf("test_inject: %lu dialogues (%lu points, each failed one retried), %lu injected failures fired, "
	       "%lu points failed, %lu helper crashes, %lu ended by the dynamic loader, %lu left litter that the "
	       "next run cleared\n", stats.dialogues, stats.points, stats.fired, stats.failed_points, stats.crashes,
	       stats.loader_deaths, stats.litter);
	if (litter_seen[0])
		printf("litter left in etc by a failed run, cleared or ignored by the retry:%s\n", litter_seen);
	printf("fired, by function:");
	for (size_t i = 0; i < stats.by_fn_count; i++)
		printf(" %s %lu", stats.by_fn[i], stats.by_fn_n[i]);
	printf("\n");
	if (!getenv("KEEP")) {
		char *cmd = fmt("rm -rf %s", tmp);

		sh(cmd);
		free(cmd);
	} else
		printf("kept %s\n", tmp);
	return rc;
}
