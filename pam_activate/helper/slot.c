/*
 * slot.c: at most max_concurrent_hashes Argon2id hashes at once on this
 * host: a hundred pre-auth SSH connections must not take 64 MiB each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slot.h"

#define POLL_MS 20

static int open_lockfile(const char *run_dir)
{
	char path[4200];
	int fd;

	if (mkdir(run_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/hash-slots", run_dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int try_slots(int fd, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = i, .l_len = 1 };

		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
	}
	return -EBUSY;
}

int slot_acquire(const char *run_dir, unsigned n, unsigned wait_ms, int *fd)
{
	struct timespec tick = { 0, POLL_MS * 1000000L };
	unsigned waited = 0;
	int r, lfd = open_lockfile(run_dir);

	if (lfd < 0)
		return lfd;
	while ((r = try_slots(lfd, n)) == -EBUSY && waited < wait_ms) {
		nanosleep(&tick, NULL);
		waited += POLL_MS;
	}
	if (r) {
		close(lfd);
		return r;
	}
	*fd = lfd;
	return 0;
}

void slot_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
