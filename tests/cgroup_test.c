/* lib/cgroup: container limits on committed fake trees (v1, v2, hybrid,
 * parents tighter than the leaf, "/.." paths, escaped mount points, a
 * container seen from the host), the errors it names, and damaged copies
 * of the trees.  Live on this machine's v1 hierarchy: cgroup_live_test.c.
 *
 * Every expected figure is derived in a comment from the fake files under
 * fixtures/cgroup-*, never from heapdoc's own output.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observe/cgroup.h"
#include "testlib.h"
#include "base/util.h"
#include "cgroup_figures.h"

#define V2(tree) FAKE_TREE(tree) "/sys/fs/cgroup"

static struct cgroup_limits limits_of(const char *root, pid_t pid, unsigned affinity)
{
	struct cgroup_limits cg;
	struct error err = { 0 };
	int ret = cgroup_limits_for(root, pid, affinity, &cg, &err);

	ck_assert_msg(ret == 0, "%s pid %d: %d %s", root, (int)pid, ret, err.msg);
	return cg;
}

START_TEST(v2_leaf_limits)
{
	/* fixtures/cgroup-v2: 0::/system.slice/app.service, cgroup2 at
	 * /sys/fs/cgroup (root "/").  The leaf sets every limit; its parent
	 * says "max"; the root has no memory.max at all. */
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-v2"), 4242, 16);

	ck_assert_int_eq(cg.version, 2);
	ck_assert(!cg.hybrid);
	ck_assert(!cg.approximate);
	ck_assert_str_eq(cg.path, "/system.slice/app.service");
	ck_assert_str_eq(cg.dir, V2("cgroup-v2") "/system.slice/app.service");
	/* memory.max 536870912 (512 MiB) at the leaf, "max" above. */
	ck_assert_uint_eq(cg.memory_max, 512 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, cg.dir);
	ck_assert_uint_eq(cg.memory_high, 384 * MiB);		/* 402653184 */
	ck_assert_uint_eq(cg.memory_current, 200 * MiB);	/* 209715200 */
	ck_assert_uint_eq(cg.memory_peak, 300 * MiB);		/* 314572800 */
	/* memory.stat: anon 157286400, file 41943040, inactive_file 31457280
	 * (file_mapped, file_dirty, active_anon ... must not be mistaken). */
	ck_assert_uint_eq(cg.anon, 150 * MiB);
	ck_assert_uint_eq(cg.file, 40 * MiB);
	ck_assert_uint_eq(cg.inactive_file, 30 * MiB);
	/* memory.events: "oom 3" is not "oom_kill 2". */
	ck_assert_uint_eq(cg.oom_kills, 2);
	/* cpu.max "150000 100000": 1.5 cores; the parent's "max 100000" is none. */
	ck_assert_uint_eq(cg.cpu_quota_us, 150000);
	ck_assert_uint_eq(cg.cpu_period_us, 100000);
	ck_assert_double_eq(cg.cpu_quota_cores, 1.5);
	ck_assert_str_eq(cg.cpu_max_dir, cg.dir);
	/* cpuset.cpus.effective "0-3,8,10-11": 4 + 1 + 2. */
	ck_assert_uint_eq(cg.cpuset_cpus, 7);
	/* min(affinity 16, cpuset 7, ceil(1.5) = 2). */
	ck_assert_uint_eq(cg.effective_cpus, 2);
	/* current 200 MiB - inactive_file 30 MiB. */
	ck_assert_uint_eq(cgroup_working_set(&cg), 170 * MiB);
}
END_TEST

START_TEST(v2_affinity_can_be_the_smallest)
{
	/* Same tree: min(affinity 1, cpuset 7, 2) = 1. */
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-v2"), 4242, 1);

	ck_assert_uint_eq(cg.effective_cpus, 1);
}
END_TEST

