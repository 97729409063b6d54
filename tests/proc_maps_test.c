/* The /proc/<pid>/maps, smaps and smaps_rollup readers on the committed
 * fake tree fixtures/proc-basic, whose contents are restated here: every
 * mapping's fields and kind, the Rss split by kind, maps_find; and
 * maps_classify on hand-made layouts (arena heaps, thread stacks, paths). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "observe/proc.h"
#include "testlib.h"
#include "base/util.h"
#include "proc_basic.h"

/* ---- maps and smaps ---------------------------------------------------- */

/* The kind of each of the 37 mappings of proc-basic/proc/4242/maps, in
 * order, read off the file by hand. */
static const enum mapping_kind basic_kinds[37] = {
	/* 1-5 /opt/demo/bin/server */
	MAPPING_FILE, MAPPING_FILE, MAPPING_FILE, MAPPING_FILE, MAPPING_FILE,
	MAPPING_BRK_HEAP,	/* 6 [heap] */
	MAPPING_ARENA_HEAP,	/* 7 7f57f4000000 rw-p: 64 MiB-aligned, then ---p */
	MAPPING_SPECIAL,	/* 8 its reservation up to 7f57f8000000 */
	MAPPING_ARENA_HEAP,	/* 9 7f57fc000000 */
	MAPPING_SPECIAL,	/* 10 its reservation */
	MAPPING_SPECIAL,	/* 11 7f5800e1b000 ---p, one page: a guard */
	MAPPING_STACK,		/* 12 8 MiB rw-p right above it */
	MAPPING_SPECIAL,	/* 13 guard */
	MAPPING_STACK,		/* 14 8 MiB rw-p */
	MAPPING_ANON,		/* 15 [anon:demo-pool], above a stack, not a guard */
	MAPPING_SHMEM,		/* 16 rw-s /dev/zero (deleted) */
	MAPPING_SHMEM,		/* 17 /memfd:demo-cache (deleted) */
	MAPPING_SHMEM,		/* 18 /SYSV00000000 (deleted) */
	MAPPING_SHMEM,		/* 19 /dev/shm/demo-shm (deleted) */
	MAPPING_ANON,		/* 20 a 1 MiB malloc (mmapped chunk) */
	/* 21-25 libc.so.6 */
	MAPPING_FILE, MAPPING_FILE, MAPPING_FILE, MAPPING_FILE, MAPPING_FILE,
	MAPPING_ANON,		/* 26 rw-p after libc's data */
	MAPPING_ANON,		/* 27 */
	MAPPING_SPECIAL,	/* 28 [vvar] */
	MAPPING_SPECIAL,	/* 29 [vvar_vclock] */
	MAPPING_SPECIAL,	/* 30 [vdso] */
	/* 31-35 ld-linux-x86-64.so.2 */
	MAPPING_FILE, MAPPING_FILE, MAPPING_FILE, MAPPING_FILE, MAPPING_FILE,
	MAPPING_STACK,		/* 36 [stack] */
	MAPPING_SPECIAL,	/* 37 [vsyscall] */
};

