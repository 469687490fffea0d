/*
 * test_module.c: the real pam_activate.so and the real activate-helper
 * through real PAM (pam_wrapper), on a sandbox database, with scripted
 * conversations. The binary re-executes itself once under pam_wrapper with
 * a service directory it has written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <crypt.h>
#include <libpamtest.h>
#include <shadow.h>
#include <security/pam_appl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <crypt.h>

#include "config.h"
#include "import.h"
#include "roster.h"
#include "secret.h"
#include "store.h"
#include "../unit/testutil.h"

#define R_CONV_FAIL "\x01" "conv-fail"	/* the conversation returns PAM_CONV_ERR */
#define R_NULL "\x01" "null"		/* a NULL reply */
#define R_BIG "\x01" "big"		/* a reply of 1 MiB */
#define R_DIE "\x01" "die"		/* the application is killed at this prompt */
#define R_STALL "\x01" "stall"		/* the person walks away: no reply for 4 s, then "1" */
#define R_PAUSE "\x01" "pause"		/* no reply for 2 s, then "1" */

struct script {
	const char *replies[48];
	size_t next;
	char log[32768];
};

static bool wait_helper_gone(void);
static pid_t helper_pid(void);
static void set_fault(const char *text);
static void wait_paused(void);
static pid_t fork_dialogue(const char *service, struct script *s);
static int child_rc(pid_t pid);

static char sandbox[PATH_MAX], svcdir[PATH_MAX], conf[PATH_MAX], dbpath[PATH_MAX];
static char builddir[PATH_MAX];
/*
 * This binary, from readlink of /proc/self/exe: valgrind cannot follow an
 * exec of /proc/self/exe itself (it would load its own tool there), but
 * answers the readlink with the program it runs.
 */
static char self[PATH_MAX];

/* --- the sandbox ---------------------------------------------------------- */

static const char roster_csv[] =
	"id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin,username\n"
	"1001,5001,Ola,Nordmann,student,Informatics,2026-08-14,11111111,\n"
	"1002,5002,Åsa,Ødegård,exchange,,,22222222,\n"
	"1003,5003,Per,Hansen,student,Physics,,33333333,\n"
	"1004,5004,Kari,Lie,student,,2026-08-14,44444444,\n"
	"1005,5005,Nils,Berg,student,Maths,2026-08-14,55555555,\n"
	"1006,5006,Siri,Dahl,student,Maths,2026-08-14,66666666,sdahl\n"
	"1007,5007,Marte,Lund,student,Maths,2026-08-14,77777777,\n"
	"1008,5008,Øystein,Ærø,student,Maths,2026-08-14,88888888,\n";

#define CROWD 32	/* people 2001.. with student numbers 6001.. and PINs 900000NN */

/* Each row of a query, its columns joined by " | ", as a test message. */
static int print_row(void *data, int n, char **values, char **names)
{
	(void)data;
	(void)names;
	for (int i = 0; i < n; i++)
		print_message("%s%s", i ? " | " : "  ", values[i] ? values[i] : "NULL");
	print_message("\n");
	return 0;
}

static void sql(const char *stmt)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, stmt, strncmp(stmt, "SELECT", 6) == 0 ? print_row : NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", stmt, err);
	sqlite3_close(db);
}

static long long sql_int(const char *query)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -1;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, query, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/*
 * system(3) without pam_wrapper: every process it preloads into sets itself
 * up in a /tmp/pam.X of its own, which the shell, pwck and grep don't need.
 */
static int shell(const char *cmd)
{
	char *preload = getenv("LD_PRELOAD") ? strdup(getenv("LD_PRELOAD")) : NULL;
	int rc;

	unsetenv("LD_PRELOAD");
	rc = system(cmd);
	if (preload) {
		setenv("LD_PRELOAD", preload, 1);
		free(preload);
	}
	return rc;
}

static void write_conf(const char *extra)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "database = %s\npepper_file = %s/pepper\nrun_dir = %s/run\nsysroot = %s/root\n"
		 "pin_hash_cost = min\n%s%s",
		 dbpath, sandbox, sandbox, sandbox,
		 extra && strstr(extra, "max_tries") ? "" : "max_tries = 1\n", extra ? extra : "");
	tu_write_file(conf, text, strlen(text), 0600);
}

static void import_people(void)
{
	struct config cfg;
	struct store *st;
	struct roster r;
	struct import_report rep;
	struct import_opts opts = { .workers = 1 };
	unsigned char *pepper = secret_alloc(SECRET_PEPPER_BYTES);
	char err[1024], path[PATH_MAX];
	FILE *f;

	config_defaults(&cfg);
	cfg.pin_hash_cost = CONFIG_COST_MIN;
	tu_path(path, sizeof(path), sandbox, "pepper");
	assert_int_equal(secret_load_pepper(path, pepper, err, sizeof(err)), 0);
	assert_int_equal(store_open(dbpath, STORE_CREATE, &st, err, sizeof(err)), 0);
	{
		char *text = NULL;
		size_t len = 0;

		f = open_memstream(&text, &len);
		fputs(roster_csv, f);
		for (int i = 1; i <= CROWD; i++)
			fprintf(f, "%d,%d,Crowd,Member%c%c,student,Maths,2026-08-14,900000%02d,\n", 2000 + i,
				6000 + i, 'a' + i / 26, 'a' + i % 26, i);
		fclose(f);
		f = fmemopen(text, len, "r");
		if (roster_read(f, "roster", ',', &cfg, &r, err, sizeof(err)) != 0)
			fail_msg("%s", err);
		fclose(f);
		free(text);
	}
	if (import_roster(st, &cfg, pepper, &r, "roster", &opts, &rep, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	roster_free(&r);
	store_close(st);
	secret_free(pepper);
}

static void put(const char *rel, const char *text, mode_t mode)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/root/%s", sandbox, rel);
	tu_write_file(path, text, strlen(text), mode);
}

static void mkdir_root(const char *rel, mode_t mode)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/root/%s", sandbox, rel);
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/*
 * A small system to provision into: account files, login.defs, skel, homes.
 * Ids from 70000: ids the host's NSS knows are skipped, and hosts rarely
 * use these.
 */
static void fill_sysroot(void)
{
	mkdir_root("", 0755);
	mkdir_root("etc", 0755);
	mkdir_root("etc/skel", 0755);
	mkdir_root("home", 0755);
	mkdir_root("root", 0700);
	mkdir_root("bin", 0755);
	mkdir_root("usr", 0755);
	mkdir_root("usr/sbin", 0755);
	put("bin/bash", "", 0755);
	put("usr/sbin/nologin", "", 0755);
	put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
	    "activate:x:999:999:Account activation:/:/usr/sbin/nologin\n"
	    "+@netgroup::::::\n", 0644);
	put("etc/shadow", "root:*:19000:0:99999:7:::\nactivate:!:19000::::::\n", 0640);
	put("etc/group", "root:x:0:\nactivate:x:999:\nusers:x:100:\nstudents:x:500:\n", 0644);
	put("etc/gshadow", "root:*::\nactivate:!::\nusers:*::\nstudents:!::\n", 0640);
	put("etc/login.defs", "UID_MIN 70000\nUID_MAX 79999\nGID_MIN 70000\nGID_MAX 79999\n"
	    "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\nENCRYPT_METHOD YESCRYPT\n"
	    "YESCRYPT_COST_FACTOR 3\n", 0644);
	put("etc/skel/.profile", "# ~/.profile\n", 0644);
	mkdir_root("etc/skel/.config", 0755);
	put("etc/skel/.config/app.conf", "x=1\n", 0600);
}

static void make_sysroot(void)
{
	char cmd[PATH_MAX * 2];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/root", sandbox);
	assert_int_equal(shell(cmd), 0);
	fill_sysroot();
}

/* A fresh database and the default test configuration before every test. */
static int reset(void **state)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[PATH_MAX + 8];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, suffix[i]);
		unlink(path);
	}
	import_people();
	sql("UPDATE person SET state = 3 WHERE id_number = '1005'");
	sql("UPDATE person SET state = 2, pin_spent = 1 WHERE id_number = '1006'");
	sql("UPDATE person SET pin_expires = 1000 WHERE id_number = '1007'");
	write_conf(NULL);
	make_sysroot();
	return 0;
}

/* --- driving PAM ------------------------------------------------------------ */

static void logf_(struct script *s, const char *tag, const char *text)
{
	size_t used = strlen(s->log);

	snprintf(s->log + used, sizeof(s->log) - used, "[%s] %s\n", tag, text ? text : "(null)");
}

static char *reply_for(struct script *s, const char *r, int *rc)
{
	char *big;

	if (!r || !strcmp(r, R_CONV_FAIL)) {
		*rc = PAM_CONV_ERR;
		return NULL;
	}
	if (!strcmp(r, R_DIE))
		raise(SIGKILL);
	if (!strcmp(r, R_STALL) || !strcmp(r, R_PAUSE)) {
		sleep(strcmp(r, R_STALL) ? 2 : 4);
		return strdup("1");
	}
	if (!strcmp(r, R_NULL))
		return NULL;
	if (!strcmp(r, R_BIG)) {
		big = malloc(1 << 20);
		memset(big, '7', (1 << 20) - 1);
		big[(1 << 20) - 1] = '\0';
		return big;
	}
	(void)s;
	return strdup(r);
}

static int script_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct script *s = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));
	int rc = PAM_SUCCESS;

	for (int i = 0; i < n && rc == PAM_SUCCESS; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_ON:
		case PAM_PROMPT_ECHO_OFF:
			logf_(s, msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? "prompt" : "secret", msg[i]->msg);
			out[i].resp = reply_for(s, s->replies[s->next++], &rc);
			break;
		case PAM_ERROR_MSG:
			logf_(s, "error", msg[i]->msg);
			break;
		default:
			logf_(s, "info", msg[i]->msg);
		}
	}
	if (rc != PAM_SUCCESS) {
		for (int i = 0; i < n; i++)
			free(out[i].resp);
		free(out);
		return rc;
	}
	*resp = out;
	return PAM_SUCCESS;
}

/*
 * For forked children: no cmocka assert may unwind into a copy of the test
 * runner. pam_start is retried: pam_wrapper's one-letter directory names
 * collide when many processes start at once, which is not what is tested.
 */
/*
 * pam_start in a forked child. pam_wrapper forgets its set-up in every
 * child and redoes it at the first pam_start, in a directory /tmp/pam.X it
 * picks with lstat, then mkdir: children doing that at once can end up
 * sharing one, and one's clean-up removes it under the other. So children
 * take turns, under a lock.
 */
static int child_pam_start(const char *service, const char *user, const struct pam_conv *conv,
			   pam_handle_t **ph)
{
	char path[PATH_MAX];
	int fd, rc;

	tu_path(path, sizeof(path), sandbox, "pam_start.lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	rc = pam_start(service, user, conv, ph);
	if (fd >= 0)
		close(fd);
	return rc;
}

#define PAM_USER_CHANGED 99	/* not a PAM status: try_authenticate's "PAM_USER is not as it must be" */

/*
 * Whatever path a dialogue took, PAM_USER is still the name the caller
 * started with; only a success (on_success=login) changes it, and then to
 * someone else: the module never returns success for the trigger user.
 */
static bool user_as_it_must_be(pam_handle_t *ph, const char *user, int rc, char *now, size_t len)
{
	const void *item = NULL;

	if (pam_get_item(ph, PAM_USER, &item) != PAM_SUCCESS || !item) {
		snprintf(now, len, "(none)");
		return false;
	}
	snprintf(now, len, "%s", (const char *)item);
	return rc == PAM_SUCCESS ? strcmp(item, user) != 0 : strcmp(item, user) == 0;
}

static int try_authenticate(const char *service, const char *user, struct script *s)
{
	struct pam_conv conv = { script_conv, s };
	pam_handle_t *ph = NULL;
	char now[256];
	int rc = PAM_SYSTEM_ERR;

	for (int i = 0; i < 20 && rc != PAM_SUCCESS; i++) {
		rc = child_pam_start(service, user, &conv, &ph);
		if (rc != PAM_SUCCESS)
			usleep(50000);
	}
	if (rc != PAM_SUCCESS)
		return -1;
	rc = pam_authenticate(ph, 0);
	if (!user_as_it_must_be(ph, user, rc, now, sizeof(now))) {
		logf_(s, "PAM_USER", now);
		rc = PAM_USER_CHANGED;
	}
	pam_end(ph, rc);
	return rc;
}

static int authenticate(const char *service, const char *user, const char *rhost, struct script *s)
{
	struct pam_conv conv = { script_conv, s };
	pam_handle_t *ph = NULL;
	char now[256];
	int rc;

	assert_int_equal(pam_start(service, user, &conv, &ph), PAM_SUCCESS);
	if (rhost)
		assert_int_equal(pam_set_item(ph, PAM_RHOST, rhost), PAM_SUCCESS);
	rc = pam_authenticate(ph, 0);
	if (!user_as_it_must_be(ph, user, rc, now, sizeof(now))) {
		pam_end(ph, rc);
		fail_msg("%s: pam_authenticate gave %d and PAM_USER is '%s', not as it must be:\n%s", service, rc,
			 now, s->log);
	}
	pam_end(ph, rc);
	return rc;
}

#define SCRIPT(...) { .replies = { __VA_ARGS__, NULL } }

static void expect_log(const struct script *s, const char *needle)
{
	if (!strstr(s->log, needle))
		fail_msg("transcript lacks '%s':\n%s", needle, s->log);
}

static void expect_no_log(const struct script *s, const char *needle)
{
	if (strstr(s->log, needle))
		fail_msg("transcript has '%s':\n%s", needle, s->log);
}

static long long failures(const char *id)
{
	char q[128];

	snprintf(q, sizeof(q), "SELECT failures + 1000 * total_failures FROM person WHERE id_number = '%s'", id);
	return sql_int(q);
}

/* --- the dialogue ----------------------------------------------------------- */

static void test_correct_details_reach_provisioning(void **state)
{
	struct script s = SCRIPT("1001", "5001", "11111111");

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_CONV_ERR);
	expect_log(&s, "[info] Account activation.");
	expect_log(&s, "[prompt] ID number: ");
	expect_log(&s, "[prompt] Student number: ");
	expect_log(&s, "[secret] PIN code: ");
	expect_log(&s, "Your username will be olanordm.");
	assert_int_equal(failures("1001"), 0);
	/* the script ran out at the password: the name stays reserved, the PIN unspent */
	assert_int_equal(sql_int("SELECT state * 10 + pin_spent FROM person WHERE id_number = '1001'"), 10);
}

static void test_each_wrong_detail_alone(void **state)
{
	static const char *const cases[][3] = {
		{ "1009", "5001", "11111111" },	/* unknown ID */
		{ "1001", "5002", "11111111" },	/* wrong student number */
		{ "1001", "5001", "11111112" },	/* wrong PIN */
	};
	char first[1024] = "";

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct script s = SCRIPT(cases[i][0], cases[i][1], cases[i][2]);
		const char *msg;

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
		expect_log(&s, "do not match our records");
		msg = strstr(s.log, "[error]");
		if (!first[0])
			snprintf(first, sizeof(first), "%s", msg);
		else
			assert_string_equal(msg, first);	/* the same words whatever was wrong */
	}
	/* only the wrong PIN counts against 1001: a wrong student number is nobody's failure */
	assert_int_equal(failures("1001"), 1001);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE result = 'failed, details of nobody'"), 2);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE person IS NULL AND username IS NOT NULL"), 0);
}

