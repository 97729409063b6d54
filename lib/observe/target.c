/* Holding a live process still, briefly and safely (see target.h).
 *
 * Threads are in one of three states:
 *
 *	free	not traced by heapdoc: runs exactly as it would without us
 *	traced	seized, running (right after target_attach, or the thread an
 *		injected call runs on)
 *	held	seized and in a ptrace stop we are responsible for
 *
 * target_stop() seizes whatever is free and interrupts everything; while
 * waiting it records what each thread stopped in (our interrupt, a
 * signal-delivery-stop, a group-stop).  target_resume() *detaches* every
 * held thread instead of PTRACE_CONTing it.  That is deliberate:
 *
 *  - a traced thread that gets a signal, or calls clone() under
 *    PTRACE_O_TRACECLONE, stops and waits for its tracer.  heapdoc spends
 *    time between stops (symbols, walking a snapshot); a free thread is never
 *    parked behind that work;
 *  - a detach clears the interrupt we left pending on a thread;
 *  - after a detach the kernel puts a thread back into a group-stop that is
 *    in effect, so a SIGSTOP someone sent while we held the process wins.
 *
 * Without PTRACE_O_TRACECLONE a thread created while we interrupt the others
 * is not traced; after every thread we know of is held we list
 * /proc/<pid>/task again, seize and interrupt the newcomers, and repeat
 * until a pass finds none.  Held threads create nothing, so that ends.
 *
 * Waiting: every wait is on our own tids (never waitpid(-1): the caller may
 * have children of its own), woken by SIGCHLD, which the kernel sends the
 * tracer for every ptrace stop and tracee exit; it is blocked while we wait
 * and taken with sigtimedwait() so waits have deadlines.  Every ptrace call
 * must come from the thread that attached (the kernel's rule).
 */
#include "observe/target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/proc.h"
#include "observe/target_int.h"

#define PF_KTHREAD		0x00200000	/* include/linux/sched.h */
#define DETACH_TIMEOUT_MS	1000
#define MAX_RESCANS		64

/* ---- the signal guard ----------------------------------------------------
 * While a target is attached, SIGINT/SIGTERM/SIGHUP only set a flag: no
 * SA_RESTART, so a blocking call returns EINTR, every wait loop turns that
 * into -EINTR, and the caller's cleanup path detaches before heapdoc exits.
 * The flag stays set after the guard is removed so the caller can still ask
 * which signal it was. */

static const int guard_signals[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction guard_saved[ARRAY_SIZE(guard_signals)];
static volatile sig_atomic_t guard_caught;
static unsigned guard_users;

static void guard_handler(int sig)
{
	if (!guard_caught)
		guard_caught = sig;
}

static void guard_install(void)
{
	struct sigaction sa = { .sa_handler = guard_handler };

	if (guard_users++)
		return;
	guard_caught = 0;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(guard_signals); i++)
		sigaction(guard_signals[i], &sa, &guard_saved[i]);
}

static void guard_remove(void)
{
	if (!guard_users || --guard_users)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(guard_signals); i++)
		sigaction(guard_signals[i], &guard_saved[i], NULL);
}

void target_guard_enter(void)
{
	guard_install();
}

void target_guard_leave(void)
{
	guard_remove();
}

bool target_interrupted(void)
{
	return guard_caught != 0;
}

int target_interrupt_signal(void)
{
	return guard_caught;
}

/* ---- the thread table ---------------------------------------------------- */

