/* glibc heap state from outside, compared with the fixture's own view.
 *
 * Truth is what the fixture computed in-process (fixtures/glibc_heap.c):
 * its mallinfo2(), the arena count malloc_info() lists, what it put into
 * its tcache.  heapdoc runs as a separate process (`heapdoc stats --json`)
 * or through the library (glibc_open/glibc_snapshot).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "observe/alloc/glibc.h"
#include "observe/alloc/glibc_layout.h"
#include "observe/target.h"
#include "testlib.h"

static char out[1 << 20], err[8192];

static const char *const mallinfo2_fields[] = {
	"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
	"uordblks", "fordblks", "keepcost",
};

static int stats_json(pid_t pid)
{
	char pidarg[16];
	const char *args[] = { "stats", "--json", pidarg, NULL };

	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	return run_heapdoc(args, out, sizeof(out), err, sizeof(err));
}

/* heapdoc's mallinfo2 equals the fixture's, field by field. */
static void check_mallinfo2(const char *fixture, const char *scenario)
{
	const char *args[] = { scenario, NULL };
	struct fixture f;
	int rc;

	fixture_start(&f, fixture, args, NULL);
	rc = stats_json(f.pid);
	ck_assert_msg(rc == 0, "%s %s: exit %d: %s", fixture, scenario, rc, err);
	for (size_t i = 0; i < sizeof(mallinfo2_fields) / sizeof(*mallinfo2_fields); i++) {
		char key[64], path[80];

		snprintf(key, sizeof(key), "mallinfo2.%s", mallinfo2_fields[i]);
		snprintf(path, sizeof(path), "glibc.%s", key);
		ck_assert_msg(json_int_at(out, path) == fixture_value(&f, key),
			      "%s %s: %s: heapdoc %lld, the process %lld", fixture, scenario,
			      key, json_int_at(out, path), fixture_value(&f, key));
	}
	ck_assert_msg(!json_bool_at(out, "corrupt"), "%s %s: corrupt", fixture, scenario);
	ck_assert_msg(json_bool_at(out, "target.consistent"), "%s %s: not consistent", fixture,
		      scenario);
	if (fixture_value(&f, "arenas") > 0)
		ck_assert_int_eq(json_int_at(out, "glibc.narenas"), fixture_value(&f, "arenas"));
	fixture_stop(&f);
}

START_TEST(mallinfo2_single_thread) { check_mallinfo2("glibc_heap", "single"); }
END_TEST
START_TEST(mallinfo2_many_arenas) { check_mallinfo2("glibc_heap", "threads"); }
END_TEST
START_TEST(mallinfo2_arena_over_several_heaps) { check_mallinfo2("glibc_heap", "heaps"); }
END_TEST
START_TEST(mallinfo2_mmapped_chunks) { check_mallinfo2("glibc_heap", "mmapped"); }
END_TEST
START_TEST(mallinfo2_tcache_and_fastbins) { check_mallinfo2("glibc_heap", "caches"); }
END_TEST
START_TEST(mallinfo2_before_any_malloc) { check_mallinfo2("glibc_heap", "fresh"); }
END_TEST
START_TEST(mallinfo2_static_binary) { check_mallinfo2("glibc_heap-static", "single"); }
END_TEST

