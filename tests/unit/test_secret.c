/* test_secret.c: unit tests for secret.c (the pepper, PIN hashes, dummy checks, random PINs). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "testutil.h"
#include "config.h"
#include "secret.h"


#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_MAX 512

static char dir[PATH_MAX];
static unsigned char *pepper, *pepper2;	/* secret_alloc'ed, two different fixed values */

static char *fresh_path(char *buf, size_t len, const char *name)
{
	static unsigned n;
	char leaf[64];

	snprintf(leaf, sizeof(leaf), "%s-%u", name, ++n);
	return tu_path(buf, len, dir, leaf);
}

static void assert_contains(const char *what, const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("%s: '%s' does not contain '%s'", what, hay, needle);
}

static void read_all(const char *path, unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fread(buf, 1, len, f), len);
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
}

/* The "$argon2id$v=19$m=...,t=...,p=...$" head of a hash: all up to the salt. */
static size_t params_len(const char *hash)
{
	const char *p = hash;

	for (int dollars = 0; dollars < 4; dollars++) {
		p = strchr(p, '$');
		if (!p)
			fail_msg("'%s' is not a $argon2id$ hash", hash);
		p++;
	}
	return (size_t)(p - hash);
}

static void assert_same_params(const char *what, const char *a, const char *b)
{
	size_t n = params_len(a);

	if (params_len(b) != n || strncmp(a, b, n) != 0)
		fail_msg("%s: '%.*s' and '%.*s' differ", what, (int)n, a, (int)params_len(b), b);
}

static int group_setup(void **state)
{
	(void)state;
	assert_int_equal(secret_init(), 0);
	tu_tmpdir(dir, sizeof(dir));
	pepper = secret_alloc(SECRET_PEPPER_BYTES);
	pepper2 = secret_alloc(SECRET_PEPPER_BYTES);
	assert_non_null(pepper);
	assert_non_null(pepper2);
	for (unsigned i = 0; i < SECRET_PEPPER_BYTES; i++) {
		pepper[i] = (unsigned char)(i * 7 + 1);
		pepper2[i] = (unsigned char)(i * 7 + 1);
	}
	pepper2[SECRET_PEPPER_BYTES - 1] ^= 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	secret_free(pepper);
	secret_free(pepper2);
	tu_rm_rf(dir);
	return 0;
}

/* --- secret_init, secret_alloc ---------------------------------------------------- */

static void test_init_again(void **state)
{
	(void)state;
	assert_int_equal(secret_init(), 0);
	assert_int_equal(secret_init(), 0);
}

static void test_alloc_zeroed(void **state)
{
	static const size_t sizes[] = { 1, SECRET_PEPPER_BYTES, SECRET_PIN_MAX, 4097 };

	(void)state;
	for (size_t i = 0; i < N_ELEMS(sizes); i++) {
		unsigned char *p = secret_alloc(sizes[i]);

		assert_non_null(p);
		for (size_t j = 0; j < sizes[i]; j++)
			if (p[j] != 0)
				fail_msg("secret_alloc(%zu): byte %zu is 0x%02x", sizes[i], j, p[j]);
		secret_free(p);
	}
	secret_free(NULL);
}

/* --- the pepper file ------------------------------------------------------------------- */

static void test_create_pepper(void **state)
{
	unsigned char first[SECRET_PEPPER_BYTES], again[SECRET_PEPPER_BYTES];
	unsigned char *loaded = secret_alloc(SECRET_PEPPER_BYTES);
	char path[PATH_MAX], err[ERR_MAX] = "";
	struct stat sb;

	(void)state;
	fresh_path(path, sizeof(path), "pepper");
	if (secret_create_pepper(path, err, sizeof(err)) != 0)
		fail_msg("secret_create_pepper: %s", err);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0400);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(sb.st_size, SECRET_PEPPER_BYTES);
	read_all(path, first, sizeof(first));

	/* never overwritten */
	err[0] = '\0';
	assert_int_equal(secret_create_pepper(path, err, sizeof(err)), -EEXIST);
	assert_contains("second create", err, path);
	read_all(path, again, sizeof(again));
	assert_memory_equal(first, again, sizeof(first));

	/* and it loads */
	assert_non_null(loaded);
	if (secret_load_pepper(path, loaded, err, sizeof(err)) != 0)
		fail_msg("secret_load_pepper of a new pepper: %s", err);
	assert_memory_equal(loaded, first, sizeof(first));
	secret_free(loaded);

	/* a second pepper is another random one */
	fresh_path(path, sizeof(path), "pepper");
	assert_int_equal(secret_create_pepper(path, err, sizeof(err)), 0);
	read_all(path, again, sizeof(again));
	assert_memory_not_equal(first, again, sizeof(first));
}

