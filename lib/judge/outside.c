/* Step 2 over the window: RSS growth the allocator does not explain.
 *
 * The allocator's figures say what malloc holds; RSS says what the process
 * holds.  When RSS climbs faster than the allocator's figures, the rest is
 * memory malloc never saw: another allocator with its own mappings
 * (CPython's pymalloc arenas, a JIT's code heap, a GC'd runtime), direct
 * mmap calls, or files mapped and read.  The RSS split at both ends of the
 * window says which kind of memory it was.
 */
#include "judge/triage.h"

#include <math.h>

#include "judge/rules.h"
#include "base/util.h"

static uint64_t or_zero(uint64_t v)
{
	return IS_SET(v) ? v : 0;
}

static bool split_read(const struct rss_split *sp)
{
	return IS_SET(sp->total) && sp->total;
}

/* Anonymous memory that is not the allocator's: all anonymous pages minus
 * the allocator's resident (or, without it, glibc's heaps). */
static int64_t anon_outside(const struct rss_split *sp, uint64_t alloc_resident)
{
	uint64_t heaps = or_zero(sp->brk_heap) + or_zero(sp->arena_heaps);
	uint64_t anon = heaps + or_zero(sp->other_anon);

	return (int64_t)anon - (int64_t)(IS_SET(alloc_resident) ? alloc_resident : heaps);
}

/* The allocator's resident at the first and at the last sample. */
static void resident_ends(const struct observation *obs, uint64_t *first, uint64_t *last)
{
	*first = *last = UNSET;
	for (size_t i = 0; i < obs->nsamples && !IS_SET(*first); i++)
		*first = obs->samples[i].resident;
	for (size_t i = obs->nsamples; i-- > 0 && !IS_SET(*last);)
		*last = obs->samples[i].resident;
	if (!IS_SET(*last) && obs->summary.valid)
		*last = obs->summary.resident;
}

/* Which kind of memory grew the most over the window. */
static void outside_split(const struct observation *obs, struct outside *o)
{
	const struct rss_split *a = &obs->split_first, *b = &obs->split;
	uint64_t res_first, res_last;
	int64_t most;

	o->kind = OUTSIDE_UNKNOWN;
	if (!split_read(a) || !split_read(b))
		return;
	resident_ends(obs, &res_first, &res_last);
	if (IS_SET(res_first) != IS_SET(res_last))
		res_first = res_last = UNSET;
	o->anon_delta = anon_outside(b, res_last) - anon_outside(a, res_first);
	o->file_delta = (int64_t)or_zero(b->file) - (int64_t)or_zero(a->file);
	o->shmem_delta = (int64_t)or_zero(b->shmem) - (int64_t)or_zero(a->shmem);
	most = MAX(o->anon_delta, MAX(o->file_delta, o->shmem_delta));
	if (most <= 0)
		return;
	o->kind = most == o->anon_delta ? OUTSIDE_ANON :
		  most == o->file_delta ? OUTSIDE_FILE : OUTSIDE_SHMEM;
}

void judge_outside(const struct observation *obs, const struct trend *rss,
		   const struct trend *allocated, const struct trend *resident,
		   struct outside *o)
{
	bool rss_grows;
	double rate;

	*o = (struct outside){ .rss_rate = NAN, .alloc_rate = NAN, .share = NAN,
			       .alloc_figure = "resident memory" };
	outside_split(obs, o);
	if (rss->kind == TREND_UNKNOWN ||
	    (resident->kind == TREND_UNKNOWN && allocated->kind == TREND_UNKNOWN))
		return;
	o->measured = true;
	o->rss_rate = rss->slope;
	/* What the allocator can explain at most: the faster of its figures
	 * (resident lags allocated while the heap reuses free chunks, and
	 * leads it while fresh pages are faulted in). */
	o->alloc_rate = resident->kind != TREND_UNKNOWN ? resident->slope : -INFINITY;
	if (allocated->kind != TREND_UNKNOWN && allocated->slope > o->alloc_rate) {
		o->alloc_rate = allocated->slope;
		o->alloc_figure = "allocated bytes";
	}
	rss_grows = rss->kind == TREND_GROWING ||
		    rss->slope * rss->span_s >= (double)GAP_MIN_BYTES;
	if (!rss_grows || o->rss_rate <= 0)
		return;
	rate = o->rss_rate - MAX(o->alloc_rate, 0.0);
	o->share = rate / o->rss_rate;
	o->bytes = rate > 0 ? (uint64_t)(rate * rss->span_s) : 0;
	o->significant = o->share >= OUTSIDE_MIN_SHARE && o->bytes >= GAP_MIN_BYTES;
	o->climbs = o->significant && rss->kind == TREND_GROWING &&
		    o->share >= OUTSIDE_MAJORITY;
}
