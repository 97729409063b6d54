/* The /proc readers, on committed fake trees (fixtures/proc-*) whose
 * contents are restated here, and on live processes. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observe/proc.h"
#include "testlib.h"
#include "base/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define KB 1024ull
#define BASIC FAKE_TREE("proc-basic")
#define MALFORMED FAKE_TREE("proc-malformed")

/* ---- status and stat --------------------------------------------------- */

START_TEST(status_of_basic)
{
	struct proc_status st;
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_status(BASIC, 4242, &st, &err), 0);
	ck_assert_str_eq(st.name, "server");
	ck_assert_int_eq(st.state, 'S');
	ck_assert_int_eq(st.tgid, 4242);
	ck_assert_int_eq(st.pid, 4242);
	ck_assert_int_eq(st.ppid, 1);
	ck_assert_int_eq(st.nstgid, 17);	/* "NStgid:\t4242\t17" */
	ck_assert_int_eq(st.uid, 1000);
	ck_assert_uint_eq(st.threads, 3);
	ck_assert_uint_eq(st.cpus_allowed, 2);	/* "Cpus_allowed_list:\t0-1" */
	ck_assert(!st.kernel_thread);		/* "Kthread:\t0" */
	ck_assert_uint_eq(st.vm_size, 151544 * KB);	/* VmSize: 151544 kB */
	ck_assert_uint_eq(st.vm_rss, 2828 * KB);
	ck_assert_uint_eq(st.vm_hwm, 2828 * KB);
	ck_assert_uint_eq(st.rss_anon, 1356 * KB);
	ck_assert_uint_eq(st.rss_file, 1232 * KB);
	ck_assert_uint_eq(st.rss_shmem, 240 * KB);
	ck_assert_uint_eq(st.vm_swap, 12 * KB);
}
END_TEST

START_TEST(stat_of_basic)
{
	struct proc_stat sp;
	struct error err = { 0 };

	/* "4242 (server) S 1 4240 4200 0 -1 4194304 566 0 2 0 153 27 0 0 20 0
	 *  3 0 90641 ..." */
	ck_assert_int_eq(proc_read_stat(BASIC, 4242, &sp, &err), 0);
	ck_assert_str_eq(sp.comm, "server");
	ck_assert_int_eq(sp.state, 'S');
	ck_assert_uint_eq(sp.flags, 4194304);
	ck_assert_uint_eq(sp.minflt, 566);
	ck_assert_uint_eq(sp.majflt, 2);
	ck_assert_uint_eq(sp.utime, 153);
	ck_assert_uint_eq(sp.stime, 27);
	ck_assert_uint_eq(sp.num_threads, 3);
	ck_assert_uint_eq(sp.starttime, 90641);
}
END_TEST

/* comm "my) (prog x": spaces and parentheses, up to the last ')'. */
START_TEST(comm_with_spaces_and_parens)
{
	struct proc_status st;
	struct proc_stat sp;
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_stat(FAKE_TREE("proc-comm"), 777, &sp, &err), 0);
	ck_assert_str_eq(sp.comm, "my) (prog x");
	ck_assert_int_eq(sp.state, 'R');
	ck_assert_uint_eq(sp.utime, 9);
	ck_assert_uint_eq(sp.stime, 4);
	ck_assert_uint_eq(sp.num_threads, 3);
	ck_assert_int_eq(proc_read_status(FAKE_TREE("proc-comm"), 777, &st, &err), 0);
	ck_assert_str_eq(st.name, "my) (prog x");
	ck_assert_int_eq(st.pid, 777);
}
END_TEST

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

/* ---- environ and auxv -------------------------------------------------- */