static void test_create_pepper_not_through_symlink(void **state)
{
	char path[PATH_MAX], target[PATH_MAX], err[ERR_MAX] = "";
	struct stat sb;

	(void)state;
	fresh_path(path, sizeof(path), "pepper-link");
	fresh_path(target, sizeof(target), "pepper-target");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(secret_create_pepper(path, err, sizeof(err)), -EEXIST);
	assert_int_equal(lstat(target, &sb), -1);
	assert_true(err[0] != '\0');
}

enum prep { PREP_FILE, PREP_FOREIGN, PREP_SYMLINK, PREP_DIRECTORY, PREP_MISSING };

static void test_load_pepper(void **state)
{
	static const struct {
		const char *what;
		enum prep prep;
		mode_t mode;
		size_t size;
		int want;
		const char *msg;
	} cases[] = {
		{ "0400, 32 bytes", PREP_FILE, 0400, 32, 0, NULL },
		{ "0600 (owner only) is fine", PREP_FILE, 0600, 32, 0, NULL },
		{ "symlink to a good file", PREP_SYMLINK, 0400, 32, -ELOOP, "symbolic link" },
		{ "mode 0440", PREP_FILE, 0440, 32, -EPERM, "0440" },
		{ "mode 0404", PREP_FILE, 0404, 32, -EPERM, "0404" },
		{ "owned by uid 1", PREP_FOREIGN, 0400, 32, -EPERM, "owner 1" },
		{ "31 bytes", PREP_FILE, 0400, 31, -EINVAL, "exactly 32 bytes" },
		{ "33 bytes", PREP_FILE, 0400, 33, -EINVAL, "exactly 32 bytes" },
		{ "empty", PREP_FILE, 0400, 0, -EINVAL, "exactly 32 bytes" },
		{ "a directory", PREP_DIRECTORY, 0700, 0, -EPERM, "regular file" },
		{ "missing", PREP_MISSING, 0, 0, -ENOENT, "No such file" },
	};
	unsigned char *out = secret_alloc(SECRET_PEPPER_BYTES);
	char content[64];

	(void)state;
	assert_non_null(out);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (char)(0xa0 + i);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char path[PATH_MAX], target[PATH_MAX], err[ERR_MAX] = "";
		int r;

		fresh_path(path, sizeof(path), "load");
		fresh_path(target, sizeof(target), "load-target");
		switch (cases[i].prep) {
		case PREP_FILE:
			tu_write_file(path, content, cases[i].size, cases[i].mode);
			break;
		case PREP_FOREIGN:
			tu_write_file(path, content, cases[i].size, cases[i].mode);
			assert_int_equal(chown(path, 1, 0), 0);
			break;
		case PREP_SYMLINK:
			tu_write_file(target, content, cases[i].size, cases[i].mode);
			assert_int_equal(symlink(target, path), 0);
			break;
		case PREP_DIRECTORY:
			assert_int_equal(mkdir(path, cases[i].mode), 0);
			break;
		case PREP_MISSING:
			break;
		}

		memset(out, 0x55, SECRET_PEPPER_BYTES);
		r = secret_load_pepper(path, out, err, sizeof(err));
		if (r != cases[i].want)
			fail_msg("%s: returned %d, want %d (err '%s')", cases[i].what, r,
				 cases[i].want, err);
		if (r == 0) {
			assert_memory_equal(out, content, SECRET_PEPPER_BYTES);
			continue;
		}
		assert_contains(cases[i].what, err, path);
		assert_contains(cases[i].what, err, cases[i].msg);
		for (size_t j = 0; j < SECRET_PEPPER_BYTES; j++)
			if (out[j] != 0x55)
				fail_msg("%s: the pepper buffer was written", cases[i].what);
	}
	secret_free(out);
}

