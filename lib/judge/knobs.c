/* Knobs: what to turn, sized to this process and its container.
 *
 * One function per allocator family (glibc, jemalloc, tcmalloc) adds its
 * rules; the container's own knob (the memory limit) and the release action
 * are shared.  Every knob says the value in force now, where that comes
 * from, and the number that calls for the change.
 */
#include "judge/knobs.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/rules.h"
#include "base/human.h"
#include "judge/settings.h"
#include "base/util.h"

/* glibc's defaults (malloc.c, checked on 2.36 with `p mp_` in gdb):
 * trim_threshold, top_pad and mmap_threshold are all 128 KiB; the dynamic
 * mmap threshold stops at 32 MiB on 64-bit; the arena cap is 8 per core. */
#define GLIBC_DEFAULT_TRIM (128 * 1024)
#define GLIBC_DEFAULT_TOP_PAD (128 * 1024)
#define GLIBC_DEFAULT_MMAP (128 * 1024)
#define GLIBC_MMAP_MAX (32 * MiB)
#define GLIBC_ARENAS_PER_CORE 8

/* A trim threshold or top pad above this keeps whole megabytes at the top
 * of every heap: 64 MiB is glibc's own arena heap size. */
#define GLIBC_PAD_TOO_HIGH (64 * MiB)

/* jemalloc: dirty pages decay over 10 s by default.  1 s keeps the reuse
 * of a busy heap and returns what an idle one no longer needs.  (Its arena
 * count, 4 per CPU it sees, is JEMALLOC_ARENAS_PER_CPU in rules.h.) */
#define JEMALLOC_DECAY_MS 1000

/* gperftools: 32 MiB of thread caches in total by default; release rate
 * 1.0 by default, 10 is its documented "aggressive" end. */
#define TCMALLOC_DEFAULT_THREAD_CACHE (32 * MiB)

/* A raised limit should leave the working set at 70%: the 85% alarm of
 * PRESSURE_NEAR_LIMIT then needs a fifth more memory to ring again. */
#define LIMIT_TARGET_USE 0.70

const char *knob_kind_name(enum knob_kind kind)
{
	switch (kind) {
	case KNOB_ENV: return "env";
	case KNOB_CONF_OPTION: return "conf-option";
	case KNOB_ALTERNATIVE: return "alternative";
	case KNOB_ACTION: return "action";
	case KNOB_LIMIT: return "limit";
	}
	return "unknown";
}

/* ---- reading the settings in force -------------------------------------- */

bool knobs_list_get(const char *list, char sep, char kv, const char *key,
		    char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, sep);
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && !strncmp(p, key, klen) && p[klen] == kv) {
			snprintf(out, len, "%.*s", (int)(n - klen - 1), p + klen + 1);
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Writes list with key set to value (appended, or replaced in place). */
static void list_set(char *list, size_t len, char sep, char kv, const char *key,
		     const char *value)
{
	char out[512] = "";
	size_t klen = strlen(key), o = 0;
	bool done = false;

	for (const char *p = list; *p;) {
		const char *end = strchr(p, sep);
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && !strncmp(p, key, klen) && p[klen] == kv) {
			o += snprintf(out + o, sizeof(out) - MIN(o, sizeof(out)), "%s%s%c%s",
				      o ? (char[]){ sep, 0 } : "", key, kv, value);
			done = true;
		} else if (n) {
			o += snprintf(out + o, sizeof(out) - MIN(o, sizeof(out)), "%s%.*s",
				      o ? (char[]){ sep, 0 } : "", (int)n, p);
		}
		p = end ? end + 1 : p + n;
	}
	if (!done)
		o += snprintf(out + o, sizeof(out) - MIN(o, sizeof(out)), "%s%s%c%s",
			      o ? (char[]){ sep, 0 } : "", key, kv, value);
	snprintf(list, len, "%s", out);
}

/* ---- building knobs ------------------------------------------------------ */

