#include "judge/verify.h"

#include "base/util.h"

void judge_verify(uint64_t before, const uint64_t *rss, size_t n, double window_s,
		  bool meant_to_fall, struct verify_result *out)
{
	uint64_t fell, kept;

	*out = (struct verify_result){ .outcome = VERIFY_UNKNOWN, .before = before,
				       .low = UNSET, .end = UNSET, .high = UNSET,
				       .window_s = window_s };
	for (size_t i = 0; i < n; i++) {
		if (!IS_SET(rss[i]))
			continue;
		out->low = IS_SET(out->low) ? MIN(out->low, rss[i]) : rss[i];
		out->high = IS_SET(out->high) ? MAX(out->high, rss[i]) : rss[i];
		out->end = rss[i];
		out->samples++;
	}
	if (!out->samples || !IS_SET(before))
		return;
	if (!meant_to_fall) {
		out->outcome = VERIFY_NOT_MEANT;
		return;
	}
	fell = before > out->low ? before - out->low : 0;
	if (fell < MAX((uint64_t)VERIFY_MIN_FALL, before / 100)) {
		out->outcome = VERIFY_NO_FALL;
		return;
	}
	/* Stayed: at the end, at least half of what came back is still out. */
	kept = before > out->end ? before - out->end : 0;
	out->outcome = kept * 2 >= fell ? VERIFY_HELD : VERIFY_CREPT_BACK;
}

const char *verify_outcome_name(enum verify_outcome o)
{
	switch (o) {
	case VERIFY_HELD: return "held";
	case VERIFY_CREPT_BACK: return "crept-back";
	case VERIFY_NO_FALL: return "no-fall";
	case VERIFY_NOT_MEANT: return "not-meant";
	case VERIFY_UNKNOWN: break;
	}
	return "unknown";
}
