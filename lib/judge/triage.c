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

#include "judge/evidence.h"
#include "judge/rules.h"
#include "judge/where.h"
#include "judge/window.h"
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

/* ---- step 1 ---------------------------------------------------------------- */

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
		snprintf(stacks, sizeof(stacks), ", stacks %s", hb_bytes(&h, g->stacks));
	if (IS_SET(g->alloc_owned))
		judge_evidence(v, "RSS %s: allocator %s, other anonymous %s, file %s, shared %s%s",
			 hb_bytes(&h, g->rss), hb_bytes(&h, g->alloc_owned), hb_bytes(&h, g->other_anon),
			 hb_bytes(&h, g->file), hb_bytes(&h, g->shmem), stacks);
	else
		judge_evidence(v, "RSS %s: anonymous %s, file %s, shared %s%s", hb_bytes(&h, g->rss),
			 hb_bytes(&h, g->other_anon), hb_bytes(&h, g->file), hb_bytes(&h, g->shmem), stacks);
}

static void ratio_evidence(struct verdict *v, const struct gap *g)
{
	struct hb h = { .i = 0 };

	if (g->significant)
		judge_evidence(v, "resident %s is %s allocated %s: %s held free", hb_bytes(&h, g->resident),
			 hb_ratio(&h, g->ratio), hb_bytes(&h, g->allocated), hb_bytes(&h, g->bytes));
	else
		judge_evidence(v, "allocated %s ≈ resident %s (gap %s, %.0f%% of resident)",
			 hb_bytes(&h, g->allocated), hb_bytes(&h, g->resident), hb_bytes(&h, g->bytes),
			 g->resident ? 100.0 * g->bytes / g->resident : 0.0);
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
	judge_evidence(v, "RSS grows %s but the allocator's %s only %s: %.0f%% of the growth is "
		 "outside %s%s%s%s%s%s%s%s", hb_rate(&h, o->rss_rate), o->alloc_figure,
		 hb_rate(&h, MAX(o->alloc_rate, 0.0)), 100 * o->share,
		 allocator_title(obs->alloc.kind), split ? " (" : "",
		 split ? outside_what(o->kind) : "", split ? " " : "",
		 split ? hb_delta(&h, delta) : "", split ? ": " : "",
		 split ? outside_cause(o->kind) : "", split ? ")" : "");
}

/* glibc: a chunk right below the top keeps the free run under it from
 * merging into the top, and so from going back on its own. */
static void top_held_evidence(struct verdict *v, const struct observation *obs)
{
	const struct alloc_summary *sum = &obs->summary;
	struct hb h = { .i = 0 };
	char total[64] = "";
	/* A working set that comes and goes takes it back within a cycle. */
	const char *until = v->cycle.held_at_peak ? ", until the next cycle takes it again" : "";

	if (!sum->valid || !IS_SET(sum->top_held_bytes) || !IS_SET(sum->top_held_by) ||
	    sum->top_held_bytes < TOP_HELD_MIN_BYTES)
		return;
	if (sum->top_held_bytes > sum->top_held_by_free)
		snprintf(total, sizeof(total), " (%s over all arenas)",
			 hb_bytes(&h, sum->top_held_bytes));
	if (sum->top_held_by_cached)
		judge_evidence(v, "a thread-cached %s chunk at %#" PRIx64 " just below the top holds %s "
			 "of free space away from the top%s: malloc_trim(0) would return it%s",
			 hb_bytes(&h, sum->top_held_by_size), sum->top_held_by,
			 hb_bytes(&h, sum->top_held_by_free), total, until);
	else
		judge_evidence(v, "a live %s chunk at %#" PRIx64 " just below the top holds %s of free "
			 "space away from the top%s: free()ing it — or malloc_trim(0) — would "
			 "return it%s", hb_bytes(&h, sum->top_held_by_size), sum->top_held_by,
			 hb_bytes(&h, sum->top_held_by_free), total, until);
}

/* ---- limits and step 4 ----------------------------------------------------- */

