/*
 * launcher.h: the one entry point of pam_activate_relay.so, which
 * pam_activate.so loads for the trigger user only.
 */
#ifndef ACTIVATE_LAUNCHER_H
#define ACTIVATE_LAUNCHER_H

#include <security/pam_modules.h>

#define LAUNCHER_SYMBOL "pam_activate_run"

/* Run the activation for the trigger user; returns a PAM status. */
typedef int launcher_fn(pam_handle_t *pamh, int argc, const char **argv);
int pam_activate_run(pam_handle_t *pamh, int argc, const char **argv);

#endif
