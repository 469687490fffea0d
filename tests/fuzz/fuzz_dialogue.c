/*
 * fuzz_dialogue.c: the whole activation dialogue (dialogue.c) in-process,
 * with a fuzzed sequence of replies, against a scratch sysroot and a real
 * database: verification, prerequisites, locks, the username, the
 * password, provisioning into the account files and the home.
 *
 * Byte 0 chooses the options (bit 0: messages=joined; bits 1-3: the text
 * width, 0 or 20..90; bits 4-5: max_tries 1..4); the rest is the replies,
 * one a line. A line "\x01" is a failed conversation, "\x02" a reply too
 * long for a frame; when the lines run out, the conversation fails.
 *
 * Made once a process, in a private directory under $TMPDIR (root only, as
 * the store and provisioning are): the sysroot of test_module.c, a pepper,
 * and a database of three people (1001/5001 PIN 11111111, 1002/5002 PIN
 * 22222222 exchange, 1003/5003 PIN 33333333 without a programme). Before
 * each input the database is put back byte for byte, and the account files
 * and homes when the last input changed them.
 *
 * FUZZ_DIALOGUE_SHOW=1 prints the transcript of each input to stderr.
 *
 * What must hold for any replies:
 *   - every message and prompt is valid UTF-8 without controls, line by line;
 *   - the database never becomes unavailable;
 *   - without DIALOGUE_ACTIVATED the account files are byte for byte as they
 *     were; with it, the username is in passwd, shadow, group and gshadow,
 *     the person is active, and exactly one person is;
 *   - a denial (details, prerequisites, locks, max_tries) says something as
 *     an error message: nobody is turned away in silence.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "conv.h"
#include "dialogue.h"
#include "import.h"
#include "roster.h"
#include "secret.h"
#include "store.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH 4400

static const char *const account_files[] = { "passwd", "shadow", "group", "gshadow" };
#define NFILES (sizeof(account_files) / sizeof(account_files[0]))

static const char roster_csv[] =
	"id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin,username\n"
	"1001,5001,Ola,Nordmann,student,Informatics,2026-08-14,11111111,\n"
	"1002,5002,Åsa,Ødegård,exchange,,,22222222,\n"
	"1003,5003,Per,Hansen,student,,2026-08-14,33333333,\n";

static char dir[4096], db[PATH];
static struct config base;
static unsigned char *pepper;
static char *db_bytes, *file_bytes[NFILES];
static size_t db_len, file_len[NFILES];
static bool ready, sysroot_dirty, show;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_dialogue: %s: %s\n", what, detail);
	abort();
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	char *text = NULL;
	size_t cap = 0;
	FILE *out;
	int ch;

	if (!f)
		die(path, strerror(errno));
	out = open_memstream(&text, &cap);
	while ((ch = getc(f)) != EOF)
		putc(ch, out);
	fclose(f);
	fclose(out);
	*len = cap;
	return text;
}

static void spill(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) != 0 || close(fd) != 0)
		die(path, strerror(errno));
}

static void in_root(char *buf, const char *rel)
{
	snprintf(buf, PATH, "%s/root/%s", dir, rel);
}

static void put(const char *rel, const char *text, mode_t mode)
{
	char path[PATH];

	in_root(path, rel);
	spill(path, text, strlen(text), mode);
}

static void make_dirs(void)
{
	static const char *const dirs[] = { "", "etc", "etc/skel", "home", "bin", "usr", "usr/sbin" };
	char path[PATH];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		in_root(path, dirs[i]);
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			die(path, strerror(errno));
	}
}

/* The sysroot of test_module.c: ids from 70000, a NIS line kept byte for byte. */
static void make_sysroot(void)
{
	make_dirs();
	put("bin/bash", "", 0755);
	put("usr/sbin/nologin", "", 0755);
	put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
	    "activate:x:999:999:Account activation:/:/usr/sbin/nologin\n+@netgroup::::::\n", 0644);
	put("etc/shadow", "root:*:19000:0:99999:7:::\nactivate:!:19000::::::\n", 0640);
	put("etc/group", "root:x:0:\nactivate:x:999:\nusers:x:100:\nstudents:x:500:\n", 0644);
	put("etc/gshadow", "root:*::\nactivate:!::\nusers:*::\nstudents:!::\n", 0640);
	put("etc/login.defs", "UID_MIN 70000\nUID_MAX 79999\nGID_MIN 70000\nGID_MAX 79999\n"
	    "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\nENCRYPT_METHOD YESCRYPT\n"
	    "YESCRYPT_COST_FACTOR 3\n", 0644);
	put("etc/skel/.profile", "# ~/.profile\n", 0644);
}

