/*
 * password.c: the new account's password. libpwquality judges, libxcrypt
 * hashes, libsodium picks the random words; nothing here reimplements them.
 */
#include <crypt.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <pwquality.h>
#include <sodium.h>

#include "i18n.h"
#include "password.h"
#include "text.h"

/*
 * The EFF large word list, as Debian's diceware package ships it: curated
 * for passphrases, free of the slurs a general dictionary holds.
 */
#ifndef WORDLIST
#define WORDLIST "/usr/lib/python3/dist-packages/diceware/wordlists/wordlist_en_eff.txt"
#endif
#define MIN_BITS 60.0
#define WORD_MIN 3
#define WORD_MAX 9
#define RANDOM_CHARS 14	/* 62^14: 83 bits */

struct words {
	char (*w)[WORD_MAX + 1];
	size_t n, cap;
};

static bool usable_word(const char *w, size_t len)
{
	return len >= WORD_MIN && len <= WORD_MAX && strspn(w, "abcdefghijklmnopqrstuvwxyz") == len;
}

static int load_words(struct words *ws)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(WORDLIST, "re");

	memset(ws, 0, sizeof(*ws));
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *w = strrchr(line, '\t');	/* "11111<TAB>abacus" */
		size_t len;

		w = w ? w + 1 : line;
		w[strcspn(w, "\r\n")] = '\0';
		len = strlen(w);
		if (!usable_word(w, len))
			continue;
		if (ws->n == ws->cap) {
			size_t ncap = ws->cap ? ws->cap * 2 : 4096;
			void *p = realloc(ws->w, ncap * sizeof(*ws->w));

			if (!p)
				break;
			ws->w = p;
			ws->cap = ncap;
		}
		memcpy(ws->w[ws->n++], w, len + 1);
	}
	free(line);
	fclose(f);
	return 0;
}

