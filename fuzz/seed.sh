#!/bin/sh
# seed.sh [all|proc|cgroup|elf|glibc_heap] [BUILD]: writes the seeds of
# fuzz/corpus/ from what the repository holds, run from its root (make
# fuzz-seeds): the fake trees under fixtures/ for proc and cgroup; for elf,
# a small shared library and executable with debug info built from
# fuzz/seeds/; for glibc_heap, images of fixtures' heaps recorded by
# BUILD/fuzz/record.  The seeds are committed; run it again after changing
# what they come from (findings, named regress-*, are kept).
set -eu
what=${1:-all}
build=${2:-build}

seed_proc() {
	out=fuzz/corpus/proc
	mkdir -p $out
	rm -f $out/seed-*
	for tree in fixtures/proc-* fixtures/detect-root; do
		for dir in $tree/proc/*; do
			pid=${dir##*/}
			fuzz/pack-tree.sh $tree proc/$pid > $out/seed-${tree#fixtures/}-$pid
		done
	done
}

seed_cgroup() {
	out=fuzz/corpus/cgroup
	mkdir -p $out
	rm -f $out/seed-*
	for tree in fixtures/cgroup-*; do
		fuzz/pack-tree.sh $tree > $out/seed-${tree#fixtures/}
	done
}

# Small on purpose: no C library, one page per segment (libFuzzer mutates
# a few kilobytes far better than a real libc's megabytes).
seed_elf() {
	out=fuzz/corpus/elf
	mkdir -p $out
	rm -f $out/seed-*
	tmp=$(mktemp -d)
	flags="-g -O1 -nostdlib -fdebug-prefix-map=$PWD=. -Wl,--build-id -Wl,-z,noseparate-code"
	gcc $flags -fPIC -shared -Wl,-soname,libc.so.6 -o $tmp/libc.so.6 fuzz/seeds/malloc/malloc.c
	gcc $flags -no-pie -Wl,-e,main -o $tmp/main fuzz/seeds/main.c $tmp/libc.so.6
	cp $tmp/libc.so.6 $out/seed-libc.so.6
	cp $tmp/main $out/seed-main
	strip -o $out/seed-libc-stripped.so.6 $tmp/libc.so.6
	rm -rf $tmp
}

# record_fixture OUT "RECORD-ARGS" PROGRAM ARG...: starts a fixture, waits
# for its "ready", records its heap (fuzz/record PID OUT RECORD-ARGS), ends
# it (by pid).
record_fixture() {
	rec_out=$1 rec_args=$2
	shift 2
	rec_tmp=$(mktemp -d)
	mkfifo $rec_tmp/in
	"$@" < $rec_tmp/in > $rec_tmp/out &
	rec_pid=$!
	exec 9> $rec_tmp/in	# its stdin: open until the recording is done
	n=0
	until grep -q '^ready' $rec_tmp/out 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 100 ] || { echo "seed.sh: $* never got ready" >&2; break; }
		sleep 0.1
	done
	$build/fuzz/record $rec_pid $rec_out $rec_args || true
	exec 9>&-
	kill $rec_pid 2>/dev/null || true
	wait $rec_pid 2>/dev/null || true
	rm -rf $rec_tmp
}

# Small heaps: "heaps" (several 64 MiB heaps) would make an image of
# hundreds of megabytes.
seed_glibc_heap() {
	out=fuzz/corpus/glibc_heap
	mkdir -p $out
	rm -f $out/seed-*
	for scenario in fresh single caches threads mmapped corrupt; do
		record_fixture $out/seed-glibc_heap-$scenario "" $build/fixtures/glibc_heap $scenario
	done
	record_fixture $out/seed-glibc_heap-static "" $build/fixtures/glibc_heap-static caches
	# A heap that moves between looks: two epochs 20 ms apart, four 2 ms apart.
	record_fixture $out/seed-glibc_heap-moving-2 "20 2" $build/fixtures/glibc_heap moving
	record_fixture $out/seed-glibc_heap-moving-4 "2 4" $build/fixtures/glibc_heap moving
	for seed in 1 2 3 4 5 6; do
		record_fixture $out/seed-hostile_heap-$seed "" $build/fixtures/hostile_heap $seed
	done
}

case $what in
all)	seed_proc; seed_cgroup; seed_elf; seed_glibc_heap ;;
*)	seed_$what ;;
esac
