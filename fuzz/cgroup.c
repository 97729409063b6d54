/* Fuzzer: the cgroup reader (lib/observe/cgroup.c) on fake trees.
 *
 * Each input is a tree (fuzz/tree.h): /proc/<pid>/cgroup, the mountinfo
 * files (proc/self and the process's own), the ns/mnt links that say
 * whether they differ, and the cgroup files under the mount points.
 * cgroup_limits_for runs for every pid under proc/, with the limits walk
 * up to each mount point.  Besides the sanitizers, what cgroup.h promises
 * is checked: unknown is UNSET (NAN, 0), never a garbage figure; the
 * effective CPU count is at least 1 when anything bounds it.
 *
 * Corpus: fuzz/corpus/cgroup, one seed per fixture tree (fixtures/cgroup-*).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "observe/cgroup.h"
#include "tree.h"

static char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = fuzz_dir("cgroup");
	return 0;
}

static void check_limits(pid_t pid, const struct cgroup_limits *cg, unsigned affinity)
{
	FUZZ_CHECK(cg->version >= 0 && cg->version <= 2, "pid %d: version %d", pid, cg->version);
	FUZZ_CHECK(memchr(cg->path, '\0', sizeof(cg->path)) && memchr(cg->dir, '\0', sizeof(cg->dir)),
		   "pid %d: path not terminated", pid);
	if (!cg->version)
		FUZZ_CHECK(!IS_SET(cg->memory_max) && !IS_SET(cg->memory_current) &&
			   isnan(cg->cpu_quota_cores), "pid %d: figures without a cgroup", pid);
	if (isnan(cg->cpu_quota_cores))
		FUZZ_CHECK(!IS_SET(cg->cpu_quota_us) || !IS_SET(cg->cpu_period_us),
			   "pid %d: a quota and a period, but no quota in cores", pid);
	else
		FUZZ_CHECK(cg->cpu_quota_cores > 0 && IS_SET(cg->cpu_quota_us) &&
			   IS_SET(cg->cpu_period_us) && cg->cpu_period_us,
			   "pid %d: %g cores from %llu/%llu", pid, cg->cpu_quota_cores,
			   (unsigned long long)cg->cpu_quota_us,
			   (unsigned long long)cg->cpu_period_us);
	if (affinity || cg->cpuset_cpus ||
	    (!isnan(cg->cpu_quota_cores) &&
	     cg->cpu_quota_us / cg->cpu_period_us < UINT_MAX))
		FUZZ_CHECK(cg->effective_cpus >= 1, "pid %d: 0 effective CPUs", pid);
	if (affinity)
		FUZZ_CHECK(cg->effective_cpus <= affinity, "pid %d: %u CPUs above affinity %u",
			   pid, cg->effective_cpus, affinity);
	if (IS_SET(cg->memory_current))
		(void)cgroup_working_set(cg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned affinity[] = { 0, 1, 64 };
	pid_t pids[4];
	size_t n;

	fuzz_tree_build(dir, data, size);
	n = fuzz_tree_pids(dir, pids, sizeof(pids) / sizeof(*pids));
	for (size_t i = 0; i < n; i++) {
		unsigned cpus = affinity[(size + i) % 3];
		struct cgroup_limits cg;
		struct error err = { 0 };
		int rc = cgroup_limits_for(dir, pids[i], cpus, &cg, &err);

		FUZZ_CHECK(rc <= 0, "cgroup_limits_for(%d) returned %d", pids[i], rc);
		if (rc < 0)
			FUZZ_CHECK(err.code == rc && err.msg[0], "pid %d: failed (%d) without "
				   "saying why", pids[i], rc);
		else
			check_limits(pids[i], &cg, cpus);
	}
	fuzz_dir_clear(dir);
	return 0;
}
