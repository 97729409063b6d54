/* Knob advice on recorded observations: one test per rule.  Expected values
 * are derived from the rule's arithmetic in the comments (heapdoc knobs on a
 * live process is tests/knobs_live_test.c). */
#include <stdio.h>
#include <string.h>

#include "judge/knobs.h"
#include "judge/settings.h"
#include "judge_obs.h"
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

/* One of the verdict's evidence lines holds text. */
static bool has_line(const char *text)
{
	for (size_t i = 0; i < v.nevidence; i++)
		if (strstr(v.evidence[i], text))
			return true;
	return false;
}

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

/* ---- MALLOC_ARENA_MAX ---------------------------------------------------- */

/* Threads that took turns: 9 arenas whose own peaks add up to 64 MiB over
 * 17 reads while at most 9 MiB was in use at once; 56 MiB of the 56 MiB gap
 * is what a cap lets them share. */
static void turns_glibc(void)
{
	obs_init(&obs);
	obs_sample(&obs, 17, 0.25, flat8, 56 * MiB_, 0);
	obs.summary.free_interleaved = 56 * MiB_;
	obs.summary.pinned_bytes = 56 * MiB_;
	obs.summary.narenas = 9;
	obs.summary.arena_peak_sum = 64 * MiB_;
	obs.summary.arena_peak_once = 9 * MiB_;
	obs.summary.arena_samples = 17;
}

/* Quota 0.5 cores on a 2-core host: effective CPUs 1.  The default cap is
 * 8 × 2 host cores = 16.  The effect is the 55 MiB the turns would share. */
START_TEST(arena_max_when_threads_take_turns)
{
	const struct knob *k;

	turns_glibc();
	obs.cgroup.cpu_quota_us = 50000;
	obs.cgroup.cpu_period_us = 100000;
	obs.cgroup.cpu_quota_cores = 0.5;
	obs.cgroup.effective_cpus = 1;
	advise();
	ck_assert_int_eq(v.kind, VERDICT_FRAGMENTATION);
	ck_assert_str_eq(gap_kind_name(v.gap.kind), "arenas");
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->value, "1");
	ck_assert_str_eq(k->current, "16");
	ck_assert_str_eq(k->current_source, "default");
	ck_assert(k->change);
	ck_assert_uint_eq(k->effect_bytes, 55 * MiB_);
	ck_assert_ptr_nonnull(strstr(k->why, "took turns"));
	ck_assert_ptr_nonnull(strstr(k->effect, "55 MiB lower"));
	ck_assert_str_eq(k->apply_env, "MALLOC_ARENA_MAX=1");
	ck_assert_str_eq(k->apply_systemd, "Environment=\"MALLOC_ARENA_MAX=1\"");
	ck_assert_str_eq(k->apply_kubernetes, "- name: MALLOC_ARENA_MAX\n  value: \"1\"");
	ck_assert_ptr_nonnull(strstr(v.next_step, "cap the arenas at 1"));
}
END_TEST

/* The same arenas, but they peaked together (a burst): the threads need the
 * memory at once, so no cap; one arena, or a leak: never a cap. */
START_TEST(no_arena_max_unless_turns)
{
	turns_glibc();
	obs.summary.arena_peak_once = 64 * MiB_;
	advise();
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));
	ck_assert_str_ne(gap_kind_name(v.gap.kind), "arenas");
	ck_assert_ptr_null(strstr(v.next_step, "cap the arenas"));
	ck_assert(has_line("no sign of threads taking turns"));

	turns_glibc();
	obs.summary.narenas = 1;
	advise();
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));

	/* Two reads cannot show turns. */
	turns_glibc();
	obs.summary.arena_samples = 2;
	advise();
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));

	healthy_glibc();
	obs.summary.narenas = 9;
	advise();
	ck_assert_int_eq(ks.n, 0);
}
END_TEST

static uint64_t leak8(double t) { return 8 * MiB_ + (uint64_t)(t * 4 * MiB_); }

START_TEST(no_knob_under_a_leak)
{
	turns_glibc();
	obs_sample(&obs, 17, 0.25, leak8, 56 * MiB_, 0);
	advise();
	ck_assert_int_eq(v.kind, VERDICT_LEAK);
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));
	ck_assert_ptr_null(find("malloc_trim"));
}
END_TEST

START_TEST(arena_max_current_from_environment)
{
	const struct knob *k;

	turns_glibc();
	set_env((const char *const[]){ "PATH=/bin", "MALLOC_ARENA_MAXX=9",
				       "MALLOC_ARENA_MAX=4", NULL });
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->value, "2");
	ck_assert_str_eq(k->current, "4");
	ck_assert_str_eq(k->current_source, "environment");
}
END_TEST

/* GLIBC_TUNABLES sets arena_max=3 and wins over MALLOC_ARENA_MAX=2: the
 * advice is written there, merged with the target's other tunable, and the
 * MALLOC_* spelling, which would change nothing, is not printed. */
