#!/bin/bash
# kill-every-syscall.sh: the real activate-helper (through pam_activate.so,
# pam_wrapper and pamtester) and activatectl rename, revoke and restore,
# each killed with SIGKILL just before every call that changes a file (and
# once just after the last one), then retried with nothing killed. After
# the kill: a spent PIN or an active person only with a complete account.
# After the retry: the job finished (activation: "Your account is ready",
# or "already active" when the kill came after it was done); exactly one
# account, the same in passwd, shadow, group and gshadow (ids matching, a
# member of students, every other line byte for byte, kari and per still
# members); the home complete (skel's entries, modes and contents, owned by
# the user) and nothing else in home; the store's state, username, uid and
# PIN agreeing; revoke: shadow '!'+hash and expire 1; restore: the
# pre-revoke shadow line exactly; pwck and grpck clean; nothing left in etc
# but the files and their backups and .pwd.lock; both rows there; the audit
# chain verifying, with the command's event recorded exactly once.
#
# The kill points: tests/module/syscall-killer.c counts, over every process
# of the command, the calls that change the filesystem (its comment argues
# why killing before each of them, and after the last, covers every state a
# kill can leave: a kill before any other call leaves the files as a kill
# before the next counted call does). One reference run per command, with
# nothing killed, measures M, the number of those calls, and names them.
#
# BACKENDS=postgres-ldap (tests/module/kill-every-syscall-postgres-ldap.sh):
# the same commands with the store in a private PostgreSQL 15 and the
# accounts in a private slapd, both started here (tests/unit/pgserver.sh,
# tests/unit/slapd.sh), over TLS; the kill points also come before every
# call that sends to them (syscall-killer -N), and the checks are the ones
# above translated to the database and the directory
# (tests/module/kill-postgres-ldap.sh says which). A server that cannot
# start is a failure.
#
# Environment: top_builddir, top_srcdir (as make check sets them); STRIDE=k
# kills at every kth point only (default 1: every point); COMMANDS (default
# "activate rename revoke restore"); POINTS="N... after" only those points
# (with one command: a failure found again); KILL_EXTENDED=1 also kills at fsync,
# close, fcntl locks and flock; KEEP=1 keeps the scratch folder; VERBOSE=1
# prints each point's transcripts on failure.
# Needs root (chown, ptrace, a root-owned database), expect, pamtester,
# sqlite3, pwck and grpck, pam_wrapper (postgres-ldap: PostgreSQL 15, slapd,
# ldap-utils, openssl instead of sqlite3, pwck and grpck). Nothing outside
# a mktemp folder changes (postgres-ldap: and pgserver.sh's folder).
set -u
build=$(cd "${top_builddir:-.}" && pwd)
src=$(cd "${top_srcdir:-.}" && pwd)
stride=${STRIDE:-1}
commands=${COMMANDS:-activate rename revoke restore}
backends=${BACKENDS:-sqlite-files}
case $stride in '' | *[!0-9]* | 0) echo "FAIL: STRIDE must be a positive number"; exit 1 ;; esac
case $backends in sqlite-files) tools="expect pamtester sqlite3 pwck grpck" ;; postgres-ldap) tools="expect pamtester" ;;
*) echo "FAIL: BACKENDS is sqlite-files or postgres-ldap, not $backends"; exit 1 ;; esac
[ "$(id -u)" = 0 ] || { echo "FAIL: kill-every-syscall.sh needs root (the account files and the database are root's)"; exit 1; }
for tool in $tools; do
	command -v "$tool" >/dev/null || { echo "FAIL: kill-every-syscall.sh needs $tool (scripts/setup installs it)"; exit 1; }
done
pwlib=$(sed -n 's/^PAM_WRAPPER_LIB = *//p' "$build/Makefile" 2>/dev/null | sed 's/ *$//')
for lib in "$pwlib" /usr/lib/*-linux-gnu/libpam_wrapper.so /usr/lib64/libpam_wrapper.so /usr/lib/libpam_wrapper.so; do
	[ -n "$lib" ] && [ -e "$lib" ] && { pwlib=$lib; break; }
done
[ -e "$pwlib" ] || { echo "FAIL: kill-every-syscall.sh needs libpam_wrapper.so (scripts/setup installs it)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kill-every-syscall.XXXXXX") || exit 1
trap '[ "${KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
chmod 0700 "$tmp"
bin=$tmp/bin W=$tmp/w R=$tmp/w/root DB=$tmp/w/db/activate.db CONF=$tmp/w/conf
mkdir -p "$bin" "$tmp/svc" "$tmp/pw" "$tmp/peek"

# --- the binaries: a copy, so that a rebuild during the run changes nothing ---
snapshot() {	# all four, unchanged for a second after the copy
	local f tries=0 ok=no
	while [ $ok = no ]; do
		ok=yes
		for f in activate-helper activatectl .libs/pam_activate.so .libs/pam_activate_relay.so; do
			[ -s "$build/$f" ] && cp "$build/$f" "$bin/" || ok=no
		done
		sleep 1
		for f in activate-helper activatectl .libs/pam_activate.so .libs/pam_activate_relay.so; do
			cmp -s "$build/$f" "$bin/${f##*/}" || ok=no
		done
		tries=$((tries + 1))
		[ $ok = yes ] || [ $tries -lt 60 ] || { echo "FAIL: the binaries in $build are missing or keep changing"; exit 1; }
		[ $ok = yes ] || sleep 2
	done
}
snapshot
killer=$build/tests/module/syscall-killer
if [ -x "$killer" ]; then
	cp "$killer" "$bin/syscall-killer"
