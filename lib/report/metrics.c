#include "report/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/util.h"

const struct metric metrics[METRIC_COUNT] = {
	[METRIC_RSS] = { "heapdoc_rss_bytes", METRIC_GAUGE, NULL,
		"Resident set size of the process (VmRSS)." },
	[METRIC_ALLOCATED] = { "heapdoc_allocated_bytes", METRIC_GAUGE, NULL,
		"Bytes the allocator has handed out and not got back (mallinfo2 uordblks+hblkhd, "
		"jemalloc stats.allocated, tcmalloc generic.current_allocated_bytes)." },
	[METRIC_RESIDENT] = { "heapdoc_resident_bytes", METRIC_GAUGE, NULL,
		"Bytes of the allocator's own mappings resident in RAM." },
	[METRIC_FREE] = { "heapdoc_free_bytes", METRIC_GAUGE, "kind",
		"Free bytes the allocator keeps, by where they sit (between_live, cache, top, "
		"dirty, muzzy, pageheap), from the last full read." },
	[METRIC_TRIMMABLE] = { "heapdoc_trimmable_bytes", METRIC_GAUGE, NULL,
		"Bytes a release call (malloc_trim(0), arena purge, ReleaseFreeMemory) would "
		"return now, from the last full read." },
	[METRIC_ARENAS] = { "heapdoc_arenas", METRIC_GAUGE, NULL,
		"Allocator arenas, from the last full read." },
	[METRIC_FRAGMENTATION] = { "heapdoc_fragmentation_ratio", METRIC_GAUGE, NULL,
		"The allocator's resident bytes divided by its allocated bytes (1 is no gap)." },
	[METRIC_CGROUP_LIMIT] = { "heapdoc_cgroup_memory_limit_bytes", METRIC_GAUGE, NULL,
		"The process's effective cgroup memory limit (the lowest memory.max up the tree); "
		"absent when there is none." },
	[METRIC_CGROUP_USAGE] = { "heapdoc_cgroup_memory_usage_bytes", METRIC_GAUGE, NULL,
		"Memory the process's cgroup uses (memory.current, v1 memory.usage_in_bytes)." },
	[METRIC_CGROUP_WORKING_SET] = { "heapdoc_cgroup_memory_working_set_bytes", METRIC_GAUGE,
		NULL, "The cgroup's usage less its inactive file pages: what counts toward an "
		"OOM kill." },
	[METRIC_VERDICT] = { "heapdoc_verdict", METRIC_GAUGE, "verdict",
		"1 for the verdict heapdoc reaches over its window (healthy, leak, fragmentation, "
		"unpurged, live-set, inconclusive), 0 for the others." },
	[METRIC_WINDOW] = { "heapdoc_window_seconds", METRIC_GAUGE, NULL,
		"How much of the process's history the verdict was judged on." },
	[METRIC_PAUSE] = { "heapdoc_pause_seconds", METRIC_HISTOGRAM, NULL,
		"Every stop heapdoc imposed on the process to read its allocator." },
	[METRIC_PAUSE_LONGEST] = { "heapdoc_pause_longest_seconds", METRIC_GAUGE, NULL,
		"The longest stop heapdoc imposed on the process since it watches it." },
	[METRIC_STOPPED_HOUR] = { "heapdoc_stopped_seconds_per_hour", METRIC_GAUGE, NULL,
		"Seconds heapdoc held the process stopped during the last hour." },
	[METRIC_READ_ERRORS] = { "heapdoc_read_errors_total", METRIC_COUNTER, "reason",
		"Rounds that could not read the process's allocator, by reason (permission, "
		"traced, no_debug_info, unsupported, busy, corrupt, other)." },
	[METRIC_LAST_SUCCESS] = { "heapdoc_last_success_timestamp_seconds", METRIC_GAUGE, NULL,
		"When the allocator of the process was last read (seconds since the Epoch)." },
	[METRIC_UP] = { "heapdoc_up", METRIC_GAUGE, NULL,
		"1 when heapdoc observed the process, 0 when it could not (heapdoc_exit_code "
		"says why)." },
	[METRIC_EXIT_CODE] = { "heapdoc_exit_code", METRIC_GAUGE, NULL,
		"heapdoc's exit status when it could not observe the process (3 gone, 4 not "
		"allowed, 1 another error)." },
	[METRIC_GAP] = { "heapdoc_gap_bytes", METRIC_GAUGE, NULL,
		"The allocator's resident bytes minus its allocated bytes." },
	[METRIC_RSS_SLOPE] = { "heapdoc_rss_slope_bytes_per_second", METRIC_GAUGE, NULL,
		"Theil-Sen slope of RSS over the window." },
	[METRIC_ALLOCATED_SLOPE] = { "heapdoc_allocated_slope_bytes_per_second", METRIC_GAUGE,
		NULL, "Theil-Sen slope of allocated over the window." },
	[METRIC_EFFECTIVE_CPUS] = { "heapdoc_effective_cpus", METRIC_GAUGE, NULL,
		"CPUs the process can use (affinity, cpuset, CPU quota)." },
	[METRIC_FAULT_RATE] = { "heapdoc_minor_faults_per_second", METRIC_GAUGE, NULL,
		"Minor page faults per second over the window." },
	[METRIC_STOPS] = { "heapdoc_stops", METRIC_GAUGE, NULL,
		"How many times heapdoc stopped the process for this observation." },
	[METRIC_KNOB_EFFECT] = { "heapdoc_knob_effect_bytes", METRIC_GAUGE, "knob",
		"RSS an advised knob would return, by knob (heapdoc knobs says how to apply it)." },
	[METRIC_EXPORTER_TARGETS] = { "heapdoc_exporter_targets", METRIC_GAUGE, NULL,
		"Processes the exporter watches." },
	[METRIC_EXPORTER_ROUNDS] = { "heapdoc_exporter_rounds_total", METRIC_COUNTER, NULL,
		"Rounds the exporter has finished." },
	[METRIC_EXPORTER_ROUND_SECONDS] = { "heapdoc_exporter_round_duration_seconds",
		METRIC_GAUGE, NULL, "How long the last round took." },
	[METRIC_EXPORTER_LAST_ROUND] = { "heapdoc_exporter_last_round_timestamp_seconds",
		METRIC_GAUGE, NULL, "When the last round ended (seconds since the Epoch)." },
	[METRIC_EXPORTER_SCRAPES] = { "heapdoc_exporter_scrapes_total", METRIC_COUNTER, NULL,
		"Requests for /metrics answered, as of the last round." },
	[METRIC_EXPORTER_BUILD] = { "heapdoc_exporter_build_info", METRIC_GAUGE, "version",
		"Always 1; the version of heapdoc in its label." },
	[METRIC_PROCESS_CPU] = { "process_cpu_seconds_total", METRIC_COUNTER, NULL,
		"CPU time the exporter has used (user and system)." },
	[METRIC_PROCESS_RSS] = { "process_resident_memory_bytes", METRIC_GAUGE, NULL,
		"The exporter's own resident set size." },
	[METRIC_PROCESS_START] = { "process_start_time_seconds", METRIC_GAUGE, NULL,
		"When the exporter started (seconds since the Epoch)." },
};

