/*
 * lease.c: the person lock across machines. The flock orders this
 * machine's processes and goes with a killed one; the lease in the store
 * orders the machines and stays after a kill. So the flock is taken first:
 * whoever holds it may take over a lease of the same host, whose holder is
 * then gone, and a retry on the machine where a dialogue was killed goes
 * on at once; another machine waits until the lease expires.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lease.h"
#include "person.h"

#define HOST_ID_LEN 32			/* hex digits: 16 random bytes */
#define HOST_ID_BYTES (HOST_ID_LEN / 2)
#define WAIT_TICK_MS 200

static bool host_id_valid(const char *id)
{
	size_t n = strlen(id);

	return n == HOST_ID_LEN && strspn(id, "0123456789abcdef") == n;
}

static int read_host_id(int dir, char *out, size_t outlen)
{
	char buf[HOST_ID_LEN + 2];
	int fd = openat(dir, "host", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!host_id_valid(buf) || strlen(buf) >= outlen)
		return -EINVAL;
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

/* Written whole under a name of this process's, then linked: a reader never sees half of it. */
static int make_host_id(int dir)
{
	unsigned char raw[HOST_ID_BYTES];
	char hex[HOST_ID_LEN + 1], tmp[64];
	int fd, r = 0;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	hex[HOST_ID_LEN] = '\n';
	snprintf(tmp, sizeof(tmp), ".host.%ld", (long)getpid());
	unlinkat(dir, tmp, 0);
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, hex, sizeof(hex)) != (ssize_t)sizeof(hex) || fsync(fd) != 0)
		r = -EIO;
	close(fd);
	if (r == 0 && linkat(dir, tmp, dir, "host", 0) != 0 && errno != EEXIST)
		r = -errno;
	unlinkat(dir, tmp, 0);
	return r;
}

int lease_host_id(const struct config *cfg, char *out, size_t outlen)
{
	int dir, r;

	if (mkdir(cfg->run_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	dir = open(cfg->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	r = read_host_id(dir, out, outlen);
	if (r == -ENOENT) {
		r = make_host_id(dir);
		if (r == 0)
			r = read_host_id(dir, out, outlen);
	}
	close(dir);
	return r;
}

struct lease_op {
	struct lease *l;
	int (*op)(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds);
};

static int lease_change(struct store *st, void *ctx)
{
	struct lease_op *o = ctx;

	return o->op(st, o->l->person, &o->l->me, o->l->seconds);
}

static int release_op(struct store *st, int64_t person, const struct store_lease *me, unsigned seconds)
{
	(void)seconds;
	return store_lease_release(st, person, me);
}

static int run_op(struct lease *l, struct store *st,
		  int (*op)(struct store *, int64_t, const struct store_lease *, unsigned))
{
	struct lease_op o = { l, op };

	return store_transaction(st, lease_change, &o);
}

static int take_stored(struct lease *l, struct store *st, int wait_ms)
{
	struct timespec tick = { 0, WAIT_TICK_MS * 1000L * 1000 };
	int r, waited = 0;

	while ((r = run_op(l, st, store_lease_take)) == -EBUSY && waited < wait_ms) {
		nanosleep(&tick, NULL);
		waited += WAIT_TICK_MS;
	}
	return r;
}

int lease_take(struct lease *l, const struct config *cfg, struct store *st, int64_t person, int wait_ms)
{
	int r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->person = person;
	l->seconds = cfg->dialogue_timeout + LEASE_MARGIN_S;
	l->me.pid = getpid();
	r = lease_host_id(cfg, l->me.host, sizeof(l->me.host));
	if (r)
		return r;
	r = person_lock(cfg, person, wait_ms);
	if (r < 0)
		return r;
	l->fd = r;
	r = take_stored(l, st, wait_ms);
	if (r) {
		close(l->fd);
		l->fd = -1;
	}
	return r;
}

int lease_renew(struct lease *l, struct store *st)
{
	return l->fd < 0 ? -ESTALE : run_op(l, st, store_lease_renew);
}

void lease_release(struct lease *l, struct store *st)
{
	if (l->fd < 0)
		return;
	run_op(l, st, release_op);
	close(l->fd);
	l->fd = -1;
}
