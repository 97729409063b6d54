/* Reading a whole small file: /proc and cgroup files, a preload list. */
#ifndef HEAPDOC_BASE_FILE_H
#define HEAPDOC_BASE_FILE_H

#include <stddef.h>

#include "base/error.h"

/* Reads fd to its end into a malloc'd buffer with a NUL after its *len
 * bytes.  path names it in messages.  -EFBIG beyond max bytes ("<path>:
 * larger than N bytes"), -ENOMEM, or the read's -errno ("<path>: <why>"),
 * which callers that know better (proc_failed) say again their way. */
int file_read_fd(int fd, const char *path, size_t max, char **buf, size_t *len,
		 struct error *err);

/* The same for the file at path: -errno of open ("<path>: <why>") too. */
int file_read(const char *path, size_t max, char **buf, size_t *len, struct error *err);

#endif
