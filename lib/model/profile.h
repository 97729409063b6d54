/* A sampled allocation profile (heapdoc leaks): allocation sites by stack,
 * with unbiased counts and bytes, what the report and the profile formats
 * (pprof, jeprof, folded) are written from.
 *
 * Sampling is byte-weighted Poisson with mean `rate`: an allocation of X
 * bytes is sampled with probability q = 1 - exp(-X/rate), so each sample
 * stands for 1/q allocations and X/q bytes (profile_weight).  Sums of those
 * are unbiased estimates of what the process allocated; "raw" fields count
 * the samples themselves (jeprof's format wants those: its reader scales).
 *
 * A site is one distinct stack.  Its live figures are the samples taken in
 * the window and not freed by its end; `mid` is the same at the window's
 * middle, so that a site that only grows (a leak) is told apart from one
 * that filled up early and then held steady (a cache).
 */
#ifndef HEAPDOC_PROFILE_H
#define HEAPDOC_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/classes.h"

struct prof_frame {
	uint64_t addr;		/* a return address: the call is just before */
	char *function;		/* NULL when unknown */
	char *file;		/* NULL without line information */
	int line;
	int mapping;		/* index in profile.mappings, -1 if none */
};

struct prof_mapping {
	uint64_t start, limit, offset;	/* as /proc/<pid>/maps has it */
	char *path;
	char build_id[41];		/* hex, "" if none */
	bool has_functions, has_lines;
};

struct prof_counts {
	double objects, bytes;		/* unbiased */
	uint64_t raw_objects, raw_bytes;	/* samples, and their sizes */
};

struct prof_site {
	uint32_t *frames;		/* indices in profile.frames, innermost first */
	size_t nframes;
	uint64_t hash;
	struct prof_counts alloc;	/* everything sampled in the window */
	struct prof_counts live;	/* of it, not freed at the end */
	struct prof_counts mid;		/* ... not freed at the middle */
	bool truncated;			/* deeper than the unwinder went */
};

/* What the sampler could not see (prof_cost.holes). */
enum prof_hole {
	PROF_HOLE_PTR_SAVED = 1,	/* malloc's address stored in data at load */
	PROF_HOLE_ELSEWHERE = 2,	/* slots bound to another definition */
	PROF_HOLE_GOT_SKIPPED = 4,	/* GOT slots of -fno-plt code left alone */
	PROF_HOLE_TABLE_FULL = 8,	/* samples whose free could not be followed */
};

/* What sampling left in the process (prof_cost.left). */
enum prof_left {
	PROF_LEFT_NOTHING = 0,		/* unloaded: no mapping remains */
	PROF_LEFT_INERT,		/* every slot put back, library still mapped */
	PROF_LEFT_UNKNOWN,		/* the process went away first */
};

/* What sampling cost and how it left, for the report. */
struct prof_cost {
	uint64_t load_stop_us, stop_stop_us, unload_stop_us;
	unsigned unload_tries;
	uint64_t samples, dropped, untracked, unwind_stops;
	uint64_t slots_patched, got_slots_patched, slots_skipped, slots_restored;
	uint64_t modules_patched, self_restores;
	uint64_t holes;			/* enum prof_hole bits */
	int left;			/* enum prof_left */
	char left_why[256];
	char library[512];		/* the library's path in the target */
	int source;			/* enum prof_source */
	unsigned dumps;			/* PROF_SOURCE_JEMALLOC: prof.dump calls */
};

/* Where the samples came from. */
enum prof_source {
	PROF_SOURCE_AGENT = 0,		/* heapdoc's sampling library */
	PROF_SOURCE_JEMALLOC,		/* jemalloc's own profiler (prof:true) */
};

/* What was live before sampling began, read from the allocator just before
 * (no sample can name a stack for it): allocated, and for glibc a census
 * of the C++ objects by class (model/classes.h). */
struct prof_before {
	bool read;			/* the allocator was looked at */
	char allocator[24];		/* alloc_kind_name() */
	uint64_t allocated;		/* UNSET when unknown */
	char source[64];		/* where allocated comes from */
	char why[200];			/* allocated UNSET: why */
	struct class_census classes;	/* taken false: why says */
	uint64_t walk_us;		/* glibc: the walk, holds included; else UNSET */
	char walk_method[16];		/* glibc: "validated" or "held" (model/glibc.h) */
	unsigned rewalked;		/* glibc: arenas walked again at the second hold */
	uint64_t pause_us;		/* the longest stop of it */
};

struct profile {
	pid_t pid;
	char comm[64];
	uint64_t rate;
	double window_s;		/* how long it sampled */
	double mid_s;			/* when `mid` was taken */
	bool exited;			/* the process went away during the window */
	uint64_t rss_start, rss_end;	/* VmRSS at both ends (0 if unread) */
	struct prof_before before;

	struct prof_site *sites;
	size_t nsites, sites_cap;
	struct prof_frame *frames;
	size_t nframes, frames_cap;
	struct prof_mapping *mappings;
	size_t nmappings;
	char *maps_text;		/* /proc/<pid>/maps at the end (jeprof) */

	/* Lookups: stack -> site, address -> frame (open addressing). */
	uint32_t *site_index, *frame_index;
	size_t site_slots, frame_slots;

	struct prof_cost cost;
};

/* How many allocations, and bytes, one sample of size bytes stands for. */
void profile_weight(uint64_t size, uint64_t rate, double *objects, double *bytes);

/* The site of this stack (created if new); -1 when out of memory. */
long profile_site(struct profile *p, const uint64_t *pcs, size_t n);

/* Adds (sign +1) or takes away (-1) one sample of size bytes. */
void profile_count(struct prof_counts *c, uint64_t size, uint64_t rate, int sign);

/* Sets c from n samples of bytes in all (another profiler's counts). */
void profile_set_counts(struct prof_counts *c, uint64_t n, uint64_t bytes, uint64_t rate);

/* Copies every site's live counts into mid (at the window's middle). */
void profile_mark_mid(struct profile *p, double t);

void profile_free(struct profile *p);

#endif
