/* What the parts of lib/observe/inject share (internal to inject*.c). */
#ifndef HEAPDOC_INJECT_INT_H
#define HEAPDOC_INJECT_INT_H

#include "observe/inject.h"

/* The largest XSAVE image ptrace can hand out on this CPU. */
size_t inject_xsave_max(void);

/* With every thread stopped: the thread to borrow, or 0 with the reason in
 * s->refusal (inject_choose.c).  maps were read before the hold and
 * classified. */
pid_t inject_choose(struct inject_session *s, const struct inject_opts *o,
		    const struct maps *maps, struct error *err);

/* Moving the borrowed thread (inject_run.c). */
int inject_run_boot(struct inject_session *s, struct error *err);
int inject_run_batch(struct inject_session *s, struct inject_fn *calls, unsigned n,
		     struct error *err);
int inject_run_teardown(struct inject_session *s, struct error *err);

/* Writes len bytes at addr in the target (through /proc/<pid>/mem, which
 * reaches read-only pages too). */
int inject_write(struct inject_session *s, uint64_t addr, const void *buf, size_t len,
		 struct error *err);

#endif
