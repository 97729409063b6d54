/* One interface, one backend per allocator (DESIGN.md: lib/alloc/).
 *
 * triage and knobs talk to every allocator through this table; `stats`
 * additionally shows each backend's own detail through its own header
 * (glibc.h, jemalloc.h, tcmalloc.h).
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

#include "observe/alloc/alloc.h"
#include "base/error.h"
#include "observe/target.h"

struct alloc_reader;		/* each backend's own state */

struct alloc_backend {
	enum alloc_kind kind;
	int (*open)(struct alloc_reader **r, pid_t pid, const struct alloc_id *id,
		    struct error *err);
	/* A cheap read for one trend sample: allocated and resident bytes. */
	int (*sample)(struct alloc_reader *r, struct target *t, uint64_t *allocated,
		      uint64_t *resident, struct error *err);
	/* A full read: the shared summary and the settings in force. */
	int (*read)(struct alloc_reader *r, struct target *t, struct alloc_summary *sum,
		    struct alloc_params *params, struct error *err);
	void (*close)(struct alloc_reader *r);
};

/* The backend for kind, or NULL when heapdoc cannot read its internals. */
const struct alloc_backend *alloc_backend_for(enum alloc_kind kind);

#endif
