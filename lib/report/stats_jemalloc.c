/* `heapdoc stats` for jemalloc: the figures of lib/alloc/jemalloc.h. */
#include <math.h>
#include <stdio.h>

#include "base/human.h"
#include "report/stats_alloc.h"
#include "base/util.h"

static void json_opt_int(struct json *j, const char *key, int64_t v)
{
	if (v == PARAM_UNSET)
		json_null(j, key);
	else
		json_int(j, key, v);
}

static void json_opt_bool(struct json *j, const char *key, int v)
{
	if (v < 0)
		json_null(j, key);
	else
		json_bool(j, key, v);
}

static double bin_utilisation(const struct jemalloc_bin *b)
{
	if (!IS_SET(b->curregs) || !IS_SET(b->curslabs) || !IS_SET(b->nregs) ||
	    !b->curslabs || !b->nregs)
		return NAN;
	return (double)b->curregs / ((double)b->nregs * b->curslabs);
}

void stats_jemalloc_json(struct json *j, const struct jemalloc_state *st)
{
	json_object_begin(j, "jemalloc");
	json_string(j, "version", st->version);
	json_string(j, "method", st->method);
	json_uint(j, "allocated", st->allocated);
	json_uint(j, "active", st->active);
	json_uint(j, "metadata", st->metadata);
	json_uint(j, "resident", st->resident);
	json_uint(j, "mapped", st->mapped);
	json_uint(j, "retained", st->retained);
	json_uint(j, "dirty", st->dirty);
	json_uint(j, "muzzy", st->muzzy);
	json_uint(j, "page", st->page);
	json_uint(j, "narenas", st->narenas);
	json_double(j, "slab_utilisation", st->slab_utilisation);

	json_array_begin(j, "arenas");
	for (size_t i = 0; i < st->narena_rows; i++) {
		const struct jemalloc_arena *a = &st->arenas[i];

		json_object_begin(j, NULL);
		json_uint(j, "index", a->index);
		json_uint(j, "nthreads", a->nthreads);
		json_uint(j, "active", a->active);
		json_uint(j, "dirty", a->dirty);
		json_uint(j, "muzzy", a->muzzy);
		json_opt_int(j, "dirty_decay_ms", a->dirty_decay_ms);
		json_opt_int(j, "muzzy_decay_ms", a->muzzy_decay_ms);
		json_object_end(j);
	}
	json_array_end(j);

	json_array_begin(j, "bins");
	for (size_t i = 0; i < st->nbins; i++) {
		const struct jemalloc_bin *b = &st->bins[i];

		json_object_begin(j, NULL);
		json_uint(j, "index", b->index);
		json_uint(j, "size", b->size);
		json_uint(j, "nregs", b->nregs);
		json_uint(j, "curregs", b->curregs);
		json_uint(j, "curslabs", b->curslabs);
		json_uint(j, "nonfull_slabs", b->nonfull_slabs);
		json_double(j, "utilisation", bin_utilisation(b));
		json_object_end(j);
	}
	json_array_end(j);

	json_object_begin(j, "opt");
	json_opt_int(j, "narenas", st->opt.narenas);
	json_opt_int(j, "dirty_decay_ms", st->opt.dirty_decay_ms);
	json_opt_int(j, "muzzy_decay_ms", st->opt.muzzy_decay_ms);
	json_opt_bool(j, "background_thread", st->opt.background_thread);
	json_opt_bool(j, "tcache", st->opt.tcache);
	json_opt_bool(j, "prof", st->opt.prof);
	json_opt_bool(j, "retain", st->opt.retain);
	json_object_end(j);

	/* As they are now (the program, or heapdoc set, may have changed
	 * them since start-up): the arenas' slowest decay times. */
	json_object_begin(j, "now");
	json_opt_bool(j, "background_thread", st->live.background_thread);
	json_opt_int(j, "dirty_decay_ms", st->live.dirty_decay_ms);
	json_opt_int(j, "muzzy_decay_ms", st->live.muzzy_decay_ms);
	json_object_end(j);

	json_int(j, "thread", st->tid);
	json_uint(j, "calls", st->calls);
	json_uint(j, "calls_us", st->calls_us);
	json_object_end(j);
}

