/*
 * fake_helper.c: a misbehaving activate-helper for the module tests. The
 * module passes its extra arguments after "--"; mode=NAME picks the fault.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
	sleep(1);
	return 0;
}
