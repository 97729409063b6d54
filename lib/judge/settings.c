/* The settings heapdoc set changes, and those it refuses (judge/settings.h). */
#include "judge/settings.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

/* glibc's mallopt takes an int; M_MMAP_THRESHOLD stops at HEAP_MAX_SIZE / 2
 * (32 MiB on 64-bit).  jemalloc: -1 is "never decay".  gperftools calls
 * release rates of 0 to 10 reasonable; 0 never releases. */
static const struct setting_def defs[] = {
	{ ACT_TRIM_THRESHOLD, ALLOC_GLIBC, "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold",
	  SETTING_BYTES, 0, INT_MAX, -1, "turns off glibc's dynamic mmap threshold" },
	{ ACT_TOP_PAD, ALLOC_GLIBC, "MALLOC_TOP_PAD_", "glibc.malloc.top_pad",
	  SETTING_BYTES, 0, INT_MAX, -1, "turns off glibc's dynamic mmap threshold" },
	{ ACT_MMAP_THRESHOLD, ALLOC_GLIBC, "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold",
	  SETTING_BYTES, 0, 32 << 20, -1, "turns off glibc's dynamic mmap threshold" },
	{ ACT_DIRTY_DECAY_MS, ALLOC_JEMALLOC, "dirty_decay_ms", "opt.dirty_decay_ms",
	  SETTING_MS, -1, INT_MAX, -1, NULL },
	{ ACT_MUZZY_DECAY_MS, ALLOC_JEMALLOC, "muzzy_decay_ms", "opt.muzzy_decay_ms",
	  SETTING_MS, -1, INT_MAX, -1, NULL },
	{ ACT_BACKGROUND_THREAD, ALLOC_JEMALLOC, "background_thread", "opt.background_thread",
	  SETTING_BOOL, 0, 1, +1, "starts (or stops) jemalloc's background threads" },
	{ ACT_RELEASE_RATE, ALLOC_TCMALLOC, "TCMALLOC_RELEASE_RATE", NULL,
	  SETTING_RATE, 0, 1000, +1, NULL },
	{ ACT_THREAD_CACHE, ALLOC_TCMALLOC, "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES",
	  "tcmalloc.max_total_thread_cache_bytes", SETTING_BYTES, 0, (double)INT64_MAX, -1, NULL },
	{ ACT_AGGRESSIVE_DECOMMIT, ALLOC_TCMALLOC, "TCMALLOC_AGGRESSIVE_DECOMMIT",
	  "tcmalloc.aggressive_memory_decommit", SETTING_BOOL, 0, 1, +1, NULL },
};

/* Read once, at start-up: refused, with the spelling for the next start. */
struct restart_only {
	enum alloc_kind kind;
	const char *name;
	const char *why;
};

static const struct restart_only restart_only[] = {
	{ ALLOC_GLIBC, "MALLOC_ARENA_MAX", "glibc latches the arena limit once the first "
	  "arenas exist" },
	{ ALLOC_GLIBC, "MALLOC_ARENA_TEST", "glibc latches the arena limit once the first "
	  "arenas exist" },
	{ ALLOC_GLIBC, "GLIBC_TUNABLES", "glibc reads its tunables once, at start-up" },
	{ ALLOC_GLIBC, "glibc.malloc.", "glibc reads its tunables once, at start-up" },
	{ ALLOC_GLIBC, "MALLOC_CHECK_", "glibc reads it once, at start-up" },
	{ ALLOC_GLIBC, "MALLOC_PERTURB_", "glibc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "narenas", "jemalloc creates its arenas from it at start-up" },
	{ ALLOC_JEMALLOC, "tcache", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "tcache_max", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "lg_tcache_max", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "retain", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "thp", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "metadata_thp", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "percpu_arena", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "oversize_threshold", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "dss", "jemalloc reads it once, at start-up" },
	{ ALLOC_JEMALLOC, "prof", "jemalloc can only profile when started with prof:true" },
	{ ALLOC_JEMALLOC, "lg_prof_sample", "jemalloc reads it once, at start-up" },
	{ ALLOC_TCMALLOC, "TCMALLOC_SAMPLE_PARAMETER", "tcmalloc reads it once, at start-up" },
	{ ALLOC_TCMALLOC, "TCMALLOC_HEAP_LIMIT_MB", "tcmalloc reads it once, at start-up" },
	{ ALLOC_TCMALLOC, "TCMALLOC_SKIP_SBRK", "tcmalloc reads it once, at start-up" },
};

static bool name_is(const char *given, size_t len, const char *name)
{
	return name && strlen(name) == len && !strncasecmp(given, name, len);
}

static void accepted_names(enum alloc_kind kind, char *why, size_t len)
{
	size_t o = 0;

	if (!settings_is_live(kind, NULL)) {
		snprintf(why, len, "heapdoc can change no %s setting in a running process",
			 alloc_kind_name(kind));
		return;
	}
	o += snprintf(why + o, len - MIN(o, len), "%s accepts ", alloc_kind_name(kind));
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++)
		if (defs[i].kind == kind)
			o += snprintf(why + o, len - MIN(o, len), "%s%s", o > 20 &&
				      why[o - 1] != ' ' ? ", " : "", defs[i].name);
	if (kind == ALLOC_JEMALLOC)
		snprintf(why + o, len - MIN(o, len), " (or MALLOC_CONF=name:value,...)");
}

