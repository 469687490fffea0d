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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpamtest.h>
#include <security/pam_appl.h>
#include <sqlite3.h>

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

struct script {
	const char *replies[48];
	size_t next;
	char log[32768];
};

static char sandbox[PATH_MAX], svcdir[PATH_MAX], conf[PATH_MAX], dbpath[PATH_MAX];
static char builddir[PATH_MAX];

/* --- the sandbox ---------------------------------------------------------- */

static const char roster_csv[] =
	"id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin,username\n"
	"1001,5001,Ola,Nordmann,student,Informatics,2026-08-14,11111111,\n"
	"1002,5002,Åsa,Ødegård,exchange,,,22222222,\n"
	"1003,5003,Per,Hansen,student,Physics,,33333333,\n"
	"1004,5004,Kari,Lie,student,,2026-08-14,44444444,\n"
	"1005,5005,Nils,Berg,student,Maths,2026-08-14,55555555,\n"
	"1006,5006,Siri,Dahl,student,Maths,2026-08-14,66666666,sdahl\n"
	"1007,5007,Marte,Lund,student,Maths,2026-08-14,77777777,\n";

static void sql(const char *stmt)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
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
	f = fmemopen((void *)roster_csv, sizeof(roster_csv) - 1, "r");
	if (roster_read(f, "roster", ',', &cfg, &r, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	fclose(f);
	if (import_roster(st, &cfg, pepper, &r, "roster", &opts, &rep, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	roster_free(&r);
	store_close(st);
	secret_free(pepper);
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

static int authenticate(const char *service, const char *user, const char *rhost, struct script *s)
{
	struct pam_conv conv = { script_conv, s };
	pam_handle_t *ph = NULL;
	int rc;

	assert_int_equal(pam_start(service, user, &conv, &ph), PAM_SUCCESS);
	if (rhost)
		assert_int_equal(pam_set_item(ph, PAM_RHOST, rhost), PAM_SUCCESS);
	rc = pam_authenticate(ph, 0);
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
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "[info] Account activation.");
	expect_log(&s, "[prompt] ID number: ");
	expect_log(&s, "[prompt] Student number: ");
	expect_log(&s, "[secret] PIN code: ");
	expect_log(&s, "Your details are verified");
	assert_int_equal(failures("1001"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE event = 'eligible'"), 1);
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

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_MAXTRIES);
		expect_log(&s, "do not match our records");
		msg = strstr(s.log, "[error]");
		if (!first[0])
			snprintf(first, sizeof(first), "%s", msg);
		else
			assert_string_equal(msg, first);	/* the same words whatever was wrong */
	}
	assert_int_equal(failures("1001"), 2002);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE result = 'failed, unknown id'"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE person IS NULL AND username IS NOT NULL"), 0);
}

static void test_prerequisites(void **state)
{
	static const struct {
		const char *id, *student, *pin, *needle;
	} cases[] = {
		{ "1002", "5002", "22222222", "Your details are verified" },	/* exchange: exempt */
		{ "1003", "5003", "33333333", "semester fee is not registered" },
		{ "1004", "5004", "44444444", "not connected to a programme" },
		{ "1005", "5005", "55555555", "has been closed" },
		{ "1006", "5006", "66666666", "already active, with the username sdahl" },
		{ "1007", "5007", "77777777", "PIN code has expired" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s = SCRIPT(cases[i].id, cases[i].student, cases[i].pin);

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
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
	expect_no_log(&ok, "verified");
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
	assert_int_equal(system(cmd), 0);
	assert_int_equal(authenticate("activate", "activate", NULL, &ok), PAM_AUTH_ERR);
	expect_log(&ok, "Your details are verified");
}

static void test_throttle_by_rhost(void **state)
{
	(void)state;
	write_conf("throttle_failures = 3\nthrottle_window = 600\n");
	for (int i = 0; i < 3; i++) {
		struct script s = SCRIPT("1009", "5001", "11111111");

		assert_int_equal(authenticate("activate", "activate", "198.51.100.7", &s), PAM_MAXTRIES);
	}
	{
		struct script s = SCRIPT("1001", "5001", "11111111");

		assert_int_equal(authenticate("activate", "activate", "198.51.100.7", &s), PAM_AUTH_ERR);
		expect_log(&s, "from your network address");
		expect_no_log(&s, "[prompt]");
	}
	{	/* another host is not held back */
		struct script s = SCRIPT("1001", "5001", "11111111");

		assert_int_equal(authenticate("activate", "activate", "198.51.100.8", &s), PAM_AUTH_ERR);
		expect_log(&s, "Your details are verified");
	}
}

static void test_max_tries(void **state)
{
	struct script s = SCRIPT("1001", "5001", "1", "1001", "5001", "2", "1001", "5001", "3");

	(void)state;
	write_conf("max_tries = 3\nmax_attempts = 10\n");
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_MAXTRIES);
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
	expect_no_log(&ok, "verified");
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

		assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_MAXTRIES);
		expect_log(&s, strcmp(bad[i], R_BIG) ? "type digits 0-9 only" : "too long");
	}
	assert_int_equal(sql_int("SELECT sum(failures + total_failures) FROM person"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM person"), 7);
}

static void test_reply_with_nul_is_cut_there(void **state)
{
	/* A C string ends at its NUL: "1001\0junk" arrives as "1001". */
	struct script s = SCRIPT("1001\0junk", "5001", "11111111");

	(void)state;
	assert_int_equal(authenticate("activate", "activate", NULL, &s), PAM_AUTH_ERR);
	expect_log(&s, "Your details are verified");
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

/* --- the helper misbehaving --------------------------------------------------- */

static bool helper_running(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

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
	}
	if (d)
		closedir(d);
	return found;
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
			authenticate("activate", "activate", NULL, &s);
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

/* Not root: fail closed. Runs this binary again as nobody, through PAM. */
static void test_not_root_fails_closed(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(90);
		execl("/proc/self/exe", "test_module", "--as-nobody", (char *)NULL);
		_exit(91);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), PAM_AUTHINFO_UNAVAIL);
}

static int as_nobody(void)
{
	struct script s = SCRIPT("1001", "5001", "11111111");
	struct pam_conv conv = { script_conv, &s };
	pam_handle_t *ph = NULL;
	int rc;

	if (pam_start("activate", "activate", &conv, &ph) != PAM_SUCCESS)
		return 99;
	rc = pam_authenticate(ph, 0);
	pam_end(ph, rc);
	return rc;
}

/* --- set-up ----------------------------------------------------------------- */

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
	};

	/* the module and, as its first argument, where its relay is in the build */
	snprintf(so, sizeof(so), "%s/.libs/pam_activate.so relay=%s/.libs/pam_activate_relay.so",
		 builddir, builddir);
	snprintf(helper, sizeof(helper), "%s/activate-helper", builddir);
	snprintf(fake, sizeof(fake), "%s/tests/module/fake_helper", builddir);
	snprintf(matrix, sizeof(matrix), "%s/pam_matrix.so", PAM_WRAPPER_MODULES);
	snprintf(text, sizeof(text),
		 "auth [success=done ignore=ignore default=die] %s config=%s helper=%s fail_delay=0\n"
		 "account [success=ok ignore=ignore default=die] %s\n", so, conf, helper, so);
	write_service("activate", text);
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
		cmocka_unit_test_setup(test_pin_spent_after_max_total_failures, reset),
		cmocka_unit_test_setup(test_bad_replies, reset),
		cmocka_unit_test_setup(test_reply_with_nul_is_cut_there, reset),
		cmocka_unit_test_setup(test_conversation_failures_count_nothing, reset),
		cmocka_unit_test_setup(test_ordinary_user_passes_through, reset),
		cmocka_unit_test_setup(test_trigger_denied_by_account, reset),
		cmocka_unit_test_setup(test_broken_setup_fails_closed_for_trigger, reset),
		cmocka_unit_test_setup(test_helper_faults_deny, reset),
		cmocka_unit_test_setup(test_application_killed_mid_dialogue, reset),
		cmocka_unit_test_setup(test_not_root_fails_closed, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	const char *b = getenv("top_builddir");
	int rc;

	(void)argc;
	if (secret_init() != 0)
		return 1;
	if (argc > 1 && !strcmp(argv[1], "--as-nobody"))
		return as_nobody();
	snprintf(builddir, sizeof(builddir), "%s", b ? b : ".");
	if (!getenv("PAM_WRAPPER")) {
		make_sandbox();
		setenv("TEST_SANDBOX", sandbox, 1);
		setenv("TEST_SVCDIR", svcdir, 1);
		setenv("LD_PRELOAD", PAM_WRAPPER_LIB, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", svcdir, 1);
		/* pam_wrapper 1.1.4 reads the uid_wrapper spelling of this one */
		setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		/* under ASan, pam_wrapper is preloaded ahead of the sanitizer's runtime */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
		execv("/proc/self/exe", argv);
		return 1;
	}
	snprintf(sandbox, sizeof(sandbox), "%s", getenv("TEST_SANDBOX"));
	snprintf(svcdir, sizeof(svcdir), "%s", getenv("TEST_SVCDIR"));
	tu_path(conf, sizeof(conf), sandbox, "activate.conf");
	tu_path(dbpath, sizeof(dbpath), sandbox, "activate.db");
	rc = run_module_tests();
	tu_rm_rf(sandbox);
	tu_rm_rf(svcdir);
	return rc;
}
