/*
 * failinject.c: an LD_PRELOAD library that makes chosen calls of the
 * process under test fail as the system would (NULL and ENOMEM, -1 and
 * EIO or ENOSPC, an SQLite error code), for tests/module/test_inject.c.
 * It wraps, with dlsym(RTLD_NEXT):
 *   mem     malloc calloc realloc mmap
 *   file    open open64 openat openat64 fopen fopen64 read pread64 write
 *           pwrite64 fsync fdatasync rename renameat renameat2 mkdir
 *           mkdirat fchown fchownat fchmod link linkat unlink unlinkat
 *           close ftruncate copy_file_range symlinkat
 *   crypt   crypt crypt_r crypt_rn crypt_ra crypt_gensalt_rn crypt_gensalt_ra
 *   sqlite  sqlite3_open_v2 sqlite3_prepare_v2 sqlite3_prepare_v3
 *           sqlite3_step sqlite3_exec sqlite3_bind_text sqlite3_bind_blob
 * Only calls from outside their own library are seen (glibc's fopen opens
 * without open(), SQLite's exec steps without sqlite3_step): the calls the
 * program and its libraries make of each other, which is where a failure
 * has to be handled.
 *
 * Control, with nothing secret in the environment: FAILINJECT=DIR, and
 * DIR/control holds one line:
 *   off                    nothing (and no count)
 *   count                  count the calls, fail none
 *   nth N SET [from]       the Nth call among the calls of SET fails; with
 *                          "from", that one and every later one of SET
 *   random SEED P SET      each call of SET fails with probability P
 *                          (xorshift from SEED: the same run every time)
 * SET is names and classes (mem, file, crypt, sqlite, all) joined by
 * commas. N counts the calls of SET together, in the order they are made.
 * A descriptor 0-2 is never failed: the helper's are the relay socket and
 * /dev/null, and the evidence must get out.
 *
 * DIR/report gets, as each failure fires, "fail NAME K N OBJECT+OFFSET"
 * (K: the call's number among NAME's calls, N: among SET's, the caller as
 * addr2line takes it; the first 200 only), and at exit "calls NAME K" for
 * every name called, "fired TOTAL" and "end". Only the process that loaded the library counts and fails:
 * in a child (fork, posix_spawn) every call passes through untouched.
 * The helper is single-threaded; the counters are not made for threads.
 */
#undef _FORTIFY_SOURCE	/* its inline open() and read() would clash with the wrappers below */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <crypt.h>
#include <sqlite3.h>

#define EXPORT __attribute__((visibility("default")))
#define REPORT_FAILS 200	/* fail lines in the report; "fired" says how many in all */

enum fn {
	F_MALLOC, F_CALLOC, F_REALLOC, F_MMAP,
	F_OPEN, F_OPEN64, F_OPENAT, F_OPENAT64, F_FOPEN, F_FOPEN64, F_READ, F_PREAD64, F_WRITE,
	F_PWRITE64, F_FSYNC, F_FDATASYNC, F_RENAME, F_RENAMEAT, F_RENAMEAT2, F_MKDIR, F_MKDIRAT,
	F_FCHOWN, F_FCHOWNAT, F_FCHMOD, F_LINK, F_LINKAT, F_UNLINK, F_UNLINKAT, F_CLOSE,
	F_FTRUNCATE, F_COPY_FILE_RANGE, F_SYMLINKAT,
	F_CRYPT, F_CRYPT_R, F_CRYPT_RN, F_CRYPT_RA, F_GENSALT_RN, F_GENSALT_RA,
	F_SQ_OPEN, F_SQ_PREPARE_V2, F_SQ_PREPARE_V3, F_SQ_STEP, F_SQ_EXEC, F_SQ_BIND_TEXT, F_SQ_BIND_BLOB,
	F_COUNT
};

