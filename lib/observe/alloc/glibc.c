/* glibc malloc: opening a reader, the shared summary, resident bytes. */
#include "observe/alloc/glibc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe/alloc/glibc_layout.h"
#include "observe/alloc/glibc_snap.h"
#include "observe/proc.h"
#include "base/util.h"

/* One bulk read while walking a heap: big enough that the syscalls do not
 * count, small enough to stay in the CPU cache between the copy and the
 * walk (4 MiB copied and walked beat 16 MiB by a third here). */
#define WINDOW_BYTES (4u << 20)
#define IS_MMAPPED 2
#define NON_MAIN_ARENA 4

int glibc_open(struct glibc_reader **out, pid_t pid, const struct alloc_id *id,
	       struct error *err)
{
	struct glibc_reader *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	r->pid = pid;
	r->pagesize = (uint64_t)sysconf(_SC_PAGESIZE);
	r->window = WINDOW_BYTES;
	rc = symbols_open(&r->syms, pid, err);
	if (rc < 0)
		goto out;
	rc = glibc_layout_load(r->syms, id && id->version[0] ? id->version : NULL,
			       &r->gs, &r->L, err);
	if (rc < 0) {
		error_wrap(err, rc, "pid %d: ", (int)pid);
		goto out;
	}
	r->buf = malloc(r->window);
	if (!r->buf)
		rc = error_set(err, -ENOMEM, "out of memory");
out:
	if (rc < 0)
		glibc_close(r);
	else
		*out = r;
	return rc;
}

void glibc_close(struct glibc_reader *r)
{
	if (!r)
		return;
	symbols_close(r->syms);
	snap_memo_free(r);
	snap_tls_free(r);
	glibc_window_free(r);
	free(r->buf);
	free(r);
}

void glibc_lighten(struct glibc_reader *r)
{
	symbols_close(r->syms);
	r->syms = NULL;
	free(r->buf);
	r->buf = NULL;
}

const char *glibc_layout_source(const struct glibc_reader *r)
{
	return r->L.source;
}

const char *glibc_version(const struct glibc_reader *r)
{
	return r->gs.version;
}

static uint64_t or_zero(uint64_t v)
{
	return IS_SET(v) ? v : 0;
}

/* The free space held below the tops, and the chunk that holds the most. */
static void summarise_top_held(const struct glibc_state *st, struct alloc_summary *sum)
{
	const struct glibc_arena *most = NULL;

	sum->top_held_bytes = st->top_held;
	for (size_t i = 0; i < st->narenas; i++) {
		const struct glibc_arena *a = &st->arenas[i];

		if (a->below_top && (!most || a->below_top_free > most->below_top_free))
			most = a;
	}
	sum->top_held_by = most ? most->below_top : UNSET;
	sum->top_held_by_size = most ? most->below_top_size : UNSET;
	sum->top_held_by_free = most ? most->below_top_free : UNSET;
	sum->top_held_by_cached = most && most->below_top_cached;
}

void glibc_summarise(const struct glibc_state *st, struct alloc_summary *sum,
		     struct alloc_params *p)
{
	const struct glibc_mallinfo2 *mi = &st->mi;

	memset(sum, 0, sizeof(*sum));
	sum->valid = true;
	snprintf(sum->source, sizeof(sum->source), "%s", st->source ? st->source : "");
	/* What the application holds: in-use arena chunks (tcache'd chunks
	 * included, as mallinfo2 counts them) plus mmapped chunks, so that it
	 * compares with a resident figure that covers both. */
	sum->allocated = mi->uordblks + mi->hblkhd;
	sum->active = UNSET;
	sum->resident = UNSET;
	sum->mapped = mi->arena + mi->hblkhd;
	sum->free_total = mi->fordblks;
	/* Pages a release gave back stay inside their free chunks: free, but
	 * out of RAM; only resident free space is the gap's. */
	sum->free_unresident = IS_SET(st->pinned_resident) ? st->pinned - st->pinned_resident :
			       UNSET;
	sum->free_interleaved = st->free_interleaved - MIN(st->free_interleaved,
							   or_zero(sum->free_unresident));
	sum->free_releasable = st->releasable;
	/* What the release call saves in RSS: its pages that are resident. */
	sum->trimmable = IS_SET(st->trimmable_resident) ? st->trimmable_resident : st->trimmable;
	sum->narenas = (unsigned)st->narenas;
	sum->estimated_arenas = st->estimated;
	sum->corrupt = st->corrupt;
	sum->nfindings = st->nfindings;
	if (st->corrupt && st->nfindings)
		snprintf(sum->corrupt_what, sizeof(sum->corrupt_what), "%s", st->findings[0].what);
	sum->free_small_chunks = st->free_small_chunks;
	sum->free_small_bytes = st->free_small_bytes;
	sum->free_large_chunks = st->free_large_chunks;
	sum->free_large_bytes = st->free_large_bytes;
	sum->largest_free = st->largest_free;
	sum->pinned_bytes = IS_SET(st->pinned_resident) ? st->pinned_resident : st->pinned;
	sum->top_size = st->top_total;
	summarise_top_held(st, sum);
	sum->slab_utilisation = NAN;
	if (!p)
		return;
	alloc_params_clear(p);
	p->trim_threshold = (int64_t)st->mp.trim_threshold;
	p->top_pad = (int64_t)st->mp.top_pad;
	p->mmap_threshold = (int64_t)st->mp.mmap_threshold;
	p->arena_max = (int64_t)st->mp.arena_max;
	p->arena_test = (int64_t)st->mp.arena_test;
	p->tcache_count = IS_SET(st->mp.tcache_count) ? (int64_t)st->mp.tcache_count : PARAM_UNSET;
	p->no_dyn_threshold = st->mp.no_dyn_threshold;
}

