/* mimalloc: the reader (mimalloc.h), its summary, and its backend. */
#include "observe/alloc/mimalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "observe/alloc/backend.h"
#include "observe/alloc/code.h"
#include "observe/elfsym.h"

/* mimalloc 2.0's defaults (src/options.c of v2.0.9): decommit_delay 25 ms,
 * eager_commit on, allow_decommit on. */
#define MI2_DECOMMIT_DELAY_MS 25

struct mimalloc_reader {
	pid_t pid;
	uint64_t fn_version;		/* mi_version, to read its constant */
	struct environ env;
};

int mimalloc_open(struct mimalloc_reader **out, pid_t pid, const struct alloc_id *id,
		  struct error *err)
{
	struct mimalloc_reader *r = calloc(1, sizeof(*r));
	struct elfsym es = ELFSYM_INIT;
	struct error ignored;

	*out = NULL;
	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	r->pid = pid;
	/* The version and the settings help; without them the walk stands. */
	if (alloc_code_open(&es, pid, id, &ignored) == 0)
		elfsym_lookup(&es, "mi_version", &r->fn_version, NULL);
	elfsym_close(&es);
	proc_read_environ("", pid, &r->env, &ignored);
	*out = r;
	return 0;
}

void mimalloc_close(struct mimalloc_reader *r)
{
	if (!r)
		return;
	environ_free(&r->env);
	free(r);
}

/* mi_version() is `mov $VERSION, %eax; ret`: 209 is 2.0.9. */
static void read_version(struct mimalloc_reader *r, struct target *t, struct mimalloc_state *st)
{
	unsigned char code[6];
	uint32_t v;

	if (!r->fn_version || target_read_exact(t, r->fn_version, code, sizeof(code), NULL) < 0 ||
	    code[0] != 0xb8 || code[5] != 0xc3)
		return;
	memcpy(&v, code + 1, sizeof(v));
	if (v >= 100 && v < 1000)
		snprintf(st->version, sizeof(st->version), "%u.%u.%u", v / 100, v / 10 % 10, v % 10);
}

static int64_t setting(const struct mimalloc_reader *r, const char *name, int64_t dflt)
{
	const char *v = environ_get(&r->env, name);

	if (!v)
		return dflt;
	if (!strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcasecmp(v, "yes"))
		return 1;
	if (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcasecmp(v, "no"))
		return 0;
	return strtoll(v, NULL, 10);
}

/* RSS of the mappings that hold the segments found (a segment's header
 * is at its start: the mapping that contains it holds the segment, or its
 * committed head when a decommit split it). */
static uint64_t segments_rss(pid_t pid, const uint64_t *seg, size_t n)
{
	struct maps smaps = { 0 };
	uint64_t sum = 0;

	if (proc_read_smaps("", pid, &smaps, NULL) < 0)
		return UNSET;
	for (size_t i = 0; i < smaps.n; i++) {
		const struct mapping *s = &smaps.v[i];
		bool holds = false;

		for (size_t k = 0; k < n && !holds; k++)
			holds = seg[k] >= s->start && seg[k] < s->end;
		if (holds && IS_SET(s->rss))
			sum += s->rss;
	}
	maps_free(&smaps);
	return sum;
}

int mimalloc_read(struct mimalloc_reader *r, struct target *t, struct mimalloc_state *st,
		  uint64_t *resident, struct error *err)
{
	struct maps m = { 0 };
	uint64_t *seg = NULL;
	size_t nseg = 0;
	int rc, rc2;

	memset(st, 0, sizeof(*st));
	*resident = UNSET;
	rc = proc_read_maps("", r->pid, &m, err);
	if (rc < 0)
		return rc;
	rc = target_stop(t, err);
	if (rc == 0) {
		read_version(r, t, st);
		rc = mimalloc_segments_read(t, &m, st, &seg, &nseg, err);
		rc2 = target_resume(t, rc ? NULL : err);
		rc = rc ? rc : rc2;
	}
	if (rc == 0 && !st->segments)
		rc = error_set(err, -ENODATA, "no mimalloc segment found at a 32 MiB boundary "
			       "(%" PRIu64 " candidates rejected): mimalloc %s is not the 2.0 "
			       "layout heapdoc knows, or it has not allocated yet", st->rejected,
			       st->version[0] ? st->version : "(version unknown)");
	if (rc == 0)
		*resident = segments_rss(r->pid, seg, nseg);
	free(seg);
	st->decommit_delay_ms = setting(r, "MIMALLOC_DECOMMIT_DELAY", MI2_DECOMMIT_DELAY_MS);
	st->eager_commit = setting(r, "MIMALLOC_EAGER_COMMIT", 1);
	st->allow_decommit = setting(r, "MIMALLOC_ALLOW_DECOMMIT", 1);
	maps_free(&m);
	return rc;
}

