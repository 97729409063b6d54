/* glibc's knobs: the arena cap, the trim threshold, the top pad and the
 * mmap threshold, each advised only when the evidence says it would move
 * this process's numbers, and written in the spelling that wins here.
 *
 * glibc reads MALLOC_ARENA_MAX and friends as aliases of its tunables, and
 * GLIBC_TUNABLES wins over them (REFERENCE.md: arena_max=4 there with
 * MALLOC_ARENA_MAX=2 kept 4).  So when the process has GLIBC_TUNABLES, the
 * advice is its tunables merged with the process's own ones (a line that
 * replaced them would drop its other settings); otherwise the MALLOC_*
 * variables. */
#include "judge/knobs_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/human.h"
#include "base/util.h"

/* glibc's defaults (malloc.c, checked on 2.36 with `p mp_` in gdb):
 * trim_threshold, top_pad and mmap_threshold are all 128 KiB; the dynamic
 * mmap threshold stops at 32 MiB on 64-bit; the arena cap is 8 per core. */
#define GLIBC_DEFAULT_TRIM (128 * 1024)
#define GLIBC_DEFAULT_TOP_PAD (128 * 1024)
#define GLIBC_DEFAULT_MMAP (128 * 1024)
#define GLIBC_MMAP_MAX (32 * MiB)
#define GLIBC_ARENAS_PER_CORE 8

/* A top pad above this keeps whole megabytes at the top of every heap:
 * 64 MiB is glibc's own arena heap size. */
#define GLIBC_PAD_TOO_HIGH (64 * MiB)

/* One setting, under both its names. */
struct glibc_setting {
	const char *env;	/* MALLOC_ARENA_MAX */
	const char *tunable;	/* glibc.malloc.arena_max */
	uint64_t dflt;		/* glibc's default; 0: computed (arena_max) */
};

static const struct glibc_setting ARENA_MAX = { "MALLOC_ARENA_MAX", "glibc.malloc.arena_max", 0 };
static const struct glibc_setting TRIM = { "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold",
					   GLIBC_DEFAULT_TRIM };
static const struct glibc_setting TOP_PAD = { "MALLOC_TOP_PAD_", "glibc.malloc.top_pad",
					      GLIBC_DEFAULT_TOP_PAD };
static const struct glibc_setting MMAP = { "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold",
					   GLIBC_DEFAULT_MMAP };

static const char *hb(char *buf, uint64_t bytes)
{
	return human_bytes(buf, 32, bytes);
}

/* The knob for s: an option of GLIBC_TUNABLES when the process has that
 * variable, else the MALLOC_* variable itself. */
