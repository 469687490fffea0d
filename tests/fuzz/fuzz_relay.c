/*
 * fuzz_relay.c: the relay frames between pam_activate.so and the helper
 * (relay.c), and the helper's side of a prompt (conv.c's relay conv).
 *
 * Each run makes a SOCK_SEQPACKET socketpair like the module's: one end
 * is "the module", the other "the helper". The input is a list of records,
 * each a 2-byte header and up to 1023 bytes:
 *   h0 bits 0-1  what the record does (below)
 *   h0 bits 2-7, h1 bits 0-3  the length of the bytes that follow
 *   h1 bits 4-7  a parameter p
 *   0  the bytes are one raw frame to the module: relay_recv there must
 *      take exactly the frames relay.h allows (a known type, no NUL, at
 *      most RELAY_MAX_TEXT bytes of text) and refuse every other one; a
 *      result frame it took is read as the module reads it
 *      (relay_result_parse), which must accept exactly the results relay.h
 *      names and nothing else
 *   1  relay_send(byte 0, the rest up to a NUL) and relay_recv of it: the
 *      frame arrives as sent, or relay_send refused it (too long)
 *   2  the bytes are the module's raw answer to a helper prompt through
 *      conv_prompt (p: echo, and the reply buffer's size): a reply that
 *      fits comes back as it was sent; too long, or a reply-too-long
 *      frame, is -E2BIG with an empty reply; anything else -ECONNABORTED
 *   3  the bytes are a message through conv_info or conv_error (p: which,
 *      messages=joined, the width); what the module receives is valid
 * At the end the module's end is shut and the helper must see -EPIPE.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conv.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char types[] = {
	RELAY_PROMPT_ECHO_ON, RELAY_PROMPT_ECHO_OFF, RELAY_INFO, RELAY_ERROR, RELAY_RESULT,
	RELAY_WORKING, RELAY_REPLY, RELAY_NO_REPLY, RELAY_REPLY_TOO_LONG,
};

/* What relay.h allows: a known type byte, then at most RELAY_MAX_TEXT bytes of text without NUL. */
static bool frame_allowed(const uint8_t *b, size_t n)
{
	if (n < 1 || n > RELAY_MAX_TEXT + 1 || memchr(b + 1, '\0', n - 1))
		return false;
	return memchr(types, b[0], sizeof(types)) != NULL;
}

static void send_raw(int fd, const uint8_t *b, size_t n)
{
	ssize_t w;

	do
		w = send(fd, b, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0 || (size_t)w != n)
		abort();
}

static void check_frame(const struct relay_frame *f)
{
	if (!memchr(types, f->type, sizeof(types)) || f->len > RELAY_MAX_TEXT || f->text[f->len] != '\0' ||
	    strlen(f->text) != f->len)
		abort();
}

