/*
 * bench_durability.c: what synchronous = FULL costs an activation. One
 * activation commits six small transactions (the failure reset, reserve,
 * the intent, activate and two audit rows); this times six such commits
 * on a WAL database in DIR, with FULL (what store/sqlite.c sets) and with NORMAL
 * (the peer), and prints the two medians in milliseconds per activation.
 *
 *   bench_durability DIR RUNS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>

#include "benchutil.h"

#define COMMITS 6

static int run(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* The median ms of RUNS activations' worth of commits at one setting. */
static double measure(const char *dir, const char *sync, int runs)
{
	char path[4200], pragma[64];
	double *t = calloc((size_t)runs, sizeof(double)), m;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/durability-%s.db", dir, sync);
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s", sync);
	if (!t || sqlite3_open(path, &db) != SQLITE_OK || run(db, "PRAGMA journal_mode = WAL") || run(db, pragma) ||
	    run(db, "CREATE TABLE IF NOT EXISTS person (id INTEGER PRIMARY KEY, v INTEGER, t TEXT)") ||
	    run(db, "INSERT OR REPLACE INTO person VALUES (1, 0, 'x')"))
		exit(1);
	for (int i = 0; i < runs; i++) {
		double t0 = bench_now_ms();

		for (int c = 0; c < COMMITS; c++)
			if (run(db, "BEGIN IMMEDIATE") || run(db, "UPDATE person SET v = v + 1 WHERE id = 1") ||
			    run(db, "COMMIT"))
				exit(1);
		t[i] = bench_now_ms() - t0;
	}
	sqlite3_close(db);
	m = bench_median(t, runs);
	free(t);
	return m;
}

int main(int argc, char **argv)
{
	int runs;

	if (argc != 3 || (runs = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_durability DIR RUNS\n");
		return 2;
	}
	printf("%.3f\n", measure(argv[1], "FULL", runs));
	printf("%.3f\n", measure(argv[1], "NORMAL", runs));
	return 0;
}
