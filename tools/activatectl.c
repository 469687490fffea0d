/*
 * activatectl.c: the administrator's tool. Global options, the command
 * table, and what every command shares (configuration, database, pepper).
 * The commands themselves live in ctl_*.c, one group of concerns a file.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "audit.h"
#include "ctl.h"
#include "ctl_services.h"
#include "logindefs.h"
#include "secret.h"
#include "username.h"

struct command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "init", ctl_cmd_init, "init" },
	{ "import", ctl_cmd_import, "import FILE [--dry-run] [--update-pins] [--skip-conflicts] [--report-missing] [--delimiter C] [--jobs N]" },
	{ "add", ctl_cmd_add, "add --id-number N --student-number N --given-name NAME "
		"--family-name NAME [--kind K] [--programme P] [--fee-paid-on YYYY-MM-DD] "
		"[--username U] [--email E]" },
	{ "issue", ctl_cmd_issue, "issue (KEY...|--pending) [--output FILE] | issue (KEY...|--pending) --mail [--dry-run --output MBOX]" },
	{ "show", ctl_cmd_show, "show KEY" },
	{ "list", ctl_cmd_list, "list [--state STATE] [--json]" },
	{ "stats", ctl_cmd_stats, "stats [--json]" },
	{ "unlock", ctl_cmd_unlock, "unlock KEY" },
	{ "revoke", ctl_cmd_revoke, "revoke KEY" },
	{ "restore", ctl_cmd_restore, "restore KEY" },
	{ "rename", ctl_cmd_rename, "rename KEY NEWNAME" },
	{ "activate", ctl_cmd_activate, "activate KEY --checked-by NAME" },
	{ "try", ctl_cmd_try, "try KEY" },
	{ "set", ctl_cmd_set, "set KEY [--programme P] [--fee-paid-on YYYY-MM-DD|\"\"] [--kind K]" },
	{ "check", ctl_cmd_check, "check" },
	{ "audit", ctl_cmd_audit, "audit [--since YYYY-MM-DD] [--person KEY] [--json] | audit --verify [--json]" },
	{ "migrate-store", ctl_cmd_migrate_store, "migrate-store --to postgresql://..." },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("activatectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_usage(const char *command)
{
	fprintf(stderr, "usage: activatectl [--config FILE] COMMAND ...\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!command || strcmp(command, commands[i].name) == 0)
			fprintf(stderr, "       activatectl %s\n", commands[i].usage);
	if (!command)
		fprintf(stderr, "A KEY is an ID number, a student number or a username.\n");
	return CTL_USAGE;
}

int ctl_open_store(struct ctl *c)
{
	char err[CONFIG_ERROR_MAX];
	const char *file = store_sqlite_path(c->cfg.database);

	if (c->st)
		return 0;
	if (store_open_config(&c->cfg, 0, &c->st, err, sizeof(err)) != 0) {
		ctl_error("%s", err);
		if (file && access(file, F_OK) != 0)
			ctl_error("run 'activatectl init' first");
		return -1;
	}
	return 0;
}

int ctl_load_pepper(struct ctl *c)
{
	char err[CONFIG_ERROR_MAX];

	if (c->pepper)
		return 0;
	c->pepper = secret_alloc(SECRET_PEPPER_BYTES);
	if (!c->pepper || secret_load_pepper(c->cfg.pepper_file, c->pepper, err, sizeof(err)) != 0) {
		ctl_error("%s", c->pepper ? err : "out of memory");
		secret_free(c->pepper);
		c->pepper = NULL;
		return -1;
	}
	return 0;
}

int ctl_find(struct ctl *c, const char *key, struct person *p)
{
	struct person other;
	int r;

	if (ctl_open_store(c) != 0)
		return -1;
	r = store_person_find(c->st, key, p, &other);
	if (r == -ENOENT)
		ctl_error("%s: no person with that ID number, student number or username", key);
	else if (r == -ENOTUNIQ)
		ctl_error("%s: names two people (ID number %s and ID number %s, by different columns); "
			  "say which with id:%s, sn:%s or user:%s", key, p->id_number, other.id_number, key, key, key);
	else if (r)
		ctl_error("%s: %s", key, store_errmsg(c->st));
	return r ? -1 : 0;
}

int ctl_lock_person(struct ctl *c, struct person *p)
{
	struct store_lease holder;
	int r = lease_take(&c->lease, &c->cfg, c->st, p->rowid, CTL_LOCK_WAIT_MS);

	if (r == -EBUSY && store_lease_get(c->st, p->rowid, &holder) == 0 &&
	    strcmp(holder.host, c->lease.me.host) != 0)
		ctl_error("%s: an activation of this person is in progress on another machine (host %s, pid %lld; "
			  "waited %d s; its hold ends within %lld s); try again when it has ended", p->id_number,
			  holder.host, (long long)holder.pid, CTL_LOCK_WAIT_MS / 1000,
			  (long long)(holder.until - time(NULL)));
	else if (r == -EBUSY)
		ctl_error("%s: an activation of this person is in progress (waited %d s; a dialogue ends within "
			  "dialogue_timeout, %u s); try again when it has ended", p->id_number, CTL_LOCK_WAIT_MS / 1000,
			  c->cfg.dialogue_timeout);
	else if (r)
		ctl_error("%s: cannot take the person's lock (%s, or the lease in the database): %s", p->id_number,
			  c->cfg.run_dir, strerror(-r));
	if (r)
		return -1;
	r = store_person_by_id_number(c->st, p->id_number, p);
	if (r) {
		ctl_error("%s: %s", p->id_number, store_errmsg(c->st));
		ctl_unlock_person(c);
		return -1;
	}
	return 0;
}

void ctl_unlock_person(struct ctl *c)
{
	lease_release(&c->lease, c->st);
}

int ctl_dump_json(json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2));

	putchar('\n');
	json_decref(j);
	return r == 0 ? CTL_OK : CTL_FAIL;
}

void ctl_audit(struct ctl *c, const char *event, const struct person *p, const char *result)
{
	struct store_audit ev = {
		.event = event, .person = p ? p->rowid : 0, .username = p && p->username[0] ? p->username : NULL,
		.service = "activatectl", .result = result,
	};

	audit_record(c->st, LOG_NOTICE, &ev);
}

/* mkdir -p, the last component with mode, the ones above 0755. */
static int make_dirs(const char *dir, mode_t mode)
{
	char *copy;
	struct stat st;
	int r = 0;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	copy = strdup(dir);
	if (!copy)
		return -ENOMEM;
	if (strcmp(dirname(copy), dir) != 0)
		r = make_dirs(copy, 0755);
	free(copy);
	if (r == 0 && mkdir(dir, mode) != 0 && errno != EEXIST)
		r = -errno;
	return r;
}

