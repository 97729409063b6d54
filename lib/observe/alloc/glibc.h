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

#include "model/glibc.h"
#include "observe/alloc/alloc.h"
#include "observe/alloc/backend.h"
#include "base/error.h"
#include "observe/target.h"


struct glibc_reader;

/* Loads symbols and layouts (target running).  -ENODATA with a message that
 * names the debug package to install when the layout cannot be known;
 * -ESRCH when pid is gone.  id may be NULL. */
int glibc_open(struct glibc_reader **r, pid_t pid, const struct alloc_id *id,
	       struct error *err);
void glibc_close(struct glibc_reader *r);
/* Closes the symbols and debug info that glibc_open loaded (the trend
 * read and the snapshots need only the layout they gave; the act and
 * audit entry points need them: not after this), and frees the walk's
 * window until the next walk. */
void glibc_lighten(struct glibc_reader *r);

/* Where the symbols came from: "dwarf" or "symtab". */
const char *glibc_layout_source(const struct glibc_reader *r);
const char *glibc_version(const struct glibc_reader *r);

/* Stops t (attached), reads everything, resumes t, and fills st (free it
 * with glibc_state_free).  st->consistent is false when every try found an
 * arena mutex held.  -ESRCH when the process exits meanwhile. */
int glibc_snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		   struct error *err);

/* The brief hold: the target is held only to read the allocator's headers
 * and the thread caches' structs (a few hundred microseconds), runs while
 * its heaps are walked, and is held again to compare every arena header and
 * every tcache struct: arenas that moved meanwhile are walked again (in that
 * hold when they are small, glibc_brief.c), changed tcaches followed again.
 * When the heap layout itself moved or a walk found it corrupt (three
 * tries) it falls back to glibc_snapshot.  A chunk taken from the middle of
 * a bin list with nothing else in its arena changing between the holds
 * would go unseen: st->method says "validated", st->rewalked how many
 * arenas were read again. */
int glibc_snapshot_brief(struct glibc_reader *r, struct target *t, struct glibc_state *st,
			 struct error *err);

/* One trend sample (the backend's sample()): allocated as mallinfo2 counts
 * it, uordblks + hblkhd, with one brief hold when the arenas did not move
 * since the last sample and a few when they did; free lists are walked
 * while the process runs and kept only if the arena's header is the same
 * at the next hold (glibc_trend.c says how).  -EAGAIN when an arena kept
 * changing and could not be read at all (the sample has no allocated; the
 * next few skip the read). */
struct glibc_trend {
	uint64_t allocated;
	unsigned holds;			/* stops this sample took */
	unsigned arenas;
	unsigned estimated;		/* arenas that kept moving: their figures are
					 * from a walk made while the process ran */
};
int glibc_trend_read(struct glibc_reader *r, struct target *t, struct glibc_trend *out,
		     struct error *err);

/* The shared figures for the judge.  resident is not set here (it comes
 * from smaps: glibc_resident). */
void glibc_summarise(const struct glibc_state *st, struct alloc_summary *sum,
		     struct alloc_params *params);

/* RSS of the allocator's own mappings: the brk heap, the arena heaps, and
 * the mappings of mmapped chunks (recognised by their chunk header).  Reads
 * /proc/<pid>/smaps, and the chunk headers in anonymous mappings while the
 * target runs (t attached; it works without debug info).  pool, when not
 * NULL, gets the commonest size of mmapped chunks of 64 KiB or more
 * (pool_block_size, pool_blocks, pool_bytes: an application's own pool). */
int glibc_resident(pid_t pid, struct target *t, uint64_t *resident, struct alloc_summary *pool,
		   struct error *err);

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
