/* Which allocator a process uses, and the figures every allocator shares:
 * what lib/observe/alloc/ fills (detection, each backend's read) and the
 * judge works on.  Bytes; UNSET where an allocator has no such figure.
 */
#ifndef HEAPDOC_MODEL_ALLOC_H
#define HEAPDOC_MODEL_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

enum alloc_kind {
	ALLOC_UNKNOWN,
	ALLOC_GLIBC,
	ALLOC_JEMALLOC,
	ALLOC_TCMALLOC,
	ALLOC_MIMALLOC,
	ALLOC_MUSL,
	ALLOC_SCUDO,
	ALLOC_HARDENED_MALLOC,
};

enum alloc_link {
	ALLOC_SHARED,		/* a shared library (linked or LD_PRELOADed) */
	ALLOC_STATIC,		/* compiled into the executable */
};

struct alloc_id {
	enum alloc_kind kind;
	enum alloc_link link;
	char version[32];	/* "2.36", "5.3.0"; "" when it cannot be read */
	char flavor[32];	/* tcmalloc: "gperftools" or "google"; else "" */
	char prefix[16];	/* symbol prefix of a static copy: "je_", "_rjem_"; else "" */
	char path[512];		/* the file that holds it, as the target names it */
	uint64_t load_base;	/* where that file is mapped (its lowest mapping) */
	char evidence[256];	/* what it was recognised by, for the report */
};

/* "glibc", "jemalloc", "tcmalloc", "mimalloc", "musl", "scudo",
 * "hardened_malloc", "unknown": the names in the JSON contract. */
const char *alloc_kind_name(enum alloc_kind kind);
/* The kind named name (alloc_kind_name's names); ALLOC_UNKNOWN if none. */
enum alloc_kind alloc_kind_from_name(const char *name);

/* The allocator's figures in terms every allocator shares; the judge works
 * on these.  Bytes; UNSET where this allocator has no such figure. */
struct alloc_summary {
	bool valid;		/* false: the allocator's state could not be read */
	char source[32];	/* how: "dwarf", "symtab", "heuristic", "mallctl", "property" */
	char why_invalid[512];	/* when !valid: what was missing (e.g. "install libc6-dbg") */
	uint64_t allocated;	/* handed to the application and not freed */
	uint64_t active;	/* in pages holding live data (jemalloc active); glibc: UNSET */
	uint64_t resident;	/* the allocator's mappings resident in RAM */
	uint64_t mapped;	/* the allocator's address space (system_mem + mmapped) */
	uint64_t free_total;	/* free bytes the allocator keeps */
	uint64_t free_interleaved; /* free space between live data: fragmentation */
	uint64_t free_releasable;  /* whole free pages held apart from live data,
				    * returned on its own or by a release knob:
				    * glibc top above the pad, jemalloc dirty+muzzy,
				    * tcmalloc page-heap free: unpurged */
	uint64_t trimmable;	/* what a release call (malloc_trim(0), ...) would return */
	unsigned narenas;
	unsigned estimated_arenas;	/* read while they kept moving: their figures are
					 * within what they allocated and freed meanwhile */
	bool corrupt;		/* the walk found inconsistent state */
	unsigned nfindings;	/* how many inconsistencies */
	char corrupt_what[160];	/* the first: "chunk with impossible size ..." */

	/* Where the free space sits, for step 3 of triage. */
	uint64_t free_small_chunks, free_small_bytes;	/* free chunks under 1 KiB */
	uint64_t free_large_chunks, free_large_bytes;	/* free chunks of 1 KiB or more */
	uint64_t largest_free;		/* the biggest free chunk outside the top */
	uint64_t pinned_bytes;		/* whole free pages between live chunks, in RAM
					 * (pagemap) when that could be read */
	/* Whole free pages inside free chunks that are not in RAM: given back
	 * by a release (malloc_trim) or never touched.  Free, but costing no
	 * RSS: left out of free_interleaved and pinned_bytes.  UNSET when
	 * residency could not be read or the allocator has no such figure. */
	uint64_t free_unresident;
	uint64_t top_size;		/* glibc: Σ top chunks; UNSET elsewhere */
	/* glibc: free bytes that live chunks right below the tops hold away
	 * from them (the top would absorb them, and trimming return them, once
	 * that chunk is freed), summed over arenas; UNSET elsewhere.  The
	 * chunk holding the most: its address (chunk, not user pointer), its
	 * size, the free bytes below it, and whether it sits in a thread cache
	 * (freed by the application, not yet by malloc). */
	uint64_t top_held_bytes;
	uint64_t top_held_by, top_held_by_size, top_held_by_free;
	bool top_held_by_cached;
	double slab_utilisation;	/* jemalloc: curregs / (nregs × curslabs); NAN elsewhere */

	/* Arenas over the window (glibc): each arena's bytes in use at every
	 * sample that read them all.  arena_peak_sum adds up each arena's own
	 * highest; arena_peak_once is the highest of their total at one
	 * sample.  Arenas that peak at different moments (threads taking
	 * turns) make the first far larger than the second, and that
	 * difference is what a cap on the arena count lets them share; threads
	 * that allocate together peak together.  UNSET (0 samples) when not
	 * measured. */
	uint64_t arena_peak_sum, arena_peak_once;
	unsigned arena_samples;

	/* The commonest size among large blocks in use (glibc: mmapped
	 * chunks, whole chunk size), how many of that size, and their bytes:
	 * an application's own pool shows as many equal blocks holding most
	 * of allocated.  UNSET when not read. */
	uint64_t pool_block_size, pool_blocks, pool_bytes;
};

/* A summary of a read that could not be made: every figure UNSET, valid
 * false, why_invalid = why (cut to fit), source as given.  The caller goes
 * on with the /proc evidence alone. */
void alloc_summary_invalid(struct alloc_summary *sum, const char *source, const char *why);

/* Settings in force, as the allocator itself holds them (mp_, opt.*).
 * PARAM_UNSET where this allocator has no such setting or it was not read. */
#define PARAM_UNSET INT64_MIN
struct alloc_params {
	/* glibc (mp_) */
	int64_t trim_threshold, top_pad, mmap_threshold, arena_max, arena_test;
	int64_t tcache_count;
	bool no_dyn_threshold;		/* mmap/trim thresholds were set explicitly */
	/* jemalloc (opt.*) */
	int64_t dirty_decay_ms, muzzy_decay_ms, narenas;
	int64_t background_thread, tcache, retain;	/* 0/1 */
	/* tcmalloc */
	int64_t max_total_thread_cache_bytes;
	int64_t aggressive_decommit;	/* 0/1, as tcmalloc has it now */
	/* mimalloc: the delay before free pages go back (decommit_delay in
	 * 2.0, purge_delay from 2.1), ms */
	int64_t purge_delay_ms;
};

/* Sets every field of p to PARAM_UNSET. */
void alloc_params_clear(struct alloc_params *p);

#endif
