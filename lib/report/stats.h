/* `heapdoc stats`: what the allocator holds, for a person and for scripts.
 * They print an observation's allocator figures and, when it could be
 * read, the allocator's own detail (model/alloc_detail.h). */
#ifndef HEAPDOC_REPORT_STATS_H
#define HEAPDOC_REPORT_STATS_H

#include <stdio.h>

#include "model/alloc_detail.h"
#include "model/observation.h"

void stats_print_json(FILE *out, const struct observation *obs, const struct alloc_detail *d);
void stats_print_text(FILE *out, const struct observation *obs, const struct alloc_detail *d);

#endif
