#!/bin/sh
# Records fixtures/observations/*.jsonl again: real runs of the scenario
# fixtures under `heapdoc record`, each of a shape the judge must name
# (tests/recordings_test.c judges them with --from and checks the verdict
# and its key evidence; compare and plot read them too).  Run it when the
# format or the sampling changes on purpose, check the tests, commit.
#
#	sh scripts/recordings.sh [BUILD]        (make recordings)
set -u
build=${1:-build}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc
out=fixtures/observations
mkdir -p "$out"

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-rec.XXXXXX") || exit 1
. bench/fixture.sh
trap 'fixture_stop; rm -rf "$dir"' EXIT INT TERM

# record NAME DURATION INTERVAL ENV FIXTURE ARGS...: one recording.
record() {
	name=$1 duration=$2 interval=$3 envs=$4
	shift 4
	fixture_stop
	fixture_start "$dir" env $envs "$build/fixtures/$@" || exit 1
	sleep 1		# past its start: what it does, not how it starts
	"$bin" record --duration "$duration" --interval "$interval" -o "$out/$name.jsonl" \
		"$fixture_pid" > /dev/null
	echo "$name: exit $? ($(wc -l < "$out/$name.jsonl") lines)"
}

# Slow leak under a sawtooth, and the sawtooth alone (issue 8's service).
record cache-leak 40s 0.5 "" scenario_cache 524288 2 24
record cache 20s 0.5 "" scenario_cache 0 2 24
# A cache that fills and stops; a steady fast leak; growth outside malloc.
record plateau 15s 0.5 "" scenario_plateau 0.5 4
record leak 35s 0.5 "" scenario_leak 2097152
record outside 35s 0.5 "" scenario_outside 2097152
# Fragmentation that builds while it is recorded: the lines part.
record creep 20s 0.5 "" scenario_creep 2 8
# Before and after a knob: the trim threshold (unpurged top, then none).
record top-before 6s 0.5 "" scenario_top
record top-after 6s 0.5 "MALLOC_TRIM_THRESHOLD_=131072" scenario_top env
