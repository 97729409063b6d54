/* The triage judge: an observation in, a verdict with its evidence out.
 *
 * Pure functions, no I/O: everything here reads a `struct observation`
 * (model/observation.h) and writes plain structs, so every rule is tested
 * on recorded observations and an observation recorded on one machine can
 * be judged on another.  The four steps of DESIGN.md map to these functions,
 * and judge_triage() runs them all:
 *
 *	judge_trend()		step 1: how a series moved over the window
 *	judge_gap()		steps 2 and 3: allocated vs resident, the RSS
 *				split, and where a gap sits
 *	judge_outside()		step 2 over the window: RSS growth the
 *				allocator does not explain
 *	judge_slow_path()	step 4: the allocator on the stacks
 *	judge_triage()		all of them, then the verdict
 */
#ifndef HEAPDOC_JUDGE_TRIAGE_H
#define HEAPDOC_JUDGE_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/observation.h"

/* ---- step 1: trend ------------------------------------------------------ */

enum trend_kind {
	TREND_UNKNOWN,		/* too few samples or too short a window: see why */
	TREND_FLAT,		/* no change worth the name */
	TREND_GROWING,		/* climbs through the whole window, the last third too,
				 * or a sawtooth whose lows and highs both keep rising */
	TREND_PLATEAU,		/* climbed, then levelled off */
	TREND_SAWTOOTH,		/* repeated climbs and drops (batches, caches flushed) */
	TREND_FALLING,		/* going down: memory being returned */
};

/* How a series' lows (floor) or highs (peak) moved: one point per cycle
 * of a series that goes up and down, else per block of the window
 * (envelope.c says how and why). */
struct envelope {
	size_t n;		/* points */
	double rate;		/* bytes/s, Theil–Sen over the points; NAN for fewer than two */
	double z;		/* Mann–Kendall's z of the points (order beyond noise) */
	double noise;		/* bytes: the points' spread around their line */
	uint64_t first, last;	/* the first and the last point */
	double t_first, t_last;	/* when they were seen (s) */
	bool rises;		/* beyond noise, beyond its spread, worth the name */
	bool steady;		/* no move either way beyond noise and worth the name */
};

/* Which figure of a sample a trend is taken over. */
enum trend_series {
	SERIES_RSS,
	SERIES_ALLOCATED,
	SERIES_RESIDENT,
};

struct trend {
	enum trend_kind kind;
	char why[160];		/* TREND_UNKNOWN: the reason, for the report */
	size_t n;		/* samples with this figure */
	double span_s;		/* seconds from the first to the last of them */
	uint64_t first, last, min, max;
	uint64_t level;		/* the median: the scale changes are measured against */
	double slope;		/* bytes/s, Theil–Sen over the whole window */
	double r2;		/* how well a straight line fits (least squares), 0..1 */
	double tail_slope;	/* bytes/s, Theil–Sen over the last third */
	double tail_s;		/* how long that last third is */
	unsigned drops;		/* falls between samples large enough to count */
	double period_s;	/* median time between drops; NAN without two */
	struct envelope floor, peak;	/* the lows and the highs */
};

const char *trend_kind_name(enum trend_kind kind);	/* "growing", ... */

/* Classifies one series of obs->samples.  Samples whose figure is UNSET are
 * skipped (the allocator could not be read at that moment). */
void judge_trend(const struct observation *obs, enum trend_series series,
		 struct trend *out);

/* ---- steps 2 and 3: the gap between allocated and resident -------------- */

/* What most of a gap is made of. */
enum gap_kind {
	GAP_NONE,		/* allocated ≈ resident */
	GAP_UNKNOWN,		/* no allocator view */
	GAP_SIZE_CLASS,		/* many small free holes the next requests do not fit,
				 * or (jemalloc) half-empty slabs */
	GAP_PINNING,		/* whole free pages held between live chunks */
	GAP_ARENAS,		/* free space spread over more arenas than CPUs */
	GAP_UNPURGED,		/* whole free pages apart from live data (top, dirty) */
	GAP_HOLES,		/* free space between live chunks in pieces smaller than
				 * a page: no release call can return it */
};

