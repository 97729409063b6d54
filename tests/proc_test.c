/* The /proc readers of a process's status, stat, environ, auxv and task
 * list, on committed fake trees (fixtures/proc-*) whose contents are
 * restated here; and the readers on live processes (this one, a threaded
 * fixture).  Maps and smaps: proc_maps_test.c; refusals and damaged
 * files: proc_errors_test.c. */
#include <elf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "observe/proc.h"
#include "testlib.h"
#include "base/util.h"
#include "proc_basic.h"

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

Suite *proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *fake = tcase_create("fake");
	TCase *live = tcase_create("live");

	tcase_set_timeout(fake, 30);
	tcase_add_test(fake, status_of_basic);
	tcase_add_test(fake, stat_of_basic);
	tcase_add_test(fake, comm_with_spaces_and_parens);
	tcase_add_test(fake, environ_lookup);
	tcase_add_test(fake, environ_without_final_nul);
	tcase_add_test(fake, auxv_of_basic);
	tcase_add_test(fake, tasks_of_basic);
	suite_add_tcase(s, fake);

	tcase_set_timeout(live, 60);
	tcase_add_test(live, live_self);
	tcase_add_test(live, live_threads_and_arenas);
	suite_add_tcase(s, live);
	return s;
}