/* A number with an optional k/m/g (binary) suffix for sizes. */
static int parse_value(const struct setting_def *d, const char *s, struct act_value *v)
{
	char *end;
	double x;

	if (d->type == SETTING_BOOL) {
		if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on"))
			v->i = 1;
		else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "off"))
			v->i = 0;
		else
			return -ERANGE;
		v->known = true;
		return 0;
	}
	errno = 0;
	x = d->type == SETTING_RATE ? strtod(s, &end) : (double)strtoll(s, &end, 10);
	if (end == s || errno || isnan(x))
		return -ERANGE;
	if (d->type == SETTING_BYTES && *end && strchr("kKmMgG", *end)) {
		x *= *end == 'k' || *end == 'K' ? 1024.0 : *end == 'm' || *end == 'M' ?
		     1048576.0 : 1073741824.0;
		end++;
	}
	if (*end || x < d->min || x > d->max)
		return -ERANGE;
	v->known = true;
	v->d = x;
	v->i = (int64_t)x;
	return 0;
}

static int restart_refusal(enum alloc_kind kind, const char *prefix, const char *name,
			   size_t nlen, const char *value, char *why, size_t len)
{
	char conf[48];

	for (size_t i = 0; i < ARRAY_SIZE(restart_only); i++) {
		const struct restart_only *r = &restart_only[i];
		bool family = r->name[strlen(r->name) - 1] == '.';

		if (r->kind != kind || !(family ? !strncmp(name, r->name, strlen(r->name)) :
					 name_is(name, nlen, r->name)))
			continue;
		if (kind == ALLOC_JEMALLOC) {
			knobs_conf_name(prefix, conf, sizeof(conf));
			snprintf(why, len, "%.*s cannot change in a running process (%s): set "
				 "%s=%.*s:%s in its environment and restart it", (int)nlen, name,
				 r->why, conf, (int)nlen, name, value);
		} else if (!strcmp(r->name, "MALLOC_ARENA_MAX")) {
			snprintf(why, len, "%.*s cannot change in a running process (%s): set "
				 "%.*s=%s (or GLIBC_TUNABLES=glibc.malloc.arena_max=%s) in its "
				 "environment and restart it", (int)nlen, name, r->why, (int)nlen,
				 name, value, value);
		} else {
			snprintf(why, len, "%.*s cannot change in a running process (%s): set "
				 "%s%.*s=%s in its environment and restart it", (int)nlen, name,
				 r->why, family ? "GLIBC_TUNABLES=" : "", (int)nlen, name, value);
		}
		return -EOPNOTSUPP;
	}
	return 0;
}

static int parse_one(enum alloc_kind kind, const char *prefix, const char *name, size_t nlen,
		     const char *value, struct setting_req *req, size_t *n, char *why, size_t len)
{
	const struct setting_def *d = NULL;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(defs) && !d; i++)
		if (defs[i].kind == kind && (name_is(name, nlen, defs[i].name) ||
					     name_is(name, nlen, defs[i].alias)))
			d = &defs[i];
	if (!d) {
		rc = restart_refusal(kind, prefix, name, nlen, value, why, len);
		if (rc)
			return rc;
		accepted_names(kind, why, len);
		return -ENOENT;
	}
	if (*n >= SETTINGS_MAX) {
		snprintf(why, len, "at most %d settings at once", SETTINGS_MAX);
		return -E2BIG;
	}
	req[*n].def = d;
	memset(&req[*n].value, 0, sizeof(req[*n].value));
	if (parse_value(d, value, &req[*n].value) < 0) {
		if (d->type == SETTING_BOOL)
			snprintf(why, len, "%s takes true or false, not '%s'", d->name, value);
		else
			snprintf(why, len, "%s takes a %s from %.10g to %.10g, not '%s'", d->name,
				 d->type == SETTING_RATE ? "rate" : d->type == SETTING_MS ?
				 "time in ms (-1: never)" : "size in bytes", d->min, d->max, value);
		return -ERANGE;
	}
	(*n)++;
	return 0;
}

