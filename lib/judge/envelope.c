/* The lower and upper envelopes of a series that goes up and down: is a
 * leak hiding under the churn?
 *
 * A cache that fills and is flushed, batches built and dropped: allocated
 * saws up and down, and a straight line through it fits badly (R² of 0.3
 * under teeth that dwarf the growth), so the line fit cannot see a slow
 * leak riding on it.  The lows can: each flush frees what the cycle took,
 * except what leaked.  So the floor is judged on its own — the lowest
 * sample of each cycle, from one drop to the next — and the peak likewise
 * from the highest sample before each drop (of complete cycles).
 *
 * Sampled once a second, a cycle's low is the first sample after the
 * flush, caught anywhere up to one interval of refilling later: each low
 * carries noise up to the refill rate times the interval, which can be as
 * large as minutes of leaking.  Hence:
 *  - the rate is Theil–Sen over the lows (robust to a low caught late);
 *  - "rises" needs Mann–Kendall's z of the lows at ENVELOPE_Z (the lows
 *    rise in order more often than noise would make them, one chance in
 *    twenty), a rise over the window worth the name (the trend
 *    threshold), and a rise above twice the lows' own spread around their
 *    line — so a rise the size of the noise is never called one;
 *  - "steady" is the absence of such a move either way;
 *  - with teeth, a move smaller than the phase slack (below) is neither:
 *    the lag of a low caught late drifts when the period and the sampling
 *    interval drift against each other, and a drifting lag is a trend in
 *    the lows that the heap does not have.
 * Without two drops the window is cut into blocks and each block's lowest
 * and highest sample stand in for the cycles'.
 */
#include "judge/series.h"

#include <math.h>
#include <string.h>

#include "judge/rules.h"
#include "base/util.h"

struct points {
	double t[OBS_MAX_SAMPLES], y[OBS_MAX_SAMPLES];
	size_t n;
};

/* The lowest (low) or highest sample of s in [from, to). */
static void extreme(const struct series *s, size_t from, size_t to, bool low,
		    struct points *p)
{
	size_t best = from;

	if (to <= from)
		return;
	for (size_t i = from + 1; i < to; i++)
		if (low ? s->y[i] < s->y[best] : s->y[i] > s->y[best])
			best = i;
	p->t[p->n] = s->t[best];
	p->y[p->n] = s->y[best];
	p->n++;
}

/* The points' spread around their Theil–Sen line: the median absolute
 * residual, scaled to a standard deviation (× 1.4826). */
static double spread(const struct points *p, double rate)
{
	double r[OBS_MAX_SAMPLES], centre;

	for (size_t i = 0; i < p->n; i++)
		r[i] = p->y[i] - rate * p->t[i];
	centre = series_median(r, p->n);
	for (size_t i = 0; i < p->n; i++)
		r[i] = fabs(p->y[i] - rate * p->t[i] - centre);
	return 1.4826 * series_median(r, p->n);
}

/* What the lows and highs of a sawtooth can move by with no change at all:
 * a cycle's extreme is caught up to one sampling interval into its ramp,
 * and when the period and the interval drift against each other (they
 * always do) that lag drifts too, steadily, from cycle to cycle: the
 * ramp's rate (amplitude over period) times the interval. */
static double phase_slack(const struct series *s, const struct points *lows,
			  const struct points *highs, double period)
{
	double gaps[OBS_MAX_SAMPLES], lo[OBS_MAX_SAMPLES], hi[OBS_MAX_SAMPLES], amplitude;

	if (s->n < 2 || !lows->n || !highs->n || !(period > 0))
		return 0;
	for (size_t i = 1; i < s->n; i++)
		gaps[i - 1] = s->t[i] - s->t[i - 1];
	memcpy(lo, lows->y, lows->n * sizeof(lo[0]));
	memcpy(hi, highs->y, highs->n * sizeof(hi[0]));
	amplitude = series_median(hi, highs->n) - series_median(lo, lows->n);
	return amplitude > 0 ? MIN(amplitude, amplitude / period * series_median(gaps, s->n - 1)) :
			       0;
}

static void envelope_of(const struct points *p, double threshold, struct envelope *e)
{
	double rise;

	memset(e, 0, sizeof(*e));
	e->n = p->n;
	e->rate = e->z = e->noise = NAN;
	if (!p->n)
		return;
	e->first = (uint64_t)p->y[0];
	e->last = (uint64_t)p->y[p->n - 1];
	e->t_first = p->t[0];
	e->t_last = p->t[p->n - 1];
	if (p->n < 2)
		return;
	e->rate = series_theil_sen(p->t, p->y, p->n);
	e->z = series_kendall_z(p->y, p->n);
	e->noise = spread(p, e->rate);
	rise = e->rate * (e->t_last - e->t_first);
	/* threshold: the change worth a name, or the phase slack, larger. */
	e->rises = e->z >= ENVELOPE_Z && rise >= threshold && rise >= 2 * e->noise;
	/* Steady: no move in either direction that stands out of the points'
	 * own noise and is worth the name. */
	e->steady = !(fabs(e->z) >= ENVELOPE_Z && fabs(rise) >= MAX(threshold, 2 * e->noise));
}

void series_envelopes(const struct series *s, const size_t *drops, size_t ndrops,
		      double threshold, double period, struct envelope *floor,
		      struct envelope *peak)
{
	struct points lows = { .n = 0 }, highs = { .n = 0 };

	if (ndrops >= 2) {
		/* A low after each drop (until the next one, or the end),
		 * a high before each but the first: the window may start
		 * anywhere in a cycle, and a cycle seen in part has a lower
		 * high than it reaches, which would read as a rising peak. */
		for (size_t k = 0; k < ndrops; k++) {
			extreme(s, drops[k], k + 1 < ndrops ? drops[k + 1] : s->n, true, &lows);
			if (k)
				extreme(s, drops[k - 1], drops[k], false, &highs);
		}
	} else {
		size_t blocks = MIN(MAX(s->n / 4, (size_t)3), (size_t)ENVELOPE_BLOCKS);
		double span = s->n ? s->t[s->n - 1] - s->t[0] : 0;

		/* Blocks of equal time: a thinned recording has its samples
		 * closer together where things changed. */
		for (size_t b = 0, from = 0; b < blocks; b++) {
			size_t to = b + 1 < blocks ?
				    series_index_at(s, s->t[0] + span * (b + 1) / blocks) : s->n;

			extreme(s, from, to, true, &lows);
			extreme(s, from, to, false, &highs);
			from = to;
		}
	}
	threshold = MAX(threshold, ndrops >= 2 ? phase_slack(s, &lows, &highs, period) : 0);
	envelope_of(&lows, threshold, floor);
	envelope_of(&highs, threshold, peak);
}
