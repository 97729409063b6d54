/* Holding a live process still, briefly and safely (ptrace).
 *
 * The protocol (DESIGN.md, "Safety protocol"):
 *  - PTRACE_SEIZE every thread, including threads created while attaching
 *    (PTRACE_O_TRACECLONE); never SIGSTOP.
 *  - target_stop() PTRACE_INTERRUPTs every thread and waits until each is in
 *    a ptrace stop; target_resume() restarts them all.  The time between the
 *    two is the pause, measured and reported.
 *  - A signal that arrives for a thread while it is held is recorded and
 *    re-delivered when it is restarted; group-stop signals are honoured.
 *  - target_detach() works from any state and on every path: errors, and
 *    SIGINT/SIGTERM/SIGHUP to heapdoc (the guard turns those into -EINTR
 *    returns so the caller's cleanup path runs, then heapdoc exits).
 *  - Reads are bulk: one process_vm_readv (or /proc/<pid>/mem pread) per
 *    region, never one syscall per word.
 */
#ifndef HEAPDOC_TARGET_H
#define HEAPDOC_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "error.h"

struct target_thread {
	pid_t tid;
	bool stopped;		/* in a ptrace stop that heapdoc caused */
	int pending_signal;	/* arrived while held; re-delivered on resume */
};

struct target {
	pid_t pid;
	struct target_thread *threads;
	size_t nthreads, cap;
	int mem_fd;		/* /proc/<pid>/mem, the fallback for reads */
	bool stopped;
	uint64_t stop_started_ns;
	uint64_t pause_us_last;	/* the last stop → resume */
	uint64_t pause_us_max;
	uint64_t pause_us_total;
	unsigned stops;
};

/* Seizes every thread of pid; they keep running.  Installs the signal guard.
 * -ESRCH, -EPERM (the message names CAP_SYS_PTRACE / ptrace_scope). */
int target_attach(struct target *t, pid_t pid, struct error *err);

/* Interrupts every thread and waits for all of them to stop (bounded). */
int target_stop(struct target *t, struct error *err);

/* Restarts every thread, re-delivering signals that arrived meanwhile. */
int target_resume(struct target *t, struct error *err);

/* Resumes (if stopped) and detaches every thread; frees t.  Always safe,
 * also on a t that was never attached (zeroed) or already detached. */
void target_detach(struct target *t);

/* Reads len bytes at addr.  Returns the bytes read (short at an unmapped
 * page) or a negative errno.  -ESRCH if the process is gone. */
ssize_t target_read(struct target *t, uint64_t addr, void *buf, size_t len,
		    struct error *err);

/* Like target_read, but anything short of len is -EFAULT. */
int target_read_exact(struct target *t, uint64_t addr, void *buf, size_t len,
		      struct error *err);

/* Registers of a stopped thread (and back). */
int target_get_regs(struct target *t, pid_t tid, struct user_regs_struct *regs,
		    struct error *err);
int target_set_regs(struct target *t, pid_t tid, const struct user_regs_struct *regs,
		     struct error *err);

/* True once SIGINT, SIGTERM or SIGHUP reached heapdoc while a target was
 * attached; long loops check it and return -EINTR. */
bool target_interrupted(void);

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t now_ns(void);

#endif
