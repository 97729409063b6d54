#include "observe/alloc/jemalloc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/alloc/code.h"
#include "observe/elfsym.h"
#include "observe/inject.h"
#include "base/util.h"

#define MERGED 4096			/* MALLCTL_ARENAS_ALL: every arena at once */

struct jemalloc_reader {
	struct alloc_callee c;		/* its code, libc's, the pid */
	const struct alloc_id *id;	/* while opening */
	uint64_t mallctl;		/* its run-time address */
};

/* ---- finding jemalloc in the target ---------------------------------------- */

/* A static copy has no library of its own to tell its code by: its
 * functions are told by name.  The public API (possibly prefixed) and the
 * internal modules' name stems; matching too much only makes heapdoc wait
 * for a quieter moment, matching too little could borrow a thread that is
 * inside jemalloc. */
static bool is_jemalloc_function(const char *name)
{
	static const char *const stems[] = {
		"je_", "_rjem_", "mallctl", "malloc", "mallocx", "rallocx", "xallocx",
		"sallocx", "dallocx", "sdallocx", "nallocx", "calloc", "realloc",
		"free", "aligned_alloc", "posix_memalign", "memalign", "valloc",
		"pvalloc", "a0", "arena_", "arenas_", "tcache_", "tsd_", "extent_",
		"extents_", "emap_", "ecache_", "edata_", "eset_", "pa_", "pac_",
		"hpa_", "hpdata_", "sec_", "base_", "bin_", "ctl_", "large_", "prof_",
		"background_thread", "witness_", "rtree_", "sz_", "decay_", "psset_",
		"san_", "ehooks_", "ifree", "isfree", "imalloc", "ialloc", "idalloc",
		"ipalloc", "iralloc", "irealloc", "thread_tcache", "stats_",
	};

	for (size_t i = 0; i < ARRAY_SIZE(stems); i++)
		if (!strncmp(name, stems[i], strlen(stems[i])))
			return true;
	return false;
}

static int find_mallctl(void *arg, const struct elfsym *es, struct error *err)
{
	struct jemalloc_reader *r = arg;
	const struct alloc_id *id = r->id;
	const char *prefixes[] = { id->prefix, "", "je_", "_rjem_" };
	char name[64];

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		snprintf(name, sizeof(name), "%smallctl", prefixes[i]);
		if (elfsym_lookup(es, name, &r->mallctl, NULL) == 0)
			return 0;
	}
	return error_set(err, -ENOENT, "pid %d: %s exports no mallctl (tried the prefixes "
			 "\"%s\", \"\", je_, _rjem_)", r->c.pid, id->path, id->prefix);
}

