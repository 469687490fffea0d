/*
 * accounts.c: the local account files, written the way shadow-utils'
 * commonio does it: under the password-file lock, read whole, add lines,
 * write a temporary file in the same directory with the original's owner
 * and mode, fsync, keep the old file as NAME-, rename over, fsync the
 * directory. Lines we do not touch are kept byte for byte.
 *
 * Ids come from reading the files once and then asking NSS about the one
 * chosen (probing NSS id by id from UID_MIN is quadratic in the number of
 * accounts).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "home.h"
#include "text.h"

#define LOCK_WAIT_S 15

enum { F_PASSWD, F_SHADOW, F_GROUP, F_GSHADOW, F_COUNT };
static const char *const file_names[F_COUNT] = { "passwd", "shadow", "group", "gshadow" };

struct acfile {
	char *data;		/* whole file, NUL-terminated (data_alloc) */
	size_t len, cap;
	struct stat st;
	bool exists;
	char *next;		/* the new contents, or NULL: data (+ tail) */
	char *tail;		/* lines appended to data, or NULL; most changes are appends,
				   and copying a 5 MB file to add a line costs more than writing it */
};

struct files {
	int etc;		/* sysroot/etc */
	struct acfile f[F_COUNT];
};

/*
 * Buffers for whole files. A fresh buffer of a few MB faulted in one page at
 * a time costs more than reading the file into it (measured: 1.3 MB, 4 ms
 * against 1.7 ms asking the kernel to populate it at once), and the helper
 * reads them once, so big ones come populated from mmap.
 */
#define POPULATE_MIN (64 * 1024)

