#!/bin/bash
# campus-inner.sh: the hub of campus.sh (its own network, mount and PID
# namespaces): the bridge, the servers, the machines, then the checks.
#   CAMPUS_MACHINES  how many machines (default 8: the many activations run one stream
#                    on each; at least 3)
#   CAMPUS_PEOPLE    how many people the many activations make (default 200)
#   CAMPUS_BENCH     set: no checks but the servers' and machines' start; the many
#                    activations CAMPUS_BENCH_RUNS times (default 3), each against the same
#                    on one machine with SQLite and files, as figures (make bench prints
#                    them; key=value lines go to CAMPUS_BENCH_OUT for its summary)
set -u
work=$(mktemp -d /tmp/pam_activate-campus.XXXXXX)
chmod 0711 "$work"	# postgres, not root, must traverse it to its own directory
machines=${CAMPUS_MACHINES:-8}
people=${CAMPUS_PEOPLE:-200}
bench=${CAMPUS_BENCH:-}
pids=
declare -A mpid
drive="/usr/bin/python3 $here/campus-drive.py"

. "$here/harness.sh"

finish() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	slapd_stop
	pg_stop
	[ -n "${CAMPUS_KEEP:-}" ] || rm -rf "$work"
	totals
}

[ "$machines" -ge 3 ] 2>/dev/null || { bad "CAMPUS_MACHINES=$machines: the checks need 3 machines or more"; finish; exit 1; }

# --- the hub: a private system, the bridge, the servers ----------------------
. "$here/private.sh"
. "$here/servers.sh"
mkdir -p "$work/hub" && private_system "$work/hub" ||
	{ bad "the hub's private /etc, /home, /run, /var/log"; finish; exit 1; }
# The bridge's own address fixed: else it takes the lowest of its ports' and changes when a
# machine joins later (the benchmark's peer), and the machines' ARP entries for the hub go stale.
ip link set lo up && ip link add br0 address 02:77:00:00:00:01 type bridge && ip addr add 10.77.0.1/24 dev br0 &&
	ip link set br0 up ||
	{ bad "the hub's bridge"; finish; exit 1; }
name="slapd starts on the bridge (cn=config, mdb, unique uid and uidNumber, TLS)"
check slapd_start "$work/ldap" 10.77.0.1 389
tr -d '\n' <"$work/ldap/bind.secret" >"$work/ldap/bind.pw"	# ldapadd -y takes the file's bytes, newline and all
name="PostgreSQL 15 starts on the bridge"
check pg_start 10.77.0.1 5432

# --- the machines -------------------------------------------------------------
# one store for every machine, and so one pepper
campus_database=$pg_url
install -m 0400 /dev/null "$work/pepper" && head -c 32 /dev/urandom >"$work/pepper"
export work ldap_uri ldap_base campus_database pg_dir
start_machine() {	# start_machine N [VAR=VALUE...]: machine N (10.77.0.(10+N)) in the background
	local n=$1 pid
	shift
	env "$@" unshare --net --mount --propagation private bash "$here/campus-machine.sh" "$n" >"$work/m$n.log" 2>&1 &
	pid=$!
	pids="$pids $pid"
	mpid[$n]=$pid
	# the veth's far end goes into the machine's network namespace: wait until it has one
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.02
	done
	ip link add "veth$n" type veth peer name eth0 netns "$pid" && ip link set "veth$n" master br0 &&
		ip link set "veth$n" up || bad "machine $n: its veth pair"
}
for n in $(seq "$machines"); do start_machine "$n"; done
machines_ready() {	# machines_ready N...: each has its sshd listening
	for _ in $(seq 300); do
		all=1
		for n in "$@"; do [ -e "$work/ready-m$n" ] || all=; done
		[ -n "$all" ] && return 0
		sleep 0.1
	done
	for n in "$@"; do echo "--- m$n"; cat "$work/m$n.log"; done
	return 1
}
name="$machines machines up: each its own network, /etc, nslcd and sshd"
check machines_ready $(seq "$machines")
machine() { local n=$1; shift; nsenter -t "${mpid[$n]}" -m -n -- "$@"; }	# machine N CMD...: run CMD on machine N
ctl="$build/activatectl --config /etc/security/activate.conf"
export port=22
wait_file() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done; echo "no $1"; return 1; }
said() { sed -n 's/^SAID: //p' "$1"; }	# what the helper last showed, in a campus-drive.py transcript