/* The directory that will hold file, mode 0700. */
static int make_parent(const char *file)
{
	char *dir = strdup(file);
	int r;

	if (!dir)
		return -ENOMEM;
	r = make_dirs(dirname(dir), 0700);
	free(dir);
	return r;
}

static int init_database(struct ctl *c)
{
	char err[CONFIG_ERROR_MAX];
	const char *file = store_sqlite_path(c->cfg.database);
	bool existed = !file || access(file, F_OK) == 0;	/* a PostgreSQL database exists before init */
	int r = file ? make_parent(file) : 0;

	if (r) {
		ctl_error("%s: cannot create its directory: %s", file, strerror(-r));
		return r;
	}
	r = store_open_config(&c->cfg, STORE_CREATE, &c->st, err, sizeof(err));
	if (r)
		ctl_error("%s", err);
	else
		printf("%s: database %s\n", c->cfg.database, existed ? "already there, schema current" : "created");
	return r;
}

static int init_pepper(struct ctl *c)
{
	char err[CONFIG_ERROR_MAX];
	int r = secret_create_pepper(c->cfg.pepper_file, err, sizeof(err));

	if (r == -EEXIST) {
		if (ctl_load_pepper(c) != 0)
			return -1;
		printf("%s: pepper already there, kept\n", c->cfg.pepper_file);
		return 0;
	}
	if (r)
		ctl_error("%s", err);
	else
		printf("%s: pepper created\n", c->cfg.pepper_file);
	return r;
}

