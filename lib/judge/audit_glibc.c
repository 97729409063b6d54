/* The protections of glibc malloc, as this process runs it.
 *
 * What glibc has, by version (REFERENCE.md): safe-linking of the tcache
 * and fastbin next pointers since 2.32 (not switchable); the tcache
 * double-free key since 2.29, random since 2.34 (the tcache's own address
 * before); malloc-check (glibc.malloc.check, MALLOC_CHECK_) built in until
 * 2.33 and, since 2.34, only with libc_malloc_debug.so loaded, which then
 * serves every allocation from its own copy of malloc, one locked arena
 * and no tcache; perturb (glibc.malloc.perturb, MALLOC_PERTURB_) fills
 * freed memory with a byte and new memory with its complement.
 *
 * What the process holds in memory (its tcache_count, perturb_byte, the
 * debug library's __malloc_debugging_hooks) wins over its environment,
 * which only says what was asked for.
 */
#include "judge/audit_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define V(major, minor) ((major) * 1000 + (minor))
#define TCACHE_COUNT_DEFAULT 7

/* The value asked for in GLIBC_TUNABLES, else by the MALLOC_* alias
 * named alias_name, whose value is alias (tunables win, as seen on 2.36).
 * NULL when neither sets it. */
static const char *asked(const struct audit_env *e, const char *tunable, const char *alias,
			 const char *alias_name, char *buf, size_t len, const char **source)
{
	if (audit_option(e->glibc_tunables, ":", tunable, buf, len)) {
		*source = "GLIBC_TUNABLES";
		return buf;
	}
	if (alias && alias[0]) {
		*source = alias_name;
		return alias;
	}
	return NULL;
}

static const char *asked_check(const struct audit_env *e, char *buf, size_t len,
			       const char **source)
{
	return asked(e, "glibc.malloc.check", e->malloc_check, "MALLOC_CHECK_", buf, len, source);
}

static bool debug_lib_mapped(const struct audit_obs *obs, const char **name)
{
	for (size_t i = 0; i < obs->nmodules; i++) {
		const char *slash = strrchr(obs->modules[i].path, '/');
		const char *base = slash ? slash + 1 : obs->modules[i].path;

		if (!strncmp(base, "libc_malloc_debug.so", 20)) {
			*name = base;
			return true;
		}
	}
	return false;
}

bool audit_glibc_malloc_check(const struct audit_obs *obs)
{
	const char *lib, *src, *v;
	char buf[32];

	if (obs->glibc.debug_hooks >= 0)
		return obs->glibc.debug_hooks & 4;	/* MALLOC_CHECK_HOOK */
	v = asked_check(&obs->env, buf, sizeof(buf), &src);
	if (!v || !atoi(v))
		return false;
	return audit_glibc_version(obs->alloc.version) < V(2, 34) || debug_lib_mapped(obs, &lib);
}

int audit_glibc_perturb(const struct audit_obs *obs)
{
	const char *src, *v;
	char buf[32];
	int64_t mem = audit_glibc_malloc_check(obs) && obs->glibc.debug_lib[0] ?
		      obs->glibc.debug_perturb_byte : obs->glibc.perturb_byte;

	if (mem >= 0)
		return (int)(mem & 0xff);
	v = asked(&obs->env, "glibc.malloc.perturb", obs->env.malloc_perturb, "MALLOC_PERTURB_",
		  buf, sizeof(buf), &src);
	return v ? atoi(v) & 0xff : 0;
}

static void check_safe_linking(const struct audit_obs *obs, unsigned v, struct audit_result *r)
{
	const struct audit_glibc *g = &obs->glibc;

	if (v && v < V(2, 32)) {
		audit_set(r, CHECK_SAFE_LINKING, AUDIT_OFF, "glibc %s predates safe-linking (2.32): "
			  "free-list next pointers are stored as they are", obs->alloc.version);
	} else if (audit_glibc_malloc_check(obs)) {
		audit_set(r, CHECK_SAFE_LINKING, AUDIT_ON, "glibc %s: always on since 2.32, in "
			  "libc_malloc_debug's copy of malloc too; not confirmed on the live heap: "
			  "malloc-check allocates from that copy's arena, which heapdoc does not walk",
			  obs->alloc.version[0] ? obs->alloc.version : "(version unknown)");
	} else if (g->safe_links) {
		audit_set(r, CHECK_SAFE_LINKING, AUDIT_ON, "confirmed: %llu next pointer%s of the "
			  "live free lists decoded as safe-linked; the last link of %s, at %#llx, "
			  "holds %#llx (its address >> 12: a mangled NULL)",
			  (unsigned long long)g->safe_links, g->safe_links == 1 ? "" : "s",
			  g->safe_link_list, (unsigned long long)g->safe_link_at,
			  (unsigned long long)g->safe_link_stored);
	} else {
		audit_set(r, CHECK_SAFE_LINKING, AUDIT_ON, "glibc %s: always on since 2.32; not "
			  "confirmed on the live heap: %s", obs->alloc.version[0] ?
			  obs->alloc.version : "(version unknown)", g->walked ?
			  "no tcache or fastbin entry to decode right now" : g->why_not);
	}
}

