/* scudo (LLVM's standalone allocator, preloaded): its own statistics read
 * through its mallinfo2(), compared with the program's own count, and the
 * /proc figure beside it labelled as such. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define SCUDO_SO "/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/" \
		 "libclang_rt.scudo_standalone-x86_64.so"

static char out[1 << 17], err[8192];

/* 4 MiB kept of 64 MiB (scenario_pinning): allocated is scudo's count of
 * it, within its own rounding and the fixture's few other blocks. */
START_TEST(scudo_own_statistics)
{
	const char *env[] = { "LD_PRELOAD=" SCUDO_SO, NULL };
	char pid[16], buf[256];
	const char *args[] = { "triage", "--json", "--duration", "2s", pid, NULL };
	struct fixture f;
	long long live, allocated;
	int rc;

	if (access(SCUDO_SO, R_OK) < 0)
		SKIP_MISSING("libclang-rt-14-dev (%s)", SCUDO_SO);
	fixture_start(&f, "scenario_pinning", NULL, env);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	live = fixture_value(&f, "live_bytes");
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	ck_assert_msg(rc == 14 || rc == 0, "exit %d: %s", rc, err);
	ck_assert_str_eq(json_string_at(out, "allocator.name", buf, sizeof(buf)), "scudo");
	ck_assert_str_eq(json_string_at(out, "allocator.source", buf, sizeof(buf)), "mallinfo2+proc");
	allocated = json_int_at(out, "allocated");
	ck_assert_msg(allocated >= live && allocated <= live + (2 << 20),
		      "scudo allocated %lld, the program keeps %lld", allocated, live);
	ck_assert_msg(strstr(out, "resident is the RSS of the process's anonymous memory, from "
			     "/proc"), "%s", out);
}
END_TEST

Suite *scudo_suite(void)
{
	Suite *s = suite_create("scudo");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, scudo_own_statistics);
	suite_add_tcase(s, tc);
	return s;
}