static void test_prerequisites(void **state)
{
	static const struct {
		const char *id, *student, *pin, *needle;
	} cases[] = {
		{ "1002", "5002", "22222222", "Your username will be" },	/* exchange: exempt */
		{ "1003", "5003", "33333333", "semester fee is not registered" },
		{ "1004", "5004", "44444444", "not connected to a programme" },
		{ "1005", "5005", "55555555", "has been closed" },
		{ "1006", "5006", "66666666", "already active, with the username sdahl" },
		{ "1007", "5007", "77777777", "PIN code has expired" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s = SCRIPT(cases[i].id, cases[i].student, cases[i].pin);

		assert_int_equal(authenticate("activate", "activate", NULL, &s), i ? PAM_AUTH_ERR : PAM_CONV_ERR);
		expect_log(&s, cases[i].needle);
		if (i > 0)
			expect_log(&s, "Contact the IT help desk");
	}
}

static void test_lock_after_max_attempts_and_doubling(void **state)
{
	struct script ok = SCRIPT("1001", "5001", "11111111");
	long long until1, until2;

	(void)state;
	write_conf("max_attempts = 2\nlock_time = 100\n");
	for (int i = 0; i < 2; i++) {
		struct script s = SCRIPT("1001", "5001", "00000000");

		authenticate("activate", "activate", NULL, &s);
	}
	until1 = sql_int("SELECT locked_until - strftime('%s','now') FROM person WHERE id_number = '1001'");
	assert_in_range(until1, 95, 101);
	/* locked: even the right PIN is not verified */
	assert_int_equal(authenticate("activate", "activate", NULL, &ok), PAM_AUTH_ERR);
	expect_log(&ok, "Too many failed attempts. Try again after");
	expect_no_log(&ok, "username will be");
	/* the lock runs out; two more failures lock for twice as long */
	sql("UPDATE person SET locked_until = 1 WHERE id_number = '1001'");
	for (int i = 0; i < 2; i++) {
		struct script s = SCRIPT("1001", "5001", "00000000");

		authenticate("activate", "activate", NULL, &s);
	}
	until2 = sql_int("SELECT locked_until - strftime('%s','now') FROM person WHERE id_number = '1001'");
	assert_in_range(until2, 195, 201);
}

static void test_unlock_with_activatectl(void **state)
{
	char cmd[PATH_MAX * 3];
	struct script ok = SCRIPT("1001", "5001", "11111111");

	(void)state;
	sql("UPDATE person SET failures = 3, locks = 1, locked_until = strftime('%s','now') + 900 "
	    "WHERE id_number = '1001'");
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s unlock 5001 >/dev/null", builddir, conf);
	assert_int_equal(shell(cmd), 0);
	assert_int_equal(authenticate("activate", "activate", NULL, &ok), PAM_CONV_ERR);
	expect_log(&ok, "Your username will be");
}

static void test_throttle_by_rhost(void **state)
{
	(void)state;
	write_conf("throttle_failures = 3\nthrottle_window = 600\n");
	for (int i = 0; i < 3; i++) {
		struct script s = SCRIPT("1009", "5001", "11111111");

		assert_int_equal(authenticate("activate", "activate", "198.51.100.7", &s), PAM_AUTH_ERR);
	}
	{
		struct script s = SCRIPT("1001", "5001", "11111111");

		assert_int_equal(authenticate("activate", "activate", "198.51.100.7", &s), PAM_AUTH_ERR);
		expect_log(&s, "from your network address");
		expect_no_log(&s, "[prompt] ID number");	/* not asked for anything... */
		expect_log(&s, "[error] Too many failed attempts from your network address. Try again later.\n");
		expect_log(&s, "[prompt] Press Enter to close: ");	/* ...and the reason stays on screen above it */
	}
	{	/* another host is not held back */
		struct script s = SCRIPT("1001", "5001", "11111111");

		assert_int_equal(authenticate("activate", "activate", "198.51.100.8", &s), PAM_CONV_ERR);
		expect_log(&s, "Your username will be");
	}
}

/* A lab network has its own limit (or none); an address outside it still meets throttle_failures. */
static void test_throttle_networks(void **state)
{
	static const char *const outside = "203.0.113.9", *const lab = "10.20.3.4", *const nat = "2001:db8:1::5";

	(void)state;
	write_conf("throttle_failures = 2\nthrottle_networks = 10.20.0.0/16=5, 2001:db8:1::/48=none\n");
	for (int i = 0; i < 4; i++) {
		struct script a = SCRIPT("1009", "5001", "11111111"), b = SCRIPT("1009", "5001", "11111111");
		struct script c = SCRIPT("1009", "5001", "11111111");

		authenticate("activate", "activate", outside, &a);
		authenticate("activate", "activate", lab, &b);
		authenticate("activate", "activate", nat, &c);
		if (i >= 2)
			expect_log(&a, "from your network address");
		expect_no_log(&b, "from your network address");	/* 4 of its 5 */
		expect_no_log(&c, "from your network address");
	}
	{
		struct script b = SCRIPT("1009", "5001", "11111111"), b2 = SCRIPT("1009", "5001", "11111111");

		authenticate("activate", "activate", lab, &b);
		authenticate("activate", "activate", lab, &b2);
		expect_log(&b2, "from your network address");	/* the lab's own limit, reached */
	}
}

static void test_max_tries(void **state)
{
	struct script s = SCRIPT("1001", "5001", "1", "1001", "5001", "2", "1001", "5001", "3");

	(void)state;
	write_conf("max_tries = 3\nmax_attempts = 10\n");
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Tries left: 2.");
	expect_log(&s, "Tries left: 1.");
	expect_log(&s, "Too many failed attempts in this session.");
	assert_int_equal(failures("1001"), 3003);
}

static void test_pin_spent_after_max_total_failures(void **state)
{
	struct script ok = SCRIPT("1001", "5001", "11111111");

	(void)state;
	write_conf("max_total_failures = 3\nmax_attempts = 100\n");
	for (int i = 0; i < 3; i++) {
		struct script s = SCRIPT("1001", "5001", "00000000");

		authenticate("activate", "activate", NULL, &s);
	}
	assert_int_equal(authenticate("activate", "activate", NULL, &ok), PAM_AUTH_ERR);
	expect_log(&ok, "can no longer be used");
	expect_no_log(&ok, "username will be");
}

/* Bad replies get a clear message, count as a try, and touch nobody's record. */
static void test_bad_replies(void **state)
{
	static const char *const bad[] = {
		"12\x1b[2J", "12\xc2\x9b", "+1", "1e3", "\xef\xbc\x91\xef\xbc\x92", "' OR '1'='1",
		"1001; DROP TABLE person", R_BIG,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct script s = SCRIPT(bad[i]);

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
		expect_log(&s, strcmp(bad[i], R_BIG) ? "type digits 0-9 only" : "too long");
	}
	assert_int_equal(sql_int("SELECT sum(failures + total_failures) FROM person"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM person"), 8 + CROWD);
}

static void test_reply_with_nul_is_cut_there(void **state)
{
	/* A C string ends at its NUL: "1001\0junk" arrives as "1001". */
	struct script s = SCRIPT("1001\0junk", "5001", "11111111");

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_CONV_ERR);
	expect_log(&s, "Your username will be");
}

static void test_conversation_failures_count_nothing(void **state)
{
	const char *modes[] = { R_CONV_FAIL, R_NULL };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct script s = SCRIPT("1001", "5001", modes[i]);

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_CONV_ERR);
	}
	assert_int_equal(failures("1001"), 0);
}


/* --- provisioning ------------------------------------------------------------ */

static char *slurp(const char *rel)
{
	char path[PATH_MAX * 2], *buf = NULL;
	size_t len = 0;
	FILE *f, *m = open_memstream(&buf, &len);
	int c;

	snprintf(path, sizeof(path), "%s/root/%s", sandbox, rel);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* A whole file by absolute path, any bytes; *len its length (free the result). */
static char *read_whole(const char *path, size_t *len)
{
	char *buf = NULL;
	FILE *f = fopen(path, "rb"), *m = open_memstream(&buf, len);
	int c;

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

static int count_lines_with(const char *rel, const char *needle)
{
	char *text = slurp(rel), *p = text;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(text);
	return n;
}

static void expect_file_has(const char *rel, const char *needle)
{
	char *text = slurp(rel);

	if (!strstr(text, needle))
		fail_msg("%s lacks '%s':\n%s", rel, needle, text);
	free(text);
}

/* pwck and grpck on the sysroot, read-only; complaints about the copied system users filtered. */
static void expect_pwck_clean(void)
{
	char cmd[PATH_MAX * 4], *out;

	snprintf(cmd, sizeof(cmd), "(pwck -r -R %s/root; grpck -r -R %s/root) >%s/pwck.out 2>&1; "
		 "grep -v -e '^pwck: no changes' -e '^grpck: no changes' -e '+@netgroup' "
		 "-e '^invalid password file entry' %s/pwck.out | grep . >/dev/null && exit 1; exit 0",
		 sandbox, sandbox, sandbox, sandbox);
	if (shell(cmd) != 0) {
		out = slurp("../pwck.out");
		fail_msg("pwck/grpck complained:\n%s", out);
	}
}

#define ACTIVATE(id, student, pin, ...) SCRIPT(id, student, pin, __VA_ARGS__)

static void test_full_activation(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "olanordm");
	struct script again = SCRIPT("1001", "5001", "11111111");
	struct stat st;
	char path[PATH_MAX * 2];

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);	/* on_success=deny */
	expect_log(&s, "Choose a password. Suggestions:\n  1  ");
	expect_log(&s, "Your account is ready.\nUsername: olanordm");
	expect_log(&s, "[prompt] Your username is olanordm. Type it");
	expect_file_has("etc/passwd", "olanordm:x:70000:70000:Ola Nordmann:/home/olanordm:/bin/bash\n");
	expect_file_has("etc/passwd", "+@netgroup::::::\n");	/* other lines byte for byte */
	expect_file_has("etc/group", "olanordm:x:70000:\n");
	expect_file_has("etc/gshadow", "olanordm:!::\n");
	expect_file_has("etc/shadow", "olanordm:$y$");
	expect_file_has("etc/passwd-", "root:x:0:0:root:/root:/bin/bash\n");
	expect_file_has("home/olanordm/.profile", "# ~/.profile\n");
	expect_file_has("home/olanordm/.config/app.conf", "x=1\n");
	snprintf(path, sizeof(path), "%s/root/home/olanordm", sandbox);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 70000);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/root/etc/shadow", sandbox);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);	/* the original's mode */
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 2);
	assert_true(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") > 0);
	assert_int_equal(sql_int("SELECT uid FROM person WHERE id_number = '1001'"), 70000);
	expect_pwck_clean();
	/* the PIN is spent: a second time says the account is active, with its name */
	assert_int_equal(authenticate("activate", "activate", NULL, &again), PAM_AUTH_ERR);
	expect_log(&again, "already active, with the username olanordm");
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 1);
}

/* The PIN of id_number in the CSV activatectl issue writes (quoted cells, the PIN last). */
static void issue_pin(const char *id_number, char *pin, size_t len)
{
	char cmd[PATH_MAX * 3], *csv, *at, *end;

	snprintf(cmd, sizeof(cmd), "rm -f %s/root/pins.csv; %s/activatectl --config %s issue %s "
		 "--output %s/root/pins.csv 2>/dev/null", sandbox, builddir, conf, id_number, sandbox);
	assert_int_equal(shell(cmd), 0);
	csv = slurp("pins.csv");
	at = strstr(csv, id_number);
	assert_non_null(at);
	end = strchr(at, '\n');
	assert_non_null(end);
	while (end > at && (end[-1] == '"' || end[-1] == '\r'))
		end--;
	at = end;
	while (at > csv && at[-1] >= '0' && at[-1] <= '9')
		at--;
	snprintf(pin, len, "%.*s", (int)(end - at), at);
	free(csv);
}

/*
 * A forgotten password: an active person with a new PIN chooses a new
 * password for the account they have; nothing else changes, and the PIN is
 * spent.
 */
static void test_new_pin_sets_a_new_password(void **state)
{
	struct script first = ACTIVATE("1001", "5001", "11111111", "1", "olanordm");
	char pin[32], *before, *after;

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &first), PAM_AUTH_ERR);
	before = slurp("etc/shadow");
	issue_pin("1001", pin, sizeof(pin));
	assert_int_equal(strlen(pin), 8);
	{
		struct script s = SCRIPT("1001", "5001", pin, "Vesle-Troika-Maane-42", "Vesle-Troika-Maane-42",
					 "olanordm");

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
		expect_no_log(&s, "Your username will be");
		expect_log(&s, "Your new password is set.\nUsername: olanordm");
		expect_log(&s, "[prompt] Your username is olanordm. Type it");
	}
	after = slurp("etc/shadow");
	assert_string_not_equal(before, after);
	{
		/* the new hash is of the typed password, and the other fields are kept */
		const char *line = strstr(after, "\nolanordm:") + 1, *h = strchr(line, ':') + 1;
		char hash[512], rest[64], *c;
		struct crypt_data cd = { .initialized = 0 };

		snprintf(hash, sizeof(hash), "%.*s", (int)(strchr(h, ':') - h), h);
		c = crypt_r("Vesle-Troika-Maane-42", hash, &cd);
		assert_non_null(c);
		assert_string_equal(c, hash);
		snprintf(rest, sizeof(rest), ":%ld:", (long)(time(NULL) / 86400));
		assert_non_null(strstr(line, rest));
	}
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 1);
	assert_int_equal(count_lines_with("etc/shadow", "\nolanordm:"), 1);
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 2);
	assert_true(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") > 0);
	expect_pwck_clean();
	{
		struct script again = SCRIPT("1001", "5001", pin);

		assert_int_equal(authenticate("activate", "activate", NULL, &again), PAM_AUTH_ERR);
		expect_log(&again, "already active, with the username olanordm");
	}
	free(before);
	free(after);
}

/*
 * accounts = ldap through the real module and helper: a slapd of its own
 * (tests/unit/slapd.sh); the account is made in the directory, not in the
 * files, the new user binds with the password a new PIN sets, and with the
 * directory unreachable the person is told the service is not available
 * and nothing is spent.
 */
static char slapd_dir[PATH_MAX];

/* The test's slapd stopped, whatever the test got to. */
static int stop_slapd(void **state)
{
	const char *src = getenv("top_srcdir");
	char cmd[PATH_MAX * 2];

	(void)state;
	if (slapd_dir[0]) {
		snprintf(cmd, sizeof(cmd), "sh %s/tests/unit/slapd.sh stop %s", src ? src : "..", slapd_dir);
		shell(cmd);
	}
	slapd_dir[0] = '\0';
	return 0;
}

static void ldap_conf(const char *dir, const char *uri)
{
	char extra[2048];

	snprintf(extra, sizeof(extra),
		 "accounts = ldap\nldap_uri = %s\nldap_people_base = ou=people,dc=example,dc=edu\n"
		 "ldap_groups_base = ou=groups,dc=example,dc=edu\nldap_bind_dn = cn=admin,dc=example,dc=edu\n"
		 "ldap_bind_password_file = %s/bind.secret\nldap_ca_file = %s/ca.pem\nldap_timeout = 5\n"
		 "groups = students\n", uri, dir, dir);
	write_conf(extra);
}

static void test_full_activation_ldap(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "olanordm");
	char *dir = slapd_dir, cmd[PATH_MAX * 4], uri[256] = "", pin[32], *out;
	const char *src = getenv("top_srcdir");
	FILE *p;

	(void)state;
	snprintf(slapd_dir, sizeof(slapd_dir), "%s/slapd", sandbox);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && sh %s/tests/unit/slapd.sh start %s", dir, src ? src : "..", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(uri, sizeof(uri), p))
		uri[0] = '\0';
	if (pclose(p) != 0 || !strchr(uri, ' '))
		fail_msg("slapd.sh start failed (slapd, ldap-utils and openssl are needed)");
	*strchr(uri, ' ') = '\0';
	ldap_conf(dir, uri);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);	/* on_success=deny */
	expect_log(&s, "Your account is ready.\nUsername: olanordm");
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 2);
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 0);
	snprintf(cmd, sizeof(cmd), "umask 077; tr -d '\\n' <%s/bind.secret >%s/admin.pw && ldapsearch -LLL -x -H %s "
		 "-D cn=admin,dc=example,dc=edu -y %s/admin.pw -b uid=olanordm,ou=people,dc=example,dc=edu "
		 ">%s/root/entry.ldif", dir, dir, uri, dir, sandbox);
	assert_int_equal(shell(cmd), 0);
	out = slurp("entry.ldif");
	assert_non_null(strstr(out, "objectClass: posixAccount"));
	assert_non_null(strstr(out, "uidNumber: 70000"));
	assert_non_null(strstr(out, "userPassword:: "));	/* base64: {CRYPT}$y$... */
	free(out);
	/* a forgotten password: the new one is in the directory, and slapd takes it */
	issue_pin("1001", pin, sizeof(pin));
	{
		struct script again = SCRIPT("1001", "5001", pin, "Vesle-Troika-Maane-42", "Vesle-Troika-Maane-42",
					     "olanordm");

		assert_int_equal(authenticate("activate", "activate", NULL, &again), PAM_AUTH_ERR);
		expect_log(&again, "Your new password is set.\nUsername: olanordm");
	}
	snprintf(cmd, sizeof(cmd), "umask 077; printf %%s Vesle-Troika-Maane-42 >%s/user.pw && ldapwhoami -x -H %s "
		 "-D uid=olanordm,ou=people,dc=example,dc=edu -y %s/user.pw >/dev/null", dir, uri, dir);
	assert_int_equal(shell(cmd), 0);
	/* the directory unreachable: not available right now, the PIN unspent */
	ldap_conf(dir, "ldap://127.0.0.1:1/");
	{
		struct script down = ACTIVATE("1002", "5002", "22222222", "1", "karinord");

		assert_int_equal(authenticate("activate", "activate", NULL, &down), PAM_AUTHINFO_UNAVAIL);
		expect_log(&down, "The activation service is not available right now.");
	}
	assert_int_equal(sql_int("SELECT pin_spent FROM person WHERE id_number = '1002'"), 0);
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1002'"), 0);
}

