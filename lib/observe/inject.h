/* Calling a function inside a live target (x86-64), safely.
 *
 * Some allocators only tell their state through a function of their own
 * (jemalloc's mallctl, tcmalloc's MallocExtension_GetNumericProperty).
 * heapdoc borrows one thread of the target for the length of such calls,
 * the way gdb's `call` does, under the protocol of DESIGN.md:
 *
 *  - Choose a moment: every thread stopped; the borrowed thread must be
 *    parked in a system call (orig_rax >= 0: read, nanosleep, epoll_wait,
 *    futex ...) with no allocator function anywhere on its stack; the
 *    allocator's lock must be free where it can be read (tcmalloc's page
 *    heap lock); for jemalloc, which has no single lock to peek, no thread
 *    at all may be inside it, except blocked waiting in futex(2) (its own
 *    background thread sleeps so).  Otherwise resume briefly and retry,
 *    until a timeout that applies only to this search.  A thread's stack
 *    is "inside" when any frame's pc falls in the allocator's code: the
 *    library's executable mappings, or for a static copy its functions
 *    found by name in the executable's symbols.
 *  - The other threads are resumed and keep running during the call: a lock
 *    the call needs is released by its owner instead of deadlocking.
 *  - The call: registers and FP/vector state saved; arguments written below
 *    the red zone; the return address is the program's entry point
 *    (AT_ENTRY) where one int3 byte is planted; orig_rax = -1 so the kernel
 *    does not restart the interrupted syscall at the new pc.  Once the call
 *    has started it is waited for (never rewound: it may hold a lock).
 *  - Afterwards the byte, the FP state and every register (orig_rax
 *    included) are put back, so the interrupted syscall restarts as if
 *    nothing happened.  Signals that arrived meanwhile are re-delivered.
 *  - The int3 byte is removed on every path: errors, SIGINT/SIGTERM/SIGHUP
 *    to heapdoc (through the target guard's -EINTR), and a crash of heapdoc
 *    itself (a fatal-signal handler puts the byte and registers back).
 *  - A call that does not return within call_limit_ms (10 s; a mallctl
 *    read takes microseconds) is not rewound either: its return address is
 *    pointed at pthread_exit, the int3 removed, and the thread left to
 *    finish the call and end, instead of resuming its syscall.  -ETIMEDOUT
 *    says so.  The same happens if heapdoc crashes during a call.
 *
 * Use:
 *	inject_begin(&s, t, &opts, err);	    choose the thread
 *	name = inject_push(&s, "epoch", 6, err);    strings and buffers
 *	inject_call(&s, fn, args, n, &ret, err);    as often as needed
 *	inject_end(&s, err);			    put everything back
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
	 * unless it is blocked in futex(2) (see choose_thread). */
	bool all_threads_clear;
	/* A 4-byte lock word that is 0 when free (tcmalloc's pageheap_lock_),
	 * or 0 for none. */
	uint64_t lock_addr;
};

/* Adds [lo, hi) to the allocator's code (any order; merged when used). */
int inject_guard_add(struct inject_guard *g, uint64_t lo, uint64_t hi);

/* Adds the executable mappings of path in pid (a shared allocator). */
int inject_guard_add_mapped(struct inject_guard *g, pid_t pid, const char *path,
			    struct error *err);

/* True if pc is inside the allocator's code (once sorted: after
 * inject_begin). */
bool inject_guard_covers(struct inject_guard *g, uint64_t pc);

void inject_guard_free(struct inject_guard *g);

struct inject_opts {
	struct inject_guard *guard;	/* NULL: no allocator check (tests) */
	unsigned timeout_ms;		/* to find a safe moment; 0: 1000 */
	pid_t only_tid;			/* > 0: borrow this thread or none */
	unsigned call_limit_ms;		/* a call running longer is left to
					 * finish on its own; 0: 10 s */
	struct inject_exit {
		uint64_t fn;		/* pthread_exit */
		uint64_t ret;		/* a `ret` byte that pops it */
	} exit;				/* inject_thread_exit(), if known */
};

/* Where a call given up on returns to (see above): pthread_exit in pid's
 * libc, through a `ret` byte so the stack is aligned as the ABI wants.
 * -ENOENT (all 0) if not found: then a hung call is waited for.  Readers
 * look it up once at open. */
int inject_thread_exit(pid_t pid, struct inject_exit *out);

#define INJECT_SCRATCH 2048		/* bytes for strings and buffers */
#define INJECT_MAX_DEFERRED 8

struct inject_session {
	struct target *t;
	struct inject_guard *guard;
	pid_t tid;			/* the borrowed thread; 0 when none */
	int mem_fd;			/* /proc/<pid>/mem, for writes */
	struct user_regs_struct saved;	/* the thread as it was */
	void *fpstate;			/* its FP/vector state (XSAVE area) */
	size_t fplen;
	bool xstate;			/* fpstate is NT_X86_XSTATE, not FPREGS */
	uint64_t ret_addr;		/* AT_ENTRY: the int3 while armed */
	uint8_t ret_byte;		/* the byte it replaced */
	bool armed;			/* the int3 is in the target */
	bool regs_dirty;		/* the thread's registers differ from saved */
	uint64_t scratch_lo, scratch_next, scratch_hi;
	struct inject_exit exit;	/* where a call given up on ends */
	unsigned call_limit_ms;
	int deferred[INJECT_MAX_DEFERRED]; /* signals to re-deliver */
	size_t ndeferred;

	/* For the report and the tests. */
	unsigned attempts;		/* stops taken to find a safe moment */
	unsigned refused_running;	/* candidate threads not in a syscall */
	unsigned refused_inside;	/* candidate threads inside the allocator */
	unsigned calls;
	uint64_t calls_us;		/* time spent inside calls */
	char refusal[192];		/* why the last moment was refused */
};

/* Finds a safe moment and borrows a thread (see above).  -EAGAIN with the
 * reasons when no safe moment came within the timeout, -EINTR when heapdoc
 * was asked to stop.  On error nothing is left changed in the target. */
int inject_begin(struct inject_session *s, struct target *t,
		 const struct inject_opts *opts, struct error *err);

/* Copies len bytes into the scratch area below the borrowed thread's red
 * zone and returns their address in the target; 0 if full. */
uint64_t inject_push(struct inject_session *s, const void *data, size_t len,
		     struct error *err);

/* Forgets everything pushed: the next push reuses the area from its start
 * (between calls whose arguments are no longer needed). */
void inject_scratch_reset(struct inject_session *s);

/* Calls fn(args[0..nargs-1]) (integers or pointers, nargs <= 6) in the
 * borrowed thread and stores rax in *ret.  -EFAULT if the call crashed (the
 * signal is withheld, the thread put back as it was), -ESRCH if the target
 * died, -EINTR if heapdoc was interrupted before the call started. */
int inject_call(struct inject_session *s, uint64_t fn, const uint64_t *args,
		unsigned nargs, uint64_t *ret, struct error *err);

/* Puts the byte, FP state and registers back and leaves the target running.
 * Safe on a session that failed or never began (zeroed). */
int inject_end(struct inject_session *s, struct error *err);

#endif
