/*
 * kbdint-libssh.c: libssh's keyboard-interactive client (ssh_userauth_kbdint)
 * answering the activation dialogue by the text of each prompt.
 *   kbdint-libssh PORT USER STEP...               a dialogue; what the student sees on stdout
 *   kbdint-libssh PORT USER --login PASSWORD CMD  password authentication, then CMD's output
 * Steps (a space in REGEX matches any run of white space, as wrapping puts newlines there):
 *   -p REGEX ANSWER  the next prompt (its whole text, messages included) must match the
 *                    POSIX extended REGEX; answer ANSWER (\1 is REGEX's first group)
 *   -x REGEX         the next prompt must match REGEX; then disconnect
 *   -d               the server now ends the round with an authentication failure, and
 *                    still offers keyboard-interactive; steps after it start a new round
 * Every name, instruction and prompt must be valid UTF-8 without control characters
 * (a newline or a tab aside). Exit 0 when every step was met; 1, with the reason on
 * stderr, when not.
 */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

struct step {
	char kind;		/* 'p', 'x' or 'd' */
	const char *source;
	regex_t rx;
	const char *answer;
};

static ssh_session session;

static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("kbdint-libssh: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (session) {
		ssh_disconnect(session);
		ssh_free(session);
	}
	exit(1);
}

/* A space in the pattern: any run of white space. */
static void compile(struct step *s, const char *pattern)
{
	size_t n = strlen(pattern);
	char *ere = malloc(n * 14 + 1), *o = ere;
	int r;

	if (!ere)
		fail("out of memory");
	for (const char *c = pattern; *c; c++) {
		if (*c == ' ') {
			while (c[1] == ' ')
				c++;
			o += sprintf(o, "[[:space:]]+");
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	r = regcomp(&s->rx, ere, REG_EXTENDED);
	free(ere);
	if (r)
		fail("bad regular expression /%s/", pattern);
	s->source = pattern;
}

/* Valid UTF-8 with no control character but a newline or a tab. */
static int clean_text(const char *t)
{
	const unsigned char *p = (const unsigned char *)t;

	while (*p) {
		unsigned c = *p, len, cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
				return 0;
			p++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			len = 2, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			len = 3, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			len = 4, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i < len; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0))
			return 0;
		p += len;
	}
	return 1;
}

static void show(const char *what, const char *text)
{
	if (!clean_text(text))
		fail("the %s is not clean UTF-8 text: \"%s\"", what, text);
}

/* ANSWER with \1 replaced by the first group of the match. */
static char *answer_of(const struct step *s, const char *text, const regmatch_t *m)
{
	size_t glen = m[1].rm_so >= 0 ? (size_t)(m[1].rm_eo - m[1].rm_so) : 0;
	char *out = malloc(strlen(s->answer) * (glen + 1) + 1), *o = out;

	if (!out)
		fail("out of memory");
	for (const char *c = s->answer; *c; c++) {
		if (c[0] == '\\' && c[1] == '1') {
			memcpy(o, text + (glen ? m[1].rm_so : 0), glen);
			o += glen;
			c++;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	return out;
}

static void connect_session(const char *port, const char *user)
{
	int no = 0;
	long timeout = 30;

	session = ssh_new();
	if (!session)
		fail("ssh_new failed");
	ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &no);
	ssh_options_set(session, SSH_OPTIONS_HOST, "127.0.0.1");
	ssh_options_set(session, SSH_OPTIONS_PORT_STR, port);
	ssh_options_set(session, SSH_OPTIONS_USER, user);
	ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
	ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout);
	/* the test's own host key, unknown to everyone: not checked */
	if (ssh_connect(session) != SSH_OK)
		fail("connect: %s", ssh_get_error(session));
}

