/* The allocator's code in a target, as address ranges (inject.h): a thread
 * with a frame in them is never borrowed. */
#include "observe/inject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int inject_guard_add(struct inject_guard *g, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return 0;
	if (g->ncode == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		struct inject_range *v = realloc(g->code, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->code = v;
		g->cap = cap;
	}
	g->code[g->ncode++] = (struct inject_range){ lo, hi };
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct inject_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void inject_guard_settle(struct inject_guard *g)
{
	size_t out = 0;

	if (!g->ncode)
		return;
	qsort(g->code, g->ncode, sizeof(*g->code), range_cmp);
	for (size_t i = 1; i < g->ncode; i++) {
		if (g->code[i].lo <= g->code[out].hi)
			g->code[out].hi = MAX(g->code[out].hi, g->code[i].hi);
		else
			g->code[++out] = g->code[i];
	}
	g->ncode = out + 1;
}

bool inject_guard_covers(const struct inject_guard *g, uint64_t pc)
{
	size_t lo = 0, hi = g->ncode;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pc < g->code[mid].lo)
			hi = mid;
		else if (pc >= g->code[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

int inject_guard_add_mapped(struct inject_guard *g, pid_t pid, const char *path,
			    struct error *err)
{
	struct maps maps = { 0 };
	unsigned found = 0;
	int ret;

	ret = proc_read_maps("", pid, &maps, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < maps.n; i++) {
		const struct mapping *m = &maps.v[i];

		if (m->perms[2] != 'x' || strcmp(m->path, path))
			continue;
		if (inject_guard_add(g, m->start, m->end)) {
			ret = error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		found++;
	}
	if (!found)
		ret = error_set(err, -ENOENT, "pid %d: no executable mapping of %s", pid, path);
out:
	maps_free(&maps);
	return ret;
}

void inject_guard_free(struct inject_guard *g)
{
	free(g->code);
	g->code = NULL;
	g->ncode = g->cap = 0;
}
