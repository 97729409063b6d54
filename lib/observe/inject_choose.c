/* Choosing the thread a session borrows (step 1 of inject.h), with every
 * thread of the target stopped.
 *
 * A thread may be borrowed when heapdoc's own interrupt holds it (not a
 * signal or a group stop: those are someone else's business), it is parked
 * in a system call, no frame of its stack is in the allocator's code, its
 * stack has room for the session below the red zone, and its system call
 * does not swap the signal mask: sigsuspend, and ppoll, pselect6,
 * epoll_pwait(2) and io_pgetevents given a mask, keep the thread's real
 * mask aside and restore it on return, past the mask a session sets and
 * restores.  Among those, the main thread first (it has used the allocator
 * already, so no call initializes per-thread state), and a thread whose
 * call the kernel restarts through restart_syscall (relative sleeps) last:
 * only an exact restore keeps its sleep (inject.h, step 6).
 */
#include "observe/inject_int.h"

#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "base/util.h"
#include "observe/inject_frame.h"
#include "observe/unwind.h"

#define ERESTART_RESTARTBLOCK 516
#define SCAN_CHUNK	(64u << 10)
#define SCAN_STACK	(8u << 20)	/* a thread's whole stack, as glibc sizes it */
#define SCAN_OTHER	(256u << 10)	/* rsp elsewhere: an alternate signal stack */
#define INJECT_UNWIND_FRAMES 512	/* deeper than this: the hit stands */
/* In the kernel's signal frame, from its restorer word: 8, then the
 * ucontext's sigcontext at 40, whose rip is its 17th word. */
#define SIGFRAME_PC	(8 + 40 + 16 * 8)

size_t inject_xsave_max(void)
{
	unsigned eax, ebx, ecx, edx;

	/* Leaf 0xD, sub-leaf 0: ECX is the XSAVE area of every feature the
	 * CPU supports, the most ptrace can hand out. */
	if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) || ecx < 576)
		return 4096;
	return ecx;
}

static bool peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	return target_pid_read_exact(pid, addr, buf, len) == 0;
}

/* Is there a call instruction just before w, as before a return address:
 * call rel32 (e8), or call through a register or memory (ff /2, two to
 * seven bytes with its ModRM, SIB and displacement)?  A pointer to the start
 * of a function is rarely one. */
static bool follows_call(pid_t pid, uint64_t w)
{
	uint8_t b[8];

	if (w < 8 || !peek(pid, w - 8, b, sizeof(b)))
		return true;	/* unreadable: count it, to be safe */
	if (b[3] == 0xe8)
		return true;
	for (int len = 2; len <= 7; len++)
		if (b[8 - len] == 0xff && ((b[9 - len] >> 3) & 7) == 2)
			return true;
	return false;
}

/* Does the thread's stack say it is inside the allocator?  1 yes (the word
 * in *where), 0 no, negative when its stack could not be read.
 *
 * Inside means its pc is in the allocator's code, or its live stack (from
 * the stack pointer to the top of the mapping it is in) holds a return
 * address into it: every frame of the allocator but the innermost leaves
 * one, right after a call instruction.  A thread in a signal handler has
 * the interrupted pc in the kernel's signal frame, which starts with the
 * restorer's address.  A word that only looks like a return address is
 * caught by stack_in_allocator's unwind below.  This reads
 * the stack in bulk; an unwinder would read /proc/<pid>/maps again for
 * every module it meets, which in a process with 60,000 mappings made
 * choosing a thread take a hundred milliseconds with every thread held. */
static int scan_in_allocator(const struct inject_session *s, const struct inject_guard *g,
			     const struct maps *maps, const struct user_regs_struct *regs,
			     uint64_t *where)
{
	const struct mapping *m = maps_find(maps, regs->rsp);
	uint64_t words[SCAN_CHUNK / 8], at, top, pc;
	pid_t pid = s->t->pid;

	*where = regs->rip;
	if (inject_guard_covers(g, regs->rip))
		return 1;
	if (!m)
		return -ENOENT;
	top = MIN(m->end, regs->rsp + (m->kind == MAPPING_STACK ? SCAN_STACK : SCAN_OTHER));
	for (at = regs->rsp & ~7ULL; at < top; at += sizeof(words)) {
		size_t len = MIN(sizeof(words), top - at);

		if (!peek(pid, at, words, len))
			return -EIO;
		for (size_t i = 0; i < len / 8; i++) {
			uint64_t w = words[i];

			if (w == s->libc.restorer &&
			    peek(pid, at + i * 8 + SIGFRAME_PC, &pc, sizeof(pc)) &&
			    inject_guard_covers(g, pc)) {
				*where = pc;
				return 1;
			}
			if (w && inject_guard_covers(g, w - 1) && follows_call(pid, w)) {
				*where = w;
				return 1;
			}
		}
	}
	return 0;
}

