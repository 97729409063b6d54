/* lib/observe/inject_frame: the restore frame a session leaves on the
 * borrowed thread's stack, taken by the kernel's rt_sigreturn when heapdoc
 * is gone.  Checked without any target: a child process builds a frame for
 * a register state of its own choosing and rt_sigreturns through it; the
 * code it lands in checks the registers, the vector state (zmm16-31 and the
 * upper halves with AVX-512: lost if the frame's XSAVE image were refused)
 * and the signal mask.  And the layout and the restart encoding as numbers.
 */
#include <check.h>
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observe/inject.h"
#include "observe/inject_frame.h"
#include "observe/inject_tramp.h"
#include "testlib.h"

#define MAGIC_RDI	0x1badc0ffee0ddf00ULL
#define PATTERN		0x5a

/* ---- numbers ----------------------------------------------------------- */

START_TEST(restart_encoding_is_the_kernels)
{
	struct user_regs_struct r = { .orig_rax = SYS_read, .rax = (uint64_t)-512,
				      .rip = 0x1002 };

	inject_frame_resume_regs(&r);	/* ERESTARTSYS: restart */
	ck_assert_uint_eq(r.rax, SYS_read);
	ck_assert_uint_eq(r.rip, 0x1000);
	r = (struct user_regs_struct){ .orig_rax = SYS_pause, .rax = (uint64_t)-514, .rip = 8 };
	inject_frame_resume_regs(&r);	/* ERESTARTNOHAND: no handler ran, restart */
	ck_assert_uint_eq(r.rax, SYS_pause);
	ck_assert_uint_eq(r.rip, 6);
	r = (struct user_regs_struct){ .orig_rax = SYS_nanosleep, .rax = (uint64_t)-516, .rip = 8 };
	inject_frame_resume_regs(&r);	/* through restart_syscall: EINTR, rip kept */
	ck_assert_uint_eq(r.rax, (uint64_t)-EINTR);
	ck_assert_uint_eq(r.rip, 8);
	r = (struct user_regs_struct){ .orig_rax = SYS_read, .rax = 5, .rip = 8 };
	inject_frame_resume_regs(&r);	/* finished: its result stays */
	ck_assert_uint_eq(r.rax, 5);
	r = (struct user_regs_struct){ .orig_rax = (uint64_t)-1, .rax = (uint64_t)-512, .rip = 8 };
	inject_frame_resume_regs(&r);	/* not in a system call */
	ck_assert_uint_eq(r.rax, (uint64_t)-512);
	ck_assert_uint_eq(r.rip, 8);
}
END_TEST

START_TEST(layout_leaves_the_red_zone_and_aligns)
{
	for (uint64_t rsp = 0x7ffd00001000ULL; rsp < 0x7ffd00001040ULL; rsp += 8) {
		for (size_t xlen = 512; xlen <= 11008; xlen += 2592) {
			struct inject_layout l;

			inject_frame_plan(rsp, xlen, 65536, &l);
			ck_assert_uint_le(l.end, rsp - 128);
			ck_assert_uint_eq(l.xsave % 64, 0);
			ck_assert_uint_eq(l.end, l.xsave + xlen + 4);
			ck_assert_uint_eq(l.frame % 16, 0);
			ck_assert_uint_le(l.frame + 8 + 304 + 128, l.xsave);
			ck_assert_uint_le(l.data + TRAMP_DATA_SIZE, l.frame - 8);
			ck_assert_uint_eq(l.scratch_hi, l.data);
			ck_assert_uint_eq(l.scratch_hi - l.scratch_lo, INJECT_SCRATCH);
			ck_assert_uint_eq(l.call_top % 16, 0);
			ck_assert_uint_lt(l.call_top, l.scratch_lo);
			ck_assert_uint_eq(l.low, l.call_top - 65536);
		}
	}
}
END_TEST

/* ---- rt_sigreturn through a frame, in a child ---------------------------- */

/* Not static: the landing code below reads and writes them behind the
 * compiler's back. */
unsigned char frame_vec_in[32][64] __attribute__((aligned(64)));
unsigned char frame_vec_out[32][64] __attribute__((aligned(64)));
int frame_wide;		/* AVX-512 usable */
static unsigned char image[16384] __attribute__((aligned(64)));
static unsigned char stack[1 << 16] __attribute__((aligned(64)));
void frame_landed(uint64_t rdi);

/* Where the frame returns to: save the vector registers, then check. */
__asm__(".pushsection .text\n"
	".globl frame_landing\n"
	"frame_landing:\n\t"
	"lea frame_vec_out(%rip), %rax\n\t"
	"cmpl $0, frame_wide(%rip)\n\t"
	"je 1f\n\t"
	".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
	"vmovdqu64 %zmm\\n, \\n*64(%rax)\n\t"
	".endr\n\t"
	"jmp 2f\n"
	"1:\n\t"
	".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
	"movdqu %xmm\\n, \\n*64(%rax)\n\t"
	".endr\n"
	"2:\n\t"
	"and $-16, %rsp\n\t"
	"call frame_landed\n\t"
	"hlt\n"
	".popsection\n");
