#!/bin/bash
# clients-inner.sh: runs inside clients.sh's private mount namespace.
#   build  the build directory      here  tests/system in the source tree
# Every client answers by the text of each prompt (tests/system/clients/: drive.exp
# on a pty for plink, dbclient and ssh; kbdint-paramiko.py; kbdint-libssh.c); a
# prompt that does not come, or comes in other words, fails the test.
# shellcheck disable=SC2154  # here, build (clients.sh); so, args (private.sh's private_pam)
set -u
work=$(mktemp -d /tmp/pam_activate-clients.XXXXXX)
chmod 0700 "$work"
cdir="$here/clients"
sshd_pid=

. "$here/harness.sh"
check() {
	if "$@" >"$work/last.out" 2>&1; then
		ok "$name"
	else
		bad "$name"
		tail -n 30 "$work/last.out" | sed 's/^/    /'
		[ -z "$(tail -c 1 "$work/last.out")" ] || echo	# a prompt the client was left at
	fi
}

finish() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
	rm -rf "$work"
	totals
}

# --- the private system ---------------------------------------------------
. "$here/private.sh"
private_system "$work" || { bad "private /etc, /home, /run, /var/log"; finish; exit 1; }
# max_attempts above max_tries: one dialogue's three failures end it, five lock the person
private_conf "$work" <<CONF
pin_hash_cost = min
max_tries = 3
max_attempts = 5
throttle_failures = 1000
CONF
ctl="$build/activatectl --config /etc/security/activate.conf"
# one person a test; the refused-password tests need a given name of 4 letters or more
# (libpwquality ignores shorter bad words: "Ola" in a password passes)
cat >"$work/roster.csv" <<'CSV'
id_number,student_number,given_name,family_name,kind,programme,fee_paid_on
5101,9101,Ingrid,Nilsen,student,Informatics,2026-08-14
5102,9102,Ola,Hansen,student,Informatics,2026-08-14
5103,9103,Solveig,Berg,student,Informatics,2026-08-14
5104,9104,Åse,Bjørnstad,student,Informatics,2026-08-14
5201,9201,Kari,Johansen,student,Informatics,2026-08-14
5202,9202,Per,Larsen,student,Informatics,2026-08-14
5203,9203,Sigrid,Andersen,student,Informatics,2026-08-14
5204,9204,Bjørn,Sæther,student,Informatics,2026-08-14
5301,9301,Astrid,Pedersen,student,Informatics,2026-08-14
5302,9302,Lars,Kristiansen,student,Informatics,2026-08-14
5303,9303,Kristin,Jensen,student,Informatics,2026-08-14
5304,9304,Øystein,Ødegård,student,Informatics,2026-08-14
5401,9401,Marit,Eriksen,student,Informatics,2026-08-14
5402,9402,Knut,Halvorsen,student,Informatics,2026-08-14
5403,9403,Ingeborg,Haugen,student,Informatics,2026-08-14
5404,9404,Håkon,Strøm,student,Informatics,2026-08-14
5501,9501,Tone,Bakken,student,Informatics,2026-08-14
5502,9502,Geir,Solberg,student,Informatics,2026-08-14
5503,9503,Nina,Moen,student,Informatics,2026-08-14
5504,9504,Rune,Lie,student,Informatics,2026-08-14
5505,9505,Hilde,Holm,student,Informatics,2026-08-14
5506,9506,Turid,Dahl,student,Informatics,2026-08-14
CSV
{ $ctl init && $ctl import "$work/roster.csv" && $ctl issue --pending --output "$work/pins.csv"; } >"$work/ctl.out" 2>&1 ||
	{ bad "activatectl init, import, issue"; cat "$work/ctl.out"; finish; exit 1; }
