/* Every thread's tcache: where it is (a TLS word at the thread pointer),
 * its struct (counts and list heads), and its lists (the chunks it holds,
 * marked as cached for the heap walk).
 *
 * What a hold costs per thread is what limits a process with thousands of
 * threads, so a hold does as little per thread as it can:
 *  - the thread pointer (fs_base) is asked of the kernel (PTRACE_GETREGS)
 *    once per thread and kept by the reader: it never changes for a live
 *    thread.  A tid the kernel reuses for a new thread gets a new pointer
 *    only if the new thread's TLS block is elsewhere; the TLS words are
 *    read from wherever the pointer leads and checked like any target
 *    data, and a read that faults asks the kernel again;
 *  - the TLS words of all threads, then all tcache structs, are read in
 *    one scattered read each (target_read_pieces);
 *  - the lists are followed from the copied structs, in the hold for a
 *    held snapshot, after it for the brief one (a list that moved is seen
 *    at the second hold, whose struct then differs).
 */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- thread pointers, kept across holds ---------------------------------- */

struct glibc_tls {
	pid_t *tid;		/* 0: empty slot */
	uint64_t *base;
	size_t cap, n;
};

void snap_tls_free(struct glibc_reader *r)
{
	if (!r->tls)
		return;
	free(r->tls->tid);
	free(r->tls->base);
	free(r->tls);
	r->tls = NULL;
}

static size_t tls_slot(const struct glibc_tls *m, pid_t tid)
{
	return ((uint32_t)tid * 2654435761u) & (m->cap - 1);
}

static int tls_put(struct glibc_tls *m, pid_t tid, uint64_t base)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct glibc_tls g = { .cap = m->cap ? 2 * m->cap : 64 };

		g.tid = calloc(g.cap, sizeof(*g.tid));
		g.base = calloc(g.cap, sizeof(*g.base));
		if (!g.tid || !g.base) {
			free(g.tid);
			free(g.base);
			return -ENOMEM;
		}
		for (size_t k = 0; k < m->cap; k++)
			if (m->tid[k])
				tls_put(&g, m->tid[k], m->base[k]);
		free(m->tid);
		free(m->base);
		*m = g;
	}
	for (i = tls_slot(m, tid); m->tid[i] && m->tid[i] != tid; i = (i + 1) & (m->cap - 1))
		;
	m->n += !m->tid[i];
	m->tid[i] = tid;
	m->base[i] = base;
	return 0;
}

static bool tls_get(const struct glibc_tls *m, pid_t tid, uint64_t *base)
{
	if (!m->n)
		return false;
	for (size_t i = tls_slot(m, tid); m->tid[i]; i = (i + 1) & (m->cap - 1))
		if (m->tid[i] == tid) {
			*base = m->base[i];
			return true;
		}
	return false;
}

/* The thread pointer of a held thread: kept, or asked for (fresh). */
static int thread_base(struct snap *s, pid_t tid, bool fresh, uint64_t *base)
{
	struct glibc_reader *r = s->r;
	struct user_regs_struct regs;
	int rc;

	if (!r->tls && !(r->tls = calloc(1, sizeof(*r->tls))))
		return error_set(s->err, -ENOMEM, "out of memory");
	if (!fresh && tls_get(r->tls, tid, base))
		return 0;
	rc = target_get_regs(s->t, tid, &regs, s->err);
	if (rc < 0)
		return rc;
	*base = regs.fs_base;
	return tls_put(r->tls, tid, regs.fs_base) < 0 ?
	       error_set(s->err, -ENOMEM, "out of memory") : 0;
}

/* ---- reading them -------------------------------------------------------- */

