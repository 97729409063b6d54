/* jemalloc's state, read from a live process.
 *
 * jemalloc keeps its figures behind mallctl(); Debian's libjemalloc.so.2 is
 * stripped, so there is no passive way in.  (An unstripped static copy
 * shows its ctl_stats, but that is the snapshot of the program's last epoch
 * write: stale, or never taken, unless the program refreshes it itself, as
 * redis does.  heapdoc calls mallctl there too.)  heapdoc calls mallctl inside
 * the target (lib/inject.h) on one borrowed thread, all calls within one
 * stop: "epoch" first (the statistics are a snapshot refreshed by that
 * write), then the figures.  A static copy is called under its prefix
 * (je_mallctl in redis's own build, _rjem_mallctl in Rust's tikv-jemalloc).
 *
 * Units: bytes, except where a name says pages or counts.
 */
#ifndef HEAPDOC_JEMALLOC_H
#define HEAPDOC_JEMALLOC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "observe/alloc/alloc.h"
#include "base/error.h"
#include "observe/target.h"

/* One arena (stats.arenas.<i>.*); bytes = pages × arenas.page. */
struct jemalloc_arena {
	unsigned index;
	uint64_t nthreads;
	uint64_t active, dirty, muzzy;
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

/* The settings in force (opt.*); -1 for a decay time means "never". */
struct jemalloc_opt {
	int64_t narenas;
	int64_t dirty_decay_ms, muzzy_decay_ms;
	int background_thread, tcache, prof, retain;	/* 0/1, -1 unknown */
};

#define JEMALLOC_MAX_ARENAS 1024
#define JEMALLOC_MAX_BINS 64

struct jemalloc_stats {
	char version[64];		/* "5.3.0-0-g54eaed1d..." */
	char method[16];		/* "mallctl" */
	uint64_t allocated, active, metadata, resident, mapped, retained;
	uint64_t page;
	uint64_t dirty, muzzy;		/* all arenas merged, bytes */
	unsigned narenas;		/* arenas.narenas */
	struct jemalloc_arena arenas[JEMALLOC_MAX_ARENAS];
	size_t narena_rows;		/* initialised arenas, in arenas[] */
	struct jemalloc_bin bins[JEMALLOC_MAX_BINS];
	size_t nbins;
	double slab_utilisation;	/* live bytes in slabs / their capacity */
	struct jemalloc_opt opt;
	pid_t tid;			/* the thread the calls ran in */
	unsigned calls;			/* mallctl calls made */
	uint64_t calls_us;		/* time spent inside them */
};

struct jemalloc_reader;

/* Finds mallctl (under the prefix of id) and the allocator's code in pid.
 * Slow (ELF symbols): call it before stopping the target. */
int jemalloc_open(struct jemalloc_reader **r, pid_t pid, const struct alloc_id *id,
		  struct error *err);

/* Everything above, in one borrowed-thread session.  timeout_ms bounds the
 * search for a safe moment (0: 1 s); -EAGAIN when none came. */
int jemalloc_read(struct jemalloc_reader *r, struct target *t, unsigned timeout_ms,
		  struct jemalloc_stats *out, struct error *err);

/* The cheap read for a trend sample: epoch, stats.allocated, stats.resident. */
int jemalloc_sample(struct jemalloc_reader *r, struct target *t, uint64_t *allocated,
		    uint64_t *resident, struct error *err);

/* The shared summary and settings, from a read. */
/* params may be NULL. */
void jemalloc_summarise(const struct jemalloc_stats *st, struct alloc_summary *sum,
			struct alloc_params *params);

void jemalloc_close(struct jemalloc_reader *r);

/* The same behind the shared interface (backend.h). */
struct alloc_backend;
extern const struct alloc_backend jemalloc_backend;

#endif
