/* Thinning long recordings (thin.h). */
#include "model/thin.h"

#include <math.h>
#include <string.h>

#include "base/util.h"

/* Every sample is kept while the recording is younger than this many
 * intervals (5 min at one a second); then a bucket is this share of its age
 * wide: about 300 buckets per e-fold of age, 2 000 for a day at 1 s. */
#define THIN_DETAIL_INTERVALS 300
#define STRIDE_SHARE (1.0 / THIN_DETAIL_INTERVALS)

/* A bucket that moved less than this (of its level, and at most this many
 * bytes) keeps one sample: its figures are page-granular noise. */
#define THIN_FLAT_SHARE 0.002
#define THIN_FLAT_BYTES (256.0 * 1024)

/* The figure buckets are judged by: allocated when it was read. */
static double key(const struct sample *s)
{
	return IS_SET(s->allocated) ? (double)s->allocated : (double)s->rss;
}

void thin_init(struct thin *th, double interval_s)
{
	memset(th, 0, sizeof(*th));
	th->interval_s = interval_s > 0 ? interval_s : 1;
}

double thin_stride(double elapsed_s, double interval_s)
{
	return MAX(interval_s, elapsed_s * STRIDE_SHARE);
}

/* The bucket's samples to keep, in time order: its low and its high, or
 * the later of them when it hardly moved. */
static size_t bucket_close(struct thin *th, struct sample out[2])
{
	const struct sample *a = &th->lo, *b = &th->hi;
	double lk = key(a), hk = key(b);
	size_t n = 0;

	if (!th->open)
		return 0;
	th->open = false;
	if (hk - lk < MAX(THIN_FLAT_SHARE * hk, THIN_FLAT_BYTES) || a->t == b->t) {
		out[0] = a->t > b->t ? *a : *b;
		return 1;
	}
	if (a->t > b->t) {
		const struct sample *c = a;

		a = b;
		b = c;
	}
	out[n++] = *a;
	out[n++] = *b;
	return n;
}

size_t thin_offer(struct thin *th, const struct sample *s, struct sample out[3])
{
	double stride = thin_stride(s->t, th->interval_s);
	size_t n = 0;

	if (th->open && s->t >= th->bucket_end)
		n = bucket_close(th, out);
	/* Detail: each sample on its own, kept at once. */
	if (stride <= th->interval_s * 1.0001) {
		out[n++] = *s;
		return n;
	}
	if (!th->open) {
		th->open = true;
		th->lo = th->hi = *s;
		th->bucket_end = s->t + stride;
	} else {
		if (key(s) < key(&th->lo))
			th->lo = *s;
		if (key(s) >= key(&th->hi))
			th->hi = *s;
	}
	return n;
}

size_t thin_flush(struct thin *th, struct sample out[2])
{
	return bucket_close(th, out);
}

void samples_compact(struct sample *v, size_t *n)
{
	size_t k = 0, i = 0;
	double span, width;

	if (*n < 4)
		return;
	span = v[*n - 1].t - v[0].t;
	width = 4 * span / (double)(*n - 1);
	while (i < *n) {
		double end = v[i].t + width;
		size_t lo = i, hi = i, j = i;

		for (; j < *n && (v[j].t < end || j == i); j++) {
			if (key(&v[j]) < key(&v[lo]))
				lo = j;
			if (key(&v[j]) >= key(&v[hi]))
				hi = j;
		}
		if (lo == hi) {
			v[k++] = v[lo];
		} else {
			v[k++] = v[MIN(lo, hi)];
			v[k++] = v[MAX(lo, hi)];
		}
		i = j;
	}
	*n = k;
}
