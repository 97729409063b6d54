/* The target's container limits, as lib/observe/cgroup.c found them.
 *
 * "No limit" and "cannot tell" are UNSET (NAN for cpu_quota_cores, 0 for
 * the CPU counts), never a huge number.
 */
#ifndef HEAPDOC_MODEL_CGROUP_H
#define HEAPDOC_MODEL_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

struct cgroup_limits {
	/* The hierarchy the memory figures come from: 1 when the v1 memory
	 * controller is mounted, else 2; 0 when the process is in no cgroup
	 * heapdoc can find a directory for (then every figure is unset). */
	int version;
	bool hybrid;		/* v1 controllers with cgroup2 mounted beside them */
	/* The cgroup path could not be mapped into a mount (it starts with
	 * "/..": a cgroup outside heapdoc's cgroup namespace), so the figures
	 * are those of the mount point itself, the nearest cgroup heapdoc can
	 * see: in a container, the container's own cgroup. */
	bool approximate;
	char path[512];		/* the memory hierarchy's cgroup path, as /proc/<pid>/cgroup says */
	char dir[1024];		/* the directory its files were read from (root included) */

	uint64_t memory_max;	/* effective: the lowest limit up to the mount point */
	uint64_t memory_high;	/* v2 only; effective likewise */
	uint64_t memory_current; /* v2 memory.current, v1 memory.usage_in_bytes */
	uint64_t memory_peak;	/* v2 memory.peak (5.19+), v1 memory.max_usage_in_bytes */
	uint64_t anon, file, inactive_file;	/* memory.stat (v1: total_rss, total_cache, total_inactive_file) */
	uint64_t oom_kills;	/* v2 memory.events oom_kill, v1 memory.oom_control oom_kill (4.13+) */
	/* The directory whose own limit is memory_max.  "" when memory_max is
	 * unset, or when v1's hierarchical_memory_limit (the kernel's own
	 * figure) is lower than every limit heapdoc can see: the limit is then
	 * set above the mount point. */
	char memory_max_dir[1024];

	uint64_t cpu_quota_us;	/* effective quota per period; UNSET: none */
	uint64_t cpu_period_us;	/* the period that goes with cpu_quota_us; UNSET: none */
	double cpu_quota_cores;	/* quota/period (0.5 = half a core); NAN: no quota */
	char cpu_max_dir[1024];	/* the directory whose quota is the effective one; "" if none */
	unsigned cpuset_cpus;	/* CPUs in the cpuset (v2 cpuset.cpus.effective, v1 cpuset.cpus); 0: unknown */
	/* min(affinity_cpus, cpuset_cpus, ceil(quota/period)) over the figures
	 * that are known; at least 1 when any is, 0 when none is (the caller
	 * then falls back to the host's online CPUs).  A quota of more than
	 * UINT_MAX CPUs bounds nothing. */
	unsigned effective_cpus;
};

/* Every figure unknown: what an observation holds when the cgroup could not
 * be read. */
void cgroup_limits_unset(struct cgroup_limits *cg);

/* Usage that counts toward an OOM kill: memory_current minus inactive_file,
 * never below 0; UNSET when memory_current is. */
uint64_t cgroup_working_set(const struct cgroup_limits *cg);

#endif
