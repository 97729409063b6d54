/* `heapdoc knobs` and `heapdoc triage` on live processes: the arena cap
 * for threads taking turns in a v1 cgroup of the test's own with a CPU
 * quota (tests/live_cgroup.h), and heapdoc's advice for its own process.
 * The rules themselves, on recorded observations, are tests/knobs_test.c. */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "live_cgroup.h"
#include "testlib.h"

/* ---- heapdoc knobs on a live process in a v1 cgroup with a CPU quota ------- */

static char out[65536], err[8192];
static struct live_cgroup cpu_cg;

/* A cgroup of our own with a quota of 0.5 CPU. */
static void live_setup(void)
{
	live_cgroup_make(&cpu_cg, "cpu", "knobs");
	if (!cpu_cg.skip[0] && live_put(&cpu_cg, "cpu.cfs_period_us", "100000"))
		live_put(&cpu_cg, "cpu.cfs_quota_us", "50000");
}

static void live_teardown(void)
{
	live_cgroup_remove(&cpu_cg);
}

static const char *knob_field(const char *name, const char *key, char *buf, size_t len)
{
	return json_knob_field(out, name, key, buf, len);
}

/* Quota 50 ms per 100 ms: ceil(0.5) = 1 CPU, whatever the host has, unless
 * the fixture's affinity is smaller still (it cannot be below 1).  Threads
 * taking turns there get a cap of 1 arena; the value in force is the one
 * the environment set. */
START_TEST(live_arena_max_in_a_quota_cgroup)
{
	const char *env[] = { "MALLOC_ARENA_MAX=16", NULL };
	const char *fargs[] = { "turns", "6", "8", "250", NULL };
	struct fixture f;
	char pid[32], buf[256];
	const char *args[] = { "triage", "--json", "--duration", "3s", "--interval", "0.2s",
			       pid, NULL };
	int rc;

	if (cpu_cg.skip[0]) {
		SKIP("%s", cpu_cg.skip);
	}
	fixture_start(&f, "arena_threads", fargs, env);
	if (!live_cgroup_enter(&cpu_cg, f.pid)) {
		fixture_stop(&f);
		SKIP("%s", cpu_cg.skip);
	}
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);

	ck_assert_msg(rc == 11, "exit %d: %s", rc, err);
	ck_assert_msg(json_number_at(out, "cgroup.cpu_quota_cores") == 0.5, "%s", out);
	ck_assert_msg(json_int_at(out, "cgroup.effective_cpus") == 1, "%s", out);
	ck_assert_str_eq(knob_field("MALLOC_ARENA_MAX", "value", buf, sizeof(buf)), "1");
	ck_assert_str_eq(knob_field("MALLOC_ARENA_MAX", "current", buf, sizeof(buf)), "16");
	ck_assert_str_eq(knob_field("MALLOC_ARENA_MAX", "current_source", buf, sizeof(buf)),
			 "environment");
}
END_TEST

/* Without a pid: heapdoc's own cgroup.  Its affinity is what
 * sched_getaffinity says, and effective CPUs can only be at most that. */
START_TEST(knobs_for_heapdoc_itself)
{
	const char *args[] = { "knobs", "--json", NULL };
	const char *fmt[] = { "knobs", "--format", "env", NULL };
	const char *bad[] = { "knobs", "--format", "yaml", NULL };
	cpu_set_t set;
	long long eff;

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	eff = json_int_at(out, "cgroup.effective_cpus");
	ck_assert_int_le(eff, CPU_COUNT(&set));
	/* heapdoc cannot read its own allocator: no evidence for any knob
	 * (an arena cap would need threads seen taking turns). */
	ck_assert_int_eq(run_heapdoc(fmt, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(!strstr(out, "MALLOC_ARENA_MAX"), "%s", out);
	ck_assert_int_eq(run_heapdoc(bad, out, sizeof(out), err, sizeof(err)), 2);
}
END_TEST

Suite *knobs_live_suite(void)
{
	Suite *s = suite_create("knobs_live");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, live_setup, live_teardown);
	tcase_add_test(tc, live_arena_max_in_a_quota_cgroup);
	tcase_add_test(tc, knobs_for_heapdoc_itself);
	suite_add_tcase(s, tc);
	return s;
}
