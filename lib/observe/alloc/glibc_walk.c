/* The boundary-tag walk of one heap region, window by window, and what
 * malloc_trim(0) would return (see glibc_snap.h for glibc's accounting
 * this follows). */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/vtables.h"

#define SMALL_WINDOW	(64 << 10)	/* read after jumping over a huge chunk */

struct run {			/* adjacent free chunks malloc_consolidate would merge */
	uint64_t start, len;
};

/* A pointer to want bytes at addr in the local window, copying the next
 * window out of the target when addr is not in the current one. */
static const unsigned char *window_at(struct snap *s, uint64_t addr, size_t want,
				      uint64_t end, int *rc)
{
	struct glibc_reader *r = s->r;
	struct readahead *ra = s->ra;
	uint64_t base, next;
	size_t len;
	ssize_t got;

	*rc = 0;
	if (addr >= s->win_base && addr + want <= s->win_base + s->win_len)
		return r->buf + (addr - s->win_base);
	if (!r->buf && !(r->buf = malloc(r->window))) {	/* glibc_lighten freed it */
		*rc = error_set(s->err, -ENOMEM, "out of memory");
		return NULL;
	}
	if (!readahead_take(ra, addr, want, &r->buf, &base, &got)) {
		base = addr & ~(r->pagesize - 1);
		/* After a jump over a huge chunk, read a little first. */
		len = addr > s->win_base + s->win_len + r->window ? SMALL_WINDOW : r->window;
		len = MIN(len, end > base ? end - base : 0);
		len = MAX(len, addr + want - base);	/* a header at the very end */
		got = target_read(s->t, base, r->buf, len, s->err);
		if (got < 0) {
			*rc = (int)got;
			return NULL;
		}
	}
	s->st->reads++;
	s->st->copied_bytes += got;
	s->win_base = base;
	s->win_len = got;
	if (addr + want > base + got) {
		*rc = -EFAULT;
		return NULL;
	}
	/* The next window overlaps this one by a page: a chunk header that
	 * straddles the boundary is then in it too. */
	next = base + got - MIN((uint64_t)got, r->pagesize);
	if (base + got < end && next > base)
		readahead_request(ra, next, MIN(r->window, end - next));
	return r->buf + (addr - base);
}

/* mtrim's page arithmetic for one (consolidated) free chunk. */
static uint64_t whole_pages_inside(uint64_t p, uint64_t size, uint64_t page)
{
	uint64_t paligned, left;

	if (size <= page - 1 + MALLOC_CHUNK_SZ)
		return 0;
	paligned = (p + MALLOC_CHUNK_SZ + page - 1) & ~(page - 1);
	left = size - (paligned - p);
	return left > page - 1 ? left & ~(page - 1) : 0;
}

/* Remembers a stretch malloc_trim(0) would release, to ask the kernel
 * afterwards how much of it is resident.  Out of memory only loses that
 * refinement (trimmable_resident then stays unknown). */
static void trim_span(struct snap *s, uint64_t start, uint64_t len, bool top)
{
	if (s->ntrim_spans == s->trim_spans_cap) {
		size_t cap = s->trim_spans_cap ? 2 * s->trim_spans_cap : 256;
		struct span *v = realloc(s->trim_spans, cap * sizeof(*v));

		if (!v) {
			s->st->trimmable_resident = UNSET;
			return;
		}
		s->trim_spans = v;
		s->trim_spans_cap = cap;
	}
	s->trim_spans[s->ntrim_spans++] = (struct span){ start, len, top };
}

static void run_close(struct snap *s, struct glibc_arena *ar, struct run *run)
{
	uint64_t page = s->r->pagesize, pages;

	if (!run->len)
		return;
	pages = whole_pages_inside(run->start, run->len, page);
	if (pages) {
		ar->trimmable += pages;
		s->st->pinned += pages;
		trim_span(s, (run->start + MALLOC_CHUNK_SZ + page - 1) & ~(page - 1), pages,
			  false);
	}
	run->len = 0;
}

