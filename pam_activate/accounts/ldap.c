/*
 * accounts/ldap.c: the accounts in a directory (accounts = ldap), read by
 * sssd or nslcd on every machine of the campus.
 *
 * A user is uid=NAME,ldap_people_base (inetOrgPerson, posixAccount,
 * shadowAccount; userPassword {CRYPT} and the crypt(3) hash the core made),
 * its own group cn=NAME,ldap_groups_base (posixGroup, the same number), and
 * a memberUid (and member or uniqueMember where the group's class has it)
 * in each group of "groups", which must be posixGroups already.
 *
 * Ids: the uidNumber of one allocator entry, raised with Modify-Increment
 * (RFC 4525) and read back in the same operation by the post-read control
 * (RFC 4527). The server applies an increment under its own entry lock, so
 * helpers on every machine get distinct ids in one round trip each, without
 * a lock of ours and without retries: a compare-and-swap with the assertion
 * control would make every loser of a race read and try again (quadratic
 * under the crowd of a first day), and a database sequence would tie the
 * directory to the store backend. An id is used only if it is within
 * UID_MIN..UID_MAX (and GID_*), no other person's intent holds it (id_held),
 * no entry under the bases has it as uidNumber or gidNumber and this
 * machine's NSS does not know it; else the next increment is taken. A
 * helper killed after an increment leaves a gap, never a duplicate. Below
 * UID_MIN the allocator is moved up once, by a compare-and-swap (assertion
 * control), since an increment cannot jump.
 *
 * Roll forward, as files.c: the ids are recorded (record_intent) before
 * the first entry is added; an add is all or nothing, so an entry of the
 * name that carries the intent's ids is this activation's own from an
 * interrupted attempt and is completed (this attempt's password), and one
 * with other ids, or any without an intent, is refused as someone else's.
 * Revoke, restore and a new password edit userPassword and shadowExpire
 * with exactly the rules of shadow in files.c, as one modify that deletes
 * the value it read (a change meanwhile makes it fail, never mix).
 *
 * TLS: ldaps://, or StartTLS on ldap:// (ldap_starttls), with the peer's
 * certificate demanded, checked against ldap_ca_file and the URI's host.
 * Timeouts: LDAP_OPT_NETWORK_TIMEOUT for the connection, LDAP_OPT_TIMEOUT
 * and the search time limit for each answer, all ldap_timeout; a directory
 * that does not answer is -EHOSTDOWN. The bind password is read from its
 * root-only file for each bind and wiped after.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <lber.h>
#include <ldap.h>

#include "accounts_backend.h"
#include "home.h"
#include "keyfile.h"
#include "text.h"

#define ALLOC_SKIPS 10000	/* ids in use skipped by one allocation before it gives up */
#define CRYPT_SCHEME "{CRYPT}"

struct dir {
	LDAP *ld;
	const struct config *cfg;
	struct timeval tv;
};

/* --- errors ------------------------------------------------------------- */