static void check_basic_mappings(const struct maps *m)
{
	const struct mapping *first = &m->v[0], *last;

	ck_assert_uint_eq(m->n, ARRAY_SIZE(basic_kinds));
	last = &m->v[m->n - 1];
	/* "557bbc7a5000-557bbc7a6000 r--p 00000000 fe:00 10952761   /opt/demo/bin/server" */
	ck_assert_uint_eq(first->start, 0x557bbc7a5000);
	ck_assert_uint_eq(first->end, 0x557bbc7a6000);
	ck_assert_str_eq(first->perms, "r--p");
	ck_assert_uint_eq(first->offset, 0);
	ck_assert_uint_eq(first->dev_major, 0xfe);
	ck_assert_uint_eq(first->dev_minor, 0);
	ck_assert_uint_eq(first->inode, 10952761);
	ck_assert_str_eq(first->path, "/opt/demo/bin/server");
	/* "7f5801fd7000-7f580212d000 r-xp 00026000 fe:00 332835  .../libc.so.6" */
	ck_assert_uint_eq(m->v[21].offset, 0x26000);
	ck_assert_str_eq(m->v[21].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	ck_assert_str_eq(m->v[15].path, "/dev/zero (deleted)");
	ck_assert_str_eq(m->v[15].perms, "rw-s");
	ck_assert_str_eq(m->v[6].path, "");
	/* "ffffffffff600000-ffffffffff601000 --xp ... [vsyscall]" */
	ck_assert_uint_eq(last->start, 0xffffffffff600000);
	ck_assert_uint_eq(last->end, 0xffffffffff601000);
	ck_assert_str_eq(last->path, "[vsyscall]");
	for (size_t i = 0; i < m->n; i++)
		ck_assert_msg(m->v[i].kind == basic_kinds[i],
			      "mapping %zu (%s): %s, expected %s", i + 1, m->v[i].path,
			      mapping_kind_name(m->v[i].kind),
			      mapping_kind_name(basic_kinds[i]));
}

START_TEST(maps_of_basic)
{
	struct maps m = { 0 };
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_maps(BASIC, 4242, &m, &err), 0);
	check_basic_mappings(&m);
	ck_assert_uint_eq(m.v[0].rss, UNSET);	/* maps has no sizes */
	maps_free(&m);
	ck_assert_ptr_null(m.v);
}
END_TEST

START_TEST(smaps_of_basic)
{
	struct maps m = { 0 };
	struct error err = { 0 };
	const struct mapping *x;

	ck_assert_int_eq(proc_read_smaps(BASIC, 4242, &m, &err), 0);
	check_basic_mappings(&m);
	/* The first arena heap: Rss 104, Pss 104, Private_Dirty 104,
	 * Anonymous 104, Swap 0 (kB). */
	x = &m.v[6];
	ck_assert_uint_eq(x->rss, 104 * KB);
	ck_assert_uint_eq(x->pss, 104 * KB);
	ck_assert_uint_eq(x->anonymous, 104 * KB);
	ck_assert_uint_eq(x->private_dirty, 104 * KB);
	ck_assert_uint_eq(x->swap, 0);
	/* The memfd: Rss 128, Anonymous 0 (shared memory is not anonymous). */
	x = &m.v[16];
	ck_assert_uint_eq(x->rss, 128 * KB);
	ck_assert_uint_eq(x->anonymous, 0);
	/* The mmapped chunk: Rss 1036, Swap 12. */
	x = &m.v[19];
	ck_assert_uint_eq(x->rss, 1036 * KB);
	ck_assert_uint_eq(x->swap, 12 * KB);
	maps_free(&m);
}
END_TEST

START_TEST(smaps_rollup_of_basic)
{
	struct smaps_rollup r;
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_smaps_rollup(BASIC, 4242, &r, &err), 0);
	ck_assert_uint_eq(r.rss, 2828 * KB);
	ck_assert_uint_eq(r.pss, 1706 * KB);
	ck_assert_uint_eq(r.anonymous, 1356 * KB);
	ck_assert_uint_eq(r.private_dirty, 1608 * KB);
	ck_assert_uint_eq(r.shared_clean, 1220 * KB);
	ck_assert_uint_eq(r.swap, 12 * KB);
}
END_TEST

START_TEST(rss_split_of_basic)
{
	struct maps m = { 0 };
	struct rss_split s;
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_smaps(BASIC, 4242, &m, &err), 0);
	maps_split_rss(&m, &s);
	/* Rss (kB) of each mapping of proc-basic/proc/4242/smaps, by kind:
	 *   file:    server 4+4+4+4+4, libc 152+740+128+16+8,
	 *            ld 4+152+40+8+8                           = 1276
	 *   brk:     [heap] 4                                  = 4
	 *   arenas:  104 + 104                                 = 208
	 *   stacks:  8 + 8 (threads) + 12 ([stack])            = 28
	 *   shmem:   64 + 128 + 16 + 32                        = 240
	 *   special: [vdso] 4, [vvar] [vvar_vclock] [vsyscall]
	 *            and the ---p regions 0                    = 4
	 *   anon:    8 (demo-pool) + 1036 + 20 + 4             = 1068
	 * total 2828, which is also smaps_rollup's Rss. */
	ck_assert_uint_eq(s.file, 1276 * KB);
	ck_assert_uint_eq(s.brk_heap, 4 * KB);
	ck_assert_uint_eq(s.arena_heaps, 208 * KB);
	ck_assert_uint_eq(s.stacks, 28 * KB);
	ck_assert_uint_eq(s.shmem, 240 * KB);
	ck_assert_uint_eq(s.special, 4 * KB);
	ck_assert_uint_eq(s.other_anon, 1068 * KB);
	ck_assert_uint_eq(s.total, 2828 * KB);
	ck_assert_uint_eq(s.file + s.brk_heap + s.arena_heaps + s.stacks + s.shmem +
			  s.special + s.other_anon, s.total);
	maps_free(&m);

	/* From maps there is no Rss at all: unknown, not zero. */
	ck_assert_int_eq(proc_read_maps(BASIC, 4242, &m, &err), 0);
	maps_split_rss(&m, &s);
	ck_assert_uint_eq(s.total, UNSET);
	ck_assert_uint_eq(s.arena_heaps, UNSET);
	maps_free(&m);
}
END_TEST

