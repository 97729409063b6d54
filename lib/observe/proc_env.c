/* What a process started with: /proc/<pid>/environ and /proc/<pid>/auxv. */
#include "observe/proc.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "observe/proc_file.h"

/* The initial environment lives on the stack, capped by the kernel at a
 * quarter of RLIMIT_STACK; anything larger than this is not an environ. */
#define ENVIRON_MAX (64u << 20)
/* auxv is a few dozen pairs (AT_VECTOR_SIZE in the kernel). */
#define AUXV_MAX (64u << 10)

int proc_read_environ(const char *root, pid_t pid, struct environ *out, struct error *err)
{
	int ret;

	ret = proc_slurp(root, pid, "environ", ENVIRON_MAX, &out->buf, &out->len, err);
	if (ret < 0)
		return ret;
	/* Empty is legitimate (env -i), and also what a process that exited
	 * after the open leaves behind. */
	if (!out->len) {
		ret = proc_explain_no_memory(root, pid, err);
		if (ret < 0)
			environ_free(out);
	}
	return ret;
}

/* auxv is (type, value) pairs of the kernel's unsigned long, ending with
 * AT_NULL.  heapdoc is built 64-bit, so are the pairs: a 32-bit target's
 * auxv has 4-byte pairs and is not read here. */
int proc_read_auxv(const char *root, pid_t pid, struct auxv *out, struct error *err)
{
	uint64_t pair[2];
	char path[4096];
	char *buf;
	size_t len, off;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = proc_slurp(root, pid, "auxv", AUXV_MAX, &buf, &len, err);
	if (ret < 0)
		return ret;
	snprintf(path, sizeof(path), "%s/proc/%d/auxv", root, pid);
	if (len % sizeof(pair)) {
		ret = error_set(err, -EIO, "%s: %zu bytes, not whole (type, value) "
				"pairs of 8-byte words", path, len);
		goto out;
	}
	for (off = 0; off < len; off += sizeof(pair)) {
		memcpy(pair, buf + off, sizeof(pair));
		switch (pair[0]) {
		case AT_NULL:
			goto out;
		case AT_ENTRY:
			out->entry = pair[1];
			break;
		case AT_BASE:
			out->base = pair[1];
			break;
		case AT_PHDR:
			out->phdr = pair[1];
			break;
		case AT_PAGESZ:
			out->pagesz = pair[1];
			break;
		case AT_SYSINFO_EHDR:
			out->sysinfo_ehdr = pair[1];
			break;
		}
	}
	if (len == 0) {
		ret = proc_explain_no_memory(root, pid, err);
		if (ret < 0)
			goto out;
	}
	ret = error_set(err, -EIO, "%s: no AT_NULL at the end", path);
out:
	free(buf);
	return ret;
}
