/* `heapdoc stats` for a person in an incident: the biggest facts first,
 * then the arenas, where the free memory sits, and the settings. */
#include "report/stats.h"

#include <inttypes.h>
#include <string.h>

#include "base/human.h"
#include "report/stats_alloc.h"
#include "base/util.h"

#define HB(v) human_bytes((char[32]){ 0 }, 32, (v))

static void headline(FILE *out, const struct stats_view *r)
{
	const struct glibc_state *st = r->glibc;
	char us[32], stops[96];

	fprintf(out, "pid %d (%s): %s malloc %s, layout from %s\n", (int)r->pid,
		r->comm ? r->comm : "?", r->allocator,
		r->version && r->version[0] ? r->version : "(version unknown)",
		!strcmp(r->source, "dwarf") ? "DWARF debug info" :
		!strcmp(r->source, "symtab") ? "the symbol table and heapdoc's table" :
		r->source);
	fprintf(out, "\n  %-11s %10s   held by the application (in-use chunks, tcache'd "
		"and mmapped ones included)\n", "allocated", HB(r->allocated));
	fprintf(out, "  %-11s %10s   the allocator's mappings in RAM (process RSS %s)\n",
		"resident", HB(r->resident), HB(r->rss));
	fprintf(out, "  %-11s %10s   free inside the heaps: %s between live chunks, "
		"%s in top chunks\n", "free", HB(st->mi.fordblks), HB(st->free_interleaved),
		HB(st->top_total));
	if (IS_SET(st->trimmable_resident))
		fprintf(out, "  %-11s %10s   malloc_trim(0) would cut RSS by this much "
			"(it releases %s, resident or not)\n", "trimmable",
			HB(st->trimmable_resident), HB(st->trimmable));
	else
		fprintf(out, "  %-11s %10s   malloc_trim(0) would release this much "
			"(resident or not)\n", "trimmable", HB(st->trimmable));
	fprintf(out, "  %-11s %10s   the longest stop: %s; %s%s\n", "paused",
		human_us(us, sizeof(us), r->pause_us),
		human_stops(stops, sizeof(stops), r->stops, r->pause_total_us, r->pause_us),
		st->method && !strcmp(st->method, "validated") ?
		"the heaps were walked while it ran" : "held while its heaps were copied",
		st->consistent ? "" : "; an arena lock stayed held: figures may be mid-update");
	if (st->estimated)
		fprintf(out, "  %-11s %10s   %u arena%s kept moving through every stop: figures "
			"from a walk made while it ran\n", "", "", st->estimated,
			st->estimated == 1 ? "" : "s");
	if (st->rewalked)
		fprintf(out, "  %-11s %10s   %u arena%s moved while walked: read again at the "
			"second stop\n", "", "", st->rewalked, st->rewalked == 1 ? "" : "s");
	if (st->corrupt)
		fprintf(out, "\n  HEAP CORRUPT: %u finding%s (below); the figures cover what "
			"could be walked\n", st->nfindings, st->nfindings == 1 ? "" : "s");
	if (!st->initialized)
		fprintf(out, "\n  malloc has not been used yet in this process\n");
}

static void arenas_table(FILE *out, const struct glibc_state *st)
{
	fprintf(out, "\narenas (%zu)\n", st->narenas);
	fprintf(out, "  %-16s %10s %10s %10s %10s %8s %8s %6s %7s\n", "address", "system",
		"in use", "free", "top", "fastbin", "bins", "heaps", "threads");
	for (size_t i = 0; i < st->narenas; i++) {
		const struct glibc_arena *a = &st->arenas[i];

		fprintf(out, "  %#-16" PRIx64 " %10s %10s %10s %10s %8" PRIu64 " %8" PRIu64
			" %6u %7" PRIu64 "%s\n", a->addr, HB(a->system_mem), HB(a->in_use),
			HB(a->free), HB(a->top_size), a->fastbin_chunks, a->bin_chunks,
			a->heaps, a->attached_threads, a->main ? "  (main)" : "");
	}
	/* Free space a chunk keeps away from the top: worth a line of its own. */
	for (size_t i = 0; i < st->narenas; i++) {
		const struct glibc_arena *a = &st->arenas[i];

		if (a->below_top && a->below_top_free)
			fprintf(out, "  top of %#" PRIx64 " held up by a %s %s chunk at %#" PRIx64
				": %s free below it\n", a->addr,
				a->below_top_cached ? "thread-cached" : "live",
				HB(a->below_top_size), a->below_top, HB(a->below_top_free));
	}
}

static void census_table(FILE *out, const struct glibc_state *st)
{
	fprintf(out, "\nchunks by size   %21s %21s %21s\n", "in use", "in thread caches",
		"free (bins)");
	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		const struct glibc_size_class *k = &st->census[c];
		char range[40];

		if (!k->used_chunks && !k->cached_chunks && !k->free_chunks)
			continue;
		if (IS_SET(k->max))
			snprintf(range, sizeof(range), "%s-%s", HB(k->min), HB(k->max + 1));
		else
			snprintf(range, sizeof(range), ">= %s", HB(k->min));
		fprintf(out, "  %-15s %9" PRIu64 " %11s %9" PRIu64 " %11s %9" PRIu64 " %11s\n",
			range, k->used_chunks, HB(k->used_bytes), k->cached_chunks,
			HB(k->cached_bytes), k->free_chunks, HB(k->free_bytes));
	}
	fprintf(out, "  free chunks: %" PRIu64 " under 1 KiB (%s), %" PRIu64
		" of 1 KiB or more (%s); largest %s\n", st->free_small_chunks,
		HB(st->free_small_bytes), st->free_large_chunks, HB(st->free_large_bytes),
		HB(st->largest_free));
	fprintf(out, "  whole free pages between live chunks: %s", HB(st->pinned));
	if (IS_SET(st->pinned_resident))
		fprintf(out, " (%s in RAM, %s given back or never touched)",
			HB(st->pinned_resident), HB(st->pinned - st->pinned_resident));
	fprintf(out, "; top chunks beyond M_TOP_PAD: %s\n", HB(st->releasable));
}

