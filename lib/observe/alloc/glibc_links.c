/* The links of an arena's free lists, checked against each other as its
 * heaps are walked: glibc's own unlink check ("corrupted double-linked
 * list") made on what the boundary-tag walk copies anyway, with no read of
 * the target and no memory per chunk.
 *
 * In a consistent arena the free chunks and the bin heads form doubly
 * linked lists: x->fd == y exactly when y->bk == x.  So the pairs
 * (x, x->fd) over every free chunk and bin head are the pairs (y->bk, y)
 * over the same nodes, and the sums of a hash of each pair agree.  A chunk
 * a list skips, a link into the middle of a chunk, a bin that lets go of
 * its chunks or points astray: the sums differ (but with probability
 * 2^-64), and the arena is corrupt before glibc aborts on it.
 *
 * Only an arena whose mutex was free is checked: a list caught mid-update
 * is not corrupt.  Its mutex is what guards its bins, nothing else: the
 * thread caches, which no lock guards and a stopped thread can leave one
 * apart from their counts (the snapshot is then not consistent), say
 * nothing about them (a corrupt tcache link once hid a bin that skips a
 * chunk this way). */
#include "observe/alloc/glibc_snap.h"

/* A pair, mixed (splitmix64's finaliser over both words). */
static uint64_t pair_hash(uint64_t from, uint64_t to)
{
	uint64_t x = from * 0x9E3779B97F4A7C15ULL ^ (to + 0x632BE59BD9B4E019ULL);

	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

void snap_links_begin(struct snap *s, size_t arena)
{
	bool walked = false;

	/* Every free chunk is noted only when the arena's heaps are walked
	 * (not a main arena made of scattered mmaps: no region). */
	for (size_t k = 0; k < s->nregions && !walked; k++)
		walked = s->regions[k].arena == arena;
	s->links.forward = s->links.back = 0;
	s->links.on = !s->st->arenas[arena].mutex_held && walked;
}

void snap_links_note(struct snap *s, uint64_t p, uint64_t fd, uint64_t bk)
{
	if (!s->links.on)
		return;
	s->links.forward += pair_hash(p, fd);
	s->links.back += pair_hash(bk, p);
}

void snap_links_check(struct snap *s, size_t arena)
{
	const unsigned char *hdr = snap_arena_hdr(s, arena);

	if (!s->links.on)
		return;
	s->links.on = false;
	for (unsigned b = 1; b < s->L->nbins; b++) {
		uint64_t head = snap_bin_head(s, arena, b);

		s->links.forward += pair_hash(head, glibc_get_at(hdr, &s->L->ms[MS_BINS],
								 2 * (b - 1)));
		s->links.back += pair_hash(glibc_get_at(hdr, &s->L->ms[MS_BINS], 2 * (b - 1) + 1),
					   head);
	}
	if (s->links.forward != s->links.back)
		snap_finding(s, s->st->arenas[arena].addr, "arena %#llx: the fd and bk links of "
			     "its free lists disagree (a chunk skipped, a link into another "
			     "chunk, a bin that lost its chunks)",
			     (unsigned long long)s->st->arenas[arena].addr);
}
