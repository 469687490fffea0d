/*
 * accounts_backend.h: the table each accounts backend fills (files.c, ldap.c), private
 * to accounts/. accounts.c picks one by the configuration's "accounts" key and
 * forwards the calls of accounts.h to it; the meaning of each entry is that of
 * the accounts.h function of the same name.
 */
#ifndef ACTIVATE_ACCOUNTS_BACKEND_H
#define ACTIVATE_ACCOUNTS_BACKEND_H

#include "accounts.h"

struct accounts_backend {
	const char *name;
	int (*provision)(const struct config *cfg, const struct logindefs *ld, struct account *a, char *err,
			 size_t errlen);
	int (*set_locked)(const struct config *cfg, const char *name, bool locked, const char *expire, char *err,
			  size_t errlen);
	int (*shadow_expire)(const struct config *cfg, const char *name, char *expire, size_t size, bool *revoked);
	int (*set_password)(const struct config *cfg, const char *name, const char *hash, char *err, size_t errlen);
	int (*rename)(const struct config *cfg, const char *from, const char *to, bool resume, char *err,
		      size_t errlen);
	int (*exists)(const struct config *cfg, const char *name, bool *exists);
	bool (*name_taken)(const struct config *cfg, const char *name);
	/* names_load's result is the backend's own; names_has and names_free get it back */
	void *(*names_load)(const struct config *cfg);
	bool (*names_has)(const void *names, const char *name);
	void (*names_free)(void *names);
	/* activatectl check and the helper's --check: can this backend be used as configured? */
	int (*check)(const struct config *cfg, char *msg, size_t msglen);
};

extern const struct accounts_backend accounts_files;
extern const struct accounts_backend accounts_ldap;

#endif
