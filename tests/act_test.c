/* heapdoc release and heapdoc set on live fixtures, checked against each
 * allocator's own view of itself (the fixture's truth) and against RSS;
 * the refusals; and a process that checks its own registers across
 * blocking system calls while release and set borrow its threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static char out[1 << 16], err[8192];

/* heapdoc <args...> <pid> [more...]: the pid goes where "PID" stands. */
static int act(const struct fixture *f, const char *const *args)
{
	const char *argv[16];
	char pid[16];
	size_t n = 0;

	snprintf(pid, sizeof(pid), "%d", (int)f->pid);
	for (; args[n] && n + 1 < 16; n++)
		argv[n] = strcmp(args[n], "PID") ? args[n] : pid;
	argv[n] = NULL;
	return run_heapdoc(argv, out, sizeof(out), err, sizeof(err));
}

/* ---- release ----------------------------------------------------------------- */

/* RSS falls by most of the prediction, and the allocator itself agrees. */
static void assert_released(const struct fixture *f, long long before, long long after)
{
	double predicted = json_number_at(out, "predicted");

	ck_assert_msg(json_bool_at(out, "done"), "release not done: %s %s", out, err);
	ck_assert_msg(predicted > 0, "nothing predicted: %s", out);
	ck_assert_msg(before - after >= 0.8 * predicted, "RSS fell %lld bytes of %.0f predicted",
		      before - after, predicted);
	ck_assert_int_eq(json_number_at(out, "rss_before") >= json_number_at(out, "rss_after"), 1);
	(void)f;
}

START_TEST(jemalloc_purged_then_decay_zero)
{
	const char *release[] = { "release", "--json", "PID", NULL };
	const char *set[] = { "set", "--json", "PID", "dirty_decay_ms=0", NULL };
	struct fixture f;
	long long before;

	fixture_start(&f, "je_dirty", NULL, NULL);
	ck_assert_int_gt(fixture_value(&f, "jemalloc.dirty"), 64 << 20);
	before = rss_of(f.pid);
	ck_assert_int_eq(act(&f, release), 0);
	assert_released(&f, before, rss_of(f.pid));
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "jemalloc.dirty") + fixture_value(&f, "jemalloc.muzzy"), 0);

	ck_assert_int_eq(fixture_value(&f, "jemalloc.arena0.dirty_decay_ms"), -1);
	ck_assert_int_eq(act(&f, set), 0);
	ck_assert_int_eq((int)json_number_at(out, "changes[0].old"), -1);
	ck_assert_int_eq((int)json_number_at(out, "changes[0].new"), 0);
	/* The process's own MALLOC_CONF (the fixture's muzzy_decay_ms:-1) is
	 * kept in the line that makes the change permanent. */
	ck_assert_msg(strstr(out, "\"env\": \"MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:-1\""),
		      "%s", out);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "jemalloc.arena0.dirty_decay_ms"), 0);
	ck_assert_int_eq(fixture_value(&f, "jemalloc.arenas.dirty_decay_ms"), 0);
	fixture_stop(&f);
}
END_TEST

/* A fresh process with decay off: setting it to 0 alone returns the pages. */
START_TEST(jemalloc_decay_zero_returns_dirty_pages)
{
	const char *set[] = { "set", "--json", "PID", "dirty_decay_ms=0", "muzzy_decay_ms=0", NULL };
	struct fixture f;
	long long dirty, before;

	fixture_start(&f, "je_dirty", NULL, NULL);
	dirty = fixture_value(&f, "jemalloc.dirty");
	before = rss_of(f.pid);
	ck_assert_int_eq(act(&f, set), 0);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "jemalloc.dirty"), 0);
	ck_assert_msg(before - rss_of(f.pid) >= 0.8 * dirty, "RSS fell %lld of %lld dirty",
		      before - rss_of(f.pid), dirty);
	fixture_stop(&f);
}
END_TEST

START_TEST(tcmalloc_page_heap_released)
{
	const char *release[] = { "release", "--json", "PID", NULL };
	const char *set[] = { "set", "--json", "PID", "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES=16m",
			      "TCMALLOC_RELEASE_RATE=5", NULL };
	struct fixture f;
	long long before;

	fixture_start(&f, "tc_retain", NULL, NULL);
	ck_assert_int_gt(fixture_value(&f, "tcmalloc.pageheap_free_bytes"), 64 << 20);
	before = rss_of(f.pid);
	ck_assert_int_eq(act(&f, release), 0);
	assert_released(&f, before, rss_of(f.pid));
	fixture_refresh(&f);
	ck_assert_int_lt(fixture_value(&f, "tcmalloc.pageheap_free_bytes"), 4 << 20);

	ck_assert_int_eq(act(&f, set), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"new\": 16777216"));
	ck_assert_ptr_nonnull(strstr(out, "\"old\": 0,"));	/* the fixture's rate */
	ck_assert_ptr_nonnull(strstr(out, "\"new\": 5"));
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "tcmalloc.max_total_thread_cache_bytes"), 16 << 20);
	fixture_stop(&f);
}
END_TEST

