#include "observe/observe.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "observe/cgroup.h"
#include "observe/proc.h"
#include "observe/stacks.h"
#include "base/util.h"

/* MemTotal from <root>/proc/meminfo; UNSET when it cannot be read. */
static uint64_t read_mem_total(const char *root)
{
	char path[4096], line[256];
	uint64_t kib = UNSET;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	f = fopen(path, "re");
	if (!f)
		return UNSET;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
			break;
	fclose(f);
	return IS_SET(kib) ? kib * 1024 : UNSET;
}

/* No allocator view, and why: the judge then works on /proc evidence. */
__attribute__((format(printf, 2, 3)))
static void summary_unavailable(struct alloc_summary *sum, const char *fmt, ...)
{
	char why[sizeof(sum->why_invalid)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	alloc_summary_invalid(sum, "", why);
}

#define PF_EXITING 0x00000004	/* include/linux/sched.h */

/* A process that dies while heapdoc reads it looks like one whose
 * allocator cannot be read (its files and mappings vanish): tell the two
 * apart, so that a process gone mid-read is always "no such process". */
static int observe_still_alive(const struct observer *o, struct error *err)
{
	struct proc_stat st;
	pid_t pid = o->obs->pid;

	if (proc_read_stat(o->root, pid, &st, NULL) < 0 || st.state == 'Z' ||
	    st.state == 'X' || (st.flags & PF_EXITING))
		return error_set(err, -ESRCH, "pid %d exited while being read", (int)pid);
	return 0;
}

/* Past observe_begin's check the process was a live user process: a
 * zombie since then (a /proc file that comes back empty) means it exited
 * while being read, the same fact as a file that vanished, so the same
 * error (exit 3), whenever it happens. */
static int observe_gone(const struct observer *o, int ret, struct error *err)
{
	if (ret == -EOPNOTSUPP)
		return error_set(err, -ESRCH, "pid %d exited while being read", (int)o->obs->pid);
	return ret;
}

/* Errors that end the observation; the others cost only the figure that
 * failed.  The process gone, heapdoc interrupted, or the kernel refusing
 * heapdoc (another tracer took the process, a permission withdrawn)
 * mean the same in every command: the user learns it, with its code. */
static bool observe_fatal(int ret)
{
	return ret == -ESRCH || ret == -EINTR || ret == -EPERM || ret == -EACCES;
}

/* After an allocator read that failed without ending the observation: if
 * the target let go of the process (a stop that cannot finish detaches
 * it), the allocator is not read again, and the summary says why. */
static void read_failed(struct observer *o, const struct error *err)
{
	if (o->target.attached || !o->reader)
		return;
	o->backend->close(o->reader);
	o->reader = NULL;
	summary_unavailable(&o->obs->summary, "%s", err->msg);
}

/* The cgroup figures, or an unset set of them and the reason. */
static int observe_cgroup(struct observer *o, struct error *err)
{
	struct observation *obs = o->obs;
	int ret = cgroup_limits_for(o->root, obs->pid, obs->status.cpus_allowed, &obs->cgroup, err);

	ret = observe_gone(o, ret, err);
	if (ret == -ESRCH)
		return ret;
	if (ret < 0) {
		snprintf(obs->cgroup_why, sizeof(obs->cgroup_why), "%.200s", err->msg);
		cgroup_limits_unset(&obs->cgroup);
	}
	return 0;
}

/* Which allocator, and a reader for it when heapdoc has one. */
static int observe_allocator(struct observer *o, bool use_allocator, struct error *err)
{
	struct observation *obs = o->obs;
	struct maps maps = { 0 };
	const char *name;
	int ret;

	ret = proc_read_maps(o->root, obs->pid, &maps, err);
	if (!ret)
		ret = alloc_detect(o->root, obs->pid, &maps, &obs->alloc, err);
	maps_free(&maps);
	ret = observe_gone(o, ret, err);
	if (ret == -ESRCH)
		return ret;
	if (ret < 0) {
		obs->alloc.kind = ALLOC_UNKNOWN;
		summary_unavailable(&obs->summary, "allocator not detected: %s", err->msg);
		return 0;
	}
	name = alloc_kind_name(obs->alloc.kind);
	o->backend = alloc_backend_for(obs->alloc.kind);
	if (!use_allocator) {
		/* Only heapdoc's own process is observed without it. */
		summary_unavailable(&obs->summary, "heapdoc does not trace itself: "
				    "%s settings come from the environment", name);
		return 0;
	}
	if (!o->backend) {
		summary_unavailable(&obs->summary, "heapdoc cannot read %s's state", name);
		return 0;
	}
	/* Symbols and debug info load before anything is stopped. */
	ret = o->backend->open(&o->reader, obs->pid, &obs->alloc, err);
	if (ret == -ESRCH)
		return ret;
	/* Without the debug info or a symbol the allocator cannot be read;
	 * a process heapdoc may not trace is an answer for the user. */
	if (!ret)
		ret = target_attach(&o->target, obs->pid, err);
	if (observe_fatal(ret))
		return ret;
	if (ret < 0) {
		summary_unavailable(&obs->summary, "%s", err->msg);
		if (o->reader)
			o->backend->close(o->reader);
		o->reader = NULL;
	}
	return 0;
}

int observe_begin(struct observer *o, const char *root, pid_t pid, bool use_allocator,
		  struct observation *obs, struct error *err)
{
	int ret;

	memset(o, 0, sizeof(*o));
	memset(obs, 0, sizeof(*obs));
	o->root = root;
	o->obs = obs;
	o->traced = use_allocator;
	o->target.mem_fd = -1;
	obs->pid = pid;
	alloc_params_clear(&obs->params);
	obs->summary.valid = false;
	obs->latency.fault_rate = NAN;

	ret = proc_check_target(root, pid, err);
	if (!ret)
		ret = proc_read_status(root, pid, &obs->status, err);
	if (ret)
		return ret;
	snprintf(obs->comm, sizeof(obs->comm), "%s", obs->status.name);
	obs->machine_memory = read_mem_total(root);
	obs->host_cpus = (unsigned)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);

	/* The environment says which settings are in force; without it the
	 * advice still stands, only "current" is unknown. */
	ret = observe_gone(o, proc_read_environ(root, pid, &obs->env, err), err);
	if (ret == -ESRCH)
		return ret;
	ret = observe_cgroup(o, err);
	if (!ret)
		ret = observe_allocator(o, use_allocator, err);
	return ret;
}

