/* Recordings: an observation saved to a file and loaded back, to be judged
 * later or elsewhere (`heapdoc triage --from`), and the judge's and the
 * reports' test data (fixtures/observations/).
 *
 * The format (version 1) is JSON Lines: one JSON object per line, each with
 * a "type".  Written as it is watched, flushed line by line, so a recording
 * cut short (Ctrl-C, heapdoc killed, the target OOM-killed, a full disk) is
 * whole up to its last complete line; the reader leaves out a last line cut
 * in half and says so.
 *
 *   {"type":"header","format":"heapdoc-recording","version":1,
 *    "heapdoc":"0.1.0","pid":..,"comm":..,"start_time":..,"window_s":..,
 *    "interval_s":..,"machine_memory":..,"host_cpus":..,"status":{..},
 *    "cgroup":{..},"cgroup_why":"","environ":{"MALLOC_ARENA_MAX":"2",..},
 *    "allocator":{..}}                          first line, exactly once
 *   {"type":"sample","t":..,"rss":..,"allocated":..,"resident":..,
 *    "minflt":..,"majflt":..[,"split":{..}]}    one per trend point
 *   {"type":"state","status":{..},"split":{..},"summary":{..},
 *    "params":{..},"pause_us":..,               the allocator's full read;
 *    "pause_total_us":..,"stops":..,
 *    "samples_estimated":..}
 *                                               the last one counts
 *   {"type":"latency", ..struct latency..}      step 4, when sampled
 *   {"type":"end","how":"..."}                  how the recording ended
 *
 * Members are those of the structs in model/ (lib/model/fields.c names
 * them), bytes as integers, an unknown figure as null.  The environment
 * keeps only the allocator's variables (environ_is_allocator_setting): an
 * environment may hold secrets and a recording travels.  The split of a
 * sample line is the RSS split when that sample was taken (the first sample
 * carries the split at the start of the window).
 *
 * Compatibility: a reader ignores line types and members it does not know,
 * and leaves unknown what a line does not carry, so members are added
 * without a new version; a version number above RECORDING_VERSION means a
 * change older readers would misread, and they refuse it.
 */
#ifndef HEAPDOC_MODEL_RECORDING_H
#define HEAPDOC_MODEL_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "model/observation.h"

#define RECORDING_FORMAT "heapdoc-recording"
#define RECORDING_VERSION 1

/* Each writes one line and flushes it; -EIO when the write fails. */
int recording_write_header(FILE *out, const struct observation *obs, struct error *err);
/* split: the RSS split taken with this sample, or NULL. */
int recording_write_sample(FILE *out, const struct sample *s, const struct rss_split *split,
			   struct error *err);
/* obs's status, split, summary, params, pause_us, stops. */
int recording_write_state(FILE *out, const struct observation *obs, struct error *err);
int recording_write_latency(FILE *out, const struct latency *l, struct error *err);
/* how: one line for a person ("complete", "interrupted by SIGINT after
 * 31 s", "the process exited (status 137)"). */
int recording_write_end(FILE *out, const char *how, struct error *err);

/* A whole observation: header, samples (the first with split_first),
 * state, latency when sampled. */
int recording_save(FILE *out, const struct observation *obs, struct error *err);

/* What the reader saw besides the observation. */
struct recording_info {
	unsigned version;		/* of the file's format */
	char heapdoc[32];		/* the heapdoc that wrote it */
	size_t lines;			/* complete lines read */
	bool cut;			/* the last line was cut short and left out */
	bool has_state;			/* a full read of the allocator was recorded */
	bool samples_after_state;	/* samples follow the last full read: the
					 * recorder was still going (no end line then
					 * means it was stopped short) */
	char end[160];			/* the end line's "how"; "" without one */
};

/* Reads a recording into obs (zeroed first; free it with
 * observation_release).  name is the file's name, for messages.  Without a
 * state line the summary says why it is missing and the status comes from
 * the header and the last sample.  Errors: -EIO "<name> line N: <what>" for
 * a line that is not a recording's (a cut last line is not an error),
 * -EOPNOTSUPP for a newer format version, -ENOMEM.  More samples than an
 * observation holds are thinned as they are read (model/thin.h), as the
 * recorder thinned them. */
int recording_load(FILE *in, const char *name, struct observation *obs,
		   struct recording_info *info, struct error *err);

#endif