int jemalloc_open(struct jemalloc_reader **out, pid_t pid, const struct alloc_id *id,
		  struct error *err)
{
	struct jemalloc_reader *r = calloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	r->id = id;
	/* No single lock to peek at: no thread at all may be inside it. */
	r->c.guard.all_threads_clear = true;
	ret = alloc_callee_open(&r->c, pid, id, "jemalloc", is_jemalloc_function, find_mallctl,
				r, err);
	r->id = NULL;
	if (ret < 0) {
		jemalloc_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

void jemalloc_close(struct jemalloc_reader *r)
{
	if (!r)
		return;
	alloc_callee_close(&r->c);
	free(r);
}

/* ---- mallctl, called inside the target ----------------------------------------- */

/* What one call needs in the target's memory, written in one go. */
struct ctl_block {
	uint64_t oldlen;
	uint64_t old;
	uint64_t new;
	char name[104];
};

/* mallctl(name, old, &oldlen, new, newlen) inside the target.  A width-byte
 * value is read into *val (if val) and newval written (if newval).  Returns
 * 0, mallctl's own error as a positive errno (ENOENT: no such name in this
 * build or arena), or the injection's error as a negative one. */
int jemalloc_mallctl(struct jemalloc_ctl *c, const char *name, void *val, size_t width,
		     const void *newval, size_t newlen)
{
	struct ctl_block b = { .oldlen = width };
	size_t len = strlen(name);
	uint64_t at, ret, args[5];
	int rc;

	if (len >= sizeof(b.name) || width > sizeof(b.old) || newlen > sizeof(b.new))
		return error_set(c->err, -EINVAL, "mallctl %s: name or value too long", name);
	memcpy(b.name, name, len + 1);
	if (newval)
		memcpy(&b.new, newval, newlen);
	inject_scratch_reset(&c->s);
	at = inject_push(&c->s, &b, offsetof(struct ctl_block, name) + len + 1, c->err);
	if (!at)
		return -EIO;
	args[0] = at + offsetof(struct ctl_block, name);
	args[1] = val ? at + offsetof(struct ctl_block, old) : 0;
	args[2] = val ? at + offsetof(struct ctl_block, oldlen) : 0;
	args[3] = newval ? at + offsetof(struct ctl_block, new) : 0;
	args[4] = newval ? newlen : 0;
	rc = inject_call(&c->s, c->r->mallctl, args, 5, &ret, c->err);
	if (rc < 0)
		return rc;
	if ((int)ret)
		return (int)ret > 0 ? (int)ret : EINVAL;
	if (!val)
		return 0;
	rc = target_read_exact(c->s.t, at, &b, 2 * sizeof(uint64_t), c->err);
	if (rc < 0)
		return rc;
	if (b.oldlen != width)
		return error_set(c->err, -EPROTO, "mallctl %s: %llu bytes, not %zu", name,
				 (unsigned long long)b.oldlen, width);
	memcpy(val, &b.old, width);
	return 0;
}

/* An unsigned figure of width bytes; UNSET when this build lacks it.  Only
 * a failure of the call itself (not of mallctl) is returned. */
static int get_u(struct jemalloc_ctl *c, const char *name, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	int rc = jemalloc_mallctl(c, name, &v, width, NULL, 0);

	*out = rc == 0 ? v : UNSET;
	return rc < 0 ? rc : 0;
}

/* A signed 64-bit figure (ssize_t); PARAM_UNSET when this build lacks it
 * (-1 is a real value: "never decay"). */
static int get_s(struct jemalloc_ctl *c, const char *name, int64_t *out)
{
	int64_t v = 0;
	int rc = jemalloc_mallctl(c, name, &v, sizeof(v), NULL, 0);

	*out = rc == 0 ? v : PARAM_UNSET;
	return rc < 0 ? rc : 0;
}

static int get_fmt(struct jemalloc_ctl *c, size_t width, uint64_t *out, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int get_fmt(struct jemalloc_ctl *c, size_t width, uint64_t *out, const char *fmt, ...)
{
	char name[104];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return get_u(c, name, width, out);
}

static int as_bool(uint64_t v)
{
	return v == UNSET ? -1 : (int)(v & 0xff);
}

static int epoch(struct jemalloc_ctl *c)
{
	uint64_t one = 1;
	int rc = jemalloc_mallctl(c, "epoch", NULL, 0, &one, sizeof(one));

	if (rc > 0)
		return error_set(c->err, -rc, "pid %d: mallctl(\"epoch\"): %s", c->r->c.pid,
				 strerror(rc));
	return rc;
}

int jemalloc_ctl_begin(struct jemalloc_ctl *c, struct jemalloc_reader *r, struct target *t,
		       unsigned timeout_ms, struct error *err)
{
	c->r = r;
	c->err = err;
	return alloc_callee_begin(&r->c, &c->s, t, timeout_ms, err);
}

int jemalloc_ctl_end(struct jemalloc_ctl *c, int rc)
{
	if (inject_end(&c->s, rc ? NULL : c->err) < 0 && !rc)
		rc = -EIO;
	return rc;
}

/* ---- the reads -------------------------------------------------------------- */

static int read_version(struct jemalloc_ctl *c, struct jemalloc_state *st)
{
	uint64_t ptr;
	int rc = get_u(c, "version", sizeof(ptr), &ptr);

	if (rc < 0 || ptr == UNSET)
		return rc;
	if (target_read(c->s.t, ptr, st->version, sizeof(st->version) - 1, NULL) <= 0)
		st->version[0] = '\0';
	st->version[sizeof(st->version) - 1] = '\0';
	return 0;
}

static int read_totals(struct jemalloc_ctl *c, struct jemalloc_state *st)
{
	const struct {
		const char *name;
		uint64_t *v;
	} totals[] = {
		{ "stats.allocated", &st->allocated }, { "stats.active", &st->active },
		{ "stats.metadata", &st->metadata }, { "stats.resident", &st->resident },
		{ "stats.mapped", &st->mapped }, { "stats.retained", &st->retained },
		{ "arenas.page", &st->page },
	};
	uint64_t narenas, pdirty, pmuzzy;
	int rc = 0;

	for (size_t i = 0; i < ARRAY_SIZE(totals) && !rc; i++)
		rc = get_u(c, totals[i].name, sizeof(size_t), totals[i].v);
	if (!rc)
		rc = get_u(c, "arenas.narenas", sizeof(unsigned), &narenas);
	if (!rc)
		rc = get_fmt(c, sizeof(size_t), &pdirty, "stats.arenas.%d.pdirty", MERGED);
	if (!rc)
		rc = get_fmt(c, sizeof(size_t), &pmuzzy, "stats.arenas.%d.pmuzzy", MERGED);
	if (rc)
		return rc;
	st->narenas = narenas == UNSET ? 0 : (unsigned)narenas;
	st->dirty = pdirty == UNSET || st->page == UNSET ? UNSET : pdirty * st->page;
	st->muzzy = pmuzzy == UNSET || st->page == UNSET ? UNSET : pmuzzy * st->page;
	return 0;
}

static uint64_t pages(uint64_t n, uint64_t page)
{
	return n == UNSET || page == UNSET ? UNSET : n * page;
}

/* arena.<i>.<kind>_decay_ms: the arena's decay time now. */
static int get_decay(struct jemalloc_ctl *c, unsigned i, const char *kind, int64_t *out)
{
	char name[64];

	snprintf(name, sizeof(name), "arena.%u.%s_decay_ms", i, kind);
	return get_s(c, name, out);
}

/* Keeps in *slowest the slower of it and ms; -1 ("never") is the slowest. */
static void decay_slowest(int64_t *slowest, int64_t ms)
{
	if (ms == PARAM_UNSET || *slowest == -1)
		return;
	if (*slowest == PARAM_UNSET || ms == -1 || ms > *slowest)
		*slowest = ms;
}

static int read_arenas(struct jemalloc_ctl *c, struct jemalloc_state *st)
{
	st->live.dirty_decay_ms = st->live.muzzy_decay_ms = PARAM_UNSET;
	for (unsigned i = 0; i < st->narenas && st->narena_rows < JEMALLOC_MAX_ARENAS; i++) {
		struct jemalloc_arena *a = &st->arenas[st->narena_rows];
		uint64_t pactive, pdirty, pmuzzy;
		int rc;

		rc = get_fmt(c, sizeof(size_t), &pactive, "stats.arenas.%u.pactive", i);
		if (rc)
			return rc;
		if (pactive == UNSET)
			continue;	/* not initialized: no thread ever used it */
		rc = get_fmt(c, sizeof(size_t), &pdirty, "stats.arenas.%u.pdirty", i);
		if (!rc)
			rc = get_fmt(c, sizeof(size_t), &pmuzzy, "stats.arenas.%u.pmuzzy", i);
		if (!rc)
			rc = get_fmt(c, sizeof(unsigned), &a->nthreads, "stats.arenas.%u.nthreads", i);
		if (!rc)
			rc = get_decay(c, i, "dirty", &a->dirty_decay_ms);
		if (!rc)
			rc = get_decay(c, i, "muzzy", &a->muzzy_decay_ms);
		if (rc)
			return rc;
		decay_slowest(&st->live.dirty_decay_ms, a->dirty_decay_ms);
		decay_slowest(&st->live.muzzy_decay_ms, a->muzzy_decay_ms);
		a->index = i;
		a->active = pages(pactive, st->page);
		a->dirty = pages(pdirty, st->page);
		a->muzzy = pages(pmuzzy, st->page);
		st->narena_rows++;
	}
	return 0;
}

static int read_bins(struct jemalloc_ctl *c, struct jemalloc_state *st)
{
	double live = 0, capacity = 0;
	uint64_t nbins;
	int rc = get_u(c, "arenas.nbins", sizeof(unsigned), &nbins);

	if (rc || nbins == UNSET)
		return rc;
	for (unsigned j = 0; j < nbins && j < JEMALLOC_MAX_BINS; j++) {
		struct jemalloc_bin *b = &st->bins[st->nbins];

		b->index = j;
		rc = get_fmt(c, sizeof(size_t), &b->size, "arenas.bin.%u.size", j);
		if (!rc)
			rc = get_fmt(c, sizeof(uint32_t), &b->nregs, "arenas.bin.%u.nregs", j);
		if (!rc)
			rc = get_fmt(c, sizeof(size_t), &b->curregs,
				     "stats.arenas.%d.bins.%u.curregs", MERGED, j);
		if (!rc)
			rc = get_fmt(c, sizeof(size_t), &b->curslabs,
				     "stats.arenas.%d.bins.%u.curslabs", MERGED, j);
		if (!rc)
			rc = get_fmt(c, sizeof(size_t), &b->nonfull_slabs,
				     "stats.arenas.%d.bins.%u.nonfull_slabs", MERGED, j);
		if (rc)
			return rc;
		if (IS_SET(b->size) && IS_SET(b->nregs) && IS_SET(b->curregs) &&
		    IS_SET(b->curslabs)) {
			live += (double)b->curregs * b->size;
			capacity += (double)b->curslabs * b->nregs * b->size;
		}
		st->nbins++;
	}
	st->slab_utilisation = capacity > 0 ? live / capacity : NAN;
	return 0;
}

static int read_opts(struct jemalloc_ctl *c, struct jemalloc_state *st)
{
	uint64_t narenas, bg, tcache, prof, retain, live_bg;
	int64_t dirty, muzzy;
	int rc;

	rc = get_u(c, "background_thread", sizeof(bool), &live_bg);
	if (!rc)
		rc = get_u(c, "opt.narenas", sizeof(unsigned), &narenas);
	if (!rc)
		rc = get_s(c, "opt.dirty_decay_ms", &dirty);
	if (!rc)
		rc = get_s(c, "opt.muzzy_decay_ms", &muzzy);
	if (!rc)
		rc = get_u(c, "opt.background_thread", sizeof(bool), &bg);
	if (!rc)
		rc = get_u(c, "opt.tcache", sizeof(bool), &tcache);
	if (!rc)
		rc = get_u(c, "opt.prof", sizeof(bool), &prof);
	if (!rc)
		rc = get_u(c, "opt.retain", sizeof(bool), &retain);
	if (rc)
		return rc;
	st->opt = (struct jemalloc_opt){
		.narenas = narenas == UNSET ? PARAM_UNSET : (int64_t)(uint32_t)narenas,
		.dirty_decay_ms = dirty, .muzzy_decay_ms = muzzy,
		.background_thread = as_bool(bg), .tcache = as_bool(tcache),
		.prof = as_bool(prof), .retain = as_bool(retain),
	};
	st->live.background_thread = as_bool(live_bg);
	return 0;
}

int jemalloc_read(struct jemalloc_reader *r, struct target *t, unsigned timeout_ms,
		  struct jemalloc_state *st, struct error *err)
{
	struct jemalloc_ctl c;
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(st->method, sizeof(st->method), "mallctl");
	rc = jemalloc_ctl_begin(&c, r, t, timeout_ms, err);
	if (rc < 0)
		return rc;
	st->tid = c.s.tid;
	rc = epoch(&c);
	if (!rc)
		rc = read_totals(&c, st);
	if (!rc)
		rc = read_arenas(&c, st);
	if (!rc)
		rc = read_bins(&c, st);
	if (!rc)
		rc = read_opts(&c, st);
	if (!rc)
		rc = read_version(&c, st);
	st->calls = c.s.calls;
	st->calls_us = c.s.calls_us;
	if (inject_end(&c.s, rc ? NULL : err) < 0 && !rc)
		rc = -EIO;
	return rc;
}

int jemalloc_sample(struct jemalloc_reader *r, struct target *t, uint64_t *allocated,
		    uint64_t *resident, struct error *err)
{
	struct jemalloc_ctl c;
	int rc;

	rc = jemalloc_ctl_begin(&c, r, t, 0, err);
	if (rc < 0)
		return rc;
	rc = epoch(&c);
	if (!rc)
		rc = get_u(&c, "stats.allocated", sizeof(size_t), allocated);
	if (!rc)
		rc = get_u(&c, "stats.resident", sizeof(size_t), resident);
	if (inject_end(&c.s, rc ? NULL : err) < 0 && !rc)
		rc = -EIO;
	return rc;
}

/* ---- in the terms every allocator shares ------------------------------------ */

static uint64_t sub_or_unset(uint64_t a, uint64_t b)
{
	return IS_SET(a) && IS_SET(b) ? (a > b ? a - b : 0) : UNSET;
}

static uint64_t add_or_unset(uint64_t a, uint64_t b)
{
	return IS_SET(a) && IS_SET(b) ? a + b : UNSET;
}

void jemalloc_summarise(const struct jemalloc_state *st, struct alloc_summary *sum,
			struct alloc_params *params)
{
	*sum = (struct alloc_summary){
		.valid = true,
		.allocated = st->allocated,
		.active = st->active,
		.resident = st->resident,
		.mapped = st->mapped,
		/* Free room inside live pages: slabs not full, large-size
		 * rounding.  Whole free pages are dirty or muzzy extents,
		 * waiting for decay: what a purge (or a shorter decay) returns. */
		.free_interleaved = sub_or_unset(st->active, st->allocated),
		.free_releasable = add_or_unset(st->dirty, st->muzzy),
		.trimmable = add_or_unset(st->dirty, st->muzzy),
		.narenas = st->narenas,
		.free_small_chunks = UNSET, .free_small_bytes = UNSET,
		.free_large_chunks = UNSET, .free_large_bytes = UNSET,
		.largest_free = UNSET, .pinned_bytes = UNSET, .top_size = UNSET,
		.top_held_bytes = UNSET, .top_held_by = UNSET, .top_held_by_size = UNSET,
		.top_held_by_free = UNSET,
		.slab_utilisation = st->slab_utilisation,
		.free_unresident = UNSET, .arena_peak_sum = UNSET, .arena_peak_once = UNSET,
		.pool_block_size = UNSET, .pool_blocks = UNSET, .pool_bytes = UNSET,
	};
	snprintf(sum->source, sizeof(sum->source), "%s", st->method);
	sum->free_total = add_or_unset(sum->free_interleaved, sum->free_releasable);
	if (!params)
		return;
	alloc_params_clear(params);
	/* The settings as they are now, start-up options only where the live
	 * value could not be read: the program or heapdoc set may have changed
	 * them since (redis starts its background thread at run time). */
	params->dirty_decay_ms = st->live.dirty_decay_ms != PARAM_UNSET ?
				 st->live.dirty_decay_ms : st->opt.dirty_decay_ms;
	params->muzzy_decay_ms = st->live.muzzy_decay_ms != PARAM_UNSET ?
				 st->live.muzzy_decay_ms : st->opt.muzzy_decay_ms;
	params->narenas = st->opt.narenas;
	params->background_thread = st->live.background_thread >= 0 ? st->live.background_thread :
				    st->opt.background_thread >= 0 ? st->opt.background_thread :
				    PARAM_UNSET;
	params->tcache = st->opt.tcache < 0 ? PARAM_UNSET : st->opt.tcache;
	params->retain = st->opt.retain < 0 ? PARAM_UNSET : st->opt.retain;
}
