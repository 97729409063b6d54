/* The links of an arena's free chunks, checked against each other after
 * its heaps are walked: every free chunk's fd leads to a free chunk whose
 * bk leads back, and its bk to one whose fd does (or to a bin head, which
 * check_free_chunk in glibc_walk.c checks).  That is glibc's own unlink
 * check ("corrupted double-linked list"), made on what the boundary-tag
 * walk copied anyway: no read of the target, one table entry per free
 * chunk.  A chunk its neighbours on the list skip, or a link into the
 * middle of a chunk, is a finding before glibc aborts on it.
 *
 * Only a consistent snapshot (every arena mutex free) is checked: a list
 * caught mid-update is not corrupt. */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct link {
	uint64_t p, fd, bk;		/* p == 0: an empty slot */
};

struct linkset {
	struct link *v;
	size_t cap, n;
	bool failed;			/* out of memory: nothing is checked */
};

static size_t slot_of(const struct linkset *ls, uint64_t p)
{
	return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ULL >> 17) & (ls->cap - 1);
}

static struct link *find(const struct linkset *ls, uint64_t p)
{
	if (!ls->n)
		return NULL;
	for (size_t i = slot_of(ls, p); ls->v[i].p; i = (i + 1) & (ls->cap - 1))
		if (ls->v[i].p == p)
			return &ls->v[i];
	return NULL;
}

static void put(struct linkset *ls, const struct link *l)
{
	size_t i = slot_of(ls, l->p);

	while (ls->v[i].p && ls->v[i].p != l->p)
		i = (i + 1) & (ls->cap - 1);
	ls->n += !ls->v[i].p;
	ls->v[i] = *l;
}

static bool grow(struct linkset *ls)
{
	struct linkset g = { .cap = ls->cap ? 2 * ls->cap : 1024 };

	g.v = calloc(g.cap, sizeof(*g.v));
	if (!g.v)
		return false;
	for (size_t i = 0; i < ls->cap; i++)
		if (ls->v[i].p)
			put(&g, &ls->v[i]);
	free(ls->v);
	*ls = g;
	return true;
}

void snap_links_begin(struct snap *s)
{
	snap_links_end(s);
	if (s->st->consistent)
		s->links = calloc(1, sizeof(*s->links));
}

void snap_links_note(struct snap *s, uint64_t p, uint64_t fd, uint64_t bk)
{
	struct linkset *ls = s->links;

	if (!ls || ls->failed)
		return;
	if ((ls->n + 1) * 2 > ls->cap && !grow(ls)) {
		ls->failed = true;
		return;
	}
	put(ls, &(struct link){ p, fd, bk });
}

/* The chunk a link of p leads to, which must link back (back_fd: its fd). */
static bool links_back(struct snap *s, size_t arena, uint64_t p, uint64_t to, bool back_fd)
{
	const struct link *l;

	if (snap_is_bin_head(s, arena, to))
		return true;		/* check_free_chunk's part */
	l = find(s->links, to);
	return l && (back_fd ? l->fd : l->bk) == p;
}

/* Each bin head's fd and bk: itself (an empty bin), or a free chunk
 * whose bk (for the first) or fd (for the last) is the head. */
static bool check_bins(struct snap *s, size_t arena)
{
	const unsigned char *hdr = snap_arena_hdr(s, arena);

	for (unsigned b = 1; b < s->L->nbins; b++) {
		uint64_t head = snap_bin_head(s, arena, b);
		uint64_t fd = glibc_get_at(hdr, &s->L->ms[MS_BINS], 2 * (b - 1));
		uint64_t bk = glibc_get_at(hdr, &s->L->ms[MS_BINS], 2 * (b - 1) + 1);
		const struct link *first = find(s->links, fd), *last = find(s->links, bk);

		if ((fd == head) != (bk == head) ||
		    (fd != head && (!first || first->bk != head || !last || last->fd != head))) {
			snap_finding(s, head, "bin %u of arena %#llx: its ends (%#llx, %#llx) are not "
				     "free chunks linking back to it", b,
				     (unsigned long long)s->st->arenas[arena].addr,
				     (unsigned long long)fd, (unsigned long long)bk);
			return false;
		}
	}
	return true;
}

void snap_links_check(struct snap *s, size_t arena)
{
	const struct linkset *ls = s->links;

	if (!ls || ls->failed || !check_bins(s, arena)) {
		snap_links_end(s);
		return;
	}
	for (size_t i = 0; i < ls->cap; i++) {
		const struct link *l = &ls->v[i];

		if (!l->p)
			continue;
		if (!links_back(s, arena, l->p, l->fd, false)) {
			snap_finding(s, l->p, "free chunk: fd %#llx is not a free chunk linking "
				     "back to it", (unsigned long long)l->fd);
			break;
		}
		if (!links_back(s, arena, l->p, l->bk, true)) {
			snap_finding(s, l->p, "free chunk: bk %#llx is not a free chunk linking "
				     "back to it", (unsigned long long)l->bk);
			break;
		}
	}
	snap_links_end(s);
}

void snap_links_end(struct snap *s)
{
	if (!s->links)
		return;
	free(s->links->v);
	free(s->links);
	s->links = NULL;
}