/* The RSS split from smaps into *out; total UNSET when it cannot be read. */
static int observe_split(struct observer *o, struct rss_split *out, struct error *err)
{
	struct maps maps = { 0 };
	int ret = proc_read_smaps(o->root, o->obs->pid, &maps, err);

	if (!ret)
		maps_split_rss(&maps, out);
	maps_free(&maps);
	ret = observe_gone(o, ret, err);
	if (ret == -ESRCH)
		return ret;
	if (ret < 0)
		*out = (struct rss_split){ .total = UNSET };
	return 0;
}

void observe_start_time(struct observation *obs)
{
	struct timespec wall;

	if (obs->start_time)
		return;
	clock_gettime(CLOCK_REALTIME, &wall);
	obs->start_time = (double)wall.tv_sec + wall.tv_nsec / 1e9;
}

int observe_take(struct observer *o, struct sample *out, struct error *err)
{
	struct observation *obs = o->obs;
	struct proc_status st;
	struct proc_stat stat;
	struct sample s;
	uint64_t now = now_ns();
	int ret;

	if (target_interrupted())
		return error_set(err, -EINTR, "interrupted");
	if (!o->taken) {
		o->t0_ns = now;
		observe_start_time(obs);
	}
	ret = proc_read_status(o->root, obs->pid, &st, err);
	if (!ret)
		ret = proc_read_stat(o->root, obs->pid, &stat, err);
	/* The split at the start: with the one at the end it tells which kind
	 * of memory grew (step 2 of a window, not only of a moment). */
	if (!ret && !o->taken)
		ret = observe_split(o, &obs->split_first, err);
	if (ret)
		return observe_gone(o, ret, err);
	s = (struct sample){ .t = (double)(now - o->t0_ns) / 1e9, .rss = st.vm_rss,
			     .allocated = UNSET, .resident = UNSET,
			     .minflt = stat.minflt, .majflt = stat.majflt };
	if (o->reader) {
		ret = o->backend->sample(o->reader, &o->target, &s.allocated, &s.resident, err);
		if (observe_fatal(ret))
			return ret;
		/* One failed read (a lock held too long, say) costs one point,
		 * not the whole window. */
		if (ret < 0) {
			s.allocated = s.resident = UNSET;
			read_failed(o, err);
		}
		obs->samples_estimated += ret > 0;
	}
	*out = s;
	o->taken++;
	obs->status = st;
	return 0;
}