static void pressure_evidence(struct verdict *v, const struct pressure *p,
			      const struct trend *growth)
{
	struct hb h = { .i = 0 };

	/* Against the machine's memory, a small share says nothing. */
	if (isnan(p->ratio) || (!strcmp(p->limit_name, "MemTotal") && p->ratio < 0.5))
		return;
	judge_evidence(v, "%s %s is %.0f%% of %s %s%s",
		 strcmp(p->limit_name, "MemTotal") ? "working set" : "RSS", hb_bytes(&h, p->usage),
		 100 * p->ratio, p->limit_name, hb_bytes(&h, p->limit),
		 p->near ? ": near an OOM kill" : "");
	if (growth && growth->kind == TREND_GROWING && growth->slope > 0 && p->limit > p->usage)
		judge_evidence(v, "at %s (the rate over %s) the limit is reached in about %s",
			       hb_rate(&h, growth->slope), hb_window(&h, growth->span_s),
			       hb_seconds(&h, (double)(p->limit - p->usage) / growth->slope));
}

static void slow_evidence(struct verdict *v, const struct observation *obs,
			  const struct slow_path *sp)
{
	const struct latency *l = &obs->latency;

	if (!isnan(sp->fault_rate) && (sp->fault_storm || sp->sampled)) {
		struct hb h = { .i = 0 };

		judge_evidence(v, "%.0f minor page faults/s over %s (≈%s of fresh pages)%s",
			       sp->fault_rate, hb_window(&h, obs->nsamples > 1 ?
			       obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0),
			       hb_rate(&h, sp->fault_rate * 4096),
			       sp->fault_storm ? ": memory is returned and taken back" : "");
	}
	if (!sp->sampled && l->why_not[0])
		judge_evidence(v, "thread stacks were not sampled: %s", l->why_not);
	if (!sp->sampled)
		return;
	judge_evidence(v, "%.0f%% of %u stack samples in the allocator%s%s%s", 100 * sp->alloc_share,
		 l->samples, l->top_frame[0] ? " (most often " : "", l->top_frame,
		 l->top_frame[0] ? ")" : "");
	judge_evidence(v, "%.0f%% in mmap/munmap/madvise/brk, %.0f%% waiting on allocator locks",
		 100 * sp->syscall_share, 100 * sp->lock_share);
	if (obs->pause_us) {
		char buf[24];

		judge_evidence(v, "heapdoc paused the process for at most %s",
			 human_us(buf, sizeof(buf), obs->pause_us));
	}
}

/* ---- the rules ------------------------------------------------------------- */

/* The figures of a corrupt heap are guesses over garbage: no verdict
 * rests on them, and no knob or release call is safe on it. */
static bool decide_corrupt(struct verdict *v, const struct observation *obs)
{
	if (!obs->summary.corrupt)
		return false;
	judge_decide(v, VERDICT_INCONCLUSIVE, "the heap is corrupt (%u finding%s, first: %s): "
		     "its figures cannot be trusted", obs->summary.nfindings,
		     obs->summary.nfindings == 1 ? "" : "s",
		     obs->summary.corrupt_what[0] ? obs->summary.corrupt_what : "?");
	return true;
}

/* Rule 1: allocated climbs — along a line, or by its floor under teeth,
 * or by a floor that RSS or resident follow at the same rate. */
static bool decide_leak(struct verdict *v)
{
	const struct trend *a = &v->allocated, *seen = judge_floor_seen(v);
	struct hb h = { .i = 0 };

	if (a->kind == TREND_GROWING && a->drops >= 2 && a->floor.rises)
		judge_decide(v, VERDICT_LEAK, "allocated's floor rises %s over %s (%u drops): "
			     "each cycle frees less than it took", hb_rate(&h, a->floor.rate),
			     hb_window(&h, a->span_s), a->drops);
	else if (a->kind == TREND_GROWING && a->span_s >= LEAK_CONFIRM_WINDOW_S)
		judge_decide(v, VERDICT_LEAK, "allocated climbs without bound: %s over %s, "
			     "its last %s too", hb_rate(&h, a->slope), hb_window(&h, a->span_s),
			     hb_seconds(&h, a->tail_s));
	else if (a->kind == TREND_GROWING)
		judge_decide(v, VERDICT_LEAK, "allocated climbed %s over %s and was still "
			     "climbing at its end", hb_rate(&h, a->slope), hb_window(&h, a->span_s));
	else if (seen)
		judge_decide(v, VERDICT_LEAK, "allocated's floor rises %s over %s as %s grows "
			     "%s: the growth is a leak under the churn, not a gap opening",
			     hb_rate(&h, a->floor.rate), hb_window(&h, a->span_s),
			     seen == &v->rss ? "RSS" : "resident", hb_rate(&h, seen->slope));
	else
		return false;
	return true;
}