static int errno_of(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return 0;
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
		return -EHOSTDOWN;
	case LDAP_NO_SUCH_OBJECT:
		return -ENOENT;
	case LDAP_ALREADY_EXISTS:
		return -EEXIST;
	case LDAP_TYPE_OR_VALUE_EXISTS:
		return -EALREADY;
	case LDAP_NO_SUCH_ATTRIBUTE:
	case LDAP_ASSERTION_FAILED:
		return -ESTALE;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
	case LDAP_INAPPROPRIATE_AUTH:
		return -EACCES;
	case LDAP_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* err: what failed, the result code's text and the server's or the library's diagnostic. */
static int failed(struct dir *d, int rc, char *err, size_t errlen, const char *what)
{
	char *diag = NULL;

	if (d->ld)
		ldap_get_option(d->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(err, errlen, "ldap: %s: %s%s%s%s", what, ldap_err2string(rc), diag && diag[0] ? " (" : "",
		 diag ? diag : "", diag && diag[0] ? ")" : "");
	ldap_memfree(diag);
	return errno_of(rc);
}

/* --- DNs and filters ---------------------------------------------------- */

/* A DN attribute value escaped as RFC 4514 says. */
static char *dn_value(const char *v)
{
	size_t n = strlen(v);
	char *out = malloc(3 * n + 1), *o = out;

	for (size_t i = 0; out && i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f)
			o += sprintf(o, "\\%02x", c);
		else if (strchr(",+\"\\<>;=", c) || (i == 0 && (c == ' ' || c == '#')) || (i == n - 1 && c == ' '))
			o += sprintf(o, "\\%c", c);
		else
			*o++ = (char)c;
	}
	if (out)
		*o = '\0';
	return out;
}

/* A filter assertion value escaped as RFC 4515 says (libldap's own escaping). */
static char *filter_value(const char *v)
{
	struct berval in = { strlen(v), (char *)v }, out = { 0, NULL };
	char *s = NULL;

	if (ldap_bv2escaped_filter_value(&in, &out) == 0) {
		s = strndup(out.bv_val, out.bv_len);
		ber_memfree(out.bv_val);
	}
	return s;
}

/* "ATTR=VALUE,BASE", the value escaped. */
static char *entry_dn(const char *attr, const char *value, const char *base)
{
	char *v = dn_value(value), *dn = NULL;

	if (v && asprintf(&dn, "%s=%s,%s", attr, v, base) < 0)
		dn = NULL;
	free(v);
	return dn;
}

/* The filter of a user (or a group) named name, the name escaped. */
static char *name_filter(const char *name, bool group)
{
	char *v = filter_value(name), *f = NULL;
	int n = !v ? -1 : group ? asprintf(&f, "(&(objectClass=posixGroup)(cn=%s))", v) : asprintf(&f, "(uid=%s)", v);

	free(v);
	return n < 0 ? NULL : f;
}

/* --- the connection ----------------------------------------------------- */

static int set_options(struct dir *d, char *err, size_t errlen)
{
	const struct config *cfg = d->cfg;
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, limit = (int)cfg->ldap_timeout, zero = 0;
	int rc = ldap_set_option(d->ld, LDAP_OPT_PROTOCOL_VERSION, &version);

	if (rc == LDAP_SUCCESS)
		rc = ldap_set_option(d->ld, LDAP_OPT_NETWORK_TIMEOUT, &d->tv);
	if (rc == LDAP_SUCCESS)
		rc = ldap_set_option(d->ld, LDAP_OPT_TIMEOUT, &d->tv);
	if (rc == LDAP_SUCCESS)
		rc = ldap_set_option(d->ld, LDAP_OPT_TIMELIMIT, &limit);
	if (rc == LDAP_SUCCESS)
		rc = ldap_set_option(d->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	if (rc == LDAP_SUCCESS)
		rc = ldap_set_option(d->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	if (rc == LDAP_SUCCESS && cfg->ldap_ca_file[0])
		rc = ldap_set_option(d->ld, LDAP_OPT_X_TLS_CACERTFILE, cfg->ldap_ca_file);
	if (rc == LDAP_SUCCESS)	/* the options above take effect in a context of this handle's own */
		rc = ldap_set_option(d->ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	return rc == LDAP_SUCCESS ? 0 : failed(d, rc, err, errlen, "setting the connection's options (TLS, ldap_ca_file)");
}

static int bind_dir(struct dir *d, char *err, size_t errlen)
{
	struct berval cred = { 0, NULL };
	char *password = NULL;
	size_t len = 0;
	int rc, r;

	if (!d->cfg->ldap_bind_dn[0])
		return 0;	/* the directory's anonymous rights */
	r = keyfile_read(d->cfg->ldap_bind_password_file, &password, &len, err, errlen);
	if (r)
		return r;
	cred.bv_val = password;
	cred.bv_len = len;
	rc = ldap_sasl_bind_s(d->ld, d->cfg->ldap_bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	keyfile_free(password, len);
	return rc == LDAP_SUCCESS ? 0 : failed(d, rc, err, errlen, "bind as ldap_bind_dn");
}

static void dir_close(struct dir *d)
{
	if (d->ld)
		ldap_unbind_ext_s(d->ld, NULL, NULL);
	d->ld = NULL;
}

/* Connected, TLS where the URI or ldap_starttls asks for it, and bound; or err says why. */
static int dir_open(const struct config *cfg, struct dir *d, char *err, size_t errlen)
{
	int rc, r;

	*d = (struct dir){ .cfg = cfg, .tv = { (time_t)cfg->ldap_timeout, 0 } };
	if (!cfg->ldap_people_base[0] || !cfg->ldap_groups_base[0]) {
		snprintf(err, errlen, "accounts = ldap needs ldap_people_base and ldap_groups_base");
		return -EINVAL;
	}
	rc = ldap_initialize(&d->ld, cfg->ldap_uri);
	if (rc != LDAP_SUCCESS) {
		d->ld = NULL;
		snprintf(err, errlen, "ldap_uri %s: %s", cfg->ldap_uri, ldap_err2string(rc));
		return -EINVAL;
	}
	r = set_options(d, err, errlen);
	if (r == 0 && cfg->ldap_starttls && strncasecmp(cfg->ldap_uri, "ldap://", 7) == 0 &&
	    (rc = ldap_start_tls_s(d->ld, NULL, NULL)) != LDAP_SUCCESS)
		r = failed(d, rc, err, errlen, "StartTLS");
	if (r == 0)
		r = bind_dir(d, err, errlen);
	if (r)
		dir_close(d);
	return r;
}

/* --- reading ------------------------------------------------------------ */

static int search(struct dir *d, const char *base, int scope, const char *filter, char **attrs, int limit,
		  LDAPMessage **res, char *err, size_t errlen)
{
	int rc = ldap_search_ext_s(d->ld, base, scope, filter, attrs, 0, NULL, NULL, &d->tv, limit, res);

	if (rc == LDAP_SUCCESS || (rc == LDAP_SIZELIMIT_EXCEEDED && limit > 0 && *res))
		return 0;
	if (*res)
		ldap_msgfree(*res);
	*res = NULL;
	if (rc == LDAP_NO_SUCH_OBJECT && scope == LDAP_SCOPE_BASE)
		return -ENOENT;	/* the entry is not there: not an error of the directory */
	return failed(d, rc, err, errlen, base);
}

/* The entry dn (*res to be freed, *e in it), or -ENOENT. */
static int read_entry(struct dir *d, const char *dn, char **attrs, LDAPMessage **res, LDAPMessage **e, char *err,
		      size_t errlen)
{
	int r = search(d, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, res, err, errlen);

	*e = r == 0 ? ldap_first_entry(d->ld, *res) : NULL;
	if (r == 0 && !*e) {
		ldap_msgfree(*res);
		*res = NULL;
		r = -ENOENT;
	}
	return r;
}

/* The first value of attr, as a string (NULL: none). */
static char *value_of(struct dir *d, LDAPMessage *e, const char *attr)
{
	struct berval **v = ldap_get_values_len(d->ld, e, attr);
	char *s = v && v[0] ? strndup(v[0]->bv_val, v[0]->bv_len) : NULL;

	ldap_value_free_len(v);
	return s;
}

static int count_values(struct dir *d, LDAPMessage *e, const char *attr)
{
	struct berval **v = ldap_get_values_len(d->ld, e, attr);
	int n = v ? ldap_count_values_len(v) : 0;

	ldap_value_free_len(v);
	return n;
}

/* A numeric attribute; -1: none, or not a number. */
static long number_of(struct dir *d, LDAPMessage *e, const char *attr)
{
	char *s = value_of(d, e, attr);
	long n = s && s[0] && strlen(s) < 19 && text_is_digits(s) ? strtol(s, NULL, 10) : -1;

	free(s);
	return n;
}

static bool has_class(struct dir *d, LDAPMessage *e, const char *cls)
{
	struct berval **v = ldap_get_values_len(d->ld, e, "objectClass");
	bool has = false;

	for (int i = 0; v && v[i] && !has; i++)
		has = strlen(cls) == v[i]->bv_len && strncasecmp(v[i]->bv_val, cls, v[i]->bv_len) == 0;
	ldap_value_free_len(v);
	return has;
}

/* How many entries under base match filter (stops counting at 2). */
static int count_matches(struct dir *d, const char *base, const char *filter, int *n, char *err, size_t errlen)
{
	static char *no_attrs[] = { LDAP_NO_ATTRS, NULL };
	LDAPMessage *res = NULL;
	int r = search(d, base, LDAP_SCOPE_SUBTREE, filter, no_attrs, 2, &res, err, errlen);

	*n = r == 0 ? ldap_count_entries(d->ld, res) : 0;
	if (res)
		ldap_msgfree(res);
	return r;
}

/* --- writing ------------------------------------------------------------ */

struct mods {
	LDAPMod **v;
	size_t n;
	int r;		/* the first failure to build, reported by mods_ok */
};

/* One more modification (or attribute of an add): type with the values (NULL-terminated; none: NULL). */
static void mods_put(struct mods *m, int op, const char *type, const char *const *vals)
{
	LDAPMod **grown, *mod;
	size_t nv = 0;

	while (vals && vals[nv])
		nv++;
	grown = m->r ? NULL : realloc(m->v, (m->n + 2) * sizeof(*m->v));
	mod = grown ? calloc(1, sizeof(*mod)) : NULL;
	if (grown)
		m->v = grown;
	if (mod) {
		mod->mod_op = op;
		mod->mod_type = strdup(type);
		mod->mod_values = calloc(nv + 1, sizeof(char *));
		for (size_t i = 0; mod->mod_values && i < nv; i++)
			if (!(mod->mod_values[i] = strdup(vals[i])))
				m->r = -ENOMEM;
		m->v[m->n++] = mod;
		m->v[m->n] = NULL;
	}
	if (!mod || !mod->mod_type || !mod->mod_values)
		m->r = -ENOMEM;
}

static void mods_one(struct mods *m, int op, const char *type, const char *value)
{
	const char *vals[] = { value, NULL };

	mods_put(m, op, type, value ? vals : NULL);
}

static void mods_number(struct mods *m, int op, const char *type, long value)
{
	char digits[24];

	snprintf(digits, sizeof(digits), "%ld", value);
	mods_one(m, op, type, digits);
}

static void mods_free(struct mods *m)
{
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; m->v[i]->mod_values && m->v[i]->mod_values[j]; j++)
			free(m->v[i]->mod_values[j]);
		free(m->v[i]->mod_values);
		free(m->v[i]->mod_type);
		free(m->v[i]);
	}
	free(m->v);
	*m = (struct mods){ 0 };
}

static int modify(struct dir *d, const char *dn, struct mods *m, LDAPControl **ctrls, char *err, size_t errlen)
{
	int rc = m->r ? LDAP_NO_MEMORY : ldap_modify_ext_s(d->ld, dn, m->v, ctrls, NULL);

	mods_free(m);
	return rc == LDAP_SUCCESS ? 0 : failed(d, rc, err, errlen, dn);
}

static int add(struct dir *d, const char *dn, struct mods *m, char *err, size_t errlen)
{
	int rc = m->r ? LDAP_NO_MEMORY : ldap_add_ext_s(d->ld, dn, m->v, NULL, NULL);

	mods_free(m);
	return rc == LDAP_SUCCESS ? 0 : failed(d, rc, err, errlen, dn);
}

/* One value added to attr of dn; there already is not a failure. */
static int add_value(struct dir *d, const char *dn, const char *attr, const char *value, char *err, size_t errlen)
{
	struct mods m = { 0 };
	int r;

	mods_one(&m, LDAP_MOD_ADD, attr, value);
	r = modify(d, dn, &m, NULL, err, errlen);
	if (r == -EALREADY)
		err[0] = '\0';
	return r == -EALREADY ? 0 : r;
}

/* One value removed from attr of dn; gone already is not a failure. */
static int remove_value(struct dir *d, const char *dn, const char *attr, const char *value, char *err, size_t errlen)
{
	struct mods m = { 0 };
	int r;

	mods_one(&m, LDAP_MOD_DELETE, attr, value);
	r = modify(d, dn, &m, NULL, err, errlen);
	if (r == -ESTALE)
		err[0] = '\0';
	return r == -ESTALE ? 0 : r;
}

/* --- ids ---------------------------------------------------------------- */

static char *allocator_dn(const struct config *cfg)
{
	char *dn = NULL;

	if (cfg->ldap_id_allocator[0])
		return strdup(cfg->ldap_id_allocator);
	if (asprintf(&dn, "cn=pam_activate-next-id,%s", cfg->ldap_people_base) < 0)
		dn = NULL;
	return dn;
}

/* uidNumber as the post-read control of the result res gives it (the entry after the change). */
static int postread_number(struct dir *d, LDAPMessage *res, unsigned long *value)
{
	LDAPControl **ctrls = NULL, *c;
	BerElement *ber = NULL;
	struct berval bv, *vals = NULL;
	int rc = LDAP_SUCCESS, r = -EPROTO;

	if (ldap_parse_result(d->ld, res, &rc, NULL, NULL, NULL, &ctrls, 0) != LDAP_SUCCESS || rc != LDAP_SUCCESS) {
		r = errno_of(rc ? rc : LDAP_OTHER);
		goto out;
	}
	c = ldap_control_find(LDAP_CONTROL_POST_READ, ctrls, NULL);
	ber = c ? ber_init(&c->ldctl_value) : NULL;
	if (!ber || ber_scanf(ber, "{m{", &bv) == LBER_ERROR)
		goto out;
	while (r == -EPROTO && ber_scanf(ber, "{m", &bv) != LBER_ERROR) {
		if (ber_scanf(ber, "[W]}", &vals) != LBER_ERROR && vals && vals[0].bv_val && bv.bv_len == 9 &&
		    strncasecmp(bv.bv_val, "uidNumber", 9) == 0 && vals[0].bv_len < 19) {
			char digits[20];

			memcpy(digits, vals[0].bv_val, vals[0].bv_len);
			digits[vals[0].bv_len] = '\0';
			if (text_is_digits(digits)) {
				*value = strtoul(digits, NULL, 10);
				r = 0;
			}
		}
		ber_bvarray_free(vals);
		vals = NULL;
	}
out:
	if (ber)
		ber_free(ber, 1);
	ldap_controls_free(ctrls);
	return r;
}

/* The allocator's uidNumber raised by one, and the new value, in one operation. */
static int increment(struct dir *d, const char *dn, unsigned long *value, char *err, size_t errlen)
{
	struct berval want = { 0, NULL };
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	LDAPControl *postread = NULL, *ctrls[2] = { NULL, NULL };
	LDAPMessage *res = NULL;
	struct mods m = { 0 };
	int msgid = -1, rc = LDAP_NO_MEMORY, r;

	if (ber && ber_printf(ber, "{s}", "uidNumber") != -1 && ber_flatten2(ber, &want, 0) == 0)
		rc = ldap_control_create(LDAP_CONTROL_POST_READ, 1, &want, 1, &postread);
	ctrls[0] = postread;
	mods_one(&m, LDAP_MOD_INCREMENT, "uidNumber", "1");
	if (rc == LDAP_SUCCESS && !m.r)
		rc = ldap_modify_ext(d->ld, dn, m.v, ctrls, NULL, &msgid);
	if (rc == LDAP_SUCCESS) {
		int got = ldap_result(d->ld, msgid, LDAP_MSG_ALL, &d->tv, &res);

		rc = got > 0 ? LDAP_SUCCESS : got == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN;
		if (got == 0)
			ldap_abandon_ext(d->ld, msgid, NULL, NULL);
	}
	r = rc == LDAP_SUCCESS ? postread_number(d, res, value) : failed(d, rc, err, errlen, dn);
	if (rc == LDAP_SUCCESS && r == -EPROTO)
		snprintf(err, errlen, "ldap: %s: the answer to the increment carries no post-read uidNumber", dn);
	else if (rc == LDAP_SUCCESS && r)
		snprintf(err, errlen, "ldap: %s: the increment failed (%s)", dn, strerror(-r));
	mods_free(&m);
	if (res)
		ldap_msgfree(res);
	ldap_control_free(postread);
	if (ber)
		ber_free(ber, 1);
	return r;
}

/* The allocator made, holding start (another helper making it at once is as good). */
static int create_allocator(struct dir *d, const char *dn, unsigned long start, char *err, size_t errlen)
{
	static const char *const classes[] = { "top", "device", "extensibleObject", NULL };
	struct mods m = { 0 };
	int r;

	mods_put(&m, LDAP_MOD_ADD, "objectClass", classes);
	mods_one(&m, LDAP_MOD_ADD, "cn", "pam_activate-next-id");
	mods_number(&m, LDAP_MOD_ADD, "uidNumber", (long)start);
	mods_one(&m, LDAP_MOD_ADD, "description", "the last uid and gid pam_activate handed out");
	r = add(d, dn, &m, err, errlen);
	if (r == -EEXIST)
		err[0] = '\0';
	return r == -EEXIST ? 0 : r;
}

/* The allocator moved from from to to, only if it still holds from (assertion control). */
static int move_allocator(struct dir *d, const char *dn, unsigned long from, unsigned long to, char *err,
			  size_t errlen)
{
	LDAPControl *assertion = NULL, *ctrls[2] = { NULL, NULL };
	char filter[48];
	struct mods m = { 0 };
	int r;

	snprintf(filter, sizeof(filter), "(uidNumber=%lu)", from);
	if (ldap_create_assertion_control(d->ld, filter, 1, &assertion) != LDAP_SUCCESS)
		return -ENOMEM;
	ctrls[0] = assertion;
	mods_number(&m, LDAP_MOD_REPLACE, "uidNumber", (long)to);
	r = modify(d, dn, &m, ctrls, err, errlen);
	ldap_control_free(assertion);
	if (r == -ESTALE)
		err[0] = '\0';
	return r == -ESTALE ? 0 : r;	/* another helper moved it first */
}

/* Whether an account or group under either base, other than name's, has id (not the allocator: it holds the last). */
static int id_in_directory(struct dir *d, unsigned long id, const char *name, bool *used, char *err, size_t errlen)
{
	const char *bases[] = { d->cfg->ldap_people_base, d->cfg->ldap_groups_base };
	char *f = NULL, *v = filter_value(name);
	int r = 0, n = 0;

	*used = false;
	if (!v || asprintf(&f, "(&(|(objectClass=posixAccount)(objectClass=posixGroup))(|(uidNumber=%lu)(gidNumber=%lu))"
			      "(!(uid=%s))(!(cn=%s)))", id, id, v, v) < 0) {
		f = NULL;
		r = -ENOMEM;
	}
	for (int i = 0; i < 2 && r == 0 && !*used; i++)
		if ((r = count_matches(d, bases[i], f, &n, err, errlen)) == 0)
			*used = n > 0;
	free(f);
	free(v);
	return r;
}

/* An id the directory does not know might still be this machine's, or another person's intent. */
static bool id_taken_here(const struct account *a, unsigned long id)
{
	return (a->id_held && a->id_held(id, a->intent_ctx)) || getpwuid((uid_t)id) || getgrgid((gid_t)id);
}

static int next_id(struct dir *d, const char *dn, unsigned long lo, unsigned long *id, char *err, size_t errlen)
{
	int r = increment(d, dn, id, err, errlen);

	if (r == -ENOENT) {
		err[0] = '\0';
		r = create_allocator(d, dn, lo - 1, err, errlen);
		if (r == 0)
			r = increment(d, dn, id, err, errlen);
	}
	if (r == 0 && *id < lo) {
		r = move_allocator(d, dn, *id, lo - 1, err, errlen);
		if (r == 0)
			r = increment(d, dn, id, err, errlen);
	}
	return r;
}

/* A free id in [lo, hi] for uid and gid both, from the allocator. */
static int allocate(struct dir *d, const struct logindefs *ld, struct account *a, char *err, size_t errlen)
{
	unsigned long lo = ld->uid_min > ld->gid_min ? ld->uid_min : ld->gid_min;
	unsigned long hi = ld->uid_max < ld->gid_max ? ld->uid_max : ld->gid_max, id = 0;
	char *dn = allocator_dn(d->cfg);
	bool used = true;
	int r = dn ? 0 : -ENOMEM;

	for (int i = 0; r == 0 && used && i < ALLOC_SKIPS; i++) {
		r = next_id(d, dn, lo > 0 ? lo : 1, &id, err, errlen);
		if (r == 0 && (id < lo || id > hi)) {
			snprintf(err, errlen, "ldap: %s: uidNumber %lu is past UID_MAX/GID_MAX (%lu)", dn, id, hi);
			r = -ERANGE;
		}
		if (r == 0)
			r = id_in_directory(d, id, a->name, &used, err, errlen);
		used = used || (r == 0 && id_taken_here(a, id));
	}
	if (r == 0 && used) {
		snprintf(err, errlen, "ldap: %s: the next %d ids are in use: raise its uidNumber", dn, ALLOC_SKIPS);
		r = -ERANGE;
	}
	if (r == 0) {
		a->uid = (uid_t)id;
		a->gid = (gid_t)id;
	}
	free(dn);
	return r;
}

/* --- provisioning ------------------------------------------------------- */

/* What an earlier attempt (or someone else) left of name. */
struct found {
	char *user_dn, *group_dn;
	bool user, group;
	long uid, gid, group_gid;
};

static void found_free(struct found *f)
{
	free(f->user_dn);
	free(f->group_dn);
}

static int read_numbers(struct dir *d, const char *dn, const char *a1, const char *a2, bool *there, long *n1,
			long *n2, char *err, size_t errlen)
{
	char *attrs[] = { (char *)a1, (char *)a2, NULL };
	LDAPMessage *res = NULL, *e;
	int r = read_entry(d, dn, attrs, &res, &e, err, errlen);

	*there = r == 0;
	*n1 = r == 0 ? number_of(d, e, a1) : -1;
	if (a2)		/* n2 may be n1 when there is no a2 */
		*n2 = r == 0 ? number_of(d, e, a2) : -1;
	if (res)
		ldap_msgfree(res);
	return r == -ENOENT ? 0 : r;
}

/* Another entry under the bases with the name is someone else's, intent or not. */
static int name_elsewhere(struct dir *d, const char *name, const struct found *f, char *err, size_t errlen)
{
	char *users = name_filter(name, false), *groups = name_filter(name, true);
	int r = users && groups ? 0 : -ENOMEM, nu = 0, ng = 0;

	if (r == 0)
		r = count_matches(d, d->cfg->ldap_people_base, users, &nu, err, errlen);
	if (r == 0)
		r = count_matches(d, d->cfg->ldap_groups_base, groups, &ng, err, errlen);
	if (r == 0 && (nu > (int)f->user || ng > (int)f->group)) {
		snprintf(err, errlen, "%s is in the directory already, in another entry than this activation's", name);
		r = -EEXIST;
	}
	free(users);
	free(groups);
	return r;
}

static int look(struct dir *d, const struct account *a, struct found *f, char *err, size_t errlen)
{
	int r;

	f->user_dn = entry_dn("uid", a->name, d->cfg->ldap_people_base);
	f->group_dn = entry_dn("cn", a->name, d->cfg->ldap_groups_base);
	if (!f->user_dn || !f->group_dn)
		return -ENOMEM;
	r = read_numbers(d, f->user_dn, "uidNumber", "gidNumber", &f->user, &f->uid, &f->gid, err, errlen);
	if (r == 0)
		r = read_numbers(d, f->group_dn, "gidNumber", NULL, &f->group, &f->group_gid, &f->group_gid, err, errlen);
	return r ? r : name_elsewhere(d, a->name, f, err, errlen);
}

static int check_ours(const struct account *a, const struct found *f, char *err, size_t errlen)
{
	if (f->user && (f->uid != (long)a->uid || f->gid != (long)a->gid)) {
		snprintf(err, errlen, "ldap: %s exists with other ids (%ld:%ld) than this activation's (%u:%u)",
			 f->user_dn, f->uid, f->gid, (unsigned)a->uid, (unsigned)a->gid);
		return -EEXIST;
	}
	if (f->group && f->group_gid != (long)a->gid) {
		snprintf(err, errlen, "ldap: %s exists with another gidNumber (%ld) than this activation's (%u)",
			 f->group_dn, f->group_gid, (unsigned)a->gid);
		return -EEXIST;
	}
	return 0;
}

/* The intent's ids taken by someone else before any entry of ours was added: choose anew. */
static int intent_taken(struct dir *d, const struct account *a, const struct found *f, bool *taken, char *err,
			size_t errlen)
{
	bool used = false;
	int r = 0;

	*taken = false;
	if (f->user || f->group)
		return 0;
	r = id_in_directory(d, a->uid, a->name, &used, err, errlen);
	*taken = r == 0 && (used || id_taken_here(a, a->uid));
	return r;
}

/* The intent's ids, or new ones recorded before any entry is added. */
static int plan_ids(struct dir *d, const struct logindefs *ld, struct account *a, const struct found *f,
		    char *err, size_t errlen)
{
	bool taken = false;
	int r = a->ids_known ? intent_taken(d, a, f, &taken, err, errlen) : 0;

	if (r)
		return r;
	if (a->ids_known && !taken)
		return check_ours(a, f, err, errlen);
	if (!a->ids_known && (f->user || f->group)) {
		snprintf(err, errlen, "%s is in the directory but this activation did not put it there", a->name);
		return -EEXIST;
	}
	r = allocate(d, ld, a, err, errlen);
	if (r == 0 && a->record_intent && (r = a->record_intent(a, a->intent_ctx)) != 0)
		snprintf(err, errlen, "the database: cannot record the intent (%s)", strerror(-r));
	if (r == 0)
		a->ids_known = a->chose_ids = true;
	return r;
}

static int ensure_group(struct dir *d, const struct account *a, const struct found *f, char *err, size_t errlen)
{
	static const char *const classes[] = { "top", "posixGroup", NULL };
	struct mods m = { 0 };
	int r;

	if (f->group)
		return 0;
	mods_put(&m, LDAP_MOD_ADD, "objectClass", classes);
	mods_one(&m, LDAP_MOD_ADD, "cn", a->name);
	mods_number(&m, LDAP_MOD_ADD, "gidNumber", (long)a->gid);
	r = add(d, f->group_dn, &m, err, errlen);
	if (r == -EEXIST)	/* added meanwhile: ours only with our gid */
		snprintf(err, errlen, "ldap: %s was added by someone else meanwhile", f->group_dn);
	return r;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static const char *or(const char *s, const char *fallback)
{
	return s && s[0] ? s : fallback;
}

/* The password attributes of this attempt: its hash, and today (0: change at the first login). */
static void password_mods(struct mods *m, int op, const struct logindefs *ld, const struct account *a)
{
	char *pw = NULL;

	if (asprintf(&pw, CRYPT_SCHEME "%s", a->hash) < 0) {
		m->r = -ENOMEM;
		return;
	}
	mods_one(m, op, "userPassword", pw);
	free(pw);
	mods_number(m, op, "shadowLastChange", a->must_change ? 0L : (long)(time(NULL) / 86400));
	if (ld->pass_min_days >= 0)
		mods_number(m, op, "shadowMin", ld->pass_min_days);
	if (ld->pass_max_days >= 0)
		mods_number(m, op, "shadowMax", ld->pass_max_days);
	if (ld->pass_warn_age >= 0)
		mods_number(m, op, "shadowWarning", ld->pass_warn_age);
}

static int add_user(struct dir *d, const struct logindefs *ld, const struct account *a, const struct found *f,
		    char *err, size_t errlen)
{
	static const char *const classes[] = { "top", "inetOrgPerson", "posixAccount", "shadowAccount", NULL };
	struct mods m = { 0 };

	mods_put(&m, LDAP_MOD_ADD, "objectClass", classes);
	mods_one(&m, LDAP_MOD_ADD, "uid", a->name);
	mods_one(&m, LDAP_MOD_ADD, "cn", or(a->gecos, a->name));
	mods_one(&m, LDAP_MOD_ADD, "sn", or(a->family_name, or(a->gecos, a->name)));
	if (a->given_name && a->given_name[0])
		mods_one(&m, LDAP_MOD_ADD, "givenName", a->given_name);
	if (a->email && a->email[0])
		mods_one(&m, LDAP_MOD_ADD, "mail", a->email);
	if (a->gecos[0] && is_ascii(a->gecos))	/* gecos is IA5 in the nis schema */
		mods_one(&m, LDAP_MOD_ADD, "gecos", a->gecos);
	mods_number(&m, LDAP_MOD_ADD, "uidNumber", (long)a->uid);
	mods_number(&m, LDAP_MOD_ADD, "gidNumber", (long)a->gid);
	mods_one(&m, LDAP_MOD_ADD, "homeDirectory", a->home);
	mods_one(&m, LDAP_MOD_ADD, "loginShell", or(a->shell, d->cfg->shell));
	password_mods(&m, LDAP_MOD_ADD, ld, a);
	return add(d, f->user_dn, &m, err, errlen);
}

/* Ours from an interrupted attempt: this attempt's password, never one an earlier attempt locked. */
static int update_user(struct dir *d, const struct logindefs *ld, const struct account *a, const struct found *f,
		       char *err, size_t errlen)
{
	struct mods m = { 0 };

	password_mods(&m, LDAP_MOD_REPLACE, ld, a);
	mods_put(&m, LDAP_MOD_REPLACE, "shadowExpire", NULL);
	return modify(d, f->user_dn, &m, NULL, err, errlen);
}

/* A group of "groups", found before anything is written: a missing one must change nothing. */
struct member_of {
	char *dn;
	bool names, unique;	/* groupOfNames (member), groupOfUniqueNames (uniqueMember) too */
};

struct groups {
	struct member_of *v;
	size_t n;
};

static void groups_free(struct groups *g)
{
	for (size_t i = 0; i < g->n; i++)
		ldap_memfree(g->v[i].dn);
	free(g->v);
	*g = (struct groups){ 0 };
}

static int find_group(struct dir *d, const char *group, struct groups *g, char *err, size_t errlen)
{
	static char *attrs[] = { "objectClass", NULL };
	char *f = name_filter(group, true);
	LDAPMessage *res = NULL, *e = NULL;
	struct member_of *grown;
	int r = f ? search(d, d->cfg->ldap_groups_base, LDAP_SCOPE_SUBTREE, f, attrs, 2, &res, err, errlen) : -ENOMEM;

	if (r == 0 && (ldap_count_entries(d->ld, res) != 1 || !(e = ldap_first_entry(d->ld, res)))) {
		snprintf(err, errlen, "groups: %s: %s posixGroup of that name under %s", group,
			 ldap_count_entries(d->ld, res) ? "more than one" : "no", d->cfg->ldap_groups_base);
		r = -ENOENT;
	}
	grown = r == 0 ? realloc(g->v, (g->n + 1) * sizeof(*g->v)) : NULL;
	if (r == 0 && !grown)
		r = -ENOMEM;
	if (r == 0) {
		g->v = grown;
		g->v[g->n] = (struct member_of){ ldap_get_dn(d->ld, e), has_class(d, e, "groupOfNames"),
						 has_class(d, e, "groupOfUniqueNames") };
		r = g->v[g->n++].dn ? 0 : -ENOMEM;
	}
	if (res)
		ldap_msgfree(res);
	free(f);
	return r;
}

static int find_groups(struct dir *d, struct groups *g, char *err, size_t errlen)
{
	char *list = strdup(d->cfg->groups), *save = NULL;
	int r = list ? 0 : -ENOMEM;

	for (char *name = list ? strtok_r(list, ", ", &save) : NULL; name && r == 0; name = strtok_r(NULL, ", ", &save))
		r = find_group(d, name, g, err, errlen);
	free(list);
	return r;
}

/* memberUid in each group, and member or uniqueMember where its class has them. */
static int join_groups(struct dir *d, const struct groups *g, const char *user, const char *user_dn, char *err,
		       size_t errlen)
{
	int r = 0;

	for (size_t i = 0; i < g->n && r == 0; i++) {
		r = add_value(d, g->v[i].dn, "memberUid", user, err, errlen);
		if (r == 0 && g->v[i].names)
			r = add_value(d, g->v[i].dn, "member", user_dn, err, errlen);
		if (r == 0 && g->v[i].unique)
			r = add_value(d, g->v[i].dn, "uniqueMember", user_dn, err, errlen);
	}
	return r;
}

static int check_fields(const struct config *cfg, const struct account *a, char *err, size_t errlen)
{
	const char *fields[] = { a->name, a->gecos, a->hash, or(a->shell, cfg->shell), a->home,
				 or(a->given_name, ""), or(a->family_name, ""), or(a->email, "") };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (text_check_utf8_printable(fields[i], strlen(fields[i])) != 0) {
			snprintf(err, errlen, "a control character or invalid UTF-8 in the account's fields");
			return -EINVAL;
		}
	if (!is_ascii(a->home) || !is_ascii(or(a->shell, cfg->shell)) || !a->hash[0]) {
		snprintf(err, errlen, "home and shell must be ASCII (IA5 in the directory), the hash not empty");
		return -EINVAL;
	}
	return 0;
}

static int provision_entries(struct dir *d, const struct logindefs *ld, struct account *a, char *err, size_t errlen)
{
	struct found f = { 0 };
	struct groups g = { 0 };
	int r = look(d, a, &f, err, errlen);

	if (r == 0)
		r = find_groups(d, &g, err, errlen);
	if (r == 0)
		r = plan_ids(d, ld, a, &f, err, errlen);
	if (r == 0)
		r = ensure_group(d, a, &f, err, errlen);
	if (r == 0)
		r = f.user ? update_user(d, ld, a, &f, err, errlen) : add_user(d, ld, a, &f, err, errlen);
	if (r == 0)
		r = join_groups(d, &g, a->name, f.user_dn, err, errlen);
	groups_free(&g);
	found_free(&f);
	return r;
}

static int dir_provision(const struct config *cfg, const struct logindefs *ld, struct account *a, char *err,
			  size_t errlen)
{
	struct dir d = { 0 };
	int r;

	err[0] = '\0';
	if (a->system)	/* accounts.c keeps them local; a directory has no place for them */
		return accounts_files.provision(cfg, ld, a, err, errlen);
	if ((size_t)snprintf(a->home, sizeof(a->home), "%s/%s", strcmp(cfg->home_base, "/") ? cfg->home_base : "",
			     a->name) >= sizeof(a->home)) {
		snprintf(err, errlen, "home: path too long");
		return -ENAMETOOLONG;
	}
	r = check_fields(cfg, a, err, errlen);
	if (r == 0)
		r = dir_open(cfg, &d, err, errlen);
	if (r == 0)
		r = provision_entries(&d, ld, a, err, errlen);
	dir_close(&d);
	if (r == 0 && cfg->ldap_local_home)
		r = home_create(cfg, a->name, a->uid, a->gid, a->chose_ids, err, errlen);
	return r;
}

/* --- revoke, restore, a new password: shadow's rules on userPassword ---- */

struct pw_edit {
	enum { PW_LOCK, PW_UNLOCK, PW_PASSWORD } what;
	const char *hash;	/* PW_PASSWORD */
	const char *expire;	/* PW_UNLOCK: the expiry to give back (NULL: none) */
};

/* The user's password attributes as they stand. */
struct pw_state {
	char *dn;
	char *stored;		/* userPassword as it is (NULL: none) */
	const char *hash;	/* behind {CRYPT} ("" with none) */
	char *expire, *lastchg;	/* NULL: none */
};

static void pw_state_free(struct pw_state *s)
{
	free(s->dn);
	free(s->stored);
	free(s->expire);
	free(s->lastchg);
}

static int read_pw(struct dir *d, const char *name, struct pw_state *s, char *err, size_t errlen)
{
	static char *attrs[] = { "userPassword", "shadowExpire", "shadowLastChange", NULL };
	LDAPMessage *res = NULL, *e;
	int r;

	s->dn = entry_dn("uid", name, d->cfg->ldap_people_base);
	r = s->dn ? read_entry(d, s->dn, attrs, &res, &e, err, errlen) : -ENOMEM;
	if (r == -ENOENT)
		snprintf(err, errlen, "ldap: no entry %s", s->dn);
	if (r == 0 && count_values(d, e, "userPassword") > 1) {
		snprintf(err, errlen, "ldap: %s has more than one userPassword", s->dn);
		r = -EINVAL;
	}
	if (r == 0) {
		s->stored = value_of(d, e, "userPassword");
		s->expire = value_of(d, e, "shadowExpire");
		s->lastchg = value_of(d, e, "shadowLastChange");
	}
	if (r == 0 && s->stored && strncasecmp(s->stored, CRYPT_SCHEME, strlen(CRYPT_SCHEME)) != 0) {
		snprintf(err, errlen, "ldap: %s: userPassword is not {CRYPT}, so it cannot be locked as shadow is", s->dn);
		r = -EINVAL;
	}
	s->hash = s->stored ? s->stored + strlen(CRYPT_SCHEME) : "";
	if (res)
		ldap_msgfree(res);
	return r;
}

/* revoke's mark, as in shadow: a '!' before the hash and expired on day 1. */
static bool revoked_mark(const struct pw_state *s)
{
	return s->hash[0] == '!' && s->expire && strcmp(s->expire, "1") == 0;
}

/*
 * The new hash (behind {CRYPT}) and expiry, by files.c's edit_line rules:
 * locked, one more '!' (an administrator's own lock survives a revoke and
 * restore) and expired on day 1, once; unlocked, that undone if it is
 * there, with the expiry given back; a new password behind the '!' of a
 * lock, if there is one.
 */
static int edited(const struct pw_state *s, const struct pw_edit *e, char **hash, const char **expire, char *err,
		  size_t errlen)
{
	bool mark = revoked_mark(s);
	int n;

	*expire = s->expire;
	if (e->what == PW_UNLOCK && mark && strspn(s->hash, "!") == strlen(s->hash)) {
		snprintf(err, errlen, "no password behind the lock: it stays locked; issue a new PIN");
		return -ENODATA;
	}
	if (e->what == PW_LOCK) {
		n = asprintf(hash, "%s%s", mark ? "" : "!", s->hash);
		*expire = "1";
	} else if (e->what == PW_UNLOCK) {
		n = asprintf(hash, "%s", s->hash + mark);
		*expire = mark ? e->expire : s->expire;
	} else {
		n = asprintf(hash, "%s%s", s->hash[0] == '!' ? "!" : "", e->hash);
	}
	return n < 0 ? -ENOMEM : 0;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* One modify: the value read deleted (a change meanwhile fails it), the new one added. */
static int write_pw(struct dir *d, const struct pw_state *s, const struct pw_edit *e, const char *hash,
		    const char *expire, char *err, size_t errlen)
{
	char *pw = NULL, today[24];
	struct mods m = { 0 };

	snprintf(today, sizeof(today), "%ld", (long)(time(NULL) / 86400));
	if (same(hash, s->hash) && same(expire && expire[0] ? expire : NULL, s->expire) &&
	    (e->what != PW_PASSWORD || same(today, s->lastchg)))
		return -EALREADY;
	if (asprintf(&pw, CRYPT_SCHEME "%s", hash) < 0)
		return -ENOMEM;
	if (s->stored)
		mods_one(&m, LDAP_MOD_DELETE, "userPassword", s->stored);
	mods_one(&m, LDAP_MOD_ADD, "userPassword", pw);
	mods_one(&m, LDAP_MOD_REPLACE, "shadowExpire", expire && expire[0] ? expire : NULL);
	if (e->what == PW_PASSWORD)
		mods_one(&m, LDAP_MOD_REPLACE, "shadowLastChange", today);
	free(pw);
	return modify(d, s->dn, &m, NULL, err, errlen);
}

static int change_pw(const struct config *cfg, const char *name, const struct pw_edit *e, char *err, size_t errlen)
{
	struct pw_state s = { 0 };
	struct dir d = { 0 };
	const char *expire = NULL;
	char *hash = NULL;
	int r = dir_open(cfg, &d, err, errlen);

	if (r == 0)
		r = read_pw(&d, name, &s, err, errlen);
	if (r == 0)
		r = edited(&s, e, &hash, &expire, err, errlen);
	if (r == 0)
		r = write_pw(&d, &s, e, hash, expire, err, errlen);
	free(hash);
	pw_state_free(&s);
	dir_close(&d);
	return r;
}

static int dir_set_password(const struct config *cfg, const char *name, const char *hash, char *err, size_t errlen)
{
	struct pw_edit e = { .what = PW_PASSWORD, .hash = hash };

	err[0] = '\0';
	if (!hash[0] || text_check_utf8_printable(hash, strlen(hash)) != 0) {
		snprintf(err, errlen, "ldap: the new hash is not a valid value");
		return -EINVAL;
	}
	return change_pw(cfg, name, &e, err, errlen);
}

static int dir_set_locked(const struct config *cfg, const char *name, bool locked, const char *expire, char *err,
			   size_t errlen)
{
	struct pw_edit e = { .what = locked ? PW_LOCK : PW_UNLOCK, .expire = expire };

	err[0] = '\0';
	if (expire && expire[0] && !text_is_digits(expire)) {
		snprintf(err, errlen, "ldap: the expiry to give back is not a day number");
		return -EINVAL;
	}
	return change_pw(cfg, name, &e, err, errlen);
}

static int dir_shadow_expire(const struct config *cfg, const char *name, char *expire, size_t size, bool *revoked)
{
	char err[512];
	struct pw_state s = { 0 };
	struct dir d = { 0 };
	int r = dir_open(cfg, &d, err, sizeof(err));

	if (r == 0)
		r = read_pw(&d, name, &s, err, sizeof(err));
	if (r == 0 && strlen(s.expire ? s.expire : "") >= size)
		r = -E2BIG;
	if (r == 0) {
		snprintf(expire, size, "%s", s.expire ? s.expire : "");
		*revoked = revoked_mark(&s);
	}
	pw_state_free(&s);
	dir_close(&d);
	return r;
}

/* --- rename ------------------------------------------------------------- */

struct rename {
	const char *from, *to;
	bool resume;
	char *from_dn, *to_dn, *from_group, *to_group, *old_home, *new_home;
	bool at_from;		/* the user entry still has the old name */
	long gid;
	char *home;		/* homeDirectory as it is */
};

static void rename_free(struct rename *rn)
{
	free(rn->from_dn);
	free(rn->to_dn);
	free(rn->from_group);
	free(rn->to_group);
	free(rn->old_home);
	free(rn->new_home);
	free(rn->home);
}

static int rename_names(const struct config *cfg, struct rename *rn)
{
	const char *base = strcmp(cfg->home_base, "/") ? cfg->home_base : "";

	rn->from_dn = entry_dn("uid", rn->from, cfg->ldap_people_base);
	rn->to_dn = entry_dn("uid", rn->to, cfg->ldap_people_base);
	rn->from_group = entry_dn("cn", rn->from, cfg->ldap_groups_base);
	rn->to_group = entry_dn("cn", rn->to, cfg->ldap_groups_base);
	if (asprintf(&rn->old_home, "%s/%s", base, rn->from) < 0)
		rn->old_home = NULL;
	if (asprintf(&rn->new_home, "%s/%s", base, rn->to) < 0)
		rn->new_home = NULL;
	return rn->from_dn && rn->to_dn && rn->from_group && rn->to_group && rn->old_home && rn->new_home ? 0 : -ENOMEM;
}

/* The user under the old name, or (resuming) the new one; the new name must be free (or ours, resuming). */
static int plan_rename(struct dir *d, struct rename *rn, char *err, size_t errlen)
{
	static char *attrs[] = { "gidNumber", "homeDirectory", NULL };
	LDAPMessage *res = NULL, *e = NULL;
	bool old = false, new_there = false, group_there = false;
	long n, gid;
	int r = read_numbers(d, rn->from_dn, "gidNumber", NULL, &old, &n, &n, err, errlen);

	if (r == 0)
		r = read_numbers(d, rn->to_dn, "gidNumber", NULL, &new_there, &n, &n, err, errlen);
	if (r == 0 && old && new_there) {
		snprintf(err, errlen, "%s is already a user in the directory", rn->to);
		r = -EEXIST;
	}
	if (r == 0 && !old && !(rn->resume && new_there)) {
		snprintf(err, errlen, "ldap: no user %s", rn->from);
		r = -ENOENT;
	}
	if (r == 0)
		r = read_entry(d, old ? rn->from_dn : rn->to_dn, attrs, &res, &e, err, errlen);
	rn->at_from = old;
	rn->gid = r == 0 ? number_of(d, e, "gidNumber") : -1;
	rn->home = r == 0 ? value_of(d, e, "homeDirectory") : NULL;
	if (r == 0)
		r = read_numbers(d, rn->to_group, "gidNumber", NULL, &group_there, &gid, &gid, err, errlen);
	if (r == 0 && group_there && !(rn->resume && gid == rn->gid)) {
		snprintf(err, errlen, "%s is already a group in the directory", rn->to);
		r = -EEXIST;
	}
	if (res)
		ldap_msgfree(res);
	return r;
}

static int modrdn(struct dir *d, const char *dn, const char *rdn, char *err, size_t errlen)
{
	int rc = ldap_rename_s(d->ld, dn, rdn, NULL, 1, NULL, NULL);

	return rc == LDAP_SUCCESS ? 0 : failed(d, rc, err, errlen, dn);
}

/* Every group that lists the old value in attr: the new one added first, so a cut never loses the member. */
static int rename_members(struct dir *d, const char *attr, const char *from, const char *to, char *err,
			  size_t errlen)
{
	static char *no_attrs[] = { LDAP_NO_ATTRS, NULL };
	char *v = filter_value(from), *f = NULL;
	LDAPMessage *res = NULL;
	int r = v && asprintf(&f, "(%s=%s)", attr, v) >= 0 ? 0 : -ENOMEM;

	if (r == 0)
		r = search(d, d->cfg->ldap_groups_base, LDAP_SCOPE_SUBTREE, f, no_attrs, 0, &res, err, errlen);
	for (LDAPMessage *e = r == 0 ? ldap_first_entry(d->ld, res) : NULL; e && r == 0; e = ldap_next_entry(d->ld, e)) {
		char *dn = ldap_get_dn(d->ld, e);

		r = dn ? add_value(d, dn, attr, to, err, errlen) : -ENOMEM;
		if (r == 0)
			r = remove_value(d, dn, attr, from, err, errlen);
		ldap_memfree(dn);
	}
	if (res)
		ldap_msgfree(res);
	free(f);
	free(v);
	return r;
}

static int rename_entries(struct dir *d, struct rename *rn, char *err, size_t errlen)
{
	char *rdn = NULL, *grdn = NULL, *v = dn_value(rn->to);
	bool group_old = false;
	long gid = -1;
	int r = v && asprintf(&rdn, "uid=%s", v) >= 0 && asprintf(&grdn, "cn=%s", v) >= 0 ? 0 : -ENOMEM;

	if (r == 0)
		r = rename_members(d, "memberUid", rn->from, rn->to, err, errlen);
	if (r == 0)
		r = rename_members(d, "member", rn->from_dn, rn->to_dn, err, errlen);
	if (r == 0)
		r = rename_members(d, "uniqueMember", rn->from_dn, rn->to_dn, err, errlen);
	if (r == 0)
		r = read_numbers(d, rn->from_group, "gidNumber", NULL, &group_old, &gid, &gid, err, errlen);
	if (r == 0 && group_old && gid == rn->gid)	/* its own group, by name and number */
		r = modrdn(d, rn->from_group, grdn, err, errlen);
	if (r == 0 && rn->at_from)
		r = modrdn(d, rn->from_dn, rdn, err, errlen);
	if (r == 0 && rn->home && strcmp(rn->home, rn->old_home) == 0) {
		struct mods m = { 0 };

		mods_one(&m, LDAP_MOD_REPLACE, "homeDirectory", rn->new_home);
		r = modify(d, rn->to_dn, &m, NULL, err, errlen);
	}
	free(rdn);
	free(grdn);
	free(v);
	return r;
}

static void sysroot_path(const struct config *cfg, const char *path, char **out)
{
	if (asprintf(out, "%s%s", strcmp(cfg->sysroot, "/") ? cfg->sysroot : "", path) < 0)
		*out = NULL;
}

/* The home: moved here with ldap_local_home; else on a file server, the site's to move (err says so). */
static void move_home(const struct config *cfg, const struct rename *rn, char *err, size_t errlen)
{
	char *from = NULL, *to = NULL;
	struct stat st;

	if (!rn->home || (strcmp(rn->home, rn->old_home) != 0 && strcmp(rn->home, rn->new_home) != 0))
		return;
	if (!cfg->ldap_local_home) {
		snprintf(err, errlen, "the account is renamed; its homeDirectory is now %s: move the home on the "
			 "file server from %s", rn->new_home, rn->old_home);
		return;
	}
	sysroot_path(cfg, rn->old_home, &from);
	sysroot_path(cfg, rn->new_home, &to);
	if (from && to && lstat(to, &st) != 0 && rename(from, to) != 0 && errno != ENOENT)
		snprintf(err, errlen, "the account is renamed, but %s could not be moved to %s (%s): move it by hand",
			 rn->old_home, rn->new_home, strerror(errno));
	free(from);
	free(to);
}

static int dir_rename(const struct config *cfg, const char *from, const char *to, bool resume, char *err,
		       size_t errlen)
{
	struct rename rn = { .from = from, .to = to, .resume = resume };
	struct dir d = { 0 };
	int r = rename_names(cfg, &rn);

	err[0] = '\0';
	if (r == 0)
		r = dir_open(cfg, &d, err, errlen);
	if (r == 0)
		r = plan_rename(&d, &rn, err, errlen);
	if (r == 0)
		r = rename_entries(&d, &rn, err, errlen);
	dir_close(&d);
	if (r == 0)
		move_home(cfg, &rn, err, errlen);
	rename_free(&rn);
	return r;
}

/* --- names -------------------------------------------------------------- */

/* Whether the directory has a user or a group of name under the bases. */
static int in_directory(struct dir *d, const char *name, bool *found, char *err, size_t errlen)
{
	char *users = name_filter(name, false), *groups = name_filter(name, true);
	int r = users && groups ? 0 : -ENOMEM, n = 0;

	*found = false;
	if (r == 0)
		r = count_matches(d, d->cfg->ldap_people_base, users, &n, err, errlen);
	if (r == 0 && n == 0)
		r = count_matches(d, d->cfg->ldap_groups_base, groups, &n, err, errlen);
	*found = r == 0 && n > 0;
	free(users);
	free(groups);
	return r;
}

static int dir_exists(const struct config *cfg, const char *name, bool *exists)
{
	char err[512];
	struct dir d = { 0 };
	int r = dir_open(cfg, &d, err, sizeof(err));

	if (r == 0)
		r = in_directory(&d, name, exists, err, sizeof(err));
	dir_close(&d);
	return r;
}

struct dir_names {
	struct dir d;
	void *local;	/* the files backend's names: this machine's own users and groups */
};

static void dir_names_free(void *names)
{
	struct dir_names *n = names;

	if (n) {
		dir_close(&n->d);
		if (n->local)
			accounts_files.names_free(n->local);
		free(n);
	}
}

/* NULL with errno set: EHOSTDOWN when the directory did not answer. */
static void *dir_names_load(const struct config *cfg)
{
	struct dir_names *n = calloc(1, sizeof(*n));
	char err[512];
	int r = n ? dir_open(cfg, &n->d, err, sizeof(err)) : -ENOMEM;

	if (r == 0 && !(n->local = accounts_files.names_load(cfg)))
		r = -ENOMEM;
	if (r) {
		dir_names_free(n);
		errno = -r;
		return NULL;
	}
	return n;
}

static bool dir_names_has(const void *names, const char *name)
{
	struct dir_names *n = (struct dir_names *)names;
	char err[512];
	bool found = true;

	if (accounts_files.names_has(n->local, name))
		return true;
	return in_directory(&n->d, name, &found, err, sizeof(err)) != 0 || found;	/* fail closed */
}

static bool dir_name_taken(const struct config *cfg, const char *name)
{
	struct dir_names *n = dir_names_load(cfg);
	bool taken = !n || dir_names_has(n, name);

	dir_names_free(n);
	return taken;
}

static int dir_check(const struct config *cfg, char *msg, size_t msglen)
{
	static char *attrs[] = { "uidNumber", NULL };
	const char *bases[] = { cfg->ldap_people_base, cfg->ldap_groups_base };
	LDAPMessage *res = NULL, *e = NULL;
	char *dn = allocator_dn(cfg), *next = NULL;
	struct dir d = { 0 };
	int r = dn ? dir_open(cfg, &d, msg, msglen) : -ENOMEM;

	for (int i = 0; i < 2 && r == 0; i++) {
		r = read_entry(&d, bases[i], attrs, &res, &e, msg, msglen);
		if (r == -ENOENT)
			snprintf(msg, msglen, "ldap: %s: no such entry", bases[i]);
		if (res)
			ldap_msgfree(res);
		res = NULL;
	}
	if (r == 0 && read_entry(&d, dn, attrs, &res, &e, msg, msglen) == 0)
		next = value_of(&d, e, "uidNumber");
	if (r == 0)
		snprintf(msg, msglen, "ldap %s%s%s: people %s, groups %s, last id %s (%s)", cfg->ldap_uri,
			 cfg->ldap_bind_dn[0] ? " as " : "", cfg->ldap_bind_dn, cfg->ldap_people_base,
			 cfg->ldap_groups_base, next ? next : "none yet", dn);
	if (res)
		ldap_msgfree(res);
	free(next);
	free(dn);
	dir_close(&d);
	return r;
}

const struct accounts_backend accounts_ldap = {
	.name = "ldap",
	.provision = dir_provision,
	.set_locked = dir_set_locked,
	.shadow_expire = dir_shadow_expire,
	.set_password = dir_set_password,
	.rename = dir_rename,
	.exists = dir_exists,
	.name_taken = dir_name_taken,
	.names_load = dir_names_load,
	.names_has = dir_names_has,
	.names_free = dir_names_free,
	.check = dir_check,
};