/* What a failure of each returns: errno values (SQLite codes for sqlite); a random failure picks one. */
static const struct {
	const char *name, *class;
	int err[3];
} fns[F_COUNT] = {
	[F_MALLOC] = { "malloc", "mem", { ENOMEM } },
	[F_CALLOC] = { "calloc", "mem", { ENOMEM } },
	[F_REALLOC] = { "realloc", "mem", { ENOMEM } },
	[F_MMAP] = { "mmap", "mem", { ENOMEM } },
	[F_OPEN] = { "open", "file", { EIO, EMFILE, ENOSPC } },
	[F_OPEN64] = { "open64", "file", { EIO, EMFILE, ENOSPC } },
	[F_OPENAT] = { "openat", "file", { EIO, EMFILE, ENOSPC } },
	[F_OPENAT64] = { "openat64", "file", { EIO, EMFILE, ENOSPC } },
	[F_FOPEN] = { "fopen", "file", { EIO, EMFILE, ENOMEM } },
	[F_FOPEN64] = { "fopen64", "file", { EIO, EMFILE, ENOMEM } },
	[F_READ] = { "read", "file", { EIO } },
	[F_PREAD64] = { "pread64", "file", { EIO } },
	[F_WRITE] = { "write", "file", { ENOSPC, EIO, EDQUOT } },
	[F_PWRITE64] = { "pwrite64", "file", { ENOSPC, EIO, EDQUOT } },
	[F_FSYNC] = { "fsync", "file", { EIO } },
	[F_FDATASYNC] = { "fdatasync", "file", { EIO } },
	[F_RENAME] = { "rename", "file", { EIO, ENOSPC } },
	[F_RENAMEAT] = { "renameat", "file", { EIO, ENOSPC } },
	[F_RENAMEAT2] = { "renameat2", "file", { EIO, ENOSPC } },
	[F_MKDIR] = { "mkdir", "file", { ENOSPC, EIO, EDQUOT } },
	[F_MKDIRAT] = { "mkdirat", "file", { ENOSPC, EIO, EDQUOT } },
	[F_FCHOWN] = { "fchown", "file", { EIO, EDQUOT } },
	[F_FCHOWNAT] = { "fchownat", "file", { EIO, EDQUOT } },
	[F_FCHMOD] = { "fchmod", "file", { EIO } },
	[F_LINK] = { "link", "file", { EIO, ENOSPC } },
	[F_LINKAT] = { "linkat", "file", { EIO, ENOSPC } },
	[F_UNLINK] = { "unlink", "file", { EIO } },
	[F_UNLINKAT] = { "unlinkat", "file", { EIO } },
	[F_CLOSE] = { "close", "file", { EIO } },
	[F_FTRUNCATE] = { "ftruncate", "file", { EIO } },
	[F_COPY_FILE_RANGE] = { "copy_file_range", "file", { EIO, ENOSPC } },
	[F_SYMLINKAT] = { "symlinkat", "file", { ENOSPC, EIO } },
	[F_CRYPT] = { "crypt", "crypt", { ENOMEM } },
	[F_CRYPT_R] = { "crypt_r", "crypt", { ENOMEM } },
	[F_CRYPT_RN] = { "crypt_rn", "crypt", { ENOMEM } },
	[F_CRYPT_RA] = { "crypt_ra", "crypt", { ENOMEM } },
	[F_GENSALT_RN] = { "crypt_gensalt_rn", "crypt", { ENOMEM } },
	[F_GENSALT_RA] = { "crypt_gensalt_ra", "crypt", { ENOMEM } },
	[F_SQ_OPEN] = { "sqlite3_open_v2", "sqlite", { SQLITE_NOMEM } },
	[F_SQ_PREPARE_V2] = { "sqlite3_prepare_v2", "sqlite", { SQLITE_NOMEM, SQLITE_IOERR_READ, SQLITE_BUSY } },
	[F_SQ_PREPARE_V3] = { "sqlite3_prepare_v3", "sqlite", { SQLITE_NOMEM, SQLITE_IOERR_READ, SQLITE_BUSY } },
	[F_SQ_STEP] = { "sqlite3_step", "sqlite", { SQLITE_IOERR, SQLITE_BUSY, SQLITE_FULL } },
	[F_SQ_EXEC] = { "sqlite3_exec", "sqlite", { SQLITE_IOERR, SQLITE_BUSY, SQLITE_FULL } },
	[F_SQ_BIND_TEXT] = { "sqlite3_bind_text", "sqlite", { SQLITE_NOMEM } },
	[F_SQ_BIND_BLOB] = { "sqlite3_bind_blob", "sqlite", { SQLITE_NOMEM } },
};

