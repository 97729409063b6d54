#include "observe/inject.h"

#include <elf.h>		/* NT_X86_XSTATE */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libunwind-ptrace.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "observe/elfsym.h"
#include "observe/proc.h"
#include "base/util.h"

#define RED_ZONE 128
#define INT3 0xcc
#define XSTATE_MAX (16 << 10)		/* larger than any XSAVE area (AMX: 11 KiB) */
#define MAX_FRAMES 128
#define DEFAULT_TIMEOUT_MS 1000
/* Once a call has started it is waited for: a mallctl read takes
 * microseconds, a call that needs a lock another thread holds waits for
 * that thread.  Past this, the call is treated as hung (see leave_hung). */
#define CALL_LIMIT_MS 10000

/* ---- the allocator's code ---------------------------------------------- */

int inject_guard_add(struct inject_guard *g, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return 0;
	if (g->ncode == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		struct inject_range *v = realloc(g->code, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->code = v;
		g->cap = cap;
	}
	g->code[g->ncode++] = (struct inject_range){ lo, hi };
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct inject_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges the ranges so lookups can bisect (cheap when done). */
static void guard_settle(struct inject_guard *g)
{
	size_t out = 0;

	if (!g->ncode)
		return;
	qsort(g->code, g->ncode, sizeof(*g->code), range_cmp);
	for (size_t i = 1; i < g->ncode; i++) {
		if (g->code[i].lo <= g->code[out].hi)
			g->code[out].hi = MAX(g->code[out].hi, g->code[i].hi);
		else
			g->code[++out] = g->code[i];
	}
	g->ncode = out + 1;
}

bool inject_guard_covers(struct inject_guard *g, uint64_t pc)
{
	size_t lo = 0, hi = g->ncode;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pc < g->code[mid].lo)
			hi = mid;
		else if (pc >= g->code[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

int inject_guard_add_mapped(struct inject_guard *g, pid_t pid, const char *path,
			    struct error *err)
{
	struct maps maps = { 0 };
	unsigned found = 0;
	int ret;

	ret = proc_read_maps("", pid, &maps, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < maps.n; i++) {
		const struct mapping *m = &maps.v[i];

		if (m->perms[2] != 'x' || strcmp(m->path, path))
			continue;
		if (inject_guard_add(g, m->start, m->end)) {
			ret = error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		found++;
	}
	if (!found)
		ret = error_set(err, -ENOENT, "pid %d: no executable mapping of %s", pid, path);
out:
	maps_free(&maps);
	return ret;
}

void inject_guard_free(struct inject_guard *g)
{
	free(g->code);
	g->code = NULL;
	g->ncode = g->cap = 0;
}

/* Where a call given up on (hung, or heapdoc crashed during it) returns
 * to: a `ret` byte, which pops pthread_exit with the stack aligned as after
 * a call, so the thread ends cleanly instead of running the program's entry
 * code.  inject_call() lays the frame out for it. */
int inject_thread_exit(pid_t pid, struct inject_exit *out)
{
	struct maps maps = { 0 };
	uint8_t code[4096];

	memset(out, 0, sizeof(*out));
	if (proc_read_maps("", pid, &maps, NULL) < 0)
		return -ENOENT;
	for (size_t i = 0; i < maps.n && !out->fn; i++) {
		const struct mapping *m = &maps.v[i];
		struct elfsym es;

		/* The first mapping of a file is its lowest: its load base. */
		if (!strstr(m->path, "/libc.so") || (i && !strcmp(maps.v[i - 1].path, m->path)))
			continue;
		if (elfsym_open(&es, pid, m->path, m->start, NULL) == 0) {
			elfsym_lookup(&es, "pthread_exit", &out->fn, NULL);
			elfsym_close(&es);
		}
	}
	maps_free(&maps);
	if (out->fn) {
		/* Any 0xc3 byte is a `ret` when jumped to: take the first one
		 * in pthread_exit's own code. */
		struct iovec local = { code, sizeof(code) }, remote = { (void *)out->fn, sizeof(code) };
		ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		uint8_t *ret = n > 0 ? memchr(code, 0xc3, n) : NULL;

		out->ret = ret ? out->fn + (ret - code) : 0;
	}
	if (!out->fn || !out->ret)
		memset(out, 0, sizeof(*out));
	return out->fn ? 0 : -ENOENT;
}

/* ---- a crash of heapdoc must not leave the int3 behind ------------------ */

static struct inject_session *volatile crash_session;
static volatile sig_atomic_t crash_thread_stopped;
static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
static struct sigaction crash_old[ARRAY_SIZE(crash_signals)];

/* Async-signal-safe: only pwrite and ptrace.  A thread stopped by heapdoc
 * gets its registers back; a call still running is sent on to
 * pthread_exit when it returns (as in leave_hung), since its int3 goes. */
static void restore_on_crash(int sig)
{
	struct inject_session *s = crash_session;

	if (s && s->armed && s->regs_dirty && !crash_thread_stopped && s->exit.fn) {
		(void)!pwrite(s->mem_fd, &s->exit.fn, 8, s->scratch_lo - 16);
		(void)!pwrite(s->mem_fd, &s->exit.ret, 8, s->scratch_lo - 24);
	}
	if (s && s->armed)
		(void)!pwrite(s->mem_fd, &s->ret_byte, 1, s->ret_addr);
	if (s && s->regs_dirty && crash_thread_stopped) {
		if (s->xstate) {
			struct iovec iov = { s->fpstate, s->fplen };

			ptrace(PTRACE_SETREGSET, s->tid, NT_X86_XSTATE, &iov);
		} else {
			ptrace(PTRACE_SETFPREGS, s->tid, 0, s->fpstate);
		}
		ptrace(PTRACE_SETREGS, s->tid, 0, &s->saved);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void crash_guard_install(struct inject_session *s)
{
	struct sigaction sa = { .sa_handler = restore_on_crash, .sa_flags = SA_RESETHAND };

	crash_session = s;
	for (size_t i = 0; i < ARRAY_SIZE(crash_signals); i++)
		sigaction(crash_signals[i], &sa, &crash_old[i]);
}

static void crash_guard_remove(void)
{
	if (!crash_session)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(crash_signals); i++)
		sigaction(crash_signals[i], &crash_old[i], NULL);
	crash_session = NULL;
}

/* ---- small helpers ------------------------------------------------------ */

static struct target_thread *thread_of(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

static void mark_stopped(struct inject_session *s, bool stopped)
{
	struct target_thread *th = thread_of(s->t, s->tid);

	if (th)
		th->stopped = stopped;
	crash_thread_stopped = stopped;
}

static int read_entry_point(pid_t pid, uint64_t *entry, struct error *err)
{
	struct auxv auxv;
	int ret = proc_read_auxv("", pid, &auxv, err);

	if (ret < 0)
		return ret;
	if (!auxv.entry)
		return error_set(err, -ENOENT, "pid %d: no AT_ENTRY in its auxv", pid);
	*entry = auxv.entry;
	return 0;
}

static int write_target(struct inject_session *s, uint64_t addr, const void *buf,
			size_t len, struct error *err)
{
	/* /proc/<pid>/mem writes also reach read-only text (the int3). */
	ssize_t n = pwrite(s->mem_fd, buf, len, (off_t)addr);

	if (n == (ssize_t)len)
		return 0;
	return error_set(err, n < 0 ? -errno : -EFAULT,
			 "pid %d: write %zu bytes at 0x%" PRIx64 ": %s", s->t->pid, len,
			 addr, n < 0 ? strerror(errno) : "short write");
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/* ---- choosing a safe moment and thread ---------------------------------- */

/* Is any frame of tid's stack inside the allocator?  1 yes (pc in *where),
 * 0 no, negative when the stack could not be read (treated as unsafe). */
static int stack_in_allocator(struct inject_guard *g, unw_addr_space_t as, pid_t tid,
			      uint64_t top_pc, uint64_t *where)
{
	unw_cursor_t cursor;
	void *upt;
	int ret = 0;

	*where = top_pc;
	if (inject_guard_covers(g, top_pc))
		return 1;
	upt = _UPT_create(tid);
	if (!upt)
		return -ENOMEM;
	if (unw_init_remote(&cursor, as, upt) < 0) {
		ret = -EIO;
		goto out;
	}
	for (int n = 0; n < MAX_FRAMES && unw_step(&cursor) > 0; n++) {
		unw_word_t ip;

		if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		/* A return address: the call instruction is just before it. */
		if (inject_guard_covers(g, ip - 1)) {
			*where = ip;
			ret = 1;
			break;
		}
	}
out:
	_UPT_destroy(upt);
	return ret;
}

/* A thread blocked waiting: futex(2), or the restart of an interrupted
 * timed wait (restart_syscall after a ptrace stop). */
static bool is_wait(uint64_t nr)
{
	return nr == SYS_futex || nr == SYS_restart_syscall;
}

/* With every thread stopped: the thread to borrow, or 0 with the reason in
 * s->refusal. */
static pid_t choose_thread(struct inject_session *s, const struct inject_opts *o,
			   unw_addr_space_t as, struct error *err)
{
	struct inject_guard *g = o->guard;
	struct target *t = s->t;
	pid_t chosen = 0;
	unsigned running = 0, inside = 0;

	if (g && g->lock_addr) {
		uint32_t word;

		if (target_read_exact(t, g->lock_addr, &word, sizeof(word), err) < 0) {
			snprintf(s->refusal, sizeof(s->refusal), "%s lock unreadable", g->what);
			return 0;
		}
		if (word) {
			snprintf(s->refusal, sizeof(s->refusal), "%s lock held", g->what);
			return 0;
		}
	}
	/* The main thread first: it has surely used the allocator already, so
	 * the call does not initialise per-thread allocator state. */
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->nthreads; i++) {
			struct target_thread *th = &t->threads[i];
			struct user_regs_struct regs;
			bool wanted, parked;
			uint64_t where;
			int in = 0;

			if ((th->tid == t->pid) != (pass == 0) || !th->stopped)
				continue;
			/* Only our own interrupt is a clean point to run code
			 * from: a thread holding a signal or in a group stop is
			 * someone else's business. */
			wanted = (!o->only_tid || o->only_tid == th->tid) &&
				 th->stop_kind == TARGET_STOP_INTERRUPT;
			if (!wanted && !(g && g->all_threads_clear))
				continue;
			if (target_get_regs(t, th->tid, &regs, err) < 0)
				continue;
			parked = (int64_t)regs.orig_rax >= 0;
			/* Stacks are read only where the answer matters: a
			 * candidate's, and under the all-threads rule every
			 * thread's but the waiting ones (see below), which in
			 * a large server are most of them. */
			if (g && ((parked && wanted) ||
				  (g->all_threads_clear && !is_wait(regs.orig_rax))))
				in = stack_in_allocator(g, as, th->tid, regs.rip, &where);
			/* Under the all-threads rule, a thread blocked in a
			 * futex wait inside the allocator does not spoil the
			 * moment: it is waiting (jemalloc's background thread
			 * sleeps so, "inside" for good), changes nothing while
			 * it waits, and like every other thread it runs on
			 * during the call, so a lock it holds is released in
			 * its course.  Any other thread inside does spoil it. */
			if (in && g->all_threads_clear && !is_wait(regs.orig_rax)) {
				s->refused_inside += inside + (wanted && parked);
				snprintf(s->refusal, sizeof(s->refusal),
					 "thread %d is %s %s (pc 0x%" PRIx64 ", syscall %lld)",
					 th->tid, in > 0 ? "inside" : "unreadable, maybe inside",
					 g->what, where, (long long)regs.orig_rax);
				return 0;
			}
			if (!wanted)
				continue;
			if (!parked)
				running++;
			else if (in)
				inside++;
			else if (!chosen)
				chosen = th->tid;
		}
	}
	s->refused_running += running;
	s->refused_inside += inside;
	if (!chosen)
		snprintf(s->refusal, sizeof(s->refusal),
			 "no thread parked in a system call outside %s (%u running, "
			 "%u with an allocator frame)", g ? g->what : "the allocator",
			 running, inside);
	return chosen;
}

/* Everyone but the borrowed thread runs on during the calls. */
static void resume_others(struct inject_session *s)
{
	target_release_others(s->t, s->tid);
}

static int save_thread(struct inject_session *s, struct error *err)
{
	struct iovec iov;
	int ret;

	ret = target_get_regs(s->t, s->tid, &s->saved, err);
	if (ret < 0)
		return ret;
	s->fpstate = calloc(1, XSTATE_MAX);
	if (!s->fpstate)
		return error_set(err, -ENOMEM, "out of memory");
	iov = (struct iovec){ s->fpstate, XSTATE_MAX };
	if (ptrace(PTRACE_GETREGSET, s->tid, NT_X86_XSTATE, &iov) == 0) {
		s->xstate = true;
		s->fplen = iov.iov_len;
	} else if (ptrace(PTRACE_GETFPREGS, s->tid, 0, s->fpstate) == 0) {
		s->fplen = sizeof(struct user_fpregs_struct);
	} else {
		return error_set(err, -errno, "thread %d: read FP state: %m", s->tid);
	}
	/* Strings and buffers go below the red zone, 16-byte aligned; the
	 * call's own stack starts below them. */
	s->scratch_hi = (s->saved.rsp - RED_ZONE) & ~(uint64_t)15;
	s->scratch_lo = s->scratch_hi - INJECT_SCRATCH;
	s->scratch_next = s->scratch_lo;
	return 0;
}

static int arm_return(struct inject_session *s, struct error *err)
{
	uint8_t int3 = INT3, check;
	int ret;

	ret = read_entry_point(s->t->pid, &s->ret_addr, err);
	if (ret < 0)
		return ret;
	ret = target_read_exact(s->t, s->ret_addr, &s->ret_byte, 1, err);
	if (ret < 0)
		return ret;
	if (s->ret_byte == INT3)
		return error_set(err, -EBUSY, "pid %d: the entry point 0x%" PRIx64
				 " already holds an int3 (another debugger?)",
				 s->t->pid, s->ret_addr);
	ret = write_target(s, s->ret_addr, &int3, 1, err);
	if (ret < 0)
		return ret;
	s->armed = true;
	if (target_read_exact(s->t, s->ret_addr, &check, 1, err) < 0 || check != INT3)
		return error_set(err, -EIO, "pid %d: the int3 at 0x%" PRIx64 " did not stick",
				 s->t->pid, s->ret_addr);
	return 0;
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

int inject_begin(struct inject_session *s, struct target *t,
		 const struct inject_opts *opts, struct error *err)
{
	unsigned timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	unw_addr_space_t as;
	unsigned backoff_us = 1000;
	int ret;

	memset(s, 0, sizeof(*s));
	s->t = t;
	s->guard = opts->guard;
	s->call_limit_ms = opts->call_limit_ms ? opts->call_limit_ms : CALL_LIMIT_MS;
	/* Looked up before anything is held: needed only if a call hangs or
	 * heapdoc crashes during one, when there is no time for it. */
	s->exit = opts->exit;
	if (!s->exit.fn)
		inject_thread_exit(t->pid, &s->exit);
	if (s->guard)
		guard_settle(s->guard);
	s->mem_fd = -1;
	as = unw_create_addr_space(&_UPT_accessors, 0);
	if (!as)
		return error_set(err, -ENOMEM, "libunwind: cannot create an address space");
	unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
	ret = open_mem(s, err);
	if (ret < 0)
		goto fail;
	for (;;) {
		if (target_interrupted()) {
			ret = error_set(err, -EINTR, "pid %d: interrupted", t->pid);
			goto fail;
		}
		if (!t->stopped) {
			ret = target_stop(t, err);
			if (ret < 0)
				goto fail;
		}
		s->attempts++;
		s->tid = choose_thread(s, opts, as, err);
		if (s->tid)
			break;
		if (now_ns() >= deadline) {
			ret = error_set(err, -EAGAIN, "pid %d: no safe moment to call into %s "
					"within %u ms (%u tries; last: %s)", t->pid,
					s->guard ? s->guard->what : "the target", timeout_ms,
					s->attempts, s->refusal);
			goto fail;
		}
		/* Let the target run a little and look again. */
		ret = target_resume(t, err);
		if (ret < 0)
			goto fail;
		sleep_us(backoff_us);
		backoff_us = MIN(backoff_us * 2, 20000u);
	}
	unw_destroy_addr_space(as);
	as = NULL;
	crash_guard_install(s);
	crash_thread_stopped = true;
	ret = save_thread(s, err);
	if (ret < 0)
		goto fail;
	ret = arm_return(s, err);
	if (ret < 0)
		goto fail;
	resume_others(s);
	return 0;
fail:
	if (as)
		unw_destroy_addr_space(as);
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
	if (write_target(s, addr, data, len, err) < 0)
		return 0;
	s->scratch_next += span;
	return addr;
}

void inject_scratch_reset(struct inject_session *s)
{
	s->scratch_next = s->scratch_lo;
}

/* ---- the call ------------------------------------------------------------ */

static void defer_signal(struct inject_session *s, int sig)
{
	for (size_t i = 0; i < s->ndeferred; i++)
		if (s->deferred[i] == sig)
			return;		/* standard signals do not queue either */
	if (s->ndeferred < INJECT_MAX_DEFERRED)
		s->deferred[s->ndeferred++] = sig;
}

static bool is_fault(pid_t tid, int sig)
{
	siginfo_t si;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE)
		return false;
	/* si_code > 0: raised by the kernel for this instruction, not sent. */
	return ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0 && si.si_code > 0;
}

/* The call has not returned after its limit.  It may hold a lock, so it
 * is not rewound: its return address is pointed at pthread_exit, the int3
 * removed, and the thread left to finish on its own. */
static int leave_hung(struct inject_session *s, uint64_t fn, struct error *err)
{
	uint64_t slot = s->scratch_lo - 24, entry = s->ret_addr;
	siginfo_t si = { 0 };

	if (!s->exit.fn)
		return 0;	/* nowhere safe to send it: keep waiting */
	if (write_target(s, slot + 8, &s->exit.fn, 8, NULL) < 0 ||
	    write_target(s, slot, &s->exit.ret, 8, NULL) < 0)
		return 0;
	/* If it returned meanwhile it sits at the int3: put the slot back and
	 * let the caller's wait loop take that stop (WNOWAIT only peeks). */
	if (waitid(P_PID, s->tid, &si, WSTOPPED | WEXITED | WNOHANG | WNOWAIT | __WALL) != 0 ||
	    si.si_pid) {
		(void)!write_target(s, slot, &entry, sizeof(entry), NULL);
		return -EAGAIN;
	}
	(void)!write_target(s, s->ret_addr, &s->ret_byte, 1, NULL);
	s->armed = false;
	s->regs_dirty = false;
	return error_set(err, -ETIMEDOUT, "pid %d: the call to 0x%" PRIx64 " in thread %d "
			 "has not returned after %.1f s; it is left to finish (not rewound: it "
			 "may hold a lock) and the thread then exits", s->t->pid, fn, s->tid,
			 s->call_limit_ms / 1000.0);
}

/* Waits for the borrowed thread to come back to the int3. */
static int wait_return(struct inject_session *s, uint64_t fn, uint64_t *ret,
		       struct error *err)
{
	uint64_t start = now_ns(), deadline = start + s->call_limit_ms * 1000000ULL;
	unsigned spins = 0;

	for (;;) {
		struct user_regs_struct regs;
		int st, sig, r;
		pid_t w = waitpid(s->tid, &st, __WALL | WNOHANG);

		if (w == 0) {
			if (now_ns() > deadline) {
				r = leave_hung(s, fn, err);
				if (r == -ETIMEDOUT)
					return r;
				deadline = r == -EAGAIN ? deadline : UINT64_MAX;
				continue;
			}
			/* Most calls take microseconds: yield first, then sleep. */
			if (spins++ < 200)
				sched_yield();
			else
				sleep_us(MIN(50u * (spins - 199), 2000u));
			continue;
		}
		/* Gone: nothing to put back in the thread, but the int3 stays
		 * armed so that inject_end() removes it if the process lives. */
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
			s->regs_dirty = false;
			mark_stopped(s, false);
			return error_set(err, -ESRCH, "pid %d: thread %d ended during a call",
					 s->t->pid, s->tid);
		}
		if (!WIFSTOPPED(st))
			continue;
		mark_stopped(s, true);
		sig = WSTOPSIG(st);
		if (st >> 16) {
			/* A ptrace event (interrupt, group stop, clone): not ours. */
		} else if (sig == SIGTRAP && target_get_regs(s->t, s->tid, &regs, NULL) == 0 &&
			   regs.rip == s->ret_addr + 1) {
			*ret = regs.rax;
			s->calls_us += (now_ns() - start) / 1000;
			return 0;
		} else if (is_fault(s->tid, sig)) {
			return error_set(err, -EFAULT, "pid %d: the call to 0x%" PRIx64
					 " crashed with signal %d in thread %d; the thread was "
					 "put back as it was", s->t->pid, fn, sig, s->tid);
		} else {
			defer_signal(s, sig);
		}
		if (ptrace(PTRACE_CONT, s->tid, 0, 0) < 0)
			return error_set(err, -errno, "thread %d: continue: %m", s->tid);
		mark_stopped(s, false);
	}
}

int inject_call(struct inject_session *s, uint64_t fn, const uint64_t *args,
		unsigned nargs, uint64_t *ret, struct error *err)
{
	struct user_regs_struct regs;
	unsigned long long *argregs[] = { &regs.rdi, &regs.rsi, &regs.rdx,
					  &regs.rcx, &regs.r8, &regs.r9 };
	uint64_t frame[3];
	int r;

	if (!s->tid || !s->armed)
		return error_set(err, -EINVAL, "injected call without a borrowed thread");
	if (nargs > 6)
		return error_set(err, -EINVAL, "injected call: %u arguments (6 at most)", nargs);
	/* The one point where a timeout still applies: before the call starts. */
	if (target_interrupted())
		return error_set(err, -EINTR, "pid %d: interrupted", s->t->pid);

	/* The call's frame, just below the scratch area:
	 *   scratch_lo - 8   0         a return address that ends any unwind
	 *   scratch_lo - 16  0         (pthread_exit, if the call is given up)
	 *   scratch_lo - 24  AT_ENTRY  its return address: the int3 (a `ret`
	 *                              byte, if the call is given up)
	 * rsp = scratch_lo - 24 ≡ 8 (mod 16) at entry, as after a call. */
	frame[0] = s->ret_addr;
	frame[1] = frame[2] = 0;
	r = write_target(s, s->scratch_lo - 24, frame, sizeof(frame), err);
	if (r < 0)
		return r;
	regs = s->saved;
	regs.rip = fn;
	regs.rsp = s->scratch_lo - 24;
	regs.rax = 0;			/* no vector arguments (varargs) */
	regs.orig_rax = -1;		/* no syscall restart at the new pc */
	regs.eflags &= ~0x500ULL;	/* TF and DF clear, as the ABI wants */
	for (unsigned i = 0; i < nargs; i++)
		*argregs[i] = args[i];
	s->regs_dirty = true;
	r = target_set_regs(s->t, s->tid, &regs, err);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_CONT, s->tid, 0, 0) < 0)
		return error_set(err, -errno, "thread %d: continue: %m", s->tid);
	mark_stopped(s, false);
	s->calls++;
	return wait_return(s, fn, ret, err);
}

/* ---- putting everything back -------------------------------------------- */

static int restore_thread(struct inject_session *s, struct error *err)
{
	struct iovec iov = { s->fpstate, s->fplen };
	int ret = 0;

	if (s->xstate ? ptrace(PTRACE_SETREGSET, s->tid, NT_X86_XSTATE, &iov)
		      : ptrace(PTRACE_SETFPREGS, s->tid, 0, s->fpstate))
		ret = error_set(err, -errno, "thread %d: restore FP state: %m", s->tid);
	if (target_set_regs(s->t, s->tid, &s->saved, err) < 0)
		ret = -EIO;
	else
		s->regs_dirty = false;
	return ret;
}

int inject_end(struct inject_session *s, struct error *err)
{
	struct target_thread *th;
	int ret = 0;

	if (!s->t)
		return 0;
	if (s->armed && write_target(s, s->ret_addr, &s->ret_byte, 1, err) == 0)
		s->armed = false;
	if (s->armed)
		ret = -EIO;
	th = s->tid ? thread_of(s->t, s->tid) : NULL;
	if (th && th->stopped && s->regs_dirty && s->fpstate && restore_thread(s, err) < 0)
		ret = -EIO;
	/* Signals that arrived during the calls: the first is handed over as
	 * the thread is released (it sits in a signal-delivery-stop: the int3's
	 * SIGTRAP, which is replaced), any others are sent again. */
	if (th && th->stopped && s->ndeferred) {
		th->stop_kind = TARGET_STOP_SIGNAL;
		th->pending_signal = s->deferred[0];
	}
	for (size_t i = th && th->stopped ? 1 : 0; i < s->ndeferred; i++)
		syscall(SYS_tgkill, s->t->pid, s->tid, s->deferred[i]);
	s->ndeferred = 0;
	crash_guard_remove();
	if (s->t->stopped && target_resume(s->t, ret ? NULL : err) < 0 && !ret)
		ret = -EIO;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
	free(s->fpstate);
	s->fpstate = NULL;
	s->t = NULL;
	return ret;
}
