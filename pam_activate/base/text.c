/*
 * text.c: checks on untrusted text. Every byte a person, a roster or a config
 * file gives us passes through here before it is stored or compared, so the
 * rules (no controls, valid UTF-8, ASCII digits only) live in one place.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "text.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *text_trim(char *s)
{
	size_t len;

	while (is_space(*s))
		s++;
	len = strlen(s);
	while (len > 0 && is_space(s[len - 1]))
		s[--len] = '\0';
	return s;
}

bool text_is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

bool text_is_hostname(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			label = 0;
		} else if (strchr(HOST_CHARS, s[i]))
			label++;
		else
			return false;
	}
	return true;
}

/* Length of the UTF-8 sequence starting with lead byte c, 0 if c cannot lead. */
static size_t utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Decode one sequence of n bytes; -EINVAL for overlong, surrogate or out of range. */
static int utf8_decode(const unsigned char *p, size_t n, unsigned long *cp)
{
	static const unsigned long min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned long v = n == 1 ? p[0] : p[0] & (0x7f >> n);

	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -EINVAL;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return -EINVAL;
	*cp = v;
	return 0;
}

static bool is_control(unsigned long cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

int text_check_utf8_printable(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq_len(p[i]);
		unsigned long cp;

		if (n == 0 || i + n > len || utf8_decode(p + i, n, &cp) != 0 || is_control(cp))
			return -EINVAL;
		i += n;
	}
	return 0;
}

bool text_is_date(const char *s)
{
	struct tm tm;
	int y, m, d;
	char tail;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1900 || m < 1 || m > 12 || d < 1)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	if (timegm(&tm) == (time_t)-1)
		return false;
	return tm.tm_mday == d && tm.tm_mon == m - 1;
}

/* Characters (not bytes) in s[0..n). */
static unsigned chars(const char *s, size_t n)
{
	unsigned c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

void text_wrap(char *s, unsigned width)
{
	char *line = s, *space = NULL;

	if (width == 0)
		return;
	for (char *p = s; *p; p++) {
		if (*p == '\n') {
			line = p + 1;
			space = NULL;
			continue;
		}
		if (*p == ' ')
			space = p;
		if (chars(line, (size_t)(p - line) + 1) > width && space && space >= line) {
			*space = '\n';
			line = space + 1;
			space = NULL;
		}
	}
}
