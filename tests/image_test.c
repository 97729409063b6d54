/* Images of a target's memory (lib/observe/target_image.h): reads served
 * like a process's, the saved form and back, and the glibc walk replayed
 * offline giving what the same walk gave on the live fixture it was
 * recorded from (the heap fuzzer's ground: fuzz/glibc_heap.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "observe/alloc/glibc.h"
#include "observe/target.h"
#include "observe/target_image.h"
#include "testlib.h"

static struct target_image *new_image(void)
{
	struct target_image *img;
	struct error e = { 0 };

	ck_assert_msg(target_image_new(&img, &e) == 0, "%s", e.msg);
	return img;
}

/* Saved and loaded again: what a fuzzer input is. */
static struct target_image *round_trip(struct target_image *img)
{
	struct target_image *back;
	struct error e = { 0 };
	unsigned char *buf;
	size_t len;

	ck_assert_msg(target_image_save(img, &buf, &len, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_image_load(&back, buf, len, &e) == 0, "%s", e.msg);
	free(buf);
	target_image_free(img);
	return back;
}

START_TEST(image_reads_like_a_process)
{
	struct target_image *img = new_image();
	unsigned char a[64], b[32], got[200];
	struct target t;
	struct error e = { 0 };

	memset(a, 0xaa, sizeof(a));
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)i;
	/* [0x1000, 0x1040) and [0x1040, 0x1060) touching it, then a gap; a
	 * segment across both loses what they hold (the lower start wins);
	 * 200 zero bytes (saved as a fill) at 0x2000. */
	ck_assert_int_eq(target_image_add(img, 0x1040, b, sizeof(b)), 0);
	ck_assert_int_eq(target_image_add(img, 0x1000, a, sizeof(a)), 0);
	ck_assert_int_eq(target_image_add(img, 0x1030, b, sizeof(b)), 0);
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(target_image_add(img, 0x2000, got, sizeof(got)), 0);
	ck_assert_int_eq(target_image_add_thread(img, 42, 0x7f0000001000ULL), 0);
	ck_assert_int_eq(target_image_set_note(img, "glibc.mp", 0x1234), 0);
	img = round_trip(img);