/* --- PIN hashes ----------------------------------------------------------------------- */

static void make_hash(const unsigned char *pep, const char *id, const char *pin, int cost,
		 char out[SECRET_HASH_MAX])
{
	memset(out, 0, SECRET_HASH_MAX);
	assert_int_equal(secret_pin_hash(pep, id, pin, cost, out), 0);
	assert_true(strnlen(out, SECRET_HASH_MAX) < SECRET_HASH_MAX);
	if (strncmp(out, "$argon2id$", 10) != 0)
		fail_msg("'%s' does not start with $argon2id$", out);
}

static void test_hash_and_verify(void **state)
{
	char h1[SECRET_HASH_MAX], h2[SECRET_HASH_MAX];

	(void)state;
	make_hash(pepper, "19900101", "31415926", CONFIG_COST_MIN, h1);
	make_hash(pepper, "19900101", "31415926", CONFIG_COST_MIN, h2);
	assert_string_not_equal(h1, h2);	/* a fresh salt each time */
	assert_same_params("two hashes", h1, h2);

	assert_int_equal(secret_pin_verify(pepper, "19900101", "31415926", h1), 0);
	assert_int_equal(secret_pin_verify(pepper, "19900101", "31415926", h2), 0);
	assert_int_equal(secret_pin_verify(pepper, "19900101", "31415927", h1), -EACCES);
	assert_int_equal(secret_pin_verify(pepper, "19900101", "3141592", h1), -EACCES);
	assert_int_equal(secret_pin_verify(pepper, "19900101", "", h1), -EACCES);
	/* the ID number is bound in */
	assert_int_equal(secret_pin_verify(pepper, "19900102", "31415926", h1), -EACCES);
	/* a new pepper invalidates every hash */
	assert_int_equal(secret_pin_verify(pepper2, "19900101", "31415926", h1), -EACCES);
}

static void test_id_and_pin_do_not_run_together(void **state)
{
	static const char *const pairs[][2] = {
		{ "12", "345" }, { "123", "45" }, { "1234", "5" }, { "", "12345" }, { "12345", "" },
	};
	char h[SECRET_HASH_MAX];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(pairs); i++) {
		make_hash(pepper, pairs[i][0], pairs[i][1], CONFIG_COST_MIN, h);
		for (size_t j = 0; j < N_ELEMS(pairs); j++) {
			int want = i == j ? 0 : -EACCES;

			if (secret_pin_verify(pepper, pairs[j][0], pairs[j][1], h) != want)
				fail_msg("hash of (\"%s\", \"%s\") checked with (\"%s\", \"%s\"): want %d",
					 pairs[i][0], pairs[i][1], pairs[j][0], pairs[j][1], want);
		}
	}
}

static void test_verify_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"31415926",
		"$2b$10$abcdefghijklmnopqrstuuJ1b5KyIGpYCZ/1WvZ6o0y3pD8o6Xy5m",
		"$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id",
		"$argon2id$",
		"$argon2id$v=19$m=8,t=1,p=1$",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA",
		"$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=8,t=1,p=1$!!not base64!!$aGFzaGhhc2hoYXNoaGFzaA",
	};

	unsigned wrong = 0;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		int r = secret_pin_verify(pepper, "19900101", "31415926", bad[i]);

		if (r != -EINVAL) {
			print_error("malformed hash '%s': returned %d, want -EINVAL\n", bad[i], r);
			wrong++;
		}
	}
	if (wrong)
		fail_msg("%u of %zu malformed hashes not reported as malformed", wrong, N_ELEMS(bad));
}

