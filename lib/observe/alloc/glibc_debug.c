/* glibc's debugging settings, read from the running process (glibc.h).
 *
 * Since 2.34 malloc-check lives in libc_malloc_debug.so, which carries a
 * whole copy of malloc: with glibc.malloc.check set, that copy (its own
 * main_arena, mp_ and perturb_byte) serves every allocation and libc's
 * stays idle.  Which one is in force is what the library's
 * __malloc_debugging_hooks says; the environment only says what was asked
 * for, and is ignored when the library is not loaded.
 */
#include "observe/alloc/glibc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "observe/alloc/glibc_layout.h"
#include "observe/symbols.h"

/* A 4-byte static of module m, or -1 when it cannot be read. */
static int64_t read_int(struct target *t, struct sym_module *m, const char *name, int *rc,
			struct error *err)
{
	struct sym_info sym;
	uint32_t v;

	*rc = 0;
	if (!m || symbols_lookup_in(m, name, &sym, NULL) < 0 || sym.size != sizeof(v))
		return -1;
	*rc = target_read_exact(t, sym.addr, &v, sizeof(v), err);
	if (*rc < 0) {
		if (*rc != -ESRCH && *rc != -EINTR)
			*rc = 0;
		return -1;
	}
	return v;
}

int glibc_read_debug_state(struct glibc_reader *r, struct target *t,
			   struct glibc_debug_state *out, struct error *err)
{
	const char *slash = strrchr(r->gs.module, '/');
	/* The file main_arena was found in: libc.so.6, or a static executable. */
	struct sym_module *libc = symbols_module_named(r->syms, slash ? slash + 1 : r->gs.module);
	struct sym_module *dbg = symbols_module_named(r->syms, "libc_malloc_debug.so");
	struct sym_module_info info;
	int rc;

	memset(out, 0, sizeof(*out));
	out->debug_hooks = out->debug_perturb_byte = -1;
	out->perturb_byte = read_int(t, libc, "perturb_byte", &rc, err);
	if (rc < 0 || !dbg)
		return rc;
	symbols_module_info(dbg, &info);
	snprintf(out->debug_lib, sizeof(out->debug_lib), "%s", info.name);
	out->debug_hooks = read_int(t, dbg, "__malloc_debugging_hooks", &rc, err);
	if (rc == 0)
		out->debug_perturb_byte = read_int(t, dbg, "perturb_byte", &rc, err);
	return rc;
}