pin() { awk -F, -v id="\"$1\"" '$1 == id { gsub(/"/, "", $5); print $5 }' "$work/pins.csv"; }
private_pam sshd || bad "the pam.d lines of conf/pam.d-sshd"
# The second trigger user, for the Norwegian dialogue, with the arguments conf/pam.d-sshd shows
# for it (in a comment), each line before the other's include as with the first.
nb_auth=$(sed -n 's/^#  *auth .* pam_activate\.so *\(.*trigger_user=aktiver.*\)$/\1/p' "$here/../../conf/pam.d-sshd")
nb_account=$(sed -n 's/^#  *account .* pam_activate\.so *\(.*trigger_user=aktiver.*\)$/\1/p' "$here/../../conf/pam.d-sshd")
name="conf/pam.d-sshd shows the lines of a second trigger user aktiver"
check test -n "$nb_auth" -a -n "$nb_account"
sed -i -e "/^@include common-auth/i auth [success=done ignore=ignore default=die] $so $args $nb_auth" \
	-e "/^@include common-account/i account [success=ok ignore=ignore default=die] $so $nb_account" /etc/pam.d/sshd
$ctl init >/dev/null 2>&1 || bad "activatectl init for aktiver"
# shellcheck disable=SC2034  # private_sshd's
match_users=activate,aktiver
# The build's helper looks for catalogues where it will be installed: there, in this
# namespace only, a tmpfs with the build's Norwegian one (as inner.sh does).
prefix=$(sed -n 's/^prefix = //p' "$build/Makefile")
mkdir -p "$prefix/share" && mount -t tmpfs tmpfs "$prefix/share" && mkdir -p "$prefix/share/locale/nb/LC_MESSAGES" &&
	cp "$build/po/nb/LC_MESSAGES/pam_activate.mo" "$prefix/share/locale/nb/LC_MESSAGES/" ||
	bad "the Norwegian catalogue in a private $prefix/share"

# --- the clients --------------------------------------------------------------
name="kbdint-libssh.c compiles"
# shellcheck disable=SC2046
check cc -Wall -Wextra -Werror -O2 -o "$work/kbdint-libssh" "$cdir/kbdint-libssh.c" $(pkg-config --cflags --libs libssh)
mkdir -m 0700 "$work/client-home"
# the clients' own files (~/.putty, ~/.ssh/known_hosts) stay in the work folder
export HOME="$work/client-home" LANG=C.UTF-8
unset LC_ALL LC_CTYPE LC_MESSAGES LANGUAGE

private_sshd "$work" </dev/null || { bad "sshd starts"; finish; exit 1; }
hostkey=$(ssh-keygen -l -E sha256 -f "$work/hostkey.pub" | awk '{ print $2 }')
export port hostkey

# client CLIENT USER STEP...: one session (the steps of drive.exp and kbdint-*)
client() {
	local c=$1
	shift
	case $c in
	paramiko) /usr/bin/python3 "$cdir/kbdint-paramiko.py" "$port" "$@" ;;
	libssh) "$work/kbdint-libssh" "$port" "$@" ;;
	*) expect -f "$cdir/drive.exp" "$c" "$@" ;;
	esac
}

# login CLIENT USER PASSWORD: a password login that runs id
login() {
	case $1 in
	paramiko | libssh) client "$1" "$2" --login "$3" id | grep -E "^uid=[0-9]+\($2\)" ;;
	plink) client plink "$2" --cmd id -p 'password: $' "$3" -p 'Press Return to begin session\. $' '' -e "uid=[0-9]+\\($2\\)" ;;
	*) client "$1" "$2" --cmd id -p 'password: $' "$3" -e "uid=[0-9]+\\($2\\)" ;;
	esac
}

