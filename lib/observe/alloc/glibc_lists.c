/* The free lists followed pointer by pointer: bins and fastbins (the trend
 * read, and the fastbins after a heap walk, from what the walk saw).  The
 * thread caches are in glibc_tcache.c. */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Bound on chunks an arena can hold: a list longer than this has a cycle. */
static uint64_t chunk_bound(struct snap *s, size_t i)
{
	return s->st->arenas[i].system_mem / MINSIZE + 1;
}

/* A list of n links that ended in NULL with no finding on the way: each
 * link decoded into the next chunk, which is safe-linking at work. */
void snap_note_safe_links(struct glibc_state *st, uint64_t n, uint64_t at, uint64_t stored,
			    const char *fmt, ...)
{
	struct glibc_safe_links *sl = &st->safe_links;
	va_list ap;

	if (!sl->links) {
		sl->at = at;
		sl->stored = stored;
		va_start(ap, fmt);
		vsnprintf(sl->list, sizeof(sl->list), fmt, ap);
		va_end(ap);
	}
	sl->links += n;
}

/* Each fastbin list, by fd.  After a heap walk (walked = true) the chunks
 * and their links come from what the walk saw, with no read of the target
 * (a fragmented heap can hold 100 000 fastbin chunks all over it); only a
 * chunk the walk did not see is read. */
int snap_walk_fastbins(struct snap *s, size_t i, bool walked)
{
	struct glibc_arena *ar = &s->st->arenas[i];

	for (unsigned b = 0; b < s->L->nfastbins; b++) {
		uint64_t p = glibc_get_at(snap_arena_hdr(s, i), &s->L->ms[MS_FASTBINS], b);
		uint64_t n = 0, link = 0, stored = 0;
		unsigned findings = s->st->nfindings;

		for (; p; n++) {
			uint64_t hdr[3], size;
			ssize_t seen;
			int rc;

			if ((p & (MALLOC_ALIGN - 1)) || !snap_in_regions(s, p)) {
				snap_finding(s, p, "fastbin %u of arena %#llx: chunk outside its heaps",
					b, (unsigned long long)ar->addr);
				break;
			}
			if (n > chunk_bound(s, i)) {
				snap_finding(s, p, "fastbin %u of arena %#llx: endless list (a cycle)",
					b, (unsigned long long)ar->addr);
				break;
			}
			seen = walked ? addrset_find(&s->fast_candidates, p) : -1;
			if (seen >= 0) {
				hdr[1] = s->fast_candidates.size[seen];
				hdr[2] = s->fast_candidates.fd[seen];
			} else {
				if (s->rc->reads > s->read_budget)
					return -E2BIG;
				rc = rcache_read(s->rc, p, hdr, sizeof(hdr), s->err);
				if (rc < 0)
					return rc;
			}
			size = hdr[1] & ~(uint64_t)SIZE_BITS;
			if ((size >> 4) - 2 != b)
				snap_finding(s, p, "fastbin %u holds a chunk of size %llu", b,
					(unsigned long long)size);
			ar->fastbin_chunks++;
			ar->fastbin_bytes += size;
			if (walked) {
				if (seen >= 0)
					snap_census_move_to_free(s->st, size);
				ar->largest_free = MAX(ar->largest_free, size);
				/* Consolidation merges it into the top: it
				 * holds nothing up. */
				if (p == ar->below_top)
					ar->below_top = ar->below_top_size = ar->below_top_free = 0;
			}
			link = p + 16;
			stored = hdr[2];
			p = hdr[2] ^ ((p + 16) >> 12);		/* safe-linking */
		}
		if (walked && n && !p && s->st->nfindings == findings)
			snap_note_safe_links(s->st, n, link, stored, "fastbin %u of arena %#llx", b,
					(unsigned long long)ar->addr);
	}
	return 0;
}

/* The bins walked as lists, by bk as int_mallinfo does (for the trend
 * read, and for a main arena that is not one contiguous region). */
int snap_walk_bins(struct snap *s, size_t i)
{
	struct glibc_arena *ar = &s->st->arenas[i];

	for (unsigned b = 1; b < s->L->nbins; b++) {
		uint64_t head = snap_bin_head(s, i, b);
		uint64_t p = glibc_get_at(snap_arena_hdr(s, i), &s->L->ms[MS_BINS], 2 * (b - 1) + 1);

		for (uint64_t n = 0; p != head; n++) {
			uint64_t size, bk;
			int rc;

			if ((p & (MALLOC_ALIGN - 1)) || (!snap_in_regions(s, p) && s->nregions) || !p) {
				snap_finding(s, p, "bin %u of arena %#llx: chunk outside its heaps",
					b, (unsigned long long)ar->addr);
				break;
			}
			if (n > chunk_bound(s, i)) {
				snap_finding(s, p, "bin %u of arena %#llx: endless list (a cycle)",
					b, (unsigned long long)ar->addr);
				break;
			}
			if (s->rc->reads > s->read_budget)
				return -E2BIG;
			rc = rcache_u64(s->rc, p + 8, &size, s->err);
			if (rc == 0)
				rc = rcache_u64(s->rc, p + 24, &bk, s->err);
			if (rc < 0)
				return rc;
			size &= ~(uint64_t)SIZE_BITS;
			ar->bin_chunks++;
			ar->bin_bytes += size;
			ar->largest_free = MAX(ar->largest_free, size);
			p = bk;
		}
	}
	return 0;
}
