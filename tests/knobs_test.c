/* Knob advice on recorded observations: one test per rule.  Expected values
 * are derived from the rule's arithmetic in the comments. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "judge/knobs.h"
#include "judge_obs.h"
#include "live_cgroup.h"
#include "testlib.h"

static struct observation obs;
static struct verdict v;
static struct knobs ks;

static const struct knob *find(const char *name)
{
	for (size_t i = 0; i < ks.n; i++)
		if (!strcmp(ks.v[i].name, name))
			return &ks.v[i];
	return NULL;
}

static const struct knob *must_find(const char *name)
{
	const struct knob *k = find(name);

	if (!k)
		for (size_t i = 0; i < ks.n; i++)
			fprintf(stderr, "  have %s=%s\n", ks.v[i].name, ks.v[i].value);
	ck_assert_msg(k, "no knob %s", name);
	return k;
}

/* Sets the target's environment from a list of "K=V" strings. */
static void set_env(const char *const *vars)
{
	static char buf[1024];
	size_t n = 0;

	for (; *vars; vars++) {
		size_t len = strlen(*vars) + 1;

		memcpy(buf + n, *vars, len);
		n += len;
	}
	obs.env.buf = buf;
	obs.env.len = n;
}

static uint64_t flat8(double t) { (void)t; return 8 * MiB_; }

static void advise(void)
{
	judge_triage(&obs, &v);
	judge_knobs(&obs, &v, &ks);
}

/* A healthy glibc process: 41 samples over 10 s, 8 MiB allocated. */
static void healthy_glibc(void)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 0, 0);
}

/* ---- MALLOC_ARENA_MAX --------------------------------------------------- */

/* Quota 0.5 cores on a 2-core host: effective CPUs 1.  The default cap is
 * 8 × 2 host cores = 16. */
START_TEST(arena_max_from_effective_cpus)
{
	const struct knob *k;

	healthy_glibc();
	obs.cgroup.cpu_quota_us = 50000;
	obs.cgroup.cpu_period_us = 100000;
	obs.cgroup.cpu_quota_cores = 0.5;
	obs.cgroup.effective_cpus = 1;
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->value, "1");
	ck_assert_str_eq(k->current, "16");
	ck_assert_str_eq(k->current_source, "default");
	ck_assert(k->change);
	ck_assert_ptr_nonnull(strstr(k->why, "quota 0.50 cores"));
	ck_assert_str_eq(k->apply_env, "MALLOC_ARENA_MAX=1");
	ck_assert_str_eq(k->apply_systemd, "Environment=\"MALLOC_ARENA_MAX=1\"");
	ck_assert_str_eq(k->apply_kubernetes, "- name: MALLOC_ARENA_MAX\n  value: \"1\"");
}
END_TEST

START_TEST(arena_max_current_from_environment)
{
	const struct knob *k;

	healthy_glibc();
	set_env((const char *const[]){ "PATH=/bin", "MALLOC_ARENA_MAXX=9",
				       "MALLOC_ARENA_MAX=4", NULL });
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->value, "2");
	ck_assert_str_eq(k->current, "4");
	ck_assert_str_eq(k->current_source, "environment");
}
END_TEST

/* GLIBC_TUNABLES sets arena_max=3; the merged spelling keeps the target's
 * other tunable and replaces arena_max with the advice (2). */
START_TEST(arena_max_current_from_tunables)
{
	const struct knob *k;

	healthy_glibc();
	set_env((const char *const[]){
		"GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=3", NULL });
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->current, "3");
	ck_assert_str_eq(k->current_source, "GLIBC_TUNABLES");
	k = must_find("GLIBC_TUNABLES");
	ck_assert_int_eq(k->kind, KNOB_ALTERNATIVE);
	ck_assert_str_eq(k->value, "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2");
}
END_TEST

/* mp_.arena_max = 5 with no environment: set by mallopt(M_ARENA_MAX). */
START_TEST(arena_max_current_from_allocator)
{
	const struct knob *k;

	healthy_glibc();
	obs.params.arena_max = 5;
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->current, "5");
	ck_assert_str_eq(k->current_source, "allocator");
}
END_TEST

START_TEST(arena_max_already_right)
{
	const struct knob *k;

	healthy_glibc();
	set_env((const char *const[]){ "MALLOC_ARENA_MAX=2", NULL });
	obs.params.arena_max = 2;
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert(!k->change);
	ck_assert_ptr_nonnull(strstr(k->why, "already"));
}
END_TEST

/* ---- the unpurged top ---------------------------------------------------- */