/* Through the library: the heaps, the tcache and the arena layout. */
static void snapshot_of(struct fixture *f, struct glibc_state *st)
{
	struct glibc_reader *r;
	struct target t = { 0 };
	struct error e = { 0 };

	ck_assert_msg(glibc_open(&r, f->pid, NULL, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_attach(&t, f->pid, &e) == 0, "%s", e.msg);
	ck_assert_msg(glibc_snapshot(r, &t, st, &e) == 0, "%s", e.msg);
	target_detach(&t);
	glibc_close(r);
}

START_TEST(tcache_holds_what_the_main_thread_freed)
{
	const char *args[] = { "caches", NULL };
	struct glibc_state st;
	struct fixture f;
	bool found = false;

	fixture_start(&f, "glibc_heap", args, NULL);
	snapshot_of(&f, &st);
	ck_assert(st.tcache_known);
	for (size_t i = 0; i < st.ntcaches; i++) {
		if (st.tcaches[i].tid != f.pid)
			continue;
		found = true;
		ck_assert_int_eq(st.tcaches[i].chunks, fixture_value(&f, "tcache.main.chunks"));
		ck_assert_int_eq(st.tcaches[i].bytes, fixture_value(&f, "tcache.main.bytes"));
	}
	ck_assert_msg(found, "no tcache for the main thread");
	/* The five chunks freed past the full tcache bin sit in a fastbin. */
	ck_assert_int_eq(st.arenas[0].fastbin_chunks, 5);
	glibc_state_free(&st);
	fixture_stop(&f);
}
END_TEST

/* A live 1000-byte block right below the main arena's top, 60 MiB of freed
 * 2 KiB blocks below it: the walk, the summary and stats --json must name
 * the chunk (user pointer − 16), its size as its header says, and the free
 * bytes below it, as the fixture reads them in-process. */
START_TEST(top_held_by_a_live_chunk)
{
	struct glibc_state st;
	struct alloc_summary sum;
	struct fixture f;
	const struct glibc_arena *main_arena = NULL;
	long long chunk, size, free_below;
	int rc;

	fixture_start(&f, "scenario_top_held", NULL, NULL);
	chunk = fixture_value(&f, "held_by_chunk");
	size = fixture_value(&f, "held_by_size");
	free_below = fixture_value(&f, "free_below");
	snapshot_of(&f, &st);
	for (size_t i = 0; i < st.narenas; i++)
		if (st.arenas[i].main)
			main_arena = &st.arenas[i];
	ck_assert_ptr_nonnull(main_arena);
	ck_assert_int_eq(main_arena->below_top, chunk);
	ck_assert_int_eq(main_arena->below_top_size, size);
	ck_assert_int_eq(main_arena->below_top_free, free_below);
	ck_assert(!main_arena->below_top_cached);
	ck_assert_int_eq(st.top_held, free_below);
	glibc_summarise(&st, &sum, NULL);
	ck_assert_int_eq(sum.top_held_bytes, free_below);
	ck_assert_int_eq(sum.top_held_by, chunk);
	ck_assert_int_eq(sum.top_held_by_size, size);
	glibc_state_free(&st);

	rc = stats_json(f.pid);
	fixture_stop(&f);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	/* The main arena is the first. */
	ck_assert_int_eq(json_int_at(out, "glibc.arenas[0].top_held_by.address"), chunk);
	ck_assert_int_eq(json_int_at(out, "glibc.arenas[0].top_held_by.size"), size);
	ck_assert_int_eq(json_int_at(out, "glibc.arenas[0].top_held_by.free_below"), free_below);
}
END_TEST

START_TEST(heaps_add_up_to_system_mem)
{
	const char *args[] = { "heaps", NULL };
	struct glibc_state st;
	struct fixture f;
	unsigned multi = 0;

	fixture_start(&f, "glibc_heap", args, NULL);
	snapshot_of(&f, &st);
	ck_assert_int_eq(st.narenas, 2);
	for (size_t i = 0; i < st.narenas; i++)
		if (!st.arenas[i].main && st.arenas[i].heaps >= 2)
			multi++;
	/* 1600 blocks of 64 KiB, a third freed: more than one 64 MiB heap. */
	ck_assert_uint_eq(multi, 1);
	ck_assert_msg(!st.corrupt, "%s", st.findings[0].what);
	glibc_state_free(&st);
	fixture_stop(&f);
}
END_TEST

/* The census covers every byte of every arena: in-use, cached and free
 * chunks plus the tops plus the arena headers and fenceposts. */
START_TEST(census_accounts_for_the_heaps)
{
	const char *args[] = { "threads", NULL };
	struct glibc_state st;
	struct fixture f;
	uint64_t chunks = 0, free_bytes = 0;

	fixture_start(&f, "glibc_heap", args, NULL);
	snapshot_of(&f, &st);
	for (unsigned c = 0; c < GLIBC_CENSUS_CLASSES; c++) {
		chunks += st.census[c].used_bytes + st.census[c].cached_bytes +
			  st.census[c].free_bytes;
		free_bytes += st.census[c].free_bytes;
	}
	/* Free in the census = fastbins + bins = fordblks - tops. */
	ck_assert_uint_eq(free_bytes, st.mi.fordblks - st.top_total);
	/* Each non-main arena loses its heap_info and malloc_state header
	 * (under 4 KiB) to no chunk; nothing else is missing. */
	ck_assert_uint_le(chunks + st.top_total, st.mi.arena);
	ck_assert_uint_ge(chunks + st.top_total + 4096 * st.narenas, st.mi.arena);
	glibc_state_free(&st);
	fixture_stop(&f);
}
END_TEST

/* trimmable_resident is the RSS malloc_trim(0) then saves, to the page:
 * heapdoc reads the heap, then the fixture trims and measures its heaps'
 * RSS before and after (smaps). */
static void check_trim(const char *scenario)
{
	const char *args[] = { scenario, NULL };
	struct fixture f;
	long long predicted;
	int rc;

	fixture_start(&f, "glibc_heap", args, NULL);
	rc = stats_json(f.pid);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	predicted = json_int_at(out, "trimmable_resident");
	ck_assert_int_ge(json_int_at(out, "trimmable"), predicted);
	fixture_command(&f, "trim");
	ck_assert_msg(predicted == fixture_value(&f, "trim.rss_saved"),
		      "%s: heapdoc predicted %lld, malloc_trim(0) saved %lld", scenario,
		      predicted, fixture_value(&f, "trim.rss_saved"));
	fixture_stop(&f);
}

START_TEST(trimmable_is_what_malloc_trim_saves) { check_trim("single"); }
END_TEST
START_TEST(trimmable_over_many_arenas) { check_trim("threads"); }
END_TEST

START_TEST(corrupt_heap_is_a_finding_not_a_crash)
{
	const char *args[] = { "corrupt", NULL };
	struct fixture f;
	int rc;

	fixture_start(&f, "glibc_heap", args, NULL);
	rc = stats_json(f.pid);
	ck_assert_msg(rc == 1, "exit %d, stderr %s", rc, err);
	ck_assert(json_bool_at(out, "corrupt"));
	ck_assert(json_has(out, "glibc.findings[0].what"));
	ck_assert_int_eq(kill(f.pid, 0), 0);	/* the target lives on */
	fixture_stop(&f);
}
END_TEST

START_TEST(a_process_that_exits_during_the_read)
{
	const char *args[] = { "heaps", NULL };
	char errpath[64];
	unsigned gone = 0;

	snprintf(errpath, sizeof(errpath), "/tmp/heapdoc-glibc-test.%d", (int)getpid());
	/* Kill the fixture at several moments while heapdoc works; each run
	 * must end with 0 (finished first) or 3 (no such process) — or 5 when
	 * heapdoc came upon the zombie before it was reaped, saying so —
	 * never a crash or a hang. */
	for (int delay_ms = 0; delay_ms <= 120; delay_ms += 20) {
		struct fixture f;
		char pidarg[16];
		pid_t child;
		int status;

		fixture_start(&f, "glibc_heap", args, NULL);
		snprintf(pidarg, sizeof(pidarg), "%d", (int)f.pid);
		child = fork();
		ck_assert_int_ge(child, 0);
		if (child == 0) {
			int fd = open("/dev/null", O_WRONLY);
			int efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			dup2(fd, 1);
			dup2(efd, 2);
			execl(HEAPDOC_BIN, "heapdoc", "stats", "--json", pidarg, (char *)NULL);
			_exit(127);
		}
		nanosleep(&(struct timespec){ 0, delay_ms * 1000000L }, NULL);
		fixture_stop(&f);
		ck_assert_int_eq(waitpid(child, &status, 0), child);
		ck_assert_msg(WIFEXITED(status), "heapdoc died by signal %d", WTERMSIG(status));
		slurp(errpath, err, sizeof(err));
		ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3 ||
			      (WEXITSTATUS(status) == 5 && strstr(err, "zombie")),
			      "exit %d after %d ms: %s", WEXITSTATUS(status), delay_ms, err);
		gone += WEXITSTATUS(status) == 3;
	}
	unlink(errpath);
	ck_assert_uint_ge(gone, 1);
}
END_TEST

