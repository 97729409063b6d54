/* What the /proc readers refuse and how they fail, each error naming its
 * file: no such process, kernel threads, zombies, a process that exits
 * under a read, missing, malformed and over-long files, damaged copies of
 * fixtures/proc-basic, permission denied; on committed fake trees
 * (fixtures/proc-*) and on live processes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observe/proc.h"
#include "testlib.h"
#include "base/util.h"
#include "proc_basic.h"

#define MALFORMED FAKE_TREE("proc-malformed")

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
Suite *proc_errors_suite(void)
{
	Suite *s = suite_create("proc_errors");
	TCase *fake = tcase_create("fake");
	TCase *live = tcase_create("live");

	tcase_set_timeout(fake, 30);	/* mangled_files_never_crash under ASan */
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
	tcase_add_test(live, live_zombie_and_gone);
	tcase_add_test(live, live_kernel_thread);
	suite_add_tcase(s, live);
	return s;
}
