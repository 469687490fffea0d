/* fault.c: the test builds' fault points (see fault.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

#ifdef ACTIVATE_FAULTS
/* Say so in run_dir/paused, then wait (30 s at most) until the test removes run_dir/fault. */
static void pause_here(const struct config *cfg, const char *fault)
{
	char paused[CONFIG_PATH_MAX + 8];
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	FILE *f;

	snprintf(paused, sizeof(paused), "%s/paused", cfg->run_dir);
	f = fopen(paused, "we");
	if (f)
		fclose(f);
	for (int i = 0; i < 3000 && access(fault, F_OK) == 0; i++)
		nanosleep(&tick, NULL);
	unlink(paused);
}

/* The first line of run_dir/fault into want; 0, or -1 when there is none. */
static int read_fault(const struct config *cfg, char *path, size_t pathlen, char *want, size_t wantlen)
{
	FILE *f;

	snprintf(path, pathlen, "%s/fault", cfg->run_dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(want, (int)wantlen, f))
		want[strcspn(want, "\n")] = '\0';
	fclose(f);
	return 0;
}

int fault_number(const struct config *cfg, const char *name, int dflt)
{
	char path[CONFIG_PATH_MAX + 8], want[64] = "";
	size_t n = strlen(name);
	int v;

	if (read_fault(cfg, path, sizeof(path), want, sizeof(want)) != 0 || strncmp(want, name, n) != 0 ||
	    want[n] != ':')
		return dflt;
	v = atoi(want + n + 1);
	return v > 0 ? v : dflt;
}

void fault_point(const struct config *cfg, const char *step)
{
	char path[CONFIG_PATH_MAX + 8], want[64] = "";

	if (read_fault(cfg, path, sizeof(path), want, sizeof(want)) != 0)
		return;
	if (strcmp(want, step) == 0)
		_exit(99);
	if (strncmp(want, "pause:", 6) == 0 && strcmp(want + 6, step) == 0)
		pause_here(cfg, path);
}
#endif
