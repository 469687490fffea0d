#!/bin/sh
# activatectl's command line: a bad argument is a usage error (exit 2) that
# changes nothing; a good one works. Needs root (the database must be
# root-owned), as every test that runs activatectl.
build=${top_builddir:-.}
for tool in jq sqlite3; do
	command -v "$tool" >/dev/null || { echo "FAIL: check-cli.sh needs $tool (scripts/setup installs it)"; exit 1; }
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

# two keys for one person: one PIN
sqlite3 "$tmp/db/activate.db" "UPDATE person SET state = 0 WHERE id_number = '1'"
ctl issue 1 2 >"$tmp/pins" 2>/dev/null || { echo "FAIL: issue 1 2"; fail=1; }
[ "$(grep -c '^"1"' "$tmp/pins")" = 1 ] || { echo "FAIL: issue printed two PINs for one person"; fail=1; }

# set: the prerequisites by hand, each value checked
expect 2 set 1
expect 2 set --programme Maths
expect 2 set 1 --fee-paid-on 2026-02-30
expect 2 set 1 --fee-paid-on tomorrow
expect 2 set 1 --kind alien
expect 2 set 1 --programme "$(printf 'Bad\001name')"
expect 2 set 1 --programme "$(head -c 200 /dev/zero | tr '\0' x)"
expect 1 set 999 --kind exchange
expect 0 set 1 --programme Physics --fee-paid-on "" --kind exchange
ctl show 1 | grep -q 'Physics' || { echo "FAIL: set did not change the programme"; fail=1; }

# the audit trail: the administrator's changes are in it, and it verifies
expect 0 unlock 1
for bad in 2026-13-01 yesterday 2026-02-30 ""; do
	expect 2 audit --since "$bad"
done
expect 2 audit --verify --person 1
expect 2 audit --verify --since 2026-01-01
expect 2 audit extra
expect 1 audit --person 999
expect 0 audit --verify
expect 0 audit --since 2000-01-01 --person 1
ctl audit | grep -q ' import .*1 added' || { echo "FAIL: the import is not in the audit trail"; fail=1; }
ctl audit --person 1 | grep -q ' set .*kind=exchange' || { echo "FAIL: the set is not in the audit trail"; fail=1; }
ctl audit --person 1 | grep -q ' unlock .*service=activatectl' ||
	{ echo "FAIL: the unlock is not in the audit trail"; fail=1; }
ctl audit --json | jq -e '.[0].seq == 1 and .[0].event == "import"' >/dev/null ||
	{ echo "FAIL: audit --json"; fail=1; }
ctl audit --verify --json | jq -e '.intact == true' >/dev/null ||
	{ echo "FAIL: audit --verify --json"; fail=1; }
sqlite3 "$tmp/db/activate.db" "DROP TRIGGER audit_append_only_u; UPDATE audit SET result = 'x' WHERE seq = 1"
expect 1 audit --verify
grep -q 'row 1 does not follow the chain' "$tmp/out" || { echo "FAIL: the edited row was not named"; fail=1; }
# revoke and restore: the state, and the account locked and expired in shadow, or both undone
line='olanordm:$y$j9T$abc$def:20000:0:99999:7:::'
printf 'olanordm:x:70000:70000:Ola Nordmann:/home/olanordm:/bin/bash\n' >>"$tmp/root/etc/passwd"
printf '%s\n' "$line" >>"$tmp/root/etc/shadow"
sqlite3 "$tmp/db/activate.db" "UPDATE person SET state = 2, uid = 70000, username = 'olanordm' WHERE id_number = '1'"
expect 2 revoke
expect 2 restore 1 2
expect 1 restore 1
expect 0 revoke 1
grep -qx 'olanordm:!$y$j9T$abc$def:20000:0:99999:7::1:' "$tmp/root/etc/shadow" ||
	{ echo "FAIL: revoke did not lock and expire the account"; fail=1; }
