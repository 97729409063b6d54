/* Steps 2–4 of triage: the gap between allocated and resident, where it
 * sits, how close the process is to a memory limit, and the slow path. */
#include "judge/triage.h"

#include <math.h>

#include "judge/rules.h"
#include "base/util.h"

const char *gap_kind_name(enum gap_kind kind)
{
	switch (kind) {
	case GAP_NONE: return "none";
	case GAP_SIZE_CLASS: return "size-class";
	case GAP_PINNING: return "pinning";
	case GAP_ARENAS: return "arenas";
	case GAP_UNPURGED: return "unpurged";
	case GAP_HOLES: return "holes";
	case GAP_UNKNOWN: break;
	}
	return "unknown";
}

/* The process's RSS: status first, else the newest sample. */
uint64_t judge_rss(const struct observation *obs)
{
	if (IS_SET(obs->status.vm_rss) && obs->status.vm_rss)
		return obs->status.vm_rss;
	if (obs->nsamples)
		return obs->samples[obs->nsamples - 1].rss;
	return UNSET;
}

unsigned judge_effective_cpus(const struct observation *obs)
{
	if (obs->cgroup.effective_cpus)
		return obs->cgroup.effective_cpus;
	if (obs->status.cpus_allowed)
		return obs->status.cpus_allowed;
	return obs->host_cpus;
}

/* allocated and resident: the full read, else the newest sample that has
 * both (the allocator answered the cheap read but not the full one). */
static bool gap_figures(const struct observation *obs, uint64_t *allocated,
			uint64_t *resident)
{
	const struct alloc_summary *sum = &obs->summary;

	if (sum->valid && IS_SET(sum->allocated) && IS_SET(sum->resident)) {
		*allocated = sum->allocated;
		*resident = sum->resident;
		return true;
	}
	for (size_t i = obs->nsamples; i-- > 0;) {
		const struct sample *s = &obs->samples[i];

		if (IS_SET(s->allocated) && IS_SET(s->resident)) {
			*allocated = s->allocated;
			*resident = s->resident;
			return true;
		}
	}
	return false;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return IS_SET(a) && IS_SET(b) && a > b ? a - b : 0;
}

static uint64_t or_zero(uint64_t v)
{
	return IS_SET(v) ? v : 0;
}

/* Step 2: RSS by owner.  smaps' split when it was read, status otherwise. */
static void gap_split_rss(const struct observation *obs, struct gap *g)
{
	const struct rss_split *sp = &obs->split;
	uint64_t anon;

	g->rss = judge_rss(obs);
	if (IS_SET(sp->total) && sp->total) {
		anon = or_zero(sp->brk_heap) + or_zero(sp->arena_heaps) + or_zero(sp->other_anon);
		g->file = sp->file;
		g->shmem = sp->shmem;
		g->stacks = sp->stacks;
		if (!g->known && obs->alloc.kind == ALLOC_GLIBC)
			g->alloc_owned = or_zero(sp->brk_heap) + or_zero(sp->arena_heaps);
	} else {
		anon = or_zero(obs->status.rss_anon);
		g->file = obs->status.rss_file;
		g->shmem = obs->status.rss_shmem;
		g->stacks = UNSET;
	}
	if (g->known)
		g->alloc_owned = g->resident;
	else if (!g->alloc_owned)
		g->alloc_owned = UNSET;
	g->other_anon = IS_SET(g->alloc_owned) ? sub0(anon, g->alloc_owned) : anon;
}

static double share_of(uint64_t part, uint64_t whole)
{
	return whole ? MIN(1.0, (double)part / (double)whole) : 0.0;
}

/* Step 3: what most of the free space is, and how much of the gap that
 * explains (g->share).  Whole free pages apart from live data first (a
 * knob or a release returns them); then arenas when the threads were seen
 * taking turns (the arena count is the lever); then the largest of the
 * three parts of the space between live chunks. */
static enum gap_kind gap_classify(struct gap *g, const struct observation *obs)
{
	const struct alloc_summary *sum = &obs->summary;
	uint64_t parts[3];
	enum gap_kind kinds[3] = { GAP_PINNING, GAP_SIZE_CLASS, GAP_HOLES };
	size_t best = 0;

