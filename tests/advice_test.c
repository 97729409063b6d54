/* Advice that helps, checked live: for each kind of knob, a fixture whose
 * shape calls for it, heapdoc's advice on it, the knob applied as heapdoc
 * printed it (its command run, or the process restarted with its
 * environment line), and the effect measured against what the knob said it
 * would do.  And the shapes that must not get a knob or a promise: threads
 * bursting together, one arena, holes smaller than a page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_cgroup.h"
#include "testlib.h"

static char out[1 << 20], err[8192];

static long long minflt_of(pid_t pid)
{
	char path[64], stat[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert_int_ge(slurp(path, stat, sizeof(stat)), 0);
	p = strrchr(stat, ')');
	ck_assert_ptr_nonnull(p);
	/* after ") ": state ppid pgrp session tty tpgid flags minflt */
	for (int field = 0; field < 8 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* heapdoc COMMAND --json [more] PID into out; returns the exit status. */
static int heapdoc_json(const char *command, const struct fixture *f, const char *duration)
{
	char pid[16];
	const char *once[] = { command, "--json", "--once", pid, NULL };
	const char *win[] = { command, "--json", "--duration", duration, "--interval", "0.25s",
			      pid, NULL };
	const char *plain[] = { command, "--json", pid, NULL };

	snprintf(pid, sizeof(pid), "%d", (int)f->pid);
	if (!strcmp(command, "stats") || !strcmp(command, "knobs"))
		return run_heapdoc(plain, out, sizeof(out), err, sizeof(err));
	return run_heapdoc(duration ? win : once, out, sizeof(out), err, sizeof(err));
}

/* Runs a command as heapdoc printed it ("heapdoc set 42 NAME=VALUE"). */
static int run_printed(const char *printed)
{
	char cmd[256];
	const char *argv[16];
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "%s", printed);
	ck_assert_msg(!strncmp(cmd, "heapdoc ", 8), "not a heapdoc command: '%s'", cmd);
	for (char *w = strtok(cmd + 8, " "); w && n + 1 < 16; w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n] = NULL;
	return run_heapdoc(argv, out, sizeof(out), err, sizeof(err));
}

static bool has_knob(const char *name)
{
	return json_index_of(out, "knobs", "name", name) >= 0;
}

/* ---- the arena cap ------------------------------------------------------------ */

static const char *const turns_args[] = { "turns", "8", "8", "300", NULL };

/* Eight threads take turns with 8 MiB each: the cap is advised, with the
 * RSS it would save; the fixture restarted with the printed line saves at
 * least half of that. */
START_TEST(arena_cap_for_threads_taking_turns)
{
	char value[64], env_line[128];
	const char *env[] = { env_line, NULL };
	long long before, after;
	double effect;
	struct fixture f;
	int rc;

	fixture_start(&f, "arena_threads", turns_args, NULL);
	rc = heapdoc_json("triage", &f, "4s");
	before = rss_of(f.pid);
	fixture_stop(&f);
	ck_assert_msg(rc == 11, "exit %d: %s%s", rc, err, out);
	json_knob_field(out, "MALLOC_ARENA_MAX", "value", value, sizeof(value));
	effect = json_knob_number(out, "MALLOC_ARENA_MAX", "effect_bytes");
	ck_assert_msg(value[0] && effect > 0, "no arena cap: %s", out);
	json_knob_field(out, "MALLOC_ARENA_MAX", "apply.env", env_line, sizeof(env_line));
	ck_assert_str_eq(env_line, strcat(strcpy((char[80]){ 0 }, "MALLOC_ARENA_MAX="), value));

	fixture_start(&f, "arena_threads", turns_args, env);
	usleep(1000 * 1000);
	after = rss_of(f.pid);
	fixture_stop(&f);
	assert_rss_fell(env_line, before, after, effect, 0.5);
}
END_TEST

/* The same threads bursting together: the arenas peak at once, a cap would
 * not lower the peak, and none is advised. */
