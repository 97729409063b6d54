/* Fuzzer: the glibc heap walker (lib/observe/alloc/glibc_*.c) on mutated
 * heap snapshots.
 *
 * Each input is an image of a process's memory (lib/observe/target_image.h):
 * the bytes a held snapshot of a live glibc heap read, the threads' thread
 * pointers, and where main_arena, mp_ and the TLS variables are; with
 * epochs, the heap as it moved between stops.  The walk runs on it through
 * the ordinary target API, without a process: the held snapshot, the brief
 * one (two holds and a walk between them; a second look that finds arenas
 * moved walks them again), and the trend read, as stats and triage take
 * them.  Besides the sanitizers and libFuzzer's timeout (every walk is
 * bounded), what the walker promises is checked: an arena with more free
 * memory than it has is corrupt and says so; on memory that does not move
 * (one epoch) the brief snapshot agrees with the held one and the trend
 * read's allocated is the snapshot's.
 *
 * Corpus: fuzz/corpus/glibc_heap, images recorded by fuzz/record from
 * fixtures/glibc_heap's scenarios and fixtures/hostile_heap's seeds
 * (fuzz/seed.sh).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/util.h"
#include "model/alloc.h"
#include "observe/alloc/glibc.h"
#include "observe/target.h"
#include "observe/target_image.h"
#include "fuzz.h"

static void check_state(const struct glibc_state *st)
{
	struct alloc_summary sum;
	struct alloc_params params;

	FUZZ_CHECK(st->narenas <= 4096, "%zu arenas", st->narenas);
	for (size_t i = 0; i < st->narenas && !st->corrupt; i++) {
		const struct glibc_arena *a = &st->arenas[i];

		FUZZ_CHECK(a->top_size + a->fastbin_bytes + a->bin_bytes <= a->system_mem ||
			   !st->initialized,
			   "arena %zu: %llu free of %llu, yet not corrupt", i,
			   (unsigned long long)(a->top_size + a->fastbin_bytes + a->bin_bytes),
			   (unsigned long long)a->system_mem);
	}
	glibc_summarise(st, &sum, &params);
	FUZZ_CHECK(sum.corrupt == st->corrupt, "summary corrupt %d, state %d", sum.corrupt,
		   st->corrupt);
}

/* Memory that does not change: the brief snapshot sees what the held one
 * saw. */
static void check_same(const struct glibc_state *held, const struct glibc_state *brief)
{
	FUZZ_CHECK(held->corrupt == brief->corrupt, "corrupt: held %d, brief %d", held->corrupt,
		   brief->corrupt);
	if (held->corrupt)
		return;
	FUZZ_CHECK(!memcmp(&held->mi, &brief->mi, sizeof(held->mi)),
		   "mallinfo2 differs: uordblks held %llu, brief %llu",
		   (unsigned long long)held->mi.uordblks, (unsigned long long)brief->mi.uordblks);
}

/* A target on img from its first epoch on, as a process first stopped. */
static bool reopen(struct target *t, struct target_image *img)
{
	struct error err = { 0 };

	target_detach(t);
	return target_open_image(t, img, &err) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target_image *img = NULL;
	struct glibc_reader *r = NULL;
	struct glibc_state held = { 0 }, brief = { 0 };
	struct glibc_trend trend;
	struct target t = { .mem_fd = -1 };
	struct error err = { 0 };
	int rc_held, rc_brief, rc_trend;
	bool still;

	if (target_image_load(&img, data, size, &err) < 0 || glibc_open_image(&r, img, &err) < 0)
		goto out;
	still = target_image_epochs(img) == 1;
	if (!reopen(&t, img))
		goto out;
	rc_held = glibc_snapshot(r, &t, &held, &err);
	FUZZ_CHECK(rc_held <= 0 && !t.stopped, "held snapshot: %d, stopped %d", rc_held,
		   t.stopped);
	if (rc_held == 0)
		check_state(&held);
	if (!reopen(&t, img))
		goto out;
	rc_brief = glibc_snapshot_brief(r, &t, &brief, &err);
	FUZZ_CHECK(rc_brief <= 0 && !t.stopped, "brief snapshot: %d", rc_brief);
	if (rc_brief == 0)
		check_state(&brief);
	if (still && rc_held == 0 && rc_brief == 0)
		check_same(&held, &brief);
	if (!reopen(&t, img))
		goto out;
	rc_trend = glibc_trend_read(r, &t, &trend, &err);
	FUZZ_CHECK(rc_trend <= 0 && !t.stopped, "trend read: %d", rc_trend);
	if (still && rc_trend == 0 && rc_held == 0 && !held.corrupt)
		FUZZ_CHECK(trend.allocated == held.mi.uordblks + held.mi.hblkhd,
			   "trend allocated %llu, snapshot %llu",
			   (unsigned long long)trend.allocated,
			   (unsigned long long)(held.mi.uordblks + held.mi.hblkhd));
out:
	glibc_state_free(&held);
	glibc_state_free(&brief);
	target_detach(&t);
	glibc_close(r);
	target_image_free(img);
	return 0;
}
