/* mimalloc's segments, read from outside (mimalloc.h says why and when).
 *
 * mimalloc 2.0 carves memory into 32 MiB segments aligned to 32 MiB (huge
 * ones larger), each starting with its header: commit masks of 64 KiB
 * slices, a count of pages, a cookie, and an array of page descriptors
 * (mi_page_t), one per slice, a page spanning slice_count slices.  A page's
 * descriptor counts its blocks in use and their size.  heapdoc finds the
 * segments by looking at every 32 MiB boundary inside the process's
 * anonymous writable mappings, keeps the candidates whose header is
 * consistent (kind, slice counts, page spans that tile the segment, a
 * cookie that is the segment's address under the process's one key) and
 * adds up their pages.
 *
 * The layouts below are mimalloc v2.0.9's (include/mimalloc-types.h, the
 * same from 2.0.0), for x86-64; a build with encoded free lists
 * (MI_SECURE >= 3, or debug) has two more words per page: both are tried,
 * the one under which the segments tile is kept.  Bounded and validated
 * throughout: the target's memory is untrusted. */
#include "observe/alloc/mimalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/alloc/glibc_io.h"
#include "observe/proc.h"

#define MI_SLICE_SIZE	(64u << 10)
#define MI_SEGMENT_SIZE	(32ull << 20)
#define MI_SLICES	(MI_SEGMENT_SIZE / MI_SLICE_SIZE)	/* 512 */
#define MI_MASK_WORDS	(MI_SLICES / 64)
#define MI_HUGE_BLOCK	(2ull << 30)
#define MI_NORMAL	0
#define MI_HUGE		1
/* A huge segment holds one block; more than this is not a segment. */
#define MI_HUGE_MAX_SLICES (1ull << 26)			/* 4 TiB */
/* Candidates looked at, whatever the mappings claim. */
#define MAX_CANDIDATES	65536

/* mi_page_t (v2.0, 64-bit), without and with MI_ENCODE_FREELIST's keys. */
struct mi_page_plain {
	uint32_t slice_count, slice_offset;
	uint8_t bits;		/* is_reset, is_committed, is_zero_init */
	uint16_t capacity, reserved;
	uint8_t flags, bits2;	/* in_full/has_aligned; is_zero/retire_expire */
	uint64_t free;
	uint32_t used, xblock_size;
	uint64_t local_free;
	uint64_t xthread_free, xheap, next, prev, padding;
};

struct mi_page_secure {
	uint32_t slice_count, slice_offset;
	uint8_t bits;
	uint16_t capacity, reserved;
	uint8_t flags, bits2;
	uint64_t free;
	uint32_t used, xblock_size;
	uint64_t local_free;
	uint64_t keys[2];
	uint64_t xthread_free, xheap, next, prev, padding;
};

/* mi_segment_t up to its slices[MI_SLICES + 1]. */
struct mi_segment_head {
	uint64_t memid;
	uint8_t mem_is_pinned, mem_is_large, mem_is_committed;
	uint64_t mem_alignment, mem_align_offset;
	uint8_t allow_decommit;
	int64_t decommit_expire;
	uint64_t decommit_mask[MI_MASK_WORDS], commit_mask[MI_MASK_WORDS];
	uint64_t abandoned_next, next, abandoned, abandoned_visits, used, cookie;
	uint64_t segment_slices, segment_info_slices;
	int32_t kind;
	uint64_t slice_entries, thread_id;
};

/* What a page descriptor says, in either layout. */
struct page_view {
	uint32_t slice_count, slice_offset, used, xblock_size, capacity;
};

static void page_at(const unsigned char *slices, size_t i, bool secure, struct page_view *p)
{
	if (secure) {
		struct mi_page_secure q;

		memcpy(&q, slices + i * sizeof(q), sizeof(q));
		*p = (struct page_view){ q.slice_count, q.slice_offset, q.used, q.xblock_size,
					 q.capacity };
	} else {
		struct mi_page_plain q;

		memcpy(&q, slices + i * sizeof(q), sizeof(q));
		*p = (struct page_view){ q.slice_count, q.slice_offset, q.used, q.xblock_size,
					 q.capacity };
	}
}

static unsigned popcount_mask(const uint64_t *mask)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MI_MASK_WORDS; i++)
		n += (unsigned)__builtin_popcountll(mask[i]);
	return n;
}

static bool slice_committed(const struct mi_segment_head *h, size_t i)
{
	return h->mem_is_committed || i >= MI_SLICES ||
	       (h->commit_mask[i / 64] >> (i % 64) & 1);
}

