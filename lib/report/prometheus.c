/* `heapdoc triage --prometheus` and --prometheus-file: the text exposition
 * format, for node_exporter's textfile collector.  The metrics and their
 * names are report/metrics.h's; figures that could not be read are left
 * out rather than written as NaN. */
#include "report/triage.h"

#include <math.h>

#include "base/util.h"
#include "report/metrics.h"

static void verdicts(FILE *out, const struct metric_target *t, const struct verdict *v)
{
	static const enum verdict_kind all[] = {
		VERDICT_HEALTHY, VERDICT_LEAK, VERDICT_FRAGMENTATION, VERDICT_UNPURGED,
		VERDICT_LIVE_SET, VERDICT_INCONCLUSIVE,
	};

	metric_header(out, METRIC_VERDICT);
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		metric_sample(out, METRIC_VERDICT, t, verdict_name(all[i]), v->kind == all[i]);
}

/* What each knob would return, for a dashboard of what tuning would buy. */
static void knob_effects(FILE *out, const struct metric_target *t, const struct knobs *ks)
{
	bool header = false;

	for (size_t i = 0; ks && i < ks->n; i++) {
		if (!IS_SET(ks->v[i].effect_bytes))
			continue;
		if (!header)
			metric_header(out, METRIC_KNOB_EFFECT);
		header = true;
		metric_sample(out, METRIC_KNOB_EFFECT, t, ks->v[i].name, (double)ks->v[i].effect_bytes);
	}
}

void triage_print_prometheus(FILE *out, const struct triage_report *r)
{
	const struct observation *obs = r->obs;
	const struct verdict *v = r->verdict;
	const struct gap *g = &v->gap;
	struct metric_target t = { .pid = obs->pid, .comm = obs->comm,
				   .allocator = alloc_kind_name(obs->alloc.kind) };

	metric_header(out, METRIC_UP);
	metric_sample(out, METRIC_UP, &t, NULL, 1);
	verdicts(out, &t, v);
	metric_write_u64(out, METRIC_RSS, &t, g->rss);
	metric_write_u64(out, METRIC_ALLOCATED, &t, g->known ? g->allocated : UNSET);
	metric_write_u64(out, METRIC_RESIDENT, &t, g->known ? g->resident : UNSET);
	metric_write_u64(out, METRIC_GAP, &t, g->known ? g->bytes : UNSET);
	metric_write_u64(out, METRIC_TRIMMABLE, &t, g->trimmable);
	metric_write_u64(out, METRIC_UNRESIDENT, &t, g->unresident);
	metric_write_double(out, METRIC_RSS_SLOPE, &t, v->rss.slope);
	metric_write_double(out, METRIC_ALLOCATED_SLOPE, &t, v->allocated.slope);
	metric_write_u64(out, METRIC_MEMORY_USAGE, &t, v->pressure.usage);
	metric_write_u64(out, METRIC_MEMORY_LIMIT, &t, v->pressure.limit);
	metric_write_u64(out, METRIC_ARENAS, &t, g->narenas ? g->narenas : UNSET);
	metric_write_u64(out, METRIC_EFFECTIVE_CPUS, &t, g->effective_cpus ? g->effective_cpus : UNSET);
	metric_write_double(out, METRIC_FAULT_RATE, &t, v->slow.fault_rate);
	metric_write_double(out, METRIC_WINDOW, &t, obs->nsamples > 1 ?
			    obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0);
	metric_write_double(out, METRIC_PAUSE, &t, (double)obs->pause_us / 1e6);
	metric_write_double(out, METRIC_PAUSE_TOTAL, &t, (double)obs->pause_total_us / 1e6);
	metric_write_u64(out, METRIC_STOPS, &t, obs->stops);
	knob_effects(out, &t, r->knobs);
}

void triage_print_prometheus_failure(FILE *out, pid_t pid, const char *comm, int exit_code)
{
	struct metric_target t = { .pid = pid, .comm = comm ? comm : "", .allocator = "unknown" };

	metric_header(out, METRIC_UP);
	metric_sample(out, METRIC_UP, &t, NULL, 0);
	metric_header(out, METRIC_EXIT_CODE);
	metric_sample(out, METRIC_EXIT_CODE, &t, NULL, exit_code);
}