else	# not built by make check (yet): build it here
	${CC:-cc} -O2 -Wall -o "$bin/syscall-killer" "$src/tests/module/syscall-killer.c" ||
		{ echo "FAIL: cannot build syscall-killer"; exit 1; }
fi
killer=$bin/syscall-killer
kflags=
[ "${KILL_EXTENDED:-0}" = 1 ] && kflags=-x
[ "$backends" = postgres-ldap ] && kflags="$kflags -N"	# and before every send to a server
# A sanitizer build: pamtester must load the module's libasan first, and
# LeakSanitizer does not run under ptrace.
asan=$(ldd "$bin/pam_activate.so" 2>/dev/null | awk '/libasan/ { print $3 }')
preload=$pwlib asanenv=
if [ -n "$asan" ]; then
	preload="$asan $pwlib" asanenv="ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0
	export PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
fi
ctl() { "$bin/activatectl" --config "$CONF" "$@"; }

# --- the sandbox: a small system, a database, one person to activate -------------
ID=1001 SN=5001 PIN=11111111 OLD=olanordm NEW=olanord2
make_sysroot() {
	mkdir -p "$R/etc/skel/.config/deep" "$R/home/kari" "$R/home/per" "$R/bin" "$R/usr/sbin" "$R/root" "$W/db" "$W/run"
	chmod 0700 "$R/root" "$W/db"
	printf 'root:x:0:0:root:/root:/bin/bash\nkari:x:1001:1001:Kari Lie:/home/kari:/bin/bash\n%s\n' \
		'per:x:1002:1002:Per Hansen:/home/per:/bin/bash' >"$R/etc/passwd"
	printf 'root:*:19000:0:99999:7:::\nkari:!:19000:0:99999:7:::\nper:!:19000:0:99999:7:::\n' >"$R/etc/shadow"
	printf 'root:x:0:\nkari:x:1001:\nper:x:1002:\nusers:x:100:kari\nstudents:x:500:kari,per\n' >"$R/etc/group"
	printf 'root:*::\nkari:!::\nper:!::\nusers:*::kari\nstudents:!:kari:kari,per\n' >"$R/etc/gshadow"
	chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
	printf '%s\n' 'UID_MIN 70000' 'UID_MAX 79999' 'GID_MIN 70000' 'GID_MAX 79999' 'PASS_MAX_DAYS 99999' \
		'PASS_MIN_DAYS 0' 'PASS_WARN_AGE 7' 'ENCRYPT_METHOD YESCRYPT' 'YESCRYPT_COST_FACTOR 3' >"$R/etc/login.defs"
	: >"$R/bin/bash"
	: >"$R/usr/sbin/nologin"
	chmod 0755 "$R/bin/bash" "$R/usr/sbin/nologin"
	printf '# ~/.profile\n' >"$R/etc/skel/.profile"
	head -c 100000 /dev/zero | tr '\0' 'x' >"$R/etc/skel/.bigrc"	# more than one write
	printf 'x=1\n' >"$R/etc/skel/.config/app.conf"
	printf 'y=2\n' >"$R/etc/skel/.config/deep/more.conf"
	chmod 0600 "$R/etc/skel/.config/app.conf"
	chmod 0750 "$R/etc/skel/.config/deep"
	ln -s .profile "$R/etc/skel/.bash_profile"
	chown 1001:1001 "$R/home/kari"
	chown 1002:1002 "$R/home/per"
	printf 'Use the machines for your studies.\n' >"$W/terms.txt"
	printf '%s\n' "database = $DB" "pepper_file = $W/pepper" "sysroot = $R" "run_dir = $W/run" \
		'pin_hash_cost = min' 'groups = students' "terms_file = $W/terms.txt" >"$CONF"
	printf '%s\n' 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin' \
		"$ID,$SN,Ola,Nordmann,student,Informatics,2026-08-14,$PIN" \
		'1002,5002,Siri,Dahl,student,Maths,2026-08-14,22222222' >"$W/roster.csv"
}
if [ "$backends" = sqlite-files ]; then	# postgres-ldap: kill-postgres-ldap.sh makes its own
	make_sysroot
	ctl init >"$tmp/init.out" 2>&1 || { echo "FAIL: activatectl init:"; cat "$tmp/init.out"; exit 1; }
	ctl import "$W/roster.csv" >"$tmp/import.out" 2>&1 || { echo "FAIL: activatectl import:"; cat "$tmp/import.out"; exit 1; }
