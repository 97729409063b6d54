/* heapdoc leaks, before sampling: allocated at the start, and the census of
 * live C++ objects by class (lib/observe/vtables.c,
 * lib/observe/alloc/glibc_classes.c, lib/judge/classes.c).
 *
 * The truth is the fixture's own: fixtures/cxx_classes.cc counts every
 * object it keeps per class, with its chunk's size, and glibc's mallinfo2;
 * je_leak prints jemalloc's stats.allocated.  Each count must be exact. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/classes.h"
#include "testlib.h"

static char out[1 << 20], err[8192];

/* heapdoc leaks on f for a short window; its exit status. */
static int leaks_on(const struct fixture *f, bool json)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", f->pid);
	return run_heapdoc((const char *[]){ "leaks", json ? "--json" : "--top", json ? pid : "5",
			   "--duration", "0.3s", json ? NULL : pid, NULL },
			   out, sizeof(out), err, sizeof(err));
}

/* Objects and bytes of class name in before.classes equal the fixture's
 * KEY.objects and KEY.bytes. */
static void check_class(const struct fixture *f, const char *name, const char *key)
{
	char path[128], k[64];
	int i = json_index_of(out, "before.classes", "class", name);

	ck_assert_msg(i >= 0, "class %s not in the census:\n%.3000s", name, out);
	snprintf(path, sizeof(path), "before.classes[%d].objects", i);
	snprintf(k, sizeof(k), "%s.objects", key);
	ck_assert_int_eq(json_int_at(out, path), fixture_value(f, k));
	snprintf(path, sizeof(path), "before.classes[%d].bytes", i);
	snprintf(k, sizeof(k), "%s.bytes", key);
	ck_assert_int_eq(json_int_at(out, path), fixture_value(f, k));
}

/* Every class of the fixture, exactly: plain, nested in namespaces with a
 * virtual base (its vptr past a virtual-base offset), templates, a class
 * whose vtable is libstdc++'s, objects of a second arena; freed objects
 * (in thread caches, fastbins, bins) not counted. */
START_TEST(census_counts_each_class_exactly)
{
	struct fixture f;
	int rc;

	fixture_start(&f, "cxx_classes", NULL, NULL);
	rc = leaks_on(&f, true);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	check_class(&f, "Plain", "plain");
	check_class(&f, "app::net::Session", "session");
	check_class(&f, "Box<int>", "box_int");
	check_class(&f, "Box<char const*>", "box_cstr");
	check_class(&f, "std::runtime_error", "runtime_error");
	ck_assert_int_eq(json_int_at(out, "before.classes_other.classes"), 0);
	ck_assert_int_eq(json_int_at(out, "before.census.untracked_objects"), 0);
	/* Allocated as glibc's own mallinfo2 counts it, the fixture idle. */
	ck_assert_int_eq(json_int_at(out, "before.allocated_bytes"),
			 fixture_value(&f, "mallinfo2.uordblks") +
			 fixture_value(&f, "mallinfo2.hblkhd"));
	/* Biggest first: the sessions hold the most bytes. */
	ck_assert_int_eq(json_index_of(out, "before.classes", "class", "app::net::Session"), 0);
	fixture_stop(&f);
}
END_TEST

/* A thread mallocs and frees in the arena of the objects the session
 * thread left: the brief snapshot walks that arena again (or, failing
 * that, holds the process for the walk).  Counted once, exactly, every
 * time; the churn must have been seen at least once in a few reads (the
 * thread may not get a CPU during one short walk on a busy machine). */
START_TEST(census_exact_while_an_arena_churns)
{
	char method[32];
	struct fixture f;
	bool walked_again = false;

	fixture_start(&f, "cxx_classes", (const char *[]){ "20", NULL }, NULL);
	fixture_command(&f, "churn");
	fixture_refresh(&f);		/* the truth: churn prints none */
	for (int i = 0; i < 5 && !walked_again; i++) {
		int rc = leaks_on(&f, true);

		ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
		check_class(&f, "Plain", "plain");
		check_class(&f, "app::net::Session", "session");
		check_class(&f, "Box<int>", "box_int");
		json_string_at(out, "before.walk_method", method, sizeof(method));
		walked_again = json_int_at(out, "before.rewalked") > 0 || !strcmp(method, "held");
	}
	ck_assert_msg(walked_again, "in five reads no arena was walked again");
	fixture_stop(&f);
}
END_TEST

