/* heapdoc triage: watch a process until the window can decide (or for the
 * window asked), then a verdict with its evidence and the knobs to turn. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cmd.h"
#include "judge/leaks.h"
#include "model/recording.h"
#include "observe/agent/agent_profile.h"
#include "report/triage.h"
#include "watch.h"

static int triage_exec(const struct cmd_args *a);

enum { TRIAGE_DURATION, TRIAGE_INTERVAL, TRIAGE_ONCE, TRIAGE_LATENCY, TRIAGE_SITES,
       TRIAGE_JSON, TRIAGE_PROMETHEUS, TRIAGE_FROM, TRIAGE_OUTPUT, TRIAGE_PROMETHEUS_FILE };

const struct cmd_entry cmd_triage_entry = {
	.name = "triage",
	.summary = "watch a process, then a verdict: leak, fragmentation, unpurged, ...",
	.description =
"Samples RSS, page faults and the allocator's allocated and resident bytes\n"
"over a window, then decides: leak (allocated climbs without bound, or its\n"
"floor rises under a sawtooth), fragmentation (free space interleaved with\n"
"live data), unpurged (whole free pages the allocator has not returned),\n"
"live-set (the memory is in use, near a limit), healthy (a working set that\n"
"comes and goes included), or inconclusive with the reason and how long to\n"
"watch.  By default the window lasts until it can decide: 10 s for most\n"
"processes, 30 s for growth (a leak from a cache filling up), four cycles for\n"
"a sawtooth, at most 10 min.  The report gives the evidence with its numbers\n"
"and windows, sparklines, where a gap sits, the knobs to turn with how to\n"
"apply them, and how often the process was stopped.  Ctrl-C ends the window\n"
"early: the process is released, then judged on what was seen; a process\n"
"that dies meanwhile is judged too, with how it ended, and heapdoc exits 3.\n",
	.args = "<pid>", .args_min = 0, .args_max = 1,	/* none with --from */
	.options = {
		[TRIAGE_DURATION] = { .name = "duration", .type = CMD_STRING,
			.value_name = "SECS|auto",
			.help = "length of the window (10s, 500ms, 2m, 1h), or auto: until the "
			"window can decide, from 10 s to 10 min; default auto" },
		[TRIAGE_INTERVAL] = { .name = "interval", .type = CMD_DURATION, .value_name = "SECS",
			.help = "time between samples (at least 0.1 s); default 1, or a tenth of a "
			"window shorter than 10 s" },
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
		[TRIAGE_PROMETHEUS_FILE] = { .name = "prometheus-file", .type = CMD_STRING,
			.value_name = "PATH",
			.help = "write the Prometheus text format to PATH atomically (PATH.tmp, "
			"then renamed), for node_exporter's textfile collector, and exit 0 "
			"whatever the verdict; a process that cannot be observed gets "
			"heapdoc_up 0 and heapdoc_exit_code", .group = 1 },
		[TRIAGE_OUTPUT] = { .name = "output", .letter = 'o', .type = CMD_STRING,
			.value_name = "FILE",
			.help = "also write what is observed to FILE as it is seen: a recording "
			"that --from judges again, here or on another machine" },
	},
	.examples = {
		{ "heapdoc triage 4242",
		  "watch until the verdict is clear, then it, its evidence and the knobs" },
		{ "heapdoc triage --duration 30s --json 4242 | jq -r .verdict",
		  "only the verdict's name, after a 30 s window, for a script" },
		{ "heapdoc triage --once --prometheus-file /var/lib/node_exporter/heapdoc.prom 4242",
		  "one snapshot as metrics for node_exporter's textfile collector, written "
		  "atomically; exit 0 whatever the verdict" },
		{ "heapdoc triage --sites --duration 30s 4242",
		  "the verdict and, if it is a leak, the code whose allocations keep growing" },
		{ "heapdoc triage -o incident.jsonl 4242",
		  "the verdict, and the observation saved for a colleague or a ticket" },
		{ "heapdoc triage --from incident.jsonl --json",
		  "the same verdict again, from the saved observation, as JSON" },
	},
	.exec = triage_exec,
};