fi

# --- PAM: the module with the plain helper, and with the helper under the killer -------
line="auth [success=done ignore=ignore default=die] $bin/pam_activate.so relay=$bin/pam_activate_relay.so"
line="$line config=$CONF fail_delay=0 on_success=login"	# success: pamtester exits 0
printf '%s helper=%s\naccount required pam_permit.so\n' "$line" "$bin/activate-helper" >"$tmp/svc/activate"
printf '%s helper=%s\naccount required pam_permit.so\n' "$line" "$tmp/kill-helper" >"$tmp/svc/activate-kill"
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$tmp/svc/other"
# the module starts its helper with a clean environment: the kill point comes in a file
printf '#!/bin/sh\n%sexec %s %s $(cat %s) -l %s -c %s -- %s "$@"\n' "${asanenv:+export $asanenv; }" "$killer" "$kflags" \
	"$tmp/point" "$tmp/kill.log" "$tmp/kill.count" "$bin/activate-helper" >"$tmp/kill-helper"
chmod 0755 "$tmp/kill-helper"

# The dialogue by its prompts (a retry may skip the terms, or find the account active).
cat >"$tmp/dialogue.exp" <<'EOF'
set timeout 60
lassign $argv svc id sn pin
spawn -noecho env LD_PRELOAD=$env(PWLIB) PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$env(SVCDIR) \
	PAM_WRAPPER_RUNTIME_DIR=$env(PWDIR) pamtester -v $svc activate authenticate
expect {
	"ID number: " { send -- "$id\r"; exp_continue }
	"Student number: " { send -- "$sn\r"; exp_continue }
	"PIN code: " { send -- "$pin\r"; exp_continue }
	"Type yes to accept the terms of use: " { send "yes\r"; exp_continue }
	"Type the number of a suggestion, or a password of your own: " { send "1\r"; exp_continue }
	-re {Your username is ([a-z0-9_-]+)\. Type it and press Enter[^:]*: } {
		send -- "$expect_out(1,string)\r"; exp_continue
	}
	"Press Enter to close: " { send "\r"; exp_continue }
	timeout { puts "\n\[dialogue timed out\]"; exec kill -9 [exp_pid]; wait; exit 124 }
	eof
}
exit [lindex [wait] 3]
EOF
export PWLIB="$preload" SVCDIR="$tmp/svc" PWDIR="$tmp/pw"
dialogue() {	# dialogue SERVICE OUT: the person's dialogue; its exit status
	expect -f "$tmp/dialogue.exp" "$1" "$ID" "$SN" "$PIN" >"$2" 2>&1
}

