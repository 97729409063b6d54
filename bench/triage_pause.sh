#!/bin/sh
# How long `heapdoc triage` (a 10 s window: a trend sample every second,
# then the full read) and `heapdoc stats` stall a process with a big
# fragmented glibc heap, side by side in one run, against the goals of
# issue 8:
#	triage, 400 MiB heap:		longest stall <= 5 ms and <= 3 x stats's
#	triage, 1.3 GiB heap:		longest stall <= 10 ms
#	stats, 400 MiB, busy:		longest stall <= 10 ms (two threads
#					allocating in their own arenas)
#
#	bench/triage_pause.sh [BUILD] [RUNS] [SMALL_MIB] [BIG_MIB]
#
# The stall is what the target measures itself (fixtures/glibc_fragmented.c:
# a thread that wakes every 100 µs and keeps the longest gap): the ptrace
# stops, and whatever else delays it (heapdoc's own walk competing for the
# CPUs while the process runs).  Beside it, what heapdoc reports of its
# stops: how many, their total, the longest.
set -u
build=${1:-build}
runs=${2:-3}
small=${3:-400}
big=${4:-1300}
window=${TRIAGE_WINDOW:-10s}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-bench.XXXXXX") || exit 1
. bench/fixture.sh
trap 'fixture_stop; rm -rf "$dir"' EXIT INT TERM
status=0

stall() {
	answer truth
	value stall_max_us
}

# One run of heapdoc on the fixture: stall, heapdoc's stops, its CPU.
measure() {		# label, then heapdoc's arguments before the pid
	label=$1
	shift
	answer reset
	/usr/bin/time -f '%U %S %M' -o "$dir/time" "$bin" "$@" --json "$fixture_pid" \
		> "$dir/json" 2> /dev/null
	s=$(stall)
	stops=$(sed -n 's/^ *"stops": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
	total=$(sed -n 's/^ *"pause_total_us": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
	longest=$(sed -n 's/^ *"pause_us": \([0-9]*\),*/\1/p' "$dir/json" | head -1)
	cpu=$(tail -1 "$dir/time" | awk '{ printf "%.2f", $1 + $2 }')
	printf '%-26s %10s %6s %12s %12s %8s\n' "$label" "$s" "$stops" "$total" "$longest" "$cpu"
	echo "$s" >> "$dir/$label.stalls"
}

worst() {		# the longest stall of a label's runs
	sort -n "$dir/$1.stalls" | tail -1
}

verdict() {		# what, measured, limit
	if [ "$2" -le "$3" ]; then
		echo "PASS  $1: $2 µs <= $3 µs"
	else
		echo "FAIL  $1: $2 µs > $3 µs"
		status=1
	fi
}

header() {
	printf '%-26s %10s %6s %12s %12s %8s\n' run "stall µs" stops "stopped µs" "longest µs" \
	       "cpu s"
}

heap() {		# MiB, busy threads
	fixture_stop
	fixture_start "$dir" "$build/fixtures/glibc_fragmented" "$1" "$2" || exit 1
	answer truth
	echo "target: pid $fixture_pid, $(value heap_mib) MiB, $(value chunks) chunks" \
	     "($(value live_chunks) live), $2 busy threads; idle stall $(stall) µs"
}

heap "$small" 0
header
for i in $(seq "$runs"); do measure "stats-$small" stats; done
for i in $(seq "$runs"); do measure "triage-$small" triage --duration "$window"; done
echo
heap "$big" 0
header
for i in $(seq "$runs"); do measure "triage-$big" triage --duration "$window"; done
echo
heap "$small" 2
header
for i in $(seq "$runs"); do measure "stats-$small-busy" stats; done
echo

stats_small=$(worst "stats-$small")
triage_small=$(worst "triage-$small")
verdict "triage, $small MiB" "$triage_small" 5000
verdict "triage, $small MiB, against 3 x stats ($stats_small µs)" "$triage_small" \
	$((3 * stats_small))
verdict "triage, $big MiB" "$(worst "triage-$big")" 10000
verdict "stats, $small MiB, busy" "$(worst "stats-$small-busy")" 10000
exit $status
