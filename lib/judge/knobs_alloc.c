/* jemalloc's, tcmalloc's and mimalloc's knobs.  The three keep whole free
 * pages apart from live data and give them back on a schedule; their knobs
 * shorten the schedule, and are advised only when such pages are what the
 * gap is (verdict unpurged), sized by those pages. */
#include "judge/knobs_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/human.h"
#include "base/util.h"

/* jemalloc: dirty pages decay over 10 s by default.  1 s keeps the reuse
 * of a busy heap and returns what an idle one no longer needs. */
#define JEMALLOC_DECAY_MS 1000

static const char *hb(char *buf, uint64_t bytes)
{
	return human_bytes(buf, 32, bytes);
}

/* ---- jemalloc ---------------------------------------------------------------- */

/* One option's value in force: jemalloc's own (read now) when known, else
 * the conf string, else unknown (advised). */
static void jemalloc_current(struct knob *k, const char *conf, const char *conf_name,
			     int64_t now, bool boolean)
{
	char cv[64];

	if (now != PARAM_UNSET) {
		if (boolean)
			knob_current(k, "allocator", "%s", now ? "true" : "false");
		else
			knob_current(k, "allocator", "%" PRId64, now);
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
		KSET(k->value, "%s", value);
	return k;
}

/* A decay time that holds pages longer than JEMALLOC_DECAY_MS; -1 is never. */
static bool decays_slowly(int64_t ms)
{
	return ms == PARAM_UNSET || ms < 0 || ms > JEMALLOC_DECAY_MS;
}

void knobs_jemalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	const struct alloc_params *p = &obs->params;
	uint64_t pages = v->gap.releasable;
	int64_t dirty_ms = v->pressure.near ? 0 : JEMALLOC_DECAY_MS;
	char conf_name[48], value[32], b1[32];
	const char *conf;
	struct knob *k;
	size_t first = ks->n;

	if (v->kind != VERDICT_UNPURGED || !IS_SET(pages))
		return;
	knobs_conf_name(obs->alloc.prefix, conf_name, sizeof(conf_name));
	conf = environ_get(&obs->env, conf_name);
	if (decays_slowly(p->dirty_decay_ms)) {
		KSET(value, "%" PRId64, dirty_ms);
		if ((k = jemalloc_option(ks, "dirty_decay_ms", value))) {
			jemalloc_current(k, conf, conf_name, p->dirty_decay_ms, false);
			KSET(k->why, "%s of dirty and muzzy pages wait for decay, and dirty pages "
			     "stay %s", hb(b1, pages), p->dirty_decay_ms < 0 ? "forever (-1)" :
			     "for the decay time");
			KSET(k->effect, "pages unused for %" PRId64 " ms go back%s: up to %s%s",
			     dirty_ms, decays_slowly(p->muzzy_decay_ms) && p->muzzy_decay_ms != PARAM_UNSET ?
			     ", first as muzzy pages (still in RSS), then for good with "
			     "muzzy_decay_ms below" : "", hb(b1, pages), v->pressure.near ?
			     "; near the memory limit, at once" : "");
			k->effect_bytes = pages;
		}
	}
	/* -1 is "never": muzzy pages then stay until the kernel wants them. */
	if (p->muzzy_decay_ms != PARAM_UNSET && decays_slowly(p->muzzy_decay_ms)) {
		KSET(value, "%d", JEMALLOC_DECAY_MS);
		if ((k = jemalloc_option(ks, "muzzy_decay_ms", value))) {
			jemalloc_current(k, conf, conf_name, p->muzzy_decay_ms, false);
			KSET(k->why, "muzzy pages count in RSS until the kernel reclaims them, "
			     "and they decay %s", p->muzzy_decay_ms < 0 ? "never (-1)" : "slowly");
			KSET(k->effect, "muzzy pages go back after %d ms (part of the %s)",
			     JEMALLOC_DECAY_MS, hb(b1, pages));
		}
	}
	/* Without the thread, decay runs only when the program allocates:
	 * an idle process keeps its pages whatever the decay time. */
	if (p->background_thread != 1 && (k = jemalloc_option(ks, "background_thread", "true"))) {
		jemalloc_current(k, conf, conf_name, p->background_thread, true);
		KSET(k->why, "no background thread is running: jemalloc decays pages only when "
		     "the program allocates, so an idle process keeps its %s", hb(b1, pages));
		KSET(k->effect, "a thread of jemalloc's returns the %s on the decay schedule, "
		     "busy or idle", hb(b1, pages));
		k->effect_bytes = pages;
	}
	knobs_carrier(ks, first, conf_name, conf, ',', ':', obs->alloc.prefix[0] ?
		      "carries the options above: this prefixed static jemalloc reads them from "
		      "its own variable at start-up" :
		      "carries the options above: jemalloc reads them at start-up");
}

