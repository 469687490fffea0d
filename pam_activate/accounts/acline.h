/*
 * acline.h: one line of passwd, shadow, group or gshadow as fields, and the
 * comma-separated lists in them, of any length. Nothing is copied into a
 * fixed buffer: a field points into the line, and a changed line is built
 * in a growing buffer, every field it does not change copied byte for byte.
 */
#ifndef ACTIVATE_ACLINE_H
#define ACTIVATE_ACLINE_H

#include <stdbool.h>
#include <stddef.h>

struct acline_field {
	const char *s;
	size_t len;
};

/* A growing buffer; data is NUL-terminated while len < cap. */
struct acbuf {
	char *data;
	size_t len, cap;
};

/*
 * Split line[0..len) (no newline) at ':' into at most max fields; the last
 * field takes the rest, colons and all. The number of fields.
 */
int acline_split(const char *line, size_t len, struct acline_field *field, int max);

/* Whether the field equals text. */
bool acline_is(struct acline_field f, const char *text);

/* Whether name is a member of the comma-separated list. */
bool acline_list_has(struct acline_field list, const char *name);

/* Append n bytes / a string / a field / fields from..to joined by ':'. -ENOMEM. */
int acbuf_put(struct acbuf *b, const char *s, size_t n);
int acbuf_puts(struct acbuf *b, const char *s);
int acbuf_field(struct acbuf *b, struct acline_field f);
int acbuf_fields(struct acbuf *b, const struct acline_field *field, int from, int to);

/* The list with every member named from written as to (to NULL: left out). */
int acbuf_list_renamed(struct acbuf *b, struct acline_field list, const char *from, const char *to);

void acbuf_free(struct acbuf *b);

#endif
