/*
 * dialogue.h: the activation dialogue (DESIGN section 3), as a sequence of
 * steps over one context. It knows nothing of PAM: it speaks through conv.h.
 */
#ifndef ACTIVATE_DIALOGUE_H
#define ACTIVATE_DIALOGUE_H

#include "config.h"
#include "conv.h"
#include "person.h"
#include "store.h"

struct lease;

enum dialogue_outcome {
	DIALOGUE_DENIED,	/* details wrong, a prerequisite missing, locked, throttled */
	DIALOGUE_MAXTRIES,	/* max_tries used up in this dialogue */
	DIALOGUE_CONV_ERR,	/* the conversation failed: nothing counted */
	DIALOGUE_UNAVAILABLE,	/* the database failed */
	DIALOGUE_ACTIVATED,	/* the account exists; username holds its name */
};

struct dialogue {
	const struct config *cfg;
	struct store *st;
	const unsigned char *pepper;
	struct conv *conv;
	const char *service, *rhost, *tty;	/* for the audit trail; may be empty */
	/*
	 * Desk activation (activatectl activate): who did it and who checked
	 * the photo ID, for the audit trail; NULL in a dialogue. No prompt:
	 * the terms are recorded as accepted at the desk, one generated
	 * password goes to desk_password (PASSWORD_MAX bytes, locked memory),
	 * and it must be changed at the first login.
	 */
	const char *desk;
	char *desk_password;
	char username[PERSON_USERNAME_MAX];	/* out */
	struct lease *lease;	/* provision_run's hold on the person, renewed before a commit */
};

enum dialogue_outcome dialogue_run(struct dialogue *d);

#endif
