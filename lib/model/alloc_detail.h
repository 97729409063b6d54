/* The allocator's own figures beyond the shared summary: what `heapdoc
 * stats` shows.  Read on request by a backend's full read (lib/observe/
 * alloc/backend.h); at most one member is set, none when the allocator
 * could not be read (the summary then says why). */
#ifndef HEAPDOC_MODEL_ALLOC_DETAIL_H
#define HEAPDOC_MODEL_ALLOC_DETAIL_H

#include "model/glibc.h"
#include "model/jemalloc.h"
#include "model/mimalloc.h"
#include "model/tcmalloc.h"

struct alloc_detail {
	struct glibc_state *glibc;
	struct jemalloc_state *jemalloc;
	struct tcmalloc_state *tcmalloc;
	struct mimalloc_state *mimalloc;
};

/* Frees what d holds and empties it. */
void alloc_detail_free(struct alloc_detail *d);

#endif
