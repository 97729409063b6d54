/* glibc malloc (ptmalloc2) read from outside: every arena, the thread
 * caches, a census of chunks by size, and mallinfo2() exactly as glibc
 * computes it inside the process.
 *
 * How (DESIGN.md, "Reading allocator state"):
 *  1. glibc_open(), target running: symbols and struct layouts from libc's
 *     DWARF (libc6-dbg), or from a per-version table when only a symbol table
 *     exists; TLS offsets of `tcache` and `thread_arena`.
 *  2. glibc_snapshot(): stop the target; read mp_ and every arena header;
 *     if an arena mutex is held (or a tcache list disagrees with its count:
 *     a thread stopped inside tcache_put), resume for 2 ms and retry, up to
 *     50 times; then, still stopped, read the thread caches (a page cache
 *     serves these scattered reads) and copy each heap in 4 MiB windows,
 *     walking each window locally as soon as it is copied while a helper
 *     thread copies the next; follow the fastbin lists through what the walk
 *     saw; resume.  heapdoc holds two windows, whatever the size of the
 *     heap, plus the fastbin-sized chunks whose fd could be a link.
 *  3. Every walk is bounded and validated; anything inconsistent becomes a
 *     finding and `corrupt`, never a crash or an endless loop.
 */
#ifndef HEAPDOC_GLIBC_H
#define HEAPDOC_GLIBC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "observe/alloc/alloc.h"
#include "observe/alloc/backend.h"
#include "base/error.h"
#include "observe/target.h"

/* mallinfo2(), field by field. */
struct glibc_mallinfo2 {
	uint64_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks,
		 uordblks, fordblks, keepcost;
};

struct glibc_arena {
	uint64_t addr;
	bool main;
	uint64_t system_mem, max_system_mem;
	uint64_t top, top_size;
	uint64_t in_use;		/* system_mem - free, as mallinfo2 counts it */
	uint64_t free;			/* top + fastbins + bins (mallinfo2's avail) */
	uint64_t fastbin_chunks, fastbin_bytes;
	uint64_t bin_chunks, bin_bytes;	/* unsorted, small and large bins */
	uint64_t largest_free;		/* outside the top */
	unsigned heaps;			/* 64 MiB heaps (non-main); 0 for main */
	uint64_t attached_threads;
	uint64_t trimmable;		/* what malloc_trim(0) would return here */
	uint64_t releasable;		/* the top beyond M_TOP_PAD, whole pages */
	bool mutex_held;		/* at the moment of the snapshot */
	/* The chunk right below the top when it is not free (in use, or in a
	 * thread cache), and the free run directly below that chunk: space
	 * that merges into the top, and goes back with it, once the chunk is
	 * freed.  below_top 0: the top follows free space (or nothing). */
	uint64_t below_top, below_top_size;	/* chunk address and size */
	uint64_t below_top_free;		/* free bytes directly below it */
	bool below_top_cached;			/* it sits in a thread cache */
};

/* One thread's cache (tcache). */
struct glibc_tcache {
	pid_t tid;
	uint64_t addr;			/* its tcache_perthread_struct; 0: none yet */
	uint64_t arena;			/* thread_arena; 0 if unknown */
	uint64_t chunks, bytes;
};

/* Chunks by size: class i holds sizes [2^(i+5), 2^(i+6)); the last class
 * holds everything bigger.  Sizes are chunk sizes (header included). */
#define GLIBC_CENSUS_CLASSES 27
struct glibc_size_class {
	uint64_t min, max;		/* max: UNSET for the last class */
	uint64_t used_chunks, used_bytes;	/* held by the application */
	uint64_t cached_chunks, cached_bytes;	/* in a thread cache (tcache) */
	uint64_t free_chunks, free_bytes;	/* in fastbins and bins */
};

#define GLIBC_MAX_FINDINGS 16
struct glibc_finding {
	char what[160];
	uint64_t addr;
};

/* Safe-linking (2.32+) seen at work: the tcache and fastbin next pointers
 * that decoded (stored ^ (where >> 12)) into a clean list, one that holds
 * its count of chunks and ends in NULL.  The example is the last link of
 * the first such list: it stores where >> 12, not 0 as an unmangled NULL
 * would be. */
struct glibc_safe_links {
	uint64_t links;			/* links decoded on clean lists */
	uint64_t at, stored;		/* the example: the link's address, its value */
	char list[48];			/* which list: "tcache bin 2 of thread 42" */
};

/* The settings in force, from mp_. */
struct glibc_mp {
	uint64_t trim_threshold, top_pad, mmap_threshold, arena_test, arena_max;
	uint64_t thp_pagesize, hp_pagesize, tcache_count, tcache_max_bytes;
	uint64_t n_mmaps, n_mmaps_max, max_n_mmaps, mmapped_mem, max_mmapped_mem;
	uint64_t sbrk_base;
	bool no_dyn_threshold;
};

struct glibc_state {
	char version[32];		/* "2.36" */
	const char *source;		/* "dwarf" or "symtab" */
	char module[512];		/* the file malloc lives in */
	bool initialized;		/* malloc was ever called */
	struct glibc_mallinfo2 mi;
	struct glibc_mp mp;
	struct glibc_arena *arenas;
	size_t narenas;
	struct glibc_tcache *tcaches;	/* one per thread */
	size_t ntcaches;
	bool tcache_known;		/* the TLS offset of `tcache` was found */
	struct glibc_size_class census[GLIBC_CENSUS_CLASSES];

