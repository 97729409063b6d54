/* lib/observe/alloc/jemalloc: jemalloc's figures read from live fixtures, compared
 * with what mallctl says inside the fixture itself (fixtures/je_truth.h,
 * printed before "ready"; nothing in the fixture allocates after that). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "observe/alloc/alloc.h"
#include "observe/alloc/jemalloc.h"
#include "observe/target.h"
#include "testlib.h"
#include "base/util.h"

/* Reads the fixture's jemalloc state the way `heapdoc stats` does. */
static struct jemalloc_state *read_stats(pid_t pid, enum alloc_link want_link)
{
	struct jemalloc_state *st = calloc(1, sizeof(*st));
	struct jemalloc_reader *r = NULL;
	struct target t = { 0 };
	struct error err = { 0 };
	struct alloc_id id;

	ck_assert_ptr_nonnull(st);
	ck_assert_msg(alloc_detect("", pid, NULL, &id, &err) == 0, "detect: %s", err.msg);
	ck_assert_int_eq(id.kind, ALLOC_JEMALLOC);
	ck_assert_int_eq(id.link, want_link);
	ck_assert_msg(jemalloc_open(&r, pid, &id, &err) == 0, "open: %s", err.msg);
	ck_assert_msg(target_attach(&t, pid, &err) == 0, "attach: %s", err.msg);
	ck_assert_msg(jemalloc_read(r, &t, 2000, st, &err) == 0, "read: %s", err.msg);
	target_detach(&t);
	jemalloc_close(r);
	return st;
}

/* |a - b| <= tol × b */
static void ck_near(uint64_t a, long long b, double tol, const char *what)
{
	double d = fabs((double)a - (double)b);

	ck_assert_msg(d <= tol * (double)b, "%s: heapdoc %llu, fixture %lld", what,
		      (unsigned long long)a, b);
}

/* The figures a fixture printed and heapdoc read, one by one.  allocated,
 * active, dirty and muzzy must be equal: nothing allocates between the two
 * reads, and the borrowed thread (the fixture's main thread, idle in read(2))
 * already has its thread cache, so the calls allocate nothing either.
 * metadata and resident may move by the few pages jemalloc's ctl itself
 * touches on a refresh: 1% allowed. */
static void compare_with_truth(const struct jemalloc_state *st, const struct fixture *f)
{
	ck_assert_uint_eq(st->allocated, fixture_value(f, "jemalloc.allocated"));
	ck_assert_uint_eq(st->active, fixture_value(f, "jemalloc.active"));
	ck_assert_uint_eq(st->dirty, fixture_value(f, "jemalloc.dirty"));
	ck_assert_uint_eq(st->muzzy, fixture_value(f, "jemalloc.muzzy"));
	ck_assert_uint_eq(st->mapped, fixture_value(f, "jemalloc.mapped"));
	ck_assert_uint_eq(st->retained, fixture_value(f, "jemalloc.retained"));
	ck_near(st->metadata, fixture_value(f, "jemalloc.metadata"), 0.01, "metadata");
	ck_near(st->resident, fixture_value(f, "jemalloc.resident"), 0.01, "resident");
	ck_assert_uint_eq(st->page, fixture_value(f, "jemalloc.page"));
	ck_assert_uint_eq(st->narenas, fixture_value(f, "jemalloc.narenas"));
	ck_assert_int_eq(st->opt.narenas, fixture_value(f, "jemalloc.opt.narenas"));
	ck_assert_int_eq(st->opt.dirty_decay_ms, fixture_value(f, "jemalloc.opt.dirty_decay_ms"));
	ck_assert_int_eq(st->opt.muzzy_decay_ms, fixture_value(f, "jemalloc.opt.muzzy_decay_ms"));
	ck_assert_int_eq(st->opt.background_thread,
			 fixture_value(f, "jemalloc.opt.background_thread"));
	ck_assert_int_eq(st->opt.tcache, fixture_value(f, "jemalloc.opt.tcache"));
	ck_assert_int_eq(st->opt.retain, fixture_value(f, "jemalloc.opt.retain"));
	ck_assert_int_eq(st->opt.prof, fixture_value(f, "jemalloc.opt.prof"));
	ck_assert_int_eq(st->tid, f->pid);	/* the main thread, parked in read(2) */
}

