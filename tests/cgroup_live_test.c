/* lib/cgroup live: a v1 cgroup of the test's own, with a memory limit and
 * a CPU quota, made under the runner's cgroup for a fixture, read back as
 * heapdoc reads it.  Where the host has no writable v1 hierarchy the test
 * says why and is skipped. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "observe/cgroup.h"
#include "testlib.h"
#include "base/util.h"
#include "cgroup_figures.h"

/* ---- live: a real v1 cgroup with a memory limit and a CPU quota ---------- */

#define CGROUP_V1_MAGIC 0x27e0eb	/* statfs f_type of a v1 hierarchy */

static struct {
	char skip[2048];		/* why the live test cannot run here */
	char memory[512], cpu[512];	/* the cgroups made; "" if not */
	char memory_path[512];		/* its path as /proc/<pid>/cgroup will say */
	uint64_t parent_limit;		/* the parent's hierarchical_memory_limit */
} live;

/* This process's path in the v1 hierarchy holding controller. */
static bool own_v1_path(const char *controller, char *out, size_t len)
{
	char buf[4096], *line, *save = NULL;

	if (slurp("/proc/self/cgroup", buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctrl = strchr(line, ':'), *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		char *item, *isave = NULL;

		if (!path)
			continue;
		*path++ = '\0';
		for (item = strtok_r(ctrl + 1, ",", &isave); item; item = strtok_r(NULL, ",", &isave)) {
			if (!strcmp(item, controller)) {
				snprintf(out, len, "%s", strcmp(path, "/") ? path : "");
				return true;
			}
		}
	}
	return false;
}

static bool write_file(const char *dir, const char *name, const char *value)
{
	char path[1024];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(live.skip, sizeof(live.skip), "open %s: %s", path, strerror(errno));
		return false;
	}
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	if (!ok)
		snprintf(live.skip, sizeof(live.skip), "write %s to %s: %s", value, path,
			 strerror(errno));
	close(fd);
	return ok;
}

/* Makes <mount>/<own path>/heapdoc-test-<pid>, or says in live.skip why not. */
static bool live_mkdir(const char *mount, const char *controller, char *dir, size_t len,
		       char *path, size_t plen)
{
	char own[256];
	struct statfs sf;

	if (statfs(mount, &sf) < 0 || sf.f_type != CGROUP_V1_MAGIC) {
		snprintf(live.skip, sizeof(live.skip), "%s is not a cgroup v1 hierarchy", mount);
		return false;
	}
	if (!own_v1_path(controller, own, sizeof(own))) {
		snprintf(live.skip, sizeof(live.skip), "not in a v1 %s cgroup", controller);
		return false;
	}
	snprintf(path, plen, "%s/heapdoc-test-%d", own, (int)getpid());
	snprintf(dir, len, "%s%s", mount, path);
	if (mkdir(dir, 0755) < 0) {
		snprintf(live.skip, sizeof(live.skip), "mkdir %s: %s", dir, strerror(errno));
		dir[0] = '\0';
		return false;
	}
	return true;
}

static void live_teardown(void)
{
	char *dirs[] = { live.memory, live.cpu };

	/* A killed fixture may take a moment to leave the cgroup. */
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		for (int tries = 0; dirs[i][0] && tries < 50; tries++) {
			if (rmdir(dirs[i]) == 0 || errno == ENOENT)
				dirs[i][0] = '\0';
			else
				usleep(20000);
		}
		if (dirs[i][0])
			fprintf(stderr, "cgroup: could not remove %s: %s\n", dirs[i], strerror(errno));
	}
}

/* In the runner's process, once: teardown runs even when the test fails. */
static void live_setup(void)
{
	char cpu_path[512], parent_stat[1024], stat[8192], *hml;

	memset(&live, 0, sizeof(live));
	if (!live_mkdir("/sys/fs/cgroup/memory", "memory", live.memory, sizeof(live.memory),
			live.memory_path, sizeof(live.memory_path)) ||
	    !live_mkdir("/sys/fs/cgroup/cpu", "cpu", live.cpu, sizeof(live.cpu),
			cpu_path, sizeof(cpu_path)) ||
	    !write_file(live.memory, "memory.limit_in_bytes", "268435456") ||
	    !write_file(live.cpu, "cpu.cfs_period_us", "100000") ||
	    !write_file(live.cpu, "cpu.cfs_quota_us", "50000"))
		return;
	/* What the parents allow, read before heapdoc looks. */
	live.parent_limit = UNSET;
	snprintf(parent_stat, sizeof(parent_stat), "%s/../memory.stat", live.memory);
	if (slurp(parent_stat, stat, sizeof(stat)) >= 0 &&
	    (hml = strstr(stat, "hierarchical_memory_limit ")))
		live.parent_limit = strtoull(hml + strlen("hierarchical_memory_limit "), NULL, 10);
}

/* /sys/fs/cgroup/cpu is often a link to cpu,cpuacct. */
static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

START_TEST(live_v1_limits)
{
	struct cgroup_limits cg;
	struct error err = { 0 };
	struct fixture f;
	cpu_set_t set;
	char pid[32];
	unsigned affinity;
	uint64_t expect_max = 256 * MiB;
	bool hybrid = access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0;
	int ret;

	if (live.skip[0]) {
		SKIP("%s", live.skip);
	}
	fixture_start(&f, "idle", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d\n", (int)f.pid);
	if (!write_file(live.memory, "cgroup.procs", pid) ||
	    !write_file(live.cpu, "cgroup.procs", pid)) {
		fixture_stop(&f);
		SKIP("%s", live.skip);
	}
	ck_assert_int_eq(sched_getaffinity(f.pid, sizeof(set), &set), 0);
	affinity = CPU_COUNT(&set);
	ret = cgroup_limits_for("", f.pid, affinity, &cg, &err);
	fixture_stop(&f);

	ck_assert_msg(ret == 0, "%s", err.msg);
	ck_assert_int_eq(cg.version, 1);
	ck_assert_int_eq(cg.hybrid, hybrid);
	ck_assert_str_eq(cg.path, live.memory_path);
	ck_assert_msg(same_dir(cg.dir, live.memory), "%s is not %s", cg.dir, live.memory);
	/* 256 MiB, unless a parent allows less. */
	if (live.parent_limit < expect_max)
		expect_max = live.parent_limit;
	ck_assert_uint_eq(cg.memory_max, expect_max);
	if (expect_max == 256 * MiB)
		ck_assert_msg(same_dir(cg.memory_max_dir, live.memory), "%s", cg.memory_max_dir);
	ck_assert(IS_SET(cg.memory_current) && cg.memory_current <= expect_max);
	ck_assert_unset(cg.memory_high);
	ck_assert_uint_eq(cg.cpu_quota_us, 50000);
	ck_assert_uint_eq(cg.cpu_period_us, 100000);
	ck_assert_double_eq(cg.cpu_quota_cores, 0.5);
	ck_assert_msg(same_dir(cg.cpu_max_dir, live.cpu), "%s is not %s", cg.cpu_max_dir, live.cpu);
	ck_assert_uint_eq(cg.effective_cpus, 1);		/* ceil(0.5) */
}
END_TEST

Suite *cgroup_live_suite(void)
{
	Suite *s = suite_create("cgroup_live");
	TCase *live_tc = tcase_create("live v1");

	tcase_add_unchecked_fixture(live_tc, live_setup, live_teardown);
	tcase_set_timeout(live_tc, 60);
	tcase_add_test(live_tc, live_v1_limits);
	suite_add_tcase(s, live_tc);
	return s;
}
