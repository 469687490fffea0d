/*
 * import.h: bringing a parsed roster into the database, all or nothing,
 * hashing new PINs on every core.
 */
#ifndef ACTIVATE_IMPORT_H
#define ACTIVATE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "roster.h"
#include "store.h"

enum import_action { IMPORT_SAME, IMPORT_ADD, IMPORT_UPDATE };

struct import_opts {
	bool dry_run;		/* plan only: nothing hashed, nothing written */
	bool update_pins;	/* hash the pin column for existing people too */
	unsigned workers;	/* hashing processes; 0: one per CPU */
	/* called from the calling thread while PINs hash; may be NULL */
	void (*progress)(size_t done, size_t total, void *ctx);
	void *progress_ctx;
};

struct import_report {
	size_t rows, added, updated, unchanged, pins;
};

/*
 * Import roster (named name in errors) into st. pepper is needed when the
 * roster has PINs to hash. On error nothing is written and err holds
 * "NAME:LINE: FIELD: reason".
 */
int import_roster(struct store *st, const struct config *cfg, const unsigned char *pepper,
		  struct roster *roster, const char *name, const struct import_opts *opts,
		  struct import_report *rep, char *err, size_t errlen);

/*
 * Hash the PINs of the total rows marked hash_pin in opts->workers processes,
 * into each row's person.pin_hash. Shared with activatectl issue.
 */
int import_hash_pins(struct roster *roster, const unsigned char *pepper, int cost, size_t total,
		     const struct import_opts *opts);

#endif