uint64_t snap_fnv1a(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static int tls_word(struct snap *s, uint64_t base, int64_t tpoff, uint64_t *v)
{
	*v = 0;
	return target_read_exact(s->t, base + (uint64_t)tpoff, v, sizeof(*v), s->err);
}

/* tc->addr and tc->arena of one thread, one read at a time: what the
 * scattered read falls back on.  A pointer that leads nowhere is asked
 * for again (the tid may belong to a new thread). */
static int thread_words(struct snap *s, struct glibc_tcache *tc, uint64_t *base)
{
	const struct glibc_symbols *gs = &s->r->gs;
	int rc = tls_word(s, *base, gs->tcache_tpoff, &tc->addr);

	if (rc == -EFAULT) {
		rc = thread_base(s, tc->tid, true, base);
		if (rc == -ESRCH)
			rc = -EFAULT;	/* the thread is gone: no tcache */
		if (rc == 0)
			rc = tls_word(s, *base, gs->tcache_tpoff, &tc->addr);
	}
	if (rc == 0 && gs->thread_arena_tpoff != INT64_MIN)
		rc = tls_word(s, *base, gs->thread_arena_tpoff, &tc->arena);
	return rc;
}

/* The TLS words of every listed thread in one scattered read; one by one
 * when that faults.  A thread without TLS where it says has no tcache. */
static int read_words(struct snap *s, struct glibc_tcache *tcs, uint64_t *bases, size_t n)
{
	const struct glibc_symbols *gs = &s->r->gs;
	bool arena = gs->thread_arena_tpoff != INT64_MIN;
	struct target_piece *v = calloc(2 * n + 1, sizeof(*v));
	size_t k = 0;
	int rc;

	if (!v)
		return error_set(s->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		v[k++] = (struct target_piece){ bases[i] + (uint64_t)gs->tcache_tpoff,
						&tcs[i].addr, 8 };
		if (arena)
			v[k++] = (struct target_piece){ bases[i] + (uint64_t)gs->thread_arena_tpoff,
							&tcs[i].arena, 8 };
	}
	rc = target_read_pieces(s->t, v, k, s->err);
	free(v);
	if (rc != -EFAULT)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = thread_words(s, &tcs[i], &bases[i]);
		if (rc == -EFAULT || rc == -EBUSY) {
			tcs[i].addr = tcs[i].arena = 0;
			rc = 0;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Every tcache struct into s->tc_copy, one scattered read; tc_print holds
 * each one's FNV-1a (0: not read). */
static int read_structs(struct snap *s, struct glibc_tcache *tcs, size_t n,
			unsigned char *copy, uint64_t *print)
{
	size_t size = s->L->tcache_size, k = 0;
	struct target_piece *v = calloc(n + 1, sizeof(*v));
	int rc;

	if (!v)
		return error_set(s->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		print[i] = 0;
		if (tcs[i].addr && snap_in_regions(s, tcs[i].addr - CHUNK_HDR))
			v[k++] = (struct target_piece){ tcs[i].addr, copy + i * size, size };
	}
	rc = target_read_pieces(s->t, v, k, s->err);
	free(v);
	for (size_t i = 0; i < n && rc == -EFAULT; i++)
		if (tcs[i].addr && snap_in_regions(s, tcs[i].addr - CHUNK_HDR) &&
		    target_read_exact(s->t, tcs[i].addr, copy + i * size, size, s->err) < 0)
			tcs[i].addr = 0;	/* freed under us: read again at the next hold */
	if (rc == -EFAULT)
		rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (tcs[i].addr && snap_in_regions(s, tcs[i].addr - CHUNK_HDR))
			print[i] = snap_fnv1a(copy + i * size, size);
	return rc;
}

/* The held threads, their thread pointers, TLS words and tcache structs:
 * into tcs/copy/print (n of them, at most nthreads). */
static int read_threads(struct snap *s, struct glibc_tcache *tcs, unsigned char *copy,
			uint64_t *print, size_t *n)
{
	uint64_t *bases = calloc(s->t->nthreads + 1, sizeof(*bases));
	int rc = 0;

	*n = 0;
	if (!bases)
		return error_set(s->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < s->t->nthreads && rc == 0; i++) {
		pid_t tid = s->t->threads[i].tid;

		if (!s->t->threads[i].stopped)
			continue;
		rc = thread_base(s, tid, false, &bases[*n]);
		if (rc == -ESRCH) {
			rc = 0;		/* that thread exited */
			continue;
		}
		tcs[*n] = (struct glibc_tcache){ .tid = tid };
		++*n;
	}
	if (rc == 0 && *n)
		rc = read_words(s, tcs, bases, *n);
	if (rc == 0 && *n)
		rc = read_structs(s, tcs, *n, copy, print);
	free(bases);
	return rc;
}

/* ---- following the lists ------------------------------------------------- */

/* One thread's tcache lists from the copy of its struct: each chunk marked
 * as cached (with its size, for the census), the thread's totals. */
static int walk_lists(struct snap *s, struct glibc_tcache *tc, const unsigned char *buf)
{
	const struct glibc_layout *L = s->L;
	int rc;

	tc->chunks = tc->bytes = 0;
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
			if (addrset_put_full(&s->marks, e - CHUNK_HDR, MARK_CACHED, 0,
					     (uint32_t)size) < 0)
				return error_set(s->err, -ENOMEM, "out of memory");
			link = e;
			stored = next;
			e = next ^ (e >> 12);			/* safe-linking */
		}
		if (n && !e && n == count && s->st->nfindings == findings)
			snap_note_safe_links(s->st, n, link, stored, "tcache bin %u of thread %d",
					     b, (int)tc->tid);
		/* A thread stopped inside tcache_put/get (no lock guards them)
		 * leaves the count and the list one apart: read again. */
		if (n != count)
			s->tcache_unsettled = true;
	}
	return 0;
}

int snap_walk_tcaches(struct snap *s)
{
	struct glibc_state *st = s->st;
	int rc = 0;

	s->tcache_unsettled = false;
	memset(&st->safe_links, 0, sizeof(st->safe_links));	/* walked again */
	snap_forget_findings(s, SNAP_BY_TCACHES);
	s->finding_by = SNAP_BY_TCACHES;
	for (size_t i = 0; i < st->ntcaches && rc == 0; i++) {
		struct glibc_tcache *tc = &st->tcaches[i];

		if (tc->addr && !s->tc_print[i] && !snap_in_regions(s, tc->addr - CHUNK_HDR))
			snap_finding(s, tc->addr, "thread %d: tcache outside every heap",
				     (int)tc->tid);
		else if (s->tc_print[i])
			rc = walk_lists(s, tc, s->tc_copy + i * s->L->tcache_size);
	}
	s->finding_by = SNAP_BY_OTHER;
	return rc;
}

/* Room for one entry per thread of the target. */
static int tcache_room(struct snap *s, struct glibc_tcache **tcs, unsigned char **copy,
		       uint64_t **print)
{
	size_t n = s->t->nthreads ? s->t->nthreads : 1;

	*tcs = calloc(n, sizeof(**tcs));
	*copy = malloc(n * s->L->tcache_size);
	*print = calloc(n, sizeof(**print));
	if (*tcs && *copy && *print)
		return 0;
	free(*tcs);
	free(*copy);
	free(*print);
	return error_set(s->err, -ENOMEM, "out of memory");
}

/* The snapshot's thread caches become these (taken over). */
static void tcaches_install(struct snap *s, struct glibc_tcache *tcs, unsigned char *copy,
			    uint64_t *print, size_t n)
{
	free(s->st->tcaches);
	free(s->tc_copy);
	free(s->tc_print);
	s->st->tcaches = tcs;
	s->tc_copy = copy;
	s->tc_print = print;
	s->st->ntcaches = n;
}

int snap_read_tcaches(struct snap *s)
{
	struct glibc_state *st = s->st;
	const struct glibc_symbols *gs = &s->r->gs;
	struct glibc_tcache *tcs;
	unsigned char *copy;
	uint64_t *print;

	s->tcache_unsettled = false;
	tcaches_install(s, NULL, NULL, NULL, 0);
	st->tcache_known = gs->tcache_tpoff != INT64_MIN && s->L->tcache_size;
	if (!st->tcache_known)
		return 0;
	if (tcache_room(s, &tcs, &copy, &print) < 0)
		return -ENOMEM;
	tcaches_install(s, tcs, copy, print, 0);
	return read_threads(s, st->tcaches, s->tc_copy, s->tc_print, &st->ntcaches);
}

/* ---- the second look of a brief snapshot --------------------------------- */

/* Counts a chunk of the census as cached (to_cached) or in use. */
static void census_move(struct glibc_state *st, uint64_t size, bool to_cached)
{
	struct glibc_size_class *k = &st->census[snap_census_class(size)];

	if (to_cached && k->used_chunks) {
		k->used_chunks--;
		k->used_bytes -= size;
		k->cached_chunks++;
		k->cached_bytes += size;
	} else if (!to_cached && k->cached_chunks) {
		k->cached_chunks--;
		k->cached_bytes -= size;
		k->used_chunks++;
		k->used_bytes += size;
	}
}

/* The census of chunks outside arenas being walked again, after the marks
 * changed from old to s->marks: a chunk that left a tcache is in use, one
 * that entered it is cached.  skip[a]: arena a is walked again anyway. */
static bool counted(const struct snap *s, uint64_t chunk, const bool *skip)
{
	size_t a = snap_region_arena(s, chunk);

	return a < s->st->narenas && !skip[a];
}

static void census_follow(struct snap *s, const struct addrset *old, const bool *skip)
{
	const struct addrset *now = &s->marks;

	for (size_t i = 0; i < old->cap; i++)
		if (old->key[i] && addrset_get(now, old->key[i]) != MARK_CACHED &&
		    counted(s, old->key[i], skip))
			census_move(s->st, old->size[i], false);
	for (size_t i = 0; i < now->cap; i++)
		if (now->key[i] && addrset_get(old, now->key[i]) != MARK_CACHED &&
		    counted(s, now->key[i], skip))
			census_move(s->st, now->size[i], true);
}

/* At the second hold: reads every thread's tcache again.  *same when each
 * is what the first hold saw; otherwise the lists are walked now, the
 * marks replaced, the census of arenas not in skip moved along, and each
 * arena's below-top chunk checked again. */
int snap_tcaches_again(struct snap *s, const bool *skip, bool *same)
{
	struct glibc_state *st = s->st;
	struct glibc_tcache *tcs;
	unsigned char *copy;
	uint64_t *print;
	struct addrset old;
	size_t n = 0;
	int rc;

	*same = true;
	if (!st->tcache_known)
		return 0;
	memset(s->rc->tag, 0, sizeof(s->rc->tag));	/* the target ran since */
	rc = tcache_room(s, &tcs, &copy, &print);
	if (rc == 0)
		rc = read_threads(s, tcs, copy, print, &n);
	*same = rc == 0 && n == st->ntcaches && !s->tcache_unsettled;
	for (size_t i = 0; *same && i < n; i++)
		*same = tcs[i].tid == st->tcaches[i].tid && print[i] == s->tc_print[i];
	if (rc < 0 || *same)
		goto out;
	old = s->marks;
	memset(&s->marks, 0, sizeof(s->marks));
	tcaches_install(s, tcs, copy, print, n);
	tcs = NULL;
	copy = NULL;
	print = NULL;
	rc = snap_walk_tcaches(s);
	if (rc == 0)
		census_follow(s, &old, skip);
	addrset_free(&old);
	for (size_t i = 0; rc == 0 && i < st->narenas; i++)
		st->arenas[i].below_top_cached = st->arenas[i].below_top &&
			addrset_get(&s->marks, st->arenas[i].below_top) == MARK_CACHED;
out:
	free(tcs);
	free(copy);
	free(print);
	return rc;
}
