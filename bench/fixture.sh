# Sourced by the benchmarks: start a fixture (fixtures/fixture.h protocol)
# and talk to it.
#
#	fixture_start DIR PROGRAM ARGS...	sets $fixture_pid; waits for "ready"
#	answer COMMAND				sends it, waits for its "ready"
#	value KEY				the last value printed for KEY
#	fixture_stop				closes its stdin, kills it (by pid)
#
# DIR is a scratch directory the caller removes.

fixture_start() {
	fixture_dir=$1
	shift
	mkfifo "$fixture_dir/in"
	"$@" < "$fixture_dir/in" > "$fixture_dir/out" &
	fixture_pid=$!
	exec 3> "$fixture_dir/in"
	for _ in $(seq 2400); do
		grep -q '^ready$' "$fixture_dir/out" && return 0
		kill -0 "$fixture_pid" 2> /dev/null || break
		sleep 0.05
	done
	echo "bench: $1 did not start" >&2
	return 1
}

answer() {
	n=$(grep -c '^ready$' "$fixture_dir/out")
	echo "$1" >&3
	for _ in $(seq 600); do
		[ "$(grep -c '^ready$' "$fixture_dir/out")" -gt "$n" ] && return 0
		sleep 0.05
	done
	echo "bench: the fixture did not answer" >&2
	return 1
}

value() {
	sed -n "s/^$1 //p" "$fixture_dir/out" | tail -1
}

fixture_stop() {
	[ -n "${fixture_dir:-}" ] || return 0
	exec 3>&-
	if [ -n "${fixture_pid:-}" ]; then
		kill "$fixture_pid" 2> /dev/null
		wait "$fixture_pid" 2> /dev/null
	fi
	fixture_pid=
	rm -f "$fixture_dir/in" "$fixture_dir/out"
}
