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

pg_bin=/usr/lib/postgresql/15/bin
# postgres refuses root; setpriv execs, so $! is the server itself. DIR's parents must be traversable.
as_postgres() { setpriv --reuid postgres --regid postgres --init-groups -- "$@"; }

pg_start() {	# pg_start DIR ADDR PORT: sets pg_pid and pg_socket (the directory of the unix socket)
	mkdir -p "$1" && chown postgres: "$1" && chmod 0700 "$1" || return 1
	if [ ! -f "$1/data/PG_VERSION" ]; then
		as_postgres "$pg_bin/initdb" -D "$1/data" -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
			>"$1/initdb.log" 2>&1 || { cat "$1/initdb.log"; return 1; }
	fi
	pg_socket=$1
	as_postgres "$pg_bin/postgres" -D "$1/data" -k "$1" -h "$2" -p "$3" -c fsync=off \
		>"$1/postgres.log" 2>&1 &
	pg_pid=$!
	for _ in $(seq 100); do
		as_postgres "$pg_bin/pg_isready" -q -h "$1" -p "$3" && return 0
		sleep 0.05
	done
	cat "$1/postgres.log"
	return 1
}

pg_stop() { [ -n "${pg_pid:-}" ] && kill "$pg_pid" 2>/dev/null && wait "$pg_pid" 2>/dev/null; pg_pid=; }
