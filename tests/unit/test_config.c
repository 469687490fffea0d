/* test_config.c: unit tests for config.c (defaults, activate.conf, module arguments). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "config.h"
#include "network.h"

/* The build passes these to config.c and to us alike; same fallbacks as config.c. */
#ifndef ACTIVATE_DB
#define ACTIVATE_DB "/var/lib/pam_activate/activate.db"
#endif
#ifndef ACTIVATE_PEPPER
#define ACTIVATE_PEPPER "/etc/security/activate.pepper"
#endif

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* A literal and its length, so embedded NULs count. */
#define T(s) s, sizeof(s) - 1

static char dir[PATH_MAX];
static char conf[PATH_MAX];	/* dir/activate.conf, rewritten by each test */

static int group_setup(void **state)
{
	(void)state;
	tu_tmpdir(dir, sizeof(dir));
	tu_path(conf, sizeof(conf), dir, "activate.conf");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tu_rm_rf(dir);
	return 0;
}

static void assert_contains(const char *what, const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("%s: '%s' does not contain '%s'", what, hay, needle);
}

static void assert_unchanged(const char *what, const struct config *cfg, const struct config *before)
{
	if (memcmp(cfg, before, sizeof(*cfg)) != 0)
		fail_msg("%s: the config changed although the call failed", what);
}

/* Write text (len bytes) as the config file and load it over *cfg. */
static int load(struct config *cfg, const char *text, size_t len, char *err)
{
	tu_write_file(conf, text, len, 0644);
	return config_load_file(cfg, conf, err, CONFIG_ERROR_MAX);
}

/* The file must fail with "CONF:LINE: ...want..." and leave the defaults alone. */
static void assert_file_error(const char *what, const char *text, size_t len,
			      unsigned line, const char *want)
{
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX] = "";
	char prefix[PATH_MAX + 32];
	int r;

	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	r = load(&cfg, text, len, err);
	if (r != -EINVAL)
		fail_msg("%s: returned %d, want -EINVAL (err '%s')", what, r, err);
	assert_unchanged(what, &cfg, &before);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", conf, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("%s: '%s' does not start with '%s'", what, err, prefix);
	assert_contains(what, err + strlen(prefix), want);
}

/* --- config_defaults ---------------------------------------------------- */

static void test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg));
	config_defaults(&cfg);
	assert_string_equal(cfg.trigger_user, "activate");
	assert_string_equal(cfg.database, ACTIVATE_DB);
	assert_string_equal(cfg.pepper_file, ACTIVATE_PEPPER);
	assert_string_equal(cfg.sysroot, "/");
	assert_int_equal(cfg.on_success, CONFIG_ON_SUCCESS_DENY);
	assert_int_equal(cfg.max_tries, 3);
	assert_int_equal(cfg.max_attempts, 5);
	assert_int_equal(cfg.lock_time, 900);
	assert_int_equal(cfg.max_total_failures, 100);
	assert_int_equal(cfg.throttle_failures, 20);
	assert_int_equal(cfg.throttle_window, 600);
	assert_int_equal(cfg.pin_length, 8);
	assert_int_equal(cfg.pin_ttl_days, 30);
	assert_int_equal(cfg.pin_hash_cost, CONFIG_COST_INTERACTIVE);
	assert_in_range(cfg.max_concurrent_hashes, 1, 4096);	/* CPU count */
	assert_int_equal(cfg.id_number_max_length, 16);
	assert_int_equal(cfg.student_number_max_length, 16);
	assert_string_equal(cfg.username_format, "%4g%f");
	assert_int_equal(cfg.username_max_length, 8);
	assert_string_equal(cfg.reserved_usernames, "");
	assert_string_equal(cfg.terms_file, "");
	assert_string_equal(cfg.pwquality_conf, "/etc/security/pwquality.conf");
	assert_string_equal(cfg.password_allowed_chars, "");
	assert_string_equal(cfg.email_format, "");
	assert_string_equal(cfg.home_base, "/home");
	assert_int_equal(cfg.home_mode, 0700);
	assert_string_equal(cfg.skel, "/etc/skel");
	assert_string_equal(cfg.shell, "/bin/bash");
	assert_string_equal(cfg.groups, "");
	assert_string_equal(cfg.crypt_method, "");
	assert_int_equal(cfg.suggestions, 3);
	assert_string_equal(cfg.support_contact, "Contact the IT help desk if you need help.");
	assert_string_equal(cfg.hook, "");
	assert_int_equal(cfg.accounts, CONFIG_ACCOUNTS_FILES);
	assert_string_equal(cfg.ldap_uri, "ldap://localhost/");
	assert_string_equal(cfg.ldap_people_base, "");
	assert_string_equal(cfg.ldap_groups_base, "");
	assert_string_equal(cfg.ldap_id_allocator, "");
	assert_string_equal(cfg.ldap_bind_dn, "");
	assert_string_equal(cfg.ldap_bind_password_file, "/etc/security/activate-ldap.secret");
	assert_string_equal(cfg.ldap_ca_file, "");
	assert_true(cfg.ldap_starttls);
	assert_int_equal(cfg.ldap_timeout, 10);
	assert_false(cfg.ldap_local_home);
	assert_false(cfg.debug);
}

