/*
 * ctl_letter.c: PIN letters by e-mail (activatectl issue --mail). A letter
 * is a template per language (conf/pin-letter.en, .nb: a "Subject:" line, a
 * blank line, the body, with %g %f %i %s %p %d %%), composed in locked
 * memory because it carries the PIN, and handed to the local MTA's
 * sendmail interface on its standard input only (sendmail -t -oi), or
 * appended to an mbox file for a dry run.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_letter.h"
#include "secret.h"
#include "text.h"

#define TEMPLATE_MAX 16384

extern char **environ;

struct out {
	char *buf;
	size_t len, cap;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_out(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* The template for language: pattern with %l replaced. */
static void template_path(const char *pattern, const char *language, char *out, size_t len)
{
	const char *l = strstr(pattern, "%l");

	if (l)
		snprintf(out, len, "%.*s%s%s", (int)(l - pattern), pattern, language, l + 2);
	else
		snprintf(out, len, "%s", pattern);
}

/* Each line printable UTF-8 (a tab allowed) and at most 998 bytes, as RFC 5322 wants. */
static int check_body_lines(const struct letter *t, char *err, size_t errlen)
{
	unsigned line = 3;
	char copy[999];

	for (const char *at = t->body; *at; line++) {
		size_t n = strcspn(at, "\n");

		if (n >= sizeof(copy)) {
			snprintf(err, errlen, "%s:%u: longer than 998 bytes", t->path, line);
			return -EINVAL;
		}
		memcpy(copy, at, n);
		for (size_t i = 0; i < n; i++)
			if (copy[i] == '\t')
				copy[i] = ' ';
		if (n && text_check_utf8_printable(copy, n) != 0) {
			snprintf(err, errlen, "%s:%u: not printable UTF-8", t->path, line);
			return -EINVAL;
		}
		at += n + (at[n] == '\n');
	}
	return 0;
}

static int check_template(struct letter *t, char *err, size_t errlen)
{
	char *nl = strchr(t->text, '\n');

	if (strncmp(t->text, "Subject: ", 9) != 0 || !nl || nl[1] != '\n') {
		snprintf(err, errlen, "%s:1: a letter starts with \"Subject: ...\" and a blank line", t->path);
		return -EINVAL;
	}
	*nl = '\0';
	t->subject = t->text + 9;
	t->body = nl + 2;
	if (text_check_utf8_printable(t->subject, strlen(t->subject)) != 0) {
		snprintf(err, errlen, "%s:1: the subject is not printable UTF-8", t->path);
		return -EINVAL;
	}
	if (check_body_lines(t, err, errlen) != 0)
		return -EINVAL;
	for (const char *at = strchr(t->body, '%'); at; at = strchr(at + 2, '%'))
		if (!at[1] || !strchr("gfispd%", at[1])) {
			snprintf(err, errlen, "%s: %%%c: not one of %%g %%f %%i %%s %%p %%d %%%%", t->path,
				 at[1] ? at[1] : ' ');
			return -EINVAL;
		}
	return 0;
}

int letter_load(const char *pattern, const char *language, struct letter *t, char *err, size_t errlen)
{
	FILE *f;
	size_t n;

	memset(t, 0, sizeof(*t));
	template_path(pattern, language, t->path, sizeof(t->path));
	f = fopen(t->path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s (the letter for language %s)", t->path, strerror(errno), language);
		return -errno;
	}
	t->text = malloc(TEMPLATE_MAX + 1);
	n = t->text ? fread(t->text, 1, TEMPLATE_MAX + 1, f) : 0;
	fclose(f);
	if (!t->text || n > TEMPLATE_MAX || memchr(t->text, '\0', n)) {
		snprintf(err, errlen, "%s: %s", t->path, t->text ? "longer than 16 KiB, or binary" : "out of memory");
		letter_free(t);
		return -EINVAL;
	}
	t->text[n] = '\0';
	if (check_template(t, err, errlen) != 0) {
		letter_free(t);
		return -EINVAL;
	}
	return 0;
}