START_TEST(v2_parent_tighter_than_leaf)
{
	/* fixtures/cgroup-v2-parent: 0::/kubepods.slice/pod1.slice/ctr.scope.
	 *   level            memory.max   memory.high  cpu.max         cpuset
	 *   ctr.scope        1 GiB        max          80000 50000     (none)
	 *   pod1.slice       768 MiB      512 MiB      120000 100000   0-3
	 *   kubepods.slice   1.5 GiB      max          300000 100000   0-7
	 * The pod's limits win.  For the CPU, 1.2 < 1.6 < 3.0 cores although
	 * the pod's quota number (120000) is larger than the leaf's (80000). */
	const char *pod = V2("cgroup-v2-parent") "/kubepods.slice/pod1.slice";
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-v2-parent"), 4242, 8);

	ck_assert_int_eq(cg.version, 2);
	ck_assert_str_eq(cg.dir, V2("cgroup-v2-parent") "/kubepods.slice/pod1.slice/ctr.scope");
	ck_assert_uint_eq(cg.memory_max, 768 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, pod);
	ck_assert_uint_eq(cg.memory_high, 512 * MiB);
	ck_assert_uint_eq(cg.cpu_quota_us, 120000);
	ck_assert_uint_eq(cg.cpu_period_us, 100000);
	ck_assert_double_eq(cg.cpu_quota_cores, 1.2);
	ck_assert_str_eq(cg.cpu_max_dir, pod);
	/* The leaf has no cpuset files (controller not enabled there): the
	 * nearest parent's "0-3" applies. */
	ck_assert_uint_eq(cg.cpuset_cpus, 4);
	/* min(8, 4, ceil(1.2) = 2). */
	ck_assert_uint_eq(cg.effective_cpus, 2);
	ck_assert_uint_eq(cg.memory_current, 100 * MiB);	/* 104857600 */
	/* No memory.peak (before 5.19), no oom_kill line (before 4.13). */
	ck_assert_unset(cg.memory_peak);
	ck_assert_unset(cg.oom_kills);
	ck_assert_uint_eq(cg.anon, 80 * MiB);
	ck_assert_uint_eq(cg.file, 20 * MiB);
	ck_assert_uint_eq(cg.inactive_file, 20 * MiB);
	ck_assert_uint_eq(cgroup_working_set(&cg), 80 * MiB);
}
END_TEST

START_TEST(v2_unlimited_is_unset)
{
	/* fixtures/cgroup-v2-unlimited: "max" at every level, cpu.max
	 * "max 100000", no cpuset files anywhere. */
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-v2-unlimited"), 4242, 4);

	ck_assert_int_eq(cg.version, 2);
	ck_assert_str_eq(cg.path, "/user.slice/user-1000.slice/session-1.scope");
	ck_assert_unset(cg.memory_max);
	ck_assert_str_eq(cg.memory_max_dir, "");
	ck_assert_unset(cg.memory_high);
	ck_assert_unset(cg.memory_peak);
	ck_assert_unset(cg.cpu_quota_us);
	ck_assert_unset(cg.cpu_period_us);
	ck_assert(isnan(cg.cpu_quota_cores));
	ck_assert_str_eq(cg.cpu_max_dir, "");
	ck_assert_uint_eq(cg.cpuset_cpus, 0);
	ck_assert_uint_eq(cg.effective_cpus, 4);		/* the affinity alone */
	ck_assert_uint_eq(cg.memory_current, 50 * MiB);
	ck_assert_uint_eq(cg.anon, 40 * MiB);
	ck_assert_uint_eq(cg.file, 10 * MiB);
	ck_assert_uint_eq(cg.inactive_file, 0);
	ck_assert_uint_eq(cg.oom_kills, 0);
	ck_assert_uint_eq(cgroup_working_set(&cg), 50 * MiB);

	/* Nothing known about the CPUs at all: 0, for the caller to fill. */
	cg = limits_of(FAKE_TREE("cgroup-v2-unlimited"), 4242, 0);
	ck_assert_uint_eq(cg.effective_cpus, 0);
}
END_TEST