/* ---- tcmalloc (gperftools) --------------------------------------------------- */

/* gperftools returns page-heap spans on its own only through its scavenger,
 * which waits for 2 GiB of freed pages before its first return
 * (page_heap.cc: kDefaultReleaseDelay) and for 1000/rate pages per page
 * after each: TCMALLOC_RELEASE_RATE moves nothing on a heap that frees less
 * (measured: 114 MiB of free spans kept at every rate from 0 to 10).
 * Aggressive decommit returns each span as it is freed. */
void knobs_tcmalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	int64_t now = obs->params.aggressive_decommit;
	uint64_t spans = v->gap.releasable;
	const char *env;
	struct knob *k;
	char b1[32];

	/* google/tcmalloc reads none of these variables. */
	if (!strcmp(obs->alloc.flavor, "google") || v->kind != VERDICT_UNPURGED || !IS_SET(spans))
		return;
	if (!(k = knob_add(ks, KNOB_ENV, "TCMALLOC_AGGRESSIVE_DECOMMIT")))
		return;
	KSET(k->value, "true");
	knob_apply_env(k, k->name, k->value);
	env = environ_get(&obs->env, k->name);
	if (now != PARAM_UNSET)
		knob_current(k, "allocator", "%s", now ? "true" : "false");
	else if (env)
		knob_current(k, "environment", "%s", env);
	else
		knob_current(k, "default", "false");
	KSET(k->why, "%s of free spans stay in the page heap: gperftools returns spans on its "
	     "own only after 2 GiB of frees (TCMALLOC_RELEASE_RATE paces them after that)",
	     hb(b1, spans));
	KSET(k->effect, "every span freed goes back to the system at once, so the %s does not "
	     "build up (heapdoc release returns what is free now); a span used again costs "
	     "page faults", hb(b1, spans));
	k->effect_bytes = spans;
}

/* ---- mimalloc ------------------------------------------------------------------ */

/* The variable that sets mimalloc's delay before free pages are decommitted:
 * decommit_delay in 2.0, purge_delay from 2.1, reset_delay before 2.0. */
static const char *mimalloc_delay_name(const char *version)
{
	unsigned major = 0, minor = 0;

	if (sscanf(version, "%u.%u", &major, &minor) != 2 || (major == 2 && minor == 0))
		return "MIMALLOC_DECOMMIT_DELAY";
	return major < 2 ? "MIMALLOC_RESET_DELAY" : "MIMALLOC_PURGE_DELAY";
}

/* mimalloc 2.0 decommits a freed page after its delay, and only when the
 * thread that owns the segment runs the allocator's segment code again: an
 * idle thread keeps its free pages in RAM.  With a delay of 0 they are
 * decommitted as they are freed (segment.c: mi_segment_perhaps_decommit),
 * measured on a thread that went idle: RSS 98 -> 50 MiB, the 48 MiB of free
 * pages. */
void knobs_mimalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	const char *name = mimalloc_delay_name(obs->alloc.version);
	int64_t now = obs->params.purge_delay_ms;
	uint64_t pages = v->gap.releasable;
	struct knob *k;
	char b1[32], delay[32] = "some";

	if (v->kind != VERDICT_UNPURGED || !IS_SET(pages) || !(k = knob_add(ks, KNOB_ENV, name)))
		return;
	KSET(k->value, "0");
	knob_apply_env(k, k->name, k->value);
	if (now != PARAM_UNSET) {
		knob_current(k, environ_get(&obs->env, name) ? "environment" : "default",
			     "%" PRId64, now);
		KSET(delay, "%" PRId64, now);
	} else {
		k->change = true;
	}
	KSET(k->why, "%s of free pages stay committed: mimalloc decommits them %s ms after the "
	     "free, and only when their thread allocates again", hb(b1, pages), delay);
	KSET(k->effect, "pages go back as they are freed, so the %s does not build up; a "
	     "page used again costs page faults", hb(b1, pages));
	k->effect_bytes = pages;
}