# --- many activations, spread over the machines -----------------------------------
# roster_of FIRST N: N people from ID number FIRST, with names that repeat as a real
# intake's do (ten given names, ten family names), so that the machines pick usernames
# for namesakes at the same time
roster_of() {
	awk -v first="$1" -v n="$2" 'BEGIN {
		split("Ola Kari Per Åse Nils Ingrid Øystein Marte Håkon Siri", given, " ")
		split("Nordmann Hansen Ødegård Johansen Ås Berg Dahl Lie Strand Haugen", family, " ")
		print "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on"
		for (i = 0; i < n; i++)
			printf "%d,%d,%s,%s,student,Informatics,2026-08-14\n", first + i, first + 1000000 + i,
				given[i % 10 + 1], family[int(i / 10) % 10 + 1]
	}'
}

# intake M TAG FIRST [N]: N people (default CAMPUS_PEOPLE) imported and given PINs on
# machine M; leaves work/TAG.people, "ID STUDENT PIN" lines for campus-drive.py many
intake() {
	local n=${4:-$people}
	roster_of "$3" "$n" >"$work/$2.csv"
	machine "$1" $ctl import "$work/$2.csv" >"$work/$2.import" 2>&1 || { cat "$work/$2.import"; return 1; }
	# shellcheck disable=SC2046
	machine "$1" $ctl issue $(seq "$3" $(($3 + n - 1))) --output "$work/$2.pins" >"$work/$2.issue" 2>&1 ||
		{ cat "$work/$2.issue"; return 1; }
	tail -n +2 "$work/$2.pins" | tr -d '"' | awk -F, '{ print $1, $2, $5 }' >"$work/$2.people"
	[ "$(wc -l <"$work/$2.people")" = "$n" ] || { echo "PINs for $(wc -l <"$work/$2.people") of $n"; return 1; }
}

