/* The parts of the sampling library's life that hold the target: the calls
 * that load, start, stop and unload it, and the check that no thread can
 * still reach its code before it is unloaded (agent.h says why). */
#include "observe/agent/agent_load.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/elfsym.h"
#include "observe/inject.h"
#include "observe/proc.h"
#include "observe/stacks.h"
#include "observe/target.h"

#define RTLD_NOW_ 2
#define UNLOAD_TRIES 20			/* about a second in all */
#define UNLOAD_WAIT_US 50000

/* The loader's entry points in the target's libc. */
struct loader {
	uint64_t dlopen, dlerror, dlclose;
};

/* /proc/<pid>/maps of a process that maps and unmaps while it is read can
 * come out torn (a line out of order): read it again. */
static int read_maps(pid_t pid, struct maps *maps, struct error *err)
{
	int ret = -EIO;

	for (int i = 0; i < 5 && ret == -EIO; i++) {
		maps_free(maps);
		ret = proc_read_maps("", pid, maps, err);
	}
	return ret;
}

static bool is_path(const struct mapping *m, const char *needle)
{
	return m->path[0] == '/' && strstr(m->path, needle);
}

static int find_loader(pid_t pid, struct loader *l, struct error *err)
{
	struct maps maps = { 0 };
	int ret = read_maps(pid, &maps, err);

	memset(l, 0, sizeof(*l));
	for (size_t i = 0; ret == 0 && i < maps.n && !l->dlopen; i++) {
		const struct mapping *m = &maps.v[i];
		struct elfsym es = ELFSYM_INIT;

		/* A file's first mapping is its lowest: its load base. */
		if (!is_path(m, "/libc.so") && !is_path(m, "/libc-"))
			continue;
		if (i && !strcmp(maps.v[i - 1].path, m->path))
			continue;
		if (elfsym_open(&es, pid, m->path, m->start, NULL) < 0)
			continue;
		/* glibc 2.34 moved dlopen into libc; before, libc had only
		 * its private __libc_dlopen_mode (same arguments here). */
		if (elfsym_lookup(&es, "dlopen", &l->dlopen, NULL) < 0)
			elfsym_lookup(&es, "__libc_dlopen_mode", &l->dlopen, NULL);
		if (elfsym_lookup(&es, "dlclose", &l->dlclose, NULL) < 0)
			elfsym_lookup(&es, "__libc_dlclose", &l->dlclose, NULL);
		elfsym_lookup(&es, "dlerror", &l->dlerror, NULL);
		elfsym_close(&es);
	}
	maps_free(&maps);
	if (ret == 0 && (!l->dlopen || !l->dlclose))
		ret = error_set(err, -EOPNOTSUPP, "pid %d: no dynamic loader entry (dlopen) in its "
				"libc: a static or non-glibc program cannot take the sampling "
				"library", pid);
	return ret;
}

static void add_named(const char *name, uint64_t lo, uint64_t hi, void *arg)
{
	if (stack_name_matches(name, stack_allocator_functions))
		inject_guard_add(arg, lo, hi);
}

/* "Inside" for the loader call: the dynamic loader (its lock), and any
 * allocator: the borrowed thread must hold neither. */
static int make_guard(pid_t pid, struct inject_guard *g, struct error *err)
{
	struct maps maps = { 0 };
	int ret = read_maps(pid, &maps, err);

	g->what = "the loader or the allocator";
	for (size_t i = 0; ret == 0 && i < maps.n; i++) {
		const struct mapping *m = &maps.v[i];
		struct elfsym es = ELFSYM_INIT;

		if (m->perms[2] == 'x' && (is_path(m, "/ld-linux") || is_path(m, "jemalloc") ||
					   is_path(m, "tcmalloc") || is_path(m, "mimalloc")))
			inject_guard_add(g, m->start, m->end);
		if (!is_path(m, "/libc.so") || (i && !strcmp(maps.v[i - 1].path, m->path)))
			continue;
		if (elfsym_open(&es, pid, m->path, m->start, NULL) == 0)
			elfsym_each_function(&es, add_named, g);
		elfsym_close(&es);
	}
	maps_free(&maps);
	return ret;
}