START_TEST(environ_lookup)
{
	struct environ env = { 0 };
	struct error err = { 0 };
	const char *v;

	/* fixtures/make-fake-trees.sh writes:
	 * HOME=/home/app PATH=/usr/bin:/bin MALLOC_ARENA_MAX=4
	 * GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072
	 * MALLOC_ARENA_MAX_X=9 EMPTY= MALLOC_ARENA_MAX=99, each ending with NUL. */
	ck_assert_int_eq(proc_read_environ(BASIC, 4242, &env, &err), 0);
	ck_assert_uint_eq(env.len, 15 + 19 + 19 + 50 + 21 + 7 + 20);
	ck_assert_str_eq(environ_get(&env, "HOME"), "/home/app");
	/* The first of two wins, as getenv(3) does. */
	ck_assert_str_eq(environ_get(&env, "MALLOC_ARENA_MAX"), "4");
	ck_assert_str_eq(environ_get(&env, "MALLOC_ARENA_MAX_X"), "9");
	ck_assert_str_eq(environ_get(&env, "GLIBC_TUNABLES"),
			 "glibc.malloc.trim_threshold=131072");
	v = environ_get(&env, "EMPTY");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "");
	/* A prefix of a name, a name a value contains, absent, degenerate. */
	ck_assert_ptr_null(environ_get(&env, "MALLOC_ARENA"));
	ck_assert_ptr_null(environ_get(&env, "glibc.malloc.trim_threshold"));
	ck_assert_ptr_null(environ_get(&env, "MALLOC_CONF"));
	ck_assert_ptr_null(environ_get(&env, ""));
	ck_assert_ptr_null(environ_get(&env, "HOME=/home/app"));
	environ_free(&env);
	ck_assert_ptr_null(env.buf);
}
END_TEST

/* A block whose last entry has no NUL (a process wrote over it). */
START_TEST(environ_without_final_nul)
{
	char block[] = "A=1\0TAIL=xyz";
	char *copy = malloc(sizeof(block));
	struct environ env = { .buf = copy, .len = sizeof(block) - 1 };

	memcpy(copy, block, sizeof(block));	/* the reader's own NUL after len */
	ck_assert_str_eq(environ_get(&env, "A"), "1");
	ck_assert_str_eq(environ_get(&env, "TAIL"), "xyz");
	ck_assert_ptr_null(environ_get(&env, "TAILS"));
	environ_free(&env);
}
END_TEST

START_TEST(auxv_of_basic)
{
	struct auxv a;
	struct error err = { 0 };

	/* make-fake-trees.sh: AT_ENTRY 0x557bbc7a6130, AT_BASE 0x7f58021a8000,
	 * AT_PHDR 0x557bbc7a5040, AT_PAGESZ 0x1000, AT_SYSINFO_EHDR
	 * 0x7f58021a6000, then AT_NULL and an AT_ENTRY 0xdead to be ignored. */
	ck_assert_int_eq(proc_read_auxv(BASIC, 4242, &a, &err), 0);
	ck_assert_uint_eq(a.entry, 0x557bbc7a6130);
	ck_assert_uint_eq(a.base, 0x7f58021a8000);
	ck_assert_uint_eq(a.phdr, 0x557bbc7a5040);
	ck_assert_uint_eq(a.pagesz, 4096);
	ck_assert_uint_eq(a.sysinfo_ehdr, 0x7f58021a6000);
}
END_TEST