/* --dry-run changes nothing; --verify watches RSS stay down. */
START_TEST(glibc_dry_run_then_verify)
{
	const char *dry[] = { "release", "--json", "--dry-run", "PID", NULL };
	const char *verify[] = { "release", "--json", "--verify", "1s", "PID", NULL };
	struct fixture f;
	long long before;

	fixture_start(&f, "act_glibc", NULL, NULL);
	before = rss_of(f.pid);
	ck_assert_int_eq(act(&f, dry), 0);
	ck_assert_int_eq(json_bool_at(out, "done"), 0);
	ck_assert_int_gt((long long)json_number_at(out, "predicted"), 32 << 20);
	ck_assert_int_lt(llabs(rss_of(f.pid) - before), 1 << 20);
	ck_assert_int_eq(act(&f, verify), 0);
	assert_released(&f, before, rss_of(f.pid));
	ck_assert_ptr_nonnull(strstr(out, "\"outcome\": \"held\""));
	/* Nothing left to give: refused, and said why. */
	ck_assert_int_eq(act(&f, (const char *[]){ "release", "PID", NULL }), 0);
	ck_assert_msg(strstr(out, "no whole free page"), "%s", out);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "data_ok"), 1);
	fixture_stop(&f);
}
END_TEST

/* ---- set on glibc ---------------------------------------------------------------- */

/* The trim threshold read back from mp_, and glibc acting on it: freeing the
 * top of the heap returns it at the default, keeps it at 1 GiB. */
START_TEST(glibc_trim_threshold_set_and_read_back)
{
	const char *set[] = { "set", "--json", "PID", "MALLOC_TRIM_THRESHOLD_=1g", NULL };
	struct fixture f;
	long long before;

	fixture_start(&f, "act_glibc", NULL, NULL);
	before = rss_of(f.pid);
	fixture_command(&f, "grow");
	ck_assert_int_lt(rss_of(f.pid) - before, 4 << 20);
	ck_assert_int_eq(act(&f, set), 0);
	ck_assert_int_eq((long long)json_number_at(out, "changes[0].old"), 128 * 1024);
	ck_assert_int_eq((long long)json_number_at(out, "changes[0].new"), 1LL << 30);
	ck_assert_ptr_nonnull(strstr(out, "dynamic mmap threshold"));
	ck_assert_ptr_nonnull(strstr(out, "\"env\": \"MALLOC_TRIM_THRESHOLD_=1073741824\""));
	ck_assert_ptr_nonnull(strstr(out, "\"lasts\": \"until the process exits\""));
	before = rss_of(f.pid);
	fixture_command(&f, "grow");
	ck_assert_int_ge(rss_of(f.pid) - before, 24 << 20);
	fixture_stop(&f);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------- */

START_TEST(bad_names_and_values)
{
	static const struct {
		const char *arg, *says;
	} cases[] = {
		{ "MALLOC_ARENA_MAX=2", "GLIBC_TUNABLES=glibc.malloc.arena_max=2" },
		{ "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", "restart" },
		{ "dirty_decay_ms=0", "glibc accepts MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, "
				      "MALLOC_MMAP_THRESHOLD_" },
		{ "MALLOC_MMAP_THRESHOLD_=1g", "from 0 to 33554432" },
		{ "MALLOC_TOP_PAD_=lots", "not 'lots'" },
		{ "MALLOC_TOP_PAD_", "not NAME=VALUE" },
	};
	struct fixture f;

	fixture_start(&f, "act_glibc", NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *set[] = { "set", "PID", cases[i].arg, NULL };

		ck_assert_int_eq(act(&f, set), 2);
		ck_assert_msg(strstr(err, cases[i].says), "%s: %s", cases[i].arg, err);
	}
	ck_assert_int_eq(act(&f, (const char *[]){ "set", "--json", "PID",
						   "MALLOC_TOP_PAD_=131072", NULL }), 0);
	ck_assert_int_eq((long long)json_number_at(out, "changes[0].old"), 128 * 1024);	/* nothing changed */
	fixture_stop(&f);

	fixture_start(&f, "je_dirty", NULL, NULL);
	ck_assert_int_eq(act(&f, (const char *[]){ "set", "PID", "narenas=2", NULL }), 2);
	ck_assert_ptr_nonnull(strstr(err, "MALLOC_CONF=narenas:2"));
	ck_assert_int_eq(act(&f, (const char *[]){ "release", "--arena", "4000", "PID", NULL }), 1);
	ck_assert_msg(strstr(err, "no arena 4000"), "%s", err);
	fixture_stop(&f);
}
END_TEST

/* main_arena's mutex held for good: no safe moment, a refusal that says
 * why within the timeout, and nothing changed. */
START_TEST(no_safe_moment_changes_nothing)
{
	const char *release[] = { "release", "--timeout", "1s", "PID", NULL };
	const char *set[] = { "set", "--timeout", "1s", "PID", "MALLOC_TRIM_THRESHOLD_=4096", NULL };
	struct fixture f;
	long long before;

	fixture_start(&f, "act_glibc", NULL, NULL);
	fixture_command(&f, "lock");
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "locked"), 1);
	before = rss_of(f.pid);
	ck_assert_int_eq(act(&f, release), 1);
	ck_assert_msg(strstr(err, "no safe moment") && strstr(err, "mutex") &&
		      strstr(err, "nothing was changed"), "%s", err);
	ck_assert_int_lt(llabs(rss_of(f.pid) - before), 1 << 20);
	ck_assert_int_eq(act(&f, set), 1);
	fixture_command(&f, "unlock");
	ck_assert_int_eq(act(&f, (const char *[]){ "set", "--json", "PID",
						   "MALLOC_TRIM_THRESHOLD_=131072", NULL }), 0);
	ck_assert_int_eq((long long)json_number_at(out, "changes[0].old"), 128 * 1024);
	fixture_stop(&f);
}
END_TEST

