/*
 * helper.c: activate-helper. pam_activate.so starts it for the trigger user
 * with a clean environment and its end of a SOCK_SEQPACKET socketpair on
 * descriptor 0, and relays the dialogue (relay.h) between it and the
 * application. Here live the configuration, the database, the pepper and
 * Argon2id's memory, never in the caller's address space.
 *
 * Usage: activate-helper [--service S] [--rhost H] [--tty T] [--config FILE]
 *        [--check] [-- KEY=VALUE...]
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "conv.h"
#include "dialogue.h"
#include "i18n.h"
#include "relay.h"
#include "secret.h"
#include "store.h"

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/share/locale"
#endif

struct args {
	const char *service, *rhost, *tty, *config;
	bool check;
	int nkv;
	char **kv;
};

struct setup {
	struct config cfg;
	struct store *st;
	unsigned char *pepper;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "rhost", required_argument, NULL, 'r' },
		{ "tty", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*a = (struct args){ "", "", "", ACTIVATE_CONF, false, 0, NULL };
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': a->service = optarg; break;
		case 'r': a->rhost = optarg; break;
		case 't': a->tty = optarg; break;
		case 'c': a->config = optarg; break;
		case 'k': a->check = true; break;
		default: return -EINVAL;
		}
	}
	a->nkv = argc - optind;
	a->kv = argv + optind;
	return 0;
}

/*
 * Secrets must not end up in a core file. The caller's signal mask and
 * dispositions are not ours (an ignored SIGTERM or a blocked SIGALRM would
 * change how the helper ends); provisioning blocks the signals that end a
 * process while it commits (provision.c). Nor is the caller's working
 * directory: the hook would start in it, and the helper would keep it
 * busy; every path the helper uses is absolute.
 */
static void harden(void)
{
	struct rlimit none = { 0, 0 };
	sigset_t all;

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (chdir("/") != 0) {
		/* / is there; were it not, nothing here reads a relative path */
	}
}

static int load(const struct args *a, struct setup *s, char *err, size_t errlen)
{
	int r;

	config_defaults(&s->cfg);
	r = config_load_file(&s->cfg, a->config, err, errlen);
	if (r == 0)
		r = config_apply_args(&s->cfg, a->nkv, (const char *const *)a->kv, err, errlen);
	if (r == 0)
		r = config_check_service(&s->cfg, a->service, err, errlen);
	if (r == 0 && secret_init() != 0) {
		snprintf(err, errlen, "libsodium failed to start");
		r = -EIO;
	}
	if (r == 0 && !(s->pepper = secret_alloc(SECRET_PEPPER_BYTES)))
		r = -ENOMEM;
	if (r == 0)
		r = secret_load_pepper(s->cfg.pepper_file, s->pepper, err, errlen);
	if (r == 0)
		r = store_open_config(&s->cfg, 0, &s->st, err, errlen);
	return r;
}

static void unload(struct setup *s)
{
	store_close(s->st);
	if (s->pepper)
		secret_free(s->pepper);
}

static char result_code(enum dialogue_outcome out)
{
	switch (out) {
	case DIALOGUE_MAXTRIES: return RELAY_MAXTRIES;
	case DIALOGUE_CONV_ERR: return RELAY_CONV_ERR;
	case DIALOGUE_UNAVAILABLE: return RELAY_UNAVAILABLE;
	case DIALOGUE_ACTIVATED: return RELAY_ACTIVATED;
	default: return RELAY_DENY;
	}
}

static void send_result(int fd, enum dialogue_outcome out, const struct dialogue *d, const struct config *cfg)
{
	char text[2 + PERSON_USERNAME_MAX];

	text[0] = result_code(out);
	text[1] = '\0';
	if (out == DIALOGUE_ACTIVATED && cfg->on_success == CONFIG_ON_SUCCESS_LOGIN)
		snprintf(text, sizeof(text), "%c%s", RELAY_LOGIN, d->username);
	relay_send(fd, RELAY_RESULT, text);
}

