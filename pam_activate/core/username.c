/*
 * username.c: usernames. Names arrive in UTF-8 from the roster; usernames
 * leave as [a-z][a-z0-9]*, so letters are folded the way Norwegian (and
 * most European) spelling expects, and whatever cannot be folded is dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "username.h"

static const struct {
	unsigned long cp;
	const char *ascii;
} folds[] = {
	{ 0xe6, "ae" }, { 0xc6, "ae" }, { 0xf8, "o" }, { 0xd8, "o" }, { 0xe5, "aa" }, { 0xc5, "aa" },
	{ 0xe4, "a" }, { 0xc4, "a" }, { 0xf6, "o" }, { 0xd6, "o" }, { 0xfc, "u" }, { 0xdc, "u" },
	{ 0xe9, "e" }, { 0xc9, "e" }, { 0xe8, "e" }, { 0xc8, "e" }, { 0xea, "e" }, { 0xca, "e" },
	{ 0xeb, "e" }, { 0xcb, "e" }, { 0xe1, "a" }, { 0xc1, "a" }, { 0xe0, "a" }, { 0xc0, "a" },
	{ 0xe2, "a" }, { 0xc2, "a" }, { 0xe3, "a" }, { 0xc3, "a" }, { 0xed, "i" }, { 0xcd, "i" },
	{ 0xec, "i" }, { 0xcc, "i" }, { 0xee, "i" }, { 0xce, "i" }, { 0xef, "i" }, { 0xcf, "i" },
	{ 0xf3, "o" }, { 0xd3, "o" }, { 0xf2, "o" }, { 0xd2, "o" }, { 0xf4, "o" }, { 0xd4, "o" },
	{ 0xf5, "o" }, { 0xd5, "o" }, { 0xfa, "u" }, { 0xda, "u" }, { 0xf9, "u" }, { 0xd9, "u" },
	{ 0xfb, "u" }, { 0xdb, "u" }, { 0xfd, "y" }, { 0xdd, "y" }, { 0xff, "y" }, { 0xf1, "n" },
	{ 0xd1, "n" }, { 0xe7, "c" }, { 0xc7, "c" }, { 0xdf, "ss" }, { 0xfe, "th" }, { 0xde, "th" },
	{ 0xf0, "d" }, { 0xd0, "d" }, { 0x141, "l" }, { 0x142, "l" }, { 0x160, "s" }, { 0x161, "s" },
	{ 0x17d, "z" }, { 0x17e, "z" }, { 0x10c, "c" }, { 0x10d, "c" }, { 0x158, "r" }, { 0x159, "r" },
	{ 0x11a, "e" }, { 0x11b, "e" }, { 0x16e, "u" }, { 0x16f, "u" }, { 0x106, "c" }, { 0x107, "c" },
	{ 0x143, "n" }, { 0x144, "n" }, { 0x15a, "s" }, { 0x15b, "s" }, { 0x179, "z" }, { 0x17a, "z" },
	{ 0x17b, "z" }, { 0x17c, "z" }, { 0x104, "a" }, { 0x105, "a" }, { 0x118, "e" }, { 0x119, "e" },
	{ 0x150, "o" }, { 0x151, "o" }, { 0x170, "u" }, { 0x171, "u" }, { 0x11e, "g" }, { 0x11f, "g" },
	{ 0x130, "i" }, { 0x131, "i" }, { 0x15e, "s" }, { 0x15f, "s" },
};

/* Decode one UTF-8 sequence (already validated); returns its length. */
static size_t decode(const unsigned char *p, unsigned long *cp)
{
	size_t n = p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;

	*cp = n == 1 ? p[0] : p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++)
		*cp = (*cp << 6) | (p[i] & 0x3f);
	return n;
}

static const char *fold_one(unsigned long cp)
{
	static char one[2];

	if (cp >= 'a' && cp <= 'z') {
		one[0] = (char)cp;
		return one;
	}
	if (cp >= 'A' && cp <= 'Z') {
		one[0] = (char)(cp - 'A' + 'a');
		return one;
	}
	for (size_t i = 0; i < sizeof(folds) / sizeof(folds[0]); i++)
		if (folds[i].cp == cp)
			return folds[i].ascii;
	return "";
}

