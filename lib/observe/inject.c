/* A session's life: choose and save a thread, set the session up, make
 * calls, end it (lib/observe/inject.h says what holds and why).  The parts:
 * inject_choose.c picks the thread, inject_frame.c lays the session out on
 * its stack and builds the restore frame, inject_run.c moves the thread,
 * inject_tramp.S is the code the session puts into the target, and
 * inject_libc.c finds what it needs of the target's libc.
 */
#include "observe/inject_int.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/inject_frame.h"

#define DEFAULT_TIMEOUT_MS	1000
#define DEFAULT_CALL_LIMIT_MS	10000
#define DEFAULT_WAIT_MS		500
#define DEFAULT_STACK_NEED	(64u << 10)
#define BACKOFF_MAX_US		20000u

int inject_write(struct inject_session *s, uint64_t addr, const void *buf, size_t len,
		 struct error *err)
{
	ssize_t n = pwrite(s->mem_fd, buf, len, (off_t)addr);

	if (n == (ssize_t)len)
		return 0;
	return error_set(err, n < 0 ? -errno : -EFAULT,
			 "pid %d: write %zu bytes at 0x%" PRIx64 ": %s", s->t->pid, len,
			 addr, n < 0 ? strerror(errno) : "short write");
}

static int open_mem(struct inject_session *s, struct error *err)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", s->t->pid);
	s->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->mem_fd < 0)
		return error_set(err, -errno, "open %s for writing: %m", path);
	return 0;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/* The target's mappings, classified (stacks), read while it runs. */
static int read_maps(struct inject_session *s, struct maps *maps, struct error *err)
{
	int ret;

	maps_free(maps);
	ret = proc_read_maps("", s->t->pid, maps, err);
	if (ret == 0)
		maps_classify(maps);
	return ret;
}

/* The middle of the widest gap between the target's mappings, below the
 * top of user space: no mmap lands there unless it asks for that address,
 * and the mappings around it are at least as far away as the gap is wide
 * (map_page in inject_run.c relies on it staying free for a moment). */
static uint64_t free_page_in(const struct maps *maps)
{
	const uint64_t lowest = 1ULL << 32, highest = 0x7ff000000000ULL;
	uint64_t best = 0, best_len = 0, prev = lowest;

	for (size_t i = 0; i <= maps->n; i++) {
		uint64_t next = i < maps->n ? maps->v[i].start : highest;

		if (next > highest)
			next = highest;
		if (next > prev && next - prev > best_len) {
			best = prev;
			best_len = next - prev;
		}
		if (i < maps->n && maps->v[i].end > prev)
			prev = maps->v[i].end;
	}
	return best_len >= 2 * 4096 ? (best + best_len / 2) & ~4095ULL : 0;
}

/* Stops the target until a thread may be borrowed (inject_choose.c), and
 * lets it run a little between tries.  Leaves it stopped with s->tid set. */
static int find_moment(struct inject_session *s, const struct inject_opts *o,
		       struct error *err)
{
	unsigned timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	struct maps maps = { 0 };
	unsigned backoff_us = 1000;
	int ret;

	ret = read_maps(s, &maps, err);
	while (ret == 0) {
		if (target_interrupted()) {
			ret = error_set(err, -EINTR, "pid %d: interrupted", s->t->pid);
			break;
		}
		if (!s->t->stopped && (ret = target_stop(s->t, err)) < 0)
			break;
		s->attempts++;
		s->refusal[0] = '\0';
		s->tid = inject_choose(s, o, &maps, err);
		if (s->tid) {
			s->page_at = free_page_in(&maps);
			break;
		}
		if (now_ns() >= deadline) {
			ret = error_set(err, -EAGAIN, "pid %d: no safe moment to call into %s "
					"within %u ms (%u tries; last: %s)", s->t->pid,
					s->guard ? s->guard->what : "the target", timeout_ms,
					s->attempts, s->refusal);
			break;
		}
		/* Let the target run a little, and look again with fresh maps
		 * (a thread may have a new stack). */
		ret = target_resume(s->t, err);
		if (ret == 0) {
			sleep_us(backoff_us);
			backoff_us = MIN(backoff_us * 2, BACKOFF_MAX_US);
			ret = read_maps(s, &maps, err);
		}
	}
	maps_free(&maps);
	return ret;
}

/* The thread as it is: registers, XSAVE (or FXSAVE) state, signal mask;
 * and where the session goes on its stack. */
