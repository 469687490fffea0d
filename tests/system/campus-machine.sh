#!/bin/bash
# campus-machine.sh N: one lab machine of the campus test, run by
# campus-inner.sh in a network and mount namespace of its own. It waits for
# its end of the veth pair (eth0), takes 10.77.0.(10+N), makes a private
# /etc (NSS from the directory through nslcd), /home, /run and /var/log,
# and runs nslcd and the real sshd as foreground children until killed.
#   work  the campus test's directory; machine N keeps its files in work/mN
#   build, here, ldap_uri, ldap_base  as in campus-inner.sh
#   campus_database, pg_dir  the shared store (else a SQLite file of this machine's)
#   campus_accounts  ldap (default: the directory) or files (this machine's /etc: the
#                    benchmark's single-machine peer)
#   campus_sshd_config  sshd_config lines to add (default none)
set -u
n=$1
me="$work/m$n"
addr=10.77.0.$((10 + n))
mkdir -p "$me"
for _ in $(seq 100); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.05; done
ip link set lo up && ip addr add "$addr/24" dev eth0 && ip link set eth0 up || { echo "m$n: no network"; exit 1; }

. "$here/private.sh"
private_system "$me" || { echo "m$n: no private system"; exit 1; }
sed -i -E 's/^(passwd|group|shadow):.*/\1: files ldap/' /etc/nsswitch.conf
# A local account of the machine's own (uid over pam_ldap's minimum_uid, as an ordinary
# user's), made before nslcd starts so that nss_initgroups_ignoreusers ALLLOCAL counts it:
# its logins must go on while a server is down.
useradd -m -u 2001 -s /bin/bash -p "$(openssl passwd -6 Lokal-Bruker-77)" lokal || { echo "m$n: no local user"; exit 1; }
install -m 0640 -g nslcd /dev/null /etc/nslcd.conf
# reconnect_retrytime: nslcd holds every lookup for up to this long (default 10 s) before it
# deems a stopped directory down; at the default the local user's first login during the
# outage waits about 20 s in pam_ldap, which is nslcd's doing, not the module's
printf 'uid nslcd\ngid nslcd\nuri %s\nbase %s\nnss_initgroups_ignoreusers ALLLOCAL\nreconnect_retrytime 2\n' \
	"$ldap_uri" "$ldap_base" >/etc/nslcd.conf
install -d -o nslcd -g nslcd /run/nslcd
nslcd -n >"$me/nslcd.log" 2>&1 &
nslcd_pid=$!
# Passwords of directory users are checked by the directory (pam_ldap binds as the user),
# so no hash leaves it; pam_unix after it stays for the local accounts.
pam_ldap="$build/tests/pam_ldap.so"
sed -i "/^@include common-auth/i auth [success=done authinfo_unavail=ignore user_unknown=ignore default=ignore] $pam_ldap minimum_uid=1000" \
	/etc/pam.d/sshd
sed -i "/^@include common-account/i account [success=done authinfo_unavail=ignore user_unknown=ignore ignore=ignore default=bad] $pam_ldap minimum_uid=1000" \
	/etc/pam.d/sshd

# The module on sshd, accounts in the directory (StartTLS, the hub's CA), the store per
# the hub's choice (campus_database; default this machine's own SQLite file)
install -m 0600 "$work/ldap/bind.secret" /etc/security/activate-ldap.secret
private_conf "$me" <<CONF
pin_hash_cost = min
max_attempts = 3
throttle_failures = 1000
CONF
if [ "${campus_accounts:-ldap}" = ldap ]; then
	cat >>/etc/security/activate.conf <<CONF
groups = students
accounts = ldap
ldap_uri = $ldap_uri
ldap_people_base = ou=people,$ldap_base
ldap_groups_base = ou=groups,$ldap_base
ldap_bind_dn = cn=admin,$ldap_base
ldap_bind_password_file = /etc/security/activate-ldap.secret
ldap_ca_file = $work/ldap/ca.pem
CONF
fi
if [ -n "${campus_database:-}" ]; then	# one store for the campus: its URL, password, CA and pepper
	sed -i "s|^database = .*|database = $campus_database|" /etc/security/activate.conf
	install -m 0600 "$pg_dir/password" /etc/security/activate-db.secret
	printf 'database_password_file = /etc/security/activate-db.secret\ndatabase_ca_file = %s\n' \
		"$pg_dir/tls/ca.pem" >>/etc/security/activate.conf
	install -m 0400 "$work/pepper" /etc/security/activate.pepper
fi
"$build/activatectl" --config /etc/security/activate.conf init >"$me/init.log" 2>&1 ||
	{ echo "m$n: activatectl init failed"; cat "$me/init.log"; exit 1; }
private_pam sshd || { echo "m$n: no pam.d lines"; exit 1; }
# the home at the first login on each machine, as conf/pam.d-mkhomedir says
grep '^session' "$here/../../conf/pam.d-mkhomedir" >>/etc/pam.d/common-session

# campus_sshd_config: sshd_config lines of the caller's (the benchmark's peer raises MaxStartups)
listen=$addr sshd_port=22 private_sshd "$me" <<<"${campus_sshd_config:-}" || { echo "m$n: sshd did not start"; cat "$me/sshd.log"; exit 1; }
: >"$work/ready-m$n"
trap 'kill "$sshd_pid" "$nslcd_pid" 2>/dev/null' TERM INT
wait