/* The bin head a free chunk links to links back to it: a chunk whose fd
 * is the head is the bin's last (head->bk), one whose bk is the head its
 * first (head->fd).  Read from the copy of the arena's header, so a chunk
 * the boundary tags call free but its bin has let go of is seen without
 * one read of the target.  Only while the process is held: a walk made
 * while it runs (the trend read's, the brief snapshot's) copies the heap
 * after the header, and a bin that moved meanwhile is no finding (it made
 * every busy arena's walk fail, and triage's samples with it). */
static bool bin_links_back(struct snap *s, size_t ai, uint64_t p, uint64_t head, bool via_fd)
{
	uint64_t bins = s->st->arenas[ai].addr + (uint64_t)s->L->ms[MS_BINS].off;
	unsigned word = (unsigned)((head + 16 - bins) / 8) + via_fd;

	return glibc_get_at(snap_arena_hdr(s, ai), &s->L->ms[MS_BINS], word) == p;
}

/* A free chunk on a bin: its footer and links must make sense. */
static void check_free_chunk(struct snap *s, size_t ai, uint64_t p, const uint64_t *w,
			     uint64_t next_prev_size)
{
	uint64_t size = w[1] & ~(uint64_t)SIZE_BITS;

	if (next_prev_size != size)
		snap_finding(s, p, "free chunk of size %llu: footer says %llu",
			(unsigned long long)size, (unsigned long long)next_prev_size);
	for (int k = 2; k <= 3; k++) {
		bool head = snap_is_bin_head(s, ai, w[k]);

		if ((w[k] & (MALLOC_ALIGN - 1)) || (!snap_in_regions(s, w[k]) && !head)) {
			snap_finding(s, p, "free chunk: %s pointer %#llx leads nowhere",
				k == 2 ? "fd" : "bk", (unsigned long long)w[k]);
			break;
		}
		if (head && s->t->stopped && !bin_links_back(s, ai, p, w[k], k == 2)) {
			snap_finding(s, p, "free chunk: its bin at %#llx does not link back to it "
				     "(%s)", (unsigned long long)w[k], k == 2 ? "bk" : "fd");
			break;
		}
	}
}

/* Could this in-use-looking chunk be on a fastbin?  Its decoded fd must be
 * NULL or another chunk: application data rarely is, so few are kept. */
static bool fd_plausible(const struct snap *s, uint64_t p, uint64_t raw_fd)
{
	uint64_t next = raw_fd ^ ((p + 16) >> 12);

	return !next || (!(next & (MALLOC_ALIGN - 1)) && snap_in_regions(s, next));
}

/* One region's walk: where it copies up to, and what it carries from chunk
 * to chunk. */
struct region_walk {
	const struct region *rg;
	struct glibc_arena *ar;
	uint64_t copy_end;
	struct run run;		/* the free run being followed */
	/* The last chunk that is not free, and the free run right below it. */
	struct { uint64_t p, size, free_below; bool cached; } held;
};

/* The chunk at p of `size` (header words w), whose successor's header is
 * next_hdr: free, cached or in use, into the arena's counts, the census and
 * the runs malloc_trim would see. */
