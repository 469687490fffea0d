# kill-postgres-ldap.sh: sourced by kill-every-syscall.sh with
# BACKENDS=postgres-ldap, after its shared part (the binaries, the killer,
# here with -N, the PAM services, the dialogue, run_points); the caller then
# runs every point of every command.
#
# Here: a private PostgreSQL 15 (tests/unit/pgserver.sh) and slapd
# (tests/unit/slapd.sh), both stopped at the end; a sandbox whose
# activate.conf has database = postgresql://activate@localhost:PORT/work
# (TLS, verify-full, the role's password in a file) and accounts = ldap
# (ldap:// with StartTLS, bound as the directory's admin), groups =
# students; a sysroot with login.defs (UID_MIN 70000) and the trigger user
# only. The directory starts with kari and per (uid 1001, 1002, members of
# students) and eva, whose 70000 the allocator must skip. Then what "the
# state" is for these backends, the checks, the templates (the database
# copied with CREATE DATABASE ... TEMPLATE, slapd's database directory
# copied while it is stopped), and a self-check of the checks.
#
# Before every point the sandbox, the database and the directory are put
# back as the command's template had them. After a kill, and before the
# retry, nothing is judged until both servers have closed the killed
# process's connections (settle): a server may still be acting on what it
# received.
#
# After the kill: the person's entries (uid=NAME, cn=NAME), when there
# are any, carry the store's intent (never an account the store does not
# know); activate: a spent PIN or an active person only with a complete
# account (the inetOrgPerson/posixAccount/shadowAccount entry with the
# intent's uidNumber and gidNumber, the posixGroup, a memberUid of
# students); rename: the person a member of students under one of the two
# names (never lost), and the store's new name only when the directory is
# renamed completely; revoke: revoked in the store only when the entry is
# locked ('!' after {CRYPT}, shadowExpire 1); restore: the entry unlocked
# only when the store says active.
# After the retry: the job finished (as for the files); the store's state,
# username, uid, gid, home, PIN and rename_to agreeing; the account
# complete with the store's ids and exactly one posixAccount with them; the
# entry as a plain activation makes it (its password aside), and the person
# able to bind with the password they chose (the retry's, or the killed
# run's when it had finished); the allocator at or past the uid;
# rename: the entries of the old name gone, the new ones exactly the old
# ones renamed, the membership moved; revoke: the entry exactly as before
# with '!' after {CRYPT} and shadowExpire 1, no bind; restore: the entry
# exactly as before the revoke, a bind; and always: every other entry and
# value of the directory as in the template (kari and per still members),
# the other person's row untouched, no lease left but the killed
# process's (the retry took over none: "already active"), the local sysroot
# unchanged (no account, no home: pam_mkhomedir makes it at the first
# login), the audit chain verifying with the command's event exactly once.
# Each reference run must have sent to both servers, and told every socket
# it wrote to ("unknown socket": a failure).

pgbin=/usr/lib/postgresql/15/bin
for t in ldapsearch:ldap-utils ldapmodify:ldap-utils ldapwhoami:ldap-utils openssl:openssl runuser:util-linux; do
	command -v "${t%%:*}" >/dev/null || { echo "FAIL: kill-every-syscall.sh (postgres-ldap) needs ${t%%:*}: install ${t#*:}"; exit 1; }
done
[ -x /usr/sbin/slapd ] || { echo "FAIL: kill-every-syscall.sh (postgres-ldap) needs slapd: install slapd"; exit 1; }

# --- the servers --------------------------------------------------------------------------------
S=$tmp/slapd pgdir= slapd_pid=
stop_servers() {
	[ -z "$pgdir" ] || sh "$src/tests/unit/pgserver.sh" stop "$pgdir" >/dev/null 2>&1
	[ ! -f "$S/slapd.pid" ] || sh "$src/tests/unit/slapd.sh" stop "$S" >/dev/null 2>&1
	pgdir=
}
trap 'stop_servers; [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
mkdir -p "$S"
out=$(sh "$src/tests/unit/pgserver.sh" start 2>"$tmp/pgserver.err") ||
	{ echo "FAIL: no PostgreSQL server: $(tail -3 "$tmp/pgserver.err" | tr '\n' ' ')"; exit 1; }
