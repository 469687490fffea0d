#!/bin/bash
# bench.sh [SIZE]: the figures of make bench, printed as a table; nothing is
# asserted. Run from the build directory. SIZE people are imported at
# pin_hash_cost=min, SIZE/10 at interactive, then SIZE re-imported unchanged.
# BENCH_REPEAT runs of each fast figure (default 3), BENCH_SLOW_REPEAT of the
# interactive import (default 1: about eight minutes at 10 000 on two cores).
# BENCH_CAMPUS_PEOPLE (200) activations from BENCH_CAMPUS_MACHINES (8) machines
# (tests/system/campus.sh in its benchmark mode), BENCH_REPEAT times.
set -eu
size=${1:-100000}
repeat=${BENCH_REPEAT:-3}
slow_repeat=${BENCH_SLOW_REPEAT:-1}
here=$(cd "$(dirname "$0")" && pwd)
ctl=$PWD/activatectl
hashrate=$PWD/tests/bench/hashrate
cores=$(nproc)
work=$(mktemp -d /tmp/pam_activate-bench.XXXXXX)
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { apt-get install -y -q time >/dev/null 2>&1 || true; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

sandbox() {	# sandbox COST: a fresh database and pepper, init's trigger user in a scratch root
	rm -rf "$work/db" "$work/pepper" "$work/initroot"
	mkdir -p "$work/initroot/etc"
	printf 'root:x:0:0:root:/root:/bin/bash\n' >"$work/initroot/etc/passwd"
	printf 'root:*:20000:0:99999:7:::\n' >"$work/initroot/etc/shadow"
	printf 'root:x:0:\n' >"$work/initroot/etc/group"
	printf 'database = %s/db/activate.db\npepper_file = %s/pepper\npin_hash_cost = %s\nsysroot = %s/initroot\n' \
		"$work" "$work" "$1" "$work" >"$work/conf"
	"$ctl" --config "$work/conf" init >/dev/null
}

timed() {	# timed CMD...: prints "wall cpu_percent"
	/usr/bin/time -f '%e %P' -o "$work/time" "$@" >/dev/null
	tr -d '%' <"$work/time"
}

single_rate() {	# single_rate COST N: median single-thread hashes/s
	for _ in $(seq "$repeat"); do "$hashrate" "$1" "$2"; done | median
}

row() { printf '%-40s %4s %10s %6s %10s %10s %6s\n' "$@"; }

# Every figure also goes into one summary table, printed last.
summary() {	# summary FIGURE MEASURED PEER RATIO TARGET
	printf '%-46s|%16s|%22s|%8s|%s\n' "$@" >>"$work/summary"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3f", a / b; else print "-" }'; }

import_runs() {	# import_runs COST FILE RUNS [reimport]: median wall and CPU%
	for _ in $(seq "$3"); do
		sandbox "$1"
		if [ "${4:-}" = reimport ]; then "$ctl" --config "$work/conf" import "$2" >/dev/null; fi
		timed "$ctl" --config "$work/conf" import "$2"
	done >"$work/runs"
	echo "$(cut -d' ' -f1 <"$work/runs" | median) $(cut -d' ' -f2 <"$work/runs" | median)"
}

figure() {	# figure LABEL COST FILE N RUNS RATE1 [reimport] [TARGET]
	read -r wall cpu < <(import_runs "$2" "$3" "$5" "${7:-}")
	rate=$(awk -v n="$4" -v w="$wall" 'BEGIN { printf "%.1f", n / w }')
	if [ "${7:-}" = reimport ]; then
		row "$1" "$5" "$wall" "$cpu" "$rate" "-" "-"
		summary "$1, s" "$wall" "-" "-" "seconds"
	else
		ideal=$(awk -v c="$cores" -v r="$6" 'BEGIN { printf "%.1f", c * r }')
		row "$1" "$5" "$wall" "$cpu" "$rate" "$ideal" "$(awk -v a="$rate" -v i="$ideal" 'BEGIN { printf "%.2f", a / i }')"
		summary "$1, people/s" "$rate" "ideal $ideal" "$(ratio "$rate" "$ideal")" "$8"
	fi
}

slow=$((size / 10))
[ "$slow" -ge 1 ] || slow=1
"$here/gen-roster.sh" "$size" pins >"$work/big.csv"
"$here/gen-roster.sh" "$slow" pins >"$work/slow.csv"
rate_min=$(single_rate min 20000)
rate_int=$(single_rate interactive 20)

echo "pam_activate bench: $cores cores, SIZE=$size, medians of the runs shown"
echo "single-thread PIN hashes/s: min $rate_min, interactive $rate_int"
echo
row "figure" "runs" "wall s" "CPU %" "people/s" "ideal/s" "ratio"
figure "import $size with PINs (cost min)" min "$work/big.csv" "$size" "$repeat" "$rate_min" "" \
	"none: database-bound"
figure "import $slow with PINs (interactive)" interactive "$work/slow.csv" "$slow" "$slow_repeat" "$rate_int" "" \
	">= 0.90"
figure "re-import $size unchanged (cost min)" min "$work/big.csv" "$size" "$repeat" "$rate_min" reimport
echo
echo "ideal = cores x single-thread hash rate; ratio = people/s / ideal (hash-bound target: 0.90 or better)"

# --- ordinary logins: the module's cost to everyone who is not the trigger --
logins=${BENCH_LOGINS:-10000}
rounds=${BENCH_ROUNDS:-5}
pamd="$work/pam.d"
mkdir -p "$pamd"
printf 'auth required pam_permit.so\n' >"$pamd/plain"
printf 'auth [success=done ignore=ignore default=die] %s\nauth required pam_permit.so\n' \
	"$PWD/tests/bench/.libs/pam_nothing.so" >"$pamd/nothing"
printf 'auth [success=done ignore=ignore default=die] %s\nauth required pam_permit.so\n' \
	"$PWD/.libs/pam_activate.so" >"$pamd/activate"
read -r plain nothing act < <("$PWD/tests/bench/bench_login" "$pamd" ordinary "$logins" "$rounds" | tr '\n' ' '; echo)
echo
echo "ordinary logins: $logins pam_start/pam_authenticate/pam_end cycles a round, median of $rounds rounds"
printf '%-40s %12s %12s\n' "stack" "us/cycle" "vs nothing"
printf '%-40s %12s %12s\n' "pam_permit only" "$plain" "$(awk -v a="$plain" -v b="$nothing" 'BEGIN { printf "%.3f", a / b }')"
printf '%-40s %12s %12s\n' "do-nothing module, then pam_permit" "$nothing" "1.000"
printf '%-40s %12s %12s\n' "pam_activate, then pam_permit" "$act" "$(awk -v a="$act" -v b="$nothing" 'BEGIN { printf "%.3f", a / b }')"
echo "(target: pam_activate within 5 % of the do-nothing module)"
summary "ordinary login with pam_activate, us" "$act" "do-nothing $nothing" "$(ratio "$act" "$nothing")" "<= 1.05"

# --- unknown ID number against a known one with a wrong PIN ----------------
timing_runs=${BENCH_TIMING_RUNS:-21}
sandbox interactive
printf 'max_tries = 1\nmax_attempts = 1000\nmax_total_failures = 1000000\nrun_dir = %s/run\n' "$work" >>"$work/conf"
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin\n1001,5001,Ola,Nordmann,student,Informatics,2026-08-14,87654321\n' >"$work/one.csv"
"$ctl" --config "$work/conf" import "$work/one.csv" >/dev/null
printf 'auth required %s relay=%s config=%s helper=%s fail_delay=0\n' "$PWD/.libs/pam_activate.so" \
	"$PWD/.libs/pam_activate_relay.so" "$work/conf" "$PWD/activate-helper" >"$pamd/dialogue"
read -r unknown wrong < <("$PWD/tests/bench/bench_login" "$pamd" timing "$timing_runs" | tr '\n' ' '; echo)
echo
echo "one failed dialogue at pin_hash_cost=interactive, median of $timing_runs (helper start, hash, database)"
printf '%-40s %12s\n' "unknown ID number" "$unknown us"
printf '%-40s %12s\n' "known ID number, wrong PIN" "$wrong us"
printf '%-40s %12s\n' "ratio unknown / known" "$(awk -v a="$unknown" -v b="$wrong" 'BEGIN { printf "%.3f", a / b }')"
echo "(target: within 2 %)"
summary "failed dialogue, unknown ID number, ms" "$(awk -v a="$unknown" 'BEGIN { printf "%.1f", a / 1000 }')" \
	"known ID $(awk -v a="$wrong" 'BEGIN { printf "%.1f", a / 1000 }')" "$(ratio "$unknown" "$wrong")" "0.98 - 1.02"

# --- provisioning: one account into a system that already has many ---------
adds=${BENCH_ADDS:-9}
make_sysroot() {	# make_sysroot DIR N: N accounts, ids from 10000
	rm -rf "$1"
	mkdir -p "$1/etc/skel" "$1/home"
	printf 'UID_MIN 10000\nUID_MAX 900000\nGID_MIN 10000\nGID_MAX 900000\nENCRYPT_METHOD YESCRYPT\n' >"$1/etc/login.defs"
	awk -v n="$2" -v d="$1/etc" 'BEGIN {
		print "root:x:0:0:root:/root:/bin/bash" > (d "/passwd")
		print "root:*:20000:0:99999:7:::" > (d "/shadow")
		print "root:x:0:" > (d "/group")
		print "root:*::" > (d "/gshadow")
		for (i = 0; i < n; i++) {
			printf "user%d:x:%d:%d:User %d:/home/user%d:/bin/sh\n", i, 10000 + i, 10000 + i, i, i > (d "/passwd")
			printf "user%d:$y$j9T$salt$hash:20000:0:99999:7:::\n", i > (d "/shadow")
			printf "user%d:x:%d:\n", i, 10000 + i > (d "/group")
			printf "user%d:!::\n", i > (d "/gshadow")
		}
	}'
	chmod 0640 "$1/etc/shadow" "$1/etc/gshadow"
}

per_account() {	# per_account CMD...: median ms of ADDS runs; the command gets the run number as $N
	for i in $(seq "$adds"); do
		s=$(date +%s%N)
		N=$i eval "$*" >/dev/null 2>&1 || { echo "n/a"; return; }
		echo $((($(date +%s%N) - s) / 1000))
	done | median | awk '{ printf "%.3f", $1 / 1000 }'
}

echo
echo "provisioning one account, median of $adds (ms); floor: copy, fsync and rename passwd, shadow, group"
printf '%-10s %10s %10s %8s %16s %8s %16s\n' "accounts" "ours" "floor" "ratio" "useradd -u" "ratio" "useradd (own ids)"
for n in $((size / 100)) $((size / 10)) "$size"; do
	sr="$work/sysroot"
	make_sysroot "$sr" "$n"
	read -r ours flr pwhash < <("$PWD/tests/bench/bench_accounts" "$sr" "$adds" | tr '\n' ' '; echo)
	u=$(per_account "useradd --prefix $sr -m -U -u \$((500000 + N)) -p '\$y\$j9T\$a\$b' ua\$N")
	if [ "$n" -le 10000 ]; then
		own=$(per_account "useradd --prefix $sr -m -U -p '\$y\$j9T\$a\$b' ub\$N")
	else
		own="not run"	# about 100 s an account here: it probes NSS id by id
	fi
	summary "provisioning at $n accounts, ms" "$ours" "floor $flr" "$(ratio "$ours" "$flr")" "<= 2"
	summary "  useradd -u at $n accounts, ms" "$u" "ours $ours" "$(ratio "$u" "$ours")" "ours faster"
	printf '%-10s %10s %10s %8s %16s %8s %16s\n' "$n" "$ours" "$flr" \
		"$(awk -v a="$ours" -v b="$flr" 'BEGIN { printf "%.2f", a / b }')" "$u" \
		"$(awk -v a="$u" -v b="$ours" 'BEGIN { if (a + 0 > 0) printf "%.1fx", a / b; else print "-" }')" "$own"
done
echo "(ratio: ours / floor, target within 2x; useradd -u / ours. newusers is not measured: it needs PAM inside the root)"

# --- what durability costs: synchronous = FULL against NORMAL -------------------
read -r full normal < <("$PWD/tests/bench/bench_durability" "$work" 101 | tr '\n' ' '; echo)
echo
echo "the six commits of one activation, median of 101 (ms): synchronous FULL (ours), NORMAL (the peer)"
printf '%-10s %10s %10s\n' "FULL" "NORMAL" "cost"
printf '%-10s %10s %10s\n' "$full" "$normal" "$(awk -v a="$full" -v b="$normal" 'BEGIN { printf "%.3f", a - b }')"
summary "durability: 6 commits FULL, ms" "$full" "NORMAL $normal" "$(ratio "$full" "$normal")" "report"

# --- one whole activation, server side, split ---------------------------------
sandbox interactive
sed -i "s|^sysroot = .*|sysroot = $sr|" "$work/conf"
printf 'run_dir = %s/run\nskel =\n' "$work" >>"$work/conf"
awk -v n="$adds" 'BEGIN { print "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin"
	for (i = 1; i <= n; i++) printf "%d,%d,Full,Run%c,student,Maths,2026-08-14,500000%02d\n", 3000 + i, 7000 + i, 96 + i, i }' >"$work/full.csv"
