/* Moving the borrowed thread through a session (steps 3 to 7 of inject.h).
 *
 * The thread is always in one of these places, and each register state
 * heapdoc gives it leads back through the restore frame if heapdoc stops
 * (inject.h, step 5):
 *
 *	boot		the target's mmap, entered with the restore frame as its
 *			return address, under PTRACE_SYSCALL; at its exit stop
 *			the new page gets the trampoline and the thread is sent
 *			to it
 *	batch		the trampoline's run loop under PTRACE_CONT; heapdoc
 *			polls the data block's state word, and once the batch is
 *			done interrupts the thread's wait (an interrupt stop)
 *	teardown	the target's munmap of the page, entered like mmap; at
 *			its exit stop the thread is pointed at the restorer and
 *			interrupted on its way out, and at that interrupt stop,
 *			inside the kernel's signal code, gets back the registers,
 *			XSAVE state, mask and errno it had: released, it resumes
 *			its system call as the kernel does after any interrupt.
 */
#include "observe/inject_int.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "base/util.h"
#include "observe/inject_frame.h"
#include "observe/inject_tramp.h"

extern const uint8_t inject_tramp_begin[], inject_tramp_run[], inject_tramp_end[];

#define SYSCALL_STOP		(SIGTRAP | 0x80)	/* PTRACE_O_TRACESYSGOOD */
#define EFLAGS_TF		0x100
#define EFLAGS_DF		0x400
#define STOP_WAIT_NS		(2000ULL * 1000000)	/* for a stop heapdoc asked for */
#define INTERRUPT_GRACE_NS	(100ULL * 1000000)	/* a batch after Ctrl-C */
#define PAGE			4096

/* ---- the thread ------------------------------------------------------------ */

static struct target_thread *borrowed(struct inject_session *s)
{
	for (size_t i = 0; i < s->t->nthreads; i++)
		if (s->t->threads[i].tid == s->tid)
			return &s->t->threads[i];
	return NULL;
}

static void note_held(struct inject_session *s, bool held)
{
	struct target_thread *th = borrowed(s);

	if (th)
		th->stopped = held;
}

static int resume(struct inject_session *s, int request, struct error *err)
{
	if (ptrace(request, s->tid, NULL, NULL) < 0)
		return error_set(err, errno == ESRCH ? -ESRCH : -errno,
				 "pid %d: resume thread %d: %m", s->t->pid, s->tid);
	note_held(s, false);
	return 0;
}

/* The thread ended (or the process did): nothing is left to put back. */
static int gone(struct inject_session *s, struct error *err)
{
	struct target_thread *th = borrowed(s);

	if (th) {
		th->traced = th->stopped = false;
		th->stop_kind = TARGET_RUNNING;
	}
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
static void sleep_chld(uint64_t ns)
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
static int poll_stop(struct inject_session *s, int request, struct error *err)
{
	int st, sig, event;
	pid_t w = waitpid(s->tid, &st, WNOHANG | __WALL);

	if (w == 0 || (w < 0 && errno == EINTR))
		return 0;
	if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st))
		return gone(s, err);
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
		int r = resume(s, request, err);	/* a group stop, another event */

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
static int wait_stop(struct inject_session *s, int request, uint64_t deadline,
		     struct error *err)
{
	sigset_t chld, old;
	int r;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	while ((r = poll_stop(s, request, err)) == 0) {
		uint64_t now = now_ns();

		if (now >= deadline) {
			r = error_set(err, -ETIMEDOUT, "pid %d: thread %d did not stop",
				      s->t->pid, s->tid);
			break;
		}
		sleep_chld(MIN(deadline - now, 10000000ULL));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r < 0 ? r : 0;
}

/* Runs the thread (PTRACE_SYSCALL) to the exit of system call nr, through
 * its entry; its return value in *ret. */
static int syscall_through(struct inject_session *s, long nr, uint64_t *ret,
			   struct error *err)
{
	struct __ptrace_syscall_info info;
	long entered = -1;

