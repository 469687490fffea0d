# harness.sh: sourced by the system tests' inner scripts. Counts checks and
# prints the totals in cmocka's words, which scripts/test reads.
#   work  the test's private directory (check keeps the last output there)
passed=0
failed=0

ok() { echo "PASS: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; failed=$((failed + 1)); }
# check COMMAND...: one check named $name; its output shown on failure
check() { if "$@" >"$work/last.out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$work/last.out" | tail -n 25; fi; }

totals() {	# the summary; fails when a check did
	echo "[==========] $((passed + failed)) test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	[ "$failed" = 0 ] || echo "[  FAILED  ] $failed test(s), listed above."
	[ "$failed" = 0 ]
}
