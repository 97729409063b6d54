/* mimalloc's state, read from a live process without calling into it.
 *
 * mimalloc's release build keeps no count of the bytes in use, and its
 * heap walk (mi_heap_visit_blocks) sees only the calling thread's heap, so
 * heapdoc walks the segments from outside: with every thread held for the
 * read (a few hundred microseconds: one header and one page array per
 * 32 MiB segment), it finds them at 32 MiB boundaries of the anonymous
 * mappings and adds up their pages (mimalloc_segments.c).  The version is
 * the constant mi_version() returns; the settings are the MIMALLOC_*
 * variables of the process's environment, else the version's defaults. */
#ifndef HEAPDOC_OBSERVE_ALLOC_MIMALLOC_H
#define HEAPDOC_OBSERVE_ALLOC_MIMALLOC_H

#include <sys/types.h>

#include "base/error.h"
#include "model/alloc.h"
#include "model/mimalloc.h"
#include "observe/proc.h"
#include "observe/target.h"

struct mimalloc_reader;

int mimalloc_open(struct mimalloc_reader **r, pid_t pid, const struct alloc_id *id,
		  struct error *err);
void mimalloc_close(struct mimalloc_reader *r);

/* Holds t, walks the segments, resumes; then the RSS of the mappings that
 * hold them.  -ENODATA when no segment was found (mimalloc never used, or
 * a layout heapdoc does not know: the message says which). */
int mimalloc_read(struct mimalloc_reader *r, struct target *t, struct mimalloc_state *st,
		  uint64_t *resident, struct error *err);

/* Whether mi_collect(true) of this version ("2.1.2") purges the free slices
 * of the calling thread's own segments (2.1 and later), not only those of
 * abandoned segments (2.0). */
bool mimalloc_collects_own(const char *version);

/* The shared summary from a read. */
void mimalloc_summarise(const struct mimalloc_state *st, uint64_t resident,
			struct alloc_summary *sum, struct alloc_params *params);

/* The walk itself, t held, over the mappings m (mimalloc_segments.c); the
 * segments' addresses into *seg (malloc'ed, *nseg of them; free it). */
int mimalloc_segments_read(struct target *t, const struct maps *m, struct mimalloc_state *st,
			   uint64_t **seg, size_t *nseg, struct error *err);

struct alloc_backend;
extern const struct alloc_backend mimalloc_backend;

#endif