static void test_own_password_policy(void **state)
{
	struct script s = ACTIVATE("1008", "5008", "88888888", "abc", "Tr0ika-Vesle-Maane",
				   "Tr0ika-Vesle-Mane", "Tr0ika-Vesle-Maane", "Tr0ika-Vesle-Maane", "x");
	char *shadow, *hash, *end;
	struct crypt_data cd;

	(void)state;
	write_conf("password_allowed_chars = -_.\n");
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "That password cannot be used:");
	expect_log(&s, "The two passwords differ.");
	expect_log(&s, "Username: oystaero");	/* Øystein Ærø, folded and cut */
	shadow = slurp("etc/shadow");
	hash = strstr(shadow, "oystaero:") + strlen("oystaero:");
	end = strchr(hash, ':');
	*end = '\0';
	memset(&cd, 0, sizeof(cd));
	assert_string_equal(crypt_r("Tr0ika-Vesle-Maane", hash, &cd), hash);
	free(shadow);
}

/* A short name (libpwquality skips bad words under four letters) is refused too, in any case. */
static void test_password_with_a_short_name(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "oLa-Tr0ika-Vesle-Maane-42", "1", "x");

	(void)state;
	authenticate("activate", "activate", NULL, &s);
	expect_log(&s, "That password cannot be used: it contains your name.");
}

/*
 * libpwquality returns the reason for a refused password; for most reasons
 * it writes nothing into the buffer it was given. The person reads the
 * reason, never a stack buffer's bytes (a password with the person's name).
 */
static void test_refused_password_reason_is_words(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "Nordmann-Tr0ika-Vesle", "1", "x");
	const char *at, *end;

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	at = strstr(s.log, "That password cannot be used: ");
	assert_non_null(at);
	at += strlen("That password cannot be used: ");
	end = strchr(at, '\n');
	assert_non_null(end);
	assert_true(end - at > 10);
	for (const char *c = at; c < end; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c > '~')
			fail_msg("the reason has a byte 0x%02x:\n%s", (unsigned char)*c, s.log);
	expect_log(&s, "The password contains");
}

/*
 * A failure ends with a prompt, right after the failure's message (text
 * after the last prompt is lost under ssh -q and in greeters; sshd puts
 * the messages before a prompt into its text): said once, not repeated in
 * the prompt. A success ends with the username's type-back prompt.
 */
static void test_failure_ends_with_a_prompt_after_it(void **state)
{
	struct script wrong = SCRIPT("1001", "5001", "99999999", "");
	struct script fee = SCRIPT("1003", "5003", "33333333", "");

	(void)state;
	authenticate("activate", "activate", NULL, &wrong);
	expect_log(&wrong, "[error] Too many failed attempts in this session.\n[prompt] Press Enter to close: ");
	authenticate("activate", "activate", NULL, &fee);
	expect_log(&fee, "[error] Your semester fee is not registered yet. A payment can take up to three "
		   "business days to register; try again when it has.\n");
	expect_log(&fee, "[prompt] Press Enter to close: ");
	expect_no_log(&fee, "has. Press Enter");
}

/* text_width = 40 (slick-greeter cuts lines at about 40): no line of the dialogue longer, words whole. */
static void test_text_width(void **state)
{
	struct script s = SCRIPT("1003", "5003", "33333333", "");
	const char *line;

	(void)state;
	write_conf("text_width = 40\n");
	authenticate("activate", "activate", NULL, &s);
	expect_log(&s, "Account activation. You need the ID\nnumber");
	expect_log(&s, "Press Enter to close: ");
	for (line = s.log; *line; ) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line), c = 0;

		if (line[0] == '[')	/* the transcript's own tag: "[info] " */
			n -= (size_t)(strchr(line, ']') - line) + 2, line = strchr(line, ']') + 2;
		for (size_t i = 0; i < n; i++)
			c += ((unsigned char)line[i] & 0xC0) != 0x80;
		if (c > 40)
			fail_msg("a line of %zu characters: %.*s", c, (int)n, line);
		line += n + (nl != NULL);
	}
}

/* The most messages the transcript has between two prompts; *prompts counts the prompts. */
static unsigned most_messages_before_a_prompt(const char *log, unsigned *prompts)
{
	unsigned most = 0, n = 0;

	*prompts = 0;
	for (const char *line = log; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (!strncmp(line, "[info]", 6) || !strncmp(line, "[error]", 7))
			n++;
		else if (!strncmp(line, "[prompt]", 8) || !strncmp(line, "[secret]", 8)) {
			most = n > most ? n : most;
			n = 0;
			++*prompts;
		}
	}
	return most;
}

/*
 * messages = joined (lightdm-gtk-greeter shows only the last message and
 * hides a prompt's label while a message is up): one message before each
 * prompt, ending with the prompt's own text; an error among them makes the
 * whole an error.
 */
static void test_messages_joined(void **state)
{
	struct script s = SCRIPT("1001", "5001", "99999999", "1001", "5001", "11111111", "1", "olanordm");
	unsigned prompts;

	(void)state;
	write_conf("messages = joined\nmax_tries = 2\n");
	authenticate("activate", "activate", NULL, &s);
	expect_log(&s, "[info] Account activation. You need the ID number from your e-mail, your student "
		   "number and your PIN code.\nID number: \n[prompt] ID number: ");
	expect_log(&s, "[error] The details you gave do not match our records. Tries left: 1.\nID number: \n"
		   "[prompt] ID number: ");
	expect_log(&s, "Suggestions:\n  1  ");
	expect_no_log(&s, "session.\nToo many");	/* the closing prompt does not repeat the error */
	if (most_messages_before_a_prompt(s.log, &prompts) > 1)
		fail_msg("more than one message before a prompt:\n%s", s.log);
	assert_true(prompts >= 7);
}

/* on_success=login where the service would start the trigger user's session: refused, and said. */
static void test_on_success_login_refused_for_sshd(void **state)
{
	struct script s = SCRIPT("1001", "5001", "11111111");

	(void)state;
	write_conf("on_success = login\n");
	assert_int_equal(authenticate("sshd", "activate", NULL, &s), PAM_AUTHINFO_UNAVAIL);
	expect_log(&s, "[error] The activation service is not available right now.");
	expect_no_log(&s, "[prompt] ID number");
}

/* Every way a dialogue ends is in the audit trail, with the step it ended at. */
static void test_every_outcome_audited(void **state)
{
	struct script gone = SCRIPT("1001", "5001", "11111111");	/* the script runs out at the password */
	struct script weak = ACTIVATE("1008", "5008", "88888888", "abc", "abc", "abc");
	char extra[PATH_MAX + 64];

	(void)state;
	authenticate("activate", "activate", NULL, &gone);
	authenticate("activate", "activate", NULL, &weak);
	expect_log(&weak, "No password was chosen.");
	put("etc/terms.txt", "Be nice.\n", 0644);
	snprintf(extra, sizeof(extra), "terms_file = %s/root/etc/terms.txt\n", sandbox);
	write_conf(extra);
	{
		struct script no = ACTIVATE("1003", "5003", "33333333", "no");
		struct script cut = SCRIPT("1007", "5007", "77777777");

		sql("UPDATE person SET fee_paid_on = '2026-08-14' WHERE id_number = '1003'");
		sql("UPDATE person SET pin_expires = 4000000000 WHERE id_number = '1007'");
		authenticate("activate", "activate", NULL, &no);
		authenticate("activate", "activate", NULL, &cut);
	}
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'conversation' AND "
				 "result = 'aborted or timed out at the password' AND username = 'olanordm'"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'password' AND result = 'none chosen'"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'terms' AND result = 'declined'"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'conversation' AND "
				 "result = 'aborted or timed out at the terms'"), 1);
}

static void test_on_success_login(void **state)
{
	struct script s = ACTIVATE("1002", "5002", "22222222", "2", "x");
	struct pam_conv conv = { script_conv, &s };
	pam_handle_t *ph = NULL;
	const void *user = NULL;

	(void)state;
	write_conf("on_success = login\n");
	assert_int_equal(pam_start("activate", "activate", &conv, &ph), PAM_SUCCESS);
	assert_int_equal(pam_authenticate(ph, 0), PAM_SUCCESS);
	assert_int_equal(pam_get_item(ph, PAM_USER, &user), PAM_SUCCESS);
	assert_string_equal(user, "aasaodeg");	/* Åsa Ødegård */
	assert_int_equal(pam_acct_mgmt(ph, 0), PAM_SUCCESS);	/* pam_activate ignores the new user */
	pam_end(ph, PAM_SUCCESS);
}

/*
 * on_success=login is the one setting under which the module changes
 * PAM_USER: on every path but a success it must still be the trigger user
 * (authenticate() checks that after each call). Each path once: a wrong
 * PIN, a lock, a conversation that fails or answers NULL, a prerequisite,
 * declined terms, no password, a provisioning failure, a broken set-up,
 * and a reply the helper waits for in vain. (A helper that is missing,
 * crashes or hangs never knows on_success: test_helper_faults_deny.)
 */
static void test_pam_user_kept_on_every_failure_with_login(void **state)
{
	static const struct {
		const char *extra, *service, *replies[8];
		int rc;
	} paths[] = {
		{ "", "activate", { "1001", "5001", "99999999" }, PAM_AUTH_ERR },
		{ "", "activate", { "1001", "5001", R_CONV_FAIL }, PAM_CONV_ERR },
		{ "", "activate", { "1001", R_NULL }, PAM_CONV_ERR },
		{ "", "activate", { "1003", "5003", "33333333", "" }, PAM_AUTH_ERR },	/* fee missing */
		{ "terms", "activate", { "1001", "5001", "11111111", "no" }, PAM_AUTH_ERR },
		{ "", "activate", { "1008", "5008", "88888888", "abc", "abc", "abc" }, PAM_AUTH_ERR },
		{ "uids", "activate", { "1001", "5001", "11111111", "1", "x" }, PAM_AUTHINFO_UNAVAIL },
		{ "no_such_key = 1\n", "activate", { "1001" }, PAM_AUTHINFO_UNAVAIL },
		{ "reply_timeout = 1\n", "activate", { "1001", "5001", "11111111", R_PAUSE }, PAM_AUTH_ERR },
		{ "max_attempts = 1\n", "activate", { "1001", "5001", "99999999" }, PAM_AUTH_ERR },	/* locks */
		{ "max_attempts = 1\n", "activate", { "1001", "5001", "11111111" }, PAM_AUTH_ERR },	/* locked */
	};
	char extra[PATH_MAX + 128];
	int rc;

	(void)state;
	put("etc/terms.txt", "Be nice.\n", 0644);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct script s = { .next = 0 };

		for (size_t j = 0; j < 8 && paths[i].replies[j]; j++)
			s.replies[j] = paths[i].replies[j];
		if (!strcmp(paths[i].extra, "terms"))
			snprintf(extra, sizeof(extra), "on_success = login\nterms_file = %s/root/etc/terms.txt\n", sandbox);
		else
			snprintf(extra, sizeof(extra), "on_success = login\n%s",
				 strcmp(paths[i].extra, "uids") ? paths[i].extra : "");
		if (!strcmp(paths[i].extra, "uids"))	/* the one id there is, taken */
			put("etc/login.defs", "UID_MIN 999\nUID_MAX 999\nGID_MIN 999\nGID_MAX 999\n", 0644);
		write_conf(extra);
		rc = authenticate(paths[i].service, "activate", NULL, &s);
		if (rc != paths[i].rc)
			fail_msg("path %zu: %d, not %d:\n%s", i, rc, paths[i].rc, s.log);
		make_sysroot();
		put("etc/terms.txt", "Be nice.\n", 0644);
	}
	assert_true(sql_int("SELECT locked_until FROM person WHERE id_number = '1001'") > time(NULL));
	assert_int_equal(sql_int("SELECT count(*) FROM person WHERE state = 2"), 1);	/* 1006, from reset() */
}

static void test_username_collision_and_reserved(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");

	(void)state;
	put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nolanordm:x:1500:1500::/home/o:/bin/bash\n", 0644);
	put("etc/group", "root:x:0:\nolanordm:x:1500:\n", 0644);
	put("etc/reserved", "olanord2\n", 0644);
	{
		char extra[PATH_MAX + 64];

		snprintf(extra, sizeof(extra), "reserved_usernames = %s/root/etc/reserved\n", sandbox);
		write_conf(extra);
	}
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Username: olanord3");
	expect_file_has("etc/passwd", "olanord3:x:70000:70000:");
}

static void test_terms_of_use(void **state)
{
	struct script no = ACTIVATE("1001", "5001", "11111111", "no");
	struct script yes = ACTIVATE("1001", "5001", "11111111", "yes", "1", "x");
	char extra[PATH_MAX + 64];

	(void)state;
	put("etc/terms.txt", "Use the machines for your studies. https://example.edu/rules\n", 0644);
	snprintf(extra, sizeof(extra), "terms_file = %s/root/etc/terms.txt\n", sandbox);
	write_conf(extra);
	assert_int_equal(authenticate("activate", "activate", NULL, &no), PAM_AUTH_ERR);
	expect_log(&no, "did not accept the terms");
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 0);
	assert_int_equal(count_lines_with("etc/passwd", "olanordm"), 0);
	assert_int_equal(authenticate("activate", "activate", NULL, &yes), PAM_AUTH_ERR);
	expect_log(&yes, "Your account is ready.");
	assert_true(sql_int("SELECT terms_accepted FROM person WHERE id_number = '1001'") > 0);
	assert_int_equal(sql_int("SELECT length(terms_hash) FROM person WHERE id_number = '1001'"), 64);
}

/*
 * The caller's locale picks the language of the whole dialogue. The test
 * helper's locale directory is the build tree. The second name is one no
 * host has generated: the helper falls back to C.UTF-8 with LANGUAGE.
 */
/* language = nb: Norwegian whatever the caller's environment says (sshd empties it). */
static void test_language_from_the_service(void **state)
{
	struct script s = SCRIPT("1001", "5001", "99999999");

	(void)state;
	write_conf("language = nb\n");
	unsetenv("LANG");
	setenv("LC_ALL", "C", 1);
	authenticate("activate-faults", "activate", NULL, &s);
	unsetenv("LC_ALL");
	expect_log(&s, "[prompt] ID-nummer: ");
	expect_log(&s, "Opplysningene du ga, stemmer ikke med det vi har registrert.");
}

static void test_norwegian(void **state)
{
	static const char *const locales[] = { "nb_NO.UTF-8", "nb_NO.UTF-8@never-generated" };
	char extra[PATH_MAX + 64];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct script wrong = SCRIPT("1001", "5001", "99999999");
		struct script s = ACTIVATE("1001", "5001", "11111111", "ja", "1", "olanordm");
		int rc_wrong, rc;

		reset(NULL);
		put("etc/terms.txt", "Maskinene er til studiebruk.\n", 0644);
		snprintf(extra, sizeof(extra), "terms_file = %s/root/etc/terms.txt\n", sandbox);
		write_conf(extra);
		setenv("LANG", locales[i], 1);
		rc_wrong = authenticate("activate-faults", "activate", NULL, &wrong);
		rc = authenticate("activate-faults", "activate", NULL, &s);
		unsetenv("LANG");
		assert_int_equal(rc_wrong, PAM_AUTH_ERR);	/* max_tries = 1: a failure, never PAM_MAXTRIES */
		expect_log(&wrong, "Aktivering av konto. Du trenger ID-nummeret");
		expect_log(&wrong, "[prompt] ID-nummer: ");
		expect_log(&wrong, "[prompt] Studentnummer: ");
		expect_log(&wrong, "[secret] PIN-kode: ");
		expect_log(&wrong, "Opplysningene du ga, stemmer ikke med det vi har registrert.");
		assert_int_equal(rc, PAM_AUTH_ERR);	/* on_success=deny */
		expect_log(&s, "[prompt] Skriv ja for \xc3\xa5 godta brukervilk\xc3\xa5rene: ");
		expect_log(&s, "Velg et passord. Forslag:");
		expect_log(&s, "Kontoen din er klar.\nBrukernavn: olanordm");
		expect_log(&s, "[prompt] Brukernavnet ditt er olanordm. Skriv det");
		assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 2);
	}
}

