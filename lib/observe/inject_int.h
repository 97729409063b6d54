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

/* How long heapdoc waits for a stop it asked for. */
#define INJECT_STOP_WAIT_NS	(2000ULL * 1000000)

/* The borrowed thread's moves (inject_thread.c).  Each returns 0 or a
 * negative errno with the reason in err; -ESRCH once the thread is gone
 * (s->phase INJECT_GONE). */
int inject_resume(struct inject_session *s, int request, struct error *err);
int inject_gone(struct inject_session *s, struct error *err);
void inject_sleep_chld(uint64_t ns);
/* 1 when the thread stopped (its kind in s->stop), 0 when nothing happened. */
int inject_poll_stop(struct inject_session *s, int request, struct error *err);
int inject_wait_stop(struct inject_session *s, int request, uint64_t deadline,
		     struct error *err);
/* Runs the thread through system call nr: its return value in *ret. */
int inject_syscall(struct inject_session *s, long nr, uint64_t *ret, struct error *err);
int inject_set_regs(struct inject_session *s, const struct user_regs_struct *r,
		    struct error *err);
struct user_regs_struct inject_regs_for(const struct inject_session *s, uint64_t fn,
					uint64_t sp);
/* From a system-call stop to the interrupt stop the exact restore needs. */
int inject_park(struct inject_session *s, struct error *err);
/* Step 6: registers, XSAVE state, mask and errno as they were. */
int inject_restore(struct inject_session *s, struct error *err);
/* A read of the session's own bytes that goes on after Ctrl-C. */
int inject_peek(struct inject_session *s, uint64_t addr, void *buf, size_t len,
		struct error *err);
/* Step 7: the thread goes back on its own through the restore frame. */
int inject_let_go(struct inject_session *s, struct error *err);

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
