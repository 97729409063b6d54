#!/bin/sh
# pack-tree.sh DIR [PATH...]: prints the fake tree under DIR (only the given
# paths under it, when named) as one fuzzer input in the format fuzz/tree.h
# describes.  Seeds fuzz/corpus/proc and fuzz/corpus/cgroup from the
# committed trees under fixtures/ (fuzz/seed.sh).
set -eu
cd "$1"
shift
[ $# -gt 0 ] || set -- .
find "$@" | LC_ALL=C sort | while IFS= read -r p; do
	name=${p#./}
	[ "$name" != . ] || continue
	if [ -L "$p" ]; then
		printf '@@ %s -> %s\n' "$name" "$(readlink "$p")"
	elif [ -d "$p" ]; then
		[ -n "$(ls -A "$p")" ] || printf '@@ %s/\n' "$name"
	elif [ -f "$p" ]; then
		printf '@@ %s\n' "$name"
		cat "$p"
		printf '\n'
	fi
done