static struct knob *knob_add(struct knobs *ks, enum knob_kind kind, const char *name)
{
	struct knob *k;

	if (ks->n >= KNOBS_MAX)
		return NULL;
	k = &ks->v[ks->n++];
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	snprintf(k->name, sizeof(k->name), "%s", name);
	return k;
}

__attribute__((format(printf, 3, 4)))
static void setf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}
#define SET(field, ...) setf(field, sizeof(field), __VA_ARGS__)

void knob_apply_env(struct knob *k, const char *var, const char *value)
{
	SET(k->apply_env, "%s=%s", var, value);
	SET(k->apply_systemd, "Environment=\"%s=%s\"", var, value);
	SET(k->apply_kubernetes, "- name: %s\n  value: \"%s\"", var, value);
}

static void knob_current(struct knob *k, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void knob_current(struct knob *k, const char *source, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->current, sizeof(k->current), fmt, ap);
	va_end(ap);
	k->current_source = source;
	k->change = strcmp(k->current, k->value) != 0;
}

static const char *hb(char *buf, uint64_t bytes)
{
	return human_bytes(buf, 32, bytes);
}

/* ---- glibc ---------------------------------------------------------------- */

/* A glibc setting as in force: the allocator's copy (mp_) when it was read,
 * else the environment, else the tunable, else the default. */
static void glibc_current(struct knob *k, const struct observation *obs, const char *env_name,
			  const char *tunable, int64_t in_mp, uint64_t dflt)
{
	const char *env = environ_get(&obs->env, env_name);
	const char *tun = environ_get(&obs->env, "GLIBC_TUNABLES");
	char tv[64];
	bool has_tun = tun && knobs_list_get(tun, ':', '=', tunable, tv, sizeof(tv));

	if (in_mp != PARAM_UNSET && in_mp > 0) {
		char mp[32];

		snprintf(mp, sizeof(mp), "%" PRId64, in_mp);
		if (env && !strcmp(env, mp))
			knob_current(k, "environment", "%s", mp);
		else if (has_tun && !strcmp(tv, mp))
			knob_current(k, "GLIBC_TUNABLES", "%s", mp);
		else
			knob_current(k, (uint64_t)in_mp == dflt ? "default" : "allocator", "%s", mp);
	} else if (env) {
		knob_current(k, "environment", "%s", env);
	} else if (has_tun) {
		knob_current(k, "GLIBC_TUNABLES", "%s", tv);
	} else if (dflt) {
		knob_current(k, "default", "%" PRIu64, dflt);
	}
}

static void glibc_arena_max(struct knobs *ks, const struct observation *obs,
			    const struct verdict *v)
{
	unsigned eff = MAX(judge_effective_cpus(obs), 1u);
	uint64_t dflt = (uint64_t)GLIBC_ARENAS_PER_CORE * obs->host_cpus;
	const struct cgroup_limits *cg = &obs->cgroup;
	struct knob *k = knob_add(ks, KNOB_ENV, "MALLOC_ARENA_MAX");
	char quota[64] = "", arenas[64] = "";

	if (!k)
		return;
	SET(k->value, "%u", eff);
	knob_apply_env(k, k->name, k->value);
	glibc_current(k, obs, "MALLOC_ARENA_MAX", "glibc.malloc.arena_max", obs->params.arena_max,
		      dflt);
	if (cg->version && !isnan(cg->cpu_quota_cores) && cg->cpu_quota_cores > 0)
		SET(quota, ", CPU quota %.2f cores", cg->cpu_quota_cores);
	if (v->gap.narenas)
		SET(arenas, "; %u arena%s now", v->gap.narenas, v->gap.narenas == 1 ? " exists" : "s exist");
	if (!k->change)
		SET(k->why, "already one arena per effective CPU (%u%s)%s", eff, quota, arenas);
	else
		SET(k->why, "%u effective CPU%s%s, but glibc caps arenas at %d per host core "
		    "(%u × %d = %" PRIu64 "): arenas beyond the CPUs that can run hold free "
		    "memory for idle threads%s", eff, eff == 1 ? "" : "s", quota,
		    GLIBC_ARENAS_PER_CORE, obs->host_cpus, GLIBC_ARENAS_PER_CORE, dflt, arenas);
}