/*
 * Every default written out as "key = value" and read back over a zeroed
 * struct gives the defaults again: each default passes the parser's own rules
 * and each key lands in its own field.
 */
static void test_defaults_round_trip(void **state)
{
	struct config d, cfg;
	char err[CONFIG_ERROR_MAX] = "";
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	config_defaults(&d);
	f = open_memstream(&text, &len);
	assert_non_null(f);
#define S(k) fprintf(f, #k " = %s\n", d.k)
#define U(k) fprintf(f, #k " = %u\n", d.k)
	S(trigger_user); S(language); S(database); S(database_password_file); S(database_ca_file);
	U(database_timeout); S(pepper_file); S(sysroot); S(run_dir);
	fprintf(f, "on_success = %s\n", config_on_success_name(d.on_success));
	U(max_tries); U(max_attempts); U(lock_time); U(lock_time_max); U(max_total_failures);
	U(throttle_failures); U(throttle_window); S(throttle_networks); U(pin_length); U(pin_ttl_days);
	fprintf(f, "pin_hash_cost = %s\n", config_cost_name(d.pin_hash_cost));
	U(max_concurrent_hashes); U(reply_timeout); U(dialogue_timeout); U(id_number_max_length); U(student_number_max_length);
	S(username_format); U(username_max_length); S(reserved_usernames); S(terms_file);
	S(pwquality_conf); S(password_allowed_chars); S(email_format); S(home_base);
	fprintf(f, "home_mode = %o\n", d.home_mode);
	S(skel); S(shell); S(groups); S(crypt_method); U(suggestions); U(text_width);
	fprintf(f, "messages = %s\n", config_messages_name(d.messages));
	S(support_contact); S(sendmail); S(mail_from); S(mail_language); S(pin_letter); S(hook);
	fprintf(f, "accounts = %s\n", config_accounts_name(d.accounts));
	S(ldap_uri); S(ldap_people_base); S(ldap_groups_base); S(ldap_id_allocator); S(ldap_bind_dn);
	S(ldap_bind_password_file); S(ldap_ca_file);
	fprintf(f, "ldap_starttls = %s\n", d.ldap_starttls ? "yes" : "no");
	U(ldap_timeout);
	fprintf(f, "ldap_local_home = %s\n", d.ldap_local_home ? "yes" : "no");
	fprintf(f, "debug = %s\n", d.debug ? "yes" : "no");
#undef S
#undef U
	assert_int_equal(fclose(f), 0);

	memset(&cfg, 0, sizeof(cfg));
	if (load(&cfg, text, len, err) != 0)
		fail_msg("defaults do not load: %s", err);
	free(text);
	assert_memory_equal(&cfg, &d, sizeof(cfg));
}

/*
 * conf/activate.conf documents every key with its default, commented out:
 * uncommented and read over a zeroed struct it gives the defaults. The
 * install paths and the CPU count depend on the build and the machine.
 */