# --- looking at the state ----------------------------------------------------------------
q() { sqlite3 -batch "$DB" "$1"; }
# The person's row as a killed process left it, read from a copy: opening the
# database would recover and checkpoint it, and the retry would not see the
# files the kill left.
peek() {
	rm -f "$tmp/peek/"*
	cp "$DB"* "$tmp/peek/" 2>/dev/null
	sqlite3 -batch "$tmp/peek/activate.db" "SELECT pin_spent, state, ifnull(username, ''), ifnull(uid, '') FROM person WHERE id_number = '$ID'"
}
state_name() { case $1 in 0) echo pending ;; 1) echo provisioning ;; 2) echo active ;; 3) echo revoked ;; *) echo "state $1" ;; esac; }
lines_of() { grep -c "^$2:" "$R/etc/$1"; }
# full, none, or which of the four files hold NAME
account() {
	local p s g gs
	p=$(lines_of passwd "$1") s=$(lines_of shadow "$1") g=$(lines_of group "$1") gs=$(lines_of gshadow "$1")
	if [ "$p$s$g$gs" = 1111 ]; then echo full
	elif [ "$p$s$g$gs" = 0000 ]; then echo none
	else echo "passwd=$p,shadow=$s,group=$g,gshadow=$gs"
	fi
}
# FILE without the lines of NAMES and without NAMES in member lists
strip() {
	awk -F: -v OFS=: -v kind="${1##*/}" -v names="$2" '
	function drop(list,   m, p, out, i) {
		m = split(list, p, ","); out = ""
		for (i = 1; i <= m; i++) if (!(p[i] in skip)) out = out (out == "" ? "" : ",") p[i]
		return out
	}
	BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
	$1 in skip { next }
	kind ~ /^group/ && NF >= 4 { $4 = drop($4) }
	kind ~ /^gshadow/ && NF >= 4 { $3 = drop($3); $4 = drop($4) }
	{ print }' "$1"
}
# Every account line not about NAMES as in TEMPLATE, byte for byte; members kept.
others_kept() {	# others_kept TEMPLATE NAMES...
	local t=$1 f; shift
	for f in passwd shadow group gshadow; do
		strip "$R/etc/$f" "$*" >"$tmp/a" && strip "$t/root/etc/$f" "$*" >"$tmp/b"
		cmp -s "$tmp/a" "$tmp/b" || { bad "$f: lines of others changed: $(diff "$tmp/b" "$tmp/a" | grep '^[<>]' | head -2 | tr '\n' ' ')"; }
	done
	for f in kari per; do
		grep -q "^students:[^:]*:[^:]*:\(.*,\)\?$f\(,.*\)\?$" "$R/etc/group" || bad "group: $f no longer in students"
	done
}
# NAME in the groups of the config (students), as a member in group and gshadow, exactly when it has an account.
membership() {	# membership NAME yes|no
	local g gs
	g=$(grep -c "^students:[^:]*:[^:]*:\(.*,\)\?$1\(,.*\)\?$" "$R/etc/group")
	gs=$(grep -c "^students:[^:]*:[^:]*:\(.*,\)\?$1\(,.*\)\?$" "$R/etc/gshadow")
	[ "$2" = yes ] && [ "$g$gs" != 11 ] && bad "$1 not a member of students (group $g, gshadow $gs)"
	[ "$2" = no ] && [ "$g$gs" != 00 ] && bad "$1 still a member of students without an account (group $g, gshadow $gs)"
	if [ "$2" = no ] && grep -q "[:,]$1\(,\|$\)" "$R/etc/group" "$R/etc/gshadow"; then bad "$1 still in a member list"; fi
}
# The home of NAME: owned by uid:gid, mode 0700, every skel entry there with skel's type, mode and content, owned by the user, nothing else.
home_complete() {	# home_complete NAME UID GID: prints why not, or nothing
	local h=$R/home/$1 e
	[ -d "$h" ] && [ ! -L "$h" ] || { echo "no home"; return; }
	[ "$(stat -c '%u:%g %a' "$h")" = "$2:$3 700" ] || { echo "home is $(stat -c '%u:%g %a' "$h")"; return; }
	(cd "$R/etc/skel" && find . -mindepth 1 | sort) >"$tmp/skel.list"
	(cd "$h" && find . -mindepth 1 | sort) >"$tmp/home.list"
	cmp -s "$tmp/skel.list" "$tmp/home.list" || { echo "home entries differ from skel: $(diff "$tmp/skel.list" "$tmp/home.list" | grep '^[<>]' | head -3 | tr '\n' ' ')"; return; }
	while read -r e; do
		if [ -L "$R/etc/skel/$e" ]; then
			[ -L "$h/$e" ] && [ "$(readlink "$h/$e")" = "$(readlink "$R/etc/skel/$e")" ] || { echo "$e: not the link"; return; }
			[ "$(stat -c '%u:%g' "$h/$e")" = "$2:$3" ] || { echo "$e: owned by $(stat -c '%u:%g' "$h/$e")"; return; }
			continue
		fi
		[ "$(stat -c '%F %a' "$h/$e")" = "$(stat -c '%F %a' "$R/etc/skel/$e")" ] ||
			{ echo "$e: $(stat -c '%F %a' "$h/$e"), skel's is $(stat -c '%F %a' "$R/etc/skel/$e")"; return; }
		[ "$(stat -c '%u:%g' "$h/$e")" = "$2:$3" ] || { echo "$e: owned by $(stat -c '%u:%g' "$h/$e")"; return; }
		[ -f "$h/$e" ] && ! cmp -s "$h/$e" "$R/etc/skel/$e" && { echo "$e: content differs from skel ($(stat -c %s "$h/$e") bytes)"; return; }
	done <"$tmp/skel.list"
}
# NAME's account complete: in all four files, ids matching, home complete. Prints why not.
account_complete() {	# account_complete NAME
	local a uid gid ggid
	a=$(account "$1")
	[ "$a" = full ] || { echo "account $a"; return; }
	uid=$(awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/passwd")
	gid=$(awk -F: -v n="$1" '$1 == n { print $4 }' "$R/etc/passwd")
	ggid=$(awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/group")
	[ "$gid" = "$ggid" ] || { echo "passwd gid $gid, group $1 has gid $ggid"; return; }
	[ "$(awk -F: -v u="$uid" '$3 == u' "$R/etc/passwd" | wc -l)" = 1 ] || { echo "uid $uid twice in passwd"; return; }
	[ "$(awk -F: -v g="$gid" '$3 == g' "$R/etc/group" | wc -l)" = 1 ] || { echo "gid $gid twice in group"; return; }
	[ "$(awk -F: -v n="$1" '$1 == n { print $6 ":" $7 }' "$R/etc/passwd")" = "/home/$1:/bin/bash" ] || { echo "home or shell field wrong"; return; }
	home_complete "$1" "$uid" "$gid"
}
uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/passwd"; }
shadow_line() { grep "^$1:" "$R/etc/shadow"; }

fails= notes=
bad() { fails="${fails:+$fails; }$*"; }
# What every point must end with, whatever the command.
common() {	# common TEMPLATE
	local out extra
	out=$( (pwck -r -R "$R"; grpck -r -R "$R") 2>&1 | grep -v -e '^pwck: no changes' -e '^grpck: no changes')
	[ -z "$out" ] || bad "pwck/grpck: $(echo "$out" | head -2 | tr '\n' ' ')"
	extra=$(cd "$R/etc" && ls -A | grep -v -x -e passwd -e shadow -e group -e gshadow -e 'passwd-' -e 'shadow-' \
		-e 'group-' -e 'gshadow-' -e login.defs -e skel -e .pwd.lock)
	[ -z "$extra" ] || bad "left in etc: $(echo "$extra" | tr '\n' ' ')"
	extra=$(cd "$R/home" && ls -A | grep -v -x -e kari -e per -e "$OLD" -e "$NEW")
	[ -z "$extra" ] || bad "stray in home: $(echo "$extra" | tr '\n' ' ')"
	[ -d "$R/home/$OLD" ] && [ -d "$R/home/$NEW" ] && bad "homes under both names"
	[ "$(q "SELECT count(*) FROM person")" = 2 ] || bad "person rows: $(q 'SELECT count(*) FROM person'), not 2"
	[ "$(q "SELECT given_name || ' ' || family_name || ' ' || student_number FROM person WHERE id_number = '$ID'")" = "Ola Nordmann $SN" ] ||
		bad "the person's row is lost or changed"
	ctl audit --verify >"$tmp/audit.out" 2>&1 || bad "audit --verify: $(head -1 "$tmp/audit.out")"
}

# --- the points of one command -------------------------------------------------------------
total=0 failed=0 skipped=0
declare -a failing
restore_from() { rm -rf "$W" && cp -a "$1" "$W"; }
# desc N LOG: what call N was in the reference run, paths shortened
desc() { sed -n "${1}s/^[0-9]* [0-9]* //p" "$2" | sed "s|$W/||g" | cut -c1-110; }
# run_points CMD TEMPLATE: M from a reference run, then every point
run_points() {
	local cmd=$1 tpl=$2 m n k after label start s0 t0 note points=0
	start=$(date +%s)
	restore_from "$tpl"
	: >"$tmp/point"
	reference_run "$cmd" >"$tmp/ref.out" 2>&1
	s0=$?
	m=$(cut -d' ' -f1 "$tmp/kill.count")
	cp "$tmp/kill.log" "$tmp/ref-$cmd.log"
	reference_ok "$cmd" "$s0" || { echo "FAIL: $cmd: the reference run (nothing killed) did not succeed: $fails"; sed 's/^/    /' "$tmp/ref.out"; failed=$((failed + 1)); return; }
	fails=
	echo "== $cmd: M = $m calls that change a file$([ "$backends" = sqlite-files ] || echo ' or send to a server'); points: before each (stride $stride), and after the last"
	for n in ${POINTS:-$(seq 1 "$stride" "$m") after}; do
		if [ "$n" = after ]; then k=$m after=-a label="$m+ after $(desc "$m" "$tmp/ref-$cmd.log")"
		else k=$n after= label="$n before $(desc "$n" "$tmp/ref-$cmd.log")"; fi
		fails= note= notes=
		restore_from "$tpl"
		echo "-n $k $after" >"$tmp/point"
		rm -f "$tmp/kill.count"
		killed_run "$cmd" >"$tmp/killed.out" 2>&1
		if [ ! -e "$tmp/kill.count" ]; then	# the command never started (pam_start failed?): once more
			cp "$tmp/killed.out" "$tmp/killed-first.out"
			restore_from "$tpl"
			killed_run "$cmd" >"$tmp/killed.out" 2>&1
		fi
		if [ ! -e "$tmp/kill.count" ]; then
			note=" (never started: $(grep -v '^ *$' "$tmp/killed.out" | tail -1 | tr -d '\r' | cut -c1-80))"
		elif ! grep -q killed "$tmp/kill.count"; then
			note=" (not reached: the run made $(cut -d' ' -f1 "$tmp/kill.count") calls)"
		fi
		after_kill "$cmd"
		retry_run "$cmd" >"$tmp/retry.out" 2>&1
		s0=$? transcript=$tmp/retry.out
		invariants "$cmd" "$tpl" "$s0"
		total=$((total + 1)) points=$((points + 1))
		if [ -n "$fails" ]; then
			failed=$((failed + 1))
			failing+=("$cmd $label: $fails")
			echo "$cmd $label$note: FAIL: $fails$notes [after the kill: $killstate]"
			if [ "${VERBOSE:-0}" = 1 ]; then
				echo "    killed run:"; sed 's/^/      /' "$tmp/killed.out"
				echo "    retry:"; sed 's/^/      /' "$tmp/retry.out"
			fi
		else
			echo "$cmd $label$note: ok$notes [after the kill: $killstate]"
		fi
	done
	t0=$(( $(date +%s) - start ))
	echo "== $cmd: $m calls, $points points, ${t0}s"
}

# killstate: a short picture of what the kill left (before the retry changes it).
killstate=
describe_kill() {
	local row
	row=$(peek)
	IFS='|' read -r spent st user uid <<<"$row"
	killstate="$(state_name "$st"), pin $([ "${spent:-0}" != 0 ] && echo spent || echo unspent), user ${user:--}"
	killstate="$killstate, $OLD: $(account "$OLD")$([ -d "$R/home/$OLD" ] && echo ' +home')"
	[ "$cmd" = rename ] && killstate="$killstate, $NEW: $(account "$NEW")$([ -d "$R/home/$NEW" ] && echo ' +home')"
	[ "$cmd" = revoke ] || [ "$cmd" = restore ] && killstate="$killstate, shadow $(shadow_line "$OLD" | cut -d: -f2 | cut -c1-2)..:$(shadow_line "$OLD" | cut -d: -f8)"
	:
}

# --- activation -------------------------------------------------------------------------------
# activatectl's arguments for CMD
ctl_args() { [ "$1" = rename ] && echo "rename $ID $NEW" || echo "$1 $ID"; }
# activatectl's output through a pipe: a write to a file would be a kill point
piped() { local out s; out=$("$@" 2>&1); s=$?; printf '%s\n' "$out"; return $s; }
reference_run() {
	case $1 in
	activate) dialogue activate-kill "$tmp/ref.transcript"; local s=$?; cat "$tmp/ref.transcript"; return $s ;;
	*) piped "$killer" $kflags -l "$tmp/kill.log" -c "$tmp/kill.count" -- "$bin/activatectl" --config "$CONF" $(ctl_args "$1") ;;
	esac
}
reference_ok() {	# reference_ok CMD STATUS
	fails= was_complete=no transcript=$tmp/ref.out
	invariants "$1" "$tpl" "$2"
	[ -z "$fails" ]
}
killed_run() {
	case $1 in
	activate) dialogue activate-kill "$tmp/killed.transcript"; cat "$tmp/killed.transcript" ;;
	*) piped "$killer" $kflags $(cat "$tmp/point") -c "$tmp/kill.count" -- "$bin/activatectl" --config "$CONF" $(ctl_args "$1") ;;
	esac
}
retry_run() {
	case $1 in
	activate) dialogue activate "$tmp/retry.transcript"; local s=$?; cat "$tmp/retry.transcript"; return $s ;;
	*) piped ctl $(ctl_args "$1") ;;
	esac
}
was_complete=
after_kill() {
	local row spent st user uid why
	describe_kill
	row=$(peek)
	IFS='|' read -r spent st user uid <<<"$row"
	was_complete=no
	case $1 in
	activate)
		why=$(account_complete "$OLD")
		[ -z "$why" ] && [ "$st" = 2 ] && [ "${spent:-0}" != 0 ] && was_complete=yes
		if [ "${spent:-0}" != 0 ] && [ -n "$why" ]; then bad "after the kill: PIN spent, but $OLD's $why"; fi
		if [ "$st" = 2 ] && [ -n "$why" ]; then bad "after the kill: active, but $OLD's $why"; fi
		;;
	esac
}

