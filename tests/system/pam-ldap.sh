#!/bin/sh
# pam-ldap.sh FILE: Debian's pam_ldap.so (libpam-ldapd) at FILE, for the
# campus test, extracted from the package and not installed: its postinst
# runs pam-auth-update, which would add pam_ldap to the host's common-auth.
# Nothing to do when FILE exists. Used by scripts/setup and campus.sh.
set -eu
dest=${1:?a file}
[ -f "$dest" ] && exit 0
deb=$(mktemp -d)
trap 'rm -rf "$deb"' EXIT
(cd "$deb" && { apt-get download libpam-ldapd >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null && apt-get download libpam-ldapd >/dev/null; }; })
dpkg-deb -x "$deb"/libpam-ldapd_*.deb "$deb/x"
mkdir -p "$(dirname "$dest")"
cp "$(find "$deb/x" -name pam_ldap.so | head -n 1)" "$dest"