/* The trigger user is a local account whatever the accounts backend: asked of the local files and NSS. */
static bool local_name_taken(const struct config *cfg, const char *name)
{
	struct config *local = malloc(sizeof(*local));
	bool taken = true;

	if (local) {
		*local = *cfg;
		local->accounts = CONFIG_ACCOUNTS_FILES;
		taken = accounts_name_taken(local, name);
		free(local);
	}
	return taken;
}

/*
 * A trigger user must exist: sshd runs no real PAM dialogue for a name it
 * cannot look up. Locked password, nologin shell, no home.
 */
static int init_trigger_user(struct ctl *c, const char *name)
{
	struct account a = { .name = name, .gecos = "Account activation", .hash = "!",
			     .shell = "/usr/sbin/nologin", .system = true };
	struct logindefs ld;
	char err[512];
	bool existed;
	int r;

	if (!username_valid(name, 32)) {
		ctl_error("trigger user '%s' (trigger_user, in activate.conf or a pam.d line): "
			  "a-z first, then a-z and 0-9, at most 32", name);
		return -EINVAL;
	}
	r = logindefs_read(c->cfg.sysroot, &ld, err, sizeof(err));
	existed = local_name_taken(&c->cfg, a.name);
	if (r == 0)
		r = accounts_provision(&c->cfg, &ld, &a, err, sizeof(err));
	if (r)
		ctl_error("trigger user %s: %s", a.name, err);
	else if (existed)
		printf("trigger user %s: already there, kept\n", a.name);
	else
		printf("trigger user %s: created (uid %u, locked, nologin)\n", a.name, (unsigned)a.uid);
	return r;
}

/* The configuration's trigger user, and every other one a pam.d line names (trigger_user=). */
static int init_trigger_users(struct ctl *c)
{
	struct ctl_names triggers = { NULL, 0 };
	int r = ctl_services_triggers(&c->cfg, &triggers);

	if (r) {
		ctl_error("reading /etc/pam.d: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < triggers.n && r == 0; i++)
		r = init_trigger_user(c, triggers.v[i]);
	ctl_names_free(&triggers);
	return r;
}

int ctl_cmd_init(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return ctl_usage("init");
	if (init_database(c) != 0 || init_pepper(c) != 0 || init_trigger_users(c) != 0)
		return CTL_FAIL;
	return CTL_OK;
}

static int load_config(struct ctl *c)
{
	char err[CONFIG_ERROR_MAX];
	const char *path = c->config_path ? c->config_path : ACTIVATE_CONF;
	int r;

	config_defaults(&c->cfg);
	r = config_load_file(&c->cfg, path, err, sizeof(err));
	if (r == -ENOENT && !c->config_path)
		return 0;	/* no file: the compiled-in defaults hold */
	if (r)
		ctl_error("%s", err);
	return r;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int parse_global(int argc, char **argv, struct ctl *c)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			c->config_path = optarg;
			break;
		case 'V':
			printf("activatectl %s\n", PACKAGE_VERSION);
			exit(CTL_OK);
		case 'h':
			ctl_usage(NULL);
			exit(CTL_OK);
		default:
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = { .config_path = NULL, .lease = { .fd = -1 } };
	const struct command *cmd;
	int rc;

	umask(077);
	/* import and issue hold the pepper and PINs: no core file may keep them */
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (parse_global(argc, argv, &c) != 0 || optind >= argc)
		return ctl_usage(NULL);
	cmd = find_command(argv[optind]);
	if (!cmd) {
		ctl_error("unknown command '%s'", argv[optind]);
		return ctl_usage(NULL);
	}
	if (secret_init() != 0) {
		ctl_error("libsodium failed to start");
		return CTL_FAIL;
	}
	if (load_config(&c) != 0)
		return CTL_FAIL;
	argv += optind;
	argc -= optind;
	optind = 0;	/* glibc: start the next getopt afresh */
	rc = cmd->run(&c, argc, argv);
	store_close(c.st);
	secret_free(c.pepper);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_error("writing standard output failed");
		rc = CTL_FAIL;
	}
	return rc;
}
