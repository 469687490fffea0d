/*
 * conv.c: the dialogue's words to a person, through a small interface so the
 * dialogue knows nothing of PAM. The relay implementation lives here; tests
 * bring their own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "conv.h"
#include "relay.h"
#include "text.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wait for the next reply: reply_timeout, cut short by the end of the whole dialogue. */
static int reply_wait_ms(const struct conv_relay *cr)
{
	long long left = cr->deadline_ms - now_ms();

	if (left <= 0)
		return 0;
	return left < cr->reply_ms ? (int)left : cr->reply_ms;
}

static int relay_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	struct conv_relay *cr = c->ctx;
	int fd = cr->fd, wait = reply_wait_ms(cr);
	struct relay_frame f;
	int r = wait > 0 ? 0 : -ETIMEDOUT;

	if (r == 0)
		r = relay_send(fd, echo ? RELAY_PROMPT_ECHO_ON : RELAY_PROMPT_ECHO_OFF, text);
	if (r == 0)
		r = relay_recv(fd, &f, wait);
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
	struct conv_relay *cr = c->ctx;

	return relay_send(cr->fd, error ? RELAY_ERROR : RELAY_INFO, text) ? -ECONNABORTED : 0;
}

static int relay_working(struct conv *c)
{
	struct conv_relay *cr = c->ctx;

	return relay_send(cr->fd, RELAY_WORKING, NULL) ? -ECONNABORTED : 0;
}

void conv_relay_init(struct conv *c, struct conv_relay *r, unsigned reply_timeout, unsigned dialogue_timeout)
{
	c->width = 0;
	c->joined = false;
	c->pending_error = false;
	c->pending[0] = '\0';
	r->reply_ms = (int)reply_timeout * 1000;
	r->deadline_ms = now_ms() + (long long)dialogue_timeout * 1000;
	c->prompt = relay_prompt;
	c->message = relay_message;
	c->working = relay_working;
	c->ctx = r;
}

int conv_working(struct conv *c)
{
	return c->working ? c->working(c) : 0;
}

int conv_flush(struct conv *c)
{
	int r = c->pending[0] ? c->message(c, c->pending_error, c->pending) : 0;

	sodium_memzero(c->pending, sizeof(c->pending));	/* suggested passwords pass through here */
	c->pending_error = false;
	return r;
}

/* One more line for the joined message; what would not fit in one goes out first. */
static int pend(struct conv *c, bool error, const char *text)
{
	size_t have = strlen(c->pending), n = strlen(text);
	int r = 0;

	if (have && have + 1 + n >= sizeof(c->pending)) {
		r = conv_flush(c);
		have = 0;
	}
	if (r == 0 && n >= sizeof(c->pending))
		return c->message(c, error, text);
	if (r == 0) {
		if (have)
			c->pending[have++] = '\n';
		memcpy(c->pending + have, text, n + 1);
		c->pending_error |= error;
	}
	return r;
}

static int show(struct conv *c, bool error, const char *text)
{
	return c->joined ? pend(c, error, text) : c->message(c, error, text);
}

int conv_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	char wrapped[CONV_REPLY_MAX];
	const char *shown = text;
	size_t n = strlen(text);
	int r = 0;

	if (n < sizeof(wrapped)) {
		memcpy(wrapped, text, n + 1);
		text_wrap(wrapped, c->width);
		shown = wrapped;
	}
	if (c->pending[0])
		r = pend(c, false, shown);
	if (r == 0)
		r = conv_flush(c);
	return r ? r : c->prompt(c, echo, shown, reply, size);
}

static int vmessage(struct conv *c, bool error, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static int vmessage(struct conv *c, bool error, const char *fmt, va_list ap)
{
	char text[CONV_REPLY_MAX];
	int r;

	vsnprintf(text, sizeof(text), fmt, ap);
	text_wrap(text, c->width);
	r = show(c, error, text);
	sodium_memzero(text, sizeof(text));
	return r;
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