ctl show 1 | grep -q 'revoked' || { echo "FAIL: revoke did not change the state"; fail=1; }
expect 0 revoke 1
expect 0 restore 1
grep -qx "$line" "$tmp/root/etc/shadow" || { echo "FAIL: restore did not give the shadow line back"; fail=1; }
ctl show 1 | grep -q 'active' || { echo "FAIL: restore did not make the person active again"; fail=1; }
# an expiry date set before the revoke comes back with restore
sed -i 's/^\(olanordm:.*\):::$/\1::20500:/' "$tmp/root/etc/shadow"
grep -qx 'olanordm:$y$j9T$abc$def:20000:0:99999:7::20500:' "$tmp/root/etc/shadow" || { echo "FAIL: test set-up: expiry"; fail=1; }
expect 0 revoke 1
expect 0 revoke 1
expect 0 restore 1
grep -qx 'olanordm:$y$j9T$abc$def:20000:0:99999:7::20500:' "$tmp/root/etc/shadow" ||
	{ echo "FAIL: restore did not give back the expiry"; grep olanordm "$tmp/root/etc/shadow"; fail=1; }
sed -i 's/^\(olanordm:.*\)::20500:$/\1:::/' "$tmp/root/etc/shadow"
# an account an administrator disabled (usermod -L -e 1) stays disabled through revoke and restore
sed -i 's/^olanordm:\$y\(.*\):::$/olanordm:!$y\1::1:/' "$tmp/root/etc/shadow"
grep -qx 'olanordm:!$y$j9T$abc$def:20000:0:99999:7::1:' "$tmp/root/etc/shadow" || { echo "FAIL: test set-up: disabled"; fail=1; }
expect 0 restore 1	# restored already (an earlier revoke): the files are not touched
grep -qx 'olanordm:!$y$j9T$abc$def:20000:0:99999:7::1:' "$tmp/root/etc/shadow" ||
	{ echo "FAIL: restore of a person not revoked unlocked a disabled account"; fail=1; }
expect 0 revoke 1
expect 0 restore 1
grep -qx 'olanordm:!$y$j9T$abc$def:20000:0:99999:7::1:' "$tmp/root/etc/shadow" ||
	{ echo "FAIL: restore enabled an account an administrator disabled"; grep olanordm "$tmp/root/etc/shadow"; fail=1; }
sed -i 's/^olanordm:!\$y\(.*\)::1:$/olanordm:$y\1:::/' "$tmp/root/etc/shadow"
grep -qx "$line" "$tmp/root/etc/shadow" || { echo "FAIL: test clean-up: disabled"; fail=1; }
# an administrator's own lock survives a revoke and restore
sed -i 's/^olanordm:\$y/olanordm:!$y/' "$tmp/root/etc/shadow"
expect 0 revoke 1
grep -qx 'olanordm:!!$y$j9T$abc$def:20000:0:99999:7::1:' "$tmp/root/etc/shadow" || { echo "FAIL: revoke over a lock"; fail=1; }
expect 0 restore 1
grep -qx 'olanordm:!$y$j9T$abc$def:20000:0:99999:7:::' "$tmp/root/etc/shadow" || { echo "FAIL: restore removed a lock it did not set"; fail=1; }
sed -i 's/^olanordm:!\$y/olanordm:$y/' "$tmp/root/etc/shadow"
# mid-activation (files written, never marked active): revoke locks them, restore lets the next attempt finish
sqlite3 "$tmp/db/activate.db" "UPDATE person SET state = 1, uid = -1 WHERE id_number = '1'"
expect 0 revoke 1
grep -qx 'olanordm:!$y$j9T$abc$def:20000:0:99999:7::1:' "$tmp/root/etc/shadow" || { echo "FAIL: revoke mid-activation"; fail=1; }
expect 0 restore 1
[ "$(sqlite3 "$tmp/db/activate.db" "SELECT state FROM person WHERE id_number = '1'")" = 1 ] ||
	{ echo "FAIL: restore mid-activation is not provisioning"; fail=1; }
