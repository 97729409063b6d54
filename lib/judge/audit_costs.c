/* What hardening costs, as measured by heapdoc's own bench.
 *
 * bench/alloc_cost.sh runs bench/alloc_loop.c (one thread, 4096 slots,
 * random malloc/free of 16 B-32 KiB) under each setting, interleaved, and
 * prints each one's ops/s as a ratio to plain glibc in the same run.  The
 * run below is committed as bench/results/alloc_cost.txt; the audit tests
 * fail when this table and that file disagree, so a new run of the bench
 * means updating both.
 */
#include "judge/audit.h"

#include <math.h>
#include <string.h>

#include "base/util.h"

const char audit_costs_source[] =
	"bench/alloc_cost.sh, one-thread malloc/free loop, median of 5 x 1 s, "
	"x86_64, 2 CPUs, glibc 2.36, 2026-11-30";

static const struct {
	const char *config;
	double ratio;		/* ops/s ÷ plain glibc's ops/s */
} costs[] = {
	{ "glibc", 1.00 },
	{ "glibc-perturb", 0.76 },
	{ "glibc-malloc-check", 0.56 },
	{ "scudo", 0.60 },
	{ "scudo-quarantine", 0.38 },
	{ "jemalloc", 1.77 },
	{ "tcmalloc", 2.33 },
	{ "mimalloc", 2.05 },
};

double audit_cost(const char *config)
{
	for (size_t i = 0; i < ARRAY_SIZE(costs); i++)
		if (!strcmp(costs[i].config, config))
			return costs[i].ratio;
	return NAN;
}
