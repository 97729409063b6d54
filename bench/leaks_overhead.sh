#!/bin/sh
# What `heapdoc leaks` costs a two-thread malloc/free loop (16-2064 byte
# blocks), side by side in one run: ops/s alone, while sampling at the
# default rate, after heapdoc left; the longest stop; heapdoc's peak RSS for
# a short and a long window.  bench/leaks_overhead.c says how.
#
#	bench/leaks_overhead.sh [BUILD] [SECONDS] [ROUNDS]
set -u
build=${1:-build}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc
exec "$build/bench/leaks_overhead" "$bin" "${2:-4}" "${3:-5}"
