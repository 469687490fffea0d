/*
 * fault.h: fault injection for tests. In a build with ACTIVATE_FAULTS (the
 * test helper only), FAULT(cfg, "step") ends the process at that step when
 * run_dir/fault names it, as a caller's timeout or kill -9 would; when it
 * says "pause:step", the process waits there (and says so in run_dir/paused)
 * until the test removes run_dir/fault, so that a race can be run in a
 * chosen order; "NAME:N" sets the bound FAULT_NUMBER(cfg, "NAME", dflt)
 * gives (a test waits one second for a lock, not the fifteen a host
 * waits). In every other build it is nothing, and the bound is dflt.
 */
#ifndef ACTIVATE_FAULT_H
#define ACTIVATE_FAULT_H

#include "config.h"

#ifdef ACTIVATE_FAULTS
void fault_point(const struct config *cfg, const char *step);
int fault_number(const struct config *cfg, const char *name, int dflt);
#define FAULT(cfg, step) fault_point(cfg, step)
#define FAULT_NUMBER(cfg, name, dflt) fault_number(cfg, name, dflt)
#else
#define FAULT(cfg, step) ((void)0)
#define FAULT_NUMBER(cfg, name, dflt) (dflt)
#endif

#endif
