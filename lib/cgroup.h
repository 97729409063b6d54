/* The target's container limits, on cgroup v1, v2 and hybrid hosts.
 *
 * Found through /proc/<pid>/cgroup and /proc/<pid>/mountinfo: a cgroup path
 * is mapped to a directory as mount point + (path minus the mount's root).
 * The effective limit is the lowest one walking up to the mount root.
 * `root` is a prefix for every path read ("" on a live system, a fake tree in
 * tests).  "No limit" and "cannot tell" are UNSET, never a huge number.
 */
#ifndef HEAPDOC_CGROUP_H
#define HEAPDOC_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct cgroup_limits {
	int version;		/* 2, 1, or 0 when the process is in no cgroup heapdoc can read */
	bool hybrid;		/* v1 controllers with cgroup2 mounted beside them */
	char path[512];		/* the memory controller's cgroup path, as /proc/<pid>/cgroup says */
	char dir[1024];		/* the directory its files were read from */

	uint64_t memory_max;	/* effective: lowest limit up to the mount root */
	uint64_t memory_high;	/* v2 only; effective likewise */
	uint64_t memory_current;
	uint64_t memory_peak;	/* v2 memory.peak (5.19+), v1 max_usage_in_bytes */
	uint64_t anon, file, inactive_file;	/* memory.stat (v1: total_rss, total_cache, total_inactive_file) */
	uint64_t oom_kills;	/* memory.events oom_kill (v2) */
	char memory_max_dir[1024];	/* the directory whose limit is the effective one */

	uint64_t cpu_quota_us;	/* effective quota per period; UNSET: none */
	uint64_t cpu_period_us;
	double cpu_quota_cores;	/* quota/period (0.5 = half a core); NAN: no quota */
	unsigned cpuset_cpus;	/* CPUs in the cpuset; 0: unknown */
	unsigned effective_cpus; /* min(affinity, cpuset, ceil(quota/period)) */
};

/* Fills out for pid.  affinity_cpus is the process's own CPU mask size
 * (proc_status.cpus_allowed), 0 if unknown. */
int cgroup_limits_for(const char *root, pid_t pid, unsigned affinity_cpus,
		      struct cgroup_limits *out, struct error *err);

/* Usage that counts toward an OOM kill: current minus inactive file pages. */
uint64_t cgroup_working_set(const struct cgroup_limits *cg);

#endif
