#include "judge/leaks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Functions that allocate on their caller's behalf: a site is named after
 * whoever called them.  (C++ names are mangled in symbol tables.) */
static const char *const wrappers[] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t", "operator new",
	"strdup", "strndup", "__strdup", "__strndup", "asprintf", "vasprintf",
	"__vasprintf_internal", "open_memstream", "g_malloc", "g_malloc0",
	"g_realloc", "xmalloc", "xcalloc", "xrealloc", NULL,
};

static bool is_wrapper(const char *name)
{
	for (size_t i = 0; name && wrappers[i]; i++)
		if (!strcmp(name, wrappers[i]))
			return true;
	return false;
}

size_t leak_site_frame(const struct profile *p, const struct prof_site *s)
{
	for (size_t i = 0; i + 1 < s->nframes; i++)
		if (!is_wrapper(p->frames[s->frames[i]].function))
			return i;
	return s->nframes ? s->nframes - 1 : 0;
}

static void growth_of(const struct profile *p, const struct prof_site *s, struct leak_site *g)
{
	double span = p->window_s - p->mid_s;

	if (p->mid_s > 0 && span > 0) {
		g->bytes_per_s = (s->live.bytes - s->mid.bytes) / span;
		g->objects_per_s = (s->live.objects - s->mid.objects) / span;
		g->growth_bytes = g->bytes_per_s * p->window_s;
		g->growth_objects = g->objects_per_s * p->window_s;
	} else {
		g->growth_bytes = s->live.bytes;
		g->growth_objects = s->live.objects;
		g->bytes_per_s = p->window_s > 0 ? s->live.bytes / p->window_s : 0;
		g->objects_per_s = p->window_s > 0 ? s->live.objects / p->window_s : 0;
	}
}

/* A site grew when its live samples rose by at least LEAK_MIN_SAMPLES
 * from the middle to the end (or, without a middle, it holds that many):
 * fewer is what sampling noise alone gives a steady site (one with a
 * single live sample has 0 or 1 or 2 of them at any moment). */
static bool grew(const struct profile *p, const struct prof_site *s,
		 const struct leak_site *g)
{
	uint64_t before = p->mid_s > 0 ? s->mid.raw_objects : 0;

	return g->growth_bytes > 0 && s->live.raw_objects >= before + LEAK_MIN_SAMPLES;
}

static int by_growth(const void *a, const void *b)
{
	const struct leak_site *x = a, *y = b;

	return x->growth_bytes < y->growth_bytes ? 1 : x->growth_bytes > y->growth_bytes ? -1
	       : (x->site > y->site) - (x->site < y->site);
}

static const struct profile *sort_profile;	/* qsort has no context argument */

static int by_live(const void *a, const void *b)
{
	double x = sort_profile->sites[*(const size_t *)a].live.bytes;
	double y = sort_profile->sites[*(const size_t *)b].live.bytes;

	return x < y ? 1 : x > y ? -1 : 0;
}

int judge_leaks(const struct profile *p, struct leak_ranking *r)
{
	memset(r, 0, sizeof(*r));
	r->growing = calloc(p->nsites + 1, sizeof(*r->growing));
	r->holding = calloc(p->nsites + 1, sizeof(*r->holding));
	if (!r->growing || !r->holding) {
		leak_ranking_free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nsites; i++) {
		const struct prof_site *s = &p->sites[i];
		struct leak_site g = { .site = i };

		r->alloc_bytes += s->alloc.bytes;
		r->alloc_objects += s->alloc.objects;
		r->live_bytes += s->live.bytes;
		r->live_objects += s->live.objects;
		if (s->live.raw_objects)
			r->holding[r->nholding++] = i;
		growth_of(p, s, &g);
		if (grew(p, s, &g)) {
			r->growing[r->ngrowing++] = g;
			r->growth_bytes += g.growth_bytes;
		}
	}
	for (size_t i = 0; i < r->ngrowing; i++)
		r->growing[i].share = r->growth_bytes > 0 ? r->growing[i].growth_bytes /
							     r->growth_bytes : 0;
	qsort(r->growing, r->ngrowing, sizeof(*r->growing), by_growth);
	sort_profile = p;
	qsort(r->holding, r->nholding, sizeof(*r->holding), by_live);
	sort_profile = NULL;
	if (judge_classes(&p->before.classes, CLASSES_TOP, &r->classes) < 0) {
		leak_ranking_free(r);
		return -ENOMEM;
	}
	return 0;
}

void leak_ranking_free(struct leak_ranking *r)
{
	free(r->growing);
	free(r->holding);
	class_ranking_free(&r->classes);
	memset(r, 0, sizeof(*r));
}