	/* Where the free memory sits (all arenas). */
	uint64_t trimmable;		/* malloc_trim(0) would return this much */
	uint64_t trimmable_resident;	/* of which in RAM (pagemap): the RSS it saves;
					 * UNSET if pagemap could not be read */
	uint64_t releasable;		/* Σ tops beyond the pad */
	uint64_t free_interleaved;	/* in bins and fastbins: between live chunks */
	uint64_t pinned;		/* whole free pages inside those free chunks */
	uint64_t largest_free;
	uint64_t top_total;
	uint64_t top_held;		/* Σ below_top_free: free space live chunks
					 * hold away from the tops */
	uint64_t free_small_chunks, free_small_bytes;	/* < 1 KiB */
	uint64_t free_large_chunks, free_large_bytes;

	struct glibc_safe_links safe_links;	/* full reads only */

	/* Trust in the figures. */
	bool consistent;		/* every arena mutex was free when read */
	unsigned tries;			/* stops it took */
	bool corrupt;
	unsigned nfindings;		/* found; the first GLIBC_MAX_FINDINGS kept */
	struct glibc_finding findings[GLIBC_MAX_FINDINGS];

	/* What the read cost. */
	const char *method;		/* "held": walked while the target was held;
					 * "validated": walked while it ran, between
					 * two brief holds that saw the same state */
	uint64_t pause_us;		/* the longest stop of this read */
	uint64_t copied_bytes;		/* heap bytes copied out of the target */
	uint64_t reads;			/* read calls on the target during the stop */
	uint64_t walk_us;		/* the whole snapshot, stops included */
};

struct glibc_reader;

/* Loads symbols and layouts (target running).  -ENODATA with a message that
 * names the debug package to install when the layout cannot be known;
 * -ESRCH when pid is gone.  id may be NULL. */
int glibc_open(struct glibc_reader **r, pid_t pid, const struct alloc_id *id,
	       struct error *err);
void glibc_close(struct glibc_reader *r);

/* Where the symbols came from: "dwarf" or "symtab". */
const char *glibc_layout_source(const struct glibc_reader *r);
const char *glibc_version(const struct glibc_reader *r);

/* Stops t (attached), reads everything, resumes t, and fills st (free it
 * with glibc_state_free).  st->consistent is false when every try found an
 * arena mutex held.  -ESRCH when the process exits meanwhile. */
int glibc_snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		   struct error *err);

/* The brief hold: the target is held only to read the allocator's headers
 * (about a millisecond), runs while its heaps are walked, and is held again
 * to check that mp_, every arena header and every thread's tcache are
 * unchanged; if not (three tries), it falls back to glibc_snapshot.  A
 * chunk taken from the middle of a bin list with nothing else changing
 * between the holds would go unseen: st->method says "validated". */
int glibc_snapshot_brief(struct glibc_reader *r, struct target *t, struct glibc_state *st,
			 struct error *err);

/* Only what mallinfo2 needs (headers, fastbins, and the bins walked as
 * lists): the cheap read for trend samples.  No census, no trimmable. */
int glibc_snapshot_light(struct glibc_reader *r, struct target *t,
			 struct glibc_state *st, struct error *err);

void glibc_state_free(struct glibc_state *st);

/* The shared figures for the judge.  resident is not set here (it comes
 * from smaps: glibc_resident). */
void glibc_summarize(const struct glibc_state *st, struct alloc_summary *sum,
		     struct alloc_params *params);

/* RSS of the allocator's own mappings: the brk heap, the arena heaps, and
 * the mappings of mmapped chunks (recognised by their chunk header).  Reads
 * /proc/<pid>/smaps, and the first bytes of anonymous mappings while the
 * target runs (t attached; it works without debug info). */
int glibc_resident(pid_t pid, struct target *t, uint64_t *resident, struct error *err);

/* glibc's debugging settings as the running process holds them (for
 * `audit`): libc's perturb_byte (MALLOC_PERTURB_, glibc.malloc.perturb) and,
 * when libc_malloc_debug.so is mapped, its __malloc_debugging_hooks (1
 * mcheck, 2 mtrace, 4 malloc-check) and its own perturb_byte: with
 * malloc-check on, allocations are served by that library's own copy of
 * malloc, not by libc's.  Static variables, found through the debug
 * information of each file; -1 for one that could not be read. */
struct glibc_debug_state {
	int64_t perturb_byte;
	char debug_lib[512];		/* libc_malloc_debug.so as mapped; "" if not */
	int64_t debug_hooks;
	int64_t debug_perturb_byte;
};

#define GLIBC_DEBUG_MALLOC_CHECK 4	/* MALLOC_CHECK_HOOK in malloc-debug.c */

/* Reads a few words while the target runs (t attached or not: reads go
 * through process_vm_readv).  Only -ESRCH and -EINTR are errors; a value
 * that cannot be read stays -1. */
int glibc_read_debug_state(struct glibc_reader *r, struct target *t,
			   struct glibc_debug_state *out, struct error *err);

/* The entry of the backend table (lib/alloc/backend.c). */
extern const struct alloc_backend glibc_backend;

#endif
