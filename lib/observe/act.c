/* heapdoc release and set: opening an actor, and what every allocator's
 * half shares (lib/observe/act.h says what is called where). */
#include "observe/act_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/alloc/jemalloc.h"
#include "observe/alloc/tcmalloc.h"
#include "observe/alloc/glibc.h"
#include "observe/proc.h"

/* Which allocator has which setting live. */
static const enum alloc_kind setting_kind[ACT_NSETTINGS] = {
	[ACT_TRIM_THRESHOLD] = ALLOC_GLIBC,
	[ACT_TOP_PAD] = ALLOC_GLIBC,
	[ACT_MMAP_THRESHOLD] = ALLOC_GLIBC,
	[ACT_DIRTY_DECAY_MS] = ALLOC_JEMALLOC,
	[ACT_MUZZY_DECAY_MS] = ALLOC_JEMALLOC,
	[ACT_BACKGROUND_THREAD] = ALLOC_JEMALLOC,
	[ACT_RELEASE_RATE] = ALLOC_TCMALLOC,
	[ACT_THREAD_CACHE] = ALLOC_TCMALLOC,
	[ACT_AGGRESSIVE_DECOMMIT] = ALLOC_TCMALLOC,
};

int act_open(struct actor **out, pid_t pid, const struct alloc_id *id,
	     const struct act_opts *opts, struct error *err)
{
	struct actor *a = calloc(1, sizeof(*a));
	int rc;

	*out = NULL;
	if (!a)
		return error_set(err, -ENOMEM, "out of memory");
	a->pid = pid;
	a->kind = id->kind;
	a->opts = *opts;
	if (!a->opts.timeout_ms)
		a->opts.timeout_ms = ACT_TIMEOUT_MS;
	switch (id->kind) {
	case ALLOC_GLIBC:
		rc = glibc_act_open(a, id, err);
		break;
	case ALLOC_JEMALLOC:
		rc = jemalloc_open(&a->je, pid, id, err);
		break;
	case ALLOC_TCMALLOC:
		rc = tcmalloc_open(&a->tc, pid, id, err);
		break;
	case ALLOC_MIMALLOC:
		rc = mimalloc_act_open(a, id, err);
		break;
	default:
		rc = error_set(err, -EOPNOTSUPP, "pid %d: heapdoc cannot act on %s (it can on "
			       "glibc, jemalloc, tcmalloc and mimalloc)", (int)pid,
			       alloc_kind_name(id->kind));
		break;
	}
	if (rc < 0) {
		act_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void act_close(struct actor *a)
{
	if (!a)
		return;
	glibc_close(a->glibc);
	jemalloc_close(a->je);
	tcmalloc_close(a->tc);
	inject_guard_free(&a->guard);
	free(a);
}

bool act_has(const struct actor *a, enum act_setting s)
{
	return (unsigned)s < ACT_NSETTINGS && setting_kind[s] == a->kind;
}

int act_release(struct actor *a, struct target *t, struct act_release *r,
		struct error *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->predicted = r->rss_before = r->rss_after = UNSET;
	switch (a->kind) {
	case ALLOC_GLIBC:
		rc = glibc_act_release(a, t, r, err);
		break;
	case ALLOC_JEMALLOC:
		rc = jemalloc_act_release(a, t, r, err);
		break;
	case ALLOC_TCMALLOC:
		rc = tcmalloc_act_release(a, t, r, err);
		break;
	default:
		rc = mimalloc_act_release(a, t, r, err);
		break;
	}
	act_cost_pauses(t, &r->cost);
	return rc;
}

int act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
	    struct act_cost *cost, struct error *err)
{
	int rc;

	memset(cost, 0, sizeof(*cost));
	for (size_t i = 0; i < n; i++) {
		if (!act_has(a, c[i].what))
			return error_set(err, -EINVAL, "pid %d: setting %d is not one of %s's",
					 (int)a->pid, (int)c[i].what, alloc_kind_name(a->kind));
		c[i].old.known = c[i].now.known = false;
		c[i].arenas = 0;
	}
	switch (a->kind) {
	case ALLOC_GLIBC:
		rc = glibc_act_set(a, t, c, n, cost, err);
		break;
	case ALLOC_JEMALLOC:
		rc = jemalloc_act_set(a, t, c, n, cost, err);
		break;
	default:
		rc = tcmalloc_act_set(a, t, c, n, cost, err);
		break;
	}
	act_cost_pauses(t, cost);
	return rc;
}

/* ---- shared by the allocators' halves ----------------------------------- */

int act_begin(struct actor *a, struct target *t, struct inject_session *s,
	      struct error *err)
{
	struct inject_opts o = {
		.guard = &a->guard,
		.timeout_ms = a->opts.timeout_ms,
		.libc = a->libc.mmap ? &a->libc : NULL,
	};

	return inject_begin(s, t, &o, err);
}

int act_end(struct inject_session *s, int rc, struct act_cost *cost, struct error *err)
{
	cost->tid = s->tid;
	cost->calls += s->calls;
	cost->call_us += s->calls_us;
	cost->attempts += s->attempts;
	if (inject_end(s, rc ? NULL : err) < 0 && !rc)
		rc = -EIO;
	return rc;
}

void act_cost_pauses(const struct target *t, struct act_cost *cost)
{
	cost->pause_us_max = t->pause_us_max;
	cost->pause_us_total = t->pause_us_total;
	cost->stops = t->stops;
}

uint64_t act_rss(pid_t pid)
{
	struct proc_status st;

	if (proc_read_status("", pid, &st, NULL) < 0)
		return UNSET;
	return st.vm_rss;
}