# The peak of PostgreSQL connections to the store (the sampler's own, to another
# database, not counted), every 100 ms until FILE.stop exists; written to FILE.
pg_peak() {
	local peak=0 n
	while [ ! -e "$1.stop" ]; do
		n=$(pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'campus'" 2>/dev/null)
		[ "${n:-0}" -gt "$peak" ] && peak=$n
		sleep 0.1
	done
	echo "$peak" >"$1"
}

# drive_many TAG HOSTS: TAG.people through campus-drive.py, a stream per host (comma-separated);
# the peak of store connections in TAG.pgpeak when the store is PostgreSQL
drive_many() {
	local sampler
	rm -f "$work/$1.pgpeak" "$work/$1.pgpeak.stop"
	pg_peak "$work/$1.pgpeak" & sampler=$!
	$drive many "$work/$1.out" "$2" <"$work/$1.people"
	local rc=$?
	: >"$work/$1.pgpeak.stop"
	wait "$sampler"
	return $rc
}

# figures TAG: "RATE P50 P99 FAILED WALL" of TAG.out: activations made a second over the
# whole run (first connect to last close), and the helper's time per activation in ms,
# from its first prompt to the type-back prompt, which it sends after the commit (the
# driver's stamps: audit rows carry whole seconds only)
figures() {
	awk '
		{ if (min == "" || $5 < min) min = $5; if ($8 > max) max = $8 }
		$3 == 0 && $6 != "-" && $7 != "-" { t[++n] = ($7 - $6) * 1000 }
		$3 != 0 { failed++ }
		END {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
			p50 = n ? t[int((n + 1) / 2)] : 0
			k = int(0.99 * n + 0.999999); p99 = n ? t[k < 1 ? 1 : k] : 0
			printf "%.1f %.0f %.0f %d %.1f\n", n / (max - min), p50, p99, failed + 0, max - min
		}' "$work/$1.out"
}

all_hosts() { for n in $(seq "$machines"); do printf '%s10.77.0.%d' "${sep-}" $((10 + n)); sep=,; done; unset sep; }

# --- the benchmark: the many activations, against one machine on SQLite and files ----
if [ -n "$bench" ]; then
	runs=${CAMPUS_BENCH_RUNS:-3}
	peer=$((machines + 1))
	# The peer takes all the streams on one sshd: MaxStartups raised, as sshd-crowd.sh shows
	# the default (10:30:100) dropping connections at that many dialogues at once.
	name="the peer: machine $peer with its own SQLite store and account files, MaxStartups 100"
	start_machine "$peer" campus_database= campus_accounts=files campus_sshd_config="MaxStartups 100"
	check machines_ready "$peer"
	# The servers durable, as a campus runs them and as the peer is (SQLite synchronous FULL,
	# the account files fsynced): pgserver.sh and slapd.sh start them with fsync off and
	# olcDbNoSync for the tests' speed.
	durable() {
		pg_sql postgres "ALTER SYSTEM SET fsync = on" "ALTER SYSTEM SET synchronous_commit = on" \
			"ALTER SYSTEM SET full_page_writes = on" "SELECT pg_reload_conf()" >/dev/null || return 1
		slapd_halt || return 1
		printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nreplace: olcDbNoSync\nolcDbNoSync: FALSE\n' |
			/usr/sbin/slapmodify -n0 -F "$slapd_dir/slapd.d" -q || return 1
		slapd_resume && grep -rq 'olcDbNoSync: FALSE' "$slapd_dir/slapd.d" || return 1
		for _ in $(seq 50); do	# until the postmaster has read the reload
			[ "$(pg_sql postgres "SHOW fsync" "SHOW synchronous_commit" | tr '\n' ' ')" = "on on " ] && return 0
			sleep 0.1
		done
		return 1
	}
	name="PostgreSQL with fsync and synchronous_commit on, slapd without olcDbNoSync"
	check durable
	peer_hosts=$(for n in $(seq "$machines"); do echo "10.77.0.$((10 + peer))"; done | paste -sd,)
	for r in $(seq "$runs"); do
		name="run $r: $people people get PINs in the store"
		check intake 1 "campus$r" $((7000000 + r * 10000))
		name="run $r: $people activations over $machines machines"
		check drive_many "campus$r" "$(all_hosts)" &&
			echo "$(figures "campus$r") $(cat "$work/campus$r.pgpeak")" >>"$work/campus.runs"
		name="run $r: $people people get PINs on the peer"
		check intake "$peer" "peer$r" $((8000000 + r * 10000))
		name="run $r: $people activations on the peer, $machines streams"
		check drive_many "peer$r" "$peer_hosts" && figures "peer$r" >>"$work/peer.runs"
	done
	touch "$work/campus.runs" "$work/peer.runs"	# a part that failed has no line: the medians are of those that ran

	# One activation more, alone, with every statement logged at PostgreSQL and every
	# operation at slapd (stats): its round trips to each.
	round_trips() {
		local pglines ldlines u
		pg_sql postgres "ALTER SYSTEM SET log_statement = 'all'" "ALTER SYSTEM SET log_connections = on" \
			"ALTER SYSTEM SET log_disconnections = on" "ALTER SYSTEM SET log_line_prefix = '%m [%p] %u@%d '" \
			"SELECT pg_reload_conf()" >/dev/null || return 1
		slapd_halt && slapd_resume 256 || return 1
		intake 1 one 7900000 1 || return 1
		pglines=$(wc -l <"$pg_dir/log")
		ldlines=$(wc -l <"$slapd_dir/slapd.log")
		$drive one 10.77.0.11 $(head -n 1 "$work/one.people") 1 >"$work/one.out" || { cat "$work/one.out"; return 1; }
		for _ in $(seq 100); do	# until the helper has left both: its sessions ended, its connections closed
			tail -n +$((pglines + 1)) "$pg_dir/log" | grep ' activate@campus ' >"$work/one.pglog"
			tail -n +$((ldlines + 1)) "$slapd_dir/slapd.log" >"$work/one.ldlog"
			[ "$(grep -c 'connection authorized' "$work/one.pglog")" = "$(grep -c 'disconnection:' "$work/one.pglog")" ] &&
				awk '/BIND dn="cn=admin,/ { match($0, /conn=[0-9]+/); open[substr($0, RSTART, RLENGTH)] = 1 }
					/ fd=[0-9]+ closed/ { match($0, /conn=[0-9]+/); delete open[substr($0, RSTART, RLENGTH)] }
					END { for (c in open) exit 1 }' "$work/one.ldlog" && break
			sleep 0.05
		done
		pg_sql postgres "ALTER SYSTEM RESET log_statement" "ALTER SYSTEM RESET log_connections" \
			"ALTER SYSTEM RESET log_disconnections" "ALTER SYSTEM RESET log_line_prefix" "SELECT pg_reload_conf()" >/dev/null
		slapd_halt && slapd_resume 0
		u=$(sed -n 's/^USERNAME=//p' "$work/one.out")
		[ -n "$u" ]
	}
	name="one activation with the statements and operations logged"
	check round_trips
	pg_statements=$(grep -cE 'LOG:  (statement|execute [^:]*):' "$work/one.pglog")
	pg_sessions=$(grep -c 'connection authorized' "$work/one.pglog")
	# a slapd connection is the helper's when it binds as the admin; the others are nslcd's
	awk '
		/ conn=[0-9]+ op=[0-9]+ (BIND|SRCH|ADD|MOD|MODRDN|DEL|CMP|EXT|UNBIND|ABANDON) / {
			match($0, /conn=[0-9]+/); c = substr($0, RSTART + 5, RLENGTH - 5)
			match($0, / op=[0-9]+ /); op = substr($0, RSTART, RLENGTH)	# an operation logs several lines
			if (!seen[c, op]++) ops[c]++
			if ($0 ~ /BIND dn="cn=admin,/) helper[c] = 1
		}
		END {
			for (c in ops) if (helper[c]) { hc++; ho += ops[c] } else { nc++; no += ops[c] }
			printf "%d %d %d %d\n", ho, hc, no, nc
		}' "$work/one.ldlog" >"$work/one.ld"
	read -r ld_ops ld_conns nss_ops nss_conns <"$work/one.ld"

	med() { cut -d' ' -f"$1" "$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	sum() { cut -d' ' -f"$1" "$2" | awk '{ s += $1 } END { print s + 0 }'; }
	c_rate=$(med 1 "$work/campus.runs") c_p50=$(med 2 "$work/campus.runs") c_p99=$(med 3 "$work/campus.runs")
	c_failed=$(sum 4 "$work/campus.runs") c_peak=$(med 6 "$work/campus.runs")
	p_rate=$(med 1 "$work/peer.runs") p_p50=$(med 2 "$work/peer.runs") p_p99=$(med 3 "$work/peer.runs")
	p_failed=$(sum 4 "$work/peer.runs")
	echo
	echo "$people activations, $machines at a time (pin_hash_cost min), median of $runs runs"
	echo "($(wc -l <"$work/campus.runs") campus runs and $(wc -l <"$work/peer.runs") peer runs of $runs went through)"
	printf '%-44s %10s %8s %8s %8s %8s\n' "" "act./s" "p50 ms" "p99 ms" "failed" "PG peak"
	printf '%-44s %10s %8s %8s %8s %8s\n' "$machines machines, one PostgreSQL, one slapd" "$c_rate" "$c_p50" "$c_p99" \
		"$c_failed" "$c_peak"
	printf '%-44s %10s %8s %8s %8s %8s\n' "one machine, SQLite and files ($machines streams)" "$p_rate" "$p_p50" "$p_p99" \
		"$p_failed" "-"
	echo "runs (act./s p50 p99 failed wall-s [PG-peak]):"
	sed 's/^/  campus: /' "$work/campus.runs"
	sed 's/^/  peer:   /' "$work/peer.runs"
	echo "(p50/p99: per activation, from the helper's first prompt to its type-back prompt, sent after"
	echo " the commit, as the driver stamped them; failed: over all runs; PG peak: connections to the store)"
	for t in campus peer; do	# why the failed ones failed, by the words the person was shown
		cat "$work/$t"[0-9]*.out 2>/dev/null | awk '$3 != 0' | cut -d' ' -f9- | sort | uniq -c | sed "s/^ */  $t failed: /"
	done
	echo "one activation alone: PostgreSQL $pg_statements statements on $pg_sessions connection(s);" \
		"slapd $ld_ops operations on $ld_conns connection(s) of the helper, $nss_ops of nslcd's on $nss_conns"
	{
		printf 'campus_%s\n' "rate=$c_rate" "p50=$c_p50" "p99=$c_p99" "failed=$c_failed" "pg_peak=$c_peak" \
			"pg_statements=$pg_statements" "pg_sessions=$pg_sessions" "ld_ops=$ld_ops" "ld_conns=$ld_conns" \
			"nss_ops=$nss_ops" "runs=$runs" "machines=$machines" "people=$people"
		printf 'campus_peer_%s\n' "rate=$p_rate" "p50=$p_p50" "p99=$p_p99" "failed=$p_failed"
	} >"${CAMPUS_BENCH_OUT:-/dev/null}"
	finish
	exit
fi

# --- a directory user, on every machine ----------------------------------------
seed_user() {	# seed_user NAME UID PASSWORD: a posixAccount + shadowAccount and its group
	local hash
	hash=$(printf '%s' "$3" | openssl passwd -6 -stdin)
	ldapadd -x -H "$ldap_uri" -D "$ldap_admin" -y "$work/ldap/bind.pw" <<LDIF
dn: cn=$1,ou=groups,$ldap_base
objectClass: posixGroup
cn: $1
gidNumber: $2

dn: uid=$1,ou=people,$ldap_base
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: $1
cn: $1
sn: $1
uidNumber: $2
gidNumber: $2
homeDirectory: /home/$1
loginShell: /bin/bash
userPassword: {CRYPT}$hash
shadowLastChange: 20000
LDIF
}
name="a directory user is added with a {CRYPT} password"
check seed_user diruser 90001 Katalog-Bruker-91
for n in $(seq "$machines"); do
	name="machine $n: the directory user logs in over ssh (NSS from nslcd, the password checked by the directory through pam_ldap)"
	check env host=10.77.0.$((10 + n)) expect -f "$here/ssh.exp" login diruser Katalog-Bruker-91
done

# --- an activation on one machine, a login on the others ------------------------
cat >"$work/roster.csv" <<'CSV'
id_number,student_number,given_name,family_name,kind,programme,fee_paid_on
5001,9001,Ola,Nordmann,student,Informatics,2026-08-14
5002,9002,Kari,Holm,student,Informatics,2026-08-14
5003,9003,Per,Lund,student,Informatics,2026-08-14
5004,9004,Marte,Lie,student,Informatics,2026-08-14
5005,9005,Siri,Berg,student,Informatics,2026-08-14
5006,9006,Nils,Dahl,student,Informatics,2026-08-14
CSV
machine 1 $ctl import "$work/roster.csv" >/dev/null
machine 1 $ctl issue --pending --output "$work/pins.csv" >/dev/null 2>&1
pin() { awk -F, -v id="\"$1\"" '$1 == id { gsub(/"/, "", $5); print $5 }' "$work/pins.csv"; }
name="machine 1: an activation over ssh makes the account in the directory"
check env host=10.77.0.11 expect -f "$here/ssh.exp" activate 5001 9001 "$(pin 5001)" own "Tr0ika-Campus-Maane-51"
user1=$(sed -n 's/^USERNAME=//p' "$work/last.out")
for n in $(seq 2 "$machines"); do
	name="machine $n: the account made on machine 1 logs in over ssh with the chosen password"
	check env host=10.77.0.$((10 + n)) expect -f "$here/ssh.exp" login "${user1:-none}" Tr0ika-Campus-Maane-51
	name="machine $n: pam_mkhomedir (conf/pam.d-mkhomedir) made the home there, owned by the new user"
	check machine "$n" sh -c "[ \"\$(stat -c %U:%a /home/${user1:-none})\" = '${user1:-none}:700' ] && [ -f /home/${user1:-none}/.profile ]"
done
name="machine 1: no home was made there by the helper (accounts = ldap)"
check machine 1 sh -c "[ ! -e /home/${user1:-none} ]"

# --- one store: the same PIN on two machines at once, a lock made on one ------------
busy_words='An activation of your account is already in progress\.|Your account is already active, with the username'
both() {	# the same details on machines 2 and 3 at once: exactly one activation, the other told why not
	local rc2 rc3 p2 p3
	$drive one 10.77.0.12 5002 9002 "$(pin 5002)" Tr0ika-Samtidig-52 >"$work/both2.out" 2>&1 &
	p2=$!
	$drive one 10.77.0.13 5002 9002 "$(pin 5002)" Tr0ika-Samtidig-52 >"$work/both3.out" 2>&1 &
	p3=$!
	wait "$p2"; rc2=$?
	wait "$p3"; rc3=$?
	echo "machine 2: $rc2: $(tr '\n' ' ' <"$work/both2.out")"
	echo "machine 3: $rc3: $(tr '\n' ' ' <"$work/both3.out")"
	case "$rc2 $rc3" in
	"0 3") said "$work/both3.out" | grep -Eq "$busy_words" ;;
	"3 0") said "$work/both2.out" | grep -Eq "$busy_words" ;;
	*) return 1 ;;
	esac
}
name="the same PIN on machines 2 and 3 at the same moment: exactly one activates, the other is told it is in progress or done"
check both
one_account() {	# one_account NAME ID: one entry for NAME in the directory, the person active once in the store
	local n
	n=$(ldapsearch -x -LLL -H "$ldap_uri" -b "ou=people,$ldap_base" "(cn=$1)" dn | grep -c '^dn:')
	echo "entries: $n"
	[ "$n" = 1 ] && machine 1 $ctl show "$2" | tee /dev/stderr | grep -q '^State  *active'
}
name="...one account in the directory, the person active once in the store"
check one_account "Kari Holm" 5002

