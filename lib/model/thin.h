/* Long recordings thin out, keeping the detail where things change.
 *
 * A sample a second is 86 400 lines a day.  What a judge and a person need
 * of an hour-old stretch is its shape, not every second of it: so samples
 * go into buckets whose width grows with the recording's age, STRIDE_SHARE
 * of the time elapsed (every sample for the first few minutes; a bucket of
 * 5 min after a day at one sample a second), and each closed bucket keeps
 * its lowest and its highest sample by the series that matters (allocated,
 * RSS without it) — or one of them when the bucket hardly moved.  A
 * sawtooth's lows and highs, a spike, a drop all survive; a flat hour
 * becomes a dozen lines.  The open bucket is written when it closes, so a
 * recording whose writer is killed loses at most that one bucket.
 *
 * When an observation is full (OBS_MAX_SAMPLES), samples_compact() keeps
 * the lowest and highest of buckets four times as wide as the spacing so
 * far, again by time: the recording's reader and the live recorder call it
 * at the same points of the same samples, so both judge the same series.
 */
#ifndef HEAPDOC_MODEL_THIN_H
#define HEAPDOC_MODEL_THIN_H

#include <stdbool.h>
#include <stddef.h>

#include "model/observation.h"

struct thin {
	double interval_s;		/* between samples, as asked */
	double bucket_end;		/* seconds; the open bucket ends there */
	struct sample lo, hi;		/* its lowest and highest so far */
	bool open;			/* it holds a sample */
};

void thin_init(struct thin *th, double interval_s);

/* The bucket width at a recording's age: the interval for the first
 * minutes, then a share of the age. */
double thin_stride(double elapsed_s, double interval_s);

/* Offers one sample (s->t: seconds since the first).  Fills out with the
 * samples to keep now, in time order, and returns how many (0 to 3): the
 * sample itself while every one is kept, a closed bucket's otherwise. */
size_t thin_offer(struct thin *th, const struct sample *s, struct sample out[3]);

/* The open bucket's samples, at the end of a recording (0 to 2). */
size_t thin_flush(struct thin *th, struct sample out[2]);

/* Halves (at least) a full array of samples: see above. */
void samples_compact(struct sample *v, size_t *n);

#endif
