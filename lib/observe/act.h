/* Acting on the allocator of a live process: memory given back now
 * (heapdoc release) and a setting changed until the process exits
 * (heapdoc set).
 *
 * These are the only lasting effects heapdoc may leave (DESIGN.md, "Safety
 * protocol"), and both go through the allocator's own functions, called on
 * one borrowed thread of the target under lib/observe/inject.h's protocol
 * (a thread parked in a system call with no allocator frame; the others
 * running; registers and the whole XSAVE state put back):
 *
 *	glibc	 malloc_trim(0); mallopt(M_TRIM_THRESHOLD | M_TOP_PAD |
 *		 M_MMAP_THRESHOLD); settings read back from mp_.  The guard is
 *		 the code of malloc.c (libc's debug info), and every arena
 *		 mutex on the ring from main_arena must be free.
 *	jemalloc mallctl arena.<i>.purge (4096: all); arena.<i>.dirty_decay_ms
 *		 and muzzy_decay_ms on every arena that exists, arenas.* for
 *		 those made later; background_thread; all read back by mallctl.
 *	tcmalloc MallocExtension_ReleaseFreeMemory; the release rate
 *		 (SetMemoryReleaseRate's variable) and
 *		 tcmalloc.max_total_thread_cache_bytes, read back.
 *	mimalloc mi_collect(true).
 *
 * A release first predicts what it returns (glibc: the resident whole free
 * pages a snapshot of the heap finds; jemalloc: dirty + muzzy pages;
 * tcmalloc: free page-heap bytes; mimalloc: unknown) and does nothing when
 * that is zero.  RSS is read from /proc just before and just after the
 * call.  Nothing is changed when no safe moment comes within the timeout.
 */
#ifndef HEAPDOC_ACT_H
#define HEAPDOC_ACT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/act.h"
#include "observe/alloc/alloc.h"
#include "observe/target.h"

struct act_opts {
	unsigned timeout_ms;	/* to find a safe moment; 0: ACT_TIMEOUT_MS */
	int arena;		/* release: one arena (jemalloc), -1: all */
	bool dry_run;		/* release: predict only */
};

#define ACT_TIMEOUT_MS 3000

struct actor;

/* Loads what acting on pid's allocator needs (symbols, debug info, the
 * guard), with the target running.  -EOPNOTSUPP for an allocator heapdoc
 * cannot act on (the message says which), -ENODATA without glibc's debug
 * info (it names the package). */
int act_open(struct actor **a, pid_t pid, const struct alloc_id *id,
	     const struct act_opts *opts, struct error *err);
void act_close(struct actor *a);

/* Whether the allocator of a has this setting live. */
bool act_has(const struct actor *a, enum act_setting s);

/* Predicts, then (unless dry_run or the prediction is zero: r->refusal says
 * so) gives free memory back.  t is attached.  -EAGAIN: no safe moment
 * came (the message says why; nothing was changed). */
int act_release(struct actor *a, struct target *t, struct act_release *r,
		struct error *err);

/* Reads every setting's old value, writes want, reads it back into now, in
 * one borrowed-thread session (glibc: settings are read from mp_).  On
 * -EAGAIN nothing was changed.  An error part-way leaves the changes made
 * so far in force; their now says which. */
int act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
	    struct act_cost *cost, struct error *err);

/* RSS of pid now (VmRSS), bytes; UNSET if unreadable. */
uint64_t act_rss(pid_t pid);

#endif
