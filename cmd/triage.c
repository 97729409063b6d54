/* heapdoc triage: watch a process for a window, then a verdict with its
 * evidence and the knobs to turn. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "judge/knobs.h"
#include "judge/triage.h"
#include "observe/observe.h"
#include "report/human.h"
#include "report/triage.h"
#include "base/util.h"

static int exec_triage(int argc, char **argv);

const struct cmd_entry cmd_triage_entry = {
	.name = "triage",
	.summary = "watch a process, then a verdict: leak, fragmentation, unpurged, ...",
	.usage = "heapdoc triage [--duration SECS] [--interval SECS] [--once] [--latency]\n"
		 "                      [--json | --prometheus] <pid>",
	.help =
"Samples RSS, page faults and the allocator's allocated and resident bytes\n"
"over a window, then decides: leak (allocated climbs without bound),\n"
"fragmentation (free space interleaved with live data), unpurged (whole free\n"
"pages the allocator has not returned), live-set (the memory is in use, near\n"
"a limit), healthy, or inconclusive with the reason.  The report gives the\n"
"evidence with its numbers, sparklines of RSS and allocated, where a gap\n"
"sits, and the knobs to turn with how to apply them.\n"
"\n"
"Options:\n"
"  --duration SECS   length of the window (10, 10s, 500ms, 1m); default 10\n"
"  --interval SECS   time between samples; default 1, or a tenth of a\n"
"                    window shorter than 10 s\n"
"  --once            one snapshot: no trend, so growth cannot be judged\n"
"  --latency         also look for the allocator's slow path on the stacks\n"
"  --json            a JSON document (pid, verdict, allocator.name, rss,\n"
"                    allocated, resident, evidence, knobs, trend, window,\n"
"                    target.pause_us, ...)\n"
"  --prometheus      the Prometheus text format, for node_exporter's textfile\n"
"                    collector\n"
"  -h, --help        this help\n"
"\n"
"Examples:\n"
"  heapdoc triage 4242\n"
"  heapdoc triage --duration 30s --json 4242 | jq -r .verdict\n"
"  heapdoc triage --once --prometheus 4242 > /var/lib/node_exporter/heapdoc.prom.tmp\n",
	.exec = exec_triage,
};

enum output { OUT_TEXT, OUT_JSON, OUT_PROMETHEUS };

struct triage_opts {
	double duration_s, interval_s;
	bool once, latency;
	enum output out;
	pid_t pid;
};

/* "10", "10s", "2.5s", "500ms", "1m" → seconds; -1 when it is none of these. */
static double parse_seconds(const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || errno || !isfinite(v) || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "ms"))
		return v / 1000;
	if (!strcmp(end, "m"))
		return v * 60;
	return -1;
}

static int parse_options(int argc, char **argv, struct triage_opts *o)
{
	static const struct option options[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, '1' },
		{ "latency", no_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_entry *cmd = &cmd_triage_entry;
	struct error err = { 0 };
	bool json = false, prom = false;
	int c;

	*o = (struct triage_opts){ .duration_s = 10, .interval_s = 0 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if ((o->duration_s = parse_seconds(optarg)) < 0)
				return cmd_usage_error(cmd, "--duration: '%s' is not a duration", optarg);
			break;
		case 'i':
			if ((o->interval_s = parse_seconds(optarg)) <= 0)
				return cmd_usage_error(cmd, "--interval: '%s' is not a positive duration",
						       optarg);
			break;
		case '1':
			o->once = true;
			break;
		case 'l':
			o->latency = true;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			prom = true;
			break;
		case 'h':
			cmd_help(cmd);
			return -1;
		case ':':
			return cmd_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	/* A short window still gets the eleven samples a trend needs. */
	if (!o->interval_s)
		o->interval_s = MAX(MIN(1.0, o->duration_s / 10), 0.1);
	if (json && prom)
		return cmd_usage_error(cmd, "--json and --prometheus exclude each other");
	o->out = json ? OUT_JSON : prom ? OUT_PROMETHEUS : OUT_TEXT;
	if (argc - optind != 1)
		return cmd_usage_error(cmd, argc == optind ? "which process? give a pid" :
				       "one pid at most");
	if (!o->once && o->duration_s / o->interval_s + 1 > OBS_MAX_SAMPLES)
		return cmd_usage_error(cmd, "%.0f samples is more than %d: raise --interval",
				       o->duration_s / o->interval_s + 1, OBS_MAX_SAMPLES);
	if (cmd_parse_pid(argv[optind], &o->pid, &err))
		return cmd_fail(&err);
	return 0;
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
static int watch(struct observer *o, const struct triage_opts *opt, struct error *err)
{
	bool tty = isatty(2);	/* stdout may be JSON for a pipe: progress goes to stderr */
	uint64_t start = now_ns(), step = (uint64_t)(opt->interval_s * 1e9);
	size_t n = opt->once ? 1 : (size_t)floor(opt->duration_s / opt->interval_s + 1e-9) + 1;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		if (i)
			sleep_until(start + i * step);
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

static int exec_triage(int argc, char **argv)
{
	struct observer o = { .target = { .mem_fd = -1 } };
	struct triage_opts opt;
	struct error err = { 0 };
	struct observation *obs = calloc(1, sizeof(*obs));
	struct verdict *v = calloc(1, sizeof(*v));
	struct knobs *ks = calloc(1, sizeof(*ks));
	struct triage_report r = { 0 };
	int ret;

	ret = parse_options(argc, argv, &opt);
	if (ret) {
		ret = ret < 0 ? EXIT_OK : ret;
		goto out;
	}
	if (!obs || !v || !ks) {
		ret = cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
		goto out;
	}
	ret = observe_begin(&o, "", opt.pid, true, obs, &err);
	if (!ret) {
		obs->window_s = opt.once ? 0 : opt.duration_s;
		ret = watch(&o, &opt, &err);
	}
	if (!ret)
		ret = observe_finish(&o, &err);
	/* Step 4 when asked, or when the evidence so far calls for it. */
	if (!ret && (opt.latency || judge_wants_latency(obs)))
		ret = observe_latency(&o, OBSERVE_LATENCY_ROUNDS, &err);
	r.stops = o.target.stops;
	observe_end(&o);
	if (ret) {
		ret = cmd_fail(&err);
		goto out;
	}

	judge_triage(obs, v);
	judge_knobs(obs, v, ks);
	r = (struct triage_report){ .obs = obs, .verdict = v, .knobs = ks,
				    .interval_s = opt.once ? 0 : opt.interval_s,
				    .stops = r.stops };
	report(&opt, &r);
	ret = verdict_exit_code(v->kind);
out:
	if (obs)
		observation_release(obs);
	free(obs);
	free(v);
	free(ks);
	return ret;
}
