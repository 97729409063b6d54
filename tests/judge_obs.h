/* Recorded observations for the judge's unit tests, built by hand: each
 * shape of trend and each kind of gap, with numbers chosen so the expected
 * verdict can be derived on paper (the comments in the tests do that). */
#ifndef HEAPDOC_TESTS_JUDGE_OBS_H
#define HEAPDOC_TESTS_JUDGE_OBS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "judge/triage.h"
#include "model/observation.h"
#include "base/util.h"

#define MiB_ ((uint64_t)1024 * 1024)

/* A glibc process on a 2-core host with 16 GiB, no cgroup limit, nothing
 * sampled yet, and an allocator summary whose figures are all unread. */
static inline void obs_init(struct observation *o)
{
	memset(o, 0, sizeof(*o));
	o->pid = 4242;
	snprintf(o->comm, sizeof(o->comm), "server");
	o->host_cpus = 2;
	o->machine_memory = 16384 * MiB_;
	o->status.cpus_allowed = 2;
	o->status.vm_rss = UNSET;
	o->status.rss_anon = o->status.rss_file = o->status.rss_shmem = UNSET;
	o->cgroup = (struct cgroup_limits){
		.version = 1, .memory_max = UNSET, .memory_high = UNSET,
		.memory_current = UNSET, .memory_peak = UNSET, .anon = UNSET,
		.file = UNSET, .inactive_file = UNSET, .oom_kills = UNSET,
		.cpu_quota_us = UNSET, .cpu_quota_cores = NAN, .effective_cpus = 2,
	};
	o->alloc.kind = ALLOC_GLIBC;
	alloc_params_clear(&o->params);
	o->summary = (struct alloc_summary){
		.valid = true, .allocated = UNSET, .active = UNSET, .resident = UNSET,
		.mapped = UNSET, .free_total = UNSET, .free_interleaved = 0,
		.free_releasable = 0, .trimmable = UNSET, .free_small_chunks = UNSET,
		.free_small_bytes = UNSET, .free_large_chunks = UNSET,
		.free_large_bytes = UNSET, .largest_free = UNSET, .pinned_bytes = 0,
		.top_size = UNSET, .top_held_bytes = UNSET, .top_held_by = UNSET,
		.top_held_by_size = UNSET, .top_held_by_free = UNSET,
		.slab_utilisation = NAN,
	};
}

/* A shape: bytes at time t (seconds). */
typedef uint64_t (*shape_fn)(double t);

/* n samples dt apart: allocated from alloc_at, resident = allocated + gap,
 * RSS = resident + 20 MiB of code and libraries; minor faults at
 * faults_per_s.  alloc_at NULL: the allocator could not be read. */
static inline void obs_sample(struct observation *o, size_t n, double dt, shape_fn alloc_at,
			      uint64_t gap, double faults_per_s)
{
	o->nsamples = n;
	o->window_s = dt * (n - 1);
	for (size_t i = 0; i < n; i++) {
		struct sample *s = &o->samples[i];
		double t = dt * i;
		uint64_t a = alloc_at ? alloc_at(t) : 64 * MiB_;

		s->t = t;
		s->allocated = alloc_at ? a : UNSET;
		s->resident = alloc_at ? a + gap : UNSET;
		s->rss = a + gap + 20 * MiB_;
		s->minflt = (uint64_t)(1000 + faults_per_s * t);
	}
	o->status.vm_rss = o->samples[n - 1].rss;
	if (alloc_at) {
		o->summary.allocated = o->samples[n - 1].allocated;
		o->summary.resident = o->samples[n - 1].resident;
		o->summary.free_total = gap;
	} else {
		o->summary.valid = false;
		snprintf(o->summary.why_invalid, sizeof(o->summary.why_invalid),
			 "no debug info for libc (install libc6-dbg)");
	}
}

/* A deterministic wobble of ±amp bytes, the same for every run. */
static inline uint64_t wobble(double t, uint64_t amp)
{
	unsigned k = (unsigned)(t * 1000 + 0.5);

	k = k * 2654435761u;
	return (uint64_t)((double)amp * ((double)(k >> 16) / 65535.0));
}

/* True when some line of v's evidence contains needle. */
static inline bool judge_has_evidence(const struct verdict *v, const char *needle)
{
	for (size_t i = 0; i < v->nevidence; i++)
		if (strstr(v->evidence[i], needle))
			return true;
	return false;
}

/* v on stderr: what a failed assertion about it needs to show. */
static inline void judge_dump(const struct verdict *v)
{
	fprintf(stderr, "verdict %s (leaning %s): %s\n  next: %s\n", verdict_name(v->kind),
		verdict_name(v->leaning), v->reason, v->next_step);
	for (size_t i = 0; i < v->nevidence; i++)
		fprintf(stderr, "  %s\n", v->evidence[i]);
}

/* Fails the test unless v's verdict is want, showing v when it is not. */
#define judge_assert_verdict(v, want) \
	do { \
		if ((v)->kind != (want)) \
			judge_dump(v); \
		ck_assert_str_eq(verdict_name((v)->kind), verdict_name(want)); \
	} while (0)

#endif
