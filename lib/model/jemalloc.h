/* What heapdoc reads of jemalloc through mallctl (lib/observe/alloc/
 * jemalloc.c): totals, arenas, small size classes, the settings in force.
 * Units: bytes, except where a name says pages or counts. */
#ifndef HEAPDOC_MODEL_JEMALLOC_H
#define HEAPDOC_MODEL_JEMALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One arena (stats.arenas.<i>.*); bytes = pages × arenas.page. */
struct jemalloc_arena {
	unsigned index;
	uint64_t nthreads;
	uint64_t active, dirty, muzzy;
	int64_t dirty_decay_ms, muzzy_decay_ms;	/* arena.<i>.*_decay_ms now; PARAM_UNSET */
};

/* One small size class, all arenas merged (stats.arenas.4096.bins.<j>). */
struct jemalloc_bin {
	unsigned index;
	uint64_t size;			/* arenas.bin.<j>.size: bytes per region */
	uint64_t nregs;			/* arenas.bin.<j>.nregs: regions per slab */
	uint64_t curregs;		/* regions in use */
	uint64_t curslabs;		/* slabs holding them */
	uint64_t nonfull_slabs;
};

/* The start-up options (opt.*); -1 for a decay time means "never". */
struct jemalloc_opt {
	int64_t narenas;
	int64_t dirty_decay_ms, muzzy_decay_ms;
	int background_thread, tcache, prof, retain;	/* 0/1, -1 unknown */
};

/* The settings as they are now, which the program (redis turns its
 * background thread on at run time) or heapdoc set may have changed since
 * start-up: the `background_thread` mallctl, and of the arenas' decay
 * times the slowest (-1, "never", is the slowest); PARAM_UNSET / -1 when
 * unknown. */
struct jemalloc_live {
	int background_thread;			/* 0/1, -1 unknown */
	int64_t dirty_decay_ms, muzzy_decay_ms;
};

#define JEMALLOC_MAX_ARENAS 1024
#define JEMALLOC_MAX_BINS 64

struct jemalloc_state {
	char version[64];		/* "5.3.0-0-g54eaed1d..." */
	char method[16];		/* "mallctl" */
	uint64_t allocated, active, metadata, resident, mapped, retained;
	uint64_t page;
	uint64_t dirty, muzzy;		/* all arenas merged, bytes */
	unsigned narenas;		/* arenas.narenas */
	struct jemalloc_arena arenas[JEMALLOC_MAX_ARENAS];
	size_t narena_rows;		/* initialized arenas, in arenas[] */
	struct jemalloc_bin bins[JEMALLOC_MAX_BINS];
	size_t nbins;
	double slab_utilisation;	/* live bytes in slabs / their capacity */
	struct jemalloc_opt opt;
	struct jemalloc_live live;
	pid_t tid;			/* the thread the calls ran in */
	unsigned calls;			/* mallctl calls made */
	uint64_t calls_us;		/* time spent inside them */
};

#endif