/* Without debug info heapdoc says what to install, gives the /proc figure
 * it can, and exits 5; it never guesses the heap. */
START_TEST(no_debug_info_names_the_package)
{
	const char *args[] = { "single", NULL };
	struct fixture f;
	int rc;

	fixture_start(&f, "glibc_heap", args, NULL);
	setenv("HEAPDOC_DEBUG_PATH", "/nonexistent", 1);
	rc = stats_json(f.pid);
	unsetenv("HEAPDOC_DEBUG_PATH");
	ck_assert_msg(rc == 5, "exit %d: %s", rc, err);
	ck_assert_ptr_nonnull(strstr(err, "libc6-dbg"));
	ck_assert(!json_bool_at(out, "valid"));
	ck_assert_str_eq(json_string_at(out, "allocator.source", (char[16]){ 0 }, 16), "proc");
	ck_assert(json_is_null(out, "glibc"));
	ck_assert_int_gt(json_int_at(out, "resident"), 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(no_such_pid_exits_3)
{
	ck_assert_int_eq(stats_json(999999999 / 2), 3);
	ck_assert_ptr_nonnull(strstr(err, "no such process"));
}
END_TEST

/* The trend sample's read gives mallinfo2's uordblks + hblkhd: on short
 * free lists by walking them, on long ones (a fragmented heap) by walking
 * the heap while the process runs.  The first read takes two holds (one to
 * read the headers, one to check the walk), the next ones, the process
 * idle, one: the arenas did not move, their figures are kept. */
static void check_trend(const char *fixture, const char *arg)
{
	const char *args[] = { arg, NULL };
	struct glibc_reader *r;
	struct glibc_trend tr;
	struct target t = { 0 };
	struct error e = { 0 };
	struct fixture f;
	uint64_t want;

	fixture_start(&f, fixture, args, NULL);
	want = (uint64_t)fixture_value(&f, "mallinfo2.uordblks") +
	       (uint64_t)fixture_value(&f, "mallinfo2.hblkhd");
	ck_assert_msg(glibc_open(&r, f.pid, NULL, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_attach(&t, f.pid, &e) == 0, "%s", e.msg);
	ck_assert_msg(glibc_trend_read(r, &t, &tr, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(tr.allocated, want);
	ck_assert_uint_eq(tr.holds, 2);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(glibc_trend_read(r, &t, &tr, &e) == 0, "%s", e.msg);
		ck_assert_uint_eq(tr.allocated, want);
		ck_assert_uint_eq(tr.holds, 1);
	}
	target_detach(&t);
	glibc_close(r);
	fixture_stop(&f);
}

START_TEST(trend_read_on_short_lists) { check_trend("glibc_heap", "caches"); }
END_TEST
START_TEST(trend_read_on_long_lists) { check_trend("glibc_fragmented", "24"); }
END_TEST
START_TEST(trend_read_over_many_arenas) { check_trend("glibc_heap", "threads"); }
END_TEST
START_TEST(trend_read_with_mmapped_chunks) { check_trend("glibc_heap", "mmapped"); }
END_TEST

/* A trend read on a process whose threads allocate in their own arenas all
 * the time: every sample has allocated (the busy arenas' short lists are
 * walked in the second hold), and the process sees nothing. */
START_TEST(trend_read_on_a_busy_process)
{
	const char *args[] = { "24", "2", NULL };
	struct glibc_reader *r;
	struct glibc_trend tr;
	struct target t = { 0 };
	struct error e = { 0 };
	struct fixture f;
	unsigned read = 0;

	fixture_start(&f, "glibc_fragmented", args, NULL);
	ck_assert_msg(glibc_open(&r, f.pid, NULL, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_attach(&t, f.pid, &e) == 0, "%s", e.msg);
	for (int i = 0; i < 20; i++) {
		int rc = glibc_trend_read(r, &t, &tr, &e);

		ck_assert_msg(rc == 0 || rc == -EAGAIN, "%s", e.msg);
		read += rc == 0;
		ck_assert_uint_le(tr.holds, 3);
		usleep(20000);
	}
	target_detach(&t);
	glibc_close(r);
	ck_assert_uint_ge(read, 18);
	fixture_refresh(&f);
	ck_assert_int_gt(fixture_value(&f, "busy_ops"), 0);
	fixture_stop(&f);
}
END_TEST

/* Runs `heapdoc stats --json [option] <pid>` on an idle multi-threaded
 * fixture: the read is the one method says, and mallinfo2 is exact. */
static void assert_exact_read(const char *option, const char *method)
{
	const char *args[] = { "threads", NULL };
	const char *cli[] = { "stats", "--json", NULL, NULL, NULL };
	char pidarg[16], want[64];
	struct fixture f;
	int rc;

	fixture_start(&f, "glibc_heap", args, NULL);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)f.pid);
	cli[2] = option ? option : pidarg;
	cli[3] = option ? pidarg : NULL;
	rc = run_heapdoc(cli, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	snprintf(want, sizeof(want), "\"method\": \"%s\"", method);
	ck_assert_msg(strstr(out, want), "no %s in %s", want, out);
	for (size_t i = 0; i < sizeof(mallinfo2_fields) / sizeof(*mallinfo2_fields); i++) {
		char key[64], path[80];

		snprintf(key, sizeof(key), "mallinfo2.%s", mallinfo2_fields[i]);
		snprintf(path, sizeof(path), "glibc.%s", key);
		ck_assert_int_eq(json_int_at(out, path), fixture_value(&f, key));
	}
	fixture_stop(&f);
}

/* By default, on an idle process: the state is the same at both brief
 * holds, the walk is kept ("validated"), and mallinfo2 is still exact. */
START_TEST(brief_hold_is_exact_when_idle) { assert_exact_read(NULL, "validated"); }
END_TEST

/* --hold: one hold for the whole walk, said so, and exact. */
START_TEST(hold_is_exact_and_says_held) { assert_exact_read("--hold", "held"); }
END_TEST

/* By default, on a process that allocates all the time: arenas move
 * between the two holds; heapdoc reads those again at the second hold
 * instead of holding the whole process for the walk ("validated", with
 * arenas read again); nothing is reported corrupt and the process sees
 * nothing. */
START_TEST(brief_hold_rereads_what_moved_on_a_busy_process)
{
	const char *cli[] = { "stats", "--json", NULL, NULL };
	char pidarg[16];
	struct fixture f;
	unsigned validated = 0, rewalked = 0;

	fixture_start(&f, "busy_threads", NULL, NULL);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)f.pid);
	cli[2] = pidarg;
	for (int i = 0; i < 20; i++) {
		int rc = run_heapdoc(cli, out, sizeof(out), err, sizeof(err));

		ck_assert_msg(rc == 0, "run %d: exit %d: %s", i, rc, err);
		ck_assert_msg(!json_bool_at(out, "corrupt"), "run %d: corrupt", i);
		validated += !strcmp(json_string_at(out, "target.method", (char[16]){ 0 }, 16),
				     "validated");
		rewalked += json_int_at(out, "target.rewalked") > 0;
	}
	ck_assert_uint_ge(validated, 15);
	ck_assert_uint_ge(rewalked, 1);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "eintr_unexpected"), 0);
	ck_assert_int_eq(fixture_value(&f, "short_sleeps"), 0);
	ck_assert_int_eq(fixture_value(&f, "read_errors"), 0);
	ck_assert_int_eq(fixture_value(&f, "data_errors"), 0);
	fixture_stop(&f);
}
END_TEST

