/*
 * hook.c: child processes after provisioning, started with posix_spawn, a
 * clean environment and stdin/stdout on /dev/null, and waited for with a
 * deadline: a hook that hangs is killed, not waited on forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

static int wait_deadline(pid_t pid, unsigned timeout_s)
{
	struct timespec tick = { 0, 20L * 1000 * 1000 };
	int status = 0;

	for (unsigned waited = 0; waited < timeout_s * 50; waited++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
		if (w < 0 && errno != EINTR)
			return -errno;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

static int spawn(const char *path, char *const argv[], char *const envp[], unsigned timeout_s)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	return r ? -r : wait_deadline(pid, timeout_s);
}

int hook_run(const struct config *cfg, const char *username, uid_t uid, const char *home,
	     const char *id_number, unsigned timeout_s)
{
	char e_user[64], e_uid[48], e_home[CONFIG_PATH_MAX + 32], e_id[96];
	char *argv[] = { (char *)cfg->hook, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", e_user, e_uid, e_home, e_id, NULL };

	if (!cfg->hook[0])
		return 0;
	snprintf(e_user, sizeof(e_user), "ACTIVATE_USERNAME=%s", username);
	snprintf(e_uid, sizeof(e_uid), "ACTIVATE_UID=%u", (unsigned)uid);
	snprintf(e_home, sizeof(e_home), "ACTIVATE_HOME=%s", home);
	snprintf(e_id, sizeof(e_id), "ACTIVATE_ID_NUMBER=%s", id_number);
	return spawn(cfg->hook, argv, envp, timeout_s);
}

void hook_invalidate_caches(const struct config *cfg)
{
	static char *const nscd[] = { "nscd", "-i", "passwd", "-i", "group", NULL };
	static char *const sss[] = { "sss_cache", "-U", "-G", NULL };
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

	if (strcmp(cfg->sysroot, "/") != 0)
		return;
	if (access("/usr/sbin/nscd", X_OK) == 0)
		spawn("/usr/sbin/nscd", nscd, env, 10);
	if (access("/usr/sbin/sss_cache", X_OK) == 0)
		spawn("/usr/sbin/sss_cache", sss, env, 10);
}
