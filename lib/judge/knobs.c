/* Knobs: what to turn, sized to this process and its container.
 *
 * One file per allocator family adds its rules (knobs_glibc.c,
 * knobs_alloc.c); this one holds what they share, the release action and
 * the container's memory limit.  Every knob says the value in force now and
 * where that comes from, the number that calls for it and what it would
 * change; knobs already at the advised value are dropped at the end.
 */
#include "judge/knobs_impl.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/human.h"
#include "base/util.h"
#include "judge/settings.h"
#include "judge/where.h"

/* A raised limit should leave the working set at 70%: the 85% alarm of
 * PRESSURE_NEAR_LIMIT then needs a fifth more memory to ring again. */
#define LIMIT_TARGET_USE 0.70

const char *knob_kind_name(enum knob_kind kind)
{
	switch (kind) {
	case KNOB_ENV: return "env";
	case KNOB_CONF_OPTION: return "conf-option";
	case KNOB_ACTION: return "action";
	case KNOB_LIMIT: return "limit";
	}
	return "unknown";
}

/* ---- lists of options: GLIBC_TUNABLES, MALLOC_CONF ------------------------- */

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

void knobs_list_set(char *list, size_t len, char sep, char kv, const char *key,
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
	/* Cut to fit, as the snprintf calls above are. */
	o = MIN(strlen(out), len - 1);
	memcpy(list, out, o);
	list[o] = '\0';
}

void knobs_conf_name(const char *prefix, char *out, size_t len)
{
	size_t i = 0;

	for (; prefix[i] && i + 1 < len; i++)
		out[i] = (char)toupper((unsigned char)prefix[i]);
	snprintf(out + i, len - i, "MALLOC_CONF");
}

/* ---- building knobs ------------------------------------------------------ */

struct knob *knob_add(struct knobs *ks, enum knob_kind kind, const char *name)
{
	struct knob *k;

	if (ks->n >= KNOBS_MAX)
		return NULL;
	k = &ks->v[ks->n++];
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->effect_bytes = UNSET;
	snprintf(k->name, sizeof(k->name), "%s", name);
	return k;
}

void knob_setf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

void knob_apply_env(struct knob *k, const char *var, const char *value)
{
	KSET(k->apply_env, "%s=%s", var, value);
	KSET(k->apply_systemd, "Environment=\"%s=%s\"", var, value);
	KSET(k->apply_kubernetes, "- name: %s\n  value: \"%s\"", var, value);
}

void knob_current(struct knob *k, const char *source, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->current, sizeof(k->current), fmt, ap);
	va_end(ap);
	k->current_source = source;
	k->change = strcmp(k->current, k->value) != 0;
}

void knobs_carrier(struct knobs *ks, size_t first, const char *var, const char *cur,
		   char sep, char kv, const char *why)
{
	char value[256];
	bool change = false;
	struct knob *k;

	snprintf(value, sizeof(value), "%s", cur ? cur : "");
	for (size_t i = first; i < ks->n; i++) {
		if (ks->v[i].kind != KNOB_CONF_OPTION || !ks->v[i].change)
			continue;
		knobs_list_set(value, sizeof(value), sep, kv, ks->v[i].name, ks->v[i].value);
		change = true;
	}
	if (!change || !(k = knob_add(ks, KNOB_ENV, var)))
		return;
	KSET(k->value, "%s", value);
	knob_apply_env(k, var, value);
	if (cur)
		knob_current(k, "environment", "%s", cur);
	else
		k->change = true;
	KSET(k->why, "%s", why);
	KSET(k->effect, "the options above, after a restart; it keeps what the process "
	     "already sets there");
}

/* ---- shared: the release action and the memory limit ------------------------- */

/* The release call heapdoc makes (heapdoc release), as knobs names it. */
static const char *release_call(const struct observation *obs)
{
	switch (obs->alloc.kind) {
	case ALLOC_GLIBC: return "malloc_trim(0)";
	case ALLOC_JEMALLOC: return "mallctl(\"arena.4096.purge\")";
	case ALLOC_TCMALLOC: return "MallocExtension_ReleaseFreeMemory()";
	case ALLOC_MIMALLOC: return "mi_collect(true)";
	default: return NULL;
	}
}

