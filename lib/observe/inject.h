/* Calling functions inside a live target (x86-64), safely even if heapdoc
 * dies at any instant.
 *
 * Some allocators only tell their state through a function of their own
 * (jemalloc's mallctl, tcmalloc's MallocExtension_GetNumericProperty), and
 * the actions heapdoc offers (malloc_trim, a purge, mallopt) are calls too.
 * heapdoc borrows one thread of the target for a session of such calls.
 *
 * The guarantee: whatever happens to heapdoc during a session — an error, a
 * crash, SIGKILL, the OOM killer — the borrowed thread goes back to exactly
 * what it was doing, with every register, its vector state and its signal
 * mask intact, and nothing of heapdoc stays in the process.  It holds
 * because of how a session is built (lib/observe/inject.c follows it):
 *
 *  1. Choosing the moment (inject_choose.c).  Every thread stopped; the
 *     borrowed thread is parked in a system call (read, epoll_wait, futex
 *     ...) with no allocator function on its stack, on a stack with room
 *     below it, and not in a call that swaps the signal mask (ppoll with a
 *     mask, sigsuspend...); the allocator's lock is free where it can be
 *     read; for jemalloc no thread at all is inside it but futex waiters.
 *     The other threads are then let go and run during the calls.
 *
 *  2. A restore frame, before anything is changed (inject_frame.c).  Below
 *     the thread's red zone heapdoc writes a signal frame, the kind the
 *     kernel builds to run a signal handler, holding the thread's registers,
 *     XSAVE state and signal mask, with an interrupted system call encoded
 *     the way the kernel restarts one.  Its first word is the restorer in the
 *     target's libc (__restore_rt: rt_sigreturn).  Whatever code returns
 *     through that word puts the thread back as it was.
 *
 *  3. Never an int3, never a changed code byte.  The return paths are the
 *     restorer and a trampoline (inject_tramp.S, 127 bytes) in a private
 *     read+execute page that the session maps (a call of the target's own
 *     mmap, returning through the restore frame) and marks MADV_DONTFORK, so
 *     a fork during a session copies nothing of it.  The trampoline runs a
 *     batch of calls, then waits in ppoll for heapdoc.  If heapdoc does not
 *     come (it is gone), the wait times out and the trampoline puts errno
 *     back, unmaps its own page with the target's munmap and returns through
 *     the restore frame.
 *
 *  4. Signals wait.  The borrowed thread's signal mask is full during the
 *     session, so signals sent to it stay queued in the kernel, siginfo and
 *     order intact, and are delivered when its own mask comes back; a signal
 *     storm cannot interrupt a call.  Faults inside a call still stop it.
 *
 *  5. Every register state heapdoc gives the thread leads back through the
 *     restore frame if heapdoc stops there, and every change is ordered so
 *     (frame and data written before the registers that use them; mask
 *     restored before the registers).
 *
 *  6. While heapdoc lives it ends a session exactly: it unmaps the page
 *     (the target's munmap), takes the thread at an interrupt stop and puts
 *     back the registers, XSAVE state, signal mask and errno it saved, so
 *     the kernel restarts the interrupted call itself — even a sleep, whose
 *     restart state rt_sigreturn would reset.  Only when heapdoc is gone does
 *     the frame's encoding apply: restartable calls restart, and a sleep that
 *     the kernel restarts through restart_syscall returns EINTR, as POSIX
 *     allows after a signal (a thread in such a sleep is chosen last).
 *
 *  7. A call that does not return (a lock never released) is not rewound:
 *     heapdoc lets the thread go mid-call.  It finishes whenever it can,
 *     waits for heapdoc, and goes back on its own (3).  No thread is ended.
 *
 * Use:
 *	inject_libc_find(pid, &libc, err);		once, before any hold
 *	inject_begin(&s, t, &opts, err);		choose a thread
 *	addr = inject_push(&s, buf, len, err);		strings and buffers
 *	inject_call(&s, fn, args, n, &ret, err);	as often as needed
 *	inject_calls(&s, calls, n, err);		several in one stop
 *	inject_end(&s, err);				put everything back
 * The target must be attached (stopped or not); inject_end leaves it
 * running.
 */
