/*
 * roster.h: reading the roster CSV from the student system (RFC 4180, UTF-8,
 * header row) into validated rows. Nothing here touches the database.
 */
#ifndef ACTIVATE_ROSTER_H
#define ACTIVATE_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "person.h"

#define ROSTER_FIELD_MAX 4096	/* longer cells are refused before validation */

struct roster_row {
	unsigned line;		/* where the row starts in the file */
	struct person person;	/* the roster fields; the rest zero */
	char *pin;		/* into roster.pins (locked memory), or NULL */
	int action;		/* filled by import */
	bool hash_pin;		/* filled by import */
	bool kept_username, kept_email, kept_language;	/* filled by import: the database's, not the roster's */
	unsigned changes;	/* filled by import: IMPORT_CHANGED_* of an update */
	char old_id_number[PERSON_NUMBER_MAX];	/* filled by import: matched by student number */
};

struct roster {
	struct roster_row *rows;
	size_t count, cap;
	bool has_username, has_email, has_pin, has_language;
	char *pins;		/* sodium_malloc'ed: cap * SECRET_PIN_MAX bytes */
	size_t pins_cap;
};

/*
 * Parse and validate the whole of f (named name in errors). On error,
 * err holds "NAME:LINE: FIELD: reason" and *out is empty. Duplicate ID
 * numbers, student numbers or usernames within the file are errors too.
 */
int roster_read(FILE *f, const char *name, char delimiter, const struct config *cfg,
		struct roster *out, char *err, size_t errlen);

/*
 * The same checks for one person given as column names and values (the
 * options of activatectl add); name stands for the source in errors.
 */
int roster_read_fields(const char *name, size_t n, const char *const *columns,
		       const char *const *values, const struct config *cfg, struct roster *out,
		       char *err, size_t errlen);

/*
 * Append a copy of p (set has_pin first to get a PIN slot in locked memory).
 */
int roster_append(struct roster *r, const struct person *p, struct roster_row **row);

/* Wipe the PINs and free everything. */
void roster_free(struct roster *r);

/* Validate one person's roster fields (shared with activatectl add). */
int roster_check_person(const struct person *p, const struct config *cfg,
			char *err, size_t errlen);

#endif
