#!/bin/sh
# check-model.sh: verify the activation protocol model (activation.pml)
# with spin, by exhaustive search (no bitstate hashing), in each of its
# configurations.
#
#   check-model.sh                 every configuration; exit 0 only if each
#                                  search is complete and finds no error
#   check-model.sh --broken NAME   the model with bug NAME injected
#                                  (-DBROKEN_NAME); exit 0 if spin catches it
#   check-model.sh --self-test     every injected bug; exit 0 only if spin
#                                  catches each one
#   check-model.sh --config NAME [--crashes N] [--broken NAME]
#                                  one configuration (also one not run by
#                                  default, if any), N kills per process
#                                  (default 1); exit 0 if clean
#   check-model.sh --list          the configurations and the bugs
#
# Runs from any directory: the model is $top_srcdir/tests/model/activation.pml
# if top_srcdir is set, else the one beside this script.  Needs spin and a C
# compiler (CC, default gcc).  Works in a mktemp -d directory, removed at
# exit (KEEP=1 keeps it, with the pan output and any trail).
set -u

me=check-model.sh
if [ -n "${top_srcdir:-}" ]; then
	dir=$top_srcdir/tests/model
else
	dir=$(dirname "$0")
fi
model=$dir/activation.pml
CC=${CC:-gcc}

CONFIGS="DIALOGUES HELPDESK LOCKS RESET RESET_TWO_HOSTS TWO_HOSTS HELPDESK_TWO_HOSTS LOCKS_TWO_HOSTS"
EXTRA_CONFIGS=""	# configurations not run by default (none now)
BUGS="PIN_CAS IMPORT_CAS INTENT_LATE IDS_FROM_FILES RENAME_KEEPS_HOME SHADOW_KEPT LEASE_LOCAL LEASE_FIRST"
DEPTH=100000		# pan -m; the deepest path is some 300 steps
MEMLIM=4096		# MB; the largest default configuration needs some 450
JOBS=${JOBS:-2}		# searches run at once

die() { echo "$me: $*" >&2; exit 1; }

usage() {
	echo "usage: $me [--self-test | --broken NAME | --config NAME [--crashes N] [--broken NAME] | --list]" >&2
	exit 2
}

is_in() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

mode=check bug= config= crashes=1
while [ $# -gt 0 ]; do
	case $1 in
	--broken) [ $# -ge 2 ] || usage; bug=$2; shift 2
		is_in "$bug" "$BUGS" || die "no such bug: $bug (one of: $BUGS)"
		[ "$mode" = check ] && mode=broken ;;
	--self-test) mode=selftest; shift ;;
	--config) [ $# -ge 2 ] || usage; config=$2; mode=one; shift 2
		is_in "$config" "$CONFIGS $EXTRA_CONFIGS" ||
			die "no such configuration: $config (one of: $CONFIGS${EXTRA_CONFIGS:+ $EXTRA_CONFIGS})" ;;
	--crashes) [ $# -ge 2 ] || usage; crashes=$2; shift 2
		case $crashes in [0-9]) ;; *) die "--crashes: 0 to 9" ;; esac ;;
	--list) echo "configurations: $CONFIGS${EXTRA_CONFIGS:+ (and, not by default: $EXTRA_CONFIGS)}"
		echo "bugs: $BUGS"; exit 0 ;;
	*) usage ;;
	esac
done
[ "$mode" = selftest ] && [ -n "$bug$config" ] && usage

[ -r "$model" ] || die "cannot read $model"
command -v spin >/dev/null 2>&1 || die "spin is not installed (scripts/setup installs spin)"
command -v "$CC" >/dev/null 2>&1 || die "$CC is not installed"

work=$(mktemp -d "${TMPDIR:-/tmp}/check-model.XXXXXX") || die "mktemp failed"
if [ "${KEEP:-0}" = 1 ]; then
	echo "$me: keeping $work" >&2
else
	trap 'rm -rf "$work"' EXIT
fi
trap 'exit 1' HUP INT TERM

# search CONFIG [BUG]: one exhaustive search, in $work/CONFIG[-BUG].  Writes
# there the file "result": rc states transitions memory seconds what, where
# rc is 0 clean and complete, 1 an error found, 2 incomplete or a tool failed.
search() {
	d=$work/$1${2:+-$2}
	mkdir "$d" && cp "$model" "$d/activation.pml" || return
	(
		cd "$d" || exit 1
		states=? transitions=? memory=? seconds=? what=
		if ! spin -a -DCONFIG_"$1" -DMAXC="$crashes" ${2:+-DBROKEN_$2} activation.pml >spin.log 2>&1; then
			rc=2 what="spin -a failed: $(head -3 spin.log | tr '\n' ' ')"
		elif ! "$CC" -O2 -w -DSAFETY -DCOLLAPSE -DVECTORSZ=1024 -DMEMLIM="$MEMLIM" \
			-o pan pan.c >cc.log 2>&1; then
			rc=2 what="$CC failed: $(head -3 cc.log | tr '\n' ' ')"
		else
			./pan -m"$DEPTH" -w24 >pan.log 2>&1
			states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log)
			transitions=$(sed -n 's/^ *\([0-9.e+]*\) transitions .*/\1/p' pan.log)
			memory=$(sed -n 's/^ *\([0-9.]*\).total actual memory usage.*/\1/p' pan.log)
			seconds=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' pan.log)
			errors=$(sed -n 's/.*errors: \([0-9]*\)$/\1/p' pan.log)
			if grep -q '^pan:[0-9]*: assertion violated' pan.log; then
				rc=1 what="assertion violated: $(grep -m1 '^pan:[0-9]*: assertion violated' pan.log |
					grep -o 'inv_[a-z_]*' | head -1 | sed 's/^inv_//')"
			elif grep -q '^pan:[0-9]*: invalid end state' pan.log; then
				rc=1 what="invalid end state: a process blocked for ever"
			elif grep -q '^pan:[0-9]*: ' pan.log; then
				rc=1 what=$(grep -m1 '^pan:[0-9]*: ' pan.log)
			elif grep -q 'max search depth too small' pan.log; then
				rc=2 what="max search depth too small"
			elif grep -q 'Search not completed' pan.log; then
				rc=2 what="search not completed: $(grep -m1 '^pan' pan.log)"
			elif [ "$errors" != 0 ]; then
				rc=2 what="no \"errors: 0\" in the pan output"
			else
				rc=0 what="ok, errors: 0"
			fi
			if [ "$rc" = 1 ]; then
				spin -t -p -DCONFIG_"$1" -DMAXC="$crashes" ${2:+-DBROKEN_$2} \
					activation.pml >trail.txt 2>&1
			fi
		fi
		echo "$rc ${states:-?} ${transitions:-?} ${memory:-?} ${seconds:-?} $what" >result
	)
}

