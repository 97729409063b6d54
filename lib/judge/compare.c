/* Before and after a change (compare.h).
 *
 * Each knob heapdoc advises is there to move one number (judge/knobs.c
 * says why it advises it): the arena cap and the mmap threshold the free
 * space held between live data (the gap), the trim threshold and the decay
 * and release settings the whole free pages not handed back (unpurged),
 * the top pad the page faults of memory returned and taken back, the
 * thread-cache caps resident memory.  A setting that differs between the
 * two recordings is checked against its number; with none differing (a
 * release, a deploy), the figures speak for themselves.
 */
#include "judge/compare.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "judge/rules.h"
#include "base/human.h"
#include "base/util.h"

enum { FIG_RSS, FIG_RESIDENT, FIG_ALLOCATED, FIG_GAP, FIG_UNPURGED, FIG_ARENAS, FIG_FAULTS,
       FIG_RSS_RATE };

/* A move worth the name: a tenth of the figure, and (for sizes) 1 MiB. */
#define COMPARE_MOVE_SHARE 0.10
#define COMPARE_MOVE_BYTES (1024.0 * 1024)

struct aim {
	const char *setting;	/* environment variable, or alloc_params member */
	int figure;
	int direction;
};

static const struct aim aims[] = {
	{ "MALLOC_ARENA_MAX", FIG_GAP, -1 },
	{ "MALLOC_MMAP_THRESHOLD_", FIG_GAP, -1 },
	{ "MALLOC_TRIM_THRESHOLD_", FIG_UNPURGED, -1 },
	{ "MALLOC_TOP_PAD_", FIG_FAULTS, -1 },
	{ "GLIBC_TUNABLES", FIG_GAP, -1 },
	{ "MALLOC_CONF", FIG_UNPURGED, -1 },
	{ "JE_MALLOC_CONF", FIG_UNPURGED, -1 },
	{ "_RJEM_MALLOC_CONF", FIG_UNPURGED, -1 },
	{ "TCMALLOC_RELEASE_RATE", FIG_UNPURGED, -1 },
	{ "TCMALLOC_AGGRESSIVE_DECOMMIT", FIG_UNPURGED, -1 },
	{ "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES", FIG_RESIDENT, -1 },
	{ "LD_PRELOAD", FIG_RSS, -1 },
	/* Settings in force, as the allocator holds them (`heapdoc set`). */
	{ "arena_max", FIG_GAP, -1 },
	{ "mmap_threshold", FIG_GAP, -1 },
	{ "trim_threshold", FIG_UNPURGED, -1 },
	{ "top_pad", FIG_FAULTS, -1 },
	{ "tcache_count", FIG_RESIDENT, -1 },
	{ "dirty_decay_ms", FIG_UNPURGED, -1 },
	{ "muzzy_decay_ms", FIG_UNPURGED, -1 },
	{ "background_thread", FIG_UNPURGED, -1 },
	{ "narenas", FIG_GAP, -1 },
	{ "max_total_thread_cache_bytes", FIG_RESIDENT, -1 },
};

static const struct aim *aim_of(const char *setting, const char *value)
{
	static const struct aim tunables[] = {
		{ "arena_max", FIG_GAP, -1 }, { "mmap_threshold", FIG_GAP, -1 },
		{ "trim_threshold", FIG_UNPURGED, -1 }, { "top_pad", FIG_FAULTS, -1 },
		{ "tcache_count", FIG_RESIDENT, -1 },
	};

	/* GLIBC_TUNABLES holds several: the first known one it sets. */
	if (!strcmp(setting, "GLIBC_TUNABLES"))
		for (size_t i = 0; value && i < ARRAY_SIZE(tunables); i++)
			if (strstr(value, tunables[i].setting))
				return &tunables[i];
	for (size_t i = 0; i < ARRAY_SIZE(aims); i++)
		if (!strcmp(aims[i].setting, setting))
			return &aims[i];
	return NULL;
}

/* ---- the figures ---------------------------------------------------------- */

static double set_or_nan(uint64_t v)
{
	return IS_SET(v) ? (double)v : NAN;
}

