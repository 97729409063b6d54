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
 *  - PTRACE_CONT ignores its signal argument in a PTRACE_EVENT_STOP, so a
 *    signal that arrived while the thread was held could only be handed
 *    back exactly from its own signal-delivery-stop; PTRACE_DETACH from that
 *    stop delivers it, siginfo and all, and clears the interrupt we left
 *    pending on it;
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

#include "observe/proc.h"
#include "base/util.h"

#define PF_KTHREAD		0x00200000	/* include/linux/sched.h */
#define CAP_SYS_PTRACE_BIT	19
#define WAIT_SLICE_NS		(10 * 1000 * 1000ULL)
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

bool target_interrupted(void)
{
	return guard_caught != 0;
}

int target_interrupt_signal(void)
{
	return guard_caught;
}

/* ---- small readers of /proc ---------------------------------------------- */

/* State letter and flags of /proc/<pid>/task/<tid>/stat; 0 if it is gone. */
static char task_state(pid_t pid, pid_t tid, unsigned long *flags)
{
	char path[64], buf[1024], state = 0;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold anything, ")" included: the fields start after the last */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	if (flags)
		*flags = 0;
	if (flags)
		sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, flags);
	else
		sscanf(p + 1, " %c", &state);
	return state;
}

static bool task_is_dead(pid_t pid, pid_t tid)
{
	char s = task_state(pid, tid, NULL);

	return s == 0 || s == 'Z' || s == 'X' || s == 'x';
}

/* One "Key:\t<number>" line of /proc/<pid>/status; -1 if absent. */
static long long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 0);
			break;
		}
	}
	fclose(f);
	return v;
}

static bool have_cap_sys_ptrace(void)
{
	char line[256];
	bool yes = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "CapEff:", 7)) {
			yes = (strtoull(line + 7, NULL, 16) >> CAP_SYS_PTRACE_BIT) & 1;
			break;
		}
	}
	fclose(f);
	return yes;
}

static int read_int_file(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC), v = -1;

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		v = atoi(buf);
	close(fd);
	return v;
}

/* The tids in /proc/<pid>/task, into a malloc'd array. */
/* ---- the thread table ---------------------------------------------------- */

