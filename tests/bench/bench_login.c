/*
 * bench_login.c: PAM cycles through real libpam (pam_start_confdir, no
 * wrapper), for make bench. Prints medians in microseconds, one per line.
 *
 *   bench_login CONFDIR ordinary N ROUNDS  -- services plain, nothing, activate
 *   bench_login CONFDIR timing N           -- service dialogue: unknown ID vs wrong PIN
 *   bench_login CONFDIR full N             -- service full: N whole activations of
 *                                             people 3001.. (student 7001.., PIN 500000NN)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#include "benchutil.h"

struct answers {
	const char *const *replies;
	int next;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct answers *a = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON || msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = a && a->replies[a->next] ? strdup(a->replies[a->next++]) : NULL;
	*resp = r;
	return PAM_SUCCESS;
}

static double cycle(const char *confdir, const char *service, const char *user, struct answers *a)
{
	struct pam_conv c = { conv, a };
	pam_handle_t *ph;
	double t0 = (bench_now_ms() * 1e3);
	int rc;

	if (pam_start_confdir(service, user, &c, confdir, &ph) != PAM_SUCCESS)
		exit(1);
	rc = pam_authenticate(ph, PAM_SILENT);
	pam_end(ph, rc);
	return (bench_now_ms() * 1e3) - t0;
}

/*
 * The three stacks take turns cycle by cycle, so that whatever else the
 * machine does falls on all of them alike; the median of each is printed.
 * rounds repeats the whole and reports the median of the rounds' medians.
 */
static int ordinary(const char *confdir, int n, int rounds)
{
	static const char *const services[] = { "plain", "nothing", "activate" };
	double *t = calloc((size_t)n * 3, sizeof(double)), *per = calloc((size_t)rounds * 3, sizeof(double));

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < n; i++)
			for (int s = 0; s < 3; s++)
				t[s * n + i] = cycle(confdir, services[s], "ordinary", NULL);
		for (int s = 0; s < 3; s++)
			per[s * rounds + r] = bench_median(t + s * n, n);
	}
	for (int s = 0; s < 3; s++)
		printf("%.2f\n", bench_median(per + s * rounds, rounds));
	free(t);
	free(per);
	return 0;
}

static int timing(const char *confdir, int n)
{
	static const char *const unknown[] = { "99999999", "5001", "12345678", NULL };
	static const char *const wrong[] = { "1001", "5001", "12345678", NULL };
	double *u = calloc((size_t)n, sizeof(double)), *w = calloc((size_t)n, sizeof(double));

	for (int i = 0; i < n; i++) {
		struct answers a = { unknown, 0 }, b = { wrong, 0 };

		u[i] = cycle(confdir, "dialogue", "activate", &a);
		w[i] = cycle(confdir, "dialogue", "activate", &b);
	}
	printf("%.0f\n%.0f\n", bench_median(u, n), bench_median(w, n));
	free(u);
	free(w);
	return 0;
}

static int full(const char *confdir, int n)
{
	double *t = calloc((size_t)n, sizeof(double));

	for (int i = 0; i < n; i++) {
		char id[24], student[24], pin[24];
		const char *replies[] = { id, student, pin, "1", "x", NULL };
		struct answers a = { replies, 0 };

		snprintf(id, sizeof(id), "%d", 3001 + i);
		snprintf(student, sizeof(student), "%d", 7001 + i);
		snprintf(pin, sizeof(pin), "500000%02d", i + 1);
		t[i] = cycle(confdir, "full", "activate", &a);
	}
	printf("%.0f\n", bench_median(t, n));
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[2], "full"))
		return full(argv[1], atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[2], "ordinary"))
		return ordinary(argv[1], atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[2], "timing"))
		return timing(argv[1], atoi(argv[3]));
	fprintf(stderr, "usage: bench_login CONFDIR ordinary N ROUNDS | CONFDIR timing N\n");
	return 2;
}
