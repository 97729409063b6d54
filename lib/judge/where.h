/* Step 3's lines and the next step (where.c).  Internal to lib/judge. */
#ifndef HEAPDOC_JUDGE_WHERE_H
#define HEAPDOC_JUDGE_WHERE_H

#include <stdbool.h>
#include <stdint.h>

#include "judge/triage.h"

/* Where the whole free pages an allocator keeps apart from live data sit:
 * "the top chunk above the pad", "dirty and muzzy extents ...". */
const char *judge_unpurged_where(enum alloc_kind kind);

/* What a release call would return for good: what it gives back now,
 * less what a working set that comes and goes takes back within a cycle. */
uint64_t judge_release_bytes(const struct verdict *v);

/* Whether that is worth a stop of the process (TRIM_WORTH_BYTES,
 * TRIM_WORTH_SHARE of RSS). */
bool judge_release_worth(const struct verdict *v);

/* The evidence of where a significant gap sits: each part with its share
 * of the gap, the arenas' peaks, free memory out of RAM, what a release
 * returns. */
void judge_where(struct verdict *v, const struct observation *obs);

/* v->next_step for the verdict reached. */
void judge_next_step(struct verdict *v, const struct observation *obs);

#endif
