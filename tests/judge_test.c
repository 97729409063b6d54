/* The triage judge on recorded observations: one test per verdict and per
 * rule of its later steps (the trend of a series, its first step, is
 * tests/judge_trend_test.c).  Each observation is built by hand
 * (tests/judge_obs.h, the shared shapes in tests/judge_shapes.h) and each
 * expected figure is derived in a comment, never copied from heapdoc. */
#include <stdio.h>
#include <string.h>

#include "judge/triage.h"
#include "judge_obs.h"
#include "judge_shapes.h"
#include "testlib.h"

static struct observation obs;
static struct verdict v;

#define has_evidence(needle) judge_has_evidence(&v, needle)
#define dump() judge_dump(&v)
#define assert_verdict(want) judge_assert_verdict(&v, want)

/* ---- shapes of this file (the shared ones: tests/judge_shapes.h) ----------- */

static uint64_t small_flat(double t) { (void)t; return 8 * MiB_; }
static uint64_t near_limit(double t) { return 90 * MiB_ + wobble(t, 100 * 1024); }

/* ---- verdicts ---------------------------------------------------------------- */

START_TEST(verdict_leak_with_numbers)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, leak_clean, 0, 0);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_LEAK);
	/* 100 → 148 MiB in 10 s: 48 MiB, 4.8 MiB/s. */
	ck_assert_msg(has_evidence("allocated grew 48 MiB over the 10 s window (4.8 MiB/s, "
				   "R² 1.00); in its last 3.2 s still 4.8 MiB/s"),
		      "evidence: %s", v.evidence[0]);
	ck_assert_ptr_nonnull(strstr(v.next_step, "allocation site"));
	/* 10 s is short of 30 s: the reason says no more than the window
	 * shows, and the caveat is there, with the window that would do. */
	ck_assert_str_eq(v.reason, "allocated climbed 4.8 MiB/s over the 10 s window and was "
			 "still climbing at its end");
	ck_assert(has_evidence("a cache still filling up looks like a leak over the 10 s "
			       "window; 30 s tell them apart (--duration 30s)"));
	ck_assert_double_eq(v.watch_s, 30);
	/* RSS = resident + 20 MiB: the allocator explains all of its growth. */
	ck_assert(!v.outside.significant);
	ck_assert(!has_evidence("outside glibc malloc"));

	/* A minute of steady growth needs no caveat. */
	obs_init(&obs);
	obs_sample(&obs, 61, 1.0, leak_clean, 0, 0);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_LEAK);
	ck_assert(!has_evidence("a cache still filling up"));
	ck_assert_str_eq(v.reason, "allocated climbs without bound: 4.8 MiB/s over the 60 s "
			 "window, its last 20 s too");
	ck_assert_double_eq(v.watch_s, 0);
}
END_TEST

START_TEST(verdict_plateau_is_healthy_not_leak)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, plateau, 0, 0);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_HEALTHY);
	ck_assert(has_evidence("levelled off at 90 MiB"));
}
END_TEST

START_TEST(verdict_sawtooth_is_not_leak)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, sawtooth, 0, 0);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_HEALTHY);
}
END_TEST

/* Pinning: 8 MiB live, 56 MiB free between live chunks, 48 MiB of it in
 * whole pages.  resident/allocated = 64/8 = 8.00. */
START_TEST(verdict_fragmentation_pinning)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 56 * MiB_, 0);
	obs.summary.free_interleaved = 56 * MiB_;
	obs.summary.pinned_bytes = 48 * MiB_;
	obs.summary.trimmable = 48 * MiB_;
	obs.summary.narenas = 1;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_FRAGMENTATION);
	ck_assert_str_eq(gap_kind_name(v.gap.kind), "pinning");
	ck_assert(has_evidence("8.00× allocated 8.0 MiB"));
	ck_assert(has_evidence("would return 48 MiB of RSS now"));
	ck_assert(has_evidence("48 MiB (86% of the gap) is whole free pages in RAM"));
	ck_assert_ptr_nonnull(strstr(v.next_step, "heapdoc release returns 48 MiB"));
}
END_TEST

/* The same 56 MiB, of which 50 MiB is one free run under a live 1008-byte
 * chunk at the top of the heap: the line names the chunk and the run.
 * Under 8 MiB it is not worth a line; a chunk in a thread cache is not
 * called live. */
