/* network.c: throttle limits by network (see network.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"
#include "text.h"

#define ENTRY_MAX 96

struct net {
	int family;
	unsigned char addr[16];
	unsigned bits;
	bool unlimited;
	unsigned limit;
};

static int parse_address(const char *text, struct net *n)
{
	if (inet_pton(AF_INET, text, n->addr) == 1) {
		n->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, n->addr) == 1) {
		n->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int parse_limit(const char *text, struct net *n)
{
	n->unlimited = strcmp(text, "none") == 0;
	if (n->unlimited)
		return 0;
	if (!text_is_digits(text) || strlen(text) > 9)
		return -EINVAL;
	n->limit = (unsigned)strtoul(text, NULL, 10);
	return n->limit > 0 ? 0 : -EINVAL;
}

/* One entry NET[/BITS]=LIMIT, in a copy of at most ENTRY_MAX bytes. */
static int parse_entry(const char *entry, size_t len, struct net *n)
{
	char copy[ENTRY_MAX], *eq, *slash;
	unsigned max;

	if (len == 0 || len >= sizeof(copy))
		return -EINVAL;
	memcpy(copy, entry, len);
	copy[len] = '\0';
	eq = strchr(copy, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	slash = strchr(copy, '/');
	if (slash)
		*slash = '\0';
	if (parse_address(copy, n) != 0 || parse_limit(eq + 1, n) != 0)
		return -EINVAL;
	max = n->family == AF_INET ? 32 : 128;
	if (!slash)
		n->bits = max;
	else if (!text_is_digits(slash + 1) || strlen(slash + 1) > 3 || (n->bits = (unsigned)atoi(slash + 1)) > max)
		return -EINVAL;
	return 0;
}

static bool holds(const struct net *n, int family, const unsigned char *addr)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (family != n->family || memcmp(n->addr, addr, full) != 0)
		return false;
	return rest == 0 || ((n->addr[full] ^ addr[full]) & (0xFF << (8 - rest)) & 0xFF) == 0;
}

/* The entries of list in turn: fn(entry, length, ctx) until it returns nonzero. */
static int each_entry(const char *list, int (*fn)(const char *e, size_t len, void *ctx), void *ctx)
{
	const char *at = list;
	int r = 0;

	while (r == 0 && *at) {
		size_t len;

		at += strspn(at, ", \t");
		len = strcspn(at, ", \t");
		if (len)
			r = fn(at, len, ctx);
		at += len;
	}
	return r;
}

struct check {
	char *err;
	size_t errlen;
};

static int check_one(const char *e, size_t len, void *ctx)
{
	struct check *c = ctx;
	struct net n;

	if (parse_entry(e, len, &n) == 0)
		return 0;
	snprintf(c->err, c->errlen, "'%.*s': expected NETWORK[/BITS]=LIMIT (a number of failures, or none)",
		 (int)(len < 64 ? len : 64), e);
	return -EINVAL;
}

int network_list_check(const char *list, char *err, size_t errlen)
{
	struct check c = { err, errlen };

	return each_entry(list, check_one, &c);
}

struct lookup {
	int family;
	unsigned char addr[16];
	struct net found;
};

static int match_one(const char *e, size_t len, void *ctx)
{
	struct lookup *l = ctx;
	struct net n;

	if (parse_entry(e, len, &n) != 0 || !holds(&n, l->family, l->addr))
		return 0;
	l->found = n;
	return 1;
}

void network_limit(const char *list, const char *rhost, unsigned fallback, unsigned *limit, bool *unlimited)
{
	struct lookup l = { 0 };
	struct net host;

	*limit = fallback;
	*unlimited = false;
	if (!rhost[0] || parse_address(rhost, &host) != 0)
		return;
	l.family = host.family;
	memcpy(l.addr, host.addr, sizeof(l.addr));
	if (each_entry(list, match_one, &l) == 1) {
		*limit = l.found.limit;
		*unlimited = l.found.unlimited;
	}
}