static char *data_alloc(size_t cap)
{
	void *p;

	if (cap < POPULATE_MIN)
		return malloc(cap);
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void data_free(char *data, size_t cap)
{
	if (data && cap >= POPULATE_MIN)
		munmap(data, cap);
	else
		free(data);
}

/* The whole file in one buffer sized by fstat (a growing file is read to its end). */
static int read_all(int fd, struct acfile *f)
{
	struct stat st;
	ssize_t n = 0;
	char *p;

	f->cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
	f->len = 0;
	f->data = data_alloc(f->cap);
	while (f->data && (n = read(fd, f->data + f->len, f->cap - f->len - 1)) > 0) {
		f->len += (size_t)n;
		if (f->cap - f->len > 1)
			continue;
		p = data_alloc(f->cap * 2);
		if (p)
			memcpy(p, f->data, f->len);
		data_free(f->data, f->cap);
		f->data = p;
		f->cap *= 2;
	}
	if (!f->data)
		return -ENOMEM;
	f->data[f->len] = '\0';
	if (n == 0 && memchr(f->data, '\0', f->len))
		return -EINVAL;	/* a NUL byte: corrupt, and it would hide the rest from the string functions */
	return n < 0 ? -errno : 0;
}

static int load(struct files *fs, int which)
{
	struct acfile *f = &fs->f[which];
	int fd = openat(fs->etc, file_names[which], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0)
		return errno == ENOENT && (which == F_GSHADOW) ? 0 : -errno;
	f->exists = true;
	r = fstat(fd, &f->st) != 0 ? -errno : !S_ISREG(f->st.st_mode) ? -EINVAL : read_all(fd, f);
	close(fd);
	return r;
}

/* The line of name in data ("name:..."), or NULL. memmem, not a line-by-line walk: files hold 100 000 entries. */
static const char *find_entry(const char *data, size_t len, const char *name)
{
	char key[64];
	size_t n = strlen(name);
	const char *hit;

	if (n + 3 > sizeof(key))
		return NULL;
	if (strncmp(data, name, n) == 0 && data[n] == ':')
		return data;
	key[0] = '\n';
	memcpy(key + 1, name, n);
	key[n + 1] = ':';
	hit = memmem(data, len, key, n + 2);
	return hit ? hit + 1 : NULL;
}

/* The entry of name in f as it stands (new contents, or data and its tail). */
static const char *entry_of(const struct acfile *f, const char *name)
{
	const char *hit;

	if (f->next)
		return find_entry(f->next, strlen(f->next), name);
	hit = find_entry(f->data, f->len, name);
	return hit || !f->tail ? hit : find_entry(f->tail, strlen(f->tail), name);
}

/* The third field (uid or gid) of each entry, into an array. */
static int collect_ids(const char *data, unsigned long **ids, size_t *n)
{
	size_t cap = 1024;
	const char *line = data;

	*n = 0;
	*ids = malloc(cap * sizeof(**ids));
	while (*ids && line && *line) {
		const char *c = strchr(line, ':');

		c = c ? strchr(c + 1, ':') : NULL;
		if (c && c[1] >= '0' && c[1] <= '9') {
			if (*n == cap) {
				unsigned long *p = realloc(*ids, (cap *= 2) * sizeof(**ids));

				if (!p)
					break;
				*ids = p;
			}
			(*ids)[(*n)++] = strtoul(c + 1, NULL, 10);
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (!*ids)
		return -ENOMEM;
	return 0;
}

/*
 * Candidates are counted from the first (lo going up, hi going down); a
 * window of them is a bitmap, with the ones the files use marked. n ids
 * leave a free one among any n + 1 candidates, so one window almost always
 * does; NSS may know the free ones, hence more windows.
 */
struct id_window {
	unsigned long lo, hi, base, width;
	bool down;
	unsigned char *bits;
};

static void mark_ids(struct id_window *w, const unsigned long *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned long off;

		if (ids[i] < w->lo || ids[i] > w->hi)
			continue;
		off = (w->down ? w->hi - ids[i] : ids[i] - w->lo) - w->base;
		if (off < w->width)	/* below base wraps to a huge value */
			w->bits[off / 8] |= (unsigned char)(1u << (off % 8));
	}
}

static bool id_free(const struct id_window *w, unsigned long k, unsigned long *id)
{
	if (w->bits[k / 8] & (1u << (k % 8)))
		return false;
	*id = w->down ? w->hi - (w->base + k) : w->lo + w->base + k;
	return !getpwuid((uid_t)*id) && !getgrgid((gid_t)*id);
}

static int scan_windows(struct id_window *w, const unsigned long *uids, size_t nu, const unsigned long *gids,
			size_t ng, unsigned long *id)
{
	unsigned long span = w->hi - w->lo;

	for (w->base = 0; w->base <= span; w->base += w->width) {
		memset(w->bits, 0, w->width / 8 + 1);
		mark_ids(w, uids, nu);
		mark_ids(w, gids, ng);
		for (unsigned long k = 0; k < w->width && w->base + k <= span; k++)
			if (id_free(w, k, id))
				return 0;
		if (span - w->base < w->width)
			break;
	}
	return -ERANGE;
}

/* An id in [lo, hi] free in both files and unknown to NSS, used as uid and gid; from the top if down. */
static int choose_id(struct files *fs, unsigned long lo, unsigned long hi, bool down, uid_t *uid, gid_t *gid)
{
	struct id_window w = { .lo = lo, .hi = hi, .down = down };
	unsigned long *uids = NULL, *gids = NULL, id;
	size_t nu, ng;
	int r = collect_ids(fs->f[F_PASSWD].data, &uids, &nu);

	if (r == 0)
		r = collect_ids(fs->f[F_GROUP].data, &gids, &ng);
	w.width = r == 0 ? nu + ng + 1024 : 0;
	w.bits = r == 0 ? malloc(w.width / 8 + 1) : NULL;
	if (r == 0 && !w.bits)
		r = -ENOMEM;
	if (r == 0)
		r = scan_windows(&w, uids, nu, gids, ng, &id);
	if (r == 0) {
		*uid = (uid_t)id;
		*gid = (gid_t)id;
	}
	free(w.bits);
	free(uids);
	free(gids);
	return r;
}

static int choose_user_id(struct files *fs, const struct logindefs *ld, bool system, uid_t *uid, gid_t *gid)
{
	unsigned long lo = system ? ld->sys_uid_min : ld->uid_min, hi = system ? ld->sys_uid_max : ld->uid_max;
	unsigned long glo = system ? ld->sys_gid_min : ld->gid_min, ghi = system ? ld->sys_gid_max : ld->gid_max;

	lo = lo > glo ? lo : glo;
	hi = hi < ghi ? hi : ghi;
	return lo > hi ? -ERANGE : choose_id(fs, lo, hi, system, uid, gid);
}

/* The whole new contents in next, for changes that are not appends. */
static int materialize(struct acfile *f)
{
	size_t tl = f->tail ? strlen(f->tail) : 0;
	char *out;

	if (f->next)
		return 0;
	out = malloc(f->len + tl + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, f->data, f->len);
	memcpy(out + f->len, f->tail ? f->tail : "", tl + 1);
	free(f->tail);
	f->tail = NULL;
	f->next = out;
	return 0;
}

/* Append line (a missing final newline of the file is added first). */
static int add_line(struct acfile *f, const char *line)
{
	const char *base = f->next ? f->next : f->data;
	size_t blen = f->next ? strlen(f->next) : f->len, tl = f->tail ? strlen(f->tail) : 0;
	bool nl = !f->tail && blen > 0 && base[blen - 1] != '\n';
	char *out;

	if (f->next) {
		out = malloc(blen + nl + strlen(line) + 1);
		if (!out)
			return -ENOMEM;
		sprintf(out, "%s%s%s", f->next, nl ? "\n" : "", line);
		free(f->next);
		f->next = out;
		return 0;
	}
	out = realloc(f->tail, tl + nl + strlen(line) + 1);
	if (!out)
		return -ENOMEM;
	sprintf(out + tl, "%s%s", nl ? "\n" : "", line);
	f->tail = out;
	return 0;
}

/* Replace the line of name with line; append it if there is none. */
static int replace_line(struct acfile *f, const char *name, const char *line)
{
	const char *base, *at, *end;
	char *out;

	if (!entry_of(f, name))
		return add_line(f, line);
	if (materialize(f) != 0)
		return -ENOMEM;
	base = f->next;
	at = find_entry(base, strlen(base), name);
	end = strchr(at, '\n');
	end = end ? end + 1 : at + strlen(at);
	out = malloc(strlen(base) + strlen(line) + 1);
	if (!out)
		return -ENOMEM;
	sprintf(out, "%.*s%s%s", (int)(at - base), base, line, end);
	free(f->next);
	f->next = out;
	return 0;
}

/* Add user to the member list (last field) of group in f. */
static int add_member(struct acfile *f, const char *group, const char *user)
{
	const char *base, *at, *eol;
	char line[8192];
	size_t len;

	if (materialize(f) != 0)
		return -ENOMEM;
	base = f->next;
	at = find_entry(base, strlen(base), group);
	if (!at)
		return -ENOENT;
	eol = strchr(at, '\n');
	len = eol ? (size_t)(eol - at) : strlen(at);
	if (len + strlen(user) + 3 > sizeof(line))
		return -E2BIG;
	snprintf(line, sizeof(line), "%.*s%s%s\n", (int)len, at, at[len - 1] == ':' ? "" : ",", user);
	return replace_line(f, group, line);
}

/* No ':', newline, control or C1 bytes in anything we write; ',' too for names. */
static bool field_ok(const char *s, bool comma_ok)
{
	return text_check_utf8_printable(s, strlen(s)) == 0 && !strchr(s, ':') && (comma_ok || !strchr(s, ','));
}

static int check_fields(const struct config *cfg, const struct account *a, char *err, size_t errlen)
{
	const char *what = !field_ok(a->name, false) ? "username" : !field_ok(a->gecos, false) ? "name"
		: !field_ok(a->hash, false) ? "password hash"
		: !field_ok(a->shell ? a->shell : cfg->shell, false) ? "shell"
		: !field_ok(a->home, false) ? "home" : NULL;

	if (what)
		snprintf(err, errlen, "%s: a character that cannot go into the account files", what);
	return what ? -EINVAL : 0;
}

static int add_groups(const struct config *cfg, struct files *fs, const char *user, char *err, size_t errlen)
{
	char list[CONFIG_TEXT_MAX], *save = NULL;
	int r = 0;

	snprintf(list, sizeof(list), "%s", cfg->groups);
	for (char *g = strtok_r(list, ", ", &save); g && r == 0; g = strtok_r(NULL, ", ", &save)) {
		r = add_member(&fs->f[F_GROUP], g, user);
		if (r == 0 && fs->f[F_GSHADOW].exists)
			r = add_member(&fs->f[F_GSHADOW], g, user);
		if (r)
			snprintf(err, errlen, "groups: %s: %s", g, r == -ENOENT ? "no such group" : strerror(-r));
	}
	return r;
}

/* A formatted line added to f (replacing the entry of name, if name is given). */
static int put_line(struct acfile *f, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int put_line(struct acfile *f, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = name ? replace_line(f, name, line) : add_line(f, line);
	free(line);
	return r;
}

static int plan_new(const struct config *cfg, const struct logindefs *ld, struct files *fs,
		    struct account *a, char *err, size_t errlen)
{
	int r = choose_user_id(fs, ld, a->system, &a->uid, &a->gid);

	if (r) {
		snprintf(err, errlen, "no free id between UID_MIN/GID_MIN and UID_MAX/GID_MAX");
		return r;
	}
	r = put_line(&fs->f[F_GROUP], NULL, "%s:x:%u:\n", a->name, (unsigned)a->gid);
	if (r == 0 && fs->f[F_GSHADOW].exists)
		r = put_line(&fs->f[F_GSHADOW], a->name, "%s:!::\n", a->name);	/* a stray one is replaced */
	if (r == 0)
		r = put_line(&fs->f[F_PASSWD], NULL, "%s:x:%u:%u:%s:%s:%s\n", a->name, (unsigned)a->uid,
			     (unsigned)a->gid, a->gecos, a->home, a->shell ? a->shell : cfg->shell);
	if (r == 0 && !a->system)
		r = add_groups(cfg, fs, a->name, err, errlen);
	return r;
}

/* An interrupted activation left the entries: take their ids and keep them. */
static int plan_resume(struct files *fs, struct account *a, char *err, size_t errlen)
{
	const char *line = entry_of(&fs->f[F_PASSWD], a->name);
	unsigned u, g;

	if (sscanf(strchr(line, ':') + 1, "%*[^:]:%u:%u:", &u, &g) != 2) {
		snprintf(err, errlen, "passwd: the entry of %s is malformed", a->name);
		return -EINVAL;
	}
	a->uid = u;
	a->gid = g;
	return 0;
}

static int plan_shadow(const struct logindefs *ld, struct files *fs, const struct account *a)
{
	return put_line(&fs->f[F_SHADOW], a->name, "%s:%s:%ld:%ld:%ld:%ld:::\n", a->name, a->hash,
			(long)(time(NULL) / 86400), ld->pass_min_days, ld->pass_max_days, ld->pass_warn_age);
}

static int write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			off += (size_t)n;
	}
	return 0;
}

static int write_as(int etc, const char *name, const char *data, size_t len, const char *tail,
		    const struct stat *st)
{
	char tmp[64];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s+", name);
	unlinkat(etc, tmp, 0);
	fd = openat(etc, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchown(fd, st->st_uid, st->st_gid) != 0 || fchmod(fd, st->st_mode & 07777) != 0)
		r = -errno;
	if (r == 0)
		r = write_all(fd, data, len);
	if (r == 0 && tail)
		r = write_all(fd, tail, strlen(tail));
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(etc, tmp, etc, name) != 0)
		r = -errno;
	if (r)
		unlinkat(etc, tmp, 0);
	return r;
}

