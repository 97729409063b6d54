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

#include "model/jemalloc.h"
#include "observe/alloc/alloc.h"
#include "base/error.h"
#include "observe/inject.h"
#include "observe/target.h"


struct jemalloc_reader;

/* Finds mallctl (under the prefix of id) and the allocator's code in pid.
 * Slow (ELF symbols): call it before stopping the target. */
int jemalloc_open(struct jemalloc_reader **r, pid_t pid, const struct alloc_id *id,
		  struct error *err);

/* Everything above, in one borrowed-thread session.  timeout_ms bounds the
 * search for a safe moment (0: 1 s); -EAGAIN when none came. */
int jemalloc_read(struct jemalloc_reader *r, struct target *t, unsigned timeout_ms,
		  struct jemalloc_state *out, struct error *err);

/* The cheap read for a trend sample: epoch, stats.allocated, stats.resident. */
int jemalloc_sample(struct jemalloc_reader *r, struct target *t, uint64_t *allocated,
		    uint64_t *resident, struct error *err);

/* The shared summary and settings, from a read. */
/* params may be NULL. */
void jemalloc_summarise(const struct jemalloc_state *st, struct alloc_summary *sum,
			struct alloc_params *params);

void jemalloc_close(struct jemalloc_reader *r);

/* Raw mallctl calls in one borrowed-thread session, for heapdoc release and
 * set (lib/observe/act.c): begin, any number of calls, end. */
struct jemalloc_ctl {
	struct jemalloc_reader *r;
	struct inject_session s;
	struct error *err;
};

int jemalloc_ctl_begin(struct jemalloc_ctl *c, struct jemalloc_reader *r, struct target *t,
		       unsigned timeout_ms, struct error *err);

/* mallctl(name, old, &width, new, newlen): 0, mallctl's own error as a
 * positive errno (ENOENT: no such name; EFAULT: no such arena), or the
 * injection's as a negative one.  old (width bytes) and newval may be NULL. */
int jemalloc_mallctl(struct jemalloc_ctl *c, const char *name, void *old, size_t width,
		     const void *newval, size_t newlen);

/* Ends the session (rc: the result so far, returned unless ending fails). */
int jemalloc_ctl_end(struct jemalloc_ctl *c, int rc);

/* The same behind the shared interface (backend.h). */
struct alloc_backend;
extern const struct alloc_backend jemalloc_backend;

#endif
