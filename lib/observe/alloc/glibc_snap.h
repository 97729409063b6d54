/* Private to lib/observe/alloc/glibc_*.c: one snapshot of glibc malloc's
 * state (a stop, the reads under it, the walk), shared by the files that
 * take it:
 *
 *	glibc_arenas.c		mp_, the ring of arena headers, each arena's
 *				heaps and top; findings and the census
 *	glibc_lists.c		the free lists: bins, fastbins, thread caches
 *	glibc_walk.c		the boundary-tag walk of the copied heaps, and
 *				what malloc_trim(0) would return
 *	glibc_snapshot.c	the stops, the order of the walks, the brief
 *				hold's validation, mallinfo2; glibc.h's entry
 *				points
 *
 * The walk follows glibc 2.36's own accounting:
 *  - int_mallinfo: avail = top + fastbins + bins, one block per bin chunk
 *    plus the top; uordblks = system_mem - avail; hblks/hblkhd from mp_;
 *    keepcost = the main arena's top.
 *  - In a consistent heap (every arena mutex free) the chunks on the bins
 *    are exactly the free chunks whose successor has PREV_INUSE clear, so
 *    the boundary-tag walk of the copied heap counts them without chasing
 *    one pointer per chunk through the target.  Fastbin and tcache chunks
 *    look in use from the boundary tags: their lists are walked.
 *  - mtrim (malloc_trim): malloc_consolidate first merges fastbin chunks
 *    with free neighbours (into the top when adjacent); then every free
 *    chunk bigger than a page plus its header gives back its whole pages
 *    past the first page boundary after chunk + sizeof(struct malloc_chunk);
 *    then, main arena only, systrim(0) gives back the top above MINSIZE,
 *    rounded down to pages.  Non-main tops are not trimmed by malloc_trim.
 */
#ifndef HEAPDOC_OBSERVE_ALLOC_GLIBC_SNAP_H
#define HEAPDOC_OBSERVE_ALLOC_GLIBC_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "observe/alloc/glibc.h"
#include "observe/alloc/glibc_io.h"
#include "observe/alloc/glibc_layout.h"
#include "observe/target.h"

#define CHUNK_HDR	16		/* prev_size + size */
#define MINSIZE		32
#define MALLOC_ALIGN	16
#define PREV_INUSE	1
#define SIZE_BITS	7
#define NONCONTIGUOUS	2		/* malloc_state.flags */
#define MALLOC_CHUNK_SZ	48		/* sizeof(struct malloc_chunk) */
#define MAX_FAST_CHUNK	160		/* fastbin chunks are at most MAX_FAST_SIZE + header */
#define DEFAULT_HEAP_MAX (64ULL << 20)	/* HEAP_MAX_SIZE on 64-bit */

#define MAX_ARENAS	4096
#define MAX_HEAPS	65536		/* per arena: 4 TiB of 64 MiB heaps */

/* A stretch of address space holding one arena's chunks. */
struct region {
	uint64_t start, end;		/* first chunk, end of the heap */
	size_t arena;
};

struct snap {
	struct glibc_reader *r;
	const struct glibc_layout *L;
	struct target *t;
	struct glibc_state *st;
	struct error *err;
	struct rcache *rc;
	unsigned char *mp;		/* copy of mp_ */
	unsigned char *hdrs;		/* copies of the arena headers */
	size_t hdrs_cap;
	struct region *regions;
	size_t nregions, regions_cap;
	struct addrset marks;		/* tcache chunks (and fastbin ones, light read) */
	struct addrset fast_candidates;	/* in-use-looking chunks of fastbin sizes */
	bool *arena_has_fastbins;
	struct span *trim_spans;	/* what malloc_trim(0) would release */
	size_t ntrim_spans, trim_spans_cap;
	uint64_t read_budget;		/* page reads the list walks may make */
	uint64_t heap_max;
	bool tcache_unsettled;		/* a list disagreed with its count */
	uint64_t *tc_print;		/* per st->tcaches[i]: FNV-1a of its struct */
	/* the window of the heap walk */
	struct readahead *ra;
	uint64_t win_base;
	size_t win_len;
};

/* The local copy of arena i's header, and a member of it or of mp_. */
static inline unsigned char *snap_arena_hdr(struct snap *s, size_t i)
{
	return s->hdrs + i * s->L->state_size;
}

static inline uint64_t snap_ms(struct snap *s, size_t i, int member)
{
	return glibc_get(snap_arena_hdr(s, i), &s->L->ms[member]);
}

static inline uint64_t snap_mp(struct snap *s, int member)
{
	return glibc_get(s->mp, &s->L->mp[member]);
}

/* ---- glibc_arenas.c ---- */

/* Something inconsistent at addr: st->corrupt, and the first
 * GLIBC_MAX_FINDINGS kept. */
void snap_finding(struct snap *s, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool snap_in_regions(const struct snap *s, uint64_t addr);
uint64_t snap_bin_head(struct snap *s, size_t a, unsigned i);
bool snap_is_bin_head(struct snap *s, size_t a, uint64_t p);

void snap_census_init(struct glibc_state *st);
void snap_census_add(struct glibc_state *st, uint64_t size, enum mark kind, bool free_chunk);
/* A fastbin chunk the walk counted as in use is free after all. */
void snap_census_move_to_free(struct glibc_state *st, uint64_t size);
/* A free chunk into the small (under 1 KiB) or large free counts. */
void snap_count_free(struct glibc_state *st, uint64_t size);

/* mp_, __malloc_initialized and the arena ring; the number of arenas whose
 * mutex is held, or a negative errno. */
int snap_read_headers(struct snap *s);
void snap_arena_basics(struct snap *s, size_t i);
int snap_find_regions(struct snap *s, size_t i);

/* ---- glibc_lists.c ---- */

int snap_walk_fastbins(struct snap *s, size_t i, bool walked);
int snap_walk_bins(struct snap *s, size_t i);
uint64_t snap_tls_word(struct snap *s, uint64_t fs_base, int64_t tpoff, int *rc);
uint64_t snap_fnv1a(const void *p, size_t len);
int snap_read_tcaches(struct snap *s);
int snap_walk_lists(struct snap *s);
void snap_forget_list_walks(struct glibc_state *st);

/* ---- glibc_walk.c ---- */

int snap_walk_region(struct snap *s, const struct region *rg, uint64_t *run_into_top);
void snap_top_accounting(struct snap *s, struct glibc_arena *ar, uint64_t run_into_top);
void snap_count_resident(struct snap *s);

#endif
