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
	RELAY_RESULT = 'R',		/* text: PAM status in decimal, then ' ' and a user */
	RELAY_REPLY = 'A',		/* module -> helper */
	RELAY_NO_REPLY = 'N',		/* the application's conversation failed */
};

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

#endif
