/*
 * bench_accounts.c: the cost of provisioning one account into a sysroot
 * that already holds many, against the floor of copying, fsyncing and
 * renaming the three account files. Prints two medians in milliseconds.
 *
 *   bench_accounts SYSROOT ADDS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "accounts.h"
#include "config.h"
#include "logindefs.h"
#include "password.h"

/* The floor: for passwd, shadow and group, a copy written, fsynced and renamed over. */
static void floor_once(int etc)
{
	static const char *const files[] = { "passwd", "shadow", "group" };

	for (int i = 0; i < 3; i++) {
		char tmp[32], buf[1 << 16];
		int in = openat(etc, files[i], O_RDONLY), out;
		ssize_t n;

		snprintf(tmp, sizeof(tmp), "%s.floor", files[i]);
		out = openat(etc, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				exit(1);
		fsync(out);
		close(out);
		close(in);
		renameat(etc, tmp, etc, files[i]);
	}
	fsync(etc);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct logindefs ld;
	char err[512], etcpath[4200], name[32];
	double *prov, *flo, *pw;
	int adds, etc;

	if (argc != 3 || (adds = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_accounts SYSROOT ADDS\n");
		return 2;
	}
	config_defaults(&cfg);
	snprintf(cfg.sysroot, sizeof(cfg.sysroot), "%s", argv[1]);
	cfg.skel[0] = '\0';
	if (logindefs_read(cfg.sysroot, &ld, err, sizeof(err)) != 0)
		return 1;
	snprintf(etcpath, sizeof(etcpath), "%s/etc", argv[1]);
	etc = open(etcpath, O_RDONLY | O_DIRECTORY);
	prov = calloc((size_t)adds, sizeof(double));
	flo = calloc((size_t)adds, sizeof(double));
	pw = calloc((size_t)adds, sizeof(double));
	for (int i = 0; i < adds; i++) {
		struct account a = { .name = name, .gecos = "Bench Mark", .hash = "$y$j9T$abc$def" };
		double t0;

		snprintf(name, sizeof(name), "bench%d", i);
		t0 = bench_now_ms();
		if (accounts_provision(&cfg, &ld, &a, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_accounts: %s\n", err);
			return 1;
		}
		prov[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		{
			char hash[PASSWORD_HASH_MAX];

			if (password_hash(&cfg, &ld, "correct-horse-battery-staple", hash, sizeof(hash)) != 0)
				return 1;
		}
		pw[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		floor_once(etc);
		flo[i] = bench_now_ms() - t0;
	}
	printf("%.3f\n%.3f\n%.3f\n", bench_median(prov, adds), bench_median(flo, adds), bench_median(pw, adds));
	return 0;
}