START_TEST(no_arena_cap_for_threads_bursting_together)
{
	const char *args[] = { "burst", "8", "8", "300", NULL };
	struct fixture f;
	double sum, once;
	int rc;

	fixture_start(&f, "arena_threads", args, NULL);
	rc = heapdoc_json("triage", &f, "4s");
	fixture_stop(&f);
	ck_assert_msg(rc == 0 || rc == 11, "exit %d: %s", rc, err);
	ck_assert_msg(!has_knob("MALLOC_ARENA_MAX"), "a cap for a burst: %s", out);
	sum = (double)json_number_at(out, "gap.arena_peak_sum");
	once = (double)json_number_at(out, "gap.arena_peak_once");
	ck_assert_msg(once >= 0.8 * sum, "arena peaks %.0f at once of %.0f", once, sum);
	ck_assert_ptr_null(strstr(out, "cap the arenas"));
	/* What the threads take again every burst is not promised either. */
	if (json_bool_at(out, "cycle.held_at_peak") && strstr(out, "just below the top"))
		ck_assert_msg(strstr(out, "until the next cycle takes it again"), "%s", out);
}
END_TEST

/* One thread, one arena: fragmentation, and still no cap. */
START_TEST(no_arena_cap_for_one_arena)
{
	struct fixture f;
	int rc;

	fixture_start(&f, "scenario_pinning", NULL, NULL);
	rc = heapdoc_json("triage", &f, "2s");
	fixture_stop(&f);
	ck_assert_int_eq(rc, 11);
	ck_assert_msg(!has_knob("MALLOC_ARENA_MAX"), "%s", out);
	ck_assert_int_eq(json_int_at(out, "gap.narenas"), 1);
}
END_TEST

/* A process with GLIBC_TUNABLES: the cap is written there, merged with its
 * own tunable (not as MALLOC_ARENA_MAX, which that variable overrides);
 * restarted with the printed line, the process has both in force and saves
 * the memory. */
START_TEST(tunables_merged_and_applied)
{
	const char *env0[] = { "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", NULL };
	char line[256], want[160], value[32];
	const char *env1[] = { line, NULL };
	long long before, after;
	struct fixture f;
	double effect;

	fixture_start(&f, "arena_threads", turns_args, env0);
	ck_assert_int_eq(heapdoc_json("triage", &f, "4s"), 11);
	before = rss_of(f.pid);
	fixture_stop(&f);
	ck_assert_msg(!has_knob("MALLOC_ARENA_MAX"), "the losing spelling: %s", out);
	json_knob_field(out, "glibc.malloc.arena_max", "value", value, sizeof(value));
	effect = json_knob_number(out, "glibc.malloc.arena_max", "effect_bytes");
	snprintf(want, sizeof(want), "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:"
		 "glibc.malloc.arena_max=%s", value);
	json_knob_field(out, "GLIBC_TUNABLES", "apply.env", line, sizeof(line));
	ck_assert_str_eq(line, want);
	json_knob_field(out, "GLIBC_TUNABLES", "apply.systemd", want, sizeof(want));
	ck_assert_msg(strstr(want, line), "systemd %s", want);

	fixture_start(&f, "arena_threads", turns_args, env1);
	usleep(1000 * 1000);
	after = rss_of(f.pid);
	ck_assert_int_eq(heapdoc_json("stats", &f, NULL), 0);
	fixture_stop(&f);
	ck_assert_int_eq(json_int_at(out, "glibc.params.arena_max"), atoi(value));
	ck_assert_int_eq(json_int_at(out, "glibc.params.tcache_count"), 0);
	assert_rss_fell(line, before, after, effect, 0.5);
}
END_TEST

/* ---- promises a release cannot keep -------------------------------------------- */

/* Every other 480-byte object free: holes, no whole page.  No release call
 * is advised or promised, and the label says what the gap is. */