START_TEST(top_held_by_a_live_chunk)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 56 * MiB_, 0);
	obs.summary.free_interleaved = 56 * MiB_;
	obs.summary.pinned_bytes = 48 * MiB_;
	obs.summary.top_held_bytes = obs.summary.top_held_by_free = 50 * MiB_;
	obs.summary.top_held_by = 0x55d1a079f290;
	obs.summary.top_held_by_size = 1008;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_FRAGMENTATION);
	ck_assert(has_evidence("a live 1008 B chunk at 0x55d1a079f290 just below the top holds "
			       "50 MiB of free space away from the top: free()ing it — or "
			       "malloc_trim(0) — would return it"));

	/* A second arena holds 6 MiB more under its own top. */
	obs.summary.top_held_bytes = 56 * MiB_;
	judge_triage(&obs, &v);
	ck_assert(has_evidence("holds 50 MiB of free space away from the top (56 MiB over "
			       "all arenas)"));

	obs.summary.top_held_by_cached = true;
	judge_triage(&obs, &v);
	ck_assert(has_evidence("a thread-cached 1008 B chunk at 0x55d1a079f290"));
	ck_assert(!has_evidence("a live 1008 B chunk"));

	obs.summary.top_held_bytes = obs.summary.top_held_by_free = 4 * MiB_;
	judge_triage(&obs, &v);
	ck_assert(!has_evidence("just below the top"));
}
END_TEST

/* Size classes: 30 of 40 MiB free sit in 200 000 chunks under 1 KiB. */
START_TEST(verdict_fragmentation_size_class)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 40 * MiB_, 0);
	obs.summary.free_interleaved = 40 * MiB_;
	obs.summary.free_small_chunks = 200000;
	obs.summary.free_small_bytes = 30 * MiB_;
	obs.summary.largest_free = 4096;
	obs.summary.narenas = 1;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_FRAGMENTATION);
	ck_assert_str_eq(gap_kind_name(v.gap.kind), "size-class");
	ck_assert(has_evidence("30 MiB (75% of the gap) is in 200000 free chunks under 1 KiB"));
	/* No whole page among them: no release call is promised. */
	ck_assert_ptr_null(strstr(v.next_step, "heapdoc release"));
	ck_assert_ptr_nonnull(strstr(v.next_step, "no release call returns"));
}
END_TEST

/* Retention across arenas: 16 arenas on a container with 2 CPUs, whose
 * threads took turns (their own peaks add up to 48 MiB, 8 MiB at once):
 * the label is arenas, with 40 of the 40 MiB gap theirs to share.  The
 * same arenas peaking together are pinning: a cap would not help. */
START_TEST(verdict_fragmentation_arenas)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 40 * MiB_, 0);
	obs.summary.free_interleaved = 40 * MiB_;
	obs.summary.pinned_bytes = 36 * MiB_;
	obs.summary.narenas = 16;
	obs.summary.arena_peak_sum = 48 * MiB_;
	obs.summary.arena_peak_once = 8 * MiB_;
	obs.summary.arena_samples = 41;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_FRAGMENTATION);
	ck_assert_str_eq(gap_kind_name(v.gap.kind), "arenas");
	ck_assert(has_evidence("the threads took turns: over 41 reads the 16 arenas' own peaks "
			       "add up to 48 MiB, but at most 8.0 MiB was in use at once"));

	obs.summary.arena_peak_once = 48 * MiB_;
	judge_triage(&obs, &v);
	ck_assert_str_eq(gap_kind_name(v.gap.kind), "pinning");
	ck_assert(has_evidence("no sign of threads taking turns, so a cap on arenas would not"));
}
END_TEST

/* jemalloc: slabs 1/8 full (7 of every 8 regions freed). */
START_TEST(verdict_fragmentation_half_empty_slabs)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 32 * MiB_, 0);
	obs.alloc.kind = ALLOC_JEMALLOC;
	obs.summary.free_interleaved = 32 * MiB_;
	obs.summary.slab_utilisation = 0.125;
	obs.summary.narenas = 9;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_FRAGMENTATION);
	ck_assert_str_eq(gap_kind_name(v.gap.kind), "size-class");
	ck_assert(has_evidence("slabs are 12% full: 88% of their regions are free"));
	/* 9 arenas = 4 × 2 CPUs + 1: jemalloc's own shape, not retention. */
	ck_assert(!v.gap.too_many_arenas);
}
END_TEST

/* Unpurged: 56 MiB free at the top of the heap, 1 MiB between chunks. */
START_TEST(verdict_unpurged)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 57 * MiB_, 0);
	obs.summary.free_releasable = 56 * MiB_;
	obs.summary.free_interleaved = 1 * MiB_;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_UNPURGED);
	ck_assert(has_evidence("is whole free pages apart from live data "
			       "(the top chunk above the pad)"));
}
END_TEST

