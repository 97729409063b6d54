/* The restore frame and the session's place on the borrowed thread's stack
 * (step 2 of lib/observe/inject.h).  Internal to lib/observe/inject*.c;
 * pure functions, so the tests can check them without a target.
 *
 * From the thread's stack pointer down:
 *
 *	rsp - 128		the red zone, never touched
 *	xsave			the XSAVE image, 64-byte aligned, then MAGIC2
 *	frame + 8 ...		ucontext and siginfo of the restore frame
 *	frame			the restorer's address (rsp for rt_sigreturn
 *				is frame + 8, as after a `ret` into it)
 *	frame - 8		munmap's address: where the setup calls return
 *	data			the trampoline's data block (inject_tramp.h)
 *	scratch			INJECT_SCRATCH bytes for inject_push
 *	call_top		the calls' stack, 16-byte aligned
 *	low = call_top - need	the lowest byte the calls may use
 */
#ifndef HEAPDOC_INJECT_FRAME_H
#define HEAPDOC_INJECT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

struct inject_layout {
	uint64_t frame;		/* the restore frame: its restorer word */
	uint64_t xsave;		/* its XSAVE image */
	uint64_t end;		/* one past the image's MAGIC2 */
	uint64_t data;		/* the trampoline's data block */
	uint64_t scratch_lo, scratch_hi;
	uint64_t call_top;
	uint64_t low;
};

/* Places a session below rsp for an XSAVE image of xlen bytes and calls
 * needing `need` bytes of stack. */
void inject_frame_plan(uint64_t rsp, size_t xlen, size_t need, struct inject_layout *out);

/* The bytes of [l->frame, l->end): the restore frame for a thread whose
 * registers, signal mask and FP state (XSAVE image, or an FXSAVE image when
 * !has_xstate) were saved, returning through `restorer`.  buf holds
 * l->end - l->frame bytes.  The thread's own XSAVE image is changed only
 * where the signal-frame format needs it (inject_frame.c). */
void inject_frame_build(const struct inject_layout *l, const struct user_regs_struct *regs,
			uint64_t mask, const void *xstate, size_t xlen, bool has_xstate,
			uint64_t restorer, uint8_t *buf);

/* The registers rt_sigreturn must load for the thread to carry on as the
 * kernel would have after an interruption without a handler: a restartable
 * system call restarts (rax = its number, rip back over `syscall`); one the
 * kernel restarts through restart_syscall returns -EINTR, because
 * rt_sigreturn resets that restart state; anything else is kept. */
void inject_frame_resume_regs(struct user_regs_struct *r);

#endif
