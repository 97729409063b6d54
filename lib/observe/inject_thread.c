/* The borrowed thread's stops and registers: the moves inject_run.c makes
 * a session of.  Each waits for the one thread it moved (waitpid on its
 * tid), passes a group stop through, and takes a signal-delivery-stop for
 * what it must be while every signal is blocked: a fault of the call.
 */
#include "observe/inject_int.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "base/util.h"

#define SYSCALL_STOP		(SIGTRAP | 0x80)	/* PTRACE_O_TRACESYSGOOD */
#define EFLAGS_TF		0x100
#define EFLAGS_DF		0x400

static struct target_thread *borrowed(struct inject_session *s)
{
	return target_thread_find(s->t, s->tid);
}

static void note_held(struct inject_session *s, bool held)
{
	struct target_thread *th = borrowed(s);

	if (th)
		th->stopped = held;
}

int inject_resume(struct inject_session *s, int request, struct error *err)
{
	if (ptrace(request, s->tid, NULL, NULL) < 0)
		return error_set(err, errno == ESRCH ? -ESRCH : -errno,
				 "pid %d: resume thread %d: %m", s->t->pid, s->tid);
	note_held(s, false);
	return 0;
}

/* The thread ended (or the process did): nothing is left to put back. */
int inject_gone(struct inject_session *s, struct error *err)
{
	struct target_thread *th = borrowed(s);

	if (th)
		target_thread_forget(th);
	s->phase = INJECT_GONE;
	s->page = 0;
	return error_set(err, -ESRCH, "pid %d: thread %d ended during a call (the process "
			 "exited, was killed or ran exec)", s->t->pid, s->tid);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Sleeps until SIGCHLD (blocked by the caller: every stop of a tracee sends
 * one) or ns, whichever comes first. */
void inject_sleep_chld(uint64_t ns)
{
	struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigtimedwait(&chld, NULL, &ts);
}

/* Takes one wait status of the thread, if there is one: 1 when it is
 * stopped (its kind in s->stop), 0 when nothing happened, or an error
 * (-ESRCH: gone).  A group stop (someone's SIGSTOP) is passed through with
 * request: the session goes on, and the stop takes hold when the thread is
 * released. */
int inject_poll_stop(struct inject_session *s, int request, struct error *err)
{
	int st, sig, event;
	pid_t w = waitpid(s->tid, &st, WNOHANG | __WALL);

	if (w == 0 || (w < 0 && errno == EINTR))
		return 0;
	if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st))
		return inject_gone(s, err);
	if (!WIFSTOPPED(st))
		return 0;
	note_held(s, true);
	sig = WSTOPSIG(st);
	event = st >> 16;
	if (sig == SYSCALL_STOP) {
		s->stop = INJECT_STOP_SYSCALL;
	} else if (event == PTRACE_EVENT_STOP && !is_stop_signal(sig)) {
		s->stop = INJECT_STOP_TRAP;
	} else if (event || is_stop_signal(sig)) {
		int r = inject_resume(s, request, err);	/* a group stop, another event */

		return r < 0 ? r : 0;
	} else {
		/* A signal-delivery-stop.  Every signal is blocked during a
		 * session, so this is one the kernel forces: a fault. */
		s->stop = INJECT_STOP_FAULT;
		s->fault_signal = sig;
	}
	return 1;
}

/* Waits for the thread's next stop, until deadline (ns). */
int inject_wait_stop(struct inject_session *s, int request, uint64_t deadline,
		     struct error *err)
{
	sigset_t chld, old;
	int r;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	while ((r = inject_poll_stop(s, request, err)) == 0) {
		uint64_t now = now_ns();

		if (now >= deadline) {
			r = error_set(err, -ETIMEDOUT, "pid %d: thread %d did not stop",
				      s->t->pid, s->tid);
			break;
		}
		inject_sleep_chld(MIN(deadline - now, 10000000ULL));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r < 0 ? r : 0;
}

/* Runs the thread (PTRACE_SYSCALL) to the exit of system call nr, through
 * its entry; its return value in *ret. */
int inject_syscall(struct inject_session *s, long nr, uint64_t *ret,
			   struct error *err)
{
	struct __ptrace_syscall_info info;
	long entered = -1;

