#!/bin/sh
# What `heapdoc record` costs a process over minutes, at the default
# interval (a sample every 2 s): how often and how long it stopped the
# process (goal: stopped under 0.1% of the window), the longest stall the
# process saw (beside the longest it saw without heapdoc, over a fifth of
# the window before), heapdoc's own CPU time and peak RSS, and the
# recording's size; then how small a day at one sample a second thins to.
#
#	bench/record_cost.sh [BUILD] [SECONDS] [HEAP_MIB] [BUSY]
#			(defaults: 600 s, 400 MiB, 2 busy threads)
#
# The target is fixtures/glibc_fragmented: a fragmented heap, a thread that
# times its own stalls, BUSY threads allocating in their own arenas.
set -u
build=${1:-build}
secs=${2:-600}
mib=${3:-400}
busy=${4:-2}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-bench.XXXXXX") || exit 1
. bench/fixture.sh
trap 'fixture_stop; rm -rf "$dir"' EXIT INT TERM
fixture_start "$dir" "$build/fixtures/glibc_fragmented" "$mib" "$busy" || exit 1
answer truth
echo "target: pid $fixture_pid, $(value heap_mib) MiB, $(value chunks) chunks," \
     "$busy busy threads; recording for $secs s at the default interval"
# The stalls the machine alone causes (busy threads share the CPUs with the
# one that times itself), over a fifth of the window before heapdoc comes.
base=$(( secs / 5 ))
answer reset
sleep "$base"
answer truth
baseline=$(value stall_max_us)
answer reset
/usr/bin/time -f '%U %S %M' -o "$dir/time" "$bin" record --duration "${secs}s" --json \
	-o "$dir/rec.jsonl" "$fixture_pid" > "$dir/json" 2> /dev/null
answer truth
stops=$(sed -n 's/^ *"stops": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
total=$(sed -n 's/^ *"pause_total_us": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
longest=$(sed -n 's/^ *"pause_us": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
estimated=$(grep -o '"samples_estimated":[0-9]*' "$dir/rec.jsonl" | tail -1 | cut -d: -f2)
tail -1 "$dir/time" | {
	read -r user sys rss
	echo "stops:          $stops, $total µs in total ($(awk -v t="$total" -v s="$secs" \
		'BEGIN { printf "%.4f", t / 1e6 / s * 100 }')% of the window; goal < 0.1%)," \
		"the longest $longest µs"
	echo "target's stall: the longest $(value stall_max_us) µs (the $base s before," \
	     "without heapdoc: $baseline µs)"
	echo "heapdoc:        $user s user + $sys s system CPU" \
	     "($(awk -v u="$user" -v y="$sys" -v s="$secs" 'BEGIN { printf "%.2f", (u + y) / s * 100 }')%" \
	     "of one CPU), peak RSS $rss KiB"
}
echo "recording:      $(wc -l < "$dir/rec.jsonl") lines, $(wc -c < "$dir/rec.jsonl") bytes;" \
     "${estimated:-0} samples estimated (busy arenas)"
awk -v t="$total" -v s="$secs" 'BEGIN { exit !(t / 1e6 / s < 0.001) }' || {
	echo "FAIL  stopped more than 0.1% of the window"
	exit 1
}
echo "PASS  stopped under 0.1% of the window"
# A day at one sample a second through the same thinning and writer.
CK_RUN_SUITE=thin CK_RUN_CASE=thin "$build/tests/run" 2>&1 | sed -n 's/^thin: /size:           /p'