# hunt BUG: the configurations in turn, the likeliest first, until one
# catches BUG; writes its name to $work/hunt-BUG (empty: none did)
hunt() {
	case $1 in
	PIN_CAS) order="RESET_TWO_HOSTS RESET DIALOGUES HELPDESK LOCKS" ;;
	RENAME_KEEPS_HOME) order="HELPDESK LOCKS DIALOGUES RESET RESET_TWO_HOSTS" ;;
	LEASE_*) order="TWO_HOSTS HELPDESK_TWO_HOSTS LOCKS_TWO_HOSTS" ;;
	*) order=$CONFIGS ;;
	esac
	: >"$work/hunt-$1"
	for c in $order; do
		search "$c" "$1"
		result "$c" "$1"
		if [ "$rc" = 1 ]; then
			echo "$c" >"$work/hunt-$1"
			return
		fi
	done
}

# run_all "CONFIG[:BUG] ... | hunt:BUG ...": the searches, $JOBS at a time
run_all() {
	n=0
	for job in $1; do
		if [ "${job%%:*}" = hunt ]; then
			hunt "${job#hunt:}" &
		else
			search "${job%%:*}" "$(echo "$job" | sed -n 's/.*://p')" &
		fi
		n=$((n + 1))
		if [ $n -ge "$JOBS" ]; then
			wait
			n=0
		fi
	done
	wait
}

# result CONFIG [BUG]: sets rc states transitions memory seconds what
result() {
	f=$work/$1${2:+-$2}/result
	if [ -r "$f" ]; then
		read -r rc states transitions memory seconds what <"$f"
	else
		rc=2 states=? transitions=? memory=? seconds=? what="no result"
	fi
}

line() {	# LABEL
	printf '%-18s %10s states, %10s transitions, %8s MB, %6s s: %s\n' \
		"$1" "$states" "$transitions" "$memory" "$seconds" "$2"
}

case $mode in
check|one)
	[ $mode = one ] && list=$config || list=$CONFIGS
	run_all "$(for c in $list; do echo "$c${bug:+:$bug}"; done)"
	fail=0 total_states=0 total_seconds=0
	for c in $list; do
		result "$c" "$bug"
		case $rc in
		0) line "$c" "$what" ;;
		1) line "$c" "FAILED: $what"; fail=1 ;;
		*) line "$c" "INCOMPLETE: $what"; fail=1 ;;
		esac
		if [ "$rc" != 0 ] && [ -r "$work/$c${bug:+-$bug}/pan.log" ]; then
			sed -n '/^pan:[0-9]*:/p; /Search not completed/p; /too small/p' \
				"$work/$c${bug:+-$bug}/pan.log" | head -3 | sed 's/^/    /' >&2
		fi
		total_states=$(awk -v a="$total_states" -v b="$states" 'BEGIN { print a + b }')
		total_seconds=$(awk -v a="$total_seconds" -v b="$seconds" 'BEGIN { print a + b }')
	done
	if [ $fail -eq 0 ]; then
		echo "activation model: ok: $total_states states stored in all, $total_seconds s of search, exhaustive, ${crashes} kill(s) per process"
		exit 0
	fi
	echo "activation model: FAILED${bug:+ (with BROKEN_$bug)} (KEEP=1 keeps the trail)" >&2
	exit 1
	;;
broken|selftest)
	[ $mode = broken ] && bugs=$bug || bugs=$BUGS
	run_all "$(for b in $bugs; do echo "hunt:$b"; done)"
	fail=0
	for b in $bugs; do
		caught=$(cat "$work/hunt-$b" 2>/dev/null)
		if [ -n "$caught" ]; then
			result "$caught" "$b"
			printf 'BROKEN_%-18s caught in %-18s (%s states, %s s): %s\n' \
				"$b" "$caught" "$states" "$seconds" "$what"
		else
			printf 'BROKEN_%-18s NOT CAUGHT in any configuration\n' "$b"
			fail=1
		fi
	done
	if [ $fail -eq 0 ]; then
		[ $mode = selftest ] && echo "activation model self-test: ok: every injected bug is caught"
	else
		echo "activation model: an injected bug is not caught (KEEP=1 keeps the pan output)" >&2
	fi
	exit $fail
	;;
esac
