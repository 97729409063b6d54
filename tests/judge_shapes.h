/* The byte series the judge's tests sample (obs_sample, tests/judge_obs.h)
 * in more than one file: a clean leak, a cache that fills and stops, batches
 * built and dropped, and a flat heap with a little noise. */
#ifndef HEAPDOC_TESTS_JUDGE_SHAPES_H
#define HEAPDOC_TESTS_JUDGE_SHAPES_H

#include "judge_obs.h"

/* 100 MiB + 4.8 MiB/s: 48 MiB over a 10 s window. */
static inline uint64_t leak_clean(double t) { return 100 * MiB_ + (uint64_t)(4.8 * MiB_ * t); }
/* A cache that fills 30 MiB over the first 3 s, then stops. */
static inline uint64_t plateau(double t) { return 60 * MiB_ + (uint64_t)(10 * MiB_ * MIN(t, 3.0)); }
/* Batches of 20 MiB built and dropped every 2.5 s. */
static inline uint64_t sawtooth(double t)
{
	return 50 * MiB_ + (uint64_t)(20 * MiB_ * (t / 2.5 - (int)(t / 2.5)));
}
static inline uint64_t flat(double t) { return 64 * MiB_ + wobble(t, 200 * 1024); }

#endif