START_TEST(arena_max_in_the_tunables_that_win)
{
	const struct knob *k;

	turns_glibc();
	obs.cgroup.effective_cpus = 1;
	set_env((const char *const[]){
		"GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=3",
		"MALLOC_ARENA_MAX=2", NULL });
	advise();
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));
	k = must_find("glibc.malloc.arena_max");
	ck_assert_int_eq(k->kind, KNOB_CONF_OPTION);
	ck_assert_str_eq(k->value, "1");
	ck_assert_str_eq(k->current, "3");
	ck_assert_str_eq(k->current_source, "GLIBC_TUNABLES");
	k = must_find("GLIBC_TUNABLES");
	ck_assert_int_eq(k->kind, KNOB_ENV);
	ck_assert_str_eq(k->value, "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1");
	ck_assert_str_eq(k->apply_systemd, "Environment=\"GLIBC_TUNABLES="
			 "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1\"");
	ck_assert_str_eq(k->apply_kubernetes, "- name: GLIBC_TUNABLES\n  value: \""
			 "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1\"");
	/* mp_ read: 3 it is, and from GLIBC_TUNABLES, not from the variable. */
	obs.params.arena_max = 3;
	advise();
	ck_assert_str_eq(must_find("glibc.malloc.arena_max")->current_source, "GLIBC_TUNABLES");
}
END_TEST

/* mp_.arena_max = 5 with no environment: set by mallopt(M_ARENA_MAX). */
START_TEST(arena_max_current_from_allocator)
{
	const struct knob *k;

	turns_glibc();
	obs.params.arena_max = 5;
	advise();
	k = must_find("MALLOC_ARENA_MAX");
	ck_assert_str_eq(k->current, "5");
	ck_assert_str_eq(k->current_source, "allocator");
}
END_TEST

/* In force at the advised value: not advised at all. */
START_TEST(arena_max_already_right)
{
	turns_glibc();
	set_env((const char *const[]){ "MALLOC_ARENA_MAX=2", NULL });
	obs.params.arena_max = 2;
	advise();
	ck_assert_ptr_null(find("MALLOC_ARENA_MAX"));
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
	ck_assert_uint_eq(k->effect_bytes, 56 * MiB_);
	ck_assert_str_eq(k->command, "heapdoc set 4242 MALLOC_TRIM_THRESHOLD_=131072");
	ck_assert_ptr_null(find("GLIBC_TUNABLES"));

	/* At glibc's default threshold the top is glibc's to give back at the
	 * next free(): the knob would change nothing. */
	obs.params.trim_threshold = 131072;
	advise();
	ck_assert_ptr_null(find("MALLOC_TRIM_THRESHOLD_"));
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
	ck_assert_uint_eq(k->effect_bytes, 48 * MiB_);
	ck_assert_ptr_nonnull(strstr(v.next_step, "heapdoc release returns 48 MiB"));
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
	ck_assert_ptr_null(strstr(v.next_step, "heapdoc release"));
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
	/* Blocks freed into the top would be trimmed at once: the trim
	 * threshold goes to twice the mmap threshold with it. */
	ck_assert_str_eq(must_find("MALLOC_TRIM_THRESHOLD_")->value, "8388608");

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
	ck_assert_str_eq(k->value, "narenas:2,dirty_decay_ms:1000,background_thread:true");
	ck_assert_str_eq(k->apply_env,
			 "_RJEM_MALLOC_CONF=narenas:2,dirty_decay_ms:1000,background_thread:true");
}
END_TEST

/* redis turns its background thread on at run time: the live value says
 * it runs (whatever opt.background_thread said at start-up), so it is not
 * advised; the decay time is the arenas' slowest as it is now. */
START_TEST(jemalloc_live_settings)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 57 * MiB_, 0);
	obs.alloc.kind = ALLOC_JEMALLOC;
	obs.summary.free_releasable = 56 * MiB_;
	obs.params.background_thread = 1;
	obs.params.dirty_decay_ms = 500;
	obs.params.muzzy_decay_ms = 0;
	advise();
	ck_assert_int_eq(v.kind, VERDICT_UNPURGED);
	ck_assert_ptr_null(find("background_thread"));
	ck_assert_ptr_null(find("dirty_decay_ms"));
	ck_assert_ptr_null(find("MALLOC_CONF"));
	/* An arena that never decays (-1) is advised, with a command for now. */
	obs.params.dirty_decay_ms = -1;
	advise();
	ck_assert_str_eq(must_find("dirty_decay_ms")->command, "heapdoc set 4242 dirty_decay_ms=1000");
	ck_assert_str_eq(must_find("dirty_decay_ms")->current, "-1");
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
	/* The rate paces returns only after 2 GiB of frees: not advised. */
	ck_assert_ptr_null(find("TCMALLOC_RELEASE_RATE"));
	k = must_find("TCMALLOC_AGGRESSIVE_DECOMMIT");
	ck_assert_str_eq(k->value, "true");
	ck_assert_str_eq(k->current, "false");
	ck_assert_str_eq(k->current_source, "default");
	ck_assert_uint_eq(k->effect_bytes, 56 * MiB_);
	ck_assert_str_eq(k->command, "heapdoc set 4242 TCMALLOC_AGGRESSIVE_DECOMMIT=true");

	/* As tcmalloc has it now, over the environment. */
	set_env((const char *const[]){ "TCMALLOC_AGGRESSIVE_DECOMMIT=false", NULL });
	obs.params.aggressive_decommit = 1;
	advise();
	ck_assert_ptr_null(find("TCMALLOC_AGGRESSIVE_DECOMMIT"));
	obs.params.aggressive_decommit = 0;
	advise();
	ck_assert_str_eq(must_find("TCMALLOC_AGGRESSIVE_DECOMMIT")->current_source, "allocator");

	/* google/tcmalloc reads none of gperftools' variables. */
	snprintf(obs.alloc.flavor, sizeof(obs.alloc.flavor), "google");
	advise();
	ck_assert_ptr_null(find("TCMALLOC_AGGRESSIVE_DECOMMIT"));
}
END_TEST

