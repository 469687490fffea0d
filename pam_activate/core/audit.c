/*
 * audit.c: syslog and the audit trail. The chain hash covers every field of
 * a row and the hash of the row before, so `activatectl audit --verify` can
 * tell an intact trail from one with rows edited or taken out.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"

static void put_field(crypto_generichash_state *h, const char *text)
{
	unsigned char len[4];
	size_t n = text ? strlen(text) : 0;

	len[0] = (unsigned char)(n >> 24);
	len[1] = (unsigned char)(n >> 16);
	len[2] = (unsigned char)(n >> 8);
	len[3] = (unsigned char)n;
	crypto_generichash_update(h, len, sizeof(len));
	crypto_generichash_update(h, (const unsigned char *)(text ? text : ""), n);
}

void audit_chain_hash(const unsigned char prev[32], const struct store_audit *ev, unsigned char out[32])
{
	crypto_generichash_state h;
	char num[48];

	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, prev, 32);
	snprintf(num, sizeof(num), "%" PRId64 " %" PRId64, ev->at, ev->person);
	put_field(&h, num);
	put_field(&h, ev->event);
	put_field(&h, ev->username);
	put_field(&h, ev->service);
	put_field(&h, ev->rhost);
	put_field(&h, ev->tty);
	put_field(&h, ev->result);
	crypto_generichash_final(&h, out, 32);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* person is the row number, never the ID number: that may be a mistyped PIN. */
static void log_line(int priority, const struct store_audit *ev)
{
	syslog(LOG_AUTHPRIV | priority, "%s: %s person=%" PRId64 " user=%s service=%s rhost=%s tty=%s",
	       ev->event, ev->result, ev->person, or_dash(ev->username), or_dash(ev->service),
	       or_dash(ev->rhost), or_dash(ev->tty));
}

int audit_append(struct store *st, const struct store_audit *ev)
{
	unsigned char prev[32], hash[32];
	struct store_audit e = *ev;
	int empty, r;

	if (!e.at)
		e.at = (int64_t)time(NULL);
	r = store_audit_last_hash(st, prev, &empty);
	if (r == 0) {
		audit_chain_hash(prev, &e, hash);
		r = store_audit_insert(st, &e, hash);
	}
	return r;
}

void audit_log(int priority, const struct store_audit *ev)
{
	struct store_audit e = *ev;

	if (!e.at)
		e.at = (int64_t)time(NULL);
	log_line(priority, &e);
}

struct audited {
	const struct store_audit *ev;
	int (*change)(struct store *st, void *ctx);
	void *ctx;
};

static int change_and_append(struct store *st, void *ctx)
{
	const struct audited *a = ctx;
	int r = a->change ? a->change(st, a->ctx) : 0;

	return r == 0 && a->ev ? audit_append(st, a->ev) : r;
}

int audit_change(struct store *st, int priority, const struct store_audit *ev,
		 int (*change)(struct store *st, void *ctx), void *ctx)
{
	struct audited a = { ev, change, ctx };
	int r = store_transaction(st, change_and_append, &a);

	if (r == 0 && ev)
		audit_log(priority, ev);
	return r;
}


int audit_record(struct store *st, int priority, const struct store_audit *ev)
{
	struct store_audit e = *ev;
	int r = 0;

	if (!e.at)
		e.at = (int64_t)time(NULL);
	log_line(priority, &e);
	if (st) {
		struct audited a = { &e, NULL, NULL };

		r = store_transaction(st, change_and_append, &a);
	}
	if (r)
		syslog(LOG_AUTHPRIV | LOG_ERR, "audit trail: cannot append (%s)", store_errmsg(st));
	return r;
}

struct walk {
	struct audit_verdict *v;
	unsigned char prev[32];
};

static int check_row(const struct store_audit_row *row, void *ctx)
{
	struct walk *w = ctx;
	struct audit_verdict *v = w->v;
	unsigned char want[32];
	int64_t expected = v->rows ? v->last_seq + 1 : 1;

	if (row->seq != expected && !v->missing_from) {
		v->missing_from = expected;
		v->missing_to = row->seq - 1;
	}
	audit_chain_hash(w->prev, &row->ev, want);
	if ((!row->hash_ok || sodium_memcmp(want, row->hash, 32) != 0) && !v->broken_at)
		v->broken_at = row->seq;
	memcpy(w->prev, row->hash, 32);
	if (!v->rows)
		v->first_seq = row->seq;
	v->rows++;
	v->last_seq = row->seq;
	v->last_at = row->ev.at;
	return 0;
}

int audit_verify(struct store *st, struct audit_verdict *v)
{
	struct walk w = { .v = v };

	memset(v, 0, sizeof(*v));
	return store_audit_foreach(st, INT64_MIN, 0, check_row, &w);
}
