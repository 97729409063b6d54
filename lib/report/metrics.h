/* heapdoc's Prometheus metrics, in one table: name, type, HELP text, and
 * the writer of the text exposition format (version 0.0.4).  triage
 * --prometheus writes them; an exporter serving many processes uses the
 * same table, so a metric has one name, one unit and one meaning wherever
 * it comes from.
 *
 * Conventions (promtool check metrics holds them): base units, seconds and
 * bytes, in the name; gauges for every figure of one observation (none of
 * them only grows across observations, so none is a counter); labels pid,
 * comm and allocator on every sample, plus the metric's own (verdict,
 * knob).  Label values are escaped once: backslash, double quote, newline.
 */
#ifndef HEAPDOC_REPORT_METRICS_H
#define HEAPDOC_REPORT_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum metric {
	METRIC_UP,		/* heapdoc could observe the process */
	METRIC_EXIT_CODE,
	METRIC_VERDICT,		/* label verdict */
	METRIC_RSS,
	METRIC_ALLOCATED,
	METRIC_RESIDENT,
	METRIC_GAP,
	METRIC_TRIMMABLE,
	METRIC_UNRESIDENT,
	METRIC_RSS_SLOPE,
	METRIC_ALLOCATED_SLOPE,
	METRIC_MEMORY_USAGE,
	METRIC_MEMORY_LIMIT,
	METRIC_ARENAS,
	METRIC_EFFECTIVE_CPUS,
	METRIC_FAULT_RATE,
	METRIC_WINDOW,
	METRIC_PAUSE,
	METRIC_PAUSE_TOTAL,
	METRIC_STOPS,
	METRIC_KNOB_EFFECT,	/* label knob */
	METRIC_N
};

struct metric_def {
	const char *name;	/* heapdoc_rss_bytes */
	const char *type;	/* "gauge" */
	const char *help;	/* one line, the unit said in the name */
	const char *label;	/* the metric's own label ("verdict"), or NULL */
};

const struct metric_def *metric_def(enum metric m);

/* The process a sample describes: its labels. */
struct metric_target {
	pid_t pid;
	const char *comm;
	const char *allocator;	/* alloc_kind_name() */
};

/* # HELP and # TYPE, once per metric, before its first sample. */
void metric_header(FILE *out, enum metric m);

/* One sample: name{pid,comm,allocator[,own label]} value.  own is the
 * value of the metric's own label (NULL when it has none). */
void metric_sample(FILE *out, enum metric m, const struct metric_target *t, const char *own,
		   double value);

/* Header and one sample, for the metrics with one sample per process;
 * nothing for a figure that is unknown (UNSET, or not finite). */
void metric_write_u64(FILE *out, enum metric m, const struct metric_target *t, uint64_t value);
void metric_write_double(FILE *out, enum metric m, const struct metric_target *t, double value);

/* A label value as the text format wants it (backslash, quote, newline). */
void metric_label_value(FILE *out, const char *s);

#endif