static void load_config(void)
{
	char path[PATH], text[PATH * 4], err[1024];

	snprintf(text, sizeof(text),
		 "database = %s\npepper_file = %s/pepper\nrun_dir = %s/run\nsysroot = %s/root\n"
		 "pin_hash_cost = min\n", db, dir, dir, dir);
	snprintf(path, sizeof(path), "%s/activate.conf", dir);
	spill(path, text, strlen(text), 0600);
	config_defaults(&base);
	if (config_load_file(&base, path, err, sizeof(err)) != 0)
		die("config", err);
	snprintf(path, sizeof(path), "%s/run", dir);
	if (mkdir(path, 0700) != 0)
		die(path, strerror(errno));
}

static void import_people(void)
{
	struct import_opts opts = { .workers = 1 };
	struct import_report rep;
	struct roster r;
	struct store *st;
	char err[1024];
	FILE *f = fmemopen((void *)roster_csv, sizeof(roster_csv) - 1, "r");

	if (!f || roster_read(f, "roster", ',', &base, &r, err, sizeof(err)) != 0)
		die("roster", err);
	fclose(f);
	if (store_open(db, STORE_CREATE, &st, err, sizeof(err)) != 0)
		die("store", err);
	if (import_roster(st, &base, pepper, &r, "roster", &opts, &rep, err, sizeof(err)) != 0)
		die("import", err);
	roster_free(&r);
	store_close(st);
}

static void keep_originals(void)
{
	char path[PATH];

	db_bytes = slurp(db, &db_len);
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/root/etc/%s", dir, account_files[i]);
		file_bytes[i] = slurp(path, &file_len[i]);
	}
}

static void set_up(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH], err[1024];

	snprintf(dir, sizeof(dir), "%s/fuzz_dialogue.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (geteuid() != 0)
		die("set-up", "runs as root only (the store and provisioning refuse anything else)");
	if (!mkdtemp(dir) || chmod(dir, 0700) != 0)
		die(dir, strerror(errno));
	snprintf(db, sizeof(db), "%s/activate.db", dir);
	make_sysroot();
	load_config();
	snprintf(path, sizeof(path), "%s/pepper", dir);
	if (secret_init() != 0 || secret_create_pepper(path, err, sizeof(err)) != 0)
		die("pepper", err);
	pepper = secret_alloc(SECRET_PEPPER_BYTES);
	if (!pepper || secret_load_pepper(path, pepper, err, sizeof(err)) != 0)
		die("pepper", err);
	import_people();
	keep_originals();
	ready = true;
}

static void reset_database(void)
{
	static const char *const suffix[] = { "-wal", "-shm", "-journal" };
	char path[PATH + 16];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffix[i]);
		unlink(path);
	}
	spill(db, db_bytes, db_len, 0600);
}

static void reset_sysroot(void)
{
	char cmd[PATH + 32];

	if (!sysroot_dirty)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/root'", dir);
	if (system(cmd) != 0)
		die("reset", cmd);
	make_sysroot();
	sysroot_dirty = false;
}

/* The replies, one a line, and what the person was shown. */
struct script {
	const uint8_t *at, *end;
	unsigned errors;
};

static void check_text(const char *text)
{
	const char *line = text;

	for (;;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (text_check_utf8_printable(line, len) != 0)
			die("shown text is not printable UTF-8", text);
		if (!nl)
			return;
		line = nl + 1;
	}
}

static int script_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	struct script *s = c->ctx;
	const uint8_t *nl;
	size_t len;

	(void)echo;
	check_text(text);
	if (show)
		fprintf(stderr, "[prompt] %s\n", text);
	reply[0] = '\0';
	if (s->at >= s->end)
		return -ECONNABORTED;
	nl = memchr(s->at, '\n', (size_t)(s->end - s->at));
	len = nl ? (size_t)(nl - s->at) : (size_t)(s->end - s->at);
	if (len == 1 && (s->at[0] == 1 || s->at[0] == 2)) {
		int r = s->at[0] == 1 ? -ECONNABORTED : -E2BIG;

		s->at += 2;
		return r;
	}
	if (len >= size || memchr(s->at, '\0', len)) {
		s->at += len + 1;
		return -E2BIG;
	}
	memcpy(reply, s->at, len);
	reply[len] = '\0';
	s->at += len + 1;
	return 0;
}