# The command's audit event: exactly one more than in the template (a retry neither loses nor doubles it).
event_of() { case $1 in activate) echo activated ;; *) echo "$1" ;; esac; }
events_in() {	# events_in DBFILE EVENT, read from a copy (opening the file would checkpoint it)
	rm -rf "$tmp/peek2" && mkdir "$tmp/peek2" && cp "$1"* "$tmp/peek2/"
	sqlite3 -batch "$tmp/peek2/${1##*/}" "SELECT count(*) FROM audit WHERE event = '$2'"
}
invariants() {	# invariants CMD TEMPLATE RETRY-STATUS
	local cmd=$1 t=$2 s=$3 row spent st user uid why name other want n0 n1
	row=$(q "SELECT pin_spent, state, ifnull(username, ''), ifnull(uid, '') FROM person WHERE id_number = '$ID'")
	IFS='|' read -r spent st user uid <<<"$row"
	n0=$(events_in "$t/db/activate.db" "$(event_of "$cmd")") n1=$(q "SELECT count(*) FROM audit WHERE event = '$(event_of "$cmd")'")
	[ "$n1" = $((n0 + 1)) ] || bad "audit: $((n1 - n0)) '$(event_of "$cmd")' events, not 1"
	case $cmd in
	activate)
		if [ "$s" = 0 ] && grep -q "Your account is ready" "$transcript" 2>/dev/null; then :
		elif [ "$was_complete" = yes ] && grep -q "already active, with the username $OLD" "$transcript" 2>/dev/null; then :
		else
			bad "retry failed (pamtester $s: $(grep -i -e 'could not\|cannot\|error\|timed out\|try again\|already' "$transcript" | head -1 | tr -d '\r')${user:+; audit: $(q "SELECT result FROM audit WHERE event = 'provision' ORDER BY seq DESC LIMIT 1")})"
		fi
		[ "$(state_name "$st")" = active ] || bad "state $(state_name "$st") after the retry"
		[ "$user" = "$OLD" ] || bad "username '$user' in the store, not $OLD"
		why=$(account_complete "$OLD")
		[ -z "$why" ] || bad "$OLD's $why"
		[ "${spent:-0}" != 0 ] || bad "PIN not spent after the retry"
		[ -z "$why" ] && [ "$uid" != "$(uid_of "$OLD")" ] && bad "uid $uid in the store, $(uid_of "$OLD") in passwd"
		membership "$OLD" yes
		others_kept "$t" "$OLD"
		;;
	rename)
		[ "$s" = 0 ] || bad "retry failed (activatectl $s: $(head -1 "$transcript"))"
		name=none
		[ "$(account "$OLD")" = full ] && [ "$(account "$NEW")" = none ] && name=$OLD other=$NEW
		[ "$(account "$NEW")" = full ] && [ "$(account "$OLD")" = none ] && name=$NEW other=$OLD
		if [ $name = none ]; then
			bad "not one account: $OLD $(account "$OLD"), $NEW $(account "$NEW")"
		else
			[ "$user" = "$name" ] || bad "store says '$user', the files $name"
			[ "$name" = "$NEW" ] || bad "the retry did not rename"
			why=$(account_complete "$name")
			[ -z "$why" ] || bad "$name's $why"
			[ -e "$R/home/$other" ] && bad "a home under the other name $other"
			membership "$name" yes
			membership "$other" no
			for f in passwd shadow group gshadow; do
				want=$(grep "^$OLD:" "$t/root/etc/$f" | sed "s|^$OLD:|$name:|; s|:/home/$OLD:|:/home/$name:|")
				[ "$(grep "^$name:" "$R/etc/$f")" = "$want" ] || bad "$f line of $name is not the old one renamed"
			done
		fi
		[ "$(state_name "$st")" = active ] || bad "state $(state_name "$st") after the retry"
		[ "$uid" = "$(grep "^$OLD:" "$t/root/etc/passwd" | cut -d: -f3)" ] || bad "uid $uid in the store changed"
		others_kept "$t" "$OLD" "$NEW"
		;;
	revoke | restore)
		# restore of a person not revoked is refused (exit 1), finished or not: judged by the state
		if [ "$s" != 0 ] && [ "$cmd" = restore ] && grep -q 'not revoked (active)' "$transcript"; then
			notes="$notes (retry: not revoked (active), exit $s)"
		elif [ "$s" != 0 ]; then
			bad "retry failed (activatectl $s: $(head -1 "$transcript"))"
		fi
		why=$(account_complete "$OLD")
		[ -z "$why" ] || bad "$OLD's $why"
		[ "$user" = "$OLD" ] || bad "username '$user' in the store"
		local now orig
		now=$(shadow_line "$OLD") orig=$(grep "^$OLD:" "$tmp/t-active/root/etc/shadow")
		if [ "$cmd" = revoke ]; then
			[ "$(state_name "$st")" = revoked ] || bad "state $(state_name "$st"), not revoked"
			want=$(echo "$orig" | awk -F: -v OFS=: '{ $2 = "!" $2; $8 = 1; print }')
			[ "$now" = "$want" ] || bad "shadow not locked and expired: $(echo "$now" | cut -d: -f2 | cut -c1-3)...:$(echo "$now" | cut -d: -f3-)"
		else
			[ "$(state_name "$st")" = active ] || bad "state $(state_name "$st"), not active"
			[ "$now" = "$orig" ] || bad "shadow not the pre-revoke line: hash $(echo "$now" | cut -d: -f2 | cut -c1-3)... (was $(echo "$orig" | cut -d: -f2 | cut -c1-3)...), expire '$(echo "$now" | cut -d: -f8)' (was '$(echo "$orig" | cut -d: -f8)')"
		fi
		for f in passwd group gshadow; do
			cmp -s "$R/etc/$f" "$t/root/etc/$f" || bad "$f changed"
		done
		others_kept "$t" "$OLD"
		;;
	esac
	common "$t"
}

