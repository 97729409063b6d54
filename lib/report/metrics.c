/* The metric table and the text-format writer (metrics.h). */
#include "report/metrics.h"

#include <inttypes.h>
#include <math.h>

#include "base/util.h"

static const struct metric_def defs[METRIC_N] = {
	[METRIC_UP] = { "heapdoc_up", "gauge",
		"1 when heapdoc observed the process, 0 when it could not (heapdoc_exit_code says why).",
		NULL },
	[METRIC_EXIT_CODE] = { "heapdoc_exit_code", "gauge",
		"heapdoc's exit status when it could not observe the process (3 gone, 4 not allowed, 1 other).",
		NULL },
	[METRIC_VERDICT] = { "heapdoc_verdict", "gauge",
		"Triage verdict: 1 for the one reached, 0 for the others.", "verdict" },
	[METRIC_RSS] = { "heapdoc_rss_bytes", "gauge",
		"Resident set size of the process (VmRSS).", NULL },
	[METRIC_ALLOCATED] = { "heapdoc_allocated_bytes", "gauge",
		"Bytes the allocator has handed out and not got back.", NULL },
	[METRIC_RESIDENT] = { "heapdoc_allocator_resident_bytes", "gauge",
		"Bytes of the allocator's mappings resident in RAM.", NULL },
	[METRIC_GAP] = { "heapdoc_gap_bytes", "gauge",
		"Allocator resident minus allocated.", NULL },
	[METRIC_TRIMMABLE] = { "heapdoc_trimmable_bytes", "gauge",
		"RSS a release call (heapdoc release) would return now.", NULL },
	[METRIC_UNRESIDENT] = { "heapdoc_free_unresident_bytes", "gauge",
		"Free memory the allocator keeps out of RAM (given back, or never touched).", NULL },
	[METRIC_RSS_SLOPE] = { "heapdoc_rss_slope_bytes_per_second", "gauge",
		"Theil-Sen slope of RSS over the window.", NULL },
	[METRIC_ALLOCATED_SLOPE] = { "heapdoc_allocated_slope_bytes_per_second", "gauge",
		"Theil-Sen slope of allocated over the window.", NULL },
	[METRIC_MEMORY_USAGE] = { "heapdoc_memory_usage_bytes", "gauge",
		"Usage counted toward the memory limit (working set).", NULL },
	[METRIC_MEMORY_LIMIT] = { "heapdoc_memory_limit_bytes", "gauge",
		"The tightest memory limit (cgroup, else MemTotal).", NULL },
	[METRIC_ARENAS] = { "heapdoc_arenas", "gauge", "Allocator arenas.", NULL },
	[METRIC_EFFECTIVE_CPUS] = { "heapdoc_effective_cpus", "gauge",
		"CPUs the process can use (affinity, cpuset, quota).", NULL },
	[METRIC_FAULT_RATE] = { "heapdoc_minor_faults_per_second", "gauge",
		"Minor page faults per second over the window.", NULL },
	[METRIC_WINDOW] = { "heapdoc_window_seconds", "gauge",
		"Length of the observed window.", NULL },
	[METRIC_PAUSE] = { "heapdoc_pause_seconds", "gauge",
		"Longest pause heapdoc imposed on the process.", NULL },
	[METRIC_PAUSE_TOTAL] = { "heapdoc_pause_total_seconds", "gauge",
		"All the pauses heapdoc imposed on the process, added up.", NULL },
	[METRIC_STOPS] = { "heapdoc_stops", "gauge",
		"How many times heapdoc stopped the process.", NULL },
	[METRIC_KNOB_EFFECT] = { "heapdoc_knob_effect_bytes", "gauge",
		"RSS the advised knob would return, by knob (heapdoc knobs says how).", "knob" },
};

const struct metric_def *metric_def(enum metric m)
{
	return (unsigned)m < METRIC_N ? &defs[m] : NULL;
}

void metric_label_value(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else
			fputc(*s, out);
	}
}

void metric_header(FILE *out, enum metric m)
{
	const struct metric_def *d = &defs[m];

	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
}

void metric_sample(FILE *out, enum metric m, const struct metric_target *t, const char *own,
		   double value)
{
	const struct metric_def *d = &defs[m];

	fprintf(out, "%s{pid=\"%d\",comm=\"", d->name, (int)t->pid);
	metric_label_value(out, t->comm);
	fprintf(out, "\",allocator=\"%s\"", t->allocator);
	if (d->label && own) {
		fprintf(out, ",%s=\"", d->label);
		metric_label_value(out, own);
		fputc('"', out);
	}
	/* Integers as integers (bytes are exact), the rest round-trip. */
	if (value == floor(value) && fabs(value) < 9007199254740992.0)
		fprintf(out, "} %.0f\n", value);
	else
		fprintf(out, "} %.17g\n", value);
}

void metric_write_u64(FILE *out, enum metric m, const struct metric_target *t, uint64_t value)
{
	if (!IS_SET(value))
		return;
	metric_header(out, m);
	metric_sample(out, m, t, NULL, (double)value);
}

void metric_write_double(FILE *out, enum metric m, const struct metric_target *t, double value)
{
	if (!isfinite(value))
		return;
	metric_header(out, m);
	metric_sample(out, m, t, NULL, value);
}