/* The header alone: could this be a segment? */
static bool head_plausible(const struct mi_segment_head *h)
{
	if (h->kind == MI_NORMAL && h->segment_slices != MI_SLICES)
		return false;
	if (h->kind == MI_HUGE && (!h->segment_slices || h->segment_slices > MI_HUGE_MAX_SLICES))
		return false;
	return (h->kind == MI_NORMAL || h->kind == MI_HUGE) && h->slice_entries &&
	       h->slice_entries <= MI_SLICES && h->segment_info_slices &&
	       h->segment_info_slices <= 16 && h->used <= h->slice_entries &&
	       h->abandoned <= h->used;
}

/* Free committed slices, to ask pagemap which are in RAM. */
struct spans {
	struct span *v;
	size_t n, cap;
};

/* abandoned: the slice is in a segment no thread owns (counted apart). */
static void spans_add(struct spans *sp, uint64_t start, uint64_t len, bool abandoned)
{
	if (!sp)
		return;
	if (sp->n && sp->v[sp->n - 1].start + sp->v[sp->n - 1].len == start &&
	    sp->v[sp->n - 1].apart == abandoned) {
		sp->v[sp->n - 1].len += len;
		return;
	}
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? 2 * sp->cap : 64;
		struct span *v = realloc(sp->v, cap * sizeof(*v));

		if (!v)
			return;		/* residency then counts fewer: a smaller promise */
		sp->v = v;
		sp->cap = cap;
	}
	sp->v[sp->n++] = (struct span){ start, len, abandoned };
}

/* One segment's pages into st (its free committed slices into sp); false
 * when they do not tile the segment under this layout (nothing is added
 * then). */
static bool walk_pages(uint64_t seg, const struct mi_segment_head *h,
		       const unsigned char *slices, bool secure, struct mimalloc_state *st,
		       struct spans *sp)
{
	size_t first = sp ? sp->n : 0;
	struct mimalloc_state add = { 0 };
	struct page_view p;
	size_t i = 0;

	while (i < h->slice_entries) {
		uint64_t span, bsize;

		page_at(slices, i, secure, &p);
		if (!p.slice_count || p.slice_offset || i + p.slice_count > h->slice_entries + 1) {
			if (sp)
				sp->n = first;
			return false;
		}
		span = (uint64_t)p.slice_count * MI_SLICE_SIZE;
		if (p.xblock_size) {
			bsize = p.xblock_size < MI_HUGE_BLOCK ? p.xblock_size : span;
			if (p.used > p.capacity || (uint64_t)p.capacity * bsize > span + MI_SLICE_SIZE) {
				if (sp)
					sp->n = first;
				return false;
			}
			add.in_use += (uint64_t)p.used * bsize;
			add.page_capacity += (uint64_t)p.capacity * bsize;
			add.pages += p.used > 0;
		} else {
			for (size_t k = i; k < i + p.slice_count; k++) {
				if (!slice_committed(h, k))
					continue;
				add.free_slices += MI_SLICE_SIZE;
				spans_add(sp, seg + k * MI_SLICE_SIZE, MI_SLICE_SIZE,
					  h->thread_id == 0);
			}
		}
		i += p.slice_count;
	}
	st->in_use += add.in_use;
	st->page_capacity += add.page_capacity;
	st->pages += add.pages;
	st->free_slices += add.free_slices;
	return true;
}

static void add_segment(const struct mi_segment_head *h, struct mimalloc_state *st)
{
	uint64_t size = h->segment_slices * MI_SLICE_SIZE;

	st->segments++;
	st->huge_segments += h->kind == MI_HUGE;
	st->abandoned_segments += h->thread_id == 0;
	st->reserved += size;
	st->committed += h->mem_is_committed || h->kind == MI_HUGE ? size :
			 (uint64_t)popcount_mask(h->commit_mask) * MI_SLICE_SIZE;
	st->purge_pending += (uint64_t)popcount_mask(h->decommit_mask) * MI_SLICE_SIZE;
}

/* The 32 MiB boundaries inside anonymous writable mappings. */
static size_t candidates(const struct maps *m, uint64_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n && n < max; i++) {
		const struct mapping *map = &m->v[i];

		if (map->kind != MAPPING_ANON && map->kind != MAPPING_ARENA_HEAP)
			continue;
		if (!strchr(map->perms, 'w'))
			continue;
		for (uint64_t a = (map->start + MI_SEGMENT_SIZE - 1) & ~(MI_SEGMENT_SIZE - 1);
		     a + sizeof(struct mi_segment_head) <= map->end && n < max; a += MI_SEGMENT_SIZE)
			out[n++] = a;
	}
	return n;
}

