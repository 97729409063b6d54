/* tcmalloc behind the shared backend interface (backend.h); the same
 * fallback as jemalloc_backend.c when no safe moment comes. */
#include "observe/alloc/tcmalloc.h"

#include <errno.h>
#include <stdlib.h>

#include "observe/alloc/backend.h"
#include "base/util.h"

#define READ_TIMEOUT_MS 2000

static int open_tcmalloc(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
			 struct error *err)
{
	return tcmalloc_open((struct tcmalloc_reader **)out, pid, id, err);
}

static int sample_tcmalloc(struct alloc_reader *r, struct target *t, uint64_t *allocated,
			   uint64_t *resident, struct error *err)
{
	int rc = tcmalloc_sample((struct tcmalloc_reader *)r, t, allocated, resident, err);

	if (rc == -EAGAIN) {
		*allocated = *resident = UNSET;
		return 0;
	}
	return rc;
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
	if (rc == 0) {
		tcmalloc_summarise(st, sum, params);
	} else if (rc == -EAGAIN) {
		alloc_summary_invalid(sum, "property", why.msg);
		alloc_params_clear(params);
		rc = 0;
	} else {
		*err = why;
	}
	if (rc == 0 && sum->valid && how && how->detail) {
		how->detail->tcmalloc = st;
		return 0;
	}
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
