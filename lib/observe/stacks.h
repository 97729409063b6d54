/* Thread stacks of a held target, named (model/stack.h says what they
 * are and sorts them).
 *
 * stacks_sample() unwinds one held thread (unwind.h: libunwind-ptrace, DWARF
 * CFI from the target's own .eh_frame), at most STACK_MAX_FRAMES deep, and
 * names each frame through the target's symbols (symbols.h: sizes checked;
 * separate debug info found by build-id, so glibc's internals are named
 * when libc6-dbg is installed).  A sampler (stacks_open) loads the symbol
 * tables once and keeps names by instruction pointer: open it before
 * target_stop(), since loading a libc debug file takes tens of ms.
 * stacks_thread_syscall() says which system call a held thread sits in.
 */
#ifndef HEAPDOC_OBSERVE_STACKS_H
#define HEAPDOC_OBSERVE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "base/error.h"
#include "model/stack.h"
#include "observe/target.h"

/* A sampler for one attached target: libunwind's address space, the
 * target's modules and the name cache.  Use it from the thread that
 * attached (ptrace's rule).  Modules mapped after stacks_open have no
 * names (open a new sampler to see them). */
struct stacks;

int stacks_open(struct stacks **s, struct target *t, struct error *err);
void stacks_close(struct stacks *s);

/* Unwinds held thread tid into out.  -EBUSY if the thread is not held,
 * -ESRCH if it is gone.  An unwind that stops early (no unwind info, a
 * corrupt stack) is not an error: out has the frames found so far. */
int stacks_sample(struct stacks *s, pid_t tid, struct stack *out,
		  struct error *err);

/* One-shot: stacks_open + stacks_sample + stacks_close. */
int stacks_unwind(struct target *t, pid_t tid, struct stack *out,
		  struct error *err);

/* Where a held thread is with respect to system calls. */
struct thread_syscall {
	long nr;		/* orig_rax: the call's number, -1 if none */
	long ret;		/* rax: -ERESTART... while it is interrupted */
	bool parked;		/* blocked in nr: the kernel restarts it (or,
				 * for calls that never restart, such as
				 * epoll_wait, returns EINTR) when released */
};

/* Pure: reads a thread's registers as taken at a ptrace stop. */
void stacks_syscall_from_regs(const struct user_regs_struct *regs,
			      struct thread_syscall *out);

int stacks_thread_syscall(struct target *t, pid_t tid, struct thread_syscall *out,
			  struct error *err);

/* Unwinds every held thread of the sampler's target into the tally.
 * Threads that vanish meanwhile are skipped. */
int stacks_sample_all(struct stacks *s, struct stack_tally *tally,
		      struct error *err);

#endif