grep -qx "$line" "$tmp/root/etc/shadow" || { echo "FAIL: restore mid-activation did not unlock"; fail=1; }
sqlite3 "$tmp/db/activate.db" "UPDATE person SET state = 2, uid = 70000 WHERE id_number = '1'"
sed -i '/^olanordm:/d' "$tmp/root/etc/shadow"
expect 1 revoke 1
ctl show 1 | grep -q 'active' || { echo "FAIL: a revoke that could not lock the account changed the state"; fail=1; }
printf '%s\n' "$line" >>"$tmp/root/etc/shadow"
ctl audit --person 1 | grep -q ' revoke .*account locked' || { echo "FAIL: revoke is not in the audit trail"; fail=1; }

# rename: passwd, shadow, its own group, every member list, gshadow, the home, the database
printf 'olanordm:x:70000:\nstudents:x:100:kari,olanordm\n' >>"$tmp/root/etc/group"
printf 'root:*::\nolanordm:!::\nstudents:!:olanordm:kari,olanordm\n' >"$tmp/root/etc/gshadow"
mkdir -p "$tmp/root/home/olanordm" && echo hello >"$tmp/root/home/olanordm/file"
expect 2 rename 1
expect 2 rename 1 Bad_Name
expect 2 rename 1 "$(head -c 40 /dev/zero | tr '\0' a)"
expect 1 rename 1 root
expect 1 rename 1 students
expect 1 rename 999 olanord2
expect 0 rename 1 olanord2
for want in 'passwd:olanord2:x:70000:70000:Ola Nordmann:/home/olanord2:/bin/bash' \
	'shadow:olanord2:$y$j9T$abc$def:20000:0:99999:7:::' 'group:olanord2:x:70000:' 'group:students:x:100:kari,olanord2' \
	'gshadow:olanord2:!::' 'gshadow:students:!:olanord2:kari,olanord2' 'group:root:x:0:'; do
	grep -qxF "${want#*:}" "$tmp/root/etc/${want%%:*}" || { echo "FAIL: rename: no line '${want#*:}' in ${want%%:*}"; fail=1; }
done
grep -q olanordm "$tmp/root/etc/passwd" "$tmp/root/etc/shadow" "$tmp/root/etc/group" "$tmp/root/etc/gshadow" &&
	{ echo "FAIL: rename left the old name somewhere"; fail=1; }
[ -f "$tmp/root/home/olanord2/file" ] && [ ! -e "$tmp/root/home/olanordm" ] || { echo "FAIL: rename did not move the home"; fail=1; }
ctl show 1 | grep -q 'olanord2' || { echo "FAIL: rename did not change the database"; fail=1; }
ctl audit --person 1 | grep -q ' rename .*olanordm -> olanord2' || { echo "FAIL: rename is not in the audit trail"; fail=1; }
mkdir -p "$tmp/root/home/olanord3"
expect 1 rename 1 olanord3
grep -q '^olanord2:' "$tmp/root/etc/passwd" || { echo "FAIL: a rename onto an existing home changed the files"; fail=1; }

# check: one line a check; the build's helper is not installed, so it fails
expect 2 check extra
expect 1 check
for want in '^ok  .*configuration' '^ok  .*database' '^ok  .*pepper' '^ok  .*trigger user activate' \
	'^ok  .*password policy accepts' \
	'^FAIL .*helper ' '^warn .*no PAM service'; do
	grep -q "$want" "$tmp/out" || { echo "FAIL: check printed no line like '$want':"; sed 's/^/    /' "$tmp/out"; fail=1; }
done
mkdir -p "$tmp/root/etc/pam.d" "$tmp/root/etc/ssh/sshd_config.d"
printf '# auth required pam_activate.so\n' >"$tmp/root/etc/pam.d/login"
printf 'auth [success=done ignore=ignore default=die] pam_activate.so\n' >"$tmp/root/etc/pam.d/sshd"
expect 1 check
grep -q '^ok  .*PAM services using pam_activate.so: sshd$' "$tmp/out" || { echo "FAIL: check: PAM services"; fail=1; }
grep -q '^FAIL .*no "Match User" line .* names activate ' "$tmp/out" || { echo "FAIL: check: no sshd snippet"; fail=1; }
cp "${top_srcdir:-.}/conf/sshd_config-activate" "$tmp/root/etc/ssh/sshd_config.d/activate.conf"
expect 1 check
grep -q '^ok  .*sshd Match User for activate: .*/activate.conf' "$tmp/out" || { echo "FAIL: check: sshd snippet"; fail=1; }
printf 'Match User activate2\n\tKbdInteractiveAuthentication yes\n' >"$tmp/root/etc/ssh/sshd_config.d/activate.conf"
expect 1 check
grep -q '^FAIL .*no "Match User" line .* names activate ' "$tmp/out" || { echo "FAIL: check took activate2 for activate"; fail=1; }