# flat FILE: what was seen, on one line: no carriage returns, PuTTY's margins and its
# own wraps gone ("> " continues a cut line), every line break a space
flat() { tr -d '\r' <"$1" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n> //g' -e 's/\n| / /g' -e 's/\n/ /g' -e 's/^| //'; }

# has FILE TEXT...: every TEXT (fixed strings) is in FILE, flattened
has() {
	local f=$1 t
	shift
	for t in "$@"; do
		flat "$f" | grep -qF -- "$t" || { echo "not seen: '$t'"; cat "$f"; return 1; }
	done
}

T_ID='ID number: $'
T_ST='Student number: $'
T_PIN='PIN code: $'
T_PW='Type the number of a suggestion, or a password of your own: $'
T_AGAIN='Repeat the password: $'
T_NAME='Your username is ([a-z0-9]+)\. Type it .*: $'
T_CLOSE='Press Enter to close: $'
# the support line comes between a failure that needs a person and the closing prompt
T_SUPPORT='Contact the IT help desk if you need help\. '
details() { steps+=(-p "$T_ID" "$1" -p "$T_ST" "$2" -p "$T_PIN" "$3"); }
# the next round: the client itself starts one (plink, dbclient, ssh); ours do on a further step
next_round() { steps+=(-d -x "${1:-$T_ID}"); }

# Where the transcripts go: the source tree when it is writable; else (make distcheck) the
# build tree, under another name, so that cleaning it never touches the source's.
# (Root may write anywhere: the owner's write bit says whether the tree is meant to be written.)
writable() { [ -n "$(find "$1" -maxdepth 0 -perm -u+w 2>/dev/null)" ]; }
transcripts="$here/transcripts"
if ! { { [ -d "$transcripts" ] || { writable "$here" && mkdir "$transcripts"; }; } && writable "$transcripts"; }; then
	transcripts="$build/tests/system/clients-transcripts"
	mkdir -p "$transcripts"
fi

# transcript CLIENT RAW PIN PASSWORD USERNAME: RAW as the student saw it, what changes from run
# to run replaced: the PIN, the password, the suggestions, the username, the host, the port
transcript() {
	local c=$1 raw=$2 pin=$3 pw=$4 user=$5 host
	host=$(hostname)
	{
		case $c in
		plink | dbclient) echo "# $c: a full activation over keyboard-interactive, as the student sees it on a terminal" ;;
		*) printf '# %s\n' "$c: a full activation over keyboard-interactive, as a program that prints" \
			"every prompt (and the answer, when it is echoed) shows it" ;;
		esac
		echo "# (regenerated by tests/system/clients.sh; <PIN>, <PASSWORD>, <SUGGESTION-n>,"
		echo "# <USERNAME>, <HOST>, <PORT> and <FINGERPRINT> stand for what changes between runs)"
		tr -d '\r' <"$raw" | awk 1 | sed -E \
			-e "s/^([|] )?  ([1-9])  [^ ]+\$/\\1  \\2  <SUGGESTION-\\2>/" \
			-e "s/$pin/<PIN>/g" -e "s/$pw/<PASSWORD>/g" -e "s/\\b$user\\b/<USERNAME>/g" \
			-e "s/@$host\\)/@<HOST>)/g" -e "s/\\b$port\\b/<PORT>/g" -e 's/SHA256:[A-Za-z0-9+\/]+/SHA256:<FINGERPRINT>/g' \
			-e 's/[[:space:]]+$//'
	} >"$transcripts/$c.txt"
}

# --- (a) a full activation, then a login with the password ---------------------
# activation CLIENT ID OWN-PASSWORD|SUGGESTION-NUMBER: sets new_user and new_pw
activation() {
	local c=$1 id=$2 choice=$3 student=$(($2 + 4000)) raw="$work/activation-$1.out"
	new_user='' new_pw=''
	steps=()
	details "$id" "$student" "$(pin "$id")"
	if [ "${#choice}" = 1 ]; then
		steps+=(-p "$T_PW" "$choice")
	else
		steps+=(-p "$T_PW" "$choice" -p "$T_AGAIN" "$choice")
	fi
	steps+=(-p "$T_NAME" '\1')
	case $c in plink | dbclient) next_round ;; *) steps+=(-d) ;; esac
	client "$c" activate "${steps[@]}" >"$raw" || { cat "$raw"; return 1; }
	new_user=$(flat "$raw" | sed -n 's/.*Your username is \([a-z0-9]*\)\. Type it.*/\1/p')
	if [ "${#choice}" = 1 ]; then
		new_pw=$(tr -d '\r' <"$raw" | sed -En "s/^([|] )?  $choice  ([^ ]+)\$/\\2/p" | head -n 1)
	else
		new_pw=$choice
	fi
	has "$raw" "Your account is ready. Username: $new_user E-mail: $new_user@stud.example.edu These will not be shown again." \
		"Log in again with the username $new_user (over SSH: ssh $new_user@" || return 1
	[ -n "$new_user" ] && [ -n "$new_pw" ] && id "$new_user" >/dev/null || { echo "no account made"; cat "$raw"; return 1; }
	transcript "$c" "$raw" "$(pin "$id")" "$new_pw" "$new_user"
}