START_TEST(find_mapping)
{
	struct maps m = { 0 };
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_maps(BASIC, 4242, &m, &err), 0);
	/* Starts are inside, ends are not; a gap finds nothing. */
	ck_assert_ptr_eq(maps_find(&m, 0x557bbc7a5000), &m.v[0]);
	ck_assert_ptr_eq(maps_find(&m, 0x557bbc7a5fff), &m.v[0]);
	ck_assert_ptr_eq(maps_find(&m, 0x557bbc7a6000), &m.v[1]);
	ck_assert_ptr_eq(maps_find(&m, 0x7f57f4000b70), &m.v[6]);
	ck_assert_ptr_eq(maps_find(&m, 0xffffffffff600800), &m.v[36]);
	ck_assert_ptr_null(maps_find(&m, 0x557bbc7aa000));	/* after the binary */
	ck_assert_ptr_null(maps_find(&m, 0x1000));
	ck_assert_ptr_null(maps_find(&m, UINT64_MAX));
	maps_free(&m);
	ck_assert_ptr_null(maps_find(&m, 0x557bbc7a5000));	/* empty */
}
END_TEST

/* ---- classification on hand-made layouts -------------------------------- */

#define MIB (1ull << 20)
#define HEAP_BASE 0x7f0000000000ull	/* 64 MiB-aligned */

static void add(struct maps *m, uint64_t start, uint64_t end, const char *perms,
		const char *path)
{
	struct mapping *x;

	ck_assert_uint_lt(m->n, m->cap);
	x = &m->v[m->n++];
	memset(x, 0, sizeof(*x));
	x->start = start;
	x->end = end;
	snprintf(x->perms, sizeof(x->perms), "%s", perms);
	snprintf(x->path, sizeof(x->path), "%s", path);
	x->rss = x->pss = x->anonymous = x->private_dirty = x->swap = UNSET;
}

START_TEST(classify_heaps_and_stacks)
{
	struct mapping v[16];
	struct maps m = { .v = v, .cap = ARRAY_SIZE(v) };
	uint64_t h = HEAP_BASE;

	/* An arena heap in use to 132 KiB, its reservation after it. */
	add(&m, h, h + 0x21000, "rw-p", "");
	add(&m, h + 0x21000, h + 64 * MIB, "---p", "");
	/* A full heap: 64 MiB rw-p, nothing reserved. */
	add(&m, h + 64 * MIB, h + 128 * MIB, "rw-p", "");
	/* Not aligned, though followed by ---p: not a heap (and the ---p is
	 * 2 MiB, too large for a guard, so the next one is not a stack). */
	add(&m, h + 129 * MIB, h + 130 * MIB, "rw-p", "");
	add(&m, h + 130 * MIB, h + 132 * MIB, "---p", "");
	add(&m, h + 132 * MIB, h + 133 * MIB, "rw-p", "");
	/* A thread stack above its one-page guard. */
	add(&m, h + 140 * MIB, h + 140 * MIB + 4096, "---p", "");
	add(&m, h + 140 * MIB + 4096, h + 148 * MIB + 4096, "rw-p", "");
	/* A guard with a gap before the next mapping: not a stack. */
	add(&m, h + 150 * MIB, h + 150 * MIB + 4096, "---p", "");
	add(&m, h + 151 * MIB, h + 152 * MIB, "rw-p", "");
	/* Read-only anonymous memory above a guard: not a stack. */
	add(&m, h + 152 * MIB, h + 152 * MIB + 4096, "---p", "");
	add(&m, h + 152 * MIB + 4096, h + 153 * MIB, "r--p", "");
	maps_classify(&m);

	ck_assert_int_eq(v[0].kind, MAPPING_ARENA_HEAP);
	ck_assert_int_eq(v[1].kind, MAPPING_SPECIAL);
	ck_assert_int_eq(v[2].kind, MAPPING_ARENA_HEAP);
	ck_assert_int_eq(v[3].kind, MAPPING_ANON);
	ck_assert_int_eq(v[4].kind, MAPPING_SPECIAL);
	ck_assert_int_eq(v[5].kind, MAPPING_ANON);
	ck_assert_int_eq(v[6].kind, MAPPING_SPECIAL);
	ck_assert_int_eq(v[7].kind, MAPPING_STACK);
	ck_assert_int_eq(v[9].kind, MAPPING_ANON);
	ck_assert_int_eq(v[11].kind, MAPPING_ANON);
}
END_TEST

