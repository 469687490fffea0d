#!/bin/sh
# Every string a person can see has a Norwegian translation that keeps its
# printf directives: a new or changed _() string fails here until
# "make update-po" has run and the translation is written.
set -u
src=${top_srcdir:-.}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1
potfiles=$(sed -n 's/^POTFILES = //p' Makefile.am)
# shellcheck disable=SC2086
xgettext --keyword=_ --keyword=N_ --from-code=UTF-8 --language=C -o "$tmp/now.pot" $potfiles || exit 1
fail=0
for po in po/*.po; do
	if ! msgfmt --check -o /dev/null "$po"; then
		echo "FAIL: $po does not compile, or a translation breaks a format"
		fail=1
	elif ! msgcmp "$po" "$tmp/now.pot"; then
		echo "FAIL: $po lacks translations for the strings above (make update-po)"
		fail=1
	elif [ -n "$(msgattrib --only-fuzzy --no-obsolete "$po")" ]; then
		echo "FAIL: $po has fuzzy translations"
		fail=1
	else
		echo "PASS: $po translates every string ($(msgfmt --statistics -o /dev/null "$po" 2>&1))"
	fi
done
for f in $(grep -l '\<N\?_("' pam_activate/*/*.c tools/*.c); do
	case " $potfiles " in
	*" $f "*) ;;
	*) echo "FAIL: $f has translated strings but is not in POTFILES (Makefile.am)"; fail=1 ;;
	esac
done
exit $fail
