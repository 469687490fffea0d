/* fault.c: the test builds' fault points (see fault.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

#ifdef ACTIVATE_FAULTS
void fault_point(const struct config *cfg, const char *step)
{
	char path[CONFIG_PATH_MAX + 8], want[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/fault", cfg->run_dir);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(want, sizeof(want), f))
		want[strcspn(want, "\n")] = '\0';
	fclose(f);
	if (strcmp(want, step) == 0)
		_exit(99);
}
#endif
