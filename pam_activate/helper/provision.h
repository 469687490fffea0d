/*
 * provision.h: the dialogue after the details verify and the prerequisites
 * hold (DESIGN 3.5-3.9): terms of use, username, password, the account,
 * and the closing words.
 */
#ifndef ACTIVATE_PROVISION_H
#define ACTIVATE_PROVISION_H

#include "dialogue.h"

enum dialogue_outcome provision_run(struct dialogue *d, struct person *p);

#endif