# a second trigger user on its own pam.d line (its own language): init makes it, check wants it in sshd's Match
printf 'auth [success=done ignore=ignore default=die] /lib/security/pam_activate.so trigger_user=aktiver language=nb\n' \
	>>"$tmp/root/etc/pam.d/sshd"
expect 1 check
grep -q '^FAIL .*trigger user aktiver in ' "$tmp/out" || { echo "FAIL: check: the second trigger user's absence"; fail=1; }
expect 0 init
grep -q '^aktiver:x:[0-9]*:[0-9]*:Account activation:[^:]*:/usr/sbin/nologin$' "$tmp/root/etc/passwd" ||
	{ echo "FAIL: init did not make the trigger user of the pam.d line"; fail=1; }
printf 'Match User activate2,activate\n\tKbdInteractiveAuthentication yes\n' >"$tmp/root/etc/ssh/sshd_config.d/activate.conf"
expect 1 check
grep -q '^ok  .*sshd Match User for activate: ' "$tmp/out" && grep -q '^FAIL .* names aktiver ' "$tmp/out" ||
	{ echo "FAIL: check: a Match list"; sed 's/^/    /' "$tmp/out"; fail=1; }
printf 'auth required pam_activate.so trigger_user=bad:name\n' >"$tmp/root/etc/pam.d/bad"
expect 1 init
grep -q "trigger user 'bad:name' (trigger_user" "$tmp/out" || { echo "FAIL: init took a bad trigger name"; fail=1; }
grep -q '^bad' "$tmp/root/etc/passwd" && { echo "FAIL: a bad trigger name reached passwd"; fail=1; }
rm "$tmp/root/etc/pam.d/bad"

# a KEY that is one person's ID number and another's student number names neither
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n2,3,Kari,Lie,student,Maths,2026-08-14\n' \
	>"$tmp/roster2.csv"
expect 0 import "$tmp/roster2.csv"
expect 1 show 2
grep -q 'names two people (ID number 2 and ID number 1' "$tmp/out" || { echo "FAIL: an ambiguous KEY was not refused"; cat "$tmp/out"; fail=1; }
expect 1 revoke 2
ctl show id:2 | grep -q 'Kari' || { echo "FAIL: id:2 is not Kari"; fail=1; }
ctl show sn:2 | grep -q 'Ola' || { echo "FAIL: sn:2 is not Ola"; fail=1; }
expect 0 show user:olanord2
expect 1 show id:999

# a nightly import that one conflicting row cannot block, and who is no longer in the roster
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n2,2,Kari,Lie,student,Maths,2026-08-14\n8,8,Siv,Ek,student,Maths,2026-08-14\n' \
	>"$tmp/roster3.csv"
expect 1 import "$tmp/roster3.csv"
grep -q 'roster3.csv:2: student_number: already belongs to ID number 1' "$tmp/out" || { echo "FAIL: a conflict without --skip-conflicts"; fail=1; }
expect 3 import --skip-conflicts --report-missing "$tmp/roster3.csv"
grep -q '^skipped: .*roster3.csv:2: student_number: already belongs to ID number 1$' "$tmp/out" &&
	grep -q '1 added, 0 updated, 0 unchanged, 1 skipped' "$tmp/out" &&
	grep -q '^missing: ID number 1, student number 2, Ola Nordmann, active as olanord2$' "$tmp/out" &&
	! grep -q '^missing: ID number [28],' "$tmp/out" ||
	{ echo "FAIL: import --skip-conflicts --report-missing:"; sed 's/^/    /' "$tmp/out"; fail=1; }
