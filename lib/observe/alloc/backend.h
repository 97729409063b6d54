/* One interface, one backend per allocator (DESIGN.md: lib/alloc/).
 *
 * Every command talks to every allocator through this table (observe.h
 * drives it): triage and knobs read the shared summary, `stats` asks the
 * same read for the allocator's own detail (model/alloc_detail.h).
 *
 * Lifecycle: open() before anything is stopped (symbols and DWARF are slow
 * to load and must not lengthen the pause); then any number of sample() and
 * read() calls on an attached target; close().  A backend stops and resumes
 * the target itself, as briefly as its method allows (a bulk copy for glibc,
 * a call on one thread for jemalloc/tcmalloc), and reports the pause through
 * the target's counters.
 */
#ifndef HEAPDOC_BACKEND_H
#define HEAPDOC_BACKEND_H

#include <stdbool.h>

#include "base/error.h"
#include "model/alloc_detail.h"
#include "observe/alloc/alloc.h"
#include "observe/target.h"

struct alloc_reader;		/* each backend's own state */
struct vtables;

/* How a full read is asked for; NULL means the defaults. */
struct alloc_read {
	/* glibc: hold the target for the whole walk of its heaps, instead of
	 * two brief holds around a walk made while it runs (stats --hold). */
	bool hold;
	/* Not NULL: also the allocator's own figures, into the member of its
	 * kind (allocated there; free with alloc_detail_free).  Left empty
	 * when the allocator could not be read. */
	struct alloc_detail *detail;
	/* glibc: also count the chunks in use by the vtable in their first
	 * word (detail->glibc->classes; observe/vtables.h).  NULL: not. */
	const struct vtables *vtables;
};

struct alloc_backend {
	enum alloc_kind kind;
	int (*open)(struct alloc_reader **r, pid_t pid, const struct alloc_id *id,
		    struct error *err);
	/* A cheap read for one trend sample: allocated and resident bytes.
	 * 1 when allocated is an estimate (glibc: an arena that kept moving
	 * through its walk), 0 when exact. */
	int (*sample)(struct alloc_reader *r, struct target *t, uint64_t *allocated,
		      uint64_t *resident, struct error *err);
	/* A full read: the shared summary and the settings in force.  When
	 * the allocator cannot be read (no debug info, no safe moment) it
	 * returns 0 with sum->valid false and why; errors are for a process
	 * gone (-ESRCH), an interruption (-EINTR) and the like. */
	int (*read)(struct alloc_reader *r, struct target *t, const struct alloc_read *how,
		    struct alloc_summary *sum, struct alloc_params *params,
		    struct error *err);
	void (*close)(struct alloc_reader *r);
	/* Optional: lets go of what only open() needed (glibc: the symbols
	 * and debug info, some 15 MB) and of buffers the next read allocates
	 * again (glibc's 4 MiB window), for a reader kept open for hours
	 * between reads (`heapdoc exporter`, after each round); sample() and
	 * read() work as before.  NULL: nothing to let go. */
	void (*lighten)(struct alloc_reader *r);
};

/* The backend for kind, or NULL when heapdoc cannot read its internals. */
const struct alloc_backend *alloc_backend_for(enum alloc_kind kind);

#endif