	ck_assert_msg(target_open_image(&t, img, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(t.pid, 0);
	ck_assert_int_eq(target_direct_pid(&t), 0);
	/* Across the two touching segments, short at the gap after them. */
	ck_assert_int_eq(target_read(&t, 0x1020, got, sizeof(got), &e), 0x40);
	ck_assert_int_eq(got[0], 0xaa);
	ck_assert_int_eq(got[0x1f], 0xaa);
	ck_assert_int_eq(got[0x20], 16);	/* b from 0x1030, cut to 0x1040 */
	ck_assert_int_eq(got[0x2f], 31);
	ck_assert_int_eq(got[0x30], 16);	/* b at 0x1040, cut to 0x1050 */
	ck_assert_int_eq(got[0x3f], 31);
	/* Nothing there: -EFAULT, as at an unmapped page. */
	ck_assert_int_eq(target_read(&t, 0x1800, got, 8, &e), -EFAULT);
	ck_assert_int_eq(target_read_exact(&t, 0x1050, got, 64, &e), -EFAULT);
	ck_assert_int_eq(target_read_exact(&t, 0x2000 + 190, got, 10, &e), 0);
	{
		uint64_t v;

		ck_assert(target_image_note(img, "glibc.mp", &v));
		ck_assert_uint_eq(v, 0x1234);
		ck_assert(!target_image_note(img, "glibc.main_arena", &v));
	}
	target_detach(&t);
	target_image_free(img);
}
END_TEST

START_TEST(image_threads_hold_without_a_process)
{
	struct target_image *img = new_image();
	struct user_regs_struct regs;
	struct target t;
	struct error e = { 0 };

	ck_assert_int_eq(target_image_add_thread(img, 7, 0x7000), 0);
	ck_assert_int_eq(target_image_add_thread(img, 5, 0x5000), 0);
	ck_assert_int_eq(target_image_add_thread(img, 7, 0x7100), 0);	/* the last word wins */
	img = round_trip(img);
	ck_assert_msg(target_open_image(&t, img, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(t.nthreads, 2);
	/* Registers only of a held thread, as with a process. */
	ck_assert_int_eq(target_get_regs(&t, 7, &regs, &e), -EBUSY);
	ck_assert_int_eq(target_stop(&t, &e), 0);
	ck_assert(t.stopped);
	ck_assert_int_eq(target_get_regs(&t, 7, &regs, &e), 0);
	ck_assert_uint_eq(regs.fs_base, 0x7100);
	ck_assert_uint_eq(regs.rip, 0);
	ck_assert_int_eq(target_get_regs(&t, 6, &regs, &e), -ESRCH);
	ck_assert_int_eq(target_resume(&t, &e), 0);
	ck_assert(!t.stopped && !t.threads[0].stopped);
	target_detach(&t);
	target_image_free(img);
}
END_TEST

/* A process runs between two stops: epoch 0 until the second stop, then
 * epoch 1's bytes over epoch 0's. */
START_TEST(image_epochs_move_at_each_stop)
{
	struct target_image *img = new_image();
	unsigned char a[256], b[64], got[256];
	struct target t;
	struct error e = { 0 };
	unsigned char *buf;
	size_t len, len_one;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 7);
	memset(b, 0xbb, sizeof(b));
	ck_assert_int_eq(target_image_add(img, 0x1000, a, sizeof(a)), 0);
	ck_assert_msg(target_image_save(img, &buf, &len_one, &e) == 0, "%s", e.msg);
	free(buf);
	ck_assert_int_eq(target_image_next_epoch(img), 0);
	/* Epoch 1 reads the whole range again; only 64 bytes changed. */
	memcpy(got, a, sizeof(a));
	memcpy(got + 64, b, sizeof(b));
	ck_assert_int_eq(target_image_add(img, 0x1000, got, sizeof(got)), 0);
	ck_assert_int_eq(target_image_add(img, 0x3000, b, sizeof(b)), 0);
	ck_assert_msg(target_image_save(img, &buf, &len, &e) == 0, "%s", e.msg);
	free(buf);
	/* Saved: what did not change is not written twice. */
	ck_assert_uint_lt(len - len_one, 2 * sizeof(b) + 64);
	img = round_trip(img);
	ck_assert_uint_eq(target_image_epochs(img), 2);

	ck_assert_msg(target_open_image(&t, img, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(target_stop(&t, &e), 0);		/* the first stop: epoch 0 */
	ck_assert_int_eq(target_read(&t, 0x1000, got, sizeof(got), &e), sizeof(got));
	ck_assert(!memcmp(got, a, sizeof(a)));
	ck_assert_int_eq(target_read(&t, 0x3000, got, 8, &e), -EFAULT);
	ck_assert_int_eq(target_resume(&t, &e), 0);
	ck_assert_int_eq(target_read(&t, 0x1040, got, 8, &e), 8);	/* running: still 0 */
	ck_assert_int_eq(got[0], a[0x40]);
	ck_assert_int_eq(target_stop(&t, &e), 0);		/* the second: epoch 1 */
	ck_assert_int_eq(target_read(&t, 0x1000, got, sizeof(got), &e), sizeof(got));
	ck_assert(!memcmp(got, a, 64) && !memcmp(got + 64, b, 64) && !memcmp(got + 128, a + 128, 128));
	ck_assert_int_eq(target_read(&t, 0x3000, got, 64, &e), 64);
	ck_assert_int_eq(got[63], 0xbb);
	ck_assert_int_eq(target_resume(&t, &e), 0);
	ck_assert_int_eq(target_stop(&t, &e), 0);		/* no third: stays at 1 */
	ck_assert_int_eq(target_read(&t, 0x3000, got, 1, &e), 1);
	target_detach(&t);
	/* Opened again, it starts over. */
	ck_assert_msg(target_open_image(&t, img, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(target_read(&t, 0x3000, got, 1, &e), -EFAULT);
	target_detach(&t);
	target_image_free(img);
}
END_TEST

/* Any bytes after the magic load as some image: what a fuzzer writes. */
START_TEST(image_load_takes_any_bytes)
{
	static const unsigned char cut[] = "HDIMAGE1M\x10\x00\x00\x00\x00\x00\x00\x00\xff\xff";
	static const unsigned char wraps[] = "HDIMAGE1F\xf0\xff\xff\xff\xff\xff\xff\xff"
					     "\x00\x01\x00\x00\x5a";
	struct target_image *img;
	struct target t;
	struct error e = { 0 };
	unsigned char got[16];

	ck_assert_int_eq(target_image_load(&img, "HDIMAGE", 7, &e), -EINVAL);
	ck_assert_int_eq(target_image_load(&img, "ELF\x7f....", 8, &e), -EINVAL);
	/* A record cut short ends the image. */
	ck_assert_int_eq(target_image_load(&img, cut, sizeof(cut) - 1, &e), 0);
	ck_assert_int_eq(target_open_image(&t, img, &e), 0);
	ck_assert_int_eq(target_read(&t, 0x10, got, 1, &e), -EFAULT);
	target_detach(&t);
	target_image_free(img);
	/* A segment at the top of the address space stops short of wrapping. */
	ck_assert_int_eq(target_image_load(&img, wraps, sizeof(wraps) - 1, &e), 0);
	ck_assert_int_eq(target_open_image(&t, img, &e), 0);
	ck_assert_int_eq(target_read(&t, 0xfffffffffffffff0ULL, got, 8, &e), 8);
	ck_assert_int_eq(got[0], 0x5a);
	target_detach(&t);
	target_image_free(img);
}
END_TEST

/* ---- the glibc walk, live and replayed ---------------------------------- */

/* The live walk of f recording into img, and its result. */
static void record(struct fixture *f, struct target_image *img, struct glibc_state *st)
{
	struct glibc_reader *r;
	struct target t = { .mem_fd = -1 };
	struct error e = { 0 };

	ck_assert_msg(glibc_open(&r, f->pid, NULL, &e) == 0, "%s", e.msg);
	ck_assert_msg(glibc_image_notes(r, img, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_attach(&t, f->pid, &e) == 0, "%s", e.msg);
	target_record(&t, img);
	ck_assert_msg(glibc_snapshot(r, &t, st, &e) == 0, "%s", e.msg);
	target_detach(&t);
	glibc_close(r);
}

static void replay(struct target_image *img, struct glibc_state *st)
{
	struct glibc_reader *r;
	struct target t;
	struct error e = { 0 };

	ck_assert_msg(glibc_open_image(&r, img, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_open_image(&t, img, &e) == 0, "%s", e.msg);
	ck_assert_msg(glibc_snapshot(r, &t, st, &e) == 0, "%s", e.msg);
	ck_assert(!t.stopped);
	target_detach(&t);
	glibc_close(r);
}

static void check_replay(const char *scenario)
{
	const char *args[] = { scenario, NULL };
	struct target_image *img = new_image();
	struct glibc_state live, off;
	struct fixture f;

	fixture_start(&f, "glibc_heap", args, NULL);
	record(&f, img, &live);
	fixture_stop(&f);	/* the replay reads no process */
	img = round_trip(img);
	replay(img, &off);
	ck_assert_msg(!live.corrupt && !off.corrupt, "%s: corrupt live %d, offline %d (%s)",
		      scenario, live.corrupt, off.corrupt, off.findings[0].what);
	ck_assert_msg(!memcmp(&live.mi, &off.mi, sizeof(live.mi)),
		      "%s: mallinfo2 live uordblks %llu fordblks %llu, offline %llu %llu", scenario,
		      (unsigned long long)live.mi.uordblks, (unsigned long long)live.mi.fordblks,
		      (unsigned long long)off.mi.uordblks, (unsigned long long)off.mi.fordblks);
	ck_assert_uint_eq(off.narenas, live.narenas);
	ck_assert_uint_eq(off.ntcaches, live.ntcaches);
	for (size_t i = 0; i < live.ntcaches; i++) {
		ck_assert_int_eq(off.tcaches[i].tid, live.tcaches[i].tid);
		ck_assert_uint_eq(off.tcaches[i].chunks, live.tcaches[i].chunks);
		ck_assert_uint_eq(off.tcaches[i].bytes, live.tcaches[i].bytes);
	}
	ck_assert_uint_eq(off.free_interleaved, live.free_interleaved);
	ck_assert_uint_eq(off.trimmable, live.trimmable);
	glibc_state_free(&live);
	glibc_state_free(&off);
	target_image_free(img);
}

START_TEST(replay_matches_live_caches) { check_replay("caches"); }
END_TEST
START_TEST(replay_matches_live_arenas) { check_replay("threads"); }
END_TEST
START_TEST(replay_matches_live_bins) { check_replay("single"); }
END_TEST

Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *unit = tcase_create("image");
	TCase *live = tcase_create("replay");

	tcase_add_test(unit, image_reads_like_a_process);
	tcase_add_test(unit, image_threads_hold_without_a_process);
	tcase_add_test(unit, image_epochs_move_at_each_stop);
	tcase_add_test(unit, image_load_takes_any_bytes);
	suite_add_tcase(s, unit);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, replay_matches_live_caches);
	tcase_add_test(live, replay_matches_live_arenas);
	tcase_add_test(live, replay_matches_live_bins);
	suite_add_tcase(s, live);
	return s;
}
