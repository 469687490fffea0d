/*
 * relay.h: the wire protocol between pam_activate.so and activate-helper,
 * compiled into both. One frame per SOCK_SEQPACKET message: a type byte and
 * text, bounded by PAM_MAX_MSG_SIZE (prompts) or PAM_MAX_RESP_SIZE (replies).
 */
#ifndef ACTIVATE_RELAY_H
#define ACTIVATE_RELAY_H

#include <stddef.h>

#define RELAY_MAX_TEXT 512	/* PAM_MAX_MSG_SIZE and PAM_MAX_RESP_SIZE */

enum relay_type {
	RELAY_PROMPT_ECHO_ON = 'P',	/* helper -> module */
	RELAY_PROMPT_ECHO_OFF = 'S',
	RELAY_INFO = 'I',
	RELAY_ERROR = 'E',
	RELAY_RESULT = 'R',		/* text: a relay_result digit, then for login a user */
	RELAY_WORKING = 'W',		/* slow work without prompts follows (the commit):
					   the module allows longer for the next frame */
	RELAY_REPLY = 'A',		/* module -> helper */
	RELAY_NO_REPLY = 'N',		/* the application's conversation failed */
	RELAY_REPLY_TOO_LONG = 'L',	/* the reply did not fit a frame; text empty */
};

/* The outcomes the helper reports; the module maps them to PAM codes. */
enum relay_result {
	RELAY_DENY = '0',		/* verification or a prerequisite failed */
	RELAY_MAXTRIES = '1',		/* max_tries used up */
	RELAY_CONV_ERR = '2',		/* the conversation failed */
	RELAY_UNAVAILABLE = '3',	/* configuration, database or pepper unusable */
	RELAY_LOGIN = '4',		/* activated; text after the digit is the new user */
	RELAY_ACTIVATED = '5',		/* activated, on_success=deny */
};

#define RELAY_USER_MAX 32		/* the longest username a login result carries */

struct relay_frame {
	char type;
	size_t len;
	char text[RELAY_MAX_TEXT + 1];	/* NUL-terminated; no NUL inside */
};

/* Send one frame. -EMSGSIZE if text is too long. */
int relay_send(int fd, char type, const char *text);

/*
 * Receive one frame, waiting at most timeout_ms (-1: no limit). -ETIMEDOUT,
 * -EPIPE on end of file, -EPROTO for an unknown type, an embedded NUL or an
 * oversized frame. The frame buffer is wiped by the caller after use.
 */
int relay_recv(int fd, struct relay_frame *frame, int timeout_ms);

/*
 * Read a RELAY_RESULT frame: one digit of enum relay_result, and for
 * RELAY_LOGIN only a username ([a-z][a-z0-9_-]*, at most RELAY_USER_MAX).
 * Fills code and user (user_size > RELAY_USER_MAX) or returns -EPROTO and
 * leaves both empty: the module acts on nothing the helper did not say exactly.
 */
int relay_result_parse(const struct relay_frame *frame, char *code, char *user, size_t user_size);

#endif
