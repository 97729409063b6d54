/* Seizing a target's threads, and saying why the kernel refused (see
 * target.h and target.c). */
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

/* ---- small readers of /proc ---------------------------------------------- */

/* State letter and flags of /proc/<pid>/task/<tid>/stat; 0 if it is gone. */
char target_task_state(pid_t pid, pid_t tid, unsigned long *flags)
{
	struct proc_stat st;

	if (proc_read_task_stat("", pid, tid, &st, NULL) < 0)
		return 0;
	if (flags)
		*flags = (unsigned long)st.flags;
	return st.state;
}

bool target_task_is_dead(pid_t pid, pid_t tid)
{
	char s = target_task_state(pid, tid, NULL);

	return s == 0 || s == 'Z' || s == 'X' || s == 'x';
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

void target_orphan_add(pid_t pid, pid_t tid)
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

void target_orphans_release(void)
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
	struct proc_status st;
	long long tracer = proc_read_status("", pid, &st, NULL) == 0 ? st.tracer_pid : -1;
	int scope = proc_ptrace_scope("");
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
	/* Not another tracer, not Yama's 3: who owns it and what heapdoc
	 * lacks (proc.h). */
	return proc_permission_error("", pid, "to trace it", err);
}

/* Seizes one thread.  0: seized; 1: the thread is gone or exiting (nothing
 * left to hold); <0: refused. */
int target_seize_thread(struct target *t, struct target_thread *th,
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
	if (errno == EPERM && target_task_is_dead(t->pid, th->tid))
		return 1;
	if (errno == EPERM)
		return explain_eperm(t->pid, err);
	return error_set(err, -errno, "pid %d: PTRACE_SEIZE thread %d: %m",
			 t->pid, th->tid);
}

/* Seizes every tid in /proc/<pid>/task that the table does not hold yet;
 * *added counts the threads seized (or newly seen and gone). */
int target_seize_new(struct target *t, size_t *added, bool interrupt,
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
		struct target_thread *th = target_thread_find(t, tids[i]);

		if (th && th->traced)
			continue;
		if (!th && target_task_is_dead(t->pid, tids[i]))
			continue;	/* a zombie leader, or one on its way out */
		if (!th && !(th = target_thread_add(t, tids[i]))) {
			r = error_set(err, -ENOMEM, "pid %d: out of memory", t->pid);
			goto out;
		}
		r = target_seize_thread(t, th, err);
		if (r < 0)
			goto out;
		if (r == 1) {
			target_thread_drop(t, th);
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