START_TEST(half_freed_small_objects_get_no_release)
{
	char next[256];
	struct fixture f;
	int rc;

	fixture_start(&f, "half_freed", NULL, NULL);
	rc = heapdoc_json("triage", &f, "2s");
	fixture_stop(&f);
	ck_assert_int_eq(rc, 11);
	ck_assert_str_eq(json_string_at(out, "gap.kind", next, sizeof(next)), "size-class");
	ck_assert_msg(!has_knob("malloc_trim"), "%s", out);
	json_string_at(out, "next_step", next, sizeof(next));
	ck_assert_msg(!strstr(next, "heapdoc release"), "next: %s", next);
	ck_assert_msg(strstr(next, "no release call returns"), "next: %s", next);
	ck_assert_msg(!strstr(out, "whole free pages in RAM"), "%s", out);
	ck_assert_int_lt(json_int_at(out, "gap.trimmable"), 1 << 20);
}
END_TEST

/* After a release, the pages it gave back are free but out of RAM: triage
 * no longer counts them as pinned, nor advises the release again. */
START_TEST(released_pages_are_not_resident)
{
	char cmd[128];
	struct fixture f;
	double effect;
	long long unresident;

	fixture_start(&f, "scenario_pinning", NULL, NULL);
	ck_assert_int_eq(heapdoc_json("triage", &f, NULL), 11);
	json_knob_field(out, "malloc_trim", "command", cmd, sizeof(cmd));
	effect = json_knob_number(out, "malloc_trim", "effect_bytes");
	ck_assert_msg(cmd[0] && effect > 0, "%s", out);
	ck_assert_int_eq(run_printed(cmd), 0);
	heapdoc_json("triage", &f, NULL);
	fixture_stop(&f);
	unresident = json_int_at(out, "gap.unresident");
	ck_assert_msg(!has_knob("malloc_trim"), "released twice: %s", out);
	ck_assert_msg(!strstr(out, "whole free pages in RAM"), "%s", out);
	ck_assert_msg(unresident >= 0.8 * effect, "unresident %lld after releasing %.0f: %s",
		      unresident, effect, out);
}
END_TEST

/* ---- an application's own pool --------------------------------------------------- */

START_TEST(application_pool_is_named)
{
	const char *args[] = { "48", "memcached", NULL };
	char reason[512], next[512];
	struct fixture f;
	int rc;

	fixture_start(&f, "app_pool", args, NULL);
	rc = heapdoc_json("triage", &f, "2s");
	ck_assert_int_eq(rc, 13);
	ck_assert_int_eq(json_int_at(out, "pool.blocks"),
			 fixture_value(&f, "pool_blocks"));
	fixture_stop(&f);
	json_string_at(out, "reason", reason, sizeof(reason));
	json_string_at(out, "next_step", next, sizeof(next));
	ck_assert_msg(strstr(reason, "application's own allocator (memcached's slab allocator)"),
		      "%s", reason);
	ck_assert_msg(strstr(reason, "48 equal blocks of 1.0 MiB"), "%s", reason);
	ck_assert_msg(strstr(next, "stats slabs"), "%s", next);
}
END_TEST

/* ---- glibc's live settings ---------------------------------------------------- */

/* The top kept by a 1 GiB trim threshold: the printed command lowers it,
 * and the next free() that reaches the top gives back what the knob said. */
START_TEST(trim_threshold_applied)
{
	char cmd[128];
	long long before, after;
	struct fixture f;
	double effect;

	fixture_start(&f, "scenario_top", NULL, NULL);
	ck_assert_int_eq(heapdoc_json("triage", &f, "2s"), 12);
	json_knob_field(out, "MALLOC_TRIM_THRESHOLD_", "command", cmd, sizeof(cmd));
	effect = json_knob_number(out, "MALLOC_TRIM_THRESHOLD_", "effect_bytes");
	ck_assert_msg(cmd[0] && effect > 0, "%s", out);
	before = rss_of(f.pid);
	ck_assert_int_eq(run_printed(cmd), 0);
	fixture_command(&f, "work");
	after = rss_of(f.pid);
	fixture_stop(&f);
	assert_rss_fell("advice: trim threshold", before, after, effect, 0.8);
}
END_TEST