static int login(const char *port, const char *user, const char *password, const char *command)
{
	ssh_channel ch;
	char buf[4096];
	int n, status;

	connect_session(port, user);
	if (ssh_userauth_password(session, NULL, password) != SSH_AUTH_SUCCESS)
		fail("password authentication as %s failed: %s", user, ssh_get_error(session));
	ch = ssh_channel_new(session);
	if (!ch || ssh_channel_open_session(ch) != SSH_OK || ssh_channel_request_exec(ch, command) != SSH_OK)
		fail("exec %s: %s", command, ssh_get_error(session));
	while ((n = ssh_channel_read(ch, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	ssh_channel_send_eof(ch);
	status = ssh_channel_get_exit_status(ch);
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	ssh_disconnect(session);
	ssh_free(session);
	return status == 0 ? 0 : 1;
}

/* One round: the steps from *i up to a -d (the server must deny) or an -x (we leave). */
static int round_of(struct step *steps, int nsteps, int *i, int round)
{
	int rc = ssh_userauth_kbdint(session, NULL, NULL);

	while (rc == SSH_AUTH_INFO) {
		const char *name = ssh_userauth_kbdint_getname(session);
		const char *instruction = ssh_userauth_kbdint_getinstruction(session);
		int n = ssh_userauth_kbdint_getnprompts(session);

		if (name && *name) {
			show("name", name);
			printf("%s\n", name);
		}
		if (instruction && *instruction) {
			show("instruction", instruction);
			printf("%s\n", instruction);
		}
		for (int k = 0; k < n; k++) {
			char echo = 0;
			const char *text = ssh_userauth_kbdint_getprompt(session, (unsigned)k, &echo);
			regmatch_t m[2];
			char *answer;

			show("prompt", text);
			if (*i >= nsteps || steps[*i].kind == 'd')
				fail("round %d: a prompt no step expects: \"%s\"", round, text);
			if (regexec(&steps[*i].rx, text, 2, m, 0) != 0)
				fail("round %d: expected a prompt matching /%s/, got \"%s\"", round,
				     steps[*i].source, text);
			if (steps[*i].kind == 'x') {
				printf("%s\n", text);
				(*i)++;
				return 1;	/* leave */
			}
			answer = answer_of(&steps[*i], text, m);
			printf("%s%s\n", text, echo ? answer : "");
			if (ssh_userauth_kbdint_setanswer(session, (unsigned)k, answer) < 0)
				fail("setanswer: %s", ssh_get_error(session));
			free(answer);
			(*i)++;
		}
		fflush(stdout);
		rc = ssh_userauth_kbdint(session, NULL, NULL);
	}
	if (rc == SSH_AUTH_SUCCESS)
		fail("round %d: the authentication succeeded", round);
	if (rc != SSH_AUTH_DENIED)
		fail("round %d: %s", round, ssh_get_error(session));
	if (*i >= nsteps || steps[*i].kind != 'd')
		fail("round %d ended while a prompt matching /%s/ was still expected", round,
		     *i < nsteps ? steps[*i].source : "?");
	(*i)++;
	printf("-- authentication failed --\n");
	if (!(ssh_userauth_list(session, NULL) & SSH_AUTH_METHOD_INTERACTIVE))
		fail("round %d: after the failure the server no longer offers keyboard-interactive", round);
	return 0;
}

int main(int argc, char **argv)
{
	struct step *steps;
	int nsteps = 0, i = 0, round = 1;

	if (argc < 4)
		fail("usage: kbdint-libssh PORT USER STEP... | PORT USER --login PASSWORD COMMAND");
	if (strcmp(argv[3], "--login") == 0) {
		if (argc != 6)
			fail("usage: kbdint-libssh PORT USER --login PASSWORD COMMAND");
		return login(argv[1], argv[2], argv[4], argv[5]);
	}
	steps = calloc((size_t)argc, sizeof(*steps));
	if (!steps)
		fail("out of memory");
	for (int a = 3; a < argc; a++) {
		struct step *s = &steps[nsteps++];

		if (strcmp(argv[a], "-p") == 0 && a + 2 < argc) {
			s->kind = 'p';
			compile(s, argv[a + 1]);
			s->answer = argv[a + 2];
			a += 2;
		} else if (strcmp(argv[a], "-x") == 0 && a + 1 < argc) {
			s->kind = 'x';
			compile(s, argv[++a]);
		} else if (strcmp(argv[a], "-d") == 0) {
			s->kind = 'd';
		} else {
			fail("bad step at \"%s\"", argv[a]);
		}
	}
	if (nsteps == 0 || (steps[nsteps - 1].kind != 'd' && steps[nsteps - 1].kind != 'x'))
		fail("the steps must end with -d or -x");
	connect_session(argv[1], argv[2]);
	while (i < nsteps) {
		if (round_of(steps, nsteps, &i, round++))
			break;
	}
	if (i < nsteps)
		fail("left with steps still to go at /%s/", steps[i].source ? steps[i].source : "-d");
	ssh_disconnect(session);
	ssh_free(session);
	return 0;
}
