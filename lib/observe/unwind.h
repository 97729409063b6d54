/* Walking a held thread's stack: heapdoc's one unwinder (libunwind-ptrace,
 * with the DWARF CFI of the target's own .eh_frame).
 *
 * An unwinder keeps libunwind's address space for one process, so the
 * unwind tables it loads serve every thread and every sample while the
 * mappings stay as they were.  Use it from the thread that attached
 * (ptrace's rule), on threads held by target_stop().
 */
#ifndef HEAPDOC_OBSERVE_UNWIND_H
#define HEAPDOC_OBSERVE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct unwinder;

struct unwind_frame {
	uint64_t ip;
	/* ip is a return address (a caller's frame): the call instruction is
	 * just before it.  False for the innermost frame and for a frame a
	 * signal interrupted, which resume at ip itself. */
	bool return_address;
};

int unwind_open(struct unwinder **u, struct error *err);
void unwind_close(struct unwinder *u);

/* The frames of held thread tid, innermost first, at most max of them,
 * into out[*n]; *truncated when the stack is deeper.  An unwind that stops
 * early (no unwind info, a corrupt stack) is not an error: out has the
 * frames found so far, and *whole (if not NULL) says whether the unwind
 * reached the outermost frame, as its unwind info marks it.  -EIO when
 * libunwind cannot start on the thread. */
int unwind_thread(struct unwinder *u, pid_t tid, struct unwind_frame *out, size_t max,
		  size_t *n, bool *truncated, bool *whole, struct error *err);

#endif