/*
 * The old file becomes NAME- by a hard link (its inode is left alone when
 * the new file is renamed over NAME), which costs no write and no fsync;
 * a copy where the filesystem has no hard links. Then NAME, atomically.
 */
static int commit_file(struct files *fs, int which)
{
	struct acfile *f = &fs->f[which];
	char backup[64];
	int r = 0;

	if (!f->next && !f->tail)
		return 0;
	snprintf(backup, sizeof(backup), "%s-", file_names[which]);
	if (unlinkat(fs->etc, backup, 0) != 0 && errno != ENOENT)
		r = -errno;
	if (r == 0 && linkat(fs->etc, file_names[which], fs->etc, backup, 0) != 0)
		r = write_as(fs->etc, backup, f->data, f->len, NULL, &f->st);
	if (r == 0 && f->next)
		r = write_as(fs->etc, file_names[which], f->next, strlen(f->next), NULL, &f->st);
	else if (r == 0)
		r = write_as(fs->etc, file_names[which], f->data, f->len, f->tail, &f->st);
	return r;
}

static int commit_all(struct files *fs, char *err, size_t errlen)
{
	static const int order[] = { F_GROUP, F_GSHADOW, F_PASSWD, F_SHADOW };
	int r = 0;

	for (size_t i = 0; i < 4 && r == 0; i++) {
		r = commit_file(fs, order[i]);
		if (r)
			snprintf(err, errlen, "writing %s: %s", file_names[order[i]], strerror(-r));
	}
	if (r == 0 && fsync(fs->etc) != 0)
		r = -errno;
	return r;
}