START_TEST(tasks_of_basic)
{
	pid_t *tids;
	size_t n;
	struct error err = { 0 };

	/* task/4242, task/4243, task/4244 */
	ck_assert_int_eq(proc_list_tasks(BASIC, 4242, &tids, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(tids[0], 4242);
	ck_assert_int_eq(tids[1], 4243);
	ck_assert_int_eq(tids[2], 4244);
	free(tids);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(no_such_process)
{
	struct proc_status st;
	struct maps m = { 0 };
	struct environ env = { 0 };
	struct error err = { 0 };
	pid_t *tids;
	size_t n;

	ck_assert_int_eq(proc_read_status(BASIC, 999, &st, &err), -ESRCH);
	ck_assert_str_eq(err.msg, "pid 999: no such process");
	ck_assert_int_eq(proc_read_smaps(BASIC, 999, &m, &err), -ESRCH);
	ck_assert_int_eq(proc_read_environ(BASIC, 999, &env, &err), -ESRCH);
	ck_assert_int_eq(proc_list_tasks(BASIC, 999, &tids, &n, &err), -ESRCH);
	ck_assert_int_eq(proc_check_target(BASIC, 999, &err), -ESRCH);
	ck_assert_str_eq(err.msg, "pid 999: no such process");
	ck_assert_int_eq(proc_check_target(BASIC, 0, &err), -EINVAL);
	ck_assert_int_eq(proc_check_target(BASIC, 4242, &err), 0);
}
END_TEST

START_TEST(kernel_thread)
{
	const char *root = FAKE_TREE("proc-kthread");
	struct proc_status st;
	struct maps m = { 0 };
	struct auxv a;
	struct error err = { 0 };

	/* pid 2: a 6.x kernel's kthreadd, "Kthread:\t1", no Vm lines. */
	ck_assert_int_eq(proc_read_status(root, 2, &st, &err), 0);
	ck_assert(st.kernel_thread);
	ck_assert_uint_eq(st.vm_rss, UNSET);
	ck_assert_int_eq(proc_check_target(root, 2, &err), -EOPNOTSUPP);
	ck_assert_str_eq(err.msg, "pid 2 (kthreadd) is a kernel thread: it has no user memory");
	/* Its smaps is empty, its auxv is refused (missing here). */
	ck_assert_int_eq(proc_read_smaps(root, 2, &m, &err), -EOPNOTSUPP);
	ck_assert_msg(strstr(err.msg, "(kthreadd) is a kernel thread"), "%s", err.msg);
	ck_assert_int_eq(proc_read_auxv(root, 2, &a, &err), -EOPNOTSUPP);

	/* pid 3: as kernels before 6.1 show it: no Kthread line, and (made up)
	 * no PF_KTHREAD in stat either; no VmSize is enough. */
	ck_assert_int_eq(proc_read_status(root, 3, &st, &err), 0);
	ck_assert(st.kernel_thread);
	ck_assert_int_eq(proc_check_target(root, 3, &err), -EOPNOTSUPP);
	ck_assert_str_eq(err.msg, "pid 3 (rcu_gp) is a kernel thread: it has no user memory");
}
END_TEST

START_TEST(zombie)
{
	const char *root = FAKE_TREE("proc-zombie");
	struct proc_status st;
	struct maps m = { 0 };
	struct environ env = { 0 };
	struct error err = { 0 };

	/* "State:\tZ (zombie)", no Vm lines, "Kthread:\t0". */
	ck_assert_int_eq(proc_read_status(root, 5151, &st, &err), 0);
	ck_assert_int_eq(st.state, 'Z');
	ck_assert(!st.kernel_thread);
	ck_assert_int_eq(proc_check_target(root, 5151, &err), -EOPNOTSUPP);
	ck_assert_msg(!strncmp(err.msg, "pid 5151 is a zombie", 20), "%s", err.msg);
	ck_assert_int_eq(proc_read_smaps(root, 5151, &m, &err), -EOPNOTSUPP);
	ck_assert_ptr_null(m.v);
	ck_assert_int_eq(proc_read_environ(root, 5151, &env, &err), -EOPNOTSUPP);
	ck_assert_msg(!strncmp(err.msg, "pid 5151 is a zombie", 20), "%s", err.msg);
}
END_TEST

/* proc-malformed/proc/120: the directory is there but status and stat are
 * empty, as the kernel leaves them for a process that exits under a reader. */
START_TEST(exited_while_read)
{
	struct proc_status st;
	struct proc_stat sp;
	struct maps m = { 0 };
	struct error err = { 0 };

	ck_assert_int_eq(proc_read_status(MALFORMED, 120, &st, &err), -ESRCH);
	ck_assert_str_eq(err.msg, "pid 120 exited while being read");
	ck_assert_int_eq(proc_read_stat(MALFORMED, 120, &sp, &err), -ESRCH);
	ck_assert_str_eq(err.msg, "pid 120 exited while being read");
	/* No smaps at all, and status cannot tell why: gone. */
	ck_assert_int_eq(proc_read_smaps(MALFORMED, 120, &m, &err), -ESRCH);
	ck_assert_str_eq(err.msg, "pid 120 exited while being read");
	ck_assert_int_eq(proc_check_target(MALFORMED, 120, &err), -ESRCH);
}
END_TEST

/* A file this kernel does not have (smaps_rollup before 4.14), in a live
 * process: -ENOENT naming it, so callers can fall back. */
START_TEST(missing_file)
{
	struct smaps_rollup r;
	struct error err = { 0 };
	const char *tail = "/proc/777/smaps_rollup: no such file";
	size_t n;

	ck_assert_int_eq(proc_read_smaps_rollup(FAKE_TREE("proc-comm"), 777, &r, &err), -ENOENT);
	n = strlen(err.msg);
	ck_assert_msg(n > strlen(tail) && !strcmp(err.msg + n - strlen(tail), tail), "%s", err.msg);
}
END_TEST

/* Each malformed file gives -EIO naming the file and, for text, the line. */
START_TEST(malformed_files)
{
	static const struct {
		pid_t pid;
		const char *reader, *expect;	/* expect: the end of the message */
	} cases[] = {
		{ 100, "status", "/proc/100/status line 23: bad size in VmRSS" },
		{ 101, "stat", "/proc/101/stat line 1: 4 fields after comm, expected 20 or more" },
		{ 102, "maps", "/proc/102/maps line 3: not a mapping: \"this is not a mapping\"" },
		{ 103, "smaps", "/proc/103/smaps line 1: a field before any mapping" },
		{ 104, "auxv", "/proc/104/auxv: 24 bytes, not whole (type, value) pairs of 8-byte words" },
		{ 105, "auxv", "/proc/105/auxv: no AT_NULL at the end" },
		{ 106, "status", "/proc/106/status: no Name, State or Pid line" },
		{ 107, "status", "/proc/107/status line 23: bad size in VmRSS" },
		{ 108, "stat", "/proc/108/stat line 1: no \"(comm)\"" },
		{ 109, "maps", "/proc/109/maps line 5: mapping out of address order" },
		{ 110, "smaps", "/proc/110/smaps line 5: bad size in Rss" },
		{ 111, "smaps_rollup", "/proc/111/smaps_rollup: no Rss line" },
	};
	struct error err;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *r = cases[i].reader;
		pid_t pid = cases[i].pid;
		struct proc_status st;
		struct proc_stat sp;
		struct smaps_rollup ro;
		struct auxv a;
		struct maps m = { 0 };
		size_t elen = strlen(cases[i].expect), mlen;
		int ret;

		memset(&err, 0, sizeof(err));
		if (!strcmp(r, "status"))
			ret = proc_read_status(MALFORMED, pid, &st, &err);
		else if (!strcmp(r, "stat"))
			ret = proc_read_stat(MALFORMED, pid, &sp, &err);
		else if (!strcmp(r, "maps"))
			ret = proc_read_maps(MALFORMED, pid, &m, &err);
		else if (!strcmp(r, "smaps"))
			ret = proc_read_smaps(MALFORMED, pid, &m, &err);
		else if (!strcmp(r, "smaps_rollup"))
			ret = proc_read_smaps_rollup(MALFORMED, pid, &ro, &err);
		else
			ret = proc_read_auxv(MALFORMED, pid, &a, &err);
		ck_assert_msg(ret == -EIO, "pid %d %s: %d %s", pid, r, ret, err.msg);
		ck_assert_ptr_null(m.v);
		mlen = strlen(err.msg);
		ck_assert_msg(mlen >= elen && !strcmp(err.msg + mlen - elen, cases[i].expect),
			      "pid %d: \"%s\"", pid, err.msg);
		ck_assert_msg(!strncmp(err.msg, MALFORMED, strlen(MALFORMED)),
			      "no path: \"%s\"", err.msg);
	}
}
END_TEST

/* Lines far longer than the fields they fill are cut, not overflowed. */
START_TEST(long_lines_are_cut)
{
	struct proc_status st;
	struct maps m = { 0 };
	struct error err = { 0 };
	char name[64], path[512];

	/* proc-malformed/proc/112: status Name is 5000 'n', the first mapping's
	 * path "/opt/" + 6000 'p'. */
	ck_assert_int_eq(proc_read_status(MALFORMED, 112, &st, &err), 0);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_str_eq(st.name, name);
	ck_assert_uint_eq(st.vm_rss, 2828 * KB);
	ck_assert_int_eq(proc_read_maps(MALFORMED, 112, &m, &err), 0);
	strcpy(path, "/opt/");
	memset(path + 5, 'p', sizeof(path) - 6);
	path[sizeof(path) - 1] = '\0';
	ck_assert_str_eq(m.v[0].path, path);
	ck_assert_int_eq(m.v[0].kind, MAPPING_FILE);
	ck_assert_uint_eq(m.n, 37);
	maps_free(&m);
}
END_TEST

/* Makes dir and its parents (the fake trees written at run time). */
static void mkdirs(char *dir)
{
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	ck_assert_msg(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s", dir);
}

static void write_file(const char *root, const char *rel, const char *text, size_t len,
		       mode_t mode)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	chmod(path, mode);
}

static void remove_tree(const char *root)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(line_longer_than_limit)
{
	char root[] = "/tmp/heapdoc-proc-XXXXXX";
	size_t len = (2u << 20) + 10;
	char *big = malloc(len);
	struct proc_status st;
	struct error err = { 0 };
	int ret;

	ck_assert_ptr_nonnull(mkdtemp(root));
	memcpy(big, "Name:\t", 6);
	memset(big + 6, 'x', len - 7);
	big[len - 1] = '\n';
	write_file(root, "proc/50/status", big, len, 0644);
	ret = proc_read_status(root, 50, &st, &err);
	remove_tree(root);
	free(big);
	ck_assert_int_eq(ret, -EIO);
	ck_assert_msg(strstr(err.msg, "/proc/50/status line 1: longer than"), "%s", err.msg);
}
END_TEST

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	ck_assert_msg(f && buf, "%s", path);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

/* Damages text the way a bad file could: odd bytes, cut lines, repeats. */
static size_t mangle(char *buf, size_t len, size_t cap, unsigned *seed)
{
	static const char odd[] = " \t\n:-()xfZ9\0\377";
	int edits = 1 + rand_r(seed) % 6;

	for (int i = 0; i < edits && len; i++) {
		size_t at = rand_r(seed) % len, n;

		switch (rand_r(seed) % 4) {
		case 0:
		case 1:
			buf[at] = odd[rand_r(seed) % (sizeof(odd) - 1)];
			break;
		case 2:
			len = at;
			break;
		default:
			n = MIN((size_t)(rand_r(seed) % 200), len - at);
			n = MIN(n, cap - len);
			memmove(buf + at + n, buf + at, len - at);
			len += n;
			break;
		}
	}
	return len;
}

/* A reader's result: 0, or an error that says something. */
static void sane(int ret, struct error *err, int *errors)
{
	ck_assert_int_le(ret, 0);
	if (ret < 0) {
		ck_assert_msg(err->msg[0], "error %d without a message", ret);
		++*errors;
	}
	memset(err, 0, sizeof(*err));
}

/* Damaged copies of proc-basic: every reader returns 0 or an error with a
 * message, and never reads out of bounds (make asan runs this too). */
START_TEST(mangled_files_never_crash)
{
	static const char *const files[] = { "status", "stat", "maps", "smaps",
					     "smaps_rollup", "environ", "auxv" };
	char root[] = "/tmp/heapdoc-proc-XXXXXX";
	char *orig[ARRAY_SIZE(files)], *copy = malloc(1 << 20);
	size_t len[ARRAY_SIZE(files)];
	unsigned seed = 20261125;
	int errors = 0;

	ck_assert_ptr_nonnull(mkdtemp(root));
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char path[PATH_MAX], rel[64];

		snprintf(path, sizeof(path), "%s/proc/4242/%s", BASIC, files[i]);
		orig[i] = read_all(path, &len[i]);
		snprintf(rel, sizeof(rel), "proc/4242/%s", files[i]);
		write_file(root, rel, orig[i], len[i], 0644);
	}
	/* Damage one file at a time, the others intact. */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "proc/4242/%s", files[i]);
		for (int round = 0; round < 150; round++) {
			struct error err = { 0 };
			struct proc_status st;
			struct proc_stat sp;
			struct smaps_rollup ro;
			struct auxv a;
			struct environ env = { 0 };
			struct maps m = { 0 };
			struct rss_split split;
			size_t n;

			memcpy(copy, orig[i], len[i]);
			n = mangle(copy, len[i], 1 << 20, &seed);
			write_file(root, rel, copy, n, 0644);
			sane(proc_read_status(root, 4242, &st, &err), &err, &errors);
			sane(proc_read_stat(root, 4242, &sp, &err), &err, &errors);
			sane(proc_read_maps(root, 4242, &m, &err), &err, &errors);
			maps_free(&m);
			sane(proc_read_smaps(root, 4242, &m, &err), &err, &errors);
			maps_split_rss(&m, &split);
			maps_free(&m);
			sane(proc_read_smaps_rollup(root, 4242, &ro, &err), &err, &errors);
			sane(proc_read_environ(root, 4242, &env, &err), &err, &errors);
			environ_get(&env, "MALLOC_ARENA_MAX");
			environ_free(&env);
			sane(proc_read_auxv(root, 4242, &a, &err), &err, &errors);
			sane(proc_check_target(root, 4242, &err), &err, &errors);
		}
		write_file(root, rel, orig[i], len[i], 0644);
		free(orig[i]);
	}
	remove_tree(root);
	free(copy);
	ck_assert_int_gt(errors, 0);	/* the damage was noticed */
}
END_TEST