bool mimalloc_collects_own(const char *version)
{
	unsigned major = 0, minor = 0;

	return sscanf(version, "%u.%u", &major, &minor) == 2 && (major > 2 || (major == 2 && minor >= 1));
}

void mimalloc_summarise(const struct mimalloc_state *st, uint64_t resident,
			struct alloc_summary *sum, struct alloc_params *params)
{
	alloc_summary_invalid(sum, "segments", "");
	sum->valid = true;
	sum->allocated = st->in_use;
	sum->resident = resident;
	sum->mapped = st->reserved;
	/* Free blocks inside pages that hold live ones: reused, never
	 * returned while a block of the page lives. */
	sum->free_interleaved = st->page_capacity > st->in_use ? st->page_capacity - st->in_use : 0;
	/* Whole free slices still committed: mimalloc decommits them after
	 * its delay when the owning thread next runs the allocator, or at
	 * once in mi_collect(true). */
	sum->free_releasable = IS_SET(st->free_resident) ? st->free_resident : st->free_slices;
	/* mi_collect(true) in 2.0 decommits abandoned segments' free slices
	 * only (heap.c: _mi_abandoned_collect); a live thread's wait for it to
	 * allocate again.  2.1's mi_collect purges its own segments too. */
	sum->trimmable = !IS_SET(st->free_resident) ? UNSET :
			 mimalloc_collects_own(st->version) ? st->free_resident :
			 st->free_resident_abandoned;
	sum->free_unresident = IS_SET(st->free_resident) ? st->free_slices - st->free_resident :
			       UNSET;
	sum->free_total = sum->free_interleaved + sum->free_releasable;
	sum->pinned_bytes = 0;
	if (!params)
		return;
	alloc_params_clear(params);
	params->purge_delay_ms = st->decommit_delay_ms;
}

/* ---- behind the shared interface --------------------------------------------- */

static int open_mimalloc(struct alloc_reader **out, pid_t pid, const struct alloc_id *id,
			 struct error *err)
{
	return mimalloc_open((struct mimalloc_reader **)out, pid, id, err);
}

static int sample_mimalloc(struct alloc_reader *r, struct target *t, uint64_t *allocated,
			   uint64_t *resident, struct error *err)
{
	struct mimalloc_state st;
	int rc = mimalloc_read((struct mimalloc_reader *)r, t, &st, resident, err);

	*allocated = rc == 0 ? st.in_use : UNSET;
	return rc == -ENODATA ? 0 : rc;
}

static int read_mimalloc(struct alloc_reader *r, struct target *t, const struct alloc_read *how,
			 struct alloc_summary *sum, struct alloc_params *params,
			 struct error *err)
{
	struct mimalloc_state *st = malloc(sizeof(*st));
	struct error why = { 0 };
	uint64_t resident;
	int rc;

	if (!st)
		return error_set(err, -ENOMEM, "out of memory");
	rc = mimalloc_read((struct mimalloc_reader *)r, t, st, &resident, &why);
	if (rc == 0) {
		mimalloc_summarise(st, resident, sum, params);
	} else if (rc == -ENODATA) {
		alloc_summary_invalid(sum, "segments", why.msg);
		alloc_params_clear(params);
		rc = 0;
	} else {
		*err = why;
	}
	if (rc == 0 && sum->valid && how && how->detail) {
		how->detail->mimalloc = st;
		return 0;
	}
	free(st);
	return rc;
}

static void close_mimalloc(struct alloc_reader *r)
{
	mimalloc_close((struct mimalloc_reader *)r);
}

const struct alloc_backend mimalloc_backend = {
	.kind = ALLOC_MIMALLOC,
	.open = open_mimalloc,
	.sample = sample_mimalloc,
	.read = read_mimalloc,
	.close = close_mimalloc,
};