static int lock_files(int etc, int *lockfd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int fd = openat(etc, ".pwd.lock", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < LOCK_WAIT_S * 20; i++) {
		if (fcntl(fd, F_SETLK, &fl) == 0) {
			*lockfd = fd;
			return 0;
		}
		nanosleep(&tick, NULL);
	}
	close(fd);
	return -EBUSY;
}

static int open_etc(const struct config *cfg)
{
	char path[CONFIG_PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/etc", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "");
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void release(struct files *fs)
{
	for (int i = 0; i < F_COUNT; i++) {
		data_free(fs->f[i].data, fs->f[i].cap);
		free(fs->f[i].next);
		free(fs->f[i].tail);
	}
	if (fs->etc >= 0)
		close(fs->etc);
}

/* All four files (gshadow may be missing), or err says why not. */
static int load_all(struct files *fs, char *err, size_t errlen)
{
	int r = 0;

	for (int i = 0; i < F_COUNT && r == 0; i++)
		r = load(fs, i);
	if (r)
		snprintf(err, errlen, "reading the account files: %s", strerror(-r));
	return r;
}

typedef int files_fn(const struct config *cfg, struct files *fs, void *ctx, char *err, size_t errlen);

/* fn on sysroot's account files, under the password-file lock. */
static int with_files(const struct config *cfg, files_fn *fn, void *ctx, char *err, size_t errlen)
{
	struct files fs = { .etc = open_etc(cfg) };
	int lockfd = -1, r = 0;

	if (fs.etc < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/etc: %s", cfg->sysroot, strerror(errno));
	}
	if (r == 0 && (r = lock_files(fs.etc, &lockfd)) != 0)
		snprintf(err, errlen, "the account files are locked by another program (waited %d s)", LOCK_WAIT_S);
	if (r == 0)
		r = fn(cfg, &fs, ctx, err, errlen);
	if (lockfd >= 0)
		close(lockfd);
	release(&fs);
	return r;
}

static int update_files(const struct config *cfg, const struct logindefs *ld, struct files *fs,
			struct account *a, char *err, size_t errlen)
{
	int r = load_all(fs, err, errlen);
	bool there;

	if (r)
		return r;
	there = entry_of(&fs->f[F_PASSWD], a->name) != NULL;
	if (there && a->system)
		return plan_resume(fs, a, err, errlen);	/* there already: leave it as it is */
	if (there)
		r = plan_resume(fs, a, err, errlen);
	else if (entry_of(&fs->f[F_GROUP], a->name)) {
		snprintf(err, errlen, "group %s exists without a user of that name", a->name);
		r = -EEXIST;
	} else
		r = plan_new(cfg, ld, fs, a, err, errlen);
	if (r == 0)
		r = plan_shadow(ld, fs, a);
	if (r == 0)
		r = commit_all(fs, err, errlen);
	return r;
}

struct provision_job {
	const struct logindefs *ld;
	struct account *a;
};

static int run_provision(const struct config *cfg, struct files *fs, void *ctx, char *err, size_t errlen)
{
	struct provision_job *j = ctx;

	return update_files(cfg, j->ld, fs, j->a, err, errlen);
}

int accounts_provision(const struct config *cfg, const struct logindefs *ld, struct account *a,
		       char *err, size_t errlen)
{
	struct provision_job job = { ld, a };
	int r;

	if (a->system)
		snprintf(a->home, sizeof(a->home), "/nonexistent");
	else if ((size_t)snprintf(a->home, sizeof(a->home), "%s/%s", strcmp(cfg->home_base, "/") ? cfg->home_base : "",
				  a->name) >= sizeof(a->home)) {
		snprintf(err, errlen, "home: path too long");
		return -ENAMETOOLONG;
	}
	r = check_fields(cfg, a, err, errlen);
	if (r == 0)
		r = with_files(cfg, run_provision, &job, err, errlen);
	if (r == 0 && !a->system)
		r = home_create(cfg, a->name, a->uid, a->gid, err, errlen);
	return r;
}

/* What to change in a shadow entry. */
struct shadow_edit {
	enum { SHADOW_LOCK, SHADOW_UNLOCK, SHADOW_PASSWORD } what;
	const char *hash;	/* SHADOW_PASSWORD */
};

/* Split a shadow line into its nine fields, in copy. */
static int shadow_fields(const char *line, char *copy, size_t size, char *field[9], char *err, size_t errlen)
{
	const char *eol = strchr(line, '\n');
	size_t n = eol ? (size_t)(eol - line) : strlen(line);
	char *f = copy;
	int count;

	if (n >= size) {
		snprintf(err, errlen, "shadow: the entry is too long");
		return -EINVAL;
	}
	memcpy(copy, line, n);
	copy[n] = '\0';
	for (count = 0; f && count < 9; count++) {
		field[count] = f;
		f = strchr(f, ':');
		if (f)
			*f++ = '\0';
	}
	if (count != 9 || f) {
		snprintf(err, errlen, "shadow: the entry is malformed");
		return -EINVAL;
	}
	return 0;
}

/*
 * The edited line. Locked: one more '!' before the hash (an administrator's
 * own lock survives a revoke and restore) and expired on day 1; unlocked:
 * one '!' less, and the expiry cleared if it is revoke's day 1; a new
 * password: the hash (behind the '!' of a lock, if there is one) and today
 * as the date of the last change. -ENODATA: nothing but '!' would be left
 * unlocked, so it stays locked.
 */
static int edit_line(const char *line, const struct shadow_edit *e, char *out, size_t len, char *err, size_t errlen)
{
	char copy[4096], *field[9], lastchg[24];
	const char *hash = "", *lock = "", *expire;
	int r = shadow_fields(line, copy, sizeof(copy), field, err, errlen), n;

	if (r)
		return r;
	if (e->what == SHADOW_LOCK) {
		lock = "!";
		hash = field[1];
	} else if (e->what == SHADOW_UNLOCK) {
		hash = field[1][0] == '!' ? field[1] + 1 : field[1];
		if (!hash[strspn(hash, "!")]) {
			hash = field[1];
			r = -ENODATA;
		}
	} else {
		lock = field[1][0] == '!' ? "!" : "";
		hash = e->hash;
	}
	expire = e->what == SHADOW_LOCK ? "1" : e->what == SHADOW_UNLOCK && strcmp(field[7], "1") == 0 ? "" : field[7];
	snprintf(lastchg, sizeof(lastchg), "%ld", (long)(time(NULL) / 86400));
	n = snprintf(out, len, "%s:%s%s:%s:%s:%s:%s:%s:%s:%s\n", field[0], lock, hash,
		     e->what == SHADOW_PASSWORD ? lastchg : field[2], field[3], field[4], field[5], field[6], expire,
		     field[8]);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "shadow: the entry would be too long");
		return -E2BIG;
	}
	if (r == -ENODATA)
		snprintf(err, errlen, "no password behind the lock: it stays locked; issue a new PIN");
	return r;
}