START_TEST(census_in_the_text_report)
{
	struct fixture f;
	int rc;

	fixture_start(&f, "cxx_classes", NULL, NULL);
	rc = leaks_on(&f, false);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "Live before heapdoc came, by C++ class"), "%s", out);
	ck_assert_msg(strstr(out, "600 objects  app::net::Session"), "%s", out);
	ck_assert_msg(strstr(out, "allocated when sampling began (glibc, mallinfo2"), "%s", out);
	fixture_stop(&f);
}
END_TEST

/* A C program has no census, and says why; a jemalloc one neither, but
 * its allocated is jemalloc's own, exactly. */
START_TEST(no_census_without_glibc_cxx)
{
	char why[256];
	struct fixture f;
	int rc;

	fixture_start(&f, "leak_sites", NULL, NULL);
	rc = leaks_on(&f, true);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert(!json_has(out, "before.classes"));
	json_string_at(out, "before.classes_why", why, sizeof(why));
	ck_assert_msg(strstr(why, "no C++ vtable"), "%s", why);
	ck_assert_int_gt(json_int_at(out, "before.allocated_bytes"), 0);
	fixture_stop(&f);

	fixture_start(&f, "je_leak", NULL, NULL);
	rc = leaks_on(&f, true);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert(!json_has(out, "before.classes"));
	json_string_at(out, "before.classes_why", why, sizeof(why));
	ck_assert_msg(strstr(why, "jemalloc"), "%s", why);
	ck_assert_int_eq(json_int_at(out, "before.allocated_bytes"),
			 fixture_value(&f, "jemalloc.allocated"));
	fixture_stop(&f);
}
END_TEST

/* The ranking: most bytes first, CLASSES_TOP named, the rest summed. */
START_TEST(ranking_names_the_top_and_sums_the_rest)
{
	struct class_census c = { .taken = true };
	struct class_ranking r;
	char sym[32];

	for (unsigned i = 0; i < 30; i++) {
		snprintf(sym, sizeof(sym), "_ZTV1%c%s", 'A' + (int)(i % 26), i >= 26 ? "x" : "");
		ck_assert_int_eq(class_census_append(&c, sym, i + 1, 100 * (i + 1)), 0);
	}
	/* The same class's vtable in another module: merged. */
	ck_assert_int_eq(class_census_append(&c, "_ZTV1A", 1, 100), 0);
	class_census_merge(&c);
	ck_assert_uint_eq(c.nclasses, 30);
	ck_assert_int_eq(judge_classes(&c, CLASSES_TOP, &r), 0);
	ck_assert_uint_eq(r.nshown, CLASSES_TOP);
	ck_assert_str_eq(c.classes[r.shown[0]].symbol, "_ZTV1Dx");	/* i = 29 */
	for (size_t i = 1; i < r.nshown; i++)
		ck_assert_uint_le(c.classes[r.shown[i]].bytes, c.classes[r.shown[i - 1]].bytes);
	ck_assert_uint_eq(r.rest_classes, 10);
	/* i = 0..9 (+1 object, +100 bytes for the merged _ZTV1A). */
	ck_assert_uint_eq(r.rest_objects, 55 + 1);
	ck_assert_uint_eq(r.rest_bytes, 5500 + 100);
	ck_assert_uint_eq(r.objects, 465 + 1);
	class_ranking_free(&r);
	ck_assert_int_eq(judge_classes(&c, 0, &r), 0);
	ck_assert_uint_eq(r.nshown, 30);
	ck_assert_uint_eq(r.rest_classes, 0);
	class_ranking_free(&r);
	class_census_free(&c);
}
END_TEST

Suite *census_suite(void)
{
	Suite *s = suite_create("census");
	TCase *unit = tcase_create("unit"), *live = tcase_create("live");

	tcase_add_test(unit, ranking_names_the_top_and_sums_the_rest);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, census_counts_each_class_exactly);
	tcase_add_test(live, census_exact_while_an_arena_churns);
	tcase_add_test(live, census_in_the_text_report);
	tcase_add_test(live, no_census_without_glibc_cxx);
	suite_add_tcase(s, unit);
	suite_add_tcase(s, live);
	return s;
}
