/*
 * ctl_check.c: activatectl check: is this host ready to activate people?
 * What the helper needs (configuration, database, pepper, password policy,
 * hashing, word list), the trigger user, the installed binaries, and which
 * PAM services and sshd snippets use it. One line a check; exit 1 if any
 * check fails, warnings do not.
 */
#include <pwd.h>
#include <shadow.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "ctl.h"
#include "ctl_services.h"
#include "logindefs.h"
#include "password.h"

#ifndef ACTIVATE_HELPER
#define ACTIVATE_HELPER "/usr/libexec/pam_activate/activate-helper"
#endif
#ifndef ACTIVATE_RELAY
#define ACTIVATE_RELAY "/usr/lib/pam_activate/pam_activate_relay.so"
#endif

enum verdict { OK, WARN, FAIL };

struct tally {
	unsigned fails, warns;
};

static void say(struct tally *t, enum verdict v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct tally *t, enum verdict v, const char *fmt, ...)
{
	static const char *const tags[] = { "ok  ", "warn", "FAIL" };
	va_list ap;

	t->fails += v == FAIL;
	t->warns += v == WARN;
	printf("%s  ", tags[v]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void check_config(struct ctl *c, struct tally *t)
{
	const char *path = c->config_path ? c->config_path : ACTIVATE_CONF;

	if (access(path, R_OK) == 0)
		say(t, OK, "configuration %s", path);
	else
		say(t, FAIL, "configuration %s: missing; the helper denies every activation without it "
		    "(install conf/activate.conf)", path);
}

static void check_data(struct ctl *c, struct tally *t)
{
	if (ctl_open_store(c) == 0)
		say(t, OK, "database %s", c->cfg.database);
	else
		say(t, FAIL, "database %s: see above", c->cfg.database);
	if (ctl_load_pepper(c) == 0)
		say(t, OK, "pepper %s", c->cfg.pepper_file);
	else
		say(t, FAIL, "pepper %s: see above", c->cfg.pepper_file);
}

static void check_passwords(struct ctl *c, struct tally *t)
{
	struct person p = { .id_number = "90000001", .student_number = "90000002", .given_name = "Check",
			    .family_name = "Person" };
	char reason[256], hash[PASSWORD_HASH_MAX], err[512];
	struct logindefs ld;

	if (password_check(&c->cfg, "Vesle-Troika-Maane-42-Kvist", "checkuser", &p, reason, sizeof(reason)) == 0)
		say(t, OK, "password policy accepts a strong password");
	else
		say(t, FAIL, "password policy refuses a strong password (%s): is cracklib-runtime installed?",
		    reason);
	if (logindefs_read(c->cfg.sysroot, &ld, err, sizeof(err)) != 0)
		say(t, FAIL, "login.defs: %s", err);
	else if (password_hash(&c->cfg, &ld, "check", hash, sizeof(hash)) != 0)
		say(t, FAIL, "password hashing: the configured method is not available in crypt(3)");
	else
		say(t, OK, "password hashing with the configured method");
	if (password_wordlist_found())
		say(t, OK, "word list for suggestions");
	else
		say(t, WARN, "no word list (Debian: diceware): suggestions are random characters");
}

static bool nologin_shell(const char *shell)
{
	const char *base = strrchr(shell, '/');

	base = base ? base + 1 : shell;
	return strcmp(base, "nologin") == 0 || strcmp(base, "false") == 0;
}

static void check_trigger_user(struct ctl *c, const char *name, struct tally *t)
{
	struct passwd *pw = strcmp(c->cfg.sysroot, "/") ? NULL : getpwnam(name);
	struct spwd *sp = pw ? getspnam(name) : NULL;

	if (strcmp(c->cfg.sysroot, "/") != 0) {
		say(t, accounts_name_taken(&c->cfg, name) ? OK : FAIL, "trigger user %s in %s/etc", name,
		    c->cfg.sysroot);
		return;
	}
	if (!pw) {
		say(t, FAIL, "trigger user %s: unknown (activatectl init creates it; sshd needs it)", name);
		return;
	}
	if (!nologin_shell(pw->pw_shell))
		say(t, WARN, "trigger user %s: shell %s, not nologin", name, pw->pw_shell);
	else if (!sp)
		say(t, WARN, "trigger user %s: no shadow entry could be read, so the password is unchecked", name);
	else if (sp->sp_pwdp[0] != '!' && sp->sp_pwdp[0] != '*')
		say(t, FAIL, "trigger user %s has a usable password: lock it (usermod -L %s)", name, name);
	else
		say(t, OK, "trigger user %s (uid %u, %s, password locked)", name, (unsigned)pw->pw_uid, pw->pw_shell);
}

/* The accounts backend: for ldap, the directory reached and bound to, and the bases there. */
static void check_accounts(struct ctl *c, struct tally *t)
{
	char msg[1024] = "";

	if (accounts_check(&c->cfg, msg, sizeof(msg)) == 0)
		say(t, OK, "accounts: %s", msg);
	else
		say(t, FAIL, "accounts (%s): %s", accounts_backend_name(&c->cfg), msg);
}

static void check_binaries(struct tally *t)
{
	say(t, access(ACTIVATE_HELPER, X_OK) == 0 ? OK : FAIL, "helper %s", ACTIVATE_HELPER);
	say(t, access(ACTIVATE_RELAY, R_OK) == 0 ? OK : FAIL, "relay %s", ACTIVATE_RELAY);
}

static void check_sshd_match(struct ctl *c, const char *name, struct tally *t)
{
	char where[4400];

	if (ctl_services_sshd_match(&c->cfg, name, where, sizeof(where)))
		say(t, OK, "sshd Match User for %s: %s", name, where);
	else
		say(t, FAIL, "sshd uses pam_activate.so but no \"Match User\" line of sshd_config or "
		    "sshd_config.d names %s (conf/sshd_config-activate): sshd will not offer it "
		    "keyboard-interactive", name);
}

static void check_services(struct ctl *c, struct tally *t)
{
	char dir[4200], list[1024];
	struct ctl_names triggers = { NULL, 0 };

	ctl_services_path(&c->cfg, "/etc/pam.d", dir, sizeof(dir));
	if (ctl_services_files_with(dir, "pam_activate.so", list, sizeof(list)))
		say(t, OK, "PAM services using pam_activate.so: %s", list);
	else
		say(t, WARN, "no PAM service in %s uses pam_activate.so yet", dir);
	if (ctl_services_triggers(&c->cfg, &triggers) != 0) {
		say(t, FAIL, "out of memory reading %s", dir);
		return;
	}
	for (size_t i = 0; i < triggers.n; i++) {
		check_trigger_user(c, triggers.v[i], t);
		if (ctl_services_file_has(dir, "sshd", "pam_activate.so"))
			check_sshd_match(c, triggers.v[i], t);
	}
	ctl_names_free(&triggers);
}

int ctl_cmd_check(struct ctl *c, int argc, char **argv)
{
	struct tally t = { 0, 0 };

	(void)argv;
	if (argc != 1)
		return ctl_usage("check");
	check_config(c, &t);
	check_data(c, &t);
	check_passwords(c, &t);
	check_accounts(c, &t);
	check_binaries(&t);
	check_services(c, &t);
	printf("%u failed, %u warning%s\n", t.fails, t.warns, t.warns == 1 ? "" : "s");
	return t.fails ? CTL_FAIL : CTL_OK;
}