void username_fold(const char *name, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t used = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (text_check_utf8_printable(name, strlen(name)) != 0)
		return;
	while (*p) {
		unsigned long cp;
		const char *a;

		p += decode(p, &cp);
		a = fold_one(cp);
		if (used + strlen(a) >= size)
			break;
		memcpy(out + used, a, strlen(a));
		used += strlen(a);
		out[used] = '\0';
	}
}

static void append(char *out, size_t size, size_t *used, const char *text, size_t n)
{
	size_t len = strlen(text);

	if (n && n < len)
		len = n;
	if (*used + len >= size)
		len = size - *used - 1;
	memcpy(out + *used, text, len);
	*used += len;
	out[*used] = '\0';
}

/* One %Ng or %Nf at f (just past the '%'); returns where the pattern goes on. */
static const char *take_field(const char *f, const char *given, const char *family, char *out,
			      size_t size, size_t *used)
{
	char *end;
	size_t n = strtoul(f, &end, 10);

	if (*end == 'g')
		append(out, size, used, given, n);
	else if (*end == 'f')
		append(out, size, used, family, n);
	return *end ? end + 1 : end;
}

int username_base(const struct config *cfg, const struct person *p, char *out, size_t size)
{
	char given[PERSON_NAME_MAX * 2], family[PERSON_NAME_MAX * 2];
	const char *f = cfg->username_format;
	size_t used = 0;

	username_fold(p->given_name, given, sizeof(given));
	username_fold(p->family_name, family, sizeof(family));
	out[0] = '\0';
	while (*f) {
		if (*f != '%') {
			if ((*f >= 'a' && *f <= 'z') || (*f >= '0' && *f <= '9'))
				append(out, size, &used, (char[]){ *f, '\0' }, 1);
			f++;
			continue;
		}
		f = take_field(f + 1, given, family, out, size, &used);
	}
	if (strlen(out) > cfg->username_max_length)
		out[cfg->username_max_length] = '\0';
	while (out[0] >= '0' && out[0] <= '9')
		memmove(out, out + 1, strlen(out));
	if (!out[0])	/* a name of digits or symbols only; within the configured length too */
		snprintf(out, size, "%.*s", (int)cfg->username_max_length, "user");
	return 0;
}

bool username_valid(const char *name, unsigned max)
{
	size_t len = strlen(name);

	if (len == 0 || len > max || len > 32 || name[0] < 'a' || name[0] > 'z')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") == len;
}

/* name in the list at path; -errno if the list cannot be read (a missing one holds nothing). */
static int in_reserved_file(const char *path, const char *name, bool *found)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r = 0;

	*found = false;
	if (!path[0])
		return 0;
	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? 0 : -errno;
	while (!*found && getline(&line, &cap, f) >= 0) {
		char *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		*found = strcmp(text_trim(line), name) == 0;
	}
	if (!*found && !feof(f))
		r = -EIO;	/* stopped before the end: the name may be further down */
	free(line);
	fclose(f);
	return r;
}

int username_check_reserved(const struct config *cfg, const char *name, bool *reserved)
{
	static const char *const always[] = { "root", "nobody", "admin", "administrator", NULL };

	*reserved = !strcmp(name, cfg->trigger_user);
	for (int i = 0; always[i] && !*reserved; i++)
		*reserved = !strcmp(name, always[i]);
	return *reserved ? 0 : in_reserved_file(cfg->reserved_usernames, name, reserved);
}

bool username_reserved(const struct config *cfg, const char *name)
{
	bool reserved;

	return username_check_reserved(cfg, name, &reserved) != 0 || reserved;	/* fail closed */
}

int username_pick(const struct config *cfg, const char *base, username_taken_fn *taken, void *ctx,
		  char *out, size_t size)
{
	unsigned max = cfg->username_max_length;

	snprintf(out, size, "%s", base);
	if (username_valid(out, max) && !taken(out, ctx))
		return 0;
	for (unsigned n = 2; n < 100000; n++) {
		char suffix[16];
		int cut;

		snprintf(suffix, sizeof(suffix), "%u", n);
		cut = (int)max - (int)strlen(suffix);
		if (cut < 1)
			return -ENOSPC;
		snprintf(out, size, "%.*s%s", cut, base, suffix);
		if (username_valid(out, max) && !taken(out, ctx))
			return 0;
	}
	return -ENOSPC;
}