#ifndef HEAPDOC_INJECT_H
#define HEAPDOC_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "base/error.h"
#include "observe/proc.h"
#include "observe/target.h"

/* What "inside the allocator" means for one target. */
struct inject_guard {
	const char *what;		/* "jemalloc", for messages */
	struct inject_range {
		uint64_t lo, hi;	/* [lo, hi) */
	} *code;			/* the allocator's code (sorted and merged
					 * by inject_begin) */
	size_t ncode, cap;
	/* jemalloc: refuse while any thread at all has an allocator frame,
	 * unless it is blocked in futex(2) (see inject_choose.c). */
	bool all_threads_clear;
	/* A 4-byte lock word that is 0 when free (tcmalloc's pageheap_lock_),
	 * or 0 for none. */
	uint64_t lock_addr;
	/* Locks that are not one word (glibc: a mutex in every arena of a
	 * ring): called with every thread stopped, before a thread is chosen;
	 * 0 when the moment is safe, else nonzero with the reason in why.
	 * NULL: none. */
	int (*moment_check)(struct target *t, void *arg, char *why, size_t len);
	void *moment_arg;
};

/* Adds [lo, hi) to the allocator's code (any order; merged when used). */
int inject_guard_add(struct inject_guard *g, uint64_t lo, uint64_t hi);

/* Adds the executable mappings of path in pid (a shared allocator). */
int inject_guard_add_mapped(struct inject_guard *g, pid_t pid, const char *path,
			    struct error *err);

/* Sorts and merges the ranges; inject_begin does it too. */
void inject_guard_settle(struct inject_guard *g);

/* True if pc is inside the allocator's code (once settled). */
bool inject_guard_covers(const struct inject_guard *g, uint64_t pc);

void inject_guard_free(struct inject_guard *g);

/* What a session needs of the target's libc (or of a static executable):
 * run-time addresses, found before anything is held. */
struct inject_libc {
	uint64_t mmap, munmap, madvise;	/* the exported functions */
	uint64_t errno_location;	/* __errno_location; 0: errno not kept */
	uint64_t restorer;		/* mov $15,%rax; syscall (__restore_rt) */
};

/* Finds them in the module of pid that defines mmap and munmap and holds a
 * restorer.  -ENOENT (naming what is missing) when there is none. */
int inject_libc_find(pid_t pid, struct inject_libc *out, struct error *err);

struct inject_opts {
	struct inject_guard *guard;	/* NULL: no allocator check (tests) */
	const struct inject_libc *libc;	/* NULL: looked up by inject_begin */
	unsigned timeout_ms;		/* to find a safe moment; 0: 1000 */
	pid_t only_tid;			/* > 0: borrow this thread or none */
	unsigned call_limit_ms;		/* a batch running longer is left to
					 * finish on its own; 0: 10 s */
	size_t stack_need;		/* stack the calls need below the
					 * session's frames; 0: 64 KiB */
	unsigned wait_ms;		/* how long the trampoline waits for
					 * heapdoc before it goes back on its
					 * own; 0: 500 ms (tests shorten it) */
};

#define INJECT_SCRATCH 4096		/* bytes for strings and buffers */
#define INJECT_MAX_BATCH 32		/* calls in one inject_calls() */

/* One call of a batch: fn(args[0..5]), %rax in ret. */
struct inject_fn {
	uint64_t fn;
	uint64_t args[6];
	uint64_t ret;
};

/* Where the borrowed thread is, for inject_end and the tests. */
enum inject_phase {
	INJECT_IDLE,		/* no thread borrowed */
	INJECT_SAVED,		/* chosen and saved, registers untouched */
	INJECT_BOOT,		/* in the target's mmap, under PTRACE_SYSCALL */
	INJECT_HELD,		/* stopped in the trampoline, between batches */
	INJECT_RUNNING,		/* running a batch */
	INJECT_FAULTED,		/* a call crashed: stopped with its signal */
	INJECT_LEFT,		/* let go mid-session: it goes back on its own */
	INJECT_GONE,		/* the thread or the process ended */
};

