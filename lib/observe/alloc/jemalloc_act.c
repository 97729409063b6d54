/* jemalloc's half of heapdoc release and set, through mallctl.
 *
 * release: arena.<i>.purge (i = 4096: every arena), which returns dirty and
 * muzzy pages alike; predicted from stats.arenas.<i>.pdirty + pmuzzy after
 * an epoch write, in the same session.
 * set: a decay time is per arena: arena.<i>.<name> on every arena that
 * exists (EFAULT: one no thread ever used, skipped), then arenas.<name> for
 * those made later; read back from arena 0.  background_thread is one
 * switch (writing true starts the threads, inside the target).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "base/util.h"
#include "observe/act_impl.h"
#include "observe/alloc/jemalloc.h"

#define ALL_ARENAS 4096

static int mallctl_error(struct jemalloc_ctl *c, int rc, const char *name)
{
	if (rc <= 0)
		return rc;
	return error_set(c->err, rc == ENOENT ? -EOPNOTSUPP : -rc, "pid %d: mallctl(\"%s\"): %s",
			 c->r ? (int)c->s.t->pid : 0, name, strerror(rc));
}

static int read_size(struct jemalloc_ctl *c, const char *name, uint64_t *v)
{
	size_t x = 0;
	int rc = jemalloc_mallctl(c, name, &x, sizeof(x), NULL, 0);

	*v = x;
	return mallctl_error(c, rc, name);
}

static int predict(struct jemalloc_ctl *c, int arena, uint64_t *bytes)
{
	uint64_t one = 1, page = 0, dirty = 0, muzzy = 0;
	char name[64];
	int rc;

	rc = mallctl_error(c, jemalloc_mallctl(c, "epoch", NULL, 0, &one, sizeof(one)), "epoch");
	if (!rc)
		rc = read_size(c, "arenas.page", &page);
	snprintf(name, sizeof(name), "stats.arenas.%d.pdirty", arena);
	if (!rc)
		rc = read_size(c, name, &dirty);
	snprintf(name, sizeof(name), "stats.arenas.%d.pmuzzy", arena);
	if (!rc)
		rc = read_size(c, name, &muzzy);
	if (rc == -EFAULT || (rc == -EOPNOTSUPP && arena != ALL_ARENAS))
		rc = error_set(c->err, -EINVAL, "pid %d: jemalloc has no arena %d",
			       (int)c->s.t->pid, arena);
	*bytes = rc ? UNSET : (dirty + muzzy) * page;
	return rc;
}

int jemalloc_act_release(struct actor *a, struct target *t, struct act_release *r,
			 struct error *err)
{
	int arena = a->opts.arena >= 0 ? a->opts.arena : ALL_ARENAS;
	struct jemalloc_ctl c;
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "arena.%d.purge", arena);
	snprintf(r->call, sizeof(r->call), "mallctl(\"%s\")", name);
	snprintf(r->basis, sizeof(r->basis), "dirty and muzzy pages of %s",
		 arena == ALL_ARENAS ? "every arena" : "that arena");
	rc = jemalloc_ctl_begin(&c, a->je, t, a->opts.timeout_ms, err);
	if (rc < 0)
		return rc;
	rc = predict(&c, arena, &r->predicted);
	if (!rc && !r->predicted)
		snprintf(r->refusal, sizeof(r->refusal), "jemalloc holds no dirty or muzzy page");
	if (!rc && r->predicted && !a->opts.dry_run) {
		r->rss_before = act_rss(a->pid);
		rc = mallctl_error(&c, jemalloc_mallctl(&c, name, NULL, 0, NULL, 0), name);
		r->done = rc == 0;
	}
	rc = act_end(&c.s, rc, &r->cost, err);
	if (r->done)
		r->rss_after = act_rss(a->pid);
	return rc;
}

/* ---- set -------------------------------------------------------------------- */

static const char *decay_name(enum act_setting s)
{
	return s == ACT_DIRTY_DECAY_MS ? "dirty_decay_ms" : "muzzy_decay_ms";
}

static int read_decay(struct jemalloc_ctl *c, enum act_setting s, struct act_value *v)
{
	char name[64];
	ssize_t ms = 0;
	int rc;

	snprintf(name, sizeof(name), "arena.0.%s", decay_name(s));
	rc = jemalloc_mallctl(c, name, &ms, sizeof(ms), NULL, 0);
	if (rc == EFAULT) {	/* arena 0 not in use: the default for new ones */
		snprintf(name, sizeof(name), "arenas.%s", decay_name(s));
		rc = jemalloc_mallctl(c, name, &ms, sizeof(ms), NULL, 0);
	}
	v->known = rc == 0;
	v->i = ms;
	return mallctl_error(c, rc, name);
}

static int write_decay(struct jemalloc_ctl *c, struct act_change *ch)
{
	ssize_t ms = (ssize_t)ch->want.i;
	unsigned narenas = 0;
	char name[64];
	int rc;

	rc = jemalloc_mallctl(c, "arenas.narenas", &narenas, sizeof(narenas), NULL, 0);
	if (rc)
		return mallctl_error(c, rc, "arenas.narenas");
	for (unsigned i = 0; i < narenas; i++) {
		snprintf(name, sizeof(name), "arena.%u.%s", i, decay_name(ch->what));
		rc = jemalloc_mallctl(c, name, NULL, 0, &ms, sizeof(ms));
		if (rc == EFAULT)
			continue;	/* never initialized: it takes arenas.* */
		if (rc)
			return mallctl_error(c, rc, name);
		ch->arenas++;
	}
	snprintf(name, sizeof(name), "arenas.%s", decay_name(ch->what));
	return mallctl_error(c, jemalloc_mallctl(c, name, NULL, 0, &ms, sizeof(ms)), name);
}

static int read_bool(struct jemalloc_ctl *c, const char *name, struct act_value *v)
{
	bool b = false;
	int rc = jemalloc_mallctl(c, name, &b, sizeof(b), NULL, 0);

	v->known = rc == 0;
	v->i = b;
	return mallctl_error(c, rc, name);
}

static int one_change(struct jemalloc_ctl *c, struct act_change *ch)
{
	bool b = ch->want.i != 0;
	int rc;

	if (ch->what == ACT_BACKGROUND_THREAD) {
		rc = read_bool(c, "background_thread", &ch->old);
		if (!rc)
			rc = mallctl_error(c, jemalloc_mallctl(c, "background_thread", NULL, 0,
							       &b, sizeof(b)), "background_thread");
		return rc ? rc : read_bool(c, "background_thread", &ch->now);
	}
	rc = read_decay(c, ch->what, &ch->old);
	if (!rc)
		rc = write_decay(c, ch);
	return rc ? rc : read_decay(c, ch->what, &ch->now);
}

int jemalloc_act_set(struct actor *a, struct target *t, struct act_change *ch, size_t n,
		     struct act_cost *cost, struct error *err)
{
	struct jemalloc_ctl c;
	int rc;

	rc = jemalloc_ctl_begin(&c, a->je, t, a->opts.timeout_ms, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = one_change(&c, &ch[i]);
	return act_end(&c.s, rc, cost, err);
}
