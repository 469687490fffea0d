/*
 * secret.h: PIN hashing and checking, the pepper, random PINs (libsodium).
 * Secrets passed in and out live in sodium_malloc'ed memory owned by the
 * caller; this file wipes its own intermediates.
 */
#ifndef ACTIVATE_SECRET_H
#define ACTIVATE_SECRET_H

#include <stddef.h>

#define SECRET_PEPPER_BYTES 32
#define SECRET_HASH_MAX 128	/* crypto_pwhash_STRBYTES */
#define SECRET_PIN_MAX 33

/* sodium_init, once per process; -EIO if libsodium cannot start. */
int secret_init(void);

/*
 * Read the pepper: exactly 32 bytes, a regular root-owned file with no group
 * or other access, not a symlink. pepper must be sodium_malloc'ed.
 */
int secret_load_pepper(const char *path, unsigned char *pepper, char *err, size_t errlen);

/* Create a new pepper file (O_EXCL, 0400); never overwrites. -EEXIST if present. */
int secret_create_pepper(const char *path, char *err, size_t errlen);

/* Argon2id over keyed BLAKE2b(pepper; id_number, pin) at a config hash cost. */
int secret_pin_hash(const unsigned char *pepper, const char *id_number, const char *pin,
		    int cost, char hash[SECRET_HASH_MAX]);

/*
 * 0 if pin matches; -EACCES if not; -EINVAL for a malformed hash; another
 * negative errno when it could not be computed (Argon2id's memory).
 */
int secret_pin_verify(const unsigned char *pepper, const char *id_number, const char *pin,
		      const char *hash);

/*
 * Burn the time of one verification at cost, for an ID number that matched
 * nobody, so that an unknown ID and a wrong PIN cannot be told apart. Always
 * -EACCES.
 */
int secret_pin_verify_dummy(const unsigned char *pepper, const char *pin, int cost);

/* The dummy hash verified against at cost (its parameters match real hashes). */
const char *secret_dummy_hash(int cost);

/* length random decimal digits into pin (size > length), uniform per digit. */
int secret_random_pin(unsigned length, char *pin, size_t size);

/* sodium_malloc'ed, locked buffer for a secret, or NULL; free with secret_free. */
void *secret_alloc(size_t size);
void secret_free(void *p);

#endif