static void test_shipped_conf_documents_every_key(void **state)
{
	const char *srcdir = getenv("top_srcdir");
	struct config d, cfg;
	char path[PATH_MAX], err[CONFIG_ERROR_MAX] = "";
	char *line = NULL, *text = NULL;
	size_t cap = 0, len = 0;
	FILE *in, *out;

	(void)state;
	snprintf(path, sizeof(path), "%s/conf/activate.conf", srcdir ? srcdir : "..");
	in = fopen(path, "r");
	if (!in)
		fail_msg("%s: cannot open (is top_srcdir set?)", path);
	out = open_memstream(&text, &len);
	while (getline(&line, &cap, in) > 0)
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && strstr(line, " ="))
			fputs(line + 1, out);
	fclose(in);
	free(line);
	assert_int_equal(fclose(out), 0);
	memset(&cfg, 0, sizeof(cfg));
	if (load(&cfg, text, len, err) != 0)
		fail_msg("shipped activate.conf does not load: %s", err);
	free(text);
	config_defaults(&d);
	strcpy(cfg.database, d.database);
	strcpy(cfg.pepper_file, d.pepper_file);
	cfg.max_concurrent_hashes = d.max_concurrent_hashes;
	assert_memory_equal(&cfg, &d, sizeof(cfg));
}

/* --- config_load_file: good files --------------------------------------- */

static void test_file_good(void **state)
{
	static const char text[] =
		"# activate.conf for the test lab\n"
		"\n"
		"   # an indented comment\n"
		"trigger_user=signup\n"
		"max_tries = 7   # a trailing comment\n"
		"\tlock_time\t=\t60\t\n"
		"\n"
		"on_success = login\n"
		"pin_hash_cost = moderate\n"
		"home_mode = 0750\n"
		"debug = yes\n"
		"hook = /usr/local/libexec/activate-hook\n"
		"skel =   # no skeleton\n"
		"support_contact = Call  the help desk: 555 0100\r\n"
		"groups = users,students\n"
		"suggestions = 0\n"
		"pwquality_conf = /etc/x.conf";	/* no final newline */
	struct config cfg, want;
	char err[CONFIG_ERROR_MAX] = "";

	(void)state;
	config_defaults(&cfg);
	config_defaults(&want);
	strcpy(want.trigger_user, "signup");
	want.max_tries = 7;
	want.lock_time = 60;
	want.on_success = CONFIG_ON_SUCCESS_LOGIN;
	want.pin_hash_cost = CONFIG_COST_MODERATE;
	want.home_mode = 0750;
	want.debug = true;
	strcpy(want.hook, "/usr/local/libexec/activate-hook");
	strcpy(want.skel, "");
	strcpy(want.support_contact, "Call  the help desk: 555 0100");
	strcpy(want.groups, "users,students");
	want.suggestions = 0;
	strcpy(want.pwquality_conf, "/etc/x.conf");

	if (load(&cfg, T(text), err) != 0)
		fail_msg("good file refused: %s", err);
	assert_string_equal(cfg.trigger_user, want.trigger_user);
	assert_string_equal(cfg.support_contact, want.support_contact);
	assert_string_equal(cfg.skel, "");
	assert_int_equal(cfg.home_mode, 0750);
	/* the keys named above changed, and nothing else did */
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

/* The database forms store_open takes: a path, sqlite:PATH, a PostgreSQL URL. */
static void test_database_values(void **state)
{
	static const char *const good[] = {
		"/var/lib/pam_activate/activate.db", "sqlite:/srv/activate.db",
		"postgresql://activate@db.example.edu:5432/activate?connect_timeout=5",
		"postgres:///activate?host=/run/postgresql", "postgresql://db.example.edu/activate",
	};
	struct config cfg;
	char err[CONFIG_ERROR_MAX];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(good); i++) {
		config_defaults(&cfg);
		err[0] = '\0';
		if (config_set(&cfg, "database", good[i], err, sizeof(err)) != 0)
			fail_msg("database = %s refused: %s", good[i], err);
		assert_string_equal(cfg.database, good[i]);
	}
}