static struct target_thread *find_thread(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

static struct target_thread *add_thread(struct target *t, pid_t tid)
{
	struct target_thread *th;

	if (t->nthreads == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct target_thread *p = realloc(t->threads, ncap * sizeof(*p));

		if (!p)
			return NULL;
		t->threads = p;
		t->cap = ncap;
	}
	th = &t->threads[t->nthreads++];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	return th;
}

static void drop_thread(struct target *t, struct target_thread *th)
{
	*th = t->threads[--t->nthreads];
}

/* ---- threads we could not let go ------------------------------------------
 * A seized thread can be detached only from a ptrace stop.  One that stays
 * in an uninterruptible sleep past the detach deadline (a vfork parent, a
 * hung NFS read) stays traced, and the kernel releases it when heapdoc
 * exits.  Until then it is remembered here, because it is not free: our
 * interrupt is pending, so it stops as soon as it wakes and would wait for
 * us.  Every later attach and detach releases the ones that have stopped,
 * and an attach to the same process adopts the rest instead of failing to
 * seize a thread heapdoc itself traces. */

struct orphan {
	pid_t pid, tid;
};

static struct orphan *orphans;
static size_t norphans, orphans_cap;

static void orphan_add(pid_t pid, pid_t tid)
{
	if (norphans == orphans_cap) {
		size_t cap = orphans_cap ? orphans_cap * 2 : 8;
		struct orphan *p = realloc(orphans, cap * sizeof(*p));

		if (!p)
			return;		/* the kernel still releases it at exit */
		orphans = p;
		orphans_cap = cap;
	}
	orphans[norphans++] = (struct orphan){ pid, tid };
}

static bool orphan_take(pid_t pid, pid_t tid)
{
	for (size_t i = 0; i < norphans; i++) {
		if (orphans[i].pid == pid && orphans[i].tid == tid) {
			orphans[i] = orphans[--norphans];
			return true;
		}
	}
	return false;
}

static void orphans_release(void)
{
	for (size_t i = 0; i < norphans;) {
		int status;
		pid_t got = waitpid(orphans[i].tid, &status, WNOHANG | __WALL);

		if (got == 0) {
			i++;	/* still asleep */
			continue;
		}
		if (got > 0 && WIFSTOPPED(status)) {
			long sig = (status >> 16) == 0 ? WSTOPSIG(status) : 0;

			ptrace(PTRACE_DETACH, orphans[i].tid, NULL, (void *)sig);
		}
		orphans[i] = orphans[--norphans];	/* released, exited or not ours */
	}
}

/* ---- seizing --------------------------------------------------------------- */

/* Says why the kernel refused PTRACE_SEIZE, with what would fix it. */
static int explain_eperm(pid_t pid, struct error *err)
{
	long long tracer = status_field(pid, "TracerPid");
	int scope = read_int_file("/proc/sys/kernel/yama/ptrace_scope");
	char comm[64] = "", path[64];
	int fd;

	if (tracer > 0) {
		snprintf(path, sizeof(path), "/proc/%lld/comm", tracer);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, comm, sizeof(comm) - 1);

			comm[n > 0 ? n - 1 : 0] = '\0';
			close(fd);
		}
		return error_set(err, -EPERM,
				 "pid %d: already traced by pid %lld%s%s%s; a process "
				 "has one tracer at a time", pid, tracer,
				 *comm ? " (" : "", comm, *comm ? ")" : "");
	}
	if (scope == 3)
		return error_set(err, -EPERM,
				 "pid %d: ptrace is disabled on this host "
				 "(/proc/sys/kernel/yama/ptrace_scope is 3 until reboot)",
				 pid);
	if (!have_cap_sys_ptrace()) {
		if (scope >= 1)
			return error_set(err, -EPERM,
					 "pid %d: ptrace not permitted: run as root or "
					 "with CAP_SYS_PTRACE "
					 "(/proc/sys/kernel/yama/ptrace_scope is %d)",
					 pid, scope);
		return error_set(err, -EPERM,
				 "pid %d: ptrace not permitted: run as the process's "
				 "own user, as root, or with CAP_SYS_PTRACE", pid);
	}
	return error_set(err, -EPERM,
			 "pid %d: ptrace not permitted even with CAP_SYS_PTRACE "
			 "(a security module, seccomp filter or another user "
			 "namespace refuses it)", pid);
}

/* Seizes one thread.  0: seized; 1: the thread is gone or exiting (nothing
 * left to hold); <0: refused. */
static int seize_thread(struct target *t, struct target_thread *th,
			struct error *err)
{
	if (orphan_take(t->pid, th->tid) || ptrace(PTRACE_SEIZE, th->tid, NULL, NULL) == 0) {
		th->traced = true;
		th->stopped = false;
		th->stop_kind = TARGET_RUNNING;
		th->pending_signal = 0;
		return 0;
	}
	if (errno == ESRCH)
		return 1;
	/* An exiting thread (zombie leader included) refuses with EPERM too. */
	if (errno == EPERM && task_is_dead(t->pid, th->tid))
		return 1;
	if (errno == EPERM)
		return explain_eperm(t->pid, err);
	return error_set(err, -errno, "pid %d: PTRACE_SEIZE thread %d: %m",
			 t->pid, th->tid);
}

/* Seizes every tid in /proc/<pid>/task that the table does not hold yet;
 * *added counts the threads seized (or newly seen and gone). */
static int seize_new_threads(struct target *t, size_t *added, bool interrupt,
			     struct error *err)
{
	pid_t *tids;
	size_t n;
	int r;

