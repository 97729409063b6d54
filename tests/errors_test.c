/* Errors as a user meets them, for every command that takes a pid: one clear
 * line on stderr naming the subject, and the documented exit code. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static const char *const pid_commands[] = { "triage", "stats", "knobs", "release" };
/* Every command whose help and man page are checked (record, compare and
 * plot take files: their pid errors are record_test's). */
static const char *const help_commands[] = { "triage", "stats", "knobs", "release", "record",
					     "compare", "plot", "exporter" };

static char out[65536], err[8192];

/* Runs `heapdoc <cmd> [--once] <pid>` (triage gets --once to stay fast). */
static int run_on_pid(const char *cmd, const char *pid)
{
	const char *args[] = { cmd, pid, NULL, NULL };

	if (!strcmp(cmd, "triage")) {
		args[1] = "--once";
		args[2] = pid;
	}
	return run_heapdoc(args, out, sizeof(out), err, sizeof(err));
}

/* stderr is exactly one line that starts with "heapdoc" and contains needle. */
static void assert_one_line_naming(const char *needle)
{
	char *nl = strchr(err, '\n');

	ck_assert_msg(strncmp(err, "heapdoc", 7) == 0, "stderr: %s", err);
	ck_assert_msg(nl && nl[1] == '\0', "not one line: %s", err);
	ck_assert_msg(strstr(err, needle), "'%s' not in: %s", needle, err);
}

START_TEST(pid_that_is_not_a_number)
{
	const char *cmd = pid_commands[_i];

	ck_assert_int_eq(run_on_pid(cmd, "12ab"), 2);
	ck_assert_msg(strstr(err, "'12ab' is not a process id"), "%s: %s", cmd, err);
}
END_TEST

/* A pid that cannot exist: above the kernel's pid_max. */
START_TEST(no_such_process)
{
	const char *cmd = pid_commands[_i];

	ck_assert_int_eq(run_on_pid(cmd, "2147483647"), 3);
	assert_one_line_naming("2147483647");
}
END_TEST

/* kthreadd is pid 2 on every Linux system (in the initial pid namespace). */
START_TEST(kernel_thread)
{
	const char *cmd = pid_commands[_i];
	char comm[64];

	if (slurp("/proc/2/comm", comm, sizeof(comm)) || strncmp(comm, "kthreadd", 8)) {
		SKIP("pid 2 is not kthreadd here");
	}
	ck_assert_int_eq(run_on_pid(cmd, "2"), 5);
	assert_one_line_naming("kernel thread");
}
END_TEST

START_TEST(zombie)
{
	const char *cmd = pid_commands[_i];
	char pid[16];
	pid_t child = fork();

	ck_assert(child >= 0);
	if (child == 0)
		_exit(0);
	/* Not reaped: the child stays a zombie until waitpid below. */
	for (int i = 0; i < 200; i++) {
		char path[64], stat[256];

		snprintf(path, sizeof(path), "/proc/%d/stat", child);
		if (!slurp(path, stat, sizeof(stat)) && strstr(stat, ") Z "))
			break;
		usleep(10000);
	}
	snprintf(pid, sizeof(pid), "%d", child);
	ck_assert_int_eq(run_on_pid(cmd, pid), 5);
	assert_one_line_naming("zombie");
	waitpid(child, NULL, 0);
}
END_TEST

