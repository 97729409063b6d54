/* Which mapped file serves malloc, and what it is: the dynamic linker's
 * rule applied to what detect.c read (no I/O here).  The first object of
 * the search order that defines malloc wins; the executable also wins when
 * it carries an allocator's own API, even with malloc bound elsewhere. */
#include "observe/alloc/detect.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

static const char *const origin_names[] = {
	[ORIGIN_NONE] = "",
	[ORIGIN_EXECUTABLE] = "the executable",
	[ORIGIN_LD_PRELOAD] = "LD_PRELOAD",
	[ORIGIN_PRELOAD_FILE] = "/etc/ld.so.preload",
	[ORIGIN_NEEDED] = "linked",
	[ORIGIN_LATER] = "loaded at run time",
};

static const struct named_library {
	const char *prefix;	/* of the file name */
	enum alloc_kind kind;
} named_libraries[] = {
	{ "libjemalloc.so", ALLOC_JEMALLOC },
	{ "libtcmalloc", ALLOC_TCMALLOC },	/* _minimal, _debug, _and_profiler */
	{ "libmimalloc", ALLOC_MIMALLOC },
	{ "libscudo", ALLOC_SCUDO },
	{ "libclang_rt.scudo", ALLOC_SCUDO },
	{ "libhardened_malloc", ALLOC_HARDENED_MALLOC },
	{ "ld-musl-", ALLOC_MUSL },		/* musl's libc is its dynamic linker */
	{ "libc.musl-", ALLOC_MUSL },
	{ "libc.so.6", ALLOC_GLIBC },
	{ "libc-2.", ALLOC_GLIBC },
};

static enum alloc_kind kind_by_name(const char *base)
{
	for (size_t i = 0; i < ARRAY_SIZE(named_libraries); i++)
		if (starts_with(base, named_libraries[i].prefix))
			return named_libraries[i].kind;
	return ALLOC_UNKNOWN;
}

bool detect_named_allocator_library(const char *base)
{
	enum alloc_kind kind = kind_by_name(base);

	return kind != ALLOC_UNKNOWN && !is_libc(kind);
}

static void found(struct alloc_id *out, const struct object *o, enum alloc_kind kind,
		  enum alloc_link link)
{
	out->kind = kind;
	out->link = link;
	snprintf(out->path, sizeof(out->path), "%s", o->map->path);
	out->load_base = o->map->start;
}



/* An executable without a symbol table: a static one is its own
 * allocator, whichever its strings name; a dynamic one may hide a prefixed
 * copy of one. */
static bool choose_stripped(const struct object *o, struct alloc_id *out)
{
	struct string_marks sm = o->strings;
	bool is_static = !o->interp;

	if (sm.kind == ALLOC_UNKNOWN && is_static && sm.glibc)
		sm.kind = ALLOC_GLIBC;
	if (sm.kind == ALLOC_UNKNOWN && !is_static)
		return false;
	found(out, o, sm.kind, ALLOC_STATIC);
	if (sm.kind == ALLOC_UNKNOWN)
		snprintf(out->evidence, sizeof(out->evidence),
			 "stripped static executable whose strings name no allocator");
	else
		snprintf(out->evidence, sizeof(out->evidence),
			 "stripped executable whose strings name %s", alloc_kind_name(sm.kind));
	return true;
}

/* The executable decides when it carries an allocator, or malloc itself. */
static bool choose_executable(const struct object *o, struct alloc_id *out)
{
	const struct marks *m = &o->marks;
	bool is_static = !o->interp;

	if (m->kind != ALLOC_UNKNOWN) {
		found(out, o, m->kind, ALLOC_STATIC);
		snprintf(out->flavor, sizeof(out->flavor), "%s", m->flavor);
		snprintf(out->prefix, sizeof(out->prefix), "%s", m->prefix);
		snprintf(out->evidence, sizeof(out->evidence),
			 "the executable contains %s (%s)%s", alloc_kind_name(m->kind),
			 m->marker, m->defines_malloc ? "" : "; malloc itself is bound elsewhere");
		return true;
	}
	if (m->defines_malloc) {
		found(out, o, is_static ? m->libc : ALLOC_UNKNOWN, ALLOC_STATIC);
		if (is_static && m->libc != ALLOC_UNKNOWN)
			snprintf(out->evidence, sizeof(out->evidence),
				 "static executable with %s's malloc (%s)",
				 alloc_kind_name(m->libc), m->libc_marker);
		else
			snprintf(out->evidence, sizeof(out->evidence),
				 "the executable defines its own malloc");
		return true;
	}
	if (o->symtab)
		return false;
	return choose_stripped(o, out);
}

static bool choose_library(const struct object *o, struct alloc_id *out)
{
	const struct marks *m = &o->marks;
	const char *base = base_name(o->map->path);
	enum alloc_kind kind;

	if (!o->readable) {
		/* Judged by its name: a known allocator's library exists to
		 * replace malloc. */
		kind = kind_by_name(base);
		if (kind == ALLOC_UNKNOWN)
			return false;
		found(out, o, kind, ALLOC_SHARED);
		snprintf(out->evidence, sizeof(out->evidence),
			 "%.160s is mapped (%s; judged by its name: it could not be read)",
			 base, origin_names[o->origin]);
		return true;
	}
	if (!m->exports_malloc)
		return false;
	kind = m->kind != ALLOC_UNKNOWN ? m->kind : m->libc;
	if (kind == ALLOC_UNKNOWN)
		kind = kind_by_name(base);
	found(out, o, kind, ALLOC_SHARED);
	snprintf(out->flavor, sizeof(out->flavor), "%s", m->kind == kind && m->flavor ? m->flavor : "");
	snprintf(out->prefix, sizeof(out->prefix), "%s", m->kind == kind ? m->prefix : "");
	snprintf(out->evidence, sizeof(out->evidence), "%.160s exports malloc (%s)", base,
		 origin_names[o->origin]);
	return true;
}

const struct object *detect_choose(const struct detect *d, struct alloc_id *out)
{
	for (size_t i = 0; i < d->n_order; i++) {
		const struct object *o = &d->obj[d->order[i]];
		bool decided = o == d->exe && o->readable ? choose_executable(o, out)
							   : choose_library(o, out);

		if (decided)
			return o;
	}
	out->kind = ALLOC_UNKNOWN;
	snprintf(out->evidence, sizeof(out->evidence),
		 d->n ? "no mapped file defines malloc" : "no file is mapped");
	return NULL;
}
