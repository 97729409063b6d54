/* The target's container limits, on cgroup v1, v2 and hybrid hosts.
 *
 * Found through /proc/<pid>/cgroup and a mountinfo: a cgroup path is mapped
 * to a directory as mount point + (path minus the mount's root).  Limits a
 * parent can tighten (memory.max, memory.high, the CPU quota) are the lowest
 * one walking up from the process's cgroup to the mount point.
 *
 * `root` is a prefix for every path read ("" on a live system, a fake tree
 * in tests).  "No limit" and "cannot tell" are UNSET (NAN for
 * cpu_quota_cores, 0 for the CPU counts), never a huge number.  A file the
 * kernel does not have (an older kernel, a controller not mounted or not
 * enabled) leaves its figures unset and is not an error.
 */
#ifndef HEAPDOC_CGROUP_H
#define HEAPDOC_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/cgroup.h"


/* Fills out for pid.  affinity_cpus is the process's own CPU mask size
 * (proc_status.cpus_allowed), 0 if unknown.
 *
 * The directories: when heapdoc's own mount namespace (root/proc/self/
 * mountinfo) has the hierarchy mounted over the process's cgroup, that view
 * is used (on a host, it sees the parents of a container's cgroup too);
 * otherwise the process's own mounts, read through /proc/<pid>/root when it
 * is in another mount namespace.
 *
 * Returns 0, or -ESRCH (no such process), -EACCES (a file may not be read),
 * -EIO (a file does not parse; the message names it), -ENAMETOOLONG. */
int cgroup_limits_for(const char *root, pid_t pid, unsigned affinity_cpus,
		      struct cgroup_limits *out, struct error *err);

/* The cgroup's OOM kill count now (v2 memory.events, v1 memory.oom_control
 * oom_kill), read from the directory cgroup_limits_for found: it still
 * answers after the process is gone.  UNSET when it cannot be read. */
uint64_t cgroup_oom_kills(const struct cgroup_limits *cg);


#endif
