/*
 * long_lived.c: a long-lived caller, as a greeter is. One process runs
 * 10 000 pam_start/pam_authenticate/pam_acct_mgmt/pam_end cycles for
 * ordinary users and 100 for the trigger user (real dialogues with the real
 * activate-helper: wrong details, missing prerequisites, a conversation
 * that gives up, bad replies, and full activations with on_success=login)
 * through pam_wrapper with a real service file. Its open descriptors must
 * come back to what they were before the first login, and its RSS must stay
 * where a warm-up left it (every helper reaped, too). Like test_module,
 * it builds a sandbox, then re-executes itself under pam_wrapper: the
 * process that is measured has done nothing but PAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "config.h"
#include "import.h"
#include "roster.h"
#include "secret.h"
#include "store.h"
#include "../unit/testutil.h"

#define ORDINARY_CYCLES 10000
#define TRIGGER_CYCLES 100
#define WARMUP_ORDINARY 200
#define ORDINARY_USERS 50
#define CROWD 40	/* people 2001..: one dialogue in KINDS activates the next of them */
/*
 * RSS may grow this much from after the warm-up to the end. In the runs so
 * far it grew by one page at most; what can move it without a leak is the
 * top of the heap, which glibc gives back only past its trim threshold, and
 * library pages first touched on a rarer path. 256 KiB is 64 pages of that.
 * A leak of 26 bytes an ordinary cycle, or of 2.6 KiB a dialogue, is more
 * (64 bytes an ordinary cycle, put in to try: 740 KiB).
 */
#define RSS_TOLERANCE_KIB 256

#define R_CONV_FAIL "\x01" "conv-fail"	/* the conversation returns PAM_CONV_ERR */
#define R_NULL "\x01" "null"		/* a NULL reply */
#define R_BIG "\x01" "big"		/* a reply of 1 MiB */

static char sandbox[PATH_MAX], svcdir[PATH_MAX], builddir[PATH_MAX];

/* --- the sandbox (the first run, before pam_wrapper) ----------------------- */

static void put(const char *rel, const char *text, mode_t mode)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", sandbox, rel);
	if (text)
		tu_write_file(path, text, strlen(text), mode);
	else
		assert_int_equal(mkdir(path, mode), 0);
}