enum mode { M_OFF, M_COUNT, M_NTH, M_RANDOM };

static struct {
	enum mode mode;
	bool in_set[F_COUNT];
	bool from;		/* nth: every call of SET from the Nth on fails */
	unsigned long nth;
	double p;
	uint64_t rng;
	unsigned long set_calls, calls[F_COUNT], fired;
	pid_t self;
	int report;		/* -1: no report */
} fi = { .report = -1 };

static void *real[F_COUNT];
static __thread int busy;	/* inside the library's own work: pass through, count nothing */
static int resolving;

/*
 * dlsym may allocate before malloc itself is resolved: those few blocks
 * come from here, and free() knows them by their address.
 */
static _Alignas(16) unsigned char arena[65536];
static size_t arena_used;

static void *arena_alloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (need > sizeof(arena) - arena_used)
		return NULL;
	p = arena + arena_used;
	arena_used += need;
	return p;
}

static bool in_arena(const void *p)
{
	return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + sizeof(arena);
}

static void *resolve(enum fn f)
{
	if (!real[f]) {
		resolving++;
		real[f] = dlsym(RTLD_NEXT, fns[f].name);
		resolving--;
	}
	return real[f];
}

static void *(*real_malloc(void))(size_t)
{
	return (void *(*)(size_t))resolve(F_MALLOC);
}