/* 100 reads of a busy process: its own checks stay clean. */
START_TEST(hundred_reads_leave_a_busy_process_undisturbed)
{
	struct fixture f;
	unsigned consistent = 0;

	fixture_start(&f, "busy_threads", NULL, NULL);
	for (int i = 0; i < 100; i++) {
		int rc = stats_json(f.pid);

		ck_assert_msg(rc == 0, "run %d: exit %d: %s", i, rc, err);
		ck_assert_msg(!json_bool_at(out, "corrupt"), "run %d: corrupt:\n%.3000s", i,
			      strstr(out, "\"findings\""));
		consistent += json_bool_at(out, "target.consistent");
	}
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "eintr_unexpected"), 0);
	ck_assert_int_eq(fixture_value(&f, "short_sleeps"), 0);
	ck_assert_int_eq(fixture_value(&f, "read_errors"), 0);
	ck_assert_int_eq(fixture_value(&f, "data_errors"), 0);
	ck_assert_int_ge(consistent, 90);
	fixture_stop(&f);
}
END_TEST

/* The 2.36 table (the symtab fallback) is what DWARF says here. */
START_TEST(layout_table_matches_dwarf)
{
	const char *args[] = { "single", NULL };
	const struct glibc_layout *T = glibc_layout_table("2.36");
	struct symbols *syms;
	struct glibc_symbols gs;
	struct glibc_layout L;
	struct error e = { 0 };
	struct fixture f;

	ck_assert_ptr_nonnull(T);
	fixture_start(&f, "glibc_heap", args, NULL);
	ck_assert_msg(symbols_open(&syms, f.pid, &e) == 0, "%s", e.msg);
	ck_assert_msg(glibc_layout_load(syms, NULL, &gs, &L, &e) == 0, "%s", e.msg);
	if (strcmp(gs.version, "2.36")) {
		symbols_close(syms);
		fixture_stop(&f);
		SKIP("heapdoc's table is for glibc 2.36; this is %s", gs.version);
	}
	ck_assert_str_eq(L.source, "dwarf");
	ck_assert_uint_eq(L.state_size, T->state_size);
	ck_assert_uint_eq(L.par_size, T->par_size);
	ck_assert_uint_eq(L.heap_info_size, T->heap_info_size);
	ck_assert_uint_eq(L.tcache_size, T->tcache_size);
	for (int i = 0; i < MS_N; i++)
		ck_assert_msg(L.ms[i].off == T->ms[i].off && L.ms[i].size == T->ms[i].size &&
			      L.ms[i].count == T->ms[i].count, "malloc_state member %d", i);
	for (int i = 0; i < MP_N; i++)
		ck_assert_msg(L.mp[i].off == T->mp[i].off && L.mp[i].size == T->mp[i].size,
			      "malloc_par member %d", i);
	for (int i = 0; i < HI_N; i++)
		ck_assert_int_eq(L.hi[i].off, T->hi[i].off);
	for (int i = 0; i < TC_N; i++)
		ck_assert_msg(L.tc[i].off == T->tc[i].off && L.tc[i].size == T->tc[i].size &&
			      L.tc[i].count == T->tc[i].count, "tcache member %d", i);
	ck_assert_uint_eq(L.nfastbins, T->nfastbins);
	ck_assert_uint_eq(L.nbins, T->nbins);
	symbols_close(syms);
	fixture_stop(&f);
}
END_TEST

