/*
 * username.h: usernames for new accounts: folded from the name by a
 * pattern, and unique against NSS, the account files, the database and a
 * reserved list.
 */
#ifndef ACTIVATE_USERNAME_H
#define ACTIVATE_USERNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "person.h"

/* Fold a UTF-8 name to lower-case ASCII letters (æ -> ae, ø -> o, å -> aa, ...). */
void username_fold(const char *name, char *out, size_t size);

/*
 * The base name for p under cfg->username_format (%g, %f, %Ng, %Nf, and
 * literal lower-case letters and digits), cut to username_max_length.
 */
int username_base(const struct config *cfg, const struct person *p, char *out, size_t size);

/* A name is taken if this says so; ctx is the caller's. */
typedef bool username_taken_fn(const char *name, void *ctx);

/* base, or base cut shorter with a numeric suffix (2, 3, ...) until free. */
int username_pick(const struct config *cfg, const char *base, username_taken_fn *taken, void *ctx,
		  char *out, size_t size);

/* True for [a-z][a-z0-9]* within username_max_length (and 32). */
bool username_valid(const char *name, unsigned max);

/* Reserved by policy: root, the trigger user, or listed in reserved_usernames (or the list cannot be read). */
bool username_reserved(const struct config *cfg, const char *name);

/* The same, with a list that cannot be read told apart: -errno, and *reserved means nothing. */
int username_check_reserved(const struct config *cfg, const char *name, bool *reserved);

#endif
