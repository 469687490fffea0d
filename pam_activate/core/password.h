/*
 * password.h: the new account's password: generated suggestions, the
 * site's policy (libpwquality and an optional character set), and the
 * crypt(3) hash written to shadow.
 */
#ifndef ACTIVATE_PASSWORD_H
#define ACTIVATE_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "logindefs.h"
#include "person.h"

#define PASSWORD_MAX 256
#define PASSWORD_HASH_MAX 512

/*
 * n generated passwords: random words from the system wordlist joined by
 * '-' (at least 60 bits), or 14 random letters and digits without one.
 */
int password_suggest(char (*out)[PASSWORD_MAX], unsigned n);

/* Whether the word list for suggestions is there. */
bool password_wordlist_found(void);

/*
 * 0 if pw meets the policy for user and p; otherwise reason says why in
 * plain words (libpwquality's own text where it has one).
 */
int password_check(const struct config *cfg, const char *pw, const char *user,
		   const struct person *p, char *reason, size_t size);

/* crypt(3) hash of pw with the configured method (or login.defs'). */
int password_hash(const struct config *cfg, const struct logindefs *ld, const char *pw,
		  char *out, size_t size);

#endif
