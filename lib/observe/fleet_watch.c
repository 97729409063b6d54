/* One round of the exporter on one process (fleet.h says what a round
 * reads and why it lets the process go after each). */
#include "observe/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/util.h"
#include "model/alloc_detail.h"
#include "model/jemalloc.h"
#include "observe/cgroup.h"
#include "observe/proc.h"

/* A view that could not be had for a reason that lasts (no debug info, an
 * allocator heapdoc cannot read) is looked for again this often: loading
 * symbols is the dearest thing a round does. */
#define FLEET_REOPEN_S	300
/* One that may pass (another tracer, a permission) is tried sooner. */
#define FLEET_RETRY_S	60

void fleet_watch_init(struct fleet_watch *w, pid_t pid, uint64_t starttime)
{
	memset(w, 0, sizeof(*w));
	w->t.pid = pid;
	w->t.starttime = starttime;
	w->t.obs = &w->obs;
	for (size_t k = 0; k < FLEET_NFREE; k++)
		w->t.free[k] = UNSET;
	w->obs.pid = pid;
	w->obs.summary.valid = false;
	cgroup_limits_unset(&w->obs.cgroup);
	w->o.target.mem_fd = -1;
	w->t0_ns = now_ns();
}

static void count_error(struct fleet_watch *w, enum fleet_error why, const char *msg)
{
	w->t.read_errors[why]++;
	if (msg && msg[0])
		snprintf(w->t.last_error[why], sizeof(w->t.last_error[why]), "%.159s", msg);
}

/* A refusal to attach or read: another tracer, or heapdoc's rights. */
static enum fleet_error refusal(const struct fleet_watch *w)
{
	pid_t tracer;

	if (!proc_read_tracer("", w->t.pid, &tracer, NULL) && tracer > 0 && tracer != getpid())
		return FLEET_ERR_TRACED;
	return FLEET_ERR_PERMISSION;
}

static void on_pause(void *arg, uint64_t us)
{
	struct fleet_watch *w = arg;

	fleet_pauses_add(&w->t.pauses, us);
	fleet_hour_add(&w->t.hour, w->now, us);
}

static void hook_pauses(struct fleet_watch *w)
{
	w->o.target.on_pause = on_pause;
	w->o.target.on_pause_arg = w;
}

/* Lets the process go until the next round.  That stops it once more: a
 * seized thread can only be detached from a ptrace stop, so each running
 * one is interrupted and released as it stops (target_detach).  No thread
 * is held longer than the call: counted as a stop of that length. */
static void let_go(struct fleet_watch *w)
{
	bool running = w->o.target.attached && !w->o.target.stopped;
	uint64_t t0 = now_ns();

	observe_let_go(&w->o);
	if (running)
		on_pause(w, (now_ns() - t0) / 1000);
}

/* ---- opening: observe_begin, kept samples and all ----------------------- */

/* Why a begun watch has no allocator view, as far as begin could tell. */
static enum fleet_error why_no_view(const struct fleet_watch *w)
{
	return w->o.backend ? FLEET_ERR_NO_DEBUG_INFO : FLEET_ERR_UNSUPPORTED;
}

