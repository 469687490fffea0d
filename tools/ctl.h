/*
 * ctl.h: what the activatectl commands share: the loaded configuration, the
 * database and pepper opened on demand, and error output.
 */
#ifndef ACTIVATECTL_H
#define ACTIVATECTL_H

#include <stdbool.h>

#include <jansson.h>

#include "config.h"
#include "lease.h"
#include "store.h"

#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2
#define CTL_SKIPPED 3	/* import --skip-conflicts: done, but some rows were skipped */

struct ctl {
	struct config cfg;
	const char *config_path;
	struct store *st;
	unsigned char *pepper;	/* locked memory, or NULL until loaded */
	struct lease lease;	/* the one person a command changes (ctl_lock_person) */
};

/* "activatectl: ..." on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the usage of one command (or all) and return CTL_USAGE. */
int ctl_usage(const char *command);

/* Open the database (and the pepper) once; 0 or print why and return -1. */
int ctl_open_store(struct ctl *c);
int ctl_load_pepper(struct ctl *c);

/* Find a person by ID number, student number or username; prints why not. */
int ctl_find(struct ctl *c, const char *key, struct person *p);

/*
 * The person's lock (lease.h) that a dialogue for the person holds while
 * it provisions, on this machine or another (waiting up to
 * CTL_LOCK_WAIT_MS for one to finish), then p read again: 0, or -1 (said
 * why). ctl_unlock_person lets the person go.
 */
#define CTL_LOCK_WAIT_MS 30000
int ctl_lock_person(struct ctl *c, struct person *p);
void ctl_unlock_person(struct ctl *c);

int ctl_cmd_init(struct ctl *c, int argc, char **argv);
int ctl_cmd_import(struct ctl *c, int argc, char **argv);
int ctl_cmd_add(struct ctl *c, int argc, char **argv);
int ctl_cmd_issue(struct ctl *c, int argc, char **argv);
int ctl_cmd_show(struct ctl *c, int argc, char **argv);
int ctl_cmd_list(struct ctl *c, int argc, char **argv);
int ctl_cmd_stats(struct ctl *c, int argc, char **argv);
int ctl_cmd_unlock(struct ctl *c, int argc, char **argv);
int ctl_cmd_audit(struct ctl *c, int argc, char **argv);
int ctl_cmd_set(struct ctl *c, int argc, char **argv);
int ctl_cmd_check(struct ctl *c, int argc, char **argv);
int ctl_cmd_revoke(struct ctl *c, int argc, char **argv);
int ctl_cmd_restore(struct ctl *c, int argc, char **argv);
int ctl_cmd_rename(struct ctl *c, int argc, char **argv);
int ctl_cmd_activate(struct ctl *c, int argc, char **argv);
int ctl_cmd_try(struct ctl *c, int argc, char **argv);
int ctl_cmd_migrate_store(struct ctl *c, int argc, char **argv);

/* Print j indented on stdout and free it; CTL_OK or CTL_FAIL. */
int ctl_dump_json(json_t *j);

/* An administrator's change in the audit trail (and syslog); p may be NULL. */
void ctl_audit(struct ctl *c, const char *event, const struct person *p, const char *result);

#endif
