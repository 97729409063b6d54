/* heapdoc knobs: tuning advice for the allocator and the container. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "judge/knobs.h"
#include "judge/triage.h"
#include "observe/observe.h"
#include "report/knobs.h"

static int knobs_exec(const struct cmd_args *a);

enum { KNOBS_JSON, KNOBS_FORMAT };

/* The choices of --format, in the order of enum knobs_format; "k8s" last. */
static const char *const knobs_formats[] = { "env", "systemd", "kubernetes", "k8s", NULL };

const struct cmd_entry cmd_knobs_entry = {
	.name = "knobs",
	.summary = "allocator and container settings sized to the process",
	.description =
"Reads the process's cgroup (memory limit, CPU quota, cpuset), its\n"
"environment and, where heapdoc can, the allocator's own settings, and says\n"
"what to set: MALLOC_ARENA_MAX sized to the CPUs the container may use,\n"
"trim and mmap thresholds, jemalloc's MALLOC_CONF, tcmalloc's variables, a\n"
"malloc_trim that would return memory now, and the memory limit when the\n"
"process is close to an OOM kill.  Each knob has its value, the value in\n"
"force now and where that comes from, and why.  Without a pid, it answers\n"
"for heapdoc's own process and cgroup.\n",
	.args = "[<pid>]", .args_min = 0, .args_max = 1,
	.options = {
		[KNOBS_JSON] = { .name = "json",
			.help = "a JSON document: cgroup {version, path, memory_max, memory_high, "
			"memory_current, cpu_quota_cores, effective_cpus} and knobs [{name, "
			"value, current, why}]", .group = 1 },
		[KNOBS_FORMAT] = { .name = "format", .type = CMD_CHOICE,
			.value_name = "env|systemd|kubernetes",
			.help = "only what to paste: env (NAME=value lines), systemd (a [Service] "
			"drop-in), kubernetes (a container's env list)",
			.choices = knobs_formats, .group = 1 },
	},
	.examples = {
		{ "heapdoc knobs 4242",
		  "each setting to change, its value now, why, and how to apply it" },
		{ "heapdoc knobs --format systemd 4242 > /etc/systemd/system/app.service.d/malloc.conf",
		  "a systemd drop-in holding the settings, ready to install" },
		{ "heapdoc knobs --json 4242 | jq '.knobs[] | select(.change)'",
		  "only the knobs whose advised value differs from the one in force" },
	},
	.exec = knobs_exec,
};

enum { OUT_TEXT, OUT_JSON, OUT_FORMAT };

static int knobs_exec(const struct cmd_args *a)
{
	enum knobs_format fmt = KNOBS_FORMAT_ENV;
	struct observation *obs = NULL;
	struct observer o;
	struct error err = { 0 };
	struct verdict *v = NULL;
	struct knobs *ks = NULL;
	int out = OUT_TEXT, ret;
	pid_t pid = getpid();
	bool self = true;

	if (a->set[KNOBS_JSON])
		out = OUT_JSON;
	if (a->set[KNOBS_FORMAT]) {
		out = OUT_FORMAT;
		fmt = a->choice[KNOBS_FORMAT] == 0 ? KNOBS_FORMAT_ENV :
		      a->choice[KNOBS_FORMAT] == 1 ? KNOBS_FORMAT_SYSTEMD :
						     KNOBS_FORMAT_KUBERNETES;
	}
	if (a->argc == 1) {
		ret = cmd_parse_pid(a->cmd, a->argv[0], &pid);
		if (ret)
			return ret;
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
		ret = observe_finish(&o, NULL, &err);
	observe_end(&o);
	if (ret) {
		ret = cmd_fail_json(&err, out == OUT_JSON);
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
