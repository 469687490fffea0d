/*
 * testutil.h: small helpers shared by the cmocka unit tests (temporary
 * directories, file fixtures, path joining). Everything is static inline and
 * fails the running test through cmocka's asserts, so a test never has to
 * check these calls itself. Include after <cmocka.h> or on its own.
 */
#ifndef ACTIVATE_TESTUTIL_H
#define ACTIVATE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Make a fresh mode-0700 directory under $TMPDIR (or /tmp); its path goes in buf. */
static inline void tu_tmpdir(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");
	int n;

	if (!base || !*base)
		base = "/tmp";
	n = snprintf(buf, len, "%s/pam_activate-test.XXXXXX", base);
	assert_true(n > 0 && (size_t)n < len);
	assert_non_null(mkdtemp(buf));
	assert_int_equal(chmod(buf, 0700), 0);
}

/* Create or replace path with exactly len bytes of data and the given mode. */
static inline void tu_write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);

	assert_true(fd >= 0);
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		assert_true(w > 0);
		data += w;
		len -= (size_t)w;
	}
	assert_int_equal(fchmod(fd, mode), 0);	/* the umask may have cut bits */
	assert_int_equal(close(fd), 0);
}

/* Join dir and name into buf; returns buf. */
static inline char *tu_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
	return buf;
}

static inline int tu_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* Remove dir and everything under it, never following symlinks; a missing dir is fine. */
static inline void tu_rm_rf(const char *dir)
{
	if (nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		assert_int_equal(errno, ENOENT);
}

#endif