static int script_message(struct conv *c, bool error, const char *text)
{
	struct script *s = c->ctx;

	check_text(text);
	if (show)
		fprintf(stderr, "[%s] %s\n", error ? "error" : "info", text);
	s->errors += error;
	return 0;
}

static bool file_changed(size_t i)
{
	char path[PATH];
	size_t len;
	char *now;
	bool changed;

	snprintf(path, sizeof(path), "%s/root/etc/%s", dir, account_files[i]);
	now = slurp(path, &len);
	changed = len != file_len[i] || memcmp(now, file_bytes[i], len) != 0;
	free(now);
	return changed;
}

static bool file_has_user(size_t i, const char *user)
{
	char path[PATH], needle[PERSON_USERNAME_MAX + 2];
	size_t len;
	char *now;
	bool has;

	snprintf(path, sizeof(path), "%s/root/etc/%s", dir, account_files[i]);
	snprintf(needle, sizeof(needle), "\n%s:", user);
	now = slurp(path, &len);
	has = strstr(now, needle) != NULL;
	free(now);
	return has;
}

static unsigned active_people(struct store *st)
{
	static const char *const ids[] = { "1001", "1002", "1003" };
	struct person p;
	unsigned n = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (store_person_by_id_number(st, ids[i], &p) != 0)
			die("person", ids[i]);
		n += p.state == PERSON_ACTIVE;
	}
	return n;
}

static void check_outcome(enum dialogue_outcome out, const struct dialogue *d, const struct script *s,
			  struct store *st)
{
	bool changed = false;

	for (size_t i = 0; i < NFILES; i++)
		changed |= file_changed(i);
	sysroot_dirty = changed || out == DIALOGUE_ACTIVATED;
	if (out == DIALOGUE_UNAVAILABLE)
		die("outcome", "unavailable with a healthy database");
	if (out != DIALOGUE_ACTIVATED) {
		if (changed)
			die("account files changed without an account", d->username);
		if (active_people(st) != 0)
			die("a person active without an account", d->username);
		if ((out == DIALOGUE_DENIED || out == DIALOGUE_MAXTRIES) && s->errors == 0)
			die("denied in silence", "no error message");
		return;
	}
	for (size_t i = 0; i < NFILES; i++)
		if (!file_has_user(i, d->username))
			die(account_files[i], "lacks the new account");
	if (active_people(st) != 1)
		die("activated", "not exactly one person active");
}

static void configure(struct config *cfg, uint8_t opts)
{
	static const unsigned widths[] = { 0, 20, 30, 40, 50, 60, 78, 90 };

	*cfg = base;
	cfg->messages = (opts & 1) ? CONFIG_MESSAGES_JOINED : cfg->messages;
	cfg->text_width = widths[(opts >> 1) & 7];
	cfg->max_tries = 1 + ((opts >> 4) & 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct script s = { 0 };
	struct conv c = { .prompt = script_prompt, .message = script_message, .ctx = &s };
	struct dialogue d = { .cfg = &cfg, .pepper = NULL, .conv = &c, .service = "fuzz", .rhost = "",
			      .tty = "" };
	struct store *st;
	char err[1024];
	enum dialogue_outcome out;

	if (size < 1 || size > 4096)
		return 0;
	if (!ready) {
		show = getenv("FUZZ_DIALOGUE_SHOW") != NULL;
		set_up();
	}
	configure(&cfg, data[0]);
	c.width = cfg.text_width;
	c.joined = cfg.messages == CONFIG_MESSAGES_JOINED;
	s.at = data + 1;
	s.end = data + size;
	reset_sysroot();
	reset_database();
	if (store_open(db, 0, &st, err, sizeof(err)) != 0)
		die("store", err);
	d.st = st;
	d.pepper = pepper;
	out = dialogue_run(&d);
	conv_flush(&c);
	if (show)
		fprintf(stderr, "[outcome] %d %s\n", (int)out, d.username);
	check_outcome(out, &d, &s, st);
	store_close(st);
	return 0;
}
