/* The judge over time, on observations built by hand (tests/judge_obs.h):
 * a slow leak under a sawtooth, a working set that comes and goes, windows
 * too short to tell them apart, and the figures' windows.  The shapes are
 * issue 8's service: a 35 MiB cache filled over 5 s and flushed, sampled
 * once a second at an arbitrary phase, with and without a 150 KiB/s leak. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "judge/knobs.h"
#include "judge/triage.h"
#include "judge_obs.h"
#include "testlib.h"

static struct observation obs;
static struct verdict v;
static struct knobs ks;

#define LEAK_RATE (150.0 * 1024)	/* bytes/s */
#define CACHE (35 * MiB_)
#define PERIOD 5.0
#define BASE (8 * MiB_)
#define PHASE 0.37			/* where in the cycle sampling starts */

#define has_evidence(needle) judge_has_evidence(&v, needle)
#define dump() judge_dump(&v)
#define assert_verdict(want) judge_assert_verdict(&v, want)

static double cycle_fill(double t)
{
	double x = (t + PHASE) / PERIOD;

	return x - floor(x);
}

/* The service: the cache fills through each cycle and is flushed at its
 * end; resident holds the highest it has reached (glibc keeps the pages:
 * live chunks pin them); RSS is resident + 20 MiB of code and libraries. */
static void service(size_t n, double leak_rate)
{
	uint64_t peak = 0;

	obs_init(&obs);
	obs.nsamples = n;
	obs.window_s = (double)(n - 1);
	obs.interval_s = 1;
	for (size_t i = 0; i < n; i++) {
		struct sample *s = &obs.samples[i];
		double t = (double)i;
		uint64_t leaked = (uint64_t)(leak_rate * t);

		s->t = t;
		s->allocated = BASE + leaked + (uint64_t)((double)CACHE * cycle_fill(t));
		peak = MAX(peak, BASE + leaked + CACHE);
		s->resident = peak;
		s->rss = s->resident + 20 * MiB_;
		s->minflt = 1000;
	}
	/* The full read at the end, whatever the phase: the gap is the cache
	 * that is not filled yet, free chunks between the leaked ones. */
	obs.status.vm_rss = obs.samples[n - 1].rss;
	obs.summary.allocated = obs.samples[n - 1].allocated;
	obs.summary.resident = obs.samples[n - 1].resident;
	obs.summary.free_total = obs.summary.resident - obs.summary.allocated;
	obs.summary.free_interleaved = obs.summary.free_total;
	obs.summary.pinned_bytes = obs.summary.free_total * 9 / 10;
	obs.summary.trimmable = obs.summary.free_total * 9 / 10;
	obs.summary.narenas = 1;
}

static bool advises_release(void)
{
	for (size_t i = 0; i < ks.n; i++)
		if (ks.v[i].kind == KNOB_ACTION)
			return true;
	return false;
}

static void judge(void)
{
	judge_triage(&obs, &v);
	judge_knobs(&obs, &v, &ks);
}

/* 60 s of the leaking service: allocated's floor rises by the leak, RSS
 * with it; the verdict is leak, with the floor's rate in the evidence. */
START_TEST(slow_leak_under_a_sawtooth_is_a_leak)
{
	service(61, LEAK_RATE);
	judge();
	assert_verdict(VERDICT_LEAK);
	ck_assert_msg(strstr(v.reason, "floor rises"), "%s", v.reason);
	/* Lows caught up to a second into each refill: the rate within 30%. */
	ck_assert_double_eq_tol(v.allocated.floor.rate, LEAK_RATE, 0.3 * LEAK_RATE);
	ck_assert(has_evidence("its floor rises"));
	ck_assert(has_evidence("over the 60 s window"));
	ck_assert_ptr_nonnull(strstr(v.next_step, "allocation site"));
	ck_assert(!advises_release());
}
END_TEST

/* The same without the leak: a working set that comes and goes.  At the
 * full read the cache was partly flushed, a 20-odd MiB "gap": it is the
 * working set, needed again within the cycle.  Healthy, and no release. */
