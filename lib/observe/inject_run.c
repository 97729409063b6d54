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

#define INTERRUPT_GRACE_NS	(100ULL * 1000000)	/* a batch after Ctrl-C */
#define PAGE			4096

/* ---- batches --------------------------------------------------------------- */

static int read_state(struct inject_session *s, uint64_t *state, struct error *err)
{
	return inject_peek(s, s->data + TRAMP_STATE, state, sizeof(*state), err);
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

/* Polls the state word until the batch is done, the thread stops, or a
 * limit passes. */
static int wait_batch(struct inject_session *s, uint64_t *state, struct error *err)
{
	uint64_t start = now_ns(), limit = start + s->call_limit_ms * 1000000ULL;
	uint64_t nap = 20000, interrupted = 0;
	int r;

	for (unsigned spins = 0;; spins++) {
		uint64_t now;

		r = inject_poll_stop(s, PTRACE_CONT, err);
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
			r = inject_let_go(s, err);
			return r < 0 ? r : error_set(err, -EINTR, "pid %d: interrupted; thread "
						     "%d finishes its call on its own",
						     s->t->pid, s->tid);
		}
		if (now > limit) {
			r = inject_let_go(s, err);
			return r < 0 ? r : error_set(err, -ETIMEDOUT, "pid %d: the calls in "
				"thread %d have not returned after %.1f s; the thread is left to "
				"finish them (not rewound: they may hold a lock) and then resumes "
				"its system call", s->t->pid, s->tid, s->call_limit_ms / 1000.0);
		}
		/* Most batches take microseconds: yield first, then sleep. */
		if (spins < 64) {
			sched_yield();
		} else {
			inject_sleep_chld(nap);
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
	struct user_regs_struct r = inject_regs_for(s, s->page + (inject_tramp_run - inject_tramp_begin),
					     s->call_top);
	sigset_t chld, old;
	int ret;

	r.rbx = s->data;
	ret = write_batch(s, calls, n, err);
	if (ret == 0)
		ret = inject_set_regs(s, &r, err);
	if (ret == 0)
		ret = inject_resume(s, PTRACE_CONT, err);
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
	    inject_wait_stop(s, PTRACE_CONT, now_ns() + INJECT_STOP_WAIT_NS, err) < 0 ||
	    read_state(s, &state, err) < 0)
		return s->phase == INJECT_GONE ? -ESRCH : inject_gone(s, err);
	s->phase = INJECT_HELD;
	if (state == TRAMP_LEAVING)
		inject_let_go(s, NULL);	/* it was on its way back: let it be */
	ret = inject_peek(s, s->data + TRAMP_CALLS, rets, n * TRAMP_CALL_SIZE, err);
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
		ret = inject_peek(s, s->page, check, len, err);
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
	struct user_regs_struct r = inject_regs_for(s, fn, s->frame - 8);
	int rc;

	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.rcx = args[3];
	r.r8 = args[4];
	r.r9 = args[5];
	rc = inject_set_regs(s, &r, err);
	return rc < 0 ? rc : inject_syscall(s, nr, ret, err);
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
		struct user_regs_struct r = inject_regs_for(s, s->libc.restorer, s->frame + 8);

		inject_set_regs(s, &r, NULL);
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
	    inject_peek(s, first.ret, &s->saved_errno, sizeof(s->saved_errno), NULL) == 0)
		s->errno_addr = first.ret;
	return s->phase == INJECT_HELD ? 0 : error_set(err, -EAGAIN, "pid %d: thread %d went "
						       "back on its own", s->t->pid, s->tid);
}

static int unmap_page(struct inject_session *s, struct error *err)
{
	struct user_regs_struct r = inject_regs_for(s, s->libc.munmap, s->frame);
	uint64_t ret = 0;
	int rc;

	r.rdi = s->page;
	r.rsi = PAGE;
	rc = inject_set_regs(s, &r, err);
	if (rc == 0)
		rc = inject_syscall(s, SYS_munmap, &ret, err);
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
		ret = inject_park(s, err);
	if (ret < 0 && s->phase != INJECT_GONE) {
		/* Cannot end exactly: the thread goes back through the frame. */
		inject_let_go(s, NULL);
		return ret;
	}
	return s->phase == INJECT_GONE ? ret : inject_restore(s, err);
}