pgdir=${out% *} pgport=${out#* }
uris=$(sh "$src/tests/unit/slapd.sh" start "$S" 2>"$tmp/slapd.err") ||
	{ echo "FAIL: no slapd: $(tail -3 "$tmp/slapd.err" | tr '\n' ' ')"; exit 1; }
luri=${uris% *} lsuri=${uris#* }
lport=${luri##*:} lport=${lport%/} lsport=${lsuri##*:} lsport=${lsport%/} lhost=${luri#ldap://} lhost=${lhost%:*}
slapd_pid=$(cat "$S/slapd.pid")
base=dc=example,dc=edu
people=ou=people,$base groups=ou=groups,$base admin=cn=admin,$base
students=cn=students,$groups alloc=cn=pam_activate-next-id,$people
(umask 077; tr -d '\n' <"$S/bind.secret" >"$tmp/admin.pw")	# ldap tools' -y takes the file whole
echo "servers: PostgreSQL $pgdir port $pgport (TLS); slapd $luri (StartTLS) and $lsuri"

# SQL as the superuser (trusted on the server's Unix socket, never a port the runs use); rows a|b|c.
# Each -c its own transaction.
pgc() { local db=$1 a=() c; shift; for c in "$@"; do a+=(-c "$c"); done
	"$pgbin/psql" -qAtX -v ON_ERROR_STOP=1 -h "$pgdir/sock" -p "$pgport" -U postgres -d "$db" "${a[@]}"; }
pg() { pgc "$1" "$2"; }
q() { pg work "$1"; }
lq() { ldapsearch -LLL -x -o ldif-wrap=no -o nettimeout=10 -H "$luri" -D "$admin" -y "$tmp/admin.pw" "$@"; }
lmod() { ldapmodify -x -o nettimeout=10 -H "$luri" -D "$admin" -y "$tmp/admin.pw" >/dev/null; }	# LDIF on stdin
# the directory: one "DN<TAB>attr: value" line a value (base64 decoded), sorted
dump() {
	lq -b "$base" -s sub '(objectClass=*)' >"$tmp/dump.raw" 2>"$tmp/dump.err" ||
		{ printf 'LDAPSEARCH-FAILED\t%s\n' "$(head -1 "$tmp/dump.err")"; return; }
	LC_ALL=C awk '
	function b64(s,   i, c, v, bits, n, out) {
		out = ""; bits = 0; n = 0
		for (i = 1; i <= length(s); i++) {
			if ((c = index(B, substr(s, i, 1)) - 1) < 0) continue
			bits = bits * 64 + c; n += 6
			if (n >= 8) { n -= 8; v = int(bits / 2 ^ n); out = out sprintf("%c", v); bits -= v * 2 ^ n }
		}
		return out
	}
	BEGIN { B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" }
	/^$/ { next }
	/^dn:: / { dn = b64(substr($0, 6)); next }
	/^dn: / { dn = substr($0, 5); next }
	{ i = index($0, ":"); v = substr($0, i + 1)
	  print dn "\t" substr($0, 1, i - 1) ": " (substr(v, 1, 2) == ": " ? b64(substr(v, 3)) : substr(v, 2)) }' "$tmp/dump.raw" |
		LC_ALL=C sort
}
# An entry's lines, an attribute's values, whether there is an entry: read from a dump, no process started.
entry() {	# entry DUMP DN
	local k="$2"$'\t' line
	while IFS= read -r line; do [[ $line == "$k"* ]] && printf '%s\n' "${line#"$k"}"; done <"$1"
	return 0
}
vals() {	# vals DUMP DN ATTR
	local k="$2"$'\t'"$3: " line
	while IFS= read -r line; do [[ $line == "$k"* ]] && printf '%s\n' "${line#"$k"}"; done <"$1"
	return 0
}
has() {	# has DUMP DN
	local k="$2"$'\t' line
	while IFS= read -r line; do [[ $line == "$k"* ]] && return 0; done <"$1"
	return 1
}

# Until neither server holds a connection (ESTABLISHED, SYN_RECV, CLOSE_WAIT on its
# ports): a killed process's requests are all acted on, or dropped, and its
# transactions rolled back. A bound on the wait, not a timing assertion: a
# server that never lets go is a failure.
ports_hex=" $(printf '%04X %04X %04X' "$pgport" "$lport" "$lsport") "
settle() {
	local i
	for i in $(seq 1200); do
		[ "$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$ports_hex" '
			$1 ~ /:$/ { split($2, a, ":"); if (index(p, " " a[2] " ") && ($4 == "01" || $4 == "03" || $4 == "08")) n++ }
			END { print n + 0 }')" = 0 ] && return 0
		sleep 0.05
	done
	echo "FAIL: a server still holds a connection a minute after the run"
	return 1
}

# slapd stopped (SIGTERM: its database closed cleanly; SIGKILL: thrown away), by pid
slapd_down() {	# slapd_down TERM|KILL
	local i
	kill -"$1" "$slapd_pid" 2>/dev/null
	wait "$slapd_pid" 2>/dev/null	# ours (not the first, slapd.sh's): reaped here, and no "Killed" line
	for i in $(seq 600); do
		[ -e "/proc/$slapd_pid" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$slapd_pid/stat" 2>/dev/null || return 0
		sleep 0.05
	done
	echo "FAIL: slapd $slapd_pid does not stop"
	exit 1
}
# slapd again, with slapd.sh's command line, on the same ports and database
slapd_up() {
	local i sock=${S//\//%2F}%2Fldapi
	/usr/sbin/slapd -h "$luri $lsuri ldapi://$sock" -F "$S/slapd.d" -d 0 </dev/null >>"$S/slapd.log" 2>&1 &
	slapd_pid=$!
	echo "$slapd_pid" >"$S/slapd.pid"
	for i in $(seq 1000); do
		kill -0 "$slapd_pid" 2>/dev/null || break
		# listening (bash's /dev/tcp: no process), then answering
		(: <"/dev/tcp/$lhost/$lport") 2>/dev/null && ldapsearch -x -H "$luri" -b "" -s base -o nettimeout=2 >/dev/null 2>&1 &&
			return 0
		sleep 0.02
	done
	echo "FAIL: slapd does not start again: $(tail -2 "$S/slapd.log" | tr '\n' ' ')"
	exit 1
}

# --- the sandbox -------------------------------------------------------------------------------------
ID=1001 SN=5001 PIN=11111111 OLD=olanordm NEW=olanord2 OID=1002
pg postgres "CREATE DATABASE work OWNER activate" >/dev/null || { echo "FAIL: CREATE DATABASE work"; exit 1; }
mkdir -p "$R/etc" "$R/home" "$R/bin" "$R/usr/sbin" "$R/root" "$W/run"
chmod 0700 "$R/root"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$R/etc/passwd"
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:x:0:\n' >"$R/etc/group"
printf 'root:*::\n' >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
printf '%s\n' 'UID_MIN 70000' 'UID_MAX 79999' 'GID_MIN 70000' 'GID_MAX 79999' 'PASS_MAX_DAYS 99999' \
	'PASS_MIN_DAYS 0' 'PASS_WARN_AGE 7' 'ENCRYPT_METHOD YESCRYPT' 'YESCRYPT_COST_FACTOR 3' >"$R/etc/login.defs"
: >"$R/bin/bash"
: >"$R/usr/sbin/nologin"
chmod 0755 "$R/bin/bash" "$R/usr/sbin/nologin"
install -m 0600 "$pgdir/password" "$W/db.secret"
install -m 0600 "$S/bind.secret" "$W/ldap.secret"
printf 'Use the machines for your studies.\n' >"$W/terms.txt"
printf '%s\n' "database = postgresql://activate@localhost:$pgport/work" "database_password_file = $W/db.secret" \
	"database_ca_file = $pgdir/tls/ca.pem" "pepper_file = $W/pepper" "sysroot = $R" "run_dir = $W/run" \
	'pin_hash_cost = min' 'groups = students' "terms_file = $W/terms.txt" 'accounts = ldap' "ldap_uri = $luri" \
	"ldap_people_base = $people" "ldap_groups_base = $groups" "ldap_bind_dn = $admin" \
	"ldap_bind_password_file = $W/ldap.secret" "ldap_ca_file = $S/ca.pem" 'ldap_timeout = 10' >"$CONF"
printf '%s\n' 'id_number,student_number,given_name,family_name,kind,programme,fee_paid_on,pin' \
	"$ID,$SN,Ola,Nordmann,student,Informatics,2026-08-14,$PIN" \
	"$OID,5002,Siri,Dahl,student,Maths,2026-08-14,22222222" >"$W/roster.csv"
ldapadd -x -H "$luri" -D "$admin" -y "$tmp/admin.pw" >"$tmp/seed.out" 2>&1 <<LDIF || { echo "FAIL: seeding the directory:"; cat "$tmp/seed.out"; exit 1; }
$(for u in kari:1001:Kari:Lie per:1002:Per:Hansen eva:70000:Eva:Berg; do IFS=: read -r n i g f <<<"$u"; printf '%s\n' \
	"dn: uid=$n,$people" objectClass:\ inetOrgPerson objectClass:\ posixAccount objectClass:\ shadowAccount "uid: $n" \
	"cn: $g $f" "sn: $f" "givenName: $g" "uidNumber: $i" "gidNumber: $i" "homeDirectory: /home/$n" 'loginShell: /bin/bash' \
	'userPassword: {CRYPT}!' '' "dn: cn=$n,$groups" 'objectClass: posixGroup' "cn: $n" "gidNumber: $i" ''; done)
LDIF
printf 'dn: %s\nchangetype: modify\nadd: memberUid\nmemberUid: kari\nmemberUid: per\n' "$students" | lmod ||
	{ echo "FAIL: seeding the members of students"; exit 1; }
ctl init >"$tmp/init.out" 2>&1 || { echo "FAIL: activatectl init:"; cat "$tmp/init.out"; exit 1; }
ctl import "$W/roster.csv" >"$tmp/import.out" 2>&1 || { echo "FAIL: activatectl import:"; cat "$tmp/import.out"; exit 1; }

# --- templates: the sandbox, the database tpl_NAME and slapd's database; restore_from puts one back --
save_as() {	# save_as t-NAME
	settle || exit 1
	rm -rf "${tmp:?}/$1" "$tmp/$1.ldap"
	cp -a "$W" "$tmp/$1"
	pg postgres "CREATE DATABASE tpl_${1#t-} TEMPLATE work" >/dev/null || { echo "FAIL: CREATE DATABASE tpl_${1#t-}"; exit 1; }
	slapd_down TERM
	cp -a "$S/db" "$tmp/$1.ldap"
	slapd_up
	dump >"$tmp/$1.ldif"
}
restore_from() {	# restore_from TEMPLATE-DIR
	local name=${1##*/}
	settle || exit 1
	rm -rf "$W" && cp -a "$1" "$W" || exit 1
	pgc postgres "DROP DATABASE IF EXISTS work WITH (FORCE)" "CREATE DATABASE work OWNER activate TEMPLATE tpl_${name#t-}" >/dev/null ||
		{ echo "FAIL: the database from tpl_${name#t-}"; exit 1; }
	slapd_down KILL
	rm -rf "$S/db" && cp -a "$1.ldap" "$S/db" || exit 1
	slapd_up
}
template_of() { case $1 in activate) echo t-pending ;; rename | revoke) echo t-active ;; restore) echo t-revoked ;; esac; }

# --- the state --------------------------------------------------------------------------------------
# The store in one query: the person's pin_spent|state|username|uid|gid|home|rename_to,
# then how many persons, the person's name, the other person's row, the leases
# (person:host:pid:until,...), how many audit events EVENT.
facts() {	# facts DATABASE EVENT
	pg "$1" "SELECT p.pin_spent, p.state, coalesce(p.username, ''), coalesce(p.uid::text, ''), coalesce(p.gid::text, ''),
		coalesce(p.home, ''), coalesce(p.rename_to, ''), (SELECT count(*) FROM person),
		p.given_name || ' ' || p.family_name || ' ' || p.student_number,
		(SELECT state || ' ' || version || ' ' || coalesce(username, '-') FROM person WHERE id_number = '$OID'),
		(SELECT coalesce(string_agg(person || ':' || host || ':' || pid || ':' || until, ',' ORDER BY person), '')
		 FROM person_lease), (SELECT count(*) FROM audit WHERE event = '$2')
		FROM person p WHERE id_number = '$ID'"
}
# into spent st user uid gid home rto persons pname other leases events
read_facts() { IFS='|' read -r spent st user uid gid home rto persons pname other leases events <<<"$(facts work "$1")"; }
# a template's, which never change, into t_...: read once
read_tfacts() {	# read_tfacts TEMPLATE-DIR EVENT
	local f=$1.facts-$2
	[ -s "$f" ] || facts "tpl_${1##*/t-}" "$2" >"$f"
	IFS='|' read -r t_spent t_st t_user t_uid t_gid t_home t_rto t_persons t_pname t_other t_leases t_events <"$f"
}
locked() { vals "$1" "uid=$2,$people" userPassword | grep -q '^{CRYPT}!' && [ "$(vals "$1" "uid=$2,$people" shadowExpire)" = 1 ]; }
member() {	# member DUMP NAME: a memberUid of students
	local k="$students"$'\t'"memberUid: $2" line
	while IFS= read -r line; do [ "$line" = "$k" ] && return 0; done <"$1"
	return 1
}
# how many posixAccount (or posixGroup) entries carry the number as uidNumber (gidNumber)
with_number() {	# with_number DUMP posixAccount|posixGroup uidNumber|gidNumber N
	awk -F'\t' -v c="objectClass: $2" -v v="$3: $4" '$2 == c { is[$1] = 1 } $2 == v { has[$1] = 1 }
		END { for (d in has) if (d in is) n++; print n + 0 }' "$1"
}
# The account of NAME complete with the ids: prints why not, or nothing.
account_complete() {	# account_complete DUMP NAME UID GID
	local d=$1 dn="uid=$2,$people" gdn="cn=$2,$groups" c
	[ -n "$3" ] && [ -n "$4" ] || { echo "no intent in the store"; return; }
	has "$d" "$dn" || { echo "no entry $dn"; return; }
	for c in inetOrgPerson posixAccount shadowAccount; do
		vals "$d" "$dn" objectClass | grep -qx "$c" || { echo "entry not a $c"; return; }
	done
	[ "$(vals "$d" "$dn" uidNumber):$(vals "$d" "$dn" gidNumber)" = "$3:$4" ] ||
		{ echo "entry has ids $(vals "$d" "$dn" uidNumber):$(vals "$d" "$dn" gidNumber), the intent $3:$4"; return; }
	[ "$(vals "$d" "$dn" homeDirectory)" = "/home/$2" ] || { echo "homeDirectory '$(vals "$d" "$dn" homeDirectory)'"; return; }
	[ "$(vals "$d" "$dn" userPassword | grep -c '^{CRYPT}\$')" = 1 ] && [ "$(vals "$d" "$dn" userPassword | wc -l)" = 1 ] ||
		{ echo "userPassword not one {CRYPT} hash: $(vals "$d" "$dn" userPassword | cut -c1-10 | tr '\n' ' ')"; return; }
	has "$d" "$gdn" || { echo "no group $gdn"; return; }
	vals "$d" "$gdn" objectClass | grep -qx posixGroup || { echo "group not a posixGroup"; return; }
	[ "$(vals "$d" "$gdn" gidNumber)" = "$4" ] || { echo "group has gidNumber $(vals "$d" "$gdn" gidNumber), the intent $4"; return; }
	member "$d" "$2" || { echo "not a memberUid of students"; return; }
	[ "$(with_number "$d" posixAccount uidNumber "$3")" = 1 ] || { echo "$(with_number "$d" posixAccount uidNumber "$3") posixAccounts with uidNumber $3"; return; }
	[ "$(with_number "$d" posixGroup gidNumber "$4")" = 1 ] || { echo "$(with_number "$d" posixGroup gidNumber "$4") posixGroups with gidNumber $4"; return; }
}
# NAME's entry as the plain activation (t-active) made OLD's, but for what differs by design:
# the password, the day it was set and the ids (checked against the store).
like_plain() {	# like_plain DUMP NAME: prints the difference, or nothing
	entry "$1" "uid=$2,$people" | grep -v -e '^userPassword: ' -e '^shadowLastChange: ' -e '^uidNumber: ' -e '^gidNumber: ' >"$tmp/e1"
	entry "$tmp/t-active.ldif" "uid=$OLD,$people" | grep -v -e '^userPassword: ' -e '^shadowLastChange: ' -e '^uidNumber: ' \
		-e '^gidNumber: ' | sed "s|^uid: $OLD\$|uid: $2|; s|^homeDirectory: /home/$OLD\$|homeDirectory: /home/$2|" >"$tmp/e2"
	cmp -s "$tmp/e1" "$tmp/e2" || diff "$tmp/e2" "$tmp/e1" | grep '^[<>]' | head -3 | tr '\n' ' '
}
# The entries NAME has in DUMP as TEMPLATE-DUMP's of FROM, renamed, and EDIT (sed) applied to the user's.
same_entries() {	# same_entries DUMP NAME TEMPLATE-DUMP FROM [EDIT]: prints the difference, or nothing
	local d=$1 n=$2 t=$3 f=$4 edit=${5:-}
	{ entry "$d" "uid=$n,$people"; echo --; entry "$d" "cn=$n,$groups"; } >"$tmp/e1"
	{ entry "$t" "uid=$f,$people" | sed "s|^uid: $f\$|uid: $n|; s|^homeDirectory: /home/$f\$|homeDirectory: /home/$n|; $edit" | LC_ALL=C sort
	  echo --; entry "$t" "cn=$f,$groups" | sed "s|^cn: $f\$|cn: $n|" | LC_ALL=C sort; } >"$tmp/e2"
	cmp -s "$tmp/e1" "$tmp/e2" || diff "$tmp/e2" "$tmp/e1" | grep '^[<>]' | cut -c1-60 | head -3 | tr '\n' ' '
}
# Every line of the directory not about NAMES (their entries, their memberUid in
# students) and not the allocator's (made by the first activation; its count is
# checked against the uid) as in TEMPLATE-DUMP.
others_kept() {	# others_kept DUMP TEMPLATE-DUMP NAMES...
	local d=$1 t=$2 n pat=
	shift 2
	for n in "$@"; do pat="$pat|uid=$n,$people	.*|cn=$n,$groups	.*|$students	memberUid: $n"; done
	pat="^($alloc	.*$pat)\$"
	grep -Ev "$pat" "$d" >"$tmp/o1"
	grep -Ev "$pat" "$t" >"$tmp/o2"
	cmp -s "$tmp/o1" "$tmp/o2" || bad "the directory: others changed: $(diff "$tmp/o2" "$tmp/o1" | grep '^[<>]' | cut -c1-80 | head -2 | tr '\n' ' ')"
}
# The suggestion the dialogue chose (the first) in TRANSCRIPT, into FILE.
chosen() { sed -n 's/^  1  \([^ ]*\)$/\1/p' "$1" | tr -d '\r' | head -1 | tr -d '\n' >"$2"; [ -s "$2" ]; }
binds() { ldapwhoami -x -o nettimeout=10 -H "$luri" -D "uid=$1,$people" -y "$2" >/dev/null 2>&1; }	# binds NAME PASSWORD-FILE

# --- the checks --------------------------------------------------------------------------------------
killstate=
describe_kill() {	# describe_kill DUMP: what the kill left (read_facts done), before the retry changes it
	local d=$1 n s=
	killstate="$(state_name "$st"), pin $([ "${spent:-0}" != 0 ] && echo spent || echo unspent), user ${user:--}${uid:+, intent $uid}${rto:+, rename to $rto}; directory:"
	for n in "$OLD" "$NEW"; do
		has "$d" "uid=$n,$people" && s="$s uid=$n$(locked "$d" "$n" && echo '(locked)')"
		has "$d" "cn=$n,$groups" && s="$s cn=$n"
		member "$d" "$n" && s="$s students:$n"
	done
	killstate="$killstate${s:- nothing}"
}
was_complete= killed_leases=
after_kill() {
	local d=$tmp/killed.ldif why n
	settle || bad "after the kill: a server held on"
	dump >"$d"
	read_facts "$(event_of "$1")"
	describe_kill "$d"
	killed_leases=$leases
	was_complete=no
	grep -q '^LDAPSEARCH-FAILED' "$d" && bad "after the kill: the directory: $(cut -f2 "$d")"
	for n in "$OLD" "$NEW"; do	# never an account the store does not know
		has "$d" "uid=$n,$people" && [ "$(vals "$d" "uid=$n,$people" uidNumber):$(vals "$d" "uid=$n,$people" gidNumber)" != "$uid:$gid" ] &&
			bad "after the kill: uid=$n has ids $(vals "$d" "uid=$n,$people" uidNumber):$(vals "$d" "uid=$n,$people" gidNumber), the store's intent '$uid:$gid'"
		has "$d" "cn=$n,$groups" && [ "$(vals "$d" "cn=$n,$groups" gidNumber)" != "$gid" ] &&
			bad "after the kill: cn=$n has gidNumber $(vals "$d" "cn=$n,$groups" gidNumber), the store's intent '$gid'"
	done
	case $1 in
	activate)
		why=$(account_complete "$d" "$OLD" "$uid" "$gid")
		[ -z "$why" ] && [ "$st" = 2 ] && [ "${spent:-0}" != 0 ] && was_complete=yes
		if [ "${spent:-0}" != 0 ] && [ -n "$why" ]; then bad "after the kill: PIN spent, but $OLD's $why"; fi
		if [ "$st" = 2 ] && [ -n "$why" ]; then bad "after the kill: active, but $OLD's $why"; fi
		;;
	rename)
		member "$d" "$OLD" || member "$d" "$NEW" || bad "after the kill: a member of students under neither name"
		[ "$(with_number "$d" posixAccount uidNumber "$uid")" = 1 ] || bad "after the kill: $(with_number "$d" posixAccount uidNumber "$uid") entries with uidNumber $uid"
		if [ "$user" = "$NEW" ]; then
			why=$(account_complete "$d" "$NEW" "$uid" "$gid")
			[ -z "$why" ] || bad "after the kill: the store says $NEW, but $NEW's $why"
			if has "$d" "uid=$OLD,$people" || has "$d" "cn=$OLD,$groups" || member "$d" "$OLD"; then
				bad "after the kill: the store says $NEW, but $OLD is still in the directory"
			fi
		fi
		;;
	revoke) [ "$st" = 3 ] && ! locked "$d" "$OLD" && bad "after the kill: revoked in the store, the entry not locked" ;;
	restore)
		if [ "$st" != 2 ] && ! locked "$d" "$OLD"; then bad "after the kill: the entry unlocked, the store says $(state_name "$st")"; fi
		;;
	esac
	:
}
event_of() { case $1 in activate) echo activated ;; *) echo "$1" ;; esac; }
invariants() {	# invariants CMD TEMPLATE RETRY-STATUS
	local cmd=$1 t=$2 s=$3 d=$tmp/now.ldif td=$2.ldif why
	settle || bad "a server held on after the retry"
	dump >"$d"
	grep -q '^LDAPSEARCH-FAILED' "$d" && bad "the directory: $(cut -f2 "$d")"
	read_facts "$(event_of "$cmd")"
	read_tfacts "$t" "$(event_of "$cmd")"
	[ "${events:-x}" = $((t_events + 1)) ] || bad "audit: $((${events:-0} - t_events)) '$(event_of "$cmd")' events, not 1"
	[ -z "$rto" ] || bad "rename_to '$rto' left in the store"
	case $cmd in
	activate)
		if [ "$s" = 0 ] && grep -q "Your account is ready" "$transcript" 2>/dev/null; then chosen "$transcript" "$tmp/pw.now" || bad "no password chosen in the retry"
		elif [ "$was_complete" = yes ] && grep -q "already active, with the username $OLD" "$transcript" 2>/dev/null; then
			chosen "$tmp/killed.transcript" "$tmp/pw.now" || bad "no password chosen in the killed run that finished"
		else
			bad "retry failed (pamtester $s: $(grep -i -e 'could not\|cannot\|error\|timed out\|try again\|already\|not available' "$transcript" | head -1 | tr -d '\r'))"
			: >"$tmp/pw.now"
		fi
		[ "$(state_name "$st")" = active ] || bad "state $(state_name "$st") after the retry"
		[ "$user" = "$OLD" ] || bad "username '$user' in the store, not $OLD"
		[ "${spent:-0}" != 0 ] || bad "PIN not spent after the retry"
		[ "$home" = "/home/$OLD" ] || bad "home '$home' in the store"
		[ -n "$uid" ] && [ "$uid" -ge 70000 ] && [ "$uid" -le 79999 ] && [ "$uid" = "$gid" ] || bad "the intent's ids '$uid:$gid'"
		why=$(account_complete "$d" "$OLD" "$uid" "$gid")
		[ -z "$why" ] || bad "$OLD's $why"
		why=$(like_plain "$d" "$OLD")
		[ -z "$why" ] || bad "$OLD's entry not as a plain activation makes it: $why"
		[ -s "$tmp/pw.now" ] && ! binds "$OLD" "$tmp/pw.now" && bad "$OLD cannot bind with the password chosen"
		[ "$(vals "$d" "$alloc" uidNumber)" -ge "${uid:-0}" ] 2>/dev/null || bad "the allocator at '$(vals "$d" "$alloc" uidNumber)', below the uid $uid"
		has "$d" "uid=$NEW,$people" && bad "an entry uid=$NEW"
		others_kept "$d" "$td" "$OLD"
		;;
	rename)
		[ "$s" = 0 ] || bad "retry failed (activatectl $s: $(head -1 "$transcript"))"
		[ "$user" = "$NEW" ] || bad "username '$user' in the store, not $NEW"
		[ "$(state_name "$st")" = active ] || bad "state $(state_name "$st") after the retry"
		[ "$uid:$gid" = "$t_uid:$t_gid" ] || bad "the store's ids $uid:$gid, not $t_uid:$t_gid"
		[ "$home" = "/home/$NEW" ] || bad "home '$home' in the store"
		has "$d" "uid=$OLD,$people" && bad "uid=$OLD still there"
		has "$d" "cn=$OLD,$groups" && bad "cn=$OLD still there"
		member "$d" "$OLD" && bad "$OLD still a memberUid of students"
		member "$d" "$NEW" || bad "$NEW not a memberUid of students"
		why=$(same_entries "$d" "$NEW" "$td" "$OLD")
		[ -z "$why" ] || bad "the entries of $NEW are not $OLD's renamed: $why"
		binds "$NEW" "$tmp/pw.first" || bad "$NEW cannot bind with the password of the activation"
		others_kept "$d" "$td" "$OLD" "$NEW"
		;;
	revoke | restore)
		if [ "$s" != 0 ] && [ "$cmd" = restore ] && grep -q 'not revoked (active)' "$transcript"; then
			notes="$notes (retry: not revoked (active), exit $s)"
		elif [ "$s" != 0 ]; then
			bad "retry failed (activatectl $s: $(head -1 "$transcript"))"
		fi
		[ "$user" = "$OLD" ] || bad "username '$user' in the store"
		if [ "$cmd" = revoke ]; then
			[ "$(state_name "$st")" = revoked ] || bad "state $(state_name "$st"), not revoked"
			why=$(same_entries "$d" "$OLD" "$tmp/t-active.ldif" "$OLD" 's/^userPassword: {CRYPT}/userPassword: {CRYPT}!/; /^shadowExpire: /d; $a shadowExpire: 1')
			[ -z "$why" ] || bad "the entries are not the active ones locked and expired: $why"
			binds "$OLD" "$tmp/pw.first" && bad "a revoked $OLD can bind"
		else
			[ "$(state_name "$st")" = active ] || bad "state $(state_name "$st"), not active"
			why=$(same_entries "$d" "$OLD" "$tmp/t-active.ldif" "$OLD")
			[ -z "$why" ] || bad "the entries are not the ones before the revoke: $why"
			binds "$OLD" "$tmp/pw.first" || bad "a restored $OLD cannot bind"
		fi
		others_kept "$d" "$td" "$OLD"
		;;
	esac
	common "$t"
}
# What every point must end with, whatever the command.
common() {	# common TEMPLATE
	local out	# read_facts and read_tfacts done
	[ "$persons" = 2 ] || bad "person rows: '$persons', not 2"
	[ "$pname" = "Ola Nordmann $SN" ] || bad "the person's row is lost or changed: '$pname'"
	[ "$other" = "$t_other" ] || bad "the other person's row changed: '$other', was '$t_other'"
	# no lease of a finished command; the killed process's may stay (its flock went with it: taken
	# over at once on this host, elsewhere expired), when the retry did not need it ("already active")
	[ -z "$leases" ] || [ "$leases" = "$killed_leases" ] ||
		bad "a lease left: $leases$([ -n "$killed_leases" ] && echo ", after the kill $killed_leases")"
	out=$(diff -r "$1/root" "$R" 2>&1) || bad "the local sysroot changed: $(echo "$out" | head -2 | tr '\n' ' ')"
	ctl audit --verify >"$tmp/audit.out" 2>&1 || bad "audit --verify: $(head -1 "$tmp/audit.out")"
}
reference_ok() {	# reference_ok CMD STATUS: its checks, and the killer saw both servers and knew every socket
	fails= was_complete=no killed_leases= transcript=$tmp/ref.out
	invariants "$1" "$tpl" "$2"
	grep -q 'unknown socket' "$tmp/kill.log" && bad "the killer could not tell a socket: $(grep -m1 'unknown socket' "$tmp/kill.log")"
	grep -q "127.0.0.1:$pgport>" "$tmp/kill.log" || bad "no send to PostgreSQL counted"
	grep -q "127.0.0.1:$lport>" "$tmp/kill.log" || bad "no send to slapd counted"
	[ -z "$fails" ]
}