/* --duration auto: at least this long, at most AUTO_MAX_S. */
#define AUTO_MIN_S 10.0
#define AUTO_MAX_S 600.0
/* Sampling faster stops the process more often than a trend is worth. */
#define MIN_INTERVAL_S 0.1

/* --sites: allocation stacks sampled over the window (observe/agent). */
struct triage_sites {
	struct agent_profile ap;
	struct profile prof;
	struct leak_ranking ranking;
	bool ranked;			/* ranking holds the result */
	char why[512];			/* why there are none, when asked for */
};

struct triage_opts {
	struct watch_opts w;
	bool sites;
	enum cmd_output out;
	const char *from, *output;	/* recordings to read, to write; NULL: none */
	const char *prom_file;		/* --prometheus-file, or NULL */
};

static int duration_option(const struct cmd_args *a, struct triage_opts *o)
{
	const char *d = a->value[TRIAGE_DURATION];

	o->w.auto_stop = !d || !strcmp(d, "auto");
	o->w.duration_s = o->w.auto_stop ? AUTO_MAX_S : cmd_parse_seconds(d);
	o->w.auto_min_s = AUTO_MIN_S;
	if (o->w.duration_s <= 0)
		return cmd_usage_error(a->cmd, "--duration: '%s' is not a duration (10s, 2m, 1h) "
				       "nor auto", d);
	return 0;
}

static int triage_options(const struct cmd_args *a, struct triage_opts *o)
{
	const struct cmd_entry *cmd = a->cmd;
	int ret;

	*o = (struct triage_opts){
		.w = { .interval_s = a->set[TRIAGE_INTERVAL] ? a->seconds[TRIAGE_INTERVAL] : 0,
		       .once = a->set[TRIAGE_ONCE], .latency = a->set[TRIAGE_LATENCY],
		       .verb = "watching" },
		.sites = a->set[TRIAGE_SITES],
		.out = a->set[TRIAGE_JSON] ? CMD_OUT_JSON :
		       a->set[TRIAGE_PROMETHEUS] ? CMD_OUT_PROMETHEUS : CMD_OUT_TEXT,
		.from = a->value[TRIAGE_FROM],
		.output = a->value[TRIAGE_OUTPUT],
		.prom_file = a->value[TRIAGE_PROMETHEUS_FILE],
	};
	if (o->from) {
		/* What was recorded is judged as it was recorded. */
		for (int i = TRIAGE_DURATION; i <= TRIAGE_SITES; i++)
			if (a->set[i])
				return cmd_usage_error(cmd, "--from judges a recording: --%s "
						       "does not apply", cmd->options[i].name);
		if (a->set[TRIAGE_OUTPUT])
			return cmd_usage_error(cmd, "--from judges a recording: it is written "
					       "already (-o does not apply)");
		if (a->argc)
			return cmd_usage_error(cmd, "--from judges a recording: no pid");
		return 0;
	}
	if (!a->argc)
		return cmd_usage_error(cmd, "which process? give a pid");
	ret = duration_option(a, o);
	if (ret)
		return ret;
	if (a->set[TRIAGE_INTERVAL] && !(o->w.interval_s >= MIN_INTERVAL_S))
		return cmd_usage_error(cmd, "--interval: '%s' is shorter than %.1f s",
				       a->value[TRIAGE_INTERVAL], MIN_INTERVAL_S);
	/* A short window still gets the eleven samples a trend needs. */
	if (!o->w.interval_s)
		o->w.interval_s = MAX(MIN(1.0, o->w.duration_s / 10), MIN_INTERVAL_S);
	if (o->sites && o->w.once)
		return cmd_usage_error(cmd, "--sites needs a window: not with --once");
	return cmd_parse_pid(cmd, a->argv[0], &o->w.pid);
}

/* --sites: the sampling library goes in before the window's attachment and
 * out after it (one tracer at a time), and is read between samples; if it
 * cannot, triage goes on without sites and says why. */