"$ctl" --config "$work/conf" import "$work/full.csv" >/dev/null
printf 'auth required %s relay=%s config=%s helper=%s fail_delay=0\n' "$PWD/.libs/pam_activate.so" \
	"$PWD/.libs/pam_activate_relay.so" "$work/conf" "$PWD/activate-helper" >"$pamd/full"
total=$("$PWD/tests/bench/bench_login" "$pamd" full "$adds")
# the same with the cheapest hashes: what is left is everything else
sandbox min
sed -i "s|^sysroot = .*|sysroot = $sr|" "$work/conf"
printf 'run_dir = %s/run\nskel =\ncrypt_method = SHA512\n' "$work" >>"$work/conf"
"$ctl" --config "$work/conf" import "$work/full.csv" >/dev/null
cheap=$("$PWD/tests/bench/bench_login" "$pamd" full "$adds")
pin_ms=$(awk -v r="$rate_int" 'BEGIN { printf "%.1f", 1000 / r }')
echo
echo "one whole activation at $size accounts, median of $adds (ms)"
awk -v t="$total" -v c="$cheap" -v p="$pin_ms" -v w="$pwhash" -v f="$ours" 'BEGIN {
	t /= 1000; c /= 1000
	printf "%-52s %8.1f\n", "whole activation (interactive Argon2id, yescrypt)", t
	printf "%-52s %8.1f\n", "  PIN hash (one Argon2id, single-thread rate)", p
	printf "%-52s %8.1f\n", "  password hash (login.defs method)", w
	printf "%-52s %8.1f\n", "  account files and home", f
	printf "%-52s %8.1f\n", "  everything else (whole - the three)", t - p - w - f
	printf "%-52s %8.1f\n", "whole activation with the cheapest hashes", c
	printf "%-52s %8.1f\n", "  everything else (cheap whole - files)", c - f
}'
echo "(target: everything else under 5 ms; it includes starting the helper, the database and"
echo " three dialogue round trips, so the second line is the better measure)"
summary "whole activation at $size accounts, ms" "$(awk -v t="$total" 'BEGIN { printf "%.1f", t / 1000 }')" "-" "-" "-"
summary "  everything but hashes and files, ms" "$(awk -v c="$cheap" -v f="$ours" 'BEGIN { printf "%.1f", c / 1000 - f }')" \
	"-" "-" "<= 5"