/* What the module may act on: one known digit, or '4' and a username of 1..32 [a-z][a-z0-9_-]*. */
static bool result_allowed(const struct relay_frame *f)
{
	if (f->type != RELAY_RESULT || f->len == 0)
		return false;
	if (f->len == 1)
		return f->text[0] >= '0' && f->text[0] <= '5' && f->text[0] != '4';
	if (f->text[0] != '4' || f->len > 33 || f->text[1] < 'a' || f->text[1] > 'z')
		return false;
	for (size_t i = 2; i < f->len; i++) {
		char ch = f->text[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* The module's reading of a result frame, with a user buffer just big enough or a size byte short. */
static void check_result(const struct relay_frame *f)
{
	char code = 'X', user[RELAY_USER_MAX + 2];
	int r;

	memset(user, 'X', sizeof(user));
	r = relay_result_parse(f, &code, user, RELAY_USER_MAX);
	if (r != -EPROTO || code != 0 || user[0] != '\0')
		abort();
	memset(user, 'X', sizeof(user));
	r = relay_result_parse(f, &code, user, sizeof(user));
	if (!result_allowed(f)) {
		if (r != -EPROTO || code != 0 || user[0] != '\0')
			abort();
		return;
	}
	if (r != 0 || code != f->text[0] || strlen(user) != f->len - 1 || memcmp(user, f->text + 1, f->len - 1) != 0)
		abort();
}

/* 0: a raw frame to the module. */
static void raw_frame(int module, int helper, const uint8_t *b, size_t n)
{
	struct relay_frame f;
	int r;

	send_raw(helper, b, n);
	memset(&f, 0, sizeof(f));
	r = relay_recv(module, &f, 0);
	if (n == 0) {
		if (r != -EPIPE)	/* an empty datagram reads as end of file */
			abort();
	} else if (frame_allowed(b, n)) {
		if (r != 0 || f.type != (char)b[0] || f.len != n - 1 || memcmp(f.text, b + 1, n - 1) != 0)
			abort();
		check_frame(&f);
		check_result(&f);
	} else if (r != -EPROTO) {
		abort();
	}
}

/* 1: relay_send, then relay_recv at the other end. */
static void send_frame(int module, int helper, const uint8_t *b, size_t n)
{
	char text[1024];
	struct relay_frame f;
	size_t len;
	int r;

	if (n == 0)
		return;
	memcpy(text, b + 1, n - 1);
	text[n - 1] = '\0';
	len = strlen(text);
	r = relay_send(helper, (char)b[0], text);
	if (len > RELAY_MAX_TEXT) {
		if (r != -EMSGSIZE)
			abort();
		return;
	}
	if (r != 0)
		abort();
	r = relay_recv(module, &f, 0);
	if (b[0] && memchr(types, b[0], sizeof(types))) {
		if (r != 0 || f.type != (char)b[0] || f.len != len || strcmp(f.text, text) != 0)
			abort();
	} else if (r != -EPROTO) {
		abort();
	}
}

/* Everything the helper sent to the module is a valid frame; the last one's type. */
static char drain(int module)
{
	struct relay_frame f;
	char last = 0;
	int r;

	while ((r = relay_recv(module, &f, 0)) == 0) {
		check_frame(&f);
		last = f.type;
	}
	if (r != -ETIMEDOUT)
		abort();
	return last;
}

/* 2: the module's answer to a prompt. */
static void prompt(struct conv *c, int module, const uint8_t *b, size_t n, unsigned p)
{
	static const size_t sizes[] = { 1, 2, 8, 17, 64, 256, 512, 513 };
	size_t size = sizes[p >> 1];
	bool echo = p & 1;
	char reply[RELAY_MAX_TEXT + 2];
	char last;
	int r;

	send_raw(module, b, n);
	memset(reply, 'X', sizeof(reply));
	r = conv_prompt(c, echo, "Student number: ", reply, size);
	last = drain(module);
	if (last != (echo ? RELAY_PROMPT_ECHO_ON : RELAY_PROMPT_ECHO_OFF))
		abort();
	if (!frame_allowed(b, n)) {
		if (r != -ECONNABORTED)
			abort();
	} else if (b[0] == RELAY_REPLY && n - 1 < size) {
		if (r != 0 || memcmp(reply, b + 1, n - 1) != 0 || reply[n - 1] != '\0')
			abort();
	} else if (b[0] == RELAY_REPLY || b[0] == RELAY_REPLY_TOO_LONG) {
		if (r != -E2BIG || reply[0] != '\0')
			abort();
	} else if (r != -ECONNABORTED) {
		abort();
	}
}

/* 3: a message to the person. */
static void message(struct conv *c, int module, const uint8_t *b, size_t n, unsigned p)
{
	char text[1024];
	int r;

	memcpy(text, b, n);
	text[n] = '\0';
	c->joined = p & 2;
	c->width = (p >> 2) * 10;
	r = (p & 1) ? conv_error(c, "%s", text) : conv_info(c, "%s", text);
	if (r != 0)
		abort();
	drain(module);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conv c;
	struct conv_relay cr;
	struct relay_frame f;
	int sv[2], module, helper;
	size_t at = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	module = sv[0];
	helper = sv[1];
	memset(&c, 0, sizeof(c));
	cr.fd = helper;
	conv_relay_init(&c, &cr, 1, 3600);
	while (at + 2 <= size) {
		unsigned op = data[at] & 3, p = data[at + 1] >> 4;
		size_t n = (size_t)(data[at] >> 2) | (size_t)(data[at + 1] & 0x0f) << 6;
		const uint8_t *b = data + at + 2;

		at += 2;
		if (n > size - at)
			n = size - at;
		at += n;
		if (op == 0)
			raw_frame(module, helper, b, n);
		else if (op == 1)
			send_frame(module, helper, b, n);
		else if (op == 2)
			prompt(&c, module, b, n, p);
		else
			message(&c, module, b, n, p);
	}
	if (conv_flush(&c) != 0)
		abort();
	drain(module);
	shutdown(module, SHUT_WR);
	if (relay_recv(helper, &f, 0) != -EPIPE)
		abort();
	close(module);
	close(helper);
	return 0;
}
