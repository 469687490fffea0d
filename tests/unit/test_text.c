/* test_text.c: unit tests for text.c (trimming, digits, UTF-8 checks, dates). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "text.h"
#include "username.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_trim(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "  abc", "abc" },
		{ "abc  ", "abc" },
		{ " \t\r\n\v\fa b\t c \r\n", "a b\t c" },
		{ " \t \n", "" },
		{ "\xc2\xa0x", "\xc2\xa0x" },	/* only ASCII white space is trimmed */
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char *r;

		strcpy(buf, cases[i].in);
		r = text_trim(buf);
		assert_string_equal(r, cases[i].out);
		/* in place: the result points into the caller's buffer */
		assert_true(r >= buf && r + strlen(r) < buf + sizeof(buf));
	}
}

static void test_is_digits(void **state)
{
	static const struct {
		const char *s;
		bool want;
	} cases[] = {
		{ "0", true },
		{ "0123456789", true },
		{ "", false },
		{ "+1", false },
		{ "-1", false },
		{ "1e3", false },
		{ "0x10", false },
		{ "1.5", false },
		{ " 12", false },
		{ "12 ", false },
		{ "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93", false },	/* fullwidth "１２３" */
		{ "\xd9\xa1\xd9\xa2", false },				/* Arabic-Indic "١٢" */
		{ "1\xc2\xb2", false },					/* superscript two */
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		if (text_is_digits(cases[i].s) != cases[i].want)
			fail_msg("text_is_digits(\"%s\") should be %s", cases[i].s,
				 cases[i].want ? "true" : "false");
}

static void test_is_hostname(void **state)
{
	static const struct {
		const char *s;
		bool want;
	} cases[] = {
		{ "lab-pc17", true },
		{ "login.uni.example", true },
		{ "a", true },
		{ "", false },
		{ "-lab", false },
		{ "lab-", false },
		{ "lab..pc", false },
		{ ".lab", false },
		{ "lab.", false },
		{ "lab pc", false },
		{ "lab_pc", false },
		{ "l\xc3\xa6" "b", false },	/* "læb" */
		{ "lab;rm", false },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },	/* 64 */
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		if (text_is_hostname(cases[i].s) != cases[i].want)
			fail_msg("text_is_hostname(\"%s\") should be %s", cases[i].s,
				 cases[i].want ? "true" : "false");
}

/* Literal with its length, so embedded NULs count. */
#define B(s) s, sizeof(s) - 1

static void test_utf8_printable(void **state)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len;
		int want;
	} cases[] = {
		{ "empty", B(""), 0 },
		{ "ASCII", B("Hello, world! ~{}"), 0 },
		{ "Latin-1 letters", B("\xc3\x98" "deg\xc3\xa5rd"), 0 },	/* Ødegård */
		{ "euro sign", B("\xe2\x82\xac"), 0 },
		{ "NBSP U+00A0", B("\xc2\xa0"), 0 },
		{ "U+D7FF before surrogates", B("\xed\x9f\xbf"), 0 },
		{ "U+E000 after surrogates", B("\xee\x80\x80"), 0 },
		{ "emoji U+1F600", B("\xf0\x9f\x98\x80"), 0 },
		{ "U+10FFFF", B("\xf4\x8f\xbf\xbf"), 0 },

		{ "overlong '/' C0 AF", B("\xc0\xaf"), -EINVAL },
		{ "overlong C1 BF", B("\xc1\xbf"), -EINVAL },
		{ "overlong 3-byte E0 80 AF", B("\xe0\x80\xaf"), -EINVAL },
		{ "overlong 3-byte E0 9F BF", B("\xe0\x9f\xbf"), -EINVAL },
		{ "overlong 4-byte F0 80 80 AF", B("\xf0\x80\x80\xaf"), -EINVAL },
		{ "overlong 4-byte F0 8F BF BF", B("\xf0\x8f\xbf\xbf"), -EINVAL },
		{ "overlong NUL C0 80", B("\xc0\x80"), -EINVAL },
		{ "surrogate U+D800", B("\xed\xa0\x80"), -EINVAL },
		{ "surrogate U+DFFF", B("\xed\xbf\xbf"), -EINVAL },
		{ "above U+10FFFF", B("\xf4\x90\x80\x80"), -EINVAL },
		{ "F5 lead", B("\xf5\x80\x80\x80"), -EINVAL },
		{ "5-byte", B("\xf8\x88\x80\x80\x80"), -EINVAL },
		{ "6-byte", B("\xfc\x84\x80\x80\x80\x80"), -EINVAL },
		{ "FE", B("\xfe"), -EINVAL },
		{ "FF", B("\xff"), -EINVAL },
		{ "lone continuation", B("a\x80" "b"), -EINVAL },
		{ "truncated 2-byte at end", B("ab\xc3"), -EINVAL },
		{ "truncated 3-byte at end", B("\xe2\x82"), -EINVAL },
		{ "truncated 4-byte at end", B("\xf0\x9f\x98"), -EINVAL },
		{ "2-byte cut by ASCII", B("\xc3" "A"), -EINVAL },
		{ "3-byte cut by ASCII", B("\xe2\x82" "A"), -EINVAL },

		{ "NUL inside", B("a\0b"), -EINVAL },
		{ "NUL at end", B("ab\0"), -EINVAL },
		{ "ESC", B("red\x1b[31m"), -EINVAL },
		{ "DEL", B("a\x7f"), -EINVAL },
		{ "tab", B("a\tb"), -EINVAL },
		{ "newline", B("a\n"), -EINVAL },
		{ "CR", B("a\r"), -EINVAL },
		{ "C1 U+0080", B("\xc2\x80"), -EINVAL },
		{ "C1 U+0085 NEL", B("\xc2\x85"), -EINVAL },
		{ "C1 U+009B CSI", B("\xc2\x9b"), -EINVAL },
		{ "C1 U+009F", B("\xc2\x9f"), -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		int r = text_check_utf8_printable(cases[i].s, cases[i].len);

		if (r != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].what, r, cases[i].want);
	}
}

