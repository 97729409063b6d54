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

/* What a reader of an allocator it calls into holds. */
struct alloc_callee {
	pid_t pid;
	struct inject_guard guard;	/* the allocator's code in the target */
	struct inject_libc libc;	/* what a call needs of libc (inject.h) */
};

/* Opens id's file in pid; find(arg, es, err) takes the entry points the
 * reader needs from its symbols (and may set c->guard's lock); then the
 * allocator's code (named what in messages) goes into c->guard, and what a
 * call needs of libc into c->libc.  Set c->guard.all_threads_clear before,
 * or in find, when no lock can be read.  Slow (ELF symbols): call it before
 * stopping the target. */
int alloc_callee_open(struct alloc_callee *c, pid_t pid, const struct alloc_id *id,
		      const char *what, bool (*is_its_function)(const char *name),
		      int (*find)(void *arg, const struct elfsym *es, struct error *err),
		      void *arg, struct error *err);
void alloc_callee_close(struct alloc_callee *c);

/* Begins a session of calls into c's allocator (inject_begin): the thread
 * borrowed has none of its code on its stack; timeout_ms bounds the search
 * for a safe moment (0: the default). */
int alloc_callee_begin(struct alloc_callee *c, struct inject_session *s, struct target *t,
		       unsigned timeout_ms, struct error *err);

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
