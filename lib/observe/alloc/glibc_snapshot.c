/* Taking a snapshot: the stops (until every arena mutex is free), the
 * walks in order, the brief hold's validation, and mallinfo2 from what was
 * counted.  The public entry points of glibc.h. */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/util.h"

#include <time.h>

#define MAX_TRIES	50		/* stops before giving up on free mutexes */
#define RETRY_NS	2000000		/* how long the target runs between tries */
/* The light read follows the free lists a page at a time; past this many
 * pages (4 MiB) copying the heaps in windows is the cheaper way. */
#define LIGHT_READ_BUDGET 1024

/* ---- putting it together -------------------------------------------------- */

static void mallinfo2_from_arenas(struct glibc_state *st)
{
	struct glibc_mallinfo2 *mi = &st->mi;

	memset(mi, 0, sizeof(*mi));
	if (!st->initialized) {
		mi->ordblks = 1;	/* mallinfo2 initialises malloc: an empty top */
		return;
	}
	for (size_t i = 0; i < st->narenas; i++) {
		struct glibc_arena *ar = &st->arenas[i];

		ar->free = ar->top_size + ar->fastbin_bytes + ar->bin_bytes;
		/* Only a corrupt heap has more free than system memory. */
		ar->in_use = ar->system_mem > ar->free ? ar->system_mem - ar->free : 0;
		mi->ordblks += 1 + ar->bin_chunks;
		mi->smblks += ar->fastbin_chunks;
		mi->fsmblks += ar->fastbin_bytes;
		mi->fordblks += ar->free;
		mi->uordblks += ar->in_use;
		mi->arena += ar->system_mem;
		st->trimmable += ar->trimmable;
		st->releasable += ar->releasable;
		st->free_interleaved += ar->fastbin_bytes + ar->bin_bytes;
		st->largest_free = MAX(st->largest_free, ar->largest_free);
		st->top_total += ar->top_size;
		if (ar->below_top)
			st->top_held += ar->below_top_free;
	}
	mi->hblks = st->mp.n_mmaps;
	mi->hblkhd = st->mp.mmapped_mem;
	mi->keepcost = st->arenas[0].top_size;
}

/* Stops the target until every arena mutex is free and every tcache list
 * agrees with its count (bounded), leaving it stopped. */
static int stop_quiet(struct snap *s)
{
	struct glibc_state *st = s->st;
	int rc;

	for (st->tries = 1;; st->tries++) {
		int held;

		rc = target_stop(s->t, s->err);
		if (rc < 0)
			return rc;
		memset(s->rc->tag, 0, sizeof(s->rc->tag));
		addrset_free(&s->marks);
		addrset_free(&s->fast_candidates);
		s->nregions = 0;
		st->nfindings = 0;
		st->corrupt = false;
		held = snap_read_headers(s);
		if (held < 0)
			return held;
		for (size_t i = 0; i < st->narenas && st->initialized; i++) {
			snap_arena_basics(s, i);
			rc = snap_find_regions(s, i);
			if (rc < 0)
				return rc;
		}
		if (st->initialized) {
			rc = snap_read_tcaches(s);
			if (rc < 0)
				return rc;
		}
		st->consistent = !held && !s->tcache_unsettled;
		if (st->consistent || st->tries >= MAX_TRIES)
			return 0;
		rc = target_resume(s->t, s->err);
		if (rc < 0)
			return rc;
		nanosleep(&(struct timespec){ 0, RETRY_NS }, NULL);
		if (target_interrupted())
			return error_set(s->err, -EINTR, "interrupted");
	}
}

/* Stops the target again and tells whether malloc's state is byte for
 * byte what the first stop saw: mp_, every arena header (top, bins, fastbin
 * heads, system_mem, the ring), the same threads with the same tcache
 * structs.  Every malloc and free changes one of these, except taking a
 * chunk from the middle of a bin list with nothing else changing (an exact
 * fit in a large bin; realloc growing into the whole next chunk). */