/* An unprivileged user may not look into root's process. */
START_TEST(permission_denied)
{
	const char *cmd = pid_commands[_i];
	struct fixture f = { 0 };
	struct passwd *nobody = getpwnam("nobody");
	char pid[16];
	int status;
	pid_t child;

	if (getuid() != 0 || !nobody) {
		SKIP("needs root and the user nobody");
	}
	fixture_start(&f, "idle", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	child = fork();
	ck_assert(child >= 0);
	if (child == 0) {
		const char *args[] = { HEAPDOC_BIN, cmd, pid, NULL, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!strcmp(cmd, "triage"))
			args[2] = "--once", args[3] = pid;
		if (setgid(nobody->pw_gid) || setuid(nobody->pw_uid))
			_exit(99);
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execv(HEAPDOC_BIN, (char **)args);
		_exit(98);
	}
	waitpid(child, &status, 0);
	fixture_stop(&f);
	ck_assert_msg(WIFEXITED(status), "%s died by a signal", cmd);
	ck_assert_int_eq(WEXITSTATUS(status), 4);
}
END_TEST

/* A thread id where a process id belongs: the same code and message from
 * every command (one fact, one exit code). */
START_TEST(thread_id)
{
	const char *cmd = pid_commands[_i];
	const char *args[] = { "2", NULL };
	char task[64], tid[16] = "", want[96];
	struct fixture f = { 0 };
	DIR *d;

	fixture_start(&f, "threads_idle", args, NULL);
	snprintf(task, sizeof(task), "/proc/%d/task", f.pid);
	d = opendir(task);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d)) && !tid[0];)
		if (e->d_name[0] != '.' && atoi(e->d_name) != f.pid)
			snprintf(tid, sizeof(tid), "%d", atoi(e->d_name));
	closedir(d);
	ck_assert_msg(tid[0], "no thread besides the main one");
	ck_assert_int_eq(run_on_pid(cmd, tid), 3);
	snprintf(want, sizeof(want), "pid %s is a thread of process %d; give the process id",
		 tid, f.pid);
	assert_one_line_naming(want);
	fixture_stop(&f);
}
END_TEST

/* Another tracer holds the process: 4, naming it, from every command. */
START_TEST(another_tracer)
{
	const char *cmd = pid_commands[_i];
	struct fixture f = { 0 };
	char pid[16], want[64];

	fixture_start(&f, "idle", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	/* This test's process is the other tracer; it lets go when it ends. */
	ck_assert_msg(ptrace(PTRACE_SEIZE, f.pid, NULL, NULL) == 0, "seize: %s", strerror(errno));
	ck_assert_int_eq(run_on_pid(cmd, pid), 4);
	snprintf(want, sizeof(want), "already traced by pid %d", (int)getpid());
	assert_one_line_naming(want);
	ptrace(PTRACE_DETACH, f.pid, NULL, NULL);
	fixture_stop(&f);
}
END_TEST

/* The process exits while triage watches it and stays a zombie (its parent
 * has not reaped it yet): exited while being read, 3, never "unsupported". */
START_TEST(exit_mid_window_is_no_such_process)
{
	struct fixture f = { 0 };
	char pid[16];
	int wstatus;
	pid_t child;

	fixture_start(&f, "idle", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	child = fork();
	ck_assert(child >= 0);
	if (child == 0) {
		int efd = open("/tmp/heapdoc-errors-test.err", O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen("/dev/null", "w", stdout) || efd < 0 || dup2(efd, 2) < 0)
			_exit(97);
		execl(HEAPDOC_BIN, "heapdoc", "triage", "--duration", "3", "--interval", "0.1",
		      pid, (char *)NULL);
		_exit(98);
	}
	usleep(800 * 1000);	/* well inside the window */
	kill(f.pid, SIGKILL);	/* not reaped: a zombie until fixture_stop */
	ck_assert_int_eq(waitpid(child, &wstatus, 0), child);
	ck_assert_int_eq(slurp("/tmp/heapdoc-errors-test.err", err, sizeof(err)), 0);
	unlink("/tmp/heapdoc-errors-test.err");
	fixture_stop(&f);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 3, "exit %d: %s",
		      WEXITSTATUS(wstatus), err);
	ck_assert_msg(strstr(err, "exited while being read"), "%s", err);
}
END_TEST

START_TEST(unknown_option)
{
	const char *cmd = pid_commands[_i];
	const char *args[] = { cmd, "--frobnicate", "1", NULL };

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_msg(strstr(err, "--frobnicate"), "%s: %s", cmd, err);
}
END_TEST

START_TEST(help_has_examples_and_exit_codes)
{
	const char *cmd = help_commands[_i];
	const char *args[] = { cmd, "--help", NULL };

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strstr(out, "Examples:"), "%s --help has no examples", cmd);
	ck_assert_msg(strstr(out, "Exit status:"), "%s --help has no exit codes", cmd);
}
END_TEST

