/* The sampling library heapdoc loads into a target (libheapdoc-agent.so).
 *
 * It is built on its own (-fPIC -shared, libc only), never linked into
 * heapdoc, and never built with sanitizers: it runs inside someone else's
 * process.  Nothing in it may allocate with the hooked functions on a path
 * that can be reentered, block on a lock a hooked call may hold, or fault on
 * the target's memory.
 *
 *	hooks.c		the redirected functions: the fast path of an unsampled
 *			call is a thread-local countdown and a tail call
 *	sample.c	the slow path: draw the next gap, unwind, fill the ring,
 *			enter the live table (compiled with frame pointers)
 *	unwind.c	a small .eh_frame unwinder with a cache of rules by pc
 *	patch.c		relocation slots: find, redirect, put back
 *	control.c	the entry points heapdoc calls; the heartbeat and fork
 *			checks that put everything back from inside
 */
#ifndef HEAPDOC_AGENT_INSIDE_H
#define HEAPDOC_AGENT_INSIDE_H

#include <stddef.h>
#include <stdint.h>

#include "../agent_abi.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The functions the hooks forward to, resolved once at start. */
struct agent_real {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void *(*dlopen)(const char *, int);
	int (*dlclose)(void *);
};

extern struct agent_real agent_real HIDDEN;
extern struct agent_ctl *agent_ctl HIDDEN;	/* NULL until started */
extern volatile int agent_state HIDDEN;		/* enum agent_state, this copy */
extern uint64_t agent_filter[AGENT_FILTER_BITS / 64] HIDDEN;	/* see agent_abi.h */

/* May p be a live sample?  The free fast path: one load from the filter,
 * from a line that stays in this thread's cache while only this thread's
 * samples come and go in the memory it covers. */
static inline int agent_maybe_live(const void *p)
{
	return agent_filter_has(agent_filter, agent_filter_index(p));
}

/* Thread-local countdown of bytes to the next sample (0: not yet drawn). */
extern __thread uint64_t agent_left HIDDEN __attribute__((tls_model("initial-exec")));

/* sample.c: the slow paths (a sampled allocation, or a free/realloc of a
 * pointer whose filter bit is set). */
void *agent_malloc_slow(size_t n) HIDDEN;
void *agent_calloc_slow(size_t n, size_t m) HIDDEN;
void *agent_realloc_slow(void *p, size_t n) HIDDEN;
void *agent_reallocarray_slow(void *p, size_t n, size_t m) HIDDEN;
int agent_posix_memalign_slow(void **pp, size_t a, size_t n) HIDDEN;
void *agent_aligned_alloc_slow(size_t a, size_t n) HIDDEN;
void *agent_memalign_slow(size_t a, size_t n) HIDDEN;
void *agent_valloc_slow(size_t n) HIDDEN;
void *agent_pvalloc_slow(size_t n) HIDDEN;
void agent_free_slow(void *p) HIDDEN;
/* Forgets p if it is a live sample; true if it was. */
int agent_forget(void *p) HIDDEN;

/* hooks.c: addresses of the redirected functions, by name. */
struct agent_hook {
	const char *name;
	void *hook;		/* what a slot is pointed at */
	void **real;		/* where the real function is kept */
};
extern const struct agent_hook agent_hooks[] HIDDEN;
extern const unsigned agent_nhooks HIDDEN;

/* control.c */
void agent_check_health(uint64_t now_ns) HIDDEN;	/* heartbeat, fork: may go inert */

/* patch.c; "locked": under the library's lock, agent_lock(). */
int agent_trylock(void) HIDDEN;
void agent_lock(void) HIDDEN;
void agent_unlock(void) HIDDEN;
void agent_scan_locked(int patch) HIDDEN;	/* walk modules (patch new ones) */
long agent_restore_locked(int child) HIDDEN;	/* every slot back; how many */
int agent_modules_changed(void) HIDDEN;		/* since the last walk */
void agent_rescan(void) HIDDEN;		/* after a dlclose */
void agent_modules_enter(void) HIDDEN;	/* around an unwind (see unwind.c) */
void agent_modules_leave(void) HIDDEN;
int agent_modules_busy_begin(void) HIDDEN;	/* around a dlclose */
void agent_modules_busy_end(void) HIDDEN;

/* unwind.c */
struct agent_module {
	uintptr_t lo, hi;		/* its mapped range */
	const uint8_t *eh_frame_hdr;	/* NULL: none */
};
/* Replaces the unwinder's module list (the caller holds the writer side). */
void agent_unwind_set_modules(const struct agent_module *m, unsigned n) HIDDEN;
/* Return addresses from (pc, sp, rbp) of the allocation's caller, pc
 * first; returns how many, sets *flags (AGENT_SAMPLE_*). */
unsigned agent_unwind(uintptr_t pc, uintptr_t sp, uintptr_t rbp, uint64_t *pcs,
		      unsigned max, uint16_t *flags) HIDDEN;

/* Mathematics without libm: the natural logarithm of x > 0. */
double agent_log(double x) HIDDEN;

#endif