static int state_unchanged(struct snap *s, bool *same)
{
	const struct glibc_layout *L = s->L;
	struct glibc_state *st = s->st;
	size_t cap = MAX(MAX(L->par_size, L->state_size), L->tcache_size);
	unsigned char *buf = malloc(cap);
	size_t stopped = 0;
	int rc;

	*same = false;
	if (!buf)
		return error_set(s->err, -ENOMEM, "out of memory");
	rc = target_stop(s->t, s->err);
	if (rc < 0) {
		/* Not a change of malloc's state: the process could not be
		 * held (another tracer took a new thread, it is exiting). */
		free(buf);
		return rc;
	}
	rc = target_read_exact(s->t, s->r->gs.mp, buf, L->par_size, s->err);
	if (rc < 0 || memcmp(buf, s->mp, L->par_size))
		goto out;
	for (size_t i = 0; i < st->narenas; i++) {
		rc = target_read_exact(s->t, st->arenas[i].addr, buf, L->state_size, s->err);
		if (rc < 0 || memcmp(buf, snap_arena_hdr(s, i), L->state_size))
			goto out;
	}
	for (size_t i = 0; i < s->t->nthreads; i++)
		stopped += s->t->threads[i].stopped;
	if (st->tcache_known && stopped != st->ntcaches)
		goto out;
	for (size_t i = 0; st->tcache_known && i < st->ntcaches; i++) {
		struct glibc_tcache *tc = &st->tcaches[i];
		struct user_regs_struct regs;

		rc = target_get_regs(s->t, tc->tid, &regs, s->err);
		if (rc < 0 || snap_tls_word(s, regs.fs_base, s->r->gs.tcache_tpoff, &rc) != tc->addr ||
		    rc < 0)
			goto out;
		if (!tc->addr)
			continue;
		rc = target_read_exact(s->t, tc->addr, buf, L->tcache_size, s->err);
		if (rc < 0 || snap_fnv1a(buf, L->tcache_size) != s->tc_print[i])
			goto out;
	}
	*same = true;
out:
	free(buf);
	/* A read that failed only means "changed"; a vanished process is
	 * an error. */
	return rc == -ESRCH || rc == -EINTR ? rc : 0;
}

/* Every heap copied and walked (with the target held, or running between
 * the brief holds), then the fastbins from what the walk saw, then the
 * tops. */
static int walk_heaps(struct snap *s)
{
	struct glibc_state *st = s->st;
	size_t n = st->narenas ? st->narenas : 1;
	uint64_t *into_top;
	int rc = 0;

	for (size_t i = 0; i < st->narenas && st->initialized && rc == 0; i++)
		if (st->arenas[i].main && (snap_ms(s, i, MS_FLAGS) & NONCONTIGUOUS))
			rc = snap_walk_bins(s, i);	/* no single region to walk */
	if (rc < 0)
		return rc;
	into_top = calloc(n, sizeof(*into_top));
	s->arena_has_fastbins = calloc(n, sizeof(bool));
	for (size_t i = 0; s->arena_has_fastbins && i < st->narenas; i++)
		for (unsigned b = 0; b < s->L->nfastbins; b++)
			if (glibc_get_at(snap_arena_hdr(s, i), &s->L->ms[MS_FASTBINS], b))
				s->arena_has_fastbins[i] = true;
	if (!into_top || !s->arena_has_fastbins) {
		free(into_top);
		return error_set(s->err, -ENOMEM, "out of memory");
	}
	for (size_t k = 0; k < s->nregions && rc == 0; k++) {
		uint64_t run;

		rc = snap_walk_region(s, &s->regions[k], &run);
		into_top[s->regions[k].arena] += run;
	}
	for (size_t i = 0; i < st->narenas && rc == 0; i++)
		rc = snap_walk_fastbins(s, i, true);
	for (size_t i = 0; i < st->narenas && rc == 0; i++)
		snap_top_accounting(s, &st->arenas[i], into_top[i]);
	free(into_top);
	return rc;
}

