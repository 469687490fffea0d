/*
 * pam_activate.c: the PAM module. It is loaded into every login on the
 * machine, so for any user but the trigger it returns PAM_IGNORE before it
 * opens a file, links nothing but libpam and libc, and imports as few
 * symbols as it can (libpam resolves them all at every load). For the
 * trigger user it loads pam_activate_relay.so (launcher.c), which starts
 * activate-helper and relays the dialogue.
 *
 * The trigger user comes from the module arguments (trigger_user=NAME) or
 * the compiled-in default, never from activate.conf: reading the file would
 * cost every ordinary login an open().
 */
#include <dlfcn.h>
#include <stddef.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "launcher.h"

#define PAM_EXPORT __attribute__((visibility("default")))
#define DEFAULT_TRIGGER "activate"
#ifndef ACTIVATE_RELAY
#define ACTIVATE_RELAY "/usr/lib/pam_activate/pam_activate_relay.so"
#endif

/*
 * Own string tests rather than strcmp and strncmp: each imported function is
 * one more symbol libpam's RTLD_NOW load resolves at every login.
 */
static const char *after_prefix(const char *s, const char *prefix)
{
	while (*prefix && *s == *prefix) {
		s++;
		prefix++;
	}
	return *prefix ? NULL : s;
}

static int same_text(const char *a, const char *b)
{
	const char *rest = after_prefix(a, b);

	return rest && *rest == '\0';
}

static const char *arg_after(int argc, const char **argv, const char *key, const char *dflt)
{
	const char *v = dflt, *rest;

	for (int i = 0; i < argc; i++)
		if ((rest = after_prefix(argv[i], key)) != NULL && *rest)
			v = rest;
	return v;
}

/* 1 for the trigger user, 0 for anyone else, -1 if PAM has no user for us. */
static int is_trigger(pam_handle_t *pamh, int argc, const char **argv)
{
	const void *user = NULL;

	if (pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS || !user)
		return -1;
	return same_text(user, arg_after(argc, argv, "trigger_user=", DEFAULT_TRIGGER));
}

PAM_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *path;
	void *relay;
	launcher_fn *run;
	int rc;

	(void)flags;
	if (is_trigger(pamh, argc, argv) != 1)
		return PAM_IGNORE;
	path = arg_after(argc, argv, "relay=", ACTIVATE_RELAY);
	relay = path[0] == '/' ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
	run = relay ? (launcher_fn *)dlsym(relay, LAUNCHER_SYMBOL) : NULL;
	if (!run) {
		pam_syslog(pamh, LOG_ERR, "cannot load %s: %s; denying", path, relay ? dlerror() : "not found");
		if (relay)
			dlclose(relay);
		return PAM_AUTHINFO_UNAVAIL;
	}
	rc = run(pamh, argc, argv);
	dlclose(relay);
	return rc;
}

PAM_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

/* The trigger user never gets a session, whatever the auth stack decided. */
PAM_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	return is_trigger(pamh, argc, argv) == 1 ? PAM_PERM_DENIED : PAM_IGNORE;
}