static int save_thread(struct inject_session *s, struct error *err)
{
	struct inject_layout l;
	struct iovec iov;

	if (target_get_regs(s->t, s->tid, &s->saved, err) < 0)
		return -ESRCH;
	s->xlen = inject_xsave_max();
	s->xstate = calloc(1, s->xlen);
	if (!s->xstate)
		return error_set(err, -ENOMEM, "out of memory");
	iov = (struct iovec){ s->xstate, s->xlen };
	if (ptrace(PTRACE_GETREGSET, s->tid, NT_X86_XSTATE, &iov) == 0) {
		s->has_xstate = true;
		s->xlen = iov.iov_len;
	} else if (ptrace(PTRACE_GETFPREGS, s->tid, NULL, s->xstate) == 0) {
		s->xlen = sizeof(struct user_fpregs_struct);
	} else {
		return error_set(err, -errno, "thread %d: read FP state: %m", s->tid);
	}
	if (ptrace(PTRACE_GETSIGMASK, s->tid, sizeof(s->saved_mask), &s->saved_mask) < 0)
		return error_set(err, -errno, "thread %d: read signal mask: %m", s->tid);
	inject_frame_plan(s->saved.rsp, s->xlen, s->stack_need, &l);
	s->frame = l.frame;
	s->data = l.data;
	s->scratch_lo = s->scratch_next = l.scratch_lo;
	s->scratch_hi = l.scratch_hi;
	s->call_top = l.call_top;
	return 0;
}

/* Step 2: the restore frame, before anything of the thread is changed. */
static int write_frame(struct inject_session *s, struct error *err)
{
	struct inject_layout l;
	uint8_t *buf;
	int ret;

	inject_frame_plan(s->saved.rsp, s->xlen, s->stack_need, &l);
	buf = malloc(l.end - l.frame);
	if (!buf)
		return error_set(err, -ENOMEM, "out of memory");
	inject_frame_build(&l, &s->saved, s->saved_mask, s->xstate, s->xlen, s->has_xstate,
			   s->libc.restorer, buf);
	ret = inject_write(s, l.frame, buf, l.end - l.frame, err);
	free(buf);
	return ret;
}

int inject_begin(struct inject_session *s, struct target *t,
		 const struct inject_opts *opts, struct error *err)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->t = t;
	s->mem_fd = -1;
	s->guard = opts->guard;
	s->call_limit_ms = opts->call_limit_ms ? opts->call_limit_ms : DEFAULT_CALL_LIMIT_MS;
	s->wait_ms = opts->wait_ms ? opts->wait_ms : DEFAULT_WAIT_MS;
	s->stack_need = opts->stack_need ? opts->stack_need : DEFAULT_STACK_NEED;
	if (opts->libc)
		s->libc = *opts->libc;
	else if ((ret = inject_libc_find(t->pid, &s->libc, err)) < 0)
		goto fail;
	if (s->guard)
		inject_guard_settle(s->guard);
	ret = open_mem(s, err);
	if (ret == 0)
		ret = find_moment(s, opts, err);
	if (ret < 0)
		goto fail;
	s->phase = INJECT_SAVED;
	s->stop = INJECT_STOP_TRAP;
	ret = save_thread(s, err);
	if (ret == 0)
		ret = write_frame(s, err);
	if (ret == 0)
		ret = inject_run_boot(s, err);
	if (ret == 0)
		return 0;
fail:
	inject_end(s, NULL);
	return ret;
}

uint64_t inject_push(struct inject_session *s, const void *data, size_t len,
		     struct error *err)
{
	uint64_t addr = s->scratch_next;
	size_t span = (len + 15) & ~(size_t)15;

	if (!s->tid || span > s->scratch_hi - s->scratch_next) {
		error_set(err, -ENOSPC, "injected call: %zu bytes do not fit the scratch area", len);
		return 0;
	}
	if (inject_write(s, addr, data, len, err) < 0)
		return 0;
	s->scratch_next += span;
	return addr;
}

void inject_scratch_reset(struct inject_session *s)
{
	s->scratch_next = s->scratch_lo;
}

int inject_calls(struct inject_session *s, struct inject_fn *calls, unsigned n,
		 struct error *err)
{
	if (!s->t || !s->tid)
		return error_set(err, -EINVAL, "injected call without a borrowed thread");
	if (n > INJECT_MAX_BATCH)
		return error_set(err, -EINVAL, "injected calls: %u in one batch (%d at most)",
				 n, INJECT_MAX_BATCH);
	/* The one point where an interrupt still stops a call: before it. */
	if (target_interrupted())
		return error_set(err, -EINTR, "pid %d: interrupted", s->t->pid);
	s->batches++;
	s->calls += n;
	return inject_run_batch(s, calls, n, err);
}

int inject_call(struct inject_session *s, uint64_t fn, const uint64_t *args,
		unsigned nargs, uint64_t *ret, struct error *err)
{
	struct inject_fn call = { .fn = fn };
	int r;

	if (nargs > 6)
		return error_set(err, -EINVAL, "injected call: %u arguments (6 at most)", nargs);
	if (nargs)	/* args may be NULL then, which memcpy does not allow (UBSan) */
		memcpy(call.args, args, nargs * sizeof(*args));
	r = inject_calls(s, &call, 1, err);
	if (r == 0)
		*ret = call.ret;
	return r;
}

int inject_end(struct inject_session *s, struct error *err)
{
	int ret;

	if (!s->t)
		return 0;
	ret = inject_run_teardown(s, err);
	if (s->t->stopped && target_resume(s->t, ret ? NULL : err) < 0 && !ret)
		ret = -EIO;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
	free(s->xstate);
	s->xstate = NULL;
	s->t = NULL;
	return ret;
}