	for (int steps = 0; steps < 8; steps++) {
		int r = inject_resume(s, PTRACE_SYSCALL, err);

		if (r == 0)
			r = inject_wait_stop(s, PTRACE_SYSCALL, now_ns() + INJECT_STOP_WAIT_NS, err);
		if (r < 0)
			return r;
		if (s->stop != INJECT_STOP_SYSCALL)
			return error_set(err, -EFAULT, "pid %d: thread %d stopped with signal "
					 "%d in system call %ld", s->t->pid, s->tid,
					 s->fault_signal, nr);
		if (ptrace(PTRACE_GET_SYSCALL_INFO, s->tid, sizeof(info), &info) <= 0)
			return error_set(err, -errno, "pid %d: thread %d: "
					 "PTRACE_GET_SYSCALL_INFO: %m", s->t->pid, s->tid);
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
			entered = (long)info.entry.nr;
		else if (info.op == PTRACE_SYSCALL_INFO_EXIT && entered == nr) {
			*ret = (uint64_t)info.exit.rval;
			return 0;
		}
	}
	return error_set(err, -EPROTO, "pid %d: thread %d did not make system call %ld",
			 s->t->pid, s->tid, nr);
}

int inject_set_regs(struct inject_session *s, const struct user_regs_struct *r,
		    struct error *err)
{
	if (ptrace(PTRACE_SETREGS, s->tid, NULL, r) < 0)
		return error_set(err, -errno, "pid %d: thread %d: PTRACE_SETREGS: %m",
				 s->t->pid, s->tid);
	return 0;
}

/* The thread's saved registers, pointed at fn with the stack at sp: its
 * segment and TLS registers are its own; no restart at the new pc. */
struct user_regs_struct inject_regs_for(const struct inject_session *s, uint64_t fn,
					uint64_t sp)
{
	struct user_regs_struct r = s->saved;

	r.rip = fn;
	r.rsp = sp;
	r.rax = 0;
	r.orig_rax = (uint64_t)-1;
	r.eflags &= ~(uint64_t)(EFLAGS_TF | EFLAGS_DF);	/* as the ABI wants */
	return r;
}

/* From a system-call stop to an interrupt stop inside the kernel's signal
 * code, the only place the exact restore works from: pointed at the
 * restorer (so that it goes back on its own if heapdoc stops here), the
 * thread is interrupted and continued, and traps before it runs anything. */
int inject_park(struct inject_session *s, struct error *err)
{
	struct user_regs_struct r;
	int ret;

	if (ptrace(PTRACE_GETREGS, s->tid, NULL, &r) < 0)
		return error_set(err, -errno, "pid %d: thread %d: PTRACE_GETREGS: %m",
				 s->t->pid, s->tid);
	r.rip = s->libc.restorer;
	r.rsp = s->frame + 8;
	r.orig_rax = (uint64_t)-1;	/* at an entry stop: skip the call */
	ret = inject_set_regs(s, &r, err);
	if (ret == 0 && ptrace(PTRACE_INTERRUPT, s->tid, NULL, NULL) < 0)
		ret = error_set(err, -errno, "pid %d: interrupt thread %d: %m", s->t->pid, s->tid);
	if (ret == 0)
		ret = inject_resume(s, PTRACE_CONT, err);
	if (ret == 0)
		ret = inject_wait_stop(s, PTRACE_CONT, now_ns() + INJECT_STOP_WAIT_NS, err);
	if (ret == 0 && s->stop != INJECT_STOP_TRAP)
		ret = error_set(err, -EPROTO, "pid %d: thread %d did not trap on its way "
				"back (signal %d)", s->t->pid, s->tid, s->fault_signal);
	return ret;
}

/* Step 6: everything the thread had, at an interrupt or signal stop.  The
 * order keeps the thread safe if heapdoc stops in the middle: FP state,
 * then the mask, then the registers (until then it still points at the
 * restore frame). */
int inject_restore(struct inject_session *s, struct error *err)
{
	struct target_thread *th = borrowed(s);
	struct iovec iov = { s->xstate, s->xlen };
	int ret = 0;

	if (s->has_xstate ? ptrace(PTRACE_SETREGSET, s->tid, NT_X86_XSTATE, &iov)
			  : ptrace(PTRACE_SETFPREGS, s->tid, NULL, s->xstate))
		ret = error_set(err, -errno, "thread %d: restore FP state: %m", s->tid);
	if (ptrace(PTRACE_SETSIGMASK, s->tid, sizeof(s->saved_mask), &s->saved_mask) < 0)
		ret = error_set(err, -errno, "thread %d: restore signal mask: %m", s->tid);
	if (inject_set_regs(s, &s->saved, err) < 0)
		ret = -EIO;
	if (s->errno_addr)
		inject_write(s, s->errno_addr, &s->saved_errno, sizeof(s->saved_errno), NULL);
	if (th) {
		/* Released as from heapdoc's own interrupt: a fault the call
		 * took is withheld. */
		th->stop_kind = TARGET_STOP_INTERRUPT;
		th->pending_signal = 0;
	}
	s->phase = INJECT_IDLE;
	return ret;
}

/* Reads the session's own few bytes of the target's memory.  Unlike
 * target_read it goes on after Ctrl-C: ending a session is the cleanup. */
int inject_peek(struct inject_session *s, uint64_t addr, void *buf, size_t len,
		struct error *err)
{
	int r = target_pid_read_exact(s->t->pid, addr, buf, len);

	if (r == 0)
		return 0;
	if (r == -ESRCH)
		return inject_gone(s, err);
	return error_set(err, -EFAULT, "pid %d: read %zu bytes at 0x%" PRIx64 ": %s",
			 s->t->pid, len, addr, r == -EFAULT ? "short read" : strerror(-r));
}

/* Step 7, and Ctrl-C during a long batch: the thread is let go where it
 * is, from a stop (it is interrupted first if it runs); it finishes what it
 * was doing and goes back on its own through the restore frame. */
int inject_let_go(struct inject_session *s, struct error *err)
{
	struct target_thread *th = borrowed(s);
	int ret = 0;

	if (!(th && th->stopped)) {
		ret = ptrace(PTRACE_INTERRUPT, s->tid, NULL, NULL) < 0 ? -errno : 0;
		if (ret == 0)
			ret = inject_wait_stop(s, PTRACE_CONT, now_ns() + INJECT_STOP_WAIT_NS, err);
		if (ret < 0)
			return ret;
	}
	/* A fault is handed on: the thread takes it as it would have. */
	ptrace(PTRACE_DETACH, s->tid, NULL,
	       (void *)(long)(s->stop == INJECT_STOP_FAULT ? s->fault_signal : 0));
	if (th)
		target_thread_forget(th);
	s->phase = INJECT_LEFT;
	s->page = 0;		/* the thread unmaps it */
	return 0;
}
