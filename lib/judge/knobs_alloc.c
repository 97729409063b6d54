/* jemalloc's and tcmalloc's knobs.  Both allocators keep whole free pages
 * apart from live data and give them back on a schedule; their knobs
 * shorten the schedule, and are advised only when such pages are what the
 * gap is (verdict unpurged), sized by those pages. */
#include "judge/knobs_impl.h"

#include <inttypes.h>
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

void knobs_tcmalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v)
{
	const struct pressure *pr = &v->pressure;
	uint64_t spans = v->gap.releasable;
	struct knob *k;
	char b1[32];

	/* google/tcmalloc reads none of these variables. */
	if (!strcmp(obs->alloc.flavor, "google") || v->kind != VERDICT_UNPURGED || !IS_SET(spans))
		return;
	if ((k = knob_add(ks, KNOB_ENV, "TCMALLOC_RELEASE_RATE"))) {
		KSET(k->value, "%s", pr->near ? "10" : "5");
		tcmalloc_env(k, obs, "1.0");
		KSET(k->why, "%s of free spans stay in the page heap", hb(b1, spans));
		KSET(k->effect, "the page heap returns free spans %s× as often as the program "
		     "frees memory: up to %s (an idle process returns nothing: heapdoc release "
		     "does that now)", pr->near ? "10" : "5", hb(b1, spans));
		k->effect_bytes = spans;
	}
	if (pr->near && (k = knob_add(ks, KNOB_ENV, "TCMALLOC_AGGRESSIVE_DECOMMIT"))) {
		KSET(k->value, "true");
		tcmalloc_env(k, obs, "false");
		KSET(k->why, "at %.0f%% of %s, %s of free spans stay in RAM", 100 * pr->ratio,
		     pr->limit_name, hb(b1, spans));
		KSET(k->effect, "every span freed from now on goes back at once");
	}
}
