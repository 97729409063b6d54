/* glibc malloc state, snapshot then walk (see glibc.h for the plan).
 *
 * The walk follows glibc 2.36's own accounting:
 *  - int_mallinfo: avail = top + fastbins + bins, one block per bin chunk
 *    plus the top; uordblks = system_mem - avail; hblks/hblkhd from mp_;
 *    keepcost = the main arena's top.
 *  - In a consistent heap (every arena mutex free) the chunks on the bins
 *    are exactly the free chunks whose successor has PREV_INUSE clear, so
 *    the boundary-tag walk of the copied heap counts them without chasing
 *    one pointer per chunk through the target.  Fastbin and tcache chunks
 *    look in use from the boundary tags: their lists are walked.
 *  - mtrim (malloc_trim): malloc_consolidate first merges fastbin chunks
 *    with free neighbours (into the top when adjacent); then every free
 *    chunk bigger than a page plus its header gives back its whole pages
 *    past the first page boundary after chunk + sizeof(struct malloc_chunk);
 *    then, main arena only, systrim(0) gives back the top above MINSIZE,
 *    rounded down to pages.  Non-main tops are not trimmed by malloc_trim.
 */
#include "observe/alloc/glibc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "observe/alloc/glibc_io.h"
#include "observe/alloc/glibc_layout.h"
#include "base/util.h"

#define CHUNK_HDR	16		/* prev_size + size */
#define MINSIZE		32
#define MALLOC_ALIGN	16
#define PREV_INUSE	1
#define SIZE_BITS	7
#define NONCONTIGUOUS	2		/* malloc_state.flags */
#define MALLOC_CHUNK_SZ	48		/* sizeof(struct malloc_chunk) */
#define MAX_FAST_CHUNK	160		/* fastbin chunks are at most MAX_FAST_SIZE + header */
#define DEFAULT_HEAP_MAX (64ULL << 20)	/* HEAP_MAX_SIZE on 64-bit */

#define MAX_TRIES	50		/* stops before giving up on free mutexes */
#define RETRY_NS	2000000		/* how long the target runs between tries */
#define MAX_ARENAS	4096
#define MAX_HEAPS	65536		/* per arena: 4 TiB of 64 MiB heaps */
#define SMALL_WINDOW	(64 << 10)	/* read after jumping over a huge chunk */
/* The light read follows the free lists a page at a time; past this many
 * pages (4 MiB) copying the heaps in windows is the cheaper way. */
#define LIGHT_READ_BUDGET 1024

/* ---- the census ------------------------------------------------------------ */

/* Class c holds [2^(c+5), 2^(c+6)). */
static unsigned census_class(uint64_t size)
{
	unsigned log2 = 63 - (unsigned)__builtin_clzll(size | 1);

	return log2 < 5 ? 0 : MIN(log2 - 5, GLIBC_CENSUS_CLASSES - 1);
}

static void census_add(struct glibc_state *st, uint64_t size, enum mark kind, bool free_chunk)
{
	struct glibc_size_class *k = &st->census[census_class(size)];

	if (free_chunk) {
		k->free_chunks++;
		k->free_bytes += size;
	} else if (kind == MARK_CACHED) {
		k->cached_chunks++;
		k->cached_bytes += size;
	} else {
		k->used_chunks++;
		k->used_bytes += size;
	}
}

/* ---- the snapshot --------------------------------------------------------- */

/* A stretch of address space holding one arena's chunks. */
struct region {
	uint64_t start, end;		/* first chunk, end of the heap */
	size_t arena;
};

struct snap {
	struct glibc_reader *r;
	const struct glibc_layout *L;
	struct target *t;
	struct glibc_state *st;
	struct error *err;
	struct rcache *rc;
	unsigned char *mp;		/* copy of mp_ */
	unsigned char *hdrs;		/* copies of the arena headers */
	size_t hdrs_cap;
	struct region *regions;
	size_t nregions, regions_cap;
	struct addrset marks;		/* tcache chunks (and fastbin ones, light read) */
	struct addrset fast_candidates;	/* in-use-looking chunks of fastbin sizes */
	bool *arena_has_fastbins;
	struct span *trim_spans;	/* what malloc_trim(0) would release */
	size_t ntrim_spans, trim_spans_cap;
	uint64_t read_budget;		/* page reads the list walks may make */
	uint64_t heap_max;
	bool tcache_unsettled;		/* a list disagreed with its count */
	uint64_t *tc_print;		/* per st->tcaches[i]: FNV-1a of its struct */
	/* the window of the heap walk */
	struct readahead *ra;
	uint64_t win_base;
	size_t win_len;
};

