/* heapdoc record: watch a process for minutes to hours into a recording,
 * then judge what was recorded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/human.h"
#include "base/util.h"
#include "cmd.h"
#include "report/triage.h"
#include "watch.h"

static int record_exec(const struct cmd_args *a);

enum { RECORD_DURATION, RECORD_INTERVAL, RECORD_OUTPUT, RECORD_JSON };

/* Full reads of the allocator during a recording: the state line a
 * recording cut short still has (the judge's gap needs one). */
#define RECORD_STATE_EVERY_S 600.0
#define RECORD_MIN_INTERVAL_S 0.1
/* Every 2 s: over hours the shape is what counts, and a busy process (one
 * or two stops a sample, a millisecond or so with its arenas read held)
 * stays stopped well under a thousandth of the time (bench/record_cost). */
#define RECORD_INTERVAL_S 2.0

const struct cmd_entry cmd_record_entry = {
	.name = "record",
	.summary = "watch a process for minutes to hours into a recording, then judge it",
	.description =
"Samples the process like triage (RSS, page faults, the allocator's allocated\n"
"and resident bytes), for as long as asked or until Ctrl-C or the process\n"
"ends, and writes each sample to FILE as it is taken: a recording that\n"
"`heapdoc triage --from`, `compare` and `plot` read, here or elsewhere.\n"
"Each sample stops the process once, for a few hundred microseconds (a\n"
"little longer when its arenas are busy); the allocator's full read, at the\n"
"start, every 10 minutes and at the end, walks the heap while the process\n"
"runs.  Long recordings thin out: every sample for the first 300 (10\n"
"minutes at the default interval), then the lowest and highest of buckets\n"
"that widen with the recording's age (a day at one sample a second stays\n"
"under 400 KiB).  The recording ends with how it ended: complete,\n"
"interrupted, the process's exit status, the signal that killed it, or the\n"
"OOM killer.  Then the verdict on what was recorded, as triage prints it,\n"
"and its exit code (3 when the process ended).\n",
	.args = "<pid>", .args_min = 1, .args_max = 1,
	.args_missing = "which process? give a pid",
	.options = {
		[RECORD_DURATION] = { .name = "duration", .type = CMD_DURATION,
			.value_name = "TIME",
			.help = "how long to record (90s, 30m, 6h); default: until Ctrl-C or the "
			"process ends" },
		[RECORD_INTERVAL] = { .name = "interval", .type = CMD_DURATION,
			.value_name = "SECS", .help = "time between samples (at least 0.1 s); "
			"default 2" },
		[RECORD_OUTPUT] = { .name = "output", .letter = 'o', .type = CMD_STRING,
			.value_name = "FILE",
			.help = "the recording (JSON Lines, flushed at every line); required" },
		[RECORD_JSON] = { .name = "json",
			.help = "the verdict at the end as triage --json prints it" },
	},
	.examples = {
		{ "heapdoc record --duration 6h -o svc.jsonl 4242",
		  "six hours of the process's memory, then the verdict on them" },
		{ "heapdoc record -o before.jsonl 4242",
		  "until Ctrl-C (or the process ends); the file says which" },
		{ "heapdoc triage --from svc.jsonl",
		  "the verdict on a recording again, here or on another machine" },
		{ "heapdoc plot -o svc.svg svc.jsonl",
		  "RSS, resident and allocated against time, as a picture" },
	},
	.exec = record_exec,
};

static int record_options(const struct cmd_args *a, struct watch_opts *w)
{
	const struct cmd_entry *cmd = a->cmd;

	*w = (struct watch_opts){
		.duration_s = a->set[RECORD_DURATION] ? a->seconds[RECORD_DURATION] : 0,
		.interval_s = a->set[RECORD_INTERVAL] ? a->seconds[RECORD_INTERVAL] :
			      RECORD_INTERVAL_S,
		.state_every_s = RECORD_STATE_EVERY_S,
		.recording_name = a->value[RECORD_OUTPUT],
		.verb = "recording",
	};
	if (!a->set[RECORD_OUTPUT])
		return cmd_usage_error(cmd, "where to? give -o FILE");
	if (a->set[RECORD_DURATION] && w->duration_s <= 0)
		return cmd_usage_error(cmd, "--duration: '%s' is not a positive duration",
				       a->value[RECORD_DURATION]);
	if (!(w->interval_s >= RECORD_MIN_INTERVAL_S))
		return cmd_usage_error(cmd, "--interval: '%s' is shorter than %.1f s",
				       a->value[RECORD_INTERVAL], RECORD_MIN_INTERVAL_S);
	return cmd_parse_pid(cmd, a->argv[0], &w->pid);
}

/* One line on stderr: what was recorded, where, and how it ended. */
static void record_summary(const char *path, const struct watch_result *res)
{
	struct stat st;
	char size[32] = "?", span[24];

	if (!stat(path, &st))
		human_bytes(size, sizeof(size), (uint64_t)st.st_size);
	fprintf(stderr, "heapdoc: recorded %zu sample%s over %s to %s (%s): %s\n", res->lines,
		res->lines == 1 ? "" : "s", human_seconds(span, sizeof(span), res->elapsed_s),
		path, size, res->how);
}

static int record_exec(const struct cmd_args *a)
{
	struct watch_opts w;
	struct watch_result res;
	struct error err = { 0 };
	struct observation *obs = NULL;
	bool json = a->set[RECORD_JSON];
	FILE *f = NULL;
	int ret;

	ret = record_options(a, &w);
	if (ret)
		return ret;
	obs = calloc(1, sizeof(*obs));
	if (!obs)
		error_set(&err, -ENOMEM, "out of memory");
	else if (!(f = fopen(w.recording_name, "we")))
		error_set(&err, -errno, "%s: %m", w.recording_name);
	if (!f) {
		ret = cmd_fail_json(&err, json);
		goto out;
	}
	w.recording = f;
	ret = watch_run(&w, obs, &res, &err);
	if (fclose(f) && !ret)
		ret = error_set(&err, -errno, "%s: %m", w.recording_name);
	f = NULL;
	if (ret) {
		ret = cmd_fail_json(&err, json);
		goto out;
	}
	record_summary(w.recording_name, &res);
	ret = cmd_report_verdict(&(struct triage_report){ .obs = obs, .ended = res.how },
				 json ? CMD_OUT_JSON : CMD_OUT_TEXT);
	if (res.end == WATCH_GONE)
		ret = cmd_gone(obs->pid, res.how);
out:
	if (f)
		fclose(f);
	if (obs)
		observation_release(obs);
	free(obs);
	return ret;
}
