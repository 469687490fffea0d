#!/bin/sh
# activatectl's command line: a bad argument is a usage error (exit 2) that
# changes nothing; a good one works. Needs root (the database must be
# root-owned), as every test that runs activatectl.
build=${top_builddir:-.}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
mkdir -p "$tmp/root/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tmp/root/etc/passwd"
printf 'root:x:0:\n' >"$tmp/root/etc/group"
printf 'root:*:20000:0:99999:7:::\n' >"$tmp/root/etc/shadow"
printf 'database = %s/db/activate.db\npepper_file = %s/pepper\nsysroot = %s/root\npin_hash_cost = min\n' \
	"$tmp" "$tmp" "$tmp" >"$tmp/conf"
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n1,2,Ola,Nordmann,student,Maths,2026-08-14\n' \
	>"$tmp/roster.csv"
ctl() { "$build/activatectl" --config "$tmp/conf" "$@"; }
fail=0 n=0
expect() {	# expect STATUS ARGS...
	want=$1; shift
	ctl "$@" >"$tmp/out" 2>&1
	got=$?
	n=$((n + 1))
	[ "$got" = "$want" ] || { echo "FAIL: activatectl $* exited $got, not $want:"; sed 's/^/    /' "$tmp/out"; fail=1; }
}
ctl init >/dev/null || { echo "FAIL: init"; exit 1; }
for bad in -1 0 4x 1025 "" 99999999999 " 2" 2.0; do
	expect 2 import --jobs "$bad" "$tmp/roster.csv"
done
expect 2 import --delimiter ab "$tmp/roster.csv"
expect 2 import
expect 2 import "$tmp/roster.csv" "$tmp/roster.csv"
expect 2 frobnicate
expect 2 issue
expect 2 list --state bogus
expect 2 show
expect 1 add --id-number 3	# a field error names the field
[ "$(ctl list | grep -c Nordmann)" = 0 ] || { echo "FAIL: a refused command imported someone"; fail=1; }
expect 0 import --jobs 2 "$tmp/roster.csv"
[ "$(ctl list | grep -c Nordmann)" = 1 ] || { echo "FAIL: import --jobs 2 did not import"; fail=1; }
[ $fail = 0 ] && echo "PASS: $n activatectl command lines answered as they should"
exit $fail