/* A working set that comes and goes, held at its peak: not free memory,
 * whether the full read caught it low (a gap) or high (none). */
static bool decide_cycle(struct verdict *v)
{
	const struct cycle *c = &v->cycle;
	struct hb h = { .i = 0 };

	if (!c->seen || !c->held_at_peak || (!c->steady && !v->gap.significant))
		return false;
	if (!c->steady) {
		judge_decide(v, VERDICT_INCONCLUSIVE, "allocated goes from %s to %s and back "
			     "(%u drops) and resident %s is its peak: too few cycles to tell a "
			     "working set from a leak riding on it", hb_bytes(&h, c->floor),
			     hb_bytes(&h, c->peak), c->drops, hb_bytes(&h, v->gap.resident));
		v->leaning = v->pressure.near ? VERDICT_LIVE_SET : VERDICT_HEALTHY;
	} else if (v->pressure.near) {
		judge_decide(v, VERDICT_LIVE_SET, "a working set that comes and goes (allocated "
			     "%s to %s), held at its peak at %.0f%% of %s", hb_bytes(&h, c->floor),
			     hb_bytes(&h, c->peak), 100 * v->pressure.ratio, v->pressure.limit_name);
	} else {
		judge_decide(v, VERDICT_HEALTHY, "a working set that comes and goes: allocated "
			     "goes from %s to %s every ~%s, and resident %s is its peak, used again "
			     "every cycle", hb_bytes(&h, c->floor), hb_bytes(&h, c->peak),
			     hb_seconds(&h, c->period_s), hb_bytes(&h, v->gap.resident));
	}
	return true;
}

/* Rule 2: a gap between resident and allocated, by what it is made of. */
static bool decide_gap(struct verdict *v, const struct observation *obs)
{
	const struct gap *g = &v->gap;
	const struct trend *a = &v->allocated;
	struct hb h = { .i = 0 };

	if (!g->significant)
		return false;
	if (g->kind == GAP_UNKNOWN) {
		if (obs->summary.valid)
			judge_decide(v, VERDICT_INCONCLUSIVE, "resident is %s allocated, but %s's "
				     "statistics do not say where its free memory sits",
				     hb_ratio(&h, g->ratio), alloc_kind_name(obs->alloc.kind));
		else
			judge_decide(v, VERDICT_INCONCLUSIVE, "resident is %s allocated, but the "
				     "allocator's free lists were not read (%s)", hb_ratio(&h, g->ratio),
				     obs->summary.why_invalid[0] ? obs->summary.why_invalid :
				     "no full read");
		v->leaning = VERDICT_FRAGMENTATION;
	} else if (g->kind == GAP_UNPURGED) {
		judge_decide(v, VERDICT_UNPURGED, "%s of resident memory is whole free pages the "
			     "allocator has not returned (%s)", hb_bytes(&h, g->releasable),
			     judge_unpurged_where(obs->alloc.kind));
	} else {
		judge_decide(v, VERDICT_FRAGMENTATION, "resident %s is %s %sallocated %s (%s)",
			     hb_bytes(&h, g->resident), hb_ratio(&h, g->ratio),
			     trend_stable(a) ? "a stable " : "", hb_bytes(&h, g->allocated),
			     gap_kind_name(g->kind));
	}
	return true;
}

