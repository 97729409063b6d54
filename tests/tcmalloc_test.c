/* lib/observe/alloc/tcmalloc: gperftools' properties read from live fixtures,
 * compared with what MallocExtension_GetNumericProperty says inside the
 * fixture itself (fixtures/tc_truth.h). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "observe/alloc/alloc.h"
#include "observe/alloc/tcmalloc.h"
#include "observe/elfsym.h"
#include "observe/inject.h"
#include "observe/target.h"
#include "testlib.h"
#include "base/util.h"

static void read_stats_linked(pid_t pid, struct tcmalloc_state *st, enum alloc_link link)
{
	struct tcmalloc_reader *r = NULL;
	struct target t = { 0 };
	struct error err = { 0 };
	struct alloc_id id;

	ck_assert_msg(alloc_detect("", pid, NULL, &id, &err) == 0, "detect: %s", err.msg);
	ck_assert_int_eq(id.kind, ALLOC_TCMALLOC);
	ck_assert_int_eq(id.link, link);
	ck_assert_msg(tcmalloc_open(&r, pid, &id, &err) == 0, "open: %s", err.msg);
	ck_assert_msg(target_attach(&t, pid, &err) == 0, "attach: %s", err.msg);
	ck_assert_msg(tcmalloc_read(r, &t, 2000, st, &err) == 0, "read: %s", err.msg);
	target_detach(&t);
	tcmalloc_close(r);
}

static void read_stats(pid_t pid, struct tcmalloc_state *st)
{
	read_stats_linked(pid, st, ALLOC_SHARED);
}

/* Every property the fixture printed equals heapdoc's: nothing allocates
 * between the two reads, and the property calls allocate nothing. */
static void compare_with_truth(const struct tcmalloc_state *st, const struct fixture *f)
{
	ck_assert_str_eq(st->flavor, "gperftools");
	ck_assert_uint_ge(st->nprops, 9);
	for (size_t i = 0; i < st->nprops; i++) {
		const char *name = st->props[i].name;

		ck_assert_msg(fixture_has(f, name), "fixture lacks %s", name);
		ck_assert_msg(st->props[i].value == (uint64_t)fixture_value(f, name),
			      "%s: heapdoc %llu, fixture %lld", name,
			      (unsigned long long)st->props[i].value, fixture_value(f, name));
	}
	ck_assert_int_eq(st->tid, f->pid);	/* the main thread, parked in read(2) */
}

START_TEST(test_leak_figures_equal_properties_inside)
{
	struct tcmalloc_state st;
	struct fixture f;

	fixture_start(&f, "tc_leak", NULL, NULL);
	read_stats(f.pid, &st);
	compare_with_truth(&st, &f);
	/* 16 Ki blocks of 1 KiB lost (fixtures/tc_leak.c). */
	ck_assert_uint_ge(tcmalloc_property(&st, "generic.current_allocated_bytes"), 16u << 20);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_static_tcmalloc)
{
	struct tcmalloc_state st;
	struct fixture f;

	fixture_start(&f, "tc_static", NULL, NULL);
	read_stats_linked(f.pid, &st, ALLOC_STATIC);
	compare_with_truth(&st, &f);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_release_rate_zero_keeps_free_spans)
{
	struct tcmalloc_state st;
	struct alloc_summary sum;
	struct alloc_params p;
	struct fixture f;

	fixture_start(&f, "tc_retain", NULL, NULL);
	read_stats(f.pid, &st);
	compare_with_truth(&st, &f);
	tcmalloc_summarise(&st, &sum, &p);
	ck_assert(sum.valid);
	/* 120 MiB of 256 KiB spans freed, never released (rate 0); a few of
	 * them may sit in the thread cache instead of the page heap. */
	ck_assert_uint_ge(sum.free_releasable, 100u << 20);
	ck_assert_uint_gt(sum.free_releasable, sum.resident / 2);
	ck_assert_uint_eq(sum.resident, tcmalloc_property(&st, "generic.total_physical_bytes"));
	ck_assert_int_eq(p.max_total_thread_cache_bytes,
			 fixture_value(&f, "tcmalloc.max_total_thread_cache_bytes"));
	fixture_stop(&f);
}
END_TEST