/* observe_begin, keeping the window seen so far (it starts obs afresh). */
static int watch_open(struct fleet_watch *w, const struct fleet_policy *p, struct error *err)
{
	size_t n = w->obs.nsamples;
	struct sample *keep = n ? malloc(n * sizeof(*keep)) : NULL;
	int ret;

	if (n && !keep)
		return error_set(err, -ENOMEM, "out of memory");
	if (n)
		memcpy(keep, w->obs.samples, n * sizeof(*keep));
	if (w->begun)
		observe_end(&w->o);
	observation_release(&w->obs);
	w->begun = w->proc_only = false;
	ret = observe_begin(&w->o, "", w->t.pid, true, &w->obs, err);
	if (ret) {
		/* What begin found before it was refused still names it. */
		struct alloc_id alloc = w->obs.alloc;

		observe_end(&w->o);
		observation_release(&w->obs);
		memset(&w->obs, 0, sizeof(w->obs));
		w->obs.alloc = alloc;
		w->obs.pid = w->t.pid;
		w->obs.summary.valid = false;
		cgroup_limits_unset(&w->obs.cgroup);
	}
	for (size_t i = 0; i < n; i++)
		observation_add_sample(&w->obs, &keep[i]);
	free(keep);
	w->obs.window_s = p->window_s;
	w->obs.interval_s = p->interval_s;
	if (!ret) {
		w->begun = true;
		observe_lighten(&w->o);
		hook_pauses(w);
		w->full_at = p->now;
		w->why = why_no_view(w);
		w->retry_at = p->now + FLEET_REOPEN_S;
		return 0;
	}
	if (ret == -ESRCH || ret == -EOPNOTSUPP)
		return -ESRCH;		/* gone, or a zombie now */
	if (ret == -EINTR)
		return ret;
	/* Refused, or anything else: /proc alone, and the allocator later. */
	w->proc_only = true;
	w->why = ret == -EPERM || ret == -EACCES ? refusal(w) : FLEET_ERR_OTHER;
	w->retry_at = p->now + FLEET_RETRY_S;
	snprintf(w->t.last_error[w->why], sizeof(w->t.last_error[w->why]), "%.159s",
		 err->msg);
	return 0;
}

/* ---- a round ------------------------------------------------------------ */

/* RSS and faults from /proc alone, for a process whose allocator is not
 * read this round. */
static int proc_sample(struct fleet_watch *w, struct sample *s, struct error *err)
{
	struct proc_status st;
	struct proc_stat stat;
	int ret = proc_read_status("", w->t.pid, &st, err);

	if (!ret)
		ret = proc_read_stat("", w->t.pid, &stat, err);
	if (ret == -EOPNOTSUPP || (!ret && (st.state == 'Z' || st.state == 'X')))
		return -ESRCH;
	if (ret)
		return ret;
	*s = (struct sample){ .rss = st.vm_rss, .allocated = UNSET, .resident = UNSET,
			      .minflt = stat.minflt, .majflt = stat.majflt };
	w->obs.status = st;
	if (!w->obs.comm[0])
		snprintf(w->obs.comm, sizeof(w->obs.comm), "%s", st.name);
	return 0;
}

static void read_cgroup(struct fleet_watch *w)
{
	struct observation *obs = &w->obs;

	if (cgroup_limits_for("", w->t.pid, obs->status.cpus_allowed, &obs->cgroup, NULL) < 0)
		cgroup_limits_unset(&obs->cgroup);
	snprintf(w->t.cgroup, sizeof(w->t.cgroup), "%s", obs->cgroup.version ?
		 obs->cgroup.path : "");
	fleet_unit_of(w->t.cgroup, w->t.unit, sizeof(w->t.unit));
}

/* The free bytes by kind, from the summary (and jemalloc's own split). */
static void free_by_kind(struct fleet_watch *w, const struct alloc_detail *d)
{
	const struct alloc_summary *sum = &w->obs.summary;
	uint64_t *f = w->t.free;

	for (size_t k = 0; k < FLEET_NFREE; k++)
		f[k] = UNSET;
	if (!sum->valid)
		return;
	switch (w->obs.alloc.kind) {
	case ALLOC_GLIBC:
		f[FLEET_FREE_BETWEEN_LIVE] = sum->free_interleaved;
		f[FLEET_FREE_TOP] = sum->free_releasable;
		break;
	case ALLOC_JEMALLOC:
		f[FLEET_FREE_BETWEEN_LIVE] = sum->free_interleaved;
		f[FLEET_FREE_DIRTY] = d->jemalloc ? d->jemalloc->dirty : UNSET;
		f[FLEET_FREE_MUZZY] = d->jemalloc ? d->jemalloc->muzzy : UNSET;
		break;
	case ALLOC_TCMALLOC:
		f[FLEET_FREE_CACHE] = sum->free_interleaved;
		f[FLEET_FREE_PAGEHEAP] = sum->free_releasable;
		break;
	default:
		f[FLEET_FREE_BETWEEN_LIVE] = sum->free_interleaved;
		break;
	}
}

