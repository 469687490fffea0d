#!/bin/bash
# greeters-inner.sh: PID 1 of greeters.sh's private namespaces. What the
# greeters show is read back as a student would see it (OCR of the screen
# under LightDM, the console's text under greetd) and kept as transcripts in
# tests/system/transcripts (in the build folder when the source is read-only).
#   GREETERS_KEEP=DIR  keep the screenshots and logs in DIR
#   GREETERS_ARGS=...  more module arguments on every greeter's auth line (to try option values)
set -u
dbus_pid=
ldm_pid=
greetd_pid=
old_vt=
session_pid=
password="Tr0ika-Vesle-Maane-42"

. "$here/harness.sh"
# expect NAME FILE PATTERN...: every PATTERN (grep -E, any case) in FILE's text, lines joined
expect_text() {
	local name=$1 file=$2 p missing=
	shift 2
	for p in "$@"; do
		tr '\n' ' ' <"$file" | tr -s ' ' | grep -qiE -- "$p" || missing="$missing [$p]"
	done
	if [ -z "$missing" ]; then ok "$name"; else
		bad "$name"
		echo "    not on screen:$missing; the screen read:"
		grep -v '^ *$' "$file" | sed 's/^/    | /'
	fi
}

stop_pid() {	# stop_pid PID: SIGTERM, then SIGKILL after 5 s; reaps it
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	kill "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

finish() {
	stop_pid "$ldm_pid"
	stop_pid "$greetd_pid"
	if [ -n "$old_vt" ]; then
		perl "$here/vt.pl" activate "$old_vt" 2>/dev/null
		perl "$here/vt.pl" disallocate 8 2>/dev/null
	fi
	stop_pid "$dbus_pid"
	if [ -n "${GREETERS_KEEP:-}" ]; then
		mkdir -p "$GREETERS_KEEP" && cp -r "$work/shots" "$work/logs" "$GREETERS_KEEP"/ 2>/dev/null
	fi
	totals
}

# root may write anywhere: a source tree whose owner may not (make distcheck) is read-only here
owner_writable() { [ -n "$(find "$1" -maxdepth 0 -perm -u+w 2>/dev/null)" ]; }
transcripts="$here/transcripts"
if ! { [ -d "$transcripts" ] && owner_writable "$transcripts" && owner_writable "$here"; }; then
	transcripts="$build/tests/system/transcripts"
	mkdir -p "$transcripts"
fi

# --- the private system ---------------------------------------------------
. "$here/private.sh"
private_system "$work" || { bad "private /etc, /home, /run, /var/log"; finish; exit 1; }
# A private /tmp (Xvfb's lock and socket collide between runs), with the build and the
# source tree bound back in when they live under /tmp (a CI clone often does).
keep_tmp() {
	local d top
	top=$(cd "$here/../.." && pwd) || return 1	# before /tmp goes: it may be under it
	mkdir -p "$work/host-tmp" && mount --bind /tmp "$work/host-tmp" && mount -t tmpfs -o mode=1777 tmpfs /tmp || return 1
	for d in "$top" "$build"; do
		case $d in
		/tmp/*) mkdir -p "$d" && mount --bind "$work/host-tmp/${d#/tmp/}" "$d" || return 1 ;;
		esac
	done
}
if ! { keep_tmp &&
	mount -t tmpfs -o mode=0750 tmpfs /var/lib/lightdm && chown lightdm:lightdm /var/lib/lightdm &&
	mount -t tmpfs -o mode=0755 tmpfs /var/lib/lightdm-data &&
	mount -t tmpfs -o mode=0755 tmpfs /var/lib/xkb &&
	mkdir -p "$work/xsessions" && mount --bind "$work/xsessions" /usr/share/xsessions; }; then
	bad "private /tmp, /var/lib/lightdm, /var/lib/lightdm-data, /var/lib/xkb (Xvfb's keymaps), /usr/share/xsessions"
	finish
	exit 1
fi
: >/run/utmp
mkdir -p "$work/shots" "$work/logs" /run/dbus
mkdir -m 0755 /run/greeters

private_conf "$work" <<CONF
pin_hash_cost = min
throttle_failures = 1000
CONF
ctl="$build/activatectl --config /etc/security/activate.conf"
cat >"$work/roster.csv" <<'CSV'
id_number,student_number,given_name,family_name,kind,programme,fee_paid_on
4001,8001,Ola,Nordmann,student,Informatics,2026-08-14
4002,8002,Kari,Holm,student,Informatics,2026-08-14
4003,8003,Per,Lund,student,Informatics,2026-08-14
CSV
{ $ctl init && $ctl import "$work/roster.csv" && $ctl issue --pending --output "$work/pins.csv"; } >"$work/ctl.out" 2>&1 ||
	{ bad "activatectl init, import, issue"; sed 's/^/    /' "$work/ctl.out"; finish; exit 1; }
pin() { awk -F, -v id="\"$1\"" '$1 == id { gsub(/"/, "", $5); print $5 }' "$work/pins.csv"; }
cp /etc/pam.d/lightdm "$work/pam.d-lightdm.orig"

# The session every greeter starts: it records who it runs as, then waits to be stopped.
cat >/run/greeters/session <<'SH'
#!/bin/sh
{ id -un; echo "$$"; } >"$HOME/.greeter-session"
exec sleep 60
SH
# LightDM runs its X server command with Xorg's arguments: Xvfb takes all but these.
cat >/run/greeters/xserver <<'SH'
#!/bin/bash
args=()
while [ $# -gt 0 ]; do
	case $1 in vt[0-9]*|-novtswitch) ;; -seat) shift ;; *) args+=("$1") ;; esac
	shift
done
exec /usr/bin/Xvfb "${args[@]}" -screen 0 1024x768x24
SH
chmod 0755 /run/greeters/session /run/greeters/xserver
printf '[Desktop Entry]\nName=Test session\nExec=/run/greeters/session\nType=Application\n' \
	>/usr/share/xsessions/greeter-test.desktop

dbus-daemon --system --nofork --nopidfile 2>"$work/logs/dbus.log" &
dbus_pid=$!
for _ in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.1; done
[ -S /run/dbus/system_bus_socket ] || { bad "a private system bus"; finish; exit 1; }

extra_args() {	# extra_args PAMFILE: GREETERS_ARGS on its pam_activate auth line
	[ -n "${GREETERS_ARGS:-}" ] || return 0
	sed -i "s|^auth .*pam_activate\.so .*|& $GREETERS_ARGS|" "$1"
	printf '# GREETERS_ARGS: %s\n' "$GREETERS_ARGS" >>"$transcript"
}
new_user() { cut -d: -f1 /etc/passwd | sort | comm -13 "$work/users.before" -; }

# session_check NAME USER: the greeter's session runs as USER (the file the session wrote
# as USER, its process running with USER's uid)
session_check() {
	local name=$1 u=$2 f="/home/$2/.greeter-session" pid uid
	for _ in $(seq 100); do [ -s "$f" ] && break; sleep 0.1; done
	pid=$(sed -n 2p "$f" 2>/dev/null)
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/${pid:-none}/status" 2>/dev/null)
	if [ -n "$u" ] && [ "$(sed -n 1p "$f" 2>/dev/null)" = "$u" ] && [ -n "$uid" ] && [ "$uid" = "$(id -u "$u")" ]; then
		ok "$name"
	else
		bad "$name"
		echo "    user '${u:-(none made)}', session file: $(tr '\n' ' ' <"$f" 2>/dev/null), uid of its process: ${uid:-(none)}"
	fi
	session_pid=$pid
}

# --- LightDM under Xvfb ---------------------------------------------------------
export DISPLAY=:0 XAUTHORITY=/run/lightdm/root/:0
# what LightDM logged of the conversation: each message from PAM, each end of one
pam_messages() { grep -scE 'Got [0-9]+ message\(s\) from PAM|Authentication complete' "$ldm_log"; }
# settle COUNT: wait for PAM's next message after an answer, then for quiet
settle() {
	local before=$1 n
	for _ in $(seq 100); do [ "$(pam_messages)" -gt "$before" ] && break; sleep 0.1; done
	n=$(pam_messages)
	for _ in $(seq 20); do sleep 0.3; [ "$(pam_messages)" = "$n" ] && break; n=$(pam_messages); done
	sleep 0.4	# the greeter draws
}
answer() {	# answer TEXT: typed into the greeter's entry, then Return
	local before
	before=$(pam_messages)
	xdotool type --delay 25 -- "$1"
	xdotool key Return
	settle "$before"
}
# ocr PNG: the text of the greeter's box: the panel cut off, the plain background trimmed,
# light text on dark made dark on light (and dim placeholders darker), enlarged for tesseract
ocr() {
	convert "$1" -crop 1024x738+0+30 +repage -fuzz 5% -trim +repage -colorspace Gray "$work/ocr.png" &&
		if [ "$(convert "$work/ocr.png" -format '%[fx:mean<0.5]' info:)" = 1 ]; then
			convert "$work/ocr.png" -negate -level 0%,55% "$work/ocr.png"
		fi &&
		convert "$work/ocr.png" -resize 300% "$work/ocr.png" &&
		tesseract "$work/ocr.png" - --psm 6 2>/dev/null
}
# shot STEP: a screenshot now; read (read_shots) once the greeter is stopped
shot() {
	import -window root "$work/shots/$kind-$1.png" 2>/dev/null
	steps="$steps $1"
}
read_shots() {	# each step's text in $work/STEP.txt and in the transcript
	local s
	for s in $steps; do
		ocr "$work/shots/$kind-$s.png" >"$work/$s.txt" 2>/dev/null
		{ printf -- '--- %s ---\n' "$s"; grep -v '^ *$' "$work/$s.txt"; } >>"$transcript"
	done
}

# lightdm_run KIND GREETER SNIPPET LABEL ID STUDENT: one LightDM run for one person:
# a wrong PIN first, then the right details, a password, the type-back, the session
lightdm_run() {
	kind=$1
	local greeter=$2 snippet=$3 label=$4 id=$5 student=$6 t0=$SECONDS u
	transcript="$work/$kind.txt"
	ldm_log="$work/logs/$kind-lightdm.log"
	printf '# What %s showed, read back by OCR (tesseract) of screenshots, step by step.\n' "$label" >"$transcript"
	printf '# pam.d: %s\n' "$(grep -h '^auth .*pam_activate' "$here/../../conf/pam.d-$snippet")" >>"$transcript"

	cp "$work/pam.d-lightdm.orig" /etc/pam.d/lightdm
	if ! private_pam lightdm "$snippet" || ! grep -q 'pam_activate.so.*on_success=login' /etc/pam.d/lightdm; then
		bad "$label: conf/pam.d-$snippet in /etc/pam.d/lightdm"
		return
	fi
	extra_args /etc/pam.d/lightdm
	cat >/etc/lightdm/lightdm.conf <<CONF
[LightDM]
cache-directory=$work/cache
[Seat:*]
xserver-command=/run/greeters/xserver
greeter-session=$greeter
greeter-show-manual-login=true
greeter-hide-users=true
user-session=greeter-test
session-wrapper=/run/greeters/session
CONF
	cut -d: -f1 /etc/passwd | sort >"$work/users.before"
	mount --bind /dev/null /dev/tty0
	env -u DISPLAY -u XAUTHORITY setsid lightdm -d >"$ldm_log" 2>&1 &
	ldm_pid=$!
	for _ in $(seq 150); do grep -qs 'message(s) from PAM' "$ldm_log" && break; sleep 0.1; done
	if ! grep -q 'message(s) from PAM' "$ldm_log"; then
		bad "$label: the greeter comes up"
		tail -n 20 "$ldm_log" | sed 's/^/    /'
		stop_pid "$ldm_pid"; ldm_pid=; umount /dev/tty0
		return
	fi
	sleep 1.5	# the greeter draws its window
	steps=
	shot start
	answer activate
	shot intro
	answer "$id"
	shot student-number
	answer "$student"
	shot pin
	answer 00000000
	shot wrong-pin
	answer "$id"
	answer "$student"
	answer "$(pin "$id")"
	shot password
	answer "$password"
	shot repeat-password
	answer "$password"
	shot type-back
	u=$(new_user)
	answer "${u:-nouser}"
	shot session
	session_check "$label: on_success=login ends in the new user's session" "$u"
	stop_pid "$ldm_pid"
	ldm_pid=
	[ -n "$session_pid" ] && stop_pid "$session_pid"
	umount /dev/tty0
	echo "    ($label: LightDM ran $((SECONDS - t0)) s)"
	if grep -q "Authenticate result for user ${u:-NOUSER}: Success" "$ldm_log" &&
		! grep -q 'Authenticate result for user activate: Success' "$ldm_log"; then
		ok "$label: LightDM authenticated the new user, never the trigger user"
	else
		bad "$label: LightDM authenticated the new user, never the trigger user"
		grep 'Authenticate result' "$ldm_log" | sed 's/^/    /'
	fi
	read_shots
	expect_text "$label: a wrong PIN shows the generic failure" "$work/wrong-pin.txt" "do not match"
	# slick-greeter's box does not grow: the suggestions and the type-back prompt fall out of
	# sight (an open limit, in conf/pam.d-lightdm-slick); its other steps are checked
	if [ "$kind" != slick ]; then
		expect_text "$label: the password choice is on screen (suggestions, the question)" "$work/password.txt" \
			"suggestions" " 3 +[a-z]+-[a-z]+" "type the number"
		expect_text "$label: the type-back request is on screen (Your username is NAME. Type it)" "$work/type-back.txt" \
			"username is ${u:-NOUSER}\\. type it"
	fi
	expect_text "$label: the new username is on screen at the end" "$work/type-back.txt" "\\b${u:-NOUSER}\\b"
	cp -r /var/log/lightdm "$work/logs/$kind-var-log-lightdm" 2>/dev/null
	cp "$transcript" "$transcripts/$kind.txt"
}

lightdm_run lightdm-gtk lightdm-gtk-greeter lightdm-gtk "lightdm-gtk-greeter" 4001 8001
lightdm_run slick slick-greeter lightdm-slick "slick-greeter" 4002 8002

# --- greetd with agreety on VT 8 ----------------------------------------------
vt() { perl "$here/vt.pl" "$@"; }
# vt_wait PATTERN: until the last line of VT 8 that is not empty matches PATTERN (grep -E)
vt_wait() {
	for _ in $(seq 100); do
		vt screen 8 >"$work/vt.txt" 2>/dev/null
		grep -v '^ *$' "$work/vt.txt" | tail -n 1 | grep -qE -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
vt_step() {	# vt_step STEP: the console's text in $work/STEP.txt and in the transcript
	sleep 0.2
	vt screen 8 >"$work/$1.txt"
	{ printf -- '--- %s ---\n' "$1"; grep -v '^ *$' "$work/$1.txt"; } >>"$transcript"
}
# vt_answer TEXT: type TEXT and Enter, then wait for the next prompt: the screen changed, its
# last line not empty ends with a colon, and it stays so for 0.3 s
vt_answer() {
	local before now
	before=$(vt screen 8 | md5sum)
	vt type 8 "$1\\r" || return 1
	for _ in $(seq 100); do
		sleep 0.1
		vt screen 8 >"$work/vt.txt"
		[ "$(md5sum <"$work/vt.txt")" != "$before" ] || continue
		grep -v '^ *$' "$work/vt.txt" | tail -n 1 | grep -qE ': *$' || continue
		now=$(md5sum <"$work/vt.txt")
		sleep 0.3
		[ "$(vt screen 8 | md5sum)" = "$now" ] && return 0
	done
	return 1
}

greetd_run() {
	local label="greetd + agreety" t0=$SECONDS u conf="$here/../../conf/pam.d-greetd" args
	kind=greetd
	transcript="$work/greetd.txt"
	printf '# What %s showed on VT 8, read from /dev/vcsa8, step by step.\n' "$label" >"$transcript"
	printf '# pam.d: %s\n' "$(grep -h '^auth .*pam_activate' "$conf")" >>"$transcript"
	# Debian's /etc/pam.d/greetd has no "@include common-auth": it includes login.
	# The snippet's lines go before that include, with the build's paths.
	args="relay=$build/.libs/pam_activate_relay.so helper=$build/activate-helper config=/etc/security/activate.conf fail_delay=0"
	if [ ! -f "$conf" ] || ! grep -q '^@include login' /etc/pam.d/greetd; then
		bad "$label: conf/pam.d-greetd and Debian's /etc/pam.d/greetd"
		return
	fi
	sed -i "/^@include login/i auth [success=done ignore=ignore default=die] $build/.libs/pam_activate.so $args $(snippet_args "$conf" auth)" /etc/pam.d/greetd
	sed -i "/^@include login/i account [success=ok ignore=ignore default=die] $build/.libs/pam_activate.so $(snippet_args "$conf" account)" /etc/pam.d/greetd
	extra_args /etc/pam.d/greetd
	cat >/etc/greetd/config.toml <<CONF
[terminal]
vt = 8
[general]
runfile = "/run/greetd.run"
[default_session]
command = "/usr/sbin/agreety --cmd /run/greeters/session"
user = "_greetd"
CONF
	cut -d: -f1 /etc/passwd | sort >"$work/users.before"
	old_vt=$(vt active) || { bad "$label: the console's active VT"; old_vt=; return; }
	greetd --config /etc/greetd/config.toml >"$work/logs/greetd.log" 2>&1 &
	greetd_pid=$!
	if ! vt_wait 'login: *$'; then
		bad "$label: agreety asks for a login on VT 8"
		sed 's/^/    | /' "$work/vt.txt"; tail -n 5 "$work/logs/greetd.log" | sed 's/^/    /'
		return
	fi
	vt_step start
	vt_answer activate; vt_step intro
	vt_answer 4003
	vt_answer 8003
	vt_answer 00000000; vt_step wrong-pin
	expect_text "$label: a wrong PIN shows the generic failure" "$work/wrong-pin.txt" "do not match"
	vt_answer 4003
	vt_answer 8003
	vt_answer "$(pin 4003)"; vt_step password
	expect_text "$label: the password choice is on screen (suggestions, the question)" "$work/password.txt" \
		"suggestions" " 3 +[a-z]+-[a-z]+" "type the number"
	vt_answer "$password"
	vt_answer "$password"; vt_step type-back
	u=$(new_user)
	expect_text "$label: the new username is on screen at the end" "$work/type-back.txt" "\\b${u:-NOUSER}\\b"
	expect_text "$label: the type-back request is on screen (Your username is NAME. Type it)" "$work/type-back.txt" \
		"username is ${u:-NOUSER}\\. type it"
	vt type 8 "${u:-nouser}\\r"
	session_check "$label: on_success=login ends in the new user's session" "$u"
	stop_pid "$greetd_pid"
	greetd_pid=
	[ -n "$session_pid" ] && stop_pid "$session_pid"
	if vt activate "$old_vt" && vt disallocate 8; then old_vt=; else
		bad "$label: VT $old_vt active again and VT 8 freed"
	fi
	cp "$transcript" "$transcripts/greetd.txt"
	echo "    ($label: greetd ran $((SECONDS - t0)) s)"
}
greetd_run
finish
