/* Watching a live process over a window (watch.h). */
#include "watch.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/human.h"
#include "base/util.h"
#include "judge/triage.h"
#include "model/recording.h"
#include "model/thin.h"
#include "observe/agent/agent_profile.h"
#include "observe/cgroup.h"
#include "observe/observe.h"

struct watch {
	const struct watch_opts *o;
	struct observation *obs;
	struct watch_result *res;
	struct observer ob;
	struct proc_exit_watch ew;
	struct thin thin;
	struct verdict *v;		/* --duration auto: the judge so far */
	uint64_t start_ns, end_ns;	/* the first sample, the end of the window */
	double next_state_s;
	bool tty;
};

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = deadline_ns / 1000000000ULL,
			       .tv_nsec = deadline_ns % 1000000000ULL };

	/* A signal cuts the sleep short; the caller checks for it. */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Sleeps until deadline; with sites being sampled (triage --sites), reads
 * them meanwhile, every AGENT_POLL_MS, so the library's ring does not
 * fill. */
static void wait_polling(uint64_t deadline_ns, struct agent_profile *ap)
{
	const uint64_t poll_ns = AGENT_POLL_MS * 1000000ULL;

	while (ap && ap->loaded && !target_interrupted() && now_ns() + poll_ns < deadline_ns) {
		sleep_until(now_ns() + poll_ns);
		if (agent_profile_poll(ap, NULL) < 0)
			break;
	}
	sleep_until(deadline_ns);
}

static double elapsed(const struct watch *w)
{
	return (double)(now_ns() - w->start_ns) / 1e9;
}

static void progress(struct watch *w)
{
	const struct observation *obs = w->obs;
	const struct sample *s = obs->nsamples ? &obs->samples[obs->nsamples - 1] : NULL;
	char rss[32], alloc[32], el[24], limit[32] = "", more[192] = "";

	if (!w->tty || !s)
		return;
	human_seconds(el, sizeof(el), elapsed(w));
	if (w->o->auto_stop && w->v && w->v->watch_s)
		snprintf(more, sizeof(more), "  (%.90s)", w->v->watch_why);
	if (w->o->duration_s && !w->o->auto_stop)
		snprintf(limit, sizeof(limit), " of %.0f s", w->o->duration_s);
	fprintf(stderr, "\r\033[Kheapdoc: %s pid %d%s%s  %s%s  RSS %s  allocated %s%s",
		w->o->verb, (int)obs->pid, w->o->recording_name ? " to " : "",
		w->o->recording_name ? w->o->recording_name : "", el, limit,
		human_bytes(rss, sizeof(rss), s->rss), human_bytes(alloc, sizeof(alloc), s->allocated),
		more);
}

static int write_sample(struct watch *w, const struct sample *s, struct error *err)
{
	const struct rss_split *split = !w->res->lines && IS_SET(w->obs->split_first.total) ?
					&w->obs->split_first : NULL;
	int ret;

	observation_add_sample(w->obs, s);
	if (!w->o->recording)
		return 0;
	ret = recording_write_sample(w->o->recording, s, split, err);
	w->res->lines += ret == 0;
	return ret;
}

/* A sample goes through the thinning: kept now, or later with its bucket.
 * Only what is kept enters the observation, as only that enters the
 * recording: read back, the recording is the same series. */
static int keep_sample(struct watch *w, const struct sample *s, struct error *err)
{
	struct sample out[3];
	size_t n = thin_offer(&w->thin, s, out);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = write_sample(w, &out[i], err);
	return ret;
}

static int flush_samples(struct watch *w, struct error *err)
{
	struct sample out[2];
	size_t n = thin_flush(&w->thin, out);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = write_sample(w, &out[i], err);
	return ret;
}

/* The allocator's full read, and its state line. */
static int full_read(struct watch *w, struct error *err)
{
	int ret = observe_finish(&w->ob, NULL, err);

	if (!ret && w->o->recording)
		ret = recording_write_state(w->o->recording, w->obs, err);
	return ret;
}

/* Whether the window is over (complete); the caller handles the rest. */
static bool window_over(struct watch *w, double t)
{
	const struct watch_opts *o = w->o;

	if (o->once)
		return true;
	if (o->duration_s && t >= o->duration_s - o->interval_s / 100)
		return true;
	if (!o->auto_stop || t < o->auto_min_s - o->interval_s / 100)
		return false;
	judge_triage(w->obs, w->v);
	return w->v->watch_s == 0;
}

/* Classifies a sample's failure: the end of the window, or an error. */
static int sample_end(struct watch *w, int ret)
{
	if (ret == -EINTR || target_interrupted()) {
		w->res->end = WATCH_INTERRUPTED;
		return 1;
	}
	if (ret == -ESRCH) {
		w->res->end = WATCH_GONE;
		return 1;
	}
	return ret;
}

