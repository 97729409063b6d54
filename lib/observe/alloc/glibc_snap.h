/* Private to lib/observe/alloc/glibc_*.c: one snapshot of glibc malloc's
 * state (a stop, the reads under it, the walk), shared by the files that
 * take it:
 *
 *	glibc_arenas.c		mp_, the ring of arena headers, each arena's
 *				heaps and top; findings and the census
 *	glibc_lists.c		the free lists: bins, fastbins, thread caches
 *	glibc_walk.c		the boundary-tag walk of the copied heaps, and
 *				what malloc_trim(0) would return
 *	glibc_classes.c		the census of C++ objects by class, when asked
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

/* What walking one arena added to the snapshot's totals, so that an arena
 * found changed at the brief snapshot's second hold can be taken out and
 * walked again (glibc_brief.c). */
struct arena_part {
	struct glibc_size_class census[GLIBC_CENSUS_CLASSES];
	uint64_t free_small_chunks, free_small_bytes, free_large_chunks, free_large_bytes;
	uint64_t pinned;
	size_t span_from, span_to;	/* its trim spans */
	unsigned findings;
	bool walked;
};

#define SNAP_BY_OTHER	(-1)
#define SNAP_BY_TCACHES	(-2)

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
	struct addrset marks;		/* tcache chunks, with their sizes */
	struct addrset fast_candidates;	/* in-use-looking chunks of fastbin sizes */
	bool *arena_has_fastbins;
	struct span *trim_spans;	/* what malloc_trim(0) would release */
	size_t ntrim_spans, trim_spans_cap;
	uint64_t read_budget;		/* page reads the list walks may make */
	uint64_t heap_max;
	bool tcache_unsettled;		/* a list disagreed with its count */
	uint64_t *tc_print;		/* per st->tcaches[i]: FNV-1a of its struct,
					 * 0 when it was not read */
	unsigned char *tc_copy;		/* per st->tcaches[i]: its struct as read */
	struct arena_part *parts;	/* per arena: its share of the totals */
	/* Who the findings come from, so that those of a walk made while
	 * the process ran can be taken back when what it walked is read
	 * again: an arena's index, or SNAP_BY_TCACHES, or SNAP_BY_OTHER. */
	int finding_by;
	int finding_owner[GLIBC_MAX_FINDINGS];	/* of each finding kept */
	unsigned tcache_findings;
	/* The free lists' links, while one arena is walked (glibc_links.c). */
	struct {
		uint64_t forward, back;
		bool on;
	} links;
	struct snap_classes *classes;	/* the census by class; NULL: not asked */
	/* the window of the heap walk */
	struct readahead *ra;
	struct readahead ra_own;	/* started when a walk needs one (trend) */
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

/* ---- glibc_snapshot.c ---- */

/* A snapshot's working memory for st (zeroed), and its release. */
int snap_begin(struct snap *s, struct glibc_state *st);
void snap_free(struct snap *s);
/* What a hold reads of the thread caches. */
enum snap_tcaches {
	SNAP_TC_NONE,		/* nothing (the trend read) */
	SNAP_TC_READ,		/* their structs; the lists are followed later */
	SNAP_TC_WALK,		/* structs and lists, all in the hold */
};

/* Stops the target and reads mp_, the arena headers, their heaps and tops
 * (and the thread caches as asked) until no arena mutex is held and no
 * tcache list is caught mid-update, at most max_tries stops; leaves it
 * stopped.  st->consistent says whether it got there. */
int snap_stop_quiet(struct snap *s, unsigned max_tries, enum snap_tcaches tc);
/* mallinfo2 and the free-space totals from the arenas' figures. */
void snap_mallinfo2(struct glibc_state *st);

/* ---- glibc_brief.c ---- */

/* Walks arena i's heaps (its lists when the main arena is not one
 * region), fastbins and top, keeping its share of the totals. */
int snap_walk_arena(struct snap *s, size_t i);
/* The brief snapshot's second look, the target running: holds it again,
 * keeps the walk of every arena whose header did not move, walks the
 * others again (held when they are small, else while it runs and looks
 * again), follows changed thread caches.  Leaves the target stopped.
 * -EAGAIN when it must start over (the ring of arenas or the heap layout
 * changed, or a walk found the heap corrupt). */
