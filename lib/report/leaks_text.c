/* heapdoc leaks, for a person. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "base/human.h"
#include "report/leaks.h"

#define STACK_LINES 4		/* frames shown under each site */

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "?";
}

void leaks_describe_frame(const struct profile *p, uint32_t frame, char *buf, size_t len)
{
	const struct prof_frame *f = &p->frames[frame];
	const char *module = f->mapping >= 0 ? base_name(p->mappings[f->mapping].path) : "?";
	char where[300] = "";

	if (f->file)
		snprintf(where, sizeof(where), " (%s:%d)", base_name(f->file), f->line);
	if (f->function)
		snprintf(buf, len, "%s%s  %s", f->function, where, module);
	else
		snprintf(buf, len, "0x%" PRIx64 "%s  %s", f->addr, where, module);
}

static void print_stack(FILE *out, const struct profile *p, const struct prof_site *s,
			const struct style *st)
{
	size_t first = leak_site_frame(p, s);

	for (size_t i = first; i < s->nframes && i < first + STACK_LINES; i++) {
		char line[600];

		leaks_describe_frame(p, s->frames[i], line, sizeof(line));
		fprintf(out, "      %s%s%s%s\n", i == first ? "" : style_dim(st),
			i == first ? "" : "<- ", line, i == first ? "" : style_reset(st));
	}
}

static void print_growing(FILE *out, const struct profile *p, const struct leak_ranking *r,
			  const struct style *st, size_t top)
{
	char a[32], b[32];

	fprintf(out, "\n%sGrowing%s (live bytes that kept growing over the window: the leak)\n",
		style_bold(st), style_reset(st));
	if (!r->ngrowing)
		fprintf(out, "  no site grew: nothing allocated in the window is being kept\n");
	for (size_t i = 0; i < r->ngrowing && (!top || i < top); i++) {
		const struct leak_site *g = &r->growing[i];

		fprintf(out, "  #%zu %s%s/s%s  %s over %.1f s, %.0f objects/s, %.0f%% of the growth\n",
			i + 1, style_bold(st), human_bytes(a, sizeof(a), (uint64_t)g->bytes_per_s),
			style_reset(st), human_bytes(b, sizeof(b), (uint64_t)g->growth_bytes),
			p->window_s, g->objects_per_s, 100 * g->share);
		print_stack(out, p, &p->sites[g->site], st);
	}
}

static void print_holding(FILE *out, const struct profile *p, const struct leak_ranking *r,
			  const struct style *st, size_t top)
{
	char a[32], b[32];

	fprintf(out, "\n%sHolding%s (live at the end, of what was allocated in the window)\n",
		style_bold(st), style_reset(st));
	if (!r->nholding)
		fprintf(out, "  nothing sampled in the window is still live\n");
	for (size_t i = 0; i < r->nholding && (!top || i < top); i++) {
		const struct prof_site *s = &p->sites[r->holding[i]];

		fprintf(out, "  #%zu %s%s%s live in %.0f objects (%s allocated)\n", i + 1,
			style_bold(st), human_bytes(a, sizeof(a), (uint64_t)s->live.bytes),
			style_reset(st), s->live.objects,
			human_bytes(b, sizeof(b), (uint64_t)s->alloc.bytes));
		print_stack(out, p, s, st);
	}
}

static void print_holes(FILE *out, const struct profile *p)
{
	const struct prof_cost *c = &p->cost;
	char a[32], b[32];

	if (c->source == PROF_SOURCE_JEMALLOC) {
		fprintf(out, "  • nothing: jemalloc samples every allocation it makes, since "
			"the process started with its profiler on\n");
		return;
	}
	if (c->holes & PROF_HOLE_PTR_SAVED)
		fprintf(out, "  • some code stored malloc's address in its data when it was "
			"loaded; calls through such pointers are not seen\n");
	if (c->holes & PROF_HOLE_ELSEWHERE)
		fprintf(out, "  • %" PRIu64 " relocation slots are bound to another definition "
			"(RTLD_DEEPBIND, a private allocator) and were left alone\n", c->slots_skipped);
	if (c->holes & PROF_HOLE_GOT_SKIPPED)
		fprintf(out, "  • -fno-plt code calls malloc through GOT slots that were left alone\n");
	if (c->holes & PROF_HOLE_TABLE_FULL)
		fprintf(out, "  • %" PRIu64 " samples could not be followed to their free (not "
			"counted as live)\n", c->untracked);
	if (c->dropped)
		fprintf(out, "  • %" PRIu64 " samples were lost (heapdoc did not read them in "
			"time): figures are low by %.1f%%\n", c->dropped,
			100.0 * c->dropped / (double)(c->dropped + c->samples));
	fprintf(out, "  • not seen: calls inside libc itself, the dynamic loader's own "
		"allocations, and memory allocated before heapdoc came");
	if (IS_SET(p->before.allocated))
		fprintf(out, " (%s allocated then, RSS %s)", human_bytes(a, sizeof(a),
			p->before.allocated), human_bytes(b, sizeof(b), p->rss_start));
	else if (p->rss_start)
		fprintf(out, " (RSS was %s then)", human_bytes(b, sizeof(b), p->rss_start));
	fprintf(out, "\n");
}

