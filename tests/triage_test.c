/* heapdoc triage on live scenario fixtures with a known truth
 * (fixtures/scenario_*.c), the same verdicts through jemalloc and tcmalloc,
 * and the malloc_trim knob's command run as printed.  The output contracts
 * and the renderers are tests/triage_output_test.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe/alloc/alloc.h"
#include "live_cgroup.h"
#include "testlib.h"

static char out[1 << 20], err[8192];

/* The window every scenario is watched for: short, but with enough samples
 * (17) and seconds for a trend. */
#define WINDOW "4s"
#define INTERVAL "0.25s"

/* Runs `heapdoc triage --json` on the fixture; returns the exit status. */
static int triage_json(const struct fixture *f, const char *duration)
{
	char pid[16];
	const char *args[] = { "triage", "--json", "--duration", duration, "--interval",
			       INTERVAL, pid, NULL };
	int rc;

	snprintf(pid, sizeof(pid), "%d", (int)f->pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	if (rc < 0 || rc == 1 || (rc >= 2 && rc <= 5))
		fprintf(stderr, "triage failed (%d): %s\n", rc, err);
	return rc;
}

/* The current value of the knob named name, which must be there. */
static const char *knob_current(const char *name, char *buf, size_t len)
{
	char path[64];
	int i = json_index_of(out, "knobs", "name", name);

	ck_assert_msg(i >= 0, "no knob %s in %s", name, out);
	snprintf(path, sizeof(path), "knobs[%d].current", i);
	return json_string_at(out, path, buf, len);
}

static void assert_verdict(int rc, int want_rc, const char *want)
{
	char v[64], reason[256];

	json_string_at(out, "verdict", v, sizeof(v));
	ck_assert_msg(rc == want_rc && !strcmp(v, want),
		      "exit %d verdict %s, expected %d %s; reason: %s", rc, v, want_rc, want,
		      json_string_at(out, "reason", reason, sizeof(reason)));
}

/* ---- scenarios ------------------------------------------------------------ */

/* 4 MiB/s leaked: allocated must climb at about that rate. */
START_TEST(scenario_leak)
{
	struct fixture f;
	const char *args[] = { "4194304", NULL };
	double slope;
	int rc;

	fixture_start(&f, "scenario_leak", args, NULL);
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 10, "leak");
	slope = json_number_at(out, "trend.allocated.slope_bytes_per_s");
	ck_assert_msg(slope > 0.5 * 4194304 && slope < 2.0 * 4194304,
		      "allocated slope %.0f B/s against 4 MiB/s leaked", slope);
}
END_TEST

START_TEST(scenario_churn)
{
	struct fixture f;
	int rc;

	fixture_start(&f, "scenario_churn", NULL, NULL);
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 0, "healthy");
}
END_TEST

/* 60 MiB freed between live blocks: the gap must hold most of it. */
START_TEST(scenario_pinning)
{
	struct fixture f;
	double gap, freed;
	int rc;

	fixture_start(&f, "scenario_pinning", NULL, NULL);
	freed = (double)fixture_value(&f, "freed_bytes");
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 11, "fragmentation");
	gap = json_number_at(out, "gap.bytes");
	ck_assert_msg(gap >= 0.5 * freed && gap <= 1.1 * freed, "gap %.0f, freed %.0f", gap, freed);
}
END_TEST

/* 16 threads allocated together once, then went idle: many arenas, but
 * nothing shows them taking turns, so no cap; a release is the lever. */
START_TEST(scenario_arenas)
{
	struct fixture f;
	int rc;

	fixture_start(&f, "scenario_arenas", NULL, NULL);
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 11, "fragmentation");
	ck_assert_int_lt(json_index_of(out, "knobs", "name", "MALLOC_ARENA_MAX"), 0);
	ck_assert_int_ge(json_index_of(out, "knobs", "name", "malloc_trim"), 0);
	ck_assert_msg(json_number_at(out, "gap.narenas") >= 8, "%s", out);
	ck_assert_msg(strstr(out, "no sign of threads taking turns"), "%s", out);
}
END_TEST

/* The fixture raised the trim threshold to 1 GiB with mallopt: the knob's
 * current value is what mp_ holds. */