/* ---- the target keeps computing right ------------------------------------------ */

START_TEST(registers_survive_release_and_set)
{
	const char *release[] = { "release", "PID", NULL };
	char pad[64];
	const char *set[] = { "set", "PID", pad, NULL };
	struct fixture f;
	long long main0;

	fixture_start(&f, "act_vectors", NULL, NULL);
	main0 = fixture_value(&f, "checks.main");
	for (int i = 0; i < 8; i++) {
		fixture_command(&f, "refill");
		ck_assert_msg(act(&f, release) == 0, "release: %s", err);
		ck_assert_ptr_nonnull(strstr(out, "came back"));
		snprintf(pad, sizeof(pad), "MALLOC_TOP_PAD_=%d", (i + 1) * 65536);
		ck_assert_msg(act(&f, set) == 0, "set: %s", err);
	}
	usleep(50 * 1000);
	fixture_refresh(&f);
	ck_assert_int_ge(fixture_value(&f, "checks.main") - main0, 8 * 7);
	ck_assert_int_gt(fixture_value(&f, "checks.sleeper"), 0);
	ck_assert_int_gt(fixture_value(&f, "checks.reader"), 0);
	ck_assert_int_gt(fixture_value(&f, "checks.waiter"), 0);
	ck_assert_int_gt(fixture_value(&f, "checks.poller"), 0);
	ck_assert_int_eq(fixture_value(&f, "bad.vector"), 0);
	ck_assert_int_eq(fixture_value(&f, "bad.mask"), 0);
	ck_assert_int_eq(fixture_value(&f, "bad.x87"), 0);
	ck_assert_int_eq(fixture_value(&f, "bad.control"), 0);
	ck_assert_int_eq(fixture_value(&f, "bad.syscall"), 0);
	fprintf(stderr, "act: registers: width %lld, %lld checks in the borrowed thread, "
		"epoll_wait EINTR after a stop %lld times\n", fixture_value(&f, "width"),
		fixture_value(&f, "checks.main") - main0, fixture_value(&f, "eintr.poller"));
	fixture_stop(&f);
}
END_TEST

Suite *act_suite(void)
{
	Suite *s = suite_create("act");
	TCase *live = tcase_create("live");

	tcase_set_timeout(live, 120);
	tcase_add_test(live, jemalloc_purged_then_decay_zero);
	tcase_add_test(live, jemalloc_decay_zero_returns_dirty_pages);
	tcase_add_test(live, tcmalloc_page_heap_released);
	tcase_add_test(live, glibc_dry_run_then_verify);
	tcase_add_test(live, glibc_trim_threshold_set_and_read_back);
	tcase_add_test(live, bad_names_and_values);
	tcase_add_test(live, no_safe_moment_changes_nothing);
	tcase_add_test(live, registers_survive_release_and_set);
	suite_add_tcase(s, live);
	return s;
}
