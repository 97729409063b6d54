/* Two observations side by side, before and after a change (a knob, a
 * release, a deploy): what differs in the settings, how each figure moved,
 * and whether the number the changed knob was meant to move did — the
 * seed's "one knob, one number, one verification".  Pure, like the rest of
 * lib/judge: it reads two observations and their verdicts.
 */
#ifndef HEAPDOC_JUDGE_COMPARE_H
#define HEAPDOC_JUDGE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "judge/triage.h"
#include "model/observation.h"

/* One figure, before and after. */
struct compare_figure {
	const char *name;		/* "RSS", "the gap (resident − allocated)", ... */
	double before, after;		/* NAN when unknown on that side */
	const char *unit;		/* "bytes", "arenas", "faults/s" */
};

/* One setting that differs between the two. */
struct compare_setting {
	char name[48];			/* MALLOC_ARENA_MAX, dirty_decay_ms, ... */
	char before[96], after[96];	/* as in force; "" when unset */
	/* What the setting is there to move, and whether it moved. */
	const char *aim;		/* the figure's name (one of compare.figures) */
	int direction;			/* -1 meant to lower it, +1 to raise it */
	bool known;			/* both sides have that figure */
	bool moved;			/* by a change worth the name, the right way */
	bool wrong_way;			/* by a change worth the name, the other way */
};

#define COMPARE_MAX_SETTINGS 16
#define COMPARE_FIGURES 8

struct compare {
	const char *verdict_before, *verdict_after;
	struct compare_figure figures[COMPARE_FIGURES];
	size_t nfigures;
	struct compare_setting settings[COMPARE_MAX_SETTINGS];
	size_t nsettings;
	bool same_process;		/* same pid: one process, before and after */
	int worked;			/* the deciding setting moved its number: 1,
					 * did not: 0, no setting or not measured: -1 */
	char conclusion[512];		/* one line: did it work */
};

void judge_compare(const struct observation *before, const struct verdict *vb,
		   const struct observation *after, const struct verdict *va,
		   struct compare *out);

/* The change from before to after as a share of before (NAN unknown). */
double compare_change(const struct compare_figure *f);

#endif
