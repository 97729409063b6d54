/* The trend read behind the backend's sample(): allocated as mallinfo2
 * counts it (uordblks + hblkhd) at the cost of one brief hold per sample,
 * whatever the size of the heap.
 *
 * allocated needs, per arena, system_mem and the size of the top (read in
 * the hold: the arena's header and one word of the top chunk) and the bytes
 * on the free lists, which is what costs: on a fragmented heap following
 * the lists means reading most of the heap.  So:
 *
 *  - an arena whose header is byte for byte the one of the last read that
 *    found it consistent keeps that read's free-list figures (the memo).
 *    Every malloc and free in an arena moves its header (its top, a bin or
 *    fastbin head, system_mem), except taking a chunk whole from the middle
 *    of a bin with nothing else changing, the blind spot the brief hold of
 *    `stats` shares (glibc.h); so a memo older than MEMO_MAX_AGE_NS is read
 *    again all the same;
 *  - the other arenas are walked while the process runs (the lists, or the
 *    heap in windows when the lists are long), and the next hold keeps
 *    each walk whose arena's header did not move meanwhile; one that moved
 *    is busy, and busy arenas move all the time: its lists are walked in
 *    that hold when they are short (TREND_LIST_BUDGET pages: under a
 *    millisecond), which costs less than more rounds of holds;
 *  - a busy arena whose lists are long (a fragmented heap that allocates
 *    all the time: a cache refilled between leaked blocks) never holds
 *    still for a walk, and walking it held would be the long pause this
 *    file avoids: its figures are those of the walk made while it ran, an
 *    estimate within what it allocated and freed during that walk (a few
 *    milliseconds of its traffic), and the sample says so (estimated);
 *  - an arena that cannot be read at all (its walk found it inconsistent)
 *    leaves this sample without allocated (-EAGAIN: the trend loses one
 *    point, never the pause budget), and the next samples skip the walk
 *    for a while.
 *
 * An idle process thus costs one hold of a few hundred microseconds per
 * sample; a busy one (an arena that keeps moving, with short lists) also
 * one, a little longer: an arena that moved between the holds last time
 * has its lists walked in the first hold this time.
 */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/util.h"

/* Stops per hold before reading with a mutex held anyway (the hold that
 * follows the walk checks the header again, so a held mutex only costs a
 * retry there). */
#define TREND_QUIET_TRIES 5
/* Rounds of walks made while the process runs before the last is held. */
#define TREND_ROUNDS	1
/* Pages a list walk may read: beyond, the heap is copied in windows
 * (unheld), or (held) the arena is left unread rather than pausing long. */
#define TREND_LIST_BUDGET 1024
/* Held, an arena whose heaps are this small is copied whole instead: a
 * bulk read of 2 MiB costs what a list walk of ~60 pages does. */
#define TREND_HELD_COPY_BYTES (2u << 20)
/* The blind spot's bound: a memo this old is read again. */
#define MEMO_MAX_AGE_NS	(60ULL * 1000000000ULL)
/* After an arena could not be read, samples skipped: 1, 3, 7, ... 31. */
#define TREND_MAX_BACKOFF 5

/* What the last consistent read found in one arena. */
struct memo_arena {
	uint64_t addr;
	unsigned char *hdr;		/* its header then (state_size bytes) */
	uint64_t fastbin_chunks, fastbin_bytes, bin_chunks, bin_bytes, largest_free;
	uint64_t when_ns;
	/* It moved between the holds of the sample that last read it, and its
	 * lists were short enough to walk held: the next sample walks them in
	 * its first hold rather than wait for a second. */
	bool busy;
};

struct glibc_memo {
	struct memo_arena *v;
	size_t n, cap;
	unsigned failures;		/* consecutive samples without allocated */
	unsigned skip;			/* samples left to skip */
};

void snap_memo_free(struct glibc_reader *r)
{
	struct glibc_memo *m = r->memo;

	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].hdr);
	free(m->v);
	free(m);
	r->memo = NULL;
}

