/*
 * fault.h: fault injection for tests. In a build with ACTIVATE_FAULTS (the
 * test helper only), FAULT(cfg, "step") ends the process at that step when
 * run_dir/fault names it, as a caller's timeout or kill -9 would; when it
 * says "pause:step", the process waits there (and says so in run_dir/paused)
 * until the test removes run_dir/fault, so that a race can be run in a
 * chosen order. In every other build it is nothing.
 */
#ifndef ACTIVATE_FAULT_H
#define ACTIVATE_FAULT_H

#include "config.h"

#ifdef ACTIVATE_FAULTS
void fault_point(const struct config *cfg, const char *step);
#define FAULT(cfg, step) fault_point(cfg, step)
#else
#define FAULT(cfg, step) ((void)0)
#endif

#endif
