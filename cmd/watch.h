/* Watching a live process over a window, for `triage` and `record`:
 * samples on a clock, the allocator's full reads, a recording written as it
 * goes (thinned on long windows, model/thin.h), and every way a window
 * ends: complete, the judge satisfied (--duration auto), stopped by Ctrl-C
 * (the target released first, then what was seen is reported), or the
 * target gone (and how it ended: its exit status, the signal that killed
 * it, the OOM killer when the cgroup's oom_kill count rose).
 */
#ifndef HEAPDOC_CMD_WATCH_H
#define HEAPDOC_CMD_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/observation.h"
#include "observe/proc_exit.h"

struct agent_profile;

struct watch_opts {
	pid_t pid;
	double duration_s;	/* the window; 0: until stopped or the process ends */
	double interval_s;
	bool once;		/* one sample, no window */
	bool auto_stop;		/* end once the judge says the window decides,
				 * after auto_min_s; duration_s is then the limit */
	double auto_min_s;
	bool latency;		/* step 4 at the end (triage --latency) */
	FILE *recording;	/* written as it goes; NULL: none */
	const char *recording_name;	/* for the progress line */
	double state_every_s;	/* full reads during the window (record); 0: at the end */
	const char *verb;	/* "watching", "recording": the progress line */
	struct agent_profile *sites;	/* triage --sites: read between samples
					 * (begun and ended by the caller,
					 * outside the window); NULL: none */
};

enum watch_end {
	WATCH_COMPLETE,		/* the window (or the judge) said so */
	WATCH_INTERRUPTED,	/* SIGINT, SIGTERM or SIGHUP */
	WATCH_GONE,		/* the target ended */
};

struct watch_result {
	enum watch_end end;
	int signal;		/* WATCH_INTERRUPTED: which */
	struct proc_end exit;	/* WATCH_GONE: how, when known */
	uint64_t oom_before, oom_after;	/* the cgroup's oom_kill count; UNSET unknown */
	double elapsed_s;
	char how[192];		/* for people and the end line: "complete",
				 * "interrupted by SIGINT after 31 s", ... */
	size_t lines;		/* sample lines written */
};

/* Watches o->pid into obs (which it fills from scratch) and, when asked,
 * the recording.  0 when a window was watched, however it ended (*res
 * says how); a negative errno when the process could not be watched at all
 * (no such process, not allowed, ...) or the recording could not be
 * written: err says why. */
int watch_run(const struct watch_opts *o, struct observation *obs, struct watch_result *res,
	      struct error *err);

#endif
