/* `heapdoc stats --json`.  Keys are a contract: add, never rename. */
#include "report/stats.h"

#include "base/json.h"
#include "report/allocator.h"
#include "report/stats_alloc.h"
#include "base/util.h"

static void mallinfo2_json(struct json *j, const struct glibc_mallinfo2 *mi)
{
	json_object_begin(j, "mallinfo2");
	json_uint(j, "arena", mi->arena);
	json_uint(j, "ordblks", mi->ordblks);
	json_uint(j, "smblks", mi->smblks);
	json_uint(j, "hblks", mi->hblks);
	json_uint(j, "hblkhd", mi->hblkhd);
	json_uint(j, "usmblks", mi->usmblks);
	json_uint(j, "fsmblks", mi->fsmblks);
	json_uint(j, "uordblks", mi->uordblks);
	json_uint(j, "fordblks", mi->fordblks);
	json_uint(j, "keepcost", mi->keepcost);
	json_object_end(j);
}

static void arenas_json(struct json *j, const struct glibc_state *st)
{
	json_array_begin(j, "arenas");
	for (size_t i = 0; i < st->narenas; i++) {
		const struct glibc_arena *a = &st->arenas[i];

		json_object_begin(j, NULL);
		json_uint(j, "address", a->addr);
		json_bool(j, "main", a->main);
		json_uint(j, "system_mem", a->system_mem);
		json_uint(j, "max_system_mem", a->max_system_mem);
		json_uint(j, "in_use", a->in_use);
		json_uint(j, "free", a->free);
		json_uint(j, "top_size", a->top_size);
		json_uint(j, "fastbin_chunks", a->fastbin_chunks);
		json_uint(j, "fastbin_bytes", a->fastbin_bytes);
		json_uint(j, "bin_chunks", a->bin_chunks);
		json_uint(j, "bin_bytes", a->bin_bytes);
		json_uint(j, "largest_free", a->largest_free);
		json_uint(j, "heaps", a->heaps);
		json_uint(j, "attached_threads", a->attached_threads);
		json_uint(j, "trimmable", a->trimmable);
		json_uint(j, "releasable", a->releasable);
		json_bool(j, "mutex_held", a->mutex_held);
		/* The chunk right below the top when it is not free. */
		if (a->below_top) {
			json_object_begin(j, "top_held_by");
			json_uint(j, "address", a->below_top);
			json_uint(j, "size", a->below_top_size);
			json_uint(j, "free_below", a->below_top_free);
			json_bool(j, "cached", a->below_top_cached);
			json_object_end(j);
		} else {
			json_null(j, "top_held_by");
		}
		json_object_end(j);
	}
	json_array_end(j);
}

static void params_json(struct json *j, const struct glibc_mp *mp)
{
	json_object_begin(j, "params");
	json_uint(j, "trim_threshold", mp->trim_threshold);
	json_uint(j, "top_pad", mp->top_pad);
	json_uint(j, "mmap_threshold", mp->mmap_threshold);
	json_uint(j, "arena_max", mp->arena_max);
	json_uint(j, "arena_test", mp->arena_test);
	json_uint(j, "tcache_count", mp->tcache_count);
	json_uint(j, "tcache_max_bytes", mp->tcache_max_bytes);
	json_uint(j, "n_mmaps", mp->n_mmaps);
	json_uint(j, "n_mmaps_max", mp->n_mmaps_max);
	json_uint(j, "mmapped_mem", mp->mmapped_mem);
	json_uint(j, "max_mmapped_mem", mp->max_mmapped_mem);
	json_bool(j, "no_dyn_threshold", mp->no_dyn_threshold);
	json_object_end(j);
}

static void tcache_json(struct json *j, const struct glibc_state *st)
{
	if (!st->tcache_known) {
		json_null(j, "tcache");
		return;
	}
	json_array_begin(j, "tcache");
	for (size_t i = 0; i < st->ntcaches; i++) {
		const struct glibc_tcache *tc = &st->tcaches[i];

		json_object_begin(j, NULL);
		json_int(j, "tid", tc->tid);
		json_uint(j, "address", tc->addr);
		json_uint(j, "arena", tc->arena);
		json_uint(j, "chunks", tc->chunks);
		json_uint(j, "bytes", tc->bytes);
		json_object_end(j);
	}
	json_array_end(j);
}

