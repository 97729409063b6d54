/* What heapdoc reads of mimalloc (lib/observe/alloc/mimalloc*.c): its
 * segments and pages, walked from outside while the process is held, with
 * the layout of the version found.  mimalloc's release build keeps no count
 * of bytes in use (only segment statistics), so the bytes in use are the
 * pages' own counts: blocks in use × block size. */
#ifndef HEAPDOC_MODEL_MIMALLOC_H
#define HEAPDOC_MODEL_MIMALLOC_H

#include <stdint.h>

struct mimalloc_state {
	char version[16];		/* "2.0.9" (mi_version's constant); "" unknown */
	const char *layout;		/* the layout that fits the segments: "2.0" or
					 * "2.0-secure" (encoded free lists) */
	unsigned segments, huge_segments, abandoned_segments;
	uint64_t reserved;		/* the segments' address space */
	uint64_t committed;		/* of it committed (commit masks) */
	uint64_t purge_pending;		/* committed, free, waiting for their decommit
					 * delay: what mi_collect returns now */
	uint64_t in_use;		/* Σ blocks in use × block size */
	uint64_t page_capacity;		/* Σ blocks pages set up × block size */
	uint64_t free_slices;		/* committed slices holding no page */
	uint64_t free_resident;		/* of which in RAM (pagemap); UNSET when pagemap
					 * is unreadable */
	uint64_t free_resident_abandoned; /* of that, in segments no thread owns: all
					 * mi_collect(true) decommits in 2.0 (a live
					 * thread's free slices go when it allocates
					 * again after decommit_delay) */
	uint64_t pages;			/* pages holding blocks */
	uint64_t rejected;		/* 32 MiB-aligned candidates that were not
					 * segments (validation) */
	/* Settings as the environment sets them (MIMALLOC_*), else mimalloc's
	 * defaults for this version; -1 unknown. */
	int64_t decommit_delay_ms, eager_commit, allow_decommit;
};

#endif
