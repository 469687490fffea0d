#!/bin/sh
# activatectl with accounts = ldap against a real slapd (tests/unit/slapd.sh,
# in a private directory, stopped at the end): a desk activation makes the
# entries and the new user can bind with the password it printed (slapd
# checks {CRYPT} with crypt(3)); revoke locks and expires the entry, restore
# gives it back, rename renames the entries and the group membership; with
# the directory unreachable an activation is refused as not available and
# nothing is spent. Needs root, slapd, ldap-utils and openssl.
src=${top_srcdir:-.}
build=${top_builddir:-.}
for tool in ldapsearch:ldap-utils ldapwhoami:ldap-utils openssl:openssl; do
	command -v "${tool%%:*}" >/dev/null || { echo "FAIL: check-ldap-cli.sh needs ${tool%%:*}: install ${tool#*:}"; exit 1; }
done
tmp=$(mktemp -d) || exit 1
chmod 0700 "$tmp"
mkdir -p "$tmp/slapd"
trap 'sh "$src/tests/unit/slapd.sh" stop "$tmp/slapd"; rm -rf "$tmp"' EXIT
uris=$(sh "$src/tests/unit/slapd.sh" start "$tmp/slapd") || { echo "FAIL: slapd did not start"; exit 1; }
uri=${uris%% *}
mkdir -p "$tmp/root/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tmp/root/etc/passwd"
printf 'root:x:0:\n' >"$tmp/root/etc/group"
printf 'root:*:20000:0:99999:7:::\n' >"$tmp/root/etc/shadow"
printf 'UID_MIN 30000\nUID_MAX 39999\nGID_MIN 30000\nGID_MAX 39999\nENCRYPT_METHOD SHA512\n' >"$tmp/root/etc/login.defs"
cat >"$tmp/conf" <<CONF
database = $tmp/db/activate.db
pepper_file = $tmp/pepper
sysroot = $tmp/root
pin_hash_cost = min
groups = students
accounts = ldap
ldap_uri = $uri
ldap_people_base = ou=people,dc=example,dc=edu
ldap_groups_base = ou=groups,dc=example,dc=edu
ldap_bind_dn = cn=admin,dc=example,dc=edu
ldap_bind_password_file = $tmp/slapd/bind.secret
ldap_ca_file = $tmp/slapd/ca.pem
ldap_timeout = 5
CONF
printf 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on\n1,2,Ola,Nordmann,student,Maths,2026-08-14\n3,4,Kari,Down,student,Maths,2026-08-14\n' \
	>"$tmp/roster.csv"
ctl() { "$build/activatectl" --config "$tmp/conf" "$@"; }
(umask 077; tr -d '\n' <"$tmp/slapd/bind.secret" >"$tmp/admin.pw")	# -y takes the file whole
search() {	# search DN ATTR: its values, one a line
	ldapsearch -LLL -x -H "$uri" -D cn=admin,dc=example,dc=edu -y "$tmp/admin.pw" -b "$1" -s base "$2" 2>/dev/null |
		sed -n "s/^$2: //p"
}
binds() {	# binds NAME: the password in $tmp/pw works for uid=NAME
	ldapwhoami -x -H "$uri" -D "uid=$1,ou=people,dc=example,dc=edu" -y "$tmp/pw" >/dev/null 2>&1
}
fail=0
ctl init >/dev/null || { echo "FAIL: init"; exit 1; }
ctl check >"$tmp/out" 2>&1
grep -q "^ok  .*accounts: ldap $uri as cn=admin" "$tmp/out" || { echo "FAIL: check has no accounts line:"; sed 's/^/    /' "$tmp/out"; fail=1; }
ctl import "$tmp/roster.csv" >/dev/null || { echo "FAIL: import"; exit 1; }

