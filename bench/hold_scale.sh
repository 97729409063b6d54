#!/bin/sh
# How long heapdoc holds a big process, in the two shapes that made holds
# expensive: 2,000 threads (every one must be interrupted and let go), and
# 60,000 mappings under jemalloc (choosing the thread to call in).
#
#	bench/hold_scale.sh [BUILD]
#
# Prints, for `heapdoc stats` run RUNS times on each (heapdoc's own JSON:
# target.pause_us is the longest time every thread was held; calls_us the
# time a jemalloc read borrowed one thread while the others ran):
#	shape   runs   median_hold_us   max_hold_us   median_borrow_us
# The bounds: 2,000 threads at most 50 ms, 60,000 mappings at most
# 10 ms.  A busy machine lengthens every hold (threads wait for a CPU to
# reach their stop): run it alone.
set -u
build=${1:-build}
runs=${RUNS:-15}
dir=$(mktemp -d)
trap 'fixture_stop 2> /dev/null; rm -rf "$dir"' EXIT
. bench/fixture.sh

median_max() {	# numbers on stdin -> "median max"
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'
}

measure() {	# measure NAME: stats RUNS times on $fixture_pid
	: > "$dir/holds"
	: > "$dir/borrows"
	for _ in $(seq "$runs"); do
		./heapdoc stats --json "$fixture_pid" > "$dir/json" 2> /dev/null
		sed -n 's/.*"pause_us": \([0-9]*\).*/\1/p' "$dir/json" | head -1 >> "$dir/holds"
		sed -n 's/.*"calls_us": \([0-9]*\).*/\1/p' "$dir/json" | head -1 >> "$dir/borrows"
	done
	set -- $(median_max < "$dir/holds")
	b=$(median_max < "$dir/borrows" | cut -d' ' -f1)
	printf '%-28s %4s %16s %13s %18s\n' "$name" "$runs" "$1" "$2" "${b:--}"
}

printf '%-28s %4s %16s %13s %18s\n' shape runs median_hold_us max_hold_us median_borrow_us
name="2000 threads (glibc)"
fixture_start "$dir" "$build/fixtures/crowd" 2000 0 || exit 1
measure
fixture_stop
rm -f "$dir/in" "$dir/out"
name="60000 mappings (jemalloc)"
fixture_start "$dir" env LD_PRELOAD=libjemalloc.so.2 "$build/fixtures/crowd" 4 60000 || exit 1
measure
fixture_stop
