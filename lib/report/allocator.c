/* The one "allocator" object (allocator.h). */
#include "report/allocator.h"

#include <stddef.h>

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

void allocator_json_begin(struct json *j, const char *key, const struct alloc_id *id,
			  const struct alloc_summary *sum)
{
	json_object_begin(j, key);
	json_string(j, "name", alloc_kind_name(id->kind));
	json_string(j, "version", nonempty(id->version));
	json_string(j, "link", id->link == ALLOC_STATIC ? "static" : "shared");
	json_string(j, "flavor", nonempty(id->flavor));
	json_string(j, "prefix", nonempty(id->prefix));
	json_string(j, "path", nonempty(id->path));
	json_string(j, "evidence", nonempty(id->evidence));
	if (sum)
		json_bool(j, "state_read", sum->valid);
	else
		json_null(j, "state_read");
	json_string(j, "source", sum ? nonempty(sum->source) : NULL);
	json_string(j, "why_unavailable", sum && !sum->valid ? nonempty(sum->why_invalid) : NULL);
}

void allocator_json(struct json *j, const char *key, const struct alloc_id *id,
		    const struct alloc_summary *sum)
{
	allocator_json_begin(j, key, id, sum);
	json_object_end(j);
}
