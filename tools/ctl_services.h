/*
 * ctl_services.h: what the host's PAM service files and sshd configuration
 * say about pam_activate (ctl_services.c), for activatectl init and check.
 */
#ifndef ACTIVATECTL_SERVICES_H
#define ACTIVATECTL_SERVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct ctl_names {
	char **v;
	size_t n;
};

/* sysroot + rel, for files of the host being set up. */
void ctl_services_path(const struct config *cfg, const char *rel, char *out, size_t len);

/* Has dir/file an uncommented line with needle as a word? */
bool ctl_services_file_has(const char *dir, const char *file, const char *needle);

/* The entries of dir (not hidden) with such a line, joined by spaces in out. */
unsigned ctl_services_files_with(const char *dir, const char *needle, char *out, size_t len);

/*
 * Every trigger user: the configuration's first, then each trigger_user= on
 * a pam_activate.so line in /etc/pam.d. 0 (free with ctl_names_free) or -ENOMEM.
 */
int ctl_services_triggers(const struct config *cfg, struct ctl_names *names);
void ctl_names_free(struct ctl_names *names);

/* Does a "Match User" line of sshd_config or sshd_config.d name user? where: the file. */
bool ctl_services_sshd_match(const struct config *cfg, const char *user, char *where, size_t len);

#endif
