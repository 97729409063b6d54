#!/bin/sh
# make demo: start a fixture that misbehaves, show what heapdoc says about it.
set -u
build=${1:-build}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc

"$bin" --help | head -12
echo
echo "\$ heapdoc knobs  (heapdoc's own cgroup)"
"$bin" knobs