/* MALLOC_CONF=a:1,b:2: one request per option. */
static int parse_conf(enum alloc_kind kind, const char *prefix, const char *list,
		      struct setting_req *req, size_t *n, char *why, size_t len)
{
	char item[128];

	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		char *colon;
		int rc;

		snprintf(item, sizeof(item), "%.*s", (int)MIN(k, sizeof(item) - 1), p);
		colon = strchr(item, ':');
		if (!colon) {
			snprintf(why, len, "'%s' is not name:value", item);
			return -ERANGE;
		}
		*colon = '\0';
		rc = parse_one(kind, prefix, item, strlen(item), colon + 1, req, n, why, len);
		if (rc < 0)
			return rc;
		p += k + (p[k] == ',');
	}
	return 0;
}

int settings_parse(enum alloc_kind kind, const char *prefix, const char *arg,
		   struct setting_req *req, size_t *n, char *why, size_t len)
{
	const char *eq = strchr(arg, '=');
	char conf[48];

	if (!eq || eq == arg) {
		snprintf(why, len, "'%s' is not NAME=VALUE", arg);
		return -ERANGE;
	}
	knobs_conf_name(prefix, conf, sizeof(conf));
	if (kind == ALLOC_JEMALLOC && name_is(arg, (size_t)(eq - arg), conf))
		return parse_conf(kind, prefix, eq + 1, req, n, why, len);
	return parse_one(kind, prefix, arg, (size_t)(eq - arg), eq + 1, req, n, why, len);
}

bool settings_is_live(enum alloc_kind kind, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++)
		if (defs[i].kind == kind && (!name || !strcmp(defs[i].name, name) ||
					     (defs[i].alias && !strcmp(defs[i].alias, name))))
			return true;
	return false;
}

const char *settings_format(const struct setting_def *d, const struct act_value *v,
			    char *buf, size_t len)
{
	if (!v->known)
		snprintf(buf, len, "?");
	else if (d->type == SETTING_BOOL)
		snprintf(buf, len, "%s", v->i ? "true" : "false");
	else if (d->type == SETTING_RATE)
		snprintf(buf, len, "%g", v->d);
	else
		snprintf(buf, len, "%" PRId64, v->i);
	return buf;
}

bool settings_lowers_rss(const struct setting_def *d, const struct act_value *old,
			 const struct act_value *want)
{
	double o, w;

	if (!old->known)
		return true;
	o = d->type == SETTING_RATE ? old->d : (double)old->i;
	w = d->type == SETTING_RATE ? want->d : (double)want->i;
	/* jemalloc's -1 ("never") is the longest decay of all. */
	if (d->type == SETTING_MS) {
		o = o < 0 ? INFINITY : o;
		w = w < 0 ? INFINITY : w;
	}
	return d->returns < 0 ? w < o : w > o;
}

/* One knob for a variable that carries options (MALLOC_CONF,
 * GLIBC_TUNABLES): the process's own value with the requests merged in, so
 * that its other options stay. */
static void carrier(struct knob *k, const char *var, const char *cur, char sep, char kv,
		    const struct setting_req *req, size_t n)
{
	char value[256], v[64];

	snprintf(value, sizeof(value), "%s", cur ? cur : "");
	for (size_t i = 0; i < n; i++) {
		const struct setting_def *d = req[i].def;

		settings_format(d, &req[i].value, v, sizeof(v));
		knobs_list_set(value, sizeof(value), sep, kv,
			       sep == ':' && d->alias ? d->alias : d->name, v);
	}
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", var);
	knob_apply_env(k, var, value);
}

size_t settings_permanent(enum alloc_kind kind, const char *prefix, const struct environ *env,
			  const struct setting_req *req, size_t n, struct knob *out, size_t max)
{
	const char *tunables = environ_get(env, "GLIBC_TUNABLES");
	char conf[48], v[64];
	size_t m = 0;

	if (!n || !max)
		return 0;
	if (kind == ALLOC_JEMALLOC) {
		knobs_conf_name(prefix, conf, sizeof(conf));
		carrier(&out[0], conf, environ_get(env, conf), ',', ':', req, n);
		return 1;
	}
	/* GLIBC_TUNABLES wins over the MALLOC_* variables: with it in the
	 * process, only a line there keeps the setting. */
	if (kind == ALLOC_GLIBC && tunables) {
		carrier(&out[0], "GLIBC_TUNABLES", tunables, ':', '=', req, n);
		return 1;
	}
	for (size_t i = 0; i < n && m < max; i++) {
		const struct setting_def *d = req[i].def;

		settings_format(d, &req[i].value, v, sizeof(v));
		memset(&out[m], 0, sizeof(out[m]));
		snprintf(out[m].name, sizeof(out[m].name), "%s", d->name);
		knob_apply_env(&out[m++], d->name, v);
	}
	return m;
}