static const char *decay(char *buf, size_t len, int64_t ms)
{
	if (ms == PARAM_UNSET)
		return "?";
	if (ms < 0)
		return "never";
	snprintf(buf, len, "%lld ms", (long long)ms);
	return buf;
}

static const char *yes_no(int v)
{
	return v < 0 ? "?" : v ? "on" : "off";
}

void stats_jemalloc_text(FILE *out, const struct jemalloc_state *st)
{
	char a[32], b[32], c[32], d[32];
	unsigned shown = 0;

	fprintf(out, "jemalloc %s (read with %s in thread %d: %u calls, %s)\n",
		st->version[0] ? st->version : "(version unknown)", st->method, st->tid,
		st->calls, human_us(a, sizeof(a), st->calls_us));
	fprintf(out, "  allocated %10s   active   %10s   metadata %10s\n",
		human_bytes(a, sizeof(a), st->allocated), human_bytes(b, sizeof(b), st->active),
		human_bytes(c, sizeof(c), st->metadata));
	fprintf(out, "  resident  %10s   mapped   %10s   retained %10s\n",
		human_bytes(a, sizeof(a), st->resident), human_bytes(b, sizeof(b), st->mapped),
		human_bytes(c, sizeof(c), st->retained));
	fprintf(out, "  dirty     %10s   muzzy    %10s   slabs %.0f%% used\n",
		human_bytes(a, sizeof(a), st->dirty), human_bytes(b, sizeof(b), st->muzzy),
		isnan(st->slab_utilisation) ? 0 : 100 * st->slab_utilisation);
	fprintf(out, "  at start-up: narenas %lld, dirty_decay_ms %s, muzzy_decay_ms %s, "
		"background_thread %s, tcache %s, prof %s, retain %s\n",
		(long long)st->opt.narenas, decay(c, sizeof(c), st->opt.dirty_decay_ms),
		decay(d, sizeof(d), st->opt.muzzy_decay_ms), yes_no(st->opt.background_thread),
		yes_no(st->opt.tcache), yes_no(st->opt.prof), yes_no(st->opt.retain));
	fprintf(out, "  now: background_thread %s, slowest arena decay: dirty %s, muzzy %s\n",
		yes_no(st->live.background_thread), decay(c, sizeof(c), st->live.dirty_decay_ms),
		decay(d, sizeof(d), st->live.muzzy_decay_ms));

	fprintf(out, "  arenas (%u, %zu in use):\n", st->narenas, st->narena_rows);
	fprintf(out, "    %5s %8s %10s %10s %10s\n", "arena", "threads", "active", "dirty",
		"muzzy");
	for (size_t i = 0; i < st->narena_rows; i++) {
		const struct jemalloc_arena *ar = &st->arenas[i];

		fprintf(out, "    %5u %8llu %10s %10s %10s\n", ar->index,
			(unsigned long long)ar->nthreads, human_bytes(a, sizeof(a), ar->active),
			human_bytes(b, sizeof(b), ar->dirty), human_bytes(c, sizeof(c), ar->muzzy));
	}

	fprintf(out, "  size classes in use (all arenas):\n");
	fprintf(out, "    %7s %10s %8s %10s %6s\n", "size", "live", "slabs", "capacity", "used");
	for (size_t i = 0; i < st->nbins; i++) {
		const struct jemalloc_bin *bn = &st->bins[i];
		double u = bin_utilisation(bn);

		if (!IS_SET(bn->curslabs) || !bn->curslabs)
			continue;
		fprintf(out, "    %7llu %10s %8llu %10s %5.0f%%\n", (unsigned long long)bn->size,
			human_bytes(a, sizeof(a), bn->curregs * bn->size),
			(unsigned long long)bn->curslabs,
			human_bytes(b, sizeof(b), bn->curslabs * bn->nregs * bn->size),
			isnan(u) ? 0 : 100 * u);
		shown++;
	}
	if (!shown)
		fprintf(out, "    (none)\n");
}
