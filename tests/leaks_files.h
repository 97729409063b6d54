/* What more than one file of heapdoc leaks' tests needs: a temporary file
 * of the test's own, and the output of an outside command (go tool pprof,
 * jeprof, a listing of the target's /tmp). */
#ifndef HEAPDOC_TESTS_LEAKS_FILES_H
#define HEAPDOC_TESTS_LEAKS_FILES_H

#include <stdio.h>
#include <unistd.h>

#include "testlib.h"

static inline void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/heapdoc-leaks-test-%d-%s", (int)getpid(), name);
}

/* popen(cmd): its stdout into out (NUL-terminated, cut to len); pclose's status. */
static inline int run_tool(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

#endif
