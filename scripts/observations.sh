#!/bin/sh
# The observations the judge's and the reports' tests replay
# (fixtures/observations/, tests/observations_test.c).
#
#   sh scripts/observations.sh record [BUILD]    re-record every observation
#                                                from a live run, then render
#   sh scripts/observations.sh render [BUILD]    render the expected outputs
#                                                of the committed recordings
#   sh scripts/observations.sh over-time [BUILD] re-record only the shapes
#                                                judged over time (issue 8),
#                                                then render
#
# `make observations` and `make observations-expected` run them.  Render
# after a change to the judge or a report that is meant to change its
# output, and read the diff: it is the change as users will see it.
#
# Each recording is `heapdoc triage -o NAME.jsonl` on a real process:
# heapdoc's fixtures (glibc, jemalloc, tcmalloc scenarios), python3, Debian's
# redis-server (on 127.0.0.1, a port of its own) and a JVM when one is
# installed.  A program that is missing is skipped, and said so; its old
# recording stays.  Every process started is stopped by pid.
set -u
mode=${1:?usage: observations.sh record|render [BUILD]}
build=${2:-build}
dir=fixtures/observations
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc
tmp=$(mktemp -d)
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM HUP

# ---- rendering -------------------------------------------------------------

# The outputs a recording is compared with.  Text as a UTF-8 terminal user
# without colours sees it (colours are for terminals only).
render() {
	for rec in "$dir"/*.jsonl; do
		name=${rec%.jsonl}
		LC_ALL=C.UTF-8 "$bin" triage --from "$rec" >"$name.txt" 2>/dev/null
		"$bin" triage --from "$rec" --json >"$name.json" 2>/dev/null
		"$bin" triage --from "$rec" --prometheus >"$name.prom" 2>/dev/null
		echo "rendered $name.{txt,json,prom}"
	done
}

# ---- recording -------------------------------------------------------------

# Waits up to 10 s for a line "ready" in file $1.
wait_ready() {
	i=0
	until grep -q '^ready$' "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

# Starts fixture $1 (with arguments $2..) with its stdin held open on a fifo
# (a fixture exits at EOF); sets $started.
start_fixture() {
	fx=$1
	shift
	rm -f "$tmp/$fx.in"
	mkfifo "$tmp/$fx.in"
	# shellcheck disable=SC2086 # FIXTURE_ENV: NAME=VALUE words, or none
	env ${FIXTURE_ENV:-} "$build/fixtures/$fx" "$@" <"$tmp/$fx.in" >"$tmp/$fx.out" &
	started=$!
	pids="$pids $started"
	exec 9>"$tmp/$fx.in"
	wait_ready "$tmp/$fx.out" || { echo "observations: $fx did not start" >&2; return 1; }
}

stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	exec 9>&-
}

# record NAME PID TRIAGE-OPTIONS...: the recording, and what triage said.
record() {
	name=$1 pid=$2
	shift 2
	"$bin" triage "$@" -o "$dir/$name.jsonl" "$pid" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ ! -s "$dir/$name.jsonl" ]; then
		echo "observations: $name: heapdoc failed (exit $rc): $(cat "$tmp/err")" >&2
		return 1
	fi
	echo "recorded $name (exit $rc)"
}

# record_fixture NAME FIXTURE [ARG] -- TRIAGE-OPTIONS...
record_fixture() {
	rec=$1 fixture=$2
	shift 2
	args=""
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args="$args $1"; shift; done
	shift
	# shellcheck disable=SC2086 # the fixture's arguments are words
	start_fixture "$fixture" $args || return 1
	record "$rec" "$started" "$@"
	stop "$started"
}

have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "observations: skipped $2: no $1 here (its old recording stays)" >&2
	return 1
}

record_python() {
	have python3 python3-fragmented || return 0
	cat >"$tmp/frag.py" <<'EOF'
import sys, time
# A cache of many small objects, mostly dropped: pymalloc keeps arenas that
# still hold a survivor, glibc keeps what pymalloc gave back below them.
cache = [bytes(200) + str(i).encode() for i in range(600000)]
keep = cache[::50]
del cache
print("ready", flush=True)
time.sleep(600)
EOF
	python3 "$tmp/frag.py" >"$tmp/py.out" &
	started=$!
	pids="$pids $started"
	wait_ready "$tmp/py.out" && record python3-fragmented "$started" --duration 3s
	stop "$started"
}

record_redis() {
	have redis-server redis-loaded || return 0
	have redis-cli redis-loaded || return 0
	port=$(( 20000 + $$ % 20000 ))
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no >"$tmp/redis.out" 2>&1 &
	started=$!
	pids="$pids $started"
	i=0
	until redis-cli -p "$port" ping >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
	done
	# 200 000 keys of 512 bytes, then every other one deleted: jemalloc's
	# size classes hold the holes.
	redis-cli -p "$port" eval "for i=1,200000 do redis.call('set','k'..i,string.rep('x',512)) end return 1" 0 >/dev/null
	redis-cli -p "$port" eval "for i=1,200000,2 do redis.call('del','k'..i) end return 1" 0 >/dev/null
	record redis-loaded "$started" --duration 3s
	stop "$started"
}

record_jvm() {
	have java jvm-allocating || return 0
	cat >"$tmp/Alloc.java" <<'EOF'
import java.util.ArrayList;

public class Alloc {
	public static void main(String[] args) throws Exception {
		ArrayList<byte[]> live = new ArrayList<>();
		for (int i = 0; i < 2000; i++)
			live.add(new byte[32 * 1024]);
		System.out.println("ready");
		System.out.flush();
		for (;;) {		/* garbage at a steady rate, a live set that stays */
			for (int i = 0; i < 100; i++)
				live.set(i, new byte[32 * 1024]);
			Thread.sleep(20);
		}
	}
}
EOF
	java -Xmx256m -XX:+UseSerialGC "$tmp/Alloc.java" >"$tmp/jvm.out" 2>&1 &
	started=$!
	pids="$pids $started"
	wait_ready "$tmp/jvm.out" && record jvm-allocating "$started" --duration 3s
	stop "$started"
}