static void glibc_trim_threshold(struct knobs *ks, const struct observation *obs,
				 const struct verdict *v)
{
	int64_t in_force = obs->params.trim_threshold;
	bool unpurged = v->kind == VERDICT_UNPURGED;
	bool too_high = in_force != PARAM_UNSET && in_force > (int64_t)GLIBC_PAD_TOO_HIGH;
	struct knob *k;
	char b1[32], b2[32];

	if (!unpurged && !too_high)
		return;
	k = knob_add(ks, KNOB_ENV, "MALLOC_TRIM_THRESHOLD_");
	if (!k)
		return;
	SET(k->value, "%d", GLIBC_DEFAULT_TRIM);
	knob_apply_env(k, k->name, k->value);
	glibc_current(k, obs, "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold",
		      in_force, GLIBC_DEFAULT_TRIM);
	if (IS_SET(v->gap.releasable) && v->gap.releasable)
		SET(k->why, "%s of free pages sit at the top of the heap%s; glibc returns the "
		    "top only once more than the trim threshold (%s now) is free there",
		    hb(b1, v->gap.releasable), unpurged ? " (verdict unpurged)" : "",
		    in_force != PARAM_UNSET ? hb(b2, (uint64_t)in_force) : "unknown");
	else
		SET(k->why, "a trim threshold of %s lets that much sit free at the top of "
		    "every heap before glibc returns any of it",
		    hb(b2, (uint64_t)in_force));
}

static void glibc_top_pad(struct knobs *ks, const struct observation *obs,
			  const struct verdict *v)
{
	int64_t in_force = obs->params.top_pad;
	bool too_high = in_force != PARAM_UNSET && in_force > (int64_t)GLIBC_PAD_TOO_HIGH;
	/* The heap grows and shrinks by the same amount again and again:
	 * a pad of one tooth keeps it mapped instead. */
	bool churn = v->rss.kind == TREND_SAWTOOTH && v->slow.fault_storm;
	uint64_t tooth = IS_SET(v->rss.max) ? v->rss.max - v->rss.min : 0;
	struct knob *k;
	char b1[32], b2[32];

	if (!(too_high && v->kind == VERDICT_UNPURGED) && !churn)
		return;
	k = knob_add(ks, KNOB_ENV, "MALLOC_TOP_PAD_");
	if (!k)
		return;
	if (churn) {
		tooth = MIN((tooth + MiB - 1) / MiB * MiB, GLIBC_PAD_TOO_HIGH);
		SET(k->value, "%" PRIu64, tooth);
		SET(k->why, "RSS rises and falls by %s with %.0f page faults/s: the heap is "
		    "returned and taken back; a pad of one tooth keeps it", hb(b1, tooth),
		    v->slow.fault_rate);
	} else {
		SET(k->value, "%d", GLIBC_DEFAULT_TOP_PAD);
		SET(k->why, "a top pad of %s keeps that much free at the top of every heap",
		    hb(b2, (uint64_t)in_force));
	}
	knob_apply_env(k, k->name, k->value);
	glibc_current(k, obs, "MALLOC_TOP_PAD_", "glibc.malloc.top_pad", in_force,
		      GLIBC_DEFAULT_TOP_PAD);
}

static void glibc_mmap_threshold(struct knobs *ks, const struct observation *obs,
				 const struct verdict *v)
{
	const char *env = environ_get(&obs->env, "MALLOC_MMAP_THRESHOLD_");
	int64_t in_force = obs->params.mmap_threshold;
	uint64_t now, value;
	struct knob *k;
	char b1[32];

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
	k = knob_add(ks, KNOB_ENV, "MALLOC_MMAP_THRESHOLD_");
	if (!k)
		return;
	SET(k->value, "%" PRIu64, value);
	knob_apply_env(k, k->name, k->value);
	glibc_current(k, obs, "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold",
		      in_force, GLIBC_DEFAULT_MMAP);
	SET(k->why, "%.0f page faults/s with the mmap threshold fixed at %s: every block "
	    "above it is mapped on malloc and unmapped on free; or unset it to let "
	    "glibc adapt it", v->slow.fault_rate, hb(b1, now));
}