START_TEST(test_sample_sees_a_leak_grow)
{
	const struct timespec half = { 0, 500 * 1000 * 1000 };
	static const char *const grow[] = { "grow", NULL };
	struct tcmalloc_reader *r = NULL;
	struct target t = { 0 };
	struct error err = { 0 };
	struct alloc_id id;
	struct fixture f;
	uint64_t a1, r1, a2, r2;

	fixture_start(&f, "tc_leak", grow, NULL);
	ck_assert_int_eq(alloc_detect("", f.pid, NULL, &id, &err), 0);
	ck_assert_msg(tcmalloc_open(&r, f.pid, &id, &err) == 0, "open: %s", err.msg);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	ck_assert_msg(tcmalloc_sample(r, &t, &a1, &r1, &err) == 0, "sample: %s", err.msg);
	nanosleep(&half, NULL);
	ck_assert_msg(tcmalloc_sample(r, &t, &a2, &r2, &err) == 0, "sample: %s", err.msg);
	target_detach(&t);
	tcmalloc_close(r);
	/* 256 KiB per 100 ms: 0.5 s adds ~1.25 MiB. */
	ck_assert_uint_ge(a2, a1 + (768u << 10));
	ck_assert_uint_ge(r2, a2);
	fixture_stop(&f);
}
END_TEST

/* While the page-heap lock word says "held", no call is made; once it says
 * "free" again, one is.  The word is set by hand with the target stopped and
 * nothing in it allocating (tc_leak idles in read(2)). */
START_TEST(test_held_pageheap_lock_blocks_the_call)
{
	struct fixture f;
	struct alloc_id id;
	struct target t = { 0 };
	struct error err = { 0 };
	struct tcmalloc_reader *r = NULL;
	struct tcmalloc_state st;
	struct elfsym es;
	uint64_t lock, base;
	uint32_t held = 1, free_word = 0;
	char mem[64];
	int fd;

	fixture_start(&f, "tc_leak", NULL, NULL);
	ck_assert_int_eq(alloc_detect("", f.pid, NULL, &id, &err), 0);
	ck_assert_int_eq(elfsym_load_base(f.pid, id.path, &base, NULL), 0);
	ck_assert_int_eq(elfsym_open(&es, f.pid, id.path, base, NULL), 0);
	ck_assert_int_eq(elfsym_lookup(&es, "_ZN8tcmalloc6Static14pageheap_lock_E", &lock,
				       NULL), 0);
	elfsym_close(&es);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", f.pid);
	fd = open(mem, O_RDWR);
	ck_assert_int_ge(fd, 0);

	ck_assert_int_eq(tcmalloc_open(&r, f.pid, &id, &err), 0);
	ck_assert_int_eq(target_attach(&t, f.pid, &err), 0);
	ck_assert_int_eq(pwrite(fd, &held, sizeof(held), lock), sizeof(held));
	ck_assert_int_eq(tcmalloc_read(r, &t, 100, &st, &err), -EAGAIN);
	ck_assert_msg(strstr(err.msg, "tcmalloc lock held"), "%s", err.msg);
	ck_assert_int_eq(pwrite(fd, &free_word, sizeof(free_word), lock), sizeof(free_word));
	ck_assert_msg(tcmalloc_read(r, &t, 1000, &st, &err) == 0, "read: %s", err.msg);
	target_detach(&t);
	tcmalloc_close(r);
	close(fd);
	compare_with_truth(&st, &f);
	fixture_stop(&f);
}
END_TEST

/* `heapdoc triage --json` on the fixtures built to show a verdict. */
START_TEST(test_triage_verdicts)
{
	static const char *const grow[] = { "grow", NULL };
	static char out[1 << 16];
	char pidstr[16];
	const char *once[] = { "triage", "--json", "--once", pidstr, NULL };
	const char *timed[] = { "triage", "--json", "--duration", "3", "--interval", "0.5",
				pidstr, NULL };
	struct fixture f;

	/* Release rate 0 after a big free: page-heap free spans, and the
	 * knob that returns them. */
	fixture_start(&f, "tc_retain", NULL, NULL);
	snprintf(pidstr, sizeof(pidstr), "%d", f.pid);
	ck_assert_int_eq(run_heapdoc(once, out, sizeof(out), NULL, 0), 12);	/* EXIT_UNPURGED */
	ck_assert_str_eq(json_string_at(out, "verdict", (char[32]){ 0 }, 32), "unpurged");
	ck_assert_str_eq(json_string_at(out, "allocator.source", (char[16]){ 0 }, 16), "property");
	ck_assert(strstr(strstr(out, "\"knobs\""), "TCMALLOC_AGGRESSIVE_DECOMMIT"));
	fixture_stop(&f);

	fixture_start(&f, "tc_leak", grow, NULL);
	snprintf(pidstr, sizeof(pidstr), "%d", f.pid);
	ck_assert_int_eq(run_heapdoc(timed, out, sizeof(out), NULL, 0), 10);	/* EXIT_LEAK */
	ck_assert_str_eq(json_string_at(out, "verdict", (char[32]){ 0 }, 32), "leak");
	fixture_stop(&f);
}
END_TEST