static void figures_of(const struct observation *o, const struct verdict *v, double *f)
{
	f[FIG_RSS] = v->rss.kind != TREND_UNKNOWN ? (double)v->rss.level : set_or_nan(v->gap.rss);
	f[FIG_RESIDENT] = v->gap.known ? (double)v->gap.resident : NAN;
	f[FIG_ALLOCATED] = v->gap.known ? (double)v->gap.allocated : NAN;
	f[FIG_GAP] = v->gap.known ? (double)v->gap.bytes : NAN;
	f[FIG_UNPURGED] = o->summary.valid ? set_or_nan(o->summary.free_releasable) : NAN;
	f[FIG_ARENAS] = o->summary.valid && o->summary.narenas ? o->summary.narenas : NAN;
	f[FIG_FAULTS] = v->slow.fault_rate;
	f[FIG_RSS_RATE] = v->rss.kind != TREND_UNKNOWN ? v->rss.slope : NAN;
}

static const struct { const char *name, *unit; } figure_names[COMPARE_FIGURES] = {
	[FIG_RSS] = { "RSS", "bytes" },
	[FIG_RESIDENT] = { "resident", "bytes" },
	[FIG_ALLOCATED] = { "allocated", "bytes" },
	[FIG_GAP] = { "the gap (resident - allocated)", "bytes" },
	[FIG_UNPURGED] = { "whole free pages not returned", "bytes" },
	[FIG_ARENAS] = { "arenas", "arenas" },
	[FIG_FAULTS] = { "minor page faults", "faults/s" },
	[FIG_RSS_RATE] = { "RSS growth", "bytes/s" },
};

double compare_change(const struct compare_figure *f)
{
	if (isnan(f->before) || isnan(f->after) || f->before == 0)
		return NAN;
	return (f->after - f->before) / fabs(f->before);
}

/* -1, 0 or +1: how the figure moved, counting only a move worth the name. */
static int moved(const struct compare_figure *f)
{
	double d = f->after - f->before, floor = 0;

	if (isnan(f->before) || isnan(f->after))
		return 0;
	if (!strcmp(f->unit, "bytes"))
		floor = COMPARE_MOVE_BYTES;
	else if (!strcmp(f->unit, "arenas"))
		floor = 1;
	if (fabs(d) < floor || fabs(d) < COMPARE_MOVE_SHARE * MAX(fabs(f->before), fabs(f->after)))
		return 0;
	return d > 0 ? 1 : -1;
}

/* ---- the settings --------------------------------------------------------- */

static void add_setting(struct compare *c, const char *name, const char *before,
			const char *after)
{
	struct compare_setting *s;
	const struct aim *a = aim_of(name, after && after[0] ? after : before);

	if (c->nsettings >= COMPARE_MAX_SETTINGS)
		return;
	s = &c->settings[c->nsettings++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->before, sizeof(s->before), "%s", before ? before : "");
	snprintf(s->after, sizeof(s->after), "%s", after ? after : "");
	if (a) {
		const struct compare_figure *f = &c->figures[a->figure];
		int m = moved(f);

		s->aim = f->name;
		s->direction = a->direction;
		s->known = !isnan(f->before) && !isnan(f->after);
		s->moved = m && m == a->direction;
		s->wrong_way = m && m != a->direction;
	}
}

/* The allocator's variables that differ between the two environments. */
static void environ_settings(struct compare *c, const struct environ *a, const struct environ *b)
{
	const struct environ *sides[2] = { a, b };

	for (int side = 0; side < 2; side++) {
		const char *p = sides[side]->buf, *end = p ? p + sides[side]->len : NULL;

		while (p && p < end) {
			size_t len = strnlen(p, (size_t)(end - p));
			const char *eq = memchr(p, '=', len);
			char name[48];

			if (eq && (size_t)(eq - p) < sizeof(name) &&
			    environ_is_allocator_setting(p, (size_t)(eq - p))) {
				const char *va, *vb;

				snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
				va = environ_get(a, name);
				vb = environ_get(b, name);
				/* Each name once: from the side that has it first. */
				if ((side == 0 || !va) && (!va || !vb || strcmp(va, vb)))
					add_setting(c, name, va, vb);
			}
			p += len + 1;
		}
	}
}