static void test_file_empty_and_comments_only(void **state)
{
	static const struct {
		const char *text;
		size_t len;
	} files[] = {
		{ T("") },
		{ T("\n\n\n") },
		{ T("# nothing here\n   \n\t# max_tries = 9\n") },
		{ T("#") },
	};
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(files); i++) {
		config_defaults(&cfg);
		memcpy(&before, &cfg, sizeof(cfg));
		assert_int_equal(load(&cfg, files[i].text, files[i].len, err), 0);
		assert_memory_equal(&cfg, &before, sizeof(cfg));
	}
}

static void test_file_missing(void **state)
{
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX] = "";
	char path[PATH_MAX];

	(void)state;
	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	tu_path(path, sizeof(path), dir, "no-such.conf");
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), -ENOENT);
	assert_unchanged("missing file", &cfg, &before);
	assert_contains("missing file", err, path);
}

/* --- config_load_file: every error names FILE:LINE and changes nothing --- */

static void test_file_errors(void **state)
{
	static const struct {
		const char *what;
		const char *text;
		size_t len;
		unsigned line;
		const char *want;
	} cases[] = {
		{ "unknown key", T("max_tries = 5\n\nno_such_key = 1\n"), 3, "unknown key 'no_such_key'" },
		{ "keys are case-sensitive", T("Max_Tries = 5\n"), 1, "unknown key 'Max_Tries'" },
		{ "number abc", T("# c\nmax_tries = abc\n"), 2, "max_tries: 'abc' is not a whole number" },
		{ "number -1", T("max_tries = -1\n"), 1, "max_tries: '-1' is not a whole number" },
		{ "number 1e3", T("lock_time = 1e3\n"), 1, "lock_time: '1e3' is not a whole number" },
		{ "number +5", T("max_tries = +5\n"), 1, "max_tries: '+5' is not a whole number" },
		{ "number 0x10", T("max_tries = 0x10\n"), 1, "max_tries: '0x10' is not a whole number" },
		{ "number 5 5", T("max_tries = 5 5\n"), 1, "max_tries: '5 5' is not a whole number" },
		{ "number empty", T("max_tries =\n"), 1, "max_tries: '' is not a whole number" },
		{ "max_tries 0", T("max_tries = 0\n"), 1, "max_tries: must be between 1 and 100" },
		{ "network", T("throttle_networks = 10.0.0.0/8=200, lab=3\n"), 1, "throttle_networks: 'lab=3': expected" },
		{ "network bits", T("throttle_networks = 10.0.0.0/33=5\n"), 1, "throttle_networks: '10.0.0.0/33=5'" },
		{ "network limit", T("throttle_networks = 10.0.0.0/8=0\n"), 1, "throttle_networks: '10.0.0.0/8=0'" },
		{ "network no limit", T("throttle_networks = 2001:db8::/32\n"), 1, "throttle_networks: '2001:db8::/32'" },
		{ "language", T("language = ../../etc\n"), 1, "language: a language or locale name" },
		{ "max_tries 101", T("max_tries = 101\n"), 1, "max_tries: must be between 1 and 100" },
		{ "2^32 + 1", T("max_tries = 4294967297\n"), 1, "max_tries: must be between 1 and 100" },
		{ "overflow", T("max_tries = 99999999999999999999999\n"), 1, "max_tries: must be between" },
		{ "pin_length 5", T("pin_length = 5\n"), 1, "pin_length: must be between 6 and 32" },
		{ "set twice", T("max_tries = 4\nlock_time = 60\n# again\nmax_tries = 4\n"), 4,
		  "max_tries: set twice" },
		{ "set twice, other spacing", T("debug=yes\n\tdebug = no\n"), 2, "debug: set twice" },
		{ "no '='", T("max_tries = 5\nlock_time 60\n"), 2, "expected 'key = value'" },
		{ "bare word", T("debug\n"), 1, "expected 'key = value'" },
		{ "no key", T(" = 5\n"), 1, "expected 'key = value'" },
		{ "'=' only in a comment", T("max_tries 5 # = 3\n"), 1, "expected 'key = value'" },
		{ "NUL in value", T("max_tries = 5\nlock_time = 6\0\n"), 2, "NUL byte in line" },
		{ "NUL in comment", T("# a\0b\n"), 1, "NUL byte in line" },
		{ "relative path", T("database = var/lib/activate.db\n"), 1,
		  "database: must be an absolute path" },
		{ "relative sqlite: path", T("database = sqlite:activate.db\n"), 1, "database: must be an absolute path" },
		{ "another database", T("database = mysql://db/activate\n"), 1,
		  "database: must be an absolute path, sqlite:PATH or a postgresql:// URL" },
		{ "a password in the URL", T("database = postgresql://activate:s3cret@db/activate\n"), 1,
		  "database: a password in the URL; put it in database_password_file" },
		{ "a password parameter", T("database = postgres://db/activate?password=s3cret\n"), 1,
		  "database: a password in the URL" },
		{ "database_timeout 0", T("database_timeout = 0\n"), 1, "database_timeout: must be between 1 and 3600" },
		{ "relative password file", T("database_password_file = pw\n"), 1,
		  "database_password_file: must be an absolute path" },
		{ "relative optional path", T("hook = hook.sh\n"), 1, "hook: must be an absolute path" },
		{ "empty required path", T("database =\n"), 1, "database: must" },
		{ "on_success maybe", T("on_success = maybe\n"), 1, "on_success: expected deny or login" },
		{ "on_success Login", T("on_success = Login\n"), 1, "on_success: expected deny or login" },
		{ "pin_hash_cost high", T("pin_hash_cost = high\n"), 1,
		  "pin_hash_cost: expected min or interactive or moderate" },
		{ "pin_hash_cost 1", T("pin_hash_cost = 1\n"), 1, "pin_hash_cost: expected" },
		{ "home_mode 0789", T("home_mode = 0789\n"), 1, "home_mode: '0789' is not a" },
		{ "home_mode -700", T("home_mode = -700\n"), 1, "home_mode: '-700' is not a" },
		{ "home_mode 10000", T("home_mode = 10000\n"), 1, "home_mode: must be between 0 and 7777" },
		{ "debug maybe", T("debug = maybe\n"), 1, "debug: expected yes or no" },
		{ "ESC in text", T("support_contact = call \x1b[2Jus\n"), 1,
		  "support_contact: control characters or invalid UTF-8" },
		{ "bad UTF-8 in text", T("trigger_user = \xff\n"), 1,
		  "trigger_user: control characters or invalid UTF-8" },
		{ "error after CRLF lines", T("# a\r\nmax_tries = 5\r\nmax_tries = 6\r\n"), 3,
		  "max_tries: set twice" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_file_error(cases[i].what, cases[i].text, cases[i].len, cases[i].line,
				  cases[i].want);
}

/* "max_tries = 7 #xxx..." padded to exactly n bytes, then the tail ("\n" or ""). */
static size_t padded_line(char *buf, size_t size, const char *head, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);

	assert_true(h + 2 <= n && n + t < size);
	memcpy(buf, head, h);
	buf[h] = '#';
	memset(buf + h + 1, 'x', n - h - 1);
	memcpy(buf + n, tail, t + 1);
	return n + t;
}

static void test_file_overlong_line(void **state)
{
	static char buf[2 * CONFIG_LINE_MAX];
	size_t len;

	(void)state;
	len = padded_line(buf, sizeof(buf), "debug = yes\nmax_tries = 7 ", 12 + CONFIG_LINE_MAX + 1, "\n");
	assert_file_error("overlong line", buf, len, 2, "line longer than 4096 bytes");
	len = padded_line(buf, sizeof(buf), "debug = yes\nmax_tries = 7 ", 12 + CONFIG_LINE_MAX + 1, "");
	assert_file_error("overlong last line without newline", buf, len, 2,
			  "line longer than 4096 bytes");
}

/*
 * A line of exactly CONFIG_LINE_MAX bytes is within the limit, and whether it
 * ends in a newline must not matter (module arguments of that length pass too).
 */
static void test_file_line_of_exactly_max_length(void **state)
{
	static char buf[2 * CONFIG_LINE_MAX];
	static const char *const tails[] = { "", "\n" };
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	size_t len;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(tails); i++) {
		len = padded_line(buf, sizeof(buf), "max_tries = 7 ", CONFIG_LINE_MAX, tails[i]);
		config_defaults(&cfg);
		err[0] = '\0';
		if (load(&cfg, buf, len, err) != 0)
			fail_msg("%d-byte line%s refused: %s", CONFIG_LINE_MAX,
				 *tails[i] ? " ending in a newline" : " without a newline", err);
		assert_int_equal(cfg.max_tries, 7);
	}
}