static int index_cmp(const void *a, const void *b)
{
	const struct target_index *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

struct target_thread *target_thread_find(struct target *t, pid_t tid)
{
	struct target_index key = { .tid = tid }, *hit;

	if (!t->nthreads)	/* qsort, bsearch want an array, even an empty one (UBSan) */
		return NULL;
	if (t->index_dirty) {
		for (size_t i = 0; i < t->nthreads; i++)
			t->index[i] = (struct target_index){ t->threads[i].tid, (uint32_t)i };
		qsort(t->index, t->nthreads, sizeof(*t->index), index_cmp);
		t->index_dirty = false;
	}
	hit = bsearch(&key, t->index, t->nthreads, sizeof(*t->index), index_cmp);
	return hit ? &t->threads[hit->slot] : NULL;
}

static int grow(struct target *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 16;
	struct target_thread *p = realloc(t->threads, ncap * sizeof(*p));
	struct target_index *q;

	if (!p)
		return -ENOMEM;
	t->threads = p;
	q = realloc(t->index, ncap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	t->index = q;
	t->cap = ncap;
	return 0;
}

struct target_thread *target_thread_add(struct target *t, pid_t tid)
{
	struct target_thread *th;
	size_t n = t->nthreads;

	if (n == t->cap && grow(t) < 0)
		return NULL;
	th = &t->threads[n];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	/* /proc/<pid>/task lists tids in ascending order: the index stays
	 * sorted by appending. */
	if (!t->index_dirty && (!n || t->index[n - 1].tid < tid))
		t->index[n] = (struct target_index){ tid, (uint32_t)n };
	else
		t->index_dirty = true;
	t->nthreads++;
	return th;
}

void target_thread_drop(struct target *t, struct target_thread *th)
{
	*th = t->threads[--t->nthreads];
	t->index_dirty = true;
}

/* ---- attach, stop, resume, detach ------------------------------------------ */

static int check_process(pid_t pid, struct error *err)
{
	unsigned long flags = 0;
	struct proc_status st;
	char state;

	if (pid <= 0)
		return error_set(err, -ESRCH, "pid %d: no such process", pid);
	if (pid == getpid())
		return error_set(err, -EPERM, "pid %d: heapdoc cannot examine itself", pid);
	state = target_task_state(pid, pid, &flags);
	if (!state)
		return error_set(err, -ESRCH, "pid %d: no such process", pid);
	/* One code per fact, as proc_check_target says them. */
	if (flags & PF_KTHREAD)
		return error_set(err, -EOPNOTSUPP, "pid %d is a kernel thread: it has no "
				 "user memory", pid);
	if (proc_read_status("", pid, &st, NULL) < 0)
		return error_set(err, -ESRCH, "pid %d: no such process", pid);
	if (st.tgid > 0 && st.tgid != pid)
		return proc_thread_error(pid, st.tgid, err);
	if ((state == 'Z' || state == 'X') && st.threads <= 1)
		return error_set(err, -ESRCH, "pid %d: exited (zombie)", pid);
	return 0;
}

int target_attach(struct target *t, pid_t pid, struct error *err)
{
	size_t added;
	int r, pass;

	memset(t, 0, sizeof(*t));
	t->mem_fd = -1;
	target_orphans_release();
	r = check_process(pid, err);
	if (r < 0)
		return r;
	t->pid = pid;
	t->attached = true;
	guard_install();

	/* Threads created while we seize are not traced (no TRACECLONE, see
	 * the top of this file); passes pick them up.  Under heavy churn this
	 * may not settle: target_stop() finishes the job with the process held. */
	for (pass = 0; pass < 16; pass++) {
		r = target_seize_new(t, &added, false, err);
		if (r < 0)
			goto fail;
		if (!added)
			break;
	}
	if (!t->nthreads) {
		r = error_set(err, -ESRCH, "pid %d: exited while attaching", pid);
		goto fail;
	}
	return 0;
fail:
	target_detach(t);
	return r;
}

/* How many threads the kernel counts (/proc/<pid>/status Threads: every
 * thread not yet released, exiting ones included) beyond those we hold.  A
 * zombie leader of a live process still counts, and holds nothing. */
static long long threads_unaccounted(struct target *t)
{
	struct proc_status st;
	long long n = proc_read_status("", t->pid, &st, NULL) == 0 ? (long long)st.threads : -1;
	struct target_thread *leader = target_thread_find(t, t->pid);

	if (n < 0)
		return 0;	/* gone: the next wait says so */
	if (!(leader && leader->stopped) && target_task_is_dead(t->pid, t->pid))
		n--;
	return n - (long long)t->nthreads;
}

/* Seizes every thread of the table that is not traced; drops the gone. */
static int seize_known(struct target *t, struct error *err)
{
	for (size_t i = 0; i < t->nthreads;) {
		struct target_thread *th = &t->threads[i];
		int r = th->traced ? 0 : target_seize_thread(t, th, err);

		if (r < 0)
			return r;
		if (r == 1)
			target_thread_drop(t, th);	/* slot i holds another now */
		else
			i++;
	}
	return 0;
}

int target_stop(struct target *t, struct error *err)
{
	uint64_t deadline;
	size_t added;
	int r, pass;

	if (!t->attached)
		return error_set(err, -EINVAL, "target_stop: not attached");
	if (t->stopped)
		return 0;
	if (t->replay) {	/* an image: nothing runs, nothing to stop */
		target_image_hold(t, true);
		return 0;
	}
	if (target_interrupted())
		return error_set(err, -EINTR, "pid %d: interrupted by signal %d",
				 t->pid, target_interrupt_signal());
	/* Seizing does not stop a thread: it is done before the pause starts,
	 * so that the pause is the interrupts, the wait and the caller's work. */
	r = seize_known(t, err);
	if (r < 0)
		goto fail;
	t->stop_started_ns = now_ns();
	deadline = t->stop_started_ns +
		   (uint64_t)(t->stop_timeout_ms ? t->stop_timeout_ms
						 : TARGET_STOP_TIMEOUT_MS) * 1000000ULL;
	for (size_t i = 0; i < t->nthreads; i++)
		if (!t->threads[i].stopped)
			ptrace(PTRACE_INTERRUPT, t->threads[i].tid, NULL, NULL);
	for (pass = 0;; pass++) {
		r = target_wait_stopped(t, deadline, true, false, err);
		if (r < 0)
			goto fail;
		if (!t->nthreads) {
			r = error_set(err, -ESRCH, "pid %d exited while being read", t->pid);
			goto fail;
		}
		r = target_seize_new(t, &added, true, err);
		if (r == -ESRCH)
			r = error_set(err, -ESRCH, "pid %d exited while being read", t->pid);
		if (r < 0)
			goto fail;
		if (!added && !threads_unaccounted(t))
			break;
		if (!added) {
			/* Listed none, yet the kernel counts more threads than
			 * we hold: one exiting (it still counts until it is
			 * released), or one that readdir skipped because others
			 * exited under it.  Let the exits finish, list again. */
			if (now_ns() >= deadline) {
				r = error_set(err, -ETIMEDOUT, "pid %d: could not find "
					      "every thread within %u ms", t->pid,
					      t->stop_timeout_ms ? t->stop_timeout_ms
								 : TARGET_STOP_TIMEOUT_MS);
				goto fail;
			}
			usleep(100);
			pass--;
		}
		if (pass == MAX_RESCANS) {
			r = error_set(err, -EAGAIN, "pid %d: threads keep appearing "
				      "faster than they can be stopped", t->pid);
			goto fail;
		}
	}
	t->stopped = true;
	return 0;
fail:
	/* Interrupted: the caller's cleanup detaches.  Anything else: leave
	 * the target running now rather than half-held. */
	if (r != -EINTR)
		target_detach(t);
	return r;
}

/* Detaches one held thread, handing back the signal it stopped with. */
void target_thread_release(struct target_thread *th)
{
	long sig = th->stop_kind == TARGET_STOP_SIGNAL ? th->pending_signal : 0;

	if (ptrace(PTRACE_DETACH, th->tid, NULL, (void *)sig) < 0 && errno == ESRCH) {
		int status;

		/* Killed while held: reap what is left of it. */
		waitpid(th->tid, &status, WNOHANG | __WALL);
	}
	target_thread_forget(th);
}

void target_thread_forget(struct target_thread *th)
{
	th->traced = false;
	th->stopped = false;
	th->stop_kind = TARGET_RUNNING;
	th->pending_signal = 0;
}

/* The pause ends when the last thread but a borrowed one is let go. */
static void note_pause(struct target *t)
{
	uint64_t us;

	if (!t->stop_started_ns)
		return;		/* already noted by target_release_others */
	us = (now_ns() - t->stop_started_ns) / 1000;
	t->stop_started_ns = 0;
	t->pause_us_last = us;
	t->pause_us_max = MAX(t->pause_us_max, us);
	t->pause_us_total += us;
	t->stops++;
	if (t->on_pause)
		t->on_pause(t->on_pause_arg, us);
}

void target_release_others(struct target *t, pid_t keep)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].stopped && t->threads[i].tid != keep)
			target_thread_release(&t->threads[i]);
	if (keep)
		note_pause(t);	/* the process runs again; one thread is borrowed */
}

