/*
 * ctl_desk.c: activatectl activate KEY --checked-by NAME, the help desk's
 * activation for a person who cannot use the dialogue, after a photo-ID
 * check. It is one more caller of the dialogue's own provisioning
 * (provision.c: the same prerequisites, username, intent and roll-forward),
 * with the terms recorded as accepted at the desk and one generated
 * password, shown here once and to be changed at the first login.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "password.h"
#include "provision.h"
#include "secret.h"
#include "text.h"

#define CHECKED_BY_MAX 64

/* The dialogue's words go to standard error: nobody answers prompts at the desk. */
static int desk_prompt(struct conv *c, bool echo, const char *text, char *reply, size_t size)
{
	(void)c;
	(void)echo;
	(void)text;
	if (size)
		reply[0] = '\0';
	return -ECONNABORTED;
}

static int desk_message(struct conv *c, bool error, const char *text)
{
	(void)c;
	(void)error;
	ctl_error("%s", text);
	return 0;
}

/* Whoever runs activatectl: the sudo caller when there is one, else the real user. */
static const char *operator_name(void)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;

	if (sudo && *sudo && strlen(sudo) <= 32 && text_check_utf8_printable(sudo, strlen(sudo)) == 0)
		return sudo;
	pw = getpwuid(getuid());
	return pw ? pw->pw_name : "?";
}

static int parse_args(int argc, char **argv, const char **key, const char **checked_by)
{
	static const struct option options[] = {
		{ "checked-by", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*checked_by = NULL;
	while ((o = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (o != 'c')
			return -1;
		*checked_by = optarg;
	}
	if (optind != argc - 1 || !*checked_by)
		return -1;
	*key = argv[optind];
	return 0;
}

static int valid_checked_by(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CHECKED_BY_MAX || text_check_utf8_printable(name, n) != 0 || strchr(name, '\n')) {
		ctl_error("--checked-by: the name of who checked the photo ID (1-%d printable characters)",
			  CHECKED_BY_MAX);
		return -1;
	}
	return 0;
}

/* The prerequisites a dialogue checks, but not the PIN's: the desk needs none. */
static int desk_eligible(struct ctl *c, const struct person *p)
{
	unsigned pin_bits = PERSON_NO_PIN | PERSON_PIN_EXPIRED | PERSON_PIN_SPENT | PERSON_LOCKED;
	unsigned m = person_problems(p, &c->cfg, time(NULL)) & ~pin_bits;

	if (m & PERSON_ALREADY_ACTIVE) {
		ctl_error("%s is already active as %s: for a forgotten password, issue a new PIN", p->id_number,
			  p->username);
		return -1;
	}
	for (unsigned bit = 1; bit <= m; bit <<= 1)
		if (m & bit)
			ctl_error("%s: %s", p->id_number, person_problem_text(bit));
	return m ? -1 : 0;
}

static void print_account(struct ctl *c, const struct person *p, const char *username, const char *password)
{
	char email[PERSON_EMAIL_MAX + 64];
	struct person now = *p;

	snprintf(now.username, sizeof(now.username), "%s", username);
	person_email(&now, &c->cfg, email, sizeof(email));
	printf("username: %s\n", username);
	if (email[0])
		printf("e-mail:   %s\n", email);
	printf("password: %s\n", password);
	printf("The password is shown once and must be changed at the first login.\n");
}

static int desk_activate(struct ctl *c, struct person *p, const char *checked_by)
{
	char who[32 + CHECKED_BY_MAX + 64];
	struct conv conv = { .prompt = desk_prompt, .message = desk_message };
	char *password = secret_alloc(PASSWORD_MAX);
	struct dialogue d = {
		.cfg = &c->cfg, .st = c->st, .conv = &conv, .service = "activatectl", .rhost = "",
		.tty = isatty(STDIN_FILENO) && ttyname(STDIN_FILENO) ? ttyname(STDIN_FILENO) : "",
		.desk = who, .desk_password = password,
	};
	enum dialogue_outcome out;

	if (!password) {
		ctl_error("out of memory");
		return CTL_FAIL;
	}
	snprintf(who, sizeof(who), "at the desk by %s, photo ID checked by %s", operator_name(), checked_by);
	out = provision_run(&d, p);
	if (out == DIALOGUE_ACTIVATED)
		print_account(c, p, d.username, password);
	else
		ctl_error("%s is not activated; why is in 'activatectl audit --person id:%s'", p->id_number, p->id_number);
	secret_free(password);
	return out == DIALOGUE_ACTIVATED ? CTL_OK : CTL_FAIL;
}

int ctl_cmd_activate(struct ctl *c, int argc, char **argv)
{
	const char *key, *checked_by;
	struct person p;

	if (parse_args(argc, argv, &key, &checked_by) != 0)
		return ctl_usage("activate");
	if (valid_checked_by(checked_by) != 0)
		return CTL_USAGE;
	if (ctl_find(c, key, &p) != 0 || desk_eligible(c, &p) != 0)
		return CTL_FAIL;
	return desk_activate(c, &p, checked_by);
}
