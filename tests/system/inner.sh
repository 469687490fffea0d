#!/bin/bash
# inner.sh: runs inside system.sh's private mount namespace.
set -u
work=$(mktemp -d /tmp/pam_activate-system.XXXXXX)
chmod 0700 "$work"
sshd_pid=

. "$here/harness.sh"

finish() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
	[ -n "${mta_pid:-}" ] && mta_stop
	rm -rf "$work"
	totals
}

# --- the private system ---------------------------------------------------
. "$here/private.sh"
private_system "$work" || { bad "private /etc, /home, /run, /var/log"; finish; exit 1; }
private_conf "$work" <<CONF
pin_hash_cost = min
max_attempts = 3
throttle_failures = 1000
CONF
ctl="$build/activatectl --config /etc/security/activate.conf"
cat >"$work/roster.csv" <<'CSV'
id_number,student_number,given_name,family_name,kind,programme,fee_paid_on
4001,8001,Ola,Nordmann,student,Informatics,2026-08-14
4002,8002,Kari,Holm,student,Informatics,2026-08-14
4003,8003,Per,Lund,student,Informatics,2026-08-14
4004,8004,Siri,Berg,student,Informatics,2026-08-14
4005,8005,Nils,Dahl,student,Informatics,2026-08-14
4006,8006,Desk,Enby,student,Informatics,2026-08-14
4007,8007,Desk,Tobe,student,Informatics,2026-08-14
CSV
name="activatectl init makes the trigger user"
check bash -c "$ctl init && grep -q '^activate:.*nologin' /etc/passwd"
$ctl import "$work/roster.csv" >/dev/null
$ctl issue --pending --output "$work/pins.csv" 2>/dev/null
pin() { awk -F, -v id="\"$1\"" '$1 == id { gsub(/"/, "", $5); print $5 }' "$work/pins.csv"; }
private_pam sshd && private_pam login || bad "the pam.d lines of conf/pam.d-sshd and conf/pam.d-login"
# a second trigger user for the Norwegian dialogue, as README section 8 sets it up
sed -i -e "/^@include common-auth/i auth [success=done ignore=ignore default=die] $so $args trigger_user=aktiver language=nb text_width=77" \
	-e "/^@include common-account/i account [success=ok ignore=ignore default=die] $so trigger_user=aktiver" /etc/pam.d/sshd
name="activatectl init makes the trigger user a pam.d line names (aktiver)"
check bash -c "$ctl init >/dev/null && grep -q '^aktiver:.*nologin' /etc/passwd"
match_users=activate,aktiver

# an ordinary user who was there before
useradd -m -s /bin/bash olduser && echo 'olduser:Gammel-Bruker-77' | chpasswd

# --- sshd ---------------------------------------------------------------------
private_sshd "$work" </dev/null || { bad "sshd starts"; finish; exit 1; }

export port work
sshx() { expect -f "$here/ssh.exp" "$@"; }

name="sshd: a full activation over keyboard-interactive"
check sshx activate 4001 8001 "$(pin 4001)" own "Tr0ika-Vesle-Maane-42"
user1=$(sed -n 's/^USERNAME=//p' "$work/last.out")
name="sshd: the new user logs in with the chosen password"
check sshx login "${user1:-none}" "Tr0ika-Vesle-Maane-42"
name="activatectl revoke: the new user can no longer log in over sshd"
check bash -c "$ctl revoke 4001 >/dev/null && ! expect -f '$here/ssh.exp' login '${user1:-none}' Tr0ika-Vesle-Maane-42"
name="activatectl restore: the new user logs in again"
check bash -c "$ctl restore 4001 >/dev/null && expect -f '$here/ssh.exp' login '${user1:-none}' Tr0ika-Vesle-Maane-42"
name="sshd: a wrong PIN is refused"
check sshx wrongpin 4002 8002 00000000
name="sshd: max_attempts failures lock the person"
check sshx lock 4002 8002 "$(pin 4002)"
name="sshd: an ordinary user still logs in"
check sshx login olduser Gammel-Bruker-77
name="sshd: ssh -q still shows the username (it is in the last prompt)"
check sshx quiet 4003 8003 "$(pin 4003)"
name="sshd: keyboard-interactive is for the trigger user only"
check sshx nokbdint olduser
name="sshd: a password-only client fails closed"
check sshx passwordonly
# The build's helper looks for catalogues where it will be installed ($prefix/share/locale):
# there, in this namespace only, a tmpfs with the build's Norwegian one. (Under make
# distcheck the prefix is a directory of the build that does not exist yet.)
prefix=$(sed -n 's/^prefix = //p' "$build/Makefile")
mkdir -p "$prefix/share" && mount -t tmpfs tmpfs "$prefix/share" && mkdir -p "$prefix/share/locale/nb/LC_MESSAGES" &&
	cp "$build/po/nb/LC_MESSAGES/pam_activate.mo" "$prefix/share/locale/nb/LC_MESSAGES/" ||
	bad "the Norwegian catalogue in a private $prefix/share"
