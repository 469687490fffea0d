#!/bin/bash
# clients.sh: the activation dialogue through SSH clients other than
# OpenSSH's (PuTTY's plink, paramiko, dropbear's dbclient, libssh), and
# OpenSSH's ssh at its defaults and with -q, against the real
# /usr/sbin/sshd with the build's module, inside a private mount namespace
# with a private copy of /etc, /home, /run and /var/log: nothing on the host
# changes. A tool that is missing is a failure.
#   top_builddir  the build directory (default: the current directory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-$(pwd)}
build=$(cd "$build" && pwd)
missing=
[ "$(id -u)" = 0 ] || missing="$missing root"
for t in /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen /usr/bin/expect /usr/bin/unshare \
	/usr/bin/plink /usr/bin/dbclient /usr/bin/python3 /usr/bin/pkg-config; do
	[ -x "$t" ] || missing="$missing $t"
done
command -v cc >/dev/null 2>&1 || missing="$missing cc"
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || missing="$missing python3-paramiko"
pkg-config --exists libssh 2>/dev/null || missing="$missing libssh-dev"
locale -a 2>/dev/null | grep -qix 'C.utf-\?8' || missing="$missing the C.UTF-8 locale"
for f in "$build/.libs/pam_activate.so" "$build/.libs/pam_activate_relay.so" "$build/activate-helper" \
	"$build/activatectl" "$build/po/nb/LC_MESSAGES/pam_activate.mo"; do
	[ -e "$f" ] || missing="$missing $f (build first)"
done
if [ -n "$missing" ]; then
	echo "FAIL: the SSH client tests need:$missing (scripts/setup installs them)"
	exit 1
fi
export build here
exec unshare --mount --propagation private bash "$here/clients-inner.sh"