static struct memo_arena *memo_find(struct glibc_memo *m, uint64_t addr, size_t hint)
{
	if (hint < m->n && m->v[hint].addr == addr)
		return &m->v[hint];
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].addr == addr)
			return &m->v[i];
	return NULL;
}

/* Remembers arena i as the current hold shows it, with the figures a walk
 * found for exactly that header; busy: see struct memo_arena. */
static int memo_keep(struct snap *s, size_t i, uint64_t now, bool busy)
{
	struct glibc_memo *m = s->r->memo;
	const struct glibc_arena *ar = &s->st->arenas[i];
	struct memo_arena *e = memo_find(m, ar->addr, i);

	if (!e) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 8;
			struct memo_arena *v = realloc(m->v, cap * sizeof(*v));

			if (!v)
				return error_set(s->err, -ENOMEM, "out of memory");
			m->v = v;
			m->cap = cap;
		}
		e = &m->v[m->n];
		*e = (struct memo_arena){ .addr = ar->addr, .hdr = malloc(s->L->state_size) };
		if (!e->hdr)
			return error_set(s->err, -ENOMEM, "out of memory");
		m->n++;
	}
	memcpy(e->hdr, snap_arena_hdr(s, i), s->L->state_size);
	e->fastbin_chunks = ar->fastbin_chunks;
	e->fastbin_bytes = ar->fastbin_bytes;
	e->bin_chunks = ar->bin_chunks;
	e->bin_bytes = ar->bin_bytes;
	e->largest_free = ar->largest_free;
	e->when_ns = now;
	e->busy = busy;
	return 0;
}

static void memo_apply(const struct memo_arena *e, struct glibc_arena *ar)
{
	ar->fastbin_chunks = e->fastbin_chunks;
	ar->fastbin_bytes = e->fastbin_bytes;
	ar->bin_chunks = e->bin_chunks;
	ar->bin_bytes = e->bin_bytes;
	ar->largest_free = e->largest_free;
}

/* Arena i's free-list figures from the memo, when its header is the one
 * they were found for, no mutex is held and the memo is recent. */
static bool memo_use(struct snap *s, size_t i, uint64_t now)
{
	struct glibc_arena *ar = &s->st->arenas[i];
	struct memo_arena *e = memo_find(s->r->memo, ar->addr, i);

	if (!e || ar->mutex_held || now - e->when_ns > MEMO_MAX_AGE_NS ||
	    memcmp(e->hdr, snap_arena_hdr(s, i), s->L->state_size))
		return false;
	memo_apply(e, ar);
	return true;
}

static void arena_lists_clear(struct glibc_arena *ar)
{
	ar->fastbin_chunks = ar->fastbin_bytes = 0;
	ar->bin_chunks = ar->bin_bytes = 0;
	ar->largest_free = 0;
}

/* Arena i's free lists from its heaps' boundary tags: the heaps copied in
 * bulk and walked locally. */
static int walk_arena_heaps(struct snap *s, size_t i)
{
	int rc = 0;

	arena_lists_clear(&s->st->arenas[i]);
	addrset_free(&s->fast_candidates);
	s->read_budget = UINT64_MAX;
	for (size_t k = 0; k < s->nregions && rc == 0; k++) {
		uint64_t run;

		if (s->regions[k].arena == i)
			rc = snap_walk_region(s, &s->regions[k], &run);
	}
	return rc < 0 ? rc : snap_walk_fastbins(s, i, true);
}

/* Arena i's free lists: held, a small arena's heaps are copied in one read
 * or two (cheaper than following its lists a page at a time), a bigger
 * one's lists are walked within the read budget; while the process runs,
 * the lists, and the heaps when the lists are long. */
