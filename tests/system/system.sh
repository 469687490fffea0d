#!/bin/bash
# system.sh: the installed-style module behind the real /usr/sbin/sshd and
# /bin/login, driven by the real ssh client and expect, inside a private
# mount namespace with a private copy of /etc, /home, /run and /var/log:
# nothing on the host changes. A tool that is missing is a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-$(pwd)}
missing=
[ "$(id -u)" = 0 ] || missing="$missing root"
for t in /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen /usr/bin/expect /bin/login /usr/bin/unshare; do
	[ -x "$t" ] || missing="$missing $t"
done
if [ -n "$missing" ]; then
	echo "FAIL: the system tests need:$missing (scripts/setup installs them)"
	exit 1
fi
export build here
exec unshare --mount --propagation private bash "$here/inner.sh"
