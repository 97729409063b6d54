/* scudo (LLVM's standalone hardened allocator, usually LD_PRELOADed): its
 * own statistics through its mallinfo2(), called inside the process on one
 * borrowed thread (lib/observe/inject.h), the same way jemalloc's mallctl
 * is.  scudo fills three of mallinfo2's fields from its counters:
 * uordblks = bytes allocated (StatAllocated), hblkhd = bytes mapped
 * (StatMapped), fordblks = bytes free in its caches (StatFree).  It keeps
 * no resident figure and no map of where free memory sits: resident is
 * the RSS of the process's anonymous mappings (scudo's regions are
 * anonymous and unnamed on Linux), labelled as /proc's, and the gap is not
 * split (its kind stays unknown). */
#include "observe/alloc/scudo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/alloc/backend.h"
#include "observe/alloc/code.h"
#include "observe/elfsym.h"
#include "observe/inject.h"
#include "observe/proc.h"

#define READ_TIMEOUT_MS 2000

struct scudo_reader {
	pid_t pid;
	uint64_t fn_mallinfo2;
	struct inject_guard guard;	/* scudo's code: no thread may be inside it */
	struct inject_libc libc;
};

/* mallinfo2's ten size_t, in glibc's order. */
struct mallinfo2_raw {
	uint64_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks,
		 keepcost;
};

static bool is_scudo_function(const char *name)
{
	(void)name;
	return true;	/* a static copy's functions cannot be told apart: refuse all */
}

static int open_scudo(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
		      struct error *err)
{
	struct scudo_reader *r = calloc(1, sizeof(*r));
	struct elfsym es = ELFSYM_INIT;
	int rc;

	*out = NULL;
	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	r->pid = pid;
	r->guard.what = "scudo";
	r->guard.all_threads_clear = true;
	rc = alloc_code_open(&es, pid, id, err);
	if (rc == 0 && elfsym_lookup(&es, "mallinfo2", &r->fn_mallinfo2, NULL) < 0)
		rc = error_set(err, -EOPNOTSUPP, "%s exports no mallinfo2 (scudo before LLVM 13)",
			       id->path);
	if (rc == 0)
		rc = alloc_code_guard(&r->guard, &es, pid, id, is_scudo_function, err);
	elfsym_close(&es);
	if (rc < 0) {
		inject_guard_free(&r->guard);
		free(r);
		return rc;
	}
	inject_libc_find(pid, &r->libc, NULL);
	*out = (struct alloc_reader *)r;
	return 0;
}

/* mallinfo2() inside the target: the struct comes back through a pointer
 * in rdi (it is too large for registers). */
static int call_mallinfo2(struct scudo_reader *r, struct target *t, struct mallinfo2_raw *mi,
			  struct error *err)
{
	struct inject_opts o = { .guard = &r->guard, .timeout_ms = READ_TIMEOUT_MS,
				 .libc = r->libc.mmap ? &r->libc : NULL };
	struct inject_session s;
	uint64_t at, ret;
	int rc;

	memset(mi, 0, sizeof(*mi));
	rc = inject_begin(&s, t, &o, err);
	if (rc < 0)
		return rc;
	at = inject_push(&s, mi, sizeof(*mi), err);
	rc = at ? inject_call(&s, r->fn_mallinfo2, &at, 1, &ret, err) : -EIO;
	if (rc == 0)
		rc = target_read_exact(t, at, mi, sizeof(*mi), err);
	if (inject_end(&s, rc ? NULL : err) < 0 && !rc)
		rc = -EIO;
	return rc;
}

/* RSS of the anonymous writable mappings that are not stacks: scudo's. */
static uint64_t anon_rss(pid_t pid)
{
	struct maps m = { 0 };
	uint64_t sum = 0;

	if (proc_read_smaps("", pid, &m, NULL) < 0)
		return UNSET;
	for (size_t i = 0; i < m.n; i++)
		if (m.v[i].kind == MAPPING_ANON && strchr(m.v[i].perms, 'w') && IS_SET(m.v[i].rss))
			sum += m.v[i].rss;
	maps_free(&m);
	return sum;
}

static int sample_scudo(struct alloc_reader *ar, struct target *t, uint64_t *allocated,
			uint64_t *resident, struct error *err)
{
	struct scudo_reader *r = (struct scudo_reader *)ar;
	struct mallinfo2_raw mi;
	int rc = call_mallinfo2(r, t, &mi, err);

	*allocated = rc == 0 ? mi.uordblks : UNSET;
	*resident = anon_rss(r->pid);
	return rc == -EAGAIN ? 0 : rc;
}

static int read_scudo(struct alloc_reader *ar, struct target *t, const struct alloc_read *how,
		      struct alloc_summary *sum, struct alloc_params *params, struct error *err)
{
	struct scudo_reader *r = (struct scudo_reader *)ar;
	struct mallinfo2_raw mi;
	struct error why = { 0 };
	int rc = call_mallinfo2(r, t, &mi, &why);

	(void)how;
	alloc_params_clear(params);
	if (rc == -EAGAIN) {
		alloc_summary_invalid(sum, "mallinfo2", why.msg);
		return 0;
	}
	if (rc < 0) {
		*err = why;
		return rc;
	}
	alloc_summary_invalid(sum, "mallinfo2+proc", "");
	sum->valid = true;
	sum->allocated = mi.uordblks;
	sum->mapped = mi.hblkhd;
	sum->free_total = mi.fordblks;
	sum->resident = anon_rss(r->pid);
	return 0;
}

static void close_scudo(struct alloc_reader *ar)
{
	struct scudo_reader *r = (struct scudo_reader *)ar;

	if (!r)
		return;
	inject_guard_free(&r->guard);
	free(r);
}

const struct alloc_backend scudo_backend = {
	.kind = ALLOC_SCUDO,
	.open = open_scudo,
	.sample = sample_scudo,
	.read = read_scudo,
	.close = close_scudo,
};