# The lease made certain: machine 2 holds Marte Lie at the password prompt while machine 3 tries.
hold() {
	mkdir -p "$work/hold"
	$drive one 10.77.0.12 5004 9004 "$(pin 5004)" Tr0ika-Holdt-54 --hook "$work/hold" >"$work/hold2.out" 2>&1 &
	hold_pid=$!
	wait_file "$work/hold/at-password" || return 1
	machine 1 $ctl show 5004 | grep '^Held by' || { echo "activatectl show names no holder"; return 1; }
	$drive one 10.77.0.13 5004 9004 "$(pin 5004)" Tr0ika-Holdt-54 >"$work/hold3.out" 2>&1
	local rc=$?
	cat "$work/hold3.out"
	[ "$rc" = 3 ] && said "$work/hold3.out" | grep -q 'An activation of your account is already in progress\.'
}
name="machine 3 is told the activation is in progress while machine 2 holds the person at the password prompt"
check hold
release() {
	: >"$work/hold/go"
	wait "$hold_pid"
	local rc=$?
	cat "$work/hold2.out"
	[ "$rc" = 0 ] && grep -q '^USERNAME=' "$work/hold2.out"
}
name="...and machine 2 then finishes the activation"
check release
name="...one account in the directory for that person, active in the store"
check one_account "Marte Lie" 5004