	/* An allocator that counts its free bytes but not where they sit
	 * (scudo): the gap is real, its kind unknown. */
	if (!sum->valid || (!IS_SET(sum->free_interleaved) && !IS_SET(sum->free_releasable)))
		return GAP_UNKNOWN;
	if (g->releasable > g->interleaved) {
		g->share = share_of(g->releasable, g->bytes);
		return GAP_UNPURGED;
	}
	if (g->turns) {
		g->share = share_of(g->arena_shared, g->bytes);
		return GAP_ARENAS;
	}
	/* jemalloc: free room inside live slabs and extents; half-empty
	 * slabs are its size-class fragmentation. */
	if (!isnan(g->slab_utilisation)) {
		g->share = share_of(g->interleaved, g->bytes);
		return g->slab_utilisation < SLAB_HALF_EMPTY ? GAP_SIZE_CLASS : GAP_HOLES;
	}
	parts[0] = g->pinned;
	parts[1] = g->small_bytes;
	parts[2] = g->holes;
	for (size_t i = 1; i < 3; i++)
		if (parts[i] > parts[best])
			best = i;
	g->share = share_of(parts[best], g->bytes);
	return kinds[best];
}

/* Threads that took turns: the arenas' own peaks add up to well more than
 * was ever in use at once, over more arenas than CPUs. */
static void gap_turns(struct gap *g, const struct alloc_summary *sum)
{
	g->arena_peak_sum = sum->arena_peak_sum;
	g->arena_peak_once = sum->arena_peak_once;
	g->arena_samples = sum->arena_samples;
	g->arena_shared = UNSET;
	if (sum->arena_samples < TURNS_MIN_SAMPLES || !IS_SET(sum->arena_peak_sum) ||
	    !IS_SET(sum->arena_peak_once))
		return;
	g->arena_shared = sub0(sum->arena_peak_sum, sum->arena_peak_once);
	g->turns = g->narenas > g->effective_cpus && g->arena_shared >= GAP_MIN_BYTES &&
		   (double)g->arena_shared >= LABEL_MIN_SHARE * (double)g->bytes;
}

/* Arenas the allocator needs for this many CPUs; more retain free memory.
 * jemalloc runs 4 per CPU by design (its arenas decay their free pages)
 * plus one for huge allocations; glibc's never give pages back below the
 * top, so for glibc more than ARENAS_PER_CPU_RETAIN per CPU is retention. */
static unsigned arenas_expected(enum alloc_kind kind, unsigned cpus)
{
	if (kind == ALLOC_JEMALLOC)
		return JEMALLOC_ARENAS_PER_CPU * cpus + 1;
	return ARENAS_PER_CPU_RETAIN * cpus;
}

void judge_gap(const struct observation *obs, struct gap *g)
{
	const struct alloc_summary *sum = &obs->summary;

	*g = (struct gap){ .kind = GAP_UNKNOWN, .allocated = UNSET, .resident = UNSET,
			   .ratio = NAN, .interleaved = UNSET, .releasable = UNSET,
			   .pinned = UNSET, .trimmable = UNSET, .small_chunks = UNSET,
			   .small_bytes = UNSET, .large_chunks = UNSET,
			   .large_bytes = UNSET, .largest_free = UNSET,
			   .slab_utilisation = NAN, .holes = UNSET, .unresident = UNSET,
			   .share = NAN, .arena_peak_sum = UNSET, .arena_peak_once = UNSET,
			   .arena_shared = UNSET };
	g->known = gap_figures(obs, &g->allocated, &g->resident);
	g->effective_cpus = judge_effective_cpus(obs);
	gap_split_rss(obs, g);
	if (!g->known)
		return;
	g->bytes = sub0(g->resident, g->allocated);
	g->ratio = g->allocated ? (double)g->resident / (double)g->allocated : INFINITY;
	g->significant = g->bytes >= GAP_MIN_BYTES &&
			 (double)g->bytes >= GAP_MIN_SHARE * (double)g->resident;
	if (sum->valid) {
		g->interleaved = or_zero(sum->free_interleaved);
		g->releasable = or_zero(sum->free_releasable);
		g->pinned = or_zero(sum->pinned_bytes);
		g->trimmable = sum->trimmable;
		g->small_chunks = sum->free_small_chunks;
		g->small_bytes = or_zero(sum->free_small_bytes);
		g->large_chunks = sum->free_large_chunks;
		g->large_bytes = sum->free_large_bytes;
		g->largest_free = sum->largest_free;
		g->narenas = sum->narenas;
		g->slab_utilisation = sum->slab_utilisation;
		g->too_many_arenas = g->effective_cpus &&
			g->narenas > arenas_expected(obs->alloc.kind, g->effective_cpus);
		g->unresident = sum->free_unresident;
		g->holes = sub0(g->interleaved, g->pinned + g->small_bytes);
		gap_turns(g, sum);
	}
	g->kind = g->significant ? gap_classify(g, obs) : GAP_NONE;
}

