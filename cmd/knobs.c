/* heapdoc knobs: tuning advice for the allocator and the container. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "judge/knobs.h"
#include "judge/triage.h"
#include "observe/observe.h"
#include "report/knobs.h"

static int exec_knobs(int argc, char **argv);

const struct cmd_entry cmd_knobs_entry = {
	.name = "knobs",
	.summary = "allocator and container settings sized to the process",
	.usage = "heapdoc knobs [--json] [--format env|systemd|kubernetes] [<pid>]",
	.help =
"Reads the process's cgroup (memory limit, CPU quota, cpuset), its\n"
"environment and, where heapdoc can, the allocator's own settings, and says\n"
"what to set: MALLOC_ARENA_MAX sized to the CPUs the container may use,\n"
"trim and mmap thresholds, jemalloc's MALLOC_CONF, tcmalloc's variables, a\n"
"malloc_trim that would return memory now, and the memory limit when the\n"
"process is close to an OOM kill.  Each knob has its value, the value in\n"
"force now and where that comes from, and why.  Without a pid, it answers\n"
"for heapdoc's own process and cgroup.\n"
"\n"
"Options:\n"
"  --json          a JSON document: cgroup {version, path, memory_max,\n"
"                  memory_high, memory_current, cpu_quota_cores,\n"
"                  effective_cpus} and knobs [{name, value, current, why}]\n"
"  --format FMT    only what to paste: env (NAME=value lines), systemd (a\n"
"                  [Service] drop-in), kubernetes (a container's env list)\n"
"  -h, --help      this help\n"
"\n"
"Examples:\n"
"  heapdoc knobs 4242\n"
"  heapdoc knobs --format systemd 4242 > /etc/systemd/system/app.service.d/malloc.conf\n"
"  heapdoc knobs --json 4242 | jq '.knobs[] | select(.change)'\n",
	.exec = exec_knobs,
};

enum { OUT_TEXT, OUT_JSON, OUT_FORMAT };

static int parse_format(const char *arg, enum knobs_format *fmt)
{
	if (!strcmp(arg, "env"))
		*fmt = KNOBS_FORMAT_ENV;
	else if (!strcmp(arg, "systemd"))
		*fmt = KNOBS_FORMAT_SYSTEMD;
	else if (!strcmp(arg, "kubernetes") || !strcmp(arg, "k8s"))
		*fmt = KNOBS_FORMAT_KUBERNETES;
	else
		return -1;
	return 0;
}

static int exec_knobs(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum knobs_format fmt = KNOBS_FORMAT_ENV;
	struct observation *obs = NULL;
	struct observer o = { .target = { .mem_fd = -1 } };
	struct error err = { 0 };
	struct verdict *v = NULL;
	struct knobs *ks = NULL;
	int out = OUT_TEXT, c, ret;
	pid_t pid = getpid();
	bool self = true;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			out = OUT_JSON;
			break;
		case 'f':
			if (parse_format(optarg, &fmt))
				return cmd_usage_error(&cmd_knobs_entry,
						       "unknown format '%s' (env, systemd, kubernetes)",
						       optarg);
			out = OUT_FORMAT;
			break;
		case 'h':
			return cmd_help(&cmd_knobs_entry);
		default:
			return cmd_usage_error(&cmd_knobs_entry, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cmd_usage_error(&cmd_knobs_entry, "one pid at most");
	if (argc - optind == 1) {
		if (cmd_parse_pid(argv[optind], &pid, &err))
			return cmd_fail(&err);
		self = pid == getpid();
	}

	obs = calloc(1, sizeof(*obs));
	v = calloc(1, sizeof(*v));
	ks = calloc(1, sizeof(*ks));
	if (!obs || !v || !ks) {
		ret = cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
		goto out;
	}
	/* heapdoc cannot trace itself: its own advice comes from /proc. */
	ret = observe_begin(&o, "", pid, !self, obs, &err);
	if (!ret)
		ret = observe_sample(&o, &err);
	if (!ret)
		ret = observe_finish(&o, &err);
	observe_end(&o);
	if (ret) {
		ret = cmd_fail(&err);
		goto out;
	}
	judge_triage(obs, v);
	judge_knobs(obs, v, ks);

	if (out == OUT_JSON) {
		knobs_print_json(stdout, obs, v, ks);
	} else if (out == OUT_FORMAT) {
		knobs_print_format(stdout, ks, fmt);
	} else {
		struct style s;

		style_for(stdout, &s);
		knobs_print_text(stdout, obs, v, ks, &s);
	}
	ret = EXIT_OK;
out:
	if (obs)
		observation_release(obs);
	free(obs);
	free(v);
	free(ks);
	return ret;
}