static void check_tcache(const struct audit_obs *obs, unsigned v, struct audit_result *r)
{
	char buf[32];
	const char *src = "the default", *t;
	uint64_t count = obs->glibc.tcache_count;

	if (audit_glibc_malloc_check(obs)) {
		audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_NA, "malloc-check serves every "
			  "allocation from one arena without a tcache; it catches double frees "
			  "itself (malloc_check)");
		return;
	}
	if (v && v < V(2, 26)) {
		audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_NA, "glibc %s has no tcache",
			  obs->alloc.version);
		return;
	}
	if (IS_SET(count)) {
		src = "mp_.tcache_count";
	} else if ((t = asked(&obs->env, "glibc.malloc.tcache_count", NULL, NULL, buf, sizeof(buf),
			      &src))) {
		count = strtoull(t, NULL, 10);
	} else {
		count = TCACHE_COUNT_DEFAULT;
	}
	if (count == 0)
		audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_OFF, "the tcache is off (tcache_count "
			  "0, %s): no key; fastbins only catch freeing the chunk at their top", src);
	else if (v && v < V(2, 29))
		audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_OFF, "glibc %s's tcache has no "
			  "double-free key (added in 2.29)", obs->alloc.version);
	else
		audit_set(r, CHECK_TCACHE_DOUBLE_FREE, AUDIT_ON, "a freed chunk carries a key that "
			  "free() checks; %s (tcache_count %llu, %s)", v && v < V(2, 34) ?
			  "the key is the tcache's address (2.29-2.33): predictable" :
			  "the key is random (2.34+)", (unsigned long long)count, src);
}

static void check_malloc_check(const struct audit_obs *obs, unsigned v, struct audit_result *r)
{
	const char *lib = NULL, *src = NULL;
	char buf[32];
	bool mapped = debug_lib_mapped(obs, &lib), builtin = v && v < V(2, 34);
	const char *want = asked_check(&obs->env, buf, sizeof(buf), &src);

	if (audit_glibc_malloc_check(obs) && builtin)
		audit_set(r, CHECK_MALLOC_CHECK, AUDIT_ON, "built into glibc %s; %s asks for "
			  "glibc.malloc.check=%s", obs->alloc.version, src, want);
	else if (audit_glibc_malloc_check(obs))
		audit_set(r, CHECK_MALLOC_CHECK, AUDIT_ON, "%s is loaded and its malloc-check is "
			  "in force (%s)", lib ? lib : "libc_malloc_debug.so",
			  obs->glibc.debug_hooks >= 0 ? "read from the library's state" :
			  "from the environment: the library's state could not be read");
	else if (want && atoi(want) && !mapped && !builtin)
		audit_set(r, CHECK_MALLOC_CHECK, AUDIT_OFF, "%s asks for glibc.malloc.check=%s, "
			  "but libc_malloc_debug.so is not loaded: since 2.34 that does nothing "
			  "without it", src, want);
	else if (mapped)
		audit_set(r, CHECK_MALLOC_CHECK, AUDIT_OFF, "%s is loaded, but malloc-check is "
			  "not in force (glibc.malloc.check is not set)", lib);
	else
		audit_set(r, CHECK_MALLOC_CHECK, AUDIT_OFF, "not asked for (glibc.malloc.check, "
			  "MALLOC_CHECK_)%s", builtin ? "" :
			  "; since 2.34 it also needs libc_malloc_debug.so preloaded");
}

static void check_perturb(const struct audit_obs *obs, struct audit_result *r)
{
	int byte = audit_glibc_perturb(obs);
	bool mem = (audit_glibc_malloc_check(obs) && obs->glibc.debug_lib[0] ?
		    obs->glibc.debug_perturb_byte : obs->glibc.perturb_byte) >= 0;

	if (byte && audit_glibc_malloc_check(obs))
		audit_set(r, CHECK_PERTURB, AUDIT_ON, "freed memory is filled with 0x%02x, new "
			  "memory with 0x%02x (%s)", byte, byte ^ 0xff,
			  mem ? "perturb_byte, read from malloc's state" : "from the environment");
	else if (byte)
		audit_set(r, CHECK_PERTURB, AUDIT_ON, "freed memory is filled with 0x%02x, new "
			  "memory with 0x%02x, except chunks the tcache keeps and hands out (up "
			  "to 1032 bytes, %llu of each size per thread) (%s)", byte, byte ^ 0xff,
			  (unsigned long long)(IS_SET(obs->glibc.tcache_count) ?
			  obs->glibc.tcache_count : TCACHE_COUNT_DEFAULT), mem ?
			  "perturb_byte, read from malloc's state" : "from the environment");
	else
		audit_set(r, CHECK_PERTURB, AUDIT_OFF, "freed memory keeps its contents "
			  "(glibc.malloc.perturb / MALLOC_PERTURB_ not set%s)",
			  mem ? "; perturb_byte is 0 in malloc's state" : "");
}

void audit_checks_glibc(const struct audit_obs *obs, struct audit_result *r)
{
	unsigned v = audit_glibc_version(obs->alloc.version);

	check_safe_linking(obs, v, r);
	check_tcache(obs, v, r);
	check_malloc_check(obs, v, r);
	check_perturb(obs, r);
	audit_set(r, CHECK_QUARANTINE, AUDIT_NA, "glibc has no quarantine: the next malloc "
		  "of a size can return the chunk just freed");
	audit_set(r, CHECK_HEADER_CHECKSUM, AUDIT_NA, "chunk headers are plain sizes and "
		  "flags, checked for sanity on use, not checksummed");
	audit_set(r, CHECK_ZERO_ON_FREE, AUDIT_NA, "glibc does not clear freed memory "
		  "(perturb fills it with a byte when set)");
	audit_set(r, CHECK_GUARD_PAGES, AUDIT_NA, "no guard pages between chunks or arenas");
	audit_set(r, CHECK_RANDOMIZATION, AUDIT_NA, "chunks are handed out in a predictable "
		  "order; only the heap's base address is randomised (ASLR)");
}
