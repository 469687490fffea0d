/*
 * network.h: the per-host throttle's own limits for the campus's lab and
 * NAT networks (throttle_networks = "10.20.0.0/16=200, 2001:db8::/32=none"):
 * a whole class behind one address must be able to activate at once, while
 * an address from outside still meets throttle_failures.
 */
#ifndef ACTIVATE_NETWORK_H
#define ACTIVATE_NETWORK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Check a list: entries NET[/BITS]=LIMIT separated by commas or spaces,
 * NET an IPv4 or IPv6 address, LIMIT a number of failures per window or
 * "none". err names the entry that is wrong.
 */
int network_list_check(const char *list, char *err, size_t errlen);

/*
 * The limit for rhost: that of the first entry whose network holds it,
 * else fallback. *unlimited for "none". An rhost that is not an address
 * (a host name, empty) gets the fallback.
 */
void network_limit(const char *list, const char *rhost, unsigned fallback, unsigned *limit, bool *unlimited);

#endif
