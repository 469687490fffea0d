/* acline.c: account-file lines as fields and lists (see acline.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acline.h"

int acline_split(const char *line, size_t len, struct acline_field *field, int max)
{
	const char *at = line, *end = line + len;
	int n = 0;

	while (n < max) {
		const char *c = n == max - 1 ? NULL : memchr(at, ':', (size_t)(end - at));

		field[n].s = at;
		field[n].len = c ? (size_t)(c - at) : (size_t)(end - at);
		n++;
		if (!c)
			break;
		at = c + 1;
	}
	return n;
}

bool acline_is(struct acline_field f, const char *text)
{
	return strlen(text) == f.len && memcmp(f.s, text, f.len) == 0;
}

/* The next member of a list from *at; false at its end. */
static bool next_member(const char **at, const char *end, struct acline_field *m)
{
	const char *c;

	if (!*at || *at > end)
		return false;
	c = memchr(*at, ',', (size_t)(end - *at));
	m->s = *at;
	m->len = c ? (size_t)(c - *at) : (size_t)(end - *at);
	*at = c ? c + 1 : NULL;
	return true;
}

bool acline_list_has(struct acline_field list, const char *name)
{
	const char *at = list.len ? list.s : NULL;
	struct acline_field m;

	while (next_member(&at, list.s + list.len, &m))
		if (acline_is(m, name))
			return true;
	return false;
}

int acbuf_put(struct acbuf *b, const char *s, size_t n)
{
	if (n >= SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int acbuf_puts(struct acbuf *b, const char *s)
{
	return acbuf_put(b, s, strlen(s));
}

int acbuf_field(struct acbuf *b, struct acline_field f)
{
	return acbuf_put(b, f.s, f.len);
}

int acbuf_fields(struct acbuf *b, const struct acline_field *field, int from, int to)
{
	int r = 0;

	for (int i = from; i <= to && r == 0; i++) {
		if (i > from)
			r = acbuf_put(b, ":", 1);
		if (r == 0)
			r = acbuf_field(b, field[i]);
	}
	return r;
}

int acbuf_list_renamed(struct acbuf *b, struct acline_field list, const char *from, const char *to)
{
	const char *at = list.len ? list.s : NULL;
	struct acline_field m;
	bool first = true;
	int r = 0;

	while (r == 0 && next_member(&at, list.s + list.len, &m)) {
		bool me = acline_is(m, from);

		if (me && !to)
			continue;
		if (!first)
			r = acbuf_put(b, ",", 1);
		if (r == 0)
			r = me ? acbuf_puts(b, to) : acbuf_field(b, m);
		first = false;
	}
	return r;
}

void acbuf_free(struct acbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