/* Runs fn in a child that has dropped root (if it had it), and returns what
 * fn returned, with its message in err. */
static int as_nobody(int (*fn)(const char *root, struct error *), const char *root,
		     struct error *err)
{
	int pipefd[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct error e = { 0 };

		close(pipefd[0]);
		if (getuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(99);
		e.code = fn(root, &e);
		if (write(pipefd[1], &e, sizeof(e)) != sizeof(e))
			_exit(98);
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], err, sizeof(*err)), (ssize_t)sizeof(*err));
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return err->code;
}

static int read_init_maps(const char *root, struct error *err)
{
	struct maps m = { 0 };
	int ret = proc_read_maps(root, 1, &m, err);

	maps_free(&m);
	return ret;
}

static int check_fake_4242(const char *root, struct error *err)
{
	return proc_check_target(root, 4242, err);
}

START_TEST(permission_denied)
{
	char root[] = "/tmp/heapdoc-proc-XXXXXX";
	struct error err = { 0 };
	const char *stat = "4242 (secret) S 1 1 1 0 -1 4194304 1 0 0 0 0 0 0 0 20 0 1 0 5 0\n";
	char status[256];
	int len;

	/* Live: pid 1 belongs to root; nobody may not read its maps. */
	ck_assert_int_eq(as_nobody(read_init_maps, "", &err), -EACCES);
	ck_assert_msg(strstr(err.msg, "pid 1, owned by root (uid 0): permission denied reading "
			     "/proc/1/maps: heapdoc runs as uid 65534 without CAP_SYS_PTRACE"),
		      "%s", err.msg);

	/* A fake tree with Yama at 1 and a maps only its owner may read. */
	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert_int_eq(chmod(root, 0755), 0);
	len = snprintf(status, sizeof(status), "Name:\tsecret\nState:\tS (sleeping)\n"
		       "Pid:\t4242\nVmSize:\t  100 kB\nKthread:\t0\n");
	write_file(root, "proc/4242/status", status, len, 0644);
	write_file(root, "proc/4242/stat", stat, strlen(stat), 0644);
	write_file(root, "proc/4242/maps", "", 0, 0600);
	write_file(root, "proc/sys/kernel/yama/ptrace_scope", "1\n", 2, 0644);
	if (getuid() == 0) {
		ck_assert_int_eq(as_nobody(check_fake_4242, root, &err), -EACCES);
		ck_assert_msg(strstr(err.msg, "; /proc/sys/kernel/yama/ptrace_scope is 1: "),
			      "%s", err.msg);
	}
	remove_tree(root);
}
END_TEST