name="sshd: the second trigger user aktiver (language=nb on its line): a Norwegian dialogue, its letters intact"
check sshx norsk aktiver 4003 8003 00000000
name="sshd: the first trigger user's dialogue is still English"
check sshx wrongpin 4003 8003 00000000
# --- desk activation: the password is changed before the first shell ---------
desk() {	# desk ID: activate at the desk; sets desk_user and desk_pw
	$ctl activate "$1" --checked-by "Kari Desk" >"$work/desk.out" 2>&1
	desk_user=$(sed -n 's/^username: //p' "$work/desk.out")
	desk_pw=$(sed -n 's/^password: //p' "$work/desk.out")
	[ -n "$desk_user" ] && [ -n "$desk_pw" ]
}
name="activatectl activate: a desk activation prints the account once"
check desk 4006
name="sshd: a desk-activated account must choose a new password first"
check sshx mustchange "${desk_user:-none}" "${desk_pw:-none}" "Ny-Tr0ika-Vesle-Maane-43"
name="sshd: the desk-activated account then logs in with its new password"
check sshx login "${desk_user:-none}" "Ny-Tr0ika-Vesle-Maane-43"
# --- PIN letters through a real MTA (exim), then an activation with the PIN a letter carries ---
. "$here/mta.sh"
name="exim starts in the namespace (its own configuration, spool and Maildir)"
check mta_start "$work"
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,email,language\n%s\n%s\n%s\n' \
	'4010,8010,Åse,Ødegård,student,Informatics,2026-08-14,ase@stud.example.edu,nb' \
	'4011,8011,John,Smith,student,Informatics,2026-08-14,john@stud.example.edu,' \
	'4012,8012,No,Mail,student,Informatics,2026-08-14,,' >"$work/roster-mail.csv"
$ctl import "$work/roster-mail.csv" >/dev/null
printf 'pin_letter = %s/conf/pin-letter.%%l\n' "$(cd "$here/../.." && pwd)" >>/etc/security/activate.conf
name="activatectl issue --mail: two letters accepted, the one without an address listed"
check bash -c "$ctl issue 4010 4011 4012 --mail | tee '$work/mail.out' | grep -q '^2 letters sent, 1 without an e-mail address, 0 not sent' &&
	grep -q '^no e-mail address: ID number 4012' '$work/mail.out'"
letter() { grep -l "^To: $1\$" $(mta_messages) 2>/dev/null | head -n 1; }
letters_arrived() {
	local nb en
	mta_wait 2 && nb=$(letter ase@stud.example.edu) && en=$(letter john@stud.example.edu) || return 1
	grep -q '^Subject: =?UTF-8?B?' "$nb" && grep -q '^Hei Åse Ødegård,$' "$nb" && grep -q 'PIN-kode:  *[0-9]' "$nb" &&
		grep -q '^Content-Type: text/plain; charset=UTF-8$' "$nb" &&
		grep -q '^Subject: Activate your university account$' "$en" && grep -q '^Dear John Smith,$' "$en"
}
name="the letters arrive: Norwegian and English, UTF-8 names intact, the subject RFC 2047"
check letters_arrived
mail_pin=$(sed -n 's/^ *PIN code: *\([0-9]*\)$/\1/p' "$(letter john@stud.example.edu)" 2>/dev/null)
name="sshd: an activation with the PIN from the letter"
check sshx activate 4011 8011 "${mail_pin:-none}" own "Tr0ika-Brev-Maane-45"
name="activatectl show: no PIN for the person without an address"
check bash -c "$ctl show 4012 | grep -q '^PIN  *not issued'"

name="sshd: the trigger user never gets a session"
check bash -c "! grep -Eq 'Accepted .* for (activate|aktiver) ' '$work/sshd.log'"

# --- login(1) on a pty ----------------------------------------------------------
loginx() { expect -f "$here/login.exp" "$@"; }
[ -n "${SYSTEM_DEBUG:-}" ] && export EXP_DEBUG=1
sed -i "s| on_success=login||" /etc/pam.d/login	# first as on_success=deny
name="login: activation with on_success=deny, then a login with the new account"
check loginx deny 4004 8004 "$(pin 4004)"
sed -i "s|^auth \[success=done ignore=ignore default=die\] $so $args|& on_success=login|" /etc/pam.d/login	# as conf/pam.d-login ships
name="login: on_success=login lands in the new user's shell"
check loginx login 4005 8005 "$(pin 4005)"
desk 4007 || bad "activatectl activate 4007"
name="login: a desk-activated account must choose a new password before its shell"
check loginx mustchange "${desk_user:-none}" "${desk_pw:-none}" Ny-Tr0ika-Vesle-Maane-44
finish