/* The scan above counts every word that looks like a return address into
 * the allocator, and the live part of a stack also holds stale ones: an
 * uninitialized local over the frames of a malloc that returned long ago
 * (bash waiting for a child, a server's main parked in pause(2)).  Such a
 * thread would be refused at every try.  So a hit is checked by unwinding
 * the thread with its unwind info: a thread whose unwind reaches its
 * outermost frame with no frame in the allocator is outside it.  An unwind
 * that stops short proves nothing and the hit stands.  This runs only on a
 * hit, so the unwinder's cost (it reads the maps for every module it
 * meets) is not paid for the threads the scan clears. */
static int unwind_in_allocator(const struct inject_guard *g, pid_t tid, uint64_t *where)
{
	struct unwind_frame frames[INJECT_UNWIND_FRAMES];
	struct unwinder *u = NULL;
	struct error err = { 0 };
	bool truncated = false, whole = false;
	size_t n = 0;
	int in = 1;

	if (unwind_open(&u, &err) < 0)
		return 1;
	if (unwind_thread(u, tid, frames, INJECT_UNWIND_FRAMES, &n, &truncated, &whole,
			  &err) == 0 && whole && !truncated) {
		in = 0;
		for (size_t i = 0; i < n && !in; i++) {
			uint64_t pc = frames[i].ip - frames[i].return_address;

			if (inject_guard_covers(g, pc)) {
				*where = frames[i].ip;
				in = 1;
			}
		}
	}
	unwind_close(u);
	return in;
}

/* Is the thread inside the allocator?  1 yes (the word in *where), 0 no,
 * negative when its stack could not be read (treated as unsafe): the scan,
 * and for a hit that is not the pc itself, the unwind that confirms it. */
static int stack_in_allocator(const struct inject_session *s, const struct inject_guard *g,
			      const struct maps *maps, pid_t tid,
			      const struct user_regs_struct *regs, uint64_t *where)
{
	int in = scan_in_allocator(s, g, maps, regs, where);

	if (in > 0 && !inject_guard_covers(g, regs->rip))
		in = unwind_in_allocator(g, tid, where);
	return in;
}

/* A thread blocked waiting: futex(2), or the restart of an interrupted
 * timed wait (restart_syscall after a ptrace stop). */
static bool is_wait(uint64_t nr)
{
	return nr == SYS_futex || nr == SYS_restart_syscall;
}

/* The system call keeps the thread's mask aside (see the top). */
static bool swaps_mask(const struct user_regs_struct *r)
{
	switch ((long)r->orig_rax) {
	case SYS_rt_sigsuspend:
		return true;
	case SYS_ppoll:
		return r->r10 != 0;
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
		return r->r8 != 0;
	case SYS_pselect6:
	case SYS_io_pgetevents:
		return r->r9 != 0;	/* a struct that may hold a mask */
	default:
		return false;
	}
}

/* The session fits on the thread's stack: the frames inside the mapping
 * rsp is in, which must be a stack ([stack], or a thread stack above its
 * guard page: never a buffer in the heap a program switched stacks to), and
 * the calls' room inside it too unless it is [stack], which grows. */
static bool stack_fits(const struct maps *maps, uint64_t rsp, size_t need, char *why,
		       size_t len)
{
	const struct mapping *m = maps_find(maps, rsp);
	struct inject_layout l;

	inject_frame_plan(rsp, inject_xsave_max(), need, &l);
	if (!m || m->kind != MAPPING_STACK) {
		snprintf(why, len, "its stack pointer 0x%" PRIx64 " is not in a stack mapping", rsp);
		return false;
	}
	if (l.scratch_lo < m->start || (strcmp(m->path, "[stack]") && l.low < m->start)) {
		snprintf(why, len, "its stack has %" PRIu64 " bytes below the stack pointer, "
			 "not %" PRIu64, rsp - m->start, rsp - l.low);
		return false;
	}
	return true;
}

