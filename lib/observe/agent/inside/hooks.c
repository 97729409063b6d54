/* The redirected allocation functions: the fast path.
 *
 * An unsampled allocation costs a thread-local subtraction, a compare and a
 * tail call to the real function; a free costs one load from the filter
 * (may this pointer be a live sample?) and a tail call.  Everything else
 * is in sample.c, reached by a tail call too, so that its return address
 * is the caller's: the unwind starts there.
 *
 * This file is compiled without frame pointers (the fast paths must not
 * push anything); sample.c is compiled with them.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

#include "inside.h"

static void *hook_malloc(size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(n < left)) {
		agent_left = left - n;
		return agent_real.malloc(n);
	}
	return agent_malloc_slow(n);
}

static void hook_free(void *p)
{
	if (LIKELY(!agent_maybe_live(p)))
		return agent_real.free(p);
	agent_free_slow(p);
}

static void *hook_calloc(size_t n, size_t m)
{
	uint64_t left = agent_left;
	size_t total;

	if (LIKELY(!__builtin_mul_overflow(n, m, &total) && total < left)) {
		agent_left = left - total;
		return agent_real.calloc(n, m);
	}
	return agent_calloc_slow(n, m);
}

static void *hook_realloc(void *p, size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(!agent_maybe_live(p) && n < left)) {
		agent_left = left - n;
		return agent_real.realloc(p, n);
	}
	return agent_realloc_slow(p, n);
}

static void *hook_reallocarray(void *p, size_t n, size_t m)
{
	uint64_t left = agent_left;
	size_t total;

	if (LIKELY(!agent_maybe_live(p) && !__builtin_mul_overflow(n, m, &total) &&
		   total < left)) {
		agent_left = left - total;
		return agent_real.reallocarray(p, n, m);
	}
	return agent_reallocarray_slow(p, n, m);
}

static int hook_posix_memalign(void **pp, size_t a, size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(n < left)) {
		agent_left = left - n;
		return agent_real.posix_memalign(pp, a, n);
	}
	return agent_posix_memalign_slow(pp, a, n);
}

static void *hook_aligned_alloc(size_t a, size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(n < left)) {
		agent_left = left - n;
		return agent_real.aligned_alloc(a, n);
	}
	return agent_aligned_alloc_slow(a, n);
}

static void *hook_memalign(size_t a, size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(n < left)) {
		agent_left = left - n;
		return agent_real.memalign(a, n);
	}
	return agent_memalign_slow(a, n);
}

static void *hook_valloc(size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(n < left)) {
		agent_left = left - n;
		return agent_real.valloc(n);
	}
	return agent_valloc_slow(n);
}

static void *hook_pvalloc(size_t n)
{
	uint64_t left = agent_left;

	if (LIKELY(n < left)) {
		agent_left = left - n;
		return agent_real.pvalloc(n);
	}
	return agent_pvalloc_slow(n);
}

/* dlclose: the unwinder reads the .eh_frame of loaded modules, so a module
 * may not go away under an unwind; and slots of a module that went away
 * must leave the list before anything else is mapped there.  (dlopen is not
 * redirected: glibc picks the search path by its caller's address, and a
 * wrapper would become that caller.  New modules are found by the periodic
 * check in patch.c instead.) */
static int hook_dlclose(void *h)
{
	int ret;

	agent_modules_busy_begin();
	ret = agent_real.dlclose(h);
	agent_modules_busy_end();
	agent_rescan();
	return ret;
}

#define HOOK(name) { #name, (void *)hook_##name, (void **)&agent_real.name }

const struct agent_hook agent_hooks[] = {
	HOOK(malloc),
	HOOK(free),
	HOOK(calloc),
	HOOK(realloc),
	HOOK(reallocarray),
	HOOK(posix_memalign),
	HOOK(aligned_alloc),
	HOOK(memalign),
	HOOK(valloc),
	HOOK(pvalloc),
	HOOK(dlclose),
};

const unsigned agent_nhooks = sizeof(agent_hooks) / sizeof(agent_hooks[0]);
