/* Recordings (recording.h): each line is one JSON object written with the
 * field tables of fields.c and read back through them. */
#include "model/recording.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/json.h"
#include "base/util.h"
#include "model/fields.h"

/* ---- writing ------------------------------------------------------------ */

static void begin_line(struct json *j, FILE *out, const char *type)
{
	json_init(j, out, false);
	json_object_begin(j, NULL);
	json_string(j, "type", type);
}

static int end_line(struct json *j, struct error *err)
{
	json_object_end(j);
	json_finish(j);		/* the newline, and a flush */
	if (ferror(j->out))
		return error_set(err, -EIO, "writing the recording: %m");
	return 0;
}

/* The allocator's variables only (recording.h says why). */
static void write_environ(struct json *j, const struct environ *env)
{
	const char *p = env->buf, *end = env->buf + env->len;
	char name[256];

	json_object_begin(j, "environ");
	while (p && p < end) {
		size_t len = strnlen(p, (size_t)(end - p));
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : 0;

		if (eq && nlen < sizeof(name) && environ_is_allocator_setting(p, nlen)) {
			memcpy(name, p, nlen);
			name[nlen] = '\0';
			json_string(j, name, eq + 1);
		}
		p += len + 1;
	}
	json_object_end(j);
}

int recording_write_header(FILE *out, const struct observation *obs, struct error *err)
{
	struct json j;

	begin_line(&j, out, "header");
	json_string(&j, "format", RECORDING_FORMAT);
	json_uint(&j, "version", RECORDING_VERSION);
	json_string(&j, "heapdoc", HEAPDOC_VERSION);
	json_int(&j, "pid", obs->pid);
	json_string(&j, "comm", obs->comm);
	json_double_exact(&j, "start_time", obs->start_time);
	json_double_exact(&j, "window_s", obs->window_s);
	json_double_exact(&j, "interval_s", obs->interval_s);
	json_uint(&j, "machine_memory", obs->machine_memory);
	json_uint(&j, "host_cpus", obs->host_cpus);
	fields_write(&j, "status", &fields_proc_status, &obs->status);
	fields_write(&j, "cgroup", &fields_cgroup_limits, &obs->cgroup);
	json_string(&j, "cgroup_why", obs->cgroup_why);
	write_environ(&j, &obs->env);
	fields_write(&j, "allocator", &fields_alloc_id, &obs->alloc);
	return end_line(&j, err);
}

int recording_write_sample(FILE *out, const struct sample *s, const struct rss_split *split,
			   struct error *err)
{
	struct json j;

	begin_line(&j, out, "sample");
	fields_write_members(&j, &fields_sample, s);
	if (split)
		fields_write(&j, "split", &fields_rss_split, split);
	return end_line(&j, err);
}

int recording_write_state(FILE *out, const struct observation *obs, struct error *err)
{
	struct json j;

	begin_line(&j, out, "state");
	fields_write(&j, "status", &fields_proc_status, &obs->status);
	fields_write(&j, "split", &fields_rss_split, &obs->split);
	fields_write(&j, "summary", &fields_alloc_summary, &obs->summary);
	fields_write(&j, "params", &fields_alloc_params, &obs->params);
	json_uint(&j, "pause_us", obs->pause_us);
	json_uint(&j, "pause_total_us", obs->pause_total_us);
	json_uint(&j, "stops", obs->stops);
	json_uint(&j, "samples_estimated", obs->samples_estimated);
	return end_line(&j, err);
}

int recording_write_latency(FILE *out, const struct latency *l, struct error *err)
{
	struct json j;

	begin_line(&j, out, "latency");
	fields_write_members(&j, &fields_latency, l);
	return end_line(&j, err);
}

int recording_write_end(FILE *out, const char *how, struct error *err)
{
	struct json j;

	begin_line(&j, out, "end");
	json_string(&j, "how", how);
	return end_line(&j, err);
}

int recording_save(FILE *out, const struct observation *obs, struct error *err)
{
	int ret = recording_write_header(out, obs, err);

	for (size_t i = 0; !ret && i < obs->nsamples; i++)
		ret = recording_write_sample(out, &obs->samples[i],
					     i == 0 && IS_SET(obs->split_first.total) ?
					     &obs->split_first : NULL, err);
	if (!ret)
		ret = recording_write_state(out, obs, err);
	if (!ret && (obs->latency.sampled || obs->latency.why_not[0]))
		ret = recording_write_latency(out, &obs->latency, err);
	return ret;
}

/* ---- reading ------------------------------------------------------------ */

struct loader {
	struct observation *obs;
	struct recording_info *info;
	struct rss_split last_split;	/* from the latest sample that had one */
	bool have_split;
};