/* The library's mappings in the target: all of them, and the executable one. */
static int library_ranges(struct agent *a, struct error *err)
{
	struct maps maps = { 0 };
	int ret = read_maps(a->pid, &maps, err);

	a->lib_lo = a->text_lo = UINT64_MAX;
	a->lib_hi = a->text_hi = 0;
	for (size_t i = 0; ret == 0 && i < maps.n; i++) {
		const struct mapping *m = &maps.v[i];

		if (strncmp(m->path, a->path, strlen(a->path)))
			continue;
		a->lib_lo = MIN(a->lib_lo, m->start);
		a->lib_hi = MAX(a->lib_hi, m->end);
		if (m->perms[2] == 'x') {
			a->text_lo = MIN(a->text_lo, m->start);
			a->text_hi = MAX(a->text_hi, m->end);
		}
	}
	maps_free(&maps);
	if (ret == 0 && !a->text_hi)
		ret = error_set(err, -EIO, "pid %d: %s is not mapped after dlopen", a->pid,
				a->path);
	return ret;
}

static int call(struct inject_session *s, uint64_t fn, const uint64_t *args, unsigned n,
		uint64_t *ret, struct error *err)
{
	return inject_call(s, fn, args, n, ret, err);
}

/* dlerror()'s message after a failed dlopen, for ours. */
static void loader_error(struct inject_session *s, const struct loader *l, char *out,
			 size_t len)
{
	uint64_t msg = 0;

	snprintf(out, len, "(no message)");
	if (!l->dlerror || call(s, l->dlerror, NULL, 0, &msg, NULL) < 0 || !msg)
		return;
	if (target_read(s->t, msg, out, len - 1, NULL) > 0)
		out[len - 1] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* The stop function's address, from the library's own symbols. */
static int agent_symbols(struct agent *a, struct error *err)
{
	struct elfsym es = ELFSYM_INIT;
	int ret = elfsym_open(&es, a->pid, a->path, a->lib_lo, err);

	if (ret == 0 && elfsym_lookup(&es, AGENT_STOP_FN, &a->fn_stop, NULL) < 0)
		ret = error_set(err, -ENOENT, "%s: not heapdoc's sampling library (no %s)",
				a->path, AGENT_STOP_FN);
	elfsym_close(&es);
	return ret;
}

static int start(struct agent *a, struct inject_session *s, const struct agent_opts *o,
		 struct error *err)
{
	struct elfsym es = ELFSYM_INIT;
	uint64_t fn = 0, ret = 0;
	uint64_t args[4] = { o->rate ? o->rate : AGENT_DEFAULT_RATE,
			     o->heartbeat_ms ? o->heartbeat_ms : AGENT_DEFAULT_HEARTBEAT_MS,
			     o->ring_cap ? o->ring_cap : AGENT_DEFAULT_RING,
			     o->no_got ? 0 : AGENT_FLAG_GOT };
	int r;

	r = elfsym_open(&es, a->pid, a->path, a->lib_lo, err);
	if (r == 0 && elfsym_lookup(&es, AGENT_START_FN, &fn, NULL) < 0)
		r = error_set(err, -ENOENT, "%s: no %s", a->path, AGENT_START_FN);
	elfsym_close(&es);
	if (r == 0)
		r = call(s, fn, args, 4, &ret, err);
	if (r == 0 && (int64_t)ret < 0 && (int64_t)ret > -4096)
		r = error_set(err, (int)(int64_t)ret, "pid %d: the sampling library did not "
			      "start: %s", a->pid, strerror(-(int)(int64_t)ret));
	a->region = ret;
	return r;
}

/* One thread borrowed for calls, the others running (see inject.h). */
struct borrowed {
	struct target t;
	struct inject_guard g;
	struct inject_session s;
};

static int borrow(struct agent *a, struct borrowed *b, struct error *err)
{
	int ret;

	*b = (struct borrowed){ .t = { .mem_fd = -1 } };
	ret = make_guard(a->pid, &b->g, err);
	if (ret == 0)
		ret = target_attach(&b->t, a->pid, err);
	if (ret == 0)
		ret = inject_begin(&b->s, &b->t, &(struct inject_opts){ .guard = &b->g,
				   .timeout_ms = 2000 }, err);
	return ret;
}

/* Gives the thread back; returns the longest stop it took. */
static uint64_t give_back(struct borrowed *b, bool failed, struct error *err)
{
	uint64_t longest;

	inject_end(&b->s, failed ? NULL : err);
	longest = b->t.pause_us_max;
	target_detach(&b->t);
	inject_guard_free(&b->g);
	return longest;
}

int agent_call_load(struct agent *a, const struct agent_opts *o, struct error *err)
{
	struct borrowed b;
	struct inject_session *s = &b.s;
	struct loader l;
	uint64_t path, handle = 0;
	int ret;

	ret = find_loader(a->pid, &l, err);
	if (ret < 0)
		return ret;
	ret = borrow(a, &b, err);
	if (ret < 0)
		goto out;
	path = inject_push(s, a->path, strlen(a->path) + 1, err);
	ret = path ? call(s, l.dlopen, (uint64_t[]){ path, RTLD_NOW_ }, 2, &handle, err)
		   : -ENOSPC;
	if (ret == 0 && !handle) {
		char why[256];

		loader_error(s, &l, why, sizeof(why));
		ret = error_set(err, -EIO, "pid %d: dlopen(%s) failed: %s", a->pid, a->path, why);
	}
	if (ret == 0)
		ret = library_ranges(a, err);
	if (ret == 0)
		ret = agent_symbols(a, err);
	if (ret == 0)
		ret = start(a, s, o, err);
	if (ret < 0 && handle) {
		uint64_t ignored;

		call(s, l.dlclose, &handle, 1, &ignored, NULL);
	}
	a->handle = ret == 0 ? handle : 0;
	a->fn_dlclose = l.dlclose;
out:
	a->load_stop_us = give_back(&b, ret < 0, err);
	return ret;
}

/* ---- leaving ------------------------------------------------------------------ */

int agent_stop(struct agent *a, struct error *err)
{
	struct borrowed b;
	uint64_t n = 0;
	int ret;

	ret = borrow(a, &b, err);
	if (ret == 0)
		ret = call(&b.s, a->fn_stop, NULL, 0, &n, err);
	if (ret == 0 && (int64_t)n < 0)
		ret = error_set(err, (int)(int64_t)n, "pid %d: the sampling library did not stop",
				a->pid);
	a->slots_restored = ret == 0 ? (long)n : -1;
	a->stop_stop_us = give_back(&b, ret < 0, err);
	return ret;
}

static bool in_text(const struct agent *a, uint64_t v)
{
	return v >= a->text_lo && v < a->text_hi;
}

/* Can held thread tid still reach the library's code: is it running
 * there, or does any frame of its stack return there (a signal frame
 * included)?  1 yes (why in a->left_why), 0 no, negative on error.
 * Nothing else can hold an address of that code: the program's slots are
 * back (a PLT slot is only ever jumped through, never copied), and GOT
 * slots were pointed at the forwarding page, which is not unloaded. */
static int thread_reaches(struct agent *a, struct stacks *st, pid_t tid, struct stack *stack,
			  struct error *err)
{
	int ret = stacks_sample(st, tid, stack, err);

	if (ret == -ESRCH)
		return 0;		/* gone meanwhile */
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < stack->nframes; i++) {
		uint64_t ip = stack->frames[i].ip;

		/* A caller's ip is a return address: the call is just before. */
		if (in_text(a, ip) || (i && in_text(a, ip - 1))) {
			snprintf(a->left_why, sizeof(a->left_why), "thread %d %s the library's "
				 "code (0x%" PRIx64 ")", tid, i ? "returns into" : "is running in",
				 ip);
			return 1;
		}
	}
	return 0;
}