static void caches_and_params(FILE *out, const struct glibc_state *st)
{
	const struct glibc_mp *mp = &st->mp;
	uint64_t chunks = 0, bytes = 0;
	char mmt[32];

	if (st->tcache_known) {
		for (size_t i = 0; i < st->ntcaches; i++) {
			chunks += st->tcaches[i].chunks;
			bytes += st->tcaches[i].bytes;
		}
		fprintf(out, "\nthread caches: %zu thread(s), %" PRIu64 " chunks, %s\n",
			st->ntcaches, chunks, HB(bytes));
	} else {
		fprintf(out, "\nthread caches: not read (no TLS offset for tcache)\n");
	}
	fprintf(out, "mmapped chunks: %" PRIu64 " holding %s\n", mp->n_mmaps, HB(mp->mmapped_mem));
	fprintf(out, "\nsettings: trim_threshold %s, top_pad %s, mmap_threshold %s%s, "
		"arena_max %s, arena_test %" PRIu64 ", tcache_count %" PRIu64 "\n",
		HB(mp->trim_threshold), HB(mp->top_pad), human_bytes(mmt, sizeof(mmt), mp->mmap_threshold),
		mp->no_dyn_threshold ? " (fixed)" : " (dynamic)",
		mp->arena_max ? HB(mp->arena_max) : "default (8 x cores)", mp->arena_test,
		mp->tcache_count);
	fprintf(out, "mallinfo2: arena %" PRIu64 " ordblks %" PRIu64 " smblks %" PRIu64
		" hblks %" PRIu64 " hblkhd %" PRIu64 " usmblks %" PRIu64 " fsmblks %" PRIu64
		" uordblks %" PRIu64 " fordblks %" PRIu64 " keepcost %" PRIu64 "\n",
		st->mi.arena, st->mi.ordblks, st->mi.smblks, st->mi.hblks, st->mi.hblkhd,
		st->mi.usmblks, st->mi.fsmblks, st->mi.uordblks, st->mi.fordblks, st->mi.keepcost);
}

static void findings_list(FILE *out, const struct glibc_state *st)
{
	if (!st->nfindings)
		return;
	fprintf(out, "\nfindings\n");
	for (unsigned i = 0; i < st->nfindings && i < GLIBC_MAX_FINDINGS; i++)
		fprintf(out, "  %#" PRIx64 ": %s\n", st->findings[i].addr, st->findings[i].what);
	if (st->nfindings > GLIBC_MAX_FINDINGS)
		fprintf(out, "  ... and %u more\n", st->nfindings - GLIBC_MAX_FINDINGS);
}

void stats_print_text(FILE *out, const struct observation *obs, const struct alloc_detail *d)
{
	struct stats_view view, *r = &view;
	const struct glibc_state *st = d->glibc;

	stats_view_of(r, obs, d);
	if (r->jemalloc || r->tcmalloc || r->mimalloc) {
		char us[32], stops[96];

		fprintf(out, "pid %d (%s): %s %s\n\n", (int)r->pid, r->comm ? r->comm : "?",
			r->allocator, r->version ? r->version : "");
		fprintf(out, "  %-11s %10s   held by the application\n", "allocated",
			HB(r->allocated));
		fprintf(out, "  %-11s %10s   the allocator's view of its memory in RAM "
			"(process RSS %s)\n", "resident", HB(r->resident), HB(r->rss));
		fprintf(out, "  %-11s %10s   the longest stop: %s\n\n", "paused",
			human_us(us, sizeof(us), r->pause_us),
			human_stops(stops, sizeof(stops), r->stops, r->pause_total_us,
				    r->pause_us));
		if (r->jemalloc)
			stats_jemalloc_text(out, r->jemalloc);
		else if (r->mimalloc)
			stats_mimalloc_text(out, r->mimalloc);
		else
			stats_tcmalloc_text(out, r->tcmalloc);
		return;
	}
	if (!st) {
		fprintf(out, "pid %d (%s): %s malloc; its internals cannot be read:\n  %s\n\n",
			(int)r->pid, r->comm ? r->comm : "?", r->allocator,
			r->why_invalid ? r->why_invalid : "unknown reason");
		fprintf(out, "  %-11s %10s   the allocator's mappings in RAM (from smaps)\n",
			"resident", HB(r->resident));
		fprintf(out, "  %-11s %10s   the whole process\n", "rss", HB(r->rss));
		return;
	}
	headline(out, r);
	arenas_table(out, st);
	census_table(out, st);
	caches_and_params(out, st);
	findings_list(out, st);
}
