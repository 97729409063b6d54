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

int class_census_add(struct class_census *c, const char *symbol, uint64_t objects,
		     uint64_t bytes)
{
	struct class_count *v;

	for (size_t i = 0; i < c->nclasses; i++)
		if (!strcmp(c->classes[i].symbol, symbol)) {
			c->classes[i].objects += objects;
			c->classes[i].bytes += bytes;
			return 0;
		}
	v = realloc(c->classes, (c->nclasses + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->classes = v;
	v[c->nclasses] = (struct class_count){ strdup(symbol), objects, bytes };
	if (!v[c->nclasses].symbol)
		return -ENOMEM;
	c->nclasses++;
	return 0;
}
