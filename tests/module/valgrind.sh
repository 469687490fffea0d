#!/bin/sh
# tests/module/valgrind.sh: the module tests (tests/module/test_module) once
# more under valgrind memcheck, following every exec: test_module itself
# (which re-executes itself under pam_wrapper), pam_activate.so and
# pam_activate_relay.so inside it, and each activate-helper and
# activate-helper-faults the module starts with its clean environment.
# Fails on any memory error and on any definite or indirect leak in any of
# them; tests/module/valgrind.supp holds the third-party noise, each entry
# with its reason.
#
# Leak kinds that count: definite and indirect. Those are memory nobody can
# free any more, whatever the timing. "Possible" is not counted: memcheck
# says it of sqlite's blocks (sqlite hands out pointers 8 bytes into its
# allocations) and of glibc's dlopen bookkeeping, and in a helper killed
# mid-statement or a forked copy of the test runner it depends on where the
# kill or the fork fell. "Still reachable" is what the libraries keep until
# exit (sqlite's and libsodium's globals, glibc's locale and NSS caches);
# that it does not grow call after call is what tests/module/long_lived
# measures.
#
# Not traced: programs that are not ours (/bin, /usr, /sbin: the shell of
# system(3), activatectl's and pwck's shells, the hooks' sh scripts) and
# tests/module/fake_helper (a test double with a one-second helper_timeout).
# Left out: test_slow_commit_not_cut_by_helper_timeout, which checks the
# module's timing with a one-second bound per frame of the real helper,
# which valgrind's slowdown of the helper alone exceeds; the frames and the
# hook it runs are the same as in the activation tests that do run; and
# test_database_on_a_full_filesystem, whose pause in the middle of a
# commit (between the account files and the person's activation) the
# slowed helper does not reach while the disk is filled (its commits are
# those of the other activation tests).
#
# tests/module/valgrind.sh [PATTERN] runs only the tests whose names match.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "FAIL: valgrind is not installed (scripts/setup installs it)"
	exit 1
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/pam_activate-memcheck.XXXXXX") || exit 1
trap 'rm -rf "$logs"' EXIT
chmod 1777 "$logs"	# test_not_root_fails_closed runs the test binary again as nobody

TEST_MODULE_SKIP=test_slow_commit_not_cut_by_helper_timeout,test_database_on_a_full_filesystem
export TEST_MODULE_SKIP
# 86: no test's child exits with it, so a child's changed status shows.
valgrind --tool=memcheck --error-exitcode=86 --vgdb=no \
	--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --track-fds=yes \
	--trace-children=yes --trace-children-skip='/bin/*,/usr/*,/sbin/*,*.sh,*/fake_helper' \
	--suppressions="$top_srcdir/tests/module/valgrind.supp" --keep-debuginfo=yes --num-callers=30 \
	--log-file="$logs/vg.%p.%n.log" \
	"$top_builddir/tests/module/test_module" "$@"
rc=$?

# Every process's log: a process killed (SIGKILL) or one that exec'd has no
# summary, so its error reports are looked for one by one too.
status=0
errors='== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function .* has a fishy|Jump to the invalid address|.* are (definitely|indirectly) lost|Process terminating with default action of signal (4|6|7|8|11) )|ERROR SUMMARY: [1-9]'
for log in "$logs"/vg.*.log; do
	[ -e "$log" ] || continue
	if grep -Eq "$errors" "$log"; then
		echo "---- memcheck: $(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -n 1)"
		cat "$log"
		status=1
	fi
done

# A helper that ends on its own has closed all it opened: at its exit only
# 0-2 (the module's socket and /dev/null) and valgrind's logs are open.
# (Not the faults helper: at a fault point it _exits mid-commit on purpose.)
for log in $(grep -l '^==[0-9]*== Command: [^ ]*/activate-helper ' "$logs"/vg.*.log); do
	# (the clock tests' helper runs under libfaketime, whose shared memory stays open)
	if grep -E '^==[0-9]+== Open (file descriptor [0-9]+|AF_)' "$log" | grep -v ": $logs/" |
		grep -vq ': /dev/shm/faketime_shm_'; then
		echo "---- descriptors left open: $(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -n 1)"
		sed -n '/FILE DESCRIPTORS/,$p' "$log"
		status=1
	fi
done

# What ran under valgrind: a count of processes a program. No helper log at
# all would mean valgrind no longer follows the module's exec.
printf 'processes traced:\n'
sed -n 's/^==[0-9]*== Command: \([^ ]*\).*/\1/p' "$logs"/vg.*.log | sed 's,.*/,,' | sort | uniq -c
progs="activate-helper activate-helper-faults"
[ $# -eq 0 ] || progs=	# a subset may start neither
for prog in $progs; do
	n=$(grep -l "^==[0-9]*== Command: [^ ]*/$prog " "$logs"/vg.*.log | xargs -r grep -l 'ERROR SUMMARY' | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "FAIL: no $prog ran to its end under valgrind"
		status=1
	fi
done

if [ "$rc" -ne 0 ]; then
	echo "FAIL: test_module under valgrind exited with $rc (86: memcheck found errors in it)"
	status=1
fi
[ "$status" -eq 0 ] && echo "memcheck: no errors, no leaks"
exit $status
