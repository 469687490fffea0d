/*
 * keyfile.c: reading a secret file with the checks of keyfile.h. The
 * buffer is sized by the file (bounded by KEYFILE_MAX) and wiped before it
 * is freed, on every path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"

int keyfile_check(int fd, const char *path, struct stat *st, char *err, size_t errlen)
{
	if (fstat(fd, st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st->st_mode) || st->st_uid != 0 || (st->st_mode & 077)) {
		snprintf(err, errlen, "%s: must be a regular file owned by root with mode 0400 or 0600 "
			 "(it is %04o, owner %u)", path, (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid);
		return -EPERM;
	}
	return 0;
}

static int check_owner(int fd, const char *path, size_t *size, char *err, size_t errlen)
{
	struct stat st;
	int r = keyfile_check(fd, path, &st, err, errlen);

	if (r)
		return r;
	if (st.st_size <= 0 || (size_t)st.st_size > KEYFILE_MAX) {
		snprintf(err, errlen, "%s: must hold one line of 1 to %zu bytes", path, KEYFILE_MAX);
		return -EINVAL;
	}
	*size = (size_t)st.st_size;
	return 0;
}

static int read_whole(int fd, char *buf, size_t size, size_t *len)
{
	*len = 0;
	while (*len < size) {
		ssize_t n = read(fd, buf + *len, size - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	return 0;
}

/* One line: the final newline (or CRLF) dropped; nothing after it, no NUL. */
static int one_line(char *buf, size_t *len)
{
	if (*len && buf[*len - 1] == '\n')
		buf[--*len] = '\0';
	if (*len && buf[*len - 1] == '\r')
		buf[--*len] = '\0';
	return *len == 0 || memchr(buf, '\0', *len) || memchr(buf, '\n', *len) ? -EINVAL : 0;
}

int keyfile_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t size = 0;
	char *buf = NULL;
	int r = 0;

	*text = NULL;
	*len = 0;
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	r = check_owner(fd, path, &size, err, errlen);
	if (r == 0 && !(buf = malloc(size + 1)))
		r = -ENOMEM;
	if (r == 0 && (r = read_whole(fd, buf, size, len)) != 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	if (r == 0 && (r = one_line(buf, len)) != 0)
		snprintf(err, errlen, "%s: must hold one line, the password", path);
	close(fd);
	if (r) {
		keyfile_free(buf, buf ? size + 1 : 0);
		*len = 0;
		return r;
	}
	*text = buf;
	return 0;
}

void keyfile_free(char *text, size_t len)
{
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
}
