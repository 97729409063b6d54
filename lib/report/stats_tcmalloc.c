/* `heapdoc stats` for tcmalloc: the properties of lib/alloc/tcmalloc.h. */
#include <stdbool.h>
#include <string.h>

#include "base/human.h"
#include "report/stats_alloc.h"
#include "base/util.h"

void stats_tcmalloc_json(struct json *j, const struct tcmalloc_state *st)
{
	json_object_begin(j, "tcmalloc");
	json_string(j, "flavor", st->flavor);
	json_object_begin(j, "properties");
	for (size_t i = 0; i < st->nprops; i++)
		json_uint(j, st->props[i].name, st->props[i].value);
	json_object_end(j);
	json_int(j, "thread", st->tid);
	json_uint(j, "calls", st->calls);
	json_uint(j, "calls_us", st->calls_us);
	json_object_end(j);
}

/* Counts and flags among the properties are not sizes. */
static bool is_bytes(const char *name)
{
	return !strstr(name, "decommit") && !strstr(name, "count") && !strstr(name, "active");
}

void stats_tcmalloc_text(FILE *out, const struct tcmalloc_state *st)
{
	char a[32];

	fprintf(out, "tcmalloc (%s; read in thread %d: %u calls, %s)\n", st->flavor, st->tid,
		st->calls, human_us(a, sizeof(a), st->calls_us));
	for (size_t i = 0; i < st->nprops; i++) {
		const struct tcmalloc_property *p = &st->props[i];

		if (!IS_SET(p->value))
			fprintf(out, "  %-42s %12s\n", p->name, "n/a");
		else if (is_bytes(p->name))
			fprintf(out, "  %-42s %12s\n", p->name, human_bytes(a, sizeof(a), p->value));
		else
			fprintf(out, "  %-42s %12llu\n", p->name, (unsigned long long)p->value);
	}
}