ctl show 8 | grep -q 'Siv' || { echo "FAIL: --skip-conflicts did not write the good row"; fail=1; }
ctl show id:2 | grep -q '^Student number  *3$' || { echo "FAIL: --skip-conflicts wrote the skipped row"; ctl show id:2; fail=1; }
# a returning student: a new ID number, the same student number
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n9,2,Ola,Nordmann,student,Physics,2026-08-14\n' \
	>"$tmp/roster4.csv"
expect 0 import "$tmp/roster4.csv"
grep -q 'roster4.csv:2: ID number 1 is now 9 (the same student number)$' "$tmp/out" || { echo "FAIL: a returning student"; sed 's/^/    /' "$tmp/out"; fail=1; }
ctl show 9 | grep -q 'olanord2' || { echo "FAIL: the returning student lost the account"; fail=1; }
ctl audit --person 9 | grep -q 'roster-update .*roster4.csv:2: id_number, .*(ID number was 1: matched by student number)' || { echo "FAIL: the update is not in the audit"; ctl audit --person 9; fail=1; }

# desk activation after a photo-ID check: the dialogue's provisioning, one password to change at once
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n20,21,Desk,Person,student,Maths,2026-08-14\n22,23,No,Programme,student,,2026-08-14\n' \
	>"$tmp/roster5.csv"
ctl import "$tmp/roster5.csv" >/dev/null
expect 2 activate 20
expect 2 activate 20 --checked-by ""
expect 2 activate --checked-by Kari
expect 1 activate 22 --checked-by Kari
grep -q 'not connected to a programme of study' "$tmp/out" || { echo "FAIL: activate without a programme"; fail=1; }
mkdir -p "$tmp/root/home"
SUDO_USER=deskhand expect 0 activate 20 --checked-by "Kari Nordmann"
user=$(sed -n 's/^username: //p' "$tmp/out")
pw=$(sed -n 's/^password: //p' "$tmp/out")
[ -n "$user" ] && [ "${#pw}" -ge 12 ] || { echo "FAIL: activate printed no username or password:"; sed 's/^/    /' "$tmp/out"; fail=1; }
grep -q "^$user:[^:]*:0:" "$tmp/root/etc/shadow" || { echo "FAIL: the desk password is not marked to change (lastchg 0)"; fail=1; }
[ -d "$tmp/root/home/$user" ] || { echo "FAIL: activate made no home"; fail=1; }
ctl audit --person id:20 | grep -q "activated .*at the desk by deskhand, photo ID checked by Kari Nordmann" ||
	{ echo "FAIL: the desk activation's audit row"; ctl audit --person id:20; fail=1; }
expect 1 activate 20 --checked-by Kari
grep -q "already active as $user" "$tmp/out" || { echo "FAIL: a second desk activation"; fail=1; }
grep -q "$pw" "$tmp/db/activate.db" && { echo "FAIL: the password is in the database"; fail=1; }

# try: the real dialogue against copies; the database and the account files are as they were
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n30,31,Tora,Prov,student,Maths,2026-08-14\n' >"$tmp/roster6.csv"
ctl import "$tmp/roster6.csv" >/dev/null && ctl issue 30 --output "$tmp/pin30.csv" >/dev/null 2>&1
pin30=$(awk -F, 'NR == 2 { gsub(/"/, "", $5); print $5 }' "$tmp/pin30.csv")
expect 2 try
sums=$(cat "$tmp/db/activate.db" "$tmp/root/etc/passwd" "$tmp/root/etc/shadow" | md5sum)
printf '30\n31\n11111111\n30\n31\n%s\n1\ntoraprov\n' "$pin30" | ctl try 30 >"$tmp/out" 2>&1
grep -q 'do not match our records. Tries left' "$tmp/out" && grep -q '^Your username will be toraprov\.' "$tmp/out" &&
	grep -q '^try: the account would have been made; nothing was written$' "$tmp/out" ||
	{ echo "FAIL: try did not play the dialogue:"; sed 's/^/    /' "$tmp/out"; fail=1; }
grep -q "$pin30" "$tmp/out" && { echo "FAIL: try showed the PIN"; fail=1; }
[ "$(cat "$tmp/db/activate.db" "$tmp/root/etc/passwd" "$tmp/root/etc/shadow" | md5sum)" = "$sums" ] ||
	{ echo "FAIL: try wrote to the database or the account files"; fail=1; }
