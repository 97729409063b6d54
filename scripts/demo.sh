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

# triage: a fixture that misbehaves, watched for a short window.  The
# fixture serves commands on stdin; a fifo held open by fd 3 keeps it alive
# until the demo is done with it.
triage_fixture() {
	name=$1
	shift
	fifo=$(mktemp -u "${TMPDIR:-/tmp}/heapdoc-demo.XXXXXX")
	mkfifo "$fifo" || return
	"$build/fixtures/$name" < "$fifo" > /dev/null &
	pid=$!
	exec 3> "$fifo"
	sleep 1
	echo
	what=$(sed -n '1s|^/\* Scenario: \([^.]*\)\..*|\1|p' "fixtures/$name.c")
	echo "\$ heapdoc triage $* <pid>      # $name: $what"
	"$bin" triage "$@" "$pid"
	echo "(exit status $?)"
	exec 3>&-
	wait "$pid" 2>/dev/null
	rm -f "$fifo"
}

triage_fixture scenario_leak --duration 4s --interval 0.25s
triage_fixture scenario_pinning --once