START_TEST(test_healthy_figures_equal_mallctl_inside)
{
	struct fixture f;
	struct jemalloc_state *st;
	uint64_t live = 0;

	fixture_start(&f, "je_healthy", NULL, NULL);
	st = read_stats(f.pid, ALLOC_SHARED);
	compare_with_truth(st, &f);
	ck_assert_str_eq(st->method, "mallctl");
	ck_assert(!strncmp(st->version, "5.", 2));
	/* Per arena: the arena rows add up to the merged figure. */
	ck_assert_uint_gt(st->narena_rows, 0);
	for (size_t i = 0; i < st->narena_rows; i++)
		live += st->arenas[i].active;
	ck_assert_uint_eq(live, fixture_value(&f, "jemalloc.pactive") * st->page);
	/* Per bin: 20 000 objects in six small sizes (fixtures/je_healthy.c),
	 * all still live, fill whole slabs but the last of each class. */
	live = 0;
	for (size_t i = 0; i < st->nbins; i++)
		live += st->bins[i].curregs * st->bins[i].size;
	ck_assert_uint_gt(st->nbins, 30);
	ck_assert_uint_le(live, st->allocated);
	ck_assert_uint_ge(live, 20000 / 6 * (24 + 80 + 200 + 640 + 1500 + 4000));
	ck_assert(st->slab_utilisation > 0.9 && st->slab_utilisation <= 1.0);
	free(st);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_decay_off_leaves_dirty_pages)
{
	struct fixture f;
	struct jemalloc_state *st;
	struct alloc_summary sum;
	struct alloc_params p;

	fixture_start(&f, "je_dirty", NULL, NULL);
	st = read_stats(f.pid, ALLOC_SHARED);
	compare_with_truth(st, &f);
	/* 128 MiB touched, 120 MiB freed with decay off: at least that much is
	 * dirty, and it is most of what is resident. */
	ck_assert_uint_ge(st->dirty, 120u << 20);
	jemalloc_summarise(st, &sum, &p);
	ck_assert(sum.valid);
	ck_assert_uint_eq(sum.free_releasable, st->dirty + st->muzzy);
	ck_assert_uint_gt(sum.free_releasable, sum.resident / 2);
	ck_assert_int_eq(p.dirty_decay_ms, -1);
	ck_assert_int_eq(p.muzzy_decay_ms, -1);
	free(st);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_fragmented_slabs_show_low_utilisation)
{
	struct fixture f;
	struct jemalloc_state *st;
	struct alloc_summary sum;
	struct alloc_params p;

	fixture_start(&f, "je_frag", NULL, NULL);
	st = read_stats(f.pid, ALLOC_SHARED);
	compare_with_truth(st, &f);
	/* One 96-byte object in eight kept (fixtures/je_frag.c): the 96-byte
	 * class runs at about 1/8 and drags the whole figure down. */
	ck_assert_msg(st->slab_utilisation > 0.08 && st->slab_utilisation < 0.3,
		      "utilisation %f", st->slab_utilisation);
	jemalloc_summarise(st, &sum, &p);
	ck_assert_uint_eq(sum.free_interleaved, fixture_value(&f, "jemalloc.active") -
			  fixture_value(&f, "jemalloc.allocated"));
	ck_assert_uint_gt(sum.free_interleaved, 4 * sum.allocated);
	free(st);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_static_jemalloc)
{
	struct fixture f;
	struct jemalloc_state *st;

	fixture_start(&f, "je_healthy-static", NULL, NULL);
	st = read_stats(f.pid, ALLOC_STATIC);
	compare_with_truth(st, &f);
	free(st);
	fixture_stop(&f);
}
END_TEST

/* jemalloc compiled in under the prefix je_ (as redis builds it): read
 * through je_mallctl. */
START_TEST(test_prefixed_static_jemalloc)
{
	struct error err = { 0 };
	struct jemalloc_state *st;
	struct alloc_id id;
	struct fixture f;

	fixture_start(&f, "je_prefixed", NULL, NULL);
	ck_assert_msg(alloc_detect("", f.pid, NULL, &id, &err) == 0, "detect: %s", err.msg);
	ck_assert_str_eq(id.prefix, "je_");
	st = read_stats(f.pid, ALLOC_STATIC);
	compare_with_truth(st, &f);
	free(st);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_sample_sees_a_leak_grow)
{
	const struct timespec half = { 0, 500 * 1000 * 1000 };
	static const char *const grow[] = { "grow", NULL };
	struct jemalloc_reader *r = NULL;
	struct target t = { 0 };
	struct error err = { 0 };
	struct alloc_id id;
	struct fixture f;
	uint64_t a1, r1, a2, r2;

	fixture_start(&f, "je_leak", grow, NULL);
	ck_assert_int_eq(alloc_detect("", f.pid, NULL, &id, &err), 0);
	ck_assert_msg(jemalloc_open(&r, f.pid, &id, &err) == 0, "open: %s", err.msg);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	ck_assert_msg(jemalloc_sample(r, &t, &a1, &r1, &err) == 0, "sample: %s", err.msg);
	nanosleep(&half, NULL);
	ck_assert_msg(jemalloc_sample(r, &t, &a2, &r2, &err) == 0, "sample: %s", err.msg);
	target_detach(&t);
	jemalloc_close(r);
	/* 16 MiB lost at start, then 256 KiB per 100 ms: 0.5 s adds ~1.25 MiB. */
	ck_assert_uint_ge(a1, 16u << 20);
	ck_assert_uint_ge(a2, a1 + (768u << 10));
	ck_assert_uint_ge(r2, a2);
	fixture_stop(&f);
}
END_TEST