# The shapes a window must be long enough to judge (issue 8): a slow leak
# under a sawtooth, the sawtooth alone, fragmentation that builds while it
# is watched, a leak watched for more than 30 s; and the trim threshold's
# after (glibc-top is its before), for `heapdoc compare`.
record_over_time() {
	record_fixture glibc-cache-leak scenario_cache 524288 2 24 -- --duration 40s \
		--interval 500ms
	record_fixture glibc-cache scenario_cache 0 2 24 -- --duration 20s --interval 500ms
	record_fixture glibc-creep scenario_creep 2 8 -- --duration 20s --interval 500ms
	record_fixture glibc-leak-35s scenario_leak 2097152 -- --duration 35s --interval 500ms
	FIXTURE_ENV=MALLOC_TRIM_THRESHOLD_=131072
	record_fixture glibc-top-trimmed scenario_top env -- --duration 3s --interval 250ms
	FIXTURE_ENV=
}

record_all() {
	mkdir -p "$dir"
	record_fixture glibc-idle-once idle -- --once
	record_fixture glibc-leak scenario_leak -- --duration 4s --interval 200ms
	record_fixture glibc-pinning scenario_pinning -- --duration 3s --interval 250ms
	record_fixture glibc-top scenario_top -- --duration 3s --interval 250ms
	record_fixture glibc-top-held scenario_top_held -- --duration 3s --interval 250ms
	record_fixture glibc-arenas scenario_arenas -- --duration 3s --interval 250ms
	record_fixture glibc-churn scenario_churn -- --duration 3s --interval 250ms
	record_fixture glibc-plateau scenario_plateau -- --duration 4s --interval 200ms
	record_fixture glibc-outside scenario_outside -- --duration 4s --interval 200ms
	record_fixture glibc-mmap-churn scenario_mmap_churn -- --duration 2s --latency
	record_fixture je-healthy je_healthy -- --duration 2s
	record_fixture je-leak je_leak grow -- --duration 4s --interval 200ms
	record_fixture je-dirty je_dirty -- --duration 2s
	record_fixture je-frag je_frag -- --duration 2s
	record_fixture tc-leak tc_leak grow -- --duration 4s --interval 200ms
	record_fixture tc-retain tc_retain -- --duration 2s
	record_over_time
	record_python
	record_redis
	record_jvm
}

case $mode in
record) record_all && render ;;
render) render ;;
over-time) record_over_time && render ;;
*) echo "usage: observations.sh record|render|over-time [BUILD]" >&2; exit 2 ;;
esac
