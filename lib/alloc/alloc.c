#include "alloc/alloc.h"

#include "util.h"

const char *alloc_kind_name(enum alloc_kind kind)
{
	static const char *const names[] = {
		[ALLOC_UNKNOWN] = "unknown",
		[ALLOC_GLIBC] = "glibc",
		[ALLOC_JEMALLOC] = "jemalloc",
		[ALLOC_TCMALLOC] = "tcmalloc",
		[ALLOC_MIMALLOC] = "mimalloc",
		[ALLOC_MUSL] = "musl",
		[ALLOC_SCUDO] = "scudo",
		[ALLOC_HARDENED_MALLOC] = "hardened_malloc",
	};

	if ((unsigned)kind >= ARRAY_SIZE(names) || !names[kind])
		return "unknown";
	return names[kind];
}

void alloc_params_clear(struct alloc_params *p)
{
	*p = (struct alloc_params){
		.trim_threshold = PARAM_UNSET, .top_pad = PARAM_UNSET,
		.mmap_threshold = PARAM_UNSET, .arena_max = PARAM_UNSET,
		.arena_test = PARAM_UNSET, .tcache_count = PARAM_UNSET,
		.dirty_decay_ms = PARAM_UNSET, .muzzy_decay_ms = PARAM_UNSET,
		.narenas = PARAM_UNSET, .background_thread = PARAM_UNSET,
		.tcache = PARAM_UNSET, .retain = PARAM_UNSET,
		.max_total_thread_cache_bytes = PARAM_UNSET,
	};
}
