/*
 * test_ldap.c: the ldap accounts backend (accounts/ldap.c) against a real
 * slapd that tests/unit/slapd.sh starts in a private directory for the run
 * and stops after: entries read back and a bind as the new user (slapd
 * checks {CRYPT} with crypt(3)), 50 provisions at once from forked
 * processes, roll forward, someone else's entry, revoke and restore, a new
 * password, rename, the directory down or hung, TLS and the bind password
 * file. Without slapd, ldap-utils or openssl it fails naming the package.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ldap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accounts.h"
#include "config.h"
#include "logindefs.h"
#include "password.h"
#include "testutil.h"

#define PEOPLE "ou=people,dc=example,dc=edu"
#define GROUPS "ou=groups,dc=example,dc=edu"
#define ADMIN "cn=admin,dc=example,dc=edu"
#define CROWD 50

static char dir[512], uri[256], ldaps_uri[256], script[1024];
static struct logindefs ld;
static char hash1[PASSWORD_HASH_MAX], hash2[PASSWORD_HASH_MAX];

static void cfg_for(struct config *cfg)
{
	char err[CONFIG_ERROR_MAX], path[1024];

	config_defaults(cfg);
	snprintf(path, sizeof(path), "%s/root", dir);
	assert_int_equal(config_set(cfg, "sysroot", path, err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "accounts", "ldap", err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "ldap_uri", uri, err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "ldap_people_base", PEOPLE, err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "ldap_groups_base", GROUPS, err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "ldap_bind_dn", ADMIN, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/bind.secret", dir);
	assert_int_equal(config_set(cfg, "ldap_bind_password_file", path, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(config_set(cfg, "ldap_ca_file", path, err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "ldap_timeout", "5", err, sizeof(err)), 0);
	assert_int_equal(config_set(cfg, "groups", "students", err, sizeof(err)), 0);
}

static void run_script(const char *cmd, char *out, size_t size)
{
	char line[2048];
	FILE *p;

	snprintf(line, sizeof(line), "sh '%s' %s '%s'", script, cmd, dir);
	p = popen(line, "r");
	assert_non_null(p);
	if (out && !fgets(out, (int)size, p))
		out[0] = '\0';
	if (pclose(p) != 0)
		fail_msg("%s failed (slapd, ldap-utils and openssl are needed: scripts/setup installs them)", line);
}

static int start(void **state)
{
	const char *src = getenv("top_srcdir");
	char out[600], sysroot[600];

	(void)state;
	snprintf(script, sizeof(script), "%s/tests/unit/slapd.sh", src ? src : "..");
	tu_tmpdir(dir, sizeof(dir));
	run_script("start", out, sizeof(out));
	if (sscanf(out, "%255s %255s", uri, ldaps_uri) != 2)
		fail_msg("slapd.sh start printed no URIs: '%s'", out);
	snprintf(sysroot, sizeof(sysroot), "%s/root", dir);
	mkdir(sysroot, 0755);
	ld = (struct logindefs){ .uid_min = 30000, .uid_max = 39999, .gid_min = 30000, .gid_max = 39999,
				 .pass_min_days = 0, .pass_max_days = 99999, .pass_warn_age = 7 };
	{
		struct config cfg;

		config_defaults(&cfg);
		snprintf(cfg.crypt_method, sizeof(cfg.crypt_method), "SHA512");
		if (password_hash(&cfg, &ld, "first-pass-Word-1", hash1, sizeof(hash1)) != 0 ||
		    password_hash(&cfg, &ld, "second-pass-Word-2", hash2, sizeof(hash2)) != 0)
			fail_msg("crypt(3) made no SHA512 hash");
	}
	return 0;
}

static int stop(void **state)
{
	(void)state;
	run_script("stop", NULL, 0);
	tu_rm_rf(dir);
	return 0;
}

/* --- reading the directory as the tests' own client ---------------------- */

static LDAP *connect_as(const char *dn, const char *password)
{
	struct berval cred = { strlen(password), (char *)password };
	int version = LDAP_VERSION3;
	LDAP *l = NULL;
	int rc;

	assert_int_equal(ldap_initialize(&l, uri), LDAP_SUCCESS);
	ldap_set_option(l, LDAP_OPT_PROTOCOL_VERSION, &version);
	rc = ldap_sasl_bind_s(l, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		ldap_unbind_ext_s(l, NULL, NULL);
		return NULL;
	}
	return l;
}

