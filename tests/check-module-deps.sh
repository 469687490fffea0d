#!/bin/sh
# The module is loaded into every login: it and the relay it loads for the
# trigger user may need libpam and libc only, and export only their entry
# points.
check() {	# check SO EXPECTED-EXPORTS
	so="${top_builddir:-.}/.libs/$1"
	[ -f "$so" ] || { echo "FAIL: $so not built"; exit 1; }
	needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
	echo "$1 NEEDED: $needed"
	for lib in $needed; do
		case "$lib" in
		libpam.so.*|libc.so.*) ;;
		libasan.so.*|libubsan.so.*) ;;	# the sanitizer build only
		*) echo "FAIL: $1 needs $lib"; exit 1 ;;
		esac
	done
	exports=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort | tr '\n' ' ')
	echo "$1 exports: $exports"
	[ "$exports" = "$2" ] || { echo "FAIL: $1: unexpected exports"; exit 1; }
}
check pam_activate.so "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred "
check pam_activate_relay.so "pam_activate_run "
echo "PASS: the module and its relay link libpam and libc only and export their entry points only"
