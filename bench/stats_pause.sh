#!/bin/sh
# How long `heapdoc stats` holds a process with a big fragmented glibc heap,
# against `gdb -batch -p PID -ex 'call (void)mallinfo2()'`.
#
#	bench/stats_pause.sh [BUILD] [HEAP_MIB] [RUNS]
#
# The target (fixtures/glibc_fragmented.c) has a thread that wakes every
# 100 µs and records the longest gap between two wake-ups: whatever holds
# the process shows up there as a stall.  For each tool and run: reset the
# gap, run the tool, read the gap back.  Also heapdoc's wall time (with its
# full census) and its peak RSS (/usr/bin/time -v), and whether its
# mallinfo2 equals the process's own.
set -u
build=${1:-build}
mib=${2:-400}
runs=${3:-3}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-bench.XXXXXX") || exit 1
. bench/fixture.sh
trap 'fixture_stop; rm -rf "$dir"' EXIT INT TERM
fixture_start "$dir" "$build/fixtures/glibc_fragmented" "$mib" || exit 1
pid=$fixture_pid

stall() {
	answer truth
	value stall_max_us
}

answer truth
echo "target: pid $pid, $(value heap_mib) MiB asked, mallinfo2.arena $(value mallinfo2.arena)" \
     "bytes, $(value chunks) chunks ($(value live_chunks) live)"
echo "idle: longest gap between wake-ups $(stall) µs"
echo

printf '%-8s %4s %12s %12s %12s %10s %s\n' tool run "stall µs" "pause µs" "wall ms" \
       "peak KiB" "mallinfo2"
heapdoc_runs() {	# label, then extra options
	label=$1
	shift
	for i in $(seq "$runs"); do
		answer reset
		t0=$(date +%s%N)
		/usr/bin/time -f '%M' -o "$dir/time" "$bin" stats --json "$@" "$pid" \
			> "$dir/json" 2> /dev/null
		t1=$(date +%s%N)
		s=$(stall)
		pause=$(sed -n 's/^ *"pause_us": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
		method=$(sed -n 's/^ *"method": "\([a-z]*\)",*/\1/p' "$dir/json" | head -1)
		same=equal
		for k in arena ordblks smblks hblks hblkhd fsmblks uordblks fordblks keepcost; do
			mine=$(sed -n "/\"mallinfo2\"/,/}/s/^ *\"$k\": \([0-9]*\),*/\1/p" "$dir/json")
			[ "$mine" = "$(value mallinfo2.$k)" ] || same="DIFFERS ($k)"
		done
		printf '%-8s %4s %12s %12s %12s %10s %s (%s)\n' "$label" "$i" "$s" "$pause" \
		       $(( (t1 - t0) / 1000000 )) "$(cat "$dir/time")" "$same" "$method"
	done
}
heapdoc_runs heapdoc
heapdoc_runs held --hold
if command -v gdb > /dev/null; then
	for i in $(seq "$runs"); do
		answer reset
		t0=$(date +%s%N)
		gdb -batch -p "$pid" -ex 'call (void)mallinfo2()' > /dev/null 2>&1
		t1=$(date +%s%N)
		printf '%-8s %4s %12s %12s %12s %10s\n' gdb "$i" "$(stall)" - \
		       $(( (t1 - t0) / 1000000 )) -
	done
else
	echo "gdb: not installed, no comparison"
fi
