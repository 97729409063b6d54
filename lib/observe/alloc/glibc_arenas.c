/* A snapshot's first reads: mp_, the ring of arena headers, where each
 * arena's heaps are, the size of each top; and the bookkeeping every part
 * of the walk shares (findings, the census). */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void snap_finding(struct snap *s, uint64_t addr, const char *fmt, ...)
{
	struct glibc_state *st = s->st;
	va_list ap;

	st->corrupt = true;
	if (s->finding_by >= 0 && s->parts)
		s->parts[s->finding_by].findings++;
	else if (s->finding_by == SNAP_BY_TCACHES)
		s->tcache_findings++;
	if (st->nfindings++ >= GLIBC_MAX_FINDINGS)
		return;
	s->finding_owner[st->nfindings - 1] = s->finding_by;
	va_start(ap, fmt);
	vsnprintf(st->findings[st->nfindings - 1].what,
		  sizeof(st->findings[0].what), fmt, ap);
	va_end(ap);
	st->findings[st->nfindings - 1].addr = addr;
}

void snap_forget_findings(struct snap *s, int by)
{
	struct glibc_state *st = s->st;
	unsigned *count = by == SNAP_BY_TCACHES ? &s->tcache_findings :
			  by >= 0 && s->parts ? &s->parts[by].findings : NULL;
	unsigned kept = MIN(st->nfindings, (unsigned)GLIBC_MAX_FINDINGS), k = 0;

	if (!count || !*count)
		return;
	for (unsigned i = 0; i < kept; i++) {
		if (s->finding_owner[i] == by)
			continue;
		st->findings[k] = st->findings[i];
		s->finding_owner[k++] = s->finding_owner[i];
	}
	st->nfindings -= *count;
	*count = 0;
	st->corrupt = st->nfindings > 0;
}

bool snap_in_regions(const struct snap *s, uint64_t addr)
{
	return snap_region_arena(s, addr) != SIZE_MAX;
}

size_t snap_region_arena(const struct snap *s, uint64_t addr)
{
	for (size_t i = 0; i < s->nregions; i++)
		if (addr >= s->regions[i].start && addr < s->regions[i].end)
			return s->regions[i].arena;
	return SIZE_MAX;
}

/* The pseudo-chunk heading bin i (1-based) of arena a: &bins[2(i-1)] - 16. */
uint64_t snap_bin_head(struct snap *s, size_t a, unsigned i)
{
	return s->st->arenas[a].addr + s->L->ms[MS_BINS].off + (uint64_t)(i - 1) * 16 - 16;
}

bool snap_is_bin_head(struct snap *s, size_t a, uint64_t p)
{
	uint64_t first = snap_bin_head(s, a, 1), last = snap_bin_head(s, a, s->L->nbins - 1);

	return p >= first && p <= last && !((p - first) & 15);
}

/* Class c holds [2^(c+5), 2^(c+6)). */
unsigned snap_census_class(uint64_t size)
{
	unsigned log2 = 63 - (unsigned)__builtin_clzll(size | 1);

	return log2 < 5 ? 0 : MIN(log2 - 5, GLIBC_CENSUS_CLASSES - 1);
}

void snap_census_add(struct glibc_state *st, uint64_t size, enum mark kind, bool free_chunk)
{
	struct glibc_size_class *k = &st->census[snap_census_class(size)];

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

/* What a fastbin chunk was seen as by the heap walk until now: in use. */
void snap_census_move_to_free(struct glibc_state *st, uint64_t size)
{
	unsigned c = snap_census_class(size);

	if (st->census[c].used_chunks) {
		st->census[c].used_chunks--;
		st->census[c].used_bytes -= size;
	}
	st->census[c].free_chunks++;
	st->census[c].free_bytes += size;
	snap_count_free(st, size);
}

void snap_count_free(struct glibc_state *st, uint64_t size)
{
	if (size < 1024) {
		st->free_small_chunks++;
		st->free_small_bytes += size;
	} else {
		st->free_large_chunks++;
		st->free_large_bytes += size;
	}
}

void snap_census_init(struct glibc_state *st)
{
	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		st->census[c].min = 32ULL << c;
		st->census[c].max = c + 1 < GLIBC_CENSUS_CLASSES ? (64ULL << c) - 1 : UNSET;
	}
}

