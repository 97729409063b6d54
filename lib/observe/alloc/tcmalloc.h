/* tcmalloc's state, read from a live process.
 *
 * gperftools' tcmalloc answers MallocExtension_GetNumericProperty(name,
 * &value); google/tcmalloc answers MallocExtension_Internal_GetNumericProperty
 * (name, length, &value).  heapdoc calls whichever the target exports inside
 * it (lib/inject.h), one call per property, all in one borrowed-thread
 * session, and only while the page-heap lock (the exported
 * tcmalloc::Static::pageheap_lock_, 0 when free) is free.
 */
#ifndef HEAPDOC_TCMALLOC_H
#define HEAPDOC_TCMALLOC_H

#include <stdint.h>
#include <sys/types.h>

#include "model/tcmalloc.h"
#include "observe/alloc/alloc.h"
#include "base/error.h"
#include "observe/target.h"


/* The value of a property by name, UNSET if absent or unknown. */
uint64_t tcmalloc_property(const struct tcmalloc_state *st, const char *name);

struct tcmalloc_reader;

/* Finds the property function and the page-heap lock in pid.  Slow (ELF
 * symbols): call it before stopping the target. */
int tcmalloc_open(struct tcmalloc_reader **r, pid_t pid, const struct alloc_id *id,
		  struct error *err);

/* Every property of its flavor.  timeout_ms bounds the search for a safe
 * moment (0: 1 s); -EAGAIN when none came. */
int tcmalloc_read(struct tcmalloc_reader *r, struct target *t, unsigned timeout_ms,
		  struct tcmalloc_state *out, struct error *err);

/* The cheap read for a trend sample: allocated bytes and the resident
 * estimate (heap minus unmapped). */
int tcmalloc_sample(struct tcmalloc_reader *r, struct target *t, uint64_t *allocated,
		    uint64_t *resident, struct error *err);

/* params may be NULL. */
void tcmalloc_summarise(const struct tcmalloc_state *st, struct alloc_summary *sum,
			struct alloc_params *params);

void tcmalloc_close(struct tcmalloc_reader *r);

/* For heapdoc release and set (lib/observe/act.c): a borrowed-thread
 * session, and in it a property read, ReleaseFreeMemory (google/tcmalloc:
 * ReleaseMemoryToSystem(SIZE_MAX), as tcmalloc_release_name says), and
 * gperftools' SetNumericProperty (-EINVAL when tcmalloc refuses it). */
struct inject_session;
int tcmalloc_session_begin(struct tcmalloc_reader *r, struct inject_session *s,
			   struct target *t, unsigned timeout_ms, struct error *err);
int tcmalloc_get(struct tcmalloc_reader *r, struct inject_session *s, const char *name,
		 uint64_t *value, struct error *err);
int tcmalloc_release_all(struct tcmalloc_reader *r, struct inject_session *s,
			 struct error *err);
const char *tcmalloc_release_name(const struct tcmalloc_reader *r);
int tcmalloc_set(struct tcmalloc_reader *r, struct inject_session *s, const char *name,
		 uint64_t value, struct error *err);

/* Where gperftools keeps its release rate (a double that SetMemoryReleaseRate
 * assigns and the page heap reads); 0 when not exported (google/tcmalloc). */
uint64_t tcmalloc_release_rate_addr(const struct tcmalloc_reader *r);

/* The same behind the shared interface (backend.h). */
struct alloc_backend;
extern const struct alloc_backend tcmalloc_backend;

#endif
