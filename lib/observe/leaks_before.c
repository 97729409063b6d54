/* What was live before sampling began (leaks_before.h). */
#include "observe/leaks_before.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/observe.h"
#include "observe/vtables.h"

/* Where each allocator's allocated comes from, for the report. */
static const char *allocated_source(enum alloc_kind kind)
{
	switch (kind) {
	case ALLOC_GLIBC: return "mallinfo2: uordblks + hblkhd";
	case ALLOC_JEMALLOC: return "jemalloc stats.allocated";
	case ALLOC_TCMALLOC: return "tcmalloc generic.current_allocated_bytes";
	default: return "";
	}
}

/* Why there is no census by class, when there is none. */
static void census_why(struct prof_before *b, const struct observation *obs,
		       const struct vtables *vt, const char *vt_error)
{
	struct class_census *c = &b->classes;

	if (c->taken && c->nclasses)
		return;
	if (obs->alloc.kind != ALLOC_GLIBC)
		snprintf(c->why, sizeof(c->why), "the census walks glibc's heaps; this process "
			 "allocates with %s", b->allocator);
	else if (vt_error)
		snprintf(c->why, sizeof(c->why), "its vtables could not be found: %.150s",
			 vt_error);
	else if (!c->taken)
		snprintf(c->why, sizeof(c->why), "glibc's heaps could not be walked: %.150s",
			 b->why[0] ? b->why : "no snapshot");
	else if (!vt->n)
		snprintf(c->why, sizeof(c->why), "no C++ vtable in its executable or libraries "
			 "(C code, or files stripped of their symbol tables)");
	else
		snprintf(c->why, sizeof(c->why), "no chunk in use starts with one of its %zu "
			 "vtable pointers", vt->n);
}

/* The observation's figures into b; the census moves out of detail. */
static void take(struct prof_before *b, const struct observation *obs,
		 struct alloc_detail *detail)
{
	const struct alloc_summary *sum = &obs->summary;

	b->pause_us = obs->pause_us;
	if (sum->valid && IS_SET(sum->allocated)) {
		b->allocated = sum->allocated;
		snprintf(b->source, sizeof(b->source), "%s", allocated_source(obs->alloc.kind));
	} else {
		snprintf(b->why, sizeof(b->why), "%.199s", sum->why_invalid[0] ? sum->why_invalid :
			 "heapdoc cannot read this allocator's figures");
	}
	if (detail->glibc) {
		b->walk_us = detail->glibc->walk_us;
		b->rewalked = detail->glibc->rewalked;
		snprintf(b->walk_method, sizeof(b->walk_method), "%s",
			 detail->glibc->method ? detail->glibc->method : "");
		b->classes = detail->glibc->classes;
		memset(&detail->glibc->classes, 0, sizeof(detail->glibc->classes));
	}
}

int leaks_before_read(pid_t pid, struct prof_before *b, struct error *err)
{
	struct observation *obs = calloc(1, sizeof(*obs));
	struct alloc_detail detail = { 0 };
	struct alloc_read how = { .detail = &detail };
	struct vtables vt = { 0 };
	struct observer o;
	struct error e = { 0 }, vt_err = { 0 };
	const char *vt_error = NULL;
	int ret;

	memset(b, 0, sizeof(*b));
	b->allocated = b->walk_us = UNSET;
	if (!obs)
		return error_set(err, -ENOMEM, "out of memory");
	ret = observe_begin(&o, "", pid, true, obs, &e);
	if (ret == 0) {
		b->read = true;
		snprintf(b->allocator, sizeof(b->allocator), "%s", alloc_kind_name(obs->alloc.kind));
		/* Found while the process runs: the walk then only looks up. */
		if (obs->alloc.kind == ALLOC_GLIBC && o.reader) {
			if (vtables_load(&vt, pid, &vt_err) == 0)
				how.vtables = &vt;
			else
				vt_error = vt_err.msg;
		}
		ret = observe_finish(&o, &how, &e);
	}
	observe_end(&o);
	if (ret == 0) {
		take(b, obs, &detail);
	} else {
		snprintf(b->why, sizeof(b->why), "%.199s", e.msg);
		if (ret == -ESRCH || ret == -EINTR)
			*err = e;
	}
	census_why(b, obs, &vt, vt_error);
	alloc_detail_free(&detail);
	vtables_free(&vt);
	observation_release(obs);
	free(obs);
	return ret == -ESRCH || ret == -EINTR ? ret : 0;
}
