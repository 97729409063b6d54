/* Contracts scripts rely on, across commands: every JSON document carries
 * a schema version and the one allocator object; every failure in JSON
 * mode (a usage error too) prints the error object on stdout and the line
 * on stderr; a permission failure exits 4 naming the process's owner and
 * the capability heapdoc lacks, from every command. */
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define CAP_SYS_PTRACE_BIT 19

static char out[1 << 17], err[8192];

/* The commands that take a pid, each with what makes it read (and no more). */
static const char *const commands[][6] = {
	{ "triage", "--json", "--once", NULL },
	{ "knobs", "--json", NULL },
	{ "stats", "--json", NULL },
	{ "audit", "--json", NULL },
	{ "release", "--json", "--dry-run", NULL },
	{ "set", "--json", "PID", "MALLOC_TRIM_THRESHOLD_=131072", NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* argv for command i on pid (PID replaced, else the pid appended). */
static void command_args(size_t i, const char *pid, const char **argv)
{
	size_t n = 0;
	bool placed = false;

	for (; commands[i][n]; n++) {
		placed |= !strcmp(commands[i][n], "PID");
		argv[n] = strcmp(commands[i][n], "PID") ? commands[i][n] : pid;
	}
	if (!placed)
		argv[n++] = pid;
	argv[n] = NULL;
}

static const char *const allocator_keys[] = {
	"name", "version", "link", "flavor", "prefix", "path", "evidence", "state_read",
	"source", "why_unavailable",
};

/* Every command's JSON: schema 1, and an allocator object with the same
 * members everywhere. */
START_TEST(schema_and_one_allocator_object)
{
	const char *argv[8];
	struct fixture f;
	char pid[16], path[64];

	fixture_start(&f, "scenario_pinning", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	command_args(_i, pid, argv);
	run_heapdoc(argv, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	ck_assert_msg(json_int_at(out, "schema") == 1, "%s: %s", argv[0], out);
	for (size_t k = 0; k < sizeof(allocator_keys) / sizeof(allocator_keys[0]); k++) {
		snprintf(path, sizeof(path), "allocator.%s", allocator_keys[k]);
		ck_assert_msg(json_has(out, path), "%s: no %s in %s", argv[0], path, out);
	}
	ck_assert_str_eq(json_string_at(out, "allocator.name", path, sizeof(path)), "glibc");
}
END_TEST

/* A usage error with --json: the error object, exit 2, and the line. */
START_TEST(usage_error_in_json_mode)
{
	const char *argv[] = { commands[_i][0], "--json", "--no-such-option", "1", NULL };
	char code[32];

	ck_assert_int_eq(run_heapdoc(argv, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(json_int_at(out, "error.exit"), 2);
	ck_assert_str_eq(json_string_at(out, "error.code", code, sizeof(code)), "usage");
	ck_assert_msg(strstr(err, "--no-such-option"), "%s", err);
}
END_TEST

/* No such process with --json: the error object with ESRCH and exit 3. */
START_TEST(failure_in_json_mode)
{
	const char *argv[8];
	char code[32];

	command_args(_i, "999999999", argv);
	ck_assert_int_eq(run_heapdoc(argv, out, sizeof(out), err, sizeof(err)), 3);
	ck_assert_int_eq(json_int_at(out, "error.exit"), 3);
	ck_assert_str_eq(json_string_at(out, "error.code", code, sizeof(code)), "ESRCH");
	ck_assert_msg(strstr(err, "heapdoc: "), "%s", err);
}
END_TEST

/* Root without CAP_SYS_PTRACE (dropped from the bounding set before exec)
 * on nobody's process: exit 4 from every command that reads its memory,
 * naming the owner and the capability; a JSON error object on stdout. */
START_TEST(permission_names_owner_and_capability)
{
	struct passwd *nobody = getpwnam("nobody");
	const char *argv[8];
	char pid[16], code[32];
	int hold[2], status, o[2], e[2];
	pid_t target, child;
	ssize_t n;

	if (geteuid() != 0 || !nobody)
		SKIP("needs root and the user nobody");
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	target = fork();
	ck_assert_int_ge(target, 0);
	if (target == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(hold[0], 0);
		if (setgid(nobody->pw_gid) || setuid(nobody->pw_uid))
			_exit(99);
		execl(FIXTURE_BIN "/idle", "idle", (char *)NULL);
		_exit(98);
	}
	close(hold[0]);
	usleep(200 * 1000);
	snprintf(pid, sizeof(pid), "%d", (int)target);
	command_args(_i, pid, argv);
	ck_assert_int_eq(pipe2(o, O_CLOEXEC) | pipe2(e, O_CLOEXEC), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		const char *full[10] = { HEAPDOC_BIN };

		for (size_t k = 0; argv[k]; k++)
			full[k + 1] = argv[k];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE_BIT, 0, 0, 0))
			_exit(97);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(HEAPDOC_BIN, (char **)full);
		_exit(98);
	}
	close(o[1]);
	close(e[1]);
	n = read(o[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	n = read(e[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(o[0]);
	close(e[0]);
	waitpid(child, &status, 0);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	close(hold[1]);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 4, "%s: status %#x: %s",
		      argv[0], status, err);
	if (!strcmp(argv[0], "audit"))
		return;
	ck_assert_msg(strstr(err, "owned by nobody (uid 65534)") &&
		      strstr(err, "without CAP_SYS_PTRACE"), "%s: %s", argv[0], err);
	ck_assert_int_eq(json_int_at(out, "error.exit"), 4);
	ck_assert_str_eq(json_string_at(out, "error.code", code, sizeof(code)), "EACCES");
}
END_TEST

Suite *contract_suite(void)
{
	Suite *s = suite_create("contract");
	TCase *tc = tcase_create("json");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, schema_and_one_allocator_object, 0, NCOMMANDS);
	tcase_add_loop_test(tc, usage_error_in_json_mode, 0, NCOMMANDS);
	tcase_add_loop_test(tc, failure_in_json_mode, 0, NCOMMANDS);
	suite_add_tcase(s, tc);

	tc = tcase_create("permission");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, permission_names_owner_and_capability, 0, NCOMMANDS);
	suite_add_tcase(s, tc);
	return s;
}