/* Settings in force that moved although the environment did not. */
static void param_settings(struct compare *c, const struct alloc_params *a,
			   const struct alloc_params *b)
{
	const struct { const char *name; int64_t x, y; } p[] = {
		{ "arena_max", a->arena_max, b->arena_max },
		{ "mmap_threshold", a->mmap_threshold, b->mmap_threshold },
		{ "trim_threshold", a->trim_threshold, b->trim_threshold },
		{ "top_pad", a->top_pad, b->top_pad },
		{ "tcache_count", a->tcache_count, b->tcache_count },
		{ "dirty_decay_ms", a->dirty_decay_ms, b->dirty_decay_ms },
		{ "muzzy_decay_ms", a->muzzy_decay_ms, b->muzzy_decay_ms },
		{ "background_thread", a->background_thread, b->background_thread },
		{ "narenas", a->narenas, b->narenas },
		{ "max_total_thread_cache_bytes", a->max_total_thread_cache_bytes,
		  b->max_total_thread_cache_bytes },
	};

	for (size_t i = 0; i < ARRAY_SIZE(p); i++) {
		char x[32], y[32];
		bool covered = false;

		if (p[i].x == PARAM_UNSET || p[i].y == PARAM_UNSET || p[i].x == p[i].y)
			continue;
		/* The environment already says why it moved. */
		for (size_t k = 0; k < c->nsettings; k++)
			covered |= c->settings[k].aim == figure_names[aim_of(p[i].name, NULL)->figure].name;
		if (covered)
			continue;
		snprintf(x, sizeof(x), "%lld", (long long)p[i].x);
		snprintf(y, sizeof(y), "%lld", (long long)p[i].y);
		add_setting(c, p[i].name, x, y);
	}
}

/* ---- the conclusion ------------------------------------------------------- */

static const char *amount(char *buf, size_t len, const struct compare_figure *f, double v)
{
	if (isnan(v))
		return "n/a";
	if (!strcmp(f->unit, "bytes"))
		return human_bytes(buf, len, (uint64_t)fmax(v, 0));
	snprintf(buf, len, "%.0f", v);
	return buf;
}

/* The setting the conclusion is about: the first one with a number to move. */
static const struct compare_setting *deciding(const struct compare *c)
{
	for (size_t i = 0; i < c->nsettings; i++)
		if (c->settings[i].aim)
			return &c->settings[i];
	return c->nsettings ? &c->settings[0] : NULL;
}

static void conclude(struct compare *c)
{
	const struct compare_setting *s = deciding(c);
	const struct compare_figure *f = NULL, *rss = &c->figures[FIG_RSS],
				    *gap = &c->figures[FIG_GAP];
	char b1[32], b2[32], b3[32], b4[32];

	for (size_t i = 0; s && i < c->nfigures; i++)
		if (c->figures[i].name == s->aim)
			f = &c->figures[i];
	c->worked = s && f && s->known ? (s->moved ? 1 : 0) : -1;
	if (!s) {
		snprintf(c->conclusion, sizeof(c->conclusion), "no allocator setting differs "
			 "between the two (a release, a deploy, the load?): RSS %s → %s, the gap "
			 "%s → %s", amount(b1, sizeof(b1), rss, rss->before),
			 amount(b2, sizeof(b2), rss, rss->after),
			 amount(b3, sizeof(b3), gap, gap->before),
			 amount(b4, sizeof(b4), gap, gap->after));
	} else if (!f || !s->known) {
		snprintf(c->conclusion, sizeof(c->conclusion), "%s changed (%s → %s), but %s "
			 "was not measured on both sides", s->name, s->before[0] ? s->before :
			 "unset", s->after[0] ? s->after : "unset", f ? f->name : "what it moves");
	} else {
		snprintf(c->conclusion, sizeof(c->conclusion), "%s (%s → %s) is there to %s %s: "
			 "%s → %s (%+.0f%%): %s", s->name, s->before[0] ? s->before : "unset",
			 s->after[0] ? s->after : "unset", s->direction < 0 ? "lower" : "raise",
			 f->name, amount(b1, sizeof(b1), f, f->before),
			 amount(b2, sizeof(b2), f, f->after), 100 * compare_change(f),
			 s->moved ? "it did" : s->wrong_way ? "it went the other way" :
			 "it did not move it: the cause is elsewhere");
	}
}

void judge_compare(const struct observation *before, const struct verdict *vb,
		   const struct observation *after, const struct verdict *va,
		   struct compare *out)
{
	double fb[COMPARE_FIGURES], fa[COMPARE_FIGURES];

	memset(out, 0, sizeof(*out));
	out->verdict_before = verdict_name(vb->kind);
	out->verdict_after = verdict_name(va->kind);
	out->same_process = before->pid == after->pid &&
			    before->status.tgid == after->status.tgid;
	figures_of(before, vb, fb);
	figures_of(after, va, fa);
	for (size_t i = 0; i < COMPARE_FIGURES; i++)
		out->figures[i] = (struct compare_figure){ figure_names[i].name, fb[i], fa[i],
							   figure_names[i].unit };
	out->nfigures = COMPARE_FIGURES;
	environ_settings(out, &before->env, &after->env);
	param_settings(out, &before->params, &after->params);
	conclude(out);
}
