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
	sum->free_interleaved = st->free_interleaved;
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
	sum->pinned_bytes = st->pinned;
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

/* Bytes of mmapped chunks at the start of anonymous mapping m: the kernel
 * merges adjacent anonymous mappings, so several chunks can share one. */
static uint64_t mmapped_chunks_in(struct target *t, const struct mapping *m)
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
		q += len;
	}
	return covered;
}

int glibc_resident(pid_t pid, struct target *t, uint64_t *resident, struct error *err)
{
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
		if (m->kind == MAPPING_BRK_HEAP || m->kind == MAPPING_ARENA_HEAP) {
			sum += m->rss;
		} else if (m->kind == MAPPING_ANON && strchr(m->perms, 'w')) {
			chunks = mmapped_chunks_in(t, m);
			/* A mapping shared with something else: its share. */
			sum += chunks >= len ? m->rss :
			       (uint64_t)((double)m->rss * chunks / len);
		}
	}
	*resident = sum;
out:
	maps_free(&maps);
	return rc;
}
