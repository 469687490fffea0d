/*
 * ctl_try.c: activatectl try KEY, a dry run of a person's dialogue on the
 * terminal. It is the real dialogue, with the real configuration and
 * pepper, against copies: a snapshot of the database and a scratch sysroot
 * holding copies of the account files, login.defs and skel, removed at the
 * end. So the help desk sees what the person would see and where it would
 * stop, and nothing is written: no failure counted, no name reserved, no
 * account file or home touched, no hook run.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl.h"
#include "dialogue.h"

extern char **environ;

struct scratch {
	char dir[64];
	char db[128];
	char root[128];
	char run[128];
};

/* argv run without a shell; 0 if it exited 0. */
static int run_command(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A copy of each account file the host has, login.defs and skel, under root/etc. */
static int copy_sysroot(const struct config *cfg, const char *root)
{
	static const char *const files[] = { "passwd", "shadow", "group", "gshadow", "login.defs", "skel" };
	const char *base = strcmp(cfg->sysroot, "/") ? cfg->sysroot : "";
	char from[4400], to[200];
	int r = 0;

	snprintf(to, sizeof(to), "%s/etc", root);
	if (mkdir(root, 0700) != 0 || mkdir(to, 0755) != 0)
		return -1;
	snprintf(from, sizeof(from), "%s%s", root, cfg->home_base);
	if (run_command((char *const[]){ "/bin/mkdir", "-p", "--", from, NULL }) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && r == 0; i++) {
		snprintf(from, sizeof(from), "%s/etc/%s", base, files[i]);
		if (access(from, F_OK) == 0)
			r = run_command((char *const[]){ "/bin/cp", "-a", "--", from, to, NULL });
	}
	return r;
}

static void remove_scratch(const struct scratch *s)
{
	if (s->dir[0])
		run_command((char *const[]){ "/bin/rm", "-rf", "--", (char *)s->dir, NULL });
}

static int make_scratch(struct ctl *c, struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/activatectl-try.XXXXXX");
	if (!mkdtemp(s->dir)) {
		s->dir[0] = '\0';
		ctl_error("try: a scratch directory in /tmp: %s", strerror(errno));
		return -1;
	}
	snprintf(s->db, sizeof(s->db), "%s/activate.db", s->dir);
	snprintf(s->root, sizeof(s->root), "%s/root", s->dir);
	snprintf(s->run, sizeof(s->run), "%s/run", s->dir);
	if (store_snapshot(c->st, s->db) != 0) {
		ctl_error("try: a copy of the database: %s", store_errmsg(c->st));
		return -1;
	}
	if (copy_sysroot(&c->cfg, s->root) != 0 || mkdir(s->run, 0700) != 0) {
		ctl_error("try: copies of the account files in %s failed", s->root);
		return -1;
	}
	return 0;
}

/*
 * One line from standard input, byte by byte, so that no copy of a secret
 * stays in a stdio buffer; -E2BIG (reply empty) for a line longer than size.
 */
static int read_line(char *reply, size_t size)
{
	size_t n = 0;
	bool too_long = false;
	char ch;
	ssize_t got;

	while ((got = read(STDIN_FILENO, &ch, 1)) == 1 && ch != '\n') {
		if (n + 1 < size)
			reply[n++] = ch;
		else
			too_long = true;
	}
	reply[too_long ? 0 : n] = '\0';
	sodium_memzero(&ch, sizeof(ch));
	if (got != 1 && n == 0)
		return -ECONNABORTED;
	return too_long ? -E2BIG : 0;
}

static int term_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	struct termios old, quiet;
	bool hide = !echo && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	int r;

	(void)c;
	fputs(text, stdout);
	fflush(stdout);
	if (hide) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	r = read_line(reply, size);
	if (hide)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (!isatty(STDIN_FILENO) || hide)
		puts(r == -ECONNABORTED ? "" : echo ? reply : "(hidden)");	/* a transcript reads as a terminal would show it */
	return r;
}

static int term_message(struct conv *c, bool error, const char *text)
{
	(void)c;
	(void)error;
	puts(text);
	return 0;
}

static const char *outcome_words(enum dialogue_outcome out)
{
	switch (out) {
	case DIALOGUE_ACTIVATED: return "the account would have been made";
	case DIALOGUE_MAXTRIES: return "too many failed tries in one dialogue";
	case DIALOGUE_CONV_ERR: return "the dialogue was cut off";
	case DIALOGUE_UNAVAILABLE: return "the service would be unavailable";
	default: return "refused";
	}
}

static enum dialogue_outcome play(struct ctl *c, const struct scratch *s, int *status)
{
	struct config cfg = c->cfg;
	struct conv conv = { .prompt = term_prompt, .message = term_message };
	struct store *st = NULL;
	char err[CONFIG_ERROR_MAX];
	enum dialogue_outcome out = DIALOGUE_UNAVAILABLE;

	snprintf(cfg.database, sizeof(cfg.database), "%s", s->db);
	snprintf(cfg.sysroot, sizeof(cfg.sysroot), "%s", s->root);
	snprintf(cfg.run_dir, sizeof(cfg.run_dir), "%s", s->run);
	cfg.hook[0] = '\0';
	/* a directory has no scratch copy: the account goes to the copied files, never to the real directory */
	cfg.accounts = CONFIG_ACCOUNTS_FILES;
	conv.width = cfg.text_width;
	conv.joined = cfg.messages == CONFIG_MESSAGES_JOINED;
	*status = CTL_FAIL;
	if (store_open(cfg.database, 0, &st, err, sizeof(err)) != 0) {
		ctl_error("try: %s", err);
		return out;
	}
	{
		struct dialogue d = {
			.cfg = &cfg, .st = st, .pepper = c->pepper, .conv = &conv,
			.service = "activatectl-try", .rhost = "", .tty = "",
		};

		out = dialogue_run(&d);
	}
	store_close(st);
	*status = CTL_OK;
	return out;
}

int ctl_cmd_try(struct ctl *c, int argc, char **argv)
{
	struct scratch s;
	struct person p;
	enum dialogue_outcome out;
	int status = CTL_FAIL;

	memset(&s, 0, sizeof(s));
	if (argc != 2)
		return ctl_usage("try");
	if (ctl_find(c, argv[1], &p) != 0 || ctl_load_pepper(c) != 0)
		return CTL_FAIL;
	printf("try: the dialogue of ID number %s, against copies: nothing is written\n", p.id_number);
	if (make_scratch(c, &s) == 0) {
		out = play(c, &s, &status);
		if (status == CTL_OK)
			printf("try: %s; nothing was written\n", outcome_words(out));
	}
	remove_scratch(&s);
	return status;
}
