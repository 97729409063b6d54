/* Private to lib/report/stats*.c: the figures both renderers of `heapdoc
 * stats` print, and its jemalloc and tcmalloc sections (JSON and text).
 *
 * Each section writes one object under its allocator's name ("jemalloc",
 * "tcmalloc") into a document the caller has begun, or one block of text.
 */
#ifndef HEAPDOC_REPORT_STATS_ALLOC_H
#define HEAPDOC_REPORT_STATS_ALLOC_H

#include <stdio.h>

#include <stdint.h>
#include <sys/types.h>

#include "base/json.h"
#include "model/alloc_detail.h"
#include "model/observation.h"

/* "jemalloc": allocated, active, metadata, resident, mapped, retained,
 * dirty, muzzy (bytes), page, narenas, version, method, slab_utilisation,
 * arenas [{index, nthreads, active, dirty, muzzy}], bins [{index, size,
 * nregs, curregs, curslabs, nonfull_slabs, utilisation}], opt {narenas,
 * dirty_decay_ms, muzzy_decay_ms, background_thread, tcache, prof, retain},
 * thread, calls, calls_us. */
void stats_jemalloc_json(struct json *j, const struct jemalloc_state *st);
void stats_jemalloc_text(FILE *out, const struct jemalloc_state *st);

/* "tcmalloc": flavor, properties {name: bytes}, thread, calls, calls_us. */
void stats_tcmalloc_json(struct json *j, const struct tcmalloc_state *st);
void stats_tcmalloc_text(FILE *out, const struct tcmalloc_state *st);
void stats_mimalloc_json(struct json *j, const struct mimalloc_state *st);
void stats_mimalloc_text(FILE *out, const struct mimalloc_state *st);

/* The figures both renderers print, from an observation and its detail. */
struct stats_view {
	pid_t pid;
	const char *comm;
	const char *allocator;		/* "glibc", ... */
	const char *version;		/* "" when unknown */
	const char *source;		/* "dwarf", "symtab", "mallctl", "property", or
					 * "proc" (no allocator view) */
	const char *why_invalid;	/* when there is no allocator view: why */
	const struct glibc_state *glibc;	/* at most one of these */
	const struct jemalloc_state *jemalloc;
	const struct tcmalloc_state *tcmalloc;
	const struct mimalloc_state *mimalloc;
	uint64_t allocated, resident, rss;	/* UNSET when unknown */
	uint64_t pause_us;		/* the longest stop */
	uint64_t pause_total_us;
	unsigned stops;
};

void stats_view_of(struct stats_view *v, const struct observation *obs,
		   const struct alloc_detail *d);

#endif