# --- (b) a wrong PIN: the generic failure, then the closing prompt ----------------
wrong_pin() {
	local c=$1 id=$2 student=$(($2 + 4000)) raw="$work/wrongpin-$1.out"
	steps=()
	details "$id" "$student" 00000000
	steps+=(-p "do not match our records\\. Tries left: 2\\. $T_ID" "$id" -p "$T_ST" "$student" -p "$T_PIN" 00000000)
	steps+=(-p "do not match our records\\. Tries left: 1\\. $T_ID" "$id" -p "$T_ST" "$student" -p "$T_PIN" 00000000)
	steps+=(-p "The details you gave do not match our records\\. Too many failed attempts in this session\\. .*$T_CLOSE" '')
	next_round
	client "$c" activate "${steps[@]}" >"$raw" || { cat "$raw"; return 1; }
	has "$raw" "Too many failed attempts in this session. Press Enter to close:"
}

# --- (c) a password with the given name: refused, with a reason in words ----------
refused() {
	local c=$1 id=$2 given=$3 student=$(($2 + 4000)) raw="$work/refused-$1.out" reasons
	steps=()
	details "$id" "$student" "$(pin "$id")"
	steps+=(-p "$T_PW" "$given-Tr0ika-Vesle-42")
	steps+=(-p "That password cannot be used: .*$T_PW" "tr0ika-${given^^}-vesle-42")
	steps+=(-p "That password cannot be used: .*$T_PW" "Vesle-$given-Tr0ika")
	steps+=(-p "That password cannot be used: .*No password was chosen\\. Nothing was used up: you can try again\\. $T_CLOSE" '')
	next_round
	client "$c" activate "${steps[@]}" >"$raw" || { cat "$raw"; return 1; }
	# each reason: printable words and their punctuation, nothing else, ending at its full stop
	reasons=$(flat "$raw" | grep -o 'That password cannot be used: [^.]*\.')
	[ "$(printf '%s\n' "$reasons" | grep -c .)" = 3 ] || { echo "not three reasons: $reasons"; cat "$raw"; return 1; }
	printf '%s\n' "$reasons" | LC_ALL=C grep -Ev "^That password cannot be used: [A-Za-z][A-Za-z ,'()-]*[A-Za-z]\\.\$" &&
		{ echo "a reason not in words (above)"; return 1; }
	printf '%s\n' "$reasons" | head -n 1
}

# --- (d) the Norwegian dialogue of the second trigger user --------------------------
norsk() {
	local c=$1 id=$2 student=$(($2 + 4000)) raw="$work/norsk-$1.out"
	steps=(-p 'ID-nummer: $' "$id" -p 'Studentnummer: $' "$student" -p 'PIN-kode: $' 00000000)
	steps+=(-p 'ID-nummer: $' "$id" -p 'Studentnummer: $' "$student" -p 'PIN-kode: $' 00000000)
	steps+=(-p 'ID-nummer: $' "$id" -p 'Studentnummer: $' "$student" -p 'PIN-kode: $' 00000000)
	steps+=(-p 'Trykk Enter for .{0,2} lukke: $' '')
	next_round 'ID-nummer: $'
	client "$c" aktiver "${steps[@]}" >"$raw" || { cat "$raw"; return 1; }
	if [ "$c" = dbclient ]; then
		# dbclient drops every byte outside ASCII, even under a UTF-8 locale: the ASCII parts only
		flat "$raw" | LC_ALL=C grep -Eq 'Gjenst.{0,2}ende fors.{0,2}k: 2\.' &&
			flat "$raw" | LC_ALL=C grep -Eq 'For mange mislykkede fors.{0,2}k i denne .{0,2}kten\. Trykk Enter for .{0,2} lukke:' ||
			{ echo "no Norwegian failure text"; cat "$raw"; return 1; }
	else
		has "$raw" "Aktivering av konto." "Gjenstående forsøk: 2." "Gjenstående forsøk: 1." \
			"For mange mislykkede forsøk i denne økten. Trykk Enter for å lukke:" || return 1
	fi
	! grep -q 'ID number' "$raw" || { echo "English in the Norwegian dialogue"; return 1; }
}