/* A gap of 6 MiB on 14 MiB resident is 43%, but under the 8 MiB floor. */
START_TEST(verdict_small_gap_is_healthy)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 6 * MiB_, 0);
	obs.summary.free_interleaved = 6 * MiB_;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_HEALTHY);
	ck_assert(!v.gap.significant);
}
END_TEST

START_TEST(verdict_healthy)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat, 2 * MiB_, 0);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_HEALTHY);
	ck_assert(has_evidence("≈ resident"));
}
END_TEST

/* 90 MiB used of a 100 MiB cgroup limit (cgroup usage 92 MiB, 2 MiB of it
 * inactive page cache): working set 90/100 = 90% ≥ 85%. */
START_TEST(verdict_live_set_near_cgroup_limit)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, near_limit, 1 * MiB_, 0);
	obs.cgroup.memory_max = 100 * MiB_;
	obs.cgroup.memory_current = 92 * MiB_;
	obs.cgroup.inactive_file = 2 * MiB_;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_LIVE_SET);
	ck_assert_double_eq_tol(v.pressure.ratio, 0.90, 0.001);
	ck_assert(has_evidence("90% of cgroup memory.max 100 MiB"));
}
END_TEST

/* The same cgroup usage, but 40 MiB of it is page cache the kernel can drop:
 * working set 52/100 — not near the limit. */
START_TEST(verdict_page_cache_does_not_count_toward_the_limit)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, near_limit, 1 * MiB_, 0);
	obs.cgroup.memory_max = 100 * MiB_;
	obs.cgroup.memory_current = 92 * MiB_;
	obs.cgroup.inactive_file = 40 * MiB_;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_HEALTHY);
}
END_TEST

/* A leak at 4.8 MiB/s with 148 MiB used of 200 MiB: 52 MiB left,
 * 52 / 4.8 = 10.8 s to the limit. */
START_TEST(verdict_leak_says_time_to_limit)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, leak_clean, 0, 0);
	obs.cgroup.memory_max = 200 * MiB_;
	obs.cgroup.memory_current = 148 * MiB_;
	obs.cgroup.inactive_file = 0;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_LEAK);
	ck_assert(has_evidence("the limit is reached in about 11 s"));
}
END_TEST

START_TEST(verdict_no_allocator_view_rss_growing)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, NULL, 0, 0);
	for (size_t i = 0; i < obs.nsamples; i++)
		obs.samples[i].rss = leak_clean(obs.samples[i].t);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
	ck_assert_str_eq(verdict_name(v.leaning), "leak");
	ck_assert_ptr_nonnull(strstr(v.reason, "libc6-dbg"));
	ck_assert(has_evidence("RSS grew 48 MiB"));
}
END_TEST

START_TEST(verdict_no_allocator_view_flat)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, NULL, 0, 0);
	obs.alloc.kind = ALLOC_MIMALLOC;
	obs.summary.why_invalid[0] = '\0';
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
	/* What could not be seen is not guessed at: no leaning to healthy. */
	ck_assert_str_eq(verdict_name(v.leaning), "inconclusive");
	ck_assert_ptr_nonnull(strstr(v.reason, "mimalloc"));
	ck_assert_ptr_nonnull(strstr(v.reason, "could not be judged"));
}
END_TEST

/* RSS climbs 4.8 MiB/s while allocated and resident stay flat: growth in
 * memory glibc does not own (a direct mmap, another allocator). */
START_TEST(verdict_growth_outside_the_allocator)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 0, 0);
	for (size_t i = 0; i < obs.nsamples; i++)
		obs.samples[i].rss = leak_clean(obs.samples[i].t);
	obs.status.vm_rss = obs.samples[obs.nsamples - 1].rss;
	/* smaps at both ends: the 8 MiB heap, the rest other anonymous
	 * memory, 100 → 148 MiB of RSS. */
	obs.split_first = (struct rss_split){ .brk_heap = 8 * MiB_, .other_anon = 92 * MiB_,
					      .total = 100 * MiB_ };
	obs.split = (struct rss_split){ .brk_heap = 8 * MiB_, .other_anon = 140 * MiB_,
					.total = 148 * MiB_ };
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
	ck_assert_str_eq(verdict_name(v.leaning), "leak");
	ck_assert_str_eq(v.reason, "RSS climbs 4.8 MiB/s outside the allocator's view: "
			 "allocated is 8.0 MiB (flat) while other anonymous memory grows");
	/* None of the 4.8 MiB/s is the allocator's (resident is flat at
	 * 8 MiB, slope 0); other anonymous memory went 92 → 140 MiB. */
	ck_assert(has_evidence("RSS grows 4.8 MiB/s but the allocator's resident memory only "
			       "0 B/s: 100% of the growth is outside glibc malloc (other "
			       "anonymous memory +48 MiB: another allocator"));
	ck_assert_ptr_nonnull(strstr(v.next_step, "smaps"));

	/* Without smaps at the start the line stands, without naming what grew. */
	obs.split_first.total = UNSET;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
	ck_assert(has_evidence("100% of the growth is outside glibc malloc"));
	ck_assert(!has_evidence("other anonymous memory +"));
}
END_TEST

