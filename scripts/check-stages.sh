#!/bin/sh
# The stage rule (DESIGN.md): data flows base -> model -> observe -> judge ->
# report -> cmd.  Each stage includes only the stages it takes data from:
#
#	base	 base
#	model	 base model
#	observe	 base model observe		(the impure side)
#	judge	 base model judge		(pure: never observe)
#	report	 base model judge report	(prints what was judged)
#	cmd	 every stage
#
# Prints every include against the flow and fails if there is one.  Run by
# `make check`; `sh scripts/check-stages.sh` on its own.
set -eu
cd "$(dirname "$0")/.."

allowed() {
	case $1 in
	base) echo "base" ;;
	model) echo "base model" ;;
	observe) echo "base model observe" ;;
	judge) echo "base model judge" ;;
	report) echo "base model judge report" ;;
	cmd) echo "base model observe judge report" ;;
	esac
}

bad=0
for f in $(find lib cmd -name '*.[chS]' | sort); do
	case $f in
	lib/*) stage=$(echo "$f" | cut -d/ -f2) ;;
	*) stage=cmd ;;
	esac
	ok=$(allowed "$stage")
	if [ -z "$ok" ]; then
		echo "$f: lib/$stage/ is no stage (base, model, observe, judge, report)" >&2
		bad=1
		continue
	fi
	# '#include "stage/..."'; an include without a stage names a file of
	# the same folder (cmd/cmd.h, a header beside its assembler source).
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z]*\)\/.*/\1/p' "$f" | sort -u); do
		case " $ok " in
		*" $inc "*) ;;
		*)
			echo "$f: $stage includes $inc/, against the flow:" >&2
			grep -n "#[[:space:]]*include[[:space:]]*\"$inc/" "$f" | sed 's/^/    /' >&2
			bad=1 ;;
		esac
	done
done
if [ $bad -ne 0 ]; then
	echo "check-stages: includes against base -> model -> observe -> judge -> report -> cmd" >&2
	exit 1
fi
echo "check-stages: every include follows base -> model -> observe -> judge -> report -> cmd"
