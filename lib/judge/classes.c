#include "judge/classes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct class_census *sort_census;	/* qsort has no context argument */

/* Most bytes first; then most objects; then by name, so that a report is
 * the same from one run to the next. */
static int by_bytes(const void *a, const void *b)
{
	const struct class_count *x = &sort_census->classes[*(const size_t *)a];
	const struct class_count *y = &sort_census->classes[*(const size_t *)b];

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->objects != y->objects)
		return x->objects < y->objects ? 1 : -1;
	return strcmp(x->symbol, y->symbol);
}

int judge_classes(const struct class_census *c, size_t top, struct class_ranking *r)
{
	memset(r, 0, sizeof(*r));
	r->shown = calloc(c->nclasses + 1, sizeof(*r->shown));
	if (!r->shown)
		return -ENOMEM;
	for (size_t i = 0; i < c->nclasses; i++) {
		r->shown[i] = i;
		r->objects += c->classes[i].objects;
		r->bytes += c->classes[i].bytes;
	}
	sort_census = c;
	qsort(r->shown, c->nclasses, sizeof(*r->shown), by_bytes);
	sort_census = NULL;
	r->nshown = top && top < c->nclasses ? top : c->nclasses;
	for (size_t i = r->nshown; i < c->nclasses; i++) {
		r->rest_classes++;
		r->rest_objects += c->classes[r->shown[i]].objects;
		r->rest_bytes += c->classes[r->shown[i]].bytes;
	}
	return 0;
}

void class_ranking_free(struct class_ranking *r)
{
	free(r->shown);
	memset(r, 0, sizeof(*r));
}
