/*
 * syscall-killer: run a program under ptrace and SIGKILL it (it and every
 * process it started) just before its Nth call that changes the state of
 * the filesystem, or just after that call returned. Without -n, only
 * counts (and with -l lists) those calls. For tests/module/kill-every-syscall.sh.
 *
 *   syscall-killer [-n N [-a]] [-x] [-l LOG] [-c COUNT] -- PROGRAM [ARG...]
 *
 * Why not `strace -e inject=SET:signal=SIGKILL:when=N`: strace counts the
 * invocations of each syscall of SET separately (and per process), so
 * when=N stops at the first syscall of SET whose own count reaches N, not
 * at the Nth call of SET; here one counter runs over every call in SET of
 * every traced process, in the order the calls are entered.
 *
 * SET, and why it is complete. A process killed by SIGKILL leaves behind
 * exactly what it has done to the filesystem: the kernel closes its
 * descriptors and drops its locks (fcntl, flock, lckpwdf), and written data
 * stays in the page cache whether or not fsync was called (a kill is not a
 * power loss). So between two calls that change the filesystem every kill
 * point leaves the same state, and "killed just before call N of SET" for
 * every N, plus "just after the last one", covers every state a kill can
 * leave, provided SET holds every call that changes the filesystem:
 *   - data: write, pwrite64, writev, pwritev, pwritev2, ftruncate, truncate,
 *     fallocate, copy_file_range, sendfile, splice (on a regular file);
 *   - names: open/openat with O_CREAT or O_TRUNC, creat, openat2, mkdir(at),
 *     mknod(at), symlink(at), link(at), rename(at/at2), unlink(at), rmdir;
 *   - metadata: chown, lchown, fchown, fchownat, chmod, fchmod, fchmodat,
 *     fchmodat2, utime(s), utimensat, futimesat, (f/l)setxattr, (f/l)removexattr.
 * Calls on a descriptor count only when it is a regular file or a directory:
 * a write to the relay socket or /dev/null changes no file. What this cannot
 * see: stores into a shared writable mapping of a file (SQLite's -shm index,
 * which SQLite rebuilds when it is inconsistent). -x adds fsync, fdatasync,
 * sync_file_range, syncfs, close, fcntl (lock commands) and flock: the points
 * they add leave the same files as the next call of SET, which a run with -x
 * shows (more points, the same results).
 *
 * The log (-l) has one line a counted call: "N pid name(arguments)", paths
 * resolved against the descriptor they are relative to. -c writes the
 * number of counted calls, and "killed" when the kill happened.
 * Exit: the program's status (128+signal if a signal ended it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Argument kinds, one character an argument: p a path (relative to the
 * working directory, or to the d just before it), d a directory descriptor,
 * f a descriptor (the call counts only if it is a regular file or a
 * directory), o open flags (counts only with O_CREAT or O_TRUNC), l a fcntl
 * command (counts only if it sets a lock), s a string shown as is, x ignored.
 */
struct sc {
	long nr;
	const char *name, *args;
	bool extra;		/* only with -x */
};

#define SC(n, a) { SYS_##n, #n, a, false }
#define SCX(n, a) { SYS_##n, #n, a, true }
static const struct sc table[] = {
#ifdef SYS_open
	SC(open, "po"),
#endif
#ifdef SYS_creat
	SC(creat, "p"),
#endif
	SC(openat, "dpo"),
#ifdef SYS_openat2
	SC(openat2, "dp"),
#endif
	SC(write, "f"), SC(pwrite64, "f"), SC(writev, "f"), SC(pwritev, "f"),
#ifdef SYS_pwritev2
	SC(pwritev2, "f"),
#endif
	SC(ftruncate, "f"), SC(truncate, "p"), SC(fallocate, "f"),
#ifdef SYS_copy_file_range
	SC(copy_file_range, "xxf"),
#endif
	SC(sendfile, "f"), SC(splice, "xxf"),
#ifdef SYS_mkdir
	SC(mkdir, "p"),
#endif
	SC(mkdirat, "dp"),
#ifdef SYS_mknod
	SC(mknod, "p"),
#endif
	SC(mknodat, "dp"),
#ifdef SYS_symlink
	SC(symlink, "sp"),
#endif
	SC(symlinkat, "sdp"),
#ifdef SYS_link
	SC(link, "pp"),
#endif
	SC(linkat, "dpdp"),
#ifdef SYS_rename
	SC(rename, "pp"),
#endif
#ifdef SYS_renameat
	SC(renameat, "dpdp"),
#endif
#ifdef SYS_renameat2
	SC(renameat2, "dpdp"),
#endif
#ifdef SYS_unlink
	SC(unlink, "p"),
#endif
	SC(unlinkat, "dp"),
#ifdef SYS_rmdir
	SC(rmdir, "p"),
#endif
#ifdef SYS_chown
	SC(chown, "p"),
#endif
#ifdef SYS_lchown
	SC(lchown, "p"),
#endif
	SC(fchown, "f"), SC(fchownat, "dp"),
#ifdef SYS_chmod
	SC(chmod, "p"),
#endif
	SC(fchmod, "f"), SC(fchmodat, "dp"),
#ifdef SYS_fchmodat2
	SC(fchmodat2, "dp"),
#endif
#ifdef SYS_utime
	SC(utime, "p"),
#endif
#ifdef SYS_utimes
	SC(utimes, "p"),
#endif
#ifdef SYS_futimesat
	SC(futimesat, "dp"),
#endif
	SC(utimensat, "dp"),
	SC(setxattr, "p"), SC(lsetxattr, "p"), SC(fsetxattr, "f"),
	SC(removexattr, "p"), SC(lremovexattr, "p"), SC(fremovexattr, "f"),
	SCX(fsync, "f"), SCX(fdatasync, "f"), SCX(sync_file_range, "f"), SCX(syncfs, "f"),
	SCX(close, "f"), SCX(fcntl, "fl"), SCX(flock, "f"),
};