void frame_landing(void);

void frame_landed(uint64_t rdi)
{
	sigset_t now;
	int regs = frame_wide ? 32 : 16, bytes = frame_wide ? 64 : 16, bad = 0;

	for (int r = 0; r < regs; r++)
		bad += memcmp(frame_vec_in[r], frame_vec_out[r], bytes) != 0;
	sigprocmask(SIG_BLOCK, NULL, &now);
	_exit(rdi != MAGIC_RDI ? 11 : bad ? 12 : !sigismember(&now, SIGUSR1) ? 13 : 0);
}

/* This thread's XSAVE image in the standard format, with the software
 * bytes ptrace adds (the frame builder relies on them). */
static size_t save_state(void)
{
	unsigned eax = 0, ebx = 576, ecx = 0, edx = 0, xcr0_lo, xcr0_hi;
	uint32_t sw[12] = { 0x46505853U };	/* FP_XSTATE_MAGIC1 */

	__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx);
	__asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
	frame_wide = (xcr0_lo & 0xe0) == 0xe0;	/* opmask, ZMM_Hi256, Hi16_ZMM */
	memset(frame_vec_in, PATTERN, sizeof(frame_vec_in));
	for (int r = 0; r < 32; r++)
		frame_vec_in[r][63 - r] = (unsigned char)r;
	if (frame_wide)
		__asm__ volatile(".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,"
				 "23,24,25,26,27,28,29,30,31\n\t"
				 "vmovdqu64 \\n*64(%0), %%zmm\\n\n\t.endr"
				 :: "r"(frame_vec_in) : "memory");
	else
		__asm__ volatile(".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
				 "movdqu \\n*64(%0), %%xmm\\n\n\t.endr" :: "r"(frame_vec_in) : "memory");
	__asm__ volatile("xsave64 (%0)" :: "r"(image), "a"(-1), "d"(-1) : "memory");
	sw[1] = ebx + 4;		/* extended_size */
	sw[2] = xcr0_lo;		/* xfeatures */
	sw[3] = xcr0_hi;
	sw[4] = ebx;			/* xstate_size */
	memcpy(image + 464, sw, sizeof(sw));
	return ebx;
}

START_TEST(rt_sigreturn_through_the_frame_restores_everything)
{
	pid_t child = fork();
	int st;

	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct user_regs_struct r = { 0 };
		struct inject_layout l;
		uint64_t rsp = (uint64_t)(stack + sizeof(stack)), mask;
		sigset_t usr1;
		size_t xlen = save_state();
		static uint8_t buf[16384 + 1024];

		/* The state to go back to: rip at the landing, a stack of its
		 * own, a marker in rdi, SIGUSR1 blocked. */
		__asm__ volatile("mov %%cs, %0\n\tmov %%ss, %1" : "=r"(r.cs), "=r"(r.ss));
		__asm__ volatile("pushf\n\tpop %0" : "=r"(r.eflags));
		r.rip = (uint64_t)frame_landing;
		r.rsp = rsp - 1024;
		r.rdi = MAGIC_RDI;
		r.orig_rax = (uint64_t)-1;
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		memcpy(&mask, &usr1, sizeof(mask));
		inject_frame_plan(rsp - 32768, xlen, 0, &l);
		inject_frame_build(&l, &r, mask, image, xlen, true, 0, buf);
		memcpy((void *)l.frame, buf, l.end - l.frame);
		/* Scribble over the vector registers, then rt_sigreturn. */
		memset(frame_vec_out, 0, sizeof(frame_vec_out));
		__asm__ volatile("vpxor %%xmm0, %%xmm0, %%xmm0\n\tpxor %%xmm15, %%xmm15" ::: "xmm0",
				 "xmm15");
		__asm__ volatile("mov %0, %%rsp\n\tmov $15, %%eax\n\tsyscall" :: "r"(l.frame + 8)
				 : "memory");
		_exit(20);	/* not reached */
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x (11: rdi, 12: "
		      "vector registers, 13: mask, signal: a bad frame)", st);
}
END_TEST

Suite *inject_frame_suite(void)
{
	Suite *s = suite_create("inject_frame");
	TCase *tc = tcase_create("unit");

	tcase_add_test(tc, restart_encoding_is_the_kernels);
	tcase_add_test(tc, layout_leaves_the_red_zone_and_aligns);
	tcase_add_test(tc, rt_sigreturn_through_the_frame_restores_everything);
	suite_add_tcase(s, tc);
	return s;
}
