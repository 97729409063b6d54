/* heapdoc triage: watch a process for a window, then a verdict with its
 * evidence and the knobs to turn. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "judge/knobs.h"
#include "judge/leaks.h"
#include "judge/triage.h"
#include "model/recording.h"
#include "observe/agent/agent_profile.h"
#include "observe/observe.h"
#include "base/human.h"
#include "report/triage.h"
#include "base/util.h"

static int triage_exec(const struct cmd_args *a);

enum { TRIAGE_DURATION, TRIAGE_INTERVAL, TRIAGE_ONCE, TRIAGE_LATENCY, TRIAGE_SITES,
       TRIAGE_JSON, TRIAGE_PROMETHEUS, TRIAGE_FROM, TRIAGE_OUTPUT };

const struct cmd_entry cmd_triage_entry = {
	.name = "triage",
	.summary = "watch a process, then a verdict: leak, fragmentation, unpurged, ...",
	.description =
"Samples RSS, page faults and the allocator's allocated and resident bytes\n"
"over a window, then decides: leak (allocated climbs without bound),\n"
"fragmentation (free space interleaved with live data), unpurged (whole free\n"
"pages the allocator has not returned), live-set (the memory is in use, near\n"
"a limit), healthy, or inconclusive with the reason.  The report gives the\n"
"evidence with its numbers, sparklines of RSS and allocated, where a gap\n"
"sits, and the knobs to turn with how to apply them.\n",
	.args = "<pid>", .args_min = 0, .args_max = 1,	/* none with --from */
	.options = {
		[TRIAGE_DURATION] = { .name = "duration", .type = CMD_DURATION, .value_name = "SECS",
			.help = "length of the window (10, 10s, 500ms, 1m); default 10" },
		[TRIAGE_INTERVAL] = { .name = "interval", .type = CMD_DURATION, .value_name = "SECS",
			.help = "time between samples; default 1, or a tenth of a window shorter "
			"than 10 s" },
		[TRIAGE_ONCE] = { .name = "once",
			.help = "one snapshot: no trend, so growth cannot be judged" },
		[TRIAGE_LATENCY] = { .name = "latency",
			.help = "also look for the allocator's slow path on the stacks" },
		[TRIAGE_SITES] = { .name = "sites",
			.help = "also sample allocation stacks over the window, as heapdoc leaks "
			"does, and with a leak verdict name the allocation sites that grow" },
		[TRIAGE_JSON] = { .name = "json",
			.help = "a JSON document (pid, verdict, allocator.name, rss, allocated, "
			"resident, evidence, knobs, trend, window, target.pause_us, ...)",
			.group = 1 },
		[TRIAGE_PROMETHEUS] = { .name = "prometheus",
			.help = "the Prometheus text format, for node_exporter's textfile collector",
			.group = 1 },
		[TRIAGE_FROM] = { .name = "from", .type = CMD_STRING, .value_name = "FILE",
			.help = "judge a recording (written by -o) instead of a live process; "
			"no pid" },
		[TRIAGE_OUTPUT] = { .name = "output", .letter = 'o', .type = CMD_STRING,
			.value_name = "FILE",
			.help = "also write what was observed to FILE: a recording that --from "
			"judges again, here or on another machine" },
	},
	.examples = {
		{ "heapdoc triage 4242",
		  "watch for 10 s, then the verdict, its evidence and the knobs to turn" },
		{ "heapdoc triage --duration 30s --json 4242 | jq -r .verdict",
		  "only the verdict's name, after a 30 s window, for a script" },
		{ "heapdoc triage --once --prometheus 4242 > /var/lib/node_exporter/heapdoc.prom.tmp",
		  "one snapshot as metrics for node_exporter's textfile collector" },
		{ "heapdoc triage --sites --duration 30s 4242",
		  "the verdict and, if it is a leak, the code whose allocations keep growing" },
		{ "heapdoc triage -o incident.jsonl 4242",
		  "the verdict, and the observation saved for a colleague or a ticket" },
		{ "heapdoc triage --from incident.jsonl --json",
		  "the same verdict again, from the saved observation, as JSON" },
	},
	.exec = triage_exec,
};

enum output { OUT_TEXT, OUT_JSON, OUT_PROMETHEUS };

/* --sites: allocation stacks sampled over the window (observe/agent). */
struct triage_sites {
	struct agent_profile ap;
	struct profile prof;
	struct leak_ranking ranking;
	bool ranked;			/* ranking holds the result */
	char why[512];			/* why there are none, when asked for */
};

struct triage_opts {
	double duration_s, interval_s;
	bool once, latency, sites;
	enum output out;
	pid_t pid;
	const char *from, *output;	/* recordings to read, to write; NULL: none */
};