static LDAP *admin(void)
{
	char path[1024], secret[256] = "";
	FILE *f;
	LDAP *l;

	snprintf(path, sizeof(path), "%s/bind.secret", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(secret, sizeof(secret), f));
	fclose(f);
	secret[strcspn(secret, "\n")] = '\0';
	l = connect_as(ADMIN, secret);
	assert_non_null(l);
	return l;
}

static bool can_bind(const char *name, const char *password)
{
	char dn[256];
	LDAP *l;

	snprintf(dn, sizeof(dn), "uid=%s," PEOPLE, name);
	l = connect_as(dn, password);
	if (l)
		ldap_unbind_ext_s(l, NULL, NULL);
	return l != NULL;
}

/* The values of attr of dn joined by '|' ("" when absent; NULL: no entry). Freed by the caller. */
static char *values(const char *dn, const char *attr)
{
	char *attrs[] = { (char *)attr, NULL }, *out = NULL;
	LDAP *l = admin();
	LDAPMessage *res = NULL, *e;
	int rc = ldap_search_ext_s(l, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, NULL, 0, &res);

	if (rc == LDAP_SUCCESS && (e = ldap_first_entry(l, res))) {
		struct berval **v = ldap_get_values_len(l, e, attr);
		size_t len = 1;

		for (int i = 0; v && v[i]; i++)
			len += v[i]->bv_len + 1;
		out = calloc(1, len);
		assert_non_null(out);
		for (int i = 0; v && v[i]; i++) {
			if (i)
				strcat(out, "|");
			strncat(out, v[i]->bv_val, v[i]->bv_len);
		}
		ldap_value_free_len(v);
	}
	if (res)
		ldap_msgfree(res);
	ldap_unbind_ext_s(l, NULL, NULL);
	return out;
}

static void assert_values(const char *dn, const char *attr, const char *want)
{
	char *got = values(dn, attr);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%s %s: '%s', want '%s'", dn, attr, got ? got : "(no entry)", want);
	free(got);
}

static bool entry_there(const char *dn)
{
	char *v = values(dn, "objectClass");

	free(v);
	return v != NULL;
}

/* --- the intent, as the helper's store would keep it ---------------------- */

struct intent {
	int calls;
	int fail;		/* what record_intent returns */
	uid_t uid;
	gid_t gid;
};

static int record(const struct account *a, void *ctx)
{
	struct intent *in = ctx;

	in->calls++;
	in->uid = a->uid;
	in->gid = a->gid;
	return in->fail;
}

static struct account account_of(const char *name, const char *hash, struct intent *in)
{
	return (struct account){ .name = name, .gecos = "Ola Nordmann", .given_name = "Ola", .family_name = "Nordmann",
				 .email = "ola@example.edu", .hash = hash, .record_intent = record, .intent_ctx = in };
}

static void provision_ok(const char *name, const char *hash, struct account *out)
{
	static struct intent in;
	struct config cfg;
	char err[512] = "";

	cfg_for(&cfg);
	in = (struct intent){ 0 };
	*out = account_of(name, hash, &in);
	if (accounts_provision(&cfg, &ld, out, err, sizeof(err)) != 0)
		fail_msg("provision %s: %s", name, err);
}

/* --- the tests ----------------------------------------------------------- */