static int snap_begin(struct snap *s, struct glibc_state *st)
{
	struct glibc_reader *r = s->r;

	memset(st, 0, sizeof(*st));
	snprintf(st->version, sizeof(st->version), "%s", r->gs.version);
	snprintf(st->module, sizeof(st->module), "%s", r->gs.module);
	st->source = r->L.source;
	snap_census_init(st);
	s->rc = calloc(1, sizeof(*s->rc));
	s->mp = calloc(1, r->L.par_size);
	if (!s->rc || !s->mp)
		return error_set(s->err, -ENOMEM, "out of memory");
	s->rc->t = s->t;
	return 0;
}

static void snap_free(struct snap *s)
{
	addrset_free(&s->marks);
	addrset_free(&s->fast_candidates);
	free(s->arena_has_fastbins);
	free(s->trim_spans);
	free(s->regions);
	free(s->tc_print);
	free(s->hdrs);
	free(s->mp);
	free(s->rc);
}

/* After the brief hold's walk: -EAGAIN when malloc's state moved meanwhile
 * (or the walk found it corrupt): the full hold is taken instead. */
static int validate(struct snap *s, struct readahead *ra)
{
	bool same;
	int rc;

	readahead_stop(ra);
	rc = state_unchanged(s, &same);
	return rc == 0 && (!same || s->st->corrupt) ? -EAGAIN : rc;
}

/* full: walk every heap (else the light read: the lists, unless they are
 * too long); brief: hold only to read the headers, twice. */
static int snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		    bool full, bool brief, struct error *err)
{
	struct snap s = { .r = r, .L = &r->L, .t = t, .st = st, .err = err,
			  .read_budget = full ? UINT64_MAX : LIGHT_READ_BUDGET };
	struct readahead ra = { 0 };
	uint64_t t0 = now_ns();
	int rc;

	rc = snap_begin(&s, st);
	if (rc < 0)
		goto out;
	/* Started before the stop: creating a thread is not free. */
	if (readahead_start(&ra, r->pid, r->window) == 0)
		s.ra = &ra;
	rc = stop_quiet(&s);
	if (rc < 0)
		goto resume;
	/* The brief hold: let the target run while its heaps are walked,
	 * keep the result only if nothing changed meanwhile. */
	brief = brief && full && st->consistent;
	if (brief) {
		rc = target_resume(t, err);
		if (rc < 0)
			goto out;
		st->pause_us = t->pause_us_last;
	}
	if (!full) {
		rc = snap_walk_lists(&s);
		if (rc == -E2BIG) {	/* long lists: copying the heaps is cheaper */
			snap_forget_list_walks(st);
			full = true;
			rc = 0;
		}
	}
	s.read_budget = UINT64_MAX;
	if (rc == 0 && full)
		rc = walk_heaps(&s);
	if (rc < 0)
		goto resume;
	st->reads += s.rc->reads;
	st->copied_bytes += s.rc->bytes;
	if (brief)
		rc = validate(&s, &ra);
resume:
	readahead_stop(&ra);	/* nothing reads the target once it runs */
	if (t->stopped) {
		struct error e2 = { 0 };
		int rc2 = target_resume(t, rc < 0 ? &e2 : err);

		if (rc == 0)
			rc = rc2;
	}
	st->pause_us = MAX(st->pause_us, t->pause_us_last);
	st->method = brief ? "validated" : "held";
	if (rc == 0) {
		mallinfo2_from_arenas(st);
		if (full)
			snap_count_resident(&s);
		else
			st->trimmable = st->trimmable_resident = UNSET;	/* not walked */
	}
out:
	st->walk_us = (now_ns() - t0) / 1000;
	snap_free(&s);
	readahead_stop(&ra);
	return rc;
}

int glibc_snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		   struct error *err)
{
	return snapshot(r, t, st, true, false, err);
}

int glibc_snapshot_brief(struct glibc_reader *r, struct target *t, struct glibc_state *st,
			 struct error *err)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int rc = snapshot(r, t, st, true, true, err);

		if (rc != -EAGAIN)
			return rc;
		glibc_state_free(st);
	}
	return snapshot(r, t, st, true, false, err);
}

int glibc_snapshot_light(struct glibc_reader *r, struct target *t, struct glibc_state *st,
			 struct error *err)
{
	return snapshot(r, t, st, false, false, err);
}
