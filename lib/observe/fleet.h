/* The exporter's side of observe: which processes to watch, and one round
 * of reading each (`heapdoc exporter`, cmd/exporter.c).
 *
 * Finding (fleet_find): every live user process of <root>/proc whose name
 * or command line a regular expression matches, whose pid was given, or
 * that sits in a given cgroup (a directory of a cgroup hierarchy, a cgroup
 * path as /proc/<pid>/cgroup names it, or a systemd unit); never heapdoc
 * itself, kernel threads or zombies.
 *
 * Watching (fleet_watch_*): the first round runs observe_begin (detection,
 * symbols and debug info, loaded once); every round then attaches, takes
 * one light sample (observe.h: one brief hold for glibc, one borrowed
 * thread for jemalloc and tcmalloc), makes the full read when it is due,
 * and lets the process go entirely: between rounds no thread is traced, so
 * a debugger or `heapdoc triage` can attach to it, and a signal never waits
 * for the exporter.  A process that cannot be read is watched through
 * /proc alone, and each round says why in its read errors; nothing about
 * one process ever ends the exporter.
 */
#ifndef HEAPDOC_OBSERVE_FLEET_H
#define HEAPDOC_OBSERVE_FLEET_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/fleet.h"
#include "model/observation.h"
#include "observe/observe.h"

struct fleet_select {
	const regex_t *match;		/* over comm and the command line; NULL: none */
	const pid_t *pids;
	size_t npids;
	const char *const *cgroups;
	size_t ncgroups;
};

struct fleet_found {
	pid_t pid;
	uint64_t starttime;
};

/* The selected processes, sorted by pid, into *out (malloc'd).  Processes
 * that vanish while listed are left out; only a /proc that cannot be read
 * at all is an error. */
int fleet_find(const char *root, const struct fleet_select *sel, struct fleet_found **out,
	       size_t *n, struct error *err);

/* How rounds read a process. */
struct fleet_policy {
	double window_s;	/* the verdict's rolling window */
	double interval_s;	/* between rounds */
	double full_every_s;	/* between full reads (free by kind, trimmable, arenas) */
	double now;		/* this round: seconds since the Epoch */
};

struct fleet_watch {
	struct fleet_target t;
	struct observation obs;
	struct observer o;
	bool begun;		/* observe_begin succeeded: o is open */
	bool proc_only;		/* it could not be: /proc figures only */
	enum fleet_error why;	/* proc_only, or no allocator view: the reason */
	uint64_t t0_ns;		/* when the watch started: sample times count from it */
	double full_at;		/* when the next full read is due (Epoch seconds) */
	double retry_at;	/* when a view that could not be had is tried again */
	double now;		/* this round's time (Epoch seconds) */
};

/* Starts watching pid (nothing is read until the first round). */
void fleet_watch_init(struct fleet_watch *w, pid_t pid, uint64_t starttime);

/* One round.  0 (read errors are counted in w->t, not returned); -ESRCH
 * when the process is gone (stop watching it); -EINTR when heapdoc was
 * told to stop (the process is already released); -ENOMEM. */
int fleet_watch_round(struct fleet_watch *w, const struct fleet_policy *p, struct error *err);

/* Releases everything (detaches, closes the reader); safe on any state. */
void fleet_watch_end(struct fleet_watch *w);

#endif
