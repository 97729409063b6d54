/* Step 1 over the window: what the trends say, in words that name the
 * stretch of time each figure comes from; a working set that comes and
 * goes (cycles); a floor that rises under the teeth, alone or seen in RSS;
 * and, when the window cannot decide, how long would.
 *
 * A verdict that holds over time needs a window that covers what it
 * judges: a leak is told from a cache still filling up only over
 * LEAK_CONFIRM_WINDOW_S, a floor from noise only over CYCLE_MIN_DROPS
 * cycles.  A shorter window gives a verdict that says so (the reason and
 * watch_s), never a confident wrong name.
 */
#include "judge/window.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "judge/evidence.h"
#include "judge/rules.h"
#include "base/human.h"
#include "base/util.h"

/* Never ask for more than an hour: beyond, `heapdoc record` is the tool. */
#define WATCH_MAX_S 3600.0

static double change_threshold(const struct trend *t)
{
	return MAX(TREND_CHANGE_SHARE * (double)t->level, TREND_CHANGE_MIN_BYTES);
}

/* ---- evidence ------------------------------------------------------------ */

/* "(12 drops, a cycle every ~5.0 s)", or "(3 drops)" without a period. */
static const char *teeth(struct hb *h, const struct trend *t)
{
	char *buf = h->s[h->i++ % HB_SLOTS], per[24];

	if (isnan(t->period_s))
		snprintf(buf, sizeof(h->s[0]), "%u drop%s", t->drops, t->drops == 1 ? "" : "s");
	else
		snprintf(buf, sizeof(h->s[0]), "%u drops, every ~%s", t->drops,
			 human_seconds(per, sizeof(per), t->period_s));
	return buf;
}

static void floor_evidence(struct verdict *v, const char *what, const struct trend *t)
{
	struct hb h = { .i = 0 };

	judge_evidence(v, "%s goes up and down (%s), but its floor rises: the lows went from "
		       "%s to %s, %s over %s, beyond their noise (z %.1f)", what, teeth(&h, t),
		       hb_bytes(&h, t->floor.first), hb_bytes(&h, t->floor.last),
		       hb_rate(&h, t->floor.rate), hb_window(&h, t->span_s), t->floor.z);
}

void judge_trend_evidence(struct verdict *v, const char *what, const struct trend *t)
{
	struct hb h = { .i = 0 };

	switch (t->kind) {
	case TREND_UNKNOWN:
		judge_evidence(v, "%s trend unknown: %s", what, t->why);
		break;
	case TREND_GROWING:
		if (t->drops >= 2 && t->floor.rises) {
			floor_evidence(v, what, t);
			break;
		}
		judge_evidence(v, "%s grew %s over %s (%s, R² %.2f); in its last %s still %s",
			       what, hb_bytes(&h, t->last > t->first ? t->last - t->first : 0),
			       hb_window(&h, t->span_s), hb_rate(&h, t->slope), t->r2,
			       hb_seconds(&h, t->tail_s), hb_rate(&h, t->tail_slope));
		break;
	case TREND_PLATEAU:
		judge_evidence(v, "%s rose from %s and levelled off at %s: %s in the last %s of "
			       "%s, against %s over all of it", what, hb_bytes(&h, t->first),
			       hb_bytes(&h, t->last), hb_rate(&h, t->tail_slope),
			       hb_seconds(&h, t->tail_s), hb_window(&h, t->span_s),
			       hb_rate(&h, t->slope));
		break;
	case TREND_FLAT:
		judge_evidence(v, "%s stayed at %s (within %s over %s)", what,
			       hb_bytes(&h, t->level), hb_bytes(&h, t->max - t->min),
			       hb_window(&h, t->span_s));
		break;
	case TREND_SAWTOOTH:
		judge_evidence(v, "%s went up and down between %s and %s (%s in %s); its lows "
			       "went from %s to %s (%s)", what, hb_bytes(&h, t->min),
			       hb_bytes(&h, t->max), teeth(&h, t), hb_window(&h, t->span_s),
			       hb_bytes(&h, t->floor.first), hb_bytes(&h, t->floor.last),
			       hb_rate(&h, t->floor.rate));
		break;
	case TREND_FALLING:
		judge_evidence(v, "%s fell from %s to %s over %s (%s)", what,
			       hb_bytes(&h, t->first), hb_bytes(&h, t->last),
			       hb_window(&h, t->span_s), hb_rate(&h, t->slope));
		break;
	}
}