static void import_people(const char *dbpath, const char *pepper_path)
{
	struct config cfg;
	struct store *st;
	struct roster r;
	struct import_report rep;
	struct import_opts opts = { .workers = 1 };
	unsigned char *pepper = secret_alloc(SECRET_PEPPER_BYTES);
	char err[1024], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(pepper);
	assert_non_null(f);
	config_defaults(&cfg);
	cfg.pin_hash_cost = CONFIG_COST_MIN;
	if (secret_create_pepper(pepper_path, err, sizeof(err)) != 0 ||
	    secret_load_pepper(pepper_path, pepper, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	fputs("id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin,username\n"
	      "1001,5001,Ola,Nordmann,student,Informatics,2026-08-14,11111111,\n"
	      "1002,5002,Kari,Lie,student,Maths,2026-08-14,22222222,\n"
	      "1003,5003,Per,Hansen,student,Physics,,33333333,\n", f);
	for (int i = 1; i <= CROWD; i++)
		fprintf(f, "%d,%d,Crowd,Member%c%c,student,Maths,2026-08-14,900000%02d,\n", 2000 + i, 6000 + i,
			'a' + i / 26, 'a' + i % 26, i);
	fclose(f);
	f = fmemopen(text, len, "r");
	assert_non_null(f);
	if (roster_read(f, "roster", ',', &cfg, &r, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	fclose(f);
	free(text);
	if (store_open(dbpath, STORE_CREATE, &st, err, sizeof(err)) != 0 ||
	    import_roster(st, &cfg, pepper, &r, "roster", &opts, &rep, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	roster_free(&r);
	store_close(st);
	secret_free(pepper);
}

static void make_sandbox(void)
{
	char db[PATH_MAX + 16], pepper[PATH_MAX + 16], conf[PATH_MAX + 16], text[PATH_MAX * 8], so[PATH_MAX * 3];
	char passdb[PATH_MAX + 16], matrix[PATH_MAX + 16];
	FILE *f;

	tu_tmpdir(sandbox, sizeof(sandbox));
	tu_tmpdir(svcdir, sizeof(svcdir));
	tu_path(db, sizeof(db), sandbox, "activate.db");
	tu_path(pepper, sizeof(pepper), sandbox, "pepper");
	tu_path(conf, sizeof(conf), sandbox, "activate.conf");
	import_people(db, pepper);
	snprintf(text, sizeof(text),
		 "database = %s\npepper_file = %s\nrun_dir = %s/run\nsysroot = %s/root\npin_hash_cost = min\n"
		 "max_tries = 1\nmax_attempts = 1000\nmax_total_failures = 1000000\non_success = login\n",
		 db, pepper, sandbox, sandbox);
	tu_write_file(conf, text, strlen(text), 0600);
	/* the system the activations provision into (ids from 70000, as in test_module) */
	put("run", NULL, 0700);
	put("root", NULL, 0755);
	put("root/etc", NULL, 0755);
	put("root/etc/skel", NULL, 0755);
	put("root/home", NULL, 0755);
	put("root/bin", NULL, 0755);
	put("root/bin/bash", "", 0755);
	put("root/etc/skel/.profile", "# ~/.profile\n", 0644);
	put("root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
	    "activate:x:999:999:Account activation:/:/usr/sbin/nologin\n", 0644);
	put("root/etc/shadow", "root:*:19000:0:99999:7:::\nactivate:!:19000::::::\n", 0640);
	put("root/etc/group", "root:x:0:\nactivate:x:999:\nusers:x:100:\n", 0644);
	put("root/etc/gshadow", "root:*::\nactivate:!::\nusers:*::\n", 0640);
	put("root/etc/login.defs", "UID_MIN 70000\nUID_MAX 79999\nGID_MIN 70000\nGID_MAX 79999\n"
	    "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\nENCRYPT_METHOD YESCRYPT\n"
	    "YESCRYPT_COST_FACTOR 3\n", 0644);
	/*
	 * A greeter's stack: the module first, then what ordinary users log in
	 * with, a password (pam_matrix): that they are asked for it shows the
	 * module ignored them. pam_permit for accounts: the new users are not
	 * in pam_matrix's file.
	 */
	tu_path(passdb, sizeof(passdb), svcdir, "passdb");
	f = fopen(passdb, "we");
	assert_non_null(f);
	for (int i = 0; i < ORDINARY_USERS; i++)
		fprintf(f, "student%d:secret:greeter\n", i);
	assert_int_equal(fclose(f), 0);
	snprintf(matrix, sizeof(matrix), "%s/pam_matrix.so", PAM_WRAPPER_MODULES);
	snprintf(so, sizeof(so), "%s/.libs/pam_activate.so relay=%s/.libs/pam_activate_relay.so", builddir,
		 builddir);
	tu_path(text, sizeof(text), svcdir, "greeter");
	f = fopen(text, "we");
	assert_non_null(f);
	fprintf(f, "auth [success=done ignore=ignore default=die] %s config=%s helper=%s/activate-helper fail_delay=0\n"
		"auth required %s passdb=%s\n"
		"account [success=ok ignore=ignore default=die] %s\n"
		"account required pam_permit.so\n", so, conf, builddir, matrix, passdb, so);
	assert_int_equal(fclose(f), 0);
	tu_path(conf, sizeof(conf), svcdir, "other");
	tu_write_file(conf, "auth required pam_deny.so\naccount required pam_deny.so\n", 54, 0644);
}

/* --- the caller (the second run, under pam_wrapper) ----------------------- */

struct script {
	const char *replies[8];
	size_t next;
	const char *expect;	/* a message or prompt the dialogue must show */
	bool seen;
};

static char *reply_for(const char *r, int *rc)
{
	char *big;

	if (!r || !strcmp(r, R_CONV_FAIL)) {
		*rc = PAM_CONV_ERR;
		return NULL;
	}
	if (!strcmp(r, R_NULL))
		return NULL;
	if (!strcmp(r, R_BIG)) {
		big = malloc(1 << 20);
		if (big) {
			memset(big, '7', (1 << 20) - 1);
			big[(1 << 20) - 1] = '\0';
		}
		return big;
	}
	return strdup(r);
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct script *s = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));
	int rc = out ? PAM_SUCCESS : PAM_BUF_ERR;

	for (int i = 0; i < n && rc == PAM_SUCCESS; i++) {
		if (s->expect && strstr(msg[i]->msg, s->expect))
			s->seen = true;
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON || msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			out[i].resp = reply_for(s->next < 8 ? s->replies[s->next++] : NULL, &rc);
	}
	if (rc != PAM_SUCCESS) {
		for (int i = 0; out && i < n; i++)
			free(out[i].resp);
		free(out);
		return rc;
	}
	*resp = out;
	return PAM_SUCCESS;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = -1;	/* the directory's own descriptor */

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;	/* "." and ".." */
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, resident = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long heap_kib(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

struct sample {
	int fds;
	long rss, heap;
};

static struct sample sample(void)
{
	return (struct sample){ .fds = open_fds(), .rss = rss_kib(), .heap = heap_kib() };
}

static void ordinary(int i)
{
	struct script s = { .replies = { "secret" } };
	struct pam_conv c = { conv, &s };
	pam_handle_t *ph = NULL;
	char user[32];
	int rc;

	snprintf(user, sizeof(user), "student%d", i % ORDINARY_USERS);
	assert_int_equal(pam_start("greeter", user, &c, &ph), PAM_SUCCESS);
	rc = pam_authenticate(ph, 0);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, 0);
	pam_end(ph, rc);
	if (rc != PAM_SUCCESS || s.next != 1)
		fail_msg("ordinary user %s: %s after %zu prompts (the module must ignore them)", user,
			 pam_strerror(NULL, rc), s.next);
}

#define KINDS 8
#define WARMUP_TRIGGER (2 * KINDS)

/* Dialogue number i of the trigger user: the kinds take turns. */
static void trigger(int i)
{
	static int activated;
	struct script s = { .replies = { NULL } };
	struct pam_conv c = { conv, &s };
	pam_handle_t *ph = NULL;
	char id[16], student[16], pin[16];
	const void *user = NULL;
	int want = PAM_AUTH_ERR, rc;

	switch (i % KINDS) {
	case 0:	/* nobody's details */
		s = (struct script){ { "9999", "5001", "11111111", "" }, 0, "do not match our records", false };
		break;
	case 1:	/* a wrong PIN: a failure of 1002's, far below max_attempts */
		s = (struct script){ { "1002", "5002", "00000000", "" }, 0, "do not match our records", false };
		break;
	case 2:	/* a prerequisite missing */
		s = (struct script){ { "1003", "5003", "33333333", "" }, 0, "semester fee is not registered", false };
		break;
	case 3:	/* the conversation fails at the PIN */
		s = (struct script){ { "1001", "5001", R_CONV_FAIL }, 0, "PIN code", false };
		want = PAM_CONV_ERR;
		break;
	case 4:	/* a NULL reply */
		s = (struct script){ { R_NULL }, 0, "ID number", false };
		want = PAM_CONV_ERR;
		break;
	case 5:	/* a reply far too long */
		s = (struct script){ { R_BIG, "" }, 0, "too long", false };
		break;
	case 6:	/* verified, then the person walks away at the password: the name stays reserved */
		s = (struct script){ { "1001", "5001", "11111111", R_CONV_FAIL }, 0, "Your username will be olanordm",
				     false };
		want = PAM_CONV_ERR;
		break;
	default:	/* a whole activation, and the login goes on as the new user */
		activated++;
		assert_true(activated <= CROWD);
		snprintf(id, sizeof(id), "%d", 2000 + activated);
		snprintf(student, sizeof(student), "%d", 6000 + activated);
		snprintf(pin, sizeof(pin), "900000%02d", activated);
		s = (struct script){ { id, student, pin, "1", "x" }, 0, "Your account is ready", false };
		want = PAM_SUCCESS;
	}
	assert_int_equal(pam_start("greeter", "activate", &c, &ph), PAM_SUCCESS);
	rc = pam_authenticate(ph, 0);
	if (rc == PAM_SUCCESS) {
		assert_int_equal(pam_get_item(ph, PAM_USER, &user), PAM_SUCCESS);
		if (strncmp(user, "crow", 4) != 0)
			fail_msg("dialogue %d: PAM_USER is %s after the activation", i, (const char *)user);
		rc = pam_acct_mgmt(ph, 0);
	}
	pam_end(ph, rc);
	if (rc != want || !s.seen)
		fail_msg("dialogue %d (kind %d): %s, wanted %s; '%s' %s", i, i % KINDS, pam_strerror(NULL, rc),
			 pam_strerror(NULL, want), s.expect, s.seen ? "shown" : "never shown");
}

static void test_long_lived_caller(void **state)
{
	struct sample start, warm, end;
	int status;

	(void)state;
	start = sample();
	/*
	 * The warm-up: libpam's and the allocator's first growth, and every
	 * kind of dialogue twice. Twice for the reply of 1 MiB: glibc serves
	 * the first with mmap, and freeing it raises its mmap and trim
	 * thresholds, so the next one comes from the heap and stays there.
	 */
	for (int i = 0; i < WARMUP_ORDINARY; i++)
		ordinary(i);
	for (int i = 0; i < WARMUP_TRIGGER; i++)
		trigger(i);
	warm = sample();
	/* a dialogue among each hundred ordinary logins, as on a lab's morning */
	for (int i = 0; i < ORDINARY_CYCLES; i++) {
		ordinary(i);
		if (i % (ORDINARY_CYCLES / TRIGGER_CYCLES) == 0)
			trigger(WARMUP_TRIGGER + i / (ORDINARY_CYCLES / TRIGGER_CYCLES));
	}
	end = sample();
	print_message("%d ordinary and %d trigger cycles after a warm-up of %d and %d\n", ORDINARY_CYCLES,
		      TRIGGER_CYCLES, WARMUP_ORDINARY, WARMUP_TRIGGER);
	print_message("%-26s %8s %14s %8s\n", "", "start", "after warm-up", "end");
	print_message("%-26s %8d %14d %8d\n", "open descriptors", start.fds, warm.fds, end.fds);
	print_message("%-26s %8ld %14ld %8ld\n", "RSS (KiB)", start.rss, warm.rss, end.rss);
	print_message("%-26s %8ld %14ld %8ld\n", "heap in use (KiB, malloc)", start.heap, warm.heap, end.heap);
	assert_int_equal(end.fds, start.fds);
	if (end.rss - warm.rss > RSS_TOLERANCE_KIB)
		fail_msg("RSS grew by %ld KiB after the warm-up (tolerance %d KiB)", end.rss - warm.rss,
			 RSS_TOLERANCE_KIB);
	/* every helper reaped: no child, no zombie */
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/*
 * Run this binary again: its resolved path (what valgrind can follow),
 * /proc/self/exe if that fails.
 */
static void exec_self(char *const argv[])
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		execv(self, argv);
	}
	execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_long_lived_caller) };
	const char *b = getenv("top_builddir");
	int rc;

	(void)argc;
	if (secret_init() != 0)
		return 1;
	snprintf(builddir, sizeof(builddir), "%s", b ? b : ".");
	if (!getenv("PAM_WRAPPER")) {
		make_sandbox();
		setenv("LONG_LIVED_SANDBOX", sandbox, 1);
		setenv("LONG_LIVED_SVCDIR", svcdir, 1);
		setenv("LD_PRELOAD", PAM_WRAPPER_LIB, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", svcdir, 1);
		setenv("PAM_WRAPPER_RUNTIME_DIR", sandbox, 1);
		setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
		/*
		 * Under ASan pam_wrapper is preloaded ahead of the runtime. The
		 * sanitizer build does not run this test (MEMCHECK_TESTS): the
		 * ASan runtime keeps some memory for every dlopen of an
		 * instrumented module, 5 MiB over 10 000 logins, so RSS there
		 * measures the sanitizer.
		 */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
		exec_self(argv);
		return 1;
	}
	snprintf(sandbox, sizeof(sandbox), "%s", getenv("LONG_LIVED_SANDBOX"));
	snprintf(svcdir, sizeof(svcdir), "%s", getenv("LONG_LIVED_SVCDIR"));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tu_rm_rf(sandbox);
	tu_rm_rf(svcdir);
	return rc;
}
