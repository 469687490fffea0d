/* text.h: small checks on untrusted text (replies, config values, CSV cells). */
#ifndef ACTIVATE_TEXT_H
#define ACTIVATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Trim ASCII white space from both ends, in place; returns the new start. */
char *text_trim(char *s);

/* True if s is non-empty and only ASCII digits 0-9. */
bool text_is_digits(const char *s);

/* True for a host name as RFC 1123 writes it: labels of letters, digits and '-'. */
bool text_is_hostname(const char *s);

/*
 * 0 if s[0..len) is valid UTF-8 without NUL, C0 or C1 control characters or
 * DEL; -EINVAL otherwise. Tab is refused too: no field we keep needs one.
 */
int text_check_utf8_printable(const char *s, size_t len);

/*
 * Wrap s in place to lines of at most width characters (UTF-8 counted as
 * characters) by turning spaces into newlines; a word longer than width
 * stays whole. Its length does not change. width 0: nothing.
 */
void text_wrap(char *s, unsigned width);

/* True for a valid calendar date written YYYY-MM-DD. */
bool text_is_date(const char *s);

#endif
