/* Private to lib/proc*.c: opening and reading files under <root>/proc/<pid>/
 * and turning each failure into the error a user can act on.
 *
 * Every open goes through the pid's directory first, so a missing directory
 * reads "no such process" while a file that fails after it was found reads
 * "exited while being read" (or "is a zombie" / "is a kernel thread" when
 * that is why the file is empty or refused).
 */
#ifndef HEAPDOC_PROC_FILE_H
#define HEAPDOC_PROC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/parse.h"

/* The longest line accepted.  The kernel's lines are far shorter (a mapping's
 * path is at most PATH_MAX, ×4 when escaped); a longer one is not /proc. */
#define PROC_LINE_MAX (1u << 20)

/* A /proc file read line by line. */
struct proc_file {
	const char *root;
	pid_t pid;
	const char *name;	/* "status", "smaps", ... */
	char path[4096];	/* the whole path, for messages */
	FILE *f;
	char *line;		/* the current line, NUL-terminated, no '\n' */
	size_t len, cap;
	unsigned lineno;	/* of the current line, from 1; 0 before the first */
};

int proc_file_open(struct proc_file *pf, const char *root, pid_t pid,
		   const char *name, struct error *err);
/* 1 with the next line in pf->line, 0 at the end, or a negative error. */
int proc_file_next(struct proc_file *pf, struct error *err);
void proc_file_close(struct proc_file *pf);
/* -EIO "<path> line N: <what>", N being the current line. */
int proc_file_bad(const struct proc_file *pf, struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens <root>/proc/<pid>/<name> with flags; the fd or a negative error.
 * path receives the whole path (for messages). */
int proc_open(const char *root, pid_t pid, const char *name, int flags,
	      char *path, size_t pathlen, struct error *err);

/* Opens the directory <root>/proc/<pid>/<name> ("task", "fd") for readdir;
 * errors as proc_open.  path receives the whole path. */
int proc_opendir(const char *root, pid_t pid, const char *name, DIR **dir, char *path,
		 size_t pathlen, struct error *err);

/* Reads a whole (binary) file into a malloc'd buffer with one NUL byte
 * after its len bytes (base/file.h); more than max bytes is -EFBIG. */
int proc_slurp(const char *root, pid_t pid, const char *name, size_t max,
	       char **buf, size_t *len, struct error *err);

/* Turns errnum from opening or reading <root>/proc/<pid>/<name> into the
 * error to report (see the top of this file). */
int proc_failed(const char *root, pid_t pid, const char *name, const char *path,
		int errnum, struct error *err);

/* Why a process has no memory to read, when that is the reason: -EOPNOTSUPP
 * for a zombie or a kernel thread, -ESRCH when it is gone, 0 when it looks
 * like an ordinary live process. */
int proc_explain_no_memory(const char *root, pid_t pid, struct error *err);

int proc_zombie_error(pid_t pid, struct error *err);
int proc_kthread_error(pid_t pid, const char *name, struct error *err);

#endif
