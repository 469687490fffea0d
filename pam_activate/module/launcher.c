/*
 * launcher.c: the activation side of pam_activate, in its own shared object
 * (pam_activate_relay.so) that pam_activate.so loads only for the trigger
 * user. libpam opens modules with RTLD_NOW, so every libc function a module
 * imports is looked up at every login of every user; keeping the spawning
 * and relaying out of pam_activate.so keeps ordinary logins as cheap as a
 * module that does nothing.
 *
 * It starts activate-helper with a clean environment over a SOCK_SEQPACKET
 * socketpair, relays the helper's prompts and messages to the application's
 * conversation and the replies back (relay.h), and maps the helper's result
 * to a PAM status, in one place. A helper that is missing, dies, hangs or
 * speaks out of turn only ever means a denial.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "relay.h"
#include "launcher.h"

#ifndef ACTIVATE_HELPER
#define ACTIVATE_HELPER "/usr/libexec/pam_activate/activate-helper"
#endif
#define MAX_ARGS 64
#define DEFAULT_TIMEOUT_S 60
#define REAP_GRACE_MS 2000
#define FAIL_DELAY_US 2000000
#define WORKING_FACTOR 4	/* the commit's bound: the lock wait, the hook, fsyncs */

struct margs {
	const char *trigger, *helper, *config;
	int timeout_s;
	long fail_delay_us;
	bool debug;
	int nkv;
	const char *kv[MAX_ARGS];	/* passed to the helper as configuration */
};

/* What the helper said at the end, or that it said nothing usable. */
struct outcome {
	char code;			/* an enum relay_result, or 0: the helper failed */
	char user[RELAY_USER_MAX + 1];
};

static const char *arg_value(const char *arg, const char *key)
{
	size_t n = strlen(key);

	return strncmp(arg, key, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static int parse_args(pam_handle_t *pamh, int argc, const char **argv, struct margs *a)
{
	const char *v;

	*a = (struct margs){ .helper = ACTIVATE_HELPER, .config = NULL, .timeout_s = DEFAULT_TIMEOUT_S,
			     .fail_delay_us = FAIL_DELAY_US };
	for (int i = 0; i < argc; i++) {
		if (arg_value(argv[i], "relay"))
			continue;	/* pam_activate.so's own */
		if ((v = arg_value(argv[i], "helper")) != NULL)
			a->helper = v;
		else if ((v = arg_value(argv[i], "config")) != NULL)
			a->config = v;
		else if ((v = arg_value(argv[i], "helper_timeout")) != NULL)
			a->timeout_s = atoi(v);
		else if ((v = arg_value(argv[i], "fail_delay")) != NULL)
			a->fail_delay_us = atol(v);
		else if (a->nkv < MAX_ARGS)
			a->kv[a->nkv++] = argv[i];
		else {
			pam_syslog(pamh, LOG_ERR, "too many module arguments");
			return -1;
		}
		if (strcmp(argv[i], "debug") == 0)
			a->debug = true;
	}
	if (a->helper[0] != '/' || (a->config && a->config[0] != '/') || a->timeout_s <= 0 ||
	    a->fail_delay_us < 0) {
		pam_syslog(pamh, LOG_ERR, "helper= and config= must be absolute paths, "
			   "helper_timeout= positive, fail_delay= not negative");
		return -1;
	}
	return 0;
}

/* PAM items that go to the helper's argv: printable ASCII only, or "?". */
static const char *item_text(pam_handle_t *pamh, int item)
{
	const void *v = NULL;
	const char *s;

	if (pam_get_item(pamh, item, &v) != PAM_SUCCESS || !v)
		return "";
	for (s = v; *s; s++)
		if (*s <= ' ' || *s > '~' || s - (const char *)v > 255)
			return "?";
	return v;
}

static int build_argv(pam_handle_t *pamh, const struct margs *a, const char **argv)
{
	int n = 0;

	argv[n++] = a->helper;
	argv[n++] = "--service";
	argv[n++] = item_text(pamh, PAM_SERVICE);
	argv[n++] = "--rhost";
	argv[n++] = item_text(pamh, PAM_RHOST);
	argv[n++] = "--tty";
	argv[n++] = item_text(pamh, PAM_TTY);
	if (a->config) {
		argv[n++] = "--config";
		argv[n++] = a->config;
	}
	argv[n++] = "--";
	for (int i = 0; i < a->nkv; i++)
		argv[n++] = a->kv[i];
	argv[n] = NULL;
	return n;
}

/* A locale name or a LANGUAGE list: short, and nothing a path could hide in. */
static bool locale_like(const char *v)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:-";

	return v && *v && strlen(v) <= 64 && strspn(v, ok) == strlen(v) && !strstr(v, "..");
}

/*
 * The caller's language and a fixed PATH. An application that knows the
 * language of this login may say so in the PAM environment; otherwise it is
 * the application's own locale (pam_env fills the PAM environment only
 * after authentication).
 */
static void build_env(pam_handle_t *pamh, char env[4][128], const char **envp)
{
	static const char *const names[] = { "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE" };
	int n = 0;

	envp[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	for (int i = 0; i < 4; i++) {
		const char *v = pam_getenv(pamh, names[i]);

		if (!locale_like(v))
			v = getenv(names[i]);
		if (!locale_like(v))
			continue;
		snprintf(env[i], sizeof(env[i]), "%s=%s", names[i], v);
		envp[n++] = env[i];
	}
	envp[n] = NULL;
}

/* fd becomes target, open across exec (dup2 onto itself would keep close-on-exec). */
static int place_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) == target ? 0 : -1;
}

