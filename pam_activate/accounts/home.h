/* home.h: the new account's home directory, filled from skel. */
#ifndef ACTIVATE_HOME_H
#define ACTIVATE_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/*
 * Create sysroot/home_base/name from skel, built aside and renamed into
 * place (an interrupted build is started over), without following
 * symbolic links out of skel, skipping special files. A home already
 * there is this activation's when it is owned by uid and the ids were the
 * recorded intent's before this attempt (fresh false); any other is
 * refused (-EEXIST).
 */
int home_create(const struct config *cfg, const char *name, uid_t uid, gid_t gid, bool fresh,
		char *err, size_t errlen);

#endif