/* ---- mimalloc ------------------------------------------------------------- */

/* Free pages an idle thread keeps committed: the decommit delay of 0, in
 * the name of the version found; not when it is 0 already. */
START_TEST(mimalloc_unpurged)
{
	const struct knob *k;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat8, 57 * MiB_, 0);
	obs.alloc.kind = ALLOC_MIMALLOC;
	obs.summary.free_releasable = 48 * MiB_;
	obs.params.purge_delay_ms = 25;
	advise();
	k = must_find("MIMALLOC_DECOMMIT_DELAY");
	ck_assert_str_eq(k->value, "0");
	ck_assert_str_eq(k->current, "25");
	ck_assert_str_eq(k->current_source, "default");
	ck_assert_uint_eq(k->effect_bytes, 48 * MiB_);
	ck_assert_str_eq(k->apply_env, "MIMALLOC_DECOMMIT_DELAY=0");
	ck_assert_str_eq(k->command, "");

	snprintf(obs.alloc.version, sizeof(obs.alloc.version), "2.1.2");
	advise();
	ck_assert_str_eq(must_find("MIMALLOC_PURGE_DELAY")->value, "0");

	obs.params.purge_delay_ms = 0;
	advise();
	ck_assert_ptr_null(find("MIMALLOC_PURGE_DELAY"));
}
END_TEST

/* ---- heapdoc set's permanent lines --------------------------------------- */

/* The spelling that wins in the process, merged with what it already sets:
 * GLIBC_TUNABLES when it has it, its MALLOC_CONF kept. */
START_TEST(set_permanent_lines_merge)
{
	struct setting_req req[SETTINGS_MAX];
	struct knob k[SETTINGS_MAX];
	char why[256];
	size_t n = 0;

	obs_init(&obs);
	set_env((const char *const[]){ "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", NULL });
	ck_assert_int_eq(settings_parse(ALLOC_GLIBC, "", "MALLOC_TRIM_THRESHOLD_=131072", req, &n,
					why, sizeof(why)), 0);
	ck_assert_uint_eq(settings_permanent(ALLOC_GLIBC, "", &obs.env, req, n, k, SETTINGS_MAX), 1);
	ck_assert_str_eq(k[0].apply_env, "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:"
			 "glibc.malloc.trim_threshold=131072");
	set_env((const char *const[]){ "MALLOC_CONF=narenas:2", NULL });
	n = 0;
	ck_assert_int_eq(settings_parse(ALLOC_JEMALLOC, "", "dirty_decay_ms=0", req, &n, why,
					sizeof(why)), 0);
	ck_assert_uint_eq(settings_permanent(ALLOC_JEMALLOC, "", &obs.env, req, n, k, SETTINGS_MAX), 1);
	ck_assert_str_eq(k[0].apply_env, "MALLOC_CONF=narenas:2,dirty_decay_ms:0");
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

Suite *knobs_suite(void)
{
	Suite *s = suite_create("knobs");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, arena_max_when_threads_take_turns);
	tcase_add_test(tc, no_arena_max_unless_turns);
	tcase_add_test(tc, no_knob_under_a_leak);
	tcase_add_test(tc, arena_max_current_from_environment);
	tcase_add_test(tc, arena_max_in_the_tunables_that_win);
	tcase_add_test(tc, arena_max_current_from_allocator);
	tcase_add_test(tc, arena_max_already_right);
	tcase_add_test(tc, trim_threshold_for_an_unpurged_top);
	tcase_add_test(tc, no_trim_threshold_when_healthy);
	tcase_add_test(tc, malloc_trim_when_it_returns_enough);
	tcase_add_test(tc, no_malloc_trim_for_little);
	tcase_add_test(tc, mmap_threshold_for_mmap_churn);
	tcase_add_test(tc, memory_limit_for_a_live_set);
	tcase_add_test(tc, jemalloc_unpurged_prefixed);
	tcase_add_test(tc, jemalloc_live_settings);
	tcase_add_test(tc, tcmalloc_unpurged);
	tcase_add_test(tc, mimalloc_unpurged);
	tcase_add_test(tc, list_parser);
	tcase_add_test(tc, set_permanent_lines_merge);
	suite_add_tcase(s, tc);

	return s;
}
