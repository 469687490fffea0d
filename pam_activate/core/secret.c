/*
 * secret.c: PIN hashing and checking, the pepper and random PINs.
 *
 * A PIN is a short decimal secret, so its hash is only as strong as the
 * attacker's cost per guess: a keyed BLAKE2b with a pepper that lives outside
 * the database first (a stolen database alone yields nothing), then Argon2id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "keyfile.h"
#include "secret.h"

/* Hashes of a random secret at each preset; verified against for unknown IDs. */
static const char *const dummy_hash[] = {
	[CONFIG_COST_MIN] = "$argon2id$v=19$m=8,t=1,p=1$lNHV3IMzCfB2T8yctjYUqg$"
		"VXi+HeaUMuEIg7hWPWAinFbDXrNQN3Sedjhlk5W8Mbo",
	[CONFIG_COST_INTERACTIVE] = "$argon2id$v=19$m=65536,t=2,p=1$L9LPfiprfoQdm7ut37V8Yw$"
		"rD13TrM2NycYf8kBRkgqzmbFlRgTiZ3v8i080E7awnE",
	[CONFIG_COST_MODERATE] = "$argon2id$v=19$m=262144,t=3,p=1$vfLzYmmO3TuxIPQhdQlXww$"
		"n1lg0E/qS+vcyBoIc6b4p24/ZSLsfWr7Qa6fhvyGQxc",
};

int secret_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void *secret_alloc(size_t size)
{
	void *p = sodium_malloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void secret_free(void *p)
{
	sodium_free(p);
}

static int check_pepper_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int r = keyfile_check(fd, path, &st, err, errlen);

	if (r)
		return r;
	if (st.st_size != SECRET_PEPPER_BYTES) {
		snprintf(err, errlen, "%s: must hold exactly %d bytes", path, SECRET_PEPPER_BYTES);
		return -EINVAL;
	}
	return 0;
}

int secret_load_pepper(const char *path, unsigned char *pepper, char *err, size_t errlen)
{
	int fd, r;
	ssize_t n;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, errno == ELOOP ? "%s: is a symbolic link; refusing it" : "%s: %s",
			 path, strerror(errno));
		return r;
	}
	r = check_pepper_file(fd, path, err, errlen);
	if (r == 0) {
		n = read(fd, pepper, SECRET_PEPPER_BYTES);
		if (n != SECRET_PEPPER_BYTES) {
			snprintf(err, errlen, "%s: short read", path);
			r = -EIO;
		}
	}
	close(fd);
	return r;
}

int secret_create_pepper(const char *path, char *err, size_t errlen)
{
	unsigned char buf[SECRET_PEPPER_BYTES];
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	randombytes_buf(buf, sizeof(buf));
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) != 0) {
		r = -EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	if (r)
		unlink(path);
	return r;
}

/*
 * Length-prefixed so that ("12", "345") and ("123", "45") differ. The result
 * is the Argon2id input: 32 raw bytes.
 */
static void prehash(const unsigned char *pepper, const char *id_number, const char *pin,
		    unsigned char out[crypto_generichash_BYTES])
{
	crypto_generichash_state st;
	unsigned char len[2];
	size_t idlen = strlen(id_number);

	len[0] = (unsigned char)(idlen >> 8);
	len[1] = (unsigned char)idlen;
	crypto_generichash_init(&st, pepper, SECRET_PEPPER_BYTES, crypto_generichash_BYTES);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, (const unsigned char *)id_number, idlen);
	crypto_generichash_update(&st, (const unsigned char *)pin, strlen(pin));
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static void cost_limits(int cost, unsigned long long *ops, size_t *mem)
{
	switch (cost) {
	case CONFIG_COST_MIN:
		*ops = crypto_pwhash_OPSLIMIT_MIN;
		*mem = crypto_pwhash_MEMLIMIT_MIN;
		break;
	case CONFIG_COST_MODERATE:
		*ops = crypto_pwhash_OPSLIMIT_MODERATE;
		*mem = crypto_pwhash_MEMLIMIT_MODERATE;
		break;
	default:
		*ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		*mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		break;
	}
}

int secret_pin_hash(const unsigned char *pepper, const char *id_number, const char *pin,
		    int cost, char hash[SECRET_HASH_MAX])
{
	unsigned char key[crypto_generichash_BYTES];
	unsigned long long ops;
	size_t mem;
	int r;

	cost_limits(cost, &ops, &mem);
	prehash(pepper, id_number, pin, key);
	r = crypto_pwhash_str_alg(hash, (const char *)key, sizeof(key), ops, mem,
				  crypto_pwhash_ALG_ARGON2ID13) == 0 ? 0 : -ENOMEM;
	sodium_memzero(key, sizeof(key));
	return r;
}

/* A libsodium call's -1: as_einval when errno says EINVAL (its "no" answer), else the failure. */
static int sodium_failure(int as_einval)
{
	return errno == EINVAL ? as_einval : -(errno ? errno : EIO);
}

int secret_pin_verify(const unsigned char *pepper, const char *id_number, const char *pin,
		      const char *hash)
{
	unsigned char key[crypto_generichash_BYTES];
	int r;

	/*
	 * libsodium says -1 for "no match", "cannot parse" and "no memory";
	 * errno tells them apart: EINVAL for the first two, anything else is a
	 * failure (a calloc, Argon2id's memory), never a wrong PIN.
	 */
	if (strncmp(hash, "$argon2id$", 10) != 0)
		return -EINVAL;
	errno = 0;
	if (crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN) < 0)
		return sodium_failure(-EINVAL);
	prehash(pepper, id_number, pin, key);
	errno = 0;
	r = crypto_pwhash_str_verify(hash, (const char *)key, sizeof(key)) == 0 ? 0 : sodium_failure(-EACCES);
	sodium_memzero(key, sizeof(key));
	return r;
}

const char *secret_dummy_hash(int cost)
{
	if (cost < CONFIG_COST_MIN || cost > CONFIG_COST_MODERATE)
		cost = CONFIG_COST_INTERACTIVE;
	return dummy_hash[cost];
}

int secret_pin_verify_dummy(const unsigned char *pepper, const char *pin, int cost)
{
	secret_pin_verify(pepper, "", pin, secret_dummy_hash(cost));
	return -EACCES;
}

int secret_random_pin(unsigned length, char *pin, size_t size)
{
	if (length == 0 || length >= size)
		return -EINVAL;
	for (unsigned i = 0; i < length; i++)
		pin[i] = (char)('0' + randombytes_uniform(10));
	pin[length] = '\0';
	return 0;
}