static void finding(struct snap *s, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void finding(struct snap *s, uint64_t addr, const char *fmt, ...)
{
	struct glibc_state *st = s->st;
	va_list ap;

	st->corrupt = true;
	if (st->nfindings++ >= GLIBC_MAX_FINDINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(st->findings[st->nfindings - 1].what,
		  sizeof(st->findings[0].what), fmt, ap);
	va_end(ap);
	st->findings[st->nfindings - 1].addr = addr;
}

static unsigned char *arena_hdr(struct snap *s, size_t i)
{
	return s->hdrs + i * s->L->state_size;
}

static uint64_t ms(struct snap *s, size_t i, int member)
{
	return glibc_get(arena_hdr(s, i), &s->L->ms[member]);
}

static uint64_t mpv(struct snap *s, int member)
{
	return glibc_get(s->mp, &s->L->mp[member]);
}

static bool in_regions(const struct snap *s, uint64_t addr)
{
	for (size_t i = 0; i < s->nregions; i++)
		if (addr >= s->regions[i].start && addr < s->regions[i].end)
			return true;
	return false;
}

/* The pseudo-chunk heading bin i (1-based) of arena a: &bins[2(i-1)] - 16. */
static uint64_t bin_head(struct snap *s, size_t a, unsigned i)
{
	return s->st->arenas[a].addr + s->L->ms[MS_BINS].off + (uint64_t)(i - 1) * 16 - 16;
}

static bool is_bin_head(struct snap *s, size_t a, uint64_t p)
{
	uint64_t first = bin_head(s, a, 1), last = bin_head(s, a, s->L->nbins - 1);

	return p >= first && p <= last && !((p - first) & 15);
}

static int add_region(struct snap *s, uint64_t start, uint64_t end, size_t arena)
{
	if (s->nregions == s->regions_cap) {
		size_t cap = s->regions_cap ? 2 * s->regions_cap : 16;
		struct region *v = realloc(s->regions, cap * sizeof(*v));

		if (!v)
			return error_set(s->err, -ENOMEM, "out of memory");
		s->regions = v;
		s->regions_cap = cap;
	}
	s->regions[s->nregions++] = (struct region){ start, end, arena };
	return 0;
}

static void read_params(struct snap *s)
{
	struct glibc_mp *mp = &s->st->mp;

	mp->trim_threshold = mpv(s, MP_TRIM_THRESHOLD);
	mp->top_pad = mpv(s, MP_TOP_PAD);
	mp->mmap_threshold = mpv(s, MP_MMAP_THRESHOLD);
	mp->arena_test = mpv(s, MP_ARENA_TEST);
	mp->arena_max = mpv(s, MP_ARENA_MAX);
	mp->thp_pagesize = mpv(s, MP_THP_PAGESIZE);
	mp->hp_pagesize = mpv(s, MP_HP_PAGESIZE);
	mp->tcache_count = s->L->mp[MP_TCACHE_COUNT].off >= 0 ? mpv(s, MP_TCACHE_COUNT) : UNSET;
	mp->tcache_max_bytes = s->L->mp[MP_TCACHE_MAX_BYTES].off >= 0 ?
			       mpv(s, MP_TCACHE_MAX_BYTES) : UNSET;
	mp->n_mmaps = mpv(s, MP_N_MMAPS);
	mp->n_mmaps_max = mpv(s, MP_N_MMAPS_MAX);
	mp->max_n_mmaps = mpv(s, MP_MAX_N_MMAPS);
	mp->mmapped_mem = mpv(s, MP_MMAPPED_MEM);
	mp->max_mmapped_mem = mpv(s, MP_MAX_MMAPPED_MEM);
	mp->sbrk_base = mpv(s, MP_SBRK_BASE);
	mp->no_dyn_threshold = mpv(s, MP_NO_DYN_THRESHOLD) != 0;
	/* HEAP_MAX_SIZE is 4 huge pages when glibc.malloc.hugetlb is on. */
	s->heap_max = mp->hp_pagesize ? 4 * mp->hp_pagesize : DEFAULT_HEAP_MAX;
}

static int grow_arenas(struct snap *s, size_t n)
{
	struct glibc_state *st = s->st;

	if (n <= s->hdrs_cap)
		return 0;
	size_t cap = s->hdrs_cap ? 2 * s->hdrs_cap : 8;
	unsigned char *h = realloc(s->hdrs, cap * s->L->state_size);
	struct glibc_arena *a;

	if (!h)
		return error_set(s->err, -ENOMEM, "out of memory");
	s->hdrs = h;
	a = realloc(st->arenas, cap * sizeof(*a));
	if (!a)
		return error_set(s->err, -ENOMEM, "out of memory");
	st->arenas = a;
	s->hdrs_cap = cap;
	return 0;
}

/* mp_, __malloc_initialized, and the ring of arena headers.  Returns the
 * number of arenas whose mutex is held, or a negative errno. */
static int read_headers(struct snap *s)
{
	struct glibc_reader *r = s->r;
	struct glibc_state *st = s->st;
	uint64_t a = r->gs.main_arena;
	int held = 0, rc;

	rc = target_read_exact(s->t, r->gs.mp, s->mp, s->L->par_size, s->err);
	if (rc < 0)
		return rc;
	read_params(s);
	st->initialized = true;
	if (r->gs.initialized) {
		uint64_t v = 0;

		rc = target_read_exact(s->t, r->gs.initialized, &v, r->gs.initialized_size, s->err);
		if (rc < 0)
			return rc;
		st->initialized = v != 0;
	}
	st->narenas = 0;
	for (;;) {
		struct glibc_arena *ar;

		rc = grow_arenas(s, st->narenas + 1);
		if (rc < 0)
			return rc;
		rc = target_read_exact(s->t, a, arena_hdr(s, st->narenas), s->L->state_size, s->err);
		if (rc < 0)
			return rc;
		ar = &st->arenas[st->narenas];
		memset(ar, 0, sizeof(*ar));
		ar->addr = a;
		ar->main = st->narenas == 0;
		ar->mutex_held = ms(s, st->narenas, MS_MUTEX) != 0;
		held += ar->mutex_held;
		st->narenas++;
		a = ms(s, st->narenas - 1, MS_NEXT);
		if (a == r->gs.main_arena)
			break;
		if (!a || (a & 7) || st->narenas >= MAX_ARENAS) {
			finding(s, a, "arena list: bad next pointer after arena %#llx",
				(unsigned long long)ar->addr);
			break;
		}
		for (size_t i = 0; i < st->narenas; i++)
			if (st->arenas[i].addr == a) {
				finding(s, a, "arena list: a cycle that does not pass through main_arena");
				return held;
			}
	}
	return held;
}

/* The size of arena i's top chunk.  Before the first allocation the top is
 * the unsorted bin's pseudo-chunk inside the arena itself (size 0). */
static int top_size(struct snap *s, size_t i, uint64_t *size)
{
	struct glibc_arena *ar = &s->st->arenas[i];
	uint64_t top = ms(s, i, MS_TOP), raw;
	int rc;

	ar->top = top;
	*size = 0;
	if (!top)
		return 0;
	if (top >= ar->addr && top + CHUNK_HDR <= ar->addr + s->L->state_size) {
		memcpy(&raw, arena_hdr(s, i) + (top - ar->addr) + 8, 8);
		*size = raw & ~(uint64_t)SIZE_BITS;
		return 0;
	}
	if (top & (MALLOC_ALIGN - 1)) {
		finding(s, top, "arena %#llx: misaligned top chunk", (unsigned long long)ar->addr);
		return 0;
	}
	rc = rcache_u64(s->rc, top + 8, &raw, s->err);
	if (rc == -EFAULT) {
		finding(s, top, "arena %#llx: top chunk is not mapped", (unsigned long long)ar->addr);
		return 0;
	}
	if (rc < 0)
		return rc;
	*size = raw & ~(uint64_t)SIZE_BITS;
	return 0;
}

/* The first chunk after a header of hdr_size bytes at base: chunk2mem
 * aligned to MALLOC_ALIGNMENT, as sysmalloc and _int_new_arena place it. */
static uint64_t first_chunk_after(uint64_t base, uint64_t hdr_size)
{
	uint64_t p = base + hdr_size;
	uint64_t mis = (p + CHUNK_HDR) & (MALLOC_ALIGN - 1);

	return mis ? p + MALLOC_ALIGN - mis : p;
}

/* Arena i's regions: the brk heap for the main arena, the heap_info chain
 * for the others. */
static int find_regions(struct snap *s, size_t i)
{
	struct glibc_arena *ar = &s->st->arenas[i];
	const struct glibc_layout *L = s->L;
	uint64_t h, sum = 0;
	int rc;

	rc = top_size(s, i, &ar->top_size);
	if (rc < 0)
		return rc;
	if (!ar->top_size)
		return 0;
	if (ar->main) {
		uint64_t start = s->st->mp.sbrk_base;

		if (ms(s, i, MS_FLAGS) & NONCONTIGUOUS)
			return 0;	/* no single region: the bins are walked as lists */
		if (!start || start > ar->top) {
			finding(s, start, "main arena: sbrk_base is not below the top chunk");
			return 0;
		}
		return add_region(s, first_chunk_after(start, 0), ar->top + ar->top_size, i);
	}
	h = ar->top & ~(s->heap_max - 1);
	for (unsigned n = 0; h; n++) {
		unsigned char hi[128];
		uint64_t size, prev, start;

		if (n >= MAX_HEAPS || L->heap_info_size > sizeof(hi)) {
			finding(s, h, "arena %#llx: heap list too long (a cycle?)",
				(unsigned long long)ar->addr);
			break;
		}
		rc = target_read_exact(s->t, h, hi, L->heap_info_size, s->err);
		if (rc == -EFAULT) {
			finding(s, h, "arena %#llx: heap_info not mapped", (unsigned long long)ar->addr);
			break;
		}
		if (rc < 0)
			return rc;
		size = glibc_get(hi, &L->hi[HI_SIZE]);
		prev = glibc_get(hi, &L->hi[HI_PREV]);
		if (glibc_get(hi, &L->hi[HI_AR_PTR]) != ar->addr || size > s->heap_max ||
		    size < L->heap_info_size || (prev & (s->heap_max - 1))) {
			finding(s, h, "arena %#llx: heap_info does not belong to it",
				(unsigned long long)ar->addr);
			break;
		}
		start = first_chunk_after(h, L->heap_info_size);
		if (ar->addr >= h && ar->addr < h + size)	/* the arena's first heap */
			start = first_chunk_after(ar->addr, L->state_size);
		rc = add_region(s, start, h + size, i);
		if (rc < 0)
			return rc;
		ar->heaps++;
		sum += size;
		h = prev;
	}
	if (sum != ar->system_mem && !s->st->corrupt)
		finding(s, ar->addr, "arena %#llx: heaps hold %llu bytes, system_mem says %llu",
			(unsigned long long)ar->addr, (unsigned long long)sum,
			(unsigned long long)ar->system_mem);
	return 0;
}

static void arena_basics(struct snap *s, size_t i)
{
	struct glibc_arena *ar = &s->st->arenas[i];

	ar->system_mem = ms(s, i, MS_SYSTEM_MEM);
	ar->max_system_mem = ms(s, i, MS_MAX_SYSTEM_MEM);
	ar->attached_threads = ms(s, i, MS_ATTACHED_THREADS);
}

/* Bound on chunks an arena can hold: a list longer than this has a cycle. */
static uint64_t chunk_bound(struct snap *s, size_t i)
{
	return s->st->arenas[i].system_mem / MINSIZE + 1;
}

/* What a fastbin chunk was seen as by the heap walk until now: in use. */
static void census_move_to_free(struct glibc_state *st, uint64_t size)
{
	unsigned c = census_class(size);

	if (st->census[c].used_chunks) {
		st->census[c].used_chunks--;
		st->census[c].used_bytes -= size;
	}
	st->census[c].free_chunks++;
	st->census[c].free_bytes += size;
	if (size < 1024) {
		st->free_small_chunks++;
		st->free_small_bytes += size;
	} else {
		st->free_large_chunks++;
		st->free_large_bytes += size;
	}
}

/* Each fastbin list, by fd.  After a heap walk (walked = true) the chunks
 * and their links come from what the walk saw, with no read of the target
 * (a fragmented heap can hold 100 000 fastbin chunks all over it); only a
 * chunk the walk did not see is read. */
static int walk_fastbins(struct snap *s, size_t i, bool walked)
{
	struct glibc_arena *ar = &s->st->arenas[i];

	for (unsigned b = 0; b < s->L->nfastbins; b++) {
		uint64_t p = glibc_get_at(arena_hdr(s, i), &s->L->ms[MS_FASTBINS], b);

		for (uint64_t n = 0; p; n++) {
			uint64_t hdr[3], size;
			ssize_t seen;
			int rc;

			if ((p & (MALLOC_ALIGN - 1)) || !in_regions(s, p)) {
				finding(s, p, "fastbin %u of arena %#llx: chunk outside its heaps",
					b, (unsigned long long)ar->addr);
				break;
			}
			if (n > chunk_bound(s, i)) {
				finding(s, p, "fastbin %u of arena %#llx: endless list (a cycle)",
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
				finding(s, p, "fastbin %u holds a chunk of size %llu", b,
					(unsigned long long)size);
			ar->fastbin_chunks++;
			ar->fastbin_bytes += size;
			if (walked) {
				if (seen >= 0)
					census_move_to_free(s->st, size);
				ar->largest_free = MAX(ar->largest_free, size);
				/* Consolidation merges it into the top: it
				 * holds nothing up. */
				if (p == ar->below_top)
					ar->below_top = ar->below_top_size = ar->below_top_free = 0;
			}
			p = hdr[2] ^ ((p + 16) >> 12);		/* safe-linking */
		}
	}
	return 0;
}

/* The bins walked as lists, by bk as int_mallinfo does (for the light
 * read, and for a main arena that is not one contiguous region). */
static int walk_bins(struct snap *s, size_t i)
{
	struct glibc_arena *ar = &s->st->arenas[i];

	for (unsigned b = 1; b < s->L->nbins; b++) {
		uint64_t head = bin_head(s, i, b);
		uint64_t p = glibc_get_at(arena_hdr(s, i), &s->L->ms[MS_BINS], 2 * (b - 1) + 1);

		for (uint64_t n = 0; p != head; n++) {
			uint64_t size, bk;
			int rc;

			if ((p & (MALLOC_ALIGN - 1)) || (!in_regions(s, p) && s->nregions) || !p) {
				finding(s, p, "bin %u of arena %#llx: chunk outside its heaps",
					b, (unsigned long long)ar->addr);
				break;
			}
			if (n > chunk_bound(s, i)) {
				finding(s, p, "bin %u of arena %#llx: endless list (a cycle)",
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

static uint64_t tls_word(struct snap *s, uint64_t fs_base, int64_t tpoff, int *rc)
{
	uint64_t v = 0;

	*rc = target_read_exact(s->t, fs_base + (uint64_t)tpoff, &v, sizeof(v), s->err);
	return v;
}

/* One thread's tcache: every list walked, each chunk marked as cached. */
static uint64_t fnv1a(const void *p, size_t len)
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

	if (L->tcache_size > sizeof(buf) || !in_regions(s, tc->addr - CHUNK_HDR)) {
		finding(s, tc->addr, "thread %d: tcache outside every heap", (int)tc->tid);
		return 0;
	}
	rc = target_read_exact(s->t, tc->addr, buf, L->tcache_size, s->err);
	if (rc < 0)
		return rc == -EFAULT ? 0 : rc;
	s->tc_print[tc - s->st->tcaches] = fnv1a(buf, L->tcache_size);
	for (unsigned b = 0; b < L->tcache_bins; b++) {
		uint64_t count = glibc_get_at(buf, &L->tc[TC_COUNTS], b);
		uint64_t e = glibc_get_at(buf, &L->tc[TC_ENTRIES], b);
		uint64_t n = 0;

		for (; e && n <= count; n++) {
			uint64_t size, next;

			if ((e & (MALLOC_ALIGN - 1)) || !in_regions(s, e - CHUNK_HDR)) {
				finding(s, e, "thread %d: tcache bin %u points outside the heaps",
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
				finding(s, e, "thread %d: tcache bin %u holds a chunk of size %llu",
					(int)tc->tid, b, (unsigned long long)size);
			tc->chunks++;
			tc->bytes += size;
			if (addrset_put(&s->marks, e - CHUNK_HDR, MARK_CACHED) < 0)
				return error_set(s->err, -ENOMEM, "out of memory");
			e = next ^ (e >> 12);			/* safe-linking */
		}
		/* A thread stopped inside tcache_put/get (no lock guards them)
		 * leaves the count and the list one apart: retry. */
		if (n != count)
			s->tcache_unsettled = true;
	}
	return 0;
}

static int read_tcaches(struct snap *s)
{
	struct glibc_state *st = s->st;
	const struct glibc_symbols *gs = &s->r->gs;
	int rc;

	s->tcache_unsettled = false;
	st->ntcaches = 0;
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
		tc->addr = tls_word(s, regs.fs_base, gs->tcache_tpoff, &rc);
		if (rc < 0)
			continue;
		if (gs->thread_arena_tpoff != INT64_MIN)
			tc->arena = tls_word(s, regs.fs_base, gs->thread_arena_tpoff, &rc);
		if (tc->addr) {
			rc = walk_tcache(s, tc);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the boundary-tag walk of one region, window by window -------------- */

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

struct run {			/* adjacent free chunks malloc_consolidate would merge */
	uint64_t start, len;
};

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
static void trim_span(struct snap *s, uint64_t start, uint64_t len)
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
	s->trim_spans[s->ntrim_spans++] = (struct span){ start, len };
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
		trim_span(s, (run->start + MALLOC_CHUNK_SZ + page - 1) & ~(page - 1), pages);
	}
	run->len = 0;
}

/* A free chunk on a bin: its footer and links must make sense. */
static void check_free_chunk(struct snap *s, size_t ai, uint64_t p, const uint64_t *w,
			     uint64_t next_prev_size)
{
	uint64_t size = w[1] & ~(uint64_t)SIZE_BITS;

	if (next_prev_size != size)
		finding(s, p, "free chunk of size %llu: footer says %llu",
			(unsigned long long)size, (unsigned long long)next_prev_size);
	for (int k = 2; k <= 3; k++)
		if ((w[k] & (MALLOC_ALIGN - 1)) ||
		    (!in_regions(s, w[k]) && !is_bin_head(s, ai, w[k]))) {
			finding(s, p, "free chunk: %s pointer %#llx leads nowhere",
				k == 2 ? "fd" : "bk", (unsigned long long)w[k]);
			break;
		}
}

/* Could this in-use-looking chunk be on a fastbin?  Its decoded fd must be
 * NULL or another chunk: application data rarely is, so few are kept. */
static bool fd_plausible(const struct snap *s, uint64_t p, uint64_t raw_fd)
{
	uint64_t next = raw_fd ^ ((p + 16) >> 12);

	return !next || (!(next & (MALLOC_ALIGN - 1)) && in_regions(s, next));
}

/* Walks the chunks of one region; returns the free run that touches the
 * top (to be merged into it), or 0. */
static int walk_region(struct snap *s, const struct region *rg, uint64_t *run_into_top)
{
	struct glibc_state *st = s->st;
	struct glibc_arena *ar = &st->arenas[rg->arena];
	uint64_t p = rg->start, limit = (rg->end - rg->start) / CHUNK_HDR + 2;
	struct run run = { 0 };
	/* The last chunk that is not free, and the free run right below it. */
	struct { uint64_t p, size, free_below; bool cached; } held = { 0 };
	/* Copy up to the top's header, not the top: it can be huge, and
	 * reading pages the process never touched maps them (to the zero
	 * page) in its page tables. */
	uint64_t copy_end = ar->top >= rg->start && ar->top < rg->end ?
			    ar->top + CHUNK_HDR : rg->end;
	int rc = 0;

	*run_into_top = 0;
	for (uint64_t n = 0; p < rg->end; n++) {
		const unsigned char *cp;
		uint64_t w[4], size, next_hdr[2], nx;
		enum mark kind;
		bool is_free;

		if (p == ar->top) {
			*run_into_top = run.len;
			if (!run.len && held.p) {
				ar->below_top = held.p;
				ar->below_top_size = held.size;
				ar->below_top_free = held.free_below;
				ar->below_top_cached = held.cached;
			}
			return 0;
		}
		if (n > limit) {
			finding(s, p, "heap %#llx-%#llx: more chunks than fit (a loop?)",
				(unsigned long long)rg->start, (unsigned long long)rg->end);
			break;
		}
		cp = window_at(s, p, MIN(sizeof(w), rg->end - p), copy_end, &rc);
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
			held.p = 0;
			run_close(s, ar, &run);
			p += CHUNK_HDR;
			continue;
		}
		if (size < MINSIZE || (size & (MALLOC_ALIGN - 1)) || size > rg->end - p) {
			finding(s, p, "chunk with impossible size %#llx (heap %#llx-%#llx)",
				(unsigned long long)w[1], (unsigned long long)rg->start,
				(unsigned long long)rg->end);
			break;
		}
		nx = p + size;
		if (nx + CHUNK_HDR > rg->end) {
			finding(s, p, "chunk runs to the end of its heap: no top, no fencepost");
			break;
		}
		cp = window_at(s, nx, CHUNK_HDR, copy_end, &rc);
		if (!cp)
			goto bad_read;
		memcpy(next_hdr, cp, sizeof(next_hdr));
		kind = addrset_get(&s->marks, p);
		is_free = !(next_hdr[1] & PREV_INUSE);
		if (!is_free && kind == MARK_NONE && size <= MAX_FAST_CHUNK &&
		    s->arena_has_fastbins[rg->arena] && fd_plausible(s, p, w[2]) &&
		    addrset_put_full(&s->fast_candidates, p, MARK_FAST, w[2], (uint32_t)w[1]) < 0)
			return error_set(s->err, -ENOMEM, "out of memory");
		if (is_free) {
			check_free_chunk(s, rg->arena, p, w, next_hdr[0]);
			ar->bin_chunks++;
			ar->bin_bytes += size;
		}
		if (is_free || kind == MARK_FAST) {
			ar->largest_free = MAX(ar->largest_free, size);
			if (size < 1024) {
				st->free_small_chunks++;
				st->free_small_bytes += size;
			} else {
				st->free_large_chunks++;
				st->free_large_bytes += size;
			}
			if (!run.len)
				run.start = p;
			run.len += size;
		} else {
			held.p = p;
			held.size = size;
			held.free_below = run.len;
			held.cached = kind == MARK_CACHED;
			run_close(s, ar, &run);
		}
		census_add(st, size, kind, is_free || kind == MARK_FAST);
		p = nx;
	}
	if (p < rg->end && !st->corrupt)
		finding(s, p, "walk stopped before the end of heap %#llx-%#llx",
			(unsigned long long)rg->start, (unsigned long long)rg->end);
	run_close(s, ar, &run);
	return 0;
bad_read:
	if (rc == -EFAULT) {
		finding(s, p, "heap %#llx-%#llx is not mapped at %#llx",
			(unsigned long long)rg->start, (unsigned long long)rg->end,
			(unsigned long long)p);
		return 0;
	}
	return rc;
}

/* After the walk: the top's share of malloc_trim(0) (main arena, systrim)
 * and of what glibc returns on its own (the top beyond M_TOP_PAD). */
static void arena_top_accounting(struct snap *s, struct glibc_arena *ar, uint64_t run_into_top)
{
	const struct glibc_mp *mp = &s->st->mp;
	uint64_t page = s->r->pagesize;
	int64_t top_area = (int64_t)ar->top_size - MINSIZE - 1;

	if (ar->main) {
		int64_t area = top_area + (int64_t)run_into_top;
		uint64_t unit = mp->thp_pagesize ? mp->thp_pagesize : page;

		if (area > 0) {
			uint64_t extra = (uint64_t)area / unit * unit;

			/* systrim: the brk moves down by extra. */
			ar->trimmable += extra;
			if (extra)
				trim_span(s, ar->top + ar->top_size - extra, extra);
		}
	}
	if (top_area > (int64_t)mp->top_pad)
		ar->releasable = ((uint64_t)top_area - mp->top_pad) / page * page;
}

/* How much of what malloc_trim(0) would release is in RAM now, read after
 * the target resumed: an estimate of the RSS the trim would save. */
static void count_resident(struct snap *s)
{
	uint64_t bytes;

	if (!IS_SET(s->st->trimmable_resident))
		return;
	if (pagemap_resident(s->r->pid, s->trim_spans, s->ntrim_spans, s->r->pagesize,
			     &bytes) < 0)
		s->st->trimmable_resident = UNSET;
	else
		s->st->trimmable_resident = bytes;
}

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

static void census_init(struct glibc_state *st)
{
	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		st->census[c].min = 32ULL << c;
		st->census[c].max = c + 1 < GLIBC_CENSUS_CLASSES ? (64ULL << c) - 1 : UNSET;
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
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
		held = read_headers(s);
		if (held < 0)
			return held;
		for (size_t i = 0; i < st->narenas && st->initialized; i++) {
			arena_basics(s, i);
			rc = find_regions(s, i);
			if (rc < 0)
				return rc;
		}
		if (st->initialized) {
			rc = read_tcaches(s);
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

/* The light read: bins and fastbins as lists, within the read budget;
 * -E2BIG when they are longer than that. */
static int walk_lists(struct snap *s)
{
	int rc = 0;

	for (size_t i = 0; i < s->st->narenas && s->st->initialized && rc == 0; i++) {
		rc = walk_bins(s, i);
		if (rc == 0)
			rc = walk_fastbins(s, i, false);
	}
	return rc;
}

static void forget_list_walks(struct glibc_state *st)
{
	for (size_t i = 0; i < st->narenas; i++) {
		struct glibc_arena *ar = &st->arenas[i];

		ar->bin_chunks = ar->bin_bytes = 0;
		ar->fastbin_chunks = ar->fastbin_bytes = 0;
		ar->largest_free = 0;
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
	if (rc < 0)
		goto out;
	rc = target_read_exact(s->t, s->r->gs.mp, buf, L->par_size, s->err);
	if (rc < 0 || memcmp(buf, s->mp, L->par_size))
		goto out;
	for (size_t i = 0; i < st->narenas; i++) {
		rc = target_read_exact(s->t, st->arenas[i].addr, buf, L->state_size, s->err);
		if (rc < 0 || memcmp(buf, arena_hdr(s, i), L->state_size))
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
		if (rc < 0 || tls_word(s, regs.fs_base, s->r->gs.tcache_tpoff, &rc) != tc->addr ||
		    rc < 0)
			goto out;
		if (!tc->addr)
			continue;
		rc = target_read_exact(s->t, tc->addr, buf, L->tcache_size, s->err);
		if (rc < 0 || fnv1a(buf, L->tcache_size) != s->tc_print[i])
			goto out;
	}
	*same = true;
out:
	free(buf);
	/* A read that failed only means "changed"; a vanished process is
	 * an error. */
	return rc == -ESRCH || rc == -EINTR ? rc : 0;
}

static int snapshot(struct glibc_reader *r, struct target *t, struct glibc_state *st,
		    bool full, bool brief, struct error *err)
{
	struct snap s = { .r = r, .L = &r->L, .t = t, .st = st, .err = err,
			  .read_budget = full ? UINT64_MAX : LIGHT_READ_BUDGET };
	struct readahead ra = { 0 };
	uint64_t t0 = mono_us();
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(st->version, sizeof(st->version), "%s", r->gs.version);
	snprintf(st->module, sizeof(st->module), "%s", r->gs.module);
	st->source = r->L.source;
	census_init(st);
	s.rc = calloc(1, sizeof(*s.rc));
	s.mp = calloc(1, r->L.par_size);
	if (!s.rc || !s.mp) {
		rc = error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	s.rc->t = t;
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
		rc = walk_lists(&s);
		if (rc == -E2BIG) {	/* long lists: copying the heaps is cheaper */
			forget_list_walks(st);
			full = true;
			rc = 0;
		}
		if (rc < 0)
			goto resume;
	}
	s.read_budget = UINT64_MAX;
	for (size_t i = 0; i < st->narenas && st->initialized && full; i++) {
		if (st->arenas[i].main && (ms(&s, i, MS_FLAGS) & NONCONTIGUOUS)) {
			rc = walk_bins(&s, i);
			if (rc < 0)
				goto resume;
		}
	}
	if (full) {
		uint64_t *into_top = calloc(st->narenas ? st->narenas : 1, sizeof(*into_top));

		s.arena_has_fastbins = calloc(st->narenas ? st->narenas : 1, sizeof(bool));
		for (size_t i = 0; s.arena_has_fastbins && i < st->narenas; i++)
			for (unsigned b = 0; b < r->L.nfastbins; b++)
				if (glibc_get_at(arena_hdr(&s, i), &r->L.ms[MS_FASTBINS], b))
					s.arena_has_fastbins[i] = true;
		if (!into_top || !s.arena_has_fastbins) {
			rc = error_set(err, -ENOMEM, "out of memory");
			goto resume;
		}
		for (size_t k = 0; k < s.nregions && rc == 0; k++) {
			uint64_t run;

			rc = walk_region(&s, &s.regions[k], &run);
			into_top[s.regions[k].arena] += run;
		}
		for (size_t i = 0; i < st->narenas && rc == 0; i++)
			rc = walk_fastbins(&s, i, true);
		for (size_t i = 0; i < st->narenas && rc == 0; i++)
			arena_top_accounting(&s, &st->arenas[i], into_top[i]);
		free(into_top);
		if (rc < 0)
			goto resume;
	}
	st->reads += s.rc->reads;
	st->copied_bytes += s.rc->bytes;
	if (brief) {
		bool same;

		readahead_stop(&ra);
		rc = state_unchanged(&s, &same);
		if (rc == 0 && (!same || st->corrupt))
			rc = -EAGAIN;	/* it moved: take the full hold instead */
	}
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
			count_resident(&s);
		else
			st->trimmable = st->trimmable_resident = UNSET;	/* not walked */
	}
out:
	st->walk_us = mono_us() - t0;
	addrset_free(&s.marks);
	addrset_free(&s.fast_candidates);
	free(s.arena_has_fastbins);
	free(s.trim_spans);
	free(s.regions);
	free(s.tc_print);
	free(s.hdrs);
	free(s.mp);
	free(s.rc);
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

void glibc_state_free(struct glibc_state *st)
{
	free(st->arenas);
	free(st->tcaches);
	st->arenas = NULL;
	st->tcaches = NULL;
	st->narenas = st->ntcaches = 0;
}
