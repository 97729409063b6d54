/* --verify: did RSS move the way the change meant, and stay there?  Pure:
 * the samples come from the caller (cmd/, reading /proc). */
#ifndef HEAPDOC_JUDGE_VERIFY_H
#define HEAPDOC_JUDGE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum verify_outcome {
	VERIFY_HELD,		/* fell, and stayed down */
	VERIFY_CREPT_BACK,	/* fell, then rose again by more than half */
	VERIFY_NO_FALL,		/* meant to fall, did not */
	VERIFY_NOT_MEANT,	/* the change does not aim to lower RSS: reported only */
	VERIFY_UNKNOWN,		/* no samples */
};

struct verify_result {
	enum verify_outcome outcome;
	uint64_t before;	/* RSS before the act */
	uint64_t low;		/* the lowest RSS after it */
	uint64_t end;		/* RSS at the end of the window */
	uint64_t high;		/* the highest RSS after it */
	double window_s;
	size_t samples;
};

/* RSS must fall by at least this much (and 1% of it) to count as moved. */
#define VERIFY_MIN_FALL (1u << 20)

/* rss[0..n) are samples from just after the act to the end of the window. */
void judge_verify(uint64_t before, const uint64_t *rss, size_t n, double window_s,
		  bool meant_to_fall, struct verify_result *out);

/* "held", "crept-back", "no-fall", "not-meant", "unknown". */
const char *verify_outcome_name(enum verify_outcome o);

#endif