static void test_skel_links_fifos_and_hard_links(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char path[PATH_MAX * 2], target[PATH_MAX];
	struct stat st;
	ssize_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/root/etc/skel/secrets", sandbox);
	assert_int_equal(symlink("/etc/shadow", path), 0);
	snprintf(path, sizeof(path), "%s/root/etc/skel/pipe", sandbox);
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/root/etc/skel/.profile", sandbox);
	snprintf(target, sizeof(target), "%s/root/etc/skel/.profile-hardlink", sandbox);
	assert_int_equal(link(path, target), 0);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	snprintf(path, sizeof(path), "%s/root/home/olanordm/secrets", sandbox);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));		/* the link itself, not the file */
	assert_int_equal(st.st_uid, 70000);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/etc/shadow");
	snprintf(path, sizeof(path), "%s/root/home/olanordm/pipe", sandbox);
	assert_int_equal(lstat(path, &st), -1);	/* special files are skipped */
	snprintf(path, sizeof(path), "%s/root/home/olanordm/.profile-hardlink", sandbox);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_nlink, 1);		/* a copy of its own */
	assert_int_equal(st.st_uid, 70000);
}

static void test_uid_range_exhausted(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char *before, *after;

	(void)state;
	put("etc/login.defs", "UID_MIN 70000\nUID_MAX 70001\nGID_MIN 70000\nGID_MAX 70001\n", 0644);
	put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\na:x:70000:70000::/:/bin/sh\nb:x:70001:70001::/:/bin/sh\n", 0644);
	before = slurp("etc/passwd");
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTHINFO_UNAVAIL);
	expect_log(&s, "could not be created");
	after = slurp("etc/passwd");
	assert_string_equal(before, after);
	assert_int_equal(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'"), 0);
	free(before);
	free(after);
}

static void test_interrupted_then_finished(void **state)
{
	struct script done = ACTIVATE("1001", "5001", "11111111", "1", "x");
	pid_t pid = fork();
	int status;

	(void)state;
	if (pid == 0) {	/* the caller dies at the password prompt, after the name is reserved */
		struct script s = SCRIPT("1001", "5001", "11111111", R_DIE);

		try_authenticate("activate", "activate", &s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(wait_helper_gone());
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 1);
	assert_int_equal(authenticate("activate", "activate", NULL, &done), PAM_AUTH_ERR);
	expect_log(&done, "Username: olanordm");
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 1);
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 2);
}

static void test_hook_gets_a_clean_environment(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char hook[PATH_MAX + 16], text[PATH_MAX * 2 + 64], extra[PATH_MAX + 16];
	char *out;

	(void)state;
	snprintf(hook, sizeof(hook), "%s/hook.sh", sandbox);
	snprintf(text, sizeof(text), "#!/bin/sh\nenv > %s/hook.out\n", sandbox);
	tu_write_file(hook, text, strlen(text), 0700);
	snprintf(extra, sizeof(extra), "hook = %s\n", hook);
	write_conf(extra);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	snprintf(text, sizeof(text), "../hook.out");
	out = slurp(text);
	assert_non_null(strstr(out, "ACTIVATE_USERNAME=olanordm\n"));
	assert_non_null(strstr(out, "ACTIVATE_UID=70000\n"));
	assert_non_null(strstr(out, "ACTIVATE_HOME=/home/olanordm\n"));
	assert_non_null(strstr(out, "ACTIVATE_ID_NUMBER=1001\n"));
	assert_null(strstr(out, "11111111"));
	assert_null(strstr(out, "LD_PRELOAD"));
	free(out);
}

/* activatectl init makes the trigger user sshd needs, once. */
static void test_init_creates_trigger_user(void **state)
{
	char cmd[PATH_MAX * 3];

	(void)state;
	put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0644);
	put("etc/shadow", "root:*:19000:0:99999:7:::\n", 0640);
	put("etc/group", "root:x:0:\n", 0644);
	put("etc/gshadow", "root:*::\nactivate:!::\n", 0640);	/* a stray entry: replaced, not doubled */
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s init >/dev/null", builddir, conf);
	assert_int_equal(shell(cmd), 0);
	assert_int_equal(shell(cmd), 0);
	/* a system id from the top of SYS_UID_MAX down, skipping those the host's NSS knows */
	expect_file_has("etc/passwd", ":Account activation:/nonexistent:/usr/sbin/nologin\n");
	expect_file_has("etc/shadow", "\nactivate:!:");
	assert_int_equal(count_lines_with("etc/passwd", "activate:"), 1);
	assert_int_equal(count_lines_with("etc/gshadow", "activate:"), 1);
	expect_pwck_clean();
}