static void test_provision_reads_back(void **state)
{
	struct intent in = { 0 };
	struct account a = account_of("olanordm", hash1, &in);
	struct config cfg;
	char err[512] = "", num[16], path[1024];
	struct stat st;

	(void)state;
	cfg_for(&cfg);
	assert_false(accounts_name_taken(&cfg, "olanordm"));
	if (accounts_provision(&cfg, &ld, &a, err, sizeof(err)) != 0)
		fail_msg("provision: %s", err);
	assert_int_equal(in.calls, 1);
	assert_true(a.chose_ids);
	assert_int_equal(a.uid, a.gid);
	assert_in_range(a.uid, 30000, 39999);
	assert_int_equal(in.uid, a.uid);
	snprintf(num, sizeof(num), "%u", (unsigned)a.uid);
	assert_values("uid=olanordm," PEOPLE, "objectClass", "top|inetOrgPerson|posixAccount|shadowAccount");
	assert_values("uid=olanordm," PEOPLE, "uidNumber", num);
	assert_values("uid=olanordm," PEOPLE, "gidNumber", num);
	assert_values("uid=olanordm," PEOPLE, "homeDirectory", "/home/olanordm");
	assert_values("uid=olanordm," PEOPLE, "loginShell", "/bin/bash");
	assert_values("uid=olanordm," PEOPLE, "cn", "Ola Nordmann");
	assert_values("uid=olanordm," PEOPLE, "sn", "Nordmann");
	assert_values("uid=olanordm," PEOPLE, "mail", "ola@example.edu");
	assert_values("uid=olanordm," PEOPLE, "shadowMax", "99999");
	assert_values("cn=olanordm," GROUPS, "objectClass", "top|posixGroup");
	assert_values("cn=olanordm," GROUPS, "gidNumber", num);
	assert_values("cn=students," GROUPS, "memberUid", "olanordm");
	{
		char *pw = values("uid=olanordm," PEOPLE, "userPassword");

		assert_non_null(pw);
		assert_true(strncmp(pw, "{CRYPT}$6$", 10) == 0);
		free(pw);
	}
	assert_true(can_bind("olanordm", "first-pass-Word-1"));	/* slapd checks {CRYPT} with crypt(3) */
	assert_false(can_bind("olanordm", "wrong-pass-Word-1"));
	snprintf(path, sizeof(path), "%s/root/home/olanordm", dir);
	assert_int_not_equal(lstat(path, &st), 0);	/* no local home: pam_mkhomedir makes it */
	assert_true(accounts_name_taken(&cfg, "olanordm"));
	{
		bool exists = false;

		assert_int_equal(accounts_exists(&cfg, "olanordm", &exists), 0);
		assert_true(exists);
		assert_int_equal(accounts_exists(&cfg, "nobodyhere", &exists), 0);
		assert_false(exists);
	}
	assert_int_equal(accounts_check(&cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "last id"));
}

/* One provision in a child: its uid on the pipe, or nothing. */
static void provision_child(int fd, int i)
{
	struct intent in = { 0 };
	char name[32], err[512];
	struct account a;
	struct config cfg;
	unsigned uid;

	snprintf(name, sizeof(name), "crowd%02d", i);
	a = account_of(name, hash1, &in);
	cfg_for(&cfg);
	if (accounts_provision(&cfg, &ld, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		_exit(1);
	}
	uid = (unsigned)a.uid;
	_exit(write(fd, &uid, sizeof(uid)) == sizeof(uid) ? 0 : 1);
}

static void test_crowd_gets_distinct_ids(void **state)
{
	unsigned uids[CROWD];
	pid_t pids[CROWD];
	int fds[2], failures = 0;
	size_t got = 0;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < CROWD; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(fds[0]);
			provision_child(fds[1], i);
		}
	}
	close(fds[1]);
	for (int i = 0; i < CROWD; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		failures += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	while (got < CROWD && read(fds[0], &uids[got], sizeof(uids[0])) == sizeof(uids[0]))
		got++;
	close(fds[0]);
	assert_int_equal(failures, 0);
	assert_int_equal(got, CROWD);
	for (size_t i = 0; i < got; i++)
		for (size_t j = i + 1; j < got; j++)
			if (uids[i] == uids[j])
				fail_msg("two of the crowd got uid %u", uids[i]);
	for (int i = 0; i < CROWD; i++) {
		char dn[128];

		snprintf(dn, sizeof(dn), "uid=crowd%02d," PEOPLE, i);
		assert_true(entry_there(dn));
	}
}