/* Every long option a command's --help names is documented in heapdoc(1), so
 * the man page stays true as options are added. */
START_TEST(man_page_documents_every_option)
{
	static char man[1 << 17];
	const char *cmd = help_commands[_i];
	const char *args[] = { cmd, "--help", NULL };

	ck_assert_int_eq(slurp(HEAPDOC_ROOT "/man/heapdoc.1", man, sizeof(man)), 0);
	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	for (char *p = out; (p = strstr(p, "--")); ) {
		char opt[64], roff[80];
		size_t n = 2;

		while (n < sizeof(opt) - 1 && (p[n] == '-' || (p[n] >= 'a' && p[n] <= 'z')))
			n++;
		memcpy(opt, p, n);
		opt[n] = '\0';
		p += n;
		if (n <= 2)
			continue;
		/* roff spells "--json" as "\-\-json". */
		snprintf(roff, sizeof(roff), "\\-\\-%s", opt + 2);
		ck_assert_msg(strstr(man, roff), "heapdoc(1) does not document %s %s", cmd, opt);
	}
}
END_TEST

/* Ctrl-C in the middle of a triage window: the target is released first
 * (it runs on, untraced, every thread out of any ptrace stop), then the
 * report of what was seen, and the verdict's exit code, as ping prints its
 * statistics. */
START_TEST(interrupt_releases_the_target)
{
	struct fixture f = { 0 };
	char pid[16], path[64], status[4096], outp[128], report[65536];
	int wstatus, code;
	pid_t child;

	snprintf(outp, sizeof(outp), "/tmp/heapdoc-test-%d-int.out", (int)getpid());
	fixture_start(&f, "busy_threads", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	child = fork();
	ck_assert(child >= 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(outp, "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(97);
		execl(HEAPDOC_BIN, "heapdoc", "triage", "--duration", "30", pid, (char *)NULL);
		_exit(98);
	}
	usleep(1500 * 1000);	/* well inside the window: several samples taken */
	kill(child, SIGINT);
	ck_assert_int_eq(waitpid(child, &wstatus, 0), child);
	ck_assert_msg(WIFEXITED(wstatus), "heapdoc died by a signal");
	code = WEXITSTATUS(wstatus);
	ck_assert_msg(code == 0 || (code >= 10 && code <= 14), "exit %d", code);
	ck_assert_int_eq(slurp(outp, report, sizeof(report)), 0);
	unlink(outp);
	ck_assert_msg(strstr(report, "ended: interrupted by SIGINT after"), "%s", report);

	snprintf(path, sizeof(path), "/proc/%d/status", f.pid);
	ck_assert_int_eq(slurp(path, status, sizeof(status)), 0);
	ck_assert_msg(strstr(status, "TracerPid:\t0\n"), "still traced: %s", status);
	fixture_refresh(&f);	/* it still answers: not stopped */
	fixture_stop(&f);
}
END_TEST

Suite *errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("per command");
	int n = sizeof(pid_commands) / sizeof(pid_commands[0]);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, pid_that_is_not_a_number, 0, n);
	tcase_add_loop_test(tc, no_such_process, 0, n);
	tcase_add_loop_test(tc, kernel_thread, 0, n);
	tcase_add_loop_test(tc, zombie, 0, n);
	tcase_add_loop_test(tc, permission_denied, 0, n);
	tcase_add_loop_test(tc, thread_id, 0, n);
	tcase_add_loop_test(tc, another_tracer, 0, n);
	tcase_add_test(tc, exit_mid_window_is_no_such_process);
	tcase_add_loop_test(tc, unknown_option, 0, n);
	tcase_add_loop_test(tc, help_has_examples_and_exit_codes, 0,
			    sizeof(help_commands) / sizeof(help_commands[0]));
	tcase_add_loop_test(tc, man_page_documents_every_option, 0,
			    sizeof(help_commands) / sizeof(help_commands[0]));
	tcase_add_test(tc, interrupt_releases_the_target);
	suite_add_tcase(s, tc);
	return s;
}
