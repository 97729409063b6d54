/* heapdoc triage's output: the contracts on a live idle process (the JSON
 * keys, the Prometheus format, --latency's samples, exit codes, usage
 * errors), and the renderers on a recorded observation (sparklines, label
 * escaping, the knobs' paste formats).  The verdicts on live scenarios are
 * tests/triage_test.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/knobs.h"
#include "judge/triage.h"
#include "judge_obs.h"
#include "report/knobs.h"
#include "report/sparkline.h"
#include "report/triage.h"
#include "testlib.h"

static char out[1 << 20], err[8192];

/* ---- contracts -------------------------------------------------------------- */

START_TEST(json_has_the_contract_keys)
{
	static const char *const keys[] = {
		"\"pid\": ", "\"verdict\": \"", "\"allocator\": {", "\"name\": \"glibc\"",
		"\"rss\": ", "\"allocated\": ", "\"resident\": ", "\"evidence\": [",
		"\"knobs\": [", "\"trend\": {", "\"window\": {", "\"target\": {",
		"\"pause_us\": ",
	};
	struct fixture f;
	char pid[16];
	const char *args[] = { "triage", "--once", "--json", pid, NULL };
	int rc;

	fixture_start(&f, "idle", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	/* One snapshot cannot show a stable heap: inconclusive. */
	ck_assert_msg(rc == 14, "exit %d: %s", rc, err);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(strstr(out, keys[i]), "no %s in %s", keys[i], out);
	ck_assert_int_eq((int)json_number_at(out, "pid"), atoi(pid));
}
END_TEST

/* The RSS line equals VmRSS as the test reads it, within a few pages. */
START_TEST(prometheus_format)
{
	struct fixture f;
	char pid[16], path[64], status[4096], want[128], *line;
	const char *args[] = { "triage", "--once", "--prometheus", pid, NULL };
	long long rss_kb, got;
	int rc;

	fixture_start(&f, "idle", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)f.pid);
	ck_assert_int_ge(slurp(path, status, sizeof(status)), 0);
	rss_kb = strtoll(strstr(status, "VmRSS:") + 6, NULL, 10);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	ck_assert_int_eq(rc, 14);
	ck_assert_ptr_nonnull(strstr(out, "# TYPE heapdoc_rss_bytes gauge\n"));
	ck_assert_ptr_nonnull(strstr(out, "# HELP heapdoc_rss_bytes "));
	snprintf(want, sizeof(want), "heapdoc_rss_bytes{pid=\"%s\",comm=\"idle\",allocator=\"glibc\",",
		 pid);
	line = strstr(out, want);
	ck_assert_msg(line && strstr(line, "} "), "no %s in %s", want, out);
	got = strtoll(strstr(line, "} ") + 2, NULL, 10);
	ck_assert_msg(llabs(got - rss_kb * 1024) <= 64 * 1024, "%lld against %lld kB", got, rss_kb);
	snprintf(want, sizeof(want), "verdict=\"inconclusive\"} 1\n");
	ck_assert_ptr_nonnull(strstr(out, want));
}
END_TEST

/* --latency: every thread's stack, up to 20 rounds of 2 threads (the churn
 * fixture's main thread and its worker). */
