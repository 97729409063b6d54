/* What heapdoc reads of glibc malloc (lib/observe/alloc/glibc*.c): every
 * arena, the thread caches, a census of chunks by size, mallinfo2() as glibc
 * computes it, and how far the figures can be trusted.  `heapdoc stats`
 * shows it (lib/report/stats*.c); the judge sees its summary (alloc.h). */
#ifndef HEAPDOC_MODEL_GLIBC_H
#define HEAPDOC_MODEL_GLIBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/classes.h"

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
	uint64_t pinned_resident;	/* of which in RAM (pagemap); UNSET if unknown */
	uint64_t largest_free;
	uint64_t top_total;
	uint64_t top_held;		/* Σ below_top_free: free space live chunks
					 * hold away from the tops */
	uint64_t free_small_chunks, free_small_bytes;	/* < 1 KiB */
	uint64_t free_large_chunks, free_large_bytes;

	struct glibc_safe_links safe_links;	/* full reads only */
	/* C++ objects by class, when the read was asked for it
	 * (alloc_read.vtables); classes.taken false otherwise. */
	struct class_census classes;

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
	unsigned rewalked;		/* "validated": arenas that moved between the
					 * holds, read again at the second */
	unsigned estimated;		/* big arenas that kept moving through every
					 * look: their figures are from a walk made
					 * while the process ran */
	uint64_t copied_bytes;		/* heap bytes copied out of the target */
	uint64_t reads;			/* read calls on the target during the stop */
	uint64_t walk_us;		/* the whole snapshot, stops included */
};

/* Frees the arrays of st (arenas, tcaches) and empties them. */
void glibc_state_free(struct glibc_state *st);

#endif