/* Killed after the intent and the group: the next attempt finishes with the intent's ids. */
static void test_interrupted_rolls_forward(void **state)
{
	struct intent in = { .fail = -EIO };
	struct account a = account_of("halfdone", hash1, &in);
	struct config cfg;
	char err[512] = "", num[16], gid[16];
	LDAP *l;

	(void)state;
	cfg_for(&cfg);
	/* the ids chosen and recorded, then the attempt stopped before writing (here: the store said no) */
	assert_int_not_equal(accounts_provision(&cfg, &ld, &a, err, sizeof(err)), 0);
	assert_int_equal(in.calls, 1);
	assert_false(entry_there("cn=halfdone," GROUPS));
	/* ...and the group added, as the killed attempt would have */
	snprintf(gid, sizeof(gid), "%u", (unsigned)in.gid);
	{
		char *oc[] = { "top", "posixGroup", NULL }, *cn[] = { "halfdone", NULL }, *g[] = { gid, NULL };
		LDAPMod m1 = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
		LDAPMod m2 = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
		LDAPMod m3 = { LDAP_MOD_ADD, "gidNumber", { .modv_strvals = g } };
		LDAPMod *mods[] = { &m1, &m2, &m3, NULL };

		l = admin();
		assert_int_equal(ldap_add_ext_s(l, "cn=halfdone," GROUPS, mods, NULL, NULL), LDAP_SUCCESS);
		ldap_unbind_ext_s(l, NULL, NULL);
	}
	in = (struct intent){ 0 };
	a = account_of("halfdone", hash1, &in);
	a.ids_known = true;
	a.uid = (uid_t)strtoul(gid, NULL, 10);
	a.gid = a.uid;
	if (accounts_provision(&cfg, &ld, &a, err, sizeof(err)) != 0)
		fail_msg("retry: %s", err);
	assert_int_equal(in.calls, 0);
	assert_false(a.chose_ids);
	snprintf(num, sizeof(num), "%u", (unsigned)a.uid);
	assert_values("uid=halfdone," PEOPLE, "uidNumber", num);
	assert_true(can_bind("halfdone", "first-pass-Word-1"));
	/* once more, all there: kept, with this attempt's password */
	a = account_of("halfdone", hash2, &in);
	a.ids_known = true;
	a.uid = a.gid = (uid_t)strtoul(num, NULL, 10);
	if (accounts_provision(&cfg, &ld, &a, err, sizeof(err)) != 0)
		fail_msg("third attempt: %s", err);
	assert_true(can_bind("halfdone", "second-pass-Word-2"));
	assert_false(can_bind("halfdone", "first-pass-Word-1"));
	{
		char *m = values("cn=students," GROUPS, "memberUid");

		assert_non_null(strstr(m, "|halfdone"));	/* once, at the end: added by the retry */
		assert_null(strstr(strstr(m, "|halfdone") + 2, "halfdone"));
		free(m);
	}
}

static void test_someone_elses_entry_refused(void **state)
{
	struct intent in = { 0 };
	struct account a;
	struct config cfg;
	char err[512] = "";
	LDAP *l = admin();
	char *oc[] = { "top", "posixGroup", NULL }, *cn[] = { "intruder", NULL }, *g[] = { "31999", NULL };
	LDAPMod m1 = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m2 = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
	LDAPMod m3 = { LDAP_MOD_ADD, "gidNumber", { .modv_strvals = g } };
	LDAPMod *mods[] = { &m1, &m2, &m3, NULL };

	(void)state;
	assert_int_equal(ldap_add_ext_s(l, "cn=intruder," GROUPS, mods, NULL, NULL), LDAP_SUCCESS);
	ldap_unbind_ext_s(l, NULL, NULL);
	cfg_for(&cfg);
	a = account_of("intruder", hash1, &in);
	assert_int_equal(accounts_provision(&cfg, &ld, &a, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "did not put it there"));
	assert_int_equal(in.calls, 0);
	a = account_of("intruder", hash1, &in);
	a.ids_known = true;
	a.uid = a.gid = 30999;
	assert_int_equal(accounts_provision(&cfg, &ld, &a, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "another gidNumber"));
	assert_false(entry_there("uid=intruder," PEOPLE));
}

