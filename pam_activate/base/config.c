/*
 * config.c: activate.conf and module arguments.
 *
 * One table lists every key with its type and bounds, so the file, the module
 * arguments and activatectl share one strict parser. Errors name the file and
 * line (or the argument); a file with any error changes nothing, because the
 * parse works on a copy and only a clean copy is kept.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "network.h"
#include "text.h"

#ifndef ACTIVATE_DB
#define ACTIVATE_DB "/var/lib/pam_activate/activate.db"
#endif
#ifndef ACTIVATE_PEPPER
#define ACTIVATE_PEPPER "/etc/security/activate.pepper"
#endif

enum key_type { K_TEXT, K_DB, K_PATH, K_OPTPATH, K_UINT, K_MODE, K_BOOL, K_ENUM, K_LANG, K_NETS };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size;		/* buffer size for text keys */
	unsigned min, max;	/* bounds for numbers */
	const char *const *names; /* words for K_ENUM, index = value */
};

static const char *const on_success_names[] = { "deny", "login", NULL };
static const char *const cost_names[] = { "min", "interactive", "moderate", NULL };
static const char *const messages_names[] = { "each", "joined", NULL };
static const char *const accounts_names[] = { "files", "ldap", NULL };

#define TEXT(k, t) { #k, t, offsetof(struct config, k), sizeof(((struct config *)0)->k), 0, 0, NULL }
#define UINT(k, lo, hi) { #k, K_UINT, offsetof(struct config, k), 0, lo, hi, NULL }
#define ENUM(k, n) { #k, K_ENUM, offsetof(struct config, k), 0, 0, 0, n }

