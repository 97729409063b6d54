/* Waiting for a target's threads to stop (see target.c). */
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

#define WAIT_SLICE_NS		(10 * 1000 * 1000ULL)

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Sleeps until SIGCHLD (blocked by the caller) or the end of a short slice,
 * whichever comes first; -EINTR if a guarded signal arrived. */
static int wait_slice(uint64_t deadline, bool guarded)
{
	uint64_t now = now_ns(), left;
	struct timespec ts;
	sigset_t chld;

	if (guarded && target_interrupted())
		return -EINTR;
	if (now >= deadline)
		return -ETIMEDOUT;
	left = MIN(deadline - now, WAIT_SLICE_NS);
	ts.tv_sec = left / 1000000000ULL;
	ts.tv_nsec = left % 1000000000ULL;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigtimedwait(&chld, NULL, &ts) < 0 && errno == EINTR &&
	    guarded && target_interrupted())
		return -EINTR;
	return 0;
}

/* Records what a wait status says about th.  Returns false if the thread is
 * gone (and was dropped from the table). */
static bool note_status(struct target *t, struct target_thread *th, int status)
{
	int sig, event;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		target_thread_drop(t, th);
		return false;
	}
	if (!WIFSTOPPED(status))
		return true;	/* WIFCONTINUED: not asked for */
	sig = WSTOPSIG(status);
	event = status >> 16;
	th->stopped = true;
	th->pending_signal = 0;
	if (event == PTRACE_EVENT_STOP) {
		th->stop_kind = is_stop_signal(sig) ? TARGET_STOP_GROUP
						    : TARGET_STOP_INTERRUPT;
	} else if (event) {
		th->stop_kind = TARGET_STOP_EVENT;
	} else {
		/* The thread had dequeued sig before our interrupt and waits for
		 * us to say what to do with it.  It is delivered now, siginfo and
		 * all: the kernel sets the handler up, then our interrupt, still
		 * pending, stops the thread before the handler runs.  Holding it
		 * here until the release instead would lose it if heapdoc died
		 * meanwhile (SIGKILL, the OOM killer): the kernel drops a signal
		 * held in a signal-delivery-stop when the tracer exits. */
		if (ptrace(PTRACE_CONT, th->tid, NULL, (void *)(long)sig) == 0) {
			th->stopped = false;
			th->stop_kind = TARGET_RUNNING;
			return true;
		}
		th->stop_kind = TARGET_STOP_SIGNAL;	/* hand it over on release */
		th->pending_signal = sig;
	}
	return true;
}

static size_t count_waiting(const struct target *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nthreads; i++)
		n += t->threads[i].traced && !t->threads[i].stopped;
	return n;
}

/* One pass over the threads not yet stopped, taking the wait status of each
 * one that has one: a wait for one tid is a lookup in the kernel, where a
 * wait for any (P_ALL) scans every tracee, which with thousands of threads
 * made stopping quadratic.  With release, each is let go as it stops. */
static void take_statuses(struct target *t, bool release)
{
	for (size_t i = 0; i < t->nthreads;) {
		struct target_thread *th = &t->threads[i];
		int status;

		if (!th->traced || th->stopped ||
		    waitpid(th->tid, &status, WNOHANG | __WALL) != th->tid) {
			i++;
			continue;
		}
		if (!note_status(t, th, status))
			continue;	/* dropped: slot i holds another thread now */
		if (release && th->stopped)
			target_thread_release(th);
		i++;
	}
}

/* Drops traced threads that are dead but silent: a zombie leader's exit is
 * reported only after every other thread's, and it holds nothing. */
static void drop_dead_threads(struct target *t)
{
	for (size_t i = 0; i < t->nthreads;) {
		struct target_thread *th = &t->threads[i];

		if (th->traced && !th->stopped && target_task_is_dead(t->pid, th->tid)) {
			target_orphan_add(t->pid, th->tid);	/* reaped once it reports */
			target_thread_drop(t, th);
		}
		else
			i++;
	}
}

static int stop_timeout_error(struct target *t, struct error *err)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = &t->threads[i];
		unsigned long flags;
		char s;

		if (!th->traced || th->stopped)
			continue;
		s = target_task_state(t->pid, th->tid, &flags);
		return error_set(err, -ETIMEDOUT,
				 "pid %d: thread %d did not stop within %u ms (state %c%s)",
				 t->pid, th->tid,
				 t->stop_timeout_ms ? t->stop_timeout_ms : TARGET_STOP_TIMEOUT_MS,
				 s ? s : '?',
				 s == 'D' ? ": uninterruptible sleep, e.g. waiting on I/O" : "");
	}
	return error_set(err, -ETIMEDOUT, "pid %d: did not stop in time", t->pid);
}

/* Waits until every traced thread is held or gone.  With release, each one
 * is detached as soon as it stops (target_detach).  guarded: a caught
 * SIGINT/SIGTERM/SIGHUP ends the wait with -EINTR. */
int target_wait_stopped(struct target *t, uint64_t deadline, bool guarded,
			    bool release, struct error *err)
{
	uint64_t started = now_ns();
	sigset_t chld, old;
	int r = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		take_statuses(t, release);
		if (!count_waiting(t))
			break;
		r = wait_slice(deadline, guarded);
		if (r == -EINTR)
			break;
		if (r == -ETIMEDOUT || now_ns() - started > 4 * WAIT_SLICE_NS)
			drop_dead_threads(t);
		if (r == -ETIMEDOUT) {
			if (count_waiting(t))
				r = stop_timeout_error(t, err);
			else
				r = 0;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == -EINTR)
		error_set(err, -EINTR, "pid %d: interrupted by signal %d", t->pid,
			  target_interrupt_signal());
	return r;
}