/* NSS knows a user the files do not (nss_wrapper in front of the real helper). */
static void test_name_and_id_known_to_nss(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char dir[PATH_MAX + 8], text[PATH_MAX * 4];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/nss", sandbox);
	mkdir(dir, 0755);
	snprintf(text, sizeof(text), "%s/passwd", dir);
	tu_write_file(text, "root:x:0:0:root:/root:/bin/bash\nolanordm:x:70000:70000::/home/x:/bin/sh\n",
		      strlen("root:x:0:0:root:/root:/bin/bash\nolanordm:x:70000:70000::/home/x:/bin/sh\n"), 0644);
	snprintf(text, sizeof(text), "%s/group", dir);
	tu_write_file(text, "root:x:0:\nolanordm:x:70000:\n", strlen("root:x:0:\nolanordm:x:70000:\n"), 0644);
	assert_int_equal(authenticate("activate-nss", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Username: olanord2");
	expect_file_has("etc/passwd", "olanord2:x:70001:70001:");	/* 70000 is known to NSS */
}

/* A full filesystem: the activation fails cleanly and the old files stay. */
/*
 * NSS knows more ids past UID_MIN than the files hold: the free id is past
 * the first window of candidates (accounts/files.c), and is still found.
 */
static void test_ids_known_to_nss_past_one_window(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char path[PATH_MAX + 16];
	char *passwd = NULL, *group = NULL;
	size_t plen = 0, glen = 0;
	FILE *p = open_memstream(&passwd, &plen), *g = open_memstream(&group, &glen);

	(void)state;
	fputs("root:x:0:0:root:/root:/bin/bash\n", p);
	fputs("root:x:0:\n", g);
	for (int id = 70000; id < 71500; id++) {
		fprintf(p, "ldap%d:x:%d:%d::/home/ldap%d:/bin/sh\n", id, id, id, id);
		fprintf(g, "ldap%d:x:%d:\n", id, id);
	}
	fclose(p);
	fclose(g);
	snprintf(path, sizeof(path), "%s/nss", sandbox);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/nss/passwd", sandbox);
	tu_write_file(path, passwd, plen, 0644);
	snprintf(path, sizeof(path), "%s/nss/group", sandbox);
	tu_write_file(path, group, glen, 0644);
	free(passwd);
	free(group);
	assert_int_equal(authenticate("activate-nss", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Username: olanordm");
	expect_file_has("etc/passwd", "olanordm:x:71500:71500:");
}

static void test_full_filesystem(void **state)
{
	char root[PATH_MAX + 8];
	pid_t pid;
	int status;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", sandbox);
	pid = fork();
	if (pid == 0) {
		struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
		char *before, *after, path[PATH_MAX * 2];
		int fd, rc;

		/* the type is ignored here, but valgrind checks it is a string */
		if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", root, "tmpfs", 0, "size=256k") != 0)
			_exit(10);
		fill_sysroot();
		before = slurp("etc/passwd");
		snprintf(path, sizeof(path), "%s/filler", root);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		while (write(fd, path, strlen(path)) > 0)
			;
		close(fd);
		rc = try_authenticate("activate", "activate", &s);
		after = slurp("etc/passwd");
		snprintf(path, sizeof(path), "%s/etc/passwd+", root);
		rc = rc != PAM_AUTHINFO_UNAVAIL ? 11 : strcmp(before, after) ? 12 : access(path, F_OK) == 0 ? 13
		     : !strstr(s.log, "could not be created") ? 14 : 0;
		free(before);
		free(after);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'"), 0);
}

/* The four account files, whole, one after the other (free the result). */
static char *account_files(void)
{
	static const char *const names[] = { "etc/group", "etc/gshadow", "etc/passwd", "etc/shadow" };
	char *all = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&all, &len);

	for (size_t i = 0; i < 4; i++) {
		char *text = slurp(names[i]);

		fprintf(m, "== %s\n%s", names[i], text);
		free(text);
	}
	fclose(m);
	return all;
}

/*
 * Another process holds lckpwdf() (glibc's own, in a mount namespace where
 * the sandbox's etc is /etc) while a person activates: the helper waits
 * its bound (one second here, through the test helper's lock-wait fault;
 * fifteen in a real one), then says the account could not be created,
 * with nothing changed and the PIN unspent. The same for shadow-utils'
 * NAME.lock of a live process; a dead process's NAME.lock is stale and
 * removed. Once the lock is released, the next attempt succeeds.
 */
static pid_t hold_lckpwdf(int *release)
{
	char etc[PATH_MAX + 8], ok = 0;
	int up[2], down[2];
	pid_t pid;

	snprintf(etc, sizeof(etc), "%s/root/etc", sandbox);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	if (pid == 0) {
		char c = 'L';

		close(up[0]);
		close(down[1]);
		if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount(etc, "/etc", "none", MS_BIND, NULL) != 0 || lckpwdf() != 0)
			_exit(1);
		if (write(up[1], &c, 1) != 1)
			_exit(2);
		while (read(down[0], &c, 1) > 0)	/* until the test closes its end */
			;
		ulckpwdf();
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &ok, 1) != 1 || ok != 'L')
		fail_msg("the child could not take lckpwdf() on the sandbox's /etc");
	close(up[0]);
	*release = down[1];
	return pid;
}

static void expect_locked_out(const char *why)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char *before = account_files(), *after, path[PATH_MAX * 2];
	int rc;

	set_fault("lock-wait:1");
	rc = authenticate("activate-faults", "activate", NULL, &s);
	set_fault(NULL);
	if (rc != PAM_AUTHINFO_UNAVAIL)
		fail_msg("%s: %d, not a failure:\n%s", why, rc, s.log);
	expect_log(&s, "[error] Your account could not be created. Nothing was used up: you can try again.");
	after = account_files();
	assert_string_equal(before, after);
	snprintf(path, sizeof(path), "%s/root/etc/passwd+", sandbox);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/root/etc/passwd.lock", sandbox);
	assert_int_equal(access(path, F_OK), -1);	/* ours, given back */
	assert_int_equal(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'"), 0);
	assert_int_equal(sql_int("SELECT uid IS NULL FROM person WHERE id_number = '1001'"), 1);	/* no intent */
	free(before);
	free(after);
}

static void test_password_files_locked_by_another_program(void **state)
{
	struct script done = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char text[32];
	int release;
	pid_t holder, gone;

	(void)state;
	holder = hold_lckpwdf(&release);
	expect_locked_out("lckpwdf held");
	close(release);
	assert_int_equal(child_rc(holder), 0);
	snprintf(text, sizeof(text), "%d", (int)getpid());	/* a live process: useradd at work */
	put("etc/shadow.lock", text, 0600);
	expect_locked_out("shadow.lock of a live process");
	expect_file_has("etc/shadow.lock", text);	/* someone else's lock: left alone */
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'provision' AND "
				 "result = 'the account files are locked by another program (waited 1 s)'"), 2);
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(child_rc(gone), 0);
	snprintf(text, sizeof(text), "%d", (int)gone);	/* a process that is gone: a stale lock */
	put("etc/shadow.lock", text, 0600);
	assert_int_equal(authenticate("activate", "activate", NULL, &done), PAM_AUTH_ERR);
	expect_log(&done, "Your account is ready.");
	snprintf(text, sizeof(text), "%s/root/etc/shadow.lock", sandbox);
	assert_int_equal(access(text, F_OK), -1);
	assert_true(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") > 0);
	expect_pwck_clean();
}

/* Fill the filesystem of dir to the last block; the filler's path in path. */
static void fill_up(const char *dir, char *path, size_t len)
{
	char block[4096];
	int fd;

	memset(block, 'f', sizeof(block));
	snprintf(path, len, "%s/filler", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
		;
	while (fd >= 0 && write(fd, block, 1) > 0)	/* and the bytes of a last partial block */
		;
	if (fd >= 0)
		close(fd);
}

/* One dialogue in the child of test_database_on_a_full_filesystem: 0, or why not as it must be. */
static int full_db_case(const char *service, struct script *s, int want, const char *needle)
{
	int rc = try_authenticate(service, "activate", s);

	if (rc != want || !strstr(s->log, needle) || strstr(s->log, "Your account is ready")) {
		fprintf(stderr, "%s: %d, not %d with '%s':\n%s\n", service, rc, want, needle, s->log);
		return 1;
	}
	return 0;
}

/*
 * The steps of test_database_on_a_full_filesystem, in its private mount
 * namespace where dir is a tmpfs holding a copy of the database; 0 if
 * each outcome was as it must be, else the step that was not.
 */
static bool file_has(const char *rel, const char *needle)
{
	char *text = slurp(rel);
	bool has = strstr(text, needle) != NULL;

	free(text);
	return has;
}

static int full_db_steps(const char *dir)
{
	struct script first = SCRIPT("1009", "5009", "11111111");
	struct script wrong = SCRIPT("1001", "5001", "99999999");
	struct script right = ACTIVATE("1001", "5001", "11111111", "1", "x");
	struct script mid = ACTIVATE("1001", "5001", "11111111", "1", "x");
	struct script retry = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char filler[PATH_MAX + 16], *before = NULL, *after = NULL;
	int step;
	pid_t pid;

	/* the -wal and -shm exist (made while there was room); then the disk is full */
	step = 20;
	if (full_db_case("activate", &first, PAM_AUTH_ERR, "do not match our records"))
		goto out;
	fill_up(dir, filler, sizeof(filler));
	/* a failure that cannot be counted ends the dialogue: no free tries */
	step = 21;
	if (full_db_case("activate", &wrong, PAM_AUTHINFO_UNAVAIL, "not available right now"))
		goto out;
	before = account_files();
	step = 22;
	if (full_db_case("activate", &right, PAM_AUTHINFO_UNAVAIL, "not available right now"))
		goto out;
	after = account_files();
	step = 23;
	if (strcmp(before, after) != 0 || sql_int("SELECT state * 10 + pin_spent FROM person WHERE id_number = '1001'") != 0)
		goto out;
	/* room for the files and the intent; the disk fills before the person is active */
	unlink(filler);
	set_fault("pause:after-files");
	pid = fork_dialogue("activate-faults", &mid);
	wait_paused();
	fill_up(dir, filler, sizeof(filler));
	set_fault(NULL);
	step = 24;
	if (child_rc(pid) != PAM_AUTHINFO_UNAVAIL)
		goto out;
	step = 25;
	if (!file_has("etc/passwd", "\nolanordm:x:70000:70000:") ||
	    sql_int("SELECT state * 10 + pin_spent FROM person WHERE id_number = '1001'") != 10)
		goto out;
	unlink(filler);
	step = 26;
	if (try_authenticate("activate", "activate", &retry) != PAM_AUTH_ERR || !strstr(retry.log, "Your account is ready."))
		goto out;
	step = 27;
	if (!file_has("etc/shadow", "\nolanordm:$y$") ||
	    sql_int("SELECT state FROM person WHERE id_number = '1001'") != 2 ||
	    sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") <= 0)
		goto out;
	step = 0;
out:
	free(before);
	free(after);
	return step;
}

/*
 * The database on a full filesystem (test_full_filesystem fills the
 * account files' one): a tmpfs over a copy of it, in a private mount
 * namespace. A wrong PIN that cannot be counted is not a free try (the
 * dialogue ends, unavailable); the right one cannot take the person's
 * lease (a row in the store), and nothing is made, the PIN unspent. The disk filling between the account
 * files and the person's activation (a pause of the test helper) fails
 * that attempt with the PIN unspent; with room again the next attempt
 * finishes the account, with a password that works (not the lock a failed
 * activation puts on it).
 */
static void test_database_on_a_full_filesystem(void **state)
{
	char dir[PATH_MAX + 8];
	pid_t pid;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/dbfs", sandbox);
	assert_int_equal(mkdir(dir, 0700), 0);
	pid = fork();
	if (pid == 0) {
		char copy[PATH_MAX + 24], *db;
		size_t len;

		if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") != 0)
			_exit(10);
		db = read_whole(dbpath, &len);	/* no connection is open: the .db alone is the whole */
		snprintf(copy, sizeof(copy), "%s/activate.db", dir);
		tu_write_file(copy, db, len, 0600);
		free(db);
		snprintf(dbpath, sizeof(dbpath), "%s", copy);
		write_conf(NULL);
		_exit(full_db_steps(dir));
	}
	assert_int_equal(child_rc(pid), 0);
	expect_pwck_clean();
}

/* Killed at each step of provisioning (a fault point of the test helper), then done again. */
static void test_killed_at_each_step_then_retried(void **state)
{
	static const char *const steps[] = { "reserved", "before-files", "after-files" };
	char path[PATH_MAX * 2];

	(void)state;
	snprintf(path, sizeof(path), "%s/run/fault", sandbox);
	for (size_t i = 0; i < 3; i++) {
		char id[8], student[8], pin[16], name[16];

		reset(NULL);
		tu_write_file(path, steps[i], strlen(steps[i]), 0600);
		snprintf(id, sizeof(id), "%d", 2001);
		snprintf(student, sizeof(student), "%d", 6001);
		snprintf(pin, sizeof(pin), "90000001");
		{
			struct script s = ACTIVATE(id, student, pin, "1", "x");

			assert_int_equal(authenticate("activate-faults", "activate", NULL, &s), PAM_AUTH_ERR);
			expect_no_log(&s, "Your account is ready");
		}
		assert_int_equal(sql_int("SELECT pin_spent FROM person WHERE id_number = '2001'"), 0);
		unlink(path);
		{
			struct script s = ACTIVATE(id, student, pin, "1", "x");
			int rc = authenticate("activate", "activate", NULL, &s);

			if (rc != PAM_AUTH_ERR) {
				sql("SELECT event, result FROM audit ORDER BY seq DESC LIMIT 3");
				fail_msg("retry after a kill at %s: %d\n%s", steps[i], rc, s.log);
			}
			expect_log(&s, "Your account is ready");
		}
		snprintf(name, sizeof(name), "Crowd Memberab");
		assert_int_equal(count_lines_with("etc/passwd", name), 1);
		assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '2001'"), 2);
		expect_pwck_clean();
	}
}

/* One activation of crowd member k in a child process; its pid. */
static pid_t crowd_child(int k, int delay_ms, bool quiet)
{
	pid_t pid = fork();

	if (pid == 0) {
		char id[16], student[16], pin[16];
		int rc;
		bool ok;

		snprintf(id, sizeof(id), "%d", 2000 + k);
		snprintf(student, sizeof(student), "%d", 6000 + k);
		snprintf(pin, sizeof(pin), "900000%02d", k);
		{
			struct script s = ACTIVATE(id, student, pin, "1", "x");

			usleep((useconds_t)delay_ms * 1000);
			rc = try_authenticate("activate", "activate", &s);
			ok = rc == PAM_AUTH_ERR && strstr(s.log, "Your account is ready");
			if (!ok && !quiet)	/* the parent's log shows it */
				fprintf(stderr, "crowd %d: rc %d\n%s\n", k, rc, s.log);
			_exit(ok ? 0 : 1);
		}
	}
	return pid;
}

static bool child_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Separate processes through pam_wrapper, all at once (15 ms apart: the
 * dialogues all overlap). One that fails is tried again, as a person would:
 * an activation cut short is finished by the next attempt. How many needed
 * that is printed, with the reasons the audit table gives.
 */
static void run_crowd(int n, bool same_person)
{
	pid_t pids[64];
	bool done[64];
	int retried = 0;

	for (int i = 0; i < n; i++)
		pids[i] = crowd_child(same_person ? 1 : i + 1, i * 15, same_person);
	for (int i = 0; i < n; i++)
		done[i] = child_ok(pids[i]);
	for (int i = 0; i < n && !same_person; i++)
		for (int again = 0; again < 2 && !done[i]; again++) {
			retried++;
			done[i] = child_ok(crowd_child(i + 1, 0, false));
		}
	if (retried) {
		print_message("%d of %d activations needed another attempt; why, from the audit table:\n",
			      retried, n);
		sql("SELECT person, username, result FROM audit WHERE event = 'provision' ORDER BY seq");
	}
	for (int i = 0; i < n && !same_person; i++)
		if (!done[i])
			fail_msg("activation %d of %d failed, twice retried", i + 1, n);
}

static void test_32_at_once(void **state)
{
	char q[64];

	(void)state;
	write_conf("max_concurrent_hashes = 2\n");
	run_crowd(CROWD, false);
	assert_int_equal(count_lines_with("etc/passwd", ":Crowd Member"), CROWD);
	assert_int_equal(sql_int("SELECT count(DISTINCT uid) FROM person WHERE state = 2"), CROWD);
	snprintf(q, sizeof(q), "SELECT count(*) FROM person WHERE state = 2 AND uid >= 70000");
	assert_int_equal(sql_int(q), CROWD);
	expect_pwck_clean();
}

static void test_8_at_once_same_person(void **state)
{
	(void)state;
	run_crowd(8, true);
	assert_int_equal(count_lines_with("etc/passwd", "Crowd Memberab"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM person WHERE state = 2 AND id_number > '2'"), 1);
	expect_pwck_clean();
}

/*
 * Race: a nightly import (2 000 new people with PINs to hash, and new
 * programmes for the crowd) while 20 of the crowd activate. Every
 * activation keeps its username and state, and every roster change lands.
 */
static void test_import_while_20_activate(void **state)
{
	char path[PATH_MAX * 2], cmd[PATH_MAX * 4];
	FILE *f;
	pid_t import;

	(void)state;
	write_conf("max_concurrent_hashes = 2\n");
	snprintf(path, sizeof(path), "%s/root/nightly.csv", sandbox);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin\n", f);
	for (int i = 1; i <= 20; i++)
		fprintf(f, "%d,%d,Crowd,Member%c%c,student,Physics,2026-08-14,\n", 2000 + i, 6000 + i, 'a' + i / 26,
			'a' + i % 26);
	for (int i = 1; i <= 2000; i++)
		fprintf(f, "%d,%d,New,Person,student,Maths,2026-08-14,7%07d\n", 30000 + i, 40000 + i, i);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s import --jobs 1 %s >/dev/null", builddir, conf, path);
	import = fork();
	if (import == 0)
		_exit(shell(cmd) == 0 ? 0 : 1);
	run_crowd(20, false);
	assert_true(child_ok(import));
	assert_int_equal(sql_int("SELECT count(*) FROM person WHERE id_number BETWEEN '2001' AND '2020' AND "
				 "state = 2 AND username IS NOT NULL AND programme = 'Physics'"), 20);
	assert_int_equal(sql_int("SELECT count(*) FROM person WHERE id_number >= '30001'"), 2000);
	assert_int_equal(count_lines_with("etc/passwd", ":Crowd Member"), 20);
	expect_pwck_clean();
}

/* An activatectl command in the background, started while a dialogue is paused mid-commit. */
static pid_t ctl_in_background(const char *args)
{
	char cmd[PATH_MAX * 3];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s %s >/dev/null 2>&1", builddir, conf, args);
	pid = fork();
	if (pid == 0)
		_exit(shell(cmd) == 0 ? 0 : 1);
	return pid;
}

/* Race: rename and revoke wait for the activation holding the person, then act on the finished account. */
static void test_rename_and_revoke_mid_activation(void **state)
{
	static const char *const commands[] = { "rename 1001 olanord2", "revoke 1001" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
		pid_t dialogue, admin;

		reset(NULL);
		set_fault("pause:after-files");
		dialogue = fork_dialogue("activate-faults", &s);
		wait_paused();
		admin = ctl_in_background(commands[i]);
		usleep(300000);	/* it is waiting for the person's lock now */
		set_fault(NULL);
		assert_int_equal(child_rc(dialogue), PAM_AUTH_ERR);
		assert_true(child_ok(admin));
		expect_pwck_clean();
		if (i == 0) {
			assert_int_equal(count_lines_with("etc/passwd", "\nolanord2:x:70000:70000:"), 1);
			assert_int_equal(count_lines_with("etc/passwd", "olanordm"), 0);
			assert_int_equal(sql_int("SELECT state FROM person WHERE username = 'olanord2'"), 2);
		} else {
			expect_file_has("etc/shadow", "\nolanordm:!$");
			assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 3);
		}
	}
}

/*
 * Finding 2: the disk fills in the middle of the commit (group and
 * gshadow written, passwd+ cannot be), which used to wedge the person for
 * good ("group exists without a user"). With space again, the next
 * attempt finishes the account.
 */
static void test_disk_full_mid_commit_then_retried(void **state)
{
	char root[PATH_MAX + 8];
	pid_t pid;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", sandbox);
	pid = fork();
	if (pid == 0) {
		struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
		struct script again = ACTIVATE("1001", "5001", "11111111", "1", "x");
		char path[PATH_MAX * 2], *passwd = NULL, block[4096];
		size_t len = 0;
		FILE *m = open_memstream(&passwd, &len);
		int fd, rc;

		if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", root, "tmpfs", 0, "size=512k") != 0)
			_exit(10);
		fill_sysroot();
		fputs("root:x:0:0:root:/root:/bin/bash\nactivate:x:999:999:Account activation:/:/usr/sbin/nologin\n", m);
		for (int i = 0; i < 2000; i++)	/* passwd+ needs about 20 pages, group+ one */
			fprintf(m, "sys%d:x:%d:%d::/:/usr/sbin/nologin\n", i, 1000 + i, 1000 + i);
		fclose(m);
		put("etc/passwd", passwd, 0644);
		memset(block, 'f', sizeof(block));
		snprintf(path, sizeof(path), "%s/filler", root);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		while (write(fd, block, sizeof(block)) > 0)
			;
		if (ftruncate(fd, lseek(fd, 0, SEEK_CUR) - 6 * 4096) != 0)	/* room for group+, gshadow+ and the locks */
			_exit(15);
		close(fd);
		rc = try_authenticate("activate", "activate", &s);
		if (rc != PAM_AUTHINFO_UNAVAIL || !strstr(s.log, "could not be created"))
			_exit(11);
		{	/* the state that used to wedge: the group, no user */
			char *group = slurp("etc/group"), *users = slurp("etc/passwd");

			rc = !strstr(group, "\nolanordm:x:70000:") || strstr(users, "olanordm");
			free(group);
			free(users);
			if (rc)
				_exit(12);
		}
		free(passwd);
		unlink(path);
		rc = try_authenticate("activate", "activate", &again);
		passwd = slurp("etc/passwd");
		rc = rc != PAM_AUTH_ERR ? 13 : !strstr(again.log, "Your account is ready") ? 14
		     : !strstr(passwd, "\nolanordm:x:70000:70000:") ? 15 : 0;
		free(passwd);
		_exit(rc);
	}
	assert_int_equal(child_rc(pid), 0);
	assert_true(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") > 0);
}

/*
 * The model's finding: an activation killed right after recording its
 * intent holds its uid although no file has it yet; another person's
 * activation must not take that uid, and the retry gets it.
 */
static void test_intent_holds_its_ids(void **state)
{
	struct script killed = ACTIVATE("1001", "5001", "11111111", "1", "x");
	struct script other = ACTIVATE("1008", "5008", "88888888", "1", "x");
	struct script retry = ACTIVATE("1001", "5001", "11111111", "1", "x");

	(void)state;
	set_fault("intent");
	assert_int_equal(authenticate("activate-faults", "activate", NULL, &killed), PAM_AUTH_ERR);
	set_fault(NULL);
	assert_int_equal(sql_int("SELECT uid FROM person WHERE id_number = '1001'"), 70000);
	assert_int_equal(count_lines_with("etc/passwd", ":70000:"), 0);
	assert_int_equal(authenticate("activate", "activate", NULL, &other), PAM_AUTH_ERR);
	expect_log(&other, "Your account is ready.");
	assert_int_equal(sql_int("SELECT uid FROM person WHERE id_number = '1008'"), 70001);
	assert_int_equal(authenticate("activate", "activate", NULL, &retry), PAM_AUTH_ERR);
	expect_log(&retry, "Your account is ready.");
	expect_file_has("etc/passwd", "\nolanordm:x:70000:70000:");
	expect_pwck_clean();
}

/* --- an adversarial host ------------------------------------------------------ */

/*
 * The database replaced by a symbolic link between two activations (a
 * valid database, moved away), and so each of its -wal and -shm: the
 * helper refuses to open it, the person is told the service is not
 * available, and the file the link points to is not written.
 */
static void test_database_replaced_by_a_symlink(void **state)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	struct script first = SCRIPT("1001", "5001", "99999999");
	struct script last = ACTIVATE("1001", "5001", "11111111", "1", "x");

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &first), PAM_AUTH_ERR);
	for (size_t i = 0; i < 3; i++) {
		struct script s = SCRIPT("1001", "5001", "11111111");
		char path[PATH_MAX + 8], target[PATH_MAX + 24], *before, *after;
		size_t blen, alen;

		snprintf(path, sizeof(path), "%s%s", dbpath, suffix[i]);
		snprintf(target, sizeof(target), "%s/elsewhere%s", sandbox, suffix[i]);
		if (i == 0)
			assert_int_equal(rename(path, target), 0);
		else {
			tu_write_file(target, "not a journal\n", 14, 0600);
			unlink(path);	/* no connection is open: nothing is lost */
		}
		before = read_whole(target, &blen);
		assert_int_equal(symlink(target, path), 0);
		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTHINFO_UNAVAIL);
		expect_log(&s, "[error] The activation service is not available right now.");
		expect_no_log(&s, "[prompt]");
		after = read_whole(target, &alen);
		if (alen != blen || memcmp(before, after, blen) != 0)
			fail_msg("%s: written through the symbolic link", path);
		assert_int_equal(unlink(path), 0);
		if (i == 0)
			assert_int_equal(rename(target, path), 0);
		free(before);
		free(after);
	}
	assert_int_equal(failures("1001"), 1001);	/* the first attempt's; the refused ones counted nothing */
	assert_int_equal(authenticate("activate", "activate", NULL, &last), PAM_AUTH_ERR);
	expect_log(&last, "Your account is ready.");
}

/* The NUL-separated entries of /proc/PID/FILE, each followed by a newline (free the result). */
static char *proc_text(pid_t pid, const char *file)
{
	char path[64], *text;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	text = read_whole(path, &len);
	for (size_t i = 0; i < len; i++)
		if (!text[i])
			text[i] = '\n';
	return text;
}

static void set_caller_env(const char *evil)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", evil);
	setenv("PATH", path, 1);
	setenv("HOME", "/nonexistent", 1);
	setenv("IFS", "/", 1);
	setenv("LANG", "xx_YY.bogus", 1);
	setenv("LANGUAGE", "../../../../evil", 1);
	setenv("LD_PRELOAD", NSS_WRAPPER_LIB, 1);
	setenv("LD_LIBRARY_PATH", evil, 1);
}

/*
 * A hostile caller's environment: PATH first through a folder of fake
 * programs, HOME nowhere, IFS=/, a locale no host has, a LANGUAGE that is
 * a path, LD_PRELOAD of a library the helper never loads, LD_LIBRARY_PATH
 * to a folder whose libc and libsqlite3 are not libraries. The helper
 * (read in /proc while it waits at a fault point) gets the fixed PATH and
 * the locale's name and nothing else, loads nothing of it, and works in
 * / rather than the caller's directory; the hook sees none of it; no fake
 * program runs; the activation goes through, in English.
 */
/* What valgrind.sh's valgrind adds to each process it follows, the helper too: not the caller's. */
static bool from_valgrind(const char *line)
{
	if (!getenv("VALGRIND_LIB"))
		return false;
	return !strncmp(line, "VALGRIND_", 9) ||
	       (!strncmp(line, "LD_PRELOAD=", 11) && strstr(line, "/valgrind/") && !strchr(line, ':') &&
		!strchr(line, ' '));
}