static int run(const struct args *a, struct setup *s, int fd)
{
	struct conv conv;
	struct conv_relay cr = { .fd = fd };
	struct dialogue d = {
		.cfg = &s->cfg, .st = s->st, .pepper = s->pepper, .conv = &conv,
		.service = a->service, .rhost = a->rhost, .tty = a->tty,
	};
	enum dialogue_outcome out;

	conv_relay_init(&conv, &cr, s->cfg.reply_timeout, s->cfg.dialogue_timeout);
	conv.width = s->cfg.text_width;
	conv.joined = s->cfg.messages == CONFIG_MESSAGES_JOINED;
	out = dialogue_run(&d);
	send_result(fd, out, &d, &s->cfg);
	return out == DIALOGUE_ACTIVATED ? 0 : 1;
}

/*
 * The caller's language. A lab machine often has only one locale generated;
 * when the caller's is missing, C.UTF-8 keeps the text encoding and
 * LANGUAGE still picks the catalogue (gettext ignores LANGUAGE in "C" only).
 */
static void set_language(void)
{
	const char *names[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	const char *want = NULL;

	bindtextdomain(ACTIVATE_TEXTDOMAIN, LOCALEDIR);
	if (setlocale(LC_ALL, "") != NULL)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !want; i++) {
		const char *v = getenv(names[i]);

		if (v && *v)
			want = v;
	}
	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		return;
	if (want && !getenv("LANGUAGE"))
		setenv("LANGUAGE", want, 0);
}

/*
 * The service's language (language = nb): sshd empties the environment of
 * its PAM child, so over SSH this is the only way the dialogue is not in
 * English. LANGUAGE picks the catalogue; the locale only needs UTF-8.
 */
static void service_language(const char *language)
{
	char name[CONFIG_TEXT_MAX];

	if (!language[0])
		return;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(language, ".@"), language);	/* nb_NO.UTF-8: nb_NO */
	setenv("LANGUAGE", name, 1);
	if (setlocale(LC_ALL, language) == NULL)
		setlocale(LC_ALL, "C.UTF-8");
}

/* The compiled-in support line in the dialogue's language; a site's own text stays as written. */
static void translate_defaults(struct config *cfg)
{
	static const char support[] = N_("Contact the IT help desk if you need help.");

	if (strcmp(cfg->support_contact, CONFIG_DEFAULT_SUPPORT) == 0 && strcmp(support, CONFIG_DEFAULT_SUPPORT) == 0)
		snprintf(cfg->support_contact, sizeof(cfg->support_contact), "%s", _(support));
}

static int is_seqpacket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

int main(int argc, char **argv)
{
	struct setup s = { .st = NULL, .pepper = NULL };
	char err[CONFIG_ERROR_MAX + 64];
	struct args a;
	int rc;

	harden();
	set_language();
	openlog("pam_activate", LOG_PID, LOG_AUTHPRIV);
	if (parse_args(argc, argv, &a) != 0) {
		fprintf(stderr, "usage: activate-helper [--service S] [--rhost H] [--tty T] "
			"[--config FILE] [--check] [-- KEY=VALUE...]\n");
		return 2;
	}
	if (load(&a, &s, err, sizeof(err)) != 0) {
		syslog(LOG_AUTHPRIV | LOG_ERR, "cannot start the activation: %s", err);
		if (a.check)
			fprintf(stderr, "activate-helper: %s\n", err);
		else if (is_seqpacket(0)) {
			relay_send(0, RELAY_ERROR, _("The activation service is not available right now."));
			relay_send(0, RELAY_RESULT, (char[]){ RELAY_UNAVAILABLE, '\0' });
		}
		unload(&s);
		return 1;
	}
	service_language(s.cfg.language);
	translate_defaults(&s.cfg);
	if (a.check)
		rc = 0;
	else if (!is_seqpacket(0)) {
		fprintf(stderr, "activate-helper: started by pam_activate.so, not by hand (try --check)\n");
		rc = 2;
	} else
		rc = run(&a, &s, 0);
	unload(&s);
	return rc;
}
