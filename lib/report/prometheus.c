/* `heapdoc triage --prometheus` and --prometheus-file: the text exposition
 * format, for node_exporter's textfile collector, through the metric table
 * the exporter shares (report/metrics.h).  Figures that could not be read
 * are left out rather than written as NaN. */
#include "report/triage.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "report/metrics.h"

static void one_u64(FILE *out, enum metric_id id, const struct metric_labels *l, uint64_t v)
{
	if (!IS_SET(v))
		return;
	metric_head(out, id);
	metric_u64(out, id, l, NULL, v);
}

static void one_double(FILE *out, enum metric_id id, const struct metric_labels *l, double v)
{
	if (!isfinite(v))
		return;
	metric_head(out, id);
	metric_double(out, id, l, NULL, v);
}

static void verdicts(FILE *out, const struct metric_labels *l, const struct verdict *v)
{
	static const enum verdict_kind all[] = {
		VERDICT_HEALTHY, VERDICT_LEAK, VERDICT_FRAGMENTATION, VERDICT_UNPURGED,
		VERDICT_LIVE_SET, VERDICT_INCONCLUSIVE,
	};

	metric_head(out, METRIC_VERDICT);
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		metric_u64(out, METRIC_VERDICT, l, verdict_name(all[i]), v->kind == all[i]);
}

/* Where the free bytes sit: between live data, whole pages apart from it
 * (named as the allocator keeps them), and out of RAM. */
static void free_kinds(FILE *out, const struct metric_labels *l, const struct observation *obs,
		       const struct gap *g)
{
	const char *apart = obs->alloc.kind == ALLOC_JEMALLOC ? "dirty" :
			    obs->alloc.kind == ALLOC_TCMALLOC ? "pageheap" : "top";

	if (!g->known || !obs->summary.valid)
		return;
	metric_head(out, METRIC_FREE);
	metric_u64(out, METRIC_FREE, l, "between_live", g->interleaved);
	metric_u64(out, METRIC_FREE, l, apart, g->releasable);
	metric_u64(out, METRIC_FREE, l, "unresident", g->unresident);
}

/* What each knob would return, for a dashboard of what tuning would buy. */
static void knob_effects(FILE *out, const struct metric_labels *l, const struct knobs *ks)
{
	bool head = false;

	for (size_t i = 0; ks && i < ks->n; i++) {
		if (!IS_SET(ks->v[i].effect_bytes))
			continue;
		if (!head)
			metric_head(out, METRIC_KNOB_EFFECT);
		head = true;
		metric_u64(out, METRIC_KNOB_EFFECT, l, ks->v[i].name, ks->v[i].effect_bytes);
	}
}

static void labels_of(struct metric_labels *l, const struct observation *obs)
{
	metric_labels_process(l, obs->pid, obs->comm, alloc_kind_name(obs->alloc.kind),
			      obs->cgroup.path, "");
}

void triage_print_prometheus(FILE *out, const struct triage_report *r)
{
	const struct observation *obs = r->obs;
	const struct verdict *v = r->verdict;
	const struct gap *g = &v->gap;
	const struct pressure *p = &v->pressure;
	bool cgroup = p->limit_name && strncmp(p->limit_name, "cgroup", 6) == 0;
	struct metric_labels l;

	labels_of(&l, obs);
	one_u64(out, METRIC_UP, &l, 1);
	verdicts(out, &l, v);
	one_u64(out, METRIC_RSS, &l, g->rss);
	one_u64(out, METRIC_ALLOCATED, &l, g->known ? g->allocated : UNSET);
	one_u64(out, METRIC_RESIDENT, &l, g->known ? g->resident : UNSET);
	one_u64(out, METRIC_GAP, &l, g->known ? g->bytes : UNSET);
	one_double(out, METRIC_FRAGMENTATION, &l, g->known ? g->ratio : NAN);
	free_kinds(out, &l, obs, g);
	one_u64(out, METRIC_TRIMMABLE, &l, g->trimmable);
	one_u64(out, METRIC_ARENAS, &l, g->narenas ? g->narenas : UNSET);
	one_u64(out, METRIC_CGROUP_LIMIT, &l, cgroup ? p->limit : UNSET);
	one_u64(out, METRIC_CGROUP_USAGE, &l, obs->cgroup.version ? obs->cgroup.memory_current :
		UNSET);
	one_u64(out, METRIC_CGROUP_WORKING_SET, &l, cgroup ? p->usage : UNSET);
	one_double(out, METRIC_RSS_SLOPE, &l, v->rss.slope);
	one_double(out, METRIC_ALLOCATED_SLOPE, &l, v->allocated.slope);
	one_u64(out, METRIC_EFFECTIVE_CPUS, &l, g->effective_cpus ? g->effective_cpus : UNSET);
	one_double(out, METRIC_FAULT_RATE, &l, v->slow.fault_rate);
	one_double(out, METRIC_WINDOW, &l, obs->nsamples > 1 ?
		   obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0);
	one_double(out, METRIC_PAUSE_LONGEST, &l, (double)obs->pause_us / 1e6);
	one_u64(out, METRIC_STOPS, &l, obs->stops);
	knob_effects(out, &l, r->knobs);
}

void triage_print_prometheus_failure(FILE *out, pid_t pid, const char *comm, int exit_code)
{
	struct metric_labels l;

	metric_labels_process(&l, pid, comm ? comm : "", "unknown", "", "");
	one_u64(out, METRIC_UP, &l, 0);
	one_u64(out, METRIC_EXIT_CODE, &l, (uint64_t)exit_code);
}