static int edit_shadow(struct files *fs, const char *name, const struct shadow_edit *e, char *err, size_t errlen)
{
	char line[4200];
	const char *at;
	int r = load(fs, F_SHADOW);

	if (r) {
		snprintf(err, errlen, "reading shadow: %s", strerror(-r));
		return r;
	}
	at = entry_of(&fs->f[F_SHADOW], name);
	if (!at) {
		snprintf(err, errlen, "shadow: no entry for %s", name);
		return -ENOENT;
	}
	r = edit_line(at, e, line, sizeof(line), err, errlen);
	if (r == -ENODATA)
		return r;	/* unlocking would leave no password: the line stays as it is */
	if (r == 0)
		r = replace_line(&fs->f[F_SHADOW], name, line);
	if (r == 0)
		r = commit_all(fs, err, errlen);
	return r;
}

struct shadow_job {
	const char *name;
	const struct shadow_edit *edit;
};

static int run_shadow(const struct config *cfg, struct files *fs, void *ctx, char *err, size_t errlen)
{
	struct shadow_job *j = ctx;

	(void)cfg;
	return edit_shadow(fs, j->name, j->edit, err, errlen);
}

static int change_shadow(const struct config *cfg, const char *name, const struct shadow_edit *e, char *err,
			 size_t errlen)
{
	struct shadow_job job = { name, e };

	return with_files(cfg, run_shadow, &job, err, errlen);
}

