/* Where a gap sits and what to do about it: the evidence lines of step 3,
 * each part of the gap with its share of it, and the next step, which
 * promises only what the figures support (a release call is named with
 * what it returns, and only when that is worth a stop).  Also an
 * application's own pool, which malloc sees as memory in use. */
#include "judge/where.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "judge/evidence.h"
#include "judge/rules.h"

const char *judge_unpurged_where(enum alloc_kind kind)
{
	switch (kind) {
	case ALLOC_GLIBC: return "the top chunk above the pad";
	case ALLOC_JEMALLOC: return "dirty and muzzy extents waiting for decay";
	case ALLOC_TCMALLOC: return "page-heap free spans";
	case ALLOC_MIMALLOC: return "free pages waiting to be purged";
	default: return "free pages the allocator keeps";
	}
}

uint64_t judge_release_bytes(const struct verdict *v)
{
	uint64_t bytes = v->gap.trimmable;

	/* A working set that comes and goes takes back what a release gives
	 * within a cycle: only what resident holds beyond its peak is free. */
	if (v->cycle.seen && v->gap.known && IS_SET(bytes))
		bytes = v->cycle.held_at_peak ? 0 : MIN(bytes, v->cycle.beyond_peak);
	return bytes;
}

bool judge_release_worth(const struct verdict *v)
{
	uint64_t rss = IS_SET(v->gap.rss) ? v->gap.rss : 0;
	uint64_t worth = MAX(TRIM_WORTH_BYTES, (uint64_t)(TRIM_WORTH_SHARE * (double)rss));
	uint64_t bytes = judge_release_bytes(v);

	return IS_SET(bytes) && bytes >= worth;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole && IS_SET(part) ? 100.0 * (double)MIN(part, whole) / (double)whole : 0.0;
}

/* The space between live chunks, in its three parts, each with what it
 * means for a release call. */
static void interleaved_evidence(struct verdict *v, const struct observation *obs,
				 const struct gap *g)
{
	struct hb h = { .i = 0 };

	if (!g->interleaved)
		return;
	judge_evidence(v, "%s (%.0f%% of the gap) is free space between live chunks",
		       hb_bytes(&h, g->interleaved), pct(g->interleaved, g->bytes));
	if (g->pinned)
		judge_evidence(v, "of it %s (%.0f%% of the gap) is whole free pages in RAM between "
			       "live chunks: a release call returns them", hb_bytes(&h, g->pinned),
			       pct(g->pinned, g->bytes));
	if (IS_SET(g->small_chunks) && g->small_chunks)
		judge_evidence(v, "%s (%.0f%% of the gap) is in %" PRIu64 " free chunks under "
			       "1 KiB: holes no release call can return", hb_bytes(&h, g->small_bytes),
			       pct(g->small_bytes, g->bytes), g->small_chunks);
	/* A part under 1% of the gap explains nothing: not a line. */
	if (IS_SET(g->holes) && pct(g->holes, g->bytes) >= 1 && obs->alloc.kind == ALLOC_GLIBC)
		judge_evidence(v, "%s (%.0f%% of the gap) is in free chunks of 1 KiB or more, but "
			       "not in whole pages (the largest free chunk is %s)",
			       hb_bytes(&h, g->holes), pct(g->holes, g->bytes),
			       hb_bytes(&h, g->largest_free));
	else if (obs->alloc.kind == ALLOC_MIMALLOC)
		judge_evidence(v, "it is free blocks inside mimalloc pages that hold live ones: a "
			       "page goes back only when its last block is freed");
}