START_TEST(latency_samples_every_thread)
{
	struct fixture f;
	char pid[16];
	const char *args[] = { "triage", "--once", "--latency", "--json", pid, NULL };
	int rc;

	fixture_start(&f, "scenario_churn", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	fixture_stop(&f);
	ck_assert_msg(rc == 14 || rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(json_bool_at(out, "latency.sampled"), "%s", out);
	/* At most 20 rounds × 2 threads; the 3 s budget may cut rounds on a
	 * loaded machine, but not below half. */
	ck_assert_int_le((int)json_number_at(out, "latency.samples"), 40);
	ck_assert_int_ge((int)json_number_at(out, "latency.samples"), 20);
	ck_assert_msg(json_number_at(out, "target.stops") >= 10, "%s", out);
}
END_TEST

START_TEST(usage_errors)
{
	const char *both[] = { "triage", "--json", "--prometheus", "1", NULL };
	const char *bad_duration[] = { "triage", "--duration", "ten", "1", NULL };
	const char *no_pid[] = { "triage", NULL };
	const char *too_many[] = { "triage", "--duration", "100s", "--interval", "0.01", "1", NULL };

	ck_assert_int_eq(run_heapdoc(both, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, "exclude"));
	ck_assert_int_eq(run_heapdoc(bad_duration, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, "'ten'"));
	ck_assert_int_eq(run_heapdoc(no_pid, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(run_heapdoc(too_many, out, sizeof(out), err, sizeof(err)), 2);
}
END_TEST

/* ---- renderers on a recorded observation ------------------------------------- */

START_TEST(sparkline_levels)
{
	double up[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }, flat[4] = { 5, 5, 5, 5 };
	double pairs[16] = { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7 };
	char buf[128];

	ck_assert_str_eq(sparkline(buf, sizeof(buf), up, 8, 40, 0, true), "▁▂▃▄▅▆▇█");
	ck_assert_str_eq(sparkline(buf, sizeof(buf), up, 8, 40, 0, false), "_.-:=+*#");
	ck_assert_str_eq(sparkline(buf, sizeof(buf), flat, 4, 40, 0, true), "▁▁▁▁");
	/* 16 samples in 8 columns: each column is the mean of a pair. */
	ck_assert_str_eq(sparkline(buf, sizeof(buf), pairs, 16, 8, 0, true), "▁▂▃▄▅▆▇█");
	/* A rise of 7 drawn on a span of at least 70: levels 0..0.7, rounded. */
	ck_assert_str_eq(sparkline(buf, sizeof(buf), up, 8, 40, 70, true), "▁▁▁▁▁▁▂▂");
	/* Never past the buffer: 3 bytes a glyph, room for 2 and the NUL. */
	ck_assert_str_eq(sparkline(buf, 7, up, 8, 40, 0, true), "▁▂");
}
END_TEST

static uint64_t grows(double t) { return 100 * MiB_ + (uint64_t)(4 * MiB_ * t); }
static uint64_t flat(double t) { (void)t; return 8 * MiB_; }

/* Renders r into a string with open_memstream. */
static char *render(void (*fn)(FILE *, const struct triage_report *),
		    const struct triage_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fn(f, r);
	fclose(f);
	return buf;
}

/* A label value escapes quote and backslash (comm is the target's to pick). */
START_TEST(prometheus_escapes_labels)
{
	static struct observation obs;
	static struct verdict v;
	static struct knobs ks;
	struct triage_report r = { .obs = &obs, .verdict = &v, .knobs = &ks };
	char *text;

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, grows, 0, 0);
	snprintf(obs.comm, sizeof(obs.comm), "a\"b\\c");
	judge_triage(&obs, &v);
	judge_knobs(&obs, &v, &ks);
	text = render(triage_print_prometheus, &r);
	ck_assert_msg(strstr(text, "comm=\"a\\\"b\\\\c\""), "%s", text);
	ck_assert_msg(strstr(text, ",verdict=\"leak\"} 1\n"), "%s", text);
	/* 100 MiB + 4 MiB/s for 10 s: 140 MiB allocated at the end. */
	ck_assert_msg(strstr(text, "heapdoc_allocated_bytes{pid=\"4242\""), "%s", text);
	ck_assert_msg(strstr(text, "} 146800640\n"), "%s", text);
	free(text);
}
END_TEST

/* The paste formats: a [Service] drop-in and a container env list. */
START_TEST(knob_formats)
{
	static struct observation obs;
	static struct verdict v;
	static struct knobs ks;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	/* Threads taking turns over 9 arenas: a cap of one arena. */
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat, 56 * MiB_, 0);
	obs.summary.free_interleaved = obs.summary.pinned_bytes = 56 * MiB_;
	obs.summary.narenas = 9;
	obs.summary.arena_peak_sum = 64 * MiB_;
	obs.summary.arena_peak_once = 9 * MiB_;
	obs.summary.arena_samples = 41;
	obs.cgroup.effective_cpus = 1;
	judge_triage(&obs, &v);
	judge_knobs(&obs, &v, &ks);
	f = open_memstream(&buf, &len);
	knobs_print_format(f, &ks, KNOBS_FORMAT_SYSTEMD);
	fclose(f);
	ck_assert_str_eq(buf, "[Service]\nEnvironment=\"MALLOC_ARENA_MAX=1\"\n");
	free(buf);
	f = open_memstream(&buf, &len);
	knobs_print_format(f, &ks, KNOBS_FORMAT_KUBERNETES);
	fclose(f);
	ck_assert_str_eq(buf, "env:\n- name: MALLOC_ARENA_MAX\n  value: \"1\"\n");
	free(buf);
}
END_TEST

Suite *triage_output_suite(void)
{
	Suite *s = suite_create("triage_output");
	TCase *contract = tcase_create("contract");

	tcase_set_timeout(contract, 30);
	tcase_add_test(contract, json_has_the_contract_keys);
	tcase_add_test(contract, prometheus_format);
	tcase_add_test(contract, latency_samples_every_thread);
	tcase_add_test(contract, usage_errors);
	suite_add_tcase(s, contract);

	contract = tcase_create("render");
	tcase_add_test(contract, sparkline_levels);
	tcase_add_test(contract, prometheus_escapes_labels);
	tcase_add_test(contract, knob_formats);
	suite_add_tcase(s, contract);
	return s;
}
