#!/bin/sh
# kill-every-syscall-postgres-ldap.sh: tests/module/kill-every-syscall.sh
# once against the other pair of backends: the store in PostgreSQL, the
# accounts in LDAP, both real servers started for the run
# (tests/module/kill-postgres-ldap.sh). Every kill point once: before each
# call that changes a file or sends to a server, and after the last.
src=${top_srcdir:-.}
BACKENDS=postgres-ldap exec bash "$src/tests/module/kill-every-syscall.sh" "$@"
