/* Which allocator a process uses, and the figures every allocator shares.
 *
 * Detection reads /proc/<pid>/maps and the ELF symbol tables (libelf) of the
 * target's files, opened through /proc/<pid>/root so it works across mount
 * namespaces.  Per-allocator state lives in glibc.h, jemalloc.h, tcmalloc.h.
 */
#ifndef HEAPDOC_ALLOC_H
#define HEAPDOC_ALLOC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "observe/proc.h"

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

/* Decides which allocator serves malloc in pid, the way the dynamic linker
 * binds it: the first of the executable, the LD_PRELOAD libraries, those of
 * the target's /etc/ld.so.preload, then their DT_NEEDED libraries
 * (breadth-first) that defines malloc.  An executable that carries an
 * allocator's API (mallctl, je_mallctl, tc_malloc, mi_malloc ...) names that
 * allocator even when malloc itself is bound elsewhere.
 *
 * maps may be NULL (then it is read); root is the /proc prefix as in proc.h.
 * Files are read through root/proc/<pid>/root/<path> (containers), or
 * root/proc/<pid>/map_files/ when deleted.  Nothing is read from the
 * target's memory and it is never stopped; call it before attaching.
 *
 * On success (0) every field of *out is set:
 *   kind	ALLOC_UNKNOWN when no mapped file defines malloc or the one
 *		that does is not recognised (evidence says which);
 *   link	ALLOC_STATIC when the executable holds the allocator;
 *   version	"2.36" (glibc), "5.3.0" (jemalloc), "2.10" (gperftools); ""
 *		when the file does not carry it (google tcmalloc, mimalloc,
 *		musl, scudo, hardened_malloc; a static glibc that never links
 *		gnu_get_libc_version);
 *   flavor	"gperftools" or "google" for tcmalloc, else "";
 *   prefix	jemalloc: the prefix of its API in the executable ("",
 *		"je_", "_rjem_"); with a prefix, malloc itself usually stays
 *		with libc.  "" elsewhere;
 *   path	the file as maps names it, " (deleted)" included;
 *   load_base	the start of its lowest mapping (not the load bias);
 *   evidence	one line: "libjemalloc.so.2 exports malloc (LD_PRELOAD)".
 * A file that cannot be read is not an error: it is judged by its name and
 * evidence says so.  Errors: -ESRCH (no such process, or it ended during
 * detection), those of proc_read_maps, -ENOMEM. */
int alloc_detect(const char *root, pid_t pid, const struct maps *maps,
		 struct alloc_id *out, struct error *err);

/* The allocator's figures in terms every allocator shares; the judge works
 * on these.  Bytes; UNSET where this allocator has no such figure. */
struct alloc_summary {
	bool valid;		/* false: the allocator's state could not be read */
	char source[32];	/* how: "dwarf", "symtab", "heuristic", "mallctl", "property" */
	char why_invalid[256];	/* when !valid: what was missing (e.g. "install libc6-dbg") */
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
	bool corrupt;		/* the walk found inconsistent state */

	/* Where the free space sits, for step 3 of triage. */
	uint64_t free_small_chunks, free_small_bytes;	/* free chunks under 1 KiB */
	uint64_t free_large_chunks, free_large_bytes;	/* free chunks of 1 KiB or more */
	uint64_t largest_free;		/* the biggest free chunk outside the top */
	uint64_t pinned_bytes;		/* whole free pages between live chunks */
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
};

/* Sets every field of p to PARAM_UNSET. */
void alloc_params_clear(struct alloc_params *p);

#endif
