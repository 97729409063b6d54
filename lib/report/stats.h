/* `heapdoc stats`: what the allocator holds, for a person and for scripts. */
#ifndef HEAPDOC_REPORT_STATS_H
#define HEAPDOC_REPORT_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "observe/alloc/glibc.h"
#include "observe/alloc/jemalloc.h"
#include "observe/alloc/tcmalloc.h"

struct stats_report {
	pid_t pid;
	const char *comm;
	const char *allocator;		/* "glibc", ... */
	const char *version;		/* "" when unknown */
	const char *source;		/* "dwarf", "symtab", or "proc" (no allocator view) */
	const char *why_invalid;	/* when there is no allocator view: why */
	/* The allocator's own view: at most one is set; none when it could
	 * not be read (then why_invalid says why). */
	const struct glibc_state *glibc;
	const struct jemalloc_stats *jemalloc;
	const struct tcmalloc_stats *tcmalloc;
	uint64_t allocated, resident, rss;	/* UNSET when unknown */
	uint64_t pause_us;
	unsigned stops;
};

void stats_print_json(FILE *out, const struct stats_report *r);
void stats_print_text(FILE *out, const struct stats_report *r);

#endif