/* ---- live -------------------------------------------------------------- */

START_TEST(live_self)
{
	struct proc_status st;
	struct proc_stat sp;
	struct maps m = { 0 };
	struct auxv a;
	struct error err = { 0 };
	char exe[PATH_MAX];
	const struct mapping *x;
	ssize_t n;
	int local = 0;
	void *small = malloc(64);

	ck_assert_int_eq(proc_read_status("", getpid(), &st, &err), 0);
	ck_assert_int_eq(st.pid, getpid());
	ck_assert_int_eq(st.ppid, getppid());
	ck_assert_int_eq(st.uid, getuid());
	ck_assert(!st.kernel_thread);
	ck_assert(IS_SET(st.vm_rss) && st.vm_rss > 0);
	ck_assert_int_eq(proc_read_stat("", getpid(), &sp, &err), 0);
	ck_assert_int_eq(sp.num_threads, st.threads);
	ck_assert_int_eq(proc_check_target("", getpid(), &err), 0);

	ck_assert_int_eq(proc_read_auxv("", getpid(), &a, &err), 0);
	ck_assert_uint_eq(a.entry, getauxval(AT_ENTRY));
	ck_assert_uint_eq(a.base, getauxval(AT_BASE));
	ck_assert_uint_eq(a.phdr, getauxval(AT_PHDR));
	ck_assert_uint_eq(a.pagesz, (uint64_t)sysconf(_SC_PAGESIZE));
	ck_assert_uint_eq(a.sysinfo_ehdr, getauxval(AT_SYSINFO_EHDR));

	ck_assert_int_eq(proc_read_smaps("", getpid(), &m, &err), 0);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	x = maps_find(&m, (uintptr_t)&proc_read_status);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->kind, MAPPING_FILE);
	ck_assert_str_eq(x->path, exe);
	x = maps_find(&m, (uintptr_t)&local);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->path, "[stack]");
	ck_assert_int_eq(x->kind, MAPPING_STACK);
	/* Under a sanitizer malloc is not glibc's and [heap] may not exist. */
	if (!UNDER_ASAN) {
		x = maps_find(&m, (uintptr_t)small);
		ck_assert_ptr_nonnull(x);
		ck_assert_int_eq(x->kind, MAPPING_BRK_HEAP);
	}
	x = maps_find(&m, getauxval(AT_SYSINFO_EHDR));
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->kind, MAPPING_SPECIAL);
	maps_free(&m);
	free(small);
}
END_TEST

