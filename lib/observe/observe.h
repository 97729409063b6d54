/* Filling an observation from a live process: the impure half of triage and
 * knobs (DESIGN.md: observe → judge → report).
 *
 *	observe_begin()		/proc, cgroup, environment, allocator detection;
 *				opens the allocator backend and attaches when
 *				asked (a backend needs ptrace; /proc does not)
 *	observe_sample()	one trend point: RSS, page faults, and the
 *				allocator's cheap allocated/resident read,
 *				appended to obs->samples (thinned when full);
 *				the first one also the RSS split at the start
 *	observe_finish()	the allocator's full read (with its own detail
 *				when asked: stats) and the RSS split
 *	observe_end()		closes the backend and detaches, on every path
 *
 * The allocator view is optional throughout: when heapdoc has no backend for
 * the allocator, or the backend cannot read it, obs->summary says why and the
 * rest of the observation is still filled.
 */
#ifndef HEAPDOC_OBSERVE_H
#define HEAPDOC_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "observe/alloc/backend.h"
#include "base/error.h"
#include "model/observation.h"
#include "observe/target.h"

struct observer {
	const char *root;
	struct observation *obs;
	const struct alloc_backend *backend;
	struct alloc_reader *reader;	/* NULL: no allocator view */
	struct target target;
	bool traced;			/* asked to read the allocator (not heapdoc itself) */
	uint64_t t0_ns;			/* when the first sample was taken */
	unsigned long taken;		/* samples taken (a long window keeps fewer:
					 * model/thin.h) */
};

/* use_allocator: open the backend and attach, if the allocator has one. */
int observe_begin(struct observer *o, const char *root, pid_t pid, bool use_allocator,
		  struct observation *obs, struct error *err);
int observe_sample(struct observer *o, struct error *err);
/* obs->start_time, the wall clock now, unless it is set: the first sample
 * sets it, a recorder that writes its header before sets it first. */
void observe_start_time(struct observation *obs);
/* The same sample, given to the caller instead of appended: `record`
 * thins what it keeps (model/thin.h). */
int observe_take(struct observer *o, struct sample *out, struct error *err);
/* how: see backend.h (NULL: the defaults).  A process that dies meanwhile
 * is -ESRCH, also when it only made the allocator unreadable. */
int observe_finish(struct observer *o, const struct alloc_read *how, struct error *err);

/* Step 4: samples every thread's stack, rounds times (bounded: at most
 * OBSERVE_LATENCY_MAX_S seconds), and counts stacks inside the allocator,
 * in its mm system calls and waiting on its locks into obs->latency.
 * Attaches if not yet attached.  A failure to sample is recorded in
 * obs->latency.why_not, not returned, unless the process is gone. */
#define OBSERVE_LATENCY_ROUNDS 20
#define OBSERVE_LATENCY_MAX_S 3.0
int observe_latency(struct observer *o, unsigned rounds, struct error *err);
/* Copies the target's stop counters (count, longest, total) into the
 * observation: done by observe_finish and observe_latency, and by a caller
 * that stops early. */
void observe_stops(struct observer *o);
void observe_end(struct observer *o);

/* Between the rounds of a long watch (`heapdoc exporter`): observe_let_go
 * detaches entirely, keeping what observe_begin loaded (the allocator
 * reader, its symbols and debug info); observe_take_back attaches again
 * for the next round when there is an allocator to read.  Errors as
 * target_attach: -ESRCH gone, -EPERM refused (another tracer included). */
void observe_let_go(struct observer *o);
int observe_take_back(struct observer *o, struct error *err);
/* For such a watch, between rounds: the reader lets go of what only
 * opening needed and of the buffers a read allocates again (backend.h,
 * lighten). */
void observe_lighten(struct observer *o);

#endif
