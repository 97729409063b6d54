/* Where an allocator's code is in a target, for the backends that read an
 * allocator by calling into it (jemalloc.c, tcmalloc.c).
 *
 * Both need the same two things before they may borrow a thread: the
 * allocator's file opened as the target maps it (to find the function to
 * call), and the address ranges of its code (so that no thread inside the
 * allocator is ever borrowed: see lib/inject.h).
 */
#ifndef HEAPDOC_ALLOC_CODE_H
#define HEAPDOC_ALLOC_CODE_H

#include <stdbool.h>
#include <sys/types.h>

#include "observe/alloc/alloc.h"
#include "observe/elfsym.h"
#include "base/error.h"
#include "observe/inject.h"

/* Opens id's file in pid, finding its load base when detection left it 0. */
int alloc_code_open(struct elfsym *es, pid_t pid, const struct alloc_id *id,
		    struct error *err);

/* Adds the allocator's code to g.  A shared allocator is its library's
 * executable mappings; a static copy has no library of its own, so it is
 * the executable's functions whose names is_its_function accepts (then
 * -ENOENT if none is named, e.g. a stripped executable). */
int alloc_code_guard(struct inject_guard *g, const struct elfsym *es, pid_t pid,
		     const struct alloc_id *id, bool (*is_its_function)(const char *name),
		     struct error *err);

#endif
