/* jemalloc's own heap profiler, for `heapdoc leaks` on a process started
 * with prof:true (MALLOC_CONF="prof:true"): heapdoc asks it for a dump
 * (mallctl "prof.dump", on a borrowed thread), reads the file back through
 * /proc/<pid>/root, removes it, and turns jemalloc's heap_v2 text into a
 * struct profile.  Nothing is loaded into the process.  jemalloc's samples
 * cover everything allocated since the process started with profiling on,
 * so the live figures include what was allocated before heapdoc came.
 */
#ifndef HEAPDOC_JEMALLOC_PROF_H
#define HEAPDOC_JEMALLOC_PROF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/profile.h"
#include "observe/inject.h"

struct jemalloc_prof {
	pid_t pid;
	uint64_t mallctl;		/* (prefix)mallctl's run-time address */
	uint64_t lib_lo, lib_hi;	/* jemalloc's code, to drop its own frames */
	struct inject_guard guard;
	unsigned dumps;
	uint64_t stop_us;		/* the longest stop a dump took */
};

/* 0 when pid runs jemalloc with its profiler on; -EOPNOTSUPP (with the
 * reason) when it does not, or another error. */
int jemalloc_prof_open(struct jemalloc_prof *jp, pid_t pid, struct error *err);

enum jemalloc_prof_into { JEPROF_MID, JEPROF_END };

/* Dumps and reads jemalloc's profile into p: as the live counts at the end
 * of the window (JEPROF_END), or as its middle (JEPROF_MID). */
int jemalloc_prof_dump(struct jemalloc_prof *jp, struct profile *p,
		       enum jemalloc_prof_into into, struct error *err);

void jemalloc_prof_close(struct jemalloc_prof *jp);

/* Parses heap_v2 text (pure; for tests too): each stack's live and
 * cumulative raw counts into p's sites, minus leading frames in
 * [skip_lo, skip_hi). */
int jemalloc_prof_parse(const char *text, struct profile *p, enum jemalloc_prof_into into,
			uint64_t skip_lo, uint64_t skip_hi, struct error *err);

#endif