static bool in_anonymous_code(const struct maps *maps, uint64_t pc)
{
	const struct mapping *m = maps_find(maps, pc);

	return !m || (m->perms[2] == 'x' && !m->path[0]);
}

struct candidate {
	pid_t tid;
	bool restart_block;
};

/* One held thread under the rules of the top; counts refusals in s. */
static void consider(struct inject_session *s, const struct inject_opts *o,
		     const struct maps *maps, struct target_thread *th,
		     struct candidate *best, bool *spoiled, struct error *err)
{
	struct inject_guard *g = o->guard;
	struct user_regs_struct regs;
	bool wanted, parked;
	uint64_t where = 0;
	int in = 0;

	wanted = (!o->only_tid || o->only_tid == th->tid) &&
		 th->stop_kind == TARGET_STOP_INTERRUPT;
	if (!wanted && !(g && g->all_threads_clear))
		return;
	if (target_get_regs(s->t, th->tid, &regs, err) < 0)
		return;
	parked = (int64_t)regs.orig_rax >= 0;
	/* Stacks are read only where the answer matters: a candidate's, and
	 * under the all-threads rule every thread's but the waiting ones,
	 * which in a large server are most of them. */
	if (g && ((parked && wanted) || (g->all_threads_clear && !is_wait(regs.orig_rax))))
		in = stack_in_allocator(s, g, maps, th->tid, &regs, &where);
	/* Under the all-threads rule, a thread blocked in a futex wait inside
	 * the allocator does not spoil the moment: it is waiting (jemalloc's
	 * background thread sleeps so), changes nothing while it waits, and
	 * runs on during the calls like every other thread, so a lock it
	 * holds is released in its course.  Any other thread inside does. */
	if (in && g->all_threads_clear && !is_wait(regs.orig_rax)) {
		s->refused_inside++;
		snprintf(s->refusal, sizeof(s->refusal),
			 "thread %d is %s %s (pc 0x%" PRIx64 ", syscall %lld)", th->tid,
			 in > 0 ? "inside" : "unreadable, maybe inside", g->what, where,
			 (long long)regs.orig_rax);
		*spoiled = true;
		return;
	}
	if (!wanted)
		return;
	if (!parked) {
		s->refused_running++;
		return;
	}
	if (in) {
		s->refused_inside++;
		return;
	}
	if (in_anonymous_code(maps, regs.rip)) {
		/* A thread going back from a session whose heapdoc died waits
		 * in its trampoline: a session in it would nest in that one and
		 * keep it from going back. */
		snprintf(s->refusal, sizeof(s->refusal), "thread %d runs code outside every "
			 "file (a trampoline of an interrupted heapdoc, or JIT code)", th->tid);
		return;
	}
	if (swaps_mask(&regs)) {
		snprintf(s->refusal, sizeof(s->refusal), "thread %d waits with a signal mask "
			 "of its own (syscall %lld)", th->tid, (long long)regs.orig_rax);
		return;
	}
	if (!stack_fits(maps, regs.rsp, s->stack_need, s->refusal, sizeof(s->refusal)))
		return;
	if (!best->tid || (best->restart_block && (int64_t)regs.rax != -ERESTART_RESTARTBLOCK))
		*best = (struct candidate){ th->tid,
					    (int64_t)regs.rax == -ERESTART_RESTARTBLOCK };
}

pid_t inject_choose(struct inject_session *s, const struct inject_opts *o,
		    const struct maps *maps, struct error *err)
{
	struct inject_guard *g = o->guard;
	struct target *t = s->t;
	struct candidate best = { 0 };
	unsigned running = s->refused_running, inside = s->refused_inside;
	bool spoiled = false;

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
	if (g && g->moment_check && g->moment_check(t, g->moment_arg, s->refusal,
						    sizeof(s->refusal)))
		return 0;
	for (size_t pass = 0; pass < 2 && !spoiled; pass++)
		for (size_t i = 0; i < t->nthreads && !spoiled; i++) {
			struct target_thread *th = &t->threads[i];

			if ((th->tid == t->pid) == (pass == 0) && th->stopped)
				consider(s, o, maps, th, &best, &spoiled, err);
		}
	if (spoiled)
		return 0;
	if (!best.tid && !s->refusal[0])
		snprintf(s->refusal, sizeof(s->refusal),
			 "no thread parked in a system call outside %s (%u running, "
			 "%u with an allocator frame)", g ? g->what : "the allocator",
			 s->refused_running - running, s->refused_inside - inside);
	return best.tid;
}
