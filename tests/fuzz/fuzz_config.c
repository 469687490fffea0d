/*
 * fuzz_config.c: activate.conf and module arguments (config.c).
 *
 * The input is read twice: as a whole activate.conf (through a memfd, so
 * config_load_file opens it by path like any file), and split at NUL bytes
 * into module arguments for config_apply_args. Both must be all or
 * nothing: on an error the configuration is byte for byte what it was, and
 * err says why; on success every text value is NUL-terminated in its field,
 * and a throttle_networks list that passed is looked up (network_limit) for
 * a few addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "network.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(const struct config *before, const struct config *cfg, int r, const char *err)
{
	if (r != 0) {
		/* byte for byte, padding too: nothing was written. NOLINTNEXTLINE(bugprone-suspicious-memory-comparison) */
		if (memcmp(before, cfg, sizeof(*cfg)) != 0 || !err[0])
			abort();	/* a failed parse changed the configuration, or said nothing */
		return;
	}
#define TERMINATED(f) \
	do { \
		if (strnlen(cfg->f, sizeof(cfg->f)) == sizeof(cfg->f)) \
			abort(); \
	} while (0)
	TERMINATED(trigger_user);
	TERMINATED(language);
	TERMINATED(database);
	TERMINATED(pepper_file);
	TERMINATED(sysroot);
	TERMINATED(run_dir);
	TERMINATED(throttle_networks);
	TERMINATED(username_format);
	TERMINATED(reserved_usernames);
	TERMINATED(terms_file);
	TERMINATED(pwquality_conf);
	TERMINATED(password_allowed_chars);
	TERMINATED(email_format);
	TERMINATED(home_base);
	TERMINATED(skel);
	TERMINATED(shell);
	TERMINATED(groups);
	TERMINATED(crypt_method);
	TERMINATED(support_contact);
	TERMINATED(sendmail);
	TERMINATED(mail_from);
	TERMINATED(mail_language);
	TERMINATED(pin_letter);
	TERMINATED(hook);
#undef TERMINATED
	if ((cfg->database[0] != '/' && strncmp(cfg->database, "sqlite:/", 8) != 0 &&
	     strncmp(cfg->database, "postgresql://", 13) != 0 && strncmp(cfg->database, "postgres://", 11) != 0) ||
	    cfg->shell[0] != '/' || cfg->home_base[0] != '/')
		abort();	/* paths stay absolute; the store is a file or a PostgreSQL URL */
	if (cfg->home_mode > 07777 || cfg->max_tries < 1 || cfg->username_max_length < 1 ||
	    cfg->username_max_length > 32 || cfg->pin_length < 6 || cfg->pin_length > 32)
		abort();
	if ((cfg->on_success != CONFIG_ON_SUCCESS_DENY && cfg->on_success != CONFIG_ON_SUCCESS_LOGIN) ||
	    (cfg->messages != CONFIG_MESSAGES_EACH && cfg->messages != CONFIG_MESSAGES_JOINED) ||
	    !strcmp(config_cost_name(cfg->pin_hash_cost), "?"))
		abort();	/* an enum holds one of its words */
}

static void fuzz_file(const uint8_t *data, size_t size)
{
	struct config before, cfg;
	char err[CONFIG_ERROR_MAX] = "", path[64];
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC), r;
	size_t done = 0;

	if (fd < 0)
		abort();
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	r = config_load_file(&cfg, path, err, sizeof(err));
	check_result(&before, &cfg, r, err);
	if (r == 0) {
		static const char *const rhosts[] = { "10.20.3.4", "192.0.2.17", "2001:db8:1::5", "::ffff:10.0.0.1", "" };

		config_check_service(&cfg, "sshd", err, sizeof(err));
		for (size_t i = 0; i < sizeof(rhosts) / sizeof(rhosts[0]); i++) {
			unsigned limit = 0;
			bool unlimited = true;

			network_limit(cfg.throttle_networks, rhosts[i], cfg.throttle_failures, &limit, &unlimited);
			if (!unlimited && limit == 0)
				abort();	/* a limit is a positive number, or none */
		}
	}
	close(fd);
}

static void fuzz_args(const uint8_t *data, size_t size)
{
	const char *argv[MAX_ARGS];
	struct config before, cfg;
	char err[CONFIG_ERROR_MAX] = "";
	char *copy = malloc(size + 1);
	int argc = 0, r;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t at = 0; at <= size && argc < MAX_ARGS; at += strlen(copy + at) + 1)
		argv[argc++] = copy + at;
	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	r = config_apply_args(&cfg, argc, argv, err, sizeof(err));
	check_result(&before, &cfg, r, err);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_file(data, size);
	fuzz_args(data, size);
	return 0;
}