static int triage_options(const struct cmd_args *a, struct triage_opts *o)
{
	const struct cmd_entry *cmd = a->cmd;

	*o = (struct triage_opts){
		.duration_s = a->set[TRIAGE_DURATION] ? a->seconds[TRIAGE_DURATION] : 10,
		.interval_s = a->set[TRIAGE_INTERVAL] ? a->seconds[TRIAGE_INTERVAL] : 0,
		.once = a->set[TRIAGE_ONCE],
		.latency = a->set[TRIAGE_LATENCY],
		.sites = a->set[TRIAGE_SITES],
		.out = a->set[TRIAGE_JSON] ? OUT_JSON :
		       a->set[TRIAGE_PROMETHEUS] ? OUT_PROMETHEUS : OUT_TEXT,
		.from = a->value[TRIAGE_FROM],
		.output = a->value[TRIAGE_OUTPUT],
	};
	if (o->from) {
		/* What was recorded is judged as it was recorded. */
		for (int i = TRIAGE_DURATION; i <= TRIAGE_SITES; i++)
			if (a->set[i])
				return cmd_usage_error(cmd, "--from judges a recording: --%s "
						       "does not apply", cmd->options[i].name);
		if (a->argc)
			return cmd_usage_error(cmd, "--from judges a recording: no pid");
		return 0;
	}
	if (!a->argc)
		return cmd_usage_error(cmd, "which process? give a pid");
	if (a->set[TRIAGE_INTERVAL] && o->interval_s <= 0)
		return cmd_usage_error(cmd, "--interval: '%s' is not a positive duration",
				       a->value[TRIAGE_INTERVAL]);
	/* A short window still gets the eleven samples a trend needs. */
	if (!o->interval_s)
		o->interval_s = MAX(MIN(1.0, o->duration_s / 10), 0.1);
	if (o->sites && o->once)
		return cmd_usage_error(cmd, "--sites needs a window: not with --once");
	if (!o->once && o->duration_s / o->interval_s + 1 > OBS_MAX_SAMPLES)
		return cmd_usage_error(cmd, "%.0f samples is more than %d: raise --interval",
				       o->duration_s / o->interval_s + 1, OBS_MAX_SAMPLES);
	return cmd_parse_pid(cmd, a->argv[0], &o->pid);
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = deadline_ns / 1000000000ULL,
			       .tv_nsec = deadline_ns % 1000000000ULL };

	/* A signal cuts the sleep short; the caller checks for it. */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void progress(const struct triage_opts *opt, const struct observation *obs, bool tty)
{
	const struct sample *s = &obs->samples[obs->nsamples - 1];
	char rss[32], alloc[32];

	if (!tty)
		return;
	fprintf(stderr, "\rheapdoc: watching pid %d  %4.1f/%.1f s  RSS %s  allocated %s   ",
		(int)obs->pid, s->t, opt->duration_s, human_bytes(rss, sizeof(rss), s->rss),
		human_bytes(alloc, sizeof(alloc), s->allocated));
}

/* Samples every interval until the window is over. */
/* Sleeps until deadline; with sites being sampled, reads them meanwhile
 * (every AGENT_POLL_MS, so the library's ring does not fill). */
static void wait_polling(uint64_t deadline, struct agent_profile *ap)
{
	while (ap && ap->loaded && !target_interrupted() &&
	       now_ns() + AGENT_POLL_MS * 1000000ULL < deadline) {
		sleep_until(now_ns() + AGENT_POLL_MS * 1000000ULL);
		if (agent_profile_poll(ap, NULL) < 0)
			break;
	}
	sleep_until(deadline);
}

static int watch(struct observer *o, const struct triage_opts *opt, struct agent_profile *ap,
		 struct error *err)
{
	bool tty = isatty(2);	/* stdout may be JSON for a pipe: progress goes to stderr */
	uint64_t start = now_ns(), step = (uint64_t)(opt->interval_s * 1e9);
	size_t n = opt->once ? 1 : (size_t)floor(opt->duration_s / opt->interval_s + 1e-9) + 1;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		if (i)
			wait_polling(start + i * step, ap);
		ret = observe_sample(o, err);
		if (!ret)
			progress(opt, o->obs, tty);
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	return ret;
}

static int verdict_exit_code(enum verdict_kind kind)
{
	switch (kind) {
	case VERDICT_HEALTHY: return EXIT_OK;
	case VERDICT_LEAK: return EXIT_LEAK;
	case VERDICT_FRAGMENTATION: return EXIT_FRAGMENTATION;
	case VERDICT_UNPURGED: return EXIT_UNPURGED;
	case VERDICT_LIVE_SET: return EXIT_LIVE_SET;
	case VERDICT_INCONCLUSIVE: break;
	}
	return EXIT_INCONCLUSIVE;
}

