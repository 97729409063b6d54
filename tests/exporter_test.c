/* heapdoc exporter, live: fixtures matched by name, scraped over HTTP and
 * checked by promtool; a leak that grows between scrapes, a process that
 * exits and one that starts; a process another tracer holds, exported from
 * /proc with its read errors; the textfile; SIGTERM releasing everything.
 *
 * The fixtures run as copies named hx<test pid><role>, so the exporter
 * matches only this test's processes, never another suite's fixtures. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define PAGE_MAX (1 << 20)

struct exporter_run {
	pid_t pid;
	int err_fd;		/* its standard error */
	int port;		/* 0: no server */
	char log[16384];
	size_t loglen;
};

static char dir[128];

static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/heapdoc-exporter-%d", (int)getpid());
	ck_assert_msg(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", dir,
		      strerror(errno));
}

static void remove_dir(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A copy of a fixture program under this test's own name for it. */
static void fixture_copy(const char *name, const char *role, char *path, size_t len)
{
	char cmd[1024];

	snprintf(path, len, "%s/hx%d%s", dir, (int)getpid(), role);
	snprintf(cmd, sizeof(cmd), "cp %s/%s %s", FIXTURE_BIN, name, path);
	ck_assert_int_eq(system(cmd), 0);
}

/* Appends what the exporter wrote on stderr, waiting up to ms for more. */
static void read_log(struct exporter_run *x, int ms)
{
	struct pollfd p = { x->err_fd, POLLIN, 0 };
	ssize_t n;

	while (poll(&p, 1, ms) > 0 && x->loglen < sizeof(x->log) - 1) {
		n = read(x->err_fd, x->log + x->loglen, sizeof(x->log) - 1 - x->loglen);
		if (n <= 0)
			break;
		x->loglen += (size_t)n;
		x->log[x->loglen] = '\0';
		ms = 0;
	}
}

/* Who the exporter runs as. */
struct exporter_as {
	uid_t uid;		/* this user (not root: no CAP_SYS_PTRACE), from a copy
				 * in the test's directory (the tree's may not be open to
				 * that user); 0: root */
	bool ptrace_only;	/* root with CAP_SYS_PTRACE alone, as the DaemonSet
				 * and a kubectl debug container run it */
};

/* Root keeps after exec only the capabilities in its bounding set. */
static void drop_all_but_ptrace(void)
{
	for (int cap = 0; cap < 64; cap++)
		if (cap != CAP_SYS_PTRACE)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
}

static void exporter_start_as(struct exporter_run *x, const char *const *args, bool server,
			      struct exporter_as as)
{
	uid_t uid = as.uid;
	const char *argv[32] = { HEAPDOC_BIN, "exporter" };
	char copy[256], cmd[600];
	size_t argc = 2;
	int e[2];

	if (uid) {
		snprintf(copy, sizeof(copy), "%s/heapdoc", dir);
		snprintf(cmd, sizeof(cmd), "cp %s %s", HEAPDOC_BIN, copy);
		ck_assert_int_eq(system(cmd), 0);
		argv[0] = copy;
	}

	memset(x, 0, sizeof(*x));
	for (; *args && argc < 31; args++)
		argv[argc++] = *args;
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	x->pid = fork();
	ck_assert(x->pid >= 0);
	if (x->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (as.ptrace_only)
			drop_all_but_ptrace();
		if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(126);
		dup2(null, 1);
		dup2(e[1], 2);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(e[1]);
	x->err_fd = e[0];
	for (int i = 0; server && i < 100 && !x->port; i++) {
		const char *at;

		read_log(x, 100);
		at = strstr(x->log, "serving http://127.0.0.1:");
		if (at)
			x->port = atoi(at + strlen("serving http://127.0.0.1:"));
	}
	ck_assert_msg(!server || x->port > 0, "the exporter did not start: %s", x->log);
}

static void exporter_start(struct exporter_run *x, const char *const *args, bool server)
{
	exporter_start_as(x, args, server, (struct exporter_as){ 0 });
}

/* SIGTERM, then its exit status (within 10 s, else the test fails). */
static int exporter_stop(struct exporter_run *x)
{
	int status = -1;

	ck_assert_int_eq(kill(x->pid, SIGTERM), 0);
	for (int i = 0; i < 200; i++) {
		if (waitpid(x->pid, &status, WNOHANG) == x->pid)
			break;
		read_log(x, 0);
		usleep(50000);
		status = -1;
	}
	if (status == -1) {
		kill(x->pid, SIGKILL);
		waitpid(x->pid, NULL, 0);
		ck_abort_msg("the exporter did not stop on SIGTERM: %s", x->log);
	}
	read_log(x, 0);
	close(x->err_fd);
	return status;
}

static void promtool_ok(const char *page)
{
	char path[256], cmd[600], msg[4096] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/scrape.prom", dir);
	f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(page, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s.out 2>&1", path, path);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "%s.out", path);
		slurp(cmd, msg, sizeof(msg));
		ck_abort_msg("promtool check metrics: %s", msg);
	}
}

/* The value of metric{pid="pid",...[,extra]} in page; NAN when absent. */
static double value_of(const char *page, const char *metric, pid_t pid, const char *extra)
{
	char head[128];

	snprintf(head, sizeof(head), "\n%s{pid=\"%d\",", metric, (int)pid);
	for (const char *p = page; (p = strstr(p, head)); p++) {
		const char *end = strchr(p + 1, '\n'), *close = strstr(p, "} ");

		if (!end || !close || close > end)
			continue;
		if (extra && !memmem(p, (size_t)(close - p), extra, strlen(extra)))
			continue;
		return strtod(close + 2, NULL);
	}
	return NAN;
}

/* 200, or 503 before the first round has ended. */
static bool scrape(const struct exporter_run *x, char *page)
{
	int code = http_get(x->port, "GET /metrics HTTP/1.1", page, PAGE_MAX);

	ck_assert_msg(code == 200 || code == 503, "GET /metrics: %d", code);
	return code == 200;
}

/* Scrapes until every pid in want has allocated bytes and every pid in
 * gone has no series (up to 30 s); the last page stays in page. */
static void scrape_until(const struct exporter_run *x, char *page, const pid_t *want, size_t nwant,
			 pid_t gone)
{
	for (int i = 0; i < 300; i++) {
		bool all = true;

		if (!scrape(x, page)) {
			usleep(100000);
			continue;
		}
		for (size_t k = 0; k < nwant; k++)
			all = all && !isnan(value_of(page, "heapdoc_allocated_bytes", want[k], NULL));
		if (gone)
			all = all && isnan(value_of(page, "heapdoc_rss_bytes", gone, NULL));
		if (all)
			return;
		usleep(100000);
	}
	ck_abort_msg("the page never had what was expected:\n%.4000s", page);
}

/* No thread of pid is stopped or traced. */
static void assert_released(pid_t pid)
{
	char path[64], status[4096];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_int_eq(slurp(path, status, sizeof(status)), 0);
	ck_assert_msg(strstr(status, "\nTracerPid:\t0\n"), "pid %d still traced", (int)pid);
	ck_assert_msg(!strstr(status, "State:\tt") && !strstr(status, "State:\tT"),
		      "pid %d left stopped", (int)pid);
}

START_TEST(exporter_follows_three_fixtures_between_scrapes)
{
	static char page1[PAGE_MAX], page2[PAGE_MAX];
	char leak_bin[256], frag_bin[256], je_bin[256], match[64];
	struct fixture leak = { 0 }, frag = { 0 }, je = { 0 }, late = { 0 };
	const char *leak_args[] = { "4194304", NULL }, *frag_args[] = { "32", NULL };
	struct exporter_run x;
	double a1, a2;
	int status;

	setup_dir();
	fixture_copy("scenario_leak", "leak", leak_bin, sizeof(leak_bin));
	fixture_copy("glibc_fragmented", "frag", frag_bin, sizeof(frag_bin));
	fixture_copy("je_leak", "je", je_bin, sizeof(je_bin));
	fixture_start_path(&leak, leak_bin, leak_args, NULL);
	fixture_start_path(&frag, frag_bin, frag_args, NULL);
	fixture_start_path(&je, je_bin, NULL, NULL);
	snprintf(match, sizeof(match), "^hx%d", (int)getpid());
	exporter_start(&x, (const char *const[]){ "--listen", "127.0.0.1:0", "--interval", "1",
						  "--match", match, NULL }, true);

	scrape_until(&x, page1, (pid_t[]){ leak.pid, frag.pid, je.pid }, 3, 0);
	promtool_ok(page1);
	a1 = value_of(page1, "heapdoc_allocated_bytes", leak.pid, NULL);
	ck_assert(value_of(page1, "heapdoc_rss_bytes", je.pid, "allocator=\"jemalloc\"") > 0);
	ck_assert(value_of(page1, "heapdoc_rss_bytes", frag.pid, "allocator=\"glibc\"") > 0);
	ck_assert(!isnan(value_of(page1, "heapdoc_free_bytes", frag.pid, "kind=\"between_live\"")));
	ck_assert(!isnan(value_of(page1, "heapdoc_free_bytes", je.pid, "kind=\"dirty\"")));
	ck_assert(value_of(page1, "heapdoc_fragmentation_ratio", frag.pid, NULL) > 1);
	ck_assert(value_of(page1, "heapdoc_pause_seconds_count", leak.pid, NULL) >= 1);

	/* One exits, one starts; the leak goes on leaking. */
	fixture_stop(&frag);
	fixture_start_path(&late, leak_bin, leak_args, NULL);
	sleep(2);
	scrape_until(&x, page2, (pid_t[]){ leak.pid, je.pid, late.pid }, 3, frag.pid);
	promtool_ok(page2);
	a2 = value_of(page2, "heapdoc_allocated_bytes", leak.pid, NULL);
	ck_assert_msg(a2 > a1 + (4 << 20), "the leak's allocated went from %.0f to %.0f", a1, a2);
	/* The judge over the exporter's own window: a few seconds of a 4 MiB/s
	 * leak are enough to call it. */
	for (int i = 0; i < 300 && !(value_of(page2, "heapdoc_window_seconds", leak.pid, NULL) >= 6);
	     i++) {
		usleep(100000);
		scrape(&x, page2);
	}
	ck_assert_msg(value_of(page2, "heapdoc_verdict", leak.pid, "verdict=\"leak\"") == 1,
		      "the judge over the exporter's window of %.1f s: not leak (inconclusive %.0f)",
		      value_of(page2, "heapdoc_window_seconds", leak.pid, NULL),
		      value_of(page2, "heapdoc_verdict", leak.pid, "verdict=\"inconclusive\""));
	ck_assert_msg(strstr(page2, "\nheapdoc_exporter_targets 3\n"), "%.4000s", page2);
	ck_assert(value_of(page2, "heapdoc_stopped_seconds_per_hour", leak.pid, NULL) > 0);

	status = exporter_stop(&x);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status,
		      x.log);
	ck_assert_msg(strstr(x.log, "stopped by SIGTERM; 3 processes released"), "%s", x.log);
	ck_assert_msg(strstr(x.log, "exited; no longer watched"), "%s", x.log);
	assert_released(leak.pid);
	assert_released(je.pid);
	assert_released(late.pid);
	fixture_stop(&leak);
	fixture_stop(&je);
	fixture_stop(&late);
	remove_dir();
}
END_TEST

/* A process another tracer holds is exported from /proc, with its read
 * errors, beside one read in full; the page goes to a textfile. */
START_TEST(exporter_reports_what_it_cannot_read_in_a_textfile)
{
	static char page[PAGE_MAX];
	char bin[256], file[256], tmp[300], pid_a[16], pid_b[16];
	struct fixture free_one = { 0 }, held = { 0 };
	struct exporter_run x;
	double rounds;
	int status;

	setup_dir();
	fixture_copy("idle", "idle", bin, sizeof(bin));
	fixture_start_path(&free_one, bin, NULL, NULL);
	fixture_start_path(&held, bin, NULL, NULL);
	ck_assert_msg(ptrace(PTRACE_SEIZE, held.pid, 0, 0) == 0, "seize: %s", strerror(errno));
	snprintf(file, sizeof(file), "%s/heapdoc.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	snprintf(pid_a, sizeof(pid_a), "%d", (int)free_one.pid);
	snprintf(pid_b, sizeof(pid_b), "%d", (int)held.pid);
	exporter_start(&x, (const char *const[]){ "--textfile", file, "--interval", "1",
						  "--pid", pid_a, "--pid", pid_b, NULL }, false);

	for (int i = 0; i < 300; i++) {
		page[0] = '\n';
		if (slurp(file, page + 1, sizeof(page) - 1) == 0 &&
		    value_of(page, "heapdoc_read_errors_total", held.pid, "reason=\"traced\"") >= 5 &&
		    !isnan(value_of(page, "heapdoc_allocated_bytes", free_one.pid, NULL)))
			break;
		usleep(100000);
	}
	ck_assert_msg(value_of(page, "heapdoc_read_errors_total", held.pid, "reason=\"traced\"") >= 5,
		      "%.4000s", page);
	promtool_ok(page + 1);
	ck_assert(value_of(page, "heapdoc_rss_bytes", held.pid, NULL) > 0);
	ck_assert(isnan(value_of(page, "heapdoc_allocated_bytes", held.pid, NULL)));
	ck_assert(isnan(value_of(page, "heapdoc_last_success_timestamp_seconds", held.pid, NULL)));
	ck_assert(value_of(page, "heapdoc_last_success_timestamp_seconds", free_one.pid, NULL) > 0);
	ck_assert(value_of(page, "heapdoc_read_errors_total", free_one.pid, "reason=\"traced\"") == 0);
	/* Read in every round (five or more): each round stops it twice, for
	 * the sample and to let it go. */
	rounds = strtod(strstr(page, "\nheapdoc_exporter_rounds_total ") +
			strlen("\nheapdoc_exporter_rounds_total "), NULL);
	ck_assert_msg(value_of(page, "heapdoc_pause_seconds_count", free_one.pid, NULL) >=
		      2 * rounds, "%.0f rounds:\n%.4000s", rounds, page);
	ck_assert_msg(!strstr(page, "heapdoc_exporter_scrapes_total"), "no server, no scrapes");

	status = exporter_stop(&x);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status,
		      x.log);
	ck_assert_msg(!strstr(x.log, "serving http"), "a server without --listen: %s", x.log);
	ck_assert_msg(strstr(x.log, "allocator not read (traced)"), "%s", x.log);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	assert_released(free_one.pid);
	fixture_stop(&held);
	fixture_stop(&free_one);
	remove_dir();
}
END_TEST

/* Without the right to trace (an unprivileged exporter), a process is
 * exported from /proc, every round a permission error; the exporter runs
 * on. */
START_TEST(exporter_without_privileges_exports_proc_figures)
{
	static char page[PAGE_MAX];
	char bin[256], file[256], pid[16];
	struct fixture f = { 0 };
	struct exporter_run x;
	int status;

	setup_dir();
	ck_assert_int_eq(chmod(dir, 0777), 0);
	fixture_copy("idle", "nobody", bin, sizeof(bin));
	fixture_start_path(&f, bin, NULL, NULL);
	snprintf(file, sizeof(file), "%s/heapdoc.prom", dir);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	exporter_start_as(&x, (const char *const[]){ "--textfile", file, "--interval", "1",
						     "--pid", pid, NULL }, false,
			  (struct exporter_as){ .uid = 65534 });
	for (int i = 0; i < 300; i++) {
		page[0] = '\n';
		if (slurp(file, page + 1, sizeof(page) - 1) == 0 &&
		    value_of(page, "heapdoc_read_errors_total", f.pid, "reason=\"permission\"") >= 2)
			break;
		usleep(100000);
	}
	ck_assert_msg(value_of(page, "heapdoc_read_errors_total", f.pid,
			       "reason=\"permission\"") >= 2, "%.4000s", page);
	ck_assert(value_of(page, "heapdoc_rss_bytes", f.pid, NULL) > 0);
	ck_assert(isnan(value_of(page, "heapdoc_allocated_bytes", f.pid, NULL)));
	status = exporter_stop(&x);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status,
		      x.log);
	ck_assert_msg(strstr(x.log, "allocator not read (permission)"), "%s", x.log);
	assert_released(f.pid);
	fixture_stop(&f);
	remove_dir();
}
END_TEST

