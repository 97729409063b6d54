/* What heapdoc saw of one process: the contract between observe and judge.
 *
 * lib/observe fills an observation (observe.h); the judge (lib/judge) reads
 * it and never touches a pid.  An observation can be saved on one machine
 * and judged on another (model/recording.h), and the judge and the reports
 * are tested on observations recorded from real runs
 * (fixtures/observations/).
 */
#ifndef HEAPDOC_MODEL_OBSERVATION_H
#define HEAPDOC_MODEL_OBSERVATION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/alloc.h"
#include "model/cgroup.h"
#include "model/process.h"

#define OBS_MAX_SAMPLES 1024

/* One point of the trend (step 1). */
struct sample {
	double t;		/* seconds since the first sample */
	uint64_t rss;		/* VmRSS */
	uint64_t allocated;	/* the allocator's allocated; UNSET if not read */
	uint64_t resident;	/* the allocator's resident; UNSET if not read */
	uint64_t minflt, majflt;
};

/* The slow path (step 4): where thread stacks were when sampled. */
struct latency {
	bool sampled;
	unsigned samples;	/* thread stacks taken */
	unsigned in_allocator;	/* with an allocator function on the stack */
	unsigned in_mm_syscall;	/* inside mmap, munmap, madvise, brk, mremap */
	unsigned in_lock_wait;	/* waiting on an allocator lock */
	double fault_rate;	/* minor page faults per second over the window */
	char top_frame[128];	/* the most common allocator frame, "" if none */
	char why_not[160];	/* asked for but not sampled: why */
};

struct observation {
	pid_t pid;
	char comm[64];
	struct proc_status status;
	struct rss_split split;		/* RSS by kind of mapping (step 2), at the end */
	struct rss_split split_first;	/* the same at the first sample: with split,
					 * what grew over the window; total UNSET
					 * (or 0) when it was not read */
	struct cgroup_limits cgroup;
	char cgroup_why[256];		/* why cgroup is unset, when it could not be read */
	uint64_t machine_memory;	/* MemTotal */
	unsigned host_cpus;		/* online CPUs of the host */
	struct environ env;		/* the target's environment (MALLOC_*, ...) */

	struct alloc_id alloc;
	struct alloc_summary summary;	/* the latest full read */
	struct alloc_params params;

	struct sample samples[OBS_MAX_SAMPLES];
	size_t nsamples;
	double window_s;		/* the window asked for; 0 for one snapshot */
	double interval_s;		/* between samples, as asked; 0 for one snapshot */
	double start_time;		/* wall clock at the first sample: seconds
					 * since the Epoch; 0 when unknown */
	uint64_t pause_us;		/* the longest pause heapdoc imposed */
	uint64_t pause_total_us;	/* all of them together */
	unsigned samples_estimated;	/* samples whose allocated is an estimate (an
					 * arena that kept moving through its read) */
	unsigned stops;			/* how many times it stopped the process */

	struct latency latency;
};

/* Frees what an observation owns (the environment block). */
void observation_release(struct observation *obs);

/* Appends a sample; a full observation is thinned first (model/thin.h:
 * samples_compact), so a recording of any length fits.  Returns the copy. */
struct sample *observation_add_sample(struct observation *obs, const struct sample *s);

#endif