START_TEST(v1_memory_cpu_cpuset)
{
	/* fixtures/cgroup-v1: memory, cpu,cpuacct and cpuset hierarchies, all
	 * at /docker/abc123; a "0::" line but no cgroup2 mount: not hybrid. */
	const char *cpu = FAKE_TREE("cgroup-v1") "/sys/fs/cgroup/cpu,cpuacct/docker/abc123";
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-v1"), 4242, 4);

	ck_assert_int_eq(cg.version, 1);
	ck_assert(!cg.hybrid);
	ck_assert_str_eq(cg.path, "/docker/abc123");
	ck_assert_str_eq(cg.dir, FAKE_TREE("cgroup-v1") "/sys/fs/cgroup/memory/docker/abc123");
	/* memory.limit_in_bytes 268435456 at the leaf; 9223372036854771712
	 * (no limit) above; hierarchical_memory_limit agrees. */
	ck_assert_uint_eq(cg.memory_max, 256 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, cg.dir);
	ck_assert_unset(cg.memory_high);
	ck_assert_uint_eq(cg.memory_current, 128 * MiB);	/* usage_in_bytes */
	ck_assert_uint_eq(cg.memory_peak, 192 * MiB);		/* max_usage_in_bytes */
	/* total_rss 88080384, total_cache 41943040, total_inactive_file
	 * 12582912, not the cgroup-local rss 2, cache 1, inactive_file 4. */
	ck_assert_uint_eq(cg.anon, 84 * MiB);
	ck_assert_uint_eq(cg.file, 40 * MiB);
	ck_assert_uint_eq(cg.inactive_file, 12 * MiB);
	ck_assert_uint_eq(cg.oom_kills, 1);			/* memory.oom_control */
	/* cfs_quota_us 50000 / cfs_period_us 100000; -1 above. */
	ck_assert_uint_eq(cg.cpu_quota_us, 50000);
	ck_assert_uint_eq(cg.cpu_period_us, 100000);
	ck_assert_double_eq(cg.cpu_quota_cores, 0.5);
	ck_assert_str_eq(cg.cpu_max_dir, cpu);
	ck_assert_uint_eq(cg.cpuset_cpus, 2);			/* cpuset.cpus "2-3" */
	ck_assert_uint_eq(cg.effective_cpus, 1);		/* min(4, 2, ceil(0.5)) */
	ck_assert_uint_eq(cgroup_working_set(&cg), 116 * MiB);	/* 128 - 12 */
}
END_TEST

START_TEST(v1_unlimited_is_unset)
{
	/* fixtures/cgroup-v1-unlimited: limit_in_bytes and
	 * hierarchical_memory_limit are 9223372036854771712, the page-rounded
	 * LONG_MAX; cfs_quota_us -1; cpuset at "/" with effective_cpus "0-3";
	 * an oom_control from before 4.13 without oom_kill. */
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-v1-unlimited"), 4242, 4);

	ck_assert_int_eq(cg.version, 1);
	ck_assert_str_eq(cg.path, "/user.slice");
	ck_assert_unset(cg.memory_max);
	ck_assert_str_eq(cg.memory_max_dir, "");
	ck_assert_unset(cg.memory_high);
	ck_assert_unset(cg.oom_kills);
	ck_assert_unset(cg.cpu_quota_us);
	ck_assert(isnan(cg.cpu_quota_cores));
	ck_assert_uint_eq(cg.memory_current, 700 * MiB);	/* 734003200 */
	ck_assert_uint_eq(cg.memory_peak, 900 * MiB);		/* 943718400 */
	ck_assert_uint_eq(cg.anon, 500 * MiB);
	ck_assert_uint_eq(cg.file, 200 * MiB);
	ck_assert_uint_eq(cg.inactive_file, 100 * MiB);
	ck_assert_uint_eq(cg.cpuset_cpus, 4);
	ck_assert_uint_eq(cg.effective_cpus, 4);
}
END_TEST

START_TEST(hybrid_like_this_machine)
{
	/* fixtures/cgroup-hybrid: separate cpu and cpuacct hierarchies, the
	 * memory cgroup /process_api/d592..., cgroup2 at
	 * /sys/fs/cgroup/unified, and a bind-mounted network namespace whose
	 * root is not a path.  The leaf's limit is the page-rounded
	 * LONG_MAX; its parent /process_api has 2147483648, which
	 * hierarchical_memory_limit confirms. */
	const char *mem = FAKE_TREE("cgroup-hybrid") "/sys/fs/cgroup/memory/process_api";
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-hybrid"), 4242, 2);

	ck_assert_int_eq(cg.version, 1);
	ck_assert(cg.hybrid);
	ck_assert(!cg.approximate);
	ck_assert_str_eq(cg.path, "/process_api/d59265b94ca80e3a0212934d6eabd4c9");
	ck_assert_str_eq(cg.dir, FAKE_TREE("cgroup-hybrid")
			 "/sys/fs/cgroup/memory/process_api/d59265b94ca80e3a0212934d6eabd4c9");
	ck_assert_uint_eq(cg.memory_max, 2048 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, mem);
	ck_assert_uint_eq(cg.memory_current, 3518464);
	ck_assert_uint_eq(cg.memory_peak, 8646656);
	ck_assert_uint_eq(cg.anon, 1687552);
	ck_assert_uint_eq(cg.file, 606208);
	ck_assert_uint_eq(cg.inactive_file, 110592);
	ck_assert_uint_eq(cg.oom_kills, 0);
	/* cpu at "/" with cfs_quota_us -1. */
	ck_assert_unset(cg.cpu_quota_us);
	ck_assert(isnan(cg.cpu_quota_cores));
	ck_assert_uint_eq(cg.cpuset_cpus, 2);			/* "0-1" */
	ck_assert_uint_eq(cg.effective_cpus, 2);
	ck_assert_uint_eq(cgroup_working_set(&cg), 3518464 - 110592);
}
END_TEST

