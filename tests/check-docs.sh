#!/bin/sh
# Every configuration key is documented in activate.conf(5) and in the
# shipped activate.conf, and every activatectl command in activatectl(8).
src=${top_srcdir:-.}
status=0
keys=$(sed -n 's/^\t\(TEXT\|UINT\|ENUM\)(\([a-z_]*\),.*/\2/p; s/^\t{ "\([a-z_]*\)", K_.*/\1/p' "$src/pam_activate/base/config.c")
[ -n "$keys" ] || { echo "FAIL: no keys found in config.c"; exit 1; }
for k in $keys; do
	grep -q "^\.BR .*\b$k\b" "$src/man/activate.conf.5" || { echo "FAIL: $k missing from activate.conf(5)"; status=1; }
	grep -q "^#$k =" "$src/conf/activate.conf" || { echo "FAIL: $k missing from conf/activate.conf"; status=1; }
done
cmds=$(sed -n 's/^\t{ "\([a-z]*\)", ctl_cmd_.*/\1/p' "$src/tools/activatectl.c")
for c in $cmds; do
	grep -q "^\.B[IR]* \"*$c\b" "$src/man/activatectl.8" || { echo "FAIL: activatectl $c missing from activatectl(8)"; status=1; }
done
[ $status = 0 ] && echo "PASS: $(echo $keys | wc -w) keys and $(echo $cmds | wc -w) commands documented"
exit $status
