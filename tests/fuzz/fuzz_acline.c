/*
 * fuzz_acline.c: passwd, shadow, group and gshadow lines (acline.c).
 *
 * The input is split at newlines; each line, of any length, NIS "+"/"-"
 * lines and odd spacing included, is split at ':' into at most 4 (group,
 * gshadow), 7 (passwd), 9 (shadow) fields and into as many fields as a
 * byte of the line says. What acline.h promises is asserted:
 *   - the fields tile the line: each points into it, one ':' between them,
 *     no ':' inside one but the last when the split hit its maximum;
 *   - writing the fields back (acbuf_fields) gives the same bytes;
 *   - every field read as a comma-separated list: renaming a member to
 *     itself gives the same bytes, renaming or removing a member that is
 *     not there too; after a rename the old name is gone and the new one
 *     is there exactly when the old one was; after a removal it is gone.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acline.h"

#define FIELDS_MAX 16
#define NEW_NAME "zzfuzznew"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct acbuf *b, const char *s, size_t n)
{
	if (b->len != n || (n && (!b->data || memcmp(b->data, s, n) != 0)))
		return false;
	return !b->data || b->len >= b->cap || b->data[b->len] == '\0';	/* NUL-terminated while len < cap */
}

static void check_list(struct acline_field list, const char *name)
{
	struct acline_field out;
	struct acbuf b = { 0 };
	bool has = acline_list_has(list, name);

	if (acbuf_list_renamed(&b, list, name, name) != 0 || !same(&b, list.s, list.len))
		abort();
	acbuf_free(&b);

	if (!acline_list_has(list, NEW_NAME) && strcmp(name, NEW_NAME) != 0) {
		if (acbuf_list_renamed(&b, list, name, NEW_NAME) != 0)
			abort();
		out = (struct acline_field){ b.data ? b.data : "", b.len };
		if (acline_list_has(out, name) || acline_list_has(out, NEW_NAME) != has)
			abort();
		if (!has && !same(&b, list.s, list.len))
			abort();
		acbuf_free(&b);
	}

	if (acbuf_list_renamed(&b, list, name, NULL) != 0)
		abort();
	out = (struct acline_field){ b.data ? b.data : "", b.len };
	if (acline_list_has(out, name) || (!has && !same(&b, list.s, list.len)))
		abort();
	acbuf_free(&b);
}

static void check_split(const char *line, size_t len, int max, bool lists)
{
	struct acline_field field[FIELDS_MAX];
	struct acbuf b = { 0 };
	char *name;
	int n = acline_split(line, len, field, max);

	if (n < 1 || n > max || field[0].s != line)
		abort();
	for (int i = 0; i < n; i++) {
		const struct acline_field *f = &field[i];

		if (f->s < line || f->s + f->len > line + len)
			abort();
		if (i + 1 < n && (f->s[f->len] != ':' || field[i + 1].s != f->s + f->len + 1))
			abort();
		if ((i + 1 < n || n < max) && memchr(f->s, ':', f->len))
			abort();
	}
	if (field[n - 1].s + field[n - 1].len != line + len)
		abort();
	if (acbuf_fields(&b, field, 0, n - 1) != 0 || !same(&b, line, len))
		abort();
	acbuf_free(&b);
	if (!lists)
		return;
	/* the name in the first field; its members lists: anything, commas and all */
	name = strndup(field[0].s, field[0].len);
	if (!name)
		abort();
	for (int i = 0; i < n; i++)
		check_list(field[i], name);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *at = (const char *)data, *end = at + size;

	while (at <= end) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		size_t len = nl ? (size_t)(nl - at) : (size_t)(end - at);

		check_split(at, len, 4, true);	/* group, gshadow */
		check_split(at, len, 7, false);	/* passwd */
		check_split(at, len, 9, false);	/* shadow */
		check_split(at, len, 1, false);
		check_split(at, len, 1 + (len ? (unsigned char)at[0] : 0) % FIELDS_MAX, false);
		if (!nl)
			break;
		at = nl + 1;
	}
	return 0;
}
