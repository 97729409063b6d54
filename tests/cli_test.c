/* The command line as a user meets it: dispatch, help, usage errors, and the
 * exit-code contract. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "testlib.h"

static char out[65536], err[8192];

START_TEST(no_arguments_is_a_usage_error)
{
	const char *args[] = { NULL };

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, "usage: heapdoc"));
}
END_TEST

START_TEST(help_lists_every_command_and_exit_codes)
{
	const char *args[] = { "--help", NULL };

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	for (const char *const *c = (const char *const[]){ "triage", "knobs", "stats", NULL }; *c; c++)
		ck_assert_msg(strstr(out, *c), "--help does not name %s", *c);
	ck_assert_ptr_nonnull(strstr(out, "Exit status:"));
	ck_assert_ptr_nonnull(strstr(out, "Examples:"));
}
END_TEST

START_TEST(version_prints_the_version)
{
	const char *args[] = { "--version", NULL };

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "heapdoc " HEAPDOC_VERSION));
}
END_TEST

START_TEST(unknown_command_is_a_usage_error)
{
	const char *args[] = { "frobnicate", "1", NULL };

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, "'frobnicate' is not a command"));
}
END_TEST

/* ---- the parser, on a command of the tests' own ---------------------------- */

enum { T_JSON, T_PROM, T_WAIT, T_FORMAT, T_OUT };

static const char *const t_formats[] = { "env", "systemd", NULL };

static int t_exec(const struct cmd_args *a)
{
	(void)a;
	return 0;
}

static const struct cmd_entry t_entry = {
	.name = "frob",
	.summary = "a command for the parser's tests",
	.description = "Frobs.\n",
	.args = "<pid>", .args_min = 1, .args_max = 1,
	.args_missing = "which process?",
	.options = {
		[T_JSON] = { .name = "json", .help = "JSON", .group = 1 },
		[T_PROM] = { .name = "prometheus", .help = "metrics", .group = 1 },
		[T_WAIT] = { .name = "wait", .type = CMD_DURATION, .value_name = "SECS",
			     .help = "how long" },
		[T_FORMAT] = { .name = "format", .type = CMD_CHOICE, .value_name = "env|systemd",
			       .help = "which", .choices = t_formats },
		[T_OUT] = { .name = "output", .letter = 'o', .type = CMD_STRING,
			    .value_name = "FILE", .help = "where" },
	},
	.examples = { { "heapdoc frob 1", "frobs pid 1" } },
	.exec = t_exec,
};

/* Parses a NULL-terminated argv (without the command name); the exit code
 * cmd_parse asked for, or -1 when the command would run.  stderr (usage
 * errors) goes to /dev/null. */
static int parse(struct cmd_args *a, const char *const *args)
{
	static char *argv[16];	/* a->argv points into it */
	int argc = 1, code, saved = dup(2), null = open("/dev/null", O_WRONLY);
	bool run;

	argv[0] = (char *)"frob";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	dup2(null, 2);
	run = cmd_parse(&t_entry, argc, argv, a, &code);
	dup2(saved, 2);
	close(null);
	close(saved);
	return run ? -1 : code;
}

START_TEST(parser_reads_every_kind_of_option)
{
	struct cmd_args a;

	ck_assert_int_eq(parse(&a, (const char *const[]){ "--json", "--wait", "2m", "--format",
							  "systemd", "-o", "x.jsonl", "42", NULL }), -1);
	ck_assert(a.set[T_JSON] && !a.set[T_PROM]);
	ck_assert(a.seconds[T_WAIT] == 120);
	ck_assert_uint_eq(a.choice[T_FORMAT], 1);
	ck_assert_str_eq(a.value[T_OUT], "x.jsonl");
	ck_assert_int_eq(a.argc, 1);
	ck_assert_str_eq(a.argv[0], "42");
	/* Options after the argument, long ones abbreviated, "--x=v". */
	ck_assert_int_eq(parse(&a, (const char *const[]){ "42", "--wa=500ms", "--output=y", NULL }),
			 -1);
	ck_assert(a.seconds[T_WAIT] == 0.5);
	ck_assert_str_eq(a.value[T_OUT], "y");
}
END_TEST

START_TEST(parser_refuses_what_the_table_does_not_allow)
{
	struct cmd_args a;

	ck_assert_int_eq(parse(&a, (const char *const[]){ "--json", "--prometheus", "1", NULL }),
			 EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ "--wait", "soon", "1", NULL }),
			 EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ "--wait", "0x10", "1", NULL }),
			 EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ "--format", "yaml", "1", NULL }),
			 EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ "--frob", "1", NULL }), EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ "1", "--wait", NULL }), EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ NULL }), EXIT_USAGE);
	ck_assert_int_eq(parse(&a, (const char *const[]){ "1", "2", NULL }), EXIT_USAGE);
}
END_TEST

/* --help is generated from the table: every option, each example with what
 * it shows, the exit codes. */
START_TEST(help_comes_from_the_table)
{
	char buf[8192] = "";
	struct cmd_args a;
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	FILE *saved = stdout;
	int code;

	ck_assert_ptr_nonnull(f);
	stdout = f;
	code = parse(&a, (const char *const[]){ "--help", NULL });
	fflush(f);
	stdout = saved;
	fclose(f);
	ck_assert_int_eq(code, EXIT_OK);
	ck_assert_ptr_nonnull(strstr(buf, "usage: heapdoc frob [--json | --prometheus] "
					  "[--wait SECS]\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\n                    [--format env|systemd] "
					  "[--output FILE] <pid>\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  -o, --output FILE\n                    where\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  --wait SECS       how long\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  heapdoc frob 1\n      frobs pid 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Exit status:"));
}
END_TEST

/* One fact, one exit code (cmd.h): a library's -EINVAL is not the user's
 * command line. */
START_TEST(exit_codes_per_fact)
{
	ck_assert_int_eq(cmd_exit_code(-ESRCH), EXIT_NO_PROCESS);
	ck_assert_int_eq(cmd_exit_code(-EPERM), EXIT_PERMISSION);
	ck_assert_int_eq(cmd_exit_code(-EACCES), EXIT_PERMISSION);
	ck_assert_int_eq(cmd_exit_code(-EOPNOTSUPP), EXIT_UNSUPPORTED);
	ck_assert_int_eq(cmd_exit_code(-EINVAL), EXIT_ERROR);
	ck_assert_int_eq(cmd_exit_code(-EIO), EXIT_ERROR);
}
END_TEST

Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("dispatch");

	tcase_add_test(tc, no_arguments_is_a_usage_error);
	tcase_add_test(tc, help_lists_every_command_and_exit_codes);
	tcase_add_test(tc, version_prints_the_version);
	tcase_add_test(tc, unknown_command_is_a_usage_error);
	tcase_add_test(tc, parser_reads_every_kind_of_option);
	tcase_add_test(tc, parser_refuses_what_the_table_does_not_allow);
	tcase_add_test(tc, help_comes_from_the_table);
	tcase_add_test(tc, exit_codes_per_fact);
	suite_add_tcase(s, tc);
	return s;
}