/* The full read, when due: the summary, the settings, the RSS split. */
static int full_read(struct fleet_watch *w, const struct fleet_policy *p, struct error *err)
{
	struct alloc_detail detail = { 0 };
	struct alloc_read how = { .detail = &detail };
	bool jemalloc = w->obs.alloc.kind == ALLOC_JEMALLOC;
	int ret = observe_finish(&w->o, jemalloc ? &how : NULL, err);

	if (!ret)
		free_by_kind(w, &detail);
	alloc_detail_free(&detail);
	w->full_at = p->now + p->full_every_s;
	return ret;
}

/* This round's sample: its allocator error, if any (one per sample).
 * why: what the sample's read said when it failed ("" when nothing). */
static void judge_read(struct fleet_watch *w, const struct sample *s, const char *why)
{
	const struct alloc_summary *sum = &w->obs.summary;

	w->t.view = IS_SET(s->allocated);
	if (w->t.view && !sum->corrupt) {
		w->t.last_success = w->now;
		return;
	}
	if (sum->corrupt)
		count_error(w, FLEET_ERR_CORRUPT, "the heap walk found inconsistent state");
	else if (!w->o.reader)
		count_error(w, w->why, sum->why_invalid);
	else if (!sum->valid && !strcmp(sum->source, "proc"))
		count_error(w, FLEET_ERR_NO_DEBUG_INFO, sum->why_invalid);
	else
		count_error(w, FLEET_ERR_BUSY, why[0] ? why : sum->valid ? "the allocator could "
			    "not be read this round" : sum->why_invalid);
}

/* A round of a watch that observe_begin opened. */
static int observed_round(struct fleet_watch *w, const struct fleet_policy *p, struct sample *s,
			  struct error *err)
{
	char why[sizeof(err->msg)] = "";
	int ret = observe_take_back(&w->o, err);

	if (ret == -EPERM || ret == -EACCES) {
		/* Someone else traces it right now: /proc this round. */
		count_error(w, refusal(w), err->msg);
		w->t.view = false;
		return proc_sample(w, s, err);
	}
	if (!ret) {
		hook_pauses(w);
		err->msg[0] = '\0';	/* a failed sample read says why here, and goes on */
		ret = observe_take(&w->o, s, err);
		snprintf(why, sizeof(why), "%s", ret ? "" : err->msg);
	}
	if (!ret && w->o.reader && p->now >= w->full_at) {
		ret = full_read(w, p, err);
		/* A full read that fails costs its own figures (free bytes by
		 * kind stay as last read), not the round's sample. */
		if (ret < 0 && ret != -ESRCH && ret != -EINTR && ret != -ENOMEM &&
		    ret != -EPERM && ret != -EACCES) {
			count_error(w, FLEET_ERR_OTHER, err->msg);
			ret = 0;
		}
	}
	let_go(w);
	observe_lighten(&w->o);
	if (ret == -EPERM || ret == -EACCES) {
		count_error(w, refusal(w), err->msg);
		w->t.view = false;
		return proc_sample(w, s, err);
	}
	if (!ret)
		judge_read(w, s, why);
	return ret;
}

int fleet_watch_round(struct fleet_watch *w, const struct fleet_policy *p, struct error *err)
{
	struct sample s;
	int ret = 0;

	w->now = p->now;
	if ((!w->begun || !w->o.reader) && p->now >= w->retry_at)
		ret = watch_open(w, p, err);
	if (ret)
		return ret;
	if (w->proc_only) {
		ret = proc_sample(w, &s, err);
		if (!ret) {
			w->t.view = false;
			count_error(w, w->why, NULL);
		}
	} else {
		ret = observed_round(w, p, &s, err);
	}
	if (ret == -EOPNOTSUPP)
		ret = -ESRCH;
	if (ret == -ESRCH || ret == -EINTR || ret == -ENOMEM)
		return ret;
	if (ret) {
		/* A /proc file that would not parse, say: this round only. */
		count_error(w, FLEET_ERR_OTHER, err->msg);
		w->t.view = false;
		return 0;
	}
	s.t = (double)(now_ns() - w->t0_ns) / 1e9;
	observation_add_sample(&w->obs, &s);
	fleet_window_trim(&w->obs, p->window_s);
	read_cgroup(w);
	return 0;
}

void fleet_watch_end(struct fleet_watch *w)
{
	if (w->begun)
		observe_end(&w->o);
	w->begun = false;
	observation_release(&w->obs);
}
