/* One figure of an observation's samples as points in time, and the robust
 * estimators the judge's trend rules use on them.  Internal to lib/judge.
 */
#ifndef HEAPDOC_JUDGE_SERIES_H
#define HEAPDOC_JUDGE_SERIES_H

#include <stddef.h>

#include "judge/triage.h"
#include "model/observation.h"

struct series {
	double t[OBS_MAX_SAMPLES];	/* seconds since the first sample */
	double y[OBS_MAX_SAMPLES];	/* bytes */
	size_t n;
};

/* The samples whose figure is set (the allocator may not have been read
 * at every sample). */
void series_collect(const struct observation *obs, enum trend_series which,
		    struct series *s);

/* The first sample at or after time t (s->n when none). */
size_t series_index_at(const struct series *s, double t);

/* The median of v[0..n) (sorts v); 0 for none. */
double series_median(double *v, size_t n);

/* The Theil–Sen slope of the points (the median of the slopes between
 * pairs; at most TREND_PAIR_POINTS of them, evenly spread); 0 for fewer
 * than two. */
double series_theil_sen(const double *t, const double *y, size_t n);

/* Mann–Kendall's z of y[0..n) in order: how far the count of rising pairs
 * minus falling pairs lies from what noise gives, in standard deviations
 * (with the continuity correction).  1.645 is one chance in twenty that
 * noise rises that much; 0 for fewer than three points. */
double series_kendall_z(const double *y, size_t n);

/* The lows and highs of a series that goes up and down: floor from the
 * lowest point of each cycle (from one drop to the next), peak from the
 * highest before each drop; without two drops, from each block of the
 * window.  drops: the indices of the samples right after each drop;
 * period: the median time between them (NAN without two). */
void series_envelopes(const struct series *s, const size_t *drops, size_t ndrops,
		      double threshold, double period, struct envelope *floor,
		      struct envelope *peak);

#endif