static void release_action(struct knobs *ks, const struct observation *obs,
			   const struct verdict *v)
{
	uint64_t rss = IS_SET(v->gap.rss) ? v->gap.rss : 0, bytes = judge_release_bytes(v);
	const char *call = release_call(obs);
	char b1[32];
	struct knob *k;

	if (!call || !judge_release_worth(v))
		return;
	k = knob_add(ks, KNOB_ACTION, obs->alloc.kind == ALLOC_GLIBC ? "malloc_trim" : "release");
	if (!k)
		return;
	KSET(k->value, "%s", call);
	k->change = true;
	KSET(k->why, "%s of whole free pages in RAM that the allocator keeps",
	     human_bytes(b1, sizeof(b1), bytes));
	KSET(k->effect, "returns %s (%.0f%% of RSS) now", human_bytes(b1, sizeof(b1), bytes),
	     rss ? 100.0 * (double)bytes / (double)rss : 0.0);
	k->effect_bytes = bytes;
	KSET(k->command, "heapdoc release %d", (int)obs->pid);
	KSET(k->risk, "heapdoc makes the call on one thread parked in a system call, with no "
	     "allocator code on its stack, while the others run; a thread that needs an arena "
	     "being trimmed waits for that arena's walk.  A one-off: the memory comes back as "
	     "the heap fragments again");
}

/* Settings the running process can take now (heapdoc set), besides the
 * restart that makes them permanent. */
static void live_commands(struct knobs *ks, const struct observation *obs)
{
	for (size_t i = 0; i < ks->n; i++) {
		struct knob *k = &ks->v[i];

		if ((k->kind == KNOB_ENV || k->kind == KNOB_CONF_OPTION) && k->change &&
		    settings_is_live(obs->alloc.kind, k->name))
			KSET(k->command, "heapdoc set %d %s=%s", (int)obs->pid, k->name, k->value);
	}
}

static void memory_limit(struct knobs *ks, const struct verdict *v)
{
	const struct pressure *pr = &v->pressure;
	bool high;
	uint64_t want;
	struct knob *k;
	char b1[32], b2[32];

	if (!pr->near || !pr->limit_name || !strcmp(pr->limit_name, "MemTotal"))
		return;
	high = strstr(pr->limit_name, "high") != NULL;
	want = (uint64_t)((double)pr->usage / LIMIT_TARGET_USE);
	want = (want + 64 * MiB - 1) / (64 * MiB) * (64 * MiB);
	if (want <= pr->limit || !(k = knob_add(ks, KNOB_LIMIT, high ? "memory.high" : "memory.max")))
		return;
	KSET(k->value, "%" PRIu64, want);
	knob_current(k, "cgroup", "%" PRIu64, pr->limit);
	KSET(k->why, "working set %s is %.0f%% of %s %s: one spike from an OOM kill%s",
	     human_bytes(b1, sizeof(b1), pr->usage), 100 * pr->ratio, pr->limit_name,
	     human_bytes(b2, sizeof(b2), pr->limit), v->kind == VERDICT_LIVE_SET ?
	     "; the memory is in use, so give it room or shrink the live set" : "");
	KSET(k->effect, "the working set becomes %.0f%% of the limit%s", 100.0 *
	     (double)pr->usage / (double)want, v->kind == VERDICT_LEAK ?
	     "; a leak only reaches it later" : "");
	KSET(k->apply_systemd, "%s=%" PRIu64 "M", high ? "MemoryHigh" : "MemoryMax", want / MiB);
	KSET(k->apply_kubernetes, "resources:\n  limits:\n    memory: %" PRIu64 "Mi", want / MiB);
}

/* A setting already in force at the advised value changes nothing. */
static void drop_unchanged(struct knobs *ks)
{
	size_t n = 0;

	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i].change)
			ks->v[n++] = ks->v[i];
	ks->n = n;
}

void judge_knobs(const struct observation *obs, const struct verdict *v, struct knobs *out)
{
	memset(out, 0, sizeof(*out));
	/* A corrupt heap is a bug to find, and a release call walks it. */
	if (obs->summary.valid && obs->summary.corrupt)
		return;
	switch (obs->alloc.kind) {
	case ALLOC_GLIBC:
		knobs_glibc(out, obs, v);
		break;
	case ALLOC_JEMALLOC:
		knobs_jemalloc(out, obs, v);
		break;
	case ALLOC_TCMALLOC:
		knobs_tcmalloc(out, obs, v);
		break;
	case ALLOC_MIMALLOC:
		knobs_mimalloc(out, obs, v);
		break;
	default:
		break;
	}
	drop_unchanged(out);
	live_commands(out, obs);
	release_action(out, obs, v);
	memory_limit(out, v);
}
