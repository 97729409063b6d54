/* tcmalloc's half of heapdoc release and set.
 *
 * release: ReleaseFreeMemory (google/tcmalloc: ReleaseMemoryToSystem of
 * everything), predicted from tcmalloc.pageheap_free_bytes in the same
 * session.  set: the thread-cache limit and aggressive decommit through
 * SetNumericProperty, read back with GetNumericProperty; the release rate
 * is SetMemoryReleaseRate's variable, written and read back as it does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/act_impl.h"
#include "observe/alloc/tcmalloc.h"

int tcmalloc_act_release(struct actor *a, struct target *t, struct act_release *r,
			 struct error *err)
{
	struct inject_session s;
	int rc;

	if (a->opts.arena >= 0)
		return error_set(err, -EOPNOTSUPP, "--arena: tcmalloc has one page heap, no arenas");
	snprintf(r->call, sizeof(r->call), "%s", tcmalloc_release_name(a->tc));
	snprintf(r->basis, sizeof(r->basis), "free bytes in the page heap");
	rc = tcmalloc_session_begin(a->tc, &s, t, a->opts.timeout_ms, err);
	if (rc < 0)
		return rc;
	rc = tcmalloc_get(a->tc, &s, "tcmalloc.pageheap_free_bytes", &r->predicted, err);
	if (!rc && !r->predicted)
		snprintf(r->refusal, sizeof(r->refusal), "the page heap holds no free span");
	if (!rc && r->predicted && !a->opts.dry_run) {
		r->rss_before = act_rss(a->pid);
		rc = tcmalloc_release_all(a->tc, &s, err);
		r->done = rc == 0;
	}
	rc = act_end(&s, rc, &r->cost, err);
	if (r->done)
		r->rss_after = act_rss(a->pid);
	return rc;
}

/* ---- set -------------------------------------------------------------------- */

static const char *property_of(enum act_setting s)
{
	return s == ACT_THREAD_CACHE ? "tcmalloc.max_total_thread_cache_bytes"
				     : "tcmalloc.aggressive_memory_decommit";
}

static int rate_io(struct actor *a, struct target *t, struct act_value *v, bool write,
		   struct error *err)
{
	uint64_t at = tcmalloc_release_rate_addr(a->tc);
	char path[64];
	int fd, rc = 0;

	if (!at)
		return error_set(err, -EOPNOTSUPP, "pid %d: this tcmalloc keeps no release rate "
				 "heapdoc can reach (gperftools' FLAGS_tcmalloc_release_rate)",
				 (int)a->pid);
	if (!write) {
		rc = target_read_exact(t, at, &v->d, sizeof(v->d), err);
		v->known = rc == 0;
		return rc;
	}
	/* One aligned 8-byte store, as SetMemoryReleaseRate makes. */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)a->pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, &v->d, sizeof(v->d), (off_t)at) != sizeof(v->d))
		rc = error_set(err, -errno, "pid %d: write the release rate: %m", (int)a->pid);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int property_io(struct actor *a, struct inject_session *s, struct act_change *c,
		       struct error *err)
{
	uint64_t v;
	int rc;

	rc = tcmalloc_get(a->tc, s, property_of(c->what), &v, err);
	c->old.known = rc == 0 && IS_SET(v);
	c->old.i = (int64_t)v;
	if (!rc)
		rc = tcmalloc_set(a->tc, s, property_of(c->what), (uint64_t)c->want.i, err);
	if (!rc)
		rc = tcmalloc_get(a->tc, s, property_of(c->what), &v, err);
	c->now.known = rc == 0 && IS_SET(v);
	c->now.i = (int64_t)v;
	return rc;
}

int tcmalloc_act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
		     struct act_cost *cost, struct error *err)
{
	struct inject_session s = { 0 };
	int rc = 0;

	/* The properties first: they need a safe moment, and when none comes
	 * nothing may have changed yet. */
	for (size_t i = 0; i < n && !rc; i++) {
		if (c[i].what == ACT_RELEASE_RATE)
			continue;
		if (!s.t && (rc = tcmalloc_session_begin(a->tc, &s, t, a->opts.timeout_ms, err)))
			return rc;
		rc = property_io(a, &s, &c[i], err);
	}
	if (s.t)
		rc = act_end(&s, rc, cost, err);
	for (size_t i = 0; i < n && !rc; i++) {
		if (c[i].what != ACT_RELEASE_RATE)
			continue;
		rc = rate_io(a, t, &c[i].old, false, err);
		if (!rc)
			rc = rate_io(a, t, &c[i].want, true, err);
		if (!rc)
			rc = rate_io(a, t, &c[i].now, false, err);
	}
	return rc;
}
