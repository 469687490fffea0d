/*
 * accounts.c: the local account files and home directories. Provisioning is
 * the next piece of work; until it lands an eligible person is told their
 * details are verified and nothing is changed.
 */
#include <errno.h>

#include "accounts.h"

int accounts_provision(const struct config *cfg, struct person *p)
{
	(void)cfg;
	(void)p;
	return -ENOSYS;
}
