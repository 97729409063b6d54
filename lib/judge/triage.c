/* The verdict: the four steps put together, with the lines that decided it.
 *
 * Order of the rules (DESIGN.md, "What the verdicts mean"):
 *  1. allocated climbs through the window, the last third too  → leak
 *  2. a significant gap between resident and allocated          → unpurged
 *     when whole free pages apart from live data dominate it, else
 *     fragmentation
 *  3. allocated ≈ resident and stable, near a memory limit      → live-set
 *  4. allocated ≈ resident and stable                           → healthy
 *  anything these cannot decide — no allocator view, no trend, growth
 *  outside the allocator — is inconclusive, with the reason and the verdict
 *  the evidence leans to.  RSS that climbs mostly outside the allocator
 *  while allocated does not is inconclusive leaning to leak: the shape of
 *  a leak, in memory malloc cannot see.
 */
#include "judge/triage.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "judge/rules.h"
#include "base/human.h"
#include "base/util.h"

const char *verdict_name(enum verdict_kind kind)
{
	switch (kind) {
	case VERDICT_HEALTHY: return "healthy";
	case VERDICT_LEAK: return "leak";
	case VERDICT_FRAGMENTATION: return "fragmentation";
	case VERDICT_UNPURGED: return "unpurged";
	case VERDICT_LIVE_SET: return "live-set";
	case VERDICT_INCONCLUSIVE: break;
	}
	return "inconclusive";
}

