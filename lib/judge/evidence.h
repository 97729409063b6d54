/* Writing a verdict's lines: the reason, the evidence, and the figures in
 * them.  Internal to lib/judge. */
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

#endif
