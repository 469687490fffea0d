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

enum import_action { IMPORT_SAME, IMPORT_ADD, IMPORT_UPDATE, IMPORT_SKIP };

/* What an update changes, one bit a roster field. */
enum {
	IMPORT_CHANGED_ID_NUMBER = 1 << 0, IMPORT_CHANGED_STUDENT_NUMBER = 1 << 1,
	IMPORT_CHANGED_GIVEN_NAME = 1 << 2, IMPORT_CHANGED_FAMILY_NAME = 1 << 3,
	IMPORT_CHANGED_KIND = 1 << 4, IMPORT_CHANGED_PROGRAMME = 1 << 5,
	IMPORT_CHANGED_FEE_PAID_ON = 1 << 6, IMPORT_CHANGED_USERNAME = 1 << 7,
	IMPORT_CHANGED_EMAIL = 1 << 8, IMPORT_CHANGED_LANGUAGE = 1 << 9,
};

struct import_opts {
	bool dry_run;		/* plan only: nothing hashed, nothing written */
	bool update_pins;	/* hash the pin column for existing people too */
	/*
	 * A row that conflicts with the database (its ID number and student
	 * number are two people's, a username someone else holds) is skipped
	 * and said through skipped ("NAME:LINE: reason") instead of stopping
	 * the import. A malformed file still changes nothing.
	 */
	bool skip_conflicts;
	void (*skipped)(const char *why, void *ctx);
	void *skipped_ctx;
	unsigned workers;	/* hashing processes; 0: one per CPU */
	/* called from the calling thread while PINs hash; may be NULL */
	void (*progress)(size_t done, size_t total, void *ctx);
	void *progress_ctx;
};

struct import_report {
	size_t rows, added, updated, unchanged, pins, skipped;
};

/*
 * Import roster (named name in errors) into st. pepper is needed when the
 * roster has PINs to hash. On error nothing is written and err holds
 * "NAME:LINE: FIELD: reason".
 */
int import_roster(struct store *st, const struct config *cfg, const unsigned char *pepper,
		  struct roster *roster, const char *name, const struct import_opts *opts,
		  struct import_report *rep, char *err, size_t errlen);

/* The names of the fields in changes (IMPORT_CHANGED_*), joined by ", ". */
void import_change_names(unsigned changes, char *out, size_t len);

/*
 * Hash the PINs of the total rows marked hash_pin in opts->workers processes,
 * into each row's person.pin_hash. Shared with activatectl issue.
 */
int import_hash_pins(struct roster *roster, const unsigned char *pepper, int cost, size_t total,
		     const struct import_opts *opts);

#endif
