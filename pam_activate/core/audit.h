/*
 * audit.h: every outcome of a dialogue or an administrator's change, to
 * syslog (LOG_AUTHPRIV) and to the audit table, whose rows are chained by
 * BLAKE2b so that a removed or edited row shows.
 */
#ifndef ACTIVATE_AUDIT_H
#define ACTIVATE_AUDIT_H

#include "store.h"

/*
 * Record ev (ev->at 0: now) in its own transaction and to syslog at
 * priority. Never pass a secret, nor an ID number that matched nobody.
 * A database failure is logged and returned; the syslog line is written
 * either way.
 */
int audit_record(struct store *st, int priority, const struct store_audit *ev);

/*
 * The same in two halves, for an event that must be recorded exactly when
 * a change is: the row inside the caller's transaction (with the change it
 * records, so a kill cannot keep one without the other), and the syslog
 * line after the caller's commit.
 */
int audit_append(struct store *st, const struct store_audit *ev);
void audit_log(int priority, const struct store_audit *ev);

/*
 * Both halves around a change: one transaction with change(st, ctx) (which
 * decides on the rows as they are inside it) and ev's row (ev NULL: the
 * change alone), then the syslog line. 0, or the change's or the store's
 * error (then nothing of either was written).
 */
int audit_change(struct store *st, int priority, const struct store_audit *ev,
		 int (*change)(struct store *st, void *ctx), void *ctx);

/* The chain hash of a row, given the hash of the row before it. */
void audit_chain_hash(const unsigned char prev[32], const struct store_audit *ev,
		      unsigned char out[32]);

/* What audit_verify found. */
struct audit_verdict {
	int64_t rows, first_seq, last_seq, last_at;
	int64_t broken_at;	/* the first row whose hash does not follow, or 0 */
	int64_t missing_from, missing_to;	/* the first gap in seq, or 0 */
};

/*
 * Walk the whole trail, oldest first, recomputing the chain. Rows removed
 * from the end leave no trace in a chain: compare last_seq and last_at
 * with syslog. 0, or a database error.
 */
int audit_verify(struct store *st, struct audit_verdict *v);

#endif
