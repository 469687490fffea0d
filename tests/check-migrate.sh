#!/bin/sh
# activatectl against PostgreSQL: migrate-store copies a SQLite store into
# an empty PostgreSQL database and verifies it, refuses a database that is
# not empty, and every command then answers from PostgreSQL as it did from
# SQLite (list, stats, show, audit, audit --verify), writes there (add,
# issue, unlock), and plays a dialogue against a snapshot (try) that
# writes nothing. A real PostgreSQL 15 from tests/unit/pgserver.sh; as
# root. A missing server is a failure.
src=${top_srcdir:-.}
build=${top_builddir:-.}
for tool in psql openssl; do
	command -v "$tool" >/dev/null || { echo "FAIL: check-migrate.sh needs $tool (scripts/setup installs it)"; exit 1; }
done
server=$(sh "$src/tests/unit/pgserver.sh" start) || { echo "FAIL: no PostgreSQL server (pgserver.sh start)"; exit 1; }
pg=${server% *}
port=${server#* }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"; sh "$src/tests/unit/pgserver.sh" stop "$pg"' EXIT
chmod 0700 "$tmp"
mkdir -p "$tmp/root/etc" "$tmp/root/home"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tmp/root/etc/passwd"
printf 'root:x:0:\n' >"$tmp/root/etc/group"
printf 'root:*:20000:0:99999:7:::\n' >"$tmp/root/etc/shadow"
url="postgresql://activate@localhost:$port/campus"
common="pepper_file = $tmp/pepper
sysroot = $tmp/root
run_dir = $tmp/run
pin_hash_cost = min
database_password_file = $pg/password
database_ca_file = $pg/tls/ca.pem"
printf 'database = %s/db/activate.db\n%s\n' "$tmp" "$common" >"$tmp/sqlite.conf"
printf 'database = %s\n%s\n' "$url" "$common" >"$tmp/pg.conf"
sq() { "$build/activatectl" --config "$tmp/sqlite.conf" "$@"; }
pgc() { "$build/activatectl" --config "$tmp/pg.conf" "$@"; }
psql_su() { runuser -u postgres -- psql -q -X -t -A -v ON_ERROR_STOP=1 -h "$pg/sock" -p "$port" -U postgres "$@"; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# a SQLite store with some history: people, PINs, failures unlocked, a revoke, the audit trail
sq init >/dev/null || bad "init (SQLite)"
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,email\n1,2,Ola,Nordmann,student,Maths,2026-08-14,\n3,4,Åse,Ødegård,exchange,,,ase@example.edu\n5,6,Kari,Nordmann,employee,Physics,2026-08-01,\n' \
	>"$tmp/roster.csv"
sq import "$tmp/roster.csv" >/dev/null || bad "import"
sq issue 1 3 --output "$tmp/pins.csv" >/dev/null 2>&1 || bad "issue"
sq unlock 5 >/dev/null || bad "unlock"
sq set 3 --programme History >/dev/null || bad "set"

psql_su -d postgres -c "CREATE DATABASE campus OWNER activate" || bad "CREATE DATABASE"
pgc migrate-store >/dev/null 2>&1; [ $? = 2 ] || bad "migrate-store without --to is not a usage error"
sq migrate-store --to "$tmp/other.db" >"$tmp/out" 2>&1 && bad "migrate-store to a file"
sq migrate-store --to "$url" >"$tmp/out" 2>&1 || { bad "migrate-store:"; sed 's/^/    /' "$tmp/out"; }
grep -q "3 people, .* audit rows, 0 throttle rows copied and verified" "$tmp/out" ||
	{ bad "migrate-store said:"; sed 's/^/    /' "$tmp/out"; }
sq migrate-store --to "$url" >"$tmp/out" 2>&1 && bad "a second migrate-store into a database that is not empty"
grep -q "is not empty (3 people" "$tmp/out" || { bad "the refusal of a database that is not empty:"; sed 's/^/    /' "$tmp/out"; }
[ "$(psql_su -d campus -c 'SELECT count(*) FROM person')" = 3 ] || bad "the refused copy changed the target"

# the same answers from either store
for args in "list --json" "stats --json" "show 3" "show 1" "audit" "audit --json" "audit --verify"; do
	# shellcheck disable=SC2086
	sq $args >"$tmp/a" 2>&1
	# shellcheck disable=SC2086
	pgc $args >"$tmp/b" 2>&1
	cmp -s "$tmp/a" "$tmp/b" || { bad "activatectl $args differs between SQLite and PostgreSQL:"; diff "$tmp/a" "$tmp/b" | sed 's/^/    /'; }
done
pgc audit --verify | grep -q '^audit trail intact' || bad "the copied audit chain"

# writes go to PostgreSQL; a new person is numbered after the copied ones
pgc add --id-number 7 --student-number 8 --given-name Nils --family-name Nilsen --programme Maths \
	--fee-paid-on 2026-08-14 >/dev/null || bad "add on PostgreSQL"
[ "$(psql_su -d campus -c "SELECT rowid FROM person WHERE id_number = '7'")" = 4 ] || bad "the new person's row number"
pgc issue 7 --output "$tmp/pin7.csv" >/dev/null 2>&1 || bad "issue on PostgreSQL"
pin7=$(awk -F, 'NR == 2 { gsub(/"/, "", $5); print $5 }' "$tmp/pin7.csv")
pgc audit --verify | grep -q '^audit trail intact: .* rows' || bad "the chain after new rows on PostgreSQL"
sq show 7 >/dev/null 2>&1 && bad "the SQLite file changed after the migration"

# try: the dialogue against a snapshot of PostgreSQL (a SQLite copy); nothing written
before=$(psql_su -d campus -c "SELECT sum(version), count(*) FROM person")
printf '7\n8\n%s\n1\nnilsnils\n' "$pin7" | pgc try 7 >"$tmp/out" 2>&1
grep -q '^try: the account would have been made; nothing was written$' "$tmp/out" ||
	{ bad "try against PostgreSQL:"; sed 's/^/    /' "$tmp/out"; }
[ "$(psql_su -d campus -c "SELECT sum(version), count(*) FROM person")" = "$before" ] || bad "try wrote to PostgreSQL"
grep -q "$pin7" "$tmp/out" && bad "try showed the PIN"
ls -d /tmp/activatectl-try.* 2>/dev/null && bad "try left its scratch directory"
grep -rq "$(cat "$pg/password")" "$tmp" && bad "the database password is in a file of the test"

[ $fail = 0 ] && echo "PASS: migrate-store, and activatectl on PostgreSQL as on SQLite"
exit $fail