# --- the templates and the runs ---------------------------------------------------------------
# Every command, every point; then the verdict.
run_commands() {
	local cmd tpl
	for cmd in $commands; do
		case $cmd in
		activate | rename | revoke | restore) tpl=$tmp/$(template_of "$cmd") ;;
		*) echo "FAIL: unknown command $cmd in COMMANDS"; exit 1 ;;
		esac
		run_points "$cmd" "$tpl"
	done
	rm -rf "$tmp/pw/"* 2>/dev/null
	if [ $failed -gt 0 ]; then
		echo "failing points:"
		printf '  %s\n' "${failing[@]}"
	fi
	echo "kill-every-syscall$([ "$backends" = sqlite-files ] || echo " ($backends)"): $total points, $failed failed ($(( $(date +%s) - begin ))s)"
	[ $failed = 0 ]
}
echo "binaries: $(for f in activate-helper activatectl pam_activate.so; do
	printf '%s %s (%s)  ' "$f" "$(sha256sum "$bin/$f" | cut -c1-12)" "$(date -r "$build/${f/pam_activate.so/.libs/pam_activate.so}" '+%F %T')"; done)"
if [ "$backends" = postgres-ldap ]; then
	# the servers, the sandbox, the checks, the templates and their self-check
	. "$src/tests/module/kill-postgres-ldap.sh"
	run_commands
	exit