static void test_revoke_restore_password(void **state)
{
	struct account a;
	struct config cfg;
	char err[512] = "", expire[24];
	bool revoked = true;

	(void)state;
	provision_ok("revokee", hash1, &a);
	cfg_for(&cfg);
	assert_int_equal(accounts_shadow_expire(&cfg, "revokee", expire, sizeof(expire), &revoked), 0);
	assert_string_equal(expire, "");
	assert_false(revoked);
	assert_int_equal(accounts_set_locked(&cfg, "revokee", true, NULL, err, sizeof(err)), 0);
	assert_false(can_bind("revokee", "first-pass-Word-1"));
	assert_values("uid=revokee," PEOPLE, "shadowExpire", "1");
	{
		char *pw = values("uid=revokee," PEOPLE, "userPassword");

		assert_true(strncmp(pw, "{CRYPT}!$6$", 11) == 0);
		free(pw);
	}
	assert_int_equal(accounts_shadow_expire(&cfg, "revokee", expire, sizeof(expire), &revoked), 0);
	assert_string_equal(expire, "1");
	assert_true(revoked);
	assert_int_equal(accounts_set_locked(&cfg, "revokee", true, NULL, err, sizeof(err)), -EALREADY);
	assert_int_equal(accounts_set_locked(&cfg, "revokee", false, "21000", err, sizeof(err)), 0);
	assert_values("uid=revokee," PEOPLE, "shadowExpire", "21000");
	assert_true(can_bind("revokee", "first-pass-Word-1"));
	assert_int_equal(accounts_set_locked(&cfg, "revokee", false, "21000", err, sizeof(err)), -EALREADY);
	assert_int_equal(accounts_set_password(&cfg, "revokee", hash2, err, sizeof(err)), 0);
	assert_true(can_bind("revokee", "second-pass-Word-2"));
	assert_false(can_bind("revokee", "first-pass-Word-1"));
	assert_int_equal(accounts_set_password(&cfg, "revokee", hash2, err, sizeof(err)), -EALREADY);
	assert_int_equal(accounts_set_locked(&cfg, "nosuchuser", true, NULL, err, sizeof(err)), -ENOENT);
}

static void test_rename(void **state)
{
	struct account a;
	struct config cfg;
	char err[512] = "";
	bool exists = true;

	(void)state;
	provision_ok("renfrom", hash1, &a);
	cfg_for(&cfg);
	if (accounts_rename(&cfg, "renfrom", "rento", false, err, sizeof(err)) != 0)
		fail_msg("rename: %s", err);
	assert_non_null(strstr(err, "file server"));	/* the home there is the site's to move */
	assert_false(entry_there("uid=renfrom," PEOPLE));
	assert_values("uid=rento," PEOPLE, "uid", "rento");
	assert_values("uid=rento," PEOPLE, "homeDirectory", "/home/rento");
	assert_false(entry_there("cn=renfrom," GROUPS));
	assert_values("cn=rento," GROUPS, "cn", "rento");
	{
		char *m = values("cn=students," GROUPS, "memberUid");

		assert_non_null(strstr(m, "rento"));
		assert_null(strstr(m, "renfrom"));
		free(m);
	}
	assert_true(can_bind("rento", "first-pass-Word-1"));
	if (accounts_rename(&cfg, "renfrom", "rento", true, err, sizeof(err)) != 0)	/* run again: finished */
		fail_msg("rename resumed: %s", err);
	assert_int_equal(accounts_rename(&cfg, "renfrom", "rento", false, err, sizeof(err)), -ENOENT);
	assert_int_equal(accounts_rename(&cfg, "rento", "olanordm", false, err, sizeof(err)), -EEXIST);
	assert_int_equal(accounts_exists(&cfg, "renfrom", &exists), 0);
	assert_false(exists);
}