ctl activate 1 --checked-by Kari >"$tmp/out" 2>&1 || { echo "FAIL: activate:"; sed 's/^/    /' "$tmp/out"; exit 1; }
user=$(sed -n 's/^username: //p' "$tmp/out")
(umask 077; sed -n 's/^password: //p' "$tmp/out" | tr -d '\n' >"$tmp/pw")
dn="uid=$user,ou=people,dc=example,dc=edu"
[ "$user" = olanordm ] || { echo "FAIL: username $user"; fail=1; }
[ "$(search "$dn" shadowLastChange)" = 0 ] || { echo "FAIL: the desk password is not marked to change"; fail=1; }
search "$dn" objectClass | grep -qx posixAccount || { echo "FAIL: no posixAccount"; fail=1; }
search cn=students,ou=groups,dc=example,dc=edu memberUid | grep -qx "$user" || { echo "FAIL: not in students"; fail=1; }
[ ! -e "$tmp/root/home/$user" ] || { echo "FAIL: a local home was made"; fail=1; }
binds "$user" || { echo "FAIL: the new user cannot bind with the password activate printed"; fail=1; }
grep -q "passwd.*$user\|^$user:" "$tmp/root/etc/passwd" && { echo "FAIL: the account went to the local files"; fail=1; }

ctl revoke 1 >/dev/null 2>&1 || { echo "FAIL: revoke"; fail=1; }
[ "$(search "$dn" shadowExpire)" = 1 ] || { echo "FAIL: revoke did not expire the entry"; fail=1; }
binds "$user" && { echo "FAIL: a revoked user can bind"; fail=1; }
ctl revoke 1 >/dev/null 2>&1 || { echo "FAIL: revoke again"; fail=1; }
ctl restore 1 >/dev/null 2>&1 || { echo "FAIL: restore"; fail=1; }
[ -z "$(search "$dn" shadowExpire)" ] || { echo "FAIL: restore left the expiry"; fail=1; }
binds "$user" || { echo "FAIL: restore did not give the password back"; fail=1; }
ctl show 1 | grep -q 'active' || { echo "FAIL: restore did not make the person active"; fail=1; }

ctl rename 1 olanord9 >"$tmp/out" 2>&1 || { echo "FAIL: rename:"; sed 's/^/    /' "$tmp/out"; fail=1; }
[ "$(search uid=olanord9,ou=people,dc=example,dc=edu homeDirectory)" = /home/olanord9 ] ||
	{ echo "FAIL: rename: the entry or its homeDirectory"; fail=1; }
[ -z "$(search "$dn" uid)" ] || { echo "FAIL: rename left the old entry"; fail=1; }
[ "$(search cn=olanord9,ou=groups,dc=example,dc=edu gidNumber)" = "$(search uid=olanord9,ou=people,dc=example,dc=edu gidNumber)" ] ||
	{ echo "FAIL: rename: the user's group"; fail=1; }
search cn=students,ou=groups,dc=example,dc=edu memberUid | grep -qx olanord9 || { echo "FAIL: rename: memberUid"; fail=1; }
binds olanord9 || { echo "FAIL: the renamed user cannot bind"; fail=1; }
ctl show 1 | grep -q olanord9 || { echo "FAIL: rename: the database"; fail=1; }

# the directory unreachable: not available, nothing spent, nothing made
sed "s|^ldap_uri = .*|ldap_uri = ldap://127.0.0.1:1/|" "$tmp/conf" >"$tmp/conf-down"
"$build/activatectl" --config "$tmp/conf-down" activate 3 --checked-by Kari >"$tmp/out" 2>&1 &&
	{ echo "FAIL: activate with the directory down succeeded"; fail=1; }
grep -q 'not available right now' "$tmp/out" || { echo "FAIL: activate with the directory down:"; sed 's/^/    /' "$tmp/out"; fail=1; }
ctl show 3 | grep -q '^State  *pending$' || { echo "FAIL: the directory down changed the person:"; ctl show 3; fail=1; }
ctl activate 3 --checked-by Kari >"$tmp/out" 2>&1 || { echo "FAIL: activate once the directory is back:"; sed 's/^/    /' "$tmp/out"; fail=1; }

[ $fail = 0 ] && echo "PASS: activatectl activate, revoke, restore, rename on LDAP entries; the directory down"
exit $fail
