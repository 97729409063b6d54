/* The triage judge's first step on recorded observations: the trend of a
 * series (growing, plateau, sawtooth, flat, falling, unknown), one test per
 * shape.  Each observation is built by hand (tests/judge_obs.h, the shared
 * shapes in tests/judge_shapes.h) and each expected figure is derived in a
 * comment, never copied from heapdoc. */
#include <stdio.h>
#include <string.h>

#include "judge/triage.h"
#include "judge_obs.h"
#include "judge_shapes.h"
#include "testlib.h"

static struct observation obs;
static struct verdict v;

#define has_evidence(needle) judge_has_evidence(&v, needle)
#define assert_verdict(want) judge_assert_verdict(&v, want)

/* ---- shapes of this file (the shared ones: tests/judge_shapes.h) ----------- */

/* The clean leak with ±2 MiB of noise. */
static uint64_t leak_noisy(double t) { return leak_clean(t) + wobble(t, 2 * MiB_); }
/* The same leak with one sample 60 MiB high (a batch in flight). */
static uint64_t leak_outlier(double t)
{
	return leak_clean(t) + (t > 4.9 && t < 5.1 ? 60 * MiB_ : 0);
}
/* The same teeth over a floor that rises 1 MiB/s: a leak under the churn. */
static uint64_t sawtooth_leak(double t) { return sawtooth(t) + (uint64_t)(1 * MiB_ * t); }
static uint64_t falling(double t) { return 200 * MiB_ - (uint64_t)(8 * MiB_ * t); }

/* ---- step 1: trend -------------------------------------------------------- */

START_TEST(trend_leak_is_growing_with_its_slope)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, leak_clean, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "growing");
	/* 4.8 MiB/s = 5033164.8 B/s; a clean line fits exactly. */
	ck_assert_double_eq_tol(t.slope, 4.8 * MiB_, 0.01 * MiB_);
	ck_assert_double_ge(t.r2, 0.99);
	ck_assert_double_eq_tol(t.tail_slope, 4.8 * MiB_, 0.01 * MiB_);
}
END_TEST

START_TEST(trend_noisy_leak_is_still_growing)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, leak_noisy, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "growing");
	/* ±2 MiB of noise on 48 MiB of growth: the slope stays within 10%. */
	ck_assert_double_eq_tol(t.slope, 4.8 * MiB_, 0.48 * MiB_);
}
END_TEST

/* Theil–Sen: one sample 60 MiB off does not tilt the slope. */
START_TEST(trend_slope_ignores_an_outlier)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, leak_outlier, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "growing");
	ck_assert_double_eq_tol(t.slope, 4.8 * MiB_, 0.1 * MiB_);
}
END_TEST

/* The first 3 s of this series are a perfect leak; the last 7 s are flat.
 * The last third has no growth: plateau. */
START_TEST(trend_plateau_is_not_growth)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, plateau, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "plateau");
	ck_assert_double_eq_tol(t.tail_slope, 0, 1);
	ck_assert_uint_eq(t.last, 90 * MiB_);
}
END_TEST

/* Watched only while it fills (0–2.5 s), the same cache is growth: the
 * judge cannot know it will stop, and must not pretend to. */
START_TEST(trend_plateau_seen_early_looks_like_growth)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 11, 0.25, plateau, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "growing");
}
END_TEST

START_TEST(trend_sawtooth)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, sawtooth, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "sawtooth");
	/* Teeth drop at 2.5, 5.0, 7.5 and 10.0 s (the last sample). */
	ck_assert_uint_eq(t.drops, 4);
}
END_TEST

/* Lows after each drop: 52.5, 55, 57.5, 60 MiB (2.5 MiB a tooth, four
 * lows in order: Mann–Kendall's z = 5/√8.67 = 1.70); highs before them
 * rise likewise.  Least squares alone misses it (R² ≈ 0.3 under 20 MiB
 * teeth). */
START_TEST(trend_sawtooth_with_rising_floor)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, sawtooth_leak, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "growing");
	ck_assert(t.floor.rises);
	ck_assert_uint_eq(t.floor.n, 4);
	ck_assert_uint_eq(t.floor.first, (uint64_t)(52.5 * MiB_));
	ck_assert_uint_eq(t.floor.last, 60 * MiB_);
	/* 2.5 MiB every 2.5 s: 1 MiB/s. */
	ck_assert_double_eq_tol(t.floor.rate, 1.0 * MiB_, 0.01 * MiB_);
	ck_assert_double_eq_tol(t.floor.z, 5 / sqrt(4 * 3 * 13 / 18.0), 0.001);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_LEAK);
	ck_assert(has_evidence("but its floor rises: the lows went from 52 MiB to 60 MiB, "
			       "1.0 MiB/s over the 10 s window"));
}
END_TEST

START_TEST(trend_flat_despite_noise)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	/* 200 KiB of wobble on 64 MiB: under both 2% (1.3 MiB) and 1 MiB. */
	ck_assert_str_eq(trend_kind_name(t.kind), "flat");
}
END_TEST

START_TEST(trend_falling)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, falling, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "falling");
	ck_assert_double_eq_tol(t.slope, -8.0 * MiB_, 0.01 * MiB_);
}
END_TEST

START_TEST(trend_too_few_samples)
{
	struct trend t;

	obs_init(&obs);
	obs_sample(&obs, 4, 1.0, leak_clean, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "unknown");
	ck_assert_ptr_nonnull(strstr(t.why, "4 samples"));
}
END_TEST

START_TEST(trend_window_too_short)
{
	struct trend t;

	obs_init(&obs);
	/* 20 samples, but only 0.95 s. */
	obs_sample(&obs, 20, 0.05, leak_clean, 0, 0);
	judge_trend(&obs, SERIES_ALLOCATED, &t);
	ck_assert_str_eq(trend_kind_name(t.kind), "unknown");
	ck_assert_ptr_nonnull(strstr(t.why, "too short"));
}
END_TEST

Suite *judge_trend_suite(void)
{
	Suite *s = suite_create("judge_trend");
	TCase *trend = tcase_create("trend");

	tcase_add_test(trend, trend_leak_is_growing_with_its_slope);
	tcase_add_test(trend, trend_noisy_leak_is_still_growing);
	tcase_add_test(trend, trend_slope_ignores_an_outlier);
	tcase_add_test(trend, trend_plateau_is_not_growth);
	tcase_add_test(trend, trend_plateau_seen_early_looks_like_growth);
	tcase_add_test(trend, trend_sawtooth);
	tcase_add_test(trend, trend_sawtooth_with_rising_floor);
	tcase_add_test(trend, trend_flat_despite_noise);
	tcase_add_test(trend, trend_falling);
	tcase_add_test(trend, trend_too_few_samples);
	tcase_add_test(trend, trend_window_too_short);
	suite_add_tcase(s, trend);
	return s;
}