/* The Python case: objects live in pymalloc's own mmapped arenas.  Over
 * 5 s glibc's allocated grows 1.6 MiB/s (a leak) and its resident
 * 1.4 MiB/s, while RSS grows 25 MiB/s.  The allocator explains at most the
 * faster, 1.6 of 25: (25 − 1.6) / 25 = 93.6% is outside it.  RSS at the
 * start is 100 MiB of heap + 20 MiB other; at the end 107 MiB of heap
 * (resident 100 + 5 × 1.4) and 245 − 107 = 138 MiB other: +118 MiB. */
static uint64_t python_allocated(double t) { return 100 * MiB_ + (uint64_t)(1.6 * MiB_ * t); }

START_TEST(verdict_leak_mostly_outside_the_allocator)
{
	obs_init(&obs);
	obs_sample(&obs, 21, 0.25, python_allocated, 0, 0);
	for (size_t i = 0; i < obs.nsamples; i++) {
		double t = obs.samples[i].t;

		obs.samples[i].resident = 100 * MiB_ + (uint64_t)(1.4 * MiB_ * t);
		obs.samples[i].rss = 120 * MiB_ + (uint64_t)(25 * MiB_ * t);
	}
	obs.summary.resident = obs.samples[obs.nsamples - 1].resident;
	obs.status.vm_rss = obs.samples[obs.nsamples - 1].rss;
	obs.split_first = (struct rss_split){ .brk_heap = 100 * MiB_, .other_anon = 20 * MiB_,
					      .total = 120 * MiB_ };
	obs.split = (struct rss_split){ .brk_heap = 107 * MiB_, .other_anon = 138 * MiB_,
					.total = 245 * MiB_ };
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_LEAK);
	ck_assert(has_evidence("RSS grows 25 MiB/s but the allocator's allocated bytes only "
			       "1.6 MiB/s: 94% of the growth is outside glibc malloc (other "
			       "anonymous memory +118 MiB: another allocator such as pymalloc "
			       "or a JIT, or direct mmap)"));
	ck_assert_ptr_nonnull(strstr(v.next_step, "growth malloc does not see"));
}
END_TEST

/* resident climbs 0.5 MiB/s over a flat 64 MiB allocated: after 10 s the
 * gap is 5 MiB, under the 8 MiB floor, but it is opening. */
START_TEST(verdict_gap_opening)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 0, 0);
	for (size_t i = 0; i < obs.nsamples; i++) {
		obs.samples[i].allocated = 64 * MiB_;
		obs.samples[i].resident = 64 * MiB_ + (uint64_t)(0.5 * MiB_ * obs.samples[i].t);
	}
	obs.summary.allocated = 64 * MiB_;
	obs.summary.resident = obs.samples[40].resident;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
	ck_assert_str_eq(verdict_name(v.leaning), "fragmentation");
	ck_assert_ptr_nonnull(strstr(v.reason, "a gap is opening"));
}
END_TEST

/* One snapshot (--once): a gap is a fact of the moment and still decides;
 * health needs a trend and does not. */
START_TEST(verdict_once_decides_gap_but_not_health)
{
	obs_init(&obs);
	obs_sample(&obs, 1, 0.25, small_flat, 56 * MiB_, 0);
	obs.summary.free_interleaved = 56 * MiB_;
	obs.summary.pinned_bytes = 50 * MiB_;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_FRAGMENTATION);
	ck_assert(has_evidence("trend unknown"));

	obs_init(&obs);
	obs_sample(&obs, 1, 0.25, small_flat, 0, 0);
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
	ck_assert_str_eq(verdict_name(v.leaning), "healthy");
}
END_TEST