/* GLIBC_TUNABLES: the same settings in one variable, merged with what the
 * target already sets there. */
static void glibc_tunables(struct knobs *ks, const struct observation *obs)
{
	static const struct { const char *env, *tunable; } spelling[] = {
		{ "MALLOC_ARENA_MAX", "glibc.malloc.arena_max" },
		{ "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold" },
		{ "MALLOC_TOP_PAD_", "glibc.malloc.top_pad" },
		{ "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold" },
	};
	const char *cur = environ_get(&obs->env, "GLIBC_TUNABLES");
	char value[256];
	size_t n = ks->n;
	struct knob *k;

	snprintf(value, sizeof(value), "%s", cur ? cur : "");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ARRAY_SIZE(spelling); j++)
			if (ks->v[i].kind == KNOB_ENV && !strcmp(ks->v[i].name, spelling[j].env))
				list_set(value, sizeof(value), ':', '=', spelling[j].tunable,
					 ks->v[i].value);
	k = knob_add(ks, KNOB_ALTERNATIVE, "GLIBC_TUNABLES");
	if (!k)
		return;
	SET(k->value, "%s", value);
	knob_apply_env(k, k->name, k->value);
	if (cur)
		knob_current(k, "environment", "%s", cur);
	else
		k->change = true;
	SET(k->why, "the same settings in glibc's tunables syntax (glibc 2.26+); set one "
	    "spelling or the other, not both");
}

static void glibc_rules(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	glibc_arena_max(ks, obs, v);
	glibc_trim_threshold(ks, obs, v);
	glibc_top_pad(ks, obs, v);
	glibc_mmap_threshold(ks, obs, v);
	glibc_tunables(ks, obs);
}

/* ---- jemalloc ---------------------------------------------------------------- */

void knobs_conf_name(const char *prefix, char *out, size_t len)
{
	size_t i = 0;

	for (; prefix[i] && i + 1 < len; i++)
		out[i] = (char)toupper((unsigned char)prefix[i]);
	snprintf(out + i, len - i, "MALLOC_CONF");
}

/* One option: its value in force from opt.* when read, else from the conf
 * string; fills k->current. */
static void jemalloc_current(struct knob *k, const char *conf, const char *conf_name,
			     int64_t in_opt, bool boolean)
{
	char cv[64];

	if (in_opt != PARAM_UNSET) {
		if (boolean)
			knob_current(k, "allocator", "%s", in_opt ? "true" : "false");
		else
			knob_current(k, "allocator", "%" PRId64, in_opt);
	} else if (conf && knobs_list_get(conf, ',', ':', k->name, cv, sizeof(cv))) {
		knob_current(k, conf_name, "%s", cv);
	} else {
		k->change = true;
	}
}

static struct knob *jemalloc_option(struct knobs *ks, const char *name, const char *value)
{
	struct knob *k = knob_add(ks, KNOB_CONF_OPTION, name);

	if (k)
		SET(k->value, "%s", value);
	return k;
}

/* narenas in force: opt.narenas when read, else the conf string, else
 * jemalloc's default of 4 per CPU it sees (the host's online CPUs). */
