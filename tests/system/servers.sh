# servers.sh: sourced by the campus tests. A private OpenLDAP slapd and a
# private PostgreSQL 15, each in a directory of its own, started as
# foreground children (reaped by the caller's wait) and stopped by pid.
# Recipes: ../shared/TESTING-NOTES.md, "Campus servers in a private sandbox".
#   ldap_base  the directory's suffix; ldap_admin its root DN

ldap_base=dc=example,dc=edu
ldap_admin="cn=admin,$ldap_base"

# slapd_start DIR ADDR PORT: tests/unit/slapd.sh's slapd (TLS with DIR/ca.pem, the
# admin's password in DIR/bind.secret, ou=people, ou=groups, the groups students
# and staff) on ADDR; sets ldap_uri and ldaps_uri
slapd_start() {
	local uris
	uris=$(SLAPD_ADDR=$2 SLAPD_PORT=$3 sh "$here/../unit/slapd.sh" start "$1") || return 1
	ldap_uri=${uris% *}
	ldaps_uri=${uris#* }
	slapd_dir=$1
}

slapd_stop() { [ -z "${slapd_dir:-}" ] || sh "$here/../unit/slapd.sh" stop "$slapd_dir"; slapd_dir=; }

# pg_start ADDR PORT: tests/unit/pgserver.sh's server (TLS with pg_dir/tls/ca.pem, the
# role activate whose password is in pg_dir/password) on ADDR, open to the bridge,
# and a database "campus" of the role's; sets pg_dir and pg_url
pg_start() {
	local out
	out=$(PGSERVER_ADDR=$1 PGSERVER_NET=${1%.*}.0/24 PGSERVER_PORT=$2 sh "$here/../unit/pgserver.sh" start) || return 1
	pg_dir=${out% *}
	runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -q -X -h "$pg_dir/sock" -p "$2" -U postgres -d postgres \
		-c "CREATE DATABASE campus OWNER activate" >/dev/null || return 1
	pg_url="postgresql://activate@$1:$2/campus"
}

pg_stop() { [ -z "${pg_dir:-}" ] || sh "$here/../unit/pgserver.sh" stop "$pg_dir"; pg_dir=; }
