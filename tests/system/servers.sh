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

# An outage, and the server back: each stopped by its own pid and started again on the same
# addresses and data, so the machines' clients find it where they left it.
slapd_halt() {	# slapd_halt: SIGTERM to slapd (it closes its database cleanly), until it is gone
	local pid
	pid=$(cat "$slapd_dir/slapd.pid") && kill -TERM "$pid" || return 1
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}

# slapd_resume [LEVEL]: slapd again with tests/unit/slapd.sh's command line; LEVEL is its -d
# (0: quiet; 256, stats: a line per operation in slapd.log, to count them)
slapd_resume() {
	local sock
	sock=$(printf '%s/ldapi' "$slapd_dir" | sed 's,/,%2F,g')
	/usr/sbin/slapd -h "$ldap_uri $ldaps_uri ldapi://$sock" -F "$slapd_dir/slapd.d" -d "${1:-0}" \
		>>"$slapd_dir/slapd.log" 2>&1 &
	echo $! >"$slapd_dir/slapd.pid"
	for _ in $(seq 200); do
		kill -0 "$(cat "$slapd_dir/slapd.pid")" 2>/dev/null || return 1
		ldapsearch -x -H "$ldap_uri" -b "" -s base -o nettimeout=2 >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

pg_halt() { sh "$here/../unit/pgserver.sh" halt "$pg_dir"; }	# pg_ctl stop -m fast: clients cut off
pg_resume() { sh "$here/../unit/pgserver.sh" resume "$pg_dir"; }

# pg_sql DB SQL...: each SQL as the superuser over the server's socket, one transaction each
# (ALTER SYSTEM refuses to run inside one); rows unaligned, fields by |
pg_sql() {
	local db=$1 args=()
	shift
	for s in "$@"; do args+=(-c "$s"); done
	runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -qAtX -v ON_ERROR_STOP=1 -h "$pg_dir/sock" \
		-p "$(cat "$pg_dir/port")" -U postgres -d "$db" "${args[@]}"
}