# --- N people at once through the real sshd ---------------------------------
crowd=${BENCH_CROWD:-20}
echo
echo "$crowd activations at once through the real sshd (pin_hash_cost interactive, max_concurrent_hashes $cores)"
if [ "$(id -u)" = 0 ] && command -v expect >/dev/null && [ -x /usr/sbin/sshd ]; then
	crowd_out="$work/crowd" build=$PWD here="$here/../system" \
		unshare --mount --propagation private bash "$here/sshd-crowd.sh" "$crowd" || echo "(the crowd run failed)"
	if [ -f "$work/crowd" ]; then
		. "$work/crowd"
		for k in default raised; do
			eval "ok=\${crowd_${k}_ok} failed=\${crowd_${k}_failed} wall=\${crowd_${k}_wall} mib=\${crowd_${k}_sshd_mib}"
			summary "$crowd at once via sshd, MaxStartups $k" "$ok ok, $failed failed" "$wall s, sshd ${mib} MiB" "-" \
				"0 failed"
		done
	fi
	echo "(sshd MiB: peak sum of PSS over all sshd processes; helper MiB: sampled every 100 ms. An"
	echo " activating person stays unauthenticated for the whole dialogue, so sshd's MaxStartups counts them)"
else
	echo "not run: needs root, expect and /usr/sbin/sshd (scripts/setup installs them)"
	summary "$crowd at once via sshd" "not run" "-" "-" "needs root"