int target_resume(struct target *t, struct error *err)
{
	if (!t->attached)
		return error_set(err, -EINVAL, "target_resume: not attached");
	if (!t->stopped)
		return 0;
	if (t->replay) {
		target_image_hold(t, false);
		return 0;
	}
	target_release_others(t, 0);	/* 0: no thread is kept */
	t->stopped = false;
	note_pause(t);
	return 0;
}

void target_detach(struct target *t)
{
	uint64_t deadline = now_ns() + DETACH_TIMEOUT_MS * 1000000ULL;
	bool running = false;

	if (!t)
		return;
	if (!t->attached || t->replay)
		goto out;
	if (t->stopped)
		note_pause(t);

	/* A seized thread can only be detached from a ptrace stop: interrupt
	 * the running ones, release every thread as it stops. */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = &t->threads[i];

		if (th->stopped)
			target_thread_release(th);
		else if (th->traced && ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) == 0)
			running = true;
	}
	/* Not guarded: a second Ctrl-C must not cut the cleanup short.  Past
	 * the deadline, what is still traced becomes an orphan. */
	if (running)
		target_wait_stopped(t, deadline, false, true, NULL);
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].traced)
			target_orphan_add(t->pid, t->threads[i].tid);
	target_orphans_release();
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	guard_remove();
out:
	free(t->threads);
	free(t->index);
	memset(t, 0, sizeof(*t));
	t->mem_fd = -1;
}
