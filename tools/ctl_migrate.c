/*
 * ctl_migrate.c: activatectl migrate-store --to URL: the configured store
 * (a SQLite file, as a campus starts) copied whole into an empty PostgreSQL
 * database, then checked there: the counts of every table, every person
 * row, and the audit chain recomputed on the copy and compared with the
 * original's. The original is left as it was, a backup.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "ctl.h"

/* One digest of every person row, in ID-number order. */
static int digest_person(const struct person *p, void *ctx)
{
	/* both backends fill a person through store_read_person, from zero: its bytes are canonical */
	crypto_generichash_update(ctx, (const unsigned char *)p, sizeof(*p));
	return 0;
}

static int people_digest(struct store *st, unsigned char out[32])
{
	crypto_generichash_state h;
	int r;

	crypto_generichash_init(&h, NULL, 0, 32);
	r = store_person_foreach(st, -1, digest_person, &h);
	crypto_generichash_final(&h, out, 32);
	return r;
}

static bool same_verdict(const struct audit_verdict *a, const struct audit_verdict *b)
{
	return a->rows == b->rows && a->first_seq == b->first_seq && a->last_seq == b->last_seq &&
	       a->last_at == b->last_at && a->broken_at == b->broken_at && a->missing_from == b->missing_from &&
	       a->missing_to == b->missing_to;
}

/* The copy against the original; 0 when every check holds, else says which failed. */
static int verify(struct store *from, struct store *to, const struct store_counts *n)
{
	struct store_counts m;
	struct audit_verdict va, vb;
	unsigned char da[32], db[32];

	if (store_count(to, &m) != 0 || memcmp(n, &m, sizeof(m)) != 0) {
		ctl_error("migrate-store: the copy has %" PRId64 " people, %" PRId64 " audit rows and %" PRId64
			  " throttle rows, the original %" PRId64 ", %" PRId64 " and %" PRId64, m.people, m.audit,
			  m.throttle, n->people, n->audit, n->throttle);
		return -1;
	}
	if (people_digest(from, da) != 0 || people_digest(to, db) != 0 || sodium_memcmp(da, db, 32) != 0) {
		ctl_error("migrate-store: the person rows of the copy differ from the original's");
		return -1;
	}
	if (audit_verify(from, &va) != 0 || audit_verify(to, &vb) != 0 || !same_verdict(&va, &vb)) {
		ctl_error("migrate-store: the audit chain of the copy differs from the original's");
		return -1;
	}
	if (vb.broken_at || vb.missing_from)
		ctl_error("migrate-store: warning: the original's audit chain is not intact; copied as it is "
			  "(activatectl audit --verify)");
	return 0;
}

static int open_target(struct ctl *c, const char *url, struct store **to)
{
	const struct store_options o = {
		c->cfg.database_password_file, c->cfg.database_ca_file, c->cfg.database_timeout,
	};
	char err[CONFIG_ERROR_MAX];

	if (strcmp(url, c->cfg.database) == 0) {
		ctl_error("migrate-store: %s is the configured database already", url);
		return -1;
	}
	if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0) {
		ctl_error("migrate-store: --to takes a postgresql:// URL, not '%s'", url);
		return -1;
	}
	if (store_open_with(url, &o, STORE_CREATE, to, err, sizeof(err)) != 0) {
		ctl_error("migrate-store: %s", err);
		return -1;
	}
	return 0;
}

/* The target must hold nothing: a copy over rows of its own would mix two campuses. */
static int check_empty(struct store *to, const char *url)
{
	struct store_counts m;

	if (store_count(to, &m) != 0) {
		ctl_error("migrate-store: %s: %s", url, store_errmsg(to));
		return -1;
	}
	if (m.people || m.audit || m.throttle) {
		ctl_error("migrate-store: %s is not empty (%" PRId64 " people, %" PRId64 " audit rows, %" PRId64
			  " throttle rows); it copies into an empty database only", url, m.people, m.audit, m.throttle);
		return -1;
	}
	return 0;
}

static int parse_to(int argc, char **argv, const char **url)
{
	static const struct option options[] = {
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*url = NULL;
	while ((opt = getopt_long(argc, argv, "t:", options, NULL)) != -1) {
		if (opt != 't')
			return -1;
		*url = optarg;
	}
	return *url && optind == argc ? 0 : -1;
}

int ctl_cmd_migrate_store(struct ctl *c, int argc, char **argv)
{
	struct store_counts n;
	struct store *to = NULL;
	const char *url;
	int ret = CTL_FAIL;

	if (parse_to(argc, argv, &url) != 0)
		return ctl_usage("migrate-store");
	if (ctl_open_store(c) != 0 || open_target(c, url, &to) != 0 || check_empty(to, url) != 0)
		goto out;
	if (store_count(c->st, &n) != 0) {
		ctl_error("migrate-store: reading %s: %s", c->cfg.database, store_errmsg(c->st));
		goto out;
	}
	if (store_copy(c->st, to) != 0) {
		ctl_error("migrate-store: copying: %s; nothing was written to %s", store_errmsg(to), url);
		goto out;
	}
	if (verify(c->st, to, &n) != 0)
		goto out;
	printf("%s -> %s: %" PRId64 " people, %" PRId64 " audit rows, %" PRId64 " throttle rows copied and "
	       "verified (counts, every person row, the audit chain)\n", c->cfg.database, url, n.people, n.audit,
	       n.throttle);
	printf("next: database = %s in activate.conf on every machine; %s is kept as it was\n", url,
	       c->cfg.database);
	ret = CTL_OK;
out:
	store_close(to);
	return ret;
}