static void jemalloc_narenas(struct knobs *ks, const struct observation *obs,
			     const struct verdict *v, const char *conf, const char *conf_name)
{
	unsigned eff = MAX(judge_effective_cpus(obs), 1u);
	unsigned want = v->gap.kind == GAP_ARENAS || v->pressure.near ?
			eff : JEMALLOC_ARENAS_PER_CPU * eff;
	int64_t narenas = obs->params.narenas;
	const char *source = "allocator";
	char cv[32], value[32];
	struct knob *k;

	if (narenas == PARAM_UNSET && conf && knobs_list_get(conf, ',', ':', "narenas", cv, sizeof(cv))) {
		narenas = strtoll(cv, NULL, 10);
		source = conf_name;
	}
	if (narenas == PARAM_UNSET && obs->host_cpus) {
		narenas = (int64_t)JEMALLOC_ARENAS_PER_CPU * obs->host_cpus;
		source = "default";
	}
	if (narenas == PARAM_UNSET || narenas <= (int64_t)want)
		return;
	SET(value, "%u", want);
	if (!(k = jemalloc_option(ks, "narenas", value)))
		return;
	knob_current(k, source, "%" PRId64, narenas);
	SET(k->why, "%" PRId64 " arenas for %u effective CPU%s: jemalloc counts the CPUs it "
	    "sees (%u on this host), not the container's quota", narenas, eff,
	    eff == 1 ? "" : "s", obs->host_cpus);
}

static void jemalloc_rules(struct knobs *ks, const struct observation *obs,
			   const struct verdict *v)
{
	const struct alloc_params *p = &obs->params;
	bool unpurged = v->kind == VERDICT_UNPURGED;
	char conf_name[48], value[256], b1[32];
	const char *conf;
	struct knob *k;
	size_t first = ks->n;

	knobs_conf_name(obs->alloc.prefix, conf_name, sizeof(conf_name));
	conf = environ_get(&obs->env, conf_name);

	if (unpurged && p->background_thread != 1 &&
	    (k = jemalloc_option(ks, "background_thread", "true"))) {
		jemalloc_current(k, conf, conf_name, p->background_thread, true);
		SET(k->why, "%s of dirty and muzzy pages wait for decay; without a background "
		    "thread jemalloc decays only when the application allocates, so an idle "
		    "process keeps them", hb(b1, v->gap.releasable));
	}
	if (unpurged && (p->dirty_decay_ms == PARAM_UNSET || p->dirty_decay_ms < 0 ||
			 p->dirty_decay_ms > JEMALLOC_DECAY_MS)) {
		int64_t ms = v->pressure.near ? 0 : JEMALLOC_DECAY_MS;

		SET(value, "%" PRId64, ms);
		if ((k = jemalloc_option(ks, "dirty_decay_ms", value))) {
			jemalloc_current(k, conf, conf_name, p->dirty_decay_ms, false);
			SET(k->why, "%s of unused dirty pages stay resident for the decay time%s",
			    hb(b1, v->gap.releasable),
			    v->pressure.near ? "; near the memory limit: return them at once" : "");
		}
	}
	/* -1 is "never": muzzy pages then stay until the kernel wants them. */
	if (unpurged && p->muzzy_decay_ms != PARAM_UNSET &&
	    (p->muzzy_decay_ms < 0 || p->muzzy_decay_ms > JEMALLOC_DECAY_MS)) {
		SET(value, "%d", JEMALLOC_DECAY_MS);
		if ((k = jemalloc_option(ks, "muzzy_decay_ms", value))) {
			jemalloc_current(k, conf, conf_name, p->muzzy_decay_ms, false);
			SET(k->why, "muzzy pages count in RSS until the kernel reclaims them");
		}
	}
	jemalloc_narenas(ks, obs, v, conf, conf_name);
	/* The variable that carries the options above. */
	snprintf(value, sizeof(value), "%s", conf ? conf : "");
	for (size_t i = first; i < ks->n; i++)
		list_set(value, sizeof(value), ',', ':', ks->v[i].name, ks->v[i].value);
	if (ks->n == first)
		return;
	if ((k = knob_add(ks, KNOB_ENV, conf_name))) {
		SET(k->value, "%s", value);
		knob_apply_env(k, conf_name, value);
		if (conf)
			knob_current(k, "environment", "%s", conf);
		else
			k->change = true;
		SET(k->why, "carries the options above (%s reads %s at start-up)",
		    obs->alloc.prefix[0] ? "this prefixed static jemalloc" : "jemalloc", conf_name);
	}
}

