#!/bin/sh
# Static analysis of the module, the helper and activatectl, clean or fail:
# cppcheck (warning, portability, performance) and clang-tidy with the
# checks below. Left out, and why:
#   clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling:
#     asks for C11 Annex K (memcpy_s ...), which glibc does not have;
#   cert-err33-c: every printf's result; output errors are caught at fflush/fclose;
#   bugprone-easily-swappable-parameters: style, fires on any two ints;
#   bugprone-reserved-identifier: fires on the _GNU_SOURCE-style names of headers;
#   bugprone-branch-clone: an if/else chain that returns the same code by design;
#   bugprone-sizeof-expression: fires on sizeof(*idx) for an array of pointers.
src=${top_srcdir:-.}
status=0
includes=
for d in base store accounts core helper module; do includes="$includes -I $src/pam_activate/$d"; done
includes="$includes -I $src/tools"
# libpq's header is in a directory of its own (Debian: /usr/include/postgresql)
includes="$includes $(pkg-config --cflags-only-I libpq 2>/dev/null)"
for tool in cppcheck clang-tidy; do
	command -v "$tool" >/dev/null || { echo "FAIL: check-static.sh needs $tool (scripts/setup installs it)"; exit 1; }
done
if ! cppcheck --enable=warning,portability,performance --std=c11 --quiet --inline-suppr --error-exitcode=1 \
	$includes --suppress=missingIncludeSystem "$src/pam_activate" "$src/tools"; then
	echo "FAIL: cppcheck"
	status=1
fi
checks='-*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,bugprone-*'
checks="$checks,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-branch-clone"
checks="$checks,-bugprone-sizeof-expression,cert-str34-c,misc-redundant-expression"
n=0
for f in "$src"/pam_activate/*/*.c "$src"/tools/*.c; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	out=$(clang-tidy --quiet -checks="$checks" --warnings-as-errors='*' "$f" -- -std=c11 -D_GNU_SOURCE \
		$includes -DPACKAGE_VERSION='"0"' 2>&1) ||
		{ echo "FAIL: clang-tidy $f:"; echo "$out" | grep -E 'warning|error' | sed 's/^/    /'; status=1; }
done
[ $status = 0 ] && echo "PASS: cppcheck and clang-tidy clean on $n files"
exit $status