/* ---- cycles -------------------------------------------------------------- */

void judge_cycle(struct verdict *v)
{
	const struct trend *a = &v->allocated;
	const struct gap *g = &v->gap;
	struct cycle *c = &v->cycle;
	double beyond;

	memset(c, 0, sizeof(*c));
	c->period_s = NAN;
	if (a->kind == TREND_UNKNOWN || a->drops < 2)
		return;
	/* Seen even when a leak rides on it: what goes and comes back every
	 * cycle is the working set all the same. */
	c->seen = true;
	c->drops = a->drops;
	c->period_s = a->period_s;
	c->floor = a->min;
	c->peak = a->max;
	/* Steady: its lows and highs stay put, and nothing else grows with
	 * them (a floor's slow rise can hide in the sampling's phase slack for
	 * a while; RSS and resident growing meanwhile do not hide it). */
	c->steady = a->drops >= CYCLE_MIN_DROPS && !a->floor.rises && a->floor.steady &&
		    a->peak.steady && v->rss.kind != TREND_GROWING &&
		    v->resident.kind != TREND_GROWING;
	if (!g->known)
		return;
	beyond = (double)g->resident - (double)c->peak;
	c->beyond_peak = beyond > 0 ? (uint64_t)beyond : 0;
	/* Measured against the cycle's peak, is there a gap worth the name? */
	c->held_at_peak = !(beyond >= (double)GAP_MIN_BYTES &&
			    beyond >= GAP_MIN_SHARE * (double)g->resident);
}

void judge_cycle_evidence(struct verdict *v)
{
	const struct cycle *c = &v->cycle;
	struct hb h = { .i = 0 };

	if (!c->seen || !v->gap.known || !c->held_at_peak)
		return;
	judge_evidence(v, "resident %s is the cycle's peak (allocated reaches %s): the memory "
		       "between the floor and the peak is used again every cycle, and a release "
		       "would be undone %s", hb_bytes(&h, v->gap.resident), hb_bytes(&h, c->peak),
		       isnan(c->period_s) ? "at the next one" : "within a cycle");
}

/* ---- the floor, seen in RSS ---------------------------------------------- */

const struct trend *judge_floor_seen(const struct verdict *v)
{
	const struct trend *a = &v->allocated, *by[] = { &v->resident, &v->rss };
	const struct envelope *f = &a->floor;

	if (a->drops < 2 || !(f->z >= FLOOR_SEEN_Z) || !(f->rate > 0) ||
	    f->rate * (f->t_last - f->t_first) < change_threshold(a))
		return NULL;
	for (size_t i = 0; i < 2; i++) {
		const struct trend *t = by[i];

		if (t->kind == TREND_GROWING && t->slope > 0 &&
		    t->slope <= FLOOR_RATE_MATCH * f->rate && f->rate <= FLOOR_RATE_MATCH * t->slope)
			return t;
	}
	return NULL;
}

/* ---- how long to watch --------------------------------------------------- */

static void watch(struct verdict *v, double want, double span, const char *why)
{
	if (want <= span || v->watch_s)
		return;
	v->watch_s = ceil(MIN(want, WATCH_MAX_S));
	snprintf(v->watch_why, sizeof(v->watch_why), "%s", why);
}

