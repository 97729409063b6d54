#include "model/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

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

enum alloc_kind alloc_kind_from_name(const char *name)
{
	for (enum alloc_kind k = ALLOC_UNKNOWN; k <= ALLOC_HARDENED_MALLOC; k++)
		if (!strcmp(alloc_kind_name(k), name))
			return k;
	return ALLOC_UNKNOWN;
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
		.max_total_thread_cache_bytes = PARAM_UNSET, .purge_delay_ms = PARAM_UNSET,
		.aggressive_decommit = PARAM_UNSET,
	};
}

void alloc_summary_invalid(struct alloc_summary *sum, const char *source, const char *why)
{
	memset(sum, 0, sizeof(*sum));
	snprintf(sum->source, sizeof(sum->source), "%s", source);
	snprintf(sum->why_invalid, sizeof(sum->why_invalid), "%.*s",
		 (int)sizeof(sum->why_invalid) - 1, why);
	sum->allocated = sum->active = sum->resident = sum->mapped = UNSET;
	sum->free_total = sum->free_interleaved = sum->free_releasable = UNSET;
	sum->trimmable = sum->free_small_chunks = sum->free_small_bytes = UNSET;
	sum->free_large_chunks = sum->free_large_bytes = UNSET;
	sum->largest_free = sum->pinned_bytes = sum->top_size = UNSET;
	sum->top_held_bytes = sum->top_held_by = UNSET;
	sum->top_held_by_size = sum->top_held_by_free = UNSET;
	sum->slab_utilisation = NAN;
	sum->free_unresident = sum->arena_peak_sum = sum->arena_peak_once = UNSET;
	sum->pool_block_size = sum->pool_blocks = sum->pool_bytes = UNSET;
}