/* 56 MiB free at the top, trim threshold raised to 1 GiB by mallopt:
 * back to glibc's 128 KiB. */
START_TEST(trim_threshold_for_an_unpurged_top)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 57 * MiB_, 0);
	obs.summary.free_releasable = 56 * MiB_;
	obs.summary.free_interleaved = 1 * MiB_;
	obs.summary.trimmable = 56 * MiB_;
	obs.params.trim_threshold = 1024 * MiB_;
	advise();
	ck_assert_int_eq(v.kind, VERDICT_UNPURGED);
	k = must_find("MALLOC_TRIM_THRESHOLD_");
	ck_assert_str_eq(k->value, "131072");
	ck_assert_str_eq(k->current, "1073741824");
	ck_assert_str_eq(k->current_source, "allocator");
	ck_assert_ptr_nonnull(strstr(k->why, "56 MiB"));
	ck_assert_ptr_nonnull(strstr(must_find("GLIBC_TUNABLES")->value,
				     "glibc.malloc.trim_threshold=131072"));
}
END_TEST

START_TEST(no_trim_threshold_when_healthy)
{
	healthy_glibc();
	advise();
	ck_assert_ptr_null(find("MALLOC_TRIM_THRESHOLD_"));
	ck_assert_ptr_null(find("malloc_trim"));
}
END_TEST

/* ---- malloc_trim -------------------------------------------------------- */

/* trimmable 48 MiB ≥ max(16 MiB, 10% of 84 MiB RSS). */
START_TEST(malloc_trim_when_it_returns_enough)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 56 * MiB_, 0);
	obs.summary.free_interleaved = 56 * MiB_;
	obs.summary.pinned_bytes = 48 * MiB_;
	obs.summary.trimmable = 48 * MiB_;
	advise();
	k = must_find("malloc_trim");
	ck_assert_int_eq(k->kind, KNOB_ACTION);
	ck_assert_str_eq(k->command, "heapdoc release 4242");
	ck_assert_str_eq(k->value, "malloc_trim(0)");
	ck_assert_ptr_nonnull(strstr(k->why, "48 MiB"));
}
END_TEST

/* 12 MiB trimmable is under the 16 MiB floor. */
START_TEST(no_malloc_trim_for_little)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 56 * MiB_, 0);
	obs.summary.free_interleaved = 56 * MiB_;
	obs.summary.trimmable = 12 * MiB_;
	advise();
	ck_assert_ptr_null(find("malloc_trim"));
}
END_TEST

/* ---- mmap churn ---------------------------------------------------------- */

/* 32 000 faults/s with MALLOC_MMAP_THRESHOLD_=131072: 8 × 128 KiB = 1 MiB,
 * raised to the 4 MiB floor. */
START_TEST(mmap_threshold_for_mmap_churn)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 0, 32000);
	set_env((const char *const[]){ "MALLOC_MMAP_THRESHOLD_=131072", NULL });
	advise();
	k = must_find("MALLOC_MMAP_THRESHOLD_");
	ck_assert_str_eq(k->value, "4194304");
	ck_assert_str_eq(k->current, "131072");
	ck_assert_str_eq(k->current_source, "environment");

	/* The same churn with glibc's dynamic threshold: no glibc knob helps. */
	set_env((const char *const[]){ NULL });
	advise();
	ck_assert_ptr_null(find("MALLOC_MMAP_THRESHOLD_"));
}
END_TEST

/* ---- the memory limit ----------------------------------------------------- */

/* Working set 90 MiB of 100 MiB: 90 / 0.70 = 128.6 MiB, rounded up to the
 * next 64 MiB: 192 MiB = 201326592 bytes. */
START_TEST(memory_limit_for_a_live_set)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 1 * MiB_, 0);
	obs.cgroup.memory_max = 100 * MiB_;
	obs.cgroup.memory_current = 92 * MiB_;
	obs.cgroup.inactive_file = 2 * MiB_;
	advise();
	ck_assert_int_eq(v.kind, VERDICT_LIVE_SET);
	k = must_find("memory.max");
	ck_assert_str_eq(k->value, "201326592");
	ck_assert_str_eq(k->current, "104857600");
	ck_assert_str_eq(k->apply_systemd, "MemoryMax=192M");
	ck_assert_ptr_nonnull(strstr(k->why, "90%"));
}
END_TEST

/* ---- jemalloc ------------------------------------------------------------- */

/* A Rust binary with a prefixed static jemalloc: _RJEM_MALLOC_CONF, merged
 * with what the target already sets there (narenas:2 stays). */
