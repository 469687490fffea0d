/*
 * relay.c: frames between the module and the helper. Both ends treat the
 * other as untrusted: every frame is checked for size, type and embedded
 * NULs before anyone looks at its text.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "relay.h"

static int known_type(char type)
{
	return strchr("PSIERANLW", type) != NULL && type != '\0';
}

int relay_send(int fd, char type, const char *text)
{
	size_t len = text ? strlen(text) : 0;
	struct iovec iov[2] = { { &type, 1 }, { (void *)(text ? text : ""), len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (len > RELAY_MAX_TEXT)
		return -EMSGSIZE;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len + 1 ? 0 : -EIO;
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

int relay_recv(int fd, struct relay_frame *frame, int timeout_ms)
{
	char buf[RELAY_MAX_TEXT + 2];
	ssize_t n;
	int r;

	r = wait_readable(fd, timeout_ms);
	if (r)
		return r;
	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n > RELAY_MAX_TEXT + 1 || !known_type(buf[0]) || memchr(buf + 1, '\0', (size_t)n - 1))
		r = -EPROTO;
	else {
		frame->type = buf[0];
		frame->len = (size_t)n - 1;
		memcpy(frame->text, buf + 1, frame->len);
		frame->text[frame->len] = '\0';
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

static bool result_shape_ok(const struct relay_frame *f)
{
	if (f->type != RELAY_RESULT || f->len < 1)
		return false;
	if (f->len == 1)
		return f->text[0] != RELAY_LOGIN && strchr("012345", f->text[0]) != NULL;
	return f->text[0] == RELAY_LOGIN && f->len <= RELAY_USER_MAX + 1 &&
	       f->text[1] >= 'a' && f->text[1] <= 'z' &&
	       strspn(f->text + 1, "abcdefghijklmnopqrstuvwxyz0123456789_-") == f->len - 1;
}

int relay_result_parse(const struct relay_frame *frame, char *code, char *user, size_t user_size)
{
	*code = 0;
	if (user_size)
		user[0] = '\0';
	if (user_size <= RELAY_USER_MAX || !result_shape_ok(frame))
		return -EPROTO;
	*code = frame->text[0];
	memcpy(user, frame->text + 1, frame->len - 1);
	user[frame->len - 1] = '\0';
	return 0;
}