static int walk_arena(struct snap *s, size_t i, bool held)
{
	uint64_t heap = 0;
	bool regions = false;
	int rc;

	arena_lists_clear(&s->st->arenas[i]);
	s->win_len = 0;		/* what an earlier walk copied is stale */
	s->rc->reads = 0;
	for (size_t k = 0; k < s->nregions; k++)
		if (s->regions[k].arena == i) {
			regions = true;
			heap += s->regions[k].end - s->regions[k].start;
		}
	if (held && regions && heap <= TREND_HELD_COPY_BYTES)
		return walk_arena_heaps(s, i);
	s->read_budget = TREND_LIST_BUDGET;
	rc = snap_walk_bins(s, i);
	if (rc == 0)
		rc = snap_walk_fastbins(s, i, false);
	if (rc != -E2BIG || held || !regions)
		return rc;
	/* Long lists: the boundary tags of a copied heap say the same. */
	if (!s->ra && readahead_start(&s->ra_own, s->r->pid, s->r->window) == 0)
		s->ra = &s->ra_own;
	return walk_arena_heaps(s, i);
}

/* Walks every arena in todo while the process runs; ok[i] says which
 * walks are worth keeping: one that finds something inconsistent is not
 * (the lists moved under it), nor one of an arena whose mutex was held. */
static int walk_unheld(struct snap *s, const bool *todo, bool *ok)
{
	int rc = 0;

	for (size_t i = 0; i < s->st->narenas && rc == 0; i++) {
		unsigned findings = s->st->nfindings;

		ok[i] = false;
		if (!todo[i] || s->st->arenas[i].mutex_held)
			continue;
		rc = walk_arena(s, i, false);
		ok[i] = rc == 0 && s->st->nfindings == findings;
		if (rc == -EFAULT || rc == -E2BIG || !ok[i]) {
			s->st->nfindings = findings;
			s->st->corrupt = false;
			rc = 0;
		}
	}
	return rc;
}

/* One hold: every header read again; which arenas the memo covers.  The
 * walks of the last round are in the memo, under the header they saw. */
static int trend_hold(struct snap *s, bool *todo, size_t *left)
{
	uint64_t now = now_ns();
	int rc;

	memset(s->rc->tag, 0, sizeof(s->rc->tag));
	rc = snap_stop_quiet(s, TREND_QUIET_TRIES, SNAP_TC_NONE);
	if (rc < 0)
		return rc;
	*left = 0;
	for (size_t i = 0; i < s->st->narenas; i++) {
		todo[i] = s->st->initialized && !memo_use(s, i, now);
		*left += todo[i];
	}
	return 0;
}

/* Keeps the walks that held up, under the header each one saw. */
static int keep_walks(struct snap *s, const bool *ok)
{
	uint64_t now = now_ns();
	int rc = 0;

	for (size_t i = 0; i < s->st->narenas && rc == 0; i++)
		if (ok[i])
			rc = memo_keep(s, i, now, false);
	return rc;
}

/* Arena i's figures from the walk made while the process ran during this
 * sample (since), though its header moved after: an estimate, within what
 * the arena allocated and freed during that walk. */
static bool memo_estimate(struct snap *s, size_t i, uint64_t since)
{
	struct glibc_arena *ar = &s->st->arenas[i];
	struct memo_arena *e = memo_find(s->r->memo, ar->addr, i);

	if (!e || e->when_ns < since)
		return false;
	memo_apply(e, ar);
	return true;
}

/* The last hold: arenas still moving are walked in it when their lists are
 * short, else estimated from this sample's unheld walk. */
static int trend_last(struct snap *s, const bool *todo, uint64_t since, unsigned *estimated)
{
	uint64_t now = now_ns();
	int rc = 0;

	for (size_t i = 0; i < s->st->narenas && rc == 0; i++) {
		if (!todo[i])
			continue;
		rc = s->st->arenas[i].mutex_held ? -E2BIG : walk_arena(s, i, true);
		if (rc == 0)
			rc = memo_keep(s, i, now, true);
		if (rc == -E2BIG || rc == -EFAULT) {
			rc = memo_estimate(s, i, since) ? 0 : -EAGAIN;
			*estimated += rc == 0;
		}
	}
	return rc;
}

/* The first hold: arenas that were busy at the last sample are walked now,
 * held (their lists were short), rather than after a second hold they
 * would move before anyway; one whose lists grew long goes the other way
 * from now on. */