START_TEST(verdict_nothing_sampled)
{
	obs_init(&obs);
	obs.summary.valid = false;
	judge_triage(&obs, &v);
	assert_verdict(VERDICT_INCONCLUSIVE);
}
END_TEST

/* ---- step 4 ------------------------------------------------------------------ */

START_TEST(slow_path_shares)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat, 0, 0);
	obs.latency = (struct latency){ .sampled = true, .samples = 200, .in_allocator = 60,
					.in_mm_syscall = 20, .in_lock_wait = 4 };
	snprintf(obs.latency.top_frame, sizeof(obs.latency.top_frame), "_int_malloc");
	judge_triage(&obs, &v);
	/* 60/200 = 30%, 20/200 = 10%, 4/200 = 2%. */
	ck_assert(v.slow.hot);
	ck_assert(has_evidence("30% of 200 stack samples in the allocator (most often _int_malloc)"));
	ck_assert(has_evidence("10% in mmap/munmap/madvise/brk, 2% waiting"));
}
END_TEST

/* 32 000 faults/s is a storm (≥ 10 000/s) and calls for stack sampling;
 * 100/s is not. */
START_TEST(fault_rate_calls_for_latency)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat, 0, 32000);
	ck_assert(judge_wants_latency(&obs));
	judge_triage(&obs, &v);
	ck_assert_double_eq_tol(v.slow.fault_rate, 32000, 1);
	ck_assert(has_evidence("32000 minor page faults/s"));

	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, flat, 0, 100);
	ck_assert(!judge_wants_latency(&obs));
}
END_TEST

/* Step 2: RSS split from smaps; the allocator's share is its resident. */
START_TEST(rss_split_by_owner)
{
	obs_init(&obs);
	obs_sample(&obs, 41, 0.25, small_flat, 0, 0);
	obs.split = (struct rss_split){ .brk_heap = 9 * MiB_, .arena_heaps = 0,
					.stacks = 1 * MiB_, .other_anon = 3 * MiB_,
					.file = 12 * MiB_, .shmem = 2 * MiB_ };
	obs.split.total = 27 * MiB_;
	judge_triage(&obs, &v);
	/* anonymous 9 + 3 = 12 MiB, allocator's resident 8 MiB: 4 MiB other. */
	ck_assert_uint_eq(v.gap.alloc_owned, 8 * MiB_);
	ck_assert_uint_eq(v.gap.other_anon, 4 * MiB_);
	ck_assert(has_evidence("allocator 8.0 MiB, other anonymous 4.0 MiB, file 12 MiB"));
}
END_TEST

Suite *judge_suite(void)
{
	Suite *s = suite_create("judge");
	TCase *verdict = tcase_create("verdict");
	TCase *steps = tcase_create("steps");

	tcase_add_test(verdict, verdict_leak_with_numbers);
	tcase_add_test(verdict, verdict_plateau_is_healthy_not_leak);
	tcase_add_test(verdict, verdict_sawtooth_is_not_leak);
	tcase_add_test(verdict, verdict_fragmentation_pinning);
	tcase_add_test(verdict, verdict_fragmentation_size_class);
	tcase_add_test(verdict, verdict_fragmentation_arenas);
	tcase_add_test(verdict, verdict_fragmentation_half_empty_slabs);
	tcase_add_test(verdict, verdict_unpurged);
	tcase_add_test(verdict, verdict_small_gap_is_healthy);
	tcase_add_test(verdict, verdict_healthy);
	tcase_add_test(verdict, verdict_live_set_near_cgroup_limit);
	tcase_add_test(verdict, verdict_page_cache_does_not_count_toward_the_limit);
	tcase_add_test(verdict, verdict_leak_says_time_to_limit);
	tcase_add_test(verdict, verdict_no_allocator_view_rss_growing);
	tcase_add_test(verdict, verdict_no_allocator_view_flat);
	tcase_add_test(verdict, verdict_growth_outside_the_allocator);
	tcase_add_test(verdict, verdict_leak_mostly_outside_the_allocator);
	tcase_add_test(verdict, verdict_gap_opening);
	tcase_add_test(verdict, verdict_once_decides_gap_but_not_health);
	tcase_add_test(verdict, verdict_nothing_sampled);
	suite_add_tcase(s, verdict);

	tcase_add_test(steps, slow_path_shares);
	tcase_add_test(steps, fault_rate_calls_for_latency);
	tcase_add_test(steps, rss_split_by_owner);
	tcase_add_test(steps, top_held_by_a_live_chunk);
	suite_add_tcase(s, steps);
	return s;
}