struct gap {
	bool known;		/* the allocator's figures were read */
	bool significant;	/* large enough to be the story (GAP_* thresholds) */
	enum gap_kind kind;
	uint64_t allocated, resident;
	uint64_t bytes;		/* resident − allocated */
	double ratio;		/* resident / allocated */

	/* Step 2: RSS by owner. */
	uint64_t rss;
	uint64_t alloc_owned;	/* the allocator's resident (or its heaps from smaps) */
	uint64_t other_anon, file, shmem, stacks;

	/* Step 3: where the free space sits (the allocator's own figures). */
	uint64_t interleaved;	/* free space between live data */
	uint64_t releasable;	/* whole free pages apart from live data */
	uint64_t pinned;	/* whole free pages between live chunks */
	uint64_t trimmable;	/* what a release call would return */
	uint64_t small_chunks, small_bytes, large_chunks, large_bytes, largest_free;
	double slab_utilisation;	/* jemalloc: live regions / slab capacity; NAN elsewhere */
	unsigned narenas, effective_cpus;
	bool too_many_arenas;

	/* The parts of interleaved: whole free pages (pinned), chunks under
	 * 1 KiB (small_bytes), and the rest, pieces of larger free chunks
	 * short of a whole page (holes).  Free memory a release already gave
	 * back (or never touched) is apart: unresident, costing no RSS. */
	uint64_t holes, unresident;
	/* The kind's bytes over the gap: how much of it the label explains. */
	double share;

	/* Arenas over the window (alloc.h): threads that took turns leave
	 * each arena holding its own peak; arena_shared is what they would
	 * share under a cap, turns says it is worth the name. */
	uint64_t arena_peak_sum, arena_peak_once, arena_shared;
	unsigned arena_samples;
	bool turns;
};

const char *gap_kind_name(enum gap_kind kind);	/* "pinning", ... */

void judge_gap(const struct observation *obs, struct gap *out);

/* ---- memory held inside the application's own allocator ------------------ */

/* allocated high and stable, most of it in many blocks of one large size
 * (memcached's 1 MiB slab pages), or a program known to keep a pool: the
 * memory is in use as far as malloc can tell, and only the application's
 * own statistics say how much of its pool is free. */
struct pool {
	bool held;		/* the verdict is about the pool */
	uint64_t block_size, blocks, bytes;	/* the equal blocks; UNSET when unread */
	double share;		/* bytes / allocated; NAN when unread */
	const char *app;	/* a known pool user ("memcached"), or NULL */
	const char *what;	/* its pool: "memcached's slab allocator" */
	const char *stats;	/* where its own statistics are */
	const char *size_knob;	/* what sizes the pool */
};


/* ---- step 2 over the window: growth the allocator does not explain ---- */

/* What grew besides the allocator, from the RSS split at both ends. */
enum outside_kind {
	OUTSIDE_UNKNOWN,	/* no split at one end of the window */
	OUTSIDE_ANON,		/* anonymous memory: another allocator, a JIT, mmap */
	OUTSIDE_FILE,		/* file-backed pages: files mapped and read */
	OUTSIDE_SHMEM,		/* shared memory: memfd, /dev/shm, SysV */
};

struct outside {
	bool measured;		/* RSS and the allocator both have a trend */
	double rss_rate;	/* bytes/s: the RSS slope */
	double alloc_rate;	/* bytes/s: the larger of resident's and allocated's slopes */
	const char *alloc_figure;	/* which: "resident memory", "allocated bytes" */
	double share;		/* of the RSS growth, the part the allocator does not explain */
	uint64_t bytes;		/* that part over the window */
	bool significant;	/* RSS grows and the allocator explains only part of it */
	bool climbs;		/* RSS grows without bound, mostly outside the allocator */
	enum outside_kind kind;	/* what grew the most, from the split */
	int64_t anon_delta, file_delta, shmem_delta;	/* bytes over the window */
};

void judge_outside(const struct observation *obs, const struct trend *rss,
		   const struct trend *allocated, const struct trend *resident,
		   struct outside *out);

/* ---- how close to an OOM kill ------------------------------------------- */