static const struct key keys[] = {
	TEXT(trigger_user, K_TEXT),
	TEXT(language, K_LANG),
	TEXT(database, K_DB),
	TEXT(database_password_file, K_OPTPATH),
	TEXT(database_ca_file, K_OPTPATH),
	UINT(database_timeout, 1, 3600),
	TEXT(pepper_file, K_PATH),
	TEXT(sysroot, K_PATH),
	TEXT(run_dir, K_PATH),
	ENUM(on_success, on_success_names),
	UINT(max_tries, 1, 100),
	UINT(max_attempts, 1, 1000),
	UINT(lock_time, 1, 30 * 86400),
	UINT(lock_time_max, 1, 365 * 86400),
	UINT(max_total_failures, 1, 1000000),
	UINT(throttle_failures, 1, 1000000),
	UINT(throttle_window, 1, 7 * 86400),
	TEXT(throttle_networks, K_NETS),
	UINT(pin_length, 6, 32),
	UINT(pin_ttl_days, 1, 3650),
	ENUM(pin_hash_cost, cost_names),
	UINT(max_concurrent_hashes, 1, 4096),
	UINT(reply_timeout, 1, 86400),
	UINT(dialogue_timeout, 1, 86400),
	UINT(id_number_max_length, 1, 64),
	UINT(student_number_max_length, 1, 64),
	TEXT(username_format, K_TEXT),
	UINT(username_max_length, 1, 32),
	TEXT(reserved_usernames, K_OPTPATH),
	TEXT(terms_file, K_OPTPATH),
	TEXT(pwquality_conf, K_OPTPATH),
	TEXT(password_allowed_chars, K_TEXT),
	TEXT(email_format, K_TEXT),
	TEXT(home_base, K_PATH),
	{ "home_mode", K_MODE, offsetof(struct config, home_mode), 0, 0, 07777, NULL },
	TEXT(skel, K_OPTPATH),
	TEXT(shell, K_PATH),
	TEXT(groups, K_TEXT),
	TEXT(crypt_method, K_TEXT),
	UINT(suggestions, 0, 9),
	UINT(text_width, 0, 500),
	ENUM(messages, messages_names),
	TEXT(support_contact, K_TEXT),
	TEXT(sendmail, K_PATH),
	TEXT(mail_from, K_TEXT),
	TEXT(mail_language, K_LANG),
	TEXT(pin_letter, K_PATH),
	TEXT(hook, K_OPTPATH),
	ENUM(accounts, accounts_names),
	TEXT(ldap_uri, K_TEXT),
	TEXT(ldap_people_base, K_TEXT),
	TEXT(ldap_groups_base, K_TEXT),
	TEXT(ldap_id_allocator, K_TEXT),
	TEXT(ldap_bind_dn, K_TEXT),
	TEXT(ldap_bind_password_file, K_OPTPATH),
	TEXT(ldap_ca_file, K_OPTPATH),
	{ "ldap_starttls", K_BOOL, offsetof(struct config, ldap_starttls), 0, 0, 0, NULL },
	UINT(ldap_timeout, 1, 300),
	{ "ldap_local_home", K_BOOL, offsetof(struct config, ldap_local_home), 0, 0, 0, NULL },
	{ "debug", K_BOOL, offsetof(struct config, debug), 0, 0, 0, NULL },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static unsigned cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4096 ? 4096 : (unsigned)n;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->trigger_user, "activate");
	strcpy(cfg->database, ACTIVATE_DB);
	cfg->database_timeout = 10;
	strcpy(cfg->pepper_file, ACTIVATE_PEPPER);
	strcpy(cfg->sysroot, "/");
	strcpy(cfg->run_dir, "/run/pam_activate");
	cfg->on_success = CONFIG_ON_SUCCESS_DENY;
	cfg->max_tries = 3;
	cfg->max_attempts = 5;
	cfg->lock_time = 900;
	cfg->lock_time_max = 86400;
	cfg->max_total_failures = 100;
	cfg->throttle_failures = 20;
	cfg->throttle_window = 600;
	cfg->pin_length = 8;
	cfg->pin_ttl_days = 30;
	cfg->pin_hash_cost = CONFIG_COST_INTERACTIVE;
	cfg->max_concurrent_hashes = cpu_count();
	cfg->reply_timeout = 120;
	cfg->dialogue_timeout = 600;
	cfg->id_number_max_length = 16;
	cfg->student_number_max_length = 16;
	strcpy(cfg->username_format, "%4g%f");
	cfg->username_max_length = 8;
	cfg->suggestions = 3;
	strcpy(cfg->pwquality_conf, "/etc/security/pwquality.conf");
	strcpy(cfg->home_base, "/home");
	cfg->home_mode = 0700;
	strcpy(cfg->skel, "/etc/skel");
	strcpy(cfg->shell, "/bin/bash");
	strcpy(cfg->support_contact, CONFIG_DEFAULT_SUPPORT);
	strcpy(cfg->sendmail, "/usr/sbin/sendmail");
	strcpy(cfg->mail_language, "en");
	strcpy(cfg->pin_letter, "/etc/security/activate-pin-letter.%l");
	cfg->accounts = CONFIG_ACCOUNTS_FILES;
	strcpy(cfg->ldap_uri, "ldap://localhost/");
	strcpy(cfg->ldap_bind_password_file, "/etc/security/activate-ldap.secret");
	cfg->ldap_starttls = true;
	cfg->ldap_timeout = 10;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int parse_uint(const char *value, int base, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!text_is_digits(value))
		return -EINVAL;
	errno = 0;
	v = strtoul(value, &end, base);
	if (*end)
		return -EINVAL;
	if (errno || v < min || v > max)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
		*out = true;
	else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_enum(const char *value, const char *const *names, int *out)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(value, names[i])) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * A database is a SQLite file (an absolute path, or sqlite:PATH) or a
 * PostgreSQL URL without a password: activate.conf is world-readable.
 */
static int check_database(const char *value, char *err, size_t errlen)
{
	const char *url = starts_with(value, "postgresql://") ? value + 13
			  : starts_with(value, "postgres://") ? value + 11 : NULL;
	size_t authority;

	if (!url) {
		if (value[0] == '/' || (starts_with(value, "sqlite:") && value[7] == '/'))
			return 0;
		snprintf(err, errlen, "database: must be an absolute path, sqlite:PATH or a postgresql:// URL");
		return -EINVAL;
	}
	authority = strcspn(url, "/?");
	if ((memchr(url, '@', authority) && memchr(url, ':', strcspn(url, "@"))) || strstr(url, "password=")) {
		snprintf(err, errlen, "database: a password in the URL; put it in database_password_file");
		return -EINVAL;
	}
	return 0;
}

