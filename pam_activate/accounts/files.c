/*
 * accounts/files.c: the local account files, written the way shadow-utils'
 * commonio does it: under the password-file lock, read whole, add lines,
 * write a temporary file in the same directory with the original's owner
 * and mode, fsync, keep the old file as NAME-, rename over, fsync the
 * directory. Lines we do not touch are kept byte for byte, and lines are
 * parsed into fields of any length (acline.c), never patched in a buffer.
 *
 * Provisioning is idempotent against a recorded intent (the uid, gid and
 * home the account will have): every entry is "ensured", so an entry that
 * is already there with the intent's ids is ours from an interrupted
 * attempt and is kept; one with other ids is someone else's and refused.
 * The ids are chosen, and the intent made durable through the caller's
 * callback, under the lock and before the first file changes.
 *
 * Ids come from reading the files once and then asking NSS about the one
 * chosen (probing NSS id by id from UID_MIN is quadratic in the number of
 * accounts).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acline.h"
#include "accounts_backend.h"
#include "fault.h"
#include "home.h"
#include "text.h"

#define LOCK_WAIT_S 15

enum { F_PASSWD, F_SHADOW, F_GROUP, F_GSHADOW, F_COUNT };
static const char *const file_names[F_COUNT] = { "passwd", "shadow", "group", "gshadow" };

/*
 * A change to one entry: the line of name (at, len in data; or appended,
 * at == SIZE_MAX) becomes text. Most changes are appends or a line or two,
 * and copying a 5 MB file to change a line costs more than writing it, so
 * the file is written as data with its edits applied.
 */
struct edit {
	char *name;
	size_t at, len;
	struct acbuf text;	/* the whole line, newline included */
};

