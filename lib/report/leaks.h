/* heapdoc leaks: the report (text, JSON) and the profile files other tools
 * read (pprof, jeprof, folded stacks). */
#ifndef HEAPDOC_REPORT_LEAKS_H
#define HEAPDOC_REPORT_LEAKS_H

#include <stdbool.h>
#include <stdio.h>

#include "judge/leaks.h"
#include "model/profile.h"
#include "report/style.h"

#define LEAKS_SCHEMA 1

/* top: how many sites each list shows (0: all). */
void leaks_print_text(FILE *out, const struct profile *p, const struct leak_ranking *r,
		      const struct style *s, size_t top);
void leaks_print_json(FILE *out, const struct profile *p, const struct leak_ranking *r);

struct json;

/* One site as an object of leaks --json (g: its growth, or NULL); key NULL
 * inside an array. */
void leaks_site_json(struct json *j, const char *key, const struct profile *p, size_t site,
		     const struct leak_site *g);

/* What was live before sampling began (profile.before): allocated, and
 * the C++ objects by class when the census was taken (leaks_before.c). */
void leaks_print_before_text(FILE *out, const struct profile *p, const struct leak_ranking *r,
			     const struct style *s);
void leaks_before_json(struct json *j, const struct profile *p, const struct leak_ranking *r);

/* One line per frame of a site's stack, for the text report and tests:
 * "function (file:line) module". */
void leaks_describe_frame(const struct profile *p, uint32_t frame, char *buf, size_t len);

/* gzip'd profile.proto in Go's heap layout.  0, or a negative errno. */
int leaks_write_pprof(FILE *out, const struct profile *p);

/* jemalloc's heap_v2 text, which jeprof reads. */
int leaks_write_jeprof(FILE *out, const struct profile *p);

/* Folded stacks for flamegraph.pl: "root;...;leaf bytes", live bytes. */
int leaks_write_folded(FILE *out, const struct profile *p);

#endif