static double faults_per_s(pid_t pid)
{
	long long a = minflt_of(pid), b;

	usleep(1000 * 1000);
	b = minflt_of(pid);
	return (double)(b - a);
}

/* Every 256 KiB buffer mapped and unmapped: the printed commands (the mmap
 * threshold, and the trim threshold that keeps the heap from giving each
 * block back) stop the faults. */
START_TEST(mmap_threshold_applied)
{
	const char *env[] = { "MALLOC_MMAP_THRESHOLD_=131072", NULL };
	char mmap_cmd[128], trim_cmd[128];
	double before, after;
	struct fixture f;

	fixture_start(&f, "scenario_mmap_churn", NULL, env);
	heapdoc_json("triage", &f, "3s");
	json_knob_field(out, "MALLOC_MMAP_THRESHOLD_", "command", mmap_cmd, sizeof(mmap_cmd));
	json_knob_field(out, "MALLOC_TRIM_THRESHOLD_", "command", trim_cmd, sizeof(trim_cmd));
	ck_assert_msg(mmap_cmd[0] && trim_cmd[0], "%s", out);
	before = faults_per_s(f.pid);
	ck_assert_int_eq(run_printed(mmap_cmd), 0);
	ck_assert_int_eq(run_printed(trim_cmd), 0);
	after = faults_per_s(f.pid);
	fixture_stop(&f);
	fprintf(stderr, "advice: mmap threshold: %.0f -> %.0f faults/s\n", before, after);
	ck_assert_msg(before >= 10000 && after < 0.1 * before, "%.0f -> %.0f faults/s", before,
		      after);
}
END_TEST

/* The heap given back and taken again every 100 ms: the printed top pad
 * (one tooth, from the RSS seen) keeps it mapped, and most of the faults
 * stop, as the knob says. */
START_TEST(top_pad_applied)
{
	char cmd[128];
	double before, after;
	struct fixture f;

	fixture_start(&f, "top_churn", NULL, NULL);
	heapdoc_json("triage", &f, "4s");
	json_knob_field(out, "MALLOC_TOP_PAD_", "command", cmd, sizeof(cmd));
	ck_assert_msg(cmd[0], "%s", out);
	before = faults_per_s(f.pid);
	ck_assert_int_eq(run_printed(cmd), 0);
	/* A heap trimmed just before the set is taken again once more. */
	usleep(300 * 1000);
	after = faults_per_s(f.pid);
	fixture_stop(&f);
	fprintf(stderr, "advice: %s: %.0f -> %.0f faults/s\n", cmd, before, after);
	ck_assert_msg(before >= 10000 && after < 0.5 * before, "%.0f -> %.0f faults/s", before,
		      after);
}
END_TEST

/* ---- jemalloc ------------------------------------------------------------------- */

/* Dirty and muzzy pages that never decay (-1, -1): the printed commands
 * (decay times, and the background thread that decays an idle process)
 * return them within the decay times. */
START_TEST(jemalloc_decay_applied)
{
	static const char *const names[] = { "dirty_decay_ms", "muzzy_decay_ms",
					     "background_thread" };
	char cmd[3][128];
	long long before, after;
	struct fixture f;
	double effect;

	fixture_start(&f, "je_dirty", NULL, NULL);
	ck_assert_int_eq(heapdoc_json("triage", &f, "2s"), 12);
	for (int i = 0; i < 3; i++) {
		json_knob_field(out, names[i], "command", cmd[i], sizeof(cmd[i]));
		ck_assert_msg(cmd[i][0], "no %s command: %s", names[i], out);
	}
	effect = json_knob_number(out, "dirty_decay_ms", "effect_bytes");
	ck_assert_msg(effect > 0, "%s", out);
	before = rss_of(f.pid);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(run_printed(cmd[i]), 0);
	/* Dirty, then muzzy, each within its 1 s decay time. */
	for (int waited = 0; waited < 60 && before - rss_of(f.pid) < 0.8 * effect; waited++)
		usleep(100 * 1000);
	after = rss_of(f.pid);
	fixture_refresh(&f);
	ck_assert_int_lt(fixture_value(&f, "jemalloc.dirty"), (long long)(0.2 * effect));
	fixture_stop(&f);
	assert_rss_fell("advice: jemalloc decay, set live", before, after, effect, 0.8);
}
END_TEST

