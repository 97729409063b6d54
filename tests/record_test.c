/* heapdoc record, and triage's window over time, on live fixtures: what a
 * recording holds, how it ends (complete, Ctrl-C, the process exiting,
 * killed, OOM-killed), the verdict after Ctrl-C and after the process's
 * death, and live windows long enough to judge a slow leak under a
 * sawtooth and the sawtooth alone. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live_cgroup.h"
#include "testlib.h"

static char out[1 << 20], err[8192], text[1 << 20];

/* A scratch file of this test run, removed by the caller. */
static void scratch(char *path, size_t len, const char *what)
{
	snprintf(path, len, "/tmp/heapdoc-test-%d-%s", (int)getpid(), what);
}

/* heapdoc with args, stdout to out_path, stderr to err_path, in the
 * background: its pid. */
static pid_t spawn_heapdoc(const char *const *args, const char *out_path, const char *err_path)
{
	char *argv[32];
	size_t argc = 0;
	pid_t pid;

	argv[argc++] = (char *)HEAPDOC_BIN;
	for (; *args && argc + 1 < 32; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr))
			_exit(97);
		execv(HEAPDOC_BIN, argv);
		_exit(98);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "heapdoc died by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* The recording's end line, as read back by triage --from --json. */
static void load_json(const char *path)
{
	const char *args[] = { "triage", "--from", path, "--json", NULL };
	int rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));

	ck_assert_msg(rc == 0 || (rc >= 10 && rc <= 14), "triage --from: %d %s", rc, err);
}

static void assert_released(pid_t pid)
{
	char path[64], status[4096];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_int_eq(slurp(path, status, sizeof(status)), 0);
	ck_assert_msg(strstr(status, "TracerPid:\t0\n"), "still traced: %s", status);
	ck_assert_msg(!strstr(status, "State:\tt"), "left stopped: %s", status);
}

/* A fixed window: header, one line per sample, the full read, "complete";
 * what record printed as JSON is what triage --from prints of its file. */