/* `heapdoc stats --json`: every property under "tcmalloc" equals the
 * fixture's own. */
START_TEST(test_stats_command)
{
	static char out[1 << 16];
	char pidstr[16];
	const char *json[] = { "stats", "--json", pidstr, NULL };
	struct fixture f;

	fixture_start(&f, "tc_retain", NULL, NULL);
	snprintf(pidstr, sizeof(pidstr), "%d", f.pid);
	ck_assert_int_eq(run_heapdoc(json, out, sizeof(out), NULL, 0), 0);
	for (const char *const *name = (const char *const[]){
		     "generic.current_allocated_bytes", "generic.heap_size",
		     "tcmalloc.pageheap_free_bytes", "tcmalloc.central_cache_free_bytes",
		     "tcmalloc.transfer_cache_free_bytes", NULL };
	     *name; name++)
		ck_assert_int_eq(json_int_in(out, "tcmalloc.properties", *name),
				 fixture_value(&f, *name));
	fixture_stop(&f);
}
END_TEST

/* The shared summary from properties worked out by hand. */
START_TEST(test_summarise)
{
	struct tcmalloc_state st = { .nprops = 0 };
	struct alloc_summary sum;
	struct alloc_params p;
	const struct tcmalloc_property props[] = {
		{ "generic.current_allocated_bytes", 1000 },
		{ "generic.heap_size", 9000 },
		{ "generic.total_physical_bytes", 8500 },
		{ "tcmalloc.pageheap_free_bytes", 5000 },
		{ "tcmalloc.pageheap_unmapped_bytes", 1000 },
		{ "tcmalloc.current_total_thread_cache_bytes", 300 },
		{ "tcmalloc.central_cache_free_bytes", 200 },
		{ "tcmalloc.transfer_cache_free_bytes", 100 },
		{ "tcmalloc.max_total_thread_cache_bytes", 1 << 25 },
	};

	memcpy(st.props, props, sizeof(props));
	st.nprops = ARRAY_SIZE(props);
	tcmalloc_summarise(&st, &sum, &p);
	ck_assert(sum.valid);
	ck_assert_str_eq(sum.source, "property");
	ck_assert_uint_eq(sum.allocated, 1000);
	ck_assert_uint_eq(sum.resident, 8500);
	ck_assert_uint_eq(sum.mapped, 9000);
	ck_assert_uint_eq(sum.active, UNSET);
	ck_assert_uint_eq(sum.free_interleaved, 600);	/* 300 + 200 + 100 */
	ck_assert_uint_eq(sum.free_releasable, 5000);
	ck_assert_uint_eq(sum.free_total, 5600);
	ck_assert(isnan(sum.slab_utilisation));
	ck_assert_int_eq(p.max_total_thread_cache_bytes, 1 << 25);
	ck_assert_int_eq(p.dirty_decay_ms, PARAM_UNSET);

	/* Without a physical figure: the heap less what was unmapped. */
	st.props[2].name = "not.a.property";
	tcmalloc_summarise(&st, &sum, &p);
	ck_assert_uint_eq(sum.resident, 8000);
}
END_TEST

Suite *tcmalloc_suite(void)
{
	Suite *s = suite_create("tcmalloc");
	TCase *live = tcase_create("live"), *unit = tcase_create("unit");

	tcase_set_timeout(live, 60);
	tcase_add_test(live, test_leak_figures_equal_properties_inside);
	tcase_add_test(live, test_static_tcmalloc);
	tcase_add_test(live, test_release_rate_zero_keeps_free_spans);
	tcase_add_test(live, test_sample_sees_a_leak_grow);
	tcase_add_test(live, test_held_pageheap_lock_blocks_the_call);
	tcase_add_test(live, test_triage_verdicts);
	tcase_add_test(live, test_stats_command);
	tcase_add_test(unit, test_summarise);
	suite_add_tcase(s, live);
	suite_add_tcase(s, unit);
	return s;
}