static int set_text(const struct key *k, char *dst, const char *value, char *err, size_t errlen)
{
	size_t len = strlen(value);

	if (len >= k->size) {
		snprintf(err, errlen, "%s: value longer than %zu bytes", k->name, k->size - 1);
		return -ENAMETOOLONG;
	}
	if (text_check_utf8_printable(value, len) != 0) {
		snprintf(err, errlen, "%s: control characters or invalid UTF-8", k->name);
		return -EINVAL;
	}
	if ((k->type == K_PATH || (k->type == K_OPTPATH && len > 0)) && value[0] != '/') {
		snprintf(err, errlen, "%s: must be an absolute path", k->name);
		return -EINVAL;
	}
	if ((k->type == K_PATH || k->type == K_DB) && len == 0) {
		snprintf(err, errlen, "%s: must not be empty", k->name);
		return -EINVAL;
	}
	if (k->type == K_DB && check_database(value, err, errlen) != 0)
		return -EINVAL;
	if (k->type == K_NETS && network_list_check(value, err, errlen) != 0) {
		char why[CONFIG_ERROR_MAX];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", k->name, why);
		return -EINVAL;
	}
	if (k->type == K_LANG && (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") != len ||
				  strstr(value, ".."))) {
		snprintf(err, errlen, "%s: a language or locale name, such as nb or nb_NO.UTF-8", k->name);
		return -EINVAL;
	}
	memcpy(dst, value, len + 1);
	return 0;
}

static int set_number(const struct key *k, unsigned *dst, const char *value, char *err, size_t errlen)
{
	int r = parse_uint(value, k->type == K_MODE ? 8 : 10, k->min, k->max, dst);

	if (r == -EINVAL)
		snprintf(err, errlen, "%s: '%s' is not %s number", k->name, value,
			 k->type == K_MODE ? "an octal" : "a whole");
	else if (r == -ERANGE)
		snprintf(err, errlen, k->type == K_MODE ? "%s: must be between %o and %o"
			 : "%s: must be between %u and %u", k->name, k->min, k->max);
	return r;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key *k = find_key(key);
	char *field;
	int r;

	if (!k) {
		snprintf(err, errlen, "unknown key '%.64s'", key);
		return -ENOENT;
	}
	field = (char *)cfg + k->offset;
	switch (k->type) {
	case K_UINT:
	case K_MODE:
		return set_number(k, (unsigned *)field, value, err, errlen);
	case K_BOOL:
		r = parse_bool(value, (bool *)field);
		if (r)
			snprintf(err, errlen, "%s: expected yes or no", k->name);
		return r;
	case K_ENUM:
		r = parse_enum(value, k->names, (int *)field);
		if (r)
			snprintf(err, errlen, "%s: expected %s or %s%s%s", k->name, k->names[0],
				 k->names[1], k->names[2] ? " or " : "", k->names[2] ? k->names[2] : "");
		return r;
	default:
		return set_text(k, field, value, err, errlen);
	}
}