static void arenas_evidence(struct verdict *v, const struct gap *g)
{
	struct hb h = { .i = 0 };

	if (g->turns) {
		judge_evidence(v, "the threads took turns: over %u reads the %u arenas' own peaks "
			       "add up to %s, but at most %s was in use at once; %s (%.0f%% of the "
			       "gap) is each arena keeping its peak for its own threads",
			       g->arena_samples, g->narenas, hb_bytes(&h, g->arena_peak_sum),
			       hb_bytes(&h, g->arena_peak_once), hb_bytes(&h, g->arena_shared),
			       pct(g->arena_shared, g->bytes));
		return;
	}
	if (g->narenas <= g->effective_cpus)
		return;
	if (g->arena_samples >= TURNS_MIN_SAMPLES && IS_SET(g->arena_shared))
		judge_evidence(v, "%u arenas for %u effective CPU%s, but over %u reads their own "
			       "peaks add up to %s, hardly more than the %s in use at once: no "
			       "sign of threads taking turns, so a cap on arenas would not lower "
			       "it", g->narenas, g->effective_cpus, g->effective_cpus == 1 ? "" : "s",
			       g->arena_samples, hb_bytes(&h, g->arena_peak_sum),
			       hb_bytes(&h, g->arena_peak_once));
	else
		judge_evidence(v, "%u arenas for %u effective CPU%s; whether their threads take "
			       "turns (a cap on arenas would help) was not seen: watch longer "
			       "while they work", g->narenas, g->effective_cpus,
			       g->effective_cpus == 1 ? "" : "s");
}

void judge_where(struct verdict *v, const struct observation *obs)
{
	const struct gap *g = &v->gap;
	struct hb h = { .i = 0 };

	if (g->significant && g->kind == GAP_UNKNOWN && obs->summary.valid)
		judge_evidence(v, "allocated is %s's own count (%s); resident is the RSS of the "
			       "process's anonymous memory, from /proc: %s keeps no resident figure",
			       alloc_kind_name(obs->alloc.kind), obs->summary.source,
			       alloc_kind_name(obs->alloc.kind));
	if (!g->significant || g->kind == GAP_UNKNOWN)
		return;
	if (g->releasable)
		judge_evidence(v, "%s (%.0f%% of the gap) is whole free pages apart from live "
			       "data (%s)", hb_bytes(&h, g->releasable), pct(g->releasable, g->bytes),
			       judge_unpurged_where(obs->alloc.kind));
	arenas_evidence(v, g);
	interleaved_evidence(v, obs, g);
	if (!isnan(g->slab_utilisation))
		judge_evidence(v, "slabs are %.0f%% full: %.0f%% of their regions are free",
			       100 * g->slab_utilisation, 100 * (1 - g->slab_utilisation));
	if (IS_SET(g->unresident) && g->unresident)
		judge_evidence(v, "%s more is free but not in RAM (given back by a release, or "
			       "never touched): it costs no RSS", hb_bytes(&h, g->unresident));
	if (IS_SET(g->trimmable))
		judge_evidence(v, "a release call (heapdoc release) would return %s of RSS now%s",
			       hb_bytes(&h, g->trimmable), v->cycle.held_at_peak ?
			       ", to be taken back by the next cycle" : judge_release_worth(v) ? "" :
			       ": too little to be worth a stop");
}

/* ---- the next step ---------------------------------------------------------- */

/* Holes between live objects: what, if anything, reclaims them. */
static void holes_step(const struct observation *obs, const char *release, char *out,
		       size_t len)
{
	if (obs->alloc.kind == ALLOC_GLIBC)
		snprintf(out, len, "no release call returns holes smaller than a page between "
			 "live objects: only the allocation pattern (pools, arenas per lifetime) "
			 "or a size-class allocator (jemalloc, tcmalloc) reclaims them%s", release);
	/* Active defragmentation needs the jemalloc redis builds in (static,
	 * je_ prefix); Debian's redis-server, on the system's, refuses it. */
	else if (obs->alloc.kind == ALLOC_JEMALLOC && !strcmp(obs->comm, "redis-server") &&
		 obs->alloc.link == ALLOC_STATIC)
		snprintf(out, len, "no release call returns room inside slabs that hold live "
			 "objects: redis moves its objects together with CONFIG SET activedefrag "
			 "yes%s", release);
	else
		snprintf(out, len, "no release call returns room inside %s that hold live "
			 "objects: it is reused as objects of those sizes are freed and "
			 "allocated again%s", obs->alloc.kind == ALLOC_JEMALLOC ? "slabs" :
			 obs->alloc.kind == ALLOC_MIMALLOC ? "pages" : "spans and caches",
			 release);
}