START_TEST(v1_limit_above_the_mount_root)
{
	/* The kernel's hierarchical_memory_limit counts parents heapdoc cannot
	 * see.  Made from cgroup-v1-unlimited's layout in a temporary tree:
	 * every visible limit is "none" but memory.stat says 1 GiB. */
	char root[] = "/tmp/heapdoc-cgroup-XXXXXX", cmd[512];
	struct cgroup_limits cg;

	ck_assert(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "cp -r %s/proc %s/sys %s/ && "
		 "sed -i 's/^hierarchical_memory_limit .*/hierarchical_memory_limit 1073741824/' "
		 "%s/sys/fs/cgroup/memory/user.slice/memory.stat",
		 FAKE_TREE("cgroup-v1-unlimited"), FAKE_TREE("cgroup-v1-unlimited"), root, root);
	ck_assert_int_eq(system(cmd), 0);
	cg = limits_of(root, 4242, 4);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_uint_eq(cg.memory_max, 1024 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, "");	/* set above the mount point */
}
END_TEST

START_TEST(path_outside_namespace_uses_mount_point)
{
	/* fixtures/cgroup-outside-ns: heapdoc has its own cgroup namespace;
	 * pid 4242 shares its mounts but sits in 0::/../../other.slice/...,
	 * which no mount shows.  The mount point (heapdoc's namespace root)
	 * stands in, and the result says so. */
	const char *top = V2("cgroup-outside-ns");
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-outside-ns"), 4242, 2);

	ck_assert_int_eq(cg.version, 2);
	ck_assert(cg.approximate);
	ck_assert_str_eq(cg.path, "/../../other.slice/app.service");
	ck_assert_str_eq(cg.dir, top);
	ck_assert_uint_eq(cg.memory_max, 1024 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, top);
	ck_assert_unset(cg.memory_high);
	ck_assert_uint_eq(cg.memory_current, 300 * MiB);
	ck_assert_uint_eq(cg.inactive_file, 50 * MiB);
	ck_assert_double_eq(cg.cpu_quota_cores, 1.0);		/* "100000 100000" */
	ck_assert_uint_eq(cg.cpuset_cpus, 2);
	ck_assert_uint_eq(cg.effective_cpus, 1);
}
END_TEST

START_TEST(path_outside_namespace_through_proc_root)
{
	/* Same tree, pid 4243: another mount namespace (its ns/mnt link
	 * differs from self's) whose cgroup2 mount has root "/../ctrB", and
	 * its cgroup 0::/../ctrB/worker is below it: read through
	 * /proc/4243/root.  worker: memory.max 256 MiB, cpu.max max; its
	 * mount point: 512 MiB and "25000 100000". */
	const char *top = FAKE_TREE("cgroup-outside-ns") "/proc/4243/root/sys/fs/cgroup";
	char worker[1024];
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-outside-ns"), 4243, 2);

	snprintf(worker, sizeof(worker), "%s/worker", top);
	ck_assert(!cg.approximate);
	ck_assert_str_eq(cg.path, "/../ctrB/worker");
	ck_assert_str_eq(cg.dir, worker);
	ck_assert_uint_eq(cg.memory_max, 256 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, worker);
	ck_assert_uint_eq(cg.memory_current, 64 * MiB);
	ck_assert_uint_eq(cg.cpu_quota_us, 25000);
	ck_assert_double_eq(cg.cpu_quota_cores, 0.25);
	ck_assert_str_eq(cg.cpu_max_dir, top);
	ck_assert_uint_eq(cg.effective_cpus, 1);		/* min(2, ceil(0.25)) */
}
END_TEST