static int walk_chunk(struct snap *s, struct region_walk *rw, uint64_t p, const uint64_t *w,
		      uint64_t size, const uint64_t *next_hdr)
{
	struct glibc_state *st = s->st;
	struct glibc_arena *ar = rw->ar;
	enum mark kind = addrset_get(&s->marks, p);
	bool is_free = !(next_hdr[1] & PREV_INUSE);

	if (!is_free && kind == MARK_NONE && size <= MAX_FAST_CHUNK &&
	    s->arena_has_fastbins[rw->rg->arena] && fd_plausible(s, p, w[2]) &&
	    addrset_put_full(&s->fast_candidates, p, MARK_FAST, w[2], (uint32_t)w[1]) < 0)
		return error_set(s->err, -ENOMEM, "out of memory");
	if (is_free) {
		check_free_chunk(s, rw->rg->arena, p, w, next_hdr[0]);
		snap_links_note(s, p, w[2], w[3]);
		ar->bin_chunks++;
		ar->bin_bytes += size;
	}
	if (is_free || kind == MARK_FAST) {
		ar->largest_free = MAX(ar->largest_free, size);
		snap_count_free(st, size);
		if (!rw->run.len)
			rw->run.start = p;
		rw->run.len += size;
	} else {
		if (s->classes && kind == MARK_NONE)
			snap_classes_count(s, rw->rg->arena, vtables_find(s->r->vtables, w[2]),
					   size);
		rw->held.p = p;
		rw->held.size = size;
		rw->held.free_below = rw->run.len;
		rw->held.cached = kind == MARK_CACHED;
		run_close(s, ar, &rw->run);
	}
	snap_census_add(st, size, kind, is_free || kind == MARK_FAST);
	return 0;
}

/* The walk reached the top: the free run touching it merges into it;
 * without one, the chunk right below holds the free space under it. */
static void reach_top(struct region_walk *rw, uint64_t *run_into_top)
{
	struct glibc_arena *ar = rw->ar;

	*run_into_top = rw->run.len;
	if (!rw->run.len && rw->held.p) {
		ar->below_top = rw->held.p;
		ar->below_top_size = rw->held.size;
		ar->below_top_free = rw->held.free_below;
		ar->below_top_cached = rw->held.cached;
	}
}

/* Walks the chunks of one region; returns the free run that touches the
 * top (to be merged into it), or 0. */
int snap_walk_region(struct snap *s, const struct region *rg, uint64_t *run_into_top)
{
	struct glibc_arena *ar = &s->st->arenas[rg->arena];
	/* Copy up to the top's header, not the top: it can be huge, and
	 * reading pages the process never touched maps them (to the zero
	 * page) in its page tables. */
	struct region_walk rw = { .rg = rg, .ar = ar,
				  .copy_end = ar->top >= rg->start && ar->top < rg->end ?
					      ar->top + CHUNK_HDR : rg->end };
	uint64_t p = rg->start, limit = (rg->end - rg->start) / CHUNK_HDR + 2;
	int rc = 0;

	*run_into_top = 0;
	for (uint64_t n = 0; p < rg->end; n++) {
		const unsigned char *cp;
		uint64_t w[4], size, next_hdr[2];

		if (p == ar->top) {
			reach_top(&rw, run_into_top);
			return 0;
		}
		if (n > limit) {
			snap_finding(s, p, "heap %#llx-%#llx: more chunks than fit (a loop?)",
				(unsigned long long)rg->start, (unsigned long long)rg->end);
			break;
		}
		cp = window_at(s, p, MIN(sizeof(w), rg->end - p), rw.copy_end, &rc);
		if (!cp)
			goto bad_read;
		memset(w, 0, sizeof(w));
		memcpy(w, cp, MIN(sizeof(w), rg->end - p));
		size = w[1] & ~(uint64_t)SIZE_BITS;
		if (size == 0 && !ar->main) {
			p = rg->end;	/* the end fencepost of an abandoned heap */
			break;
		}
		if (size == CHUNK_HDR) {	/* a fencepost: counted as in use */
			rw.held.p = 0;
			run_close(s, ar, &rw.run);
			p += CHUNK_HDR;
			continue;
		}
		if (size < MINSIZE || (size & (MALLOC_ALIGN - 1)) || size > rg->end - p) {
			snap_finding(s, p, "chunk with impossible size %#llx (heap %#llx-%#llx)",
				(unsigned long long)w[1], (unsigned long long)rg->start,
				(unsigned long long)rg->end);
			break;
		}
		if (p + size + CHUNK_HDR > rg->end) {
			snap_finding(s, p, "chunk runs to the end of its heap: no top, no fencepost");
			break;
		}
		cp = window_at(s, p + size, CHUNK_HDR, rw.copy_end, &rc);
		if (!cp)
			goto bad_read;
		memcpy(next_hdr, cp, sizeof(next_hdr));
		rc = walk_chunk(s, &rw, p, w, size, next_hdr);
		if (rc < 0)
			return rc;
		p += size;
	}
	if (p < rg->end && !s->st->corrupt)
		snap_finding(s, p, "walk stopped before the end of heap %#llx-%#llx",
			(unsigned long long)rg->start, (unsigned long long)rg->end);
	run_close(s, ar, &rw.run);
	return 0;
bad_read:
	if (rc == -EFAULT) {
		snap_finding(s, p, "heap %#llx-%#llx is not mapped at %#llx",
			(unsigned long long)rg->start, (unsigned long long)rg->end,
			(unsigned long long)p);
		return 0;
	}
	return rc;
}

