/*
 * syscall-killer: run a program under ptrace and SIGKILL it (it and every
 * process it started) just before its Nth call that changes the state of
 * the filesystem (with -N: or sends to a server), or just after that call
 * returned. Without -n, only counts (and with -l lists) those calls. For
 * tests/module/kill-every-syscall.sh.
 *
 *   syscall-killer [-n N [-a]] [-x] [-N] [-l LOG] [-c COUNT] -- PROGRAM [ARG...]
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
 * -N, the servers' state (a store in PostgreSQL, accounts in LDAP). That
 * state lives in other processes, which the kill leaves running, and a
 * server changes it only by acting on a request it has received whole.
 * What a server receives from the killed program is, on each connection,
 * the bytes the program sent, in order, and then the end of the connection
 * (the kernel closes a killed process's sockets; at the end PostgreSQL
 * rolls back an open transaction, slapd drops what it has not begun). So
 * the servers' state a kill leaves is fixed by how far the sending got,
 * and -N adds to SET every call that sends on a connection to a server:
 *   - write, writev, pwritev(2), sendto, sendmsg, sendmmsg, sendfile and
 *     splice into a socket that is TCP (AF_INET or AF_INET6, SOCK_STREAM),
 *     or AF_UNIX and either connected to a named socket (a path, or an
 *     abstract name: a server's, such as PostgreSQL's .s.PGSQL.PORT or
 *     slapd's ldapi) or not connected (the call names its destination).
 *     Not counted: an AF_UNIX socket whose peer has no name, a socketpair
 *     (the relay between the module and the helper: what it carries goes
 *     to pamtester, not to a server); netlink (the kernel answering
 *     getaddrinfo); UDP (no server of ours is reached over UDP; a DNS
 *     query changes nothing).
 * Between two counted calls the program sends nothing to a server, so
 * every kill point between them gives every server the same input, and
 * "before counted call N" for every N, with "after the last", gives every
 * input a kill can give. connect opens a connection and sends no request;
 * shutdown and close end it, as the kill does, after the same bytes. A
 * request that takes several calls is whole only after its last: a kill
 * between them leaves what a kill before its first leaves.
 * Bytes lost: a socket closed with unread input is reset, and what the
 * kernel had not yet delivered is dropped, so a server may receive only a
 * prefix of what was sent. A request cut short is never acted on (nor a
 * TLS record: the connection fails), so a prefix gives the input of a kill
 * before an earlier call, unless one call carried several requests and
 * the prefix ends between them. Neither protocol here puts a request that
 * commits behind another in one call: libldap writes one request (one PDU;
 * with ldaps or StartTLS one TLS record, through the same calls) at a
 * time, and what libpq sends at once (a query, or a Parse, Bind, Execute,
 * Sync group) commits at its last message at most (the Sync, or the end of
 * a COMMIT), so a prefix of it commits nothing more than a kill before it.
 * After a kill a server may still be acting on what it received: whoever
 * judges the state waits until the servers have closed the killed
 * process's connections (tests/module/kill-postgres-ldap.sh, settle).
 * TLS changes none of this: OpenSSL and GnuTLS write each record with the
 * same calls, and the handshake's sends are counted like any other (points
 * that leave what the point before leaves). The files the program changes
 * are counted as without -N.
 * Which socket a call writes to is read from a duplicate of the tracee's
 * descriptor (pidfd_getfd): its domain, type and peer's name. One that
 * cannot be read is counted and logged as "unknown socket": the test fails
 * on that.
 *
 * The log (-l) has one line a counted call: "N pid name(arguments)", paths
 * resolved against the descriptor they are relative to, a socket as
 * "socket:[INODE] tcp LOCAL->PEER" or "... unix PEER". -c writes the
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Argument kinds, one character an argument: p a path (relative to the
 * working directory, or to the d just before it), d a directory descriptor,
 * f a descriptor (the call counts only if it is a regular file or a
 * directory, or with -N a connection to a server), o open flags (counts only with O_CREAT or O_TRUNC), l a fcntl
 * command (counts only if it sets a lock), s a string shown as is, x ignored.
 */
struct sc {
	long nr;
	const char *name, *args;
	char only;		/* 'x': only with -x; 'N': only with -N; 0: always */
};

#define SC(n, a) { SYS_##n, #n, a, 0 }
#define SCX(n, a) { SYS_##n, #n, a, 'x' }
#define SCN(n, a) { SYS_##n, #n, a, 'N' }
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
	SCN(sendto, "f"), SCN(sendmsg, "f"), SCN(sendmmsg, "f"),
};

#define NTABLE (sizeof(table) / sizeof(table[0]))
#define MAXPROC 256

static struct proc {
	pid_t pid;
	bool kill_at_exit;	/* -a: its counted call is running */
} procs[MAXPROC];
static size_t nprocs;
static FILE *logfile;
static bool network;	/* -N */

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

