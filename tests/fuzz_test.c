/* What the fuzzers found (fuzz/README), each on the input committed with
 * its fix (fuzz/corpus/NAME/regress-*), read the way the fuzzer reads it:
 * the same fake-tree builder (fuzz/tree.c), the same file, the same image.
 * make check also runs every fuzzer briefly over its whole corpus under
 * ASan and UBSan; these say what the fixed behaviour is.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/alloc/glibc.h"
#include "observe/alloc/glibc_layout.h"
#include "observe/cgroup.h"
#include "observe/elfsym.h"
#include "observe/symbols.h"
#include "observe/target.h"
#include "observe/target_image.h"
#include "testlib.h"
#include "tree.h"

#define CORPUS(name, file) HEAPDOC_ROOT "/fuzz/corpus/" name "/" file

/* A committed input, whole (malloc'd). */
static unsigned char *input(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	ck_assert_msg(f, "%s: %m", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* ---- cgroup ---------------------------------------------------------------- */

static struct cgroup_limits cgroup_of(const char *file, unsigned affinity)
{
	struct cgroup_limits cg;
	struct error e = { 0 };
	char *dir = fuzz_dir("test");
	size_t len;
	unsigned char *data = input(file, &len);

	fuzz_tree_build(dir, data, len);
	ck_assert_msg(cgroup_limits_for(dir, 4242, affinity, &cg, &e) == 0, "%s", e.msg);
	fuzz_dir_clear(dir);
	free(data);
	return cg;
}

/* A process with no /proc/<pid>/cgroup (a kernel without cgroups, or one
 * that just left its cgroup): its CPU mask still bounds it.  Found by the
 * cgroup fuzzer: effective_cpus was 0, "unknown", with the mask known. */
START_TEST(cgroup_without_its_file_keeps_the_affinity)
{
	struct cgroup_limits cg = cgroup_of(CORPUS("cgroup", "regress-no-cgroup-file"), 3);

	ck_assert_int_eq(cg.version, 0);
	ck_assert_uint_eq(cg.effective_cpus, 3);
}
END_TEST

/* cpu.max "4294967296000 1000": 2^32 CPUs, which (unsigned)ceil() made 0,
 * "unknown", or a wrapped count; quota + period - 1 could overflow too.
 * Such a quota bounds nothing: the mask decides, or nothing does. */
START_TEST(cgroup_quota_beyond_unsigned_bounds_nothing)
{
	const char *file = CORPUS("cgroup", "regress-quota-beyond-unsigned");
	struct cgroup_limits cg = cgroup_of(file, 0);

	ck_assert_double_eq(cg.cpu_quota_cores, 4294967296.0);
	ck_assert_uint_eq(cg.effective_cpus, 0);
	cg = cgroup_of(file, 6);
	ck_assert_uint_eq(cg.effective_cpus, 6);
}
END_TEST

/* ---- ELF and DWARF ------------------------------------------------------------ */

/* glibc_layout_load on a committed file, as the fuzzer names it. */
static int layout_of(const char *file, struct glibc_layout *L, struct error *e)
{
	struct glibc_symbols gs;
	struct symbols *syms;
	char *dir = fuzz_dir("test"), path[4096];
	unsigned char *data;
	size_t len;
	int fd, rc;

	data = input(file, &len);
	snprintf(path, sizeof(path), "%s/libc.so.6", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert(fd >= 0 && write(fd, data, len) == (ssize_t)len);
	close(fd);
	free(data);
	ck_assert_msg(symbols_open_file(&syms, path, e) == 0, "%s", e->msg);
	rc = glibc_layout_load(syms, "2.36", &gs, L, e);
	symbols_close(syms);
	fuzz_dir_clear(dir);
	return rc;
}

/* The seed: glibc 2.36's structs in DWARF give the built-in table. */
START_TEST(dwarf_layout_of_the_seed_is_the_table)
{
	const struct glibc_layout *table = glibc_layout_table("2.36");
	struct glibc_layout L;
	struct error e = { 0 };

	ck_assert_msg(layout_of(CORPUS("elf", "seed-libc.so.6"), &L, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(L.source, "dwarf");
	ck_assert_uint_eq(L.state_size, table->state_size);
	ck_assert_uint_eq(L.par_size, table->par_size);
	ck_assert_uint_eq(L.tcache_size, table->tcache_size);
	ck_assert(!memcmp(L.ms, table->ms, sizeof(L.ms)));
	ck_assert(!memcmp(L.mp, table->mp, sizeof(L.mp)));
	ck_assert(!memcmp(L.tc, table->tc, sizeof(L.tc)));
}
END_TEST

/* A committed file's layout is refused as corrupt, naming what. */
static void check_refused(const char *file, const char *what)
{
	struct glibc_layout L;
	struct error e = { 0 };
	int rc = layout_of(file, &L, &e);

	ck_assert_int_eq(rc, -EIO);
	ck_assert_msg(strstr(e.msg, what) && strstr(e.msg, "corrupt debug info"), "%s", e.msg);
}

/* One byte of the seed's DWARF: struct malloc_state of 152 bytes, its bins
 * at 112 for 2032.  The walk copies state_size bytes of each arena and
 * read members past the copy (heap-buffer-overflow under ASan).  Found by
 * the elf fuzzer's check; debug info is the target's input too (a
 * container's libc may carry its own). */
START_TEST(dwarf_member_outside_its_struct_is_refused)
{
	check_refused(CORPUS("elf", "regress-malloc-state-smaller-than-members"),
		      "malloc_state.bins");
}
END_TEST

/* A mutated element type: struct malloc_state's fastbinsY and bins, arrays
 * of pointers, with elements bigger than the arrays.  The layout came out
 * with no bins at all (count 0) and the walk accepted it. */
START_TEST(dwarf_array_of_elements_that_do_not_fit)
{
	check_refused(CORPUS("elf", "regress-array-element-larger-than-array"),
		      "struct malloc_state");
}
END_TEST

static void count_function(const char *name, uint64_t lo, uint64_t hi, void *arg)
{
	(void)name;
	ck_assert_msg(lo < hi, "%s: [%#llx, %#llx)", name, (unsigned long long)lo,
		      (unsigned long long)hi);
	++*(unsigned *)arg;
}

/* __libc_tcache_init's size mutated to 0xfffffffffffffd0c: its range
 * wrapped (hi below lo), and the injection guard, which takes these ranges
 * for malloc's code, dropped it without a word.  Such a symbol is skipped;
 * the seed's functions all come through. */
START_TEST(elf_function_running_past_the_end_is_skipped)
{
	const char *file = CORPUS("elf", "regress-function-size-past-the-end");
	struct elfsym es;
	struct error e = { 0 };
	unsigned n = 0;

	ck_assert_msg(elfsym_open(&es, getpid(), file, 0x7f1200000000ULL, &e) == 0, "%s", e.msg);
	elfsym_each_function(&es, count_function, &n);	/* each range checked */
	elfsym_close(&es);
	ck_assert_int_eq(elfsym_open(&es, getpid(), CORPUS("elf", "seed-libc.so.6"),
				     0x7f1200000000ULL, &e), 0);
	n = 0;
	elfsym_each_function(&es, count_function, &n);
	elfsym_close(&es);
	ck_assert_uint_eq(n, 4);	/* malloc, __libc_tcache_init: .dynsym, .symtab */
}
END_TEST

/* ---- the glibc heap --------------------------------------------------------- */

/* The held snapshot of a committed image. */
static void replay(const char *file, struct glibc_state *st)
{
	struct target_image *img;
	struct glibc_reader *r;
	struct target t;
	struct error e = { 0 };
	size_t len;
	unsigned char *data = input(file, &len);

	ck_assert_msg(target_image_load(&img, data, len, &e) == 0, "%s", e.msg);
	free(data);
	ck_assert_msg(glibc_open_image(&r, img, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_open_image(&t, img, &e) == 0, "%s", e.msg);
	ck_assert_msg(glibc_snapshot(r, &t, st, &e) == 0, "%s", e.msg);
	target_detach(&t);
	glibc_close(r);
	target_image_free(img);
}

/* Corrupt, and one of the findings kept says what. */
static void check_corrupt(const char *file, const char *what)
{
	struct glibc_state st;
	bool said = false;

	replay(file, &st);
	ck_assert_msg(st.corrupt && st.nfindings >= 1, "%s: not corrupt", file);
	for (unsigned i = 0; i < st.nfindings && i < GLIBC_MAX_FINDINGS; i++)
		said |= strstr(st.findings[i].what, what) != NULL;
	ck_assert_msg(said, "%s: no finding says \"%s\"; the first: %s", file, what,
		      st.findings[0].what);
	glibc_state_free(&st);
}

/* The seeds, as recorded from healthy fixtures: nothing is corrupt. */
START_TEST(heap_seeds_are_clean)
{
	static const char *const seeds[] = { "fresh", "single", "caches", "threads", "mmapped",
					     "static" };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(*seeds); i++) {
		char path[512];
		struct glibc_state st;

		snprintf(path, sizeof(path), CORPUS("glibc_heap", "seed-glibc_heap-%s"), seeds[i]);
		replay(path, &st);
		ck_assert_msg(!st.corrupt, "%s: %s", path, st.findings[0].what);
		glibc_state_free(&st);
	}
}
END_TEST

/* The "single" seed with its unsorted bin emptied (head->fd = head->bk =
 * head) while its chunk is still free by the boundary tags: glibc has let
 * go of it.  The walk counted it free, the list read (trend, mallinfo2)
 * did not: the fuzzer's held-against-trend check found it. */
START_TEST(heap_bin_that_lets_go_of_its_chunk)
{
	check_corrupt(CORPUS("glibc_heap", "regress-bin-lets-go-of-free-chunk"),
		      "does not link back to it");
}
END_TEST

/* One byte of a free chunk's bk in the middle of a small bin: the list
 * skips a chunk.  glibc aborts at the next unlink ("corrupted
 * double-linked list"); heapdoc said nothing. */
START_TEST(heap_list_that_skips_a_free_chunk)
{
	check_corrupt(CORPUS("glibc_heap", "regress-free-chunk-skipped-on-its-list"),
		      "the fd and bk links of its free lists disagree");
}
END_TEST

/* The list that skips a chunk (above) with one byte of a tcache link
 * changed besides: the thread cache's list and its count disagree, so the
 * snapshot is not consistent, and the links check, which waited for a
 * consistent snapshot, was skipped: stats said the heap was sound (the
 * fuzzer's held-against-trend check found it).  An arena's mutex alone
 * guards its bins. */
START_TEST(heap_tcache_link_does_not_hide_a_skipped_chunk)
{
	const char *file = CORPUS("glibc_heap", "regress-tcache-link-hides-skipped-chunk");
	struct glibc_state st;

	replay(file, &st);
	ck_assert_msg(!st.consistent, "the tcache list and its count agree");
	glibc_state_free(&st);
	check_corrupt(file, "the fd and bk links of its free lists disagree");
}
END_TEST

/* An empty bin whose bk leads into the arena: no chunk links to it, the
 * walk saw nothing wrong, the list read followed it into garbage. */
START_TEST(heap_empty_bin_that_points_astray)
{
	check_corrupt(CORPUS("glibc_heap", "regress-empty-bin-points-astray"),
		      "the fd and bk links of its free lists disagree");
}
END_TEST

/* main_arena.top = 2^64 - 1: top + 16 wrapped, the bounds check passed
 * and the top's size was read from before the copy of the arena (UBSan:
 * pointer overflow; issue 15 item 4, which the lead fixed in the same line
 * meanwhile). */
START_TEST(heap_top_at_the_end_of_memory)
{
	check_corrupt(CORPUS("glibc_heap", "regress-top-at-the-end-of-memory"),
		      "misaligned top chunk");
}
END_TEST

/* The main arena's top of 2^63 bytes: the trim arithmetic, signed as
 * glibc's, overflowed (UBSan: -2^63 - 32); make asan runs this test under
 * UBSan. */
START_TEST(heap_top_of_2_63_bytes)
{
	check_corrupt(CORPUS("glibc_heap", "regress-top-size-2-63"),
		      "sbrk_base is not below the top chunk");
}
END_TEST

/* make check fuzzes only where clang's libFuzzer is: without it, its fuzz
 * step says so and goes on, and this skip of what make deps installs fails
 * the run (fuzz/libfuzzer.sh, shared with make fuzz). */
START_TEST(libfuzzer_is_installed)
{
	if (system("sh " HEAPDOC_ROOT "/fuzz/libfuzzer.sh >/dev/null 2>&1") != 0)
		SKIP_MISSING("clang's libFuzzer (libclang-rt-14-dev): make check did not fuzz");
}
END_TEST

Suite *fuzz_suite(void)
{
	Suite *s = suite_create("fuzz");
	TCase *tc = tcase_create("findings");

	tcase_add_test(tc, cgroup_without_its_file_keeps_the_affinity);
	tcase_add_test(tc, cgroup_quota_beyond_unsigned_bounds_nothing);
	tcase_add_test(tc, dwarf_layout_of_the_seed_is_the_table);
	tcase_add_test(tc, dwarf_member_outside_its_struct_is_refused);
	tcase_add_test(tc, dwarf_array_of_elements_that_do_not_fit);
	tcase_add_test(tc, elf_function_running_past_the_end_is_skipped);
	tcase_add_test(tc, heap_seeds_are_clean);
	tcase_add_test(tc, heap_bin_that_lets_go_of_its_chunk);
	tcase_add_test(tc, heap_list_that_skips_a_free_chunk);
	tcase_add_test(tc, heap_tcache_link_does_not_hide_a_skipped_chunk);
	tcase_add_test(tc, heap_empty_bin_that_points_astray);
	tcase_add_test(tc, heap_top_at_the_end_of_memory);
	tcase_add_test(tc, heap_top_of_2_63_bytes);
	tcase_add_test(tc, libfuzzer_is_installed);
	suite_add_tcase(s, tc);
	return s;
}
