/* The census of live C++ objects by class (model/classes.h), ranked: the
 * classes holding the most bytes first, the first `top` of them named and
 * the rest summed, so a report stays short on a process with thousands of
 * classes.  Pure. */
#ifndef HEAPDOC_JUDGE_CLASSES_H
#define HEAPDOC_JUDGE_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#include "model/classes.h"

#define CLASSES_TOP 20		/* classes named in a report */

struct class_ranking {
	size_t *shown;			/* indices in census.classes, most bytes first */
	size_t nshown;
	uint64_t rest_classes, rest_objects, rest_bytes;	/* the others */
	uint64_t objects, bytes;	/* all classes */
};

/* top 0: all of them.  -ENOMEM, else 0. */
int judge_classes(const struct class_census *c, size_t top, struct class_ranking *r);
void class_ranking_free(struct class_ranking *r);

#endif