/*
 * The helper in a session of its own, so that the caller's signals to its
 * process group (sshd's LoginGraceTime, a hang-up from login(1)) cannot
 * cut a commit, with the signal mask and dispositions reset. The socket
 * and /dev/null are first moved above 2: the caller may have closed 0-2,
 * so either could be one of them.
 */
static void __attribute__((noreturn)) exec_child(int sock, const char **argv, const char **envp)
{
	int s = fcntl(sock, F_DUPFD_CLOEXEC, 3), null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	if (null >= 0 && null < 3) {
		int high = fcntl(null, F_DUPFD_CLOEXEC, 3);

		close(null);
		null = high;
	}
	if (s < 0 || null < 0 || place_fd(s, 0) != 0 || place_fd(null, 1) != 0 || place_fd(null, 2) != 0)
		_exit(127);
	closefrom(3);
	setsid();
	for (int sig = 1; sig < NSIG; sig++)	/* dispositions first: no caller's handler may run in here */
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(argv[0], (char *const *)argv, (char *const *)envp);
	_exit(127);
}

/* One message to the application; *resp is the reply of a prompt (caller frees). */
static int converse(pam_handle_t *pamh, int style, const char *text, char **resp)
{
	const struct pam_conv *conv = NULL;
	struct pam_message msg = { .msg_style = style, .msg = text };
	const struct pam_message *msgp = &msg;
	struct pam_response *r = NULL;
	int rc;

	*resp = NULL;
	rc = pam_get_item(pamh, PAM_CONV, (const void **)&conv);
	if (rc != PAM_SUCCESS || !conv || !conv->conv)
		return PAM_CONV_ERR;
	rc = conv->conv(1, &msgp, &r, conv->appdata_ptr);
	if (r) {
		*resp = r->resp;
		free(r);
	}
	return rc;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int relay_prompt(pam_handle_t *pamh, int fd, const struct relay_frame *f)
{
	int style = f->type == RELAY_PROMPT_ECHO_ON ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF;
	char *resp = NULL;
	int rc = converse(pamh, style, f->text, &resp), r;

	if (rc != PAM_SUCCESS || !resp)
		r = relay_send(fd, RELAY_NO_REPLY, NULL);
	else if (strlen(resp) > RELAY_MAX_TEXT)
		r = relay_send(fd, RELAY_REPLY_TOO_LONG, NULL);
	else
		r = relay_send(fd, RELAY_REPLY, resp);
	wipe_free(resp);
	return r;
}

static int relay_message(pam_handle_t *pamh, const struct relay_frame *f)
{
	char *resp = NULL;

	converse(pamh, f->type == RELAY_ERROR ? PAM_ERROR_MSG : PAM_TEXT_INFO, f->text, &resp);
	wipe_free(resp);
	return 0;
}

/* Relay frames until the helper's result; 0, or -1 when the helper misbehaved. */
static int relay_loop(pam_handle_t *pamh, int fd, int timeout_ms, struct outcome *out)
{
	struct relay_frame f;
	int r, wait = timeout_ms;

	for (;;) {
		r = relay_recv(fd, &f, wait);
		wait = timeout_ms;
		if (r) {
			pam_syslog(pamh, LOG_ERR, "activate-helper: %s; denying",
				   r == -EPIPE ? "ended without a result" : r == -ETIMEDOUT ? "timed out"
				   : r == -EPROTO ? "sent a malformed frame" : strerror(-r));
			return -1;
		}
		if (f.type == RELAY_PROMPT_ECHO_ON || f.type == RELAY_PROMPT_ECHO_OFF)
			r = relay_prompt(pamh, fd, &f);
		else if (f.type == RELAY_INFO || f.type == RELAY_ERROR)
			r = relay_message(pamh, &f);
		else if (f.type == RELAY_WORKING && f.len == 0)
			wait = timeout_ms * WORKING_FACTOR;	/* locks, fsyncs, the hook: not a hang */
		else if (relay_result_parse(&f, &out->code, out->user, sizeof(out->user)) == 0)
			return 0;
		else {
			pam_syslog(pamh, LOG_ERR, "activate-helper: unexpected frame '%c'; denying", f.type);
			return -1;
		}
		if (r) {
			pam_syslog(pamh, LOG_ERR, "activate-helper: cannot reply: %s; denying", strerror(-r));
			return -1;
		}
	}
}

/* Wait for the helper; after a grace period kill it. Never leave a zombie. */
static void reap(pam_handle_t *pamh, pid_t pid, bool kill_now)
{
	struct timespec tick = { 0, 100L * 1000 };
	long waited_ns = 0;
	int status = 0;
	pid_t w = 0;

	/* The helper exits within a few ms of its result; the caller waits for this. */
	while (!kill_now && waited_ns < REAP_GRACE_MS * 1000000L) {
		w = waitpid(pid, &status, WNOHANG);
		if (w != 0)
			break;
		nanosleep(&tick, NULL);
		waited_ns += tick.tv_nsec;
		if (tick.tv_nsec < 10L * 1000 * 1000)
			tick.tv_nsec *= 2;
	}
	if (w == 0) {
		kill(pid, SIGKILL);
		while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	if (w == pid && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		pam_syslog(pamh, LOG_ERR, "activate-helper died of signal %d", WTERMSIG(status));
	else if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 127)
		pam_syslog(pamh, LOG_ERR, "activate-helper could not be started");
}

static int run_helper(pam_handle_t *pamh, const struct margs *a, struct outcome *out)
{
	const char *argv[MAX_ARGS + 12], *envp[6];
	char env[4][128];
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	int sv[2], r;
	pid_t pid;

	build_argv(pamh, a, argv);
	build_env(pamh, env, envp);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		pam_syslog(pamh, LOG_ERR, "socketpair: %m");
		return -1;
	}
	sigaction(SIGCHLD, &dfl, &old);
	pid = fork();
	if (pid == 0)
		exec_child(sv[1], argv, envp);
	close(sv[1]);
	r = pid < 0 ? -1 : relay_loop(pamh, sv[0], a->timeout_s * 1000, out);
	if (pid < 0)
		pam_syslog(pamh, LOG_ERR, "fork: %m");
	close(sv[0]);
	if (pid > 0)
		reap(pamh, pid, r != 0);
	sigaction(SIGCHLD, &old, NULL);
	return r;
}

/* The one place a helper's outcome becomes a PAM status. */
static int map_outcome(pam_handle_t *pamh, const struct outcome *out)
{
	switch (out->code) {
	case RELAY_MAXTRIES:
		/*
		 * Not PAM_MAXTRIES: after it sshd offers no method at all for the
		 * connection, and ssh falls back to password prompts where a
		 * student types a PIN or a password (PuTTY: "No supported
		 * authentication methods"). A failure lets the client try again.
		 */
		pam_syslog(pamh, LOG_NOTICE, "max_tries failed verifications in this dialogue");
		return PAM_AUTH_ERR;
	case RELAY_CONV_ERR:
		return PAM_CONV_ERR;
	case RELAY_UNAVAILABLE:
		return PAM_AUTHINFO_UNAVAIL;
	case RELAY_LOGIN:
		if (pam_set_item(pamh, PAM_USER, out->user) != PAM_SUCCESS)
			return PAM_AUTH_ERR;
		pam_syslog(pamh, LOG_NOTICE, "activated %s; continuing as that user", out->user);
		return PAM_SUCCESS;
	default:	/* denied, activated with on_success=deny, or the helper failed */
		return PAM_AUTH_ERR;
	}
}

__attribute__((visibility("default")))
int pam_activate_run(pam_handle_t *pamh, int argc, const char **argv)
{
	struct outcome out = { .code = 0 };
	struct margs a;
	int rc;

	if (geteuid() != 0) {
		pam_syslog(pamh, LOG_ERR, "activation needs root (running as uid %u); denying",
			   (unsigned)geteuid());
		return PAM_AUTHINFO_UNAVAIL;
	}
	if (parse_args(pamh, argc, argv, &a) != 0)
		return PAM_AUTHINFO_UNAVAIL;
	if (a.fail_delay_us > 0)
		pam_fail_delay(pamh, (unsigned)a.fail_delay_us);
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "starting %s", a.helper);
	if (run_helper(pamh, &a, &out) != 0) {
		/*
		 * The helper died, hung or spoke out of turn: without a word the
		 * person sees the dialogue stop and cannot tell why. In English,
		 * the source language: the catalogue is the helper's.
		 */
		char *resp = NULL;

		converse(pamh, PAM_ERROR_MSG, "The activation service is not available right now.", &resp);
		wipe_free(resp);
		return PAM_AUTH_ERR;
	}
	rc = map_outcome(pamh, &out);
	explicit_bzero(&out, sizeof(out));
	return rc;
}
