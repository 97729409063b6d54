/* Step 1 of triage: how one figure moved over the window.
 *
 * The slope is a Theil–Sen estimate (the median of the slopes between pairs
 * of samples): one outlier — a batch allocated and freed between two
 * samples — cannot tilt it the way it tilts least squares.  Least squares
 * still gives R², the "how well a line fits" figure the report prints.
 * Growth is "unbounded" only if the last third of the window still climbs;
 * a cache that filled early and stopped is a plateau, not a leak.  A series
 * that goes up and down (teeth) is judged on its lows and highs as well
 * (envelope.c): a floor that rises under the teeth is a leak under churn.
 *
 * "The last third" is the last third of the window's time, not of its
 * samples: a long recording is thinned where nothing changes, so its
 * samples are not evenly spread.
 */
#include "judge/triage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "judge/rules.h"
#include "judge/series.h"
#include "base/util.h"

const char *trend_kind_name(enum trend_kind kind)
{
	switch (kind) {
	case TREND_FLAT: return "flat";
	case TREND_GROWING: return "growing";
	case TREND_PLATEAU: return "plateau";
	case TREND_SAWTOOTH: return "sawtooth";
	case TREND_FALLING: return "falling";
	case TREND_UNKNOWN: break;
	}
	return "unknown";
}

/* R² of the least-squares line through all samples; 0 for a constant series. */
static double r_squared(const struct series *s)
{
	double mt = 0, my = 0, stt = 0, sty = 0, syy = 0;

	for (size_t i = 0; i < s->n; i++) {
		mt += s->t[i];
		my += s->y[i];
	}
	mt /= s->n;
	my /= s->n;
	for (size_t i = 0; i < s->n; i++) {
		double dt = s->t[i] - mt, dy = s->y[i] - my;

		stt += dt * dt;
		sty += dt * dy;
		syy += dy * dy;
	}
	if (stt <= 0 || syy <= 0)
		return 0;
	return (sty * sty) / (stt * syy);
}

static double median_of(const struct series *s, size_t from, size_t to)
{
	double v[OBS_MAX_SAMPLES];

	for (size_t i = from; i < to; i++)
		v[i - from] = s->y[i];
	return series_median(v, to - from);
}

/* The change worth a name at this level (TREND_CHANGE_*). */
static double change_threshold(uint64_t level)
{
	return MAX(TREND_CHANGE_SHARE * (double)level, TREND_CHANGE_MIN_BYTES);
}

/* The drops (a fall between two samples of at least a quarter of a range
 * worth the name), their count and the median time between them. */
static size_t find_drops(const struct series *s, struct trend *tr, size_t *drops)
{
	double range = (double)(tr->max - tr->min), gaps[OBS_MAX_SAMPLES];
	size_t n = 0;

	/* Teeth smaller than a change worth the name are churn, not teeth. */
	if (range < change_threshold(tr->level))
		range = 0;
	for (size_t i = 1; i < s->n && range > 0; i++)
		if (s->y[i - 1] - s->y[i] >= TREND_DROP_SHARE * range)
			drops[n++] = i;
	tr->drops = (unsigned)n;
	for (size_t k = 1; k < n; k++)
		gaps[k - 1] = s->t[drops[k]] - s->t[drops[k - 1]];
	tr->period_s = n >= 2 ? series_median(gaps, n - 1) : NAN;
	return n;
}

static void trend_measure(const struct series *s, struct trend *tr, size_t tail_from)
{
	size_t drops[OBS_MAX_SAMPLES], n;

	tr->first = (uint64_t)s->y[0];
	tr->last = (uint64_t)s->y[s->n - 1];
	tr->min = tr->max = tr->first;
	for (size_t i = 0; i < s->n; i++) {
		tr->min = MIN(tr->min, (uint64_t)s->y[i]);
		tr->max = MAX(tr->max, (uint64_t)s->y[i]);
	}
	tr->level = (uint64_t)median_of(s, 0, s->n);
	tr->slope = series_theil_sen(s->t, s->y, s->n);
	tr->tail_slope = series_theil_sen(s->t + tail_from, s->y + tail_from, s->n - tail_from);
	tr->tail_s = s->t[s->n - 1] - s->t[tail_from];
	tr->r2 = r_squared(s);
	n = find_drops(s, tr, drops);
	series_envelopes(s, drops, n, change_threshold(tr->level), tr->period_s, &tr->floor,
			 &tr->peak);
}

static enum trend_kind trend_classify(const struct series *s, const struct trend *tr,
				      size_t tail_from)
{
	double threshold = change_threshold(tr->level);
	double span = tr->span_s;
	/* The net change from the first third's median to the last third's:
	 * robust ends. */
	size_t head_to = MAX(series_index_at(s, s->t[0] + tr->span_s / 3), (size_t)3);
	double net = median_of(s, tail_from, s->n) - median_of(s, 0, MIN(head_to, s->n));
	double ref_slope = MAX(tr->slope, net / span);
	bool rising = tr->slope * span >= threshold || net >= threshold;
	bool falling = tr->slope * span <= -threshold || net <= -threshold;
	bool tail_climbs = tr->tail_slope > 0 && tr->tail_slope >= TREND_TAIL_RATIO * ref_slope;

	if ((double)(tr->max - tr->min) < threshold)
		return TREND_FLAT;
	if (rising && tail_climbs && tr->r2 >= TREND_MIN_R2)
		return TREND_GROWING;
	if (tr->drops >= 2)
		return tr->floor.rises ? TREND_GROWING : TREND_SAWTOOTH;
	if (rising)
		return TREND_PLATEAU;
	if (falling)
		return TREND_FALLING;
	return tr->drops ? TREND_SAWTOOTH : TREND_FLAT;
}

void judge_trend(const struct observation *obs, enum trend_series which, struct trend *out)
{
	struct series s;
	size_t tail_from;

	*out = (struct trend){ .kind = TREND_UNKNOWN, .slope = NAN, .tail_slope = NAN,
			       .r2 = NAN, .first = UNSET, .last = UNSET, .min = UNSET,
			       .max = UNSET, .level = UNSET, .period_s = NAN };
	out->floor.rate = out->peak.rate = NAN;
	series_collect(obs, which, &s);
	out->n = s.n;
	out->span_s = s.n ? s.t[s.n - 1] - s.t[0] : 0;
	if (s.n == 0) {
		snprintf(out->why, sizeof(out->why), "not sampled");
		return;
	}
	/* The last third of the time, but never fewer than three points. */
	tail_from = MIN(series_index_at(&s, s.t[s.n - 1] - out->span_s / 3), s.n - MIN(s.n, 3));
	if (s.n >= TREND_MIN_SAMPLES)
		trend_measure(&s, out, tail_from);
	else
		out->first = out->last = out->min = out->max = out->level = (uint64_t)s.y[s.n - 1];
	if (s.n < TREND_MIN_SAMPLES) {
		snprintf(out->why, sizeof(out->why),
			 "%zu sample%s: a trend needs at least %d", s.n, s.n == 1 ? "" : "s",
			 TREND_MIN_SAMPLES);
		return;
	}
	if (out->span_s < TREND_MIN_SPAN_S) {
		snprintf(out->why, sizeof(out->why),
			 "a window of %.1f s is too short: a trend needs at least %.0f s",
			 out->span_s, TREND_MIN_SPAN_S);
		return;
	}
	out->kind = trend_classify(&s, out, tail_from);
}