static int watch_loop(struct watch *w, struct error *err)
{
	const struct watch_opts *o = w->o;
	uint64_t step = (uint64_t)(o->interval_s * 1e9);
	int ret = 0;

	for (uint64_t i = 0;; i++) {
		struct sample s;

		if (i)
			wait_polling(w->start_ns + i * step, o->sites);
		if (target_interrupted())
			return sample_end(w, -EINTR);
		ret = observe_take(&w->ob, &s, err);
		if (ret)
			return sample_end(w, ret);
		if (i == 0)
			w->start_ns = w->ob.t0_ns;
		proc_exit_watch_poll(&w->ew);
		ret = keep_sample(w, &s, err);
		if (ret)
			return ret;
		if (o->state_every_s && elapsed(w) >= w->next_state_s) {
			ret = full_read(w, err);
			if (ret)
				return sample_end(w, ret);
			w->next_state_s += o->state_every_s;
		}
		if (window_over(w, elapsed(w)))
			return 0;
		progress(w);
	}
}

/* The end line, for people: how and after how long. */
static void describe_end(struct watch *w)
{
	struct watch_result *r = w->res;
	const struct proc_end *e = &r->exit;
	char after[32], sig[24];
	bool oom = IS_SET(r->oom_before) && IS_SET(r->oom_after) && r->oom_after > r->oom_before;

	human_seconds(after, sizeof(after), r->elapsed_s);
	snprintf(sig, sizeof(sig), "SIG%s", sigabbrev_np(e->code) ? sigabbrev_np(e->code) : "?");
	if (r->end == WATCH_COMPLETE)
		snprintf(r->how, sizeof(r->how), "complete");
	else if (r->end == WATCH_INTERRUPTED)
		snprintf(r->how, sizeof(r->how), "interrupted by SIG%s after %s",
			 sigabbrev_np(r->signal) ? sigabbrev_np(r->signal) : "?", after);
	else if (oom && (!e->known || (e->signaled && e->code == SIGKILL)))
		snprintf(r->how, sizeof(r->how), "the process was killed by the OOM killer after "
			 "%s (the cgroup's oom_kill count went from %llu to %llu)", after,
			 (unsigned long long)r->oom_before, (unsigned long long)r->oom_after);
	else if (e->known && e->signaled)
		snprintf(r->how, sizeof(r->how), "the process was killed by %s after %s%s", sig,
			 after, e->core ? " (core dumped)" : "");
	else if (e->known)
		snprintf(r->how, sizeof(r->how), "the process exited with status %d after %s",
			 e->code, after);
	else
		snprintf(r->how, sizeof(r->how), "the process ended after %s (how is not known: "
			 "its parent reaped it first)", after);
}

/* After the window: the last bucket, the full read when the process is
 * still there to read, the target released, how it ended. */
static int watch_finish(struct watch *w, struct error *err)
{
	struct watch_result *r = w->res;
	int ret = flush_samples(w, err);

	r->elapsed_s = w->ob.taken ? (double)(w->end_ns - w->start_ns) / 1e9 : 0;
	if (!ret && r->end == WATCH_COMPLETE) {
		ret = full_read(w, err);
		if (!ret && (w->o->latency || judge_wants_latency(w->obs)))
			ret = observe_latency(&w->ob, OBSERVE_LATENCY_ROUNDS, err);
		if (!ret && w->o->recording &&
		    (w->obs->latency.sampled || w->obs->latency.why_not[0]))
			ret = recording_write_latency(w->o->recording, &w->obs->latency, err);
		/* Gone or interrupted during the last reads: what was seen stands. */
		if (ret == -EINTR || ret == -ESRCH) {
			sample_end(w, ret);
			ret = 0;
		}
	}
	observe_stops(&w->ob);
	observe_end(&w->ob);		/* the target is released before anything else */
	if (r->end == WATCH_INTERRUPTED)
		r->signal = target_interrupt_signal();
	if (r->end == WATCH_GONE) {
		proc_exit_watch_result(&w->ew, "", &r->exit);
		r->oom_after = cgroup_oom_kills(&w->obs->cgroup);
	}
	describe_end(w);
	if (!ret && w->o->recording)
		ret = recording_write_end(w->o->recording, r->how, err);
	return ret;
}

int watch_run(const struct watch_opts *o, struct observation *obs, struct watch_result *res,
	      struct error *err)
{
	struct watch w = { .o = o, .obs = obs, .res = res, .tty = isatty(2),
			   .start_ns = now_ns(), .next_state_s = 0 };
	int ret;

	memset(res, 0, sizeof(*res));
	res->oom_before = res->oom_after = UNSET;
	w.ew.fd = -1;
	target_guard_enter();
	if (o->auto_stop && !(w.v = malloc(sizeof(*w.v)))) {
		ret = error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = observe_begin(&w.ob, "", o->pid, true, obs, err);
	if (ret)
		goto out;
	/* The window asked for: none for one snapshot, or for a window that
	 * ends when the judge can decide (--duration auto). */
	obs->window_s = o->once || o->auto_stop ? 0 : o->duration_s;
	obs->interval_s = o->once ? 0 : o->interval_s;
	thin_init(&w.thin, o->interval_s);
	proc_exit_watch_open(&w.ew, o->pid);
	res->oom_before = cgroup_oom_kills(&obs->cgroup);
	observe_start_time(obs);
	if (o->recording)
		ret = recording_write_header(o->recording, obs, err);
	if (!ret)
		ret = watch_loop(&w, err);
	w.end_ns = now_ns();
	if (ret >= 0)
		ret = watch_finish(&w, err);
out:
	if (w.tty)
		fprintf(stderr, "\r\033[K");
	observe_end(&w.ob);
	proc_exit_watch_close(&w.ew);
	target_guard_leave();
	free(w.v);
	return ret;
}