static void observation_unknown(struct observation *obs)
{
	memset(obs, 0, sizeof(*obs));
	cgroup_limits_unset(&obs->cgroup);
	alloc_params_clear(&obs->params);
	alloc_summary_invalid(&obs->summary, "", "");
	memset(&obs->split, 0xff, sizeof(obs->split));	/* all UNSET */
	obs->split_first = obs->split;
	obs->machine_memory = UNSET;
	obs->latency.fault_rate = NAN;
}

static int load_environ(const struct json_value *env, struct environ *out, struct error *err)
{
	if (!env)
		return 0;
	if (env->type != JSON_OBJECT)
		return error_set(err, -EIO, "environ: not an object");
	for (const struct json_value *v = env->first; v; v = v->next) {
		if (v->type != JSON_STRING)
			return error_set(err, -EIO, "environ.%s: not a string", v->key);
		if (environ_add(out, v->key, v->text) < 0)
			return error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* The object under key into *base, when the line has it. */
static int read_part(const struct json_value *line, const char *key, const char *what,
		     const struct fields *f, void *base, struct error *err)
{
	const struct json_value *v = json_member(line, key);

	return v ? fields_read(v, what, f, base, err) : 0;
}

static bool read_uint_member(const struct json_value *line, const char *key, uint64_t *out)
{
	const struct json_value *v = json_member(line, key);

	return !v || json_get_u64(v, out);
}

static bool read_double_member(const struct json_value *line, const char *key, double *out)
{
	const struct json_value *v = json_member(line, key);

	return !v || json_get_double(v, out);
}

static int load_header(struct loader *ld, const struct json_value *line, struct error *err)
{
	struct observation *obs = ld->obs;
	const char *format = json_get_string(json_member(line, "format"));
	const char *by = json_get_string(json_member(line, "heapdoc"));
	uint64_t version = 0, pid = 0, cpus = 0;
	int ret;

	if (!format || strcmp(format, RECORDING_FORMAT) ||
	    !json_get_u64(json_member(line, "version"), &version) || !IS_SET(version))
		return error_set(err, -EIO, "not a heapdoc recording (no header)");
	snprintf(ld->info->heapdoc, sizeof(ld->info->heapdoc), "%s", by ? by : "");
	ld->info->version = (unsigned)MIN(version, (uint64_t)UINT32_MAX);
	if (version > RECORDING_VERSION)
		return error_set(err, -EOPNOTSUPP, "format version %u (written by heapdoc %s); "
				 "this heapdoc reads version %d: use a newer heapdoc",
				 ld->info->version, ld->info->heapdoc, RECORDING_VERSION);
	if (!read_uint_member(line, "pid", &pid) || pid > INT32_MAX ||
	    !read_uint_member(line, "host_cpus", &cpus) || cpus > UINT32_MAX ||
	    !read_uint_member(line, "machine_memory", &obs->machine_memory) ||
	    !read_double_member(line, "start_time", &obs->start_time) ||
	    !read_double_member(line, "window_s", &obs->window_s) ||
	    !read_double_member(line, "interval_s", &obs->interval_s))
		return error_set(err, -EIO, "a figure of the header is not a number");
	obs->pid = (pid_t)pid;
	obs->host_cpus = (unsigned)cpus;
	snprintf(obs->comm, sizeof(obs->comm), "%s",
		 json_get_string(json_member(line, "comm")) ?: "");
	snprintf(obs->cgroup_why, sizeof(obs->cgroup_why), "%s",
		 json_get_string(json_member(line, "cgroup_why")) ?: "");
	ret = read_part(line, "status", "status", &fields_proc_status, &obs->status, err);
	if (!ret)
		ret = read_part(line, "cgroup", "cgroup", &fields_cgroup_limits, &obs->cgroup, err);
	if (!ret)
		ret = read_part(line, "allocator", "allocator", &fields_alloc_id, &obs->alloc, err);
	if (!ret)
		ret = load_environ(json_member(line, "environ"), &obs->env, err);
	return ret;
}

static int load_sample(struct loader *ld, const struct json_value *line, struct error *err)
{
	struct observation *obs = ld->obs;
	const struct json_value *split = json_member(line, "split");
	struct sample s = { .allocated = UNSET, .resident = UNSET, .rss = UNSET };
	int ret;

	ret = fields_read(line, "sample", &fields_sample, &s, err);
	if (!ret && split) {
		memset(&ld->last_split, 0xff, sizeof(ld->last_split));	/* all UNSET */
		ret = read_part(line, "split", "sample.split", &fields_rss_split, &ld->last_split,
				err);
		if (!ret && !ld->have_split && !obs->nsamples)
			obs->split_first = ld->last_split;
		ld->have_split = true;
	}
	if (!ret)
		observation_add_sample(obs, &s);
	return ret;
}

static int load_state(struct loader *ld, const struct json_value *line, struct error *err)
{
	struct observation *obs = ld->obs;
	uint64_t stops = 0, estimated = 0;
	int ret;

	alloc_summary_invalid(&obs->summary, "", "");
	alloc_params_clear(&obs->params);
	memset(&obs->split, 0xff, sizeof(obs->split));	/* all UNSET */
	ret = read_part(line, "status", "state.status", &fields_proc_status, &obs->status, err);
	if (!ret)
		ret = read_part(line, "split", "state.split", &fields_rss_split, &obs->split, err);
	if (!ret)
		ret = read_part(line, "summary", "state.summary", &fields_alloc_summary,
				&obs->summary, err);
	if (!ret)
		ret = read_part(line, "params", "state.params", &fields_alloc_params,
				&obs->params, err);
	if (ret)
		return ret;
	if (!read_uint_member(line, "pause_us", &obs->pause_us) ||
	    !read_uint_member(line, "pause_total_us", &obs->pause_total_us) ||
	    !read_uint_member(line, "stops", &stops) || stops > UINT32_MAX ||
	    !read_uint_member(line, "samples_estimated", &estimated) || estimated > UINT32_MAX)
		return error_set(err, -EIO, "state: pause_us, pause_total_us or stops is not a "
				 "count");
	obs->stops = (unsigned)stops;
	obs->samples_estimated = (unsigned)estimated;
	ld->info->has_state = true;
	return 0;
}

/* One complete line; the first must be the header. */
static int load_line(struct loader *ld, const struct json_value *line, struct error *err)
{
	const char *type = json_get_string(json_member(line, "type"));
	bool first = ld->info->lines == 0;

	if (!type)
		return error_set(err, -EIO, "not a recording's line (no \"type\")");
	if (first != !strcmp(type, "header"))
		return error_set(err, -EIO, first ? "not a heapdoc recording (no header)" :
				 "a second header");
	if (first)
		return load_header(ld, line, err);
	if (!strcmp(type, "sample")) {
		ld->info->samples_after_state = true;
		return load_sample(ld, line, err);
	}
	if (!strcmp(type, "state")) {
		ld->info->samples_after_state = false;
		return load_state(ld, line, err);
	}
	if (!strcmp(type, "latency"))
		return fields_read(line, "latency", &fields_latency, &ld->obs->latency, err);
	if (!strcmp(type, "end")) {
		snprintf(ld->info->end, sizeof(ld->info->end), "%s",
			 json_get_string(json_member(line, "how")) ?: "");
		return 0;
	}
	return 0;	/* a line a newer heapdoc added */
}

/* What a recording without a full read still says. */
static void load_finish(struct loader *ld)
{
	struct observation *obs = ld->obs;

	if (ld->info->has_state)
		return;
	alloc_summary_invalid(&obs->summary, "",
			      "the recording ended before the allocator's full read");
	if (obs->nsamples)
		obs->status.vm_rss = obs->samples[obs->nsamples - 1].rss;
	if (ld->have_split && obs->nsamples > 1)
		obs->split = ld->last_split;
}

int recording_load(FILE *in, const char *name, struct observation *obs,
		   struct recording_info *info, struct error *err)
{
	struct loader ld = { .obs = obs, .info = info };
	struct json_value *line = NULL;
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	observation_unknown(obs);
	memset(info, 0, sizeof(*info));
	while (!ret && (n = getline(&text, &cap, in)) > 0) {
		bool whole = text[n - 1] == '\n';

		ret = json_parse(text, (size_t)n, &line, err);
		if (ret == -EIO && !whole && info->lines) {
			info->cut = true;	/* written up to here, then stopped */
			ret = 0;
			break;
		}
		if (ret == -EIO && !whole)
			error_set(err, ret, "cut short inside the header");
		if (!ret)
			ret = load_line(&ld, line, err);
		json_free(line);
		line = NULL;
		if (!ret)
			info->lines++;
		else if (ret != -ENOMEM)
			error_wrap(err, ret, "%s line %zu: ", name, info->lines + 1);
	}
	if (!ret && ferror(in))
		ret = error_set(err, -EIO, "%s: %m", name);
	if (!ret && !info->lines)
		ret = error_set(err, -EIO, "%s: empty, not a heapdoc recording", name);
	if (!ret)
		load_finish(&ld);
	free(text);
	if (ret)
		observation_release(obs);
	return ret;
}