#define NTABLE (sizeof(table) / sizeof(table[0]))
#define MAXPROC 256

static struct proc {
	pid_t pid;
	bool kill_at_exit;	/* -a: its counted call is running */
} procs[MAXPROC];
static size_t nprocs;
static FILE *logfile;

static struct proc *find(pid_t pid, bool add)
{
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	if (!add || nprocs == MAXPROC)
		return NULL;
	procs[nprocs] = (struct proc){ .pid = pid };
	return &procs[nprocs++];
}

static void forget(pid_t pid)
{
	struct proc *p = find(pid, false);

	if (p)
		*p = procs[--nprocs];
}

static void kill_all(void)
{
	for (size_t i = 0; i < nprocs; i++)
		kill(procs[i].pid, SIGKILL);
}

/* A NUL-terminated string of the tracee's; unreadable: "?". */
static void peek_string(pid_t pid, uint64_t addr, char *out, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && addr) {
		n = pread(fd, out, len - 1, (off_t)addr);	/* short at the end of a mapping */
		close(fd);
	} else if (fd >= 0)
		close(fd);
	if (n <= 0)
		snprintf(out, len, "%s", addr ? "?" : "NULL");
	else
		out[n] = '\0';
}

/* What descriptor fd of pid is: its path, and whether it is a file or directory. */
static bool fd_is_file(pid_t pid, long fd, char *out, size_t len)
{
	char link[64];
	struct stat st;
	ssize_t n;

	if (fd == AT_FDCWD) {
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
	} else
		snprintf(link, sizeof(link), "/proc/%d/fd/%ld", (int)pid, fd);
	n = readlink(link, out, len - 1);
	if (n < 0)
		snprintf(out, len, "fd %ld", fd);
	else
		out[n] = '\0';
	return stat(link, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

/* Whether the call counts; its description in desc. */
static bool judge(pid_t pid, const struct sc *s, const uint64_t *arg, char *desc, size_t len)
{
	char buf[PATH_MAX], dir[PATH_MAX] = "";
	size_t start = (size_t)snprintf(desc, len, "%s(", s->name), used = start;
	bool counts = true;

	for (int i = 0; s->args[i] && i < 6 && used < len; i++) {
		const char *sep = used > start ? ", " : "";

		switch (s->args[i]) {
		case 'd':
			fd_is_file(pid, (long)(int)arg[i], dir, sizeof(dir));
			continue;	/* shown with its path */
		case 'p':
			peek_string(pid, arg[i], buf, sizeof(buf));
			if (buf[0] == '/' || !dir[0] || !strcmp(buf, "?") || !strcmp(buf, "NULL"))
				used += (size_t)snprintf(desc + used, len - used, "%s\"%s\"", sep, buf);
			else
				used += (size_t)snprintf(desc + used, len - used, "%s\"%s/%s\"", sep, dir, buf);
			dir[0] = '\0';
			break;
		case 's':
			peek_string(pid, arg[i], buf, sizeof(buf));
			used += (size_t)snprintf(desc + used, len - used, "%s\"%s\"", sep, buf);
			break;
		case 'f':
			if (!fd_is_file(pid, (long)(int)arg[i], buf, sizeof(buf)))
				counts = false;
			used += (size_t)snprintf(desc + used, len - used, "%s%d<%s>", sep, (int)arg[i], buf);
			break;
		case 'o':
			if (!(arg[i] & (O_CREAT | O_TRUNC)))
				counts = false;
			used += (size_t)snprintf(desc + used, len - used, "%s%s%s%s", sep,
						 (arg[i] & O_ACCMODE) == O_RDONLY ? "O_RDONLY"
						 : (arg[i] & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "O_RDWR",
						 arg[i] & O_CREAT ? "|O_CREAT" : "", arg[i] & O_TRUNC ? "|O_TRUNC" : "");
			break;
		case 'l':
			if (arg[i] != F_SETLK && arg[i] != F_SETLKW && arg[i] != F_OFD_SETLK && arg[i] != F_OFD_SETLKW)
				counts = false;
			used += (size_t)snprintf(desc + used, len - used, "%scmd %d", sep, (int)arg[i]);
			break;
		default:
			break;
		}
	}
	if (used < len)
		snprintf(desc + used, len - used, ")");
	return counts;
}

static const struct sc *lookup(long nr, bool extended)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].nr == nr && (extended || !table[i].extra))
			return &table[i];
	return NULL;
}

