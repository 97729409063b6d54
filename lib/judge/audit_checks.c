/* The protections each allocator has, and which are in force.
 *
 * glibc's are judged in audit_glibc.c.  The others from what they are
 * documented to do, their options in the environment and, for
 * hardened_malloc and mimalloc, which build the mapped file is:
 *  - scudo (LLVM standalone): checksummed chunk headers (a per-process
 *    secret; a header's state catches double frees), free lists kept out of
 *    line, randomised order within a size class (seen here: 0 of 200
 *    successive allocations adjacent), guard pages around secondary
 *    (large) blocks; quarantine only with quarantine_size_kb,
 *    thread_local_quarantine_size_kb and quarantine_max_chunk_size all set
 *    (all 0 by default; seen here: a freed 64-byte chunk came back at once
 *    unless all three were set, and quarantine_size_kb alone aborts at
 *    start-up); zero_contents and pattern_fill_contents act on allocation.
 *  - hardened_malloc (GrapheneOS), by upstream's config/default.mk and
 *    light.mk: out-of-line metadata, slab canaries, zero-on-free, a guard
 *    slab after every slab (light: every 8th), slot randomisation and a
 *    slab quarantine (light: neither), a quarantine of large regions.
 *  - mimalloc: a build with MI_SECURE (libmimalloc-secure) encodes its
 *    free-list pointers, detects double frees, guards pages and randomises
 *    allocation; a default build does none of it.
 *  - jemalloc: no inline metadata to mangle or checksum, no quarantine;
 *    MALLOC_CONF junk fills freed memory, san_guard_small/large (5.3) put
 *    guard pages around some extents.  gperftools tcmalloc: none.
 */
#include "judge/audit_checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const check_names[AUDIT_NCHECKS] = {
	[CHECK_SAFE_LINKING] = "safe_linking",
	[CHECK_TCACHE_DOUBLE_FREE] = "tcache_double_free",
	[CHECK_MALLOC_CHECK] = "malloc_check",
	[CHECK_PERTURB] = "perturb",
	[CHECK_QUARANTINE] = "quarantine",
	[CHECK_HEADER_CHECKSUM] = "header_checksum",
	[CHECK_ZERO_ON_FREE] = "zero_on_free",
	[CHECK_GUARD_PAGES] = "guard_pages",
	[CHECK_RANDOMIZATION] = "randomization",
};

void audit_set(struct audit_result *r, int check, enum audit_state state, const char *fmt, ...)
{
	va_list ap;

	r->checks[check].name = check_names[check];
	r->checks[check].state = state;
	va_start(ap, fmt);
	vsnprintf(r->checks[check].detail, sizeof(r->checks[check].detail), fmt, ap);
	va_end(ap);
}

/* Every check not set yet: n/a, for the reason given. */
static void rest_na(struct audit_result *r, const char *why)
{
	for (int i = 0; i < AUDIT_NCHECKS; i++)
		if (!r->checks[i].name)
			audit_set(r, i, AUDIT_NA, "%s", why);
}

static long scudo_flag(const char *options, const char *key, long def)
{
	char buf[32];

	return audit_option(options, ":, \t\n", key, buf, sizeof(buf)) ? atol(buf) : def;
}

void audit_scudo_quarantine(const struct audit_obs *obs, struct audit_scudo_quarantine *q)
{
	const char *o = obs->env.scudo_options;

	q->size_kb = scudo_flag(o, "quarantine_size_kb", 0);
	q->thread_local_kb = scudo_flag(o, "thread_local_quarantine_size_kb", 0);
	q->max_chunk = scudo_flag(o, "quarantine_max_chunk_size", 0);
	q->on = q->size_kb > 0 && q->thread_local_kb > 0 && q->max_chunk > 0;
}

