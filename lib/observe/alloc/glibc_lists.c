/* The free lists followed pointer by pointer: bins and fastbins (the light
 * read, and the fastbins after a heap walk, from what the walk saw), and
 * every thread's tcache. */
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
static void note_safe_links(struct glibc_state *st, uint64_t n, uint64_t at, uint64_t stored,
			    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void note_safe_links(struct glibc_state *st, uint64_t n, uint64_t at, uint64_t stored,
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
			note_safe_links(s->st, n, link, stored, "fastbin %u of arena %#llx", b,
					(unsigned long long)ar->addr);
	}
	return 0;
}

/* The bins walked as lists, by bk as int_mallinfo does (for the light
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

uint64_t snap_tls_word(struct snap *s, uint64_t fs_base, int64_t tpoff, int *rc)
{
	uint64_t v = 0;

	*rc = target_read_exact(s->t, fs_base + (uint64_t)tpoff, &v, sizeof(v), s->err);
	return v;
}

/* One thread's tcache: every list walked, each chunk marked as cached. */
uint64_t snap_fnv1a(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static int walk_tcache(struct snap *s, struct glibc_tcache *tc)
{
	const struct glibc_layout *L = s->L;
	unsigned char buf[4096];
	int rc;

	if (L->tcache_size > sizeof(buf) || !snap_in_regions(s, tc->addr - CHUNK_HDR)) {
		snap_finding(s, tc->addr, "thread %d: tcache outside every heap", (int)tc->tid);
		return 0;
	}
	rc = target_read_exact(s->t, tc->addr, buf, L->tcache_size, s->err);
	if (rc < 0)
		return rc == -EFAULT ? 0 : rc;
	s->tc_print[tc - s->st->tcaches] = snap_fnv1a(buf, L->tcache_size);
	for (unsigned b = 0; b < L->tcache_bins; b++) {
		uint64_t count = glibc_get_at(buf, &L->tc[TC_COUNTS], b);
		uint64_t e = glibc_get_at(buf, &L->tc[TC_ENTRIES], b);
		uint64_t n = 0, link = 0, stored = 0;
		unsigned findings = s->st->nfindings;

		for (; e && n <= count; n++) {
			uint64_t size, next;

			if ((e & (MALLOC_ALIGN - 1)) || !snap_in_regions(s, e - CHUNK_HDR)) {
				snap_finding(s, e, "thread %d: tcache bin %u points outside the heaps",
					(int)tc->tid, b);
				break;
			}
			rc = rcache_u64(s->rc, e - 8, &size, s->err);
			if (rc == 0)
				rc = rcache_u64(s->rc, e, &next, s->err);
			if (rc < 0)
				return rc;
			size &= ~(uint64_t)SIZE_BITS;
			if (size != (uint64_t)b * MALLOC_ALIGN + MINSIZE)
				snap_finding(s, e, "thread %d: tcache bin %u holds a chunk of size %llu",
					(int)tc->tid, b, (unsigned long long)size);
			tc->chunks++;
			tc->bytes += size;
			if (addrset_put(&s->marks, e - CHUNK_HDR, MARK_CACHED) < 0)
				return error_set(s->err, -ENOMEM, "out of memory");
			link = e;
			stored = next;
			e = next ^ (e >> 12);			/* safe-linking */
		}
		if (n && !e && n == count && s->st->nfindings == findings)
			note_safe_links(s->st, n, link, stored, "tcache bin %u of thread %d", b,
					(int)tc->tid);
		/* A thread stopped inside tcache_put/get (no lock guards them)
		 * leaves the count and the list one apart: retry. */
		if (n != count)
			s->tcache_unsettled = true;
	}
	return 0;
}

int snap_read_tcaches(struct snap *s)
{
	struct glibc_state *st = s->st;
	const struct glibc_symbols *gs = &s->r->gs;
	int rc;

	s->tcache_unsettled = false;
	st->ntcaches = 0;
	memset(&st->safe_links, 0, sizeof(st->safe_links));	/* walked again */
	st->tcache_known = gs->tcache_tpoff != INT64_MIN && s->L->tcache_size;
	if (!st->tcache_known)
		return 0;
	free(st->tcaches);
	free(s->tc_print);
	st->tcaches = calloc(s->t->nthreads ? s->t->nthreads : 1, sizeof(*st->tcaches));
	s->tc_print = calloc(s->t->nthreads ? s->t->nthreads : 1, sizeof(*s->tc_print));
	if (!st->tcaches || !s->tc_print)
		return error_set(s->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < s->t->nthreads; i++) {
		struct glibc_tcache *tc = &st->tcaches[st->ntcaches];
		struct user_regs_struct regs;

		if (!s->t->threads[i].stopped)
			continue;
		rc = target_get_regs(s->t, s->t->threads[i].tid, &regs, s->err);
		if (rc == -ESRCH)
			continue;	/* that thread exited */
		if (rc < 0)
			return rc;
		tc->tid = s->t->threads[i].tid;
		st->ntcaches++;
		tc->addr = snap_tls_word(s, regs.fs_base, gs->tcache_tpoff, &rc);
		if (rc < 0)
			continue;
		if (gs->thread_arena_tpoff != INT64_MIN)
			tc->arena = snap_tls_word(s, regs.fs_base, gs->thread_arena_tpoff, &rc);
		if (tc->addr) {
			rc = walk_tcache(s, tc);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* The light read: bins and fastbins as lists, within the read budget;
 * -E2BIG when they are longer than that. */
int snap_walk_lists(struct snap *s)
{
	int rc = 0;

	for (size_t i = 0; i < s->st->narenas && s->st->initialized && rc == 0; i++) {
		rc = snap_walk_bins(s, i);
		if (rc == 0)
			rc = snap_walk_fastbins(s, i, false);
	}
	return rc;
}

void snap_forget_list_walks(struct glibc_state *st)
{
	for (size_t i = 0; i < st->narenas; i++) {
		struct glibc_arena *ar = &st->arenas[i];

		ar->bin_chunks = ar->bin_bytes = 0;
		ar->fastbin_chunks = ar->fastbin_bytes = 0;
		ar->largest_free = 0;
	}
}
