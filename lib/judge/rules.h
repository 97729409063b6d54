/* The thresholds of the triage rules (steps 2 to 4: the gap, growth outside
 * the allocator, the pressure of a limit, the slow path), each with the
 * reason for its value.  Each rule family names its thresholds in one
 * place: step 1's (what counts as growth, a plateau, a sawtooth) at the top
 * of trend.c, the knobs' beside their rules.  Internal to lib/judge:
 * reports read the decisions, not the numbers. */
#ifndef HEAPDOC_JUDGE_RULES_H
#define HEAPDOC_JUDGE_RULES_H

#include <stdint.h>

#include "model/observation.h"

#define MiB ((uint64_t)1024 * 1024)

/* ---- step 1: the trend (trend.c, series.c, envelope.c) ------------------ */

/* Fewer samples than this cannot show a shape: with the last third as the
 * tail we want at least two points there plus a head to compare it with. */
#define TREND_MIN_SAMPLES 6

/* Shorter windows mostly show allocator noise (one batch allocated and freed
 * moves allocated by megabytes within a second); a steady leak needs time to
 * stand out from it. */
#define TREND_MIN_SPAN_S 2.0

/* A change is worth a name only if it exceeds both 2% of the level (a
 * process's working set moves by a few percent as requests come and go)
 * and 1 MiB (below that a small process's figures are page-granular noise). */
#define TREND_CHANGE_SHARE 0.02
#define TREND_CHANGE_MIN_BYTES (1024.0 * 1024)

/* Still growing at the end: the last third climbs at least a third as fast
 * as the window as a whole.  A linear leak gives ~1, a filled cache ~0; a
 * curve that is only slowing down (log-like) stays above a third. */
#define TREND_TAIL_RATIO 0.33

/* Below this R² a straight line does not describe the series (noise or
 * teeth dominate), and we do not call it steady growth. */
#define TREND_MIN_R2 0.5

/* A drop between two samples counts toward a sawtooth when it takes back at
 * least a quarter of the range: smaller dips are churn, not teeth. */
#define TREND_DROP_SHARE 0.25

/* Pairs for Theil–Sen: at most this many evenly spaced samples, so the
 * pair count (n²/2) stays bounded on a long window. */
#define TREND_PAIR_POINTS 96

/* A floor (or peak) rises when its points rise in order beyond what noise
 * does one time in twenty (Mann–Kendall's z, one-sided): four lows in a
 * row are the fewest that can (z = 1.70). */
#define ENVELOPE_Z 1.645

/* Without teeth, the envelopes come from at most this many blocks of the
 * window (at least three, four samples each). */
#define ENVELOPE_BLOCKS 8

/* RSS (or resident) that climbs at the rate of allocated's floor says what
 * the floor says: a leak, even when the lows alone are still too few or too
 * noisy to say it (their z at least this, rates within this factor). */
#define FLOOR_SEEN_Z 1.0
#define FLOOR_RATE_MATCH 2.0

/* Drops before a working set that comes and goes is called cyclic: the
 * lows of fewer cannot show a leak riding on it (ENVELOPE_Z). */
#define CYCLE_MIN_DROPS 4

/* A gap between resident and allocated is the story only when it is at
 * least a quarter of resident (resident ≥ 1.33 × allocated: below that,
 * chunk headers, thread caches and glibc's 128 KiB pads per arena explain
 * it) and at least 8 MiB (a smaller gap is not worth an engineer's time
 * during an incident, whatever its ratio). */
#define GAP_MIN_SHARE 0.25
#define GAP_MIN_BYTES (8 * MiB)

/* RSS growth outside the allocator is worth a line when the allocator
 * leaves at least a quarter of it unexplained (below that, pages of the
 * allocator's own faulted in between two reads, thread stacks and page
 * cache account for it) and it adds up to GAP_MIN_BYTES over the window.
 * When the allocator explains less than half of growth that does not stop,
 * the growth is the story, whatever the allocator's figures do. */
#define OUTSIDE_MIN_SHARE 0.25
#define OUTSIDE_MAJORITY 0.5

/* Free space held below the top by one live chunk is worth a line from
 * the size of a gap worth naming: it is the same memory seen from the
 * heap's layout. */
#define TOP_HELD_MIN_BYTES GAP_MIN_BYTES

/* More arenas than two per effective CPU cannot all be busy at once: the
 * rest hold free memory for threads that are not running.  glibc caps at
 * 8 per host core, so a container with a CPU quota runs far above this. */
#define ARENAS_PER_CPU_RETAIN 2

/* jemalloc slabs under half full hold as much free space as live data:
 * the size classes are fragmented. */
#define SLAB_HALF_EMPTY 0.5

/* jemalloc's own default: 4 arenas per CPU it sees. */
#define JEMALLOC_ARENAS_PER_CPU 4

/* Near the limit: at 85% one traffic spike of a sixth more kills the
 * process (cgroup OOM) or pushes the machine into reclaim. */
#define PRESSURE_NEAR_LIMIT 0.85

/* malloc_trim is worth a stop of the process when it returns at least
 * 16 MiB or a tenth of RSS, whichever is larger. */
#define TRIM_WORTH_BYTES (16 * MiB)
#define TRIM_WORTH_SHARE 0.10

/* Step 4.  A healthy program spends a few percent of its samples in
 * malloc/free; from 10% the allocator shows up as the hot spot of a
 * profile.  Lock waits and mm syscalls are worth naming at 5%: each one
 * stands for a sleeping thread or a TLB shootdown. */
#define SLOW_ALLOC_SHARE 0.10
#define SLOW_LOCK_SHARE 0.05
#define SLOW_SYSCALL_SHARE 0.05

/* 10 000 minor faults a second is ~40 MiB/s of fresh pages that the kernel
 * zeroes: a percent or two of a CPU in the fault path alone, and the mark
 * of memory returned and taken back again (mmap churn, trim/grow cycles). */
#define FAULT_STORM_RATE 10000.0

/* Below this window a leak verdict says that a cache still filling up would
 * look the same: caches sized in minutes of traffic fill for minutes. */
#define LEAK_CONFIRM_WINDOW_S 30.0

/* A label of the gap (pinning, arenas, size-class, ...) names what holds
 * the larger part of it; threads taking turns name it only when what their
 * arenas could share is at least a quarter of the gap (GAP_MIN_SHARE's
 * reasoning) and GAP_MIN_BYTES, seen over at least three reads of every
 * arena (two can only show one moment against another). */
#define LABEL_MIN_SHARE 0.25
#define TURNS_MIN_SAMPLES 3

/* An application's own pool: at least 8 blocks of one size of 64 KiB or
 * more (glibc maps such blocks on their own: the mmap threshold) holding
 * at least half of allocated, and 32 MiB (below that a pool is not where
 * an incident's memory went).  A program known to keep a pool needs only
 * allocated to be most of RSS. */
#define POOL_MIN_BLOCKS 8
#define POOL_MIN_SHARE 0.5
#define POOL_MIN_BYTES (32 * MiB)

/* Shared by the judge's files. */
uint64_t judge_rss(const struct observation *obs);
unsigned judge_effective_cpus(const struct observation *obs);

#endif