__attribute__((format(printf, 2, 3)))
static void evidence(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (v->nevidence >= VERDICT_MAX_EVIDENCE)
		return;
	va_start(ap, fmt);
	vsnprintf(v->evidence[v->nevidence++], VERDICT_LINE, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static void decide(struct verdict *v, enum verdict_kind kind, const char *fmt, ...)
{
	va_list ap;

	v->kind = v->leaning = kind;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* Short-lived formatted sizes for one evidence line. */
struct hb {
	char s[6][32];
	int i;
};

static const char *B(struct hb *h, uint64_t bytes)
{
	char *buf = h->s[h->i++ % 6];

	return human_bytes(buf, sizeof(h->s[0]), bytes);
}

/* A rate in bytes/s, with its sign. */
static const char *R(struct hb *h, double rate)
{
	char *buf = h->s[h->i++ % 6];
	char tmp[24];

	if (isnan(rate))
		return "n/a";
	human_bytes(tmp, sizeof(tmp), (uint64_t)fabs(rate));
	snprintf(buf, sizeof(h->s[0]), "%s%s/s", rate < 0 ? "-" : "", tmp);
	return buf;
}

/* resident/allocated: two decimals where they matter, fewer where not. */
static const char *X(struct hb *h, double ratio)
{
	char *buf = h->s[h->i++ % 6];

	snprintf(buf, sizeof(h->s[0]), ratio >= 100 ? "%.0f×" : ratio >= 10 ? "%.1f×" : "%.2f×",
		 ratio);
	return buf;
}

/* ---- step 1 ---------------------------------------------------------------- */

static void trend_evidence(struct verdict *v, const char *what, const struct trend *t)
{
	struct hb h = { .i = 0 };

	switch (t->kind) {
	case TREND_UNKNOWN:
		evidence(v, "%s trend unknown: %s", what, t->why);
		break;
	case TREND_GROWING:
		if (t->drops >= 2 && t->floor_rises) {
			evidence(v, "%s goes up and down (%u drops), but each low is higher than "
				 "the last: from %s to %s in %.1f s", what, t->drops,
				 B(&h, t->floor_first), B(&h, t->floor_last), t->span_s);
			break;
		}
		evidence(v, "%s grew %s in %.1f s (%s, R² %.2f); the last third still grows at %s",
			 what, B(&h, t->last > t->first ? t->last - t->first : 0), t->span_s,
			 R(&h, t->slope), t->r2, R(&h, t->tail_slope));
		break;
	case TREND_PLATEAU:
		evidence(v, "%s rose from %s and levelled off at %s (last third %s against %s overall)",
			 what, B(&h, t->first), B(&h, t->last), R(&h, t->tail_slope),
			 R(&h, t->slope));
		break;
	case TREND_FLAT:
		evidence(v, "%s stayed at %s (within %s over %.1f s)", what, B(&h, t->level),
			 B(&h, t->max - t->min), t->span_s);
		break;
	case TREND_SAWTOOTH:
		evidence(v, "%s went up and down (%u drops) between %s and %s, net %s",
			 what, t->drops, B(&h, t->min), B(&h, t->max), R(&h, t->slope));
		break;
	case TREND_FALLING:
		evidence(v, "%s fell from %s to %s in %.1f s (%s)", what, B(&h, t->first),
			 B(&h, t->last), t->span_s, R(&h, t->slope));
		break;
	}
}

static bool trend_stable(const struct trend *t)
{
	return t->kind == TREND_FLAT || t->kind == TREND_PLATEAU ||
	       t->kind == TREND_SAWTOOTH || t->kind == TREND_FALLING;
}

/* ---- steps 2 and 3 --------------------------------------------------------- */

static void split_evidence(struct verdict *v, const struct gap *g)
{
	struct hb h = { .i = 0 };
	char stacks[48] = "";

	if (!IS_SET(g->rss))
		return;
	if (IS_SET(g->stacks))
		snprintf(stacks, sizeof(stacks), ", stacks %s", B(&h, g->stacks));
	if (IS_SET(g->alloc_owned))
		evidence(v, "RSS %s: allocator %s, other anonymous %s, file %s, shared %s%s",
			 B(&h, g->rss), B(&h, g->alloc_owned), B(&h, g->other_anon),
			 B(&h, g->file), B(&h, g->shmem), stacks);
	else
		evidence(v, "RSS %s: anonymous %s, file %s, shared %s%s", B(&h, g->rss),
			 B(&h, g->other_anon), B(&h, g->file), B(&h, g->shmem), stacks);
}

static void ratio_evidence(struct verdict *v, const struct gap *g)
{
	struct hb h = { .i = 0 };

	if (g->significant)
		evidence(v, "resident %s is %s allocated %s: %s held free", B(&h, g->resident),
			 X(&h, g->ratio), B(&h, g->allocated), B(&h, g->bytes));
	else
		evidence(v, "allocated %s ≈ resident %s (gap %s, %.0f%% of resident)",
			 B(&h, g->allocated), B(&h, g->resident), B(&h, g->bytes),
			 g->resident ? 100.0 * g->bytes / g->resident : 0.0);
}

static const char *unpurged_where(enum alloc_kind kind)
{
	switch (kind) {
	case ALLOC_GLIBC: return "the top chunk above the pad";
	case ALLOC_JEMALLOC: return "dirty and muzzy extents waiting for decay";
	case ALLOC_TCMALLOC: return "page-heap free spans";
	default: return "free pages the allocator keeps";
	}
}

static const char *release_call(enum alloc_kind kind)
{
	switch (kind) {
	case ALLOC_GLIBC: return "malloc_trim(0)";
	case ALLOC_JEMALLOC: return "a purge of every arena (arena.<all>.purge)";
	case ALLOC_TCMALLOC: return "ReleaseFreeMemory()";
	default: return "a release call";
	}
}

static void where_evidence(struct verdict *v, const struct observation *obs, const struct gap *g)
{
	struct hb h = { .i = 0 };
	uint64_t free_total = IS_SET(obs->summary.free_total) ? obs->summary.free_total : 0;

	if (!g->significant || g->kind == GAP_UNKNOWN)
		return;
	if (g->releasable)
		evidence(v, "%s is whole free pages apart from live data (%s)",
			 B(&h, g->releasable), unpurged_where(obs->alloc.kind));
	if (g->interleaved)
		evidence(v, "%s is free space between live chunks", B(&h, g->interleaved));
	if (g->pinned)
		evidence(v, "%s of it is whole free pages pinned between live chunks",
			 B(&h, g->pinned));
	if (IS_SET(g->small_chunks) && g->small_chunks)
		evidence(v, "%" PRIu64 " free chunks under 1 KiB hold %s (%.0f%% of free space); "
			 "the largest free chunk is %s", g->small_chunks, B(&h, g->small_bytes),
			 free_total ? 100.0 * g->small_bytes / free_total : 0.0,
			 B(&h, g->largest_free));
	if (!isnan(g->slab_utilisation))
		evidence(v, "slabs are %.0f%% full: %.0f%% of their regions are free",
			 100 * g->slab_utilisation, 100 * (1 - g->slab_utilisation));
	if (g->narenas)
		evidence(v, "%u arena%s for %u effective CPU%s%s", g->narenas,
			 g->narenas == 1 ? "" : "s", g->effective_cpus,
			 g->effective_cpus == 1 ? "" : "s",
			 g->kind == GAP_ARENAS ? ": free memory retained per arena" : "");
	if (IS_SET(g->trimmable) && g->trimmable)
		evidence(v, "%s could return %s now", release_call(obs->alloc.kind),
			 B(&h, g->trimmable));
}

/* ---- growth outside the allocator ----------------------------------------- */

static const char *outside_what(enum outside_kind kind)
{
	switch (kind) {
	case OUTSIDE_ANON: return "other anonymous memory";
	case OUTSIDE_FILE: return "file-backed memory";
	case OUTSIDE_SHMEM: return "shared memory";
	case OUTSIDE_UNKNOWN: break;
	}
	return "memory the allocator does not own";
}

static const char *outside_cause(enum outside_kind kind)
{
	switch (kind) {
	case OUTSIDE_ANON: return "another allocator such as pymalloc or a JIT, or direct mmap";
	case OUTSIDE_FILE: return "files mapped and read";
	case OUTSIDE_SHMEM: return "memfd, /dev/shm or SysV segments";
	case OUTSIDE_UNKNOWN: break;
	}
	return "";
}

static const char *allocator_title(enum alloc_kind kind)
{
	return kind == ALLOC_GLIBC ? "glibc malloc" : alloc_kind_name(kind);
}

/* A signed size: "+118 MiB", "-4.0 MiB". */
static const char *D(struct hb *h, int64_t delta)
{
	char *buf = h->s[h->i++ % 6];
	char tmp[24];

	human_bytes(tmp, sizeof(tmp), (uint64_t)(delta < 0 ? -delta : delta));
	snprintf(buf, sizeof(h->s[0]), "%s%s", delta < 0 ? "-" : "+", tmp);
	return buf;
}

static void outside_evidence(struct verdict *v, const struct observation *obs)
{
	const struct outside *o = &v->outside;
	struct hb h = { .i = 0 };
	bool split = o->kind != OUTSIDE_UNKNOWN;
	int64_t delta = o->kind == OUTSIDE_ANON ? o->anon_delta :
			o->kind == OUTSIDE_FILE ? o->file_delta : o->shmem_delta;

	if (!o->significant)
		return;
	/* The split names what grew, when it was read at both ends. */
	evidence(v, "RSS grows %s but the allocator's %s only %s: %.0f%% of the growth is "
		 "outside %s%s%s%s%s%s%s%s", R(&h, o->rss_rate), o->alloc_figure,
		 R(&h, MAX(o->alloc_rate, 0.0)), 100 * o->share,
		 allocator_title(obs->alloc.kind), split ? " (" : "",
		 split ? outside_what(o->kind) : "", split ? " " : "",
		 split ? D(&h, delta) : "", split ? ": " : "",
		 split ? outside_cause(o->kind) : "", split ? ")" : "");
}

/* glibc: a chunk right below the top keeps the free run under it from
 * merging into the top, and so from going back on its own. */
static void top_held_evidence(struct verdict *v, const struct observation *obs)
{
	const struct alloc_summary *sum = &obs->summary;
	struct hb h = { .i = 0 };
	char total[64] = "";

	if (!sum->valid || !IS_SET(sum->top_held_bytes) || !IS_SET(sum->top_held_by) ||
	    sum->top_held_bytes < TOP_HELD_MIN_BYTES)
		return;
	if (sum->top_held_bytes > sum->top_held_by_free)
		snprintf(total, sizeof(total), " (%s over all arenas)",
			 B(&h, sum->top_held_bytes));
	if (sum->top_held_by_cached)
		evidence(v, "a thread-cached %s chunk at %#" PRIx64 " just below the top holds %s "
			 "of free space away from the top%s: malloc_trim(0) would return it",
			 B(&h, sum->top_held_by_size), sum->top_held_by,
			 B(&h, sum->top_held_by_free), total);
	else
		evidence(v, "a live %s chunk at %#" PRIx64 " just below the top holds %s of free "
			 "space away from the top%s: free()ing it — or malloc_trim(0) — would "
			 "return it", B(&h, sum->top_held_by_size), sum->top_held_by,
			 B(&h, sum->top_held_by_free), total);
}

/* ---- limits and step 4 ----------------------------------------------------- */

static void pressure_evidence(struct verdict *v, const struct pressure *p,
			      const struct trend *growth)
{
	struct hb h = { .i = 0 };

	/* Against the machine's memory, a small share says nothing. */
	if (isnan(p->ratio) || (!strcmp(p->limit_name, "MemTotal") && p->ratio < 0.5))
		return;
	evidence(v, "%s %s is %.0f%% of %s %s%s",
		 strcmp(p->limit_name, "MemTotal") ? "working set" : "RSS", B(&h, p->usage),
		 100 * p->ratio, p->limit_name, B(&h, p->limit),
		 p->near ? ": near an OOM kill" : "");
	if (growth && growth->kind == TREND_GROWING && growth->slope > 0 && p->limit > p->usage)
		evidence(v, "at %s the limit is reached in about %.0f s",
			 R(&h, growth->slope), (double)(p->limit - p->usage) / growth->slope);
}

static void slow_evidence(struct verdict *v, const struct observation *obs,
			  const struct slow_path *sp)
{
	const struct latency *l = &obs->latency;

	if (!isnan(sp->fault_rate) && (sp->fault_storm || sp->sampled)) {
		struct hb h = { .i = 0 };

		evidence(v, "%.0f minor page faults/s (≈%s of fresh pages)%s", sp->fault_rate,
			 R(&h, sp->fault_rate * 4096),
			 sp->fault_storm ? ": memory is returned and taken back" : "");
	}
	if (!sp->sampled && l->why_not[0])
		evidence(v, "thread stacks were not sampled: %s", l->why_not);
	if (!sp->sampled)
		return;
	evidence(v, "%.0f%% of %u stack samples in the allocator%s%s%s", 100 * sp->alloc_share,
		 l->samples, l->top_frame[0] ? " (most often " : "", l->top_frame,
		 l->top_frame[0] ? ")" : "");
	evidence(v, "%.0f%% in mmap/munmap/madvise/brk, %.0f%% waiting on allocator locks",
		 100 * sp->syscall_share, 100 * sp->lock_share);
	if (obs->pause_us) {
		char buf[24];

		evidence(v, "heapdoc paused the process for at most %s",
			 human_us(buf, sizeof(buf), obs->pause_us));
	}
}

/* ---- the rules ------------------------------------------------------------- */

static void decide_with_allocator(struct verdict *v, const struct observation *obs)
{
	const struct gap *g = &v->gap;
	const struct trend *a = &v->allocated;
	struct hb h = { .i = 0 };

	/* The figures of a corrupt heap are guesses over garbage: no verdict
	 * rests on them, and no knob or release call is safe on it. */
	if (obs->summary.corrupt) {
		decide(v, VERDICT_INCONCLUSIVE, "the heap is corrupt (%u finding%s, first: %s): "
		       "its figures cannot be trusted", obs->summary.nfindings,
		       obs->summary.nfindings == 1 ? "" : "s",
		       obs->summary.corrupt_what[0] ? obs->summary.corrupt_what : "?");
		return;
	}

	if (a->kind == TREND_GROWING) {
		decide(v, VERDICT_LEAK, "allocated climbs without bound: %s over %.1f s",
		       R(&h, a->slope), a->span_s);
		return;
	}
	if (g->significant && g->kind == GAP_UNKNOWN) {
		decide(v, VERDICT_INCONCLUSIVE, "resident is %s allocated, but the allocator's "
		       "free lists were not read (%s)", X(&h, g->ratio),
		       obs->summary.why_invalid[0] ? obs->summary.why_invalid : "no full read");
		v->leaning = VERDICT_FRAGMENTATION;
		return;
	}
	if (g->significant && g->kind == GAP_UNPURGED) {
		decide(v, VERDICT_UNPURGED, "%s of resident memory is whole free pages the allocator "
		       "has not returned (%s)", B(&h, g->releasable),
		       unpurged_where(obs->alloc.kind));
		return;
	}
	if (g->significant) {
		decide(v, VERDICT_FRAGMENTATION, "resident %s is %s %sallocated %s (%s)",
		       B(&h, g->resident), X(&h, g->ratio), trend_stable(a) ? "a stable " : "",
		       B(&h, g->allocated), gap_kind_name(g->kind));
		return;
	}
	/* DESIGN.md's leak is allocated climbing; RSS climbing where the
	 * allocator cannot see is a different story with the same shape. */
	if (v->outside.climbs ||
	    (v->rss.kind == TREND_GROWING && v->resident.kind != TREND_GROWING)) {
		decide(v, VERDICT_INCONCLUSIVE, "RSS climbs %s outside the allocator's view: "
		       "allocated is %s (%s) while %s grows", R(&h, v->rss.slope),
		       B(&h, a->level), trend_kind_name(a->kind), outside_what(v->outside.kind));
		v->leaning = VERDICT_LEAK;
		return;
	}
	if (v->resident.kind == TREND_GROWING && trend_stable(a)) {
		decide(v, VERDICT_INCONCLUSIVE, "resident grows %s while allocated stays at %s: "
		       "a gap is opening, not yet large enough to name", R(&h, v->resident.slope),
		       B(&h, a->level));
		v->leaning = VERDICT_FRAGMENTATION;
		return;
	}
	if (!trend_stable(a)) {
		decide(v, VERDICT_INCONCLUSIVE, "allocated ≈ resident, but stability was not "
		       "measured: %s", a->why[0] ? a->why : "no trend");
		v->leaning = v->pressure.near ? VERDICT_LIVE_SET : VERDICT_HEALTHY;
		return;
	}
	if (v->pressure.near) {
		decide(v, VERDICT_LIVE_SET, "the memory is really in use: allocated ≈ resident, "
		       "stable, at %.0f%% of %s", 100 * v->pressure.ratio, v->pressure.limit_name);
		return;
	}
	decide(v, VERDICT_HEALTHY, "allocated ≈ resident and stable (%s), not near a limit",
	       trend_kind_name(a->kind));
}

static void decide_without_allocator(struct verdict *v, const struct observation *obs)
{
	char why[sizeof(obs->summary.why_invalid)];
	struct hb h = { .i = 0 };

	if (obs->summary.why_invalid[0])
		snprintf(why, sizeof(why), "%s", obs->summary.why_invalid);
	else
		snprintf(why, sizeof(why), "heapdoc cannot read %s's state",
			 alloc_kind_name(obs->alloc.kind));
	if (v->rss.kind == TREND_GROWING) {
		decide(v, VERDICT_INCONCLUSIVE, "RSS grows %s, but without the allocator's view a "
		       "leak cannot be told from fragmentation: %s", R(&h, v->rss.slope), why);
		v->leaning = VERDICT_LEAK;
	} else {
		decide(v, VERDICT_INCONCLUSIVE, "no allocator view: %s", why);
		v->leaning = v->pressure.near ? VERDICT_LIVE_SET : VERDICT_HEALTHY;
	}
}

/* What an on-call engineer does next, given the verdict. */
static void next_step(struct verdict *v, const struct observation *obs)
{
	const char *s = "";

	switch (v->kind) {
	case VERDICT_LEAK:
		s = v->outside.significant && v->outside.share >= OUTSIDE_MAJORITY ?
		    "find the allocation site (heapdoc leaks <pid>), and what maps the "
		    "growth malloc does not see (the largest mappings in /proc/<pid>/smaps)" :
		    "find the allocation site: heapdoc leaks <pid> ranks the stacks whose "
		    "live bytes grow; no allocator knob fixes a leak";
		break;
	case VERDICT_FRAGMENTATION:
		s = v->gap.kind == GAP_ARENAS ?
		    "cap the arenas at the CPUs the process can use (knobs below); a release "
		    "call returns the free pages now" :
		    "a release call returns the whole free pages now; lasting fixes are in "
		    "the allocation pattern (pools, arenas per lifetime) or another allocator";
		break;
	case VERDICT_UNPURGED:
		s = "turn the release knobs below, or make one release call now";
		break;
	case VERDICT_LIVE_SET:
		s = "the memory is in use: raise the limit or shrink the live set";
		break;
	case VERDICT_HEALTHY:
		s = "nothing to do for the allocator";
		break;
	case VERDICT_INCONCLUSIVE:
		if (obs->summary.corrupt) {
			s = "the program has a memory bug (a write past a block, a double free, a "
			    "use after free): run it under AddressSanitizer or valgrind; touch "
			    "nothing of its allocator until then";
			break;
		}
		if (v->outside.climbs) {
			s = "find what maps the growing memory: the largest anonymous "
			    "mappings in /proc/<pid>/smaps, then that allocator's own tools";
			break;
		}
		s = !v->gap.known && obs->summary.why_invalid[0] ?
		    "give heapdoc the allocator's view (see the reason), or watch longer" :
		    "watch for longer (--duration 30s)";
		break;
	}
	snprintf(v->next_step, sizeof(v->next_step), "%s", s);
}

void judge_triage(const struct observation *obs, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	judge_trend(obs, SERIES_RSS, &v->rss);
	judge_trend(obs, SERIES_ALLOCATED, &v->allocated);
	judge_trend(obs, SERIES_RESIDENT, &v->resident);
	judge_gap(obs, &v->gap);
	judge_outside(obs, &v->rss, &v->allocated, &v->resident, &v->outside);
	judge_pressure(obs, &v->pressure);
	judge_slow_path(obs, &v->slow);

	if (!obs->nsamples && !v->gap.known)
		decide(v, VERDICT_INCONCLUSIVE, "nothing was sampled");
	else if (v->gap.known)
		decide_with_allocator(v, obs);
	else
		decide_without_allocator(v, obs);

	/* The evidence, most decisive first. */
	if (v->kind == VERDICT_LEAK || !v->gap.known) {
		trend_evidence(v, v->gap.known ? "allocated" : "RSS",
			       v->gap.known ? &v->allocated : &v->rss);
		if (v->leaning == VERDICT_LEAK && v->allocated.span_s < LEAK_CONFIRM_WINDOW_S &&
		    v->rss.span_s < LEAK_CONFIRM_WINDOW_S)
			evidence(v, "a cache still filling up looks the same over %.0f s: a "
				 "longer window (--duration %.0fs) tells them apart",
				 MAX(v->allocated.span_s, v->rss.span_s), LEAK_CONFIRM_WINDOW_S * 2);
		outside_evidence(v, obs);
		pressure_evidence(v, &v->pressure, v->gap.known ? &v->allocated : &v->rss);
		if (v->gap.known) {
			trend_evidence(v, "RSS", &v->rss);
			ratio_evidence(v, &v->gap);
			top_held_evidence(v, obs);
		}
	} else if (v->outside.climbs) {
		trend_evidence(v, "RSS", &v->rss);
		outside_evidence(v, obs);
		trend_evidence(v, "allocated", &v->allocated);
		pressure_evidence(v, &v->pressure, &v->rss);
		ratio_evidence(v, &v->gap);
		top_held_evidence(v, obs);
	} else {
		ratio_evidence(v, &v->gap);
		where_evidence(v, obs, &v->gap);
		top_held_evidence(v, obs);
		trend_evidence(v, "allocated", &v->allocated);
		trend_evidence(v, "RSS", &v->rss);
		outside_evidence(v, obs);
		pressure_evidence(v, &v->pressure, NULL);
	}
	split_evidence(v, &v->gap);
	slow_evidence(v, obs, &v->slow);
	next_step(v, obs);
}
