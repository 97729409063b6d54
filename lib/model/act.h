/* What heapdoc release and heapdoc set did to a process: the settings they
 * change, values before and after, and what acting cost the target.  Filled
 * by lib/observe/act.c, judged (judge/settings.h, judge/verify.h) and
 * reported (report/act.h). */
#ifndef HEAPDOC_MODEL_ACT_H
#define HEAPDOC_MODEL_ACT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The settings heapdoc can change in a running process. */
enum act_setting {
	ACT_TRIM_THRESHOLD,	/* glibc M_TRIM_THRESHOLD (mp_.trim_threshold) */
	ACT_TOP_PAD,		/* glibc M_TOP_PAD */
	ACT_MMAP_THRESHOLD,	/* glibc M_MMAP_THRESHOLD */
	ACT_DIRTY_DECAY_MS,	/* jemalloc, every arena and later ones */
	ACT_MUZZY_DECAY_MS,
	ACT_BACKGROUND_THREAD,	/* jemalloc background_thread (0/1) */
	ACT_RELEASE_RATE,	/* gperftools release rate (a double) */
	ACT_THREAD_CACHE,	/* tcmalloc.max_total_thread_cache_bytes */
	ACT_AGGRESSIVE_DECOMMIT, /* tcmalloc.aggressive_memory_decommit (0/1) */
	ACT_NSETTINGS
};

struct act_value {
	bool known;
	int64_t i;		/* integers, sizes, booleans (0/1) */
	double d;		/* ACT_RELEASE_RATE */
};

struct act_change {
	enum act_setting what;
	struct act_value want;	/* in */
	struct act_value old, now;	/* out: before, and read back after */
	unsigned arenas;	/* jemalloc decay: arenas changed */
};

/* What one act cost the target. */
struct act_cost {
	pid_t tid;		/* the thread borrowed for the calls */
	unsigned calls;
	uint64_t call_us;	/* time inside the allocator's functions */
	uint64_t pause_us_max;	/* the longest stop of any thread by heapdoc */
	uint64_t pause_us_total;	/* all of them together */
	unsigned stops;
	unsigned attempts;	/* stops it took to find a safe moment */
};

struct act_release {
	char call[96];		/* what was called: "malloc_trim(0)" */
	uint64_t predicted;	/* RSS it should return; UNSET: cannot tell */
	char basis[128];	/* what the prediction counts */
	bool done;		/* the call was made */
	char refusal[192];	/* why not, when not (and not an error) */
	int64_t ret;		/* the call's return value */
	uint64_t rss_before, rss_after;	/* /proc VmRSS, bytes */
	struct act_cost cost;
};

#endif
