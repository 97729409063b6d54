/* The layout shared by the trampoline (inject_tramp.S) and lib/observe/inject:
 * the data block the trampoline works from, at a 16-byte aligned address held
 * in %rbx.  Only numbers here: the file is included by assembly and by C.
 */
#ifndef HEAPDOC_INJECT_TRAMP_H
#define HEAPDOC_INJECT_TRAMP_H

/* The data block (all fields 8 bytes). */
#define TRAMP_STATE		0	/* TRAMP_RUNNING, TRAMP_DONE, TRAMP_LEAVING */
#define TRAMP_NCALLS		8	/* calls in this batch */
#define TRAMP_WAIT		16	/* struct timespec: how long to wait for heapdoc */
#define TRAMP_RESTORE_SP	32	/* the restore frame's first word: the restorer */
#define TRAMP_MUNMAP		40	/* the target's munmap */
#define TRAMP_PAGE		48	/* the trampoline's own page */
#define TRAMP_ERRNO_PTR		56	/* the borrowed thread's errno, 0 if unknown */
#define TRAMP_ERRNO		64	/* its value before the session (low 32 bits) */
#define TRAMP_CALLS		72	/* TRAMP_MAX_CALLS calls: */
#define TRAMP_CALL_FN		0	/*   the function */
#define TRAMP_CALL_ARGS		8	/*   six integer arguments */
#define TRAMP_CALL_RET		56	/*   %rax when it returned */
#define TRAMP_CALL_SIZE		64
#define TRAMP_MAX_CALLS		32
#define TRAMP_DATA_SIZE		(TRAMP_CALLS + TRAMP_MAX_CALLS * TRAMP_CALL_SIZE)

/* TRAMP_STATE */
#define TRAMP_RUNNING		0	/* the batch is running */
#define TRAMP_DONE		1	/* every call returned; waiting for heapdoc */
#define TRAMP_LEAVING		2	/* heapdoc did not come: on its way back */

#define TRAMP_SYS_PPOLL		271	/* x86-64 */

#endif
