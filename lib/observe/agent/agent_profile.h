/* A sampled allocation profile of a live process, through the sampling
 * library (agent.h): samples become sites of a struct profile, and each
 * sample stays "live" until the library's live table says it was freed.
 *
 *	agent_profile_begin(&ap, pid, &opts, prof, err);
 *	while (window not over)
 *		agent_profile_poll(&ap, err);	   every POLL_MS or so
 *	agent_profile_end(&ap, err);		   stop, last read, unload,
 *						   symbolise
 * heapdoc's memory is bounded by the sites and the live samples (at most
 * the live table's AGENT_BUCKETS * AGENT_WAYS), not by the samples seen.
 */
#ifndef HEAPDOC_AGENT_PROFILE_H
#define HEAPDOC_AGENT_PROFILE_H

#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/profile.h"
#include "observe/agent/agent.h"

#define AGENT_POLL_MS 100

struct agent_live;

struct agent_profile {
	struct agent agent;
	struct profile *prof;
	struct agent_live *live;	/* samples not freed yet */
	size_t nlive, live_cap;
	uint64_t samples;		/* read from the ring */
	uint8_t want[AGENT_BUCKETS];	/* buckets to read this poll */
	uint64_t start_ns;
	double window_s;		/* 0: open-ended (mid taken as it doubles) */
	double next_mid_s;
	bool loaded, stopped;
};

/* Loads the library and starts sampling.  window_s (0 if open-ended) says
 * when the middle of the window is. */
int agent_profile_begin(struct agent_profile *ap, pid_t pid, const struct agent_opts *o,
			double window_s, struct profile *prof, struct error *err);

/* Heartbeat, new samples, frees.  -ESRCH when the process exited (the
 * profile so far stays usable). */
int agent_profile_poll(struct agent_profile *ap, struct error *err);

/* Seconds since sampling began. */
double agent_profile_elapsed(const struct agent_profile *ap);

/* Stops sampling, reads what is left, unloads the library and names every
 * frame.  Safe after a failed begin or poll. */
int agent_profile_end(struct agent_profile *ap, struct error *err);

/* Names the frames and fills the mappings (also for a live view). */
int agent_profile_symbolise(struct profile *p, struct error *err);

#endif
