/* What heapdoc and its sampling library (inside/) share: the layout of the
 * memory the library fills in the target and heapdoc reads from outside.
 *
 * The library maps one anonymous region at start:
 *
 *	struct agent_ctl	one page: settings, counters, the ring's indices
 *	struct agent_sample[ring_cap]	the ring of sampled allocations
 *	struct agent_slot[AGENT_BUCKETS][AGENT_WAYS]	the live table
 *
 * The free fast path's filter, a bit per agent_filter_index() set while a
 * live sample has that index, lives in the library's own data
 * (filter_addr).
 *
 * The region is MADV_WIPEONFORK: a child forked during sampling sees it
 * zeroed (magic 0), which is how the library in the child knows to put its
 * slots back at once and stay out of the way.
 *
 * The ring is written by many threads and read by one reader outside the
 * process.  A writer claims index h (ring_head, h - ring_tail < ring_cap),
 * fills record h % ring_cap and commits it by storing seq = h + 1 last.
 * heapdoc reads records from ring_tail while seq matches, then writes
 * ring_tail forward (process_vm_writev); a full ring drops the sample and
 * counts it.  Liveness is not sent as events: a sampled pointer stays in the
 * live table until it is freed, so heapdoc reads the table to learn which
 * samples are still live.  Only x86-64 is supported (the unwinder).
 */
#ifndef HEAPDOC_AGENT_ABI_H
#define HEAPDOC_AGENT_ABI_H

#include <stdint.h>

#define AGENT_MAGIC		0x3130746761646868ULL	/* "hhdagt01" */
#define AGENT_ABI		3
#define AGENT_MAX_FRAMES	48
#define AGENT_BUCKETS		(1u << 14)
#define AGENT_WAYS		8
#define AGENT_FILTER_BITS	(1u << 17)
#define AGENT_CTL_SIZE		4096

/* Entry points heapdoc calls (inject_call), by these names. */
#define AGENT_START_FN		"heapdoc_agent_start"
#define AGENT_STOP_FN		"heapdoc_agent_stop"

/* heapdoc_agent_start(rate, heartbeat_timeout_ms, ring_cap, flags)
 * returns the region's address, or a negative errno. */
#define AGENT_FLAG_GOT		1u	/* also redirect .rela.dyn GOT slots
					 * of -fno-plt modules (through a
					 * forwarding page: see inside/patch.c) */

enum agent_state {
	AGENT_OFF = 0,
	AGENT_ON,		/* slots redirected, sampling */
	AGENT_STOPPED,		/* heapdoc put the slots back */
	AGENT_INERT,		/* the library put them back itself: heartbeat
				 * lost, or a forked child */
};

/* Known holes, stated in the report (agent_ctl.holes). */
#define AGENT_HOLE_PTR_SAVED	1u	/* R_X86_64_64: a pointer to malloc
					 * stored in data at load time */
#define AGENT_HOLE_ELSEWHERE	2u	/* a slot bound to another definition
					 * (RTLD_DEEPBIND, a private copy) */
#define AGENT_HOLE_GOT_SKIPPED	4u	/* GOT slots of -fno-plt code left alone */
#define AGENT_HOLE_TABLE_FULL	8u	/* samples whose free cannot be seen */

#define AGENT_SAMPLE_UNTRACKED	1u	/* not in the live table (bucket full) */
#define AGENT_SAMPLE_TRUNCATED	2u	/* deeper than AGENT_MAX_FRAMES */
#define AGENT_SAMPLE_UNWIND_STOP 4u	/* the unwinder stopped early */

struct agent_sample {
	uint64_t seq;		/* ring index + 1 once the record is whole */
	uint64_t id;		/* the sample's id (> 0): ring index + 1 */
	uint64_t ptr;		/* what the allocation returned */
	uint64_t size;		/* bytes asked for */
	uint64_t time_ns;	/* CLOCK_MONOTONIC */
	uint32_t tid;
	uint16_t nframes;
	uint16_t flags;		/* AGENT_SAMPLE_* */
	uint64_t pcs[AGENT_MAX_FRAMES];	/* return addresses, innermost first */
};

/* A pointer's bit in the free filter (both sides use it).  Every free
 * computes it, so it is a multiply and a few shifts.  A 64-byte line of the
 * filter holds the 512 granules of 16 bytes of one 8 KiB block of memory:
 * the frees of a thread whose heap is its own (glibc's arenas) read lines
 * no other thread writes, so a sample taken in one thread does not take a
 * line of the filter away from the others.  The block's hash picks the line
 * and scrambles the granule, so that the page-aligned pointers of large
 * blocks spread too. */
static inline uint32_t agent_filter_index(const void *p)
{
	uint64_t v = (uint64_t)(uintptr_t)p;
	uint64_t h = (v >> 13) * 0x9E3779B97F4A7C15ULL;

	return (uint32_t)((h >> 56) << 9 | (((v >> 4) ^ (h >> 47)) & 511));
}

/* Is bit f of a filter (AGENT_FILTER_BITS / 64 words) set? */
static inline int agent_filter_has(const uint64_t *filter, uint32_t f)
{
	return (int)(filter[f >> 6] >> (f & 63)) & 1;
}

/* The bucket of the live table a pointer goes to: pointers that share a
 * filter bit share a bucket, so a bucket says when a bit may be cleared. */
static inline uint32_t agent_bucket(const void *p)
{
	return agent_filter_index(p) & (AGENT_BUCKETS - 1);
}

struct agent_slot {
	uint64_t ptr;		/* 0: empty */
	uint64_t id;		/* the sample it belongs to */
};

struct agent_ctl {
	uint64_t magic;
	uint32_t abi;
	uint32_t state;			/* enum agent_state */
	int32_t pid;			/* the process that started it */
	uint32_t flags;			/* AGENT_FLAG_* */
	uint64_t rate;			/* mean bytes between samples */
	uint64_t heartbeat;		/* a counter heapdoc moves while alive */
	uint64_t heartbeat_timeout_ns;	/* still for this long (the library's
					 * own clock): heapdoc is gone */
	uint64_t started_ns;

	/* Where things are (absolute addresses in the target). */
	uint64_t ring_addr, ring_cap;
	uint64_t filter_addr, table_addr;
	uint64_t lib_lo, lib_hi;	/* the library's own text */
	uint64_t stub_addr, stub_len;	/* the forwarding pages, if any */

	/* The ring: producers move head, heapdoc moves tail. */
	uint64_t ring_head __attribute__((aligned(64)));
	uint64_t ring_tail __attribute__((aligned(64)));

	/* Counters (relaxed atomics; heapdoc counts the samples it reads). */
	uint64_t dropped __attribute__((aligned(64)));	/* ring full */
	uint64_t untracked;		/* live table bucket full */
	uint64_t unwind_stops;		/* unwinds that ended before the root */
	uint64_t self_restores;		/* the library put the slots back itself */

	/* The redirection (written under the library's lock). */
	uint64_t modules_seen, modules_patched;
	uint64_t slots_patched, got_slots_patched;
	uint64_t slots_skipped;		/* bound elsewhere: left alone */
	uint64_t slots_restored, slots_changed;	/* changed = not ours when restored */
	uint64_t rescans;		/* after a dlopen/dlclose */
	uint64_t holes;			/* AGENT_HOLE_* */
	int64_t last_error;		/* -errno of the last failed mprotect */
};

#endif
