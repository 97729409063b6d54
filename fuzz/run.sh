#!/bin/sh
# run.sh BUILD SECONDS NAME...: runs each fuzzer BUILD/fuzz/NAME for SECONDS
# on fuzz/corpus/NAME (committed: seeds and past findings, read only) and
# BUILD/corpus/NAME (what runs add), one after the other, and prints one
# line per fuzzer: executions, time, coverage, corpus.  A finding stops the
# run with libFuzzer's report and the input saved as BUILD/fuzz/NAME-crash-*;
# fuzz/README says how to turn it into a regression.  FUZZ_SEED, when set,
# fixes libFuzzer's random seed: make check's short run then makes the same
# mutations each time (a regression check that does not stop someone's
# landing on a finding that has nothing to do with it); make fuzz explores.
set -u
build=$1 secs=$2
shift 2
status=0
seed=${FUZZ_SEED:+-seed=$FUZZ_SEED}
for name; do
	bin=$build/fuzz/$name log=$build/fuzz/$name.log
	mkdir -p "$build/corpus/$name"
	start=$(date +%s)
	# -timeout: one input running that long is a hang, a finding too.
	"$bin" $seed -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/fuzz/$name-" \
		"$build/corpus/$name" "fuzz/corpus/$name" </dev/null >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	files=$(find "$build/corpus/$name" "fuzz/corpus/$name" -type f | wc -l)
	# libFuzzer's last status line: edges covered, features, the corpus it
	# keeps (the files also hold inputs later ones superseded).
	cov=$(sed -n 's/^#[0-9]*.*\(cov: [0-9]*\) \(ft: [0-9]*\) corp: \([0-9]*\).*/\1, \2, \3 kept/p' "$log" |
	      tail -1)
	if [ $rc -ne 0 ]; then
		grep -A40 -m1 'ERROR: \|==ERROR\|check failed\|runtime error' "$log" >&2 ||
			tail -40 "$log" >&2
		echo "fuzz $name: FINDING after ${runs:-?} runs in ${took} s (log: $log)" >&2
		status=1
		continue
	fi
	echo "fuzz $name: ${runs:-?} runs in ${took} s (${rate:-?}/s), no finding;" \
	     "${cov:-cov ?}, of $files corpus files"
done
exit $status
