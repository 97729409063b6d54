/* Walking the heaps arena by arena, and the brief snapshot's second look.
 *
 * Each arena's walk keeps its share of the snapshot's totals (census, free
 * chunk counts, pinned pages, what malloc_trim would release), so that an
 * arena whose header moved between the two holds can be taken out and
 * walked again on its own.  On a process whose threads allocate in their
 * own arenas all the time, the second hold thus re-reads only those busy
 * (and usually small) arenas instead of holding the process for the walk
 * of every heap:
 *
 *	hold 1 ── headers, thread caches ── run: walk every heap ──
 *	hold 2 ── compare: unchanged arenas keep their walk; changed ones
 *		  that are small are walked now, held; big ones are walked
 *		  again while the process runs and looked at once more
 *		  (LOOK_ROUNDS times; one that still moves then keeps the
 *		  figures of its last walk, counted in st->estimated: a held
 *		  walk of a big heap is the long pause this avoids);
 *		  changed thread caches are followed again, held.
 *
 * The result is malloc's state at the last hold, except for the blind spot
 * glibc.h names (a chunk taken whole from the middle of a bin list with
 * nothing else in its arena changing) and the arenas st->estimated counts.
 */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"

/* Looks before the changed arenas are walked held whatever their size. */
#define LOOK_ROUNDS	3
/* Changed arenas up to this much memory are walked again in the hold
 * itself: about 3 ms of copying and walking on a 2-core VM. */
#define REWALK_HELD_BYTES (8ULL << 20)
#define LOOK_RETRY_NS	2000000		/* a mutex held: let it go, look again */

/* ---- one arena's share of the totals ------------------------------------- */

static void part_read(const struct glibc_state *st, size_t nspans, struct arena_part *p)
{
	memcpy(p->census, st->census, sizeof(p->census));
	p->free_small_chunks = st->free_small_chunks;
	p->free_small_bytes = st->free_small_bytes;
	p->free_large_chunks = st->free_large_chunks;
	p->free_large_bytes = st->free_large_bytes;
	p->pinned = st->pinned;
	p->span_to = nspans;
}

/* st's totals += sign × p. */
static void part_add(struct glibc_state *st, const struct arena_part *p, int sign)
{
	uint64_t k = (uint64_t)(int64_t)sign;	/* unsigned arithmetic wraps back */

	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		struct glibc_size_class *d = &st->census[c];
		const struct glibc_size_class *q = &p->census[c];

		d->used_chunks += k * q->used_chunks;
		d->used_bytes += k * q->used_bytes;
		d->cached_chunks += k * q->cached_chunks;
		d->cached_bytes += k * q->cached_bytes;
		d->free_chunks += k * q->free_chunks;
		d->free_bytes += k * q->free_bytes;
	}
	st->free_small_chunks += k * p->free_small_chunks;
	st->free_small_bytes += k * p->free_small_bytes;
	st->free_large_chunks += k * p->free_large_chunks;
	st->free_large_bytes += k * p->free_large_bytes;
	st->pinned += k * p->pinned;
}

/* p -= before: what the totals gained in between. */
static void part_since(struct arena_part *p, const struct arena_part *before)
{
	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		struct glibc_size_class *d = &p->census[c];
		const struct glibc_size_class *b = &before->census[c];

		d->used_chunks -= b->used_chunks;
		d->used_bytes -= b->used_bytes;
		d->cached_chunks -= b->cached_chunks;
		d->cached_bytes -= b->cached_bytes;
		d->free_chunks -= b->free_chunks;
		d->free_bytes -= b->free_bytes;
	}
	p->free_small_chunks -= before->free_small_chunks;
	p->free_small_bytes -= before->free_small_bytes;
	p->free_large_chunks -= before->free_large_chunks;
	p->free_large_bytes -= before->free_large_bytes;
	p->pinned -= before->pinned;
}

static bool arena_has_fastbins(struct snap *s, size_t i)
{
	for (unsigned b = 0; b < s->L->nfastbins; b++)
		if (glibc_get_at(snap_arena_hdr(s, i), &s->L->ms[MS_FASTBINS], b))
			return true;
	return false;
}

