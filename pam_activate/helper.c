/*
 * helper.c: activate-helper, started by pam_activate.so for the trigger user
 * with the socket on descriptor 0... (dialogue issue). For now it checks that
 * the configuration, the database and the pepper open, which is what
 * activatectl check and the install docs rely on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "secret.h"
#include "store.h"

static int check_setup(const struct config *cfg)
{
	unsigned char *pepper = secret_alloc(SECRET_PEPPER_BYTES);
	struct store *st = NULL;
	char err[CONFIG_ERROR_MAX];
	int r;

	if (!pepper)
		return 1;
	r = secret_load_pepper(cfg->pepper_file, pepper, err, sizeof(err));
	if (r == 0)
		r = store_open(cfg->database, 0, &st, err, sizeof(err));
	if (r)
		fprintf(stderr, "activate-helper: %s\n", err);
	store_close(st);
	secret_free(pepper);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	const char *path = ACTIVATE_CONF;
	int first = 1;

	if (argc > 1 && strncmp(argv[1], "config=", 7) == 0) {
		path = argv[1] + 7;
		first = 2;
	}
	if (secret_init() != 0)
		return 1;
	config_defaults(&cfg);
	if (config_load_file(&cfg, path, err, sizeof(err)) != 0 ||
	    config_apply_args(&cfg, argc - first, (const char *const *)argv + first, err, sizeof(err)) != 0) {
		fprintf(stderr, "activate-helper: %s\n", err);
		return 1;
	}
	return check_setup(&cfg);
}