/* ---- tcmalloc (gperftools) --------------------------------------------------- */

static void tcmalloc_env(struct knob *k, const struct observation *obs, const char *dflt)
{
	const char *env = environ_get(&obs->env, k->name);

	knob_apply_env(k, k->name, k->value);
	if (env)
		knob_current(k, "environment", "%s", env);
	else if (dflt)
		knob_current(k, "default", "%s", dflt);
	else
		k->change = true;
}

static void tcmalloc_rules(struct knobs *ks, const struct observation *obs,
			   const struct verdict *v)
{
	const struct pressure *pr = &v->pressure;
	int64_t cache = obs->params.max_total_thread_cache_bytes;
	struct knob *k;
	char b1[32], b2[32];

	/* google/tcmalloc reads none of these variables. */
	if (!strcmp(obs->alloc.flavor, "google"))
		return;
	if (v->kind == VERDICT_UNPURGED && (k = knob_add(ks, KNOB_ENV, "TCMALLOC_RELEASE_RATE"))) {
		SET(k->value, "%s", pr->near ? "10" : "5");
		tcmalloc_env(k, obs, "1.0");
		SET(k->why, "%s of free spans stay in the page heap; a higher rate returns "
		    "them to the system sooner", hb(b1, v->gap.releasable));
	}
	if (v->kind == VERDICT_UNPURGED && pr->near &&
	    (k = knob_add(ks, KNOB_ENV, "TCMALLOC_AGGRESSIVE_DECOMMIT"))) {
		SET(k->value, "true");
		tcmalloc_env(k, obs, "false");
		SET(k->why, "at %.0f%% of %s: return every free span at once", 100 * pr->ratio,
		    pr->limit_name);
	}
	if (cache == PARAM_UNSET)
		cache = TCMALLOC_DEFAULT_THREAD_CACHE;
	if (v->slow.hot && (k = knob_add(ks, KNOB_ENV, "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES"))) {
		SET(k->value, "%" PRId64, cache * 2);
		SET(b2, "%" PRId64, cache);
		tcmalloc_env(k, obs, b2);
		SET(k->why, "%.0f%% of stack samples in the allocator: thread caches of %s in "
		    "total miss; twice as much keeps more frees local", 100 * v->slow.alloc_share,
		    hb(b1, (uint64_t)cache));
	} else if (pr->near && IS_SET(pr->limit) && strcmp(pr->limit_name, "MemTotal") &&
		   (uint64_t)cache > pr->limit / 16 &&
		   (k = knob_add(ks, KNOB_ENV, "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES"))) {
		SET(k->value, "%" PRIu64, MAX(pr->limit / 32, 4 * MiB));
		SET(b2, "%" PRId64, cache);
		tcmalloc_env(k, obs, b2);
		SET(k->why, "thread caches may hold %s, over a sixteenth of the %s limit",
		    hb(b1, (uint64_t)cache), hb(b2, pr->limit));
	}
}

/* ---- shared: the release action and the memory limit ------------------------- */

/* The release call heapdoc makes (heapdoc release), as knobs names it. */
static const char *release_call(const struct observation *obs)
{
	switch (obs->alloc.kind) {
	case ALLOC_GLIBC: return "malloc_trim(0)";
	case ALLOC_JEMALLOC: return "mallctl(\"arena.4096.purge\")";
	case ALLOC_TCMALLOC: return "MallocExtension_ReleaseFreeMemory()";
	default: return NULL;
	}
}

