/* Private to lib/observe/cgroup*.c: the hierarchies a process is in and
 * where their directories are (cgroup_paths.c: steps 1 and 2 of cgroup.c's
 * plan), and reading their small files. */
#ifndef HEAPDOC_OBSERVE_CGROUP_INT_H
#define HEAPDOC_OBSERVE_CGROUP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/cgroup.h"

#define DIR_MAX sizeof(((struct cgroup_limits *)0)->dir)
#define TEXT_MAX (16u << 20)	/* the largest file read: a busy node's mountinfo */

/* The hierarchies heapdoc reads.  On v1 each controller can be a hierarchy
 * of its own (or share one: "cpu,cpuacct"); on v2 there is one. */
enum hier_id { HIER_V2, HIER_MEMORY, HIER_CPU, HIER_CPUSET, HIER_COUNT };


struct hier {
	bool member;		/* /proc/<pid>/cgroup has a line for it */
	char path[sizeof(((struct cgroup_limits *)0)->path)];
	bool found;		/* dir is known */
	bool approximate;	/* dir is a mount point standing in for path */
	char dir[DIR_MAX];	/* the cgroup's directory */
	size_t top_len;		/* dir's first top_len bytes: the mount point, where walks stop */
};

struct text {
	char *buf;		/* NUL-terminated, malloc'd */
	size_t len;
};

/* "memory", "cpu", "cpuset" for the v1 hierarchies; NULL for HIER_V2. */
extern const char *const cgroup_hier_controller[HIER_COUNT];

/* The next line of *cursor, cut in place; NULL at the end.  Empty lines are
 * returned too, so that callers count lines as an editor does. */
char *cgroup_line_next(char **cursor);

/* Reads path whole.  1: read; 0: no such file (an older kernel, a controller
 * not mounted or not enabled here); negative: an error, set in err. */
int cgroup_text_read(const char *path, struct text *t, struct error *err);

/* buf = a followed by b, or -ENAMETOOLONG. */
int cgroup_join(char *buf, size_t len, const char *a, const char *b, struct error *err);

/* Step 1: the lines "ID:controllers:path" of /proc/<pid>/cgroup (text, cut
 * in place) into the hierarchies' paths; file names it in messages. */
int cgroup_membership_parse(char *text, const char *file, struct hier h[], struct error *err);

/* Step 2: a directory for every hierarchy the process is a member of. */
int cgroup_hiers_resolve(const char *root, pid_t pid, struct hier h[], struct error *err);

#endif