void snap_read_params(struct snap *s)
{
	struct glibc_mp *mp = &s->st->mp;

	mp->trim_threshold = snap_mp(s, MP_TRIM_THRESHOLD);
	mp->top_pad = snap_mp(s, MP_TOP_PAD);
	mp->mmap_threshold = snap_mp(s, MP_MMAP_THRESHOLD);
	mp->arena_test = snap_mp(s, MP_ARENA_TEST);
	mp->arena_max = snap_mp(s, MP_ARENA_MAX);
	mp->thp_pagesize = snap_mp(s, MP_THP_PAGESIZE);
	mp->hp_pagesize = snap_mp(s, MP_HP_PAGESIZE);
	mp->tcache_count = s->L->mp[MP_TCACHE_COUNT].off >= 0 ? snap_mp(s, MP_TCACHE_COUNT) : UNSET;
	mp->tcache_max_bytes = s->L->mp[MP_TCACHE_MAX_BYTES].off >= 0 ?
			       snap_mp(s, MP_TCACHE_MAX_BYTES) : UNSET;
	mp->n_mmaps = snap_mp(s, MP_N_MMAPS);
	mp->n_mmaps_max = snap_mp(s, MP_N_MMAPS_MAX);
	mp->max_n_mmaps = snap_mp(s, MP_MAX_N_MMAPS);
	mp->mmapped_mem = snap_mp(s, MP_MMAPPED_MEM);
	mp->max_mmapped_mem = snap_mp(s, MP_MAX_MMAPPED_MEM);
	mp->sbrk_base = snap_mp(s, MP_SBRK_BASE);
	mp->no_dyn_threshold = snap_mp(s, MP_NO_DYN_THRESHOLD) != 0;
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
int snap_read_headers(struct snap *s)
{
	struct glibc_reader *r = s->r;
	struct glibc_state *st = s->st;
	uint64_t a = r->gs.main_arena;
	int held = 0, rc;

	rc = target_read_exact(s->t, r->gs.mp, s->mp, s->L->par_size, s->err);
	if (rc < 0)
		return rc;
	snap_read_params(s);
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
		rc = target_read_exact(s->t, a, snap_arena_hdr(s, st->narenas), s->L->state_size, s->err);
		/* Arenas are never unmapped: a next pointer that cannot be read
		 * is the heap's corruption, not heapdoc's failure. */
		if (rc == -EFAULT && st->narenas) {
			snap_finding(s, a, "arena list: next pointer after arena %#llx points to "
				     "unmapped memory", (unsigned long long)st->arenas[st->narenas - 1].addr);
			break;
		}
		if (rc < 0)
			return rc;
		ar = &st->arenas[st->narenas];
		memset(ar, 0, sizeof(*ar));
		ar->addr = a;
		ar->main = st->narenas == 0;
		ar->mutex_held = snap_ms(s, st->narenas, MS_MUTEX) != 0;
		held += ar->mutex_held;
		st->narenas++;
		a = snap_ms(s, st->narenas - 1, MS_NEXT);
		if (a == r->gs.main_arena)
			break;
		if (!a || (a & 7) || st->narenas >= MAX_ARENAS) {
			snap_finding(s, a, "arena list: bad next pointer after arena %#llx",
				(unsigned long long)ar->addr);
			break;
		}
		for (size_t i = 0; i < st->narenas; i++)
			if (st->arenas[i].addr == a) {
				snap_finding(s, a, "arena list: a cycle that does not pass through main_arena");
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
	uint64_t top = snap_ms(s, i, MS_TOP), raw;
	int rc;

	ar->top = top;
	*size = 0;
	if (!top)
		return 0;
	/* Overflow-safe: a corrupt top near 2^64 must not wrap into the copy. */
	if (top >= ar->addr && top - ar->addr <= s->L->state_size - CHUNK_HDR) {
		memcpy(&raw, snap_arena_hdr(s, i) + (top - ar->addr) + 8, 8);
		*size = raw & ~(uint64_t)SIZE_BITS;
		return 0;
	}
	if (top & (MALLOC_ALIGN - 1)) {
		snap_finding(s, top, "arena %#llx: misaligned top chunk", (unsigned long long)ar->addr);
		return 0;
	}
	rc = rcache_u64(s->rc, top + 8, &raw, s->err);
	if (rc == -EFAULT) {
		snap_finding(s, top, "arena %#llx: top chunk is not mapped", (unsigned long long)ar->addr);
		return 0;
	}
	if (rc < 0)
		return rc;
	*size = raw & ~(uint64_t)SIZE_BITS;
	return 0;
}

/* The top chunk ends where its heap does: within [base, base + len), the
 * main arena's sbrk'd bytes (system_mem, plus the page of alignment sysmalloc
 * may add) or a non-main heap.  A top that runs past is corrupt, and is cut
 * to its heap so that nothing sized from it (the walk's end, the pages a
 * trim would release) reaches past the memory the arena has. */
static void top_within(struct snap *s, struct glibc_arena *ar, uint64_t base, uint64_t len)
{
	uint64_t slack = ar->main ? s->r->pagesize : 0, end;

	if (ar->top >= base && !__builtin_add_overflow(ar->top, ar->top_size, &end) &&
	    end - base <= len + slack)
		return;
	snap_finding(s, ar->top, "arena %#llx: top chunk of %llu bytes runs past its heap "
		     "(%#llx, %llu bytes)", (unsigned long long)ar->addr,
		     (unsigned long long)ar->top_size, (unsigned long long)base,
		     (unsigned long long)len);
	ar->top_size = ar->top >= base && ar->top - base < len ? base + len - ar->top : 0;
}

/* The first chunk after a header of hdr_size bytes at base: chunk2mem
 * aligned to MALLOC_ALIGNMENT, as sysmalloc and _int_new_arena place it. */
static uint64_t first_chunk_after(uint64_t base, uint64_t hdr_size)
{
	uint64_t p = base + hdr_size;
	uint64_t mis = (p + CHUNK_HDR) & (MALLOC_ALIGN - 1);

	return mis ? p + MALLOC_ALIGN - mis : p;
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

/* Arena i's regions: the brk heap for the main arena, the heap_info chain
 * for the others. */
int snap_find_regions(struct snap *s, size_t i)
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

		if (snap_ms(s, i, MS_FLAGS) & NONCONTIGUOUS)
			return 0;	/* no single region: the bins are walked as lists */
		if (!start || start > ar->top) {
			snap_finding(s, start, "main arena: sbrk_base is not below the top chunk");
			return 0;
		}
		top_within(s, ar, start, ar->system_mem);
		return add_region(s, first_chunk_after(start, 0), ar->top + ar->top_size, i);
	}
	h = ar->top & ~(s->heap_max - 1);
	for (unsigned n = 0; h; n++) {
		unsigned char hi[128];
		uint64_t size, prev, start;

		if (n >= MAX_HEAPS || L->heap_info_size > sizeof(hi)) {
			snap_finding(s, h, "arena %#llx: heap list too long (a cycle?)",
				(unsigned long long)ar->addr);
			break;
		}
		rc = target_read_exact(s->t, h, hi, L->heap_info_size, s->err);
		if (rc == -EFAULT) {
			snap_finding(s, h, "arena %#llx: heap_info not mapped", (unsigned long long)ar->addr);
			break;
		}
		if (rc < 0)
			return rc;
		size = glibc_get(hi, &L->hi[HI_SIZE]);
		prev = glibc_get(hi, &L->hi[HI_PREV]);
		if (glibc_get(hi, &L->hi[HI_AR_PTR]) != ar->addr || size > s->heap_max ||
		    size < L->heap_info_size || (prev & (s->heap_max - 1))) {
			snap_finding(s, h, "arena %#llx: heap_info does not belong to it",
				(unsigned long long)ar->addr);
			break;
		}
		start = first_chunk_after(h, L->heap_info_size);
		if (ar->addr >= h && ar->addr < h + size)	/* the arena's first heap */
			start = first_chunk_after(ar->addr, L->state_size);
		if (!n)		/* the heap of the top */
			top_within(s, ar, h, size);
		rc = add_region(s, start, h + size, i);
		if (rc < 0)
			return rc;
		ar->heaps++;
		sum += size;
		h = prev;
	}
	if (sum != ar->system_mem && !s->st->corrupt)
		snap_finding(s, ar->addr, "arena %#llx: heaps hold %llu bytes, system_mem says %llu",
			(unsigned long long)ar->addr, (unsigned long long)sum,
			(unsigned long long)ar->system_mem);
	return 0;
}

void snap_arena_basics(struct snap *s, size_t i)
{
	struct glibc_arena *ar = &s->st->arenas[i];

	ar->system_mem = snap_ms(s, i, MS_SYSTEM_MEM);
	ar->max_system_mem = snap_ms(s, i, MS_MAX_SYSTEM_MEM);
	ar->attached_threads = snap_ms(s, i, MS_ATTACHED_THREADS);
}
