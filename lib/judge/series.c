/* The robust estimators of the trend rules (series.h). */
#include "judge/series.h"

#include <math.h>
#include <stdlib.h>

#include "judge/rules.h"
#include "base/util.h"

static uint64_t sample_value(const struct sample *s, enum trend_series which)
{
	switch (which) {
	case SERIES_RSS: return s->rss;
	case SERIES_ALLOCATED: return s->allocated;
	case SERIES_RESIDENT: return s->resident;
	}
	return UNSET;
}

void series_collect(const struct observation *obs, enum trend_series which,
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

size_t series_index_at(const struct series *s, double t)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->t[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double series_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double series_theil_sen(const double *t, const double *y, size_t n)
{
	double slopes[TREND_PAIR_POINTS * (TREND_PAIR_POINTS - 1) / 2];
	size_t idx[TREND_PAIR_POINTS];
	size_t m = MIN(n, (size_t)TREND_PAIR_POINTS), k = 0;

	if (n < 2)
		return 0;
	for (size_t i = 0; i < m; i++)
		idx[i] = m > 1 ? i * (n - 1) / (m - 1) : 0;
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++) {
			double dt = t[idx[j]] - t[idx[i]];

			if (dt > 0)
				slopes[k++] = (y[idx[j]] - y[idx[i]]) / dt;
		}
	return series_median(slopes, k);
}

double series_kendall_z(const double *y, size_t n)
{
	double s = 0, var;

	if (n < 3)
		return 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			s += (y[j] > y[i]) - (y[j] < y[i]);
	var = (double)n * (double)(n - 1) * (double)(2 * n + 5) / 18;
	if (s > 0)
		return (s - 1) / sqrt(var);
	if (s < 0)
		return (s + 1) / sqrt(var);
	return 0;
}