START_TEST(scenario_top)
{
	struct fixture f;
	char k[2048];
	int rc;

	fixture_start(&f, "scenario_top", NULL, NULL);
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 12, "unpurged");
	ck_assert_str_eq(knob_current("MALLOC_TRIM_THRESHOLD_", k, sizeof(k)), "1073741824");
}
END_TEST

/* The Python case in small: 8 MiB/s mapped outside malloc and 1 MiB/s
 * leaked through it.  allocated climbs (a leak), and the evidence says
 * that most of RSS's growth, about 8 of 9 MiB/s, is outside glibc. */
START_TEST(scenario_leak_mostly_outside)
{
	struct fixture f;
	const char *args[] = { "8388608", "1048576", NULL };
	double share, want;
	int rc;

	fixture_start(&f, "scenario_outside", args, NULL);
	want = (double)fixture_value(&f, "outside_rate") /
	       (double)(fixture_value(&f, "outside_rate") + fixture_value(&f, "leak_rate"));
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 10, "leak");
	share = json_number_at(out, "outside.share");
	ck_assert_msg(share > want - 0.15 && share < want + 0.1,
		      "outside share %.2f, mapped/(mapped + leaked) %.2f", share, want);
	ck_assert_msg(strstr(out, "of the growth is outside glibc malloc (other anonymous memory +"),
		      "no outside evidence in %s", out);
	fprintf(stderr, "triage: leak mostly outside: %.0f%% outside (%.0f%% by the rates)\n",
		100 * share, 100 * want);
}
END_TEST

/* 60 MiB freed below a live 1000-byte block at the top of the heap: the
 * evidence names that block's chunk (the fixture's own pointer − 16) and
 * the free bytes below it. */
START_TEST(scenario_top_held)
{
	struct fixture f;
	char want[160];
	int rc;

	fixture_start(&f, "scenario_top_held", NULL, NULL);
	snprintf(want, sizeof(want), "chunk at %#llx just below the top holds ",
		 (unsigned long long)fixture_value(&f, "held_by_chunk"));
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	ck_assert_msg(rc == 0 || (rc >= 10 && rc <= 14), "exit %d is not a verdict", rc);
	ck_assert_msg(strstr(out, want), "no \"%s\" in %s", want, out);
	ck_assert_msg(strstr(out, "free()ing it — or malloc_trim(0) — would return it"),
		      "%s", out);
}
END_TEST

/* 8 MiB/s of anonymous memory mapped and touched by hand while malloc is
 * idle: RSS climbs at about that rate, allocated stays flat, and the
 * growth is named as outside glibc: inconclusive, leaning leak. */
START_TEST(scenario_outside)
{
	struct fixture f;
	const char *args[] = { "8388608", NULL };
	double rate, rss_slope, share;
	char reason[256];
	int rc;

	fixture_start(&f, "scenario_outside", args, NULL);
	rate = (double)fixture_value(&f, "outside_rate");
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, 14, "inconclusive");
	ck_assert_str_eq(json_string_at(out, "leaning", reason, sizeof(reason)), "leak");
	json_string_at(out, "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "outside the allocator's view"), "reason: %s", reason);
	rss_slope = json_number_at(out, "trend.rss.slope_bytes_per_s");
	ck_assert_msg(rss_slope > 0.5 * rate && rss_slope < 2.0 * rate,
		      "RSS slope %.0f B/s against %.0f B/s mapped", rss_slope, rate);
	/* malloc is idle: nearly all of the growth is outside it. */
	share = json_number_at(out, "outside.share");
	ck_assert_msg(share > 0.9, "outside share %.2f", share);
	ck_assert_msg(strstr(out, "outside glibc malloc (other anonymous memory +"),
		      "no outside evidence in %s", out);
	fprintf(stderr, "triage: outside: RSS %.2f MiB/s (mapped at %.2f MiB/s), %.0f%% outside\n",
		rss_slope / 1048576, rate / 1048576, 100 * share);
}
END_TEST

/* The cache fills 24 MiB from 1.5 to 2.5 s after "ready", then holds.  The
 * 5 s window starts within 1.5 s of "ready" (loading libc's debug info is
 * the slow part), so it sees the growth, and its last third (from 3.3 s at
 * the earliest) sees it stopped.  Not a leak. */
