/*
 * slot.h: the host-wide cap on Argon2id computations at once. Each slot is a
 * byte of one lock file under run_dir, held with an open-file-description
 * lock, so a helper that dies frees its slot without help.
 */
#ifndef ACTIVATE_SLOT_H
#define ACTIVATE_SLOT_H

/*
 * Take one of n slots, waiting up to wait_ms. 0 and *fd (to pass to
 * slot_release); -EBUSY when none came free in time.
 */
int slot_acquire(const char *run_dir, unsigned n, unsigned wait_ms, int *fd);
void slot_release(int fd);

#endif
