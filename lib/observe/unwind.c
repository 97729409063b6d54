#include "observe/unwind.h"

#include <errno.h>
#include <libunwind-ptrace.h>
#include <stdlib.h>

struct unwinder {
	unw_addr_space_t as;
};

int unwind_open(struct unwinder **out, struct error *err)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return error_set(err, -ENOMEM, "out of memory");
	u->as = unw_create_addr_space(&_UPT_accessors, 0);
	if (!u->as) {
		free(u);
		return error_set(err, -ENOMEM, "libunwind: cannot create an address space");
	}
	/* Unwind tables stay valid while the target's mappings do: keep them
	 * across threads and samples. */
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	*out = u;
	return 0;
}

void unwind_close(struct unwinder *u)
{
	if (!u)
		return;
	unw_destroy_addr_space(u->as);
	free(u);
}

int unwind_thread(struct unwinder *u, pid_t tid, struct unwind_frame *out, size_t max,
		  size_t *n, bool *truncated, bool *whole, struct error *err)
{
	bool exact_ip = true, ended = false;
	unw_cursor_t c;
	void *upt;
	int r;

	*n = 0;
	*truncated = false;
	if (whole)
		*whole = false;
	upt = _UPT_create(tid);
	if (!upt)
		return error_set(err, -ENOMEM, "out of memory");
	r = unw_init_remote(&c, u->as, upt);
	if (r < 0) {
		r = error_set(err, -EIO, "cannot unwind thread %d: %s", tid, unw_strerror(r));
		goto out;
	}
	for (;;) {
		unw_word_t ip = 0;

		if (*n == max) {
			*truncated = true;
			break;
		}
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		out[(*n)++] = (struct unwind_frame){ .ip = ip, .return_address = !exact_ip };
		/* The frame a signal interrupted resumes at its exact ip; every
		 * other caller's ip is a return address. */
		exact_ip = unw_is_signal_frame(&c) > 0;
		/* 0: the outermost frame; < 0: no way further (no unwind
		 * info, a corrupt stack).  Either way, what we have stands. */
		r = unw_step(&c);
		if (r <= 0) {
			ended = r == 0;
			break;
		}
	}
	r = 0;
	if (whole)
		*whole = ended;
out:
	_UPT_destroy(upt);
	return r;
}