START_TEST(scenario_plateau)
{
	struct fixture f;
	const char *args[] = { "1.5", "1.0", NULL };
	char kind[32];
	int rc;

	fixture_start(&f, "scenario_plateau", args, NULL);
	rc = triage_json(&f, "5s");
	fixture_stop(&f);
	ck_assert_int_ne(rc, 10);
	assert_verdict(rc, 0, "healthy");
	json_string_at(out, "trend.allocated.kind", kind, sizeof(kind));
	ck_assert_msg(!strcmp(kind, "plateau"), "allocated trend %s", kind);
}
END_TEST

/* MALLOC_MMAP_THRESHOLD_=131072 and 256 KiB buffers: every malloc maps. */
START_TEST(scenario_mmap_churn)
{
	struct fixture f;
	const char *env[] = { "MALLOC_MMAP_THRESHOLD_=131072", NULL };
	char k[2048];
	int rc;

	fixture_start(&f, "scenario_mmap_churn", NULL, env);
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	/* The fault storm is /proc evidence: it shows with or without a backend. */
	ck_assert_msg(json_number_at(out, "latency.minor_faults_per_s") >= 10000, "%s", out);
	ck_assert_msg(strstr(out, "minor page faults/s"), "no fault evidence");
	assert_verdict(rc, 0, "healthy");
	ck_assert_str_eq(knob_current("MALLOC_MMAP_THRESHOLD_", k, sizeof(k)), "131072");
}
END_TEST

