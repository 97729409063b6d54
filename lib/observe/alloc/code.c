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

int alloc_callee_open(struct alloc_callee *c, pid_t pid, const struct alloc_id *id,
		      const char *what, bool (*is_its_function)(const char *name),
		      int (*find)(void *arg, const struct elfsym *es, struct error *err),
		      void *arg, struct error *err)
{
	struct elfsym es = ELFSYM_INIT;
	int ret;

	c->pid = pid;
	c->guard.what = what;
	ret = alloc_code_open(&es, pid, id, err);
	if (!ret)
		ret = find(arg, &es, err);
	if (!ret)
		ret = alloc_code_guard(&c->guard, &es, pid, id, is_its_function, err);
	elfsym_close(&es);
	if (!ret)
		inject_libc_find(pid, &c->libc, NULL);	/* else inject_begin says why */
	return ret;
}

void alloc_callee_close(struct alloc_callee *c)
{
	inject_guard_free(&c->guard);
}

int alloc_callee_begin(struct alloc_callee *c, struct inject_session *s, struct target *t,
		       unsigned timeout_ms, struct error *err)
{
	struct inject_opts o = { .guard = &c->guard, .timeout_ms = timeout_ms,
				 .libc = c->libc.mmap ? &c->libc : NULL };

	return inject_begin(s, t, &o, err);
}
