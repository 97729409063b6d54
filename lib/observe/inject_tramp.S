/* The trampoline: the only code heapdoc puts into a target (x86-64).
 *
 * heapdoc copies these bytes into a private, read+execute page it maps in
 * the target for one injection session (lib/observe/inject.c says why), and
 * points the borrowed thread at inject_tramp_run with %rbx holding the data
 * block (inject_tramp.h) and %rsp a 16-byte aligned stack top.  The code is
 * position-independent and never runs inside heapdoc: it lives in .rodata.
 *
 * inject_tramp_run:
 *	makes each call of the batch, storing %rax after each; then marks the
 *	batch done and waits (ppoll with no descriptors) for heapdoc, which
 *	interrupts the wait and takes the thread from there.
 * If the wait ends on its own, heapdoc is gone (killed, crashed) or stuck:
 *	the thread puts its errno back, then jumps to munmap(page) with the
 *	stack pointer at the restore frame, so munmap returns into the
 *	restorer (rt_sigreturn), which puts back every register, the vector
 *	state and the signal mask of the thread as it was before the session.
 *	Nothing of heapdoc stays in the process.
 */
#include "inject_tramp.h"

	.section .rodata
	.globl	inject_tramp_begin, inject_tramp_run, inject_tramp_end
	.p2align 4
inject_tramp_begin:
inject_tramp_run:
	xorl	%r12d, %r12d			/* call index: callee-saved */
	leaq	TRAMP_CALLS(%rbx), %r13		/* the call: callee-saved */
1:	cmpq	TRAMP_NCALLS(%rbx), %r12
	jae	2f
	movq	TRAMP_CALL_ARGS+0(%r13), %rdi
	movq	TRAMP_CALL_ARGS+8(%r13), %rsi
	movq	TRAMP_CALL_ARGS+16(%r13), %rdx
	movq	TRAMP_CALL_ARGS+24(%r13), %rcx
	movq	TRAMP_CALL_ARGS+32(%r13), %r8
	movq	TRAMP_CALL_ARGS+40(%r13), %r9
	xorl	%eax, %eax			/* no vector arguments (varargs) */
	call	*TRAMP_CALL_FN(%r13)
	movq	%rax, TRAMP_CALL_RET(%r13)
	incq	%r12
	addq	$TRAMP_CALL_SIZE, %r13
	jmp	1b
2:	movq	$TRAMP_DONE, TRAMP_STATE(%rbx)
	xorl	%edi, %edi			/* ppoll(NULL, 0, &wait, NULL, 8) */
	xorl	%esi, %esi
	leaq	TRAMP_WAIT(%rbx), %rdx
	xorl	%r10d, %r10d
	movl	$8, %r8d
	movl	$TRAMP_SYS_PPOLL, %eax
	syscall
	/* heapdoc did not take the thread: go back on our own. */
	movq	$TRAMP_LEAVING, TRAMP_STATE(%rbx)
	movq	TRAMP_ERRNO_PTR(%rbx), %rax
	testq	%rax, %rax
	jz	3f
	movl	TRAMP_ERRNO(%rbx), %ecx
	movl	%ecx, (%rax)
3:	movq	TRAMP_PAGE(%rbx), %rdi
	movl	$4096, %esi
	movq	TRAMP_MUNMAP(%rbx), %rax
	movq	TRAMP_RESTORE_SP(%rbx), %rsp	/* [rsp] is the restorer */
	jmp	*%rax
inject_tramp_end:

	.section .note.GNU-stack, "", @progbits