lock() {	# three wrong PINs on machine 1, each its own connection; then the right one is refused
	local rc
	for _ in 1 2 3; do
		$drive one 10.77.0.11 5003 9003 11111111 none --once >"$work/lock.out"; rc=$?
		cat "$work/lock.out"
		[ "$rc" = 3 ] && said "$work/lock.out" | grep -Eq 'do not match our records|Too many failed attempts' || return 1
	done
	$drive one 10.77.0.11 5003 9003 "$(pin 5003)" none --once >"$work/lock.out"; rc=$?
	cat "$work/lock.out"
	[ "$rc" = 3 ] && said "$work/lock.out" | grep -q 'Too many failed attempts. Try again after'
}
name="machine 1: three wrong PINs lock the person"
check lock
for n in $(seq 2 "$machines"); do
	name="machine $n: the lock made on machine 1 holds here (the right PIN is refused)"
	check env host=10.77.0.$((10 + n)) expect -f "$here/ssh.exp" locked 5003 9003 "$(pin 5003)"
done

# --- a server down in the middle of a dialogue ---------------------------------------
# Every machine has a local account, lokal (campus-machine.sh): its logins on machine 1,
# where the interrupted dialogues run, must go on while a server is down.
name="machine 1: the local user logs in over ssh (its own line in the machine's passwd and shadow)"
check env host=10.77.0.11 expect -f "$here/ssh.exp" login lokal Lokal-Bruker-77