void judge_pressure(const struct observation *obs, struct pressure *p)
{
	const struct cgroup_limits *cg = &obs->cgroup;
	uint64_t rss = judge_rss(obs);

	*p = (struct pressure){ .usage = UNSET, .limit = UNSET, .ratio = NAN };
	if (cg->version && IS_SET(cg->memory_max) && cg->memory_max) {
		p->limit = cg->memory_max;
		p->limit_name = "cgroup memory.max";
	}
	/* memory.high is where the kernel starts reclaiming and throttling:
	 * for a latency-bound service it is the limit that bites first. */
	if (cg->version && IS_SET(cg->memory_high) && cg->memory_high &&
	    (!IS_SET(p->limit) || cg->memory_high < p->limit)) {
		p->limit = cg->memory_high;
		p->limit_name = "cgroup memory.high";
	}
	if (IS_SET(p->limit)) {
		/* What the OOM killer weighs: the cgroup's usage minus page
		 * cache it can drop (inactive file pages). */
		p->usage = IS_SET(cg->memory_current) ? cgroup_working_set(cg) : rss;
	} else if (IS_SET(obs->machine_memory) && obs->machine_memory) {
		p->limit = obs->machine_memory;
		p->limit_name = "MemTotal";
		p->usage = rss;
	}
	if (IS_SET(p->limit) && IS_SET(p->usage)) {
		p->ratio = (double)p->usage / (double)p->limit;
		p->near = p->ratio >= PRESSURE_NEAR_LIMIT;
	}
}

/* Minor faults per second across the samples, NAN without two of them. */
static double fault_rate(const struct observation *obs)
{
	const struct sample *a, *b;

	if (obs->nsamples < 2)
		return obs->latency.sampled ? obs->latency.fault_rate : NAN;
	a = &obs->samples[0];
	b = &obs->samples[obs->nsamples - 1];
	if (b->t <= a->t || !IS_SET(a->minflt) || !IS_SET(b->minflt) || b->minflt < a->minflt)
		return NAN;
	return (double)(b->minflt - a->minflt) / (b->t - a->t);
}

void judge_slow_path(const struct observation *obs, struct slow_path *sp)
{
	const struct latency *l = &obs->latency;

	*sp = (struct slow_path){ .alloc_share = NAN, .syscall_share = NAN,
				  .lock_share = NAN };
	sp->fault_rate = fault_rate(obs);
	sp->fault_storm = !isnan(sp->fault_rate) && sp->fault_rate >= FAULT_STORM_RATE;
	sp->sampled = l->sampled && l->samples;
	if (!sp->sampled)
		return;
	sp->alloc_share = (double)l->in_allocator / l->samples;
	sp->syscall_share = (double)l->in_mm_syscall / l->samples;
	sp->lock_share = (double)l->in_lock_wait / l->samples;
	sp->hot = sp->alloc_share >= SLOW_ALLOC_SHARE || sp->lock_share >= SLOW_LOCK_SHARE ||
		  sp->syscall_share >= SLOW_SYSCALL_SHARE;
}

bool judge_wants_latency(const struct observation *obs)
{
	struct slow_path sp;

	judge_slow_path(obs, &sp);
	return sp.fault_storm;
}