for c in plink paramiko dbclient libssh; do
	case $c in
	plink) base=5101 choice=Tr0ika-Vesle-Maane-42 how="its own password" given=Solveig ;;
	paramiko) base=5201 choice=1 how="suggestion 1" given=Sigrid ;;
	dbclient) base=5301 choice=2 how="suggestion 2" given=Kristin ;;
	libssh) base=5401 choice=Fjell-Bekk-Stein-77 how="its own password" given=Ingeborg ;;
	esac
	name="$c: a full activation taking $how (transcripts/$c.txt)"
	check activation "$c" "$base" "$choice"
	name="$c: the new account logs in with that password"
	check login "$c" "${new_user:-none}" "${new_pw:-none}"
	name="$c: a wrong PIN gets the generic failure and ends at 'Press Enter to close'"
	check wrong_pin "$c" $((base + 1))
	name="$c: a password with the given name ($given) is refused with a reason in words"
	check refused "$c" $((base + 2)) "$given"
	if [ "$c" = dbclient ]; then
		name="$c: aktiver's dialogue is Norwegian (dbclient strips æ, ø, å: the ASCII parts only)"
	else
		name="$c: aktiver's dialogue is Norwegian, ø and å intact"
	fi
	check norsk "$c" $((base + 3))
done

# PuTTY cuts every line longer than 79 columns, its "| " margin included, in the middle
# of a word ("> " goes on): the dialogue's lines must leave it room (text_width).
uncut() {	# uncut RAW...: no line of what plink showed was cut
	local cut
	cut=$(tr -d '\r' <"$1" | grep -B1 '^> ')
	[ -z "$cut" ] || { echo "plink cut these lines (text_width on the pam.d line: at most 77):"; echo "$cut"; return 1; }
}
name="plink: no line of the English dialogue is cut by PuTTY (text_width of the activate line)"
check uncut <(cat "$work"/activation-plink.out "$work"/wrongpin-plink.out "$work"/refused-plink.out)
name="plink: no line of the Norwegian dialogue is cut by PuTTY (text_width of the aktiver line)"
check uncut "$work/norsk-plink.out"

# --- (e) after failures the client never falls back to something else -----------
# Three rounds of one connection: max_tries failures (PAM_AUTH_ERR, never PAM_MAXTRIES),
# then the lock at max_attempts, then the lock again with the right PIN.
rounds_to_lock() {	# rounds_to_lock ID
	local id=$1 student=$(($1 + 4000))
	steps=()
	details "$id" "$student" 00000000
	details "$id" "$student" 00000000
	details "$id" "$student" 00000000
	steps+=(-p "Too many failed attempts in this session\\. $T_CLOSE" '' -d)
	details "$id" "$student" 00000000
	details "$id" "$student" 00000000
	steps+=(-p "Too many failed attempts\\. Try again after [^,]+, or contact support\\. $T_SUPPORT$T_CLOSE" '' -d)
	details "$id" "$student" "$(pin "$id")"
	steps+=(-p "Too many failed attempts\\. Try again after [^,]+, or contact support\\. $T_SUPPORT$T_CLOSE" '' -d)
}
name="ssh (NumberOfPasswordPrompts at its default, keyboard-interactive,password): after the failures and the lock, never a password prompt"
rounds_to_lock 5501
check client openssh activate -f "activate@127\\.0\\.0\\.1's password:" "${steps[@]}" -e 'Permission denied \(keyboard-interactive\)'
name="plink: after the failures and the lock, keyboard-interactive is still offered (never 'No supported authentication methods available')"
rounds_to_lock 5502
check client plink activate -f 'No supported authentication methods available' -f 'password:' "${steps[@]}" -x "$T_ID"

