#!/bin/sh
# The longest stall a thread of a busy 400 MiB process sees during
# `heapdoc release`, side by side with the same process idle for as long and
# with malloc_trim(0) called by the process itself.
#
#	bench/release_stall.sh [BUILD] [HEAP_MIB] [RUNS]
#
# The target (fixtures/release_stall.c, MALLOC_ARENA_MAX=1) has a fragmented
# main-arena heap of HEAP_MIB, two workers that malloc and free in that same
# arena non-stop, and a ticker that wakes every 100 µs; each records the
# longest gap between two of its iterations.  malloc_trim holds the arena's
# lock for its walk, so the workers' stall is how long the call held
# threads; heapdoc's own stops show in the ticker's.  Each run uses a fresh
# process: release returns what is there only once.
set -u
build=${1:-build}
mib=${2:-400}
runs=${3:-3}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-bench.XXXXXX") || exit 1
pid=
stop_target() {
	exec 3>&-
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	pid=
}
trap 'stop_target; rm -rf "$dir"' EXIT INT TERM

# The fixture answers each command with lines ending in "ready".
answer() {
	n=$(grep -c '^ready$' "$dir/out")
	echo "$1" >&3
	for _ in $(seq 600); do
		[ "$(grep -c '^ready$' "$dir/out")" -gt "$n" ] && return 0
		sleep 0.05
	done
	echo "bench: the fixture did not answer" >&2
	exit 1
}
value() {		# the last value printed for a key
	sed -n "s/^$1 //p" "$dir/out" | tail -1
}
json() {		# the first integer value of a key in heapdoc's JSON
	sed -n "s/^ *\"$1\": \([0-9]*\),*/\1/p" "$dir/json" | head -1
}
start_target() {
	rm -f "$dir/in" "$dir/out"
	mkfifo "$dir/in"
	MALLOC_ARENA_MAX=1 "$build/fixtures/release_stall" "$mib" < "$dir/in" > "$dir/out" &
	pid=$!
	exec 3> "$dir/in"
	for _ in $(seq 1200); do
		grep -q '^ready$' "$dir/out" && return 0
		sleep 0.05
	done
	echo "bench: the fixture did not start" >&2
	exit 1
}
stalls() {		# worker and ticker stalls since the last reset
	answer truth
	echo "$(value worker_stall_max_us) $(value ticker_stall_max_us)"
}

mibs() { echo $(( ${1:-0} / 1048576 )); }

printf '%-4s %-22s %10s %10s %10s %10s %12s %12s\n' run what predicted returned \
       "call µs" "stop µs" "worker µs" "ticker µs"
for i in $(seq "$runs"); do
	start_target
	answer reset
	sleep 1
	set -- $(stalls)
	printf '%-4s %-22s %10s %10s %10s %10s %12s %12s\n' "$i" "idle 1 s" - - - - "$1" "$2"

	answer reset
	t0=$(date +%s%N)
	"$bin" release --json "$pid" > "$dir/json" 2> "$dir/err" || cat "$dir/err" >&2
	t1=$(date +%s%N)
	set -- $(stalls)
	printf '%-4s %-22s %9sM %9sM %10s %10s %12s %12s   (wall %d ms)\n' "$i" \
	       "heapdoc release" "$(mibs "$(json predicted)")" "$(mibs "$(json returned)")" \
	       "$(json call_us)" "$(json pause_us)" "$1" "$2" $(( (t1 - t0) / 1000000 ))
	stop_target

	start_target
	answer reset
	answer trim
	trim_us=$(value trim_us)
	set -- $(stalls)
	printf '%-4s %-22s %10s %10s %10s %10s %12s %12s\n' "$i" "malloc_trim in-process" - - \
	       "$trim_us" - "$1" "$2"
	stop_target
done
echo
echo "worker µs: the longest gap between two malloc/free of a thread sharing the"
echo "arena; ticker µs: of a thread that only sleeps 100 µs (heapdoc's stops)."