static void test_missing_group_changes_nothing(void **state)
{
	struct intent in = { 0 };
	struct account a = account_of("nogroup", hash1, &in);
	struct config cfg;
	char err[512] = "";

	(void)state;
	cfg_for(&cfg);
	snprintf(cfg.groups, sizeof(cfg.groups), "students,nosuchgroup");
	assert_int_equal(accounts_provision(&cfg, &ld, &a, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nosuchgroup"));
	assert_int_equal(in.calls, 0);
	assert_false(entry_there("uid=nogroup," PEOPLE));
	assert_false(entry_there("cn=nogroup," GROUPS));
}

/* In a child with a guard, so that a hang fails the test instead of stopping the run. */
static int provision_in_child(const struct config *cfg, const char *name, struct intent *in_out)
{
	int fds[2], status = 0, r = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct intent in = { 0 };
		struct account a = account_of(name, hash1, &in);
		char err[512] = "";
		int res[2];

		alarm(60);	/* a guard against a hang, not a measurement */
		res[0] = accounts_provision(cfg, &ld, &a, err, sizeof(err));
		res[1] = in.calls;
		fprintf(stderr, "directory down: %s\n", err);
		_exit(write(fds[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("the provision did not give up (killed by signal %d)", WTERMSIG(status));
	{
		int res[2] = { 0, 0 };

		assert_int_equal(read(fds[0], res, sizeof(res)), sizeof(res));
		r = res[0];
		in_out->calls = res[1];
	}
	close(fds[0]);
	return r;
}

static void test_directory_down(void **state)
{
	struct intent in = { 0 };
	struct config cfg;
	char pidfile[600], pidtext[32] = "";
	pid_t slapd;
	FILE *f;

	(void)state;
	cfg_for(&cfg);
	snprintf(cfg.ldap_uri, sizeof(cfg.ldap_uri), "ldap://127.0.0.1:1/");	/* nothing listens there */
	assert_int_equal(provision_in_child(&cfg, "downuser", &in), -EHOSTDOWN);
	assert_int_equal(in.calls, 0);
	assert_true(accounts_name_taken(&cfg, "downuser"));	/* fail closed */
	assert_null(accounts_names_load(&cfg));
	assert_int_equal(errno, EHOSTDOWN);
	/* hung: it accepts connections and answers nothing */
	snprintf(pidfile, sizeof(pidfile), "%s/slapd.pid", dir);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(pidtext, sizeof(pidtext), f));
	fclose(f);
	slapd = (pid_t)atoi(pidtext);
	cfg_for(&cfg);
	cfg.ldap_timeout = 1;
	assert_int_equal(kill(slapd, SIGSTOP), 0);
	in = (struct intent){ 0 };
	{
		int r = provision_in_child(&cfg, "hunguser", &in);

		kill(slapd, SIGCONT);
		assert_int_equal(r, -EHOSTDOWN);
	}
	assert_int_equal(in.calls, 0);
	assert_false(entry_there("uid=hunguser," PEOPLE));
	assert_false(entry_there("cn=hunguser," GROUPS));
}

static void test_tls(void **state)
{
	struct config cfg;
	char err[512] = "";

	(void)state;
	cfg_for(&cfg);
	snprintf(cfg.ldap_uri, sizeof(cfg.ldap_uri), "%s", ldaps_uri);
	if (accounts_check(&cfg, err, sizeof(err)) != 0)
		fail_msg("ldaps: %s", err);
	cfg_for(&cfg);	/* StartTLS, with a CA that did not sign the server's certificate */
	snprintf(cfg.ldap_ca_file, sizeof(cfg.ldap_ca_file), "%s/other-ca.pem", dir);
	assert_int_not_equal(accounts_check(&cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "StartTLS"));
	snprintf(cfg.ldap_uri, sizeof(cfg.ldap_uri), "%s", ldaps_uri);
	assert_int_not_equal(accounts_check(&cfg, err, sizeof(err)), 0);
	cfg_for(&cfg);	/* the right CA, but the certificate names 127.0.0.1, not this host */
	snprintf(cfg.ldap_uri, sizeof(cfg.ldap_uri), "ldap://localhost:%s", strrchr(uri, ':') + 1);
	assert_int_not_equal(accounts_check(&cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "StartTLS"));
}

static void test_bind_password_file(void **state)
{
	struct config cfg;
	char err[512] = "", path[1024];

	(void)state;
	cfg_for(&cfg);
	snprintf(path, sizeof(path), "%s/bind.secret", dir);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(accounts_check(&cfg, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(accounts_check(&cfg, err, sizeof(err)), 0);
	assert_null(strstr(err, "admin-secret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provision_reads_back),
		cmocka_unit_test(test_crowd_gets_distinct_ids),
		cmocka_unit_test(test_interrupted_rolls_forward),
		cmocka_unit_test(test_someone_elses_entry_refused),
		cmocka_unit_test(test_revoke_restore_password),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_missing_group_changes_nothing),
		cmocka_unit_test(test_directory_down),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_bind_password_file),
	};

	return cmocka_run_group_tests(tests, start, stop);
}
