/* glibc's half of heapdoc release and set: malloc_trim(0) and mallopt()
 * called inside the target, settings read back from mp_.
 *
 * glibc has no lock word to peek at like tcmalloc's, so the guard is two
 * things: the code of malloc.c (arena.c is part of it) from libc's DWARF,
 * so that no thread with a frame in malloc is borrowed; and every arena
 * mutex on the ring from main_arena free at the moment the thread is
 * chosen.  The other threads run on during the call: malloc_trim takes
 * each arena's mutex in turn, for that arena's walk only, and a thread that
 * wants the arena meanwhile waits for it (bench/release_stall measures how
 * long).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "observe/act_impl.h"
#include "observe/alloc/glibc.h"
#include "observe/alloc/glibc_layout.h"
#include "observe/elfsym.h"
#include "observe/symbols.h"

#define MAX_ARENAS 4096
/* mallopt's parameter numbers (malloc.h). */
#define M_TRIM_THRESHOLD -1
#define M_TOP_PAD -2
#define M_MMAP_THRESHOLD -3

static const char *const prefer_libc[] = { "libc.so", "libc-", NULL };

/* ---- the guard ------------------------------------------------------------ */

static void add_range(uint64_t lo, uint64_t hi, void *arg)
{
	inject_guard_add(arg, lo, hi);
}

/* Without DWARF (a libc with only a symbol table): malloc's functions by
 * name.  Too many names only make heapdoc wait longer for a moment. */
static bool is_malloc_function(const char *name)
{
	static const char *const stems[] = {
		"_int_", "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
		"__libc_memalign", "__libc_valloc", "__libc_pvalloc", "__libc_mallopt",
		"__libc_mallinfo", "__malloc_", "malloc", "tcache_", "arena_", "sysmalloc",
		"systrim", "mtrim", "heap_trim", "new_heap", "alloc_new_heap", "shrink_heap",
		"grow_heap", "munmap_chunk", "mremap_chunk", "unlink_chunk", "ptmalloc_",
		"_mid_memalign", "reused_arena", "get_free_list", "detach_arena", "mallopt",
		"mallinfo",
	};
	static const char *const exact[] = {
		"free", "cfree", "calloc", "realloc", "memalign", "valloc", "pvalloc",
		"posix_memalign", "aligned_alloc", "__free_hook",
	};

	for (size_t i = 0; i < ARRAY_SIZE(stems); i++)
		if (!strncmp(name, stems[i], strlen(stems[i])))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return false;
}

static void add_if_malloc(const char *name, uint64_t lo, uint64_t hi, void *arg)
{
	if (is_malloc_function(name))
		inject_guard_add(arg, lo, hi);
}

static int guard_code(struct actor *a, struct sym_module *m, struct error *err)
{
	struct sym_module_info info;
	struct elfsym es = ELFSYM_INIT;
	int rc;

	rc = symbols_cu_ranges(m, "malloc.c", add_range, &a->guard, NULL);
	if (rc == 0)
		return 0;
	symbols_module_info(m, &info);
	rc = elfsym_open(&es, a->pid, info.name, info.start, err);
	if (rc == 0)
		elfsym_each_function(&es, add_if_malloc, &a->guard);
	elfsym_close(&es);
	if (rc == 0 && !a->guard.ncode)
		rc = error_set(err, -ENODATA, "pid %d: %s: neither debug info nor symbols say "
			       "where malloc's code is", (int)a->pid, info.name);
	return rc;
}

/* With every thread stopped: is every arena mutex free? */
static int arenas_unlocked(struct target *t, void *arg, char *why, size_t len)
{
	const struct glibc_reader *r = arg;
	const struct glibc_layout *L = &r->L;
	uint64_t a = r->gs.main_arena;

	for (unsigned n = 0; n < MAX_ARENAS; n++) {
		uint32_t mutex;
		uint64_t next;

		if (target_read_exact(t, a + L->ms[MS_MUTEX].off, &mutex, sizeof(mutex), NULL) < 0 ||
		    target_read_exact(t, a + L->ms[MS_NEXT].off, &next, sizeof(next), NULL) < 0) {
			snprintf(why, len, "arena 0x%" PRIx64 " unreadable", a);
			return 1;
		}
		if (mutex) {
			snprintf(why, len, "the mutex of arena 0x%" PRIx64 "%s is held", a,
				 a == r->gs.main_arena ? " (main_arena)" : "");
			return 1;
		}
		if (next == r->gs.main_arena)
			return 0;
		if (!next || (next & 7)) {
			snprintf(why, len, "the arena ring is broken after 0x%" PRIx64, a);
			return 1;
		}
		a = next;
	}
	snprintf(why, len, "more than %d arenas on the ring", MAX_ARENAS);
	return 1;
}