/* After the walk: the top's share of malloc_trim(0) (main arena, systrim)
 * and of what glibc returns on its own (the top beyond M_TOP_PAD). */
void snap_top_accounting(struct snap *s, struct glibc_arena *ar, uint64_t run_into_top)
{
	const struct glibc_mp *mp = &s->st->mp;
	uint64_t page = s->r->pagesize, sum;

	/* glibc's own arithmetic is signed; unsigned with checks here, so that
	 * a corrupt size near 2^64 releases nothing instead of overflowing. */
	if (ar->main && !__builtin_add_overflow(ar->top_size, run_into_top, &sum) &&
	    sum > MINSIZE + 1) {
		uint64_t unit = mp->thp_pagesize ? mp->thp_pagesize : page;
		uint64_t extra = (sum - MINSIZE - 1) / unit * unit;

		/* systrim: the brk moves down by extra. */
		ar->trimmable += extra;
		if (extra)
			trim_span(s, ar->top + ar->top_size - extra, extra, true);
	}
	if (ar->top_size > MINSIZE + 1 && ar->top_size - MINSIZE - 1 > mp->top_pad)
		ar->releasable = (ar->top_size - MINSIZE - 1 - mp->top_pad) / page * page;
}

/* Cuts the spans to the target's mappings: a span sized from a corrupt
 * chunk must not send pagemap through terabytes of address space. */
static void clip_spans(struct snap *s)
{
	struct maps maps = { 0 };
	size_t out = 0;

	if (proc_read_maps("", s->r->pid, &maps, NULL) < 0)
		return;
	for (size_t i = 0; i < s->ntrim_spans; i++) {
		struct span sp = s->trim_spans[i];
		const struct mapping *m = maps_find(&maps, sp.start);

		if (!m)
			continue;
		if (sp.len > m->end - sp.start)
			sp.len = m->end - sp.start;
		s->trim_spans[out++] = sp;
	}
	s->ntrim_spans = out;
	maps_free(&maps);
}

/* How much of what malloc_trim(0) would release is in RAM now, read after
 * the target resumed: an estimate of the RSS the trim would save; and of
 * it, the whole free pages inside free chunks (pinned) apart from the top.
 * A page a trim gave back stays inside its free chunk, out of RAM: only
 * pagemap tells it from one that still costs RSS. */
void snap_count_resident(struct snap *s)
{
	struct glibc_state *st = s->st;
	uint64_t bytes, top;

	st->pinned_resident = UNSET;
	if (!IS_SET(st->trimmable_resident))
		return;
	clip_spans(s);
	if (pagemap_resident(s->r->pid, s->trim_spans, s->ntrim_spans, s->r->pagesize,
			     &bytes, &top) < 0) {
		st->trimmable_resident = UNSET;
		return;
	}
	st->trimmable_resident = bytes;
	st->pinned_resident = MIN(bytes - MIN(top, bytes), st->pinned);
}
