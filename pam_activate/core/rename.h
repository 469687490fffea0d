/*
 * rename.h: finishing a rename recorded in the store (rename_to): the
 * account files and the home, then the username, with the audit row in the
 * same transaction. activatectl rename records it and calls this; revoke,
 * restore and a dialogue that find one under way (an interrupted rename)
 * finish it before they go on.
 */
#ifndef ACTIVATE_RENAME_H
#define ACTIVATE_RENAME_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "person.h"
#include "store.h"

/*
 * p->username becomes p->rename_to. resume: the files may carry either
 * name (a rename that was cut short). ev names who does it (event,
 * service, rhost, tty); person, username and result are filled in. On
 * failure of the files nothing of the store changed; err says why (on
 * success, err may say the home could not be moved). *files_changed says
 * whether the account files were renamed (then a failure is the store's:
 * run it again). -ESTALE: the person changed meanwhile.
 */
int rename_finish(const struct config *cfg, struct store *st, struct person *p, bool resume,
		  const struct store_audit *ev, bool *files_changed, char *err, size_t errlen);

#endif
