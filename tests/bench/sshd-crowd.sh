#!/bin/bash
# sshd-crowd.sh N: N people activate at once through the real sshd, in a
# private mount namespace (bench.sh starts it under unshare --mount), with
# the shipped sshd_config snippet and every pam_activate key at its default
# (pin_hash_cost interactive, max_concurrent_hashes = cores) except paths.
# Two rounds of N fresh people: sshd's MaxStartups at its default, then
# raised. Prints a table row a round, and "crowd_ROUND_KEY=VALUE" lines to
# $crowd_out for bench.sh's summary.
#   build  the build directory; here  tests/system in the source tree
set -u
n=${1:-20}
work=$(mktemp -d /tmp/pam_activate-crowd.XXXXXX)
chmod 0700 "$work"
sampler= sshd_pid=
trap 'kill $sampler $sshd_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
. "$here/private.sh"
private_system "$work" || { echo "sshd-crowd: cannot make the private system" >&2; exit 1; }
private_conf "$work" </dev/null
ctl="$build/activatectl --config /etc/security/activate.conf"
$ctl init >/dev/null
awk -v n="$((2 * n))" 'BEGIN { print "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on"
	for (i = 1; i <= n; i++) printf "%d,%d,Crowd,Member%c%c,student,Maths,2026-08-14\n", 50000 + i, 60000 + i, 97 + int(i / 26), 97 + i % 26 }' >"$work/roster.csv"
$ctl import "$work/roster.csv" >/dev/null
$ctl issue --pending --output "$work/pins.csv" >/dev/null 2>&1
private_pam sshd
declare -A pins
while IFS=, read -r id _ _ _ pin _; do pins[${id//\"/}]=${pin//\"/}; done < <(tail -n +2 "$work/pins.csv")

# Sums of PSS (shared pages split between their sharers, so a sum is
# honest) of the sshd and of the activate-helper processes every 100 ms;
# the peaks. A helper lives for a fraction of a second: its figure is a
# sample, not a bound.
pss_of() { local k v; while read -r k v _; do [ "$k" = Pss: ] && { echo "$v"; return; }; done <"$1/smaps_rollup"; echo 0; }
sample() {
	local peak_s=0 peak_h=0 peak_n=0 s h c d comm
	while [ ! -e "$work/stop" ]; do
		s=0 h=0 c=0
		for d in /proc/[0-9]*; do
			read -r comm 2>/dev/null <"$d/comm" || continue
			case $comm in
			sshd) s=$((s + $(pss_of "$d" 2>/dev/null || echo 0))); c=$((c + 1)) ;;
			activate-helper) h=$((h + $(pss_of "$d" 2>/dev/null || echo 0))) ;;
			esac
		done
		[ "$s" -gt "$peak_s" ] && peak_s=$s
		[ "$h" -gt "$peak_h" ] && peak_h=$h
		[ "$c" -gt "$peak_n" ] && peak_n=$c
		sleep 0.1
	done
	echo "$peak_s $peak_h $peak_n" >"$work/peaks"
}

median_s() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }

round() {	# round LABEL FIRST SSHD_CONFIG_LINE
	local key=${1%% *} first=$2 last=$(($2 + n - 1)) pids=() ok=0 start end i rc u
	private_sshd "$work" <<<"$3" || { echo "sshd-crowd: sshd did not start" >&2; exit 1; }
	export port
	rm -f "$work/stop" "$work/peaks"
	sample & sampler=$!
	sleep 0.3
	start=$(date +%s%N)
	for i in $(seq "$first" "$last"); do
		( s=$(date +%s%N)
		  SSH_EXP_TIMEOUT=120 expect -f "$here/ssh.exp" suggested $((50000 + i)) $((60000 + i)) \
			"${pins[$((50000 + i))]}" >"$work/out.$i" 2>&1
		  echo "$? $((($(date +%s%N) - s) / 1000000))" >"$work/rc.$i" ) &
		pids+=($!)
	done
	wait "${pids[@]}"
	end=$(date +%s%N)
	touch "$work/stop"; wait "$sampler"; sampler=
	kill "$sshd_pid"; wait "$sshd_pid" 2>/dev/null; sshd_pid=
	for i in $(seq "$first" "$last"); do
		read -r rc _ <"$work/rc.$i"
		u=$(sed -n 's/^USERNAME=//p' "$work/out.$i" | tr -d '\r')
		[ "$rc" = 0 ] && [ -n "$u" ] && grep -q "^$u:" /etc/passwd && ok=$((ok + 1))
	done
	read -r peak_s peak_h peak_n <"$work/peaks"
	wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	med=$(for i in $(seq "$first" "$last"); do cut -d' ' -f2 "$work/rc.$i"; done | median_s)
	slowest=$(for i in $(seq "$first" "$last"); do cut -d' ' -f2 "$work/rc.$i"; done | sort -n | tail -1 |
		awk '{ printf "%.2f", $1 / 1000 }')
	printf '%-32s %4s %6s %7s %8s %6s %8s %5s %10s\n' "$1" "$ok" "$((n - ok))" "$wall" "$med" "$slowest" \
		"$((peak_s / 1024))" "$peak_n" "$((peak_h / 1024))"
	printf 'crowd_%s_%s\n' "$key" "ok=$ok" "$key" "failed=$((n - ok))" "$key" "wall=$wall" "$key" "median=$med" \
		"$key" "sshd_mib=$((peak_s / 1024))" >>"${crowd_out:-/dev/null}"
	for i in $(seq "$first" "$last"); do
		read -r rc _ <"$work/rc.$i"
		[ "$rc" = 0 ] && continue
		grep -a -m1 -E 'expect: |Connection (closed|reset)|kex_exchange|Permission denied' "$work/out.$i" |
			tr -d '\r' | grep . || echo "exit status $rc"
	done | sort | uniq -c | sed 's/^ */    failed: /'
}

printf '%-32s %4s %6s %7s %8s %6s %8s %5s %10s\n' "$n at once, sshd's MaxStartups" "ok" "failed" "wall s" "median s" \
	"max s" "sshd MiB" "sshds" "helper MiB"
round "default (10:30:100)" 1 ""
round "raised (MaxStartups 100)" $((n + 1)) "MaxStartups 100"
