#!/bin/sh
# What hardening costs: ops/s of one malloc-heavy loop (bench/alloc_loop.c)
# under each allocator setting `heapdoc audit` may recommend, side by side
# in one run, as ratios to plain glibc.  The recommendations quote these
# figures (lib/judge/audit_costs.c, checked against bench/results/ by the
# audit tests).
#
#	bench/alloc_cost.sh [BUILD] [ROUNDS] [SECONDS]
#
# The settings run in turn, ROUNDS times (interleaved, so that a slow
# moment of the machine hits all of them), SECONDS each; the median counts.
set -u
build=${1:-build}
rounds=${2:-5}
secs=${3:-1}
loop=$build/bench/alloc_loop
lib=/usr/lib/x86_64-linux-gnu
scudo=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so
# The exact settings lib/judge/audit_advice.c recommends.
quarantine=quarantine_size_kb=256:thread_local_quarantine_size_kb=64:quarantine_max_chunk_size=2048
perturb=glibc.malloc.perturb=165

configs="glibc glibc-perturb glibc-malloc-check scudo scudo-quarantine jemalloc tcmalloc mimalloc"

run() {		# run CONFIG: one measurement, ops/s on stdout
	case $1 in
	glibc)			env "$loop" "$secs" ;;
	glibc-perturb)		env GLIBC_TUNABLES=$perturb "$loop" "$secs" ;;
	glibc-malloc-check)	env LD_PRELOAD=/lib/x86_64-linux-gnu/libc_malloc_debug.so.0 \
				    GLIBC_TUNABLES=glibc.malloc.check=3 "$loop" "$secs" ;;
	scudo)			env LD_PRELOAD=$scudo "$loop" "$secs" ;;
	scudo-quarantine)	env LD_PRELOAD=$scudo SCUDO_OPTIONS=$quarantine "$loop" "$secs" ;;
	jemalloc)		env LD_PRELOAD=$lib/libjemalloc.so.2 "$loop" "$secs" ;;
	tcmalloc)		env LD_PRELOAD=$lib/libtcmalloc.so.4 "$loop" "$secs" ;;
	mimalloc)		env LD_PRELOAD=$lib/libmimalloc.so.2 "$loop" "$secs" ;;
	esac | sed -n 's/^ops_per_s //p'
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapdoc-cost.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM
for r in $(seq "$rounds"); do
	for c in $configs; do
		v=$(run "$c")
		[ -n "$v" ] || { echo "bench: $c did not run" >&2; exit 1; }
		echo "$v" >> "$dir/$c"
	done
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base=$(median "$dir/glibc")
echo "malloc/free ops/s, one thread, median of $rounds x ${secs}s; ratio to plain glibc"
echo "($(uname -m), $(nproc) CPUs, glibc $(ldd --version | sed -n '1s/.* //p'), $(date +%Y-%m-%d))"
for c in $configs; do
	m=$(median "$dir/$c")
	awk -v c="$c" -v m="$m" -v b="$base" \
	    'BEGIN { printf "alloc_cost %-20s %12.0f ops/s  %.2f\n", c, m, m / b }'
done
