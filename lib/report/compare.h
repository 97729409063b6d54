/* `heapdoc compare`: two recordings side by side, for a person and for
 * scripts.  It prints what judge_compare decided. */
#ifndef HEAPDOC_REPORT_COMPARE_H
#define HEAPDOC_REPORT_COMPARE_H

#include <stdio.h>

#include "judge/compare.h"
#include "judge/triage.h"
#include "model/observation.h"
#include "report/style.h"

struct compare_side {
	const char *name;		/* the recording's file */
	const struct observation *obs;
	const struct verdict *verdict;
};

struct compare_report {
	struct compare_side before, after;
	const struct compare *compare;
};

void compare_print_text(FILE *out, const struct compare_report *r, const struct style *s);
void compare_print_json(FILE *out, const struct compare_report *r);

#endif