static void scudo_quarantine_check(const struct audit_obs *obs, struct audit_result *r)
{
	struct audit_scudo_quarantine q;
	const char *note = obs->scudo_default_options ? "; the executable sets defaults of its "
			   "own (__scudo_default_options), which heapdoc does not read" : "";

	audit_scudo_quarantine(obs, &q);
	if (q.on)
		audit_set(r, CHECK_QUARANTINE, AUDIT_ON, "freed chunks of up to %ld bytes wait in a "
			  "%ld KiB quarantine (%ld KiB per thread) before reuse: quarantine_size_kb="
			  "%ld, thread_local_quarantine_size_kb=%ld, quarantine_max_chunk_size=%ld "
			  "(SCUDO_OPTIONS)%s", q.max_chunk, q.size_kb, q.thread_local_kb, q.size_kb,
			  q.thread_local_kb, q.max_chunk, note);
	else
		audit_set(r, CHECK_QUARANTINE, AUDIT_OFF, "freed chunks are reused at once: "
			  "quarantine_size_kb=%ld, thread_local_quarantine_size_kb=%ld, "
			  "quarantine_max_chunk_size=%ld (%s; scudo's defaults are 0) and all three "
			  "must be non-zero%s", q.size_kb, q.thread_local_kb, q.max_chunk,
			  obs->env.scudo_options[0] ? "SCUDO_OPTIONS" : "SCUDO_OPTIONS is not set",
			  note);
}

static void checks_scudo(const struct audit_obs *obs, struct audit_result *r)
{
	char zero[16] = "false", fill[16] = "false";

	audit_option(obs->env.scudo_options, ":, \t\n", "zero_contents", zero, sizeof(zero));
	audit_option(obs->env.scudo_options, ":, \t\n", "pattern_fill_contents", fill,
		     sizeof(fill));
	r->hardened = true;
	audit_set(r, CHECK_SAFE_LINKING, AUDIT_NA, "free lists are kept out of line, in "
		  "batches of their own: a freed chunk holds no pointer to corrupt");
	audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_ON, "each chunk header records its state; "
		  "freeing a chunk that is not allocated aborts");
	audit_set(r, CHECK_PERTURB, AUDIT_NA, "scudo does not fill freed memory; "
		  "pattern_fill_contents=%s fills new allocations", fill);
	scudo_quarantine_check(obs, r);
	audit_set(r, CHECK_HEADER_CHECKSUM, AUDIT_ON, "every chunk header carries a checksum "
		  "keyed by a per-process secret, checked on free and realloc");
	audit_set(r, CHECK_ZERO_ON_FREE, AUDIT_OFF, "freed chunks are not cleared; "
		  "zero_contents=%s zeroes new allocations instead", zero);
	audit_set(r, CHECK_GUARD_PAGES, AUDIT_ON, "large (secondary) blocks sit between guard "
		  "pages; size-class regions are apart in reserved address space");
	audit_set(r, CHECK_RANDOMIZATION, AUDIT_ON, "free chunks of a size class are shuffled: "
		  "successive allocations are not neighbours");
	rest_na(r, "glibc's malloc-check does not apply: scudo checks every header on free");
}

/* hardened_malloc's variant by the name of its file: libhardened_malloc.so,
 * libhardened_malloc-light.so, libhardened_malloc-pkey.so. */
static void checks_hardened_malloc(const struct audit_obs *obs, struct audit_result *r)
{
	bool light = strstr(obs->alloc.path, "-light") != NULL;

	r->hardened = true;
	snprintf(r->variant, sizeof(r->variant), "%s", light ? "light" :
		 strstr(obs->alloc.path, "-pkey") ? "pkey" : "default");
	audit_set(r, CHECK_SAFE_LINKING, AUDIT_NA, "metadata is kept out of line: a freed slot "
		  "holds no pointer to corrupt");
	audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_ON, "the out-of-line slot bitmaps catch "
		  "a double free");
	audit_set(r, CHECK_QUARANTINE, AUDIT_ON, light ? "light variant: large regions are "
		  "quarantined, small slots are not (no slab quarantine)" : "freed slots and large "
		  "regions are quarantined before reuse");
	audit_set(r, CHECK_HEADER_CHECKSUM, AUDIT_ON, "no inline headers; a canary after each "
		  "slot is checked on free");
	audit_set(r, CHECK_ZERO_ON_FREE, AUDIT_ON, "freed slots are zeroed");
	audit_set(r, CHECK_GUARD_PAGES, AUDIT_ON, light ? "a guard slab after every 8 slabs "
		  "(light variant) and guards around large allocations" : "a guard slab after "
		  "every slab and guards around large allocations");
	audit_set(r, CHECK_RANDOMIZATION, light ? AUDIT_OFF : AUDIT_ON, light ? "light "
		  "variant: slots are not randomised" : "slots within a slab are randomised");
	rest_na(r, "glibc's debugging settings do not apply (hardened_malloc zeroes and checks "
		"on its own); facts from upstream's config for this variant");
}