void judge_watch(struct verdict *v)
{
	const struct trend *a = v->gap.known ? &v->allocated : &v->rss;
	const struct cycle *c = &v->cycle;
	double span = a->span_s;
	char why[160];
	struct hb h = { .i = 0 };

	v->watch_s = 0;
	v->watch_why[0] = '\0';
	if (a->kind == TREND_UNKNOWN && a->n)
		watch(v, MAX(span * 2, 10.0), span, a->why);
	if (v->kind == VERDICT_LEAK) {
		snprintf(why, sizeof(why), "a cache still filling up looks like a leak over %s; "
			 "%.0f s tell them apart", hb_window(&h, span), LEAK_CONFIRM_WINDOW_S);
		watch(v, LEAK_CONFIRM_WINDOW_S, span, why);
	}
	if (c->seen && !c->steady && v->kind != VERDICT_LEAK) {
		double per = isnan(c->period_s) ? span / MAX(c->drops, 1u) : c->period_s;
		/* Too few cycles, or cycles whose lows or highs moved: a few
		 * more tell noise from a leak riding on them. */
		int more = a->drops < CYCLE_MIN_DROPS ? CYCLE_MIN_DROPS - (int)a->drops + 1 :
			   CYCLE_MIN_DROPS;

		snprintf(why, sizeof(why), "a cycle of ~%s: %d more drops tell whether a leak "
			 "rides on it", hb_seconds(&h, per), more);
		watch(v, span + more * per, span, why);
	}
	if (a->drops >= 2 && !a->floor.rises && a->floor.z >= FLOOR_SEEN_Z && a->floor.rate > 0 &&
	    v->kind != VERDICT_LEAK)
		watch(v, span * 2, span, "allocated's floor may be rising, not yet beyond the "
		      "noise of its lows");
	if (v->kind == VERDICT_INCONCLUSIVE && v->leaning == VERDICT_LEAK &&
	    span < LEAK_CONFIRM_WINDOW_S)
		watch(v, LEAK_CONFIRM_WINDOW_S, span, "growth that goes on for 30 s is not a "
		      "one-off");
}

/* ---- where the lines part ------------------------------------------------ */

/* Nine in ten of the samples from there on hold a gap worth the name. */
#define DIVERGE_SHARE 0.9

static bool gap_named(uint64_t upper, uint64_t allocated)
{
	double gap = (double)upper - (double)allocated;

	return gap >= (double)GAP_MIN_BYTES && gap >= GAP_MIN_SHARE * (double)upper;
}

/* A tail that says something: at least this many samples, and a tenth. */
#define DIVERGE_MIN_TAIL 5

void judge_divergence(const struct observation *obs, struct divergence *out)
{
	static bool named[OBS_MAX_SAMPLES];
	bool resident = false;
	size_t n = obs->nsamples, tail = 0, hits = 0, from = SIZE_MAX, head = 0, head_named = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		resident |= IS_SET(obs->samples[i].resident);
	out->upper = resident ? "resident" : "RSS";
	for (size_t i = 0; i < n; i++) {
		const struct sample *s = &obs->samples[i];
		uint64_t up = resident ? s->resident : s->rss;

		named[i] = IS_SET(up) && IS_SET(s->allocated) && gap_named(up, s->allocated);
	}
	/* Backwards: the earliest start whose tail holds the gap nine times
	 * in ten, over enough of the window to mean it. */
	for (size_t k = n; k-- > 0;) {
		tail++;
		hits += named[k];
		if (named[k] && tail >= MAX((size_t)DIVERGE_MIN_TAIL, n / 10) &&
		    hits >= DIVERGE_SHARE * (double)tail)
			from = k;
	}
	/* ... and a start where it was not there yet. */
	for (size_t i = 0; i < MAX(n / 10, (size_t)1) && i < n; i++, head++)
		head_named += named[i];
	if (from == SIZE_MAX || from == 0 || 2 * head_named >= head)
		return;
	out->found = true;
	out->t = obs->samples[from].t - obs->samples[0].t;
	out->gap_then = (resident ? obs->samples[from].resident : obs->samples[from].rss) -
			obs->samples[from].allocated;
	for (size_t k = n; k-- > 0;) {
		const struct sample *s = &obs->samples[k];
		uint64_t up = resident ? s->resident : s->rss;

		if (IS_SET(up) && IS_SET(s->allocated)) {
			out->gap_end = up > s->allocated ? up - s->allocated : 0;
			break;
		}
	}
}
