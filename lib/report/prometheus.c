/* `heapdoc triage --prometheus`: the text exposition format, for the
 * node_exporter textfile collector (write to a .prom file atomically).
 * Figures that could not be read are left out rather than written as NaN. */
#include "report/triage.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "base/util.h"

/* Label values escape backslash, double quote and newline. */
static void write_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		fputc(*s, out);
	}
}

static void metric_head(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void labels(FILE *out, const struct observation *obs)
{
	fprintf(out, "{pid=\"%d\",comm=\"", (int)obs->pid);
	write_label(out, obs->comm);
	fprintf(out, "\",allocator=\"%s\"", alloc_kind_name(obs->alloc.kind));
}

static void gauge_u(FILE *out, const struct observation *obs, const char *name,
		    const char *help, uint64_t v)
{
	if (!IS_SET(v))
		return;
	metric_head(out, name, help);
	fputs(name, out);
	labels(out, obs);
	fprintf(out, "} %" PRIu64 "\n", v);
}

static void gauge_d(FILE *out, const struct observation *obs, const char *name,
		    const char *help, double v)
{
	if (!isfinite(v))
		return;
	metric_head(out, name, help);
	fputs(name, out);
	labels(out, obs);
	fprintf(out, "} %.17g\n", v);
}

void triage_print_prometheus(FILE *out, const struct triage_report *r)
{
	static const enum verdict_kind all[] = {
		VERDICT_HEALTHY, VERDICT_LEAK, VERDICT_FRAGMENTATION, VERDICT_UNPURGED,
		VERDICT_LIVE_SET, VERDICT_INCONCLUSIVE,
	};
	const struct observation *obs = r->obs;
	const struct verdict *v = r->verdict;
	const struct gap *g = &v->gap;

	metric_head(out, "heapdoc_verdict", "Triage verdict: 1 for the one reached, 0 for the others.");
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		fputs("heapdoc_verdict", out);
		labels(out, obs);
		fprintf(out, ",verdict=\"%s\"} %d\n", verdict_name(all[i]), v->kind == all[i]);
	}
	gauge_u(out, obs, "heapdoc_rss_bytes", "Resident set size of the process (VmRSS).", g->rss);
	gauge_u(out, obs, "heapdoc_allocated_bytes", "Bytes the allocator has handed out and not got back.",
		g->known ? g->allocated : UNSET);
	gauge_u(out, obs, "heapdoc_allocator_resident_bytes", "Bytes of the allocator's mappings resident in RAM.",
		g->known ? g->resident : UNSET);
	gauge_u(out, obs, "heapdoc_gap_bytes", "Allocator resident minus allocated.",
		g->known ? g->bytes : UNSET);
	gauge_u(out, obs, "heapdoc_trimmable_bytes", "What a release call (malloc_trim) would return now.",
		g->trimmable);
	gauge_d(out, obs, "heapdoc_rss_slope_bytes_per_second", "Theil-Sen slope of RSS over the window.",
		v->rss.slope);
	gauge_d(out, obs, "heapdoc_allocated_slope_bytes_per_second",
		"Theil-Sen slope of allocated over the window.", v->allocated.slope);
	gauge_u(out, obs, "heapdoc_memory_usage_bytes", "Usage counted toward the memory limit (working set).",
		v->pressure.usage);
	gauge_u(out, obs, "heapdoc_memory_limit_bytes", "The tightest memory limit (cgroup, else MemTotal).",
		v->pressure.limit);
	gauge_u(out, obs, "heapdoc_arenas", "Allocator arenas.", g->narenas ? g->narenas : UNSET);
	gauge_u(out, obs, "heapdoc_effective_cpus", "CPUs the process can use (affinity, cpuset, quota).",
		g->effective_cpus ? g->effective_cpus : UNSET);
	gauge_d(out, obs, "heapdoc_minor_faults_per_second", "Minor page faults per second over the window.",
		v->slow.fault_rate);
	gauge_d(out, obs, "heapdoc_window_seconds", "Length of the observed window.",
		obs->nsamples > 1 ? obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0);
	gauge_u(out, obs, "heapdoc_pause_microseconds", "Longest pause heapdoc imposed on the process.",
		obs->pause_us);
}
