#!/bin/sh
# run.sh BUILD SECONDS NAME...: runs each fuzzer BUILD/fuzz/NAME for SECONDS
# on fuzz/corpus/NAME (committed: seeds and past findings, read only) and
# BUILD/corpus/NAME (what runs add), one after the other, and prints one
# line per fuzzer: executions, time, corpus.  A finding stops the run with
# libFuzzer's report and the input saved as BUILD/fuzz/NAME-crash-*;
# fuzz/README says how to turn it into a regression.
set -u
build=$1 secs=$2
shift 2
status=0
for name; do
	bin=$build/fuzz/$name log=$build/fuzz/$name.log
	mkdir -p "$build/corpus/$name"
	start=$(date +%s)
	# -timeout: one input running that long is a hang, a finding too.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/fuzz/$name-" \
		"$build/corpus/$name" "fuzz/corpus/$name" </dev/null >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	corpus=$(find "$build/corpus/$name" "fuzz/corpus/$name" -type f | wc -l)
	if [ $rc -ne 0 ]; then
		grep -A40 -m1 'ERROR: \|==ERROR\|check failed\|runtime error' "$log" >&2 ||
			tail -40 "$log" >&2
		echo "fuzz $name: FINDING after ${runs:-?} runs in ${took} s (log: $log)" >&2
		status=1
		continue
	fi
	echo "fuzz $name: ${runs:-?} runs in ${took} s (${rate:-?}/s), no finding, corpus $corpus inputs"
done
exit $status
