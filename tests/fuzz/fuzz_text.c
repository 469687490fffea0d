/*
 * fuzz_text.c: checks on untrusted text (text.c) and usernames (username.c).
 *
 * Byte 0 and byte 1 are parameters (a wrap width, an output size, a
 * username_max_length, how many candidates are taken); the rest is split
 * at NUL bytes into pieces, and every piece goes through the text_*
 * checks, text_trim and text_wrap (as a reply or a message would), and
 * username_fold and username_valid. Pieces 0, 1 and 2 are then a given
 * name, a family name and a username_format for username_base, and its
 * result goes to username_pick.
 *
 * The oracles are the headers' promises, written out independently:
 * well-formed UTF-8 without controls (Unicode 15 table 3-7), a wrapped
 * text is the same text with spaces turned into newlines and no line over
 * the width that could have been broken, a folded name is lower-case
 * ASCII letters, a picked username is valid and not taken.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "person.h"
#include "text.h"
#include "username.h"

#define MAX_PIECES 8
#define WRAP_MAX 4096	/* text_wrap is quadratic in a line's length; conv wraps at most 512 bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Well-formed UTF-8 (table 3-7), no NUL, C0, DEL or C1: what text_check_utf8_printable promises. */
static bool ref_utf8_printable(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], n, lo = 0x80, hi = 0xbf;
		unsigned long cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return false;
		if (i + n > len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (unsigned k = 1; k < n; k++) {
			if (k > 1 && (s[i + k] < 0x80 || s[i + k] > 0xbf))
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp >= 0x80 && cp <= 0x9f)
			return false;
		i += n;
	}
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void check_trim(const char *s)
{
	size_t len = strlen(s), lead = 0, keep;
	char *copy = strdup(s), *t;

	if (!copy)
		abort();
	while (lead < len && is_space(s[lead]))
		lead++;
	keep = len - lead;
	while (keep > 0 && is_space(s[lead + keep - 1]))
		keep--;
	t = text_trim(copy);
	if (t != copy + lead || strlen(t) != keep || memcmp(t, s + lead, keep) != 0)
		abort();
	free(copy);
}

/* Characters in s[0..n), UTF-8 lead bytes counted. */
static unsigned chars(const char *s, size_t n)
{
	unsigned c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

static void check_wrap(const char *s, unsigned width)
{
	size_t len = strlen(s);
	char *copy;

	if (len > WRAP_MAX)
		return;
	copy = strdup(s);
	if (!copy)
		abort();
	text_wrap(copy, width);
	if (strlen(copy) != len)
		abort();
	for (size_t i = 0; i < len; i++)
		if (copy[i] != s[i] && !(s[i] == ' ' && copy[i] == '\n' && width))
			abort();	/* only spaces become newlines, and nothing at width 0 */
	if (width) {
		for (const char *line = copy; *line;) {
			size_t n = strcspn(line, "\n");

			/* a line over the width is one word: it had no space to break at */
			if (chars(line, n) > width && memchr(line, ' ', n))
				abort();
			line += n + (line[n] == '\n');
		}
	}
	free(copy);
}

static void check_fold(const char *s, size_t size)
{
	char *out = malloc(size);

	if (!out)
		abort();
	memset(out, 'X', size);
	username_fold(s, out, size);
	if (strnlen(out, size) == size || strspn(out, "abcdefghijklmnopqrstuvwxyz") != strlen(out))
		abort();
	if (out[0] && !ref_utf8_printable((const unsigned char *)s, strlen(s)))
		abort();	/* invalid text folds to nothing */
	free(out);
}

static void check_valid(const char *s, unsigned max)
{
	size_t len = strlen(s);
	bool want = len > 0 && len <= max && len <= 32 && s[0] >= 'a' && s[0] <= 'z';

	for (size_t i = 0; want && i < len; i++)
		want = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
	if (username_valid(s, max) != want)
		abort();
}

static void check_piece(const char *s, size_t len, uint8_t a, uint8_t b)
{
	if ((text_check_utf8_printable(s, len) == 0) != ref_utf8_printable((const unsigned char *)s, len))
		abort();
	if (text_is_digits(s) != (s[0] && strspn(s, "0123456789") == strlen(s)))
		abort();
	if (text_is_hostname(s) && (strlen(s) > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != strlen(s)))
		abort();
	if (text_is_date(s) && (strlen(s) != 10 || s[4] != '-' || s[7] != '-'))
		abort();
	check_trim(s);
	check_wrap(s, a);
	check_fold(s, (size_t)b + 1);
	check_valid(s, a % 40);
}

struct taken {
	unsigned left;	/* candidates still to refuse */
	unsigned calls;
};

static bool taken(const char *name, void *ctx)
{
	struct taken *t = ctx;

	(void)name;
	t->calls++;
	if (t->left == 0)
		return false;
	t->left--;
	return true;
}

static void check_usernames(char **piece, size_t n, uint8_t a, uint8_t b)
{
	struct config cfg;
	struct person p;
	char base[PERSON_USERNAME_MAX], out[PERSON_USERNAME_MAX];
	struct taken t = { b % 8, 0 };
	int r;

	config_defaults(&cfg);
	cfg.username_max_length = 1 + a % 32;
	memset(&p, 0, sizeof(p));
	if (n > 0)
		snprintf(p.given_name, sizeof(p.given_name), "%s", piece[0]);
	if (n > 1)
		snprintf(p.family_name, sizeof(p.family_name), "%s", piece[1]);
	if (n > 2)
		snprintf(cfg.username_format, sizeof(cfg.username_format), "%s", piece[2]);
	memset(base, 'X', sizeof(base));
	if (username_base(&cfg, &p, base, sizeof(base)) != 0)
		abort();
	if (strnlen(base, sizeof(base)) == sizeof(base) || base[0] < 'a' || base[0] > 'z' ||
	    strspn(base, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(base))
		abort();	/* a base is [a-z][a-z0-9]* */
	username_reserved(&cfg, base);
	r = username_pick(&cfg, base, taken, &t, out, sizeof(out));
	if (r == 0 && (!username_valid(out, cfg.username_max_length) || t.left != 0))
		abort();	/* a picked name is valid, and the first one not taken */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *piece[MAX_PIECES], *copy;
	size_t n = 0, at;
	uint8_t a, b;

	if (size < 2)
		return 0;
	a = data[0];
	b = data[1];
	data += 2;
	size -= 2;
	copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (at = 0; at <= size && n < MAX_PIECES; at += strlen(copy + at) + 1) {
		size_t len = strlen(copy + at);

		piece[n++] = copy + at;
		check_piece(copy + at, len, a, b);
	}
	/* the whole input too, NULs and all, for the UTF-8 check */
	if ((text_check_utf8_printable((const char *)data, size) == 0) != ref_utf8_printable(data, size))
		abort();
	check_usernames(piece, n, a, b);
	free(copy);
	return 0;
}
