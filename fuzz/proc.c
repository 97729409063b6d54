/* Fuzzer: the /proc readers (lib/observe/proc*.c) on fake trees.
 *
 * Each input is a tree (fuzz/tree.h) written under a private directory on
 * tmpfs; every reader then runs on every pid under its proc/ with that
 * directory as `root`, as the tests run them on fixtures/proc-*.  Besides
 * the sanitizers, what each reader's header promises is checked: a failure
 * is a negative errno with a message, a success is well formed (mappings
 * in address order and found by maps_find, task ids sorted and positive,
 * an RSS split that adds up).
 *
 * Corpus: fuzz/corpus/proc, one seed per process of the fixture trees.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/audit.h"
#include "observe/audit.h"
#include "observe/proc.h"
#include "observe/proc_file.h"
#include "tree.h"

static char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = fuzz_dir("proc");
	return 0;
}

/* A reader's result: 0, or a negative errno with a message. */
static void check_result(const char *what, pid_t pid, int rc, const struct error *err)
{
	FUZZ_CHECK(rc <= 0, "%s(%d) returned %d", what, pid, rc);
	if (rc < 0)
		FUZZ_CHECK(err->code == rc && err->msg[0], "%s(%d) failed (%d) without saying why",
			   what, pid, rc);
}

static void check_maps(const struct maps *m, bool with_rss)
{
	struct rss_split split;
	uint64_t sum = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct mapping *x = &m->v[i];

		FUZZ_CHECK(x->start < x->end, "mapping %zu is empty or reversed", i);
		FUZZ_CHECK(!i || m->v[i - 1].end <= x->start, "mapping %zu out of order", i);
		FUZZ_CHECK(maps_find(m, x->start) == x && maps_find(m, x->end - 1) == x,
			   "maps_find misses mapping %zu", i);
		FUZZ_CHECK(strcmp(mapping_kind_name(x->kind), "unknown"), "mapping %zu: kind %d",
			   i, (int)x->kind);
	}
	maps_split_rss(m, &split);
	if (!with_rss || !IS_SET(split.total))
		return;
	sum = split.brk_heap + split.arena_heaps + split.stacks + split.other_anon +
	      split.file + split.shmem + split.special;
	FUZZ_CHECK(sum == split.total, "RSS split adds up to %llu, total %llu",
		   (unsigned long long)sum, (unsigned long long)split.total);
}

static void read_maps(pid_t pid)
{
	struct maps m = { 0 };
	struct error err = { 0 };
	int rc;

	rc = proc_read_maps(dir, pid, &m, &err);
	check_result("proc_read_maps", pid, rc, &err);
	if (rc == 0)
		check_maps(&m, false);
	maps_free(&m);
	rc = proc_read_smaps(dir, pid, &m, &err);
	check_result("proc_read_smaps", pid, rc, &err);
	if (rc == 0)
		check_maps(&m, true);
	maps_free(&m);
}

static void read_tasks(pid_t pid)
{
	struct error err = { 0 };
	pid_t *tids;
	size_t n;
	int rc = proc_list_tasks(dir, pid, &tids, &n, &err);

	check_result("proc_list_tasks", pid, rc, &err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		FUZZ_CHECK(tids[i] > 0 && (!i || tids[i - 1] <= tids[i]),
			   "task %zu of %zu: %d", i, n, tids[i]);
	free(tids);
}

static void read_process(pid_t pid)
{
	struct error err = { 0 };
	struct proc_status st;
	struct proc_stat sp;
	struct smaps_rollup ru;
	struct environ env = { 0 };
	struct auxv av;
	struct audit_socket *socks;
	size_t nsocks;
	int rc;

	rc = proc_read_status(dir, pid, &st, &err);
	check_result("proc_read_status", pid, rc, &err);
	rc = proc_read_stat(dir, pid, &sp, &err);
	check_result("proc_read_stat", pid, rc, &err);
	read_maps(pid);
	rc = proc_read_smaps_rollup(dir, pid, &ru, &err);
	check_result("proc_read_smaps_rollup", pid, rc, &err);
	rc = proc_read_environ(dir, pid, &env, &err);
	check_result("proc_read_environ", pid, rc, &err);
	if (rc == 0) {
		FUZZ_CHECK(env.buf && env.buf[env.len] == '\0', "environ not terminated");
		environ_get(&env, "MALLOC_ARENA_MAX");
		environ_get(&env, "GLIBC_TUNABLES");
	}
	environ_free(&env);
	rc = proc_read_auxv(dir, pid, &av, &err);
	check_result("proc_read_auxv", pid, rc, &err);
	read_tasks(pid);
	rc = proc_check_target(dir, pid, &err);
	check_result("proc_check_target", pid, rc, &err);
	rc = proc_read_listeners(dir, pid, &socks, &nsocks, &err);
	check_result("proc_read_listeners", pid, rc, &err);
	free(socks);
}

/* What `heapdoc audit` reads of a process without touching it: the
 * allocator detection and the modules, driven by maps and environ. */
static void audit_files(pid_t pid)
{
	struct audit_obs obs;
	struct error err = { 0 };
	int rc;

	memset(&obs, 0, sizeof(obs));
	rc = audit_observe_files(dir, pid, &obs, &err);
	check_result("audit_observe_files", pid, rc, &err);
	audit_obs_release(&obs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pid_t pids[4];
	size_t n;

	fuzz_tree_build(dir, data, size);
	n = fuzz_tree_pids(dir, pids, sizeof(pids) / sizeof(*pids));
	for (size_t i = 0; i < n; i++) {
		read_process(pids[i]);
		audit_files(pids[i]);
	}
	fuzz_dir_clear(dir);
	return 0;
}