/* Split "key = value" in place; both trimmed. */
static int split_line(char *line, char **key, char **value)
{
	char *eq = strchr(line, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*key = text_trim(line);
	*value = text_trim(eq + 1);
	return **key ? 0 : -EINVAL;
}

static int seen_before(const struct key *k, const struct key **seen, size_t *nseen)
{
	for (size_t i = 0; i < *nseen; i++)
		if (seen[i] == k)
			return 1;
	seen[(*nseen)++] = k;
	return 0;
}

static int parse_line(struct config *cfg, char *line, const struct key **seen, size_t *nseen,
		      char *msg, size_t msglen)
{
	char *key, *value, *hash;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	if (!*text_trim(line))
		return 0;
	if (split_line(line, &key, &value) != 0) {
		snprintf(msg, msglen, "expected 'key = value'");
		return -EINVAL;
	}
	if (config_set(cfg, key, value, msg, msglen) != 0)
		return -EINVAL;
	if (seen_before(find_key(key), seen, nseen)) {
		snprintf(msg, msglen, "%s: set twice", key);
		return -EINVAL;
	}
	return 0;
}

static int parse_stream(struct config *cfg, FILE *f, const char *path, char *err, size_t errlen)
{
	const struct key *seen[NKEYS];
	size_t nseen = 0, cap = 0;
	char *line = NULL;
	char msg[CONFIG_ERROR_MAX];
	unsigned lineno = 0;
	ssize_t len;
	int r = 0;

	while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > CONFIG_LINE_MAX) {
			snprintf(msg, sizeof(msg), "line longer than %d bytes", CONFIG_LINE_MAX);
			r = -EINVAL;
		} else if (memchr(line, '\0', (size_t)len)) {
			snprintf(msg, sizeof(msg), "NUL byte in line");
			r = -EINVAL;
		} else {
			r = parse_line(cfg, line, seen, &nseen, msg, sizeof(msg));
		}
		if (r)
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		r = -EIO;
	}
	free(line);
	return r;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct config *work;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	work = malloc(sizeof(*work));
	if (!work) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	*work = *cfg;
	r = parse_stream(work, f, path, err, errlen);
	if (r == 0)
		*cfg = *work;
out:
	free(work);
	fclose(f);
	return r;
}

static int apply_arg(struct config *cfg, const char *arg, char *err, size_t errlen)
{
	char buf[CONFIG_LINE_MAX + 1];
	char msg[CONFIG_ERROR_MAX];
	char *eq;

	if (strlen(arg) > CONFIG_LINE_MAX) {
		snprintf(err, errlen, "argument longer than %d bytes", CONFIG_LINE_MAX);
		return -EINVAL;
	}
	memcpy(buf, arg, strlen(arg) + 1);
	eq = strchr(buf, '=');
	if (!eq && strcmp(buf, "debug") == 0)
		return config_set(cfg, "debug", "yes", err, errlen);
	if (!eq) {
		snprintf(err, errlen, "argument '%.64s': expected KEY=VALUE", arg);
		return -EINVAL;
	}
	*eq = '\0';
	if (config_set(cfg, buf, eq + 1, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "argument '%.64s': %s", buf, msg);
		return -EINVAL;
	}
	return 0;
}

int config_apply_args(struct config *cfg, int argc, const char *const *argv, char *err, size_t errlen)
{
	struct config *work = malloc(sizeof(*work));
	int r = 0;

	if (!work) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*work = *cfg;
	for (int i = 0; i < argc && r == 0; i++)
		r = apply_arg(work, argv[i], err, errlen);
	if (r == 0)
		*cfg = *work;
	free(work);
	return r;
}

const char *config_cost_name(int cost)
{
	return cost >= 0 && cost <= CONFIG_COST_MODERATE ? cost_names[cost] : "?";
}

/*
 * Seen on Debian 12: sshd 9.2 ignores a changed PAM_USER (10.1 rejects it),
 * lxdm starts the session as the user it asked for, sddm and xdm answer the
 * dialogue with the typed name or password.
 */
int config_check_service(const struct config *cfg, const char *service, char *err, size_t errlen)
{
	static const char *const unsafe[] = { "sshd", "lxdm", "sddm", "xdm" };

	if (cfg->on_success != CONFIG_ON_SUCCESS_LOGIN)
		return 0;
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
		if (strcmp(service, unsafe[i]) == 0) {
			snprintf(err, errlen, "on_success=login cannot be safe for the %s service "
				 "(it would not start the new user's session): use on_success=deny", service);
			return -EINVAL;
		}
	return 0;
}

const char *config_messages_name(int messages)
{
	return messages == CONFIG_MESSAGES_JOINED ? "joined" : "each";
}

const char *config_accounts_name(int accounts)
{
	return accounts == CONFIG_ACCOUNTS_LDAP ? "ldap" : "files";
}

const char *config_on_success_name(int on_success)
{
	return on_success == CONFIG_ON_SUCCESS_LOGIN ? "login" : "deny";
}