START_TEST(live_threads_and_arenas)
{
	static const char *const args[] = { "4", NULL };
	static const char *const env[] = { "HEAPDOC_PROC_TEST=marker value", NULL };
	struct fixture f;
	struct proc_status st;
	struct proc_stat sp;
	struct maps m = { 0 };
	struct smaps_rollup r;
	struct rss_split s;
	struct environ e = { 0 };
	struct error err = { 0 };
	const struct mapping *x;
	pid_t *tids;
	size_t n;
	char key[64];

	fixture_start(&f, "threads_idle", args, env);
	ck_assert_int_eq(proc_read_status("", f.pid, &st, &err), 0);
	ck_assert_uint_eq(st.threads, fixture_value(&f, "threads"));
	ck_assert_int_eq(proc_read_stat("", f.pid, &sp, &err), 0);
	ck_assert_uint_eq(sp.num_threads, fixture_value(&f, "threads"));
	ck_assert_str_eq(sp.comm, "threads_idle");
	ck_assert_int_eq(proc_list_tasks("", f.pid, &tids, &n, &err), 0);
	ck_assert_uint_eq(n, fixture_value(&f, "threads"));
	ck_assert_int_eq(tids[0], f.pid);
	free(tids);

	ck_assert_int_eq(proc_read_environ("", f.pid, &e, &err), 0);
	ck_assert_str_eq(environ_get(&e, "HEAPDOC_PROC_TEST"), "marker value");
	environ_free(&e);

	ck_assert_int_eq(proc_read_smaps("", f.pid, &m, &err), 0);
	x = maps_find(&m, fixture_value(&f, "main_alloc"));
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->kind, MAPPING_BRK_HEAP);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "thread.%d.alloc", i);
		x = maps_find(&m, fixture_value(&f, key));
		ck_assert_ptr_nonnull(x);
		ck_assert_msg(x->kind == MAPPING_ARENA_HEAP, "%s in %s %#jx", key,
			      mapping_kind_name(x->kind), (uintmax_t)x->start);
		ck_assert_uint_eq(x->start % (64 << 20), 0);
		snprintf(key, sizeof(key), "thread.%d.stack", i);
		x = maps_find(&m, fixture_value(&f, key));
		ck_assert_ptr_nonnull(x);
		ck_assert_msg(x->kind == MAPPING_STACK, "%s in %s", key,
			      mapping_kind_name(x->kind));
	}
	/* The process is idle: the per-mapping Rss adds up to the rollup. */
	maps_split_rss(&m, &s);
	ck_assert_int_eq(proc_read_smaps_rollup("", f.pid, &r, &err), 0);
	ck_assert_uint_eq(s.total, r.rss);
	ck_assert_uint_gt(s.arena_heaps, 0);
	ck_assert_uint_gt(s.stacks, 0);
	maps_free(&m);
	fixture_stop(&f);
}
END_TEST