static void test_hostile_caller_environment(void **state)
{
	static const char *const fakes[] = { "sh", "env", "nscd", "sss_cache", "useradd", "cp", "mkdir", "chown" };
	static const char *const names[] = { "PATH", "HOME", "IFS", "LANG", "LANGUAGE", "LD_PRELOAD", "LD_LIBRARY_PATH" };
	static const char *const allowed[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=xx_YY.bogus" };
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char evil[PATH_MAX + 8], path[PATH_MAX * 2], text[PATH_MAX * 3], cwd[PATH_MAX], *saved[7], *environ_, *maps, *out, *log;
	pid_t child, helper;
	ssize_t n;

	(void)state;
	snprintf(evil, sizeof(evil), "%s/evil", sandbox);
	mkdir(evil, 0755);
	for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", evil, fakes[i]);
		snprintf(text, sizeof(text), "#!/bin/sh\necho %s >>%s/evil-ran\n", fakes[i], sandbox);
		tu_write_file(path, text, strlen(text), 0755);
	}
	snprintf(path, sizeof(path), "%s/libc.so.6", evil);
	tu_write_file(path, "not a library\n", 14, 0755);
	snprintf(path, sizeof(path), "%s/libsqlite3.so.0", evil);
	tu_write_file(path, "not a library\n", 14, 0755);
	snprintf(path, sizeof(path), "%s/hook.sh", sandbox);
	snprintf(text, sizeof(text), "#!/bin/sh\nenv >%s/hook.out\n", sandbox);
	tu_write_file(path, text, strlen(text), 0700);
	snprintf(text, sizeof(text), "hook = %s\n", path);
	write_conf(text);
	for (size_t i = 0; i < 7; i++)
		saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
	set_fault("pause:verified");
	set_caller_env(evil);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(evil), 0);
	child = fork_dialogue("activate-faults", &s);
	assert_int_equal(chdir(cwd), 0);
	for (size_t i = 0; i < 7; i++) {	/* the test's own shell() and pwck must not meet it */
		if (saved[i])
			setenv(names[i], saved[i], 1);
		else
			unsetenv(names[i]);
		free(saved[i]);
	}
	wait_paused();
	helper = helper_pid();
	assert_true(helper > 0);
	environ_ = proc_text(helper, "environ");
	maps = proc_text(helper, "maps");
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)helper);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	assert_true(n > 0);
	cwd[n] = '\0';
	assert_string_equal(cwd, "/");	/* not the caller's */
	set_fault(NULL);
	assert_int_equal(child_rc(child), PAM_AUTH_ERR);
	log = slurp("../child.log");
	if (!strstr(log, "Your account is ready.\nUsername: olanordm"))
		fail_msg("no activation, in English:\n%s", log);
	for (char *line = environ_, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		bool ok = false;

		*nl = '\0';
		for (size_t i = 0; i < 2; i++)
			ok = ok || !strcmp(line, allowed[i]);
		ok = ok || from_valgrind(line);
		if (!ok)
			fail_msg("the helper's environment has %s", line);
	}
	if (strstr(maps, "nss_wrapper") || strstr(maps, evil))
		fail_msg("the helper loaded the caller's library:\n%s", maps);
	out = slurp("../hook.out");
	assert_non_null(strstr(out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
	assert_non_null(strstr(out, "ACTIVATE_USERNAME=olanordm\n"));
	assert_non_null(strstr(out, "\nPWD=/\n"));
	if (strstr(out, "\nHOME=") || strstr(out, "IFS=") || strstr(out, "LD_") || strstr(out, "LANG") || strstr(out, evil))
		fail_msg("the hook's environment has the caller's:\n%s", out);
	snprintf(path, sizeof(path), "%s/evil-ran", sandbox);
	if (access(path, F_OK) == 0)
		fail_msg("a program of the caller's PATH ran:\n%s", slurp("../evil-ran"));
	free(environ_);
	free(maps);
	free(out);
	free(log);
}

/* The permission bits of sandbox/rel (lstat: a link is not followed). */
static unsigned mode_of(const char *rel)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", sandbox, rel);
	if (lstat(path, &st) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	return (unsigned)(st.st_mode & 07777);
}

static void expect_mode(const char *rel, unsigned want, mode_t mask)
{
	unsigned got = mode_of(rel);

	if (got != want)
		fail_msg("umask %03o: %s is %04o, not %04o", (unsigned)mask, rel, got, want);
}

/*
 * The caller's umask, 000 or 077, changes no mode: the account files and
 * their backups, the lock, the home and what skel put in it, the
 * database's -wal and -shm and the run directory the helper makes, and,
 * with activatectl run under the same umask, a new database, its
 * directory, the pepper and a PIN file.
 */
static void test_caller_umask_changes_no_mode(void **state)
{
	static const mode_t masks[] = { 0, 077 };
	static const struct {
		const char *rel;
		unsigned mode;
	} want[] = {
		{ "root/etc/passwd", 0644 }, { "root/etc/group", 0644 }, { "root/etc/shadow", 0640 },
		{ "root/etc/gshadow", 0640 }, { "root/etc/passwd-", 0644 }, { "root/etc/shadow-", 0640 },
		{ "root/etc/group-", 0644 }, { "root/etc/gshadow-", 0640 }, { "root/etc/.pwd.lock", 0600 },
		{ "root/home/olanordm", 0700 }, { "root/home/olanordm/.profile", 0644 },
		{ "root/home/olanordm/.config", 0755 }, { "root/home/olanordm/.config/app.conf", 0600 },
		{ "activate.db", 0600 }, { "activate.db-wal", 0600 }, { "activate.db-shm", 0600 },
		{ "run", 0700 }, { "run/hash-slots", 0600 }, { "run/person-1.lock", 0600 },
		{ "fresh", 0700 }, { "fresh/db", 0700 }, { "fresh/db/activate.db", 0600 }, { "fresh/pepper", 0400 },
		{ "fresh/pins.csv", 0600 },
	};

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
		char path[PATH_MAX * 2], cmd[PATH_MAX * 4];
		mode_t old;

		reset(NULL);
		snprintf(cmd, sizeof(cmd), "rm -rf %s/run %s/fresh %s-wal %s-shm", sandbox, sandbox, dbpath, dbpath);
		assert_int_equal(shell(cmd), 0);
		snprintf(path, sizeof(path), "%s/fresh", sandbox);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/fresh/conf", sandbox);
		snprintf(cmd, sizeof(cmd), "database = %s/fresh/db/activate.db\npepper_file = %s/fresh/pepper\n"
			 "sysroot = %s/root\nrun_dir = %s/fresh/run\npin_hash_cost = min\n", sandbox, sandbox, sandbox,
			 sandbox);
		tu_write_file(path, cmd, strlen(cmd), 0600);
		old = umask(masks[m]);
		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
		snprintf(cmd, sizeof(cmd), "umask %03o && %s/activatectl --config %s init >/dev/null && "
			 "%s/activatectl --config %s add --id-number 7 --student-number 8 --given-name A "
			 "--family-name B >/dev/null && %s/activatectl --config %s issue 7 --output %s/fresh/pins.csv "
			 ">/dev/null 2>&1", (unsigned)masks[m], builddir, path, builddir, path, builddir, path, sandbox);
		assert_int_equal(shell(cmd), 0);
		umask(old);
		expect_log(&s, "Your account is ready.");
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			expect_mode(want[i].rel, want[i].mode, masks[m]);
	}
}

/* The clock of service activate-clock's helpers: starting at when (UTC), and running. */
static void set_clock(time_t when)
{
	char path[PATH_MAX], text[64];
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(text, sizeof(text), "@%Y-%m-%d %H:%M:%S\n", &tm);
	tu_path(path, sizeof(path), sandbox, "faketime");
	tu_write_file(path, text, strlen(text), 0600);
}

static void expect_locked_at(time_t when)
{
	struct script s = SCRIPT("1001", "5001", "11111111");

	set_clock(when);
	assert_int_equal(authenticate("activate-clock", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Too many failed attempts. Try again after");
	expect_no_log(&s, "username will be");
}

/*
 * The clock set back a day during a lock (libfaketime in the helper): the
 * lock neither ends early (it holds right after, and half its length
 * later) nor lasts until the clock catches up, a day later: it counts
 * from when a dialogue first saw it begin in the future (audited once),
 * and ends one lock after that. The audit trail still verifies.
 */
static void test_clock_set_back_a_day_during_a_lock(void **state)
{
	time_t t0 = time(NULL), back = t0 - 86400 + 120;
	struct script after = SCRIPT("1001", "5001", "11111111");
	char cmd[PATH_MAX * 3];

	(void)state;
	write_conf("max_attempts = 2\nlock_time = 3600\n");
	set_clock(t0);
	for (int i = 0; i < 2; i++) {
		struct script s = SCRIPT("1001", "5001", "99999999");

		assert_int_equal(authenticate("activate-clock", "activate", NULL, &s), PAM_AUTH_ERR);
	}
	assert_in_range(sql_int("SELECT locked_until FROM person WHERE id_number = '1001'"), t0 + 3600, t0 + 3610);
	expect_locked_at(t0 + 60);
	expect_locked_at(back);	/* a minute or two into the lock, the clock goes back a day */
	assert_in_range(sql_int("SELECT locked_until FROM person WHERE id_number = '1001'"), back + 3600, back + 3610);
	expect_locked_at(back + 1800);
	set_clock(back + 3600 + 20);	/* one lock after the clock went back: over */
	assert_int_equal(authenticate("activate-clock", "activate", NULL, &after), PAM_CONV_ERR);
	expect_log(&after, "Your username will be olanordm.");
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'verify' AND result = 'failed'"), 2);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'verify' AND result = 'locked'"), 3);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'lock' AND person = 1"), 1);
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s audit --verify >/dev/null", builddir, conf);
	assert_int_equal(shell(cmd), 0);
}

static bool held_back_at(time_t when, const char *rhost)
{
	struct script s = SCRIPT("1001", "5001", "11111111");

	set_clock(when);
	authenticate("activate-clock", "activate", rhost, &s);
	return strstr(s.log, "from your network address") != NULL;
}

/*
 * The same for the per-address throttle: an address held back when the
 * clock goes back a day stays held back (right after, and half a window
 * later), and is let in one window after the clock moved, not a day.
 */
static void test_clock_set_back_a_day_during_a_throttle(void **state)
{
	static const char *const rhost = "198.51.100.9";
	time_t t0 = time(NULL), back = t0 - 86400 + 60;

	(void)state;
	write_conf("throttle_failures = 2\nthrottle_window = 600\n");
	set_clock(t0);
	for (int i = 0; i < 2; i++) {
		struct script s = SCRIPT("1009", "5009", "99999999");

		assert_int_equal(authenticate("activate-clock", "activate", rhost, &s), PAM_AUTH_ERR);
	}
	assert_true(held_back_at(t0 + 30, rhost));
	assert_true(held_back_at(back, rhost));
	assert_true(held_back_at(back + 300, rhost));
	assert_false(held_back_at(back + 600 + 20, rhost));
	assert_int_equal(sql_int("SELECT count(*) FROM throttle WHERE at > strftime('%s','now') - 3600"), 0);
}

/* --- ordinary users --------------------------------------------------------- */

static void test_ordinary_user_passes_through(void **state)
{
	static const char *const services[] = { "chain", "chain-broken", "chain-nodb" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		const char *pw[] = { "secret", NULL };
		struct pamtest_conv_data data = { .in_echo_off = pw };
		struct pam_testcase tests[] = {
			pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
			pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		};

		if (run_pamtest(services[i], "ordinary", &data, tests, NULL) != PAMTEST_ERR_OK)
			fail_msg("%s: ordinary user did not get through", services[i]);
	}
}

static void test_trigger_denied_by_account(void **state)
{
	const char *none[] = { NULL };
	struct pamtest_conv_data data = { .in_echo_on = none, .in_echo_off = none };
	struct pam_testcase tests[] = { pam_test(PAMTEST_ACCOUNT, PAM_PERM_DENIED) };

	(void)state;
	assert_int_equal(run_pamtest("activate", "activate", &data, tests, NULL), PAMTEST_ERR_OK);
}

static void test_broken_setup_fails_closed_for_trigger(void **state)
{
	struct script s = SCRIPT("1001", "5001", "11111111");

	(void)state;
	write_conf("no_such_key = 1\n");
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTHINFO_UNAVAIL);
	expect_log(&s, "not available right now");
	expect_no_log(&s, "[prompt]");
}

/* A PostgreSQL store nobody answers on: the person is told, and the helper gives up at once. */
static void test_store_unreachable_is_unavailable(void **state)
{
	struct script s = SCRIPT("1001", "5001", "11111111");
	char text[4 * PATH_MAX];

	(void)state;
	snprintf(text, sizeof(text), "database = postgresql:///activate?host=%s/no-server&port=1\n"
		 "pepper_file = %s/pepper\nrun_dir = %s/run\nsysroot = %s/root\n", sandbox, sandbox, sandbox, sandbox);
	tu_write_file(conf, text, strlen(text), 0600);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTHINFO_UNAVAIL);
	expect_log(&s, "[error] The activation service is not available right now.");
	expect_no_log(&s, "[prompt]");
}

/* --- the helper misbehaving --------------------------------------------------- */

/* The pid of a helper of this sandbox that is running, or 0. */
static pid_t helper_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;
	pid_t pid = 0;

	while (d && (e = readdir(d)) && !found) {
		char path[300], buf[4096] = "";
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		found = n > 0 && strstr(buf, "activate-helper") && strstr(buf, sandbox);
		if (found)
			pid = (pid_t)atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return pid;
}

static bool helper_running(void)
{
	return helper_pid() > 0;
}

static bool wait_helper_gone(void)
{
	for (int i = 0; i < 300; i++) {
		if (!helper_running())
			return true;
		usleep(10000);
	}
	return false;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_helper_faults_deny(void **state)
{
	static const char *const modes[] = {
		"fake-exit", "fake-crash", "fake-hang", "fake-malformed", "fake-nul", "fake-oversized",
		"fake-badresult", "fake-reply", "fake-missing",
	};
	int fds = open_fds();

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct script s = SCRIPT("1001");
		int status;

		if (authenticate(modes[i], "activate", NULL, &s) == PAM_SUCCESS)
			fail_msg("%s: not denied", modes[i]);
		expect_log(&s, "[error] The activation service is not available right now.");	/* not a silent stop */
		assert_int_equal(waitpid(-1, &status, WNOHANG), -1);	/* no child, no zombie */
		assert_int_equal(errno, ECHILD);
	}
	assert_int_equal(open_fds(), fds);
	{	/* a well-formed result is still mapped: the new user goes on */
		struct script s = SCRIPT("1001");

		assert_int_equal(authenticate("fake-success", "activate", NULL, &s), PAM_SUCCESS);
	}
}

