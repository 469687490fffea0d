/*
 * conv.c: the dialogue's words to a person, through a small interface so the
 * dialogue knows nothing of PAM. The relay implementation lives here; tests
 * bring their own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "conv.h"
#include "relay.h"

/* A reply may take the person as long as the caller allows (LoginGraceTime). */
#define REPLY_TIMEOUT_MS (-1)

static int relay_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	int fd = *(int *)c->ctx;
	struct relay_frame f;
	int r;

	r = relay_send(fd, echo ? RELAY_PROMPT_ECHO_ON : RELAY_PROMPT_ECHO_OFF, text);
	if (r == 0)
		r = relay_recv(fd, &f, REPLY_TIMEOUT_MS);
	if (r)
		return -ECONNABORTED;
	if (f.type == RELAY_REPLY && f.len < size)
		memcpy(reply, f.text, f.len + 1);
	else if (f.type == RELAY_REPLY || f.type == RELAY_REPLY_TOO_LONG)
		r = -E2BIG;
	else
		r = -ECONNABORTED;
	if (r == -E2BIG && size)
		reply[0] = '\0';
	sodium_memzero(&f, sizeof(f));
	return r;
}

static int relay_message(struct conv *c, bool error, const char *text)
{
	return relay_send(*(int *)c->ctx, error ? RELAY_ERROR : RELAY_INFO, text) ? -ECONNABORTED : 0;
}

void conv_relay_init(struct conv *c, int *fd)
{
	c->prompt = relay_prompt;
	c->message = relay_message;
	c->ctx = fd;
}

int conv_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	return c->prompt(c, echo, text, reply, size);
}

static int vmessage(struct conv *c, bool error, const char *fmt, va_list ap)
{
	char text[CONV_REPLY_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	return c->message(c, error, text);
}

int conv_info(struct conv *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vmessage(c, false, fmt, ap);
	va_end(ap);
	return r;
}

int conv_error(struct conv *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vmessage(c, true, fmt, ap);
	va_end(ap);
	return r;
}
