/* heapdoc leaks: what was live before heapdoc came (model/profile.h's
 * prof_before), in text and JSON. */
#include <inttypes.h>
#include <stdio.h>

#include "base/demangle.h"
#include "base/human.h"
#include "base/json.h"
#include "base/util.h"
#include "report/leaks.h"

/* A class's name as a person reads it; the symbol itself when the small
 * demangler does not read it. */
static const char *class_name(const struct class_count *c, char *buf, size_t len)
{
	return demangle_vtable(c->symbol, buf, len) ? buf : c->symbol;
}

static void print_classes(FILE *out, const struct profile *p, const struct leak_ranking *r,
			  const struct style *st)
{
	const struct class_census *c = &p->before.classes;
	const struct class_ranking *k = &r->classes;
	char a[32], name[512];

	fprintf(out, "\n%sLive before heapdoc came, by C++ class%s (chunks in use that begin "
		"with the class's vtable pointer: %" PRIu64 " objects, %s)\n", style_bold(st),
		style_reset(st), k->objects, human_bytes(a, sizeof(a), k->bytes));
	for (size_t i = 0; i < k->nshown; i++) {
		const struct class_count *cc = &c->classes[k->shown[i]];

		fprintf(out, "  %10s  %10" PRIu64 " objects  %s\n",
			human_bytes(a, sizeof(a), cc->bytes), cc->objects,
			class_name(cc, name, sizeof(name)));
	}
	if (k->rest_classes)
		fprintf(out, "  %10s  %10" PRIu64 " objects  %s(%" PRIu64 " more classes)%s\n",
			human_bytes(a, sizeof(a), k->rest_bytes), k->rest_objects, style_dim(st),
			k->rest_classes, style_reset(st));
	if (c->untracked_objects)
		fprintf(out, "  %10s  %10" PRIu64 " objects  %s(classes past the census's "
			"room)%s\n", human_bytes(a, sizeof(a), c->untracked_bytes),
			c->untracked_objects, style_dim(st), style_reset(st));
}

void leaks_print_before_text(FILE *out, const struct profile *p, const struct leak_ranking *r,
			     const struct style *st)
{
	const struct prof_before *b = &p->before;
	char a[32], rss[32];

	if (!b->read)
		return;
	fprintf(out, "\n%sLive before heapdoc came%s (no sample can name a stack for it)\n",
		style_bold(st), style_reset(st));
	human_bytes(rss, sizeof(rss), p->rss_start);
	if (IS_SET(b->allocated))
		fprintf(out, "  %s allocated when sampling began (%s, %s); RSS %s\n",
			human_bytes(a, sizeof(a), b->allocated), b->allocator, b->source, rss);
	else
		fprintf(out, "  allocated unknown (%s); RSS %s\n", b->why, rss);
	if (b->classes.taken && b->classes.nclasses)
		print_classes(out, p, r, st);
}

static void classes_json(struct json *j, const struct profile *p, const struct leak_ranking *r)
{
	const struct class_census *c = &p->before.classes;
	const struct class_ranking *k = &r->classes;
	char name[512];

	json_array_begin(j, "classes");
	for (size_t i = 0; i < k->nshown; i++) {
		const struct class_count *cc = &c->classes[k->shown[i]];

		json_object_begin(j, NULL);
		json_string(j, "class", class_name(cc, name, sizeof(name)));
		json_string(j, "symbol", cc->symbol);
		json_uint(j, "objects", cc->objects);
		json_uint(j, "bytes", cc->bytes);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_begin(j, "classes_other");
	json_uint(j, "classes", k->rest_classes);
	json_uint(j, "objects", k->rest_objects);
	json_uint(j, "bytes", k->rest_bytes);
	json_object_end(j);
}

static void census_json(struct json *j, const struct class_census *c)
{
	json_object_begin(j, "census");
	json_uint(j, "vtables", c->vtables);
	json_uint(j, "modules", c->modules);
	json_uint(j, "modules_without_symtab", c->modules_without_symtab);
	json_uint(j, "chunks", c->chunks);
	json_uint(j, "untracked_objects", c->untracked_objects);
	json_uint(j, "untracked_bytes", c->untracked_bytes);
	json_uint(j, "load_us", c->load_us);
	json_object_end(j);
}

void leaks_before_json(struct json *j, const struct profile *p, const struct leak_ranking *r)
{
	const struct prof_before *b = &p->before;

	json_object_begin(j, "before");
	json_bool(j, "read", b->read);
	json_string(j, "allocator", b->read ? b->allocator : NULL);
	json_uint(j, "allocated_bytes", b->allocated);
	json_string(j, "allocated_source", IS_SET(b->allocated) ? b->source : NULL);
	json_string(j, "allocated_why", IS_SET(b->allocated) ? NULL : b->why);
	json_uint(j, "rss_bytes", p->rss_start);
	json_uint(j, "walk_us", b->walk_us);
	json_string(j, "walk_method", b->walk_method[0] ? b->walk_method : NULL);
	json_uint(j, "rewalked", b->rewalked);
	json_uint(j, "pause_us", b->pause_us);
	if (b->classes.taken && b->classes.nclasses)
		classes_json(j, p, r);
	else
		json_string(j, "classes_why", b->classes.why);
	if (b->classes.taken)
		census_json(j, &b->classes);
	json_object_end(j);
}