START_TEST(a_cyclic_working_set_is_healthy_and_not_trimmed)
{
	service(61, 0);
	judge();
	assert_verdict(VERDICT_HEALTHY);
	ck_assert(v.gap.significant);
	ck_assert(v.cycle.seen && v.cycle.steady && v.cycle.held_at_peak);
	ck_assert_double_eq_tol(v.cycle.period_s, PERIOD, 0.5);
	ck_assert_msg(strstr(v.reason, "comes and goes"), "%s", v.reason);
	ck_assert(has_evidence("a release would be undone within a cycle"));
	ck_assert(!advises_release());
	ck_assert_double_eq(v.watch_s, 0);
}
END_TEST

/* Ten seconds of it: two drops cannot tell a working set from a leak riding
 * on it.  Not fragmentation, no trim: inconclusive, leaning healthy, with
 * the window that would decide (4 drops: a few more periods). */
START_TEST(two_cycles_are_too_few_to_decide)
{
	service(11, 0);
	judge();
	assert_verdict(VERDICT_INCONCLUSIVE);
	ck_assert_str_eq(verdict_name(v.leaning), "healthy");
	ck_assert(!advises_release());
	ck_assert_double_gt(v.watch_s, 10);
	ck_assert_double_le(v.watch_s, 40);
	ck_assert_ptr_nonnull(strstr(v.next_step, "--duration"));
	ck_assert_ptr_nonnull(strstr(v.watch_why, "drops tell whether a leak rides on it"));
}
END_TEST

/* Fifteen seconds of a faster leak: three drops, too few for the lows
 * alone (z ≤ 1.04), but RSS and resident climb at the rate the lows rise:
 * a leak, not "a gap opening". */
START_TEST(rss_growing_with_the_floor_is_a_leak)
{
	service(16, 4 * LEAK_RATE);
	judge();
	ck_assert_uint_eq(v.allocated.drops, 3);
	ck_assert(!v.allocated.floor.rises);
	assert_verdict(VERDICT_LEAK);
	ck_assert_msg(strstr(v.reason, "not a gap opening"), "%s", v.reason);
}
END_TEST

/* A pure sawtooth with no leak is never called one, whatever the phase. */
START_TEST(no_leak_whatever_the_phase)
{
	for (int k = 0; k < 50; k++) {
		service(61, 0);
		for (size_t i = 0; i < obs.nsamples; i++) {
			double x = (obs.samples[i].t + k * 0.1) / PERIOD;

			obs.samples[i].allocated = BASE + (uint64_t)(CACHE * (x - floor(x)));
		}
		judge();
		if (v.kind == VERDICT_LEAK)
			dump();
		ck_assert_int_ne(v.kind, VERDICT_LEAK);
	}
}
END_TEST

/* Every line with a rate or a duration names the window it comes from. */
START_TEST(every_rate_names_its_window)
{
	static const double leaks[] = { 0, LEAK_RATE, 4 * LEAK_RATE };

	for (size_t k = 0; k < sizeof(leaks) / sizeof(leaks[0]); k++) {
		service(61, leaks[k]);
		judge();
		for (size_t i = 0; i < v.nevidence; i++)
			if (strstr(v.evidence[i], "/s ") || strstr(v.evidence[i], "/s)") ||
			    strstr(v.evidence[i], "/s,"))
				ck_assert_msg(strstr(v.evidence[i], "window") ||
					      strstr(v.evidence[i], "last"),
					      "no window: %s", v.evidence[i]);
	}
}
END_TEST

Suite *cycles_suite(void)
{
	Suite *s = suite_create("cycles");
	TCase *tc = tcase_create("judge");

	tcase_add_test(tc, slow_leak_under_a_sawtooth_is_a_leak);
	tcase_add_test(tc, a_cyclic_working_set_is_healthy_and_not_trimmed);
	tcase_add_test(tc, two_cycles_are_too_few_to_decide);
	tcase_add_test(tc, rss_growing_with_the_floor_is_a_leak);
	tcase_add_test(tc, no_leak_whatever_the_phase);
	tcase_add_test(tc, every_rate_names_its_window);
	suite_add_tcase(s, tc);
	return s;
}