static void checks_mimalloc(const struct audit_obs *obs, struct audit_result *r)
{
	bool secure = strstr(obs->alloc.path, "secure") != NULL;
	enum audit_state st = secure ? AUDIT_ON : AUDIT_OFF;
	const char *why = secure ? "secure build (MI_SECURE, by its file name)" :
			  "only in a secure build (MI_SECURE); this one is not, by its file name";

	r->hardened = secure;
	if (secure)
		snprintf(r->variant, sizeof(r->variant), "secure");
	audit_set(r, CHECK_SAFE_LINKING, st, "free-list pointers encoded with per-page keys: %s",
		  why);
	audit_set(r, CHECK_TCACHE_DOUBLE_FREE, st, "double frees detected: %s", why);
	audit_set(r, CHECK_GUARD_PAGES, st, "guard pages around pages and metadata: %s", why);
	audit_set(r, CHECK_RANDOMIZATION, st, "randomised free lists and allocation order: %s",
		  why);
	rest_na(r, "mimalloc has no such protection");
}

static void checks_jemalloc(const struct audit_obs *obs, struct audit_result *r)
{
	char junk[16] = "", small[24] = "", large[24] = "";
	const char *conf = obs->env.malloc_conf;
	bool guards;

	audit_option(conf, ",", "junk", junk, sizeof(junk));
	audit_option(conf, ",", "san_guard_small", small, sizeof(small));
	audit_option(conf, ",", "san_guard_large", large, sizeof(large));
	guards = atol(small) > 0 || atol(large) > 0;
	if (!strcmp(junk, "true") || !strcmp(junk, "free"))
		audit_set(r, CHECK_PERTURB, AUDIT_ON, "MALLOC_CONF junk:%s fills freed memory", junk);
	else
		audit_set(r, CHECK_PERTURB, AUDIT_OFF, "freed memory keeps its contents (MALLOC_CONF "
			  "junk not set; heapdoc reads MALLOC_CONF only)");
	if (guards)
		audit_set(r, CHECK_GUARD_PAGES, AUDIT_ON, "MALLOC_CONF asks for guard pages around "
			  "extents (san_guard_small:%s, san_guard_large:%s)", small[0] ? small : "0",
			  large[0] ? large : "0");
	else
		audit_set(r, CHECK_GUARD_PAGES, AUDIT_OFF, "no guard pages: san_guard_small and "
			  "san_guard_large (jemalloc 5.3) are not set in MALLOC_CONF");
	audit_set(r, CHECK_SAFE_LINKING, AUDIT_NA, "jemalloc keeps freed regions in bitmaps and "
		  "plain-pointer thread caches: nothing is mangled");
	rest_na(r, "jemalloc has no such protection");
}

void audit_judge_checks(const struct audit_obs *obs, struct audit_result *r)
{
	switch (obs->alloc.kind) {
	case ALLOC_GLIBC:
		audit_checks_glibc(obs, r);
		break;
	case ALLOC_SCUDO:
		checks_scudo(obs, r);
		break;
	case ALLOC_HARDENED_MALLOC:
		checks_hardened_malloc(obs, r);
		break;
	case ALLOC_MIMALLOC:
		checks_mimalloc(obs, r);
		break;
	case ALLOC_JEMALLOC:
		checks_jemalloc(obs, r);
		break;
	case ALLOC_TCMALLOC:
		rest_na(r, !strcmp(obs->alloc.flavor, "google") ? "tcmalloc has no such protection "
			"(google's may guard a sample of allocations, GWP-ASan; not read)" :
			"gperftools tcmalloc has no such protection");
		break;
	case ALLOC_MUSL:
		rest_na(r, "heapdoc does not audit musl's malloc");
		break;
	default:
		rest_na(r, "allocator not recognised: a custom allocator usually has none of "
			"these protections");
		break;
	}
}