START_TEST(escaped_mount_point)
{
	/* fixtures/cgroup-escaped: mountinfo says root "/pods/a\040b" at
	 * "/run/my\040cgroups"; the process is in "/pods/a b/ctr". */
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-escaped"), 4242, 8);

	ck_assert_str_eq(cg.path, "/pods/a b/ctr");
	ck_assert_str_eq(cg.dir, FAKE_TREE("cgroup-escaped") "/run/my cgroups/ctr");
	ck_assert_uint_eq(cg.memory_max, 64 * MiB);		/* ctr; the top has 128 */
	ck_assert_str_eq(cg.memory_max_dir, cg.dir);
	ck_assert_uint_eq(cg.memory_current, 32 * MiB);
	ck_assert_double_eq(cg.cpu_quota_cores, 0.5);
	ck_assert_uint_eq(cg.effective_cpus, 1);
}
END_TEST

START_TEST(container_seen_from_host)
{
	/* fixtures/cgroup-host-view: the container's own mount shows only its
	 * cgroup (root /kubepods.slice/pod7.slice/cri-ctr.scope); heapdoc's
	 * mount (root "/") shows the pod too, whose memory.max 512 MiB and
	 * cpu.max "200000 100000" are the limits.  The 1 MiB behind
	 * /proc/4242/root would be the wrong pick. */
	const char *pod = V2("cgroup-host-view") "/kubepods.slice/pod7.slice";
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-host-view"), 4242, 8);

	ck_assert(!cg.approximate);
	ck_assert_str_eq(cg.dir, V2("cgroup-host-view") "/kubepods.slice/pod7.slice/cri-ctr.scope");
	ck_assert_uint_eq(cg.memory_max, 512 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, pod);
	ck_assert_uint_eq(cg.memory_current, 90 * MiB);	/* 94371840 */
	ck_assert_double_eq(cg.cpu_quota_cores, 2.0);
	ck_assert_str_eq(cg.cpu_max_dir, pod);
	ck_assert_uint_eq(cg.effective_cpus, 2);
}
END_TEST

START_TEST(stacked_mounts_only_top_is_visible)
{
	/* fixtures/cgroup-stacked: heapdoc has no memory mount of its own and
	 * another mount namespace; the container's mountinfo stacks the
	 * hierarchy's root ("/") and its own cgroup ("/docker/abc") on
	 * /sys/fs/cgroup/memory.  Only the top one is visible: the cgroup's
	 * directory is the mount point, under /proc/4242/root.  Its
	 * limit_in_bytes is 314572800 (300 MiB); the 1 MiB under docker/abc
	 * is where the covered mount would lead. */
	const char *mem = FAKE_TREE("cgroup-stacked") "/proc/4242/root/sys/fs/cgroup/memory";
	struct cgroup_limits cg = limits_of(FAKE_TREE("cgroup-stacked"), 4242, 4);

	ck_assert_int_eq(cg.version, 1);
	ck_assert(!cg.hybrid);
	ck_assert(!cg.approximate);
	ck_assert_str_eq(cg.path, "/docker/abc");
	ck_assert_str_eq(cg.dir, mem);
	ck_assert_uint_eq(cg.memory_max, 300 * MiB);
	ck_assert_str_eq(cg.memory_max_dir, mem);
	ck_assert_uint_eq(cg.memory_current, 100 * MiB);	/* 104857600 */
	ck_assert_uint_eq(cg.memory_peak, 150 * MiB);		/* 157286400 */
	ck_assert_uint_eq(cg.anon, 70 * MiB);			/* total_rss 73400320 */
	ck_assert_uint_eq(cg.file, 30 * MiB);			/* total_cache 31457280 */
	ck_assert_uint_eq(cg.inactive_file, 10 * MiB);
	/* cpu,cpuacct: 200000 / 100000 at its mount point. */
	ck_assert_double_eq(cg.cpu_quota_cores, 2.0);
	ck_assert_uint_eq(cg.effective_cpus, 2);		/* min(4, ceil(2.0)) */
	ck_assert_uint_eq(cg.cpuset_cpus, 0);			/* no cpuset line */
}
END_TEST

