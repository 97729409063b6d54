/* Hostile heaps: stats, triage and release over glibc heaps corrupted by seed
 * (fixtures/hostile_heap.c).  The target's memory is untrusted input: a
 * corrupt heap is a finding, never a crash, a hang, or a confident verdict
 * on garbage.  HEAPDOC_HOSTILE_SEEDS sets how many seeds (make soak runs a
 * thousand); the first seed is HEAPDOC_HOSTILE_FIRST (1).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "testlib.h"

#define DEFAULT_SEEDS	60
#define TIME_LIMIT_S	10.0	/* a run over this is a hang */
#define MIN_DETECTED	0.7	/* of the seeds, found corrupt by stats */

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct run {
	int status;
	double elapsed;
	struct json_value *doc;		/* NULL when stdout was not JSON */
	char out[1 << 16], err[4096];
};

static void run(struct run *r, const char *const *args)
{
	double t0 = seconds();

	r->status = run_heapdoc(args, r->out, sizeof(r->out), r->err, sizeof(r->err));
	r->elapsed = seconds() - t0;
	r->doc = NULL;
	json_parse(r->out, strlen(r->out), &r->doc, NULL);
}

/* One seed: 1 when stats found the heap corrupt. */
static int one_seed(long seed)
{
	char seed_arg[32], pid[16];
	const char *fx_args[] = { seed_arg, NULL };
	static struct run stats, triage, release;
	const char *verdict, *reason;
	struct fixture f;
	bool corrupt = false;

	snprintf(seed_arg, sizeof(seed_arg), "%ld", seed);
	fixture_start(&f, "hostile_heap", fx_args, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	run(&stats, (const char *const[]){ "stats", "--json", pid, NULL });
	run(&triage, (const char *const[]){ "triage", "--once", "--json", pid, NULL });
	run(&release, (const char *const[]){ "release", "--json", pid, NULL });
	fixture_stop(&f);

	/* Ends on its own, by an exit code, in time: never a signal. */
	ck_assert_msg(stats.status == 0 || stats.status == 1,
		      "seed %ld: stats exit %d: %s", seed, stats.status, stats.err);
	ck_assert_msg(triage.status == 14 || (triage.status >= 10 && triage.status <= 13) ||
		      triage.status == 0 || triage.status == 1,
		      "seed %ld: triage exit %d: %s", seed, triage.status, triage.err);
	ck_assert_msg(stats.elapsed < TIME_LIMIT_S && triage.elapsed < TIME_LIMIT_S,
		      "seed %ld: stats %.1f s, triage %.1f s", seed, stats.elapsed, triage.elapsed);
	ck_assert_msg(stats.doc, "seed %ld: stats printed no JSON", seed);
	json_get_bool(json_member(stats.doc, "corrupt"), &corrupt);
	if (corrupt) {
		/* Said on stderr with exit 1, and triage does not judge it. */
		ck_assert_msg(stats.status == 1 && strstr(stats.err, "corrupt"), "seed %ld: %s",
			      seed, stats.err);
		ck_assert_msg(triage.doc, "seed %ld: triage printed no JSON", seed);
		verdict = json_get_string(json_member(triage.doc, "verdict"));
		reason = json_get_string(json_member(triage.doc, "reason"));
		ck_assert_msg(verdict && !strcmp(verdict, "inconclusive"), "seed %ld: verdict %s",
			      seed, verdict ? verdict : "(none)");
		ck_assert_msg(reason && strstr(reason, "the heap is corrupt"), "seed %ld: %s", seed,
			      reason ? reason : triage.out);
		ck_assert_msg(!json_element(json_member(triage.doc, "knobs"), 0),
			      "seed %ld: knobs advised on a corrupt heap", seed);
		/* malloc_trim walks the bins: never called on a corrupt heap. */
		reason = json_get_string(json_member(release.doc, "refusal"));
		ck_assert_msg(reason && strstr(reason, "corrupt"), "seed %ld: release: %s", seed,
			      release.out);
	}
	json_free(release.doc);
	json_free(stats.doc);
	json_free(triage.doc);
	return corrupt;
}

START_TEST(corrupt_heaps_are_findings)
{
	long first = env_long("HEAPDOC_HOSTILE_FIRST", 1);
	long n = env_long("HEAPDOC_HOSTILE_SEEDS", DEFAULT_SEEDS), detected = 0;

	for (long seed = first; seed < first + n; seed++)
		detected += one_seed(seed);
	fprintf(stderr, "hostile: %ld of %ld corrupted heaps found corrupt, no crash, no "
		"hang\n", detected, n);
	ck_assert_msg(detected >= MIN_DETECTED * n, "only %ld of %ld found corrupt", detected, n);
}
END_TEST

Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 3600);
	tcase_add_test(tc, corrupt_heaps_are_findings);
	suite_add_tcase(s, tc);
	return s;
}