static void fragmentation_step(const struct verdict *v, const struct observation *obs,
			       char *out, size_t len)
{
	const struct gap *g = &v->gap;
	struct hb h = { .i = 0 };
	char release[96] = "";

	if (judge_release_worth(v))
		snprintf(release, sizeof(release), "; heapdoc release returns %s now",
			 hb_bytes(&h, judge_release_bytes(v)));
	switch (g->kind) {
	case GAP_ARENAS:
		snprintf(out, len, "the threads take turns: cap the arenas at %u (knobs below) "
			 "so they share free memory, about %s less after a restart%s",
			 MAX(g->effective_cpus, 1u), hb_bytes(&h, MIN(g->arena_shared, g->bytes)),
			 release);
		break;
	case GAP_PINNING:
		if (release[0])
			snprintf(out, len, "heapdoc release returns %s of whole free pages now; "
				 "they come back as the heap fragments again: lasting fixes are in "
				 "the allocation pattern (pools, arenas per lifetime)",
				 hb_bytes(&h, judge_release_bytes(v)));
		else
			snprintf(out, len, "the whole free pages are too few for a release to be "
				 "worth a stop; lasting fixes are in the allocation pattern (pools, "
				 "arenas per lifetime)");
		break;
	default:
		holes_step(obs, release, out, len);
		break;
	}
}

static void inconclusive_step(const struct verdict *v, const struct observation *obs,
			      char *out, size_t len)
{
	if (obs->summary.valid && obs->summary.corrupt)
		snprintf(out, len, "the program has a memory bug (a write past a block, a double "
			 "free, a use after free): run it under AddressSanitizer or valgrind; "
			 "touch nothing of its allocator until then");
	else if (v->outside.climbs)
		snprintf(out, len, "find what maps the growing memory: the largest anonymous "
			 "mappings in /proc/<pid>/smaps, then that allocator's own tools");
	else if (v->gap.known && v->gap.kind == GAP_UNKNOWN && obs->alloc.kind == ALLOC_SCUDO)
		snprintf(out, len, "scudo gives free pages back on its own schedule "
			 "(release_to_os_interval_ms in SCUDO_OPTIONS); its statistics do not say "
			 "how much of this gap that is");
	else if (!v->gap.known && obs->summary.why_invalid[0])
		snprintf(out, len, "give heapdoc the allocator's view (the reason says what is "
			 "missing), then run it again");
	else if (v->watch_s)
		snprintf(out, len, "watch for %.0f s or more (--duration %.0fs, or `heapdoc "
			 "record`): %s", v->watch_s, v->watch_s, v->watch_why);
	else
		snprintf(out, len, "watch for longer (--duration 60s, or `heapdoc record`)");
}

