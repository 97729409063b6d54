#!/bin/sh
# libfuzzer.sh: prints where clang's libFuzzer runtime is, or says it is
# missing and fails.  It comes with libclang-rt-14-dev, which make deps
# installs.  make fuzz stops on its absence; make check skips its short fuzz
# run and goes on to the tests, where the fuzz suite's libfuzzer_is_installed
# reports a skip of what make deps installs, which fails the run: never a
# check that passes without having fuzzed.
lib=$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null)
case $lib in
/*) [ -f "$lib" ] && { echo "$lib"; exit 0; } ;;
esac
echo "heapdoc: clang's libFuzzer is missing (libclang-rt-14-dev; make deps installs it)" >&2
exit 1
