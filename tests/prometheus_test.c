/* The Prometheus contract: the text format passes `promtool check metrics`
 * (Prometheus's own linter: base units, HELP and TYPE, counters' _total)
 * for every recorded observation and for a failure; --prometheus-file
 * writes atomically and exits 0 whatever the verdict; label values are
 * escaped once. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define PROMTOOL "/usr/bin/promtool"

static char out[1 << 16], err[8192];

/* promtool check metrics < path: its exit status, what it said in said. */
static int promtool_check(const char *path, char *said, size_t len)
{
	int p[2], status, in;
	ssize_t n, got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	in = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execl(PROMTOOL, "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	close(in);
	close(p[1]);
	while (got + 1 < (ssize_t)len && (n = read(p[0], said + got, len - 1 - got)) > 0)
		got += n;
	said[got] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Every .prom the recorded observations render (tests/observations_test.c
 * keeps them equal to heapdoc's output). */
START_TEST(recorded_observations_pass_promtool)
{
	DIR *d = opendir(HEAPDOC_ROOT "/fixtures/observations");
	char path[1024], said[4096];
	struct dirent *e;
	unsigned checked = 0;

	if (access(PROMTOOL, X_OK) < 0)
		SKIP_MISSING("promtool (Debian's prometheus)");
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n < 6 || strcmp(e->d_name + n - 5, ".prom"))
			continue;
		snprintf(path, sizeof(path), HEAPDOC_ROOT "/fixtures/observations/%s", e->d_name);
		ck_assert_msg(promtool_check(path, said, sizeof(said)) == 0, "%s: %s", e->d_name,
			      said);
		checked++;
	}
	closedir(d);
	ck_assert_uint_ge(checked, 10);
}
END_TEST

/* A leak (exit 10 otherwise): the file appears whole, the .tmp is gone,
 * heapdoc exits 0, and promtool takes it. */
START_TEST(prometheus_file_is_atomic_and_exits_0)
{
	char dir[] = "/tmp/heapdoc-prom-XXXXXX", path[256], tmp[300], said[4096];
	const char *args[] = { "triage", "--from", HEAPDOC_ROOT "/fixtures/observations/glibc-leak.jsonl",
			       "--prometheus-file", path, NULL };
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/heapdoc.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_lt(stat(tmp, &st), 0);
	ck_assert_int_eq(slurp(path, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "verdict=\"leak\"} 1\n"), "%s", out);
	ck_assert_msg(strstr(out, "heapdoc_up{"), "%s", out);
	if (access(PROMTOOL, X_OK) == 0)
		ck_assert_msg(promtool_check(path, said, sizeof(said)) == 0, "%s", said);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* No such process: still a whole file, heapdoc_up 0, the exit code 3 as a
 * figure, and exit 0; a file that cannot be written is an error. */
START_TEST(prometheus_file_for_a_failure)
{
	char dir[] = "/tmp/heapdoc-prom-XXXXXX", path[256], said[4096];
	const char *args[] = { "triage", "--once", "--prometheus-file", path, "999999999", NULL };
	const char *bad[] = { "triage", "--once", "--prometheus-file", "/nonexistent/x.prom",
			      "1", NULL };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/heapdoc.prom", dir);
	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_int_eq(slurp(path, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "heapdoc_up{pid=\"999999999\",comm=\"\",allocator=\"unknown\","
			      "cgroup=\"\"} 0\n"), "%s", out);
	ck_assert_msg(strstr(out, "heapdoc_exit_code{pid=\"999999999\",comm=\"\",allocator=\"unknown\","
			      "cgroup=\"\"} 3\n"), "%s", out);
	if (access(PROMTOOL, X_OK) == 0)
		ck_assert_msg(promtool_check(path, said, sizeof(said)) == 0, "%s", said);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(run_heapdoc(bad, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "/nonexistent/x.prom.tmp"), "%s", err);
}
END_TEST

Suite *prometheus_suite(void)
{
	Suite *s = suite_create("prometheus");
	TCase *tc = tcase_create("contract");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, recorded_observations_pass_promtool);
	tcase_add_test(tc, prometheus_file_is_atomic_and_exits_0);
	tcase_add_test(tc, prometheus_file_for_a_failure);
	suite_add_tcase(s, tc);
	return s;
}
