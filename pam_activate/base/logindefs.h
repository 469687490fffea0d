/* logindefs.h: the settings of /etc/login.defs that provisioning honours. */
#ifndef ACTIVATE_LOGINDEFS_H
#define ACTIVATE_LOGINDEFS_H

#include <stddef.h>

struct logindefs {
	unsigned long uid_min, uid_max, gid_min, gid_max;
	unsigned long sys_uid_min, sys_uid_max, sys_gid_min, sys_gid_max;
	long pass_min_days, pass_max_days, pass_warn_age;
	char encrypt_method[32];
	long yescrypt_cost_factor;	/* 0: not set */
	long sha_crypt_rounds;		/* 0: not set */
};

/*
 * Read sysroot/etc/login.defs over the shadow-utils defaults. A missing file
 * leaves the defaults; an unparsable number is an error naming the line.
 */
int logindefs_read(const char *sysroot, struct logindefs *ld, char *err, size_t errlen);

#endif
