/* jemalloc and tcmalloc behind the shared backend interface (backend.h).
 *
 * Both are read by calls made inside the target, on one borrowed thread
 * (mallctl, MallocExtension's properties), and both fall back the same way
 * when no safe moment comes (a thread stays inside the allocator, no thread
 * is parked in a system call): read() still succeeds with summary.valid
 * false and the reason, and sample() with UNSET figures, so that the caller
 * goes on with the /proc evidence alone, as the safety protocol wants.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/util.h"
#include "observe/alloc/backend.h"
#include "observe/alloc/jemalloc.h"
#include "observe/alloc/tcmalloc.h"

/* The search for a safe moment in read(); sample() keeps the default. */
#define READ_TIMEOUT_MS 2000

/* A sample that found no safe moment costs its figures, not the window. */
static int sample_result(int rc, uint64_t *allocated, uint64_t *resident)
{
	if (rc != -EAGAIN)
		return rc;
	*allocated = *resident = UNSET;
	return 0;
}

/* The end of a full read whose result is in rc (why: its error): the
 * summary or why there is none.  The state is kept as the detail when the
 * read succeeded and one was asked for (returns true), else freed. */
static bool read_result(int *rc, const struct error *why, const char *source,
			const struct alloc_read *how, struct alloc_summary *sum,
			struct alloc_params *params, struct error *err)
{
	if (*rc == -EAGAIN) {
		alloc_summary_invalid(sum, source, why->msg);
		alloc_params_clear(params);
		*rc = 0;
	} else if (*rc < 0) {
		*err = *why;
	}
	return *rc == 0 && sum->valid && how && how->detail;
}

/* ---- jemalloc -------------------------------------------------------------- */

static int open_jemalloc(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
			 struct error *err)
{
	return jemalloc_open((struct jemalloc_reader **)out, pid, id, err);
}

static int sample_jemalloc(struct alloc_reader *r, struct target *t, uint64_t *allocated,
			   uint64_t *resident, struct error *err)
{
	return sample_result(jemalloc_sample((struct jemalloc_reader *)r, t, allocated, resident,
					     err), allocated, resident);
}

static int read_jemalloc(struct alloc_reader *r, struct target *t, const struct alloc_read *how,
			 struct alloc_summary *sum, struct alloc_params *params,
			 struct error *err)
{
	struct jemalloc_state *st = malloc(sizeof(*st));
	struct error why = { 0 };
	int rc;

	if (!st)
		return error_set(err, -ENOMEM, "out of memory");
	rc = jemalloc_read((struct jemalloc_reader *)r, t, READ_TIMEOUT_MS, st, &why);
	if (rc == 0)
		jemalloc_summarise(st, sum, params);
	if (read_result(&rc, &why, "mallctl", how, sum, params, err))
		how->detail->jemalloc = st;
	else
		free(st);
	return rc;
}

static void close_jemalloc(struct alloc_reader *r)
{
	jemalloc_close((struct jemalloc_reader *)r);
}

const struct alloc_backend jemalloc_backend = {
	.kind = ALLOC_JEMALLOC,
	.open = open_jemalloc,
	.sample = sample_jemalloc,
	.read = read_jemalloc,
	.close = close_jemalloc,
};

/* ---- tcmalloc -------------------------------------------------------------- */

static int open_tcmalloc(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
			 struct error *err)
{
	return tcmalloc_open((struct tcmalloc_reader **)out, pid, id, err);
}

static int sample_tcmalloc(struct alloc_reader *r, struct target *t, uint64_t *allocated,
			   uint64_t *resident, struct error *err)
{
	return sample_result(tcmalloc_sample((struct tcmalloc_reader *)r, t, allocated, resident,
					     err), allocated, resident);
}

static int read_tcmalloc(struct alloc_reader *r, struct target *t, const struct alloc_read *how,
			 struct alloc_summary *sum, struct alloc_params *params,
			 struct error *err)
{
	struct tcmalloc_state *st = malloc(sizeof(*st));
	struct error why = { 0 };
	int rc;

	if (!st)
		return error_set(err, -ENOMEM, "out of memory");
	rc = tcmalloc_read((struct tcmalloc_reader *)r, t, READ_TIMEOUT_MS, st, &why);
	if (rc == 0)
		tcmalloc_summarise(st, sum, params);
	if (read_result(&rc, &why, "property", how, sum, params, err))
		how->detail->tcmalloc = st;
	else
		free(st);
	return rc;
}

static void close_tcmalloc(struct alloc_reader *r)
{
	tcmalloc_close((struct tcmalloc_reader *)r);
}

const struct alloc_backend tcmalloc_backend = {
	.kind = ALLOC_TCMALLOC,
	.open = open_tcmalloc,
	.sample = sample_tcmalloc,
	.read = read_tcmalloc,
	.close = close_tcmalloc,
};