/* --- config_set ---------------------------------------------------------- */

static void test_set_text_length(void **state)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "";
	char value[CONFIG_TEXT_MAX + 1];

	(void)state;
	config_defaults(&cfg);
	memset(value, 'a', CONFIG_TEXT_MAX - 1);
	value[CONFIG_TEXT_MAX - 1] = '\0';
	assert_int_equal(config_set(&cfg, "trigger_user", value, err, sizeof(err)), 0);
	assert_string_equal(cfg.trigger_user, value);

	value[CONFIG_TEXT_MAX - 1] = 'a';
	value[CONFIG_TEXT_MAX] = '\0';
	assert_int_not_equal(config_set(&cfg, "trigger_user", value, err, sizeof(err)), 0);
	assert_contains("long text", err, "trigger_user: value longer than 255 bytes");
	assert_int_equal(strlen(cfg.trigger_user), CONFIG_TEXT_MAX - 1);

	assert_int_equal(config_set(&cfg, "nope", "1", err, sizeof(err)), -ENOENT);
	assert_contains("unknown key", err, "unknown key 'nope'");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(config_cost_name(CONFIG_COST_MIN), "min");
	assert_string_equal(config_cost_name(CONFIG_COST_INTERACTIVE), "interactive");
	assert_string_equal(config_cost_name(CONFIG_COST_MODERATE), "moderate");
	assert_string_equal(config_cost_name(-1), "?");
	assert_string_equal(config_cost_name(CONFIG_COST_MODERATE + 1), "?");
	assert_string_equal(config_on_success_name(CONFIG_ON_SUCCESS_DENY), "deny");
	assert_string_equal(config_on_success_name(CONFIG_ON_SUCCESS_LOGIN), "login");
}