static struct knob *glibc_knob(struct knobs *ks, const struct observation *obs,
			       const struct glibc_setting *s, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static struct knob *glibc_knob(struct knobs *ks, const struct observation *obs,
			       const struct glibc_setting *s, const char *fmt, ...)
{
	bool tunables = environ_get(&obs->env, "GLIBC_TUNABLES") != NULL;
	struct knob *k = knob_add(ks, tunables ? KNOB_CONF_OPTION : KNOB_ENV,
				  tunables ? s->tunable : s->env);
	va_list ap;

	if (!k)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(k->value, sizeof(k->value), fmt, ap);
	va_end(ap);
	if (!tunables)
		knob_apply_env(k, s->env, k->value);
	return k;
}

/* The value in force: glibc's own (mp_) when it was read, said to come from
 * the spelling that set it (GLIBC_TUNABLES wins over the variable); else
 * what those spellings say; else the default. */
static void glibc_current(struct knob *k, const struct observation *obs,
			  const struct glibc_setting *s, int64_t in_mp, uint64_t dflt)
{
	const char *env = environ_get(&obs->env, s->env);
	const char *tun = environ_get(&obs->env, "GLIBC_TUNABLES");
	char tv[64], mp[32];
	bool has_tun = tun && knobs_list_get(tun, ':', '=', s->tunable, tv, sizeof(tv));

	if (in_mp != PARAM_UNSET && in_mp > 0) {
		snprintf(mp, sizeof(mp), "%" PRId64, in_mp);
		if (has_tun && !strcmp(tv, mp))
			knob_current(k, "GLIBC_TUNABLES", "%s", mp);
		else if (env && !strcmp(env, mp))
			knob_current(k, "environment", "%s", mp);
		else
			knob_current(k, (uint64_t)in_mp == dflt ? "default" : "allocator", "%s", mp);
	} else if (has_tun) {
		knob_current(k, "GLIBC_TUNABLES", "%s", tv);
	} else if (env) {
		knob_current(k, "environment", "%s", env);
	} else if (dflt) {
		knob_current(k, "default", "%" PRIu64, dflt);
	} else {
		k->change = true;
	}
}

/* Only threads that take turns gain from a cap: they then share the free
 * memory each arena keeps for its own.  Threads that allocate together
 * need the memory at the same time, capped or not (judge_gap: turns). */
static void arena_max(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	const struct gap *g = &v->gap;
	unsigned cap = MAX(g->effective_cpus, 1u);
	uint64_t dflt = (uint64_t)GLIBC_ARENAS_PER_CORE * obs->host_cpus;
	uint64_t saves = MIN(g->arena_shared, g->bytes);
	struct knob *k;
	char b1[32], b2[32], b3[32];

	if (v->kind != VERDICT_FRAGMENTATION || g->kind != GAP_ARENAS ||
	    !(k = glibc_knob(ks, obs, &ARENA_MAX, "%u", cap)))
		return;
	glibc_current(k, obs, &ARENA_MAX, obs->params.arena_max, dflt);
	KSET(k->why, "%u arenas for %u effective CPU%s, and their threads took turns: each "
	     "arena's own peak adds up to %s, but at most %s was in use at once",
	     g->narenas, cap, cap == 1 ? "" : "s", hb(b1, g->arena_peak_sum),
	     hb(b2, g->arena_peak_once));
	KSET(k->effect, "with %u arena%s the turns share one another's free memory: RSS about "
	     "%s lower, after a restart (glibc fixes the arena count once arenas exist)",
	     cap, cap == 1 ? "" : "s", hb(b3, saves));
	k->effect_bytes = saves;
}

/* glibc gives the top of a heap back when a free() leaves more than the
 * trim threshold there; a threshold raised (by mallopt, or glibc's dynamic
 * one after a large mmapped block is freed) keeps it. */
static void trim_threshold(struct knobs *ks, const struct observation *obs,
			   const struct verdict *v)
{
	int64_t in_force = obs->params.trim_threshold;
	uint64_t top = v->gap.releasable;
	struct knob *k;
	char b1[32], b2[32];

	if (v->kind != VERDICT_UNPURGED || in_force == PARAM_UNSET ||
	    in_force <= GLIBC_DEFAULT_TRIM || !IS_SET(top) || top <= GLIBC_DEFAULT_TRIM ||
	    !(k = glibc_knob(ks, obs, &TRIM, "%d", GLIBC_DEFAULT_TRIM)))
		return;
	glibc_current(k, obs, &TRIM, in_force, GLIBC_DEFAULT_TRIM);
	KSET(k->why, "%s of free pages sit at the top of the heap, under a trim threshold of "
	     "%s", hb(b1, top), hb(b2, (uint64_t)in_force));
	KSET(k->effect, "glibc returns those %s itself at the next free() that reaches the top",
	     hb(b1, top));
	k->effect_bytes = top;
}

static void top_pad(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	int64_t in_force = obs->params.top_pad;
	uint64_t top = IS_SET(obs->summary.top_size) ? obs->summary.top_size : 0;
	/* The heap grows and shrinks by the same amount again and again:
	 * a pad of one tooth keeps it mapped instead. */
	bool churn = v->rss.kind == TREND_SAWTOOTH && v->slow.fault_storm;
	uint64_t tooth = IS_SET(v->rss.max) ? v->rss.max - v->rss.min : 0, keeps;
	struct knob *k;
	char b1[32], b2[32];

	if (churn) {
		tooth = MIN((tooth + MiB - 1) / MiB * MiB, GLIBC_PAD_TOO_HIGH);
		if (!(k = glibc_knob(ks, obs, &TOP_PAD, "%" PRIu64, tooth)))
			return;
		KSET(k->why, "RSS rises and falls by %s with %.0f page faults/s: the heap is "
		     "returned and taken back", hb(b1, tooth), v->slow.fault_rate);
		KSET(k->effect, "the heap keeps one tooth mapped: most of the %.0f faults/s stop, "
		     "for up to %s more RSS", v->slow.fault_rate, hb(b2, tooth));
	} else {
		/* A huge pad keeps that much at the top of every heap. */
		keeps = in_force == PARAM_UNSET ? 0 : MIN(top, (uint64_t)in_force);
		if (v->kind != VERDICT_UNPURGED || in_force <= (int64_t)GLIBC_PAD_TOO_HIGH ||
		    keeps <= GLIBC_DEFAULT_TOP_PAD + GAP_MIN_BYTES ||
		    !(k = glibc_knob(ks, obs, &TOP_PAD, "%d", GLIBC_DEFAULT_TOP_PAD)))
			return;
		KSET(k->why, "a top pad of %s keeps %s free at the top of the heap",
		     hb(b2, (uint64_t)in_force), hb(b1, keeps));
		KSET(k->effect, "glibc returns %s of it at the next trim of the top",
		     hb(b1, keeps - GLIBC_DEFAULT_TOP_PAD));
		k->effect_bytes = keeps - GLIBC_DEFAULT_TOP_PAD;
	}
	glibc_current(k, obs, &TOP_PAD, in_force, GLIBC_DEFAULT_TOP_PAD);
}

static void mmap_threshold(struct knobs *ks, const struct observation *obs,
			   const struct verdict *v)
{
	const char *env = environ_get(&obs->env, MMAP.env);
	int64_t in_force = obs->params.mmap_threshold, trim;
	uint64_t now, value;
	struct knob *k;
	char b1[32], b2[32];

	/* Only a threshold fixed below the dynamic maximum makes glibc map and
	 * unmap each block on malloc/free; the dynamic one adapts by itself. */
	if (!v->slow.fault_storm)
		return;
	if (in_force == PARAM_UNSET && env)
		in_force = strtoll(env, NULL, 0);
	if (in_force == PARAM_UNSET || in_force <= 0 || (uint64_t)in_force >= GLIBC_MMAP_MAX ||
	    (!obs->params.no_dyn_threshold && !env))
		return;
	now = (uint64_t)in_force;
	value = MIN(MAX(now * 8, 4 * MiB), GLIBC_MMAP_MAX);
	if (!(k = glibc_knob(ks, obs, &MMAP, "%" PRIu64, value)))
		return;
	glibc_current(k, obs, &MMAP, in_force, GLIBC_DEFAULT_MMAP);
	KSET(k->why, "%.0f page faults/s with the mmap threshold fixed at %s: every block "
	     "above it is mapped on malloc and unmapped on free", v->slow.fault_rate,
	     hb(b1, now));
	KSET(k->effect, "blocks up to %s come from the heap and are reused: most of the %.0f "
	     "faults/s stop, with the trim threshold below", hb(b2, value), v->slow.fault_rate);
	/* A block freed into the top is trimmed away again at once unless the
	 * trim threshold is above it: glibc's own dynamic threshold keeps it
	 * at twice the mmap threshold, and so does this advice. */
	trim = obs->params.trim_threshold == PARAM_UNSET ? GLIBC_DEFAULT_TRIM :
	       obs->params.trim_threshold;
	if (trim >= (int64_t)(2 * value) || !(k = glibc_knob(ks, obs, &TRIM, "%" PRIu64, 2 * value)))
		return;
	glibc_current(k, obs, &TRIM, obs->params.trim_threshold, GLIBC_DEFAULT_TRIM);
	KSET(k->why, "with blocks up to %s on the heap, a trim threshold of %s would give each "
	     "one back to the system as it is freed", hb(b1, value), hb(b2, (uint64_t)trim));
	KSET(k->effect, "the heap keeps what it takes back; together with the mmap threshold "
	     "above, most of the %.0f faults/s stop", v->slow.fault_rate);
}

void knobs_glibc(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	const char *tun = environ_get(&obs->env, "GLIBC_TUNABLES");
	size_t first = ks->n;

	/* No allocator knob fixes a leak, nor moves memory really in use. */
	if (v->kind == VERDICT_LEAK)
		return;
	arena_max(ks, obs, v);
	trim_threshold(ks, obs, v);
	top_pad(ks, obs, v);
	mmap_threshold(ks, obs, v);
	if (tun)
		knobs_carrier(ks, first, "GLIBC_TUNABLES", tun, ':', '=',
			      "carries the settings above merged into the process's own "
			      "GLIBC_TUNABLES, which wins over the MALLOC_* variables");
}