int glibc_act_open(struct actor *a, const struct alloc_id *id, struct error *err)
{
	struct sym_info si;
	struct sym_module *m;
	int rc;

	rc = glibc_open(&a->glibc, a->pid, id, err);
	if (rc < 0)
		return rc;
	a->guard.what = "malloc";
	a->guard.moment_check = arenas_unlocked;
	a->guard.moment_arg = a->glibc;
	rc = symbols_lookup(a->glibc->syms, "malloc_trim", prefer_libc, &si, err);
	if (rc < 0)
		return rc;
	a->fn_trim = si.addr;
	rc = symbols_lookup(a->glibc->syms, "mallopt", prefer_libc, &si, err);
	if (rc < 0)
		return rc;
	a->fn_mallopt = si.addr;
	m = symbols_module_at(a->glibc->syms, a->fn_trim);
	if (!m)
		return error_set(err, -ENOENT, "pid %d: no module holds malloc_trim", (int)a->pid);
	rc = guard_code(a, m, err);
	if (rc == 0)
		inject_libc_find(a->pid, &a->libc, NULL);	/* else inject_begin says why */
	return rc;
}

/* ---- release -------------------------------------------------------------- */

int glibc_act_release(struct actor *a, struct target *t, struct act_release *r,
		      struct error *err)
{
	struct glibc_state st = { 0 };
	struct inject_session s;
	uint64_t arg = 0, ret = 0;
	int rc;

	snprintf(r->call, sizeof(r->call), "malloc_trim(0)");
	if (a->opts.arena >= 0)
		return error_set(err, -EOPNOTSUPP, "--arena: glibc has no call that trims one "
				 "arena alone (malloc_trim takes the arenas one at a time, each "
				 "lock only for its own walk)");
	/* The prediction: a snapshot of every arena (brief holds). */
	rc = glibc_snapshot_brief(a->glibc, t, &st, err);
	if (rc < 0)
		goto out;
	r->predicted = IS_SET(st.trimmable_resident) ? st.trimmable_resident : st.trimmable;
	/* An arena that moved at every look and is too big to walk held is
	 * counted from its walk made while the process ran (glibc_brief.c). */
	snprintf(r->basis, sizeof(r->basis), "whole free pages in %zu arena%s%s%s", st.narenas,
		 st.narenas == 1 ? "" : "s", IS_SET(st.trimmable_resident) ?
		 " that are in RAM" : " (residency unknown)",
		 st.estimated ? ", busy ones as a walk saw them while they ran" : "");
	if (!r->predicted)
		snprintf(r->refusal, sizeof(r->refusal), "glibc holds no whole free page that "
			 "malloc_trim could return");
	/* malloc_trim walks every bin: on a corrupt heap it would abort the
	 * process, a lasting effect nobody asked for. */
	if (st.corrupt)
		snprintf(r->refusal, sizeof(r->refusal), "the heap is corrupt (%.100s): "
			 "malloc_trim walks it and could crash the process", st.nfindings ?
			 st.findings[0].what : "inconsistent state");
	if (!r->predicted || st.corrupt || a->opts.dry_run)
		goto out;
	rc = act_begin(a, t, &s, err);
	if (rc < 0)
		goto out;
	r->rss_before = act_rss(a->pid);
	rc = inject_call(&s, a->fn_trim, &arg, 1, &ret, err);
	r->done = rc == 0;
	r->ret = (int)ret;
	rc = act_end(&s, rc, &r->cost, err);
	r->rss_after = act_rss(a->pid);
out:
	glibc_state_free(&st);
	return rc;
}

/* ---- set: mallopt, read back from mp_ ------------------------------------- */

static int read_setting(struct actor *a, struct target *t, enum act_setting what,
			struct act_value *v, struct error *err)
{
	const struct glibc_layout *L = &a->glibc->L;
	unsigned char mp[1024];
	int field = what == ACT_TRIM_THRESHOLD ? MP_TRIM_THRESHOLD :
		    what == ACT_TOP_PAD ? MP_TOP_PAD : MP_MMAP_THRESHOLD;
	int rc;

	if (L->par_size > sizeof(mp) || L->mp[field].off < 0)
		return error_set(err, -EPROTO, "mp_ has an unexpected layout");
	rc = target_read_exact(t, a->glibc->gs.mp, mp, L->par_size, err);
	if (rc < 0)
		return rc;
	v->i = (int64_t)glibc_get(mp, &L->mp[field]);
	v->known = true;
	return 0;
}

int glibc_act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
		  struct act_cost *cost, struct error *err)
{
	struct inject_session s;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = read_setting(a, t, c[i].what, &c[i].old, err);
	if (rc < 0)
		return rc;
	rc = act_begin(a, t, &s, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t args[2], ret;

		args[0] = (uint64_t)(int64_t)(c[i].what == ACT_TRIM_THRESHOLD ? M_TRIM_THRESHOLD :
					      c[i].what == ACT_TOP_PAD ? M_TOP_PAD :
					      M_MMAP_THRESHOLD);
		args[1] = (uint64_t)c[i].want.i;
		if (c[i].want.i < 0 || c[i].want.i > INT_MAX)
			rc = error_set(err, -ERANGE, "mallopt takes an int: %" PRId64
				       " is out of range", c[i].want.i);
		else
			rc = inject_call(&s, a->fn_mallopt, args, 2, &ret, err);
		if (rc == 0 && !(int)ret)
			rc = error_set(err, -ERANGE, "pid %d: mallopt refused %" PRId64 " (out of "
				       "glibc's range for it)", (int)a->pid, c[i].want.i);
	}
	rc = act_end(&s, rc, cost, err);
	for (size_t i = 0; i < n; i++)
		if (read_setting(a, t, c[i].what, &c[i].now, rc ? NULL : err) < 0 && !rc)
			rc = -EIO;
	return rc;
}
