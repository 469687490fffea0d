/* home.h: the new account's home directory, filled from skel. */
#ifndef ACTIVATE_HOME_H
#define ACTIVATE_HOME_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/*
 * Create sysroot/home_base/name (or complete it after an interruption),
 * copy skel into it without following symbolic links out of skel, skip
 * special files, and set owner and home_mode last.
 */
int home_create(const struct config *cfg, const char *name, uid_t uid, gid_t gid,
		char *err, size_t errlen);

#endif