void letter_free(struct letter *t)
{
	free(t->text);
	t->text = NULL;
}

/* RFC 2047: an encoded word for a subject that is not plain ASCII. */
static void put_subject(struct out *o, const char *subject)
{
	size_t n = strlen(subject);
	char *b64;
	size_t b64len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)subject[i] >= 0x80)
			goto encode;
	puts_out(o, subject);
	return;
encode:
	b64 = malloc(b64len);
	if (!b64) {
		o->full = true;
		return;
	}
	sodium_bin2base64(b64, b64len, (const unsigned char *)subject, n, sodium_base64_VARIANT_ORIGINAL);
	puts_out(o, "=?UTF-8?B?");
	puts_out(o, b64);
	puts_out(o, "?=");
	free(b64);
}

static void put_body(struct out *o, const char *body, const struct person *p, const char *pin, const char *until)
{
	for (const char *at = body; *at; at++) {
		if (*at != '%') {
			put(o, at, 1);
			continue;
		}
		switch (*++at) {
		case 'g': puts_out(o, p->given_name); break;
		case 'f': puts_out(o, p->family_name); break;
		case 'i': puts_out(o, p->id_number); break;
		case 's': puts_out(o, p->student_number); break;
		case 'p': puts_out(o, pin); break;
		case 'd': puts_out(o, until); break;
		default: put(o, "%", 1); break;
		}
	}
}

int letter_compose(const struct letter *t, const char *from, const struct person *p, const char *pin,
		   time_t expires, char *buf, size_t size, size_t *len)
{
	struct out o = { buf, 0, size, false };
	char until[16];
	struct tm tm;

	if (strpbrk(p->email, "\r\n") || (from && strpbrk(from, "\r\n")))
		return -EINVAL;	/* never a header of our own making in an address */
	localtime_r(&expires, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	if (from && from[0]) {
		puts_out(&o, "From: ");
		puts_out(&o, from);
		puts_out(&o, "\n");
	}
	puts_out(&o, "To: ");
	puts_out(&o, p->email);
	puts_out(&o, "\nSubject: ");
	put_subject(&o, t->subject);
	puts_out(&o, "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
		 "Content-Transfer-Encoding: 8bit\n\n");
	put_body(&o, t->body, p, pin, until);
	*len = o.len;
	return o.full ? -E2BIG : 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int letter_send(const char *sendmail, const char *msg, size_t len, int *status)
{
	char *const argv[] = { (char *)sendmail, "-t", "-oi", NULL };
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
	posix_spawn_file_actions_t fa;
	int fds[2], r;
	pid_t pid;

	*status = -1;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
	r = posix_spawn(&pid, sendmail, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	if (r != 0) {
		close(fds[1]);
		return -r;
	}
	sigaction(SIGPIPE, &ignore, &old);	/* an MTA that exits without reading: EPIPE, not death */
	r = write_all(fds[1], msg, len);
	close(fds[1]);
	sigaction(SIGPIPE, &old, NULL);
	if (waitpid(pid, status, 0) != pid)
		return -ECHILD;
	if (r == 0 && !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0))
		r = -EPROTO;
	return r;
}

int letter_mbox_append(int fd, const char *msg, size_t len)
{
	char head[64];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	gmtime_r(&now, &tm);
	strftime(head, sizeof(head), "From activatectl %a %b %e %H:%M:%S %Y\n", &tm);
	r = write_all(fd, head, strlen(head));
	for (const char *line = msg, *end = msg + len; r == 0 && line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) + 1 : (size_t)(end - line);

		if (n >= 5 && strncmp(line, "From ", 5) == 0)
			r = write_all(fd, ">", 1);	/* mboxrd quoting */
		if (r == 0)
			r = write_all(fd, line, n);
		line += n;
	}
	return r ? r : write_all(fd, "\n", 1);
}