/* A figure from the cgroup's memory.stat or a one-number file. */
static long long cgroup_figure(const struct live_cgroup *cg, const char *file, const char *key)
{
	char path[1200], buf[8192], *p;

	snprintf(path, sizeof(path), "%s/%s", cg->dir, file);
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -1;
	if (!key)
		return strtoll(buf, NULL, 10);
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* A 24 MiB cache in a cgroup limited to 27 MiB: the memory is in use, and
 * close to an OOM kill.  The fixture fills its cache 1 s after "ready",
 * after it has been moved into the cgroup (v1 charges pages where they
 * are faulted in, not where the process lives later). */
START_TEST(scenario_live_set)
{
	const char *args[] = { "1.0", "0.3", NULL };
	struct live_cgroup cg;
	struct fixture f;
	long long usage, inactive, limit = 27LL << 20;
	char lim[32];
	int rc;

	live_cgroup_make(&cg, "memory", "triage");
	snprintf(lim, sizeof(lim), "%lld", limit);
	if (cg.skip[0] || !live_put(&cg, "memory.limit_in_bytes", lim)) {
		live_cgroup_remove(&cg);
		SKIP("%s", cg.skip);
	}
	fixture_start(&f, "scenario_plateau", args, NULL);
	if (!live_cgroup_enter(&cg, f.pid)) {
		fixture_stop(&f);
		live_cgroup_remove(&cg);
		SKIP("%s", cg.skip);
	}
	usleep(2000000);
	rc = triage_json(&f, "3s");
	/* The setup itself: what the kernel counts toward the limit. */
	usage = cgroup_figure(&cg, "memory.usage_in_bytes", NULL);
	inactive = cgroup_figure(&cg, "memory.stat", "\ntotal_inactive_file ");
	fixture_stop(&f);
	live_cgroup_remove(&cg);
	ck_assert_msg(usage - inactive >= 0.85 * limit && usage < limit,
		      "setup: working set %lld of %lld", usage - inactive, limit);
	assert_verdict(rc, 13, "live-set");
}
END_TEST

/* The malloc_trim knob's command, run as given, returns what triage said it
 * would: the fixture's RSS falls by at least 80% of gap.trimmable. */
/* Splits a printed command ("heapdoc release 4242") into argv for
 * run_heapdoc (without "heapdoc"); words are separated by single spaces. */
static size_t split_command(char *cmd, const char **argv, size_t max)
{
	size_t n = 0;

	ck_assert_msg(!strncmp(cmd, "heapdoc ", 8), "not a heapdoc command: %s", cmd);
	for (char *w = strtok(cmd + 8, " "); w && n + 1 < max; w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n] = NULL;
	return n;
}

/* The release knob runs heapdoc's own command, and that command returns
 * what triage said, with the fixture's data intact and its workers running. */
START_TEST(malloc_trim_returns_what_it_says)
{
	struct fixture f;
	char pid[16], cmd[256] = "", path[64];
	const char *args[] = { "triage", "--once", "--json", pid, NULL }, *argv[16];
	double trimmable;
	long long before, after, loops0, loops1;
	int i;

	fixture_start(&f, "act_glibc", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	trimmable = json_number_at(out, "gap.trimmable");
	i = json_index_of(out, "knobs", "name", "malloc_trim");
	snprintf(path, sizeof(path), "knobs[%d].command", i);
	if (i >= 0)
		json_string_at(out, path, cmd, sizeof(cmd));
	ck_assert_msg(trimmable > 0 && cmd[0], "no malloc_trim knob: %s", out);
	ck_assert_ptr_null(strstr(out, "gdb"));
	split_command(cmd, argv, 16);
	ck_assert_str_eq(argv[0], "release");
	loops0 = fixture_value(&f, "worker.0.loops");

	before = rss_of(f.pid);
	ck_assert_int_eq(run_heapdoc(argv, out, sizeof(out), err, sizeof(err)), 0);
	after = rss_of(f.pid);
	ck_assert_msg(before - after >= 0.8 * trimmable,
		      "RSS fell %lld bytes, triage said %.0f", before - after, trimmable);
	usleep(100 * 1000);
	fixture_refresh(&f);
	loops1 = fixture_value(&f, "worker.0.loops");
	ck_assert_int_eq(fixture_value(&f, "data_ok"), 1);
	ck_assert_int_eq(fixture_value(&f, "worker.0.bad") + fixture_value(&f, "worker.1.bad"), 0);
	ck_assert_msg(loops1 > loops0, "worker 0 stopped: %lld then %lld loops", loops0, loops1);
	fixture_stop(&f);
}
END_TEST

/* ---- the same verdicts through jemalloc and tcmalloc ------------------------- */

struct foreign {
	const char *fixture, *arg;
	enum alloc_kind kind;
	int rc;
	const char *verdict;
};

/* The jemalloc and tcmalloc engineers' fixtures, whose truths say what
 * they are: dirty pages kept (decay off), 7 of 8 small objects freed,
 * a thread that keeps losing memory, freed spans kept in the page heap. */
static const struct foreign foreign[] = {
	{ "je_dirty", NULL, ALLOC_JEMALLOC, 12, "unpurged" },
	{ "je_frag", NULL, ALLOC_JEMALLOC, 11, "fragmentation" },
	{ "je_leak", "grow", ALLOC_JEMALLOC, 10, "leak" },
	{ "tc_retain", NULL, ALLOC_TCMALLOC, 12, "unpurged" },
};

START_TEST(other_allocators)
{
	const struct foreign *c = &foreign[_i];
	const char *args[] = { c->arg, NULL };
	struct fixture f;
	char name[32];
	int rc;

	fixture_start(&f, c->fixture, c->arg ? args : NULL, NULL);
	rc = triage_json(&f, WINDOW);
	fixture_stop(&f);
	assert_verdict(rc, c->rc, c->verdict);
	ck_assert_str_eq(json_string_at(out, "allocator.name", name, sizeof(name)),
			 alloc_kind_name(c->kind));
}
END_TEST

Suite *triage_suite(void)
{
	Suite *s = suite_create("triage");
	TCase *live = tcase_create("scenarios");

	tcase_set_timeout(live, 60);
	tcase_add_test(live, scenario_leak);
	tcase_add_test(live, scenario_churn);
	tcase_add_test(live, scenario_pinning);
	tcase_add_test(live, scenario_arenas);
	tcase_add_test(live, scenario_top);
	tcase_add_test(live, scenario_plateau);
	tcase_add_test(live, scenario_outside);
	tcase_add_test(live, scenario_top_held);
	tcase_add_test(live, scenario_leak_mostly_outside);
	tcase_add_test(live, scenario_mmap_churn);
	tcase_add_test(live, scenario_live_set);
	tcase_add_test(live, malloc_trim_returns_what_it_says);
	tcase_add_loop_test(live, other_allocators, 0, sizeof(foreign) / sizeof(foreign[0]));
	suite_add_tcase(s, live);
	return s;
}