/* The same advice for the next start: the MALLOC_CONF line (the options
 * above merged into the process's own) returns the pages in a process
 * restarted with it, within the decay times. */
START_TEST(jemalloc_conf_line_applied)
{
	char line[256];
	const char *env[] = { line, NULL };
	long long before, after;
	struct fixture f;
	double effect;

	fixture_start(&f, "je_dirty", NULL, NULL);
	ck_assert_int_eq(heapdoc_json("triage", &f, "2s"), 12);
	before = rss_of(f.pid);
	fixture_stop(&f);
	json_knob_field(out, "MALLOC_CONF", "apply.env", line, sizeof(line));
	effect = json_knob_number(out, "dirty_decay_ms", "effect_bytes");
	ck_assert_msg(!strncmp(line, "MALLOC_CONF=", 12) && strstr(line, "background_thread:true") &&
		      effect > 0, "%s", out);

	fixture_start(&f, "je_dirty", NULL, env);
	for (int waited = 0; waited < 60 && before - rss_of(f.pid) < 0.8 * effect; waited++)
		usleep(100 * 1000);
	after = rss_of(f.pid);
	fixture_stop(&f);
	assert_rss_fell(line, before, after, effect, 0.8);
}
END_TEST

/* A background thread started at run time (as redis does) is read as it is
 * now, not from the start-up option: once started, it is no longer advised,
 * while the decay time that still holds the pages is. */
START_TEST(jemalloc_background_thread_read_live)
{
	char cmd[128], current[32];
	struct fixture f;

	fixture_start(&f, "je_dirty", NULL, NULL);
	ck_assert_int_eq(heapdoc_json("knobs", &f, NULL), 0);
	json_knob_field(out, "background_thread", "command", cmd, sizeof(cmd));
	json_knob_field(out, "background_thread", "current", current, sizeof(current));
	ck_assert_msg(cmd[0] && !strcmp(current, "false"), "%s", out);
	ck_assert_int_eq(run_printed(cmd), 0);
	ck_assert_int_eq(heapdoc_json("knobs", &f, NULL), 0);
	fixture_stop(&f);
	ck_assert_msg(!has_knob("background_thread"), "advised while running: %s", out);
	ck_assert_msg(has_knob("dirty_decay_ms"), "%s", out);
}
END_TEST

/* ---- tcmalloc ------------------------------------------------------------------- */

/* 114 MiB of free spans that gperftools keeps (its own returns wait for
 * 2 GiB of frees): aggressive decommit is advised.  Set as printed on the
 * running process, the spans freed by the next round of work go back; the
 * process restarted with the printed line never keeps them. */
START_TEST(tcmalloc_aggressive_decommit_applied)
{
	char cmd[128], env_line[128];
	const char *env[] = { env_line, NULL };
	long long before, after, restarted;
	struct fixture f;
	double effect;

	fixture_start(&f, "tc_retain", NULL, NULL);
	ck_assert_int_eq(heapdoc_json("triage", &f, "2s"), 12);
	ck_assert_msg(!has_knob("TCMALLOC_RELEASE_RATE"), "a rate that moves nothing: %s", out);
	json_knob_field(out, "TCMALLOC_AGGRESSIVE_DECOMMIT", "command", cmd, sizeof(cmd));
	json_knob_field(out, "TCMALLOC_AGGRESSIVE_DECOMMIT", "apply.env", env_line,
			sizeof(env_line));
	effect = json_knob_number(out, "TCMALLOC_AGGRESSIVE_DECOMMIT", "effect_bytes");
	ck_assert_msg(cmd[0] && env_line[0] && effect > 0, "%s", out);
	before = rss_of(f.pid);
	ck_assert_int_eq(run_printed(cmd), 0);
	fixture_command(&f, "churn");
	after = rss_of(f.pid);
	fixture_refresh(&f);
	ck_assert_int_lt(fixture_value(&f, "tcmalloc.pageheap_free_bytes"), (long long)(0.2 * effect));
	fixture_stop(&f);

	fixture_start(&f, "tc_retain", NULL, env);
	restarted = rss_of(f.pid);
	fixture_stop(&f);
	assert_rss_fell("advice: aggressive decommit set live, then churn", before, after,
			effect, 0.8);
	assert_rss_fell(env_line, before, restarted, effect, 0.8);
}
END_TEST