/* --- config_apply_args --------------------------------------------------- */

static void test_args_override_file(void **state)
{
	static const char *const argv[] = { "max_tries=7", "debug=no", "support_contact=a=b" };
	struct config cfg, want;
	char err[CONFIG_ERROR_MAX] = "";

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(load(&cfg, T("max_tries = 5\ndebug = yes\nlock_time = 60\n"), err), 0);
	memcpy(&want, &cfg, sizeof(cfg));
	want.max_tries = 7;
	want.debug = false;
	strcpy(want.support_contact, "a=b");	/* the first '=' splits */

	if (config_apply_args(&cfg, (int)N_ELEMS(argv), argv, err, sizeof(err)) != 0)
		fail_msg("arguments refused: %s", err);
	assert_int_equal(cfg.max_tries, 7);
	assert_int_equal(cfg.lock_time, 60);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void test_args_debug_alone(void **state)
{
	static const char *const argv[] = { "debug" };
	struct config cfg, want;
	char err[CONFIG_ERROR_MAX] = "";

	(void)state;
	config_defaults(&cfg);
	memcpy(&want, &cfg, sizeof(cfg));
	want.debug = true;
	assert_int_equal(config_apply_args(&cfg, 1, argv, err, sizeof(err)), 0);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void test_args_none(void **state)
{
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX] = "";

	(void)state;
	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	assert_int_equal(config_apply_args(&cfg, 0, NULL, err, sizeof(err)), 0);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* Good arguments first, the bad one last: nothing at all may change. */
static void test_args_errors(void **state)
{
	static const struct {
		const char *bad, *want;
	} cases[] = {
		{ "pin_length=5", "argument 'pin_length': pin_length: must be between 6 and 32" },
		{ "nosuchkey=1", "argument 'nosuchkey': unknown key 'nosuchkey'" },
		{ "max_tries", "argument 'max_tries': expected KEY=VALUE" },
		{ "max_tries=abc", "argument 'max_tries': max_tries: 'abc' is not a whole number" },
		{ "debug=maybe", "argument 'debug': debug: expected yes or no" },
		{ "database=relative.db", "argument 'database': database: must be an absolute path" },
		{ "home_mode=0789", "argument 'home_mode': home_mode: '0789' is not a" },
		{ "on_success=Login", "argument 'on_success': on_success: expected deny or login" },
		{ "trigger_user=\x1b[2J", "argument 'trigger_user': trigger_user: control characters" },
	};
	const char *argv[5] = { "max_tries=9", "on_success=login", "debug", "hook=/bin/true" };
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		config_defaults(&cfg);
		memcpy(&before, &cfg, sizeof(cfg));
		err[0] = '\0';
		argv[4] = cases[i].bad;
		if (config_apply_args(&cfg, 5, argv, err, sizeof(err)) != -EINVAL)
			fail_msg("argument '%s' accepted", cases[i].bad);
		assert_unchanged(cases[i].bad, &cfg, &before);
		assert_contains(cases[i].bad, err, cases[i].want);
	}
}

static void test_args_length(void **state)
{
	static char arg[CONFIG_LINE_MAX + 2];
	const char *argv[] = { "max_tries=9", arg };
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX] = "";

	(void)state;
	/* "hook=/aaa...": exactly CONFIG_LINE_MAX bytes, a valid 4091-byte path */
	memcpy(arg, "hook=/", 6);
	memset(arg + 6, 'a', CONFIG_LINE_MAX - 6);
	arg[CONFIG_LINE_MAX] = '\0';
	config_defaults(&cfg);
	if (config_apply_args(&cfg, 2, argv, err, sizeof(err)) != 0)
		fail_msg("%d-byte argument refused: %s", CONFIG_LINE_MAX, err);
	assert_int_equal(strlen(cfg.hook), CONFIG_LINE_MAX - 5);

	/* one byte more is refused, and the good argument before it is dropped */
	arg[CONFIG_LINE_MAX] = 'a';
	arg[CONFIG_LINE_MAX + 1] = '\0';
	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	assert_int_equal(config_apply_args(&cfg, 2, argv, err, sizeof(err)), -EINVAL);
	assert_unchanged("overlong argument", &cfg, &before);
	assert_contains("overlong argument", err, "argument longer than 4096 bytes");
}