/* Sizes of mmapped chunks, to find an application's pool: many blocks of
 * one size.  A bounded tally: sizes past the first POOL_SIZES seen are not
 * counted (a pool is one size, or a few). */
#define POOL_SIZES 16
#define POOL_MIN_BLOCK (64u << 10)

struct size_tally {
	struct { uint64_t size, count; } v[POOL_SIZES];
	size_t n;
};

static void tally_add(struct size_tally *t, uint64_t size)
{
	size_t i;

	if (!t || size < POOL_MIN_BLOCK)
		return;
	for (i = 0; i < t->n && t->v[i].size != size; i++)
		;
	if (i == t->n) {
		if (t->n == POOL_SIZES)
			return;
		t->v[t->n++].size = size;
	}
	t->v[i].count++;
}

/* The commonest size of the tally into the summary's pool figures. */
static void tally_summarize(const struct size_tally *t, struct alloc_summary *sum)
{
	size_t best = 0;

	if (!t->n) {
		sum->pool_block_size = sum->pool_blocks = sum->pool_bytes = 0;
		return;
	}
	for (size_t i = 1; i < t->n; i++)
		if (t->v[i].count * t->v[i].size > t->v[best].count * t->v[best].size)
			best = i;
	sum->pool_block_size = t->v[best].size;
	sum->pool_blocks = t->v[best].count;
	sum->pool_bytes = t->v[best].size * t->v[best].count;
}

/* Bytes of mmapped chunks at the start of anonymous mapping m: the kernel
 * merges adjacent anonymous mappings, so several chunks can share one. */
static uint64_t mmapped_chunks_in(struct target *t, const struct mapping *m,
				  struct size_tally *sizes)
{
	uint64_t q = m->start, covered = 0;

	for (unsigned n = 0; q + 16 <= m->end && n < 4096; n++) {
		uint64_t hdr[2], len;

		if (target_read_exact(t, q, hdr, sizeof(hdr), NULL) < 0)
			break;
		/* prev_size holds the alignment gap in front of the chunk. */
		len = (hdr[1] & ~(uint64_t)7) + hdr[0];
		if ((hdr[1] & (IS_MMAPPED | NON_MAIN_ARENA)) != IS_MMAPPED || hdr[0] & 15 ||
		    hdr[0] >= 4096 || len < 4096 || len > m->end - q || (len & 4095))
			break;
		covered += len;
		tally_add(sizes, len);
		q += len;
	}
	return covered;
}

/* Whether the 64 MiB-aligned mapping m starts with a heap_info: an arena
 * pointer into the first bytes of a 64 MiB-aligned heap (the arena sits
 * right after its first heap's header), a previous heap that is aligned
 * too or none, and a size of whole pages within the heap.  Other programs
 * reserve aligned regions too (a JVM's heap): their RSS is not glibc's. */
static bool holds_heap_info(struct target *t, const struct mapping *m)
{
	const uint64_t max = 64ull << 20;
	uint64_t hi[3];

	if (target_read_exact(t, m->start, hi, sizeof(hi), NULL) < 0)
		return true;	/* unreadable: keep the layout's word for it */
	return hi[0] && !(hi[0] & 7) && (hi[0] & (max - 1)) < 256 && !(hi[1] & (max - 1)) &&
	       hi[2] && hi[2] <= max && !(hi[2] & 4095);
}

int glibc_resident(pid_t pid, struct target *t, uint64_t *resident, struct alloc_summary *pool,
		   struct error *err)
{
	struct size_tally sizes = { .n = 0 };
	struct maps maps = { 0 };
	uint64_t sum = 0;
	int rc;

	*resident = UNSET;
	rc = proc_read_smaps("", pid, &maps, err);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < maps.n; i++) {
		const struct mapping *m = &maps.v[i];
		uint64_t len = m->end - m->start, chunks;

		if (!IS_SET(m->rss) || !m->rss)
			continue;
		if (m->kind == MAPPING_BRK_HEAP ||
		    (m->kind == MAPPING_ARENA_HEAP && holds_heap_info(t, m))) {
			sum += m->rss;
		} else if ((m->kind == MAPPING_ANON || m->kind == MAPPING_ARENA_HEAP) &&
			   strchr(m->perms, 'w')) {
			chunks = mmapped_chunks_in(t, m, pool ? &sizes : NULL);
			/* A mapping shared with something else: its share. */
			sum += chunks >= len ? m->rss :
			       (uint64_t)((double)m->rss * chunks / len);
		}
	}
	*resident = sum;
	if (pool)
		tally_summarize(&sizes, pool);
out:
	maps_free(&maps);
	return rc;
}