/* The kind of ptrace stop the borrowed thread is held in. */
enum inject_stop {
	INJECT_STOP_TRAP,	/* an interrupt stop in the kernel's signal code */
	INJECT_STOP_SYSCALL,	/* a system-call entry or exit stop */
	INJECT_STOP_FAULT,	/* a fault's signal-delivery stop (fault_signal) */
};

struct inject_session {
	struct target *t;
	struct inject_guard *guard;
	struct inject_libc libc;
	pid_t tid;			/* the borrowed thread; 0 when none */
	enum inject_phase phase;
	enum inject_stop stop;		/* while held */
	int fault_signal;
	int mem_fd;			/* /proc/<pid>/mem, for writes */

	/* The thread as it was. */
	struct user_regs_struct saved;
	uint64_t saved_mask;
	void *xstate;			/* its XSAVE area (NT_X86_XSTATE), or */
	size_t xlen;			/* its FXSAVE area when !has_xstate */
	bool has_xstate;
	int saved_errno;
	uint64_t errno_addr;		/* 0 until known */

	/* The session in the target's memory (inject_frame.c). */
	uint64_t frame;			/* the restore frame (its restorer word) */
	uint64_t data;			/* the trampoline's data block */
	uint64_t scratch_lo, scratch_next, scratch_hi;
	uint64_t call_top;		/* 16-byte aligned stack for the calls */
	uint64_t page;			/* the trampoline's page; 0 if none */
	uint64_t page_at;		/* where it is asked for (inject.c) */
	unsigned wait_ms, call_limit_ms;
	size_t stack_need;

	/* For the report and the tests. */
	unsigned attempts;		/* stops taken to find a safe moment */
	unsigned refused_running;	/* candidate threads not in a syscall */
	unsigned refused_inside;	/* candidate threads inside the allocator */
	unsigned calls, batches;
	uint64_t calls_us;		/* time spent running batches */
	char refusal[192];		/* why the last moment was refused */
};

/* Finds a safe moment, borrows a thread and sets the session up (steps 1 to
 * 3 above).  -EAGAIN with the reasons when no safe moment came within the
 * timeout, -EINTR when heapdoc was asked to stop, -ENOENT when the target's
 * libc lacks what a session needs.  On error nothing is left changed. */
int inject_begin(struct inject_session *s, struct target *t,
		 const struct inject_opts *opts, struct error *err);

/* Copies len bytes into the scratch area on the borrowed thread's stack and
 * returns their address in the target; 0 if full. */
uint64_t inject_push(struct inject_session *s, const void *data, size_t len,
		     struct error *err);

/* Forgets everything pushed: the next push reuses the area from its start
 * (between calls whose arguments are no longer needed). */
void inject_scratch_reset(struct inject_session *s);

/* Calls fn(args[0..nargs-1]) (integers or pointers, nargs <= 6) in the
 * borrowed thread and stores %rax in *ret. */
int inject_call(struct inject_session *s, uint64_t fn, const uint64_t *args,
		unsigned nargs, uint64_t *ret, struct error *err);

/* Makes n calls (n <= INJECT_MAX_BATCH) one after the other in a single
 * run of the thread, filling each ret.  Errors: -EFAULT if a call crashed
 * (the fault is withheld and the thread put back as it was: the session is
 * over), -ESRCH if the thread or the process ended, -ETIMEDOUT if the batch
 * ran past call_limit_ms (the thread is left to finish it, step 7), -EINTR
 * if heapdoc was interrupted (the batch is waited for up to 100 ms first),
 * -EAGAIN if the thread went back on its own (heapdoc was too slow). */
int inject_calls(struct inject_session *s, struct inject_fn *calls, unsigned n,
		 struct error *err);

/* Ends the session (step 6) and leaves the target running.  Safe on a
 * session that failed or never began (zeroed). */
int inject_end(struct inject_session *s, struct error *err);

#endif
