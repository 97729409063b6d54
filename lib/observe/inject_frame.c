/* The restore frame (see inject_frame.h and step 2 of inject.h).
 *
 * The layout is the kernel's own x86-64 rt_sigframe, which rt_sigreturn
 * reads back: the restorer's address, a ucontext (flags, link, alternate
 * stack, sigcontext, signal mask), a siginfo, and the FP state the
 * sigcontext points to.  The structures below spell out the kernel's ABI
 * (arch/x86/include/uapi/asm/sigcontext.h and ucontext.h) because the libc
 * headers describe the user-space ucontext_t, whose signal mask is 128
 * bytes, not the kernel's 8.
 */
#include "observe/inject_frame.h"

#include <cpuid.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>

#include "observe/inject.h"
#include "observe/inject_tramp.h"

#define RED_ZONE		128
#define UC_FP_XSTATE		0x1	/* the FP state is an XSAVE image */
#define UC_SIGCONTEXT_SS	0x2	/* ss is saved and restored */
#define UC_STRICT_RESTORE_SS	0x4	/* ... as it is */
#define FP_XSTATE_MAGIC1	0x46505853U
#define FP_XSTATE_MAGIC2	0x46505845U
#define FXSAVE_SIZE		512	/* the legacy area; sw_reserved at 464 */
#define XSAVE_HEADER_SIZE	64
#define XFEATURE_XTILEDATA	18	/* AMX tiles: needs a per-process permission */

/* Kernel errnos a system call may hand to the signal code; never seen by
 * user space. */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

struct kernel_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip;
	uint64_t eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;		/* the FP image's address */
	uint64_t reserved[8];
};

struct kernel_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

struct kernel_ucontext {
	uint64_t flags;
	uint64_t link;
	struct kernel_stack stack;
	struct kernel_sigcontext mcontext;
	uint64_t sigmask;
};

struct restore_frame {
	uint64_t restorer;		/* "pretcode": popped by the function's ret */
	struct kernel_ucontext uc;
	uint8_t info[128];		/* siginfo: unused by rt_sigreturn */
};

/* The software bytes of a signal frame's XSAVE image (_fpx_sw_bytes), in
 * the FXSAVE area's reserved tail. */
struct fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;		/* xstate_size + MAGIC2 */
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

_Static_assert(offsetof(struct kernel_ucontext, mcontext) == 40, "ucontext ABI");
_Static_assert(sizeof(struct kernel_sigcontext) == 256, "sigcontext ABI");
_Static_assert(sizeof(struct kernel_ucontext) == 304, "ucontext ABI");
_Static_assert(sizeof(struct fpx_sw_bytes) == 48, "fpx_sw_bytes ABI");

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

void inject_frame_plan(uint64_t rsp, size_t xlen, size_t need, struct inject_layout *l)
{
	uint64_t top = align_down(rsp - RED_ZONE, 64);

	l->xsave = align_down(top - xlen - sizeof(uint32_t), 64);
	l->end = l->xsave + xlen + sizeof(uint32_t);
	/* Below the restorer word, one more: the session's setup calls return
	 * through it (inject_run.c), entered with the stack at 8 mod 16 as
	 * after a call. */
	l->frame = align_down(l->xsave - sizeof(struct restore_frame), 16);
	l->data = align_down(l->frame - 8 - TRAMP_DATA_SIZE, 64);
	l->scratch_hi = l->data;
	l->scratch_lo = l->scratch_hi - INJECT_SCRATCH;
	l->call_top = align_down(l->scratch_lo - 64, 16);
	l->low = l->call_top - need;
}

void inject_frame_resume_regs(struct user_regs_struct *r)
{
	if ((int64_t)r->orig_rax < 0)
		return;		/* not in a system call */
	switch (-(int64_t)r->rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		r->rax = r->orig_rax;
		r->rip -= 2;	/* back over `syscall` (0f 05) */
		break;
	case ERESTART_RESTARTBLOCK:
		r->rax = (uint64_t)-EINTR;
		break;
	default:
		break;		/* finished: its result stays in rax */
	}
}

