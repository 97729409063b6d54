/* mimalloc (Debian's libmimalloc2.0, preloaded), read from outside, against
 * its own mi_process_info() and the fixture's count of its live bytes
 * (fixtures/mi_heap.c); the verdicts of its shapes; and the release its
 * unpurged pages get, applied as printed and measured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static char out[1 << 17], err[8192];

static int heapdoc_on(const char *cmd, const struct fixture *f, bool window)
{
	char pid[16];
	const char *stats[] = { cmd, "--json", pid, NULL };
	const char *triage[] = { cmd, "--json", "--duration", "3s", "--interval", "0.25s", pid, NULL };

	snprintf(pid, sizeof(pid), "%d", (int)f->pid);
	return run_heapdoc(window ? triage : stats, out, sizeof(out), err, sizeof(err));
}

static void start_with(struct fixture *f, const char *shape, const char *const *env)
{
	const char *args[] = { shape, NULL };

	fixture_start(f, "mi_heap", args, env);
	if (!fixture_value(f, "mimalloc")) {
		fixture_stop(f);
		ck_abort_msg("libmimalloc.so.2 did not load (make deps installs libmimalloc2.0)");
	}
}

static void start(struct fixture *f, const char *shape)
{
	start_with(f, shape, NULL);
}

/* Bytes in use to the byte (the blocks' usable sizes are mimalloc's block
 * sizes), committed as mimalloc counts it itself, the version, healthy. */
START_TEST(figures_match_mimalloc_own)
{
	struct fixture f;
	char version[16], verdict[32];

	start(&f, "healthy");
	ck_assert_int_eq(heapdoc_on("stats", &f, false), 0);
	fixture_refresh(&f);
	ck_assert_int_eq(json_int_at(out, "mimalloc.in_use"), fixture_value(&f, "live_usable"));
	ck_assert_int_eq(json_int_at(out, "mimalloc.committed"),
			 fixture_value(&f, "mi.current_commit"));
	ck_assert_str_eq(json_string_at(out, "mimalloc.version", version, sizeof(version)), "2.0.9");
	ck_assert_int_eq(heapdoc_on("triage", &f, true), 0);
	fixture_stop(&f);
	ck_assert_str_eq(json_string_at(out, "verdict", verdict, sizeof(verdict)), "healthy");
}
END_TEST

/* 7 of 8 small blocks freed: pages keep a live block among free ones. */
START_TEST(fragmentation)
{
	struct fixture f;
	char verdict[32];
	int rc;

	start(&f, "frag");
	rc = heapdoc_on("triage", &f, true);
	ck_assert_int_eq(json_int_at(out, "allocated"), fixture_value(&f, "live_usable"));
	fixture_stop(&f);
	ck_assert_msg(rc == 11, "exit %d: %s", rc, err);
	ck_assert_str_eq(json_string_at(out, "verdict", verdict, sizeof(verdict)), "fragmentation");
	ck_assert_msg(!strstr(out, "\"name\": \"release\""), "a release for holes: %s", out);
}
END_TEST

/* 4 MiB a second kept. */
START_TEST(leak)
{
	struct fixture f;
	double slope;
	int rc;

	start(&f, "leak");
	rc = heapdoc_on("triage", &f, true);
	fixture_stop(&f);
	ck_assert_msg(rc == 10, "exit %d: %s %s", rc, err, out);
	slope = json_number_at(out, "trend.allocated.slope_bytes_per_s");
	ck_assert_msg(slope > 0.5 * 4194304 && slope < 2.0 * 4194304, "slope %.0f", slope);
}
END_TEST

/* Free slices left committed by an idle thread: unpurged, and no release
 * is promised, for mimalloc 2.0's mi_collect does not reach a live thread's
 * segments (it was tried: RSS did not move).  The decommit delay of 0 that
 * is advised instead, applied as printed (the process restarted with its
 * line), gives back what it said. */
START_TEST(unpurged_by_a_live_thread)
{
	struct fixture f;
	char next[512], env_line[128];
	const char *env[] = { env_line, NULL };
	long long before, after;
	double effect;

	start(&f, "unpurged");
	ck_assert_int_eq(heapdoc_on("triage", &f, true), 12);
	before = rss_of(f.pid);
	fixture_stop(&f);
	ck_assert_msg(json_index_of(out, "knobs", "name", "release") < 0, "%s", out);
	json_string_at(out, "next_step", next, sizeof(next));
	ck_assert_msg(strstr(next, "reaches only exited threads' segments"), "%s", next);
	json_knob_field(out, "MIMALLOC_DECOMMIT_DELAY", "apply.env", env_line, sizeof(env_line));
	effect = json_knob_number(out, "MIMALLOC_DECOMMIT_DELAY", "effect_bytes");
	ck_assert_msg(effect > 0, "no decommit delay advised: %s", out);
	ck_assert_str_eq(env_line, "MIMALLOC_DECOMMIT_DELAY=0");

	start_with(&f, "unpurged", env);
	after = rss_of(f.pid);
	fixture_stop(&f);
	assert_rss_fell(env_line, before, after, effect, 0.8);
}
END_TEST

/* The same left by a thread that exited: its segments are abandoned, and the
 * printed release (mi_collect) returns what it said. */
START_TEST(abandoned_released)
{
	struct fixture f;
	char cmd[128], pid[16];
	const char *argv[] = { "release", pid, NULL };
	long long before, after;
	double effect;

	start(&f, "abandoned");
	ck_assert_int_eq(heapdoc_on("triage", &f, true), 12);
	json_knob_field(out, "release", "command", cmd, sizeof(cmd));
	effect = json_knob_number(out, "release", "effect_bytes");
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	ck_assert_msg(effect > 0 && strstr(cmd, pid), "%s", out);
	before = rss_of(f.pid);
	ck_assert_int_eq(run_heapdoc(argv, out, sizeof(out), err, sizeof(err)), 0);
	after = rss_of(f.pid);
	fixture_stop(&f);
	assert_rss_fell("mimalloc: heapdoc release", before, after, effect, 0.8);
}
END_TEST

Suite *mimalloc_suite(void)
{
	Suite *s = suite_create("mimalloc");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, figures_match_mimalloc_own);
	tcase_add_test(tc, fragmentation);
	tcase_add_test(tc, leak);
	tcase_add_test(tc, unpurged_by_a_live_thread);
	tcase_add_test(tc, abandoned_released);
	suite_add_tcase(s, tc);
	return s;
}
