/* Step 1 of triage: how one figure moved over the window.
 *
 * The slope is a Theil–Sen estimate (the median of the slopes between pairs
 * of samples): one outlier — a batch allocated and freed between two
 * samples — cannot tilt it the way it tilts least squares.  Least squares
 * still gives R², the "how well a line fits" figure the report prints.
 * Growth is "unbounded" only if the last third of the window still climbs;
 * a cache that filled early and stopped is a plateau, not a leak.
 */
#include "judge/triage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"

/* Fewer samples than this cannot show a shape: with the last third as the
 * tail we want at least two points there plus a head to compare it with. */
#define TREND_MIN_SAMPLES 6

/* Shorter windows mostly show allocator noise (one batch allocated and freed
 * moves allocated by megabytes within a second); a steady leak needs time to
 * stand out from it. */
#define TREND_MIN_SPAN_S 2.0

/* A change is worth a name only if it exceeds both 2% of the level (a
 * process's working set moves by a few percent as requests come and go)
 * and 1 MiB (below that a small process's figures are page-granular noise). */
#define TREND_CHANGE_SHARE 0.02
#define TREND_CHANGE_MIN_BYTES (1024.0 * 1024)

/* Still growing at the end: the last third climbs at least a third as fast
 * as the window as a whole.  A linear leak gives ~1, a filled cache ~0; a
 * curve that is only slowing down (log-like) stays above a third. */
#define TREND_TAIL_RATIO 0.33

/* Below this R² a straight line does not describe the series (noise or
 * teeth dominate), and we do not call it steady growth. */
#define TREND_MIN_R2 0.5

/* A drop between two samples counts toward a sawtooth when it takes back at
 * least a quarter of the range: smaller dips are churn, not teeth. */
#define TREND_DROP_SHARE 0.25

/* A sawtooth grows when at least this many teeth show lows and highs that
 * each rise from one tooth to the next: with three, noise alone lines
 * both up one time in 36. */
#define TREND_MIN_TEETH 3

/* Pairs for Theil–Sen: at most this many evenly spaced samples, so the
 * pair count (n²/2) stays bounded on a long window. */
#define TREND_PAIR_POINTS 96

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

struct series {
	double t[OBS_MAX_SAMPLES];
	double y[OBS_MAX_SAMPLES];
	size_t n;
};

static uint64_t sample_value(const struct sample *s, enum trend_series which)
{
	switch (which) {
	case SERIES_RSS: return s->rss;
	case SERIES_ALLOCATED: return s->allocated;
	case SERIES_RESIDENT: return s->resident;
	}
	return UNSET;
}

static void series_collect(const struct observation *obs, enum trend_series which,
			   struct series *s)
{
	size_t n = MIN(obs->nsamples, (size_t)OBS_MAX_SAMPLES);

	s->n = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = sample_value(&obs->samples[i], which);

		if (!IS_SET(v))
			continue;
		s->t[s->n] = obs->samples[i].t;
		s->y[s->n] = (double)v;
		s->n++;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Theil–Sen slope over samples [from, to). */
static double theil_sen(const struct series *s, size_t from, size_t to)
{
	double slopes[TREND_PAIR_POINTS * (TREND_PAIR_POINTS - 1) / 2];
	size_t idx[TREND_PAIR_POINTS];
	size_t n = to - from, m = MIN(n, (size_t)TREND_PAIR_POINTS), k = 0;

	if (n < 2)
		return 0;
	for (size_t i = 0; i < m; i++)
		idx[i] = from + (m > 1 ? i * (n - 1) / (m - 1) : 0);
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++) {
			double dt = s->t[idx[j]] - s->t[idx[i]];

			if (dt > 0)
				slopes[k++] = (s->y[idx[j]] - s->y[idx[i]]) / dt;
		}
	return median(slopes, k);
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
	return median(v, to - from);
}

/* The low after each drop and the high before it: does a leak hide under
 * the teeth (each batch freed, but not all of it)? */
static void teeth_measure(const struct series *s, struct trend *tr, double drop)
{
	double low_prev = NAN, high_prev = NAN;
	unsigned teeth = 0;
	bool rising = true;

	tr->floor_rises = false;
	if (drop <= 0)
		return;
	for (size_t i = 1; i < s->n && rising; i++) {
		if (s->y[i - 1] - s->y[i] < drop)
			continue;
		/* Drop i-1 → i: y[i-1] is the tooth's high, y[i] the next low. */
		if (teeth && (s->y[i] <= low_prev || s->y[i - 1] <= high_prev))
			rising = false;
		if (!teeth)
			tr->floor_first = (uint64_t)s->y[i];
		low_prev = s->y[i];
		high_prev = s->y[i - 1];
		tr->floor_last = (uint64_t)s->y[i];
		teeth++;
	}
	tr->floor_rises = rising && teeth >= TREND_MIN_TEETH;
}

static void trend_measure(const struct series *s, struct trend *tr, size_t tail_from)
{
	double range;

	tr->first = (uint64_t)s->y[0];
	tr->last = (uint64_t)s->y[s->n - 1];
	tr->min = tr->max = tr->first;
	for (size_t i = 0; i < s->n; i++) {
		tr->min = MIN(tr->min, (uint64_t)s->y[i]);
		tr->max = MAX(tr->max, (uint64_t)s->y[i]);
	}
	tr->level = (uint64_t)median_of(s, 0, s->n);
	tr->slope = theil_sen(s, 0, s->n);
	tr->tail_slope = theil_sen(s, tail_from, s->n);
	tr->r2 = r_squared(s);

	range = (double)(tr->max - tr->min);
	tr->drops = 0;
	for (size_t i = 1; i < s->n; i++)
		if (s->y[i - 1] - s->y[i] >= TREND_DROP_SHARE * range && range > 0)
			tr->drops++;
	teeth_measure(s, tr, TREND_DROP_SHARE * range);
}

static enum trend_kind trend_classify(const struct series *s, const struct trend *tr,
				      size_t tail_from)
{
	double threshold = MAX(TREND_CHANGE_SHARE * tr->level, TREND_CHANGE_MIN_BYTES);
	double span = tr->span_s;
	/* The net change from the head's median to the tail's: robust ends. */
	double net = median_of(s, tail_from, s->n) - median_of(s, 0, s->n - tail_from);
	double ref_slope = MAX(tr->slope, net / span);
	bool rising = tr->slope * span >= threshold || net >= threshold;
	bool falling = tr->slope * span <= -threshold || net <= -threshold;
	bool tail_climbs = tr->tail_slope > 0 && tr->tail_slope >= TREND_TAIL_RATIO * ref_slope;

	if ((double)(tr->max - tr->min) < threshold)
		return TREND_FLAT;
	if (rising && tail_climbs && tr->r2 >= TREND_MIN_R2)
		return TREND_GROWING;
	if (tr->drops >= 2)
		return tr->floor_rises && (double)(tr->floor_last - tr->floor_first) >= threshold ?
		       TREND_GROWING : TREND_SAWTOOTH;
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
			       .max = UNSET, .level = UNSET };
	series_collect(obs, which, &s);
	out->n = s.n;
	out->span_s = s.n ? s.t[s.n - 1] - s.t[0] : 0;
	if (s.n == 0) {
		snprintf(out->why, sizeof(out->why), "not sampled");
		return;
	}
	/* The last third, but never fewer than three points. */
	tail_from = s.n - MAX((size_t)3, s.n / 3);
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
