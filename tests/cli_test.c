/* The command line as a user meets it: dispatch, help, usage errors, and the
 * exit-code contract. */
#include <string.h>

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

Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("dispatch");

	tcase_add_test(tc, no_arguments_is_a_usage_error);
	tcase_add_test(tc, help_lists_every_command_and_exit_codes);
	tcase_add_test(tc, version_prints_the_version);
	tcase_add_test(tc, unknown_command_is_a_usage_error);
	suite_add_tcase(s, tc);
	return s;
}
