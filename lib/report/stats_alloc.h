/* The jemalloc and tcmalloc sections of `heapdoc stats` (JSON and text).
 *
 * Each writes one object under its allocator's name ("jemalloc",
 * "tcmalloc") into a document the caller has begun, or one block of text.
 */
#ifndef HEAPDOC_REPORT_STATS_ALLOC_H
#define HEAPDOC_REPORT_STATS_ALLOC_H

#include <stdio.h>

#include "observe/alloc/jemalloc.h"
#include "observe/alloc/tcmalloc.h"
#include "base/json.h"

/* "jemalloc": allocated, active, metadata, resident, mapped, retained,
 * dirty, muzzy (bytes), page, narenas, version, method, slab_utilisation,
 * arenas [{index, nthreads, active, dirty, muzzy}], bins [{index, size,
 * nregs, curregs, curslabs, nonfull_slabs, utilisation}], opt {narenas,
 * dirty_decay_ms, muzzy_decay_ms, background_thread, tcache, prof, retain},
 * thread, calls, calls_us. */
void stats_jemalloc_json(struct json *j, const struct jemalloc_stats *st);
void stats_jemalloc_text(FILE *out, const struct jemalloc_stats *st);

/* "tcmalloc": flavor, properties {name: bytes}, thread, calls, calls_us. */
void stats_tcmalloc_json(struct json *j, const struct tcmalloc_stats *st);
void stats_tcmalloc_text(FILE *out, const struct tcmalloc_stats *st);

#endif
