#!/bin/sh
# The clang static analyzer over a build of its own: scan-build configures
# and compiles the module, the relay, the helper and activatectl with clang
# in tests/scan-build.d of the build tree and fails on any report (every
# default checker: core, unix, deadcode, security, nullability). The
# reports, as HTML, stay in tests/scan-build.d/report for a failure.
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=${top_builddir:-.}/tests/scan-build.d
for tool in scan-build clang; do
	command -v "$tool" >/dev/null || { echo "FAIL: check-scan-build.sh needs $tool (scripts/setup installs it)"; exit 1; }
done
rm -rf "$build"
mkdir -p "$build"
cd "$build" || exit 1
if ! scan-build --use-cc=clang "$src/configure" CC=clang >configure.out 2>&1; then
	tail -n 20 configure.out
	echo "FAIL: configure under scan-build"
	exit 1
fi
if ! scan-build --use-cc=clang --status-bugs -o report make -j"$(nproc)" pam_activate.la pam_activate_relay.la \
	activate-helper activatectl >make.out 2>&1; then
	grep -E 'warning:|scan-build:' make.out | sed 's/^/    /'
	echo "FAIL: scan-build found bugs (HTML in $build/report)"
	exit 1
fi
echo "PASS: scan-build clean ($(grep -o 'scan-build: .*' make.out | tail -n 1))"
rm -rf "$build"