/* With every thread held: can any still reach the library? */
static int any_thread_reaches(struct agent *a, struct target *t, struct stacks *st,
			      struct error *err)
{
	struct stack *stack = malloc(sizeof(*stack));
	int ret = 0;

	if (!stack)
		return error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; ret == 0 && i < t->nthreads; i++)
		if (t->threads[i].stopped)
			ret = thread_reaches(a, st, t->threads[i].tid, stack, err);
	free(stack);
	return ret;
}

static int still_mapped(struct agent *a, bool *mapped, struct error *err)
{
	struct maps maps = { 0 };
	int ret = read_maps(a->pid, &maps, err);

	*mapped = false;
	for (size_t i = 0; ret == 0 && i < maps.n; i++)
		if (maps.v[i].start < a->lib_hi && maps.v[i].end > a->lib_lo &&
		    !strncmp(maps.v[i].path, a->path, strlen(a->path)))
			*mapped = true;
	maps_free(&maps);
	return ret;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/* One try: hold everyone, look, let go; then dlclose if nobody reaches. */
static int try_unload(struct agent *a, struct target *t, struct stacks *st,
		      struct inject_guard *g, bool *done, struct error *err)
{
	struct inject_session s = { 0 };
	uint64_t rc = 0;
	int ret;

	*done = false;
	ret = target_stop(t, err);
	if (ret < 0)
		return ret;
	ret = any_thread_reaches(a, t, st, err);
	if (ret != 0) {
		int r = target_resume(t, NULL);

		return ret < 0 ? ret : r < 0 ? r : 0;
	}
	/* Nothing can enter it any more: the slots are back, and no thread
	 * holds an address in it.  inject_begin holds the threads again and
	 * borrows one. */
	ret = inject_begin(&s, t, &(struct inject_opts){ .guard = g, .timeout_ms = 2000 }, err);
	if (ret == 0)
		ret = call(&s, a->fn_dlclose, &a->handle, 1, &rc, err);
	inject_end(&s, ret < 0 ? NULL : err);
	if (ret == 0 && rc != 0)
		snprintf(a->left_why, sizeof(a->left_why), "dlclose refused (%d)", (int)rc);
	*done = ret == 0 && rc == 0;
	return ret;
}

int agent_unload(struct agent *a, struct error *err)
{
	struct target t = { .mem_fd = -1 };
	struct inject_guard g = { 0 };
	struct stacks *st = NULL;
	bool done = false, mapped = true;
	int ret;

	a->left = AGENT_LEFT_INERT;
	ret = make_guard(a->pid, &g, err);
	if (ret == 0)
		ret = target_attach(&t, a->pid, err);
	/* Unwind tables are loaded before anything is held. */
	if (ret == 0)
		ret = stacks_open(&st, &t, err);
	for (a->unload_tries = 0; ret == 0 && !done && a->unload_tries < UNLOAD_TRIES;
	     a->unload_tries++) {
		if (a->unload_tries)
			sleep_us(UNLOAD_WAIT_US);
		ret = try_unload(a, &t, st, &g, &done, err);
	}
	a->unload_stop_us = t.pause_us_max;
	stacks_close(st);
	target_detach(&t);
	inject_guard_free(&g);
	if (ret == 0 && done && still_mapped(a, &mapped, err) == 0 && !mapped) {
		a->left = AGENT_LEFT_NOTHING;
		a->left_why[0] = '\0';
	} else if (ret == -ESRCH) {
		a->left = AGENT_LEFT_UNKNOWN;
		snprintf(a->left_why, sizeof(a->left_why), "the process exited");
	} else if (done && mapped) {
		snprintf(a->left_why, sizeof(a->left_why), "dlclose returned but %.180s is still "
			 "mapped", a->path);
	}
	agent_free(a);
	return ret;
}
