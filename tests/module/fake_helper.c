/*
 * fake_helper.c: a misbehaving activate-helper for the module tests. The
 * module passes its extra arguments after "--"; mode=NAME picks the fault.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* fd 0 the relay socket, 1 and 2 open on something else (/dev/null), all open across exec. */
static int fds_ok(void)
{
	struct stat s0, s1, s2;
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
		return 0;
	if (fstat(0, &s0) != 0 || fstat(1, &s1) != 0 || fstat(2, &s2) != 0)
		return 0;
	return S_ISCHR(s1.st_mode) && S_ISCHR(s2.st_mode) && s0.st_ino != s2.st_ino;
}

static void send_raw(const char *buf, size_t len)
{
	if (send(0, buf, len, MSG_NOSIGNAL) < 0)
		exit(3);
}

int main(int argc, char **argv)
{
	const char *mode = "exit";
	char big[2048];

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "mode=", 5) == 0)
			mode = argv[i] + 5;
	if (!strcmp(mode, "exit"))
		return 0;
	if (!strcmp(mode, "crash"))
		raise(SIGSEGV);
	if (!strcmp(mode, "hang"))
		for (;;)
			pause();
	if (!strcmp(mode, "malformed"))
		send_raw("Xhello", 6);
	if (!strcmp(mode, "nul"))
		send_raw("Ihel\0lo", 7);
	if (!strcmp(mode, "oversized")) {
		memset(big, 'a', sizeof(big));
		big[0] = 'I';
		send_raw(big, sizeof(big));
	}
	if (!strcmp(mode, "badresult"))
		send_raw("R4Root:0", 8);
	if (!strcmp(mode, "reply"))
		send_raw("Ahello", 6);
	if (!strcmp(mode, "success"))	/* a well-formed login result: the module must still map it */
		send_raw("R4newuser", 9);
	if (!strcmp(mode, "bare-login"))	/* "activated, log in as" nobody */
		send_raw("R4", 2);
	if (!strcmp(mode, "fds"))	/* 0 the socket, 1 and 2 open and not it: say "unavailable" */
		send_raw(fds_ok() ? "R3" : "R0", 2);
	sleep(1);
	return 0;
}