/* Growth the allocator's figures do not settle. */
static bool decide_unsettled(struct verdict *v)
{
	const struct trend *a = &v->allocated;
	struct hb h = { .i = 0 };

	/* DESIGN.md's leak is allocated climbing; RSS climbing where the
	 * allocator cannot see is a different story with the same shape. */
	if (v->outside.climbs ||
	    (v->rss.kind == TREND_GROWING && v->resident.kind != TREND_GROWING)) {
		judge_decide(v, VERDICT_INCONCLUSIVE, "RSS climbs %s outside the allocator's "
			     "view: allocated is %s (%s) while %s grows", hb_rate(&h, v->rss.slope),
			     hb_bytes(&h, a->level), trend_kind_name(a->kind),
			     outside_what(v->outside.kind));
		v->leaning = VERDICT_LEAK;
	} else if (v->resident.kind == TREND_GROWING && a->drops >= 2 &&
		   a->floor.z >= FLOOR_SEEN_Z && a->floor.rate > 0) {
		judge_decide(v, VERDICT_INCONCLUSIVE, "resident grows %s and allocated's floor "
			     "%s over %s, not yet beyond the noise of its lows",
			     hb_rate(&h, v->resident.slope), hb_rate(&h, a->floor.rate),
			     hb_window(&h, a->span_s));
		v->leaning = VERDICT_LEAK;
	} else if (v->resident.kind == TREND_GROWING && trend_stable(a)) {
		judge_decide(v, VERDICT_INCONCLUSIVE, "resident grows %s while allocated stays "
			     "at %s: a gap is opening, not yet large enough to name",
			     hb_rate(&h, v->resident.slope), hb_bytes(&h, a->level));
		v->leaning = VERDICT_FRAGMENTATION;
	} else if (!trend_stable(a)) {
		judge_decide(v, VERDICT_INCONCLUSIVE, "allocated ≈ resident, but stability was "
			     "not measured: %s", a->why[0] ? a->why : "no trend");
		v->leaning = v->pressure.near ? VERDICT_LIVE_SET : VERDICT_HEALTHY;
	} else {
		return false;
	}
	return true;
}

/* Memory in the application's own pool is in use as malloc sees it: a
 * live set, whose size only the application can say it needs. */
static void pool_decide(struct verdict *v)
{
	const struct pool *p = &v->pool;
	struct hb h = { .i = 0 };
	char blocks[160] = "";

	if (IS_SET(p->blocks) && p->blocks >= POOL_MIN_BLOCKS)
		snprintf(blocks, sizeof(blocks), ": %" PRIu64 " equal blocks of %s hold %s, %.0f%% "
			 "of allocated", p->blocks, hb_bytes(&h, p->block_size), hb_bytes(&h, p->bytes),
			 100 * p->share);
	judge_decide(v, VERDICT_LIVE_SET, "the memory is held inside the application's own "
	       "allocator (%s)%s; malloc sees it all in use", p->what ? p->what :
	       "a pool of large blocks it carves up itself", blocks);
}

static void decide_with_allocator(struct verdict *v, const struct observation *obs)
{
	const struct trend *a = &v->allocated;

	if (decide_corrupt(v, obs) || decide_leak(v) || decide_cycle(v) || decide_gap(v, obs) ||
	    decide_unsettled(v))
		return;
	if (v->cycle.seen && !v->cycle.steady) {
		judge_decide(v, VERDICT_INCONCLUSIVE, "allocated ≈ resident, going up and down "
			     "(%u drops): too few cycles to tell whether a leak rides on them",
			     v->cycle.drops);
		v->leaning = v->pressure.near ? VERDICT_LIVE_SET : VERDICT_HEALTHY;
	} else if (v->pool.held) {
		pool_decide(v);
	} else if (v->pressure.near) {
		judge_decide(v, VERDICT_LIVE_SET, "the memory is really in use: allocated ≈ "
			     "resident, stable, at %.0f%% of %s", 100 * v->pressure.ratio,
			     v->pressure.limit_name);
	} else {
		judge_decide(v, VERDICT_HEALTHY, "allocated ≈ resident and stable (%s), not near "
			     "a limit", trend_kind_name(a->kind));
	}
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
		judge_decide(v, VERDICT_INCONCLUSIVE, "RSS grows %s, but without the allocator's view a "
		       "leak cannot be told from fragmentation: %s", hb_rate(&h, v->rss.slope), why);
		v->leaning = VERDICT_LEAK;
	} else {
		/* Nothing to lean on: free memory held inside the allocator
		 * (fragmentation, unpurged pages) is exactly what could not be
		 * seen, so "healthy" would be a guess. */
		judge_decide(v, VERDICT_INCONCLUSIVE, "fragmentation and unreturned free pages "
			     "could not be judged without the allocator's view: %s", why);
		v->leaning = v->pressure.near ? VERDICT_LIVE_SET : VERDICT_INCONCLUSIVE;
	}
}

