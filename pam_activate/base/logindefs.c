/*
 * logindefs.c: /etc/login.defs, read the way shadow-utils reads it (KEY
 * VALUE, '#' comments), for the few keys provisioning needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logindefs.h"
#include "text.h"

static void defaults(struct logindefs *ld)
{
	memset(ld, 0, sizeof(*ld));
	ld->uid_min = 1000;
	ld->uid_max = 60000;
	ld->gid_min = 1000;
	ld->gid_max = 60000;
	ld->sys_uid_min = 100;
	ld->sys_uid_max = 999;
	ld->sys_gid_min = 100;
	ld->sys_gid_max = 999;
	ld->pass_min_days = 0;
	ld->pass_max_days = 99999;
	ld->pass_warn_age = 7;
	strcpy(ld->encrypt_method, "SHA512");
}

static const struct {
	const char *name;
	size_t offset;
} numbers[] = {
	{ "UID_MIN", offsetof(struct logindefs, uid_min) },
	{ "UID_MAX", offsetof(struct logindefs, uid_max) },
	{ "GID_MIN", offsetof(struct logindefs, gid_min) },
	{ "GID_MAX", offsetof(struct logindefs, gid_max) },
	{ "SYS_UID_MIN", offsetof(struct logindefs, sys_uid_min) },
	{ "SYS_UID_MAX", offsetof(struct logindefs, sys_uid_max) },
	{ "SYS_GID_MIN", offsetof(struct logindefs, sys_gid_min) },
	{ "SYS_GID_MAX", offsetof(struct logindefs, sys_gid_max) },
	{ "PASS_MIN_DAYS", offsetof(struct logindefs, pass_min_days) },
	{ "PASS_MAX_DAYS", offsetof(struct logindefs, pass_max_days) },
	{ "PASS_WARN_AGE", offsetof(struct logindefs, pass_warn_age) },
	{ "YESCRYPT_COST_FACTOR", offsetof(struct logindefs, yescrypt_cost_factor) },
	{ "SHA_CRYPT_MIN_ROUNDS", offsetof(struct logindefs, sha_crypt_rounds) },
};

static int set_number(struct logindefs *ld, const char *key, const char *value)
{
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		char *end;
		long v;

		if (strcmp(key, numbers[i].name) != 0)
			continue;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || *end || v < -1)
			return -EINVAL;
		/* both kinds are long-sized: unsigned long ids, long days */
		memcpy((char *)ld + numbers[i].offset, &v, sizeof(v));
		return 0;
	}
	return 0;	/* a key we do not use */
}

static int parse_line(struct logindefs *ld, char *line)
{
	char *key, *value, *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	key = text_trim(line);
	if (!*key)
		return 0;
	value = key + strcspn(key, " \t");
	if (*value)
		*value++ = '\0';
	value = text_trim(value);
	if (!strcmp(key, "ENCRYPT_METHOD")) {
		snprintf(ld->encrypt_method, sizeof(ld->encrypt_method), "%s", value);
		return 0;
	}
	return set_number(ld, key, value);
}

int logindefs_read(const char *sysroot, struct logindefs *ld, char *err, size_t errlen)
{
	char path[4200], *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	defaults(ld);
	snprintf(path, sizeof(path), "%s/etc/login.defs", strcmp(sysroot, "/") ? sysroot : "");
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		r = parse_line(ld, line);
		if (r)
			snprintf(err, errlen, "%s:%u: not a number", path, lineno);
	}
	free(line);
	fclose(f);
	if (r == 0 && (ld->uid_min > ld->uid_max || ld->gid_min > ld->gid_max)) {
		snprintf(err, errlen, "%s: UID_MIN/GID_MIN above UID_MAX/GID_MAX", path);
		r = -EINVAL;
	}
	return r;
}