# interrupt SERVER ID: a dialogue for ID on machine 1, paused at the password prompt (after
# the reservation), while SERVER (pg, slapd) is stopped; answered once it is down
interrupt() {
	mkdir -p "$work/hook-$1"
	$drive one 10.77.0.11 "$2" $(($2 + 4000)) "$(pin "$2")" Tr0ika-Avbrudd-55 --hook "$work/hook-$1" \
		>"$work/interrupt-$1.out" 2>&1 &
	interrupted=$!
	wait_file "$work/hook-$1/at-password" && "$1_halt"
}
denied_cleanly() {	# denied_cleanly SERVER: the paused dialogue, answered, is told the service is not available
	: >"$work/hook-$1/go"
	wait "$interrupted"
	local rc=$?
	cat "$work/interrupt-$1.out"
	[ "$rc" = 3 ] && said "$work/interrupt-$1.out" | grep -q 'The activation service is not available right now\.'
}
# nothing_half_done ID NAME: the person provisioning or pending, the PIN not spent, and in the
# directory no entry for them, or one under the username the store holds (the intent)
nothing_half_done() {
	local u n
	machine 1 $ctl show "$1" | tee "$work/show.out" || return 1
	grep -Eq '^State +(provisioning|pending)$' "$work/show.out" && grep -Eq '^PIN +issued$' "$work/show.out" || return 1
	u=$(sed -n 's/^Username  *//p' "$work/show.out")
	ldapsearch -x -LLL -H "$ldap_uri" -b "ou=people,$ldap_base" "(cn=$2)" uid >"$work/entries" || return 1
	cat "$work/entries"
	n=$(grep -c '^dn:' "$work/entries")
	[ "$n" = 0 ] || { [ "$n" = 1 ] && [ -n "$u" ] && grep -qx "uid: $u" "$work/entries"; }
}
retried() {	# retried ID NAME: the same PIN again on machine 1 finishes it; one entry, a uidNumber, active, the PIN spent
	local u
	$drive one 10.77.0.11 "$1" $(($1 + 4000)) "$(pin "$1")" Tr0ika-Avbrudd-55 >"$work/retry.out" 2>&1
	cat "$work/retry.out"
	u=$(sed -n 's/^USERNAME=//p' "$work/retry.out")
	[ -n "$u" ] || return 1
	ldapsearch -x -LLL -H "$ldap_uri" -b "ou=people,$ldap_base" "(cn=$2)" uid uidNumber >"$work/entries" || return 1
	cat "$work/entries"
	[ "$(grep -c '^dn:' "$work/entries")" = 1 ] && grep -qx "uid: $u" "$work/entries" &&
		grep -q '^uidNumber: [0-9]' "$work/entries" || return 1
	machine 1 $ctl show "$1" | tee "$work/show.out"
	grep -Eq '^State +active$' "$work/show.out" && grep -Eq '^PIN +issued, spent$' "$work/show.out" &&
		grep -Eq "^Username +$u\$" "$work/show.out"
}

