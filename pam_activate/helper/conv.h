/*
 * conv.h: how the dialogue talks to a person, whatever carries the words:
 * the relay to pam_activate.so in the helper, or a script in tests.
 */
#ifndef ACTIVATE_CONV_H
#define ACTIVATE_CONV_H

#include <stdbool.h>
#include <stddef.h>

#define CONV_REPLY_MAX 512	/* PAM_MAX_RESP_SIZE */

struct conv {
	/*
	 * Ask and wait. 0 and the reply in reply (size bytes, NUL-terminated);
	 * -E2BIG if the reply was too long for the frame (reply empty);
	 * -ECONNABORTED if the application's conversation failed or the
	 * module went away.
	 */
	int (*prompt)(struct conv *c, bool echo, const char *text, char *reply, size_t size);
	/* Show a message; error selects PAM_ERROR_MSG. */
	int (*message)(struct conv *c, bool error, const char *text);
	/* Say that slow work without a prompt follows (may be NULL). */
	int (*working)(struct conv *c);
	void *ctx;
	unsigned width;			/* wrap messages and prompts to this many characters; 0: not */
	bool joined;			/* messages = joined: one message before each prompt */
	bool pending_error;		/* joined: an error is among the pending messages */
	char pending[CONV_REPLY_MAX];	/* joined: the messages not shown yet, one a line */
};

/*
 * The relay to the module over fd (the helper's end of the socketpair).
 * A reply is waited for at most reply_timeout seconds, and no reply after
 * dialogue_timeout seconds from now: a caller with no limit of its own (a
 * greeter left at a prompt) must not hold the person for ever.
 */
struct conv_relay {
	int fd;
	int reply_ms;
	long long deadline_ms;	/* CLOCK_MONOTONIC */
};

void conv_relay_init(struct conv *c, struct conv_relay *r, unsigned reply_timeout, unsigned dialogue_timeout);

/* Tell the module that work without prompts follows (it allows longer for the next frame). */
int conv_working(struct conv *c);

/*
 * With joined set, messages wait and go out as one before the next prompt,
 * ending with that prompt's own text: lightdm-gtk-greeter shows only the
 * last message and hides the prompt's label while a message is up.
 */
int conv_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size);
/* Show what joined messages still wait (the dialogue's end). */
int conv_flush(struct conv *c);
int conv_info(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conv_error(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
