/* What lib/observe/symbols*.c share (internal to them). */
#ifndef HEAPDOC_SYMBOLS_INT_H
#define HEAPDOC_SYMBOLS_INT_H

#include <elfutils/libdwfl.h>
#include <sys/types.h>

#include "observe/symbols.h"

struct symbols {
	pid_t pid;
	Dwfl *dwfl;
	/* libdwfl keeps a pointer to its callbacks: they live as long as s. */
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;
	char exe[4096];		/* the executable's path, as maps names it */
};

/* A struct sym_module is a Dwfl_Module; the cast keeps libdwfl out of the
 * header so that callers need not include it. */
static inline Dwfl_Module *symbols_dwmod(struct sym_module *m)
{
	return (Dwfl_Module *)m;
}

#endif