static void test_application_killed_mid_dialogue(void **state)
{
	static const char *const scripts[2][4] = {
		{ R_DIE, NULL },
		{ "1001", "5001", R_DIE, NULL },
	};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			struct script s = { .next = 0 };

			for (size_t j = 0; scripts[i][j]; j++)
				s.replies[j] = scripts[i][j];
			try_authenticate("activate", "activate", &s);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		if (!wait_helper_gone())
			fail_msg("the helper is still running after its caller died");
	}
	assert_int_equal(failures("1001"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'conversation'"), 2);
	assert_int_equal(sql_int("SELECT count(*) FROM person WHERE state != 0 AND id_number < '1005'"), 0);
}

/*
 * Not root: fail closed. Runs this binary again as nobody, through PAM,
 * with copies of it and of the two objects where nobody can read them (the
 * build may sit under /root). The binary's copy is not in the service
 * directory, which pam_wrapper copies at every set-up.
 */
static void test_not_root_fails_closed(void **state)
{
	char cmd[PATH_MAX * 4], bindir[PATH_MAX], copy[PATH_MAX + 16];
	pid_t pid;
	int status;

	(void)state;
	snprintf(cmd, sizeof(cmd), "install -m 0755 %s/.libs/pam_activate.so %s/.libs/pam_activate_relay.so %s/",
		 builddir, builddir, svcdir);
	assert_int_equal(shell(cmd), 0);
	tu_tmpdir(bindir, sizeof(bindir));
	assert_int_equal(chmod(bindir, 0755), 0);
	snprintf(cmd, sizeof(cmd), "install -m 0755 %s %s/test_module", self, bindir);
	assert_int_equal(shell(cmd), 0);
	tu_path(copy, sizeof(copy), bindir, "test_module");
	pid = fork();
	if (pid == 0) {
		unsetenv("PAM_WRAPPER_RUNTIME_DIR");	/* nobody cannot write in the sandbox */
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(90);
		execl(copy, "test_module", "--as-nobody", (char *)NULL);
		_exit(91);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	tu_rm_rf(bindir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), PAM_AUTHINFO_UNAVAIL);
}

static int as_nobody(void)
{
	struct script s = SCRIPT("1001", "5001", "11111111");
	struct pam_conv conv = { script_conv, &s };
	pam_handle_t *ph = NULL;
	int rc;

	if (pam_start("activate-nobody", "activate", &conv, &ph) != PAM_SUCCESS)
		return 99;
	rc = pam_authenticate(ph, 0);
	pam_end(ph, rc);
	return rc;
}

/* --- set-up ----------------------------------------------------------------- */

/* --- the protocol: each finding of the review, as a test ------------------ */

static void run_dir_file(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/run/%s", sandbox, name);
}

/* Wait (10 s at most) until a helper paused at a fault point says so. */
static void wait_paused(void)
{
	char path[PATH_MAX];

	run_dir_file("paused", path, sizeof(path));
	for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
		usleep(10000);
	if (access(path, F_OK) != 0) {
		char *log = slurp("../child.log");

		fail_msg("the helper never reached its pause:\n%s", log);
	}
}

static void set_fault(const char *text)
{
	char path[PATH_MAX];

	mkdir_root("../run", 0700);
	run_dir_file("fault", path, sizeof(path));
	if (text)
		tu_write_file(path, text, strlen(text), 0600);
	else
		unlink(path);
}

static pid_t fork_dialogue(const char *service, struct script *s)
{
	pid_t pid = fork();

	if (pid == 0) {
		int rc = try_authenticate(service, "activate", s);
		char path[PATH_MAX];

		tu_path(path, sizeof(path), sandbox, "child.log");
		tu_write_file(path, s->log, strlen(s->log), 0600);
		_exit(rc & 0x7f);
	}
	return pid;
}

static int child_rc(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Finding 7: two dialogues with one PIN. The second verified before the
 * first spent the PIN and waits (paused) between verification and the
 * per-person lock; when it goes on, the row it re-reads under the lock says
 * the PIN is spent: the password changes once.
 */
static void test_one_pin_changes_the_password_once(void **state)
{
	struct script first = ACTIVATE("1001", "5001", "11111111", "1", "olanordm");
	char pin[32], *after_a, *after_b;
	pid_t late;

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &first), PAM_AUTH_ERR);
	issue_pin("1001", pin, sizeof(pin));
	{
		struct script b = SCRIPT("1001", "5001", pin, "Vesle-Troika-Maane-43", "Vesle-Troika-Maane-43", "x");
		struct script a = SCRIPT("1001", "5001", pin, "Vesle-Troika-Maane-42", "Vesle-Troika-Maane-42", "x");

		set_fault("pause:verified");
		late = fork_dialogue("activate-faults", &b);
		wait_paused();
		assert_int_equal(authenticate("activate", "activate", NULL, &a), PAM_AUTH_ERR);
		expect_log(&a, "Your new password is set.");
		after_a = slurp("etc/shadow");
		set_fault(NULL);
		assert_int_equal(child_rc(late), PAM_AUTH_ERR);
	}
	after_b = slurp("etc/shadow");
	assert_string_equal(after_a, after_b);
	assert_true(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") > 0);
	free(after_a);
	free(after_b);
}

/* A dialogue on machine 1 (the test helper), paused just after it reserved the person's username. */
static pid_t paused_after_reservation(struct script *s)
{
	pid_t pid;

	set_fault("pause:reserved");
	pid = fork_dialogue("activate-faults", s);
	wait_paused();
	return pid;
}

/*
 * ...killed there with SIGKILL: its flock goes, its lease stays. It cannot
 * say it has gone on from its pause, so the test clears that mark.
 */
static void kill_paused_dialogue(pid_t dialogue)
{
	char path[PATH_MAX];
	pid_t pid = helper_pid();

	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	run_dir_file("paused", path, sizeof(path));
	unlink(path);
	child_rc(dialogue);
	set_fault(NULL);
}

/*
 * Two machines on one store. A dialogue paused after its reservation on
 * machine 1 holds the person on machine 2 too; killed there, its lease
 * keeps machine 2 waiting until it expires, while machine 1 (whose flock
 * says the holder is gone) takes the person over at once and finishes.
 */
static void test_lease_holds_across_machines(void **state)
{
	struct script first = ACTIVATE("1001", "5001", "11111111", "1", "x");
	struct script m2 = SCRIPT("1001", "5001", "11111111", "x");
	struct script m2_again = SCRIPT("1001", "5001", "11111111", "x");
	struct script m1_retry = ACTIVATE("1001", "5001", "11111111", "1", "x");
	pid_t pid;

	(void)state;
	pid = paused_after_reservation(&first);
	assert_int_equal(authenticate("activate-host2", "activate", NULL, &m2), PAM_AUTH_ERR);
	expect_log(&m2, "An activation of your account is already in progress.");
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 1);
	kill_paused_dialogue(pid);
	assert_int_equal(authenticate("activate-host2", "activate", NULL, &m2_again), PAM_AUTH_ERR);
	expect_log(&m2_again, "already in progress");
	assert_int_equal(authenticate("activate", "activate", NULL, &m1_retry), PAM_AUTH_ERR);
	expect_log(&m1_retry, "Your account is ready.");
	assert_int_equal(sql_int("SELECT count(*) FROM person_lease"), 0);
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 1);
	expect_pwck_clean();
}

/* ...and once the killed holder's lease has expired, machine 2 takes the person over and finishes. */
static void test_expired_lease_taken_over_by_another_machine(void **state)
{
	struct script first = ACTIVATE("1001", "5001", "11111111", "1", "x");
	struct script m2 = ACTIVATE("1001", "5001", "11111111", "1", "x");

	(void)state;
	kill_paused_dialogue(paused_after_reservation(&first));
	assert_int_equal(sql_int("SELECT count(*) FROM person_lease WHERE until > strftime('%s', 'now')"), 1);
	sql("UPDATE person_lease SET until = 0");
	assert_int_equal(authenticate("activate-host2", "activate", NULL, &m2), PAM_AUTH_ERR);
	expect_log(&m2, "Your account is ready.");
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 1);
	expect_pwck_clean();
}

/*
 * Finding 5: an ID number alone tells nothing. A locked person's ID number
 * with a wrong student number gets the words an unknown ID number gets,
 * counts nothing against them, and the dummy hash runs (the audit row says
 * whose details they were not).
 */
static void test_locked_person_tells_nothing_without_both_numbers(void **state)
{
	struct script unknown = SCRIPT("1009", "5009", "11111111");
	struct script wrong_student = SCRIPT("1001", "5002", "11111111");
	struct script both = SCRIPT("1001", "5001", "11111111");

	(void)state;
	write_conf("max_attempts = 2\n");
	for (int i = 0; i < 2; i++) {
		struct script s = SCRIPT("1001", "5001", "99999999");

		authenticate("activate", "activate", NULL, &s);
	}
	assert_true(sql_int("SELECT locked_until FROM person WHERE id_number = '1001'") > time(NULL));
	assert_int_equal(sql_int("SELECT locks FROM person WHERE id_number = '1001'"), 1);
	authenticate("activate", "activate", NULL, &unknown);
	authenticate("activate", "activate", NULL, &wrong_student);
	assert_string_equal(strstr(wrong_student.log, "[error]"), strstr(unknown.log, "[error]"));
	expect_no_log(&wrong_student, "Try again after");
	assert_int_equal(failures("1001"), 2000);	/* the lock's two; nothing since */
	authenticate("activate", "activate", NULL, &both);
	expect_log(&both, "Too many failed attempts. Try again after");
}

/* Finding 5: unlock, a new PIN and a success start the doubling over; lock_time_max caps it. */
static void test_lock_count_resets_and_is_capped(void **state)
{
	char cmd[PATH_MAX * 3];
	struct script s = SCRIPT("1001", "5001", "99999999");

	(void)state;
	write_conf("max_attempts = 1\nlock_time = 900\nlock_time_max = 3600\n");
	sql("UPDATE person SET locks = 40 WHERE id_number = '1001'");	/* 900 s doubled 40 times: decades */
	authenticate("activate", "activate", NULL, &s);
	assert_int_equal(sql_int("SELECT locks FROM person WHERE id_number = '1001'"), 41);
	assert_true(sql_int("SELECT locked_until FROM person WHERE id_number = '1001'") <= time(NULL) + 3600);
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s unlock 1001 >/dev/null", builddir, conf);
	assert_int_equal(shell(cmd), 0);
	assert_int_equal(sql_int("SELECT locks + failures + locked_until FROM person WHERE id_number = '1001'"), 0);
	sql("UPDATE person SET locks = 7 WHERE id_number = '1003'");
	{
		struct script ok = SCRIPT("1003", "5003", "33333333");

		authenticate("activate", "activate", NULL, &ok);	/* verifies; the fee is missing */
		expect_log(&ok, "semester fee");
	}
	assert_int_equal(sql_int("SELECT locks FROM person WHERE id_number = '1003'"), 0);
	sql("UPDATE person SET locks = 7 WHERE id_number = '1004'");
	issue_pin("1004", cmd, sizeof(cmd));
	assert_int_equal(sql_int("SELECT locks FROM person WHERE id_number = '1004'"), 0);
}

/* Finding 6: a typed password of 300 characters is refused as too long, in words, not with stack bytes. */
static void test_overlong_password_is_refused_in_words(void **state)
{
	char big[301];
	struct script s = ACTIVATE("1001", "5001", "11111111", big, "1", "x");

	(void)state;
	memset(big, 'x', 300);
	big[300] = '\0';
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "[error] That password is too long (at most 255 characters).");
	expect_no_log(&s, "cannot be used");
	expect_log(&s, "Your account is ready.");
}

/* Finding 8: terms of several messages, none cut in a character, the hash of exactly what was shown. */
static void test_long_terms_shown_whole(void **state)
{
	char text[4000] = "", extra[PATH_MAX + 64], hex[65];
	unsigned char h[32];
	size_t n = 0;
	struct script s = ACTIVATE("1001", "5001", "11111111", "yes", "1", "x");

	(void)state;
	for (int i = 0; n + 80 < 3500; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%d. Bruk maskinene til studier; ære, ødeland, åtak.\n", i);
	put("etc/terms.txt", text, 0644);
	snprintf(extra, sizeof(extra), "terms_file = %s/root/etc/terms.txt\n", sandbox);
	write_conf(extra);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Your account is ready.");
	for (char *line = text, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		char want[128];

		snprintf(want, sizeof(want), "%.*s", (int)(nl - line), line);
		expect_log(&s, want);	/* every line, whole */
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)text, strlen(text), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	{
		char q[256];
		sqlite3 *db;
		sqlite3_stmt *st;

		snprintf(q, sizeof(q), "SELECT terms_hash FROM person WHERE id_number = '1001'");
		assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), hex);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	/* longer than 4096 bytes: refused, nothing accepted, nothing made */
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	put("etc/terms.txt", text, 0644);
	{
		char big[5000];
		struct script t = ACTIVATE("1003", "5003", "33333333", "yes", "1", "x");

		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		put("etc/terms.txt", big, 0644);
		sql("UPDATE person SET fee_paid_on = '2026-08-14' WHERE id_number = '1003'");
		authenticate("activate", "activate", NULL, &t);
		expect_log(&t, "could not be created");
		assert_int_equal(sql_int("SELECT terms_accepted FROM person WHERE id_number = '1003'"), 0);
	}
}

/* Finding 9: an interrupted home build is thrown away: nothing root's or half-written survives into the home. */
static void test_interrupted_home_build_is_redone(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char path[PATH_MAX * 2];
	struct stat st;

	(void)state;
	mkdir_root("home/.olanordm.activate", 0700);
	put("home/.olanordm.activate/.profile", "half", 0600);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Your account is ready.");
	expect_file_has("home/olanordm/.profile", "# ~/.profile\n");
	snprintf(path, sizeof(path), "%s/root/home/olanordm/.profile", sandbox);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 70000);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(path, sizeof(path), "%s/root/home/.olanordm.activate", sandbox);
	assert_int_equal(access(path, F_OK), -1);
}

/* Finding 10: a directory at the home path that this activation did not make is refused, not handed over. */
static void test_foreign_home_is_refused(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char path[PATH_MAX * 2];
	struct stat st;

	(void)state;
	mkdir_root("home/olanordm", 0755);
	put("home/olanordm/secret", "root's\n", 0600);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTHINFO_UNAVAIL);
	expect_log(&s, "could not be created");
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE result LIKE "
				 "'%exists and was not made by this activation%'"), 1);
	snprintf(path, sizeof(path), "%s/root/home/olanordm/secret", sandbox);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	snprintf(path, sizeof(path), "%s/root/home/olanordm", sandbox);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'"), 0);
}

/*
 * Findings 3 and 4: a supplementary group of 100 000 members (a line of
 * 1.2 MB) takes one more, and a rename keeps every other member.
 */
static void test_huge_group_line(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char *group = NULL, *gshadow = NULL, cmd[PATH_MAX * 3], extra[64];
	size_t glen = 0, slen = 0;
	FILE *g = open_memstream(&group, &glen), *gs = open_memstream(&gshadow, &slen);

	(void)state;
	fputs("root:x:0:\nactivate:x:999:\nstudents:x:500:", g);
	fputs("root:*::\nactivate:!::\nstudents:!::", gs);
	for (int i = 0; i < 100000; i++) {
		fprintf(g, "%sstudent%d", i ? "," : "", i);	/* a line of 1.2 MB */
		fprintf(gs, "%sstudent%d", i ? "," : "", i);
	}
	fputs("\n", g);
	fputs("\n", gs);
	fclose(g);
	fclose(gs);
	put("etc/group", group, 0644);
	put("etc/gshadow", gshadow, 0640);
	snprintf(extra, sizeof(extra), "groups = students\n");
	write_conf(extra);
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Your account is ready.");
	expect_file_has("etc/group", ",student99999,olanordm\n");
	expect_file_has("etc/gshadow", ",student99999,olanordm\n");
	expect_file_has("etc/group", "students:x:500:student0,student1,student2,");
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s rename 1001 olanord9 >/dev/null", builddir, conf);
	assert_int_equal(shell(cmd), 0);
	expect_file_has("etc/group", ",student99998,student99999,olanord9\n");
	expect_file_has("etc/gshadow", ",student99998,student99999,olanord9\n");
	assert_int_equal(count_lines_with("etc/group", ","), 100000);
	snprintf(cmd, sizeof(cmd), "%s/activatectl --config %s revoke 1001 >/dev/null && "
		 "%s/activatectl --config %s restore 1001 >/dev/null", builddir, conf, builddir, conf);
	assert_int_equal(shell(cmd), 0);
	assert_int_equal(count_lines_with("etc/group", ","), 100000);
	assert_int_equal(count_lines_with("etc/group", "olanord9"), 2);	/* its own group, and students */
	free(group);
	free(gshadow);
}

/* Finding 13: a person who walks away at a prompt frees the person after reply_timeout. */
static void test_abandoned_dialogue_frees_the_person(void **state)
{
	struct script walks_away = SCRIPT("1001", "5001", "11111111", R_STALL, "x");
	struct script next = ACTIVATE("1001", "5001", "11111111", "1", "x");
	pid_t pid;

	(void)state;
	write_conf("reply_timeout = 1\n");
	pid = fork_dialogue("activate", &walks_away);
	sleep(2);	/* at the password prompt since ~0.1 s; the helper gave up after 1 s */
	assert_int_equal(authenticate("activate", "activate", NULL, &next), PAM_AUTH_ERR);
	expect_no_log(&next, "already in progress");
	expect_log(&next, "Your account is ready.");
	child_rc(pid);
}

/*
 * The caller's signals cannot cut a commit: the helper is in a session of
 * its own (sshd's kill(0, SIGTERM) does not reach it), and a SIGTERM sent
 * to it while it commits ends it only once the person is active.
 */
static void test_sigterm_mid_commit_waits_for_consistent_point(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	pid_t child, helper;

	(void)state;
	set_fault("pause:after-files");
	child = fork_dialogue("activate-faults", &s);
	wait_paused();
	helper = helper_pid();
	assert_true(helper > 0);
	assert_int_equal(getsid(helper), helper);	/* its own session, not the caller's */
	assert_int_not_equal(getpgid(helper), getpgid(child));
	assert_int_equal(kill(helper, SIGTERM), 0);
	assert_int_equal(kill(helper, SIGHUP), 0);
	usleep(200000);
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 1);	/* still there, waiting */
	set_fault(NULL);
	assert_int_equal(child_rc(child), PAM_AUTH_ERR);	/* it ended before it could say so */
	assert_true(wait_helper_gone());
	assert_int_equal(sql_int("SELECT state FROM person WHERE id_number = '1001'"), 2);
	assert_true(sql_int("SELECT pin_spent FROM person WHERE id_number = '1001'") > 0);
	assert_int_equal(count_lines_with("etc/passwd", "\nolanordm:"), 1);
	expect_pwck_clean();
}

/*
 * The module allows one second a frame here, and the hook takes two: the
 * helper's "working" frame before the commit buys it the time, so the
 * activation is not killed half-way.
 */