START_TEST(record_writes_what_triage_from_judges)
{
	struct fixture f;
	const char *args[] = { "1048576", NULL };
	char pid[16], path[256], *live = malloc(sizeof(out));
	const char *rec[] = { "record", "--duration", "3s", "--interval", "0.25", "--json",
			      "-o", path, pid, NULL };
	int rc;

	ck_assert_ptr_nonnull(live);
	scratch(path, sizeof(path), "complete.jsonl");
	fixture_start(&f, "scenario_leak", args, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	rc = run_heapdoc(rec, live, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	ck_assert_msg(rc == 10, "record: exit %d: %s", rc, err);
	ck_assert_ptr_nonnull(strstr(err, "samples over"));
	ck_assert_int_eq(slurp(path, text, sizeof(text)), 0);
	ck_assert_ptr_nonnull(strstr(text, "{\"type\":\"header\",\"format\":\"heapdoc-recording\""));
	ck_assert_ptr_nonnull(strstr(text, "{\"type\":\"state\""));
	ck_assert_ptr_nonnull(strstr(text, "{\"type\":\"end\",\"how\":\"complete\"}\n"));
	load_json(path);
	ck_assert_str_eq(out, live);
	unlink(path);
	free(live);
}
END_TEST

/* Ctrl-C: the target released first, the recording ends with how, and
 * heapdoc prints the verdict on what it saw and exits with its code. */
START_TEST(record_ctrl_c_leaves_a_complete_recording)
{
	struct fixture f;
	char pid[16], path[256], o[256], e[256];
	const char *rec[] = { "record", "--interval", "0.25", "-o", path, pid, NULL };
	pid_t hp;
	int rc;

	scratch(path, sizeof(path), "int.jsonl");
	scratch(o, sizeof(o), "int.out");
	scratch(e, sizeof(e), "int.err");
	fixture_start(&f, "busy_threads", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	hp = spawn_heapdoc(rec, o, e);
	usleep(2500 * 1000);
	kill(hp, SIGINT);
	rc = wait_exit(hp);
	assert_released(f.pid);
	fixture_refresh(&f);	/* it still answers */
	fixture_stop(&f);
	ck_assert_msg(rc == 0 || (rc >= 10 && rc <= 14), "exit %d", rc);
	ck_assert_int_eq(slurp(o, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, "ended: interrupted by SIGINT after"), "%s", text);
	ck_assert_int_eq(slurp(path, text, sizeof(text)), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"how\":\"interrupted by SIGINT after"));
	load_json(path);
	ck_assert_ptr_nonnull(strstr(out, "\"ended\": \"interrupted by SIGINT after"));
	unlink(path);
	unlink(o);
	unlink(e);
}
END_TEST

/* The process ends mid-recording: the report of what was seen, how it
 * ended, exit 3.  _i: 0 killed by SIGKILL, 1 by SIGTERM, 2 exits (0). */
START_TEST(record_says_how_the_process_ended)
{
	static const char *const want[] = {
		"the process was killed by SIGKILL after",
		"the process was killed by SIGTERM after",
		"the process exited with status 0 after",
	};
	struct fixture f;
	char pid[16], path[256], o[256], e[256];
	const char *rec[] = { "record", "--interval", "0.25", "-o", path, pid, NULL };
	pid_t hp;
	int rc;

	scratch(path, sizeof(path), "end.jsonl");
	scratch(o, sizeof(o), "end.out");
	scratch(e, sizeof(e), "end.err");
	fixture_start(&f, "scenario_churn", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	hp = spawn_heapdoc(rec, o, e);
	usleep(2000 * 1000);
	if (_i == 2)
		close(f.to_child);	/* EOF on its stdin: it exits */
	else
		kill(f.pid, _i ? SIGTERM : SIGKILL);
	rc = wait_exit(hp);
	if (_i == 2)
		f.to_child = open("/dev/null", O_RDONLY);	/* for fixture_stop */
	fixture_stop(&f);
	ck_assert_int_eq(rc, 3);
	ck_assert_int_eq(slurp(o, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, want[_i]), "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "heapdoc triage: pid"));
	ck_assert_int_eq(slurp(path, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, want[_i]), "%s", text);
	unlink(path);
	unlink(o);
	unlink(e);
}
END_TEST

/* A leak in a cgroup limited to 48 MiB: the kernel's OOM killer ends it,
 * and the recording says so (the cgroup's oom_kill count rose). */
START_TEST(record_names_the_oom_killer)
{
	const char *args[] = { "16777216", NULL };
	struct live_cgroup cg;
	struct fixture f;
	char pid[16], path[256], o[256], e[256];
	const char *rec[] = { "record", "--interval", "0.25", "--duration", "30s", "-o", path,
			      pid, NULL };
	pid_t hp;
	int rc;

	live_cgroup_make(&cg, "memory", "record");
	if (cg.skip[0] || !live_put(&cg, "memory.limit_in_bytes", "50331648")) {
		fprintf(stderr, "record: OOM test skipped: %s\n", cg.skip);
		live_cgroup_remove(&cg);
		return;
	}
	scratch(path, sizeof(path), "oom.jsonl");
	scratch(o, sizeof(o), "oom.out");
	scratch(e, sizeof(e), "oom.err");
	fixture_start(&f, "scenario_leak", args, NULL);
	ck_assert(live_cgroup_enter(&cg, f.pid));
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	hp = spawn_heapdoc(rec, o, e);
	rc = wait_exit(hp);
	fixture_stop(&f);
	live_cgroup_remove(&cg);
	ck_assert_int_eq(rc, 3);
	ck_assert_int_eq(slurp(path, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, "killed by the OOM killer"), "%s", text);
	unlink(path);
	unlink(o);
	unlink(e);
}
END_TEST

/* triage: the process dies mid-window: the report of what was seen, how
 * it ended, exit 3. */
START_TEST(triage_reports_a_process_that_dies)
{
	struct fixture f;
	char pid[16], o[256], e[256];
	const char *args[] = { "triage", "--duration", "20s", "--interval", "0.25", pid, NULL };
	pid_t hp;
	int rc;

	scratch(o, sizeof(o), "die.out");
	scratch(e, sizeof(e), "die.err");
	fixture_start(&f, "scenario_churn", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	hp = spawn_heapdoc(args, o, e);
	usleep(2000 * 1000);
	kill(f.pid, SIGKILL);
	rc = wait_exit(hp);
	fixture_stop(&f);
	ck_assert_int_eq(rc, 3);
	ck_assert_int_eq(slurp(o, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, "ended: the process was killed by SIGKILL after"), "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "Evidence"));
	unlink(o);
	unlink(e);
}
END_TEST

/* Live windows long enough to judge the sawtooth of issue 8, with and
 * without a leak under it (the default window: until it decides). */
static void triage_cache(const char *leak_rate, int want_exit, const char *want)
{
	struct fixture f;
	const char *fx[] = { leak_rate, "2", "24", NULL };
	char pid[16];
	const char *args[] = { "triage", "--json", "--interval", "0.25", pid, NULL };
	int rc;

	fixture_start(&f, "scenario_cache", fx, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	ck_assert_msg(rc == want_exit && strstr(out, want), "exit %d: %.300s", rc,
		      strstr(out, "\"reason\""));
	/* Neither is memory to hand back: it is used again every cycle. */
	ck_assert_ptr_null(strstr(out, "\"name\": \"malloc_trim\""));
}

START_TEST(triage_judges_a_slow_leak_under_a_sawtooth)
{
	triage_cache("524288", 10, "floor rises");
}
END_TEST

START_TEST(triage_calls_a_sawtooth_a_working_set)
{
	triage_cache("0", 0, "comes and goes");
}
END_TEST

Suite *record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, record_writes_what_triage_from_judges);
	tcase_add_test(tc, record_ctrl_c_leaves_a_complete_recording);
	tcase_add_loop_test(tc, record_says_how_the_process_ended, 0, 3);
	tcase_add_test(tc, record_names_the_oom_killer);
	tcase_add_test(tc, triage_reports_a_process_that_dies);
	tcase_add_test(tc, triage_judges_a_slow_leak_under_a_sawtooth);
	tcase_add_test(tc, triage_calls_a_sawtooth_a_working_set);
	suite_add_tcase(s, tc);
	return s;
}
