/* Where the leak is: allocation sites of a sampled profile ranked by how
 * much their live bytes grew over the window, and by what they hold.
 *
 * A site's growth is the slope of its live bytes between the middle and
 * the end of the window (profile.h's `mid`), times the window: a site that
 * keeps what it allocates grows the whole time (a leak); one that filled
 * early and then frees as much as it allocates (a cache, a queue at steady
 * state) has a flat second half and no growth, though it holds memory.
 * Without a middle (a window too short to have one) growth is what is live
 * at the end.  Pure: reads a struct profile, touches no process.
 */
#ifndef HEAPDOC_JUDGE_LEAKS_H
#define HEAPDOC_JUDGE_LEAKS_H

#include <stddef.h>

#include "judge/classes.h"
#include "model/profile.h"

/* Live samples a site must gain over the second half to count as growing. */
#define LEAK_MIN_SAMPLES 3

struct leak_site {
	size_t site;			/* index in profile.sites */
	double growth_bytes;		/* over the window */
	double growth_objects;
	double bytes_per_s, objects_per_s;	/* growth rate */
	double share;			/* of all sites' growth, 0..1 */
};

struct leak_ranking {
	struct leak_site *growing;	/* growth > 0, most first */
	size_t ngrowing;
	size_t *holding;		/* sites by live bytes at the end, most first */
	size_t nholding;
	double growth_bytes;		/* sum over growing sites */
	double live_bytes, live_objects;	/* sum over all sites */
	double alloc_bytes, alloc_objects;
	struct class_ranking classes;	/* p->before.classes, CLASSES_TOP named */
};

/* -ENOMEM, else 0. */
int judge_leaks(const struct profile *p, struct leak_ranking *r);
void leak_ranking_free(struct leak_ranking *r);

/* The frame that names a site: the innermost one outside the allocator's
 * own wrappers (operator new, strdup ...), judged by function name. */
size_t leak_site_frame(const struct profile *p, const struct prof_site *s);

#endif
