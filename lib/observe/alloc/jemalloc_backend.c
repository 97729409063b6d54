/* jemalloc behind the shared backend interface (backend.h).
 *
 * Both sample() and read() borrow one thread for their mallctl calls.  When
 * no safe moment comes (a thread stays inside jemalloc, no thread is parked
 * in a syscall), read() still succeeds with summary.valid = false and the
 * reason, and sample() with UNSET figures: the caller goes on with the
 * /proc evidence alone, as the safety protocol wants.
 */
#include "observe/alloc/jemalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/alloc/backend.h"
#include "base/util.h"

/* The search for a safe moment in read(); sample() keeps the default. */
#define READ_TIMEOUT_MS 2000

static int open_jemalloc(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
			 struct error *err)
{
	return jemalloc_open((struct jemalloc_reader **)out, pid, id, err);
}

static int sample_jemalloc(struct alloc_reader *r, struct target *t, uint64_t *allocated,
			   uint64_t *resident, struct error *err)
{
	int rc = jemalloc_sample((struct jemalloc_reader *)r, t, allocated, resident, err);

	if (rc == -EAGAIN) {
		*allocated = *resident = UNSET;
		return 0;
	}
	return rc;
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
	if (rc == 0) {
		jemalloc_summarise(st, sum, params);
	} else if (rc == -EAGAIN) {
		alloc_summary_invalid(sum, "mallctl", why.msg);
		alloc_params_clear(params);
		rc = 0;
	} else {
		*err = why;
	}
	if (rc == 0 && sum->valid && how && how->detail) {
		how->detail->jemalloc = st;
		return 0;
	}
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
