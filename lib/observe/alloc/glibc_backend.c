/* glibc behind the shared backend interface (backend.h).
 *
 * Without debug info the reader still opens, "blind": read() then gives
 * summary.valid = false with why_invalid naming the package to install,
 * and the /proc figure it can still give (resident); it never guesses.
 *
 * Cost: sample() is the trend read (glibc_trend.c): one brief hold to read
 * the arena headers, the free lists of arenas that moved since the last
 * sample walked while the process runs and checked at a second hold.
 * read() takes the brief snapshot: two holds of
 * about a millisecond each read malloc's headers, and every heap is copied
 * in 4 MiB windows and walked while the target runs in between; the walk is
 * kept when the second hold finds the same state, otherwise (a process
 * allocating right then, three times over) the whole walk is taken held:
 * 0.1-0.2 s for a 400 MiB heap of 1.5 million chunks on a 2-core VM.
 */
#include "observe/alloc/glibc.h"
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct glibc_backend_reader {
	pid_t pid;
	struct glibc_reader *g;		/* NULL: blind */
	struct error why;		/* why it is blind */
};

static int open_glibc(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
		      struct error *err)
{
	struct glibc_backend_reader *b = calloc(1, sizeof(*b));
	int rc;

	*out = NULL;
	if (!b)
		return error_set(err, -ENOMEM, "out of memory");
	b->pid = pid;
	rc = glibc_open(&b->g, pid, id, &b->why);
	if (rc == -ENODATA || rc == -EOPNOTSUPP) {
		rc = 0;		/* blind: read() says why */
	} else if (rc < 0) {
		*err = b->why;
		free(b);
		return rc;
	}
	*out = (struct alloc_reader *)b;
	return 0;
}

static void blind_summary(const struct glibc_backend_reader *b, struct alloc_summary *sum)
{
	alloc_summary_invalid(sum, "proc", b->why.msg);
}

static int sample_glibc(struct alloc_reader *r, struct target *t, uint64_t *allocated,
			uint64_t *resident, struct error *err)
{
	struct glibc_backend_reader *b = (struct glibc_backend_reader *)r;
	struct glibc_trend tr;
	int rc;

	*allocated = UNSET;
	if (b->g) {
		rc = glibc_trend_read(b->g, t, &tr, err);
		if (rc < 0)
			return rc;
		*allocated = tr.allocated;
	}
	rc = glibc_resident(b->pid, t, resident, NULL, err);
	return rc < 0 ? rc : b->g && tr.estimated ? 1 : 0;
}

static int read_glibc(struct alloc_reader *r, struct target *t, const struct alloc_read *how,
		      struct alloc_summary *sum, struct alloc_params *params, struct error *err)
{
	struct glibc_backend_reader *b = (struct glibc_backend_reader *)r;
	struct glibc_state *st;
	int rc;

	alloc_params_clear(params);
	if (!b->g) {
		blind_summary(b, sum);
		return glibc_resident(b->pid, t, &sum->resident, NULL, err);
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return error_set(err, -ENOMEM, "out of memory");
	/* Two brief holds and a validated walk; the full hold only when the
	 * process is allocating right then (glibc.h), or when asked. */
	b->g->vtables = how ? how->vtables : NULL;
	rc = how && how->hold ? glibc_snapshot(b->g, t, st, err) :
				glibc_snapshot_brief(b->g, t, st, err);
	b->g->vtables = NULL;
	if (rc == 0) {
		glibc_summarise(st, sum, params);
		glibc_window_add(b->g, st);
		glibc_window_summarise(b->g, sum);
		rc = glibc_resident(b->pid, t, &sum->resident, sum, err);
	}
	if (rc == 0 && how && how->detail) {
		how->detail->glibc = st;
		return 0;
	}
	glibc_state_free(st);
	free(st);
	return rc;
}

static void close_glibc(struct alloc_reader *r)
{
	struct glibc_backend_reader *b = (struct glibc_backend_reader *)r;

	if (!b)
		return;
	glibc_close(b->g);
	free(b);
}

static void lighten_glibc(struct alloc_reader *r)
{
	struct glibc_backend_reader *b = (struct glibc_backend_reader *)r;

	if (b->g)
		glibc_lighten(b->g);
}

const struct alloc_backend glibc_backend = {
	.kind = ALLOC_GLIBC,
	.open = open_glibc,
	.sample = sample_glibc,
	.read = read_glibc,
	.close = close_glibc,
	.lighten = lighten_glibc,
};