struct acfile {
	char *data;		/* whole file, NUL-terminated (data_alloc, or the file mapped) */
	size_t len, cap;
	bool mapped;		/* data is the file itself, mapped read-only */
	bool has_fd;
	int fd;			/* the file, open: unchanged ranges are copied from it in the kernel */
	struct stat st;
	bool exists;
	struct edit *edit;
	size_t nedit;
	struct acbuf next;	/* whole new contents (a rename), used when next.data */
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
#define POPULATE_MIN ((size_t)64 * 1024)

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

/*
 * The file mapped, when the page after its end (zero-filled by the kernel)
 * terminates it: no copy into memory, and none back out (write_edited
 * copies the unchanged ranges with copy_file_range). A file the password
 * lock protects is replaced by rename, never written in place, so the
 * mapping cannot change under us.
 */
static int map_all(int fd, struct acfile *f)
{
	size_t size = (size_t)f->st.st_size;
	void *p;

	if (size == 0 || size % (size_t)sysconf(_SC_PAGESIZE) == 0)
		return read_all(fd, f);
	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return read_all(fd, f);
	f->data = p;
	f->len = f->cap = size;
	f->mapped = true;
	return memchr(f->data, '\0', f->len) ? -EINVAL : 0;	/* corrupt, and it would hide the rest */
}

static int load(struct files *fs, int which)
{
	struct acfile *f = &fs->f[which];
	int fd = openat(fs->etc, file_names[which], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT && (which == F_GSHADOW) ? 0 : -errno;
	f->exists = true;
	f->fd = fd;
	f->has_fd = true;
	if (fstat(fd, &f->st) != 0)
		return -errno;
	return !S_ISREG(f->st.st_mode) ? -EINVAL : map_all(fd, f);
}

/* The line of name in data ("name:..."), or NULL. memmem, not a line-by-line walk: files hold 100 000 entries. */
static const char *find_entry(const char *data, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *at = data, *end = data + len;

	if (n == 0)
		return NULL;
	if (len > n && strncmp(data, name, n) == 0 && data[n] == ':')
		return data;
	while (at < end) {
		const char *hit = memmem(at, (size_t)(end - at), name, n);

		if (!hit)
			return NULL;
		if (hit > data && hit[-1] == '\n' && hit + n < end && hit[n] == ':')
			return hit;
		at = hit + 1;
	}
	return NULL;
}

static size_t line_len(const char *line, const char *end)
{
	const char *nl = memchr(line, '\n', (size_t)(end - line));

	return nl ? (size_t)(nl - line) : (size_t)(end - line);
}

static struct edit *edit_of(const struct acfile *f, const char *name)
{
	for (size_t i = 0; i < f->nedit; i++)
		if (strcmp(f->edit[i].name, name) == 0)
			return &f->edit[i];
	return NULL;
}

/* The entry of name as it stands (edits applied), without its newline; false if none. */
static bool current_line(const struct acfile *f, const char *name, struct acline_field *line)
{
	const struct edit *e = edit_of(f, name);
	const char *at;

	if (e) {
		line->s = e->text.data;
		line->len = e->text.len && e->text.data[e->text.len - 1] == '\n' ? e->text.len - 1 : e->text.len;
		return e->text.len > 0;
	}
	at = f->data ? find_entry(f->data, f->len, name) : NULL;
	if (!at)
		return false;
	line->s = at;
	line->len = line_len(at, f->data + f->len);
	return true;
}

/* The entry of name becomes text (a whole line; "" removes it). */
static int set_line(struct acfile *f, const char *name, const char *text, size_t n)
{
	struct edit *e = edit_of(f, name), *grown;
	const char *at;

	if (!e) {
		grown = realloc(f->edit, (f->nedit + 1) * sizeof(*f->edit));
		if (!grown)
			return -ENOMEM;
		f->edit = grown;
		e = &f->edit[f->nedit];
		*e = (struct edit){ .name = strdup(name), .at = SIZE_MAX };
		if (!e->name)
			return -ENOMEM;
		f->nedit++;
		at = f->data ? find_entry(f->data, f->len, name) : NULL;
		if (at) {
			e->at = (size_t)(at - f->data);
			e->len = line_len(at, f->data + f->len);
			e->len += e->at + e->len < f->len;	/* its newline */
		}
	}
	e->text.len = 0;
	return acbuf_put(&e->text, text, n);
}

/* A formatted line for the entry of name. */
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
	r = set_line(f, name, line, (size_t)r);
	free(line);
	return r;
}

static bool changed(const struct acfile *f)
{
	return f->nedit > 0 || f->next.data;
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
	const struct account *a;	/* its id_held: ids other intents hold */
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
	if (w->a->id_held && w->a->id_held(*id, w->a->intent_ctx))
		return false;	/* an interrupted activation's intent: its files may not be written yet */
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
static int choose_id(struct files *fs, unsigned long lo, unsigned long hi, struct account *a)
{
	struct id_window w = { .lo = lo, .hi = hi, .down = a->system, .a = a };
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
		a->uid = (uid_t)id;
		a->gid = (gid_t)id;
	}
	free(w.bits);
	free(uids);
	free(gids);
	return r;
}

static int choose_user_id(struct files *fs, const struct logindefs *ld, struct account *a)
{
	bool system = a->system;
	unsigned long lo = system ? ld->sys_uid_min : ld->uid_min, hi = system ? ld->sys_uid_max : ld->uid_max;
	unsigned long glo = system ? ld->sys_gid_min : ld->gid_min, ghi = system ? ld->sys_gid_max : ld->gid_max;

	lo = lo > glo ? lo : glo;
	hi = hi < ghi ? hi : ghi;
	return lo > hi ? -ERANGE : choose_id(fs, lo, hi, a);
}

/* Add user to the member list (the fourth field) of group in f, unless it is there. */
static int ensure_member(struct acfile *f, const char *group, const char *user)
{
	struct acline_field line, field[4];
	struct acbuf b = { 0 };
	int n, r;

	if (!current_line(f, group, &line))
		return -ENOENT;
	n = acline_split(line.s, line.len, field, 4);
	if (n < 4)
		return -EINVAL;
	if (acline_list_has(field[3], user))
		return 0;
	r = acbuf_field(&b, line);
	if (r == 0 && field[3].len)
		r = acbuf_put(&b, ",", 1);
	if (r == 0)
		r = acbuf_puts(&b, user);
	if (r == 0)
		r = acbuf_put(&b, "\n", 1);
	if (r == 0)
		r = set_line(f, group, b.data, b.len);
	acbuf_free(&b);
	return r;
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

static int ensure_groups(const struct config *cfg, struct files *fs, const char *user, char *err, size_t errlen)
{
	char *list = strdup(cfg->groups), *save = NULL;
	int r = list ? 0 : -ENOMEM;

	for (char *g = list ? strtok_r(list, ", ", &save) : NULL; g && r == 0; g = strtok_r(NULL, ", ", &save)) {
		r = ensure_member(&fs->f[F_GROUP], g, user);
		if (r == 0 && fs->f[F_GSHADOW].exists)
			r = ensure_member(&fs->f[F_GSHADOW], g, user);
		if (r)
			snprintf(err, errlen, "groups: %s: %s", g, r == -ENOENT ? "no such group"
				 : r == -EINVAL ? "the entry is malformed" : strerror(-r));
	}
	free(list);
	return r;
}

/* The numeric field i of the entry of name; -1 if there is none or it is not a number. */
static long entry_id(const struct acfile *f, const char *name, int i)
{
	struct acline_field line, field[9];
	char digits[24];

	if (!current_line(f, name, &line) || acline_split(line.s, line.len, field, 9) <= i ||
	    field[i].len == 0 || field[i].len >= sizeof(digits))
		return -1;
	memcpy(digits, field[i].s, field[i].len);
	digits[field[i].len] = '\0';
	return text_is_digits(digits) ? strtol(digits, NULL, 10) : -1;
}

/*
 * The entries an interrupted attempt may have left: each must carry the
 * intent's ids, or it is not ours.
 */
static int check_ours(struct files *fs, const struct account *a, char *err, size_t errlen)
{
	struct acline_field line;
	bool in_passwd = current_line(&fs->f[F_PASSWD], a->name, &line);
	bool in_group = current_line(&fs->f[F_GROUP], a->name, &line);

	if (in_passwd && (entry_id(&fs->f[F_PASSWD], a->name, 2) != (long)a->uid ||
			  entry_id(&fs->f[F_PASSWD], a->name, 3) != (long)a->gid)) {
		snprintf(err, errlen, "passwd: %s exists with other ids than this activation's (%u:%u)", a->name,
			 (unsigned)a->uid, (unsigned)a->gid);
		return -EEXIST;
	}
	if (in_group && entry_id(&fs->f[F_GROUP], a->name, 2) != (long)a->gid) {
		snprintf(err, errlen, "group: %s exists with another gid than this activation's (%u)", a->name,
			 (unsigned)a->gid);
		return -EEXIST;
	}
	return 0;
}

/* Whether any of the four files has an entry for name. */
static bool any_entry(const struct files *fs, const char *name)
{
	struct acline_field line;

	for (int i = 0; i < F_COUNT; i++)
		if (current_line(&fs->f[i], name, &line))
			return true;
	return false;
}

/* Whether an entry other than name's has id as its third field. */
static bool id_used_by_other(const struct acfile *f, const char *name, unsigned long id)
{
	const char *at = f->data, *end = f->data ? f->data + f->len : NULL;

	while (at && at < end) {
		size_t n = line_len(at, end);
		struct acline_field field[4];

		if (acline_split(at, n, field, 4) >= 3 && !acline_is(field[0], name) && field[2].len &&
		    field[2].len < 21 && strtoul(field[2].s, NULL, 10) == id && field[2].s[0] >= '0' &&
		    field[2].s[0] <= '9')
			return true;
		at += n + 1;
	}
	return false;
}

/* Someone else took the intent's ids before any file of ours changed. */
static bool intent_ids_taken(const struct files *fs, const struct account *a)
{
	return !any_entry(fs, a->name) &&
	       (id_used_by_other(&fs->f[F_PASSWD], a->name, a->uid) || id_used_by_other(&fs->f[F_GROUP], a->name, a->gid) ||
		(a->id_held && a->id_held(a->uid, a->intent_ctx)) || getpwuid(a->uid) || getgrgid(a->gid));
}

/* Someone else took the intent's ids after some entry of ours was written (useradd meanwhile): a clear error. */
static int check_ids_not_shared(struct files *fs, const struct account *a, char *err, size_t errlen)
{
	if (id_used_by_other(&fs->f[F_PASSWD], a->name, a->uid) || id_used_by_other(&fs->f[F_GROUP], a->name, a->gid)) {
		snprintf(err, errlen, "uid/gid %u of this activation is now someone else's too; an administrator "
			 "must resolve it", (unsigned)a->uid);
		return -EEXIST;
	}
	return 0;
}

#define INTENT_TRIES 8

/*
 * The ids: the intent's, when an earlier attempt recorded one; else chosen
 * free now and recorded (durably, by the caller's callback) before any
 * file changes. With no intent, an entry of the name is not ours.
 */
static int plan_ids(const struct logindefs *ld, struct files *fs, struct account *a, char *err, size_t errlen)
{
	int r;

	if (a->ids_known && !intent_ids_taken(fs, a)) {
		r = check_ours(fs, a, err, errlen);
		return r ? r : check_ids_not_shared(fs, a, err, errlen);
	}
	if (!a->ids_known && (a->system ? entry_id(&fs->f[F_GROUP], a->name, 2) >= 0 : any_entry(fs, a->name))) {
		snprintf(err, errlen, "%s is in the account files but this activation did not put it there", a->name);
		return -EEXIST;
	}
	/* -EEXIST: another machine's intent took the ids meanwhile; the store shows it now */
	for (int tries = 0; tries < INTENT_TRIES && (tries == 0 || r == -EEXIST); tries++) {
		r = choose_user_id(fs, ld, a);
		if (r) {
			snprintf(err, errlen, "no free id between UID_MIN/GID_MIN and UID_MAX/GID_MAX");
			return r;
		}
		r = a->record_intent ? a->record_intent(a, a->intent_ctx) : 0;
	}
	if (r)
		snprintf(err, errlen, "the database: cannot record the intent (%s)", strerror(-r));
	else
		a->ids_known = a->chose_ids = true;
	return r;
}

static int ensure_group(struct files *fs, const struct account *a)
{
	struct acline_field line;

	if (current_line(&fs->f[F_GROUP], a->name, &line))
		return 0;
	return put_line(&fs->f[F_GROUP], a->name, "%s:x:%u:\n", a->name, (unsigned)a->gid);
}

static int ensure_gshadow(struct files *fs, const struct account *a)
{
	struct acline_field line;

	if (!fs->f[F_GSHADOW].exists || (!a->system && current_line(&fs->f[F_GSHADOW], a->name, &line)))
		return 0;	/* a system account's stray entry is replaced */
	return put_line(&fs->f[F_GSHADOW], a->name, "%s:!::\n", a->name);
}

static int ensure_passwd(const struct config *cfg, struct files *fs, const struct account *a)
{
	struct acline_field line;

	if (current_line(&fs->f[F_PASSWD], a->name, &line))
		return 0;
	return put_line(&fs->f[F_PASSWD], a->name, "%s:x:%u:%u:%s:%s:%s\n", a->name, (unsigned)a->uid,
			(unsigned)a->gid, a->gecos, a->home, a->shell ? a->shell : cfg->shell);
}

/* The shadow entry with this attempt's hash, whatever an earlier attempt wrote. */
static int ensure_shadow(const struct logindefs *ld, struct files *fs, const struct account *a)
{
	return put_line(&fs->f[F_SHADOW], a->name, "%s:%s:%ld:%ld:%ld:%ld:::\n", a->name, a->hash,
			a->must_change ? 0L : (long)(time(NULL) / 86400), ld->pass_min_days, ld->pass_max_days,
			ld->pass_warn_age);
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

static int by_offset(const void *x, const void *y)
{
	const struct edit *a = x, *b = y;

	return a->at < b->at ? -1 : a->at > b->at;
}

/* data[from..from+n) to fd: in the kernel from the file when it is open, else written. */
static int write_range(int fd, struct acfile *f, size_t from, size_t n)
{
	loff_t off = (loff_t)from;

	while (f->has_fd && n > 0) {
		ssize_t k = copy_file_range(f->fd, &off, fd, NULL, n, 0);

		if (k <= 0)
			break;	/* not supported here (EXDEV, EINVAL...): write the rest */
		n -= (size_t)k;
	}
	return write_all(fd, f->data + (size_t)off, n);
}

/* data with its edits: replaced lines in place, then the appended ones. */
static int write_edited(int fd, struct acfile *f)
{
	size_t from = 0;
	bool nl = true;
	int r = 0;

	qsort(f->edit, f->nedit, sizeof(*f->edit), by_offset);
	for (size_t i = 0; i < f->nedit && r == 0; i++) {
		struct edit *e = &f->edit[i];
		size_t upto = e->at == SIZE_MAX ? f->len : e->at;

		if (upto > from) {
			r = write_range(fd, f, from, upto - from);
			nl = f->data[upto - 1] == '\n';
			from = upto;
		}
		if (r == 0 && e->at == SIZE_MAX && !nl && e->text.len)
			r = write_all(fd, "\n", 1);	/* the file had no final newline */
		if (r == 0 && e->text.len) {
			r = write_all(fd, e->text.data, e->text.len);
			nl = e->text.data[e->text.len - 1] == '\n';
		}
		if (e->at != SIZE_MAX)
			from = e->at + e->len;
	}
	if (r == 0 && from < f->len)
		r = write_range(fd, f, from, f->len - from);
	return r;
}

static int write_contents(int fd, struct acfile *f, bool old)
{
	if (old)
		return write_range(fd, f, 0, f->len);
	if (f->next.data)
		return write_all(fd, f->next.data, f->next.len);
	return write_edited(fd, f);
}

static int write_as(int etc, const char *name, struct acfile *f, bool old)
{
	char tmp[64];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s+", name);
	unlinkat(etc, tmp, 0);
	fd = openat(etc, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchown(fd, f->st.st_uid, f->st.st_gid) != 0 || fchmod(fd, f->st.st_mode & 07777) != 0)
		r = -errno;
	if (r == 0)
		r = write_contents(fd, f, old);
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

	if (!changed(f))
		return 0;
	snprintf(backup, sizeof(backup), "%s-", file_names[which]);
	if (unlinkat(fs->etc, backup, 0) != 0 && errno != ENOENT)
		r = -errno;
	if (r == 0 && linkat(fs->etc, file_names[which], fs->etc, backup, 0) != 0)
		r = write_as(fs->etc, backup, f, true);
	if (r == 0)
		r = write_as(fs->etc, file_names[which], f, false);
	return r;
}

/* In this order, so that an interrupted commit leaves a group without its user, never a user without its group. */
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

static bool pid_gone(long pid)
{
	return pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/*
 * The lock file, holding our pid, linked in as NAME.lock: atomically or
 * not at all. Made nameless (O_TMPFILE) where the filesystem can, so that
 * a kill leaves nothing behind; else as commonio makes it, NAME.PID linked
 * to NAME.lock, and a NAME.PID of a process that is gone is removed.
 */
static int link_lock(int etc, const char *lock, const char *text, size_t len)
{
	int fd = openat(etc, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600), r;

	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? -EOPNOTSUPP : -errno;
	r = write_all(fd, text, len);
	if (r == 0 && linkat(fd, "", etc, lock, AT_EMPTY_PATH) != 0)
		r = errno == ENOENT || errno == EPERM ? -EOPNOTSUPP : -errno;	/* AT_EMPTY_PATH needs privilege */
	close(fd);
	return r;
}

static void remove_dead_pid_files(int etc, const char *name)
{
	int fd = dup(etc);
	size_t n = strlen(name);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, name, n) == 0 && e->d_name[n] == '.' && text_is_digits(e->d_name + n + 1) &&
		    strlen(e->d_name + n + 1) < 12 && pid_gone(strtol(e->d_name + n + 1, NULL, 10)))
			unlinkat(etc, e->d_name, 0);
	closedir(d);
}

static int lock_one(int etc, const char *name, pid_t pid)
{
	char tmp[64], lock[64], text[32];
	int fd, r, len = snprintf(text, sizeof(text), "%d", (int)pid);

	snprintf(lock, sizeof(lock), "%s.lock", name);
	r = link_lock(etc, lock, text, (size_t)len);
	if (r != -EOPNOTSUPP)
		return r;
	remove_dead_pid_files(etc, name);
	snprintf(tmp, sizeof(tmp), "%s.%d", name, (int)pid);
	unlinkat(etc, tmp, 0);
	fd = openat(etc, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, (size_t)len);
	close(fd);
	if (r == 0 && linkat(etc, tmp, etc, lock, 0) != 0)
		r = -errno;
	unlinkat(etc, tmp, 0);
	return r;
}

/* The pid in NAME.lock is gone: the lock is stale. */
static bool stale(int etc, const char *name)
{
	char lock[64], text[32] = "";
	int fd;
	ssize_t n;
	long pid;

	snprintf(lock, sizeof(lock), "%s.lock", name);
	fd = openat(etc, lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	pid = strtol(text, NULL, 10);
	return pid_gone(pid);
}

static void unlock_names(int etc, int upto)
{
	char lock[64];

	for (int i = 0; i < upto; i++) {
		snprintf(lock, sizeof(lock), "%s.lock", file_names[i]);
		unlinkat(etc, lock, 0);
	}
}

/* Every NAME.lock, or none. */
static int lock_names(int etc)
{
	pid_t pid = getpid();
	int r = 0, i;

	for (i = 0; i < F_COUNT && r == 0; i++) {
		r = lock_one(etc, file_names[i], pid);
		if (r == -EEXIST && stale(etc, file_names[i])) {
			char lock[64];

			snprintf(lock, sizeof(lock), "%s.lock", file_names[i]);
			unlinkat(etc, lock, 0);
			r = lock_one(etc, file_names[i], pid);
		}
	}
	if (r)
		unlock_names(etc, i - 1);
	return r;
}

/* lckpwdf's .pwd.lock, then every NAME.lock, waiting at most wait_s seconds for both. */
static int lock_files(int etc, int wait_s, int *lockfd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec tick = { 0, 50L * 1000 * 1000 };
	int fd = openat(etc, ".pwd.lock", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int i = 0;

	if (fd < 0)
		return -errno;
	for (; i < wait_s * 20 && fcntl(fd, F_SETLK, &fl) != 0; i++)
		nanosleep(&tick, NULL);
	for (; i < wait_s * 20; i++) {
		int r = lock_names(etc);

		if (r == 0) {
			*lockfd = fd;
			return 0;
		}
		if (r != -EEXIST)
			break;
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

static void release_file(struct acfile *f)
{
	if (f->mapped)
		munmap(f->data, f->len);
	else
		data_free(f->data, f->cap);
	if (f->has_fd)
		close(f->fd);
	for (size_t i = 0; i < f->nedit; i++) {
		free(f->edit[i].name);
		acbuf_free(&f->edit[i].text);
	}
	free(f->edit);
	acbuf_free(&f->next);
	memset(f, 0, sizeof(*f));
}

static void release(struct files *fs)
{
	for (int i = 0; i < F_COUNT; i++)
		release_file(&fs->f[i]);
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

/* fn on sysroot's account files, under the password-file locks. */
static int with_files(const struct config *cfg, files_fn *fn, void *ctx, char *err, size_t errlen)
{
	struct files fs = { .etc = open_etc(cfg) };
	int lockfd = -1, r = 0, wait_s = FAULT_NUMBER(cfg, "lock-wait", LOCK_WAIT_S);

	if (fs.etc < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/etc: %s", cfg->sysroot, strerror(errno));
	}
	if (r == 0 && (r = lock_files(fs.etc, wait_s, &lockfd)) != 0)
		snprintf(err, errlen, "the account files are locked by another program (waited %d s)", wait_s);
	if (r == 0)
		r = fn(cfg, &fs, ctx, err, errlen);
	if (lockfd >= 0) {
		unlock_names(fs.etc, F_COUNT);
		close(lockfd);
	}
	release(&fs);
	return r;
}

/* A system account that is there already is kept as it is. */
static int keep_system(struct files *fs, struct account *a)
{
	long uid = entry_id(&fs->f[F_PASSWD], a->name, 2), gid = entry_id(&fs->f[F_PASSWD], a->name, 3);

	if (uid < 0 || gid < 0)
		return -EINVAL;
	a->uid = (uid_t)uid;
	a->gid = (gid_t)gid;
	return 0;
}

static int update_files(const struct config *cfg, const struct logindefs *ld, struct files *fs,
			struct account *a, char *err, size_t errlen)
{
	struct acline_field line;
	int r = load_all(fs, err, errlen);

	if (r)
		return r;
	if (a->system && current_line(&fs->f[F_PASSWD], a->name, &line)) {
		r = keep_system(fs, a);
		if (r)
			snprintf(err, errlen, "passwd: the entry of %s is malformed", a->name);
		return r;
	}
	r = plan_ids(ld, fs, a, err, errlen);
	if (r == 0)
		r = ensure_group(fs, a);
	if (r == 0)
		r = ensure_gshadow(fs, a);
	if (r == 0)
		r = ensure_passwd(cfg, fs, a);
	if (r == 0 && !a->system)
		r = ensure_groups(cfg, fs, a->name, err, errlen);
	if (r == 0)
		r = ensure_shadow(ld, fs, a);
	if (r == 0)
		r = commit_all(fs, err, errlen);
	else if (!err[0])
		snprintf(err, errlen, "the account files: %s", strerror(-r));
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

static int files_provision(const struct config *cfg, const struct logindefs *ld, struct account *a, char *err,
			   size_t errlen)
{
	struct provision_job job = { ld, a };
	int r;

	err[0] = '\0';
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
		r = home_create(cfg, a->name, a->uid, a->gid, a->chose_ids, err, errlen);	/* ids new: no home is ours yet */
	return r;
}

static int read_sysroot_file(const struct config *cfg, const char *file, struct acfile *f);

/* What to change in a shadow entry. */
struct shadow_edit {
	enum { SHADOW_LOCK, SHADOW_UNLOCK, SHADOW_PASSWORD } what;
	const char *hash;	/* SHADOW_PASSWORD */
	const char *expire;	/* SHADOW_UNLOCK: the expiry to give back (NULL: none) */
};

/* revoke's mark: a '!' before the hash and expired on day 1. */
static bool revoked_mark(const struct acline_field *field)
{
	return field[1].len && field[1].s[0] == '!' && acline_is(field[7], "1");
}

/*
 * The edited line, field by field. Locked: one more '!' before the hash
 * (an administrator's own lock survives a revoke and restore) and expired
 * on day 1, once (a second revoke changes nothing); unlocked: that undone,
 * if it is there, with the expiry given back; a new password: the hash
 * (behind the '!' of a lock, if there is one) and today as the date of the
 * last change. -ENODATA: nothing but '!' would be left unlocked, so it
 * stays locked.
 */
static int edit_line(struct acline_field line, const struct shadow_edit *e, struct acbuf *out, char *err, size_t errlen)
{
	struct acline_field field[9];
	struct acbuf hash = { 0 };
	char lastchg[24];
	bool mark;
	int r;

	if (acline_split(line.s, line.len, field, 9) != 9 || memchr(field[8].s, ':', field[8].len)) {
		snprintf(err, errlen, "shadow: the entry is malformed");
		return -EINVAL;
	}
	mark = revoked_mark(field);
	if (e->what == SHADOW_UNLOCK && mark && strspn(field[1].s + 1, "!") >= field[1].len - 1) {
		snprintf(err, errlen, "no password behind the lock: it stays locked; issue a new PIN");
		return -ENODATA;
	}
	r = acbuf_puts(&hash, (e->what == SHADOW_LOCK && !mark) ||
		       (e->what == SHADOW_PASSWORD && field[1].len && field[1].s[0] == '!') ? "!" : "");
	if (r == 0 && e->what == SHADOW_PASSWORD)
		r = acbuf_puts(&hash, e->hash);
	else if (r == 0)	/* unlocking a marked line: the hash without revoke's '!' */
		r = acbuf_put(&hash, field[1].s + (e->what == SHADOW_UNLOCK && mark), field[1].len - (e->what == SHADOW_UNLOCK && mark));
	snprintf(lastchg, sizeof(lastchg), "%ld", (long)(time(NULL) / 86400));
	field[1] = (struct acline_field){ hash.data, hash.len };
	if (e->what == SHADOW_PASSWORD)
		field[2] = (struct acline_field){ lastchg, strlen(lastchg) };
	if (e->what == SHADOW_LOCK)
		field[7] = (struct acline_field){ "1", 1 };
	else if (e->what == SHADOW_UNLOCK && mark)
		field[7] = (struct acline_field){ e->expire ? e->expire : "", e->expire ? strlen(e->expire) : 0 };
	if (r == 0)
		r = acbuf_fields(out, field, 0, 8);
	if (r == 0)
		r = acbuf_put(out, "\n", 1);
	acbuf_free(&hash);
	return r;
}

static int edit_shadow(struct files *fs, const char *name, const struct shadow_edit *e, char *err, size_t errlen)
{
	struct acline_field line;
	struct acbuf out = { 0 };
	int r = load(fs, F_SHADOW);

	if (r) {
		snprintf(err, errlen, "reading shadow: %s", strerror(-r));
		return r;
	}
	if (!current_line(&fs->f[F_SHADOW], name, &line)) {
		snprintf(err, errlen, "shadow: no entry for %s", name);
		return -ENOENT;
	}
	r = edit_line(line, e, &out, err, errlen);
	if (r == 0 && out.len == line.len + 1 && memcmp(out.data, line.s, line.len) == 0)
		r = -EALREADY;
	if (r == 0)
		r = set_line(&fs->f[F_SHADOW], name, out.data, out.len);
	if (r == 0)
		r = commit_all(fs, err, errlen);
	acbuf_free(&out);
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

static int files_set_password(const struct config *cfg, const char *name, const char *hash, char *err, size_t errlen)
{
	struct shadow_edit e = { .what = SHADOW_PASSWORD, .hash = hash };

	if (!field_ok(hash, false) || !hash[0]) {
		snprintf(err, errlen, "shadow: the new hash is not a valid field");
		return -EINVAL;
	}
	return change_shadow(cfg, name, &e, err, errlen);
}

static int files_set_locked(const struct config *cfg, const char *name, bool locked, const char *expire, char *err,
			    size_t errlen)
{
	struct shadow_edit e = { .what = locked ? SHADOW_LOCK : SHADOW_UNLOCK, .expire = expire };

	if (expire && (!field_ok(expire, false) || (expire[0] && !text_is_digits(expire)))) {
		snprintf(err, errlen, "shadow: the expiry to give back is not a day number");
		return -EINVAL;
	}
	return change_shadow(cfg, name, &e, err, errlen);
}

static int files_shadow_expire(const struct config *cfg, const char *name, char *expire, size_t size, bool *revoked)
{
	struct acfile f = { 0 };
	struct acline_field line, field[9];
	int r;

	r = read_sysroot_file(cfg, "shadow", &f);
	if (r == 0 && !current_line(&f, name, &line))
		r = -ENOENT;
	if (r == 0 && acline_split(line.s, line.len, field, 9) != 9)
		r = -EINVAL;
	if (r == 0 && field[7].len >= size)
		r = -E2BIG;
	if (r == 0) {
		memcpy(expire, field[7].s, field[7].len);
		expire[field[7].len] = '\0';
		*revoked = revoked_mark(field);
	}
	data_free(f.data, f.cap);
	return r;
}
/*
 * Renaming: every line of a file rewritten into next, the lines the rename
 * does not touch byte for byte; lists (members, administrators) are
 * comma-separated. Each file is renamed on its own, so an interrupted
 * rename is finished by the next (resume): a line that already carries the
 * new name is left as it is.
 */
struct rename {
	const char *from, *to;
	char old_home[CONFIG_PATH_MAX + 64], new_home[CONFIG_PATH_MAX + 64];
	bool moves_home;	/* the home is home_base/from (or already home_base/to) */
	long gid;		/* the user's primary group */
	bool resume;
	bool group_renamed;
};

static int renamed_passwd(struct acline_field *f, struct rename *rn, struct acbuf *out)
{
	int r = acbuf_puts(out, rn->to);

	if (r == 0)
		r = acbuf_put(out, ":", 1);
	if (r == 0)
		r = acbuf_fields(out, f, 1, 4);
	if (r == 0)
		r = acbuf_put(out, ":", 1);
	if (r == 0)
		r = acline_is(f[5], rn->old_home) ? acbuf_puts(out, rn->new_home) : acbuf_field(out, f[5]);
	if (r == 0)
		r = acbuf_put(out, ":", 1);
	return r ? r : acbuf_field(out, f[6]);
}

static bool is_gid(struct acline_field f, long gid)
{
	char digits[24];

	if (f.len == 0 || f.len >= sizeof(digits))
		return false;
	memcpy(digits, f.s, f.len);
	digits[f.len] = '\0';
	return text_is_digits(digits) && strtol(digits, NULL, 10) == gid;
}

static int renamed_group(int which, struct acline_field *f, bool me, struct rename *rn, struct acbuf *out)
{
	int r = me ? acbuf_puts(out, rn->to) : acbuf_field(out, f[0]);

	if (r == 0)
		r = acbuf_put(out, ":", 1);
	if (r == 0)
		r = acbuf_field(out, f[1]);
	if (r == 0)
		r = acbuf_put(out, ":", 1);
	if (r == 0)
		r = which == F_GSHADOW ? acbuf_list_renamed(out, f[2], rn->from, rn->to) : acbuf_field(out, f[2]);
	if (r == 0)
		r = acbuf_put(out, ":", 1);
	return r ? r : acbuf_list_renamed(out, f[3], rn->from, rn->to);
}

/* One line (without its newline) of file which, as it is after the rename. */
static int rename_line(int which, struct acline_field line, struct rename *rn, struct acbuf *out)
{
	struct acline_field f[9];
	int n = acline_split(line.s, line.len, f, which == F_SHADOW ? 9 : which == F_PASSWD ? 7 : 4);
	bool me = acline_is(f[0], rn->from), group = (which == F_GROUP || which == F_GSHADOW) && n == 4;

	if (which == F_PASSWD && me && n == 7)
		return renamed_passwd(f, rn, out);
	if (which == F_SHADOW && me) {
		int r = acbuf_puts(out, rn->to);

		return r ? r : acbuf_put(out, line.s + f[0].len, line.len - f[0].len);
	}
	if (group && which == F_GROUP && me && is_gid(f[2], rn->gid))
		rn->group_renamed = true;
	me = me && (which == F_GROUP ? is_gid(f[2], rn->gid) : rn->group_renamed);
	if (!group || (!me && !acline_list_has(f[3], rn->from) && !(which == F_GSHADOW && acline_list_has(f[2], rn->from))))
		return acbuf_field(out, line);
	return renamed_group(which, f, me, rn, out);
}

static int rename_in(struct acfile *f, int which, struct rename *rn)
{
	const char *at = f->data, *end = f->data ? f->data + f->len : NULL;
	int r = 0;

	if (!f->exists)
		return 0;
	while (r == 0 && at && at < end) {
		struct acline_field line = { at, line_len(at, end) };

		r = rename_line(which, line, rn, &f->next);
		at += line.len;
		if (r == 0 && at < end)
			r = acbuf_put(&f->next, "\n", 1);
		at += at < end;
	}
	if (r == 0 && !f->next.data)
		r = acbuf_put(&f->next, "", 0);
	return r;
}

/* The user's line in passwd: under the old name, or (resuming) the new one. */
static int user_line(struct files *fs, struct rename *rn, struct acline_field *field, char *err, size_t errlen)
{
	struct acline_field line, other;
	bool old = current_line(&fs->f[F_PASSWD], rn->from, &line);
	bool new_there = current_line(&fs->f[F_PASSWD], rn->to, &other);

	if (old && new_there) {
		snprintf(err, errlen, "%s is already a user in passwd", rn->to);
		return -EEXIST;
	}
	if (!old && !(rn->resume && new_there)) {
		snprintf(err, errlen, "passwd: no user %s", rn->from);
		return -ENOENT;
	}
	if (!old)
		line = other;
	if (acline_split(line.s, line.len, field, 7) != 7 || !is_gid(field[3], strtol(field[3].s, NULL, 10))) {
		snprintf(err, errlen, "passwd: the entry of %s is malformed", old ? rn->from : rn->to);
		return -EINVAL;
	}
	return 0;
}

/* The user's gid and home, and whether its home moves; the new name must be free (or ours, resuming). */
static int plan_rename(const struct config *cfg, struct files *fs, struct rename *rn, char *err, size_t errlen)
{
	const char *base = strcmp(cfg->home_base, "/") ? cfg->home_base : "";
	struct acline_field f[7], line;
	int r = user_line(fs, rn, f, err, errlen);

	if (r)
		return r;
	rn->gid = strtol(f[3].s, NULL, 10);
	if (current_line(&fs->f[F_GROUP], rn->to, &line) && !(rn->resume && entry_id(&fs->f[F_GROUP], rn->to, 2) == rn->gid)) {
		snprintf(err, errlen, "%s is already a group in the account files", rn->to);
		return -EEXIST;
	}
	/* resuming after group was renamed: gshadow's entry is the user's group all the same */
	rn->group_renamed = rn->resume && entry_id(&fs->f[F_GROUP], rn->to, 2) == rn->gid;
	snprintf(rn->old_home, sizeof(rn->old_home), "%s/%s", base, rn->from);
	snprintf(rn->new_home, sizeof(rn->new_home), "%s/%s", base, rn->to);
	rn->moves_home = acline_is(f[5], rn->old_home) || acline_is(f[5], rn->new_home);
	return 0;
}

static void sysroot_path(const struct config *cfg, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s%s", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "", path);
}

/* The home directory follows the name, under sysroot; a target that is not ours is refused before any file changes. */
static int home_target_free(const struct config *cfg, const struct rename *rn, char *err, size_t errlen)
{
	char from[2 * CONFIG_PATH_MAX + 128], to[2 * CONFIG_PATH_MAX + 128];
	struct stat st;

	if (!rn->moves_home)
		return 0;
	sysroot_path(cfg, rn->old_home, from, sizeof(from));
	sysroot_path(cfg, rn->new_home, to, sizeof(to));
	if (lstat(to, &st) == 0 && (!rn->resume || lstat(from, &st) == 0)) {
		snprintf(err, errlen, "%s already exists", rn->new_home);
		return -EEXIST;
	}
	return 0;
}

/* A home that cannot move is not a failure (the files are renamed already): err says so. */
static int move_home(const struct config *cfg, const struct rename *rn, char *err, size_t errlen)
{
	char from[2 * CONFIG_PATH_MAX + 128], to[2 * CONFIG_PATH_MAX + 128];

	if (!rn->moves_home)
		return 0;
	sysroot_path(cfg, rn->old_home, from, sizeof(from));
	sysroot_path(cfg, rn->new_home, to, sizeof(to));
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
			snprintf(err, errlen, "%s: %s", file_names[order[i]], strerror(-r));
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

static int files_rename(const struct config *cfg, const char *from, const char *to, bool resume, char *err,
			size_t errlen)
{
	struct rename rn = { .from = from, .to = to, .resume = resume };

	err[0] = '\0';
	return with_files(cfg, run_rename, &rn, err, errlen);
}

struct files_names {
	struct acfile passwd, group;
};

/*
 * A file of sysroot's etc, whole; a missing one is empty (gshadow may be).
 * One that cannot be read is empty too, but says so: read as "nobody", it
 * would hand out a name that is already someone's.
 */
static int read_sysroot_file(const struct config *cfg, const char *file, struct acfile *f)
{
	char path[CONFIG_PATH_MAX + 16];
	int fd, r;

	snprintf(path, sizeof(path), "%s/etc/%s", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "", file);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	r = fd >= 0 ? read_all(fd, f) : errno == ENOENT ? -ENOENT : -errno;
	if (r) {
		data_free(f->data, f->cap);
		f->data = strdup("");
		f->len = f->cap = 0;
	}
	if (fd >= 0)
		close(fd);
	return r == -ENOENT ? 0 : r;
}

static void files_names_free(void *names)
{
	struct files_names *n = names;

	if (n) {
		data_free(n->passwd.data, n->passwd.cap);
		data_free(n->group.data, n->group.cap);
		free(n);
	}
}

static void *files_names_load(const struct config *cfg)
{
	struct files_names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (read_sysroot_file(cfg, "passwd", &n->passwd) != 0 || read_sysroot_file(cfg, "group", &n->group) != 0 ||
	    !n->passwd.data || !n->group.data) {
		files_names_free(n);
		return NULL;
	}
	return n;
}

static bool files_names_has(const void *names, const char *name)
{
	const struct files_names *n = names;
	struct acline_field line;

	return getpwnam(name) || getgrnam(name) || current_line(&n->passwd, name, &line) ||
	       current_line(&n->group, name, &line);
}

static int files_exists(const struct config *cfg, const char *name, bool *exists)
{
	static const char *const names[] = { "passwd", "group", "shadow", "gshadow" };
	struct acline_field line;
	bool found = false;
	int r = 0;

	for (size_t i = 0; i < 4 && !found && r == 0; i++) {
		struct acfile f = { 0 };

		r = read_sysroot_file(cfg, names[i], &f);	/* unreadable: an error, never "not there" */
		found = r == 0 && current_line(&f, name, &line);
		data_free(f.data, f.cap);
	}
	*exists = found;
	return r;
}

static bool files_name_taken(const struct config *cfg, const char *name)
{
	struct files_names *n = files_names_load(cfg);
	bool taken = !n || files_names_has(n, name);	/* fail closed */

	files_names_free(n);
	return taken;
}

static int files_check(const struct config *cfg, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "files in %s/etc", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "");
	return 0;
}

const struct accounts_backend accounts_files = {
	.name = "files",
	.provision = files_provision,
	.set_locked = files_set_locked,
	.shadow_expire = files_shadow_expire,
	.set_password = files_set_password,
	.rename = files_rename,
	.exists = files_exists,
	.name_taken = files_name_taken,
	.names_load = files_names_load,
	.names_has = files_names_has,
	.names_free = files_names_free,
	.check = files_check,
};
