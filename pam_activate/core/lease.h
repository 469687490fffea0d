/*
 * lease.h: one actor a person at a time, on every machine of one store.
 * A dialogue provisioning a person and activatectl changing them exclude
 * each other: this machine's processes by the host's flock (person_lock),
 * the machines by a lease in the store (store_lease_take), taken in that
 * order.
 */
#ifndef ACTIVATE_LEASE_H
#define ACTIVATE_LEASE_H

#include <stdint.h>

#include "config.h"
#include "store.h"

/*
 * How long a lease lasts beyond dialogue_timeout: a holder that was killed
 * keeps other machines waiting that long (this machine takes it over at
 * once), and a live one never needs longer, since it renews before it
 * commits.
 */
#define LEASE_MARGIN_S 60

struct lease {
	int fd;			/* the host's flock; -1: not held */
	int64_t person;
	unsigned seconds;
	struct store_lease me;	/* this machine's id and this process */
};

/*
 * Take the person: the flock, then the lease, waiting at most wait_ms for
 * both (0: not at all). 0, -EBUSY when another process holds it (here or
 * on another machine), or another negative errno (run_dir, the store).
 */
int lease_take(struct lease *l, const struct config *cfg, struct store *st, int64_t person, int wait_ms);

/* The lease for another full term, just before a commit; -ESTALE if it is no longer ours. */
int lease_renew(struct lease *l, struct store *st);

/* Let the person go (a lease the store cannot clear now expires by itself). */
void lease_release(struct lease *l, struct store *st);

/*
 * This machine's id (the file run_dir/host, made once with random bytes):
 * processes that share run_dir share the flocks, and so count as one host.
 */
int lease_host_id(const struct config *cfg, char *out, size_t outlen);

#endif