Suite *glibc_suite(void)
{
	Suite *s = suite_create("glibc");
	TCase *mi = tcase_create("mallinfo2");
	TCase *walk = tcase_create("walk");
	TCase *safety = tcase_create("safety");

	tcase_set_timeout(mi, 60);
	tcase_add_test(mi, mallinfo2_single_thread);
	tcase_add_test(mi, mallinfo2_many_arenas);
	tcase_add_test(mi, mallinfo2_arena_over_several_heaps);
	tcase_add_test(mi, mallinfo2_mmapped_chunks);
	tcase_add_test(mi, mallinfo2_tcache_and_fastbins);
	tcase_add_test(mi, mallinfo2_before_any_malloc);
	tcase_add_test(mi, mallinfo2_static_binary);
	suite_add_tcase(s, mi);

	tcase_set_timeout(walk, 60);
	tcase_add_test(walk, tcache_holds_what_the_main_thread_freed);
	tcase_add_test(walk, heaps_add_up_to_system_mem);
	tcase_add_test(walk, top_held_by_a_live_chunk);
	tcase_add_test(walk, census_accounts_for_the_heaps);
	tcase_add_test(walk, layout_table_matches_dwarf);
	tcase_add_test(walk, trend_read_on_short_lists);
	tcase_add_test(walk, trend_read_on_long_lists);
	tcase_add_test(walk, trend_read_over_many_arenas);
	tcase_add_test(walk, trend_read_with_mmapped_chunks);
	tcase_add_test(walk, trend_read_on_a_busy_process);
	tcase_add_test(walk, trimmable_is_what_malloc_trim_saves);
	tcase_add_test(walk, trimmable_over_many_arenas);
	suite_add_tcase(s, walk);

	tcase_set_timeout(safety, 180);
	tcase_add_test(safety, corrupt_heap_is_a_finding_not_a_crash);
	tcase_add_test(safety, a_process_that_exits_during_the_read);
	tcase_add_test(safety, no_such_pid_exits_3);
	tcase_add_test(safety, no_debug_info_names_the_package);
	tcase_add_test(safety, hundred_reads_leave_a_busy_process_undisturbed);
	tcase_add_test(safety, brief_hold_is_exact_when_idle);
	tcase_add_test(safety, brief_hold_rereads_what_moved_on_a_busy_process);
	tcase_add_test(safety, hold_is_exact_and_says_held);
	suite_add_tcase(s, safety);
	return s;
}