int snap_walk_arena(struct snap *s, size_t i)
{
	struct glibc_state *st = s->st;
	struct glibc_arena *ar = &st->arenas[i];
	struct arena_part before, *p = &s->parts[i];
	uint64_t into_top = 0;
	unsigned findings = st->nfindings;
	int rc = 0;

	s->arena_has_fastbins[i] = arena_has_fastbins(s, i);
	s->finding_by = (int)i;
	part_read(st, s->ntrim_spans, &before);
	if (ar->main && (snap_ms(s, i, MS_FLAGS) & NONCONTIGUOUS))
		rc = snap_walk_bins(s, i);	/* no single region to walk */
	snap_links_begin(s, i);
	for (size_t k = 0; k < s->nregions && rc == 0; k++) {
		uint64_t run = 0;

		if (s->regions[k].arena != i)
			continue;
		rc = snap_walk_region(s, &s->regions[k], &run);
		into_top += run;
	}
	/* The links only when the walk itself found nothing: one finding
	 * per corruption. */
	if (rc == 0 && st->nfindings == findings)
		snap_links_check(s, i);
	s->links.on = false;
	if (rc == 0)
		rc = snap_walk_fastbins(s, i, true);
	if (rc == 0)
		snap_top_accounting(s, ar, into_top);
	part_read(st, s->ntrim_spans, p);
	part_since(p, &before);
	p->span_from = before.span_to;
	p->walked = true;
	s->finding_by = SNAP_BY_OTHER;
	return rc;
}

/* Takes arena i's walk out of the totals, forgets its regions and
 * figures: it is about to be read again. */
static void unwalk_arena(struct snap *s, size_t i)
{
	struct glibc_state *st = s->st;
	struct glibc_arena *ar = &st->arenas[i];
	struct arena_part *p = &s->parts[i];
	size_t k = 0;

	snap_forget_findings(s, (int)i);
	snap_classes_forget(s, i);
	if (p->walked) {
		part_add(st, p, -1);
		for (size_t j = p->span_from; j < p->span_to && j < s->ntrim_spans; j++)
			s->trim_spans[j].len = 0;
	}
	memset(p, 0, sizeof(*p));
	for (size_t j = 0; j < s->nregions; j++)
		if (s->regions[j].arena != i)
			s->regions[k++] = s->regions[j];
	s->nregions = k;
	*ar = (struct glibc_arena){ .addr = ar->addr, .main = ar->main };
}

/* ---- the second look ----------------------------------------------------- */

struct look {
	unsigned char *hdrs;		/* every arena header at this hold */
	unsigned char *mp;
	bool *changed;
	size_t nchanged;
	uint64_t changed_bytes;		/* their system_mem */
	bool mutex_held;		/* a changed arena's mutex is held */
};

/* mp_ and the ring again.  -EAGAIN when what the regions were derived
 * from moved (sbrk_base, the heap size) or the ring is not the same. */
static int look_read(struct snap *s, struct look *lk)
{
	const struct glibc_layout *L = s->L;
	struct glibc_state *st = s->st;
	uint64_t a = s->r->gs.main_arena;
	int rc;

	rc = target_read_exact(s->t, s->r->gs.mp, lk->mp, L->par_size, s->err);
	if (rc < 0)
		return rc;
	if (glibc_get(lk->mp, &L->mp[MP_SBRK_BASE]) != snap_mp(s, MP_SBRK_BASE) ||
	    glibc_get(lk->mp, &L->mp[MP_HP_PAGESIZE]) != snap_mp(s, MP_HP_PAGESIZE))
		return -EAGAIN;
	for (size_t i = 0; i < st->narenas; i++) {
		unsigned char *h = lk->hdrs + i * L->state_size;

		if (a != st->arenas[i].addr)
			return -EAGAIN;
		rc = target_read_exact(s->t, a, h, L->state_size, s->err);
		if (rc < 0)
			return rc == -EFAULT ? -EAGAIN : rc;
		a = glibc_get(h, &L->ms[MS_NEXT]);
	}
	return a == s->r->gs.main_arena ? 0 : -EAGAIN;
}

/* Which arenas moved since the header their figures were read under. */
static void look_compare(struct snap *s, struct look *lk)
{
	const struct glibc_layout *L = s->L;

	lk->nchanged = 0;
	lk->changed_bytes = 0;
	lk->mutex_held = false;
	for (size_t i = 0; i < s->st->narenas; i++) {
		unsigned char *h = lk->hdrs + i * L->state_size;

		lk->changed[i] = memcmp(h, snap_arena_hdr(s, i), L->state_size) != 0;
		if (!lk->changed[i])
			continue;
		lk->nchanged++;
		lk->changed_bytes += glibc_get(h, &L->ms[MS_SYSTEM_MEM]);
		lk->mutex_held |= glibc_get(h, &L->ms[MS_MUTEX]) != 0;
	}
}