int accounts_set_password(const struct config *cfg, const char *name, const char *hash, char *err, size_t errlen)
{
	struct shadow_edit e = { .what = SHADOW_PASSWORD, .hash = hash };

	if (!field_ok(hash, false) || !hash[0]) {
		snprintf(err, errlen, "shadow: the new hash is not a valid field");
		return -EINVAL;
	}
	return change_shadow(cfg, name, &e, err, errlen);
}

int accounts_set_locked(const struct config *cfg, const char *name, bool locked, char *err, size_t errlen)
{
	struct shadow_edit e = { .what = locked ? SHADOW_LOCK : SHADOW_UNLOCK };

	return change_shadow(cfg, name, &e, err, errlen);
}

/*
 * Renaming: every line of a file rewritten by one function, into next.
 * The fields of a line are split in place in a copy; lists (members,
 * administrators) are comma-separated.
 */
struct rename {
	const char *from, *to;
	char old_home[CONFIG_PATH_MAX + 64], new_home[CONFIG_PATH_MAX + 64];
	unsigned long gid;	/* the user's primary group */
	bool group_renamed;
};

/* list with the name from replaced by to, appended to out. */
static void put_list(FILE *out, const char *list, const struct rename *rn)
{
	char copy[4096], *save = NULL, *m;
	const char *sep = "";

	snprintf(copy, sizeof(copy), "%s", list);
	for (m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		fprintf(out, "%s%s", sep, strcmp(m, rn->from) ? m : rn->to);
		sep = ",";
	}
}

