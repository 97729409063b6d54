#include "model/classes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void class_census_free(struct class_census *c)
{
	for (size_t i = 0; i < c->nclasses; i++)
		free(c->classes[i].symbol);
	free(c->classes);
	memset(c, 0, sizeof(*c));
}

int class_census_append(struct class_census *c, const char *symbol, uint64_t objects,
			uint64_t bytes)
{
	struct class_count *v = c->classes;
	size_t n = c->nclasses;

	/* Doubling: room is a power of two at least n + 1. */
	if (!(n & (n - 1))) {
		v = realloc(c->classes, (n ? 2 * n : 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->classes = v;
	}
	v[n] = (struct class_count){ strdup(symbol), objects, bytes };
	if (!v[n].symbol)
		return -ENOMEM;
	c->nclasses++;
	return 0;
}

static int by_symbol(const void *a, const void *b)
{
	return strcmp(((const struct class_count *)a)->symbol,
		      ((const struct class_count *)b)->symbol);
}

void class_census_merge(struct class_census *c)
{
	size_t out = 0;

	if (c->nclasses < 2)
		return;		/* (qsort wants a non-null array) */
	qsort(c->classes, c->nclasses, sizeof(*c->classes), by_symbol);
	for (size_t i = 0; i < c->nclasses; i++) {
		if (out && !strcmp(c->classes[out - 1].symbol, c->classes[i].symbol)) {
			c->classes[out - 1].objects += c->classes[i].objects;
			c->classes[out - 1].bytes += c->classes[i].bytes;
			free(c->classes[i].symbol);
			continue;
		}
		c->classes[out++] = c->classes[i];
	}
	c->nclasses = out;
}