name="PostgreSQL is stopped (pg_ctl -m fast) while a dialogue on machine 1 waits at the password prompt"
check interrupt pg 5005
name="...machine 1: the local user logs in over ssh while PostgreSQL is down"
check env host=10.77.0.11 expect -f "$here/ssh.exp" login lokal Lokal-Bruker-77
name="...machine 2: the directory user logs in over ssh while PostgreSQL is down"
check env host=10.77.0.12 expect -f "$here/ssh.exp" login diruser Katalog-Bruker-91
name="...the dialogue, answered, is denied: the activation service is not available right now"
check denied_cleanly pg
name="...PostgreSQL starts again"
check pg_resume
name="...nothing half-done: provisioning or pending, the PIN unspent, no account without its intent"
check nothing_half_done 5005 "Siri Berg"
name="...a retry on machine 1 with the same PIN finishes the activation"
check retried 5005 "Siri Berg"
spent_once() {	# the PIN that finished it is refused now: spent once
	$drive one 10.77.0.11 5005 9005 "$(pin 5005)" Tr0ika-Avbrudd-55 >"$work/again.out" 2>&1
	local rc=$?
	cat "$work/again.out"
	[ "$rc" = 3 ] && said "$work/again.out" | grep -q 'Your account is already active'
}
name="...and the same PIN a third time is told the account is already active"
check spent_once

name="slapd is stopped (by its pid) while a dialogue on machine 1 waits at the password prompt, after the reservation"
check interrupt slapd 5006
name="...machine 1: the local user logs in over ssh while the directory is down"
check env host=10.77.0.11 expect -f "$here/ssh.exp" login lokal Lokal-Bruker-77
name="...the dialogue, answered, is denied: the activation service is not available right now"
check denied_cleanly slapd
name="...slapd starts again on the same addresses and data"
check slapd_resume
name="...nothing half-done: provisioning or pending, the PIN unspent, no account without its intent"
check nothing_half_done 5006 "Nils Dahl"
name="...a retry on machine 1 with the same PIN finishes the activation"
check retried 5006 "Nils Dahl"
name="...machine 2: the directory user logs in over ssh again"
check env host=10.77.0.12 expect -f "$here/ssh.exp" login diruser Katalog-Bruker-91

# --- many people at once, a stream on every machine ------------------------------------
name="$people people are imported and get PINs"
check intake 1 many 6000000
name="$people activations over $machines machines, $machines at a time (campus-drive.py many)"
check drive_many many "$(all_hosts)"
echo "    ($(figures many | awk '{ printf "%s activations/s, p50 %s ms, p99 %s ms, %s s", $1, $2, $3, $5 }');" \
	"peak PostgreSQL connections $(cat "$work/many.pgpeak" 2>/dev/null))"