struct pressure {
	uint64_t usage;		/* what counts toward the limit */
	uint64_t limit;		/* the tightest limit; UNSET: none known */
	double ratio;		/* usage / limit; NAN without a limit */
	const char *limit_name;	/* "cgroup memory.max", "cgroup memory.high", "MemTotal" */
	bool near;		/* ratio ≥ PRESSURE_NEAR_LIMIT */
};

void judge_pressure(const struct observation *obs, struct pressure *out);

/* ---- step 4: the slow path ---------------------------------------------- */

struct slow_path {
	bool sampled;
	double alloc_share, syscall_share, lock_share;	/* 0..1 of stack samples */
	double fault_rate;	/* minor faults per second over the window */
	bool hot;		/* the allocator is where time goes */
	bool fault_storm;	/* fresh pages faulted in at a rate that costs */
};

void judge_slow_path(const struct observation *obs, struct slow_path *out);

/* True when the evidence gathered so far calls for step 4 (stack sampling)
 * even though the user did not ask for it. */
bool judge_wants_latency(const struct observation *obs);

/* ---- step 1 over cycles: a working set that comes and goes ----------- */

/* allocated goes up and down by about the same amount every cycle (a cache
 * filled and flushed, batches built and dropped): its floor and its peak
 * stay put.  Resident memory held at the peak is then the working set,
 * needed again at the next cycle, not free space to hand back. */
struct cycle {
	bool seen;		/* allocated has teeth (two drops or more) */
	bool steady;		/* floor and peak stayed put over CYCLE_MIN_DROPS drops */
	unsigned drops;
	double period_s;	/* NAN when unknown */
	uint64_t floor, peak;	/* allocated's lowest and highest */
	bool held_at_peak;	/* resident ≈ the peak: no gap beyond the working set */
	uint64_t beyond_peak;	/* resident − peak (0 when below) */
};

/* ---- the verdict -------------------------------------------------------- */

enum verdict_kind {
	VERDICT_HEALTHY,
	VERDICT_LEAK,
	VERDICT_FRAGMENTATION,
	VERDICT_UNPURGED,
	VERDICT_LIVE_SET,
	VERDICT_INCONCLUSIVE,
};

#define VERDICT_MAX_EVIDENCE 24
#define VERDICT_LINE 256

struct verdict {
	enum verdict_kind kind;
	/* For inconclusive: the verdict the evidence leans to, or kind itself. */
	enum verdict_kind leaning;
	char reason[VERDICT_LINE];	/* one line: why this verdict */
	char next_step[2 * VERDICT_LINE];	/* one line: what to do about it */
	/* The lines that decided it, with numbers, most important first. */
	char evidence[VERDICT_MAX_EVIDENCE][VERDICT_LINE];
	size_t nevidence;

	/* When this window cannot decide, or decides only tentatively (a
	 * leak over less than LEAK_CONFIRM_WINDOW_S), the window that would:
	 * seconds in all, and why; 0 and "" when this one is enough. */
	double watch_s;
	char watch_why[160];

	struct trend rss, allocated, resident;
	struct cycle cycle;
	struct gap gap;
	struct outside outside;
	struct pressure pressure;
	struct slow_path slow;
	struct pool pool;
};

/* "healthy", "leak", "fragmentation", "unpurged", "live-set",
 * "inconclusive": the names of the JSON contract. */
const char *verdict_name(enum verdict_kind kind);

void judge_triage(const struct observation *obs, struct verdict *out);

/* The pool, given the trends and the gap already in v. */
void judge_pool(const struct observation *obs, const struct verdict *v, struct pool *out);
/* Where resident (RSS without it) and allocated part ways: the first
 * sample from which the gap between them is worth a name (GAP_*) at nine
 * samples in ten to the end, when it was not at the start.  A working set
 * that comes and goes has its gap open and close every cycle: not that. */
struct divergence {
	bool found;
	double t;		/* seconds since the first sample */
	uint64_t gap_then, gap_end;	/* bytes, there and at the last sample */
	const char *upper;	/* "resident" or "RSS" */
};

void judge_divergence(const struct observation *obs, struct divergence *out);

#endif
