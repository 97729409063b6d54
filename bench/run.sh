#!/bin/sh
# make bench: every benchmark under bench/, one after the other.
#	bench/run.sh [BUILD]
set -u
build=${1:-build}
status=0
for b in bench/stats_pause.sh bench/triage_pause.sh bench/record_cost.sh bench/hold_scale.sh \
	 bench/alloc_cost.sh bench/leaks_overhead.sh bench/release_stall.sh bench/exporter_fleet.sh \
	 bench/census_cost.sh; do
	echo "== $b"
	sh "$b" "$build" || status=1
	echo
done
exit $status