static void report(const struct triage_opts *opt, const struct triage_report *r)
{
	struct style s;

	switch (opt->out) {
	case OUT_JSON:
		triage_print_json(stdout, r);
		break;
	case OUT_PROMETHEUS:
		triage_print_prometheus(stdout, r);
		break;
	case OUT_TEXT:
		style_for(stdout, &s);
		triage_print_text(stdout, r, &s);
		break;
	}
	fflush(stdout);
}

/* A live window: sample, the full read, the stacks when called for. */
/* --sites: the sampling library goes in before the window's attachment and
 * out after it (one tracer at a time); if it cannot, triage goes on
 * without sites and says why. */
static void sites_begin(const struct triage_opts *opt, struct triage_sites *ts)
{
	struct error err = { 0 };

	if (!opt->sites)
		return;
	if (agent_profile_begin(&ts->ap, opt->pid, &(struct agent_opts){ 0 }, opt->duration_s,
				&ts->prof, &err) < 0)
		snprintf(ts->why, sizeof(ts->why), "%s", err.msg);
}

static void sites_end(struct triage_sites *ts)
{
	struct error err = { 0 };

	if (!ts->ap.loaded)
		return;
	if (agent_profile_end(&ts->ap, &err) < 0 && !ts->prof.nsites)
		snprintf(ts->why, sizeof(ts->why), "%s", err.msg);
	else if (judge_leaks(&ts->prof, &ts->ranking) == 0)
		ts->ranked = true;
}

static int triage_observe(const struct triage_opts *opt, struct observation *obs,
			  struct triage_sites *ts, struct error *err)
{
	struct observer o;
	int ret;

	sites_begin(opt, ts);
	ret = observe_begin(&o, "", opt->pid, true, obs, err);
	if (!ret) {
		obs->window_s = opt->once ? 0 : opt->duration_s;
		obs->interval_s = opt->once ? 0 : opt->interval_s;
		ret = watch(&o, opt, ts->ap.loaded ? &ts->ap : NULL, err);
	}
	if (!ret)
		ret = observe_finish(&o, NULL, err);
	/* Step 4 when asked, or when the evidence so far calls for it. */
	if (!ret && (opt->latency || judge_wants_latency(obs)))
		ret = observe_latency(&o, OBSERVE_LATENCY_ROUNDS, err);
	observe_end(&o);
	sites_end(ts);
	return ret;
}

static int triage_load(const char *path, struct observation *obs, struct error *err)
{
	struct recording_info info;
	FILE *f = fopen(path, "re");
	int ret;

	if (!f)
		return error_set(err, -errno, "%s: %m", path);
	ret = recording_load(f, path, obs, &info, err);
	fclose(f);
	if (!ret && info.cut)
		fprintf(stderr, "heapdoc: %s was cut short; judging the %zu sample%s before "
			"the cut\n", path, obs->nsamples, obs->nsamples == 1 ? "" : "s");
	return ret;
}

static int triage_save(const char *path, const struct observation *obs, struct error *err)
{
	FILE *f = fopen(path, "we");
	int ret;

	if (!f)
		return error_set(err, -errno, "%s: %m", path);
	ret = recording_save(f, obs, err);
	if (fclose(f) && !ret)
		ret = error_set(err, -errno, "%s: %m", path);
	return ret ? error_wrap(err, ret, "%s: ", path) : 0;
}

static int triage_exec(const struct cmd_args *a)
{
	struct triage_opts opt;
	struct error err = { 0 };
	struct observation *obs = calloc(1, sizeof(*obs));
	struct verdict *v = calloc(1, sizeof(*v));
	struct knobs *ks = calloc(1, sizeof(*ks));
	struct triage_sites *ts = calloc(1, sizeof(*ts));
	int ret;

	ret = triage_options(a, &opt);
	if (ret)
		goto out;
	if (!obs || !v || !ks || !ts) {
		ret = cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
		goto out;
	}
	ret = opt.from ? triage_load(opt.from, obs, &err) : triage_observe(&opt, obs, ts, &err);
	if (!ret && opt.output)
		ret = triage_save(opt.output, obs, &err);
	if (ret) {
		ret = cmd_fail_json(&err, opt.out == OUT_JSON);
		goto out;
	}
	judge_triage(obs, v);
	judge_knobs(obs, v, ks);
	report(&opt, &(struct triage_report){ .obs = obs, .verdict = v, .knobs = ks,
		.sites_asked = opt.sites, .profile = ts->ranked ? &ts->prof : NULL,
		.sites = ts->ranked ? &ts->ranking : NULL, .sites_why = ts->why });
	ret = verdict_exit_code(v->kind);
out:
	if (obs)
		observation_release(obs);
	free(obs);
	free(v);
	free(ks);
	if (ts) {
		leak_ranking_free(&ts->ranking);
		profile_free(&ts->prof);
		free(ts);
	}
	return ret;
}