START_TEST(jemalloc_unpurged_prefixed)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 57 * MiB_, 0);
	obs.alloc.kind = ALLOC_JEMALLOC;
	snprintf(obs.alloc.prefix, sizeof(obs.alloc.prefix), "_rjem_");
	obs.summary.free_releasable = 56 * MiB_;
	obs.params.background_thread = 0;
	obs.params.dirty_decay_ms = 10000;
	obs.params.muzzy_decay_ms = 0;
	obs.params.narenas = 2;
	set_env((const char *const[]){ "_RJEM_MALLOC_CONF=narenas:2", NULL });
	advise();
	ck_assert_int_eq(v.kind, VERDICT_UNPURGED);
	k = must_find("background_thread");
	ck_assert_str_eq(k->value, "true");
	ck_assert_str_eq(k->current, "false");
	k = must_find("dirty_decay_ms");
	ck_assert_str_eq(k->value, "1000");
	ck_assert_str_eq(k->current, "10000");
	ck_assert_ptr_null(find("muzzy_decay_ms"));
	ck_assert_ptr_null(find("narenas"));
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));
	k = must_find("_RJEM_MALLOC_CONF");
	ck_assert_str_eq(k->value, "narenas:2,background_thread:true,dirty_decay_ms:1000");
	ck_assert_str_eq(k->apply_env,
			 "_RJEM_MALLOC_CONF=narenas:2,background_thread:true,dirty_decay_ms:1000");
}
END_TEST

/* jemalloc's 4 arenas per host CPU (8 on this 2-core host) in a container
 * with one effective CPU: 4 × 1 = 4. */
START_TEST(jemalloc_narenas_from_effective_cpus)
{
	const struct knob *k;

	healthy_glibc();
	obs.alloc.kind = ALLOC_JEMALLOC;
	obs.params.narenas = 8;
	obs.cgroup.effective_cpus = 1;
	advise();
	k = must_find("narenas");
	ck_assert_str_eq(k->value, "4");
	ck_assert_str_eq(k->current, "8");
	ck_assert_str_eq(must_find("MALLOC_CONF")->value, "narenas:4");

	/* Nothing read, nothing set: jemalloc's default, 4 × 2 host CPUs. */
	obs.params.narenas = PARAM_UNSET;
	advise();
	k = must_find("narenas");
	ck_assert_str_eq(k->current, "8");
	ck_assert_str_eq(k->current_source, "default");

	/* Set in MALLOC_CONF to 2: already at most 4, nothing to say. */
	set_env((const char *const[]){ "MALLOC_CONF=narenas:2", NULL });
	advise();
	ck_assert_ptr_null(find("narenas"));
}
END_TEST

/* ---- tcmalloc ------------------------------------------------------------- */

START_TEST(tcmalloc_unpurged)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 57 * MiB_, 0);
	obs.alloc.kind = ALLOC_TCMALLOC;
	snprintf(obs.alloc.flavor, sizeof(obs.alloc.flavor), "gperftools");
	obs.summary.free_releasable = 56 * MiB_;
	advise();
	k = must_find("TCMALLOC_RELEASE_RATE");
	ck_assert_str_eq(k->value, "5");
	ck_assert_str_eq(k->current, "1.0");
	ck_assert_str_eq(k->current_source, "default");
	ck_assert_ptr_null(find("TCMALLOC_AGGRESSIVE_DECOMMIT"));

	/* google/tcmalloc reads none of gperftools' variables. */
	snprintf(obs.alloc.flavor, sizeof(obs.alloc.flavor), "google");
	advise();
	ck_assert_ptr_null(find("TCMALLOC_RELEASE_RATE"));
}
END_TEST

/* 30% of stack samples in tcmalloc: thread caches 32 MiB → 64 MiB. */
START_TEST(tcmalloc_thread_cache_when_hot)
{
	const struct knob *k;

	healthy_glibc();
	obs.alloc.kind = ALLOC_TCMALLOC;
	obs.latency = (struct latency){ .sampled = true, .samples = 100, .in_allocator = 30 };
	advise();
	k = must_find("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES");
	ck_assert_str_eq(k->value, "67108864");
	ck_assert_str_eq(k->current, "33554432");
}
END_TEST

/* ---- parsers --------------------------------------------------------------- */

START_TEST(list_parser)
{
	char out[32];

	ck_assert(knobs_list_get("a:1,bb:22", ',', ':', "bb", out, sizeof(out)));
	ck_assert_str_eq(out, "22");
	ck_assert(!knobs_list_get("a:1,bb:22", ',', ':', "b", out, sizeof(out)));
}
END_TEST

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