	for (int steps = 0; steps < 8; steps++) {
		int r = resume(s, PTRACE_SYSCALL, err);

		if (r == 0)
			r = wait_stop(s, PTRACE_SYSCALL, now_ns() + STOP_WAIT_NS, err);
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

/* ---- registers ------------------------------------------------------------- */

static int set_regs(struct inject_session *s, const struct user_regs_struct *r,
		    struct error *err)
{
	if (ptrace(PTRACE_SETREGS, s->tid, NULL, r) < 0)
		return error_set(err, -errno, "pid %d: thread %d: PTRACE_SETREGS: %m",
				 s->t->pid, s->tid);
	return 0;
}

/* The thread's saved registers, pointed at fn with the stack at sp: its
 * segment and TLS registers are its own; no restart at the new pc. */
static struct user_regs_struct regs_for(const struct inject_session *s, uint64_t fn,
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
static int park(struct inject_session *s, struct error *err)
{
	struct user_regs_struct r;
	int ret;

	if (ptrace(PTRACE_GETREGS, s->tid, NULL, &r) < 0)
		return error_set(err, -errno, "pid %d: thread %d: PTRACE_GETREGS: %m",
				 s->t->pid, s->tid);
	r.rip = s->libc.restorer;
	r.rsp = s->frame + 8;
	r.orig_rax = (uint64_t)-1;	/* at an entry stop: skip the call */
	ret = set_regs(s, &r, err);
	if (ret == 0 && ptrace(PTRACE_INTERRUPT, s->tid, NULL, NULL) < 0)
		ret = error_set(err, -errno, "pid %d: interrupt thread %d: %m", s->t->pid, s->tid);
	if (ret == 0)
		ret = resume(s, PTRACE_CONT, err);
	if (ret == 0)
		ret = wait_stop(s, PTRACE_CONT, now_ns() + STOP_WAIT_NS, err);
	if (ret == 0 && s->stop != INJECT_STOP_TRAP)
		ret = error_set(err, -EPROTO, "pid %d: thread %d did not trap on its way "
				"back (signal %d)", s->t->pid, s->tid, s->fault_signal);
	return ret;
}

/* Step 6: everything the thread had, at an interrupt or signal stop.  The
 * order keeps the thread safe if heapdoc stops in the middle: FP state,
 * then the mask, then the registers (until then it still points at the
 * restore frame). */
static int restore_exact(struct inject_session *s, struct error *err)
{
	struct target_thread *th = borrowed(s);
	struct iovec iov = { s->xstate, s->xlen };
	int ret = 0;

	if (s->has_xstate ? ptrace(PTRACE_SETREGSET, s->tid, NT_X86_XSTATE, &iov)
			  : ptrace(PTRACE_SETFPREGS, s->tid, NULL, s->xstate))
		ret = error_set(err, -errno, "thread %d: restore FP state: %m", s->tid);
	if (ptrace(PTRACE_SETSIGMASK, s->tid, sizeof(s->saved_mask), &s->saved_mask) < 0)
		ret = error_set(err, -errno, "thread %d: restore signal mask: %m", s->tid);
	if (set_regs(s, &s->saved, err) < 0)
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

/* ---- batches --------------------------------------------------------------- */

/* Reads the session's own few bytes of the target's memory.  Unlike
 * target_read it goes on after Ctrl-C: ending a session is the cleanup. */
static int peek(struct inject_session *s, uint64_t addr, void *buf, size_t len,
		struct error *err)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(s->t->pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == ESRCH)
		return gone(s, err);
	return error_set(err, -EFAULT, "pid %d: read %zu bytes at 0x%" PRIx64 ": %s",
			 s->t->pid, len, addr, n < 0 ? strerror(errno) : "short read");
}

static int read_state(struct inject_session *s, uint64_t *state, struct error *err)
{
	return peek(s, s->data + TRAMP_STATE, state, sizeof(*state), err);
}

/* The data block for a batch, written in one go before the thread is sent
 * to it (step 5). */
static int write_batch(struct inject_session *s, const struct inject_fn *calls, unsigned n,
		       struct error *err)
{
	uint8_t block[TRAMP_DATA_SIZE] = { 0 };
	uint64_t head[TRAMP_CALLS / 8] = {
		[TRAMP_STATE / 8] = TRAMP_RUNNING,
		[TRAMP_NCALLS / 8] = n,
		[TRAMP_WAIT / 8] = s->wait_ms / 1000,
		[TRAMP_WAIT / 8 + 1] = (s->wait_ms % 1000) * 1000000ULL,
		[TRAMP_RESTORE_SP / 8] = s->frame,
		[TRAMP_MUNMAP / 8] = s->libc.munmap,
		[TRAMP_PAGE / 8] = s->page,
		[TRAMP_ERRNO_PTR / 8] = s->errno_addr,
		[TRAMP_ERRNO / 8] = (uint32_t)s->saved_errno,
	};

	memcpy(block, head, sizeof(head));
	for (unsigned i = 0; i < n; i++) {
		uint64_t call[TRAMP_CALL_SIZE / 8] = { calls[i].fn };

		memcpy(&call[TRAMP_CALL_ARGS / 8], calls[i].args, sizeof(calls[i].args));
		memcpy(block + TRAMP_CALLS + i * TRAMP_CALL_SIZE, call, sizeof(call));
	}
	return inject_write(s, s->data, block, TRAMP_CALLS + n * TRAMP_CALL_SIZE, err);
}

/* Step 7, and Ctrl-C during a long batch: the thread is let go where it
 * is, from a stop (it is interrupted first if it runs); it finishes what it
 * was doing and goes back on its own through the restore frame. */
static int let_go(struct inject_session *s, struct error *err)
{
	struct target_thread *th = borrowed(s);
	int ret = 0;

	if (!(th && th->stopped)) {
		ret = ptrace(PTRACE_INTERRUPT, s->tid, NULL, NULL) < 0 ? -errno : 0;
		if (ret == 0)
			ret = wait_stop(s, PTRACE_CONT, now_ns() + STOP_WAIT_NS, err);
		if (ret < 0)
			return ret;
	}
	/* A fault is handed on: the thread takes it as it would have. */
	ptrace(PTRACE_DETACH, s->tid, NULL,
	       (void *)(long)(s->stop == INJECT_STOP_FAULT ? s->fault_signal : 0));
	if (th) {
		th->traced = th->stopped = false;
		th->stop_kind = TARGET_RUNNING;
	}
	s->phase = INJECT_LEFT;
	s->page = 0;		/* the thread unmaps it */
	return 0;
}

/* Polls the state word until the batch is done, the thread stops, or a
 * limit passes. */
static int wait_batch(struct inject_session *s, uint64_t *state, struct error *err)
{
	uint64_t start = now_ns(), limit = start + s->call_limit_ms * 1000000ULL;
	uint64_t nap = 20000, interrupted = 0;
	int r;

	for (unsigned spins = 0;; spins++) {
		uint64_t now;

		r = poll_stop(s, PTRACE_CONT, err);
		if (r)
			return r < 0 ? r : 1;	/* a fault: the caller's */
		r = read_state(s, state, err);
		if (r < 0)
			return r;
		if (*state != TRAMP_RUNNING)
			return 0;
		now = now_ns();
		if (!interrupted && target_interrupted())
			interrupted = now;
		if (interrupted && now - interrupted > INTERRUPT_GRACE_NS) {
			r = let_go(s, err);
			return r < 0 ? r : error_set(err, -EINTR, "pid %d: interrupted; thread "
						     "%d finishes its call on its own",
						     s->t->pid, s->tid);
		}
		if (now > limit) {
			r = let_go(s, err);
			return r < 0 ? r : error_set(err, -ETIMEDOUT, "pid %d: the calls in "
				"thread %d have not returned after %.1f s; the thread is left to "
				"finish them (not rewound: they may hold a lock) and then resumes "
				"its system call", s->t->pid, s->tid, s->call_limit_ms / 1000.0);
		}
		/* Most batches take microseconds: yield first, then sleep. */
		if (spins < 64) {
			sched_yield();
		} else {
			sleep_chld(nap);
			nap = MIN(nap * 2, 2000000ULL);
		}
	}
}

/* Sends the thread (at a stop) into the trampoline for calls[0..n-1] and
 * takes it back at the end. */
static int run(struct inject_session *s, struct inject_fn *calls, unsigned n,
	       struct error *err)
{
	uint64_t start = now_ns(), state = 0, rets[TRAMP_MAX_CALLS * TRAMP_CALL_SIZE / 8];
	struct user_regs_struct r = regs_for(s, s->page + (inject_tramp_run - inject_tramp_begin),
					     s->call_top);
	sigset_t chld, old;
	int ret;

	r.rbx = s->data;
	ret = write_batch(s, calls, n, err);
	if (ret == 0)
		ret = set_regs(s, &r, err);
	if (ret == 0)
		ret = resume(s, PTRACE_CONT, err);
	if (ret < 0)
		return ret;
	s->phase = INJECT_RUNNING;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	ret = wait_batch(s, &state, err);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret == 1) {
		s->phase = INJECT_FAULTED;
		return error_set(err, -EFAULT, "pid %d: a call in thread %d crashed with signal "
				 "%d; the thread is put back as it was, but if the call held a "
				 "lock the process may now wait on it", s->t->pid, s->tid,
				 s->fault_signal);
	}
	if (ret < 0)
		return ret;
	/* Done: take the thread out of its wait, then see whether it had
	 * already given up on heapdoc. */
	if (ptrace(PTRACE_INTERRUPT, s->tid, NULL, NULL) < 0 ||
	    wait_stop(s, PTRACE_CONT, now_ns() + STOP_WAIT_NS, err) < 0 ||
	    read_state(s, &state, err) < 0)
		return s->phase == INJECT_GONE ? -ESRCH : gone(s, err);
	s->phase = INJECT_HELD;
	if (state == TRAMP_LEAVING)
		let_go(s, NULL);	/* it was on its way back: let it be */
	ret = peek(s, s->data + TRAMP_CALLS, rets, n * TRAMP_CALL_SIZE, err);
	for (unsigned i = 0; ret == 0 && i < n; i++)
		calls[i].ret = rets[i * TRAMP_CALL_SIZE / 8 + TRAMP_CALL_RET / 8];
	s->calls_us += (now_ns() - start) / 1000;
	return ret;
}

int inject_run_batch(struct inject_session *s, struct inject_fn *calls, unsigned n,
		     struct error *err)
{
	if (s->phase != INJECT_HELD)
		return error_set(err, s->phase == INJECT_LEFT ? -EAGAIN : -EINVAL,
				 "pid %d: no thread borrowed for the call%s", s->t->pid,
				 s->phase == INJECT_LEFT ? " (it went back before heapdoc took "
				 "it: heapdoc was too slow)" : "");
	return run(s, calls, n, err);
}

/* ---- boot and teardown ----------------------------------------------------- */

static int put_trampoline(struct inject_session *s, struct error *err)
{
	size_t len = inject_tramp_end - inject_tramp_begin;
	uint8_t check[PAGE];
	int ret = inject_write(s, s->page, inject_tramp_begin, len, err);

	if (ret == 0)
		ret = peek(s, s->page, check, len, err);
	if (ret == 0 && memcmp(check, inject_tramp_begin, len))
		ret = error_set(err, -EIO, "pid %d: the trampoline did not stick", s->t->pid);
	return ret;
}

/* A call of fn during the setup: it returns through munmap(page) into the
 * restorer, so that if heapdoc stops while it runs (or right after), the
 * page goes and the thread goes back as it was. */
static int setup_call(struct inject_session *s, uint64_t fn, const uint64_t args[6], long nr,
		      uint64_t *ret, struct error *err)
{
	struct user_regs_struct r = regs_for(s, fn, s->frame - 8);
	int rc;

	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.rcx = args[3];
	r.r8 = args[4];
	r.r9 = args[5];
	rc = set_regs(s, &r, err);
	return rc < 0 ? rc : syscall_through(s, nr, ret, err);
}

/* Step 3: the trampoline's page, mapped by the target's own mmap at an
 * address known before the call (the middle of the widest gap in its
 * address space, free since the maps were read: nothing maps there in
 * milliseconds), so that munmap can follow mmap with the right argument
 * even if heapdoc is gone by then.  madvise(MADV_DONTFORK) marks it before
 * any other thread runs again: no child ever gets it. */
static int map_page(struct inject_session *s, struct error *err)
{
	uint64_t all = ~0ULL, page = 0, advised = 0, munmap_fn = s->libc.munmap;
	const uint64_t map_args[6] = { s->page_at, PAGE, PROT_READ | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				       (uint64_t)-1, 0 };
	uint64_t advise_args[6] = { 0, PAGE, MADV_DONTFORK };
	int ret;

	if (ptrace(PTRACE_SETOPTIONS, s->tid, NULL, PTRACE_O_TRACESYSGOOD) < 0)
		return error_set(err, -errno, "pid %d: thread %d: PTRACE_SETOPTIONS: %m",
				 s->t->pid, s->tid);
	ret = inject_write(s, s->frame - 8, &munmap_fn, sizeof(munmap_fn), err);
	if (ret < 0)
		return ret;
	s->phase = INJECT_BOOT;
	if (ptrace(PTRACE_SETSIGMASK, s->tid, sizeof(all), &all) < 0)
		return error_set(err, -errno, "pid %d: thread %d: PTRACE_SETSIGMASK: %m",
				 s->t->pid, s->tid);
	ret = setup_call(s, s->libc.mmap, map_args, SYS_mmap, &page, err);
	if (ret < 0)
		return ret;
	if (page >= (uint64_t)-4095) {
		/* Not munmap(page_at) after all: back through the frame. */
		struct user_regs_struct r = regs_for(s, s->libc.restorer, s->frame + 8);

		set_regs(s, &r, NULL);
		return error_set(err, -(int)-page, "pid %d: the target's mmap of a page for the "
				 "calls refused: %s (a seccomp filter, or a policy against "
				 "executable memory)", s->t->pid, strerror((int)-page));
	}
	s->page = page;
	advise_args[0] = page;
	ret = setup_call(s, s->libc.madvise, advise_args, SYS_madvise, &advised, err);
	if (ret == 0 && advised)
		ret = error_set(err, -EPERM, "pid %d: the target's madvise(MADV_DONTFORK) of "
				"heapdoc's page failed: %s", s->t->pid, strerror((int)-advised));
	return ret;
}

int inject_run_boot(struct inject_session *s, struct error *err)
{
	struct inject_fn first = { .fn = s->libc.errno_location };
	int ret = map_page(s, err);

	if (ret < 0)
		return ret;
	/* From here on the others run: a lock a call needs is released by its
	 * owner instead of deadlocking. */
	target_release_others(s->t, s->tid);
	ret = put_trampoline(s, err);
	if (ret < 0)
		return ret;
	/* errno is kept. */
	if (s->libc.errno_location && (ret = run(s, &first, 1, err)) < 0)
		return ret;
	if (s->libc.errno_location && first.ret &&
	    peek(s, first.ret, &s->saved_errno, sizeof(s->saved_errno), NULL) == 0)
		s->errno_addr = first.ret;
	return s->phase == INJECT_HELD ? 0 : error_set(err, -EAGAIN, "pid %d: thread %d went "
						       "back on its own", s->t->pid, s->tid);
}

static int unmap_page(struct inject_session *s, struct error *err)
{
	struct user_regs_struct r = regs_for(s, s->libc.munmap, s->frame);
	uint64_t ret = 0;
	int rc;

	r.rdi = s->page;
	r.rsi = PAGE;
	rc = set_regs(s, &r, err);
	if (rc == 0)
		rc = syscall_through(s, SYS_munmap, &ret, err);
	if (rc == 0 && ret)
		rc = error_set(err, -EIO, "pid %d: munmap of heapdoc's page at 0x%" PRIx64
			       " failed: %s", s->t->pid, s->page, strerror((int)-ret));
	if (rc == 0)
		s->page = 0;
	return rc;
}

int inject_run_teardown(struct inject_session *s, struct error *err)
{
	int ret = 0;

	switch (s->phase) {
	case INJECT_IDLE:
	case INJECT_SAVED:	/* nothing of the thread changed yet */
	case INJECT_LEFT:
	case INJECT_GONE:
		return 0;
	case INJECT_RUNNING:	/* inject_calls never returns so */
		return error_set(err, -EPROTO, "pid %d: session ended mid-batch", s->t->pid);
	default:
		break;
	}
	if (s->page)
		ret = unmap_page(s, err);
	if (ret == 0 && s->stop == INJECT_STOP_SYSCALL)
		ret = park(s, err);
	if (ret < 0 && s->phase != INJECT_GONE) {
		/* Cannot end exactly: the thread goes back through the frame. */
		let_go(s, NULL);
		return ret;
	}
	return s->phase == INJECT_GONE ? ret : restore_exact(s, err);
}