/* The count, written at once when the kill happens: whoever waits for us may kill us next. */
static void write_count(const char *path, unsigned long count, bool killed)
{
	FILE *f = path ? fopen(path, "we") : NULL;

	if (f) {
		fprintf(f, "%lu%s\n", count, killed ? " killed" : "");
		fclose(f);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: syscall-killer [-n N [-a]] [-x] [-l LOG] [-c COUNT] -- PROGRAM [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long target = 0, count = 0;
	bool after = false, extended = false, killed = false;
	const char *logpath = NULL, *countpath = NULL;
	int o, status, result = 1;
	pid_t child, pid;

	while ((o = getopt(argc, argv, "+n:axl:c:")) != -1) {
		if (o == 'n')
			target = strtoul(optarg, NULL, 10);
		else if (o == 'a')
			after = true;
		else if (o == 'x')
			extended = true;
		else if (o == 'l')
			logpath = optarg;
		else if (o == 'c')
			countpath = optarg;
		else
			usage();
	}
	if (optind >= argc)
		usage();
	if (logpath && !(logfile = fopen(logpath, "we"))) {
		perror(logpath);
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
			_exit(126);
		raise(SIGSTOP);
		execv(argv[optind], argv + optind);
		_exit(127);
	}
	/* the program's descriptors are its own: a relay socket on 0 must see EOF when it dies */
	for (int fd = 0; fd < 3; fd++) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
	if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status))
		return 1;
	ptrace(PTRACE_SETOPTIONS, child, NULL,
	       (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			      PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL));
	find(child, true);
	ptrace(PTRACE_SYSCALL, child, NULL, NULL);
	while ((pid = waitpid(-1, &status, __WALL)) > 0) {
		struct proc *p;
		int sig = 0;

		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (pid == child)
				result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			forget(pid);
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		p = find(pid, true);	/* a new child may stop before its parent's event */
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;

			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) > 0) {
				const struct sc *s = info.op == PTRACE_SYSCALL_INFO_ENTRY
						     ? lookup((long)info.entry.nr, extended) : NULL;
				char desc[2 * PATH_MAX + 256];

				if (info.op == PTRACE_SYSCALL_INFO_EXIT && p && p->kill_at_exit && !killed) {
					write_count(countpath, count, true);
					kill_all();
					killed = true;
				}
				if (s && !killed && judge(pid, s, (const uint64_t *)info.entry.args, desc, sizeof(desc))) {
					count++;
					if (logfile)
						fprintf(logfile, "%lu %d %s\n", count, (int)pid, desc);
					if (count == target && !after) {
						write_count(countpath, count, true);
						kill_all();	/* the call is not made: the kernel skips it */
						killed = true;
					} else if (count == target && p)
						p->kill_at_exit = true;
				}
			}
		} else if (WSTOPSIG(status) == SIGTRAP && (status >> 16) != 0) {
			/* fork, clone, exec: nothing to pass on */
		} else if (WSTOPSIG(status) == SIGSTOP && p && pid != child) {
			/* a new child's first stop, or a real SIGSTOP: both let run */
		} else
			sig = WSTOPSIG(status);
		if (killed)
			kill_all();
		ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig);
	}
	if (logfile)
		fclose(logfile);
	write_count(countpath, count, killed);
	return result;
}