void judge_triage(const struct observation *obs, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	judge_trend(obs, SERIES_RSS, &v->rss);
	judge_trend(obs, SERIES_ALLOCATED, &v->allocated);
	judge_trend(obs, SERIES_RESIDENT, &v->resident);
	judge_gap(obs, &v->gap);
	judge_cycle(v);
	judge_outside(obs, &v->rss, &v->allocated, &v->resident, &v->outside);
	judge_pressure(obs, &v->pressure);
	judge_slow_path(obs, &v->slow);
	judge_pool(obs, v, &v->pool);

	if (!obs->nsamples && !v->gap.known)
		judge_decide(v, VERDICT_INCONCLUSIVE, "nothing was sampled");
	else if (v->gap.known)
		decide_with_allocator(v, obs);
	else
		decide_without_allocator(v, obs);
	judge_watch(v);

	/* The evidence, most decisive first. */
	if (v->kind == VERDICT_LEAK || !v->gap.known) {
		judge_trend_evidence(v, v->gap.known ? "allocated" : "RSS",
			       v->gap.known ? &v->allocated : &v->rss);
		if (v->leaning == VERDICT_LEAK && v->watch_s)
			judge_evidence(v, "%s (--duration %.0fs)", v->watch_why, v->watch_s);
		outside_evidence(v, obs);
		pressure_evidence(v, &v->pressure, v->gap.known ? &v->allocated : &v->rss);
		if (v->gap.known) {
			judge_trend_evidence(v, "RSS", &v->rss);
			ratio_evidence(v, &v->gap);
			top_held_evidence(v, obs);
		}
	} else if (v->outside.climbs) {
		judge_trend_evidence(v, "RSS", &v->rss);
		outside_evidence(v, obs);
		judge_trend_evidence(v, "allocated", &v->allocated);
		pressure_evidence(v, &v->pressure, &v->rss);
		ratio_evidence(v, &v->gap);
		top_held_evidence(v, obs);
	} else {
		ratio_evidence(v, &v->gap);
		judge_cycle_evidence(v);
		judge_where(v, obs);
		top_held_evidence(v, obs);
		judge_trend_evidence(v, "allocated", &v->allocated);
		judge_trend_evidence(v, "RSS", &v->rss);
		outside_evidence(v, obs);
		pressure_evidence(v, &v->pressure, NULL);
	}
	split_evidence(v, &v->gap);
	if (obs->summary.valid && obs->summary.estimated_arenas)
		judge_evidence(v, "the allocator's full read found %u arena%s moving through "
			       "every stop: %s figures come from a walk made while the process ran",
			       obs->summary.estimated_arenas,
			       obs->summary.estimated_arenas == 1 ? "" : "s",
			       obs->summary.estimated_arenas == 1 ? "its" : "their");
	if (obs->samples_estimated)
		judge_evidence(v, "%u sample%s of allocated %s estimates: a busy arena kept moving "
			       "through the read, each within what it allocated and freed in those "
			       "few milliseconds", obs->samples_estimated,
			       obs->samples_estimated == 1 ? "" : "s",
			       obs->samples_estimated == 1 ? "is one of the" : "are");
	slow_evidence(v, obs, &v->slow);
	judge_next_step(v, obs);
}