/* `heapdoc triage --json` on a fixture: its exit status, and its output in
 * out.  The verdict expected is the one each fixture was built to show. */
static int triage(pid_t pid, const char *window, char *out, size_t len)
{
	char pidstr[16];
	const char *once[] = { "triage", "--json", "--once", pidstr, NULL };
	const char *timed[] = { "triage", "--json", "--duration", window, "--interval",
				"0.5", pidstr, NULL };

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	return run_heapdoc(window ? timed : once, out, len, NULL, 0);
}

static void ck_verdict(const char *out, const char *verdict)
{
	char want[64];

	snprintf(want, sizeof(want), "\"verdict\": \"%s\"", verdict);
	ck_assert_msg(strstr(out, want), "expected %s in:\n%.1500s", want, out);
}

START_TEST(test_triage_verdicts)
{
	static const char *const grow[] = { "grow", NULL };
	static char out[1 << 16];
	struct fixture f;

	/* Decay off after a big free: whole dirty pages, and the knob that
	 * returns them. */
	fixture_start(&f, "je_dirty", NULL, NULL);
	ck_assert_int_eq(triage(f.pid, NULL, out, sizeof(out)), 12);	/* EXIT_UNPURGED */
	ck_verdict(out, "unpurged");
	ck_assert_str_eq(json_string_at(out, "allocator.source", (char[16]){ 0 }, 16), "mallctl");
	ck_assert(strstr(strstr(out, "\"knobs\""), "dirty_decay_ms"));
	fixture_stop(&f);

	/* 7 objects in 8 freed all over the slabs. */
	fixture_start(&f, "je_frag", NULL, NULL);
	ck_assert_int_eq(triage(f.pid, NULL, out, sizeof(out)), 11);	/* EXIT_FRAGMENTATION */
	ck_verdict(out, "fragmentation");
	fixture_stop(&f);

	/* A live set in full use, still for 3 s. */
	fixture_start(&f, "je_healthy", NULL, NULL);
	ck_assert_int_eq(triage(f.pid, "3", out, sizeof(out)), 0);	/* EXIT_OK */
	ck_verdict(out, "healthy");
	fixture_stop(&f);

	/* 2.5 MiB/s lost for 3 s. */
	fixture_start(&f, "je_leak", grow, NULL);
	ck_assert_int_eq(triage(f.pid, "3", out, sizeof(out)), 10);	/* EXIT_LEAK */
	ck_verdict(out, "leak");
	fixture_stop(&f);
}
END_TEST

/* `heapdoc stats --json`: the "jemalloc" section holds the fixture's own
 * figures; the text form names them too. */
START_TEST(test_stats_command)
{
	static char out[1 << 17];
	static const char *const keys[] = { "allocated", "active", "mapped", "retained",
					    "dirty", "muzzy", "narenas" };
	char pidstr[16], name[64];
	const char *json[] = { "stats", "--json", pidstr, NULL };
	const char *text[] = { "stats", pidstr, NULL };
	struct fixture f;

	fixture_start(&f, "je_dirty", NULL, NULL);
	snprintf(pidstr, sizeof(pidstr), "%d", f.pid);
	ck_assert_int_eq(run_heapdoc(json, out, sizeof(out), NULL, 0), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(name, sizeof(name), "jemalloc.%s", keys[i]);
		ck_assert_msg(json_int_at(out, name) == fixture_value(&f, name),
			      "%s: %lld vs %lld", keys[i], json_int_at(out, name),
			      fixture_value(&f, name));
	}
	ck_assert_int_eq(json_int_at(out, "jemalloc.opt.dirty_decay_ms"), -1);
	ck_assert_int_eq(run_heapdoc(text, out, sizeof(out), NULL, 0), 0);
	ck_assert_msg(strstr(out, "dirty_decay_ms never"), "%.2000s", out);
	fixture_stop(&f);
}
END_TEST

/* A process whose only thread computes and never enters a system call: no
 * safe moment comes; heapdoc says so, calls nothing, and falls back on
 * /proc. */