static void test_slow_commit_not_cut_by_helper_timeout(void **state)
{
	struct script s = ACTIVATE("1001", "5001", "11111111", "1", "x");
	char hook[PATH_MAX + 16], extra[PATH_MAX + 16];

	(void)state;
	snprintf(hook, sizeof(hook), "%s/slow-hook.sh", sandbox);
	tu_write_file(hook, "#!/bin/sh\nsleep 2\n", 18, 0700);
	snprintf(extra, sizeof(extra), "hook = %s\n", hook);
	write_conf(extra);
	assert_int_equal(authenticate("activate-impatient", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Your account is ready.");
	expect_log(&s, "[prompt] Your username is olanordm.");
}

/* dialogue_timeout bounds the whole dialogue, however quickly each reply comes. */
static void test_dialogue_timeout_frees_the_person(void **state)
{
	struct script slow = SCRIPT("1001", "5001", "11111111", R_STALL, "x");
	struct script next = ACTIVATE("1001", "5001", "11111111", "1", "x");
	pid_t pid;

	(void)state;
	write_conf("reply_timeout = 120\ndialogue_timeout = 1\n");
	pid = fork_dialogue("activate", &slow);
	sleep(2);
	write_conf(NULL);
	assert_int_equal(authenticate("activate", "activate", NULL, &next), PAM_AUTH_ERR);
	expect_no_log(&next, "already in progress");
	expect_log(&next, "Your account is ready.");
	child_rc(pid);
}

/* Smaller: "activated, log in as" with no name is a denial, never a success. */
static void test_bare_login_result_denied(void **state)
{
	struct script s = SCRIPT(NULL);

	(void)state;
	assert_int_equal(authenticate("fake-bare-login", "activate", NULL, &s), PAM_AUTH_ERR);
}

/* Finding 12: with 0, 1 and 2 closed in the application, the helper still has them: socket, /dev/null, /dev/null. */
static void test_helper_fds_with_stdio_closed(void **state)
{
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0) {
		struct script s = SCRIPT(NULL);

		close(0);
		close(1);
		close(2);
		_exit(try_authenticate("fake-fds", "activate", &s) & 0x7f);
	}
	assert_int_equal(child_rc(pid), PAM_AUTHINFO_UNAVAIL);	/* the fake helper's "all well" */
}

static void write_service(const char *name, const char *text)
{
	char path[PATH_MAX];

	tu_path(path, sizeof(path), svcdir, name);
	tu_write_file(path, text, strlen(text), 0644);
}

static void write_services(void)
{
	char so[PATH_MAX * 2 + 16], helper[PATH_MAX], fake[PATH_MAX], text[8192], matrix[PATH_MAX], passdb[PATH_MAX];
	static const char *const faults[] = {
		"exit", "crash", "hang", "malformed", "nul", "oversized", "badresult", "reply", "success",
		"bare-login", "fds",
	};

	/* the module and, as its first argument, where its relay is in the build */
	snprintf(so, sizeof(so), "%s/.libs/pam_activate.so relay=%s/.libs/pam_activate_relay.so",
		 builddir, builddir);
	snprintf(helper, sizeof(helper), "%s/activate-helper", builddir);
	snprintf(fake, sizeof(fake), "%s/tests/module/fake_helper", builddir);
	snprintf(matrix, sizeof(matrix), "%s/pam_matrix.so", PAM_WRAPPER_MODULES);
	snprintf(text, sizeof(text),
		 "auth [success=done ignore=ignore default=die] %s config=%s helper=%s fail_delay=0\n"
		 "account [success=ok ignore=ignore default=die] %s\naccount required pam_permit.so\n",
		 so, conf, helper, so);
	write_service("activate", text);
	write_service("sshd", text);
	snprintf(text, sizeof(text), "auth required %s/pam_activate.so relay=%s/pam_activate_relay.so "
		 "config=%s fail_delay=0\n", svcdir, svcdir, conf);
	write_service("activate-nobody", text);
	snprintf(text, sizeof(text),
		 "auth [success=done ignore=ignore default=die] %s config=%s "
		 "helper=%s/tests/module/activate-helper-faults fail_delay=0\n", so, conf, builddir);
	write_service("activate-faults", text);
	/* the module's per-frame bound at one second: slow work after the last reply must not trip it */
	snprintf(text, sizeof(text), "auth [success=done ignore=ignore default=die] %s config=%s helper=%s "
		 "helper_timeout=1 fail_delay=0\n", so, conf, helper);
	write_service("activate-impatient", text);
	/* another machine on the same store: a run_dir is a machine (its flocks, its host id) */
	snprintf(text, sizeof(text), "auth [success=done ignore=ignore default=die] %s config=%s helper=%s "
		 "run_dir=%s/run2 fail_delay=0\n", so, conf, helper, sandbox);
	write_service("activate-host2", text);
	/* the real helper behind nss_wrapper: the module gives it a clean environment */
	snprintf(text, sizeof(text), "#!/bin/sh\nexport LD_PRELOAD=%s NSS_WRAPPER_PASSWD=%s/nss/passwd "
		 "NSS_WRAPPER_GROUP=%s/nss/group ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0\n"
		 "exec %s \"$@\"\n", NSS_WRAPPER_LIB, sandbox, sandbox, helper);
	snprintf(fake, sizeof(fake), "%s/nss-helper", sandbox);
	tu_write_file(fake, text, strlen(text), 0755);
	snprintf(text, sizeof(text), "auth [success=done ignore=ignore default=die] %s config=%s helper=%s "
		 "fail_delay=0\n", so, conf, fake);
	write_service("activate-nss", text);
	/* the real helper on a clock the test sets in sandbox/faketime (libfaketime, "@YYYY-MM-DD hh:mm:ss") */
	snprintf(text, sizeof(text), "#!/bin/sh\nIFS= read -r t <%s/faketime\nexport LD_PRELOAD=%s FAKETIME=\"$t\" "
		 "DONT_FAKE_MONOTONIC=1 TZ=UTC ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0\n"
		 "exec %s \"$@\"\n", sandbox, FAKETIME_LIB, helper);
	snprintf(fake, sizeof(fake), "%s/clock-helper", sandbox);
	tu_write_file(fake, text, strlen(text), 0755);
	snprintf(text, sizeof(text), "auth [success=done ignore=ignore default=die] %s config=%s helper=%s "
		 "fail_delay=0\n", so, conf, fake);
	write_service("activate-clock", text);
	snprintf(fake, sizeof(fake), "%s/tests/module/fake_helper", builddir);
	write_service("other", "auth required pam_deny.so\naccount required pam_deny.so\n");
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = { "chain", "chain-broken", "chain-nodb" };
		static const char *const suffixes[] = { "", ".broken", ".nodb" };
		char cpath[PATH_MAX + 16], line[128];

		snprintf(cpath, sizeof(cpath), "%s%s", conf, suffixes[i]);
		/* pam_matrix takes the first line of a user, so one file a service */
		snprintf(passdb, sizeof(passdb), "%s/passdb-%s", svcdir, names[i]);
		snprintf(line, sizeof(line), "ordinary:secret:%s\n", names[i]);
		tu_write_file(passdb, line, strlen(line), 0644);
		snprintf(text, sizeof(text),
			 "auth [success=done ignore=ignore default=die] %s config=%s helper=%s\n"
			 "auth required %s passdb=%s\n"
			 "account [success=ok ignore=ignore default=die] %s\n"
			 "account required %s passdb=%s\n", so, cpath, helper, matrix, passdb, so, matrix, passdb);
		write_service(names[i], text);
	}
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "fake-%s", faults[i]);
		snprintf(text, sizeof(text), "auth required %s helper=%s helper_timeout=1 fail_delay=0 mode=%s\n",
			 so, fake, faults[i]);
		write_service(name, text);
	}
	snprintf(text, sizeof(text), "auth required %s helper=%s/nonexistent fail_delay=0\n", so, sandbox);
	write_service("fake-missing", text);
}

static void make_sandbox(void)
{
	char path[PATH_MAX + 16], err[256];

	tu_tmpdir(sandbox, sizeof(sandbox));
	tu_tmpdir(svcdir, sizeof(svcdir));
	chmod(svcdir, 0755);
	tu_path(conf, sizeof(conf), sandbox, "activate.conf");
	tu_path(dbpath, sizeof(dbpath), sandbox, "activate.db");
	tu_path(path, sizeof(path), sandbox, "pepper");
	if (secret_create_pepper(path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "%s.broken", conf);
	tu_write_file(path, "this is not a config\n", 21, 0600);
	snprintf(path, sizeof(path), "%s.nodb", conf);
	tu_write_file(path, "database = /nonexistent/activate.db\n", 36, 0600);
	write_services();
}

/* Whether name is in TEST_MODULE_SKIP, a comma-separated list of shell patterns. */
static bool skipped(const char *name)
{
	const char *list = getenv("TEST_MODULE_SKIP");
	char *copy, *save = NULL;
	bool skip = false;

	if (!list || !*list)
		return false;
	copy = strdup(list);
	assert_non_null(copy);
	for (char *p = strtok_r(copy, ",", &save); p && !skip; p = strtok_r(NULL, ",", &save))
		skip = fnmatch(p, name, 0) == 0;
	free(copy);
	return skip;
}

/* The tests but those TEST_MODULE_SKIP names: valgrind.sh leaves out what only times the helper. */
static int run_not_skipped(const struct CMUnitTest *all, size_t n)
{
	struct CMUnitTest *run = calloc(n, sizeof(*run));
	size_t k = 0;
	int rc;

	assert_non_null(run);
	for (size_t i = 0; i < n; i++)
		if (!skipped(all[i].name))
			run[k++] = all[i];
	rc = _cmocka_run_group_tests("run_module_tests", run, k, NULL, NULL);
	free(run);
	return rc;
}

static int run_module_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_correct_details_reach_provisioning, reset),
		cmocka_unit_test_setup(test_each_wrong_detail_alone, reset),
		cmocka_unit_test_setup(test_prerequisites, reset),
		cmocka_unit_test_setup(test_lock_after_max_attempts_and_doubling, reset),
		cmocka_unit_test_setup(test_unlock_with_activatectl, reset),
		cmocka_unit_test_setup(test_throttle_by_rhost, reset),
		cmocka_unit_test_setup(test_max_tries, reset),
		cmocka_unit_test_setup(test_throttle_networks, reset),
		cmocka_unit_test_setup(test_pin_spent_after_max_total_failures, reset),
		cmocka_unit_test_setup(test_bad_replies, reset),
		cmocka_unit_test_setup(test_reply_with_nul_is_cut_there, reset),
		cmocka_unit_test_setup(test_conversation_failures_count_nothing, reset),
		cmocka_unit_test_setup(test_ordinary_user_passes_through, reset),
		cmocka_unit_test_setup(test_trigger_denied_by_account, reset),
		cmocka_unit_test_setup(test_broken_setup_fails_closed_for_trigger, reset),
		cmocka_unit_test_setup(test_store_unreachable_is_unavailable, reset),
		cmocka_unit_test_setup(test_helper_faults_deny, reset),
		cmocka_unit_test_setup(test_application_killed_mid_dialogue, reset),
		cmocka_unit_test_setup(test_not_root_fails_closed, reset),
		cmocka_unit_test_setup(test_full_activation, reset),
		cmocka_unit_test_setup(test_new_pin_sets_a_new_password, reset),
		cmocka_unit_test_setup(test_own_password_policy, reset),
		cmocka_unit_test_setup(test_refused_password_reason_is_words, reset),
		cmocka_unit_test_setup(test_every_outcome_audited, reset),
		cmocka_unit_test_setup(test_text_width, reset),
		cmocka_unit_test_setup(test_messages_joined, reset),
		cmocka_unit_test_setup(test_password_with_a_short_name, reset),
		cmocka_unit_test_setup(test_on_success_login_refused_for_sshd, reset),
		cmocka_unit_test_setup(test_failure_ends_with_a_prompt_after_it, reset),
		cmocka_unit_test_setup(test_on_success_login, reset),
		cmocka_unit_test_setup(test_pam_user_kept_on_every_failure_with_login, reset),
		cmocka_unit_test_setup(test_username_collision_and_reserved, reset),
		cmocka_unit_test_setup(test_terms_of_use, reset),
		cmocka_unit_test_setup(test_norwegian, reset),
		cmocka_unit_test_setup(test_language_from_the_service, reset),
		cmocka_unit_test_setup(test_skel_links_fifos_and_hard_links, reset),
		cmocka_unit_test_setup(test_uid_range_exhausted, reset),
		cmocka_unit_test_setup(test_interrupted_then_finished, reset),
		cmocka_unit_test_setup(test_killed_at_each_step_then_retried, reset),
		cmocka_unit_test_setup(test_hook_gets_a_clean_environment, reset),
		cmocka_unit_test_setup(test_hostile_caller_environment, reset),
		cmocka_unit_test_setup(test_caller_umask_changes_no_mode, reset),
		cmocka_unit_test_setup(test_name_and_id_known_to_nss, reset),
		cmocka_unit_test_setup(test_init_creates_trigger_user, reset),
		cmocka_unit_test_setup(test_ids_known_to_nss_past_one_window, reset),
		cmocka_unit_test_setup(test_full_filesystem, reset),
		cmocka_unit_test_setup(test_database_on_a_full_filesystem, reset),
		cmocka_unit_test_setup(test_database_replaced_by_a_symlink, reset),
		cmocka_unit_test_setup(test_password_files_locked_by_another_program, reset),
		cmocka_unit_test_setup(test_32_at_once, reset),
		cmocka_unit_test_setup(test_8_at_once_same_person, reset),
		cmocka_unit_test_setup(test_one_pin_changes_the_password_once, reset),
		cmocka_unit_test_setup(test_lease_holds_across_machines, reset),
		cmocka_unit_test_setup(test_expired_lease_taken_over_by_another_machine, reset),
		cmocka_unit_test_setup(test_locked_person_tells_nothing_without_both_numbers, reset),
		cmocka_unit_test_setup(test_lock_count_resets_and_is_capped, reset),
		cmocka_unit_test_setup(test_clock_set_back_a_day_during_a_lock, reset),
		cmocka_unit_test_setup(test_clock_set_back_a_day_during_a_throttle, reset),
		cmocka_unit_test_setup(test_overlong_password_is_refused_in_words, reset),
		cmocka_unit_test_setup(test_long_terms_shown_whole, reset),
		cmocka_unit_test_setup(test_interrupted_home_build_is_redone, reset),
		cmocka_unit_test_setup(test_foreign_home_is_refused, reset),
		cmocka_unit_test_setup(test_huge_group_line, reset),
		cmocka_unit_test_setup(test_abandoned_dialogue_frees_the_person, reset),
		cmocka_unit_test_setup(test_bare_login_result_denied, reset),
		cmocka_unit_test_setup(test_helper_fds_with_stdio_closed, reset),
		cmocka_unit_test_setup(test_sigterm_mid_commit_waits_for_consistent_point, reset),
		cmocka_unit_test_setup(test_import_while_20_activate, reset),
		cmocka_unit_test_setup(test_rename_and_revoke_mid_activation, reset),
		cmocka_unit_test_setup(test_disk_full_mid_commit_then_retried, reset),
		cmocka_unit_test_setup(test_intent_holds_its_ids, reset),
		cmocka_unit_test_setup(test_slow_commit_not_cut_by_helper_timeout, reset),
		cmocka_unit_test_setup(test_dialogue_timeout_frees_the_person, reset),
		cmocka_unit_test_setup_teardown(test_full_activation_ldap, reset, stop_slapd),
	};

	return run_not_skipped(tests, sizeof(tests) / sizeof(tests[0]));
}

int main(int argc, char **argv)
{
	const char *b = getenv("top_builddir");
	int rc;

	if (secret_init() != 0)
		return 1;
	if (argc > 1 && !strcmp(argv[1], "--as-nobody"))
		return as_nobody();
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0)
		return 1;
	snprintf(builddir, sizeof(builddir), "%s", b ? b : ".");
	if (!getenv("PAM_WRAPPER")) {
		make_sandbox();
		setenv("TEST_SANDBOX", sandbox, 1);
		setenv("TEST_SVCDIR", svcdir, 1);
		setenv("LD_PRELOAD", PAM_WRAPPER_LIB, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", svcdir, 1);
		setenv("PAM_WRAPPER_RUNTIME_DIR", sandbox, 1);	/* nothing left in /tmp */
		/* pam_wrapper 1.1.4 reads the uid_wrapper spelling of this one */
		setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		/* under ASan, pam_wrapper is preloaded ahead of the sanitizer's runtime */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
		execv(self, argv);
		return 1;
	}
	snprintf(sandbox, sizeof(sandbox), "%s", getenv("TEST_SANDBOX"));
	snprintf(svcdir, sizeof(svcdir), "%s", getenv("TEST_SVCDIR"));
	tu_path(conf, sizeof(conf), sandbox, "activate.conf");
	tu_path(dbpath, sizeof(dbpath), sandbox, "activate.db");
	if (argc > 1)	/* test_module PATTERN: only the tests whose names match */
		cmocka_set_test_filter(argv[1]);
	rc = run_module_tests();
	tu_rm_rf(sandbox);
	tu_rm_rf(svcdir);
	return rc;
}