/* The key most candidates share (cookie ^ address): the process's. */
static uint64_t common_key(const uint64_t *keys, size_t n)
{
	uint64_t best = 0;
	size_t best_n = 0;

	for (size_t i = 0; i < n; i++) {
		size_t c = 0;

		for (size_t j = 0; j < n; j++)
			c += keys[j] == keys[i];
		if (c > best_n) {
			best = keys[i];
			best_n = c;
		}
	}
	return best;
}

struct segment_read {
	uint64_t addr;
	struct mi_segment_head head;
	unsigned char *slices;	/* slice_entries + 1 descriptors of the larger layout */
};

static void segments_free(struct segment_read *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].slices);
	free(v);
}

/* Reads every plausible header and its descriptors; *n of them. */
static int read_candidates(struct target *t, const uint64_t *addr, size_t na,
			   struct segment_read **out, size_t *n, struct mimalloc_state *st,
			   struct error *err)
{
	struct segment_read *v = calloc(na ? na : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < na; i++) {
		struct segment_read *r = &v[k];
		size_t len;

		if (target_read_exact(t, addr[i], &r->head, sizeof(r->head), NULL) < 0 ||
		    !head_plausible(&r->head)) {
			st->rejected++;
			continue;
		}
		len = (r->head.slice_entries + 1) * sizeof(struct mi_page_secure);
		r->slices = malloc(len);
		if (!r->slices) {
			segments_free(v, k);
			return error_set(err, -ENOMEM, "out of memory");
		}
		/* The plain layout's array is a prefix of this read. */
		if (target_read_exact(t, addr[i] + sizeof(r->head), r->slices, len, NULL) < 0) {
			free(r->slices);
			r->slices = NULL;
			st->rejected++;
			continue;
		}
		r->addr = addr[i];
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Adds the segments that tile under the layout and carry the key; their
 * addresses into seg (when not NULL). */
static size_t tally(const struct segment_read *v, size_t n, uint64_t key, bool secure,
		    struct mimalloc_state *st, uint64_t *seg, struct spans *sp)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		if ((v[i].head.cookie ^ v[i].addr) != key ||
		    !walk_pages(v[i].addr, &v[i].head, v[i].slices, secure, st, sp))
			continue;
		add_segment(&v[i].head, st);
		if (seg)
			seg[ok] = v[i].addr;
		ok++;
	}
	return ok;
}

int mimalloc_segments_read(struct target *t, const struct maps *m, struct mimalloc_state *st,
			   uint64_t **seg, size_t *nseg, struct error *err)
{
	uint64_t *addr = malloc(MAX_CANDIDATES * sizeof(*addr)), *keys = NULL, key;
	struct segment_read *v = NULL;
	struct spans free_spans = { 0 };
	pid_t pid = t->pid;
	size_t na, n = 0;
	struct mimalloc_state plain = *st, secure = *st;
	int rc;

	if (!addr)
		return error_set(err, -ENOMEM, "out of memory");
	na = candidates(m, addr, MAX_CANDIDATES);
	rc = read_candidates(t, addr, na, &v, &n, st, err);
	if (rc < 0)
		goto out;
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		rc = error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		keys[i] = v[i].head.cookie ^ v[i].addr;
	key = common_key(keys, n);
	plain.rejected = secure.rejected = st->rejected;
	/* keys[] is no longer needed: it takes the addresses of the kept. */
	if (tally(v, n, key, true, &secure, NULL, NULL) > tally(v, n, key, false, &plain, NULL, NULL)) {
		*st = secure;
		st->layout = "2.0-secure";
	} else {
		*st = plain;
		st->layout = "2.0";
	}
	st->rejected += n - st->segments;
	tally(v, n, key, !strcmp(st->layout, "2.0-secure"), &(struct mimalloc_state){ 0 }, keys,
	      &free_spans);
	*seg = keys;
	*nseg = st->segments;
	keys = NULL;
	/* A count of pages in RAM, not a copy: fine while the target runs. */
	if (pagemap_resident(pid, free_spans.v, free_spans.n, 4096, &st->free_resident,
			     &st->free_resident_abandoned) < 0)
		st->free_resident = st->free_resident_abandoned = UNSET;
out:
	segments_free(v, n);
	free(free_spans.v);
	free(keys);
	free(addr);
	return rc;
}
