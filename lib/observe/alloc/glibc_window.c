/* Arenas over the window: what each arena held in use at each moment the
 * process was read, for the judge's question "did the threads take turns
 * or allocate together?" (model/alloc.h: arena_peak_sum, arena_peak_once).
 *
 * A cap on the arena count (MALLOC_ARENA_MAX) lets threads share the free
 * memory one arena keeps; that pays only when they need it at different
 * moments.  Every trend sample and the full read already add up each
 * arena's bytes in use (for allocated), so the window keeps, per arena,
 * the most it held at any of them, and the most all arenas held together
 * at one of them.  Arenas are told apart by the address of their header,
 * which never moves. */
#include "observe/alloc/glibc_snap.h"

#include <stdlib.h>

#include "base/util.h"

struct glibc_window {
	struct { uint64_t addr, peak; } *v;
	size_t n, cap;
	uint64_t peak_once;
	unsigned samples;
};

static uint64_t *arena_peak(struct glibc_window *w, uint64_t addr)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].addr == addr)
			return &w->v[i].peak;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		void *v = cap <= MAX_ARENAS ? realloc(w->v, cap * sizeof(*w->v)) : NULL;

		if (!v)
			return NULL;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n].addr = addr;
	w->v[w->n].peak = 0;
	return &w->v[w->n++].peak;
}

void glibc_window_add(struct glibc_reader *r, const struct glibc_state *st)
{
	struct glibc_window *w = r->win;
	uint64_t total = 0;

	if (!st->initialized || st->corrupt)
		return;
	if (!w && !(w = r->win = calloc(1, sizeof(*w))))
		return;		/* out of memory: the window is simply not measured */
	for (size_t i = 0; i < st->narenas; i++) {
		uint64_t *peak = arena_peak(w, st->arenas[i].addr);

		if (!peak)
			return;
		*peak = MAX(*peak, st->arenas[i].in_use);
		total += st->arenas[i].in_use;
	}
	w->peak_once = MAX(w->peak_once, total);
	w->samples++;
}

void glibc_window_summarise(const struct glibc_reader *r, struct alloc_summary *sum)
{
	const struct glibc_window *w = r->win;
	uint64_t peaks = 0;

	if (!w || !w->samples) {
		sum->arena_peak_sum = sum->arena_peak_once = UNSET;
		sum->arena_samples = 0;
		return;
	}
	for (size_t i = 0; i < w->n; i++)
		peaks += w->v[i].peak;
	sum->arena_peak_sum = peaks;
	sum->arena_peak_once = w->peak_once;
	sum->arena_samples = w->samples;
}

void glibc_window_free(struct glibc_reader *r)
{
	if (!r->win)
		return;
	free(r->win->v);
	free(r->win);
	r->win = NULL;
}
