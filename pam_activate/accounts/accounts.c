/*
 * accounts/accounts.c: the front of accounts.h. Picks the backend by the
 * configuration's "accounts" key and forwards each call through its table
 * (accounts_backend.h). System accounts (the trigger user) stay in the local files
 * whatever the backend: sshd on each machine must find the trigger user
 * without the directory, and it is no person's account.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "accounts_backend.h"

struct account_names {
	const struct accounts_backend *be;
	void *names;
};

static const struct accounts_backend *backend_of(const struct config *cfg)
{
	return cfg->accounts == CONFIG_ACCOUNTS_LDAP ? &accounts_ldap : &accounts_files;
}

const char *accounts_backend_name(const struct config *cfg)
{
	return backend_of(cfg)->name;
}

int accounts_provision(const struct config *cfg, const struct logindefs *ld, struct account *a, char *err,
		       size_t errlen)
{
	const struct accounts_backend *be = a->system ? &accounts_files : backend_of(cfg);

	return be->provision(cfg, ld, a, err, errlen);
}

int accounts_set_locked(const struct config *cfg, const char *name, bool locked, const char *expire, char *err,
			size_t errlen)
{
	return backend_of(cfg)->set_locked(cfg, name, locked, expire, err, errlen);
}

int accounts_shadow_expire(const struct config *cfg, const char *name, char *expire, size_t size, bool *revoked)
{
	return backend_of(cfg)->shadow_expire(cfg, name, expire, size, revoked);
}

int accounts_set_password(const struct config *cfg, const char *name, const char *hash, char *err, size_t errlen)
{
	return backend_of(cfg)->set_password(cfg, name, hash, err, errlen);
}

int accounts_rename(const struct config *cfg, const char *from, const char *to, bool resume, char *err,
		    size_t errlen)
{
	return backend_of(cfg)->rename(cfg, from, to, resume, err, errlen);
}

int accounts_exists(const struct config *cfg, const char *name, bool *exists)
{
	*exists = false;
	return backend_of(cfg)->exists(cfg, name, exists);
}

bool accounts_name_taken(const struct config *cfg, const char *name)
{
	return backend_of(cfg)->name_taken(cfg, name);
}

struct account_names *accounts_names_load(const struct config *cfg)
{
	struct account_names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->be = backend_of(cfg);
	n->names = n->be->names_load(cfg);
	if (!n->names) {
		free(n);
		return NULL;
	}
	return n;
}

bool accounts_names_has(const struct account_names *n, const char *name)
{
	return n->be->names_has(n->names, name);
}

void accounts_names_free(struct account_names *n)
{
	if (n) {
		n->be->names_free(n->names);
		free(n);
	}
}

int accounts_check(const struct config *cfg, char *msg, size_t msglen)
{
	return backend_of(cfg)->check(cfg, msg, msglen);
}