/* Arena i read again from this look's header: regions, top, the walk. */
static int rewalk(struct snap *s, struct look *lk, size_t i)
{
	int rc;

	unwalk_arena(s, i);
	memcpy(snap_arena_hdr(s, i), lk->hdrs + i * s->L->state_size, s->L->state_size);
	snap_arena_basics(s, i);
	rc = snap_find_regions(s, i);
	return rc < 0 ? rc : snap_walk_arena(s, i);
}

/* A changed arena small enough, and not mid-update, to walk in a hold. */
static bool walk_now(struct snap *s, const struct look *lk, size_t i)
{
	const unsigned char *h = lk->hdrs + i * s->L->state_size;

	return glibc_get(h, &s->L->ms[MS_SYSTEM_MEM]) <= REWALK_HELD_BYTES &&
	       !glibc_get(h, &s->L->ms[MS_MUTEX]);
}

/* Every changed arena read again (held: those walk_now allows, the others
 * kept as their last walk while the process ran saw them: estimated). */
static int rewalk_changed(struct snap *s, struct look *lk, bool held)
{
	int rc = 0;

	memset(s->rc->tag, 0, sizeof(s->rc->tag));
	readahead_forget(s->ra);
	addrset_free(&s->fast_candidates);
	for (size_t i = 0; i < s->st->narenas && rc == 0; i++) {
		if (!lk->changed[i])
			continue;
		if (held && !walk_now(s, lk, i)) {
			/* It moved through every look and is too big to walk
			 * held: what a walk sees of a moving heap is no
			 * evidence of corruption either. */
			snap_forget_findings(s, (int)i);
			s->st->estimated++;
			continue;
		}
		rc = rewalk(s, lk, i);
		s->st->rewalked++;
	}
	return rc == -EFAULT ? -EAGAIN : rc;
}

/* One look: stops the target and leaves it stopped.  *done when every
 * arena's figures now hold at this hold. */
static int look_once(struct snap *s, struct look *lk, bool last, bool *done)
{
	bool same;
	int rc;

	*done = false;
	glibc_polite(s->ra, false);
	rc = target_stop(s->t, s->err);
	if (rc == 0)
		rc = look_read(s, lk);
	if (rc < 0)
		return rc;
	look_compare(s, lk);
	if (lk->mutex_held && !last)	/* mid-update: a walk now would see half of it */
		return 0;
	rc = snap_tcaches_again(s, lk->changed, &same);
	if (rc < 0)
		return rc;
	/* Small changes now, held; big ones while the process runs and
	 * looked at again; at the last look, what still moves is estimated. */
	if (lk->nchanged && (last || lk->changed_bytes <= REWALK_HELD_BYTES))
		rc = rewalk_changed(s, lk, true);
	else if (lk->nchanged)
		return 0;
	if (rc == 0) {
		memcpy(s->mp, lk->mp, s->L->par_size);	/* n_mmaps, mmapped_mem now */
		snap_read_params(s);
		*done = true;
	}
	return rc;
}

int snap_second_look(struct snap *s)
{
	struct glibc_state *st = s->st;
	size_t n = st->narenas ? st->narenas : 1;
	struct look lk = {
		.hdrs = malloc(n * s->L->state_size), .mp = malloc(s->L->par_size),
		.changed = calloc(n, sizeof(bool)),
	};
	int rc = lk.hdrs && lk.mp && lk.changed ? 0 :
		 error_set(s->err, -ENOMEM, "out of memory");

	for (unsigned round = 0; rc == 0; round++) {
		bool done;

		rc = look_once(s, &lk, round == LOOK_ROUNDS, &done);
		if (rc < 0 || done)
			break;
		/* Big and changed, or caught mid-update: let the process run,
		 * walk them meanwhile (or wait), look again. */
		rc = target_resume(s->t, s->err);
		glibc_polite(s->ra, true);
		st->pause_us = MAX(st->pause_us, s->t->pause_us_last);
		if (rc == 0 && lk.mutex_held)
			nanosleep(&(struct timespec){ 0, LOOK_RETRY_NS }, NULL);
		else if (rc == 0)
			rc = rewalk_changed(s, &lk, false);
	}
	if (rc == 0 && st->corrupt)
		rc = -EAGAIN;	/* walked while it moved, or corrupt: the held read says */
	free(lk.hdrs);
	free(lk.mp);
	free(lk.changed);
	return rc;
}
