/* The model: the field tables cover their structs, and recordings save and
 * load an observation exactly, survive being cut short, refuse what they
 * cannot read, and keep no secret of the environment. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "judge_obs.h"
#include "model/fields.h"
#include "model/recording.h"
#include "testlib.h"

/* ---- the tables --------------------------------------------------------- */

static size_t type_align(enum field_type t)
{
	switch (t) {
	case FIELD_U64:
	case FIELD_PARAM:
	case FIELD_DOUBLE:
		return 8;
	case FIELD_U32:
	case FIELD_I32:
	case FIELD_ALLOC_KIND:
	case FIELD_ALLOC_LINK:
		return 4;
	default:
		return 1;
	}
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* Each member starts where the previous one ends, rounded up to its
 * alignment, and the struct ends after the last: a member missing from a
 * table leaves a hole this finds. */
static void assert_covers(const struct fields *f, size_t size, const char *name)
{
	size_t end = 0, max_align = 1;

	for (size_t i = 0; i < f->n; i++) {
		const struct field *fl = &f->v[i];
		size_t a = type_align(fl->type);

		ck_assert_msg(fl->offset == align_up(end, a),
			      "%s: a member before .%s is missing from lib/model/fields.c",
			      name, fl->name);
		end = fl->offset + fl->size;
		max_align = MAX(max_align, a);
	}
	ck_assert_msg(align_up(end, max_align) == size,
		      "%s: a member after .%s is missing from lib/model/fields.c", name,
		      f->v[f->n - 1].name);
}

START_TEST(every_member_has_a_field)
{
	assert_covers(&fields_proc_status, sizeof(struct proc_status), "proc_status");
	assert_covers(&fields_rss_split, sizeof(struct rss_split), "rss_split");
	assert_covers(&fields_cgroup_limits, sizeof(struct cgroup_limits), "cgroup_limits");
	assert_covers(&fields_alloc_id, sizeof(struct alloc_id), "alloc_id");
	assert_covers(&fields_alloc_summary, sizeof(struct alloc_summary), "alloc_summary");
	assert_covers(&fields_alloc_params, sizeof(struct alloc_params), "alloc_params");
	assert_covers(&fields_sample, sizeof(struct sample), "sample");
	assert_covers(&fields_latency, sizeof(struct latency), "latency");
}
END_TEST

/* ---- recordings --------------------------------------------------------- */

static uint64_t leak_shape(double t)
{
	return 64 * MiB_ + (uint64_t)(t * 1.5 * MiB_) + wobble(t, 64 * 1024);
}

/* An observation with every part filled: samples with fractional times,
 * splits at both ends, a cgroup, an environment with a secret in it,
 * latency. */
static void sample_observation(struct observation *o)
{
	obs_init(o);
	obs_sample(o, 31, 1.0 / 3, leak_shape, 8 * MiB_, 1234.5);
	o->start_time = 1700000000.123456789;
	o->interval_s = 1.0 / 3;
	o->cgroup.memory_max = 512 * MiB_;
	o->cgroup.cpu_quota_cores = 1.5;
	snprintf(o->cgroup.path, sizeof(o->cgroup.path), "/kubepods.slice/pod \"7\"");
	o->split_first = (struct rss_split){ 1, 2, 3, 4, 5, 6, 7, 28 };
	o->split = (struct rss_split){ 10, 20, 30, 40, 50, 60, 70, 280 };
	o->status.state = 'S';
	o->params.arena_max = 2;
	o->summary.slab_utilisation = 0.625;
	o->summary.top_held_by_cached = true;
	o->latency = (struct latency){ .sampled = true, .samples = 40, .in_allocator = 5,
				       .fault_rate = 99.5, .top_frame = "malloc" };
	o->pause_us = 1234;
	o->stops = 31;
	ck_assert_int_eq(environ_add(&o->env, "DB_PASSWORD", "hunter2"), 0);
	ck_assert_int_eq(environ_add(&o->env, "MALLOC_ARENA_MAX", "4"), 0);
	ck_assert_int_eq(environ_add(&o->env, "GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1"), 0);
}

/* The recording of o, in a malloc'd string. */
static char *save(const struct observation *o)
{
	struct error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(recording_save(f, o, &err) == 0, "%s", err.msg);
	fclose(f);
	return buf;
}

static int load(const char *text, struct observation *o, struct recording_info *info,
		struct error *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	ck_assert_ptr_nonnull(f);
	ret = recording_load(f, "test.jsonl", o, info, err);
	fclose(f);
	return ret;
}

static struct observation a, b;

START_TEST(save_then_load_gives_the_same_observation)
{
	struct recording_info info;
	struct error err = { 0 };
	char *first, *second;

	sample_observation(&a);
	first = save(&a);
	ck_assert_msg(load(first, &b, &info, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(info.version, RECORDING_VERSION);
	ck_assert_str_eq(info.heapdoc, HEAPDOC_VERSION);
	ck_assert(info.has_state && !info.cut);
	ck_assert_uint_eq(b.nsamples, a.nsamples);
	for (size_t i = 0; i < a.nsamples; i++) {
		ck_assert(b.samples[i].t == a.samples[i].t);	/* exactly */
		ck_assert_uint_eq(b.samples[i].allocated, a.samples[i].allocated);
	}
	ck_assert(b.start_time == a.start_time && b.interval_s == a.interval_s);
	ck_assert(b.cgroup.cpu_quota_cores == 1.5 && isnan(b.cgroup.memory_high + NAN));
	ck_assert_uint_eq(b.cgroup.memory_high, UNSET);
	ck_assert_str_eq(b.cgroup.path, a.cgroup.path);
	ck_assert_uint_eq(b.split_first.arena_heaps, 2);
	ck_assert_uint_eq(b.split.total, 280);
	ck_assert_int_eq(b.params.arena_max, 2);
	ck_assert_int_eq(b.params.top_pad, PARAM_UNSET);
	ck_assert(b.summary.top_held_by_cached && b.summary.slab_utilisation == 0.625);
	ck_assert_str_eq(b.latency.top_frame, "malloc");
	ck_assert_int_eq(b.status.state, 'S');
	ck_assert_uint_eq(b.stops, 31);
	/* Everything, field by field: saved again, the text is the same. */
	second = save(&b);
	ck_assert_str_eq(second, first);
	free(first);
	free(second);
	observation_release(&a);
	observation_release(&b);
}
END_TEST

START_TEST(the_environment_keeps_only_allocator_settings)
{
	struct recording_info info;
	struct error err = { 0 };
	char *text;

	sample_observation(&a);
	text = save(&a);
	ck_assert_ptr_null(strstr(text, "hunter2"));
	ck_assert_ptr_null(strstr(text, "DB_PASSWORD"));
	ck_assert_int_eq(load(text, &b, &info, &err), 0);
	ck_assert_str_eq(environ_get(&b.env, "MALLOC_ARENA_MAX"), "4");
	ck_assert_str_eq(environ_get(&b.env, "GLIBC_TUNABLES"), "glibc.malloc.trim_threshold=1");
	ck_assert_ptr_null(environ_get(&b.env, "DB_PASSWORD"));
	free(text);
	observation_release(&a);
	observation_release(&b);
}
END_TEST

/* heapdoc killed mid-write: the last line is half there. */
START_TEST(a_recording_cut_short_is_read_up_to_the_cut)
{
	struct recording_info info;
	struct error err = { 0 };
	char *text, *state;

	sample_observation(&a);
	text = save(&a);
	state = strstr(text, "{\"type\":\"state\"");
	ck_assert_ptr_nonnull(state);
	state[40] = '\0';	/* cut inside the state line */
	ck_assert_msg(load(text, &b, &info, &err) == 0, "%s", err.msg);
	ck_assert(info.cut && !info.has_state);
	ck_assert_uint_eq(b.nsamples, a.nsamples);
	ck_assert(!b.summary.valid);
	ck_assert_ptr_nonnull(strstr(b.summary.why_invalid, "ended before"));
	ck_assert_uint_eq(b.status.vm_rss, a.samples[a.nsamples - 1].rss);

	/* Cut inside the tenth sample: the nine before it. */
	observation_release(&b);
	free(text);
	text = save(&a);
	state = text;
	for (int i = 0; i < 10; i++)
		state = strstr(state + 1, "{\"type\":\"sample\"");
	state[30] = '\0';
	ck_assert_msg(load(text, &b, &info, &err) == 0, "%s", err.msg);
	ck_assert(info.cut);
	ck_assert_uint_eq(b.nsamples, 9);
	free(text);
	observation_release(&a);
	observation_release(&b);
}
END_TEST

START_TEST(what_is_not_a_recording_is_refused)
{
	static const struct { const char *text, *msg; int code; } cases[] = {
		{ "", "empty", -EIO },
		{ "{\"type\":\"sample\",\"t\":0}\n", "line 1: not a heapdoc recording", -EIO },
		{ "{\"type\":\"header\",\"format\":\"heapdoc-rec", "cut short inside the header",
		  -EIO },
		{ "{\"type\":\"header\",\"format\":\"heapdoc-recording\",\"version\":2,"
		  "\"heapdoc\":\"9.0\"}\n", "format version 2 (written by heapdoc 9.0)",
		  -EOPNOTSUPP },
		{ "{\"type\":\"header\",\"format\":\"heapdoc-recording\",\"version\":1,"
		  "\"allocator\":{}}\n{\"type\":\"sample\",\"t\":\"soon\"}\n"
		  "{\"type\":\"sample\",\"t\":1}\n",
		  "test.jsonl line 2: sample.t: not a number", -EIO },
		{ "{\"type\":\"header\",\"format\":\"heapdoc-recording\",\"version\":1,"
		  "\"allocator\":{}}\nnot json\n{\"type\":\"sample\",\"t\":1}\n",
		  "test.jsonl line 2: column 1", -EIO },
	};
	struct recording_info info;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct error err = { 0 };

		ck_assert_int_eq(load(cases[i].text, &b, &info, &err), cases[i].code);
		ck_assert_msg(strstr(err.msg, cases[i].msg), "case %zu: '%s' not in '%s'", i,
			      cases[i].msg, err.msg);
	}
}
END_TEST

/* A newer heapdoc of the same format version adds line types and members. */
START_TEST(unknown_lines_and_members_are_ignored)
{
	const char *text =
		"{\"type\":\"header\",\"format\":\"heapdoc-recording\",\"version\":1,"
		"\"pid\":7,\"comm\":\"x\",\"future\":[1,{\"a\":null}],\"allocator\":"
		"{\"kind\":\"jemalloc\",\"link\":\"static\",\"sparkle\":true}}\n"
		"{\"type\":\"hologram\",\"x\":1}\n"
		"{\"type\":\"sample\",\"t\":0.5,\"rss\":100,\"allocated\":null,\"new\":3}\n"
		"{\"type\":\"end\",\"how\":\"interrupted by SIGINT\"}\n";
	struct recording_info info;
	struct error err = { 0 };

	ck_assert_msg(load(text, &b, &info, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(b.pid, 7);
	ck_assert_int_eq(b.alloc.kind, ALLOC_JEMALLOC);
	ck_assert_int_eq(b.alloc.link, ALLOC_STATIC);
	ck_assert_uint_eq(b.nsamples, 1);
	ck_assert_uint_eq(b.samples[0].allocated, UNSET);
	ck_assert_uint_eq(b.samples[0].resident, UNSET);	/* absent: unknown */
	ck_assert_str_eq(info.end, "interrupted by SIGINT");
	ck_assert_uint_eq(b.cgroup.memory_max, UNSET);
	observation_release(&b);
}
END_TEST

/* ---- the JSON reader ---------------------------------------------------- */

START_TEST(json_reader_reads_what_the_writer_writes)
{
	const char *text = " {\"a\": [1, -2.5e3, true, false, null, \"\\u00e9\\ud83d\\ude00\\n\\\"\"],"
			   " \"b\": {\"c\": 18446744073709551615}, \"e\": {}} ";
	struct json_value *v;
	struct error err = { 0 };
	uint64_t u;
	int64_t i;
	double d;
	bool t;

	ck_assert_msg(json_parse(text, strlen(text), &v, &err) == 0, "%s", err.msg);
	ck_assert(json_get_u64(json_find(v, "a[0]"), &u) && u == 1);
	ck_assert(json_get_double(json_find(v, "a[1]"), &d) && d == -2500);
	ck_assert(!json_get_i64(json_find(v, "a[1]"), &i));
	ck_assert(json_get_bool(json_find(v, "a[2]"), &t) && t);
	ck_assert(json_get_u64(json_find(v, "a[4]"), &u) && u == UNSET);
	ck_assert_str_eq(json_get_string(json_find(v, "a[5]")), "\xc3\xa9\xf0\x9f\x98\x80\n\"");
	ck_assert(json_get_u64(json_find(v, "b.c"), &u) && u == UINT64_MAX);
	ck_assert_ptr_null(json_find(v, "a[6]"));
	ck_assert_ptr_null(json_find(v, "b.d"));
	ck_assert_uint_eq(json_find(v, "e")->n, 0);
	json_free(v);
}
END_TEST

START_TEST(json_reader_refuses_what_is_not_json)
{
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "\"\\x\"",
		"\"\x01\"", "tru", "nul", "[1] 2", "\"\\ud800\"", "{1:2}", "1e",
	};
	char deep[100];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct json_value *v = NULL;
		struct error err = { 0 };

		ck_assert_msg(json_parse(bad[i], strlen(bad[i]), &v, &err) == -EIO,
			      "'%s' was taken", bad[i]);
		ck_assert_ptr_null(v);
		ck_assert_msg(strstr(err.msg, "column "), "%s", err.msg);
	}
	memset(deep, '[', sizeof(deep));
	{
		struct json_value *v = NULL;
		struct error err = { 0 };

		ck_assert_int_eq(json_parse(deep, sizeof(deep), &v, &err), -EIO);
		ck_assert_ptr_nonnull(strstr(err.msg, "nested deeper"));
	}
}
END_TEST

Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tables = tcase_create("tables");
	TCase *rec = tcase_create("recording");
	TCase *json = tcase_create("json reader");

	tcase_add_test(tables, every_member_has_a_field);
	tcase_add_test(rec, save_then_load_gives_the_same_observation);
	tcase_add_test(rec, the_environment_keeps_only_allocator_settings);
	tcase_add_test(rec, a_recording_cut_short_is_read_up_to_the_cut);
	tcase_add_test(rec, what_is_not_a_recording_is_refused);
	tcase_add_test(rec, unknown_lines_and_members_are_ignored);
	tcase_add_test(json, json_reader_reads_what_the_writer_writes);
	tcase_add_test(json, json_reader_refuses_what_is_not_json);
	suite_add_tcase(s, tables);
	suite_add_tcase(s, rec);
	suite_add_tcase(s, json);
	return s;
}