/* The value of "key" in the knob object named name, from the JSON in out. */
static const char *knob_field(const char *name, const char *key, char *buf, size_t len)
{
	char needle[128];
	const char *p, *end;

	buf[0] = '\0';
	snprintf(needle, sizeof(needle), "\"name\": \"%s\"", name);
	if (!(p = strstr(out, needle)))
		return buf;
	snprintf(needle, sizeof(needle), "\"%s\": \"", key);
	if (!(p = strstr(p, needle)))
		return buf;
	p += strlen(needle);
	if ((end = strchr(p, '"')))
		snprintf(buf, len, "%.*s", (int)(end - p), p);
	return buf;
}

/* Quota 50 ms per 100 ms: ceil(0.5) = 1 CPU, whatever the host has, unless
 * the fixture's affinity is smaller still (it cannot be below 1). */
START_TEST(live_arena_max_in_a_quota_cgroup)
{
	const char *env[] = { "MALLOC_ARENA_MAX=3", NULL };
	struct fixture f;
	char pid[32], want[16], buf[256];
	const char *args[] = { "knobs", "--json", pid, NULL };
	int rc;

	if (cpu_cg.skip[0]) {
		SKIP("%s", cpu_cg.skip);
	}
	fixture_start(&f, "idle", NULL, env);
	if (!live_cgroup_enter(&cpu_cg, f.pid)) {
		fixture_stop(&f);
		SKIP("%s", cpu_cg.skip);
	}
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);

	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(json_number_at(out, "cgroup.cpu_quota_cores") == 0.5, "%s", out);
	ck_assert_msg(json_int_at(out, "cgroup.effective_cpus") == 1, "%s", out);
	snprintf(want, sizeof(want), "%d", 1);
	ck_assert_str_eq(knob_field("MALLOC_ARENA_MAX", "value", buf, sizeof(buf)), want);
	ck_assert_str_eq(knob_field("MALLOC_ARENA_MAX", "current", buf, sizeof(buf)), "3");
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
	char buf[64], name[32];
	cpu_set_t set;
	long long eff;
	bool glibc;

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	eff = json_int_at(out, "cgroup.effective_cpus");
	ck_assert_int_le(eff, CPU_COUNT(&set));
	snprintf(buf, sizeof(buf), "MALLOC_ARENA_MAX=%lld", eff);
	/* Under a sanitizer heapdoc's allocator is not glibc's: no glibc knob. */
	glibc = !strcmp(json_string_at(out, "allocator.name", name, sizeof(name)), "glibc");
	ck_assert_int_eq(run_heapdoc(fmt, out, sizeof(out), err, sizeof(err)), 0);
	if (glibc)
		ck_assert_msg(strstr(out, buf), "%s not in %s", buf, out);
	else
		ck_assert_msg(!strstr(out, "MALLOC_ARENA_MAX"), "%s", out);
	ck_assert_int_eq(run_heapdoc(bad, out, sizeof(out), err, sizeof(err)), 2);
}
END_TEST

Suite *knobs_suite(void)
{
	Suite *s = suite_create("knobs");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, arena_max_from_effective_cpus);
	tcase_add_test(tc, arena_max_current_from_environment);
	tcase_add_test(tc, arena_max_current_from_tunables);
	tcase_add_test(tc, arena_max_current_from_allocator);
	tcase_add_test(tc, arena_max_already_right);
	tcase_add_test(tc, trim_threshold_for_an_unpurged_top);
	tcase_add_test(tc, no_trim_threshold_when_healthy);
	tcase_add_test(tc, malloc_trim_when_it_returns_enough);
	tcase_add_test(tc, no_malloc_trim_for_little);
	tcase_add_test(tc, mmap_threshold_for_mmap_churn);
	tcase_add_test(tc, memory_limit_for_a_live_set);
	tcase_add_test(tc, jemalloc_unpurged_prefixed);
	tcase_add_test(tc, jemalloc_narenas_from_effective_cpus);
	tcase_add_test(tc, tcmalloc_unpurged);
	tcase_add_test(tc, tcmalloc_thread_cache_when_hot);
	tcase_add_test(tc, list_parser);
	suite_add_tcase(s, tc);

	tc = tcase_create("live");
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, live_setup, live_teardown);
	tcase_add_test(tc, live_arena_max_in_a_quota_cgroup);
	tcase_add_test(tc, knobs_for_heapdoc_itself);
	suite_add_tcase(s, tc);
	return s;
}
