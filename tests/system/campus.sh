#!/bin/bash
# campus.sh: several lab machines on one store and one directory. A hub
# (network, mount and PID namespaces of its own) holds a bridge, a private
# OpenLDAP slapd and PostgreSQL 15 on it, and N "machines", each a network
# and mount namespace joined to the bridge by a veth pair, with a private
# /etc, nslcd reading the directory and the real sshd. Nothing is added to
# the host's namespaces. A tool that is missing is a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-$(pwd)}
missing=
[ "$(id -u)" = 0 ] || missing="$missing root"
for t in /usr/sbin/sshd /usr/bin/ssh /usr/bin/expect /usr/bin/unshare /usr/sbin/slapd /usr/sbin/slapadd \
	/usr/bin/ldapsearch /usr/bin/ldapadd /usr/sbin/nslcd /usr/lib/postgresql/15/bin/initdb /usr/bin/setpriv \
	/usr/sbin/ip /usr/bin/openssl /usr/bin/jq /usr/bin/python3; do
	[ -x "$t" ] || missing="$missing $t"
done
[ -e /lib/x86_64-linux-gnu/libnss_ldap.so.2 ] || [ -n "$(find /lib /usr/lib -name 'libnss_ldap.so.2' 2>/dev/null | head -n 1)" ] ||
	missing="$missing libnss_ldap.so.2"
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || missing="$missing python3-paramiko"
# the build tree of make distcheck is not the one scripts/setup filled
sh "$here/pam-ldap.sh" "$build/tests/pam_ldap.so" || missing="$missing pam_ldap.so (libpam-ldapd)"
if [ -n "$missing" ]; then
	echo "FAIL: the campus tests need:$missing (scripts/setup installs them)"
	exit 1
fi
export build here
exec unshare --mount --net --pid --fork --mount-proc --propagation private bash "$here/campus-inner.sh"
