/* heapdoc leaks: what was live before sampling began (model/profile.h's
 * struct prof_before).  Samples only see what is allocated once the
 * library is in; this read, made just before it is loaded, says how much
 * is already there -- allocated, as the allocator itself counts it (glibc:
 * mallinfo2's uordblks + hblkhd from heapdoc's own walk; jemalloc
 * stats.allocated; tcmalloc generic.current_allocated_bytes) -- and, for
 * glibc, which C++ classes it is made of: the walk counts every chunk in
 * use whose first word is a vtable pointer (observe/vtables.h,
 * alloc/glibc_classes.c).
 *
 * It goes through the same observation every command makes
 * (observe/observe.h): the allocator's full read with two brief holds
 * around a walk made while the process runs.  Nothing here is fatal to
 * the sampling that follows, except the process going away: a read that
 * cannot be made leaves allocated UNSET and says why. */
#ifndef HEAPDOC_OBSERVE_LEAKS_BEFORE_H
#define HEAPDOC_OBSERVE_LEAKS_BEFORE_H

#include <sys/types.h>

#include "base/error.h"
#include "model/profile.h"

/* Fills b.  -ESRCH when pid is gone, -EINTR when heapdoc is interrupted;
 * otherwise 0, with b->why and b->classes.why saying what could not be
 * read. */
int leaks_before_read(pid_t pid, struct prof_before *b, struct error *err);

#endif