START_TEST(live_zombie_and_gone)
{
	struct error err = { 0 };
	struct maps m = { 0 };
	pid_t child = fork();

	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(0);
	/* Until it is reaped the child is a zombie. */
	for (int i = 0; i < 200; i++) {
		struct proc_status st;

		if (proc_read_status("", child, &st, &err) == 0 && st.state == 'Z')
			break;
		usleep(10000);
	}
	ck_assert_int_eq(proc_check_target("", child, &err), -EOPNOTSUPP);
	ck_assert_msg(strstr(err.msg, "is a zombie"), "%s", err.msg);
	ck_assert_int_eq(proc_read_smaps("", child, &m, &err), -EOPNOTSUPP);
	waitpid(child, NULL, 0);
	ck_assert_int_eq(proc_check_target("", child, &err), -ESRCH);
	ck_assert_msg(strstr(err.msg, "no such process"), "%s", err.msg);
}
END_TEST

START_TEST(live_kernel_thread)
{
	struct proc_status st;
	struct error err = { 0 };

	/* kthreadd is pid 2 on a host; in a container pid 2 is something else. */
	if (proc_read_status("", 2, &st, &err) < 0 || strcmp(st.name, "kthreadd")) {
		SKIP("no kthreadd at pid 2 here");
	}
	ck_assert(st.kernel_thread);
	ck_assert_int_eq(proc_check_target("", 2, &err), -EOPNOTSUPP);
	ck_assert_str_eq(err.msg, "pid 2 (kthreadd) is a kernel thread: it has no user memory");
}
END_TEST