static void test_utf8_printable_every_c0_c1(void **state)
{
	char s[2];

	(void)state;
	for (unsigned c = 0; c < 0x20; c++) {
		s[0] = (char)c;
		if (text_check_utf8_printable(s, 1) != -EINVAL)
			fail_msg("C0 control 0x%02x accepted", c);
	}
	for (unsigned c = 0x80; c <= 0x9f; c++) {
		s[0] = (char)0xc2;
		s[1] = (char)(c & 0xff);
		if (text_check_utf8_printable(s, 2) != -EINVAL)
			fail_msg("C1 control U+%04X accepted", c);
	}
	for (unsigned c = 0x20; c < 0x7f; c++) {
		s[0] = (char)c;
		if (text_check_utf8_printable(s, 1) != 0)
			fail_msg("printable 0x%02x refused", c);
	}
}

static void test_utf8_printable_honours_len(void **state)
{
	(void)state;
	/* Only s[0..len) is looked at: a bad byte just past it does not count... */
	assert_int_equal(text_check_utf8_printable("abc\x1b", 3), 0);
	/* ...and a sequence cut by len is truncated, even if the buffer goes on. */
	assert_int_equal(text_check_utf8_printable("x\xc3\xa5", 2), -EINVAL);
	assert_int_equal(text_check_utf8_printable("x\xc3\xa5", 3), 0);
}

static void test_is_date(void **state)
{
	static const struct {
		const char *s;
		bool want;
	} cases[] = {
		{ "2024-01-31", true },
		{ "1999-12-31", true },
		{ "2024-02-29", true },
		{ "2000-02-29", true },
		{ "2024-04-30", true },
		{ "2023-02-29", false },
		{ "1900-02-29", false },
		{ "2024-04-31", false },
		{ "2024-02-30", false },
		{ "2024-13-01", false },
		{ "2024-00-10", false },
		{ "2024-01-00", false },
		{ "2024-01-32", false },
		{ "2024-1-01", false },
		{ "2024-01-1", false },
		{ "+024-01-01", false },
		{ "-024-01-01", false },
		{ " 024-01-01", false },
		{ "2024-+1-01", false },
		{ "2024-01-01x", false },
		{ "2024-01-01 ", false },
		{ "2024-01-01\n", false },
		{ "2024/01/01", false },
		{ "20240101", false },
		{ "01-01-2024", false },
		{ "", false },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		if (text_is_date(cases[i].s) != cases[i].want)
			fail_msg("text_is_date(\"%s\") should be %s", cases[i].s,
				 cases[i].want ? "true" : "false");
}

/* Lines of at most width characters, at spaces; a longer word whole; characters, not bytes. */
static void test_wrap(void **state)
{
	static const struct { const char *in; unsigned width; const char *out; } cases[] = {
		{ "one two three four", 9, "one two\nthree\nfour" },
		{ "one two three four", 0, "one two three four" },
		{ "short", 40, "short" },
		{ "a verylongwordindeed b", 5, "a\nverylongwordindeed\nb" },
		{ "first line\nsecond line here", 11, "first line\nsecond line\nhere" },
		{ "Gjenst\xc3\xa5" "ende fors\xc3\xb8" "k: 2.", 16, "Gjenst\xc3\xa5" "ende\nfors\xc3\xb8" "k: 2." },
		{ "\xc3\xa5 \xc3\xa5 \xc3\xa5 \xc3\xa5", 3, "\xc3\xa5 \xc3\xa5\n\xc3\xa5 \xc3\xa5" },	/* characters, not bytes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		text_wrap(buf, cases[i].width);
		assert_string_equal(buf, cases[i].out);
	}
}

/* A name with no letters falls back to "user", cut like any base to username_max_length. */
static void test_username_base_without_letters(void **state)
{
	static const unsigned maxima[] = { 1, 3, 4, 8 };
	struct config cfg;
	struct person p;

	(void)state;
	memset(&p, 0, sizeof(p));
	snprintf(p.given_name, sizeof(p.given_name), "%s", "123");
	snprintf(p.family_name, sizeof(p.family_name), "%s", "456");
	for (size_t i = 0; i < sizeof(maxima) / sizeof(maxima[0]); i++) {
		char base[64];

		config_defaults(&cfg);
		cfg.username_max_length = maxima[i];
		assert_int_equal(username_base(&cfg, &p, base, sizeof(base)), 0);
		assert_true(strlen(base) >= 1 && strlen(base) <= maxima[i]);
		assert_true(username_valid(base, maxima[i]));
		assert_memory_equal(base, "user", strlen(base));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_is_digits),
		cmocka_unit_test(test_is_hostname),
		cmocka_unit_test(test_utf8_printable),
		cmocka_unit_test(test_utf8_printable_every_c0_c1),
		cmocka_unit_test(test_utf8_printable_honours_len),
		cmocka_unit_test(test_is_date),
		cmocka_unit_test(test_username_base_without_letters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
