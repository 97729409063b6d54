/* Thread stacks of a held target (libunwind-ptrace), and what they say.
 *
 * Observe: stacks_sample() walks one held thread's stack with
 * libunwind-ptrace (DWARF CFI from the target's own .eh_frame), at most
 * STACK_MAX_FRAMES deep, and names each frame with libdwfl (symbol sizes
 * checked; separate debug info found by build-id, so glibc's internals are
 * named when libc6-dbg is installed).  A sampler (stacks_open) loads the
 * symbol tables once and keeps names by instruction pointer: open it before
 * target_stop(), since loading a libc debug file takes tens of ms.
 * stacks_thread_syscall() says which system call a held thread sits in.
 *
 * Judge (pure): stack_has_frame_matching() and stack_classify() sort a
 * stack by the functions on it: inside the allocator, in the allocator's
 * mmap/munmap/madvise/brk, waiting on a lock under the allocator.  The
 * injector uses them to refuse a thread that is inside the allocator;
 * triage's slow-path sampling counts them.
 *
 * Names are what the target's symbol tables say (.symtab, else .dynsym):
 * C++ names stay mangled, and code with no symbol (a stripped library's
 * internals) has an empty name — match such code by address instead.
 */
#ifndef HEAPDOC_STACKS_H
#define HEAPDOC_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "base/error.h"
#include "observe/target.h"

#define STACK_MAX_FRAMES	64
#define STACK_NAME_MAX		128

struct stack_frame {
	uint64_t ip;
	uint64_t offset;		/* ip - start of the function, if named */
	char name[STACK_NAME_MAX];	/* "" when no symbol covers ip */
};

struct stack {
	pid_t tid;
	size_t nframes;			/* frames[0] is the innermost */
	bool truncated;			/* deeper than STACK_MAX_FRAMES */
	struct stack_frame frames[STACK_MAX_FRAMES];
};

/* A sampler for one attached target: libunwind's address space, the
 * target's modules and the name cache.  Use it from the thread that
 * attached (ptrace's rule).  Modules mapped after stacks_open have no
 * names (open a new sampler to see them). */
struct stacks;

int stacks_open(struct stacks **s, struct target *t, struct error *err);
void stacks_close(struct stacks *s);

/* Unwinds held thread tid into out.  -EBUSY if the thread is not held,
 * -ESRCH if it is gone.  An unwind that stops early (no unwind info, a
 * corrupt stack) is not an error: out has the frames found so far. */
int stacks_sample(struct stacks *s, pid_t tid, struct stack *out,
		  struct error *err);

/* One-shot: stacks_open + stacks_sample + stacks_close. */
int stacks_unwind(struct target *t, pid_t tid, struct stack *out,
		  struct error *err);

/* Where a held thread is with respect to system calls. */
struct thread_syscall {
	long nr;		/* orig_rax: the call's number, -1 if none */
	long ret;		/* rax: -ERESTART... while it is interrupted */
	bool parked;		/* blocked in nr: the kernel restarts it (or,
				 * for calls that never restart, such as
				 * epoll_wait, returns EINTR) when released */
};

/* Pure: reads a thread's registers as taken at a ptrace stop. */
void stacks_syscall_from_regs(const struct user_regs_struct *regs,
			      struct thread_syscall *out);

int stacks_thread_syscall(struct target *t, pid_t tid, struct thread_syscall *out,
			  struct error *err);

/* ---- judging a stack (pure) ---- */

/* Patterns are exact function names, or prefixes when they end in '*'.
 * Lists end with NULL. */
extern const char *const stack_allocator_functions[];	/* malloc, free, _int_*, je_*, tc_* ... */
extern const char *const stack_vm_functions[];		/* mmap, munmap, madvise, brk ... */
extern const char *const stack_lock_wait_functions[];	/* futex and lock slow paths */

bool stack_name_matches(const char *name, const char *const *patterns);

/* Index of the innermost frame that matches, or -1. */
int stack_find_frame(const struct stack *s, const char *const *patterns);

bool stack_has_frame_matching(const struct stack *s, const char *const *patterns);

enum stack_class {
	STACK_OTHER = 0,	/* no allocator frame */
	STACK_ALLOCATOR,	/* inside the allocator, on the CPU */
	STACK_ALLOCATOR_VM,	/* the allocator asking the kernel for memory,
				 * or giving it back (mmap, munmap, madvise, brk) */
	STACK_ALLOCATOR_LOCK,	/* the allocator waiting for a lock */
};

enum stack_class stack_classify(const struct stack *s);
const char *stack_class_name(enum stack_class c);

/* Stacks counted by class, over many samples (triage's slow-path view). */
#define STACK_TALLY_NAMES 32

struct stack_tally {
	unsigned samples;		/* stacks counted */
	unsigned allocator;		/* any allocator frame (all three classes) */
	unsigned allocator_vm;		/* ... in mmap, munmap, madvise, brk under it */
	unsigned allocator_lock;	/* ... waiting for a lock under it */
	struct {
		char name[STACK_NAME_MAX];	/* innermost allocator frame */
		unsigned n;
	} top[STACK_TALLY_NAMES];	/* the first names seen, with counts */
	size_t ntop;
};

void stack_tally_add(struct stack_tally *t, const struct stack *s);

/* The most common innermost allocator frame, or "" when none was seen. */
const char *stack_tally_top(const struct stack_tally *t);

/* Unwinds every held thread of the sampler's target into the tally.
 * Threads that vanish meanwhile are skipped. */
int stacks_sample_all(struct stacks *s, struct stack_tally *tally,
		      struct error *err);

#endif