	*added = 0;
	r = proc_list_tasks("", t->pid, &tids, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct target_thread *th = find_thread(t, tids[i]);

		if (th && th->traced)
			continue;
		if (!th && task_is_dead(t->pid, tids[i]))
			continue;	/* a zombie leader, or one on its way out */
		if (!th && !(th = add_thread(t, tids[i]))) {
			r = error_set(err, -ENOMEM, "pid %d: out of memory", t->pid);
			goto out;
		}
		r = seize_thread(t, th, err);
		if (r < 0)
			goto out;
		if (r == 1) {
			drop_thread(t, th);
			continue;
		}
		(*added)++;
		if (interrupt)
			ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL);
	}
	r = 0;
out:
	free(tids);
	return r;
}

/* ---- waiting ---------------------------------------------------------------- */

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Takes one wait status of one of our traced threads: the thread, or NULL
 * when none is ready. */
static struct target_thread *take_status(struct target *t, int *status)
{
	siginfo_t si = { 0 };
	pid_t got;

	/* Fast path: ask which child or tracee is ready without consuming it,
	 * then consume it only if it is one of ours. */
	if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) == 0 &&
	    si.si_pid > 0) {
		struct target_thread *th = find_thread(t, si.si_pid);

		if (th && th->traced) {
			got = waitpid(th->tid, status, WNOHANG | __WALL);
			if (got == th->tid)
				return th;
		}
	}
	/* Something else of the caller's is ready first (or waitid failed):
	 * ask each of our threads. */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = &t->threads[i];

		if (!th->traced || th->stopped)
			continue;
		got = waitpid(th->tid, status, WNOHANG | __WALL);
		if (got == th->tid)
			return th;
	}
	return NULL;
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
		drop_thread(t, th);
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
		/* The thread had dequeued sig and waits for us to say what to do
		 * with it: hold it here and deliver it on detach.  (Our interrupt
		 * is still pending on it; the detach clears that too.) */
		th->stop_kind = TARGET_STOP_SIGNAL;
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

static void release_thread(struct target_thread *th);

/* Drops traced threads that are dead but silent: a zombie leader's exit is
 * reported only after every other thread's, and it holds nothing. */