fi

# --- a campus: many activations from several machines on one store and one directory --
campus_people=${BENCH_CAMPUS_PEOPLE:-200}
campus_machines=${BENCH_CAMPUS_MACHINES:-8}
echo
echo "a campus: $campus_people activations from $campus_machines machines (namespaces, each its real sshd) on one"
echo "PostgreSQL 15 and one slapd, pin_hash_cost min; the peer: the same on one machine with SQLite and files"
if [ "$(id -u)" = 0 ]; then
	CAMPUS_BENCH=1 CAMPUS_BENCH_RUNS=$repeat CAMPUS_BENCH_OUT="$work/campus" CAMPUS_PEOPLE=$campus_people \
		CAMPUS_MACHINES=$campus_machines top_builddir=$PWD bash "$here/../system/campus.sh" >"$work/campus.log" 2>&1 ||
		{ echo "(a part of the campus run failed)"; awk '/^FAIL/ { f = 1; print; next } /^    / && f { print; next } { f = 0 }' \
			"$work/campus.log" | head -n 40; }
	# the figures, without the harness's lines
	sed -n '/^$/,/^\[==/p' "$work/campus.log" | grep -v '^\[=='
	if [ -s "$work/campus" ]; then
		. "$work/campus"
		summary "campus: $campus_people act. from $campus_machines machines, /s" "$campus_rate" \
			"1 machine $campus_peer_rate" "$(ratio "$campus_rate" "$campus_peer_rate")" "report"
		summary "  helper's time per activation p50, ms" "$campus_p50" "1 machine $campus_peer_p50" \
			"$(ratio "$campus_p50" "$campus_peer_p50")" "report"
		summary "  helper's time per activation p99, ms" "$campus_p99" "1 machine $campus_peer_p99" \
			"$(ratio "$campus_p99" "$campus_peer_p99")" "report"
		summary "  failures (all runs)" "$campus_failed" "1 machine $campus_peer_failed" "-" "0"
		summary "  PostgreSQL connections at peak" "$campus_pg_peak" "-" "-" "< max_connections 100"
		summary "  one activation: statements at PostgreSQL" "$campus_pg_statements" "$campus_pg_sessions connection(s)" \
			"-" "report"
		summary "  one activation: operations at slapd" "$campus_ld_ops" "+ $campus_nss_ops by nslcd" "-" "report"
	else
		summary "campus: $campus_people act. from $campus_machines machines" "failed" "-" "-" "report"
	fi
else
	echo "not run: needs root (namespaces, sshd, slapd, PostgreSQL; scripts/setup installs them)"
	summary "campus: $campus_people act. from $campus_machines machines" "not run" "-" "-" "needs root"
fi

echo
echo "summary: every figure above (medians; SIZE=$size, $cores cores)"
printf '%-46s|%16s|%22s|%8s|%s\n' "figure" "measured" "peer, same run" "ratio" "target"
cat "$work/summary"