/* A thread of pid that runs at SCHED_IDLE: its tid, or 0 when none does. */
static pid_t idle_thread(pid_t pid)
{
	char path[64];
	struct dirent *d;
	pid_t idle = 0;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	tasks = opendir(path);
	ck_assert_msg(tasks != NULL, "%s: %s", path, strerror(errno));
	while (!idle && (d = readdir(tasks))) {
		pid_t tid = atoi(d->d_name);

		if (tid > 0 && sched_getscheduler(tid) == SCHED_IDLE)
			idle = tid;
	}
	closedir(tasks);
	return idle;
}

/* Root without CAP_SYS_NICE (the DaemonSet's exporter, a kubectl debug
 * container) may enter SCHED_IDLE but not leave it (sched(7)): a heapdoc
 * that yielded the CPUs while walking a heap would then hold every later
 * stop at idle priority, the target waiting on a starved heapdoc.  Its
 * walks keep its priority instead. */
START_TEST(exporter_without_cap_sys_nice_keeps_its_priority)
{
	static char page[PAGE_MAX];
	char bin[256], pid[16];
	struct fixture f = { 0 };
	struct exporter_run x;
	double rounds = 0;
	pid_t idle;

	setup_dir();
	fixture_copy("glibc_fragmented", "nice", bin, sizeof(bin));
	fixture_start_path(&f, bin, (const char *const[]){ "16", NULL }, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	exporter_start_as(&x, (const char *const[]){ "--listen", "127.0.0.1:0", "--interval", "1",
						     "--pid", pid, NULL }, true,
			  (struct exporter_as){ .ptrace_only = true });
	/* Two rounds after the first full read: the heap was walked while
	 * the process ran, and heapdoc stopped it again since. */
	for (int i = 0; i < 300 && rounds < 3; i++) {
		if (scrape(&x, page) &&
		    !isnan(value_of(page, "heapdoc_free_bytes", f.pid, "kind=\"between_live\""))) {
			const char *r = strstr(page, "\nheapdoc_exporter_rounds_total ");

			rounds = r ? strtod(r + strlen("\nheapdoc_exporter_rounds_total "), NULL) : 0;
		}
		usleep(100000);
	}
	ck_assert_msg(rounds >= 3, "no full read of pid %d:\n%.4000s", (int)f.pid, page);
	ck_assert_msg(value_of(page, "heapdoc_read_errors_total", f.pid, "reason=\"permission\"")
		      == 0, "%.4000s", page);
	idle = idle_thread(x.pid);
	ck_assert_int_eq(exporter_stop(&x), 0);
	ck_assert_msg(!idle, "thread %d of the exporter stays at SCHED_IDLE", (int)idle);
	assert_released(f.pid);
	fixture_stop(&f);
	remove_dir();
}
END_TEST

Suite *exporter_suite(void)
{
	Suite *s = suite_create("exporter");
	TCase *live = tcase_create("live");

	tcase_set_timeout(live, 120);
	tcase_add_test(live, exporter_follows_three_fixtures_between_scrapes);
	tcase_add_test(live, exporter_reports_what_it_cannot_read_in_a_textfile);
	tcase_add_test(live, exporter_without_privileges_exports_proc_figures);
	tcase_add_test(live, exporter_without_cap_sys_nice_keeps_its_priority);
	suite_add_tcase(s, live);
	return s;
}