/* The size of the XSAVE image holding the components in features, in the
 * standard (non-compacted) format signal frames use: each component's place
 * is in CPUID leaf 0xD. */
static uint32_t xsave_size(uint64_t features)
{
	uint32_t size = FXSAVE_SIZE + XSAVE_HEADER_SIZE;

	for (unsigned i = 2; i < 63; i++) {
		unsigned eax, ebx, ecx, edx;

		if (!(features & (1ULL << i)) || !__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx))
			continue;
		if (ebx + eax > size)
			size = ebx + eax;
	}
	return size;
}

/* ptrace hands out the XSAVE image with the software bytes of the largest
 * frame the CPU could need.  The kernel refuses (and then restores only
 * x87/SSE) an image bigger than this process's own frames, which leave the
 * AMX tiles out unless the process asked for them: so the tiles are kept
 * only when the thread has tile data, which it cannot have without that
 * permission. */
static void xsave_fix_sw_bytes(uint8_t *image, size_t xlen)
{
	struct fpx_sw_bytes sw;
	uint64_t present;

	memcpy(&sw, image + 464, sizeof(sw));
	memcpy(&present, image + FXSAVE_SIZE, sizeof(present));	/* XSTATE_BV */
	if (sw.magic1 != FP_XSTATE_MAGIC1 || xlen < FXSAVE_SIZE + XSAVE_HEADER_SIZE) {
		memset(image + 464, 0, sizeof(sw));	/* x87/SSE only */
		return;
	}
	if (!(present & (1ULL << XFEATURE_XTILEDATA)))
		sw.xfeatures &= ~(1ULL << XFEATURE_XTILEDATA);
	sw.xstate_size = xsave_size(sw.xfeatures);
	if (sw.xstate_size > xlen)
		sw.xstate_size = (uint32_t)xlen;
	sw.extended_size = sw.xstate_size + sizeof(uint32_t);
	memcpy(image + 464, &sw, sizeof(sw));
}

static void sigcontext_fill(struct kernel_sigcontext *sc, const struct user_regs_struct *r)
{
	*sc = (struct kernel_sigcontext){
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rdi = r->rdi, .rsi = r->rsi, .rbp = r->rbp, .rbx = r->rbx,
		.rdx = r->rdx, .rax = r->rax, .rcx = r->rcx, .rsp = r->rsp,
		.rip = r->rip, .eflags = r->eflags,
		.cs = (uint16_t)r->cs, .gs = (uint16_t)r->gs, .fs = (uint16_t)r->fs,
		.ss = (uint16_t)r->ss,
	};
}

void inject_frame_build(const struct inject_layout *l, const struct user_regs_struct *regs,
			uint64_t mask, const void *xstate, size_t xlen, bool has_xstate,
			uint64_t restorer, uint8_t *buf)
{
	struct restore_frame *f = (struct restore_frame *)buf;
	uint8_t *image = buf + (l->xsave - l->frame);
	struct user_regs_struct r = *regs;
	struct fpx_sw_bytes sw;
	uint32_t magic2 = FP_XSTATE_MAGIC2;

	memset(buf, 0, l->end - l->frame);
	inject_frame_resume_regs(&r);
	f->restorer = restorer;
	f->uc.flags = (has_xstate ? UC_FP_XSTATE : 0) | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* An invalid mode: the kernel then leaves the alternate signal stack
	 * as it is, which heapdoc cannot read from outside. */
	f->uc.stack.flags = 3;
	sigcontext_fill(&f->uc.mcontext, &r);
	f->uc.mcontext.fpstate = l->xsave;
	f->uc.sigmask = mask;
	memcpy(image, xstate, xlen);
	if (has_xstate) {
		xsave_fix_sw_bytes(image, xlen);
		memcpy(&sw, image + 464, sizeof(sw));
		if (sw.magic1 == FP_XSTATE_MAGIC1)
			memcpy(image + sw.xstate_size, &magic2, sizeof(magic2));
	} else {
		memset(image + 464, 0, sizeof(sw));
	}
}