START_TEST(classify_by_path)
{
	static const struct {
		const char *perms, *path;
		enum mapping_kind kind;
	} cases[] = {
		{ "rw-p", "[heap]", MAPPING_BRK_HEAP },
		{ "rw-p", "[stack]", MAPPING_STACK },
		{ "r--p", "[vvar]", MAPPING_SPECIAL },
		{ "r-xp", "[vdso]", MAPPING_SPECIAL },
		{ "--xp", "[vsyscall]", MAPPING_SPECIAL },
		{ "---p", "/usr/lib/libc.so.6", MAPPING_SPECIAL },
		{ "rw-p", "[anon:jemalloc]", MAPPING_ANON },
		{ "rw-s", "[anon_shmem:ring]", MAPPING_SHMEM },
		{ "rw-s", "/dev/shm/pulse-shm-1", MAPPING_SHMEM },
		{ "rw-p", "/dev/shm/private-copy", MAPPING_SHMEM },
		{ "rw-s", "/SYSV0000162e (deleted)", MAPPING_SHMEM },
		{ "rw-s", "/memfd:wayland (deleted)", MAPPING_SHMEM },
		{ "rw-s", "/dev/zero (deleted)", MAPPING_SHMEM },
		{ "rw-s", "", MAPPING_SHMEM },
		{ "rw-s", "/var/lib/db/data.mmap", MAPPING_FILE },
		{ "r-xp", "/usr/bin/server (deleted)", MAPPING_FILE },
		{ "rw-p", "anon_inode:i915.gem", MAPPING_FILE },
		{ "rw-p", "", MAPPING_ANON },
	};
	struct mapping one;
	struct maps m = { .v = &one, .cap = 1 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		m.n = 0;
		/* Unaligned, alone: only the path and permissions decide. */
		add(&m, 0x55550000a000, 0x55550000c000, cases[i].perms, cases[i].path);
		maps_classify(&m);
		ck_assert_msg(one.kind == cases[i].kind, "%s %s: %s, expected %s",
			      cases[i].perms, cases[i].path, mapping_kind_name(one.kind),
			      mapping_kind_name(cases[i].kind));
	}
	ck_assert_str_eq(mapping_kind_name(MAPPING_ARENA_HEAP), "arena-heap");
}
END_TEST

Suite *proc_maps_suite(void)
{
	Suite *s = suite_create("proc_maps");
	TCase *fake = tcase_create("fake");

	tcase_set_timeout(fake, 30);
	tcase_add_test(fake, maps_of_basic);
	tcase_add_test(fake, smaps_of_basic);
	tcase_add_test(fake, smaps_rollup_of_basic);
	tcase_add_test(fake, rss_split_of_basic);
	tcase_add_test(fake, find_mapping);
	tcase_add_test(fake, classify_heaps_and_stacks);
	tcase_add_test(fake, classify_by_path);
	suite_add_tcase(s, fake);
	return s;
}