# --- the templates, and the checks checked -------------------------------------------------------------
begin=$(date +%s)
save_as t-pending
dialogue activate "$tmp/first.out"
grep -q "Your account is ready" "$tmp/first.out" || { echo "FAIL: a plain activation does not work:"; sed 's/^/    /' "$tmp/first.out"; exit 1; }
chosen "$tmp/first.out" "$tmp/pw.first" || { echo "FAIL: no password in the plain activation"; exit 1; }
save_as t-active
grep -q "^uid=$OLD,$people	uidNumber: 70001\$" "$tmp/t-active.ldif" ||
	{ echo "FAIL: the plain activation did not skip eva's 70000: $(grep "^uid=$OLD,$people	uidNumber" "$tmp/t-active.ldif")"; exit 1; }
for c in rename revoke restore; do
	case $c in rename) from=t-active to=t-renamed ;; revoke) from=t-active to=t-revoked ;; restore) from=t-revoked to=t-restored ;; esac
	restore_from "$tmp/$from"
	ctl $(ctl_args $c) >"$tmp/$c.out" 2>&1 || { echo "FAIL: a plain $c does not work:"; cat "$tmp/$c.out"; exit 1; }
	save_as "$to"
done

checks=0
self_check() {	# self_check CMD GOOD [BREAKAGE]
	checks=$((checks + 1))
	restore_from "$tmp/$2"
	[ -z "${3:-}" ] || eval "$3" >/dev/null 2>&1 || { echo "FAIL: self-check: cannot break it so: $3"; exit 1; }
	fails= was_complete=no killed_leases= transcript=$tmp/self.transcript
	{ printf 'Your account is ready\n  1  '; cat "$tmp/pw.first"; echo; } >"$transcript"
	invariants "$1" "$tmp/$(template_of "$1")" 0
	if [ -z "${3:-}" ] && [ -n "$fails" ]; then echo "FAIL: $1 without a kill breaks the invariants: $fails"; exit 1; fi
	if [ -n "${3:-}" ] && [ -z "$fails" ]; then echo "FAIL: the invariants of $1 do not see this: $3"; exit 1; fi
}
mod() { printf 'dn: %s\nchangetype: modify\n%b\n' "$1" "$2" | lmod; }	# mod DN "CHANGES" (\n between lines)
U="uid=$OLD,$people" G="cn=$OLD,$groups"
self_check activate t-active
for breakage in "mod '$students' 'delete: memberUid\nmemberUid: $OLD'" "mod '$U' 'replace: uidNumber\nuidNumber: 70050'" \
	"ldapdelete -x -H '$luri' -D '$admin' -y '$tmp/admin.pw' '$G'" "mod '$U' 'add: shadowExpire\nshadowExpire: 1'" \
	"mod '$U' 'replace: userPassword\nuserPassword: {CRYPT}\$y\$j9T\$abc\$def'" "mod '$U' 'delete: loginShell'" \
	"mod '$U' 'replace: cn\ncn: Ola N'" "mod '$students' 'delete: memberUid\nmemberUid: kari'" \
	"mod 'uid=eva,$people' 'replace: loginShell\nloginShell: /bin/sh'" "mod '$alloc' 'replace: uidNumber\nuidNumber: 69999'" \
	"printf 'dn: uid=$NEW,$people\nobjectClass: account\nuid: $NEW\n' | ldapadd -x -H '$luri' -D '$admin' -y '$tmp/admin.pw'" \
	"q \"UPDATE person SET state = 1 WHERE id_number = '$ID'\"" "q \"UPDATE person SET pin_spent = 0 WHERE id_number = '$ID'\"" \
	"q \"UPDATE person SET uid = 70002, gid = 70002 WHERE id_number = '$ID'\"" "q \"UPDATE person SET state = 1 WHERE id_number = '$OID'\"" \
	"q \"INSERT INTO person_lease VALUES (1, 'x', 1, 1)\"" "mkdir '$R/home/$OLD'" \
	"q \"ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET result = 'x' WHERE seq = 1\""; do
	self_check activate t-active "$breakage"
done
self_check rename t-renamed
self_check rename t-active true	# not renamed
self_check rename t-renamed "mod '$students' 'add: memberUid\nmemberUid: $OLD'"
self_check rename t-renamed "q \"UPDATE person SET username = '$OLD' WHERE id_number = '$ID'\""
self_check rename t-renamed "mod 'uid=$NEW,$people' 'replace: homeDirectory\nhomeDirectory: /home/$OLD'"
self_check revoke t-revoked
self_check revoke t-active true	# not revoked
self_check revoke t-revoked "mod '$U' 'delete: shadowExpire'"
self_check restore t-restored
self_check restore t-revoked true	# not restored
self_check restore t-restored "mod '$U' 'add: shadowExpire\nshadowExpire: 1'"
echo "self-check: the invariants pass each command's end state and see each of $((checks - 4)) breakages of it"