START_TEST(working_set_edges)
{
	struct cgroup_limits cg = { .memory_current = UNSET, .inactive_file = 10 };

	ck_assert_unset(cgroup_working_set(&cg));
	cg.memory_current = 5;				/* never below 0 */
	ck_assert_uint_eq(cgroup_working_set(&cg), 0);
	cg.inactive_file = UNSET;			/* nothing to subtract */
	ck_assert_uint_eq(cgroup_working_set(&cg), 5);
}
END_TEST

static void expect_error(const char *root, pid_t pid, int code, const char *needle)
{
	struct cgroup_limits cg;
	struct error err = { 0 };
	int ret = cgroup_limits_for(root, pid, 2, &cg, &err);

	ck_assert_int_eq(ret, code);
	ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
	ck_assert_unset(cg.memory_max);
}

START_TEST(errors_name_their_subject)
{
	expect_error(FAKE_TREE("cgroup-v2"), 999, -ESRCH, "pid 999: no such process");
	/* fixtures/cgroup-malformed: 4242's cgroup line has no colons,
	 * 4243's memory.max says "lots", 4244's mountinfo line is cut short,
	 * 4245's cpuset list has a backward range "7-5". */
	expect_error(FAKE_TREE("cgroup-malformed"), 4242, -EIO, "/proc/4242/cgroup: line 1");
	expect_error(FAKE_TREE("cgroup-malformed"), 4243, -EIO, "/app/memory.max: malformed");
	expect_error(FAKE_TREE("cgroup-malformed"), 4244, -EIO, "/proc/4244/mountinfo: line 1");
	expect_error(FAKE_TREE("cgroup-malformed"), 4245, -EIO, "/cpu/cpuset.cpus.effective");
}
END_TEST

START_TEST(unreadable_is_eacces)
{
	/* A tree whose cgroup file has mode 000, read as nobody (root reads
	 * through any mode) in a child, so the test keeps its own rights. */
	char root[] = "/tmp/heapdoc-cgroup-XXXXXX", path[256];
	int status, fd;
	pid_t child;

	ck_assert(mkdtemp(root));
	ck_assert_int_eq(chmod(root, 0755), 0);
	snprintf(path, sizeof(path), "%s/proc", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/proc/4242", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/proc/4242/cgroup", root);
	fd = open(path, O_CREAT | O_WRONLY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);

	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct cgroup_limits cg;
		struct error err = { 0 };
		int ret;

		if (geteuid() == 0 && setresgid(65534, 65534, 65534) + setresuid(65534, 65534, 65534))
			_exit(2);
		ret = cgroup_limits_for(root, 4242, 2, &cg, &err);
		_exit(ret == -EACCES && strstr(err.msg, "/proc/4242/cgroup: permission denied") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	unlink(path);
	snprintf(path, sizeof(path), "%s/proc/4242", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/proc", root);
	rmdir(path);
	rmdir(root);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %#x (1: not -EACCES with the file named, 2: setuid)", status);
}
END_TEST

/* ---- damaged trees ------------------------------------------------------ */

static char damaged_files[256][512];
static size_t damaged_n;

static int collect_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F && damaged_n < ARRAY_SIZE(damaged_files))
		snprintf(damaged_files[damaged_n++], sizeof(damaged_files[0]), "%s", path);
	return 0;
}

static void put_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Reads pid in root: either it works and every figure is sane, or it fails
 * and says why. */
static void read_damaged(const char *root, pid_t pid, const char *what)
{
	struct cgroup_limits cg;
	struct error err = { 0 };
	int ret = cgroup_limits_for(root, pid, 2, &cg, &err);

	if (ret < 0) {
		ck_assert_msg(err.msg[0], "%s: error %d without a message", what, ret);
		return;
	}
	ck_assert_msg(ret == 0, "%s: returned %d", what, ret);
	ck_assert_msg(cg.version >= 0 && cg.version <= 2, "%s: version %d", what, cg.version);
	ck_assert_msg(isnan(cg.cpu_quota_cores) || cg.cpu_quota_cores > 0, "%s: %g cores",
		      what, cg.cpu_quota_cores);
	ck_assert_msg(cg.effective_cpus <= 2, "%s: %u cpus for an affinity of 2", what,
		      cg.effective_cpus);
	ck_assert_msg(!IS_SET(cg.memory_max) || cg.memory_max < (1ull << 62), "%s: max %llu",
		      what, (unsigned long long)cg.memory_max);
	ck_assert_msg(memchr(cg.dir, '\0', sizeof(cg.dir)), "%s: dir unterminated", what);
}

