/*
 * ctl_services.c: what the host's PAM services and sshd configuration say
 * about pam_activate: which service files use it, the trigger users their
 * lines name (a second trigger, "aktiver", may carry its own language), and
 * whether sshd's Match blocks cover a trigger user. Read by init, which
 * creates every trigger user, and by check. Lines of any length.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl_services.h"

#define SPACE " \t\r\n"

void ctl_services_path(const struct config *cfg, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s%s", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "", rel);
}

/* needle in line as a whole word: not followed by a letter, digit, '_' or '-'. */
static bool has_word(const char *line, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *at = strstr(line, needle); at; at = strstr(at + 1, needle)) {
		unsigned char next = (unsigned char)at[n];

		if (!(next == '_' || next == '-' || (next >= '0' && next <= '9') || ((next | 0x20) >= 'a' && (next | 0x20) <= 'z')))
			return true;
	}
	return false;
}

/*
 * Call each for every uncommented line of dir/file until it returns true;
 * true if one did. A file that cannot be read has no lines.
 */
static bool each_line(const char *dir, const char *file, bool (*each)(char *line, void *arg), void *arg)
{
	char path[4096], *line = NULL;
	size_t size = 0;
	bool done = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	while (f && !done && getline(&line, &size, f) != -1)
		if (line[strspn(line, SPACE)] != '#')
			done = each(line, arg);
	if (f)
		fclose(f);
	free(line);
	return done;
}

static bool line_has_word(char *line, void *needle)
{
	return has_word(line, needle);
}

bool ctl_services_file_has(const char *dir, const char *file, const char *needle)
{
	return each_line(dir, file, line_has_word, (void *)needle);
}

unsigned ctl_services_files_with(const char *dir, const char *needle, char *out, size_t len)
{
	struct dirent *e;
	unsigned n = 0;
	size_t at = 0;
	DIR *d = opendir(dir);

	out[0] = '\0';
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && ctl_services_file_has(dir, e->d_name, needle) && at < len) {
			at += (size_t)snprintf(out + at, len - at, "%s%s", n ? " " : "", e->d_name);
			n++;
		}
	if (d)
		closedir(d);
	return n;
}

static bool is_module(const char *word)
{
	const char *base = strrchr(word, '/');

	return strcmp(base ? base + 1 : word, "pam_activate.so") == 0;
}

static int add_name(struct ctl_names *names, const char *name)
{
	char **v, *copy;

	for (size_t i = 0; i < names->n; i++)
		if (strcmp(names->v[i], name) == 0)
			return 0;
	v = realloc(names->v, (names->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	names->v = v;
	if (!(copy = strdup(name)))
		return -ENOMEM;
	names->v[names->n++] = copy;
	return 0;
}

struct collect {
	struct ctl_names *names;
	int status;
};

/* The trigger_user= arguments after pam_activate.so on one pam.d line. */
static bool collect_triggers(char *line, void *arg)
{
	struct collect *c = arg;
	bool after_module = false;

	for (char *save = NULL, *w = strtok_r(line, SPACE, &save); w && c->status == 0; w = strtok_r(NULL, SPACE, &save))
		if (!after_module)
			after_module = is_module(w);
		else if (strncmp(w, "trigger_user=", 13) == 0 && w[13])
			c->status = add_name(c->names, w + 13);
	return c->status != 0;
}

int ctl_services_triggers(const struct config *cfg, struct ctl_names *names)
{
	char dir[4200];
	struct collect c = { names, 0 };
	struct dirent *e;
	DIR *d;

	names->v = NULL;
	names->n = 0;
	c.status = add_name(names, cfg->trigger_user);
	ctl_services_path(cfg, "/etc/pam.d", dir, sizeof(dir));
	d = opendir(dir);
	while (d && c.status == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			each_line(dir, e->d_name, collect_triggers, &c);
	if (d)
		closedir(d);
	if (c.status)
		ctl_names_free(names);
	return c.status;
}

void ctl_names_free(struct ctl_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

/* Is user in a comma list of sshd patterns? Names only: a wildcard or a negation is not counted. */
static bool in_pattern_list(char *list, const char *user)
{
	for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
		if (strcmp(p, user) == 0)
			return true;
	return false;
}

/* "Match User a,b ..." (keywords in any case) naming the user. */
static bool match_names(char *line, void *user)
{
	char *save = NULL, *w = strtok_r(line, SPACE, &save);

	if (!w || strcasecmp(w, "Match") != 0)
		return false;
	while ((w = strtok_r(NULL, SPACE, &save)) != NULL)
		if (strcasecmp(w, "User") == 0 && (w = strtok_r(NULL, SPACE, &save)) != NULL &&
		    in_pattern_list(w, user))
			return true;
	return false;
}

bool ctl_services_sshd_match(const struct config *cfg, const char *user, char *where, size_t len)
{
	char dir[4200];
	struct dirent *e;
	DIR *d;
	bool found;

	ctl_services_path(cfg, "/etc/ssh", dir, sizeof(dir));
	if ((found = each_line(dir, "sshd_config", match_names, (void *)user)))
		snprintf(where, len, "%s/sshd_config", dir);
	ctl_services_path(cfg, "/etc/ssh/sshd_config.d", dir, sizeof(dir));
	d = opendir(dir);
	while (d && !found && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && (found = each_line(dir, e->d_name, match_names, (void *)user)))
			snprintf(where, len, "%s/%s", dir, e->d_name);
	if (d)
		closedir(d);
	return found;
}
