/* person.h: a person of the roster, and why their activation would fail today. */
#ifndef ACTIVATE_PERSON_H
#define ACTIVATE_PERSON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

#define PERSON_NUMBER_MAX 65	/* digits of an ID or student number, + NUL */
#define PERSON_NAME_MAX 129	/* bytes of UTF-8 in a name or programme, + NUL */
#define PERSON_USERNAME_MAX 33
#define PERSON_EMAIL_MAX 255
#define PERSON_HASH_MAX 128	/* crypto_pwhash_STRBYTES */
#define PERSON_DATE_MAX 11	/* YYYY-MM-DD */
#define PERSON_LANGUAGE_MAX 16	/* nb, en, nb_NO */
#define PERSON_HOME_MAX 512	/* a longer home_base/username is refused at provisioning */

enum person_kind { PERSON_STUDENT, PERSON_EXCHANGE, PERSON_EMPLOYEE };
enum person_state { PERSON_PENDING, PERSON_PROVISIONING, PERSON_ACTIVE, PERSON_REVOKED };

struct person {
	int64_t rowid;
	char id_number[PERSON_NUMBER_MAX];
	char student_number[PERSON_NUMBER_MAX];
	char given_name[PERSON_NAME_MAX];
	char family_name[PERSON_NAME_MAX];
	int kind;
	char programme[PERSON_NAME_MAX];
	char fee_paid_on[PERSON_DATE_MAX];
	char username[PERSON_USERNAME_MAX];
	char email[PERSON_EMAIL_MAX];
	char language[PERSON_LANGUAGE_MAX];	/* of their letters; empty: mail_language */
	char pin_hash[PERSON_HASH_MAX];
	int64_t pin_expires;	/* 0: no PIN */
	int64_t pin_spent;	/* 0: not spent; else when */
	unsigned failures;	/* since the last success or unlock */
	unsigned total_failures;/* against this PIN */
	unsigned locks;		/* locks so far; each doubles lock_time */
	int64_t locked_until;	/* 0: not locked */
	int64_t uid;		/* -1: none yet; with gid and home, the intent: recorded
				   before the first account file changes */
	int64_t gid;		/* -1: none yet */
	char home[PERSON_HOME_MAX];
	char rename_to[PERSON_USERNAME_MAX];	/* a rename under way, or empty */
	int64_t version;	/* bumped by every write: the compare-and-swap of a change */
	int revoked_from;	/* the state a revoke left (restore goes back to it), or -1 */
	char revoke_expire[24];	/* the account's expiry before the revoke ("" none), if ... */
	bool revoke_expire_set;	/* ... one was recorded */
	int state;
	int64_t terms_accepted;
	char terms_hash[65];
	int64_t created;
	int64_t updated;
};

/* Reasons an activation would not go through; more than one may hold. */
enum person_problem {
	PERSON_NO_PIN = 1 << 0,
	PERSON_PIN_EXPIRED = 1 << 1,
	PERSON_PIN_SPENT = 1 << 2,
	PERSON_LOCKED = 1 << 3,
	PERSON_NO_PROGRAMME = 1 << 4,
	PERSON_FEE_MISSING = 1 << 5,
	PERSON_REVOKED_STATE = 1 << 6,
	PERSON_ALREADY_ACTIVE = 1 << 7,
};
#define PERSON_PROBLEM_COUNT 8

/* The problems of p at time now under cfg, as a mask of enum person_problem. */
unsigned person_problems(const struct person *p, const struct config *cfg, time_t now);

/* The person's e-mail address: the roster's, else email_format with %u their username, else "". */
void person_email(const struct person *p, const struct config *cfg, char *out, size_t len);

/* A plain-words sentence for one problem bit (for activatectl show). */
const char *person_problem_text(unsigned problem);

/* A short tag for one problem bit (for list, stats and JSON). */
const char *person_problem_tag(unsigned problem);

/*
 * This machine's half of the person lock (core/lease.c takes it, then the
 * lease in the store for the other machines): a flock under run_dir that
 * dies with the process. wait_ms 0: -EBUSY at once if held; else wait that
 * long. The descriptor to close, or a negative errno.
 */
int person_lock(const struct config *cfg, int64_t rowid, int wait_ms);

const char *person_kind_name(int kind);
const char *person_state_name(int state);
int person_kind_parse(const char *name, int *kind);
int person_state_parse(const char *name, int *state);

#endif