/* Which network holds an address, at bit boundaries that are not byte boundaries too. */
static void test_network_limits(void **state)
{
	static const char list[] = "10.20.16.0/20=7 192.0.2.1=none, 0.0.0.0/0=50 2001:db8:1:8000::/49=9";
	static const struct { const char *host; unsigned limit; bool none; } cases[] = {
		{ "10.20.31.255", 7, false }, { "10.20.32.0", 50, false }, { "10.20.15.255", 50, false },
		{ "192.0.2.1", 0, true }, { "192.0.2.2", 50, false },
		{ "2001:db8:1:8000::1", 9, false }, { "2001:db8:1:7fff::1", 3, false }, { "::1", 3, false },
		{ "login.example.edu", 3, false }, { "", 3, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned limit = 0;
		bool none = true;

		network_limit(list, cases[i].host, 3, &limit, &none);
		if (none != cases[i].none || (!none && limit != cases[i].limit))
			fail_msg("%s: limit %u none %d, want %u %d", cases[i].host, limit, none, cases[i].limit,
				 cases[i].none);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_limits),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_round_trip),
		cmocka_unit_test(test_shipped_conf_documents_every_key),
		cmocka_unit_test(test_file_good),
		cmocka_unit_test(test_database_values),
		cmocka_unit_test(test_file_empty_and_comments_only),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_overlong_line),
		cmocka_unit_test(test_file_line_of_exactly_max_length),
		cmocka_unit_test(test_set_text_length),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_args_override_file),
		cmocka_unit_test(test_args_debug_alone),
		cmocka_unit_test(test_args_none),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_args_length),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