fi
cp -a "$W" "$tmp/t-pending"
begin=$(date +%s)
dialogue activate "$tmp/first.out"
grep -q "Your account is ready" "$tmp/first.out" || { echo "FAIL: a plain activation does not work:"; sed 's/^/    /' "$tmp/first.out"; exit 1; }
one=$(( $(date +%s) - begin ))
cp -a "$W" "$tmp/t-active"
# the end state of each command done without a kill: t-active, t-renamed, t-revoked, t-restored
for c in rename revoke restore; do
	case $c in rename) from=t-active to=t-renamed ;; revoke) from=t-active to=t-revoked ;; restore) from=t-revoked to=t-restored ;; esac
	restore_from "$tmp/$from"
	ctl $(ctl_args $c) >"$tmp/$c.out" 2>&1 || { echo "FAIL: a plain $c does not work:"; cat "$tmp/$c.out"; exit 1; }
	cp -a "$W" "$tmp/$to"
done

# The invariants themselves: each command's end state passes them, and each
# breakage of it below is seen.
checks=0
self_check() {	# self_check CMD GOOD [BREAKAGE]
	checks=$((checks + 1))
	restore_from "$tmp/$2"
	[ -z "${3:-}" ] || eval "$3"
	fails= was_complete=no transcript=$tmp/self.transcript
	printf 'Your account is ready\n' >"$transcript"
	invariants "$1" "$tmp/$(template_of "$1")" 0
	if [ -z "${3:-}" ] && [ -n "$fails" ]; then echo "FAIL: $1 without a kill breaks the invariants: $fails"; exit 1; fi
	if [ -n "${3:-}" ] && [ -z "$fails" ]; then echo "FAIL: the invariants of $1 do not see this: $3"; exit 1; fi
}
template_of() { case $1 in activate) echo t-pending ;; rename | revoke) echo t-active ;; restore) echo t-revoked ;; esac; }
self_check activate t-active
for breakage in "sed -i '/^$OLD:/d' \$R/etc/gshadow" "chown 0:0 \$R/home/$OLD/.config/app.conf" \
	": >\$R/home/$OLD/.bigrc" "chmod 0644 \$R/home/$OLD/.config/app.conf" "rm \$R/home/$OLD/.bash_profile" \
	"sed -i 's/^students:x:500:kari,per/students:x:500:per/' \$R/etc/group" "touch \$R/etc/passwd+" \
	"mkdir \$R/home/.$OLD.tmp" "sed -i 's/^$OLD:x:70000:/$OLD:x:70001:/' \$R/etc/passwd" \
	"echo '$NEW:x:70001:70001:Ola Nordmann:/home/$NEW:/bin/bash' >>\$R/etc/passwd" \
	"q \"UPDATE person SET state = 1 WHERE id_number = '$ID'\"" "q \"UPDATE person SET pin_spent = 0 WHERE id_number = '$ID'\"" \
	"q \"DELETE FROM person WHERE id_number = '1002'\"" \
	"q \"DROP TRIGGER audit_append_only_u; UPDATE audit SET result = 'x' WHERE seq = 1\""; do
	self_check activate t-active "$breakage"
done
self_check rename t-renamed
self_check rename t-active true	# not renamed
self_check rename t-renamed "sed -i 's/^$NEW:!::/$OLD:!::/' \$R/etc/gshadow"
self_check rename t-renamed "mv \$R/home/$NEW \$R/home/$OLD"
self_check rename t-renamed "q \"UPDATE person SET username = '$OLD' WHERE id_number = '$ID'\""
self_check revoke t-revoked
self_check revoke t-active true	# not revoked
self_check revoke t-revoked "sed -i 's/^\($OLD:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:\)1:/\1:/' \$R/etc/shadow"
self_check restore t-restored
self_check restore t-revoked true	# not restored
self_check restore t-restored "sed -i 's/^$OLD:/$OLD:!/' \$R/etc/shadow"
echo "self-check: the invariants pass each command's end state and see each of $((checks - 4)) breakages of it"

run_commands
