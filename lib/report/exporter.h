/* `heapdoc exporter`: one round's page in the Prometheus text format, for
 * every watched process (report/metrics.h holds the names) and for the
 * exporter itself.  It prints what the rounds read and the judge decided;
 * it decides nothing. */
#ifndef HEAPDOC_REPORT_EXPORTER_H
#define HEAPDOC_REPORT_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "judge/triage.h"
#include "model/fleet.h"

/* One watched process and the verdict over its window. */
struct exporter_target {
	const struct fleet_target *t;
	enum verdict_kind verdict;
};

/* The exporter's own figures. */
struct exporter_self {
	const char *version;
	uint64_t rounds;
	double round_s;			/* the last round's duration */
	double last_round;		/* when it ended, seconds since the Epoch */
	bool serving;			/* a server answers scrapes (not a textfile alone) */
	uint64_t scrapes;
	double cpu_s;			/* user + system */
	uint64_t rss;
	double start_time;		/* seconds since the Epoch */
};

/* targets in the order given (by pid); now: seconds since the Epoch. */
void exporter_write(FILE *out, const struct exporter_target *targets, size_t n,
		    const struct exporter_self *self, double now);

#endif
