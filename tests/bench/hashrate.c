/*
 * hashrate.c: PIN hashes per second on one thread at a hash cost, the
 * yardstick for the import's use of every core. Usage: hashrate COST N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "config.h"
#include "secret.h"

int main(int argc, char **argv)
{
	struct config cfg;
	char hash[SECRET_HASH_MAX], pin[16], id[24];
	unsigned char pepper[SECRET_PEPPER_BYTES];
	struct timespec a, b;
	char err[CONFIG_ERROR_MAX];
	long n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: hashrate min|interactive|moderate N\n");
		return 2;
	}
	config_defaults(&cfg);
	if (secret_init() != 0 || config_set(&cfg, "pin_hash_cost", argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "hashrate: %s\n", err);
		return 2;
	}
	randombytes_buf(pepper, sizeof(pepper));
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%ld", 10000000 + i);
		secret_random_pin(8, pin, sizeof(pin));
		if (secret_pin_hash(pepper, id, pin, cfg.pin_hash_cost, hash) != 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (double)n / ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}