static int split(char *line, char **field, int max)
{
	int n = 0;

	for (char *f = line; f && n < max; n++) {
		field[n] = f;
		f = strchr(f, ':');
		if (f)
			*f++ = '\0';
	}
	return n;
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *m = list; m; m = strchr(m, ',') ? strchr(m, ',') + 1 : NULL)
		if (strncmp(m, name, n) == 0 && (m[n] == ',' || m[n] == '\0'))
			return true;
	return false;
}

/*
 * One line (without its newline) of file which, as it is after the
 * rename; a line the rename does not touch is written as it was, byte for
 * byte.
 */
static void rename_line(int which, const char *line, struct rename *rn, FILE *out)
{
	char copy[8192], *f[9];
	int n;
	bool me, group;

	snprintf(copy, sizeof(copy), "%s", line);
	n = split(copy, f, which == F_SHADOW ? 9 : which == F_PASSWD ? 7 : 4);
	me = strcmp(f[0], rn->from) == 0;
	if (which == F_PASSWD && me && n == 7) {
		fprintf(out, "%s:%s:%s:%s:%s:%s:%s", rn->to, f[1], f[2], f[3], f[4],
			rn->old_home[0] && strcmp(f[5], rn->old_home) == 0 ? rn->new_home : f[5], f[6]);
		return;
	}
	if (which == F_SHADOW && me) {
		fprintf(out, "%s%s", rn->to, line + strlen(rn->from));
		return;
	}
	group = (which == F_GROUP || which == F_GSHADOW) && n == 4;
	if (group && which == F_GROUP && me && strtoul(f[2], NULL, 10) == rn->gid)
		rn->group_renamed = true;
	me = me && (which == F_GROUP ? strtoul(f[2], NULL, 10) == rn->gid : rn->group_renamed);
	if (!group || (!me && !in_list(f[3], rn->from) && !(which == F_GSHADOW && in_list(f[2], rn->from)))) {
		fputs(line, out);
		return;
	}
	fprintf(out, "%s:%s:", me ? rn->to : f[0], f[1]);
	if (which == F_GSHADOW)
		put_list(out, f[2], rn);
	else
		fputs(f[2], out);
	fputc(':', out);
	put_list(out, f[3], rn);
}

static int rename_in(struct acfile *f, int which, struct rename *rn)
{
	char *buf = NULL, line[8192];
	size_t len = 0;
	const char *at = f->data;
	FILE *out;

	if (!f->data)
		return 0;
	out = open_memstream(&buf, &len);
	if (!out)
		return -ENOMEM;
	while (*at) {
		const char *eol = strchr(at, '\n');
		size_t n = eol ? (size_t)(eol - at) : strlen(at);

		if (n >= sizeof(line)) {
			fclose(out);
			free(buf);
			return -E2BIG;
		}
		memcpy(line, at, n);
		line[n] = '\0';
		rename_line(which, line, rn, out);
		if (eol)
			fputc('\n', out);
		at += n + (eol != NULL);
	}
	if (fclose(out) != 0) {
		free(buf);
		return -ENOMEM;
	}
	f->next = buf;
	return 0;
}

/* The user's gid and home, and whether its home is home_base/from (then it moves). */
static int plan_rename(const struct config *cfg, struct files *fs, struct rename *rn, char *err, size_t errlen)
{
	const char *line = entry_of(&fs->f[F_PASSWD], rn->from), *eol;
	const char *base = strcmp(cfg->home_base, "/") ? cfg->home_base : "";
	char copy[8192], *f[7];

	if (!line) {
		snprintf(err, errlen, "passwd: no user %s", rn->from);
		return -ENOENT;
	}
	if (entry_of(&fs->f[F_PASSWD], rn->to) || entry_of(&fs->f[F_GROUP], rn->to)) {
		snprintf(err, errlen, "%s is already a user or group in the account files", rn->to);
		return -EEXIST;
	}
	eol = strchr(line, '\n');
	snprintf(copy, sizeof(copy), "%.*s", (int)(eol ? eol - line : (long)strlen(line)), line);
	if (split(copy, f, 7) != 7 || !text_is_digits(f[3])) {
		snprintf(err, errlen, "passwd: the entry of %s is malformed", rn->from);
		return -EINVAL;
	}
	rn->gid = strtoul(f[3], NULL, 10);
	snprintf(rn->old_home, sizeof(rn->old_home), "%s/%s", base, rn->from);
	snprintf(rn->new_home, sizeof(rn->new_home), "%s/%s", base, rn->to);
	if (strcmp(f[5], rn->old_home) != 0)
		rn->old_home[0] = '\0';	/* a home elsewhere stays where it is */
	return 0;
}