static int random_chars(char *out, size_t size)
{
	static const char set[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

	if (size <= RANDOM_CHARS)
		return -ENOSPC;
	for (int i = 0; i < RANDOM_CHARS; i++)
		out[i] = set[randombytes_uniform(sizeof(set) - 1)];
	out[RANDOM_CHARS] = '\0';
	return 0;
}

static int passphrase(const struct words *ws, char *out, size_t size)
{
	int count = (int)ceil(MIN_BITS / log2((double)ws->n));
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < count; i++) {
		const char *w = ws->w[randombytes_uniform((uint32_t)ws->n)];
		int n = snprintf(out + used, size - used, "%s%s", i ? "-" : "", w);

		if (n < 0 || (size_t)n >= size - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}

bool password_wordlist_found(void)
{
	return access(WORDLIST, R_OK) == 0;
}

int password_suggest(char (*out)[PASSWORD_MAX], unsigned n)
{
	struct words ws;
	bool words = load_words(&ws) == 0 && ws.n >= 2048;
	int r = 0;

	for (unsigned i = 0; i < n && r == 0; i++)
		r = words ? passphrase(&ws, out[i], PASSWORD_MAX) : random_chars(out[i], PASSWORD_MAX);
	free(ws.w);
	return r;
}

static int allowed(const struct config *cfg, const char *pw, char *reason, size_t size)
{
	const char *extra = cfg->password_allowed_chars;

	if (text_check_utf8_printable(pw, strlen(pw)) != 0) {
		snprintf(reason, size, "it contains control characters");
		return -EINVAL;
	}
	if (!extra[0])
		return 0;
	for (const char *c = pw; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr(extra, *c))) {
			snprintf(reason, size, "only letters a-z, A-Z, digits and %s are allowed", extra);
			return -EINVAL;
		}
	return 0;
}

static int pwq_settings(const struct config *cfg, const struct person *p, pwquality_settings_t **out)
{
	pwquality_settings_t *pwq = pwquality_default_settings();
	char bad[4 * PERSON_NAME_MAX];
	void *aux = NULL;

	if (!pwq)
		return -ENOMEM;
	if (cfg->pwquality_conf[0])
		pwquality_read_config(pwq, cfg->pwquality_conf, &aux);	/* a missing file keeps defaults */
	snprintf(bad, sizeof(bad), "%s %s %s %s", p->given_name, p->family_name, p->id_number,
		 p->student_number);
	pwquality_set_str_value(pwq, PWQ_SETTING_BAD_WORDS, bad);
	*out = pwq;
	return 0;
}

/*
 * Any part of name (split at spaces and hyphens) of three bytes or more in
 * pw, ASCII letters in either case: libpwquality skips bad words shorter
 * than four, and Ola, Per, Åse and Moe are common names.
 */
static bool contains_name(const char *pw, const char *name)
{
	char part[PERSON_NAME_MAX];

	for (const char *at = name; *at; ) {
		size_t n = strcspn(at, " -");

		if (n >= 3 && n < sizeof(part)) {
			memcpy(part, at, n);
			part[n] = '\0';
			if (strcasestr(pw, part))
				return true;
		}
		at += n + (at[n] != '\0');
	}
	return false;
}

int password_check(const struct config *cfg, const char *pw, const char *user,
		   const struct person *p, char *reason, size_t size)
{
	pwquality_settings_t *pwq;
	void *aux = NULL;
	int score, r;

	r = allowed(cfg, pw, reason, size);
	if (r)
		return r;
	r = pwq_settings(cfg, p, &pwq);
	if (r)
		return r;
	score = pwquality_check(pwq, pw, NULL, user, &aux);
	if (score < 0) {
		/* it returns its message: a static text is not copied into reason */
		const char *why = pwquality_strerror(reason, size, score, aux);

		if (why != reason)
			snprintf(reason, size, "%s", why ? why : "it is too weak");
		r = -EINVAL;
	} else if ((p->id_number[0] && strstr(pw, p->id_number)) ||
		   (p->student_number[0] && strstr(pw, p->student_number))) {
		snprintf(reason, size, "%s", _("it contains your ID number or student number"));
		r = -EINVAL;
	} else if (contains_name(pw, p->given_name) || contains_name(pw, p->family_name)) {
		snprintf(reason, size, "%s", _("it contains your name"));
		r = -EINVAL;
	}
	pwquality_free_settings(pwq);
	return r;
}

static const char *method_prefix(const char *method)
{
	if (!strcasecmp(method, "YESCRYPT"))
		return "$y$";
	if (!strcasecmp(method, "SHA512"))
		return "$6$";
	if (!strcasecmp(method, "SHA256"))
		return "$5$";
	if (!strcasecmp(method, "BCRYPT"))
		return "$2b$";
	return NULL;	/* MD5 and DES are not offered */
}

int password_hash(const struct config *cfg, const struct logindefs *ld, const char *pw,
		  char *out, size_t size)
{
	const char *method = cfg->crypt_method[0] ? cfg->crypt_method : ld->encrypt_method;
	const char *prefix = method_prefix(method);
	unsigned long count = 0;
	void *data = NULL;
	int dsize = 0, r = 0;
	char *salt, *h;

	if (!prefix)
		return -EINVAL;
	if (prefix[1] == 'y')
		count = ld->yescrypt_cost_factor > 0 ? (unsigned long)ld->yescrypt_cost_factor : 0;
	else if (prefix[1] != '2')
		count = ld->sha_crypt_rounds > 0 ? (unsigned long)ld->sha_crypt_rounds : 0;
	salt = crypt_gensalt_ra(prefix, count, NULL, 0);
	if (!salt)
		return errno ? -errno : -EINVAL;
	h = crypt_ra(pw, salt, &data, &dsize);
	if (!h || h[0] == '*' || strlen(h) >= size)
		r = -EINVAL;
	else
		memcpy(out, h, strlen(h) + 1);
	if (data)
		sodium_memzero(data, (size_t)dsize);
	free(data);
	free(salt);
	return r;
}
