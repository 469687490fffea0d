#!/bin/sh
# gen-roster.sh N [pins]: a synthetic roster of N people on stdout, with a pin
# column of random 8-digit PINs when the second argument is "pins".
n=${1:?usage: gen-roster.sh N [pins]}
awk -v n="$n" -v pins="${2:-}" 'BEGIN {
	srand(42)
	split("Ola Kari Per Åse Nils Ingrid Øystein Marte Håkon Siri", given, " ")
	split("Nordmann Hansen Ødegård Johansen Ås Berg Dahl Lie Strand Haugen", family, " ")
	printf "id_number,student_number,given_name,family_name,kind,programme,fee_paid_on%s\n", pins ? ",pin" : ""
	for (i = 1; i <= n; i++) {
		kind = i % 20 == 0 ? "exchange" : "student"
		printf "%d,%d,%s,%s,%s,Programme %d,2026-08-%02d", 10000000 + i, 20000000 + i,
			given[i % 10 + 1], family[int(i / 10) % 10 + 1], kind, i % 50, i % 28 + 1
		if (pins) printf ",%08d", int(rand() * 100000000)
		printf "\n"
	}
}'
