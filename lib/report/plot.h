/* `heapdoc plot`: RSS, resident and allocated against time as a plain SVG
 * picture, written by heapdoc itself (no plotting library), several
 * recordings overlaid, each with its verdict and, where they part, a mark
 * where resident and allocated diverge ("diverging lines: fragmentation
 * accumulating" is something people would rather look at than read).
 */
#ifndef HEAPDOC_REPORT_PLOT_H
#define HEAPDOC_REPORT_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "judge/triage.h"
#include "model/observation.h"

struct plot_line {
	const char *name;		/* the recording's file */
	const struct observation *obs;
	const struct verdict *verdict;
	struct divergence divergence;
};

#define PLOT_MAX_LINES 6

/* The recordings share the time axis from their first sample. */
void plot_print_svg(FILE *out, const struct plot_line *lines, size_t n);
/* What the picture says, for scripts: each recording's verdict and where
 * its lines part. */
void plot_print_json(FILE *out, const struct plot_line *lines, size_t n);

#endif