/* The one test at the interactive cost: a real hash, and the dummy that stands in for it. */
static void test_interactive_cost_and_dummy_params(void **state)
{
	char h[SECRET_HASH_MAX], want[64];

	(void)state;
	make_hash(pepper, "19900101", "27182818", CONFIG_COST_INTERACTIVE, h);
	assert_int_equal(secret_pin_verify(pepper, "19900101", "27182818", h), 0);
	assert_int_equal(secret_pin_verify(pepper, "19900101", "27182819", h), -EACCES);
	assert_same_params("interactive: dummy and real", secret_dummy_hash(CONFIG_COST_INTERACTIVE), h);

	make_hash(pepper, "19900101", "27182818", CONFIG_COST_MIN, h);
	assert_same_params("min: dummy and real", secret_dummy_hash(CONFIG_COST_MIN), h);

	/* moderate is too slow to hash here; its parameters are libsodium's */
	snprintf(want, sizeof(want), "$argon2id$v=19$m=%zu,t=%llu,p=1$",
		 (size_t)crypto_pwhash_MEMLIMIT_MODERATE / 1024,
		 (unsigned long long)crypto_pwhash_OPSLIMIT_MODERATE);
	assert_int_equal(params_len(secret_dummy_hash(CONFIG_COST_MODERATE)), strlen(want));
	assert_memory_equal(secret_dummy_hash(CONFIG_COST_MODERATE), want, strlen(want));
}

static void test_verify_dummy(void **state)
{
	static const int costs[] = {
		CONFIG_COST_MIN, CONFIG_COST_INTERACTIVE, CONFIG_COST_MODERATE, -1, 3, 1000,
	};
	static const char *const pins[] = { "", "00000000", "31415926" };

	(void)state;
	for (size_t i = 0; i < N_ELEMS(costs); i++)
		for (size_t j = 0; j < N_ELEMS(pins); j++)
			if (costs[i] == CONFIG_COST_MIN || j == 0)	/* the slow ones once */
				assert_int_equal(secret_pin_verify_dummy(pepper, pins[j], costs[i]),
						 -EACCES);
	/* every dummy hash is well-formed, so the dummy check does the full work */
	for (int c = CONFIG_COST_MIN; c <= CONFIG_COST_MODERATE; c++)
		assert_int_equal(crypto_pwhash_str_needs_rehash(secret_dummy_hash(c), 1, 8192) >= 0, 1);
}

/* --- random PINs ----------------------------------------------------------------------- */

static void test_random_pin(void **state)
{
	static const unsigned lengths[] = { 1, 6, 8, 16, SECRET_PIN_MAX - 1 };
	char pin[SECRET_PIN_MAX + 8];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(lengths); i++) {
		memset(pin, 'x', sizeof(pin));
		assert_int_equal(secret_random_pin(lengths[i], pin, SECRET_PIN_MAX), 0);
		assert_int_equal(strlen(pin), lengths[i]);
		for (unsigned j = 0; j < lengths[i]; j++)
			if (pin[j] < '0' || pin[j] > '9')
				fail_msg("PIN '%s' has a non-digit", pin);
	}
	assert_int_equal(secret_random_pin(4, pin, 5), 0);
	assert_int_equal(secret_random_pin(5, pin, 5), -EINVAL);
	assert_int_equal(secret_random_pin(6, pin, 5), -EINVAL);
	assert_int_equal(secret_random_pin(0, pin, 5), -EINVAL);
	assert_int_equal(secret_random_pin(1, pin, 0), -EINVAL);
}

static void test_random_pin_uniform(void **state)
{
	unsigned counts[10] = { 0 };
	char pin[SECRET_PIN_MAX];

	(void)state;
	for (unsigned i = 0; i < 20000 / 20; i++) {
		assert_int_equal(secret_random_pin(20, pin, sizeof(pin)), 0);
		for (unsigned j = 0; j < 20; j++)
			counts[pin[j] - '0']++;
	}
	/* expected 2000 each, standard deviation about 42 */
	for (unsigned d = 0; d < 10; d++)
		if (counts[d] < 1500 || counts[d] > 2500)
			fail_msg("digit %u came %u times in 20000", d, counts[d]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_again),
		cmocka_unit_test(test_alloc_zeroed),
		cmocka_unit_test(test_create_pepper),
		cmocka_unit_test(test_create_pepper_not_through_symlink),
		cmocka_unit_test(test_load_pepper),
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_id_and_pin_do_not_run_together),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_interactive_cost_and_dummy_params),
		cmocka_unit_test(test_verify_dummy),
		cmocka_unit_test(test_random_pin),
		cmocka_unit_test(test_random_pin_uniform),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