static void drop_dead_threads(struct target *t)
{
	for (size_t i = 0; i < t->nthreads;) {
		struct target_thread *th = &t->threads[i];

		if (th->traced && !th->stopped && task_is_dead(t->pid, th->tid)) {
			orphan_add(t->pid, th->tid);	/* reaped once it reports */
			drop_thread(t, th);
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
		s = task_state(t->pid, th->tid, &flags);
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
static int wait_all_stopped(struct target *t, uint64_t deadline, bool guarded,
			    bool release, struct error *err)
{
	uint64_t started = now_ns();
	sigset_t chld, old;
	int r = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		struct target_thread *th;
		int status;

		while ((th = take_status(t, &status)))
			if (note_status(t, th, status) && release)
				release_thread(th);
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

/* ---- attach, stop, resume, detach ------------------------------------------ */

static int check_process(pid_t pid, struct error *err)
{
	unsigned long flags = 0;
	long long tgid;
	char state;

	if (pid <= 0)
		return error_set(err, -ESRCH, "pid %d: no such process", pid);
	if (pid == getpid())
		return error_set(err, -EPERM, "pid %d: heapdoc cannot examine itself", pid);
	state = task_state(pid, pid, &flags);
	if (!state)
		return error_set(err, -ESRCH, "pid %d: no such process", pid);
	if (flags & PF_KTHREAD)
		return error_set(err, -EINVAL, "pid %d: a kernel thread has no "
				 "user-space memory to examine", pid);
	tgid = status_field(pid, "Tgid");
	if (tgid > 0 && tgid != pid)
		return error_set(err, -EINVAL, "pid %d is a thread of process %lld; "
				 "give the process id", pid, tgid);
	if ((state == 'Z' || state == 'X') && status_field(pid, "Threads") <= 1)
		return error_set(err, -ESRCH, "pid %d: exited (zombie)", pid);
	return 0;
}

int target_attach(struct target *t, pid_t pid, struct error *err)
{
	size_t added;
	int r, pass;

	memset(t, 0, sizeof(*t));
	t->mem_fd = -1;
	orphans_release();
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
		r = seize_new_threads(t, &added, false, err);
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
	long long n = status_field(t->pid, "Threads");
	struct target_thread *leader = find_thread(t, t->pid);

	if (n < 0)
		return 0;	/* gone: the next wait says so */
	if (!(leader && leader->stopped) && task_is_dead(t->pid, t->pid))
		n--;
	return n - (long long)t->nthreads;
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
	if (target_interrupted())
		return error_set(err, -EINTR, "pid %d: interrupted by signal %d",
				 t->pid, target_interrupt_signal());
	t->stop_started_ns = now_ns();
	deadline = t->stop_started_ns +
		   (uint64_t)(t->stop_timeout_ms ? t->stop_timeout_ms
						 : TARGET_STOP_TIMEOUT_MS) * 1000000ULL;

	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = &t->threads[i];

		if (!th->traced) {
			r = seize_thread(t, th, err);
			if (r < 0)
				goto fail;
			if (r == 1) {
				drop_thread(t, th);
				i--;
				continue;
			}
		}
		if (!th->stopped)
			ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL);
	}
	for (pass = 0;; pass++) {
		r = wait_all_stopped(t, deadline, true, false, err);
		if (r < 0)
			goto fail;
		if (!t->nthreads) {
			r = error_set(err, -ESRCH, "pid %d exited while being read", t->pid);
			goto fail;
		}
		r = seize_new_threads(t, &added, true, err);
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
static void release_thread(struct target_thread *th)
{
	long sig = th->stop_kind == TARGET_STOP_SIGNAL ? th->pending_signal : 0;

	if (ptrace(PTRACE_DETACH, th->tid, NULL, (void *)sig) < 0 && errno == ESRCH) {
		int status;

		/* Killed while held: reap what is left of it. */
		waitpid(th->tid, &status, WNOHANG | __WALL);
	}
	th->traced = false;
	th->stopped = false;
	th->stop_kind = TARGET_RUNNING;
	th->pending_signal = 0;
}

void target_release_others(struct target *t, pid_t keep)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].stopped && t->threads[i].tid != keep)
			release_thread(&t->threads[i]);
}

static void note_pause(struct target *t)
{
	uint64_t us = (now_ns() - t->stop_started_ns) / 1000;

	t->pause_us_last = us;
	t->pause_us_max = MAX(t->pause_us_max, us);
	t->pause_us_total += us;
	t->stops++;
}

int target_resume(struct target *t, struct error *err)
{
	if (!t->attached)
		return error_set(err, -EINVAL, "target_resume: not attached");
	if (!t->stopped)
		return 0;
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
	if (!t->attached)
		goto out;
	if (t->stopped)
		note_pause(t);

	/* A seized thread can only be detached from a ptrace stop: interrupt
	 * the running ones, release every thread as it stops. */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = &t->threads[i];

		if (th->stopped)
			release_thread(th);
		else if (th->traced && ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) == 0)
			running = true;
	}
	/* Not guarded: a second Ctrl-C must not cut the cleanup short.  Past
	 * the deadline, what is still traced becomes an orphan. */
	if (running)
		wait_all_stopped(t, deadline, false, true, NULL);
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].traced)
			orphan_add(t->pid, t->threads[i].tid);
	orphans_release();
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	guard_remove();
out:
	free(t->threads);
	memset(t, 0, sizeof(*t));
	t->mem_fd = -1;
}

/* ---- reading memory ------------------------------------------------------------ */

#define READ_CHUNK	(64UL << 20)	/* one syscall, one interrupt check */
#define PAGE		4096UL

/* process_vm_readv of [addr, addr+len) as iovecs no larger than step, so a
 * short read ends at a step boundary. */
static ssize_t vm_read(pid_t pid, uint64_t addr, void *buf, size_t len, size_t step)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote[IOV_MAX];
	size_t n = 0, off = 0;

	while (off < len && n < IOV_MAX) {
		size_t piece = MIN(len - off, step - ((addr + off) % step));

		remote[n].iov_base = (void *)(uintptr_t)(addr + off);
		remote[n].iov_len = piece;
		off += piece;
		n++;
	}
	local.iov_len = off;
	return process_vm_readv(pid, &local, 1, remote, n, 0);
}

