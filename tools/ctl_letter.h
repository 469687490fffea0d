/*
 * ctl_letter.h: PIN letters by e-mail (ctl_letter.c).
 */
#ifndef ACTIVATECTL_LETTER_H
#define ACTIVATECTL_LETTER_H

#include <stddef.h>
#include <time.h>

#include "person.h"

#define LETTER_MAX 65536	/* a composed letter, headers included */

struct letter {
	char path[4200];
	char *text;		/* the whole template; subject and body point into it */
	const char *subject, *body;
};

/* The template for language (pattern's %l replaced), checked; err names the file and line. */
int letter_load(const char *pattern, const char *language, struct letter *t, char *err, size_t errlen);
void letter_free(struct letter *t);

/* The message for p with pin into buf (locked memory, size bytes); -E2BIG if it does not fit. */
int letter_compose(const struct letter *t, const char *from, const struct person *p, const char *pin,
		   time_t expires, char *buf, size_t size, size_t *len);

/* Hand msg to sendmail -t -oi on its standard input; 0 only if it exited 0 (*status: waitpid's). */
int letter_send(const char *sendmail, const char *msg, size_t len, int *status);

/* Append msg to an mbox (mboxrd quoting) open on fd. */
int letter_mbox_append(int fd, const char *msg, size_t len);

#endif
