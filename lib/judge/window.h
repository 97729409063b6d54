/* Step 1 over the window (window.c): internal to lib/judge. */
#ifndef HEAPDOC_JUDGE_WINDOW_H
#define HEAPDOC_JUDGE_WINDOW_H

#include "judge/triage.h"

/* One line for a trend, naming the window its figures come from. */
void judge_trend_evidence(struct verdict *v, const char *what, const struct trend *t);

/* v->cycle from v->allocated and v->gap (judged first). */
void judge_cycle(struct verdict *v);
/* The line that says the peak is the working set, when it is. */
void judge_cycle_evidence(struct verdict *v);

/* The trend (resident, else RSS) that climbs at the rate of allocated's
 * rising floor, when one does: a leak under churn, seen twice; NULL when
 * none does. */
const struct trend *judge_floor_seen(const struct verdict *v);

/* v->watch_s and v->watch_why, once the verdict is decided. */
void judge_watch(struct verdict *v);

#endif
