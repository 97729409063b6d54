/* A thread's stack as heapdoc saw it, and what its functions say: inside
 * the allocator, in the allocator's mmap/munmap/madvise/brk, waiting on a
 * lock under the allocator.  lib/observe/stacks.c takes stacks; the
 * classification is shared: the sampler of triage's slow path tallies it,
 * and the allocator's code is what an injected call must not interrupt.
 *
 * Names are what the target's symbol tables say (.symtab, else .dynsym):
 * C++ names stay mangled, and code with no symbol (a stripped library's
 * internals) has an empty name.
 */
#ifndef HEAPDOC_MODEL_STACK_H
#define HEAPDOC_MODEL_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

#endif