int snap_second_look(struct snap *s);

/* ---- glibc_trend.c, glibc_tcache.c: what the reader keeps ---- */

void snap_memo_free(struct glibc_reader *r);
void snap_tls_free(struct glibc_reader *r);

/* ---- glibc_arenas.c ---- */

/* Something inconsistent at addr: st->corrupt, and the first
 * GLIBC_MAX_FINDINGS kept. */
void snap_finding(struct snap *s, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Takes back the findings of one source (an arena, SNAP_BY_TCACHES). */
void snap_forget_findings(struct snap *s, int by);
bool snap_in_regions(const struct snap *s, uint64_t addr);
/* The arena whose region holds addr; SIZE_MAX for none. */
size_t snap_region_arena(const struct snap *s, uint64_t addr);
unsigned snap_census_class(uint64_t size);
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
/* st->mp and the heap size from the copy of mp_. */
void snap_read_params(struct snap *s);
void snap_arena_basics(struct snap *s, size_t i);
int snap_find_regions(struct snap *s, size_t i);

/* ---- glibc_lists.c ---- */

int snap_walk_fastbins(struct snap *s, size_t i, bool walked);
int snap_walk_bins(struct snap *s, size_t i);
/* A clean safe-linked list of n links (the example: its last link). */
void snap_note_safe_links(struct glibc_state *st, uint64_t n, uint64_t at, uint64_t stored,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- glibc_tcache.c ---- */

uint64_t snap_fnv1a(const void *p, size_t len);
/* In a hold: every held thread's tcache struct (st->tcaches, s->tc_copy,
 * s->tc_print), the thread pointers kept from earlier holds. */
int snap_read_tcaches(struct snap *s);
/* Their lists, from the copies: marks, per-thread totals, findings,
 * s->tcache_unsettled. */
int snap_walk_tcaches(struct snap *s);
/* At a later hold: the structs again; when any differs, the lists walked
 * again, the marks replaced and the census of the arenas not in skip
 * moved along.  *same: nothing changed. */
int snap_tcaches_again(struct snap *s, const bool *skip, bool *same);

/* ---- glibc_links.c ---- */

/* Around the walk of arena's heaps (all of them, its mutex free): each
 * free chunk's links noted, then checked against each
 * other and the bin heads' (a finding if they disagree). */
void snap_links_begin(struct snap *s, size_t arena);
void snap_links_note(struct snap *s, uint64_t p, uint64_t fd, uint64_t bk);
void snap_links_check(struct snap *s, size_t arena);
/* ---- glibc_classes.c ---- */

/* The census by class for narenas arenas, with s->r->vtables. */
int snap_classes_begin(struct snap *s, size_t narenas);
/* A chunk in use of arena, whose first word is class cls's vptr
 * (vtables_find(), inline in the walk: most chunks are no object), or -1. */
void snap_classes_count(struct snap *s, size_t arena, long cls, uint64_t size);
/* Takes back what arena's walk counted: it is about to be walked again. */
void snap_classes_forget(struct snap *s, size_t arena);
/* The counts by class, summed over the arenas, into out (freed first). */
int snap_classes_finish(struct snap *s, struct class_census *out);
void snap_classes_free(struct snap *s);

/* ---- glibc_walk.c ---- */

int snap_walk_region(struct snap *s, const struct region *rg, uint64_t *run_into_top);
void snap_top_accounting(struct snap *s, struct glibc_arena *ar, uint64_t run_into_top);
void snap_count_resident(struct snap *s);

/* ---- glibc_window.c ---- */

/* Adds one consistent read (a trend sample's or a snapshot's) to the
 * window's per-arena peaks. */
void glibc_window_add(struct glibc_reader *r, const struct glibc_state *st);
/* arena_peak_sum, arena_peak_once and arena_samples from the window. */
void glibc_window_summarise(const struct glibc_reader *r, struct alloc_summary *sum);
void glibc_window_free(struct glibc_reader *r);

#endif