/* The home directory follows the name, under sysroot; an existing target is refused before any file changes. */
static int home_target_free(const struct config *cfg, const struct rename *rn, char *err, size_t errlen)
{
	char path[2 * CONFIG_PATH_MAX + 128];
	struct stat st;

	if (!rn->old_home[0])
		return 0;
	snprintf(path, sizeof(path), "%s%s", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "", rn->new_home);
	if (lstat(path, &st) == 0) {
		snprintf(err, errlen, "%s already exists", rn->new_home);
		return -EEXIST;
	}
	return 0;
}

/* A home that cannot move is not a failure (the files are renamed already): err says so. */
static int move_home(const struct config *cfg, const struct rename *rn, char *err, size_t errlen)
{
	char from[2 * CONFIG_PATH_MAX + 128], to[2 * CONFIG_PATH_MAX + 128];
	const char *root = strcmp(cfg->sysroot, "/") ? cfg->sysroot : "";

	if (!rn->old_home[0])
		return 0;
	snprintf(from, sizeof(from), "%s%s", root, rn->old_home);
	snprintf(to, sizeof(to), "%s%s", root, rn->new_home);
	if (rename(from, to) != 0 && errno != ENOENT)
		snprintf(err, errlen, "the account is renamed, but %s could not be moved to %s (%s): move it by hand",
			 rn->old_home, rn->new_home, strerror(errno));
	return 0;
}

static int rename_files(const struct config *cfg, struct files *fs, struct rename *rn, char *err, size_t errlen)
{
	static const int order[] = { F_GROUP, F_GSHADOW, F_PASSWD, F_SHADOW };	/* the group's name first */
	int r = load_all(fs, err, errlen);

	if (r)
		return r;
	r = plan_rename(cfg, fs, rn, err, errlen);
	if (r == 0)
		r = home_target_free(cfg, rn, err, errlen);
	for (int i = 0; r == 0 && i < F_COUNT; i++)
		if ((r = rename_in(&fs->f[order[i]], order[i], rn)) != 0)
			snprintf(err, errlen, "%s: a line is too long", file_names[order[i]]);
	if (r == 0)
		r = commit_all(fs, err, errlen);
	return r;
}

/* The files, then the home, still under the lock: no other rename can take the new home meanwhile. */
static int run_rename(const struct config *cfg, struct files *fs, void *ctx, char *err, size_t errlen)
{
	struct rename *rn = ctx;
	int r = rename_files(cfg, fs, rn, err, errlen);

	return r ? r : move_home(cfg, rn, err, errlen);
}

int accounts_rename(const struct config *cfg, const char *from, const char *to, char *err, size_t errlen)
{
	struct rename rn = { .from = from, .to = to };

	return with_files(cfg, run_rename, &rn, err, errlen);
}

struct account_names {
	struct acfile passwd, group;
};

static void read_sysroot_file(const struct config *cfg, const char *file, struct acfile *f)
{
	char path[CONFIG_PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/etc/%s", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "", file);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || read_all(fd, f) != 0) {
		data_free(f->data, f->cap);
		f->data = strdup("");
		f->len = f->cap = 0;
	}
	if (fd >= 0)
		close(fd);
}

struct account_names *accounts_names_load(const struct config *cfg)
{
	struct account_names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	read_sysroot_file(cfg, "passwd", &n->passwd);
	read_sysroot_file(cfg, "group", &n->group);
	if (!n->passwd.data || !n->group.data) {
		accounts_names_free(n);
		return NULL;
	}
	return n;
}

void accounts_names_free(struct account_names *n)
{
	if (n) {
		data_free(n->passwd.data, n->passwd.cap);
		data_free(n->group.data, n->group.cap);
		free(n);
	}
}

bool accounts_names_has(const struct account_names *n, const char *name)
{
	return getpwnam(name) || getgrnam(name) || entry_of(&n->passwd, name) || entry_of(&n->group, name);
}

bool accounts_name_taken(const struct config *cfg, const char *name)
{
	struct account_names *n = accounts_names_load(cfg);
	bool taken = !n || accounts_names_has(n, name);	/* fail closed */

	accounts_names_free(n);
	return taken;
}