static void sites_begin(struct triage_opts *opt, struct triage_sites *ts)
{
	struct error err = { 0 };

	if (!opt->sites)
		return;
	/* --duration auto has no middle known in advance: open-ended. */
	if (agent_profile_begin(&ts->ap, opt->w.pid, &(struct agent_opts){ 0 },
				opt->w.auto_stop ? 0 : opt->w.duration_s, &ts->prof, &err) < 0)
		snprintf(ts->why, sizeof(ts->why), "%s", err.msg);
	else
		opt->w.sites = &ts->ap;
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

/* A live window, written to the recording as it goes when asked. */
static int triage_watch(struct triage_opts *opt, struct observation *obs,
			struct triage_sites *ts, struct watch_result *res, struct error *err)
{
	FILE *f = NULL;
	int ret;

	if (opt->output) {
		f = fopen(opt->output, "we");
		if (!f)
			return error_set(err, -errno, "%s: %m", opt->output);
		opt->w.recording = f;
	}
	sites_begin(opt, ts);
	ret = watch_run(&opt->w, obs, res, err);
	sites_end(ts);
	if (f && fclose(f) && !ret)
		ret = error_set(err, -errno, "%s: %m", opt->output);
	return ret;
}

/* --prometheus-file: the textfile collector reads only whole files, and a
 * script's `&&` must not keep a non-healthy verdict from being published:
 * written to PATH.tmp, renamed, exit 0.  A process that could not be
 * observed gets heapdoc_up 0 and the exit code it would have had. */
struct prom_job {
	struct triage_report *r;	/* NULL: the failure below */
	pid_t pid;
	int exit_code;
};

static void prom_write(FILE *out, void *arg)
{
	struct prom_job *j = arg;

	if (j->r)
		cmd_print_verdict(out, j->r, CMD_OUT_PROMETHEUS);
	else
		triage_print_prometheus_failure(out, j->pid, NULL, j->exit_code);
}

static int prom_file(const char *path, struct prom_job *j)
{
	struct error err = { 0 };

	if (cmd_write_atomically(path, prom_write, j, &err) < 0)
		return cmd_fail(&err);
	return EXIT_OK;
}

static int triage_exec(const struct cmd_args *a)
{
	struct triage_opts opt;
	struct error err = { 0 };
	struct observation *obs = calloc(1, sizeof(*obs));
	struct watch_result res = { .end = WATCH_COMPLETE };
	struct recording_info info = { 0 };
	struct triage_sites *ts = calloc(1, sizeof(*ts));
	struct triage_report r;
	int ret;

	ret = triage_options(a, &opt);
	if (ret)
		goto out;
	if (!obs || !ts) {
		ret = cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
		goto out;
	}
	ret = opt.from ? cmd_load_recording(opt.from, obs, &info, &err) :
			 triage_watch(&opt, obs, ts, &res, &err);
	if (ret) {
		ret = cmd_fail_json(&err, opt.out == CMD_OUT_JSON);
		if (opt.prom_file)
			ret = prom_file(opt.prom_file, &(struct prom_job){ .pid = opt.w.pid,
									   .exit_code = ret });
		goto out;
	}
	r = (struct triage_report){ .obs = obs, .ended = opt.from ? info.end : res.how,
		.sites_asked = opt.sites, .profile = ts->ranked ? &ts->prof : NULL,
		.sites = ts->ranked ? &ts->ranking : NULL, .sites_why = ts->why };
	ret = opt.prom_file ? prom_file(opt.prom_file, &(struct prom_job){ .r = &r }) :
			      cmd_report_verdict(&r, opt.out);
	/* A process that ended is 3, as for every command (but for the
	 * textfile collector, which has its metrics); the report of what was
	 * seen is printed all the same. */
	if (res.end == WATCH_GONE && !opt.prom_file)
		ret = cmd_gone(obs->pid, res.how);
out:
	if (obs)
		observation_release(obs);
	free(obs);
	if (ts) {
		leak_ranking_free(&ts->ranking);
		profile_free(&ts->prof);
		free(ts);
	}
	return ret;
}
