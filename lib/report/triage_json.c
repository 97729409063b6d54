/* `heapdoc triage --json`: the keys of DESIGN.md's contract (pid, verdict,
 * allocator.name, rss, allocated, resident, evidence, knobs, trend, window,
 * target.pause_us) and more; keys are added, never renamed. */
#include "report/triage.h"

#include <math.h>

#include "report/allocator.h"
#include "report/knobs.h"
#include "report/leaks.h"
#include "base/util.h"

static void envelope_json(struct json *j, const char *key, const struct envelope *e)
{
	json_object_begin(j, key);
	json_uint(j, "points", e->n);
	json_double(j, "slope_bytes_per_s", e->rate);
	json_double(j, "z", e->z);
	json_uint(j, "first", e->n ? e->first : UNSET);
	json_uint(j, "last", e->n ? e->last : UNSET);
	json_bool(j, "rises", e->rises);
	json_object_end(j);
}

static void trend_json(struct json *j, const char *key, const struct trend *t)
{
	json_object_begin(j, key);
	json_string(j, "kind", trend_kind_name(t->kind));
	json_string(j, "why", t->kind == TREND_UNKNOWN ? t->why : NULL);
	json_uint(j, "samples", t->n);
	json_double(j, "span_s", t->span_s);
	json_double(j, "slope_bytes_per_s", t->slope);
	json_double(j, "r2", t->r2);
	json_double(j, "tail_slope_bytes_per_s", t->tail_slope);
	json_uint(j, "first", t->first);
	json_uint(j, "last", t->last);
	json_uint(j, "min", t->min);
	json_uint(j, "max", t->max);
	json_uint(j, "drops", t->drops);
	json_double(j, "period_s", t->period_s);
	envelope_json(j, "floor", &t->floor);
	envelope_json(j, "peak", &t->peak);
	json_object_end(j);
}

/* A working set that comes and goes (judge_cycle). */
static void cycle_json(struct json *j, const struct cycle *c)
{
	json_object_begin(j, "cycle");
	json_bool(j, "seen", c->seen);
	json_bool(j, "steady", c->steady);
	json_uint(j, "drops", c->drops);
	json_double(j, "period_s", c->period_s);
	json_uint(j, "floor", c->seen ? c->floor : UNSET);
	json_uint(j, "peak", c->seen ? c->peak : UNSET);
	json_bool(j, "held_at_peak", c->held_at_peak);
	json_object_end(j);
}

static void gap_json(struct json *j, const struct gap *g)
{
	json_object_begin(j, "gap");
	json_bool(j, "known", g->known);
	json_uint(j, "bytes", g->known ? g->bytes : UNSET);
	json_double(j, "ratio", g->ratio);
	json_bool(j, "significant", g->significant);
	json_string(j, "kind", gap_kind_name(g->kind));
	json_uint(j, "interleaved", g->interleaved);
	json_uint(j, "releasable", g->releasable);
	json_uint(j, "pinned", g->pinned);
	json_uint(j, "trimmable", g->trimmable);
	json_uint(j, "free_small_chunks", g->small_chunks);
	json_uint(j, "free_small_bytes", g->small_bytes);
	json_uint(j, "largest_free", g->largest_free);
	json_uint(j, "narenas", g->narenas ? g->narenas : UNSET);
	json_uint(j, "effective_cpus", g->effective_cpus ? g->effective_cpus : UNSET);
	json_double(j, "share", g->share);
	json_uint(j, "holes", g->holes);
	json_uint(j, "unresident", g->unresident);
	json_uint(j, "arena_peak_sum", g->arena_peak_sum);
	json_uint(j, "arena_peak_once", g->arena_peak_once);
	json_uint(j, "arena_shared", g->arena_shared);
	json_uint(j, "arena_samples", g->arena_samples);
	json_bool(j, "turns", g->turns);
	json_object_end(j);

	json_object_begin(j, "rss_split");
	json_uint(j, "allocator", g->alloc_owned);
	json_uint(j, "other_anon", g->other_anon);
	json_uint(j, "file", g->file);
	json_uint(j, "shmem", g->shmem);
	json_uint(j, "stacks", g->stacks);
	json_object_end(j);
}

/* Memory held inside the application's own allocator (judge_pool). */
static void pool_json(struct json *j, const struct pool *p)
{
	json_object_begin(j, "pool");
	json_bool(j, "held", p->held);
	json_uint(j, "block_size", p->block_size);
	json_uint(j, "blocks", p->blocks);
	json_uint(j, "bytes", p->bytes);
	json_double(j, "share", p->share);
	json_string(j, "app", p->app);
	json_string(j, "stats", p->stats);
	json_object_end(j);
}

/* RSS growth the allocator does not explain (judge_outside). */
static void outside_json(struct json *j, const struct outside *o)
{
	static const char *const kinds[] = {
		[OUTSIDE_UNKNOWN] = NULL, [OUTSIDE_ANON] = "anon",
		[OUTSIDE_FILE] = "file", [OUTSIDE_SHMEM] = "shmem",
	};

	json_object_begin(j, "outside");
	json_bool(j, "significant", o->significant);
	json_double(j, "rss_bytes_per_s", o->rss_rate);
	json_double(j, "allocator_bytes_per_s", o->measured ? o->alloc_rate : NAN);
	json_double(j, "share", o->share);
	json_uint(j, "bytes", o->measured ? o->bytes : UNSET);
	json_string(j, "grew", kinds[o->kind]);
	json_object_end(j);
}

