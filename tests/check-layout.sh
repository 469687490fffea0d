#!/bin/sh
# The folders are the architecture (README, "Layout"): each file of
# pam_activate/LAYER and tools/ may include only the headers of the layers
# below it, so imports run one way and the module stands alone. Every
# header name is unique across the folders (the build puts them all on the
# include path). Fails naming the file, the header and the two layers.
src=${top_srcdir:-.}
status=0

allowed() {	# allowed LAYER: the layers its files may include
	case $1 in
	base) echo "base" ;;
	store) echo "base store" ;;
	accounts) echo "base accounts" ;;
	core) echo "base store accounts core" ;;
	helper) echo "base store accounts core helper relay.h" ;;
	module) echo "module" ;;
	tools) echo "base store accounts core helper tools" ;;
	esac
}

where() {	# where HEADER: the layer that holds it
	for d in "$src"/pam_activate/*/ "$src/tools/"; do
		[ -f "$d$1" ] && { basename "$d"; return; }
	done
}

dups=$(for f in "$src"/pam_activate/*/*.h "$src"/tools/*.h; do basename "$f"; done | sort | uniq -d)
[ -z "$dups" ] || { echo "FAIL: header names in two folders: $dups"; status=1; }
n=0
for f in "$src"/pam_activate/*/*.[ch] "$src"/tools/*.[ch]; do
	layer=$(basename "$(dirname "$f")")
	ok=$(allowed "$layer")
	[ -n "$ok" ] || { echo "FAIL: $f: a folder the layout does not name"; status=1; continue; }
	for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		n=$((n + 1))
		home=$(where "$h")
		[ -n "$home" ] || { echo "FAIL: $f includes $h, which no folder holds"; status=1; continue; }
		case " $ok " in
		*" $home "*|*" $h "*) ;;
		*) echo "FAIL: ${f#"$src"/} ($layer) includes $h ($home)"; status=1 ;;
		esac
	done
done
[ $status = 0 ] && echo "PASS: $n includes, each from a layer below its file's"
exit $status