static ssize_t mem_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	char path[64];

	if (t->mem_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
		t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (t->mem_fd < 0)
			return -1;
	}
	return pread(t->mem_fd, buf, len, (off_t)addr);
}

/* One chunk: the bulk read, and at a fault the exact page it stopped at. */
static ssize_t read_chunk(struct target *t, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = vm_read(t->pid, addr, buf, len, READ_CHUNK);

	if (n < 0 && (errno == ENOSYS || errno == EPERM))
		return mem_read(t, addr, buf, len);
	if (n >= 0 && (size_t)n == len)
		return n;
	/* Short or EFAULT: read the rest page by page to find the edge. */
	if (n < 0) {
		if (errno != EFAULT)
			return -1;
		n = 0;
	}
	while ((size_t)n < len) {
		ssize_t m = vm_read(t->pid, addr + n, (char *)buf + n, len - n, PAGE);

		if (m <= 0)
			break;
		n += m;
	}
	return n;
}

ssize_t target_read(struct target *t, uint64_t addr, void *buf, size_t len,
		    struct error *err)
{
	size_t done = 0;

	if (addr + len < addr)
		return error_set(err, -EFAULT, "pid %d: read of %zu bytes at 0x%llx "
				 "wraps around", t->pid, len, (unsigned long long)addr);
	while (done < len) {
		size_t want = MIN(len - done, READ_CHUNK);
		ssize_t n;

		if (target_interrupted())
			return error_set(err, -EINTR, "pid %d: interrupted by signal %d",
					 t->pid, target_interrupt_signal());
		n = read_chunk(t, addr + done, (char *)buf + done, want);
		if (n < 0) {
			if (done)
				break;
			if (errno == ESRCH)
				return error_set(err, -ESRCH, "pid %d exited while being "
						 "read", t->pid);
			if (errno == EFAULT || errno == EIO)
				return error_set(err, -EFAULT, "pid %d: nothing mapped "
						 "at 0x%llx", t->pid,
						 (unsigned long long)addr);
			return error_set(err, -errno, "pid %d: read at 0x%llx: %m",
					 t->pid, (unsigned long long)(addr + done));
		}
		done += n;
		if ((size_t)n < want)
			break;
	}
	if (!done && len)
		return error_set(err, -EFAULT, "pid %d: nothing mapped at 0x%llx",
				 t->pid, (unsigned long long)addr);
	return (ssize_t)done;
}

int target_read_exact(struct target *t, uint64_t addr, void *buf, size_t len,
		      struct error *err)
{
	ssize_t n = target_read(t, addr, buf, len, err);

	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return error_set(err, -EFAULT, "pid %d: only %zd of %zu bytes at "
				 "0x%llx are mapped", t->pid, n, len,
				 (unsigned long long)addr);
	return 0;
}

/* ---- registers ---------------------------------------------------------------- */

static int held_thread(struct target *t, pid_t tid, struct error *err)
{
	struct target_thread *th = find_thread(t, tid);

	if (!th)
		return error_set(err, -ESRCH, "pid %d: no thread %d", t->pid, tid);
	if (!th->stopped)
		return error_set(err, -EBUSY, "pid %d: thread %d is not stopped",
				 t->pid, tid);
	return 0;
}

int target_get_regs(struct target *t, pid_t tid, struct user_regs_struct *regs,
		    struct error *err)
{
	int r = held_thread(t, tid, err);

	if (r < 0)
		return r;
	if (ptrace(PTRACE_GETREGS, tid, NULL, regs) < 0)
		return error_set(err, -errno, "pid %d: PTRACE_GETREGS thread %d: %m",
				 t->pid, tid);
	return 0;
}

int target_set_regs(struct target *t, pid_t tid, const struct user_regs_struct *regs,
		    struct error *err)
{
	int r = held_thread(t, tid, err);

	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs) < 0)
		return error_set(err, -errno, "pid %d: PTRACE_SETREGS thread %d: %m",
				 t->pid, tid);
	return 0;
}
