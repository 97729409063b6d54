#include "observe/alloc/code.h"

#include <errno.h>

int alloc_code_open(struct elfsym *es, pid_t pid, const struct alloc_id *id,
		    struct error *err)
{
	uint64_t base = id->load_base;
	int ret;

	if (!base) {
		ret = elfsym_load_base(pid, id->path, &base, err);
		if (ret < 0)
			return ret;
	}
	return elfsym_open(es, pid, id->path, base, err);
}

struct name_filter {
	struct inject_guard *guard;
	bool (*accepts)(const char *name);
};

static void add_if_accepted(const char *name, uint64_t lo, uint64_t hi, void *arg)
{
	struct name_filter *f = arg;

	if (f->accepts(name))
		inject_guard_add(f->guard, lo, hi);
}

int alloc_code_guard(struct inject_guard *g, const struct elfsym *es, pid_t pid,
		     const struct alloc_id *id, bool (*is_its_function)(const char *name),
		     struct error *err)
{
	struct name_filter f = { .guard = g, .accepts = is_its_function };
	size_t before = g->ncode;

	if (id->link == ALLOC_SHARED)
		return inject_guard_add_mapped(g, pid, id->path, err);
	elfsym_each_function(es, add_if_accepted, &f);
	if (g->ncode == before)
		return error_set(err, -ENOENT, "pid %d: no %s function named in %s's symbols",
				 pid, g->what, id->path);
	return 0;
}
