#!/bin/sh
# What the census of C++ objects by class costs (heapdoc leaks, before
# sampling): the same glibc read of a big C++ heap without it (`heapdoc
# stats`, target.read_us) and with it (`heapdoc leaks`, before.walk_us),
# alternated RUNS times in one run, medians side by side; and finding the
# vtables (before.census.load_us), done while the process runs.
#
#	bench/census_cost.sh [BUILD] [SCALE] [RUNS]
#
# The target is fixtures/cxx_classes.cc at SCALE (default 400: about 2.6
# million chunks in use, 1.2 million of them C++ objects of five classes).
set -u
build=${1:-build}
scale=${2:-400}
runs=${3:-5}
bin=./heapdoc
[ "$build" = build ] || bin=$build/heapdoc

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-bench.XXXXXX") || exit 1
. bench/fixture.sh
trap 'fixture_stop; rm -rf "$dir"' EXIT INT TERM
fixture_start "$dir" "$build/fixtures/cxx_classes" "$scale" || exit 1
pid=$fixture_pid

json() {	# file, python expression on d
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

answer truth
echo "target: pid $pid, cxx_classes $scale, mallinfo2.uordblks $(value mallinfo2.uordblks)" \
     "bytes, $(value plain.objects) Plain, $(value session.objects) Session"
printf '%4s %14s %14s %12s %8s %10s\n' run "without µs" "with µs" "vtables µs" vtables \
       chunks
: > "$dir/without"
: > "$dir/with"
for r in $(seq "$runs"); do
	"$bin" stats --json "$pid" > "$dir/s.json" || exit 1
	"$bin" leaks --json --duration 0.05 "$pid" > "$dir/l.json" || exit 1
	a=$(json "$dir/s.json" "d['target']['read_us']")
	b=$(json "$dir/l.json" "d['before']['walk_us']")
	echo "$a" >> "$dir/without"
	echo "$b" >> "$dir/with"
	printf '%4s %14s %14s %12s %8s %10s\n' "$r" "$a" "$b" \
	       "$(json "$dir/l.json" "d['before']['census']['load_us']")" \
	       "$(json "$dir/l.json" "d['before']['census']['vtables']")" \
	       "$(json "$dir/l.json" "d['before']['census']['chunks']")"
done
a=$(median < "$dir/without")
b=$(median < "$dir/with")
echo "median read: without the census $a µs, with it $b µs: ratio" \
     "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
echo "census (last run): $(json "$dir/l.json" "', '.join('%s %d' % (c['class'], c['objects']) for c in d['before']['classes'])")"