void judge_next_step(struct verdict *v, const struct observation *obs)
{
	const struct pool *p = &v->pool;
	struct hb h = { .i = 0 };
	char *out = v->next_step;
	size_t len = sizeof(v->next_step);

	switch (v->kind) {
	case VERDICT_LEAK:
		snprintf(out, len, "%s", v->outside.significant && v->outside.share >= OUTSIDE_MAJORITY ?
			 "find the allocation site (heapdoc leaks <pid>), and what maps the growth "
			 "malloc does not see (the largest mappings in /proc/<pid>/smaps)" :
			 "find the allocation site: heapdoc leaks <pid> ranks the stacks whose live "
			 "bytes grow; no allocator knob fixes a leak");
		break;
	case VERDICT_FRAGMENTATION:
		fragmentation_step(v, obs, out, len);
		break;
	case VERDICT_UNPURGED:
		if (obs->alloc.kind == ALLOC_MIMALLOC)
			snprintf(out, len, "mimalloc 2.0 decommits a live thread's free pages only "
				 "when it takes a new page from their segment: the decommit delay "
				 "below returns them as they are freed, from the next start; %s",
				 judge_release_worth(v) ?
				 "heapdoc release returns those of exited threads now" :
				 "a release (mi_collect) reaches only exited threads' segments");
		else if (judge_release_worth(v))
			snprintf(out, len, "heapdoc release returns %s now; the knobs below make "
				 "the allocator return such pages on its own",
				 hb_bytes(&h, judge_release_bytes(v)));
		else
			snprintf(out, len, "the knobs below make the allocator return these pages "
				 "on its own");
		break;
	case VERDICT_LIVE_SET:
		if (p->held)
			snprintf(out, len, "the allocator has nothing free to give back: %s%s%s%s",
				 p->stats ? "ask the application (" : "ask the application's own "
				 "statistics how much of its pool is free",
				 p->stats ? p->stats : "", p->stats ? ")" : "",
				 p->size_knob ? p->size_knob : "");
		else
			snprintf(out, len, "the memory is in use: raise the limit or shrink the live "
				 "set");
		break;
	case VERDICT_HEALTHY:
		snprintf(out, len, "nothing to do for the allocator");
		break;
	case VERDICT_INCONCLUSIVE:
		inconclusive_step(v, obs, out, len);
		break;
	}
}

/* ---- an application's own pool ---------------------------------------------- */

struct pool_user {
	const char *comm;		/* the process name, as /proc shows it */
	const char *what, *stats, *size_knob;
};

static const struct pool_user pool_users[] = {
	{ "memcached", "memcached's slab allocator",
	  "echo 'stats slabs' | nc 127.0.0.1 11211: total_malloced and each class's "
	  "free_chunks", "; its -m option sizes the pool" },
	{ "mysqld", "InnoDB's buffer pool", "SHOW ENGINE INNODB STATUS, BUFFER POOL AND MEMORY",
	  "; innodb_buffer_pool_size sizes the pool" },
	{ "mariadbd", "InnoDB's buffer pool", "SHOW ENGINE INNODB STATUS, BUFFER POOL AND MEMORY",
	  "; innodb_buffer_pool_size sizes the pool" },
	{ "varnishd", "varnish's malloc storage", "varnishstat -1 -f 'SMA.*'",
	  "; -s malloc,SIZE sizes the pool" },
};

void judge_pool(const struct observation *obs, const struct verdict *v, struct pool *p)
{
	const struct alloc_summary *sum = &obs->summary;
	const struct gap *g = &v->gap;
	const struct pool_user *user = NULL;
	bool equal_blocks;

	*p = (struct pool){ .block_size = UNSET, .blocks = UNSET, .bytes = UNSET, .share = NAN };
	for (size_t i = 0; i < ARRAY_SIZE(pool_users); i++)
		if (!strcmp(obs->comm, pool_users[i].comm))
			user = &pool_users[i];
	if (user) {
		p->app = user->comm;
		p->what = user->what;
		p->stats = user->stats;
		p->size_knob = user->size_knob;
	}
	if (!g->known || !sum->valid || !g->allocated)
		return;
	if (IS_SET(sum->pool_bytes) && IS_SET(sum->pool_blocks)) {
		p->block_size = sum->pool_block_size;
		p->blocks = sum->pool_blocks;
		p->bytes = sum->pool_bytes;
		p->share = (double)sum->pool_bytes / (double)g->allocated;
	}
	equal_blocks = IS_SET(p->blocks) && p->blocks >= POOL_MIN_BLOCKS &&
		       p->bytes >= POOL_MIN_BYTES && p->share >= POOL_MIN_SHARE;
	/* The story is the pool only while malloc holds little free beside it
	 * and the pool does not grow. */
	p->held = !g->significant && v->allocated.kind != TREND_GROWING &&
		  (equal_blocks || (user && IS_SET(g->rss) &&
				    (double)g->allocated >= POOL_MIN_SHARE * (double)g->rss &&
				    g->allocated >= POOL_MIN_BYTES));
}
