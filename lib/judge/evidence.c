/* The verdict's lines (evidence.h). */
#include "judge/evidence.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/human.h"

void judge_evidence(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (v->nevidence >= VERDICT_MAX_EVIDENCE)
		return;
	va_start(ap, fmt);
	vsnprintf(v->evidence[v->nevidence++], VERDICT_LINE, fmt, ap);
	va_end(ap);
}

void judge_decide(struct verdict *v, enum verdict_kind kind, const char *fmt, ...)
{
	va_list ap;

	v->kind = v->leaning = kind;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

static char *slot(struct hb *h)
{
	return h->s[h->i++ % HB_SLOTS];
}

const char *hb_bytes(struct hb *h, uint64_t bytes)
{
	return human_bytes(slot(h), sizeof(h->s[0]), bytes);
}

const char *hb_rate(struct hb *h, double rate)
{
	char *buf = slot(h);
	char tmp[24];

	if (isnan(rate))
		return "n/a";
	human_bytes(tmp, sizeof(tmp), (uint64_t)fabs(rate));
	snprintf(buf, sizeof(h->s[0]), "%s%s/s", rate < 0 ? "-" : "", tmp);
	return buf;
}

/* resident/allocated: two decimals where they matter, fewer where not. */
const char *hb_ratio(struct hb *h, double ratio)
{
	char *buf = slot(h);

	snprintf(buf, sizeof(h->s[0]), ratio >= 100 ? "%.0f×" : ratio >= 10 ? "%.1f×" : "%.2f×",
		 ratio);
	return buf;
}

const char *hb_delta(struct hb *h, int64_t delta)
{
	char *buf = slot(h);
	char tmp[24];

	human_bytes(tmp, sizeof(tmp), (uint64_t)(delta < 0 ? -delta : delta));
	snprintf(buf, sizeof(h->s[0]), "%s%s", delta < 0 ? "-" : "+", tmp);
	return buf;
}

const char *hb_seconds(struct hb *h, double s)
{
	return human_seconds(slot(h), sizeof(h->s[0]), s);
}

const char *hb_window(struct hb *h, double span_s)
{
	char *buf = slot(h), tmp[24];

	snprintf(buf, sizeof(h->s[0]), "the %s window",
		 human_seconds(tmp, sizeof(tmp), span_s));
	return buf;
}
