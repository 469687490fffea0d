#!/bin/sh
# check-roster.sh: adversarial rosters through the real activatectl import.
# A refused roster names the line (and the field) and leaves the database
# exactly as it was; memory stays bounded where a roster's size is not the
# import's business (a 100 MB cell); a million rows go in, and the peak
# memory is printed (about 2 KB a row: the import holds the whole roster),
# never asserted on time. Needs root, as every test that runs activatectl.
build=${top_builddir:-.}
src=${top_srcdir:-.}
for tool in sqlite3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "FAIL: check-roster.sh needs $tool (scripts/setup installs it)"; exit 1; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
mkdir -p "$tmp/root/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tmp/root/etc/passwd"
printf 'root:x:0:\n' >"$tmp/root/etc/group"
printf 'root:*:20000:0:99999:7:::\n' >"$tmp/root/etc/shadow"
printf 'database = %s/db/activate.db\npepper_file = %s/pepper\nsysroot = %s/root\npin_hash_cost = min\n' \
	"$tmp" "$tmp" "$tmp" >"$tmp/conf"
ctl() { "$build/activatectl" --config "$tmp/conf" "$@"; }
header=id_number,student_number,given_name,family_name,kind,programme,fee_paid_on
fail=0
# What is in the database, for "nothing was changed".
dump() { sqlite3 "$tmp/db/activate.db" .dump | sha256sum; }
# peak KB: /usr/bin/time's figure from the last measured run
peak() { tail -n 1 "$tmp/rss"; }

ctl init >/dev/null || { echo "FAIL: init"; exit 1; }
printf '%s\n1,2,Ola,Nordmann,student,Maths,2026-08-14\n' "$header" >"$tmp/small.csv"
ctl import "$tmp/small.csv" >/dev/null || { echo "FAIL: a small import"; exit 1; }
before=$(dump)

# refused FILE WANT...: import exits 1, prints every WANT, says nothing was changed, changes nothing
refused() {
	file=$1; shift
	/usr/bin/time -f %M -o "$tmp/rss" "$build/activatectl" --config "$tmp/conf" import "$file" >"$tmp/out" 2>&1
	got=$?
	[ "$got" = 1 ] || { echo "FAIL: import $(basename "$file") exited $got, not 1:"; sed 's/^/    /' "$tmp/out"; fail=1; }
	for want in "$@" "nothing was changed"; do
		grep -qF -- "$want" "$tmp/out" ||
			{ echo "FAIL: import $(basename "$file") does not say '$want':"; sed 's/^/    /' "$tmp/out"; fail=1; }
	done
	[ "$(dump)" = "$before" ] || { echo "FAIL: import $(basename "$file") changed the database"; fail=1; }
	echo "check-roster: $(basename "$file") refused, peak $(peak) KB: $(head -n 1 "$tmp/out")"
}

# 100 000 rows, then a bad one; each file stops there, naming the line
sh "$src/tests/bench/gen-roster.sh" 100000 >"$tmp/100k.csv"
{ cat "$tmp/100k.csv"; echo "10000001,39999999,Dup,Licate,student,Maths,2026-08-14"; } >"$tmp/dup-id.csv"
refused "$tmp/dup-id.csv" "dup-id.csv:100002: id_number: same as on line 2"
{ cat "$tmp/100k.csv"; echo "39999999,20000007,Dup,Licate,student,Maths,2026-08-14"; } >"$tmp/dup-sn.csv"
refused "$tmp/dup-sn.csv" "dup-sn.csv:100002: student_number: same as on line 8"
{ head -n 50000 "$tmp/100k.csv"; printf '39999999,39999999,No\000l,Byte,student,Maths,2026-08-14\n'
  tail -n +50001 "$tmp/100k.csv"; } >"$tmp/nul.csv"
refused "$tmp/nul.csv" "nul.csv:50001: given_name: NUL byte"
{ head -n 50000 "$tmp/100k.csv"; printf '39999999,39999999,Ola,Nordm\303\245\377nn,student,Maths,2026-08-14\n'
  tail -n +50001 "$tmp/100k.csv"; } >"$tmp/utf8.csv"
refused "$tmp/utf8.csv" "utf8.csv:50001: family_name: control characters or invalid UTF-8"
{ head -n 50000 "$tmp/100k.csv"; printf '39999999,39999999,Ola,\355\240\200,student,Maths,2026-08-14\n'; } >"$tmp/surrogate.csv"
refused "$tmp/surrogate.csv" "surrogate.csv:50001: family_name: control characters or invalid UTF-8"

# a 100 MB cell: refused as soon as it passes 4096 bytes, never held whole
{ printf '%s\n1,2,Ola,Nordmann,student,Maths,2026-08-14\n3,4,' "$header"
  head -c 104857600 /dev/zero | tr '\0' A; printf ',Nordmann,student,Maths,2026-08-14\n'; } >"$tmp/cell.csv"
refused "$tmp/cell.csv" "cell.csv:3: given_name: longer than 4096 bytes"
[ "$(peak)" -lt 65536 ] || { echo "FAIL: a 100 MB cell took $(peak) KB: it was held whole"; fail=1; }
# quoted, the row's first field, over a million lines: named by the line it starts on
{ printf '%s\n1,2,Ola,Nordmann,student,Maths,2026-08-14\n"' "$header"
  head -c 104857600 /dev/zero | tr '\0' 7 | fold -w 99; printf '",4,Ola,Nordmann,student,Maths,2026-08-14\n'; } >"$tmp/lines.csv"
refused "$tmp/lines.csv" "lines.csv:3: id_number: longer than 4096 bytes"
[ "$(peak)" -lt 65536 ] || { echo "FAIL: a 100 MB quoted cell took $(peak) KB: it was held whole"; fail=1; }
rm -f "$tmp/cell.csv" "$tmp/lines.csv" "$tmp"/dup-*.csv "$tmp/nul.csv" "$tmp/utf8.csv" "$tmp/surrogate.csv"

# a million rows: in, in one transaction
sh "$src/tests/bench/gen-roster.sh" 1000000 >"$tmp/1m.csv"
# less memory than they need: refused in words, nothing changed (ASan cannot run under ulimit -v)
if ldd "$build/activatectl" 2>/dev/null | grep -q libasan; then
	(export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=300"
	 refused "$tmp/1m.csv" "out of memory after"; exit $fail) || fail=1
else
	(ulimit -v 600000 && refused "$tmp/1m.csv" "out of memory after"; exit $fail) || fail=1
fi
/usr/bin/time -f %M -o "$tmp/rss" "$build/activatectl" --config "$tmp/conf" import "$tmp/1m.csv" >"$tmp/out" 2>&1 ||
	{ echo "FAIL: a million rows:"; sed 's/^/    /' "$tmp/out"; fail=1; }
grep -q '^1000000 rows: 1000000 added' "$tmp/out" || { echo "FAIL: a million rows:"; sed 's/^/    /' "$tmp/out"; fail=1; }
n=$(sqlite3 "$tmp/db/activate.db" "SELECT count(*) FROM person")
[ "$n" = 1000001 ] || { echo "FAIL: a million rows: $n people in the database"; fail=1; }
echo "check-roster: 1000000 rows ($(($(wc -c <"$tmp/1m.csv") / 1048576)) MB) imported, peak $(peak) KB," \
	"$(($(peak) * 1024 / 1000000)) bytes a row"
exit $fail
