/*
 * accounts.h: the local account files and home directories. The dialogue
 * reaches provisioning through this one call.
 */
#ifndef ACTIVATE_ACCOUNTS_H
#define ACTIVATE_ACCOUNTS_H

#include "config.h"
#include "person.h"

/*
 * Create the account of an eligible, verified person. -ENOSYS while
 * provisioning is not built in (the provisioning issue fills it in).
 */
int accounts_provision(const struct config *cfg, struct person *p);

#endif
