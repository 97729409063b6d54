/* Thinning long recordings (model/thin.h): every sample while young, the
 * lows and highs of widening buckets after; a day at one sample a second
 * written as a recording stays small, reads back into the same series, and
 * is judged as the shape it is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/triage.h"
#include "judge_obs.h"
#include "model/recording.h"
#include "model/thin.h"
#include "testlib.h"

/* A sawtooth (a 30 MiB cache flushed every 60 s) over 200 MiB, with a
 * leak of leak_rate bytes/s under it and a little noise. */
static struct sample day_sample(double t, double leak_rate)
{
	double x = t / 60 - floor(t / 60);
	uint64_t a = 200 * MiB_ + (uint64_t)(leak_rate * t) + (uint64_t)(30.0 * MiB_ * x) +
		     wobble(t, 64 * 1024);

	return (struct sample){ .t = t, .allocated = a, .resident = a + 40 * MiB_,
				.rss = a + 60 * MiB_, .minflt = (uint64_t)(t * 10) };
}

START_TEST(every_sample_while_young)
{
	struct thin th;
	struct sample out[3];

	thin_init(&th, 1);
	for (int i = 0; i < 300; i++) {
		struct sample s = day_sample(i, 0);

		ck_assert_uint_eq(thin_offer(&th, &s, out), 1);
		ck_assert_double_eq(out[0].t, i);
	}
}
END_TEST

/* Past the detail, each bucket keeps its lowest and highest: the cache's
 * flush (the low) and its peak survive; nothing else is invented. */
START_TEST(buckets_keep_their_lows_and_highs)
{
	struct thin th;
	struct sample out[3], kept[4096];
	size_t n = 0;
	uint64_t lo = UINT64_MAX, hi = 0;

	thin_init(&th, 1);
	for (int i = 0; i < 3600; i++) {
		struct sample s = day_sample(i, 0);
		size_t k = thin_offer(&th, &s, out);

		for (size_t j = 0; j < k; j++)
			kept[n++] = out[j];
		lo = MIN(lo, s.allocated);
		hi = MAX(hi, s.allocated);
	}
	n += thin_flush(&th, kept + n);
	ck_assert_uint_lt(n, 3600 / 2);
	for (size_t i = 1; i < n; i++)
		ck_assert_double_gt(kept[i].t, kept[i - 1].t);
	/* The hour's lowest and highest are among what was kept. */
	bool has_lo = false, has_hi = false;

	for (size_t i = 0; i < n; i++) {
		has_lo |= kept[i].allocated == lo;
		has_hi |= kept[i].allocated == hi;
	}
	ck_assert(has_lo && has_hi);
}
END_TEST

START_TEST(compact_halves_a_full_series)
{
	static struct sample v[OBS_MAX_SAMPLES];
	size_t n = OBS_MAX_SAMPLES;

	for (size_t i = 0; i < n; i++)
		v[i] = day_sample((double)i, 0);
	samples_compact(v, &n);
	ck_assert_uint_le(n, OBS_MAX_SAMPLES / 2 + 2);
	ck_assert_uint_gt(n, OBS_MAX_SAMPLES / 4);
	ck_assert_double_eq(v[0].t, 0);
}
END_TEST

/* A day at one sample a second through the recorder's thinning into a
 * recording: under 10 MiB, read back sample for sample, judged a leak
 * by its floor (10 KiB/s under a 30 MiB sawtooth). */
START_TEST(a_day_stays_small_and_reads_back)
{
	static struct observation live, back;
	struct recording_info info;
	struct error e = { 0 };
	struct verdict *v = calloc(1, sizeof(*v));
	struct sample out[3];
	struct thin th;
	char *buf = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert(f && v);
	obs_init(&live);
	live.interval_s = 1;
	thin_init(&th, 1);
	ck_assert_int_eq(recording_write_header(f, &live, &e), 0);
	for (int i = 0; i <= 86400; i++) {
		struct sample s = day_sample(i, 10 * 1024);
		size_t k = i == 86400 ? thin_flush(&th, out) : thin_offer(&th, &s, out);

		for (size_t j = 0; j < k; j++, lines++) {
			observation_add_sample(&live, &out[j]);
			ck_assert_int_eq(recording_write_sample(f, &out[j], NULL, &e), 0);
		}
	}
	ck_assert_int_eq(recording_write_end(f, "complete", &e), 0);
	fclose(f);
	fprintf(stderr, "thin: a day at 1 s: %zu sample lines, %zu bytes\n", lines, len);
	ck_assert_uint_lt(len, 10u << 20);
	f = fmemopen(buf, len, "r");
	ck_assert_int_eq(recording_load(f, "day", &back, &info, &e), 0);
	fclose(f);
	ck_assert_uint_eq(back.nsamples, live.nsamples);
	for (size_t i = 0; i < back.nsamples; i++)
		ck_assert_uint_eq(back.samples[i].allocated, live.samples[i].allocated);
	back.summary = live.summary;
	back.summary.allocated = back.samples[back.nsamples - 1].allocated;
	back.summary.resident = back.samples[back.nsamples - 1].resident;
	judge_triage(&back, v);
	ck_assert_msg(v->kind == VERDICT_LEAK, "%s: %s", verdict_name(v->kind), v->reason);
	observation_release(&back);
	free(v);
	free(buf);
}
END_TEST

Suite *thin_suite(void)
{
	Suite *s = suite_create("thin");
	TCase *tc = tcase_create("thin");

	tcase_add_test(tc, every_sample_while_young);
	tcase_add_test(tc, buckets_keep_their_lows_and_highs);
	tcase_add_test(tc, compact_halves_a_full_series);
	tcase_add_test(tc, a_day_stays_small_and_reads_back);
	suite_add_tcase(s, tc);
	return s;
}
