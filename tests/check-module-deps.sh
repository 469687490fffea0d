#!/bin/sh
# The module is loaded into every login: it may need libpam and libc only,
# and export nothing but the pam_sm_* entry points.
so="${top_builddir:-.}/.libs/pam_activate.so"
[ -f "$so" ] || { echo "FAIL: $so not built"; exit 1; }
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "NEEDED: $needed"
for lib in $needed; do
	case "$lib" in
	libpam.so.*|libc.so.*) ;;
	libasan.so.*|libubsan.so.*) ;;	# the sanitizer build only
	*) echo "FAIL: pam_activate.so needs $lib"; exit 1 ;;
	esac
done
exports=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort | tr '\n' ' ')
echo "exports: $exports"
[ "$exports" = "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred " ] || { echo "FAIL: unexpected exports"; exit 1; }
echo "PASS: module links libpam and libc only and exports pam_sm_* only"