ctl show 30 | grep -q '^State  *pending$' && ctl show 30 | grep -q '^Failures  *0 since unlock, 0 against' ||
	{ echo "FAIL: try counted or changed something"; ctl show 30; fail=1; }
ls -d /tmp/activatectl-try.* 2>/dev/null && { echo "FAIL: try left its scratch directory"; fail=1; }

# PIN letters: a dry run into an mbox, people without an address, an MTA that refuses (the real MTA: system tests)
printf 'pin_letter = %s/conf/pin-letter.%%l\n' "$(cd "${top_srcdir:-.}" && pwd)" >>"$tmp/conf"
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,email,language\n40,41,Åse,Ødegård,student,Maths,2026-08-14,ase@stud.example.edu,nb\n42,43,John,Smith,student,Maths,2026-08-14,john@stud.example.edu,\n44,45,No,Mail,student,Maths,2026-08-14,,\n46,47,Bad,Lang,student,Maths,2026-08-14,bad@stud.example.edu,xx\n' \
	>"$tmp/roster7.csv"
ctl import "$tmp/roster7.csv" >/dev/null
expect 2 issue 40 --mail --dry-run
expect 2 issue 40 --dry-run --output "$tmp/mbox"
expect 2 issue 40 --mail --output "$tmp/mbox"
expect 1 issue 40 42 44 46 --mail --dry-run --output "$tmp/mbox"
grep -q '^no e-mail address: ID number 44 (No Mail): no PIN issued$' "$tmp/out" &&
	grep -q '^not sent: ID number 46: .*pin-letter.xx: No such file or directory (the letter for language xx); no PIN issued$' "$tmp/out" &&
	grep -q '^dry run: 2 letters in ' "$tmp/out" ||
	{ echo "FAIL: issue --mail --dry-run:"; sed 's/^/    /' "$tmp/out"; fail=1; }
[ "$(stat -c %a "$tmp/mbox")" = 600 ] && [ "$(grep -c '^From activatectl ' "$tmp/mbox")" = 2 ] &&
	grep -q '^Subject: =?UTF-8?B?' "$tmp/mbox" && grep -q '^Hei Åse Ødegård,$' "$tmp/mbox" &&
	grep -q '^Subject: Activate your university account$' "$tmp/mbox" && grep -q '^To: john@stud.example.edu$' "$tmp/mbox" ||
	{ echo "FAIL: the dry run's mbox:"; sed 's/^/    /' "$tmp/mbox"; fail=1; }
ctl show 40 | grep -q '^PIN  *not issued' || { echo "FAIL: a dry run issued a PIN"; fail=1; }
expect 1 issue 40 42 44 --mail --dry-run --output "$tmp/mbox"
grep -q 'never overwritten' "$tmp/out" || { echo "FAIL: the mbox was overwritten"; fail=1; }
printf 'sendmail = /bin/false\n' >>"$tmp/conf"
expect 1 issue 42 --mail
grep -q '^not sent: ID number 42: /bin/false exited 1; no PIN issued$' "$tmp/out" || { echo "FAIL: an MTA that refuses:"; sed 's/^/    /' "$tmp/out"; fail=1; }
ctl show 42 | grep -q '^PIN  *not issued' || { echo "FAIL: a PIN in force though its letter was refused"; fail=1; }
printf 'Subject: x\nno blank line\n' >"$tmp/letter.en"
sed -i '/^pin_letter =/d; /^sendmail =/d' "$tmp/conf"
printf 'pin_letter = %s/letter.%%l\nsendmail = /bin/true\n' "$tmp" >>"$tmp/conf"
expect 1 issue 42 --mail
grep -q 'letter.en:1: a letter starts with "Subject: ..." and a blank line' "$tmp/out" || { echo "FAIL: a bad letter template"; sed 's/^/    /' "$tmp/out"; fail=1; }

[ $fail = 0 ] && echo "PASS: $n activatectl command lines answered as they should"
exit $fail