/* ---- the memory limit ------------------------------------------------------------ */

/* A 24 MiB cache in a cgroup of 27 MiB: live-set near the limit; the
 * printed limit, written to the cgroup, leaves the working set where the
 * knob said (70%), no longer near an OOM kill. */
START_TEST(memory_limit_applied)
{
	const char *args[] = { "1.0", "0.3", NULL };
	struct live_cgroup cg;
	struct fixture f;
	char value[32], verdict[32];
	double ratio;
	int rc;

	live_cgroup_make(&cg, "memory", "advice");
	if (cg.skip[0] || !live_put(&cg, "memory.limit_in_bytes", "28311552")) {
		live_cgroup_remove(&cg);
		SKIP("%s", cg.skip);
	}
	fixture_start(&f, "scenario_plateau", args, NULL);
	if (!live_cgroup_enter(&cg, f.pid)) {
		fixture_stop(&f);
		live_cgroup_remove(&cg);
		SKIP("%s", cg.skip);
	}
	usleep(2000 * 1000);
	rc = heapdoc_json("triage", &f, "2s");
	json_knob_field(out, "memory.max", "value", value, sizeof(value));
	if (rc == 13 && value[0] && live_put(&cg, "memory.limit_in_bytes", value))
		rc = heapdoc_json("triage", &f, "2s");
	else
		rc = -rc - 100;
	fixture_stop(&f);
	live_cgroup_remove(&cg);
	ck_assert_msg(rc == 0, "exit %d (limit %s): %s", rc, value, out);
	ck_assert_str_eq(json_string_at(out, "verdict", verdict, sizeof(verdict)), "healthy");
	ratio = json_number_at(out, "memory_limit.ratio");
	fprintf(stderr, "advice: memory.max %s: working set at %.0f%% of it\n", value, 100 * ratio);
	ck_assert_msg(ratio < 0.75, "working set %.2f of the new limit", ratio);
}
END_TEST

Suite *advice_suite(void)
{
	Suite *s = suite_create("advice");
	TCase *tc = tcase_create("arenas");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, arena_cap_for_threads_taking_turns);
	tcase_add_test(tc, no_arena_cap_for_threads_bursting_together);
	tcase_add_test(tc, no_arena_cap_for_one_arena);
	tcase_add_test(tc, tunables_merged_and_applied);
	suite_add_tcase(s, tc);

	tc = tcase_create("promises");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, half_freed_small_objects_get_no_release);
	tcase_add_test(tc, released_pages_are_not_resident);
	tcase_add_test(tc, application_pool_is_named);
	suite_add_tcase(s, tc);

	tc = tcase_create("applied");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, trim_threshold_applied);
	tcase_add_test(tc, mmap_threshold_applied);
	tcase_add_test(tc, top_pad_applied);
	tcase_add_test(tc, jemalloc_decay_applied);
	tcase_add_test(tc, jemalloc_conf_line_applied);
	tcase_add_test(tc, jemalloc_background_thread_read_live);
	tcase_add_test(tc, tcmalloc_aggressive_decommit_applied);
	tcase_add_test(tc, memory_limit_applied);
	suite_add_tcase(s, tc);
	return s;
}
