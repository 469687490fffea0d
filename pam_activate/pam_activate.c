/*
 * pam_activate.c: the PAM module. It is loaded into every login on the
 * machine, so for any user but the trigger it returns PAM_IGNORE before it
 * opens a file, and it links nothing but libpam and libc. The activation
 * itself runs in activate-helper (see relay.h); this file only decides
 * whether to start it and maps the outcome to a PAM status.
 *
 * The trigger user comes from the module arguments (trigger_user=NAME) or
 * the compiled-in default, never from activate.conf: reading the file would
 * cost every ordinary login an open().
 */
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define DEFAULT_TRIGGER "activate"
#define PAM_EXPORT __attribute__((visibility("default")))

static const char *trigger_user(int argc, const char **argv)
{
	const char *user = DEFAULT_TRIGGER;

	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "trigger_user=", 13) == 0 && argv[i][13])
			user = argv[i] + 13;
	return user;
}

/* 1 for the trigger user, 0 for anyone else, -1 if PAM has no user for us. */
static int is_trigger(pam_handle_t *pamh, int argc, const char **argv)
{
	const char *user = NULL;

	if (pam_get_item(pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS || !user)
		return -1;
	return strcmp(user, trigger_user(argc, argv)) == 0;
}

PAM_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	if (is_trigger(pamh, argc, argv) != 1)
		return PAM_IGNORE;
	/* The dialogue through activate-helper lands with the dialogue issue; until then fail closed. */
	pam_syslog(pamh, LOG_NOTICE, "activation is not available in this build; denying");
	return PAM_AUTH_ERR;
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
