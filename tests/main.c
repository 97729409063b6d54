/* The test runner: every suite in tests/, listed in the generated suites.h.
 * CK_RUN_SUITE=NAME (without "_suite") runs one; CK_VERBOSITY=verbose shows
 * each test.
 *
 * Check has no skip: a test that cannot run here returns early and so
 * counts as passed in Check's summary.  Such tests say so (SKIP and
 * SKIP_MISSING, testlib.h) into a file this runner reads afterwards: they
 * are listed as skipped, and a skip of something `make deps` installs
 * fails the run. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define SUITE(name) Suite *name(void);
#include "suites.h"
#undef SUITE

/* Lists the skips; the number of those of something make deps installs. */
static int report_skips(const char *log, int ran, int failed)
{
	char line[1024];
	int skipped = 0, missing = 0;
	FILE *f = fopen(log, "re");

	while (f && fgets(line, sizeof(line), f)) {
		char *test = strchr(line, '\t'), *why = test ? strchr(test + 1, '\t') : NULL;

		if (!why)
			continue;
		*test++ = *why++ = '\0';
		why[strcspn(why, "\n")] = '\0';
		if (!skipped++)
			printf("Skipped (Check counts them as passed above; they did not run):\n");
		missing += !strcmp(line, "missing");
		printf("  %s: %s%s\n", test, why,
		       strcmp(line, "missing") ? "" : "  (make deps installs it: a failure)");
	}
	if (f)
		fclose(f);
	printf("tests: %d run, %d failed, %d skipped%s\n", ran - skipped, failed, skipped,
	       missing ? ", of which some need what make deps installs: FAILED" : "");
	return missing;
}

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	char log[64];
	int failed, ran, missing;

	snprintf(log, sizeof(log), "/tmp/heapdoc-skips.%d", (int)getpid());
	unlink(log);
	setenv(SKIP_LOG_ENV, log, 1);
#define SUITE(name) srunner_add_suite(sr, name());
#include "suites.h"
#undef SUITE
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	ran = srunner_ntests_run(sr);
	srunner_free(sr);
	fflush(stdout);
	missing = report_skips(log, ran, failed);
	unlink(log);
	return failed || missing ? EXIT_FAILURE : EXIT_SUCCESS;
}
