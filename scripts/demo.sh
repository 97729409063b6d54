#!/bin/sh
# make demo: start two fixtures that misbehave — one leaks, one fragments its
# heap — and show what `heapdoc triage` says about each.  Both fixtures are
# stopped by pid when the demo ends, whatever happens.
set -u
build=${1:-build}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc
tmp=$(mktemp -d)
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM HUP

# Starts fixture $1 with its stdin on descriptor $2 of this shell (held open
# until the demo ends: at EOF a fixture exits), waits for "ready", and sets
# $started to its pid.
start_fixture() {
	name=$1 fd=$2
	mkfifo "$tmp/$name.in"
	"$build/fixtures/$name" <"$tmp/$name.in" >"$tmp/$name.out" &
	started=$!
	pids="$pids $started"
	eval "exec $fd>\"\$tmp/\$name.in\""
	i=0
	until grep -q '^ready$' "$tmp/$name.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "demo: fixture $name did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
}

show() {
	echo
	echo "\$ heapdoc $*"
	"$bin" "$@"
	echo "(exit status $?)"
}

start_fixture scenario_leak 8
leak=$started
echo "A service leaks 4 MiB/s (fixtures/scenario_leak.c, pid $leak)."
show triage --duration 5s --interval 250ms "$leak"

start_fixture scenario_pinning 9
frag=$started
echo
echo "A service freed 15 of every 16 blocks; the survivors pin the heap"
echo "(fixtures/scenario_pinning.c, pid $frag)."
show triage --duration 3s --interval 250ms "$frag"
show stats "$frag"