no_failures() {	# every dialogue ended with a username
	local bad_ones
	[ "$(wc -l <"$work/many.out")" = "$people" ] || { echo "$(wc -l <"$work/many.out") results"; return 1; }
	bad_ones=$(awk '$3 != 0' "$work/many.out")
	[ -z "$bad_ones" ] || { echo "$bad_ones" | head -n 20; return 1; }
}
name="...no failures: every dialogue ended with a username"
check no_failures
all_active() {	# each of them active in the store under the username the dialogue showed
	machine 1 $ctl list --state active --json >"$work/active.json" || return 1
	jq -r '.[] | "\(.id_number) \(.username)"' "$work/active.json" | sort >"$work/active.pairs"
	awk '{ print $1, $4 }' "$work/many.out" | sort >"$work/many.pairs"
	comm -13 "$work/active.pairs" "$work/many.pairs" | head -n 20 | sed 's/^/not active so: /'
	[ -z "$(comm -13 "$work/active.pairs" "$work/many.pairs")" ]
}
name="...$people people active in the store, each under the username they were shown"
check all_active
distinct() {	# the directory: one entry per username, $people distinct usernames and uidNumbers among them
	ldapsearch -x -LLL -H "$ldap_uri" -b "ou=people,$ldap_base" "(objectClass=posixAccount)" uid uidNumber |
		awk '/^uid: / { u = $2 } /^uidNumber: / { print u, $2 }' | sort >"$work/dir.pairs" || return 1
	awk '{ print $4 }' "$work/many.out" | sort -u >"$work/many.users"
	join "$work/many.users" "$work/dir.pairs" >"$work/many.dir"
	echo "usernames $(wc -l <"$work/many.users"), in the directory $(wc -l <"$work/many.dir"), distinct uidNumbers" \
		"$(cut -d' ' -f2 "$work/many.dir" | sort -u | wc -l); in the whole directory: duplicate uids" \
		"$(cut -d' ' -f1 "$work/dir.pairs" | sort | uniq -d | wc -l), duplicate uidNumbers" \
		"$(cut -d' ' -f2 "$work/dir.pairs" | sort | uniq -d | wc -l)"
	[ "$(wc -l <"$work/many.users")" = "$people" ] && [ "$(wc -l <"$work/many.dir")" = "$people" ] &&
		[ "$(cut -d' ' -f2 "$work/many.dir" | sort -u | wc -l)" = "$people" ] &&
		[ -z "$(cut -d' ' -f1 "$work/dir.pairs" | sort | uniq -d)" ] &&
		[ -z "$(cut -d' ' -f2 "$work/dir.pairs" | sort | uniq -d)" ]
}
name="...$people distinct usernames and $people distinct uidNumbers in the directory, no duplicate anywhere in it"
check distinct
name="...activatectl audit --verify: the audit chain is intact"
check sh -c "nsenter -t ${mpid[1]} -m -n -- $ctl audit --verify | tee /dev/stderr | grep -q '^audit trail intact: '"

# --- last, as it holds the hub's address back: a throttle counts across machines -------
# Every machine sees the hub (10.77.0.1) as the client. The limit is set just above the
# failures already counted for it in the window, so that the next three, made on machine 1,
# reach it; machine 2, which made none of them, must then refuse.
throttle_limit() {
	local window=3600 base
	base=$(pg_sql campus "SELECT count(*) FROM throttle WHERE rhost = '10.77.0.1'
		AND at > extract(epoch FROM now())::bigint - $window") || return 1
	echo "failures from 10.77.0.1 already counted: $base"
	for n in 1 2; do
		machine "$n" sed -i -e '/^throttle_/d' -e "\$a throttle_failures = $((base + 3))" \
			-e "\$a throttle_window = $window" /etc/security/activate.conf || return 1
	done
	machine 2 grep '^throttle' /etc/security/activate.conf
}
name="throttle_failures on machines 1 and 2 set three above the failures counted for the hub's address"
check throttle_limit
not_yet() {	# machine 2 asks for the details (the throttle is checked before the first question)
	$drive one 10.77.0.12 5999 9999 00000000 none --first >"$work/throttle.out" 2>&1
	cat "$work/throttle.out"
	said "$work/throttle.out" | grep -q 'ID number: *$'
}
name="...machine 2 does not refuse the hub's address yet"
check not_yet
failures_on_1() {	# three failures on machine 1 (an unknown ID number: no person gets locked)
	local rc
	for _ in 1 2 3; do
		$drive one 10.77.0.11 5999 9999 00000000 none --once >"$work/throttle.out" 2>&1; rc=$?
		cat "$work/throttle.out"
		[ "$rc" = 3 ] && said "$work/throttle.out" | grep -q 'do not match our records' || return 1
	done
}
name="...three failed dialogues from the hub on machine 1"
check failures_on_1
throttled_on_2() {
	$drive one 10.77.0.12 5001 9001 00000000 none --first >"$work/throttle.out" 2>&1
	local rc=$?
	cat "$work/throttle.out"
	[ "$rc" = 3 ] && said "$work/throttle.out" | grep -q 'Too many failed attempts from your network address\. Try again later\.'
}
name="...machine 2 now refuses the hub's address with the throttle's words"
check throttled_on_2
throttle_audited() {	# the refusal, and the failures that led to it, in the audit trail
	machine 1 $ctl audit >"$work/audit.out" || return 1
	grep 'rhost=10.77.0.1 ' "$work/audit.out" | tail -n 5
	[ "$(grep -c ' throttle .*too many failures from this host.*rhost=10\.77\.0\.1 ' "$work/audit.out")" = 1 ] &&
		tail -n 1 "$work/audit.out" | grep -q ' throttle .*rhost=10\.77\.0\.1 '
}
name="...activatectl audit shows the throttle's refusal, once, for the hub's address"
check throttle_audited
finish
