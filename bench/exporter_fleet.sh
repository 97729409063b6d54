#!/bin/sh
# heapdoc exporter over a fleet: 50 matching processes at a 15 s interval.
#
#	bench/exporter_fleet.sh [BUILD] [SECONDS] [INTERVAL]
#
# The fleet: copies of the fixtures under names only this run matches
# (bx<pid>...): 20 idle glibc processes, 10 glibc ones leaking 64 KiB/s,
# 10 jemalloc, 5 tcmalloc, and 5 glibc ones with a 16 MiB fragmented heap
# and a thread that wakes every 100 µs and records the longest gap between
# two wake-ups (fixtures/glibc_fragmented.c): a stop of that process shows
# up there as a stall, measured from inside.
#
# Measured, after the first round: the exporter's CPU (its own utime +
# stime over the run, as a share of one core) and RSS (now and at its
# peak), its round time, the longest stop of any process (as heapdoc
# measured it, and the tickers' longest gap between wake-ups, beside their
# gap without the exporter, before and after it ran), the stopped time per
# process per hour, and scrape latency (20 scrapes with curl, the page's
# size).
set -u
build=${1:-build}
secs=${2:-150}
interval=${3:-15}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc
fix=$build/fixtures

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-bench.XXXXXX") || exit 1
tag=bx$$
pids=
exporter=
cleanup() {
	[ -n "$exporter" ] && kill "$exporter" 2> /dev/null && wait "$exporter" 2> /dev/null
	for p in $pids; do kill "$p" 2> /dev/null; done
	for p in $pids; do wait "$p" 2> /dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Fixtures that need no command share one FIFO that this shell holds open
# (read-write, so no open blocks): they live until the script ends.
mkfifo "$dir/hold"
exec 9<> "$dir/hold"

spawn() {	# role program args...: a copy named bx<pid><role>, started
	role=$1
	prog=$2
	shift 2
	cp "$fix/$prog" "$dir/$tag$role"
	"$dir/$tag$role" "$@" < "$dir/hold" > "$dir/$role.out" &
	pids="$pids $!"
}

# The tickers: each its own FIFO on fd 3..7, for "reset" and "truth".
ticker() {	# n (0..4)
	fd=$(( $1 + 3 ))
	mkfifo "$dir/t$1.in"
	eval "exec $fd<> \"$dir/t$1.in\""
	cp "$fix/glibc_fragmented" "$dir/${tag}tick$1"
	"$dir/${tag}tick$1" 16 < "$dir/t$1.in" > "$dir/t$1.out" &
	pids="$pids $!"
}

ask() {	# n command: waits for its "ready"
	before=$(grep -c '^ready$' "$dir/t$1.out")
	echo "$2" >&$(( $1 + 3 ))
	for _ in $(seq 200); do
		[ "$(grep -c '^ready$' "$dir/t$1.out")" -gt "$before" ] && return 0
		sleep 0.05
	done
	echo "bench: ticker $1 did not answer" >&2
	return 1
}

longest_gap() {	# the largest stall_max_us of the tickers now
	worst=0
	for n in 0 1 2 3 4; do
		ask "$n" truth
		g=$(sed -n 's/^stall_max_us //p' "$dir/t$n.out" | tail -1)
		[ "$g" -gt "$worst" ] && worst=$g
	done
	echo "$worst"
}

reset_gaps() {
	for n in 0 1 2 3 4; do ask "$n" reset; done
}

for i in $(seq 20); do spawn "idle$i" idle; done
for i in $(seq 10); do spawn "leak$i" scenario_leak 65536; done
for i in $(seq 10); do spawn "je$i" je_healthy; done
for i in $(seq 5); do spawn "tc$i" tc_leak; done
for n in 0 1 2 3 4; do ticker "$n"; done
for n in 0 1 2 3 4; do
	for _ in $(seq 200); do
		grep -q '^ready$' "$dir/t$n.out" && break
		sleep 0.05
	done
done
sleep 1
echo "fleet: 50 processes ($tag*): 20 idle, 10 leaking (glibc), 10 jemalloc, 5 tcmalloc," \
     "5 with a 16 MiB fragmented heap and a ticker"

# The tickers' longest gap over one interval without the exporter.
reset_gaps
sleep "$interval"
baseline=$(longest_gap)

"$bin" exporter --listen 127.0.0.1:0 --interval "$interval" --match "^$tag" \
	2> "$dir/exporter.err" &
exporter=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*serving http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/exporter.err")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "bench: the exporter did not start" >&2; cat "$dir/exporter.err" >&2; exit 1; }
# The first round (symbols and debug info for 50 processes) is timed apart.
t_start=$(date +%s%N)
for _ in $(seq 600); do
	curl -s "127.0.0.1:$port/metrics" > "$dir/page" 2> /dev/null
	grep -q '^heapdoc_exporter_targets 50$' "$dir/page" && break
	sleep 0.1
done
t_first=$(date +%s%N)
grep -q '^heapdoc_exporter_targets 50$' "$dir/page" ||
	{ echo "bench: the exporter never saw the 50 processes" >&2; exit 1; }
echo "first round (finding 50 processes, loading their symbols): $(( (t_first - t_start) / 1000000 )) ms"

cpu() {	# the exporter's utime + stime, in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$exporter/stat"
}
reset_gaps
c0=$(cpu)
w0=$(date +%s%N)
sleep "$secs"
c1=$(cpu)
w1=$(date +%s%N)
with=$(longest_gap)
hz=$(getconf CLK_TCK)
wall_ms=$(( (w1 - w0) / 1000000 ))
cpu_ms=$(( (c1 - c0) * 1000 / hz ))

# Scrape latency: 20 scrapes.
: > "$dir/lat"
for _ in $(seq 20); do
	curl -s -o "$dir/page" -w '%{time_total}\n' "127.0.0.1:$port/metrics" >> "$dir/lat"
done
lat=$(sort -n "$dir/lat" | awk '{ v[NR] = $1 } END { printf "median %.2f ms, max %.2f ms",
	v[int((NR + 1) / 2)] * 1000, v[NR] * 1000 }')

awk -v interval="$interval" '
/^heapdoc_exporter_round_duration_seconds / { round = $2 }
/^heapdoc_exporter_rounds_total / { rounds = $2 }
/^heapdoc_pause_seconds_bucket/ {
	match($0, /pid="[0-9]+"/); p = substr($0, RSTART, RLENGTH)
	match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5)
	if (le != "+Inf") { bucket[p, le] = $2; les[le] = 1 }
}
/^heapdoc_pause_seconds_count/ { match($0, /pid="[0-9]+"/); cnt[substr($0, RSTART, RLENGTH)] = $2; stops += $2 }
/^heapdoc_pause_seconds_sum/ { stopped += $2 }
/^heapdoc_stopped_seconds_per_hour/ { if ($2 > hour) hour = $2 }
/^heapdoc_pause_longest_seconds/ {
	if ($2 > longest) { longest = $2; match($0, /comm="[^"]*"/); who = substr($0, RSTART + 6, RLENGTH - 7) }
}
/^heapdoc_read_errors_total/ { errors += $2 }
END {
	worst = 0
	for (p in cnt) {
		best = ""
		for (le in les) if (bucket[p, le] == cnt[p] && (best == "" || le + 0 < best + 0)) best = le
		if (best == "") best = "1 (beyond)"
		if (best + 0 > worst + 0) worst = best
	}
	printf "rounds: %d; the last took %.0f ms (interval %d s)\n", rounds, round * 1000, interval
	printf "stops: %d in all, %.1f ms stopped in all; the longest %.2f ms (%s; histogram: <= %g ms)\n",
		stops, stopped * 1000, longest * 1000, who, worst * 1000
	printf "stopped per process per hour: at most %.1f ms\n", hour * 1000
	printf "read errors: %d\n", errors
}' "$dir/page"
echo "exporter CPU: $cpu_ms ms over $wall_ms ms ($(awk -v c="$cpu_ms" -v w="$wall_ms" \
	'BEGIN { printf "%.2f", 100 * c / w }')% of one core)"
echo "exporter RSS: $(awk '/^VmRSS/ { print $2 }' /proc/$exporter/status) KiB" \
     "(peak $(awk '/^VmHWM/ { print $2 }' /proc/$exporter/status) KiB)"
echo "scrape latency: $lat; page $(wc -c < "$dir/page") bytes"
errors=$(grep -c 'allocator not read' "$dir/exporter.err")
[ "$errors" -eq 0 ] || { echo "exporter log:"; grep 'allocator not read' "$dir/exporter.err"; }
# Without the exporter again, over as long as with it: the machine's own
# noise (a busy 2-core VM delays a thread that wakes every 100 µs by tens
# of milliseconds), to read the gap with the exporter against.
kill "$exporter"
wait "$exporter"
exporter=
reset_gaps
sleep "$secs"
after=$(longest_gap)
echo "longest gap a ticking process saw: $with µs over ${secs} s with the exporter;" \
     "without it: $baseline µs over ${interval} s before, $after µs over ${secs} s after"
exit 0