static int walk_busy_held(struct snap *s, bool *todo, size_t *left)
{
	uint64_t now = now_ns();
	int rc = 0;

	for (size_t i = 0; i < s->st->narenas && rc == 0; i++) {
		struct glibc_arena *ar = &s->st->arenas[i];
		struct memo_arena *e = memo_find(s->r->memo, ar->addr, i);

		if (!todo[i] || !e || !e->busy || ar->mutex_held)
			continue;
		rc = walk_arena(s, i, true);
		if (rc == -E2BIG || rc == -EFAULT) {
			e->busy = false;
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = memo_keep(s, i, now, true);
		todo[i] = false;
		--*left;
	}
	return rc;
}

/* The rounds: hold, walk what the memo lacks while the process runs, hold
 * again to see which walks still hold; the last round walks held. */
static int trend_rounds(struct snap *s, bool *todo, bool *ok, struct glibc_trend *out)
{
	uint64_t since = now_ns();
	size_t left = 0;
	int rc;

	for (unsigned round = 0;; round++) {
		rc = trend_hold(s, todo, &left);
		out->holds++;
		if (rc == 0 && round == 0)
			rc = walk_busy_held(s, todo, &left);
		if (rc < 0 || !left)
			return rc;
		if (round == TREND_ROUNDS)
			return trend_last(s, todo, since, &out->estimated);
		rc = target_resume(s->t, s->err);
		glibc_polite(s->ra, true);
		if (rc == 0)
			rc = walk_unheld(s, todo, ok);
		if (rc == 0)
			rc = keep_walks(s, ok);
		if (rc < 0)
			return rc;
	}
}

static int trend_start(struct snap *s)
{
	struct glibc_reader *r = s->r;
	size_t n;

	if (!r->memo && !(r->memo = calloc(1, sizeof(*r->memo))))
		return error_set(s->err, -ENOMEM, "out of memory");
	n = MAX_ARENAS;
	s->arena_has_fastbins = calloc(n, sizeof(bool));
	if (!s->arena_has_fastbins)
		return error_set(s->err, -ENOMEM, "out of memory");
	/* Heap walks only fall back on a region walk with fastbins in use;
	 * saying "maybe" costs a little memory, never a wrong figure. */
	memset(s->arena_has_fastbins, 1, n);
	return 0;
}

int glibc_trend_read(struct glibc_reader *r, struct target *t, struct glibc_trend *out,
		     struct error *err)
{
	struct glibc_state st;
	struct snap s = { .r = r, .L = &r->L, .t = t, .st = &st, .err = err,
			  .finding_by = SNAP_BY_OTHER };
	bool todo[MAX_ARENAS], ok[MAX_ARENAS];
	int rc;

	memset(out, 0, sizeof(*out));
	out->allocated = UNSET;
	if (r->memo && r->memo->skip) {
		r->memo->skip--;
		return error_set(err, -EAGAIN, "an arena kept changing: skipped for now");
	}
	rc = snap_begin(&s, &st);
	if (rc == 0)
		rc = trend_start(&s);
	if (rc == 0)
		rc = trend_rounds(&s, todo, ok, out);
	glibc_polite(s.ra, false);
	readahead_stop(&s.ra_own);
	if (t->stopped) {
		struct error e2 = { 0 };
		int rc2 = target_resume(t, rc < 0 ? &e2 : err);

		if (rc == 0)
			rc = rc2;
	}
	if (rc == 0) {
		snap_mallinfo2(&st);
		glibc_window_add(r, &st);
		out->allocated = st.mi.uordblks + st.mi.hblkhd;
		out->arenas = (unsigned)st.narenas;
		r->memo->failures = 0;
	} else if (rc == -EAGAIN && r->memo) {
		r->memo->failures = MIN(r->memo->failures + 1, (unsigned)TREND_MAX_BACKOFF);
		r->memo->skip = (1u << r->memo->failures) - 1;
		error_set(err, rc, "an arena kept changing while its free lists were read");
	}
	snap_free(&s);
	glibc_state_free(&st);
	return rc;
}