# --- (f) ssh -q: every failure is in a prompt's text ------------------------------
quiet() {	# quiet STEP...: ssh -q, the steps, and no "Permission denied" needed to see why
	client openssh-q activate "$@"
}
id=5503
name="ssh -q: a wrong PIN is seen (in the next prompt), and the end of the tries (in the closing prompt)"
steps=()
details $id $((id + 4000)) 00000000
steps+=(-p "The details you gave do not match our records\\. Tries left: 2\\. $T_ID" "$id" -p "$T_ST" $((id + 4000)) -p "$T_PIN" 00000000)
steps+=(-p "Tries left: 1\\. $T_ID" "$id" -p "$T_ST" $((id + 4000)) -p "$T_PIN" 00000000)
steps+=(-p "The details you gave do not match our records\\. Too many failed attempts in this session\\. .*$T_CLOSE" '')
next_round
check quiet "${steps[@]}"

id=5504
name="ssh -q: an account already active is seen, with its username, in the closing prompt"
already() {
	steps=()
	details $id $((id + 4000)) "$(pin $id)"
	steps+=(-p "$T_PW" 1 -p "$T_NAME" '\1' -d)
	quiet "${steps[@]}" >"$work/already-1.out" || { cat "$work/already-1.out"; return 1; }
	u=$(flat "$work/already-1.out" | sed -n 's/.*Your username is \([a-z0-9]*\)\. Type it.*/\1/p')
	[ -n "$u" ] || { echo "no username"; return 1; }
	steps=()
	details $id $((id + 4000)) "$(pin $id)"
	steps+=(-p "Your account is already active, with the username $u\\. If you have forgotten your password, ask for a new PIN code\\. $T_SUPPORT$T_CLOSE" '')
	next_round
	quiet "${steps[@]}"
}
check already

id=5505
name="ssh -q: the lock (max_attempts) is seen in the closing prompt, also with the right PIN"
steps=()
details $id $((id + 4000)) 00000000
details $id $((id + 4000)) 00000000
details $id $((id + 4000)) 00000000
steps+=(-p "$T_CLOSE" '' -d)
details $id $((id + 4000)) 00000000
details $id $((id + 4000)) 00000000
steps+=(-p "Too many failed attempts\\. Try again after [^,]+, or contact support\\. $T_SUPPORT$T_CLOSE" '' -d)
details $id $((id + 4000)) "$(pin $id)"
steps+=(-p "Too many failed attempts\\. Try again after [^,]+, or contact support\\. $T_SUPPORT$T_CLOSE" '')
check quiet "${steps[@]}"

id=5506
name="ssh -q: no password chosen (three refused) is seen in the closing prompt"
steps=()
details $id $((id + 4000)) "$(pin $id)"
steps+=(-p "$T_PW" Turid-Tr0ika-Vesle-42 -p "$T_PW" Turid-Tr0ika-Vesle-43 -p "$T_PW" Turid-Tr0ika-Vesle-44)
steps+=(-p "No password was chosen\\. Nothing was used up: you can try again\\. $T_CLOSE" '')
next_round
check quiet "${steps[@]}"

# last: it refuses every dialogue from 127.0.0.1 from now on
name="ssh -q: the throttle of the network address is seen in the closing prompt"
sed -i 's/^throttle_failures = .*/throttle_failures = 1/' /etc/security/activate.conf
check quiet -p "Account activation\\. .*Too many failed attempts from your network address\\. Try again later\\. $T_SUPPORT$T_CLOSE" '' -d

name="sshd: the trigger users never got a session"
check bash -c "! grep -Eq 'Accepted .* for (activate|aktiver) ' '$work/sshd.log'"
finish