Suite *proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *fake = tcase_create("fake");
	TCase *live = tcase_create("live");

	tcase_set_timeout(fake, 30);	/* mangled_files_never_crash under ASan */
	tcase_add_test(fake, status_of_basic);
	tcase_add_test(fake, stat_of_basic);
	tcase_add_test(fake, comm_with_spaces_and_parens);
	tcase_add_test(fake, maps_of_basic);
	tcase_add_test(fake, smaps_of_basic);
	tcase_add_test(fake, smaps_rollup_of_basic);
	tcase_add_test(fake, rss_split_of_basic);
	tcase_add_test(fake, find_mapping);
	tcase_add_test(fake, classify_heaps_and_stacks);
	tcase_add_test(fake, classify_by_path);
	tcase_add_test(fake, environ_lookup);
	tcase_add_test(fake, environ_without_final_nul);
	tcase_add_test(fake, auxv_of_basic);
	tcase_add_test(fake, tasks_of_basic);
	tcase_add_test(fake, no_such_process);
	tcase_add_test(fake, kernel_thread);
	tcase_add_test(fake, zombie);
	tcase_add_test(fake, exited_while_read);
	tcase_add_test(fake, missing_file);
	tcase_add_test(fake, malformed_files);
	tcase_add_test(fake, long_lines_are_cut);
	tcase_add_test(fake, line_longer_than_limit);
	tcase_add_test(fake, mangled_files_never_crash);
	suite_add_tcase(s, fake);

	tcase_set_timeout(live, 60);
	tcase_add_test(live, permission_denied);
	tcase_add_test(live, live_self);
	tcase_add_test(live, live_threads_and_arenas);
	tcase_add_test(live, live_zombie_and_gone);
	tcase_add_test(live, live_kernel_thread);
	suite_add_tcase(s, live);
	return s;
}