/* The thread group of a thread: its descriptors are the group's. */
static pid_t tgid_of(pid_t pid)
{
	char path[64], line[128];
	pid_t tgid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Tgid: %d", &tgid) == 1)
				break;
		fclose(f);
	}
	return tgid;
}

static void show_addr(const struct sockaddr_storage *a, socklen_t len, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, outlen, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (a->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)a;
		size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;

		if (n == 0)
			snprintf(out, outlen, "(unnamed)");
		else if (un->sun_path[0] == '\0')
			snprintf(out, outlen, "@%.*s", (int)(n - 1), un->sun_path + 1);
		else
			snprintf(out, outlen, "%.*s", (int)strnlen(un->sun_path, n), un->sun_path);
	} else
		snprintf(out, outlen, "family %d", a->ss_family);
}

/*
 * Whether fd of pid is a connection to a server (-N): TCP, or AF_UNIX with
 * a named peer or none; not a socketpair, netlink or UDP. What it is in out
 * (appended to its "socket:[INODE]"). A socket that cannot be looked at
 * counts, as "unknown socket".
 */
static bool server_socket(pid_t pid, long fd, char *out, size_t outlen)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer), olen;
	int pidfd = (int)syscall(SYS_pidfd_open, tgid_of(pid), 0), mine = -1, domain = -1, type = -1;
	size_t used = strlen(out);
	char a[160], b[160];
	bool counts = true;

	if (pidfd >= 0) {
		mine = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
		close(pidfd);
	}
	olen = sizeof(domain);
	if (mine < 0 || getsockopt(mine, SOL_SOCKET, SO_DOMAIN, &domain, &olen) != 0) {
		snprintf(out + used, outlen - used, " unknown socket (%s)", strerror(errno));
		if (mine >= 0)
			close(mine);
		return true;
	}
	olen = sizeof(type);
	getsockopt(mine, SOL_SOCKET, SO_TYPE, &type, &olen);
	memset(&local, 0, sizeof(local));
	memset(&peer, 0, sizeof(peer));
	if (getsockname(mine, (struct sockaddr *)&local, &llen) != 0)
		llen = 0;
	if (getpeername(mine, (struct sockaddr *)&peer, &plen) != 0)
		plen = 0;
	close(mine);
	if (domain == AF_INET || domain == AF_INET6) {
		show_addr(&local, llen, a, sizeof(a));
		show_addr(&peer, plen, b, sizeof(b));
		counts = type == SOCK_STREAM;
		snprintf(out + used, outlen - used, " %s %s->%s", type == SOCK_STREAM ? "tcp" : "udp", a, b);
	} else if (domain == AF_UNIX) {
		if (plen == 0) {	/* not connected: the call names where it goes */
			snprintf(out + used, outlen - used, " unix (unconnected)");
		} else {
			show_addr(&peer, plen, b, sizeof(b));
			counts = plen > offsetof(struct sockaddr_un, sun_path);	/* a named peer: not a socketpair */
			snprintf(out + used, outlen - used, " unix %s%s", counts ? "" : "socketpair ", counts ? b : "");
		}
	} else {
		counts = false;
		snprintf(out + used, outlen - used, " family %d", domain);
	}
	return counts;
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
			if (!fd_is_file(pid, (long)(int)arg[i], buf, sizeof(buf)) &&
			    !(network && !strncmp(buf, "socket:", 7) && server_socket(pid, (long)(int)arg[i], buf, sizeof(buf))))
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
		if (table[i].nr == nr &&
		    (!table[i].only || (table[i].only == 'x' && extended) || (table[i].only == 'N' && network)))
			return &table[i];
	return NULL;
}

/*
 * The count, written at once when the kill happens: whoever waits for us
 * may kill us next. Written whole under another name and renamed, so that
 * a kill of ours never leaves the file empty (a point read as "not reached").
 */
static void write_count(const char *path, unsigned long count, bool killed)
{
	char tmp[PATH_MAX];
	FILE *f = NULL;

	if (path && (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) < sizeof(tmp))
		f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "%lu%s\n", count, killed ? " killed" : "");
		if (fclose(f) == 0)
			rename(tmp, path);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: syscall-killer [-n N [-a]] [-x] [-N] [-l LOG] [-c COUNT] -- PROGRAM [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long target = 0, count = 0;
	bool after = false, extended = false, killed = false;
	const char *logpath = NULL, *countpath = NULL;
	int o, status, result = 1;
	pid_t child, pid;

	while ((o = getopt(argc, argv, "+n:axNl:c:")) != -1) {
		if (o == 'n')
			target = strtoul(optarg, NULL, 10);
		else if (o == 'a')
			after = true;
		else if (o == 'x')
			extended = true;
		else if (o == 'N')
			network = true;
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
	if (!killed)	/* else written when it happened */
		write_count(countpath, count, killed);
	return result;
}
