/*
 * home.c: home directories, made the way a careful mkhomedir makes them.
 * Every step is relative to a directory descriptor reached with O_NOFOLLOW
 * from sysroot, so no symbolic link planted in home_base or skel can send a
 * write or a chown elsewhere.
 *
 * The home is built whole under a name no user can have (.NAME.activate,
 * root's and 0700) and renamed into place last, so a home at NAME is
 * complete, and one this activation did not make (not owned by the new
 * uid) is refused, never handed over with someone else's files inside. An
 * interrupted build is thrown away and started over: a half-written file
 * or one not yet chowned never survives into the home.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "home.h"

#define MAX_DEPTH 32
#define HOME_TMP_MAX 300

/* Walk path (absolute, under root) one component at a time, never following a link. */
static int walk(int root, const char *path)
{
	char copy[CONFIG_PATH_MAX], *save = NULL;
	int fd = dup(root);

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(fd);
		fd = next;
	}
	return fd < 0 ? -errno : fd;
}

static int copy_data(int in, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0)
				return -errno;
			off += w;
		}
	return n < 0 ? -errno : 0;
}

static int copy_file(int src, int dst, const char *name, const struct stat *st, uid_t uid, gid_t gid)
{
	int in, out, r;

	in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		r = errno == EEXIST ? 0 : -errno;	/* copied before an interruption */
		close(in);
		return r;
	}
	r = copy_data(in, out);
	if (r == 0 && (fchown(out, uid, gid) != 0 || fchmod(out, st->st_mode & 0777) != 0))
		r = -errno;
	close(in);
	if (close(out) != 0 && r == 0)
		r = -errno;
	return r;
}

static int copy_link(int src, int dst, const char *name, uid_t uid, gid_t gid)
{
	char target[CONFIG_PATH_MAX];
	ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (symlinkat(target, dst, name) != 0)
		return errno == EEXIST ? 0 : -errno;
	return fchownat(dst, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ? -errno : 0;
}

static int copy_tree(int src, int dst, uid_t uid, gid_t gid, int depth);

static int copy_dir(int src, int dst, const char *name, const struct stat *st, uid_t uid, gid_t gid,
		    int depth)
{
	int in, out, r;

	if (mkdirat(dst, name, 0700) != 0 && errno != EEXIST)
		return -errno;
	in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = in < 0 || out < 0 ? -errno : copy_tree(in, out, uid, gid, depth + 1);
	if (r == 0 && (fchown(out, uid, gid) != 0 || fchmod(out, st->st_mode & 0777) != 0))
		r = -errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int copy_entry(int src, int dst, const char *name, uid_t uid, gid_t gid, int depth)
{
	struct stat st;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return copy_dir(src, dst, name, &st, uid, gid, depth);
	if (S_ISREG(st.st_mode))
		return copy_file(src, dst, name, &st, uid, gid);
	if (S_ISLNK(st.st_mode))
		return copy_link(src, dst, name, uid, gid);
	return 0;	/* FIFOs, sockets and devices have no place in a new home */
}

/* fn on every entry of the directory open as dir (the descriptor stays the caller's), until one fails. */
static int for_each_entry(int dir, int (*fn)(int dir, const char *name, void *ctx), void *ctx)
{
	int fd = dup(dir), r = 0;
	DIR *d;
	struct dirent *e;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (r == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			r = fn(dir, e->d_name, ctx);
	closedir(d);
	return r;
}

struct copy {
	int dst;
	uid_t uid;
	gid_t gid;
	int depth;
};

static int copy_one(int src, const char *name, void *ctx)
{
	struct copy *c = ctx;

	return copy_entry(src, c->dst, name, c->uid, c->gid, c->depth);
}

static int copy_tree(int src, int dst, uid_t uid, gid_t gid, int depth)
{
	struct copy c = { dst, uid, gid, depth };

	return depth > MAX_DEPTH ? -ELOOP : for_each_entry(src, copy_one, &c);
}

static int fill_home(const struct config *cfg, int root, int home, uid_t uid, gid_t gid)
{
	int skel, r = 0;

	if (cfg->skel[0]) {
		skel = walk(root, cfg->skel);
		if (skel >= 0) {
			r = copy_tree(skel, home, uid, gid, 0);
			close(skel);
		} else if (skel != -ENOENT)
			r = skel;
	}
	if (r == 0 && (fchown(home, uid, gid) != 0 || fchmod(home, cfg->home_mode) != 0))
		r = -errno;
	return r;
}

static int remove_tree(int dir, const char *name, int depth);

static int remove_one(int dir, const char *name, void *depth)
{
	return remove_tree(dir, name, *(int *)depth + 1);
}

/*
 * Remove name under dir and everything in it, never following a link.
 * Deeper than a copy may go: the tree may be one its user grew in a home
 * that was never renamed into place (only theirs is at stake), and the
 * next attempt must be able to start over.
 */
static int remove_tree(int dir, const char *name, int depth)
{
	int fd, r;

	if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = depth > 4 * MAX_DEPTH ? -ELOOP : for_each_entry(fd, remove_one, &depth);
	close(fd);
	if (r == 0 && unlinkat(dir, name, AT_REMOVEDIR) != 0)
		r = -errno;
	return r;
}

/* 0: name is the home this activation made (owned by uid); -ENOENT: none yet; -EEXIST: someone else's. */
static int home_state(int base, const char *name, uid_t uid)
{
	struct stat st;

	if (fstatat(base, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? -ENOENT : -errno;
	return S_ISDIR(st.st_mode) && st.st_uid == uid && uid != 0 ? 0 : -EEXIST;
}

static int build_home(const struct config *cfg, int root, int base, const char *tmp, uid_t uid, gid_t gid)
{
	int home, r = remove_tree(base, tmp, 0);

	if (r == 0 && mkdirat(base, tmp, 0700) != 0)
		r = -errno;
	if (r)
		return r;
	home = openat(base, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (home < 0)
		return -errno;
	r = fill_home(cfg, root, home, uid, gid);
	close(home);
	return r;
}

static int place_home(const struct config *cfg, int root, int base, const char *name, uid_t uid, gid_t gid,
		      bool fresh)
{
	char tmp[HOME_TMP_MAX];
	int r = home_state(base, name, uid);

	if (r == 0 && fresh)
		r = -EEXIST;	/* owned by the uid, but left by someone before (a reused id): not ours */
	if (r != -ENOENT)
		return r;	/* made already (0), or not ours */
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.activate", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	r = build_home(cfg, root, base, tmp, uid, gid);
	if (r == 0 && renameat(base, tmp, base, name) != 0)
		r = errno == ENOTEMPTY ? -EEXIST : -errno;
	if (r == 0 && fsync(base) != 0)
		r = -errno;
	return r;
}

int home_create(const struct config *cfg, const char *name, uid_t uid, gid_t gid, bool fresh, char *err,
		size_t errlen)
{
	int root = open(cfg->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC), base = -1, r;

	r = root < 0 ? -errno : 0;
	if (r == 0)
		r = base = walk(root, cfg->home_base);
	if (r >= 0)
		r = place_home(cfg, root, base, name, uid, gid, fresh);
	if (r < 0)
		snprintf(err, errlen, "home %s/%s: %s", cfg->home_base, name,
			 r == -EEXIST ? "exists and was not made by this activation" : strerror(-r));
	if (base >= 0)
		close(base);
	if (root >= 0)
		close(root);
	return r < 0 ? r : 0;
}
