/* Renderers for `heapdoc triage`: text (verdict first, evidence, sparklines,
 * knobs), JSON (the contract in DESIGN.md), and the Prometheus text format.
 * They print what the judge decided; they decide nothing. */
#ifndef HEAPDOC_REPORT_TRIAGE_H
#define HEAPDOC_REPORT_TRIAGE_H

#include <stdio.h>
#include <sys/types.h>

#include "judge/knobs.h"
#include "judge/leaks.h"
#include "judge/triage.h"
#include "model/observation.h"
#include "report/style.h"

struct triage_report {
	const struct observation *obs;
	const struct verdict *verdict;
	const struct knobs *knobs;
	/* How the window ended when it did not run its course ("interrupted by
	 * SIGINT after 31 s", "the process was killed by the OOM killer ...");
	 * NULL when it did. */
	const char *ended;
	/* triage --sites: allocation stacks sampled over the window. */
	bool sites_asked;
	const struct profile *profile;		/* NULL when none could be sampled */
	const struct leak_ranking *sites;	/* ranked (judge/leaks.h) */
	const char *sites_why;			/* why none, when asked for */
};

void triage_print_text(FILE *out, const struct triage_report *r, const struct style *s);
void triage_print_json(FILE *out, const struct triage_report *r);
void triage_print_prometheus(FILE *out, const struct triage_report *r);
/* The same format when the process could not be observed: heapdoc_up 0
 * and heapdoc's exit code, so that a textfile collector sees the failure. */
void triage_print_prometheus_failure(FILE *out, pid_t pid, const char *comm, int exit_code);

#endif
