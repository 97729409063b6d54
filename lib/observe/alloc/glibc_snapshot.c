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

/* ---- putting it together -------------------------------------------------- */

void snap_mallinfo2(struct glibc_state *st)
{
	struct glibc_mallinfo2 *mi = &st->mi;

	memset(mi, 0, sizeof(*mi));
	if (!st->initialized) {
		mi->ordblks = 1;	/* mallinfo2 initializes malloc: an empty top */
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

int snap_stop_quiet(struct snap *s, unsigned max_tries, enum snap_tcaches tc)
{
	struct glibc_state *st = s->st;
	int rc;

	for (st->tries = 1;; st->tries++) {
		int held;

		glibc_polite(s->ra, false);	/* the target waits for heapdoc now */
		rc = target_stop(s->t, s->err);
		if (rc < 0)
			return rc;
		memset(s->rc->tag, 0, sizeof(s->rc->tag));
		addrset_free(&s->marks);
		addrset_free(&s->fast_candidates);
		s->nregions = 0;
		s->tcache_unsettled = false;
		s->tcache_findings = 0;
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
		if (st->initialized && tc != SNAP_TC_NONE)
			rc = snap_read_tcaches(s);
		if (rc == 0 && st->initialized && tc == SNAP_TC_WALK)
			rc = snap_walk_tcaches(s);
		if (rc < 0)
			return rc;
		st->consistent = !held && !s->tcache_unsettled;
		/* An image never changes: another try would read the same. */
		if (st->consistent || st->tries >= max_tries || s->t->replay)
			return 0;
		rc = target_resume(s->t, s->err);
		if (rc < 0)
			return rc;
		nanosleep(&(struct timespec){ 0, RETRY_NS }, NULL);
		if (target_interrupted())
			return error_set(s->err, -EINTR, "interrupted");
	}
}

/* Every arena walked in turn (with the target held, or running between
 * the brief holds), each keeping its share of the totals. */
static int walk_heaps(struct snap *s)
{
	struct glibc_state *st = s->st;
	size_t n = st->narenas ? st->narenas : 1;
	int rc = 0;

	s->arena_has_fastbins = calloc(n, sizeof(bool));
	s->parts = calloc(n, sizeof(*s->parts));
	if (!s->arena_has_fastbins || !s->parts)
		return error_set(s->err, -ENOMEM, "out of memory");
	if (s->r->vtables && (rc = snap_classes_begin(s, n)) < 0)
		return rc;
	for (size_t i = 0; i < st->narenas && st->initialized && rc == 0; i++)
		rc = snap_walk_arena(s, i);
	return rc;
}

int snap_begin(struct snap *s, struct glibc_state *st)
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

void snap_free(struct snap *s)
{
	addrset_free(&s->marks);
	addrset_free(&s->fast_candidates);
	free(s->arena_has_fastbins);
	free(s->parts);
	snap_classes_free(s);
	free(s->trim_spans);
	free(s->regions);
	free(s->tc_print);
	free(s->tc_copy);
	free(s->hdrs);
	free(s->mp);
	free(s->rc);
}

/* Every heap walked; brief: the target held only to read the headers (and
 * again for the second look), else for the whole walk. */
static int snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		    bool brief, struct error *err)
{
	struct snap s = { .r = r, .L = &r->L, .t = t, .st = st, .err = err,
			  .read_budget = UINT64_MAX, .finding_by = SNAP_BY_OTHER };
	struct readahead ra = { 0 };
	uint64_t t0 = now_ns();
	enum snap_tcaches tc;
	int rc;

	rc = snap_begin(&s, st);
	if (rc < 0)
		goto out;
	/* Started before the stop: creating a thread is not free. */
	if (readahead_start(&ra, target_direct_pid(t), r->window) == 0)
		s.ra = &ra;
	tc = brief ? SNAP_TC_READ : SNAP_TC_WALK;
	rc = snap_stop_quiet(&s, MAX_TRIES, tc);
	if (rc < 0)
		goto resume;
	/* The brief hold: let the target run while its heaps are walked,
	 * keep the result only if nothing changed meanwhile. */
	brief = brief && st->consistent;
	if (brief) {
		rc = target_resume(t, err);
		if (rc < 0)
			goto out;
		glibc_polite(s.ra, true);	/* heapdoc waits for the target now */
		st->pause_us = t->pause_us_last;
		rc = snap_walk_tcaches(&s);
	} else if (tc == SNAP_TC_READ && st->initialized) {
		rc = snap_walk_tcaches(&s);	/* held after all */
	}
	if (rc < 0)
		goto resume;
	rc = walk_heaps(&s);
	if (rc < 0)
		goto resume;
	st->reads += s.rc->reads;
	st->copied_bytes += s.rc->bytes;
	if (brief)
		rc = snap_second_look(&s);
resume:
	glibc_polite(s.ra, false);
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
		snap_mallinfo2(st);
		snap_count_resident(&s);
	}
	if (rc == 0 && s.classes)
		rc = snap_classes_finish(&s, &st->classes);
out:
	st->walk_us = (now_ns() - t0) / 1000;
	snap_free(&s);
	readahead_stop(&ra);
	return rc;
}

int glibc_snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		   struct error *err)
{
	return snapshot(r, t, st, false, err);
}

int glibc_snapshot_brief(struct glibc_reader *r, struct target *t, struct glibc_state *st,
			 struct error *err)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int rc = snapshot(r, t, st, true, err);

		if (rc != -EAGAIN)
			return rc;
		glibc_state_free(st);
	}
	return snapshot(r, t, st, false, err);
}
