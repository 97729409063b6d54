/* What heapdoc release and heapdoc set did, as text and as JSON. */
#ifndef HEAPDOC_REPORT_ACT_H
#define HEAPDOC_REPORT_ACT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "judge/knobs.h"
#include "judge/settings.h"
#include "judge/verify.h"
#include "model/act.h"
#include "report/style.h"

struct act_report {
	pid_t pid;
	const char *comm;
	const struct alloc_id *alloc;	/* which allocator was acted on */
	/* release */
	const struct act_release *release;
	bool dry_run;
	/* set */
	const struct setting_req *req;
	const struct act_change *changes;
	size_t n;
	uint64_t rss_before, rss_after;
	const struct act_cost *cost;
	const struct knob *permanent;	/* env/systemd/Kubernetes lines */
	size_t npermanent;
	/* --verify, or NULL */
	const struct verify_result *verify;
};

void act_print_text(FILE *out, const struct act_report *r, const struct style *s);
void act_print_json(FILE *out, const struct act_report *r);

#endif