/* --- the report ----------------------------------------------------------- */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
	ssize_t (*w)(int, const void *, size_t) = (ssize_t (*)(int, const void *, size_t))resolve(F_WRITE);
	char line[512];
	va_list ap;
	int n;

	if (fi.report < 0 || !w)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		w(fi.report, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* OBJECT+OFFSET of a return address: what addr2line -e OBJECT OFFSET turns into a line. */
static void report_fail(enum fn f, const void *caller)
{
	Dl_info info;
	const char *obj = "?";
	uintptr_t off = (uintptr_t)caller;

	if (dladdr(caller, &info) && info.dli_fname) {
		const char *slash = strrchr(info.dli_fname, '/');

		obj = slash ? slash + 1 : info.dli_fname;
		off = (uintptr_t)caller - (uintptr_t)info.dli_fbase;
	}
	report("fail %s %lu %lu %s+0x%lx\n", fns[f].name, fi.calls[f], fi.set_calls, obj, (unsigned long)off);
}

/* --- the control file --------------------------------------------------------- */

static bool set_add(const char *word)
{
	bool any = false;

	for (int f = 0; f < F_COUNT; f++)
		if (!strcmp(word, "all") || !strcmp(word, fns[f].name) || !strcmp(word, fns[f].class)) {
			fi.in_set[f] = true;
			any = true;
		}
	return any;
}

static bool parse_set(char *list)
{
	char *save = NULL;
	bool ok = true;

	for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
		ok = set_add(w) && ok;
	return ok;
}

static bool parse_control(char *line)
{
	char *save = NULL, *word = strtok_r(line, " \t\n", &save), *end;

	if (!word)
		return false;
	if (!strcmp(word, "off"))
		return true;
	if (!strcmp(word, "count")) {
		fi.mode = M_COUNT;
		return true;
	}
	if (!strcmp(word, "nth")) {
		char *n = strtok_r(NULL, " \t\n", &save), *set = strtok_r(NULL, " \t\n", &save);
		char *from = strtok_r(NULL, " \t\n", &save);

		if (!n || !set)
			return false;
		fi.mode = M_NTH;
		fi.nth = strtoul(n, &end, 10);
		fi.from = from && !strcmp(from, "from");
		return *end == '\0' && fi.nth > 0 && parse_set(set) && (!from || fi.from);
	}
	if (!strcmp(word, "random")) {
		char *seed = strtok_r(NULL, " \t\n", &save), *p = strtok_r(NULL, " \t\n", &save);
		char *set = strtok_r(NULL, " \t\n", &save);

		if (!seed || !p || !set)
			return false;
		fi.mode = M_RANDOM;
		fi.rng = strtoull(seed, &end, 10) * 0x9E3779B97F4A7C15ULL | 1;
		if (*end != '\0')
			return false;
		fi.p = strtod(p, &end);
		return *end == '\0' && fi.p >= 0 && fi.p <= 1 && parse_set(set);
	}
	return false;
}

/* DIR/control through the real open and read: nothing of this is counted. */
static void read_control(const char *dir)
{
	int (*o)(const char *, int, ...) = (int (*)(const char *, int, ...))resolve(F_OPEN);
	ssize_t (*r)(int, void *, size_t) = (ssize_t (*)(int, void *, size_t))resolve(F_READ);
	int (*c)(int) = (int (*)(int))resolve(F_CLOSE);
	char path[4096], line[1024];
	ssize_t n = -1;
	int fd;

	if (!o || !r || !c)
		return;
	snprintf(path, sizeof(path), "%s/report", dir);
	fi.report = o(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	snprintf(path, sizeof(path), "%s/control", dir);
	fd = o(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = r(fd, line, sizeof(line) - 1);
		c(fd);
	}
	line[n > 0 ? n : 0] = '\0';
	if (!parse_control(line)) {
		report("error: bad control line '%s'\n", line);
		fi.mode = M_OFF;
	}
}

__attribute__((constructor)) static void fi_start(void)
{
	const char *dir = getenv("FAILINJECT");

	busy++;
	fi.self = getpid();
	if (dir && *dir)
		read_control(dir);
	report("start %ld\n", (long)fi.self);
	busy--;
}

__attribute__((destructor)) static void fi_end(void)
{
	if (getpid() != fi.self)
		return;
	busy++;
	for (int f = 0; f < F_COUNT; f++)
		if (fi.calls[f])
			report("calls %s %lu\n", fns[f].name, fi.calls[f]);
	report("fired %lu\nend\n", fi.fired);
	busy--;
}

/* --- the decision ---------------------------------------------------------- */

static double next_random(void)
{
	fi.rng ^= fi.rng >> 12;
	fi.rng ^= fi.rng << 25;
	fi.rng ^= fi.rng >> 27;
	return (double)((fi.rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Count this call; true if it is to fail (and then it has been reported). */
static bool should_fail(enum fn f, const void *caller)
{
	bool fail = false;

	if (fi.mode == M_OFF || busy || resolving || getpid() != fi.self)
		return false;
	busy++;
	fi.calls[f]++;
	if (fi.in_set[f]) {
		fi.set_calls++;
		if (fi.mode == M_NTH)
			fail = fi.set_calls == fi.nth || (fi.from && fi.set_calls > fi.nth);
		else if (fi.mode == M_RANDOM)
			fail = next_random() < fi.p;
	}
	/* a program that retries a failing call for ever must not fill the disk with the report */
	if (fail && ++fi.fired <= REPORT_FAILS)
		report_fail(f, caller);
	busy--;
	return fail;
}

/* The errno (or SQLite code) of this failure: the first of its list, or one of them at random. */
static int failure_code(enum fn f)
{
	int n = 0;

	while (n < 3 && fns[f].err[n])
		n++;
	if (fi.mode != M_RANDOM || n < 2)
		return fns[f].err[0];
	return fns[f].err[(int)(next_random() * n) % n];
}

static int fail_errno(enum fn f)
{
	errno = failure_code(f);
	return -1;
}

#define CALLER __builtin_return_address(0)
#define REAL(f, type) ((type)resolve(f))
/* a descriptor call that may fail: not on 0-2 */
#define FD_FAILS(fd, f) ((fd) > 2 && should_fail(f, CALLER))

/* --- mem ----------------------------------------------------------------- */

EXPORT void *malloc(size_t n)
{
	void *(*m)(size_t) = real[F_MALLOC];

	if (!m) {
		if (resolving)
			return arena_alloc(n);
		m = real_malloc();
		if (!m)
			return arena_alloc(n);
	}
	if (should_fail(F_MALLOC, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return m(n);
}

EXPORT void *calloc(size_t n, size_t size)
{
	void *(*c)(size_t, size_t) = real[F_CALLOC];

	if (!c) {
		if (resolving) {
			void *p = size && n > SIZE_MAX / size ? NULL : arena_alloc(n * size);

			return p ? memset(p, 0, n * size) : NULL;	/* the arena is zero until used, but say so */
		}
		c = REAL(F_CALLOC, void *(*)(size_t, size_t));
		if (!c)
			return NULL;
	}
	if (should_fail(F_CALLOC, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return c(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	void *(*r)(void *, size_t) = REAL(F_REALLOC, void *(*)(void *, size_t));

	if (in_arena(p)) {	/* a block of dlsym's: moved to the heap (its old size is unknown, at most the rest of the arena) */
		void *q = malloc(n);
		size_t keep = (size_t)(arena + sizeof(arena) - (unsigned char *)p);

		if (q)
			memcpy(q, p, n < keep ? n : keep);
		return q;
	}
	if (!r)
		return NULL;
	if (should_fail(F_REALLOC, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return r(p, n);
}

EXPORT void free(void *p)
{
	static void (*f)(void *);

	if (!p || in_arena(p))
		return;
	if (!f) {
		if (resolving)
			return;	/* dlsym freeing while free itself is looked up: a few bytes kept */
		resolving++;
		f = (void (*)(void *))dlsym(RTLD_NEXT, "free");
		resolving--;
	}
	if (f)
		f(p);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *(*m)(void *, size_t, int, int, int, off_t) = REAL(F_MMAP, void *(*)(void *, size_t, int, int, int, off_t));

	if (!m || should_fail(F_MMAP, CALLER)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return m(addr, len, prot, flags, fd, off);
}

/* --- file ---------------------------------------------------------------- */

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

static int open_as(enum fn f, const void *caller, const char *path, int flags, mode_t mode)
{
	int (*o)(const char *, int, ...) = REAL(f, int (*)(const char *, int, ...));

	if (!o)
		return fail_errno(f);
	if (should_fail(f, caller))
		return fail_errno(f);
	return o(path, flags, mode);
}

static int openat_as(enum fn f, const void *caller, int dir, const char *path, int flags, mode_t mode)
{
	int (*o)(int, const char *, int, ...) = REAL(f, int (*)(int, const char *, int, ...));

	if (!o)
		return fail_errno(f);
	if (should_fail(f, caller))
		return fail_errno(f);
	return o(dir, path, flags, mode);
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_as(F_OPEN, CALLER, path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_as(F_OPEN64, CALLER, path, flags, mode);
}

EXPORT int openat(int dir, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return openat_as(F_OPENAT, CALLER, dir, path, flags, mode);
}

EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return openat_as(F_OPENAT64, CALLER, dir, path, flags, mode);
}

static FILE *fopen_as(enum fn f, const void *caller, const char *path, const char *how)
{
	FILE *(*o)(const char *, const char *) = REAL(f, FILE *(*)(const char *, const char *));

	if (!o || should_fail(f, caller)) {
		errno = failure_code(f);
		return NULL;
	}
	return o(path, how);
}

EXPORT FILE *fopen(const char *path, const char *how)
{
	return fopen_as(F_FOPEN, CALLER, path, how);
}

EXPORT FILE *fopen64(const char *path, const char *how)
{
	return fopen_as(F_FOPEN64, CALLER, path, how);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t (*r)(int, void *, size_t) = REAL(F_READ, ssize_t (*)(int, void *, size_t));

	if (!r || FD_FAILS(fd, F_READ))
		return fail_errno(F_READ);
	return r(fd, buf, n);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	ssize_t (*r)(int, void *, size_t, off_t) = REAL(F_PREAD64, ssize_t (*)(int, void *, size_t, off_t));

	if (!r || FD_FAILS(fd, F_PREAD64))
		return fail_errno(F_PREAD64);
	return r(fd, buf, n, off);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t (*w)(int, const void *, size_t) = REAL(F_WRITE, ssize_t (*)(int, const void *, size_t));

	if (!w || FD_FAILS(fd, F_WRITE))
		return fail_errno(F_WRITE);
	return w(fd, buf, n);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t (*w)(int, const void *, size_t, off_t) = REAL(F_PWRITE64, ssize_t (*)(int, const void *, size_t, off_t));

	if (!w || FD_FAILS(fd, F_PWRITE64))
		return fail_errno(F_PWRITE64);
	return w(fd, buf, n, off);
}

EXPORT int fsync(int fd)
{
	int (*s)(int) = REAL(F_FSYNC, int (*)(int));

	if (!s || FD_FAILS(fd, F_FSYNC))
		return fail_errno(F_FSYNC);
	return s(fd);
}

EXPORT int fdatasync(int fd)
{
	int (*s)(int) = REAL(F_FDATASYNC, int (*)(int));

	if (!s || FD_FAILS(fd, F_FDATASYNC))
		return fail_errno(F_FDATASYNC);
	return s(fd);
}

EXPORT int rename(const char *from, const char *to)
{
	int (*r)(const char *, const char *) = REAL(F_RENAME, int (*)(const char *, const char *));

	if (!r || should_fail(F_RENAME, CALLER))
		return fail_errno(F_RENAME);
	return r(from, to);
}

EXPORT int renameat(int fd1, const char *from, int fd2, const char *to)
{
	int (*r)(int, const char *, int, const char *) = REAL(F_RENAMEAT, int (*)(int, const char *, int, const char *));

	if (!r || should_fail(F_RENAMEAT, CALLER))
		return fail_errno(F_RENAMEAT);
	return r(fd1, from, fd2, to);
}

EXPORT int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	int (*r)(int, const char *, int, const char *, unsigned) =
		REAL(F_RENAMEAT2, int (*)(int, const char *, int, const char *, unsigned));

	if (!r || should_fail(F_RENAMEAT2, CALLER))
		return fail_errno(F_RENAMEAT2);
	return r(fd1, from, fd2, to, flags);
}

EXPORT int mkdir(const char *path, mode_t mode)
{
	int (*m)(const char *, mode_t) = REAL(F_MKDIR, int (*)(const char *, mode_t));

	if (!m || should_fail(F_MKDIR, CALLER))
		return fail_errno(F_MKDIR);
	return m(path, mode);
}

EXPORT int mkdirat(int dir, const char *path, mode_t mode)
{
	int (*m)(int, const char *, mode_t) = REAL(F_MKDIRAT, int (*)(int, const char *, mode_t));

	if (!m || should_fail(F_MKDIRAT, CALLER))
		return fail_errno(F_MKDIRAT);
	return m(dir, path, mode);
}

EXPORT int fchown(int fd, uid_t uid, gid_t gid)
{
	int (*c)(int, uid_t, gid_t) = REAL(F_FCHOWN, int (*)(int, uid_t, gid_t));

	if (!c || FD_FAILS(fd, F_FCHOWN))
		return fail_errno(F_FCHOWN);
	return c(fd, uid, gid);
}

EXPORT int fchownat(int dir, const char *path, uid_t uid, gid_t gid, int flags)
{
	int (*c)(int, const char *, uid_t, gid_t, int) = REAL(F_FCHOWNAT, int (*)(int, const char *, uid_t, gid_t, int));

	if (!c || should_fail(F_FCHOWNAT, CALLER))
		return fail_errno(F_FCHOWNAT);
	return c(dir, path, uid, gid, flags);
}

EXPORT int fchmod(int fd, mode_t mode)
{
	int (*c)(int, mode_t) = REAL(F_FCHMOD, int (*)(int, mode_t));

	if (!c || FD_FAILS(fd, F_FCHMOD))
		return fail_errno(F_FCHMOD);
	return c(fd, mode);
}

EXPORT int link(const char *from, const char *to)
{
	int (*l)(const char *, const char *) = REAL(F_LINK, int (*)(const char *, const char *));

	if (!l || should_fail(F_LINK, CALLER))
		return fail_errno(F_LINK);
	return l(from, to);
}

EXPORT int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	int (*l)(int, const char *, int, const char *, int) = REAL(F_LINKAT, int (*)(int, const char *, int, const char *, int));

	if (!l || should_fail(F_LINKAT, CALLER))
		return fail_errno(F_LINKAT);
	return l(fd1, from, fd2, to, flags);
}

EXPORT int unlink(const char *path)
{
	int (*u)(const char *) = REAL(F_UNLINK, int (*)(const char *));

	if (!u || should_fail(F_UNLINK, CALLER))
		return fail_errno(F_UNLINK);
	return u(path);
}

EXPORT int unlinkat(int dir, const char *path, int flags)
{
	int (*u)(int, const char *, int) = REAL(F_UNLINKAT, int (*)(int, const char *, int));

	if (!u || should_fail(F_UNLINKAT, CALLER))
		return fail_errno(F_UNLINKAT);
	return u(dir, path, flags);
}

/* As NFS does: the descriptor is gone either way, and the error says a write was lost. */
EXPORT int close(int fd)
{
	int (*c)(int) = REAL(F_CLOSE, int (*)(int));
	int r;

	if (!c)
		return fail_errno(F_CLOSE);
	if (fd > 2 && fd != fi.report && should_fail(F_CLOSE, CALLER)) {
		c(fd);
		return fail_errno(F_CLOSE);
	}
	r = c(fd);
	return r;
}

EXPORT int ftruncate(int fd, off_t len)
{
	int (*t)(int, off_t) = REAL(F_FTRUNCATE, int (*)(int, off_t));

	if (!t || FD_FAILS(fd, F_FTRUNCATE))
		return fail_errno(F_FTRUNCATE);
	return t(fd, len);
}

EXPORT ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned flags)
{
	ssize_t (*c)(int, off_t *, int, off_t *, size_t, unsigned) =
		REAL(F_COPY_FILE_RANGE, ssize_t (*)(int, off_t *, int, off_t *, size_t, unsigned));

	if (!c || FD_FAILS(out, F_COPY_FILE_RANGE))
		return fail_errno(F_COPY_FILE_RANGE);
	return c(in, inoff, out, outoff, n, flags);
}

EXPORT int symlinkat(const char *target, int dir, const char *path)
{
	int (*s)(const char *, int, const char *) = REAL(F_SYMLINKAT, int (*)(const char *, int, const char *));

	if (!s || should_fail(F_SYMLINKAT, CALLER))
		return fail_errno(F_SYMLINKAT);
	return s(target, dir, path);
}

/* --- crypt: NULL and errno, as libxcrypt's _rn, _ra and gensalt say a failure --- */

EXPORT char *crypt(const char *phrase, const char *setting)
{
	char *(*c)(const char *, const char *) = REAL(F_CRYPT, char *(*)(const char *, const char *));

	if (!c || should_fail(F_CRYPT, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return c(phrase, setting);
}

EXPORT char *crypt_r(const char *phrase, const char *setting, struct crypt_data *data)
{
	char *(*c)(const char *, const char *, struct crypt_data *) =
		REAL(F_CRYPT_R, char *(*)(const char *, const char *, struct crypt_data *));

	if (!c || should_fail(F_CRYPT_R, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return c(phrase, setting, data);
}

EXPORT char *crypt_rn(const char *phrase, const char *setting, void *data, int size)
{
	char *(*c)(const char *, const char *, void *, int) = REAL(F_CRYPT_RN, char *(*)(const char *, const char *, void *, int));

	if (!c || should_fail(F_CRYPT_RN, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return c(phrase, setting, data, size);
}

EXPORT char *crypt_ra(const char *phrase, const char *setting, void **data, int *size)
{
	char *(*c)(const char *, const char *, void **, int *) = REAL(F_CRYPT_RA, char *(*)(const char *, const char *, void **, int *));

	if (!c || should_fail(F_CRYPT_RA, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return c(phrase, setting, data, size);
}

EXPORT char *crypt_gensalt_rn(const char *prefix, unsigned long count, const char *rbytes, int nrbytes,
			      char *out, int size)
{
	char *(*g)(const char *, unsigned long, const char *, int, char *, int) =
		REAL(F_GENSALT_RN, char *(*)(const char *, unsigned long, const char *, int, char *, int));

	if (!g || should_fail(F_GENSALT_RN, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return g(prefix, count, rbytes, nrbytes, out, size);
}

EXPORT char *crypt_gensalt_ra(const char *prefix, unsigned long count, const char *rbytes, int nrbytes)
{
	char *(*g)(const char *, unsigned long, const char *, int) =
		REAL(F_GENSALT_RA, char *(*)(const char *, unsigned long, const char *, int));

	if (!g || should_fail(F_GENSALT_RA, CALLER)) {
		errno = ENOMEM;
		return NULL;
	}
	return g(prefix, count, rbytes, nrbytes);
}

/* --- sqlite: the code, and no work done (a failed step changed nothing) --- */

EXPORT int sqlite3_open_v2(const char *path, sqlite3 **db, int flags, const char *vfs)
{
	int (*o)(const char *, sqlite3 **, int, const char *) = REAL(F_SQ_OPEN, int (*)(const char *, sqlite3 **, int, const char *));

	if (!o || should_fail(F_SQ_OPEN, CALLER)) {
		*db = NULL;	/* what SQLite gives when it cannot allocate the handle */
		return SQLITE_NOMEM;
	}
	return o(path, db, flags, vfs);
}

EXPORT int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt, const char **tail)
{
	int (*p)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **) =
		REAL(F_SQ_PREPARE_V2, int (*)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **));

	if (!p || should_fail(F_SQ_PREPARE_V2, CALLER)) {
		*stmt = NULL;
		return failure_code(F_SQ_PREPARE_V2);
	}
	return p(db, sql, n, stmt, tail);
}

EXPORT int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **stmt,
			      const char **tail)
{
	int (*p)(sqlite3 *, const char *, int, unsigned, sqlite3_stmt **, const char **) =
		REAL(F_SQ_PREPARE_V3, int (*)(sqlite3 *, const char *, int, unsigned, sqlite3_stmt **, const char **));

	if (!p || should_fail(F_SQ_PREPARE_V3, CALLER)) {
		*stmt = NULL;
		return failure_code(F_SQ_PREPARE_V3);
	}
	return p(db, sql, n, flags, stmt, tail);
}

EXPORT int sqlite3_step(sqlite3_stmt *stmt)
{
	int (*s)(sqlite3_stmt *) = REAL(F_SQ_STEP, int (*)(sqlite3_stmt *));

	if (!s || should_fail(F_SQ_STEP, CALLER))
		return failure_code(F_SQ_STEP);
	return s(stmt);
}

EXPORT int sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *ctx,
			char **errmsg)
{
	int (*e)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **) =
		REAL(F_SQ_EXEC, int (*)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **));

	if (!e || should_fail(F_SQ_EXEC, CALLER)) {
		if (errmsg)
			*errmsg = NULL;
		return failure_code(F_SQ_EXEC);
	}
	return e(db, sql, cb, ctx, errmsg);
}

/* A text or blob bound with SQLITE_TRANSIENT is copied: that copy can fail, and then nothing is bound. */
EXPORT int sqlite3_bind_text(sqlite3_stmt *stmt, int col, const char *text, int n, void (*del)(void *))
{
	int (*b)(sqlite3_stmt *, int, const char *, int, void (*)(void *)) =
		REAL(F_SQ_BIND_TEXT, int (*)(sqlite3_stmt *, int, const char *, int, void (*)(void *)));

	if (!b || should_fail(F_SQ_BIND_TEXT, CALLER)) {
		if (del && del != SQLITE_STATIC && del != SQLITE_TRANSIENT)
			del((void *)text);	/* SQLite disposes of what it was given, bound or not */
		return SQLITE_NOMEM;
	}
	return b(stmt, col, text, n, del);
}

EXPORT int sqlite3_bind_blob(sqlite3_stmt *stmt, int col, const void *data, int n, void (*del)(void *))
{
	int (*b)(sqlite3_stmt *, int, const void *, int, void (*)(void *)) =
		REAL(F_SQ_BIND_BLOB, int (*)(sqlite3_stmt *, int, const void *, int, void (*)(void *)));

	if (!b || should_fail(F_SQ_BIND_BLOB, CALLER)) {
		if (del && del != SQLITE_STATIC && del != SQLITE_TRANSIENT)
			del((void *)data);
		return SQLITE_NOMEM;
	}
	return b(stmt, col, data, n, del);
}