const char *metric_type_name(enum metric_type type)
{
	switch (type) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_HISTOGRAM:
		return "histogram";
	case METRIC_GAUGE:
		break;
	}
	return "gauge";
}

void metric_head(FILE *out, enum metric_id id)
{
	const struct metric *m = &metrics[id];

	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
		metric_type_name(m->type));
}

/* Appends name="value" (escaped: backslash, double quote, newline) at *at. */
static void label_append(char *buf, size_t len, size_t *at, const char *name, const char *value)
{
	int n = snprintf(buf + *at, len - *at, "%s%s=\"", *at ? "," : "", name);

	if (n < 0 || (size_t)n >= len - *at)
		return;
	*at += (size_t)n;
	for (const char *s = value; *s && *at + 3 < len; s++) {
		if (*s == '\\' || *s == '"')
			buf[(*at)++] = '\\';
		if (*s == '\n') {
			buf[(*at)++] = '\\';
			buf[(*at)++] = 'n';
			continue;
		}
		buf[(*at)++] = *s;
	}
	if (*at + 1 < len)
		buf[(*at)++] = '"';
	buf[*at] = '\0';
}

void metric_labels_process(struct metric_labels *l, pid_t pid, const char *comm,
			   const char *allocator, const char *cgroup, const char *unit)
{
	char pidstr[16];
	size_t at = 0;

	l->text[0] = '\0';
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	label_append(l->text, sizeof(l->text), &at, "pid", pidstr);
	label_append(l->text, sizeof(l->text), &at, "comm", comm);
	label_append(l->text, sizeof(l->text), &at, "allocator", allocator);
	label_append(l->text, sizeof(l->text), &at, "cgroup", cgroup);
	if (unit && unit[0])
		label_append(l->text, sizeof(l->text), &at, "unit", unit);
}

/* name{labels,own="value"} with the braces left out when there is nothing
 * in them. */
static void series(FILE *out, const char *name, const char *suffix,
		   const struct metric_labels *labels, const char *own, const char *value)
{
	bool any = labels && labels->text[0];
	char extra[512];
	size_t at = 0;

	extra[0] = '\0';
	if (own && value)
		label_append(extra, sizeof(extra), &at, own, value);
	fprintf(out, "%s%s", name, suffix);
	if (any || extra[0])
		fprintf(out, "{%s%s%s}", any ? labels->text : "", any && extra[0] ? "," : "",
			extra);
}

void metric_u64(FILE *out, enum metric_id id, const struct metric_labels *labels,
		const char *label_value, uint64_t v)
{
	if (!IS_SET(v))
		return;
	series(out, metrics[id].name, "", labels, metrics[id].label, label_value);
	fprintf(out, " %" PRIu64 "\n", v);
}

void metric_double(FILE *out, enum metric_id id, const struct metric_labels *labels,
		   const char *label_value, double v)
{
	if (!isfinite(v))
		return;
	series(out, metrics[id].name, "", labels, metrics[id].label, label_value);
	fprintf(out, " %.15g\n", v);
}

void metric_histogram(FILE *out, enum metric_id id, const struct metric_labels *labels,
		      const double *bounds, const uint64_t *le, size_t nbounds,
		      uint64_t count, double sum)
{
	const char *name = metrics[id].name;
	char bound[32];

	for (size_t i = 0; i < nbounds; i++) {
		snprintf(bound, sizeof(bound), "%g", bounds[i]);
		series(out, name, "_bucket", labels, "le", bound);
		fprintf(out, " %" PRIu64 "\n", le[i]);
	}
	series(out, name, "_bucket", labels, "le", "+Inf");
	fprintf(out, " %" PRIu64 "\n", count);
	series(out, name, "_sum", labels, NULL, NULL);
	fprintf(out, " %.15g\n", sum);
	series(out, name, "_count", labels, NULL, NULL);
	fprintf(out, " %" PRIu64 "\n", count);
}
