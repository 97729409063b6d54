/* heapdoc's Prometheus metrics: every name, type, label and HELP text in
 * one table, and the writers of the text exposition format.
 *
 * `heapdoc exporter` and `heapdoc triage --prometheus` write through this
 * table, heapdoc(1) documents the same names (a test holds the two
 * together), and deploy/ (alert rules, dashboard) uses them.  Units are
 * base units (bytes, seconds), counters end in _total, and a figure that
 * could not be read is left out, never written as NaN or a huge number.
 *
 * The labels every per-process series carries: pid, comm, allocator
 * ("glibc", "jemalloc", ...), cgroup (its cgroup path; "" outside one) and
 * unit (the systemd unit that path names; absent when none).
 */
#ifndef HEAPDOC_REPORT_METRICS_H
#define HEAPDOC_REPORT_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum metric_type {
	METRIC_GAUGE,
	METRIC_COUNTER,
	METRIC_HISTOGRAM,
};

struct metric {
	const char *name;
	enum metric_type type;
	const char *label;	/* its own label beyond a process's ("kind"), or NULL */
	const char *help;	/* one line */
};

enum metric_id {
	/* per process */
	METRIC_RSS,
	METRIC_ALLOCATED,
	METRIC_RESIDENT,
	METRIC_FREE,
	METRIC_TRIMMABLE,
	METRIC_ARENAS,
	METRIC_FRAGMENTATION,
	METRIC_CGROUP_LIMIT,
	METRIC_CGROUP_USAGE,
	METRIC_CGROUP_WORKING_SET,
	METRIC_VERDICT,
	METRIC_WINDOW,
	METRIC_PAUSE,
	METRIC_PAUSE_LONGEST,
	METRIC_STOPPED_HOUR,
	METRIC_READ_ERRORS,
	METRIC_LAST_SUCCESS,
	/* triage's own (one observation, one window) */
	METRIC_UP,
	METRIC_EXIT_CODE,
	METRIC_GAP,
	METRIC_RSS_SLOPE,
	METRIC_ALLOCATED_SLOPE,
	METRIC_EFFECTIVE_CPUS,
	METRIC_FAULT_RATE,
	METRIC_STOPS,
	METRIC_KNOB_EFFECT,
	/* the exporter itself */
	METRIC_EXPORTER_TARGETS,
	METRIC_EXPORTER_ROUNDS,
	METRIC_EXPORTER_ROUND_SECONDS,
	METRIC_EXPORTER_LAST_ROUND,
	METRIC_EXPORTER_SCRAPES,
	METRIC_EXPORTER_BUILD,
	METRIC_PROCESS_CPU,
	METRIC_PROCESS_RSS,
	METRIC_PROCESS_START,
	METRIC_COUNT
};

extern const struct metric metrics[METRIC_COUNT];

/* "gauge", "counter", "histogram". */
const char *metric_type_name(enum metric_type type);

/* "# HELP name help" and "# TYPE name type". */
void metric_head(FILE *out, enum metric_id id);

/* A process's labels, rendered once ("pid=\"42\",comm=\"redis\",..."),
 * each value escaped; unit left out when "". */
struct metric_labels {
	char text[1536];
};

void metric_labels_process(struct metric_labels *l, pid_t pid, const char *comm,
			   const char *allocator, const char *cgroup, const char *unit);

/* One sample line: name{labels[,label="value"]} v.  labels may be NULL
 * (none); label is the metric's own (metrics[id].label) and its value, or
 * NULL.  metric_u64 writes nothing for UNSET, metric_double nothing for a
 * value that is not finite. */
void metric_u64(FILE *out, enum metric_id id, const struct metric_labels *labels,
		const char *label_value, uint64_t v);
void metric_double(FILE *out, enum metric_id id, const struct metric_labels *labels,
		   const char *label_value, double v);

/* A histogram's series: name_bucket{...,le="b"} for each bound (counts
 * cumulative), le="+Inf", name_sum and name_count. */
void metric_histogram(FILE *out, enum metric_id id, const struct metric_labels *labels,
		      const double *bounds, const uint64_t *le, size_t nbounds,
		      uint64_t count, double sum);

#endif
