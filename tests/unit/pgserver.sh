#!/bin/sh
# tests/unit/pgserver.sh: a private PostgreSQL 15 server for the store tests.
#
#   pgserver.sh start          prints "DIR PORT": a new server in DIR
#   pgserver.sh stop DIR       stops it and removes DIR
#   pgserver.sh halt DIR       stops it, keeps DIR (the "server down" tests)
#   pgserver.sh resume DIR     starts it again
#   pgserver.sh freeze DIR     SIGSTOP to the server and its children (no answer at all)
#   pgserver.sh thaw DIR       SIGCONT to them
#   pgserver.sh bouncer DIR    prints PORT: PgBouncer in front of it, in transaction
#                              mode with ONE server connection for every client
#                              (any session state a client left would reach the next)
#
# DIR (under /tmp, traversable: postgres refuses root and needs to reach
# it) holds data/, the Unix socket in sock/, a CA and the server's
# certificate for localhost in tls/ (ca.pem is what database_ca_file
# names; other-ca.pem signed nothing of it), the role "activate" with a random password in DIR/password
# (root, 0600; it never reaches an argv), and log. The server listens on
# 127.0.0.1:PORT with TLS only, and on the socket; pg_hba asks for the
# password (scram-sha-256) from everyone but the postgres superuser on the
# socket. Runs as root. A missing PostgreSQL is a failure, never a skip.
# PGSERVER_ADDR (default 127.0.0.1), PGSERVER_NET (the clients allowed over
# TLS, default that address /32) and PGSERVER_PORT (default: a free one)
# put it elsewhere: the campus test's bridge.
set -eu
bin=/usr/lib/postgresql/15/bin
addr=${PGSERVER_ADDR:-127.0.0.1}
net=${PGSERVER_NET:-$addr/32}

die() { echo "pgserver.sh: $*" >&2; exit 1; }

need() {
	[ "$(id -u)" = 0 ] || die "must run as root (the store tests do)"
	[ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] || die "needs PostgreSQL 15 (Debian: postgresql-15)"
	id postgres >/dev/null 2>&1 || die "needs the postgres user (Debian: postgresql-15)"
	command -v openssl >/dev/null || die "needs openssl (Debian: openssl)"
}

as_pg() { runuser -u postgres -- "$@"; }

make_tls() {	# make_tls DIR: a CA, and a server certificate for localhost signed by it
	t=$1/tls
	mkdir -p "$t"
	openssl req -x509 -new -newkey rsa:2048 -nodes -days 2 -subj "/CN=pam_activate test CA" \
		-keyout "$t/ca.key" -out "$t/ca.pem" >/dev/null 2>&1
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$t/server.key" -out "$t/server.csr" >/dev/null 2>&1
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:%s\n' "$addr" >"$t/san"
	openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
		-days 2 -extfile "$t/san" -out "$t/server.crt" >/dev/null 2>&1
	# a CA that signed nothing of this server's: verify-full must refuse it
	openssl req -x509 -new -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
		-keyout "$t/other-ca.key" -out "$t/other-ca.pem" >/dev/null 2>&1
	chmod 0644 "$t/ca.pem" "$t/other-ca.pem" "$t/server.crt"
	chmod 0600 "$t/ca.key" "$t/server.key"
	chown postgres "$t/server.key" "$t/server.crt"
}

configure() {	# configure DIR PORT
	cat >>"$1/data/postgresql.conf" <<EOF
listen_addresses = '$addr'
port = $2
unix_socket_directories = '$1/sock'
ssl = on
ssl_cert_file = '$1/tls/server.crt'
ssl_key_file = '$1/tls/server.key'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
deadlock_timeout = 100ms
EOF
	cat >"$1/data/pg_hba.conf" <<EOF
local   all  postgres                 trust
local   all  all                      scram-sha-256
hostssl all  all       $net   scram-sha-256
EOF
}

start_server() {	# start_server DIR
	as_pg "$bin/pg_ctl" -w -t 60 -D "$1/data" -l "$1/log" start >/dev/null
}

start() {
	need
	dir=$(mktemp -d /tmp/pam_activate-pg.XXXXXX)
	chmod 0755 "$dir"
	# a start that fails half-way leaves no server and no directory behind
	trap 'as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1; rm -rf "$dir"' EXIT
	mkdir "$dir/data" "$dir/sock"
	touch "$dir/log"
	chown postgres:postgres "$dir/data" "$dir/sock" "$dir/log"
	make_tls "$dir"
	as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	cp "$dir/data/postgresql.conf" "$dir/postgresql.conf.orig"
	# a port nobody uses: a few tries, each a fresh pick
	tries=0
	while :; do
		port=${PGSERVER_PORT:-$((20000 + ($$ * 7 + tries * 1031) % 30000))}
		cp "$dir/postgresql.conf.orig" "$dir/data/postgresql.conf"
		configure "$dir" "$port"
		start_server "$dir" && break
		tries=$((tries + 1))
		[ $tries -lt 5 ] || { cat "$dir/log" >&2; die "the server does not start"; }
		: >"$dir/log"
	done
	umask 077
	openssl rand -hex 24 >"$dir/password"
	chmod 0600 "$dir/password"
	# the password reaches psql on its standard input, never an argument
	printf "CREATE ROLE activate LOGIN CREATEDB PASSWORD '%s';\n" "$(cat "$dir/password")" |
		as_pg "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres -d postgres -f - >/dev/null
	echo "$port" >"$dir/port"
	trap - EXIT
	echo "$dir $port"
}

bouncer() {	# bouncer DIR: PgBouncer on the Unix socket DIR/bouncer, port PORT+1
	command -v pgbouncer >/dev/null || die "needs PgBouncer (Debian: pgbouncer)"
	b=$1/bouncer
	port=$(cat "$1/port")
	mkdir -p "$b"
	chown postgres "$b"
	cat >"$b/pgbouncer.ini" <<EOF
[databases]
* = host=$1/sock port=$port
[pgbouncer]
listen_addr =
listen_port = $((port + 1))
unix_socket_dir = $b
auth_type = scram-sha-256
auth_file = $b/userlist.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 200
logfile = $b/log
pidfile = $b/pgbouncer.pid
EOF
	umask 077
	printf '"activate" "%s"\n' "$(cat "$1/password")" >"$b/userlist.txt"
	chown postgres "$b/userlist.txt" "$b/pgbouncer.ini"
	as_pg pgbouncer -d -q "$b/pgbouncer.ini" || die "pgbouncer does not start"
	echo $((port + 1))
}

server_pids() {	# the postmaster and its children
	pm=$(head -n 1 "$1/data/postmaster.pid")
	echo "$pm"
	ps -o pid= --ppid "$pm"
}

case ${1:-} in
start) start ;;
stop)
	[ -f "$2/port" ] || die "$2: not a server of pgserver.sh"
	[ -f "$2/bouncer/pgbouncer.pid" ] && kill "$(cat "$2/bouncer/pgbouncer.pid")" 2>/dev/null
	as_pg "$bin/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$2" ;;
halt) as_pg "$bin/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null ;;
resume) start_server "$2" ;;
freeze) kill -STOP $(server_pids "$2") ;;
thaw) kill -CONT $(server_pids "$2") ;;
bouncer) need; bouncer "$2" ;;
*) die "usage: pgserver.sh start | stop DIR | halt DIR | resume DIR | freeze DIR | thaw DIR | bouncer DIR" ;;
esac