static void latency_json(struct json *j, const struct observation *obs, const struct slow_path *sp)
{
	json_object_begin(j, "latency");
	json_bool(j, "sampled", sp->sampled);
	json_string(j, "why_not", obs->latency.why_not[0] ? obs->latency.why_not : NULL);
	json_uint(j, "samples", sp->sampled ? obs->latency.samples : UNSET);
	json_double(j, "allocator_share", sp->alloc_share);
	json_double(j, "mm_syscall_share", sp->syscall_share);
	json_double(j, "lock_wait_share", sp->lock_share);
	json_string(j, "top_frame", obs->latency.top_frame[0] ? obs->latency.top_frame : NULL);
	json_double(j, "minor_faults_per_s", sp->fault_rate);
	json_bool(j, "slow_path", sp->hot);
	json_object_end(j);
}

static void samples_json(struct json *j, const struct observation *obs)
{
	json_array_begin(j, "samples");
	for (size_t i = 0; i < obs->nsamples && i < OBS_MAX_SAMPLES; i++) {
		const struct sample *s = &obs->samples[i];

		json_object_begin(j, NULL);
		json_double(j, "t", s->t);
		json_uint(j, "rss", s->rss);
		json_uint(j, "allocated", s->allocated);
		json_uint(j, "resident", s->resident);
		json_uint(j, "minflt", s->minflt);
		json_uint(j, "majflt", s->majflt);
		json_object_end(j);
	}
	json_array_end(j);
}

#define TRIAGE_SITES 5		/* growing sites listed with --sites */

/* --sites: the growing sites, and with a leak verdict the top one. */
static void sites_json(struct json *j, const struct triage_report *r)
{
	const struct leak_ranking *s = r->sites;

	if (!r->sites_asked)
		return;
	json_array_begin(j, "sites");
	for (size_t i = 0; s && i < s->ngrowing && i < TRIAGE_SITES; i++)
		leaks_site_json(j, NULL, r->profile, s->growing[i].site, &s->growing[i]);
	json_array_end(j);
	if (s && s->ngrowing && r->verdict->kind == VERDICT_LEAK)
		leaks_site_json(j, "top_leak_site", r->profile, s->growing[0].site,
				&s->growing[0]);
	else
		json_null(j, "top_leak_site");
	json_string(j, "sites_why", s ? NULL : r->sites_why);
}

void triage_print_json(FILE *out, const struct triage_report *r)
{
	const struct observation *obs = r->obs;
	const struct verdict *v = r->verdict;
	const struct trend *deciding = v->gap.known ? &v->allocated : &v->rss;
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", 1);	/* DESIGN.md: keys are added, never renamed */
	json_int(&j, "pid", obs->pid);
	json_string(&j, "comm", obs->comm);
	json_string(&j, "verdict", verdict_name(v->kind));
	json_string(&j, "leaning", verdict_name(v->leaning));
	json_string(&j, "reason", v->reason);
	json_string(&j, "next_step", v->next_step);
	allocator_json(&j, "allocator", &obs->alloc, &obs->summary);
	json_uint(&j, "rss", v->gap.rss);
	json_uint(&j, "allocated", v->gap.known ? v->gap.allocated : UNSET);
	json_uint(&j, "resident", v->gap.known ? v->gap.resident : UNSET);
	json_array_begin(&j, "evidence");
	for (size_t i = 0; i < v->nevidence; i++)
		json_string(&j, NULL, v->evidence[i]);
	json_array_end(&j);
	knobs_json_array(&j, "knobs", r->knobs);

	/* trend.kind is the series the verdict rests on: allocated when the
	 * allocator was read, RSS otherwise. */
	json_object_begin(&j, "trend");
	json_string(&j, "kind", trend_kind_name(deciding->kind));
	json_string(&j, "series", v->gap.known ? "allocated" : "rss");
	json_double(&j, "slope_bytes_per_s", deciding->slope);
	json_double(&j, "r2", deciding->r2);
	trend_json(&j, "rss", &v->rss);
	trend_json(&j, "allocated", &v->allocated);
	trend_json(&j, "resident", &v->resident);
	json_object_end(&j);

	json_object_begin(&j, "window");
	json_double(&j, "duration_s", obs->window_s);
	json_double(&j, "interval_s", obs->interval_s);
	json_double(&j, "span_s", obs->nsamples > 1 ?
		    obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0);
	json_uint(&j, "samples", obs->nsamples);
	/* How it ended when it did not run its course; null when it did. */
	json_string(&j, "ended", r->ended);
	/* The window that would decide, when this one did not: 0 when it did. */
	json_double(&j, "watch_s", v->watch_s);
	json_string(&j, "watch_why", v->watch_s ? v->watch_why : NULL);
	json_object_end(&j);

	cycle_json(&j, &v->cycle);
	gap_json(&j, &v->gap);
	outside_json(&j, &v->outside);
	pool_json(&j, &v->pool);
	pressure_json_object(&j, "memory_limit", &v->pressure);
	cgroup_json_object(&j, "cgroup", &obs->cgroup);
	latency_json(&j, obs, &v->slow);

	sites_json(&j, r);

	json_object_begin(&j, "target");
	json_uint(&j, "pause_us", obs->pause_us);
	json_uint(&j, "pause_total_us", obs->pause_total_us);
	json_uint(&j, "stops", obs->stops);
	json_object_end(&j);

	samples_json(&j, obs);
	json_object_end(&j);
	json_finish(&j);
}
