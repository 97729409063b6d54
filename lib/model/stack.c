/* Sorting a stack by the functions on it (stack.h). */
#include "model/stack.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

const char *const stack_allocator_functions[] = {
	/* the C interface, any allocator */
	"malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
	"aligned_alloc", "posix_memalign", "valloc", "pvalloc", "cfree",
	"malloc_*", "__malloc_*", "__libc_malloc", "__libc_free", "__libc_calloc",
	"__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
	"__posix_memalign", "_mid_memalign", "operator new*", "operator delete*",
	"_Znwm*", "_Znam*", "_ZdlPv*", "_ZdaPv*",
	/* glibc internals (present with .symtab or libc6-dbg) */
	"_int_*", "sysmalloc*", "systrim", "munmap_chunk", "mremap_chunk", "heap_trim", "mtrim", "new_heap",
	"grow_heap", "shrink_heap", "arena_get*", "_int_new_arena", "reused_arena",
	"get_free_list", "ptmalloc_init", "unlink_chunk", "tcache_*",
	/* jemalloc: public (mallocx ...), prefixed and internal names */
	"je_*", "_rjem_*", "mallocx", "rallocx", "xallocx", "sallocx", "dallocx",
	"sdallocx", "nallocx", "mallctl*", "imalloc*", "ifree*", "isfree*",
	"irealloc*", "arena_*", "extent_*", "background_thread_*",
	"malloc_mutex_*",
	/* (jemalloc's private names carry its je_ namespace; shorter internal
	 * prefixes such as pa_ or sec_ would also catch other libraries.) */
	/* tcmalloc (gperftools and google); C++ names stay mangled */
	"tc_*", "_ZN8tcmalloc*", "TCMallocInternal*", "_ZN8SpinLock*",
	"tcmalloc::*",
	/* mimalloc */
	"mi_*", "_mi_*",
	NULL,
};

const char *const stack_vm_functions[] = {
	"mmap", "mmap64", "__mmap", "__mmap64", "munmap", "__munmap",
	"mremap", "__mremap", "madvise", "__madvise", "mprotect", "__mprotect",
	"brk", "__brk", "sbrk", "__sbrk", "__GI___mmap64", "__GI___munmap",
	"__GI_madvise", "__GI___mprotect", "__GI___brk", "__GI___sbrk",
	NULL,
};

const char *const stack_lock_wait_functions[] = {
	"__lll_lock_wait*", "__lll_lock_wake*", "futex_wait*",
	"__futex_abstimed_wait*", "pthread_mutex_lock", "__pthread_mutex_lock*",
	"___pthread_mutex_lock", "pthread_spin_lock", "sched_yield",
	"__sched_yield", "syscall",	/* tcmalloc's SpinLockDelay: futex */
	"malloc_mutex_lock_slow", "je_malloc_mutex_lock_slow",
	"_ZN8SpinLock8SlowLock*", "_ZN4base8internal12SpinLockDelay*",
	"_ZN4absl*SpinLock*SlowLock*",
	NULL,
};

bool stack_name_matches(const char *name, const char *const *patterns)
{
	if (!name || !*name)
		return false;
	for (; *patterns; patterns++) {
		size_t n = strlen(*patterns);

		if (n && (*patterns)[n - 1] == '*') {
			if (!strncmp(name, *patterns, n - 1))
				return true;
		} else if (!strcmp(name, *patterns)) {
			return true;
		}
	}
	return false;
}

int stack_find_frame(const struct stack *s, const char *const *patterns)
{
	for (size_t i = 0; i < s->nframes && i < STACK_MAX_FRAMES; i++)
		if (stack_name_matches(s->frames[i].name, patterns))
			return (int)i;
	return -1;
}

bool stack_has_frame_matching(const struct stack *s, const char *const *patterns)
{
	return stack_find_frame(s, patterns) >= 0;
}

enum stack_class stack_classify(const struct stack *s)
{
	size_t n = MIN(s->nframes, (size_t)STACK_MAX_FRAMES);
	int outer = -1;

	/* The outermost allocator frame: everything inside it is the
	 * allocator's work, whatever it called. */
	for (size_t i = 0; i < n; i++)
		if (stack_name_matches(s->frames[i].name, stack_allocator_functions))
			outer = (int)i;
	if (outer < 0)
		return STACK_OTHER;
	for (int i = 0; i < outer; i++) {
		if (stack_name_matches(s->frames[i].name, stack_vm_functions))
			return STACK_ALLOCATOR_VM;
		if (stack_name_matches(s->frames[i].name, stack_lock_wait_functions))
			return STACK_ALLOCATOR_LOCK;
	}
	return STACK_ALLOCATOR;
}

const char *stack_class_name(enum stack_class c)
{
	switch (c) {
	case STACK_ALLOCATOR:
		return "allocator";
	case STACK_ALLOCATOR_VM:
		return "allocator-vm";
	case STACK_ALLOCATOR_LOCK:
		return "allocator-lock";
	case STACK_OTHER:
		break;
	}
	return "other";
}

void stack_tally_add(struct stack_tally *t, const struct stack *s)
{
	enum stack_class c = stack_classify(s);
	const char *name;
	size_t i;
	int at;

	t->samples++;
	if (c == STACK_OTHER)
		return;
	t->allocator++;
	t->allocator_vm += c == STACK_ALLOCATOR_VM;
	t->allocator_lock += c == STACK_ALLOCATOR_LOCK;
	at = stack_find_frame(s, stack_allocator_functions);
	name = s->frames[at].name;
	for (i = 0; i < t->ntop; i++) {
		if (!strcmp(t->top[i].name, name)) {
			t->top[i].n++;
			return;
		}
	}
	if (t->ntop < STACK_TALLY_NAMES) {
		snprintf(t->top[t->ntop].name, STACK_NAME_MAX, "%s", name);
		t->top[t->ntop++].n = 1;
	}
}

const char *stack_tally_top(const struct stack_tally *t)
{
	size_t best = 0;

	if (!t->ntop)
		return "";
	for (size_t i = 1; i < t->ntop; i++)
		if (t->top[i].n > t->top[best].n)
			best = i;
	return t->top[best].name;
}
