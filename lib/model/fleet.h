/* One process `heapdoc exporter` watches, as its rounds leave it: what
 * lib/observe/fleet fills, the judge reads (the observation's samples are
 * the exporter's rolling window) and lib/report/exporter writes as metrics.
 *
 * Counters here only grow while the process is watched; a process that
 * exits takes its figures with it (its series vanish from the next scrape,
 * as Prometheus expects of a target that is gone).
 */
#ifndef HEAPDOC_MODEL_FLEET_H
#define HEAPDOC_MODEL_FLEET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/observation.h"

/* Why a round could not read a process's allocator (the reason label of
 * heapdoc_read_errors_total).  The /proc figures are still exported. */
enum fleet_error {
	FLEET_ERR_PERMISSION,	/* not allowed to read or trace it */
	FLEET_ERR_TRACED,	/* another tracer (a debugger, strace) holds it */
	FLEET_ERR_NO_DEBUG_INFO,	/* no debug info or symbols for its allocator */
	FLEET_ERR_UNSUPPORTED,	/* an allocator heapdoc cannot read (or none found) */
	FLEET_ERR_BUSY,		/* no safe moment, a thread in uninterruptible sleep */
	FLEET_ERR_CORRUPT,	/* the heap walk found inconsistent state */
	FLEET_ERR_OTHER,
	FLEET_NERRORS
};

/* "permission", "traced", "no_debug_info", "unsupported", "busy",
 * "corrupt", "other". */
const char *fleet_error_name(enum fleet_error e);

/* Where the allocator's free bytes sit (the kind label of
 * heapdoc_free_bytes), from the last full read. */
enum fleet_free_kind {
	FLEET_FREE_BETWEEN_LIVE,	/* free chunks between live ones (glibc bins,
					 * jemalloc's half-empty slabs) */
	FLEET_FREE_CACHE,		/* tcmalloc's thread and central caches */
	FLEET_FREE_TOP,			/* glibc: the tops of the arenas */
	FLEET_FREE_DIRTY,		/* jemalloc: dirty pages not yet purged */
	FLEET_FREE_MUZZY,		/* jemalloc: muzzy pages */
	FLEET_FREE_PAGEHEAP,		/* tcmalloc: free spans of the page heap */
	FLEET_NFREE
};

/* "between_live", "cache", "top", "dirty", "muzzy", "pageheap". */
const char *fleet_free_kind_name(enum fleet_free_kind k);

/* Every stop a round imposed, as a Prometheus histogram in seconds. */
#define FLEET_PAUSE_BUCKETS 12
extern const double fleet_pause_bounds_s[FLEET_PAUSE_BUCKETS];

struct fleet_pauses {
	uint64_t le[FLEET_PAUSE_BUCKETS];	/* stops of at most bounds[i] (cumulative) */
	uint64_t count;
	uint64_t total_us;
	uint64_t longest_us;
};

void fleet_pauses_add(struct fleet_pauses *p, uint64_t us);

/* Stopped time over the trailing hour, in minute slots. */
#define FLEET_HOUR_SLOTS 60

struct fleet_hour {
	uint64_t us[FLEET_HOUR_SLOTS];
	uint64_t minute[FLEET_HOUR_SLOTS];	/* which minute (since the Epoch) a slot holds */
};

/* now_s: seconds since the Epoch. */
void fleet_hour_add(struct fleet_hour *h, double now_s, uint64_t us);
uint64_t fleet_hour_total_us(const struct fleet_hour *h, double now_s);

struct fleet_target {
	pid_t pid;
	uint64_t starttime;	/* /proc/<pid>/stat: tells a reused pid apart */
	char cgroup[512];	/* its cgroup path (memory hierarchy, else v2); "" if none */
	char unit[256];		/* the systemd unit that path names; "" if none */

	/* The rolling window: samples of the last window seconds, the latest
	 * full read in summary, the cgroup as of this round. */
	struct observation *obs;
	bool view;		/* the allocator was read this round */
	uint64_t free[FLEET_NFREE];	/* UNSET where this allocator has no such kind */

	uint64_t read_errors[FLEET_NERRORS];
	char last_error[FLEET_NERRORS][160];	/* each reason's last message, for the log */
	struct fleet_pauses pauses;
	struct fleet_hour hour;
	double last_success;	/* seconds since the Epoch of the last round that
				 * read the allocator; 0: never */
};

/* The last systemd unit named in a cgroup path ("/system.slice/nginx.service"
 * → "nginx.service"; a scope, socket, mount, swap or slice below a service
 * names the service): "" when it names none. */
void fleet_unit_of(const char *cgroup, char *unit, size_t len);

/* Keeps the samples of the last window_s seconds (by sample time). */
void fleet_window_trim(struct observation *obs, double window_s);

#endif