START_TEST(test_no_safe_moment_falls_back)
{
	static char out[1 << 16], errout[4096];
	char pidstr[16], path[64], status[4096];
	const char *stats[] = { "stats", pidstr, NULL };
	const char *triage_once[] = { "triage", "--once", "--json", pidstr, NULL };
	struct fixture f;

	fixture_start(&f, "je_spin", NULL, NULL);
	snprintf(pidstr, sizeof(pidstr), "%d", f.pid);
	ck_assert_int_eq(run_heapdoc(stats, out, sizeof(out), errout, sizeof(errout)), 5);
	ck_assert_msg(strstr(errout, "no safe moment"), "%s", errout);
	ck_assert_int_eq(run_heapdoc(triage_once, out, sizeof(out), NULL, 0), 14);
	ck_verdict(out, "inconclusive");
	ck_assert(!json_bool_at(out, "allocator.state_read"));
	ck_assert(strstr(out, "no thread parked in a system call"));
	snprintf(path, sizeof(path), "/proc/%d/status", f.pid);
	ck_assert_int_ge(slurp(path, status, sizeof(status)), 0);
	ck_assert_msg(strstr(status, "TracerPid:\t0\n"), "%s", status);
	ck_assert_msg(strstr(status, "State:\tR"), "%s", status);
	fixture_stop(&f);
}
END_TEST

/* The shared summary from figures worked out by hand. */
START_TEST(test_summarise)
{
	struct jemalloc_state *st = calloc(1, sizeof(*st));
	struct alloc_summary sum;
	struct alloc_params p;

	snprintf(st->method, sizeof(st->method), "mallctl");
	st->allocated = 1000 << 10;
	st->active = 1500 << 10;
	st->resident = 4000 << 10;
	st->mapped = 5000 << 10;
	st->dirty = 2000 << 10;
	st->muzzy = 300 << 10;
	st->narenas = 9;
	st->slab_utilisation = 0.5;
	st->opt = (struct jemalloc_opt){ .narenas = 8, .dirty_decay_ms = 10000,
					 .muzzy_decay_ms = 0, .background_thread = 0,
					 .tcache = 1, .prof = 0, .retain = 1 };
	st->live = (struct jemalloc_live){ .background_thread = -1,
					   .dirty_decay_ms = PARAM_UNSET,
					   .muzzy_decay_ms = PARAM_UNSET };
	jemalloc_summarise(st, &sum, &p);
	ck_assert(sum.valid);
	ck_assert_str_eq(sum.source, "mallctl");
	ck_assert_uint_eq(sum.free_interleaved, 500 << 10);	/* active − allocated */
	ck_assert_uint_eq(sum.free_releasable, 2300 << 10);	/* dirty + muzzy */
	ck_assert_uint_eq(sum.free_total, 2800 << 10);
	ck_assert_uint_eq(sum.top_size, UNSET);
	ck_assert_uint_eq(sum.narenas, 9);
	ck_assert_int_eq(p.narenas, 8);
	ck_assert_int_eq(p.dirty_decay_ms, 10000);
	ck_assert_int_eq(p.background_thread, 0);
	ck_assert_int_eq(p.trim_threshold, PARAM_UNSET);

	/* The settings as they are now win over the start-up options: a
	 * background thread started at run time (redis), a decay changed. */
	st->live = (struct jemalloc_live){ .background_thread = 1, .dirty_decay_ms = -1,
					   .muzzy_decay_ms = 500 };
	jemalloc_summarise(st, &sum, &p);
	ck_assert_int_eq(p.background_thread, 1);
	ck_assert_int_eq(p.dirty_decay_ms, -1);
	ck_assert_int_eq(p.muzzy_decay_ms, 500);
	free(st);
}
END_TEST

Suite *jemalloc_suite(void)
{
	Suite *s = suite_create("jemalloc");
	TCase *live = tcase_create("live"), *unit = tcase_create("unit");

	tcase_set_timeout(live, 60);
	tcase_add_test(live, test_healthy_figures_equal_mallctl_inside);
	tcase_add_test(live, test_decay_off_leaves_dirty_pages);
	tcase_add_test(live, test_fragmented_slabs_show_low_utilisation);
	tcase_add_test(live, test_static_jemalloc);
	tcase_add_test(live, test_prefixed_static_jemalloc);
	tcase_add_test(live, test_sample_sees_a_leak_grow);
	tcase_add_test(live, test_triage_verdicts);
	tcase_add_test(live, test_stats_command);
	tcase_add_test(live, test_no_safe_moment_falls_back);
	tcase_add_test(unit, test_summarise);
	suite_add_tcase(s, live);
	suite_add_tcase(s, unit);
	return s;
}