static void release_action(struct knobs *ks, const struct observation *obs,
			   const struct verdict *v)
{
	uint64_t rss = IS_SET(v->gap.rss) ? v->gap.rss : 0;
	uint64_t worth = MAX(TRIM_WORTH_BYTES, (uint64_t)(TRIM_WORTH_SHARE * rss));
	uint64_t bytes = v->gap.trimmable;
	const char *call = release_call(obs);
	char b1[32];
	struct knob *k;

	/* A working set that comes and goes takes back what a release gives
	 * within a cycle: only what resident holds beyond its peak is free. */
	if (v->cycle.seen && v->gap.known && IS_SET(bytes))
		bytes = v->cycle.held_at_peak ? 0 : MIN(bytes, v->cycle.beyond_peak);
	if (!call || !IS_SET(bytes) || bytes < worth)
		return;
	k = knob_add(ks, KNOB_ACTION, obs->alloc.kind == ALLOC_GLIBC ? "malloc_trim" : "release");
	if (!k)
		return;
	SET(k->value, "%s", call);
	k->change = true;
	SET(k->why, "would return %s (%.0f%% of RSS) now", hb(b1, bytes),
	    rss ? 100.0 * bytes / rss : 0.0);
	SET(k->command, "heapdoc release %d", (int)obs->pid);
	SET(k->risk, "heapdoc makes the call on one thread parked in a system call, with no "
	    "allocator code on its stack, while the others run; a thread that needs an arena "
	    "being trimmed waits for that arena's walk.  A one-off: the memory comes back as "
	    "the heap fragments again, the knobs above keep it down");
}

/* Settings the running process can take now (heapdoc set), besides the
 * restart that makes them permanent. */
static void live_commands(struct knobs *ks, const struct observation *obs)
{
	for (size_t i = 0; i < ks->n; i++) {
		struct knob *k = &ks->v[i];

		if ((k->kind == KNOB_ENV || k->kind == KNOB_CONF_OPTION) && k->change &&
		    settings_is_live(obs->alloc.kind, k->name))
			SET(k->command, "heapdoc set %d %s=%s", (int)obs->pid, k->name, k->value);
	}
}

static void memory_limit(struct knobs *ks, const struct verdict *v)
{
	const struct pressure *pr = &v->pressure;
	uint64_t want;
	struct knob *k;
	char b1[32], b2[32];

	if (!pr->near || !pr->limit_name || !strcmp(pr->limit_name, "MemTotal"))
		return;
	want = (uint64_t)((double)pr->usage / LIMIT_TARGET_USE);
	want = (want + 64 * MiB - 1) / (64 * MiB) * (64 * MiB);
	k = knob_add(ks, KNOB_LIMIT, strstr(pr->limit_name, "high") ? "memory.high" : "memory.max");
	if (!k)
		return;
	SET(k->value, "%" PRIu64, want);
	knob_current(k, "cgroup", "%" PRIu64, pr->limit);
	SET(k->why, "working set %s is %.0f%% of %s %s: one spike from an OOM kill%s",
	    hb(b1, pr->usage), 100 * pr->ratio, pr->limit_name, hb(b2, pr->limit),
	    v->kind == VERDICT_LIVE_SET ? "; the memory is in use, so give it room or "
	    "shrink the live set" : "");
	SET(k->apply_systemd, "%s=%" PRIu64 "M", strstr(pr->limit_name, "high") ?
	    "MemoryHigh" : "MemoryMax", want / MiB);
	SET(k->apply_kubernetes, "resources:\n  limits:\n    memory: %" PRIu64 "Mi", want / MiB);
}

void judge_knobs(const struct observation *obs, const struct verdict *v, struct knobs *out)
{
	memset(out, 0, sizeof(*out));
	/* A corrupt heap is a bug to find, and a release call walks it. */
	if (obs->summary.valid && obs->summary.corrupt)
		return;
	switch (obs->alloc.kind) {
	case ALLOC_GLIBC:
		glibc_rules(out, obs, v);
		break;
	case ALLOC_JEMALLOC:
		jemalloc_rules(out, obs, v);
		break;
	case ALLOC_TCMALLOC:
		tcmalloc_rules(out, obs, v);
		break;
	default:
		break;
	}
	live_commands(out, obs);
	release_action(out, obs, v);
	memory_limit(out, v);
}
