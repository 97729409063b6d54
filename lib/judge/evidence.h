/* Writing a verdict's lines: the reason, the evidence, and the figures in
 * them.  Internal to lib/judge.
 *
 * Every time-based figure says which stretch of time it comes from
 * ("over the 60 s window", "in its last 20 s"): hb_window() spells it. */
#ifndef HEAPDOC_JUDGE_EVIDENCE_H
#define HEAPDOC_JUDGE_EVIDENCE_H

#include <stdint.h>

#include "judge/triage.h"

/* Appends one line of evidence (at most VERDICT_MAX_EVIDENCE are kept). */
void judge_evidence(struct verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets the verdict (and the verdict it leans to) and its reason. */
void judge_decide(struct verdict *v, enum verdict_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Short-lived formatted figures for one line: each call takes the next of
 * HB_SLOTS buffers, so one line may hold that many. */
#define HB_SLOTS 8
struct hb {
	char s[HB_SLOTS][40];
	int i;
};

const char *hb_bytes(struct hb *h, uint64_t bytes);	/* "48 MiB" */
const char *hb_rate(struct hb *h, double rate);		/* "4.8 MiB/s", "-1.0 KiB/s" */
const char *hb_ratio(struct hb *h, double ratio);	/* "8.00×" */
const char *hb_delta(struct hb *h, int64_t delta);	/* "+118 MiB" */
const char *hb_seconds(struct hb *h, double s);		/* "9.5 s", "45 s", "12 min" */
const char *hb_window(struct hb *h, double span_s);	/* "the 60 s window" */

#endif