static void print_cost(FILE *out, const struct profile *p)
{
	const struct prof_cost *c = &p->cost;
	char a[32], b[32], d[32];

	if (c->source == PROF_SOURCE_JEMALLOC) {
		fprintf(out, "\nread from jemalloc's own profiler (prof:true): %u dumps through "
			"mallctl(\"prof.dump\"), longest stop %s; nothing was loaded into the "
			"process\n", c->dumps, human_us(a, sizeof(a), c->load_stop_us));
		return;
	}
	fprintf(out, "\nheapdoc redirected %" PRIu64 " relocation slots in %" PRIu64
		" modules (%" PRIu64 " through GOT slots) and put %" PRIu64 " back; longest stops: "
		"load %s, stop %s, unload %s\n", c->slots_patched + c->got_slots_patched,
		c->modules_patched, c->got_slots_patched, c->slots_restored,
		human_us(a, sizeof(a), c->load_stop_us), human_us(b, sizeof(b), c->stop_stop_us),
		human_us(d, sizeof(d), c->unload_stop_us));
	if (p->before.read)
		fprintf(out, "the read of the allocator before sampling held it at most %s\n",
			human_us(a, sizeof(a), p->before.pause_us));
	switch (c->left) {
	case PROF_LEFT_NOTHING:
		if (c->got_slots_patched)
			fprintf(out, "the sampling library was unloaded; its 8 KiB forwarding page "
				"stays, sending calls through copies of the %" PRIu64 " GOT slots "
				"straight to the allocator\n", c->got_slots_patched);
		else
			fprintf(out, "the sampling library was unloaded: nothing of heapdoc "
				"remains in the process\n");
		break;
	case PROF_LEFT_INERT:
		fprintf(out, "the sampling library stays loaded but inert (every slot put "
			"back): %s\n", c->left_why);
		break;
	default:
		fprintf(out, "%s\n", c->left_why);
	}
}

void leaks_print_text(FILE *out, const struct profile *p, const struct leak_ranking *r,
		      const struct style *s, size_t top)
{
	char rate[32], alloc[32];

	if (p->cost.source == PROF_SOURCE_JEMALLOC)
		fprintf(out, "heapdoc leaks: pid %d (%s), watched %.1f s through jemalloc's own "
			"profiler, one sample per %s allocated on average (%s live)\n",
			(int)p->pid, p->comm, p->window_s, human_bytes(rate, sizeof(rate), p->rate),
			human_bytes(alloc, sizeof(alloc), (uint64_t)r->live_bytes));
	else
		fprintf(out, "heapdoc leaks: pid %d (%s), sampled %.1f s, one sample per %s "
			"allocated on average (%" PRIu64 " samples, %s allocated)\n", (int)p->pid,
			p->comm, p->window_s, human_bytes(rate, sizeof(rate), p->rate),
			p->cost.samples, human_bytes(alloc, sizeof(alloc), (uint64_t)r->alloc_bytes));
	if (p->exited)
		fprintf(out, "the process exited during the window: this is what was seen until "
			"then\n");
	print_growing(out, p, r, s, top);
	print_holding(out, p, r, s, top);
	leaks_print_before_text(out, p, r, s);
	fprintf(out, "\n%sNot seen%s\n", style_bold(s), style_reset(s));
	print_holes(out, p);
	print_cost(out, p);
}