/* Every file of a tree cut short, emptied, or with a byte the parsers care
 * about put in its middle. */
static void damage_tree(const char *tree, const pid_t *pids, size_t npids)
{
	static const char bytes[] = { '\\', ':', ' ', '\n', '-', ',', 'x', '9' };
	char root[] = "/tmp/heapdoc-cgroup-XXXXXX", cmd[1024], what[700];
	char orig[65536];

	ck_assert(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/", tree, root);
	ck_assert_int_eq(system(cmd), 0);
	damaged_n = 0;
	ck_assert_int_eq(nftw(root, collect_file, 16, FTW_PHYS), 0);
	ck_assert_uint_gt(damaged_n, 5);
	for (size_t i = 0; i < damaged_n; i++) {
		const char *file = damaged_files[i];
		int len = slurp(file, orig, sizeof(orig)) < 0 ? -1 : (int)strlen(orig);
		size_t cuts[] = { 0, len / 2, len > 0 ? len - 1 : 0 };

		ck_assert_msg(len >= 0, "%s: unreadable", file);
		for (size_t c = 0; c < ARRAY_SIZE(cuts); c++) {
			put_file(file, orig, cuts[c]);
			snprintf(what, sizeof(what), "%s cut at %zu", file, cuts[c]);
			for (size_t p = 0; p < npids; p++)
				read_damaged(root, pids[p], what);
		}
		for (size_t b = 0; len > 0 && b < sizeof(bytes); b++) {
			char saved = orig[len / 2];

			orig[len / 2] = bytes[b];
			put_file(file, orig, len);
			orig[len / 2] = saved;
			snprintf(what, sizeof(what), "%s with '%c' at %d", file, bytes[b], len / 2);
			for (size_t p = 0; p < npids; p++)
				read_damaged(root, pids[p], what);
		}
		put_file(file, orig, len);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(damaged_trees_never_crash)
{
	static const pid_t one[] = { 4242 }, two[] = { 4242, 4243 };

	damage_tree(FAKE_TREE("cgroup-v1"), one, 1);
	damage_tree(FAKE_TREE("cgroup-v2-parent"), one, 1);
	damage_tree(FAKE_TREE("cgroup-hybrid"), one, 1);
	damage_tree(FAKE_TREE("cgroup-outside-ns"), two, 2);
	damage_tree(FAKE_TREE("cgroup-escaped"), one, 1);
	damage_tree(FAKE_TREE("cgroup-stacked"), one, 1);
}
END_TEST

Suite *cgroup_suite(void)
{
	Suite *s = suite_create("cgroup");
	TCase *fake = tcase_create("fake trees");

	tcase_add_test(fake, v2_leaf_limits);
	tcase_add_test(fake, v2_affinity_can_be_the_smallest);
	tcase_add_test(fake, v2_parent_tighter_than_leaf);
	tcase_add_test(fake, v2_unlimited_is_unset);
	tcase_add_test(fake, v1_memory_cpu_cpuset);
	tcase_add_test(fake, v1_unlimited_is_unset);
	tcase_add_test(fake, hybrid_like_this_machine);
	tcase_add_test(fake, v1_limit_above_the_mount_root);
	tcase_add_test(fake, path_outside_namespace_uses_mount_point);
	tcase_add_test(fake, path_outside_namespace_through_proc_root);
	tcase_add_test(fake, escaped_mount_point);
	tcase_add_test(fake, container_seen_from_host);
	tcase_add_test(fake, stacked_mounts_only_top_is_visible);
	tcase_add_test(fake, working_set_edges);
	tcase_add_test(fake, errors_name_their_subject);
	tcase_add_test(fake, unreadable_is_eacces);
	tcase_add_test(fake, damaged_trees_never_crash);
	tcase_set_timeout(fake, 60);
	suite_add_tcase(s, fake);
	return s;
}
