/*
 * hook.h: commands run after provisioning: the site's hook, and the cache
 * invalidation of nscd and sssd when they are installed.
 */
#ifndef ACTIVATE_HOOK_H
#define ACTIVATE_HOOK_H

#include <sys/types.h>

#include "config.h"

/*
 * Run the configured hook for a new account with a clean environment
 * (ACTIVATE_USERNAME, ACTIVATE_UID, ACTIVATE_HOME, ACTIVATE_ID_NUMBER; never
 * a secret), waiting at most timeout_s seconds. 0, or why it failed.
 */
int hook_run(const struct config *cfg, const char *username, uid_t uid, const char *home,
	     const char *id_number, unsigned timeout_s);

/* nscd -i passwd -i group, sss_cache -UG, where installed (sysroot / only). */
void hook_invalidate_caches(const struct config *cfg);

#endif
