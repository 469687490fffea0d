#!/bin/bash
# greeters.sh: the build's module behind real greeters, headless: LightDM with
# lightdm-gtk-greeter and with slick-greeter under Xvfb (typed into with
# xdotool, read back by OCR of screenshots), and greetd with agreety on a
# text console (VT 8, typed into by TIOCSTI, read back from /dev/vcsa8).
# Inside private mount, PID and network namespaces with a private copy of /etc
# and private /home, /run, /tmp, /var/log, LightDM's /var/lib folders and /var/lib/xkb:
# nothing on the host changes but VT 8, which is allocated for the run and
# freed after. A tool that is missing is a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-$(pwd)}
missing=
[ "$(id -u)" = 0 ] || missing="$missing root"
for t in /usr/sbin/lightdm /usr/sbin/lightdm-gtk-greeter /usr/sbin/slick-greeter /usr/bin/Xvfb \
	/usr/bin/xdotool /usr/bin/import /usr/bin/convert /usr/bin/tesseract /usr/bin/dbus-daemon \
	/usr/sbin/greetd /usr/sbin/agreety /usr/bin/perl /usr/bin/unshare /usr/bin/setsid \
	"$build/.libs/pam_activate.so" "$build/.libs/pam_activate_relay.so" "$build/activate-helper" \
	"$build/activatectl"; do
	[ -x "$t" ] || [ -f "$t" ] || missing="$missing $t"
done
[ -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ] || missing="$missing tesseract-ocr-eng"
for u in lightdm _greetd messagebus; do
	getent passwd "$u" >/dev/null || missing="$missing the user $u"
done
for d in /var/lib/lightdm /var/lib/lightdm-data /var/lib/xkb /usr/share/xsessions; do
	[ -d "$d" ] || missing="$missing $d"
done
[ -c /dev/tty0 ] && [ -c /dev/tty8 ] || missing="$missing a kernel console (/dev/tty0, /dev/tty8)"
tiocsti=/proc/sys/dev/tty/legacy_tiocsti
[ ! -e "$tiocsti" ] || [ "$(cat "$tiocsti")" = 1 ] || missing="$missing dev.tty.legacy_tiocsti=1"
if [ -n "$missing" ]; then
	echo "FAIL: the greeter tests need:$missing (scripts/setup installs the packages)"
	exit 1
fi
# The work folder is outside /tmp: the namespaces get a private /tmp (Xvfb's
# /tmp/.X0-lock and /tmp/.X11-unix must not collide with the host's or another run's).
work=$(mktemp -d /var/tmp/pam_activate-greeters.XXXXXX) || exit 1
chmod 0700 "$work"
export build here work
unshare --mount --propagation private --pid --fork --mount-proc --net bash "$here/greeters-inner.sh"
rc=$?
rm -rf "$work"
exit "$rc"
