/*
 * home.c: home directories, made the way a careful mkhomedir makes them.
 * Every step is relative to a directory descriptor reached with O_NOFOLLOW
 * from sysroot, so no symbolic link planted in home_base or skel can send a
 * write or a chown elsewhere. Files are created with O_EXCL, so an
 * interrupted copy is completed, never doubled or overwritten.
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

static int copy_tree(int src, int dst, uid_t uid, gid_t gid, int depth)
{
	int fd = dup(src), r = 0;
	DIR *d;
	struct dirent *e;

	if (depth > MAX_DEPTH)
		return -ELOOP;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (r == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = copy_entry(src, dst, e->d_name, uid, gid, depth);
	closedir(d);
	return r;
}

/* The home itself: new, or ours from an interrupted attempt; never someone else's. */
static int open_home(int base, const char *name, uid_t uid)
{
	struct stat st;
	int fd;

	if (mkdirat(base, name, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || (st.st_uid != 0 && st.st_uid != uid)) {
		close(fd);
		return -EEXIST;
	}
	return fd;
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

int home_create(const struct config *cfg, const char *name, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int root = open(cfg->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC), base = -1, home = -1, r;

	r = root < 0 ? -errno : 0;
	if (r == 0)
		r = base = walk(root, cfg->home_base);
	if (r >= 0)
		r = home = open_home(base, name, uid);
	if (r >= 0)
		r = fill_home(cfg, root, home, uid, gid);
	if (r < 0)
		snprintf(err, errlen, "home %s/%s: %s", cfg->home_base, name,
			 r == -EEXIST ? "exists and belongs to someone else" : strerror(-r));
	if (home >= 0)
		close(home);
	if (base >= 0)
		close(base);
	if (root >= 0)
		close(root);
	return r < 0 ? r : 0;
}