int observe_sample(struct observer *o, struct error *err)
{
	struct sample s;
	int ret = observe_take(o, &s, err);

	if (!ret)
		observation_add_sample(o->obs, &s);
	return ret;
}

void observe_stops(struct observer *o)
{
	struct observation *obs = o->obs;

	obs->pause_us = MAX(obs->pause_us, o->target.pause_us_max);
	obs->pause_total_us = o->target.pause_us_total;
	obs->stops = o->target.stops;
}

int observe_finish(struct observer *o, const struct alloc_read *how, struct error *err)
{
	struct observation *obs = o->obs;
	int ret;

	ret = observe_split(o, &obs->split, err);
	if (ret)
		return ret;
	if (o->reader) {
		ret = o->backend->read(o->reader, &o->target, how, &obs->summary, &obs->params,
				       err);
		if (observe_fatal(ret))
			return ret;
		if (ret < 0)
			summary_unavailable(&obs->summary, "%s", err->msg);
	}
	observe_stops(o);
	if (!obs->summary.valid && o->traced) {
		ret = observe_still_alive(o, err);
		if (ret)
			return ret;
	}
	return observe_gone(o, proc_read_status(o->root, obs->pid, &obs->status, err), err);
}

/* One round: every thread held, unwound into the tally, released. */
static int latency_round(struct observer *o, struct stacks *sampler, struct stack_tally *tally,
			 struct error *err)
{
	int ret = target_stop(&o->target, err), resumed;

	if (ret)
		return ret;
	ret = stacks_sample_all(sampler, tally, err);
	resumed = target_resume(&o->target, ret ? NULL : err);
	return ret ? ret : resumed;
}

int observe_latency(struct observer *o, unsigned rounds, struct error *err)
{
	struct latency *l = &o->obs->latency;
	static struct stack_tally tally;	/* 2 KiB of names */
	struct stacks *sampler = NULL;
	uint64_t start = now_ns(), budget = (uint64_t)(OBSERVE_LATENCY_MAX_S * 1e9);
	uint64_t gap = rounds ? budget / 2 / rounds : 0;
	int ret = 0;

	memset(&tally, 0, sizeof(tally));
	if (!o->target.attached)
		ret = target_attach(&o->target, o->obs->pid, err);
	/* Symbols load before anything is stopped. */
	if (!ret)
		ret = stacks_open(&sampler, &o->target, err);
	for (unsigned r = 0; !ret && r < rounds && now_ns() - start < budget; r++) {
		ret = latency_round(o, sampler, &tally, err);
		if (!ret && target_interrupted())
			ret = error_set(err, -EINTR, "interrupted");
		if (!ret && gap) {
			struct timespec ts = { gap / 1000000000ULL, gap % 1000000000ULL };

			nanosleep(&ts, NULL);
		}
	}
	if (sampler)
		stacks_close(sampler);
	l->samples = tally.samples;
	l->in_allocator = tally.allocator;
	l->in_mm_syscall = tally.allocator_vm;
	l->in_lock_wait = tally.allocator_lock;
	snprintf(l->top_frame, sizeof(l->top_frame), "%.127s", stack_tally_top(&tally));
	l->sampled = l->samples > 0;
	observe_stops(o);
	/* Stacks are extra evidence: without them the verdict still stands. */
	if (ret < 0 && ret != -ESRCH && ret != -EINTR) {
		snprintf(l->why_not, sizeof(l->why_not), "%.150s", err->msg);
		ret = 0;
	}
	return ret;
}

void observe_end(struct observer *o)
{
	if (o->reader)
		o->backend->close(o->reader);
	o->reader = NULL;
	target_detach(&o->target);
}

void observe_let_go(struct observer *o)
{
	target_detach(&o->target);
}

void observe_lighten(struct observer *o)
{
	if (o->reader && o->backend->lighten)
		o->backend->lighten(o->reader);
}

int observe_take_back(struct observer *o, struct error *err)
{
	if (!o->reader || o->target.attached)
		return 0;
	return target_attach(&o->target, o->obs->pid, err);
}