static void census_json(struct json *j, const struct glibc_state *st)
{
	json_array_begin(j, "census");
	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		const struct glibc_size_class *k = &st->census[c];

		if (!k->used_chunks && !k->cached_chunks && !k->free_chunks)
			continue;
		json_object_begin(j, NULL);
		json_uint(j, "min", k->min);
		json_uint(j, "max", k->max);
		json_uint(j, "used_chunks", k->used_chunks);
		json_uint(j, "used_bytes", k->used_bytes);
		json_uint(j, "cached_chunks", k->cached_chunks);
		json_uint(j, "cached_bytes", k->cached_bytes);
		json_uint(j, "free_chunks", k->free_chunks);
		json_uint(j, "free_bytes", k->free_bytes);
		json_object_end(j);
	}
	json_array_end(j);
}

static void findings_json(struct json *j, const struct glibc_state *st)
{
	json_array_begin(j, "findings");
	for (unsigned i = 0; i < st->nfindings && i < GLIBC_MAX_FINDINGS; i++) {
		json_object_begin(j, NULL);
		json_string(j, "what", st->findings[i].what);
		json_uint(j, "address", st->findings[i].addr);
		json_object_end(j);
	}
	json_array_end(j);
}

static void glibc_json(struct json *j, const struct glibc_state *st)
{
	json_object_begin(j, "glibc");
	json_bool(j, "initialized", st->initialized);
	json_uint(j, "narenas", st->narenas);
	mallinfo2_json(j, &st->mi);
	arenas_json(j, st);
	params_json(j, &st->mp);
	tcache_json(j, st);
	census_json(j, st);
	json_uint(j, "trimmable", st->trimmable);
	json_uint(j, "trimmable_resident", st->trimmable_resident);
	json_uint(j, "releasable", st->releasable);
	json_uint(j, "free_interleaved", st->free_interleaved);
	json_uint(j, "pinned", st->pinned);
	json_uint(j, "pinned_resident", st->pinned_resident);
	json_uint(j, "largest_free", st->largest_free);
	json_uint(j, "top_total", st->top_total);
	json_uint(j, "findings_total", st->nfindings);
	findings_json(j, st);
	json_object_end(j);
}

void stats_print_json(FILE *out, const struct observation *obs, const struct alloc_detail *d)
{
	struct stats_view view, *r = &view;
	const struct glibc_state *st = d->glibc;
	struct json j;

	stats_view_of(r, obs, d);
	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", 1);	/* DESIGN.md: keys are added, never renamed */
	json_int(&j, "pid", r->pid);
	json_string(&j, "comm", r->comm);
	allocator_json(&j, "allocator", &obs->alloc, &obs->summary);
	json_bool(&j, "valid", st || r->jemalloc || r->tcmalloc || r->mimalloc);
	if (!st && !r->jemalloc && !r->tcmalloc && !r->mimalloc)
		json_string(&j, "why_invalid", r->why_invalid);
	json_uint(&j, "rss", r->rss);
	json_uint(&j, "allocated", r->allocated);
	json_uint(&j, "resident", r->resident);
	json_uint(&j, "trimmable", st ? st->trimmable : UNSET);
	json_uint(&j, "trimmable_resident", st ? st->trimmable_resident : UNSET);
	json_bool(&j, "corrupt", st && st->corrupt);
	json_object_begin(&j, "target");
	json_string(&j, "method", st ? st->method : (r->jemalloc || r->tcmalloc) ? "call" :
		    r->mimalloc ? "held" : NULL);
	json_uint(&j, "pause_us", r->pause_us);
	json_uint(&j, "pause_total_us", r->pause_total_us);
	json_uint(&j, "stops", r->stops);
	json_uint(&j, "rewalked", st ? st->rewalked : 0);
	json_uint(&j, "estimated", st ? st->estimated : 0);
	/* jemalloc and tcmalloc answer from inside, under their own locks. */
	json_bool(&j, "consistent", st ? st->consistent :
		  r->jemalloc || r->tcmalloc || r->mimalloc);
	json_uint(&j, "tries", st ? st->tries : 0);
	json_uint(&j, "copied_bytes", st ? st->copied_bytes : 0);
	json_uint(&j, "reads", st ? st->reads : 0);
	json_uint(&j, "read_us", st ? st->walk_us : 0);
	json_object_end(&j);
	if (st)
		glibc_json(&j, st);
	else
		json_null(&j, "glibc");
	if (r->jemalloc)
		stats_jemalloc_json(&j, r->jemalloc);
	if (r->tcmalloc)
		stats_tcmalloc_json(&j, r->tcmalloc);
	if (r->mimalloc)
		stats_mimalloc_json(&j, r->mimalloc);
	json_object_end(&j);
	json_finish(&j);
}
