/* lib/observe/target: holding a live process without it noticing:
 * attach, stop, read, resume and detach, a hundred times over, with
 * threads coming and going, a thread that cannot stop, and attachments
 * refused.  Signals and exits around a held process: target_signals_test.c.
 *
 * The truth is the fixture's own: busy_threads counts every EINTR, short
 * sleep, corrupted block and SIGUSR1 it sees, and prints the address and
 * checksum of a buffer it filled itself.  The kernel is the other witness:
 * /proc/<pid>/status TracerPid and each thread's state letter
 * (target_witness.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "observe/target.h"
#include "testlib.h"
#include "target_witness.h"

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

START_TEST(attach_stop_read_resume_detach)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };
	unsigned char *buf;
	size_t len;
	long long rounds;

	fixture_start(&f, "busy_threads", NULL, NULL);
	sleep_ms(50);
	len = (size_t)fixture_value(&f, "buffer_len");
	rounds = fixture_value(&f, "alloc_rounds");
	buf = malloc(len);

	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(tracer_pid(f.pid), getpid());
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(t.nthreads, fixture_value(&f, "threads"));
	each_thread(f.pid, expect_state, "t");

	ck_assert_int_eq(target_read(&t, fixture_value(&f, "buffer_addr"), buf, len, &err),
			 (ssize_t)len);
	ck_assert_uint_eq(fnv1a(buf, len), (uint64_t)fixture_value(&f, "buffer_sum"));

	ck_assert_msg(target_resume(&t, &err) == 0, "%s", err.msg);
	target_detach(&t);
	target_detach(&t);	/* twice is harmless */
	assert_free(f.pid);
	sleep_ms(450);		/* past at least one whole nanosleep */
	assert_undisturbed(&f, rounds);
	free(buf);
	fixture_stop(&f);
}
END_TEST

START_TEST(hundred_stops_in_one_attachment)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };
	long long rounds;

	fixture_start(&f, "busy_threads", NULL, NULL);
	rounds = fixture_value(&f, "alloc_rounds");
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	for (int i = 0; i < 100; i++) {
		ck_assert_msg(target_stop(&t, &err) == 0, "stop %d: %s", i, err.msg);
		ck_assert_int_eq(t.nthreads, 6);
		ck_assert_msg(target_resume(&t, &err) == 0, "resume %d: %s", i, err.msg);
		sleep_ms(1);
	}
	ck_assert_uint_eq(t.stops, 100);
	/* Not an assertion: the machine is shared.  The figure for the log. */
	printf("target: stop+resume of a 6-thread process: last %llu us, "
	       "mean %llu us, max %llu us over %u stops\n",
	       (unsigned long long)t.pause_us_last,
	       (unsigned long long)(t.pause_us_total / t.stops),
	       (unsigned long long)t.pause_us_max, t.stops);
	target_detach(&t);
	assert_free(f.pid);
	sleep_ms(450);
	assert_undisturbed(&f, rounds);
	fixture_stop(&f);
}
END_TEST

START_TEST(hundred_attachments)
{
	struct fixture f;
	struct error err = { 0 };
	long long rounds;

	fixture_start(&f, "busy_threads", NULL, NULL);
	rounds = fixture_value(&f, "alloc_rounds");
	for (int i = 0; i < 100; i++) {
		struct target t;

		ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach %d: %s", i, err.msg);
		/* Half the time detach straight from running-while-traced. */
		if (i % 2)
			ck_assert_msg(target_stop(&t, &err) == 0, "stop %d: %s", i, err.msg);
		target_detach(&t);
		ck_assert_int_eq(tracer_pid(f.pid), 0);
	}
	assert_free(f.pid);
	sleep_ms(450);
	assert_undisturbed(&f, rounds);
	fixture_stop(&f);
}
END_TEST

START_TEST(reads_known_and_unmapped_memory)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };
	unsigned char page[8192];
	uint64_t hole;

	fixture_start(&f, "busy_threads", NULL, NULL);
	hole = (uint64_t)fixture_value(&f, "hole_addr");
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);

	/* Reads need no stop; the page before the hole is mapped. */
	ck_assert_int_eq(target_read(&t, hole - 4096, page, sizeof(page), &err), 4096);
	ck_assert_int_eq(page[0], 1);	/* the fixture wrote it */
	ck_assert_int_eq(target_read(&t, hole, page, 16, &err), -EFAULT);
	ck_assert_int_eq(target_read_exact(&t, hole - 4096, page, sizeof(page), &err), -EFAULT);
	ck_assert_ptr_nonnull(strstr(err.msg, "4096 of 8192"));
	ck_assert_int_eq(target_read(&t, 0, page, 16, &err), -EFAULT);
	ck_assert_int_eq(target_read(&t, UINT64_MAX - 8, page, 16, &err), -EFAULT);
	ck_assert_int_eq(target_read_exact(&t, hole - 16, page, 16, &err), 0);
	target_detach(&t);
	assert_free(f.pid);
	fixture_stop(&f);
}
END_TEST

START_TEST(attach_errors_name_the_cause)
{
	struct target t;
	struct error err = { 0 };
	struct fixture f;
	int ready[2];
	pid_t gone, other;
	char c;

	/* A pid that was just reaped. */
	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	ck_assert_int_eq(target_attach(&t, gone, &err), -ESRCH);
	target_detach(&t);

	/* A zombie. */
	gone = fork();
	if (gone == 0)
		_exit(0);
	sleep_ms(50);
	ck_assert_int_eq(target_attach(&t, gone, &err), -ESRCH);
	ck_assert_ptr_nonnull(strstr(err.msg, "zombie"));
	waitpid(gone, NULL, 0);

	/* Already traced by someone else: the message names the tracer. */
	fixture_start(&f, "busy_threads", NULL, NULL);
	ck_assert_int_eq(pipe(ready), 0);
	other = fork();
	if (other == 0) {
		struct target mine;

		if (target_attach(&mine, f.pid, &err) < 0)
			_exit(1);
		ck_assert_int_eq(write(ready[1], "x", 1), 1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(target_attach(&t, f.pid, &err), -EPERM);
	{
		char want[64];

		snprintf(want, sizeof(want), "already traced by pid %d", other);
		ck_assert_msg(strstr(err.msg, want), "message: %s", err.msg);
	}
	ck_assert_int_eq(t.attached, false);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	assert_free(f.pid);
	fixture_stop(&f);
}
END_TEST

static bool held_by(const struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return t->threads[i].stopped;
	return false;
}

/* While held, every thread the kernel lists is one we hold (in a tracing
 * stop), or one already dead: none is running behind our back. */
START_TEST(churning_threads_are_all_held)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };
	static pid_t tids[4096];
	long long spawned;

	fixture_start(&f, "thread_churn", NULL, NULL);
	spawned = fixture_value(&f, "spawned");
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	for (int round = 0; round < 50; round++) {
		int n, held = 0;

		ck_assert_msg(target_stop(&t, &err) == 0, "round %d: %s", round, err.msg);
		n = list_tids(f.pid, tids, 4096);
		for (int i = 0; i < n; i++) {
			char s = thread_state(f.pid, tids[i]);

			if (s == 0 || s == 'Z' || s == 'X')
				continue;
			ck_assert_msg(held_by(&t, tids[i]) && s == 't',
				      "round %d: thread %d is in state %c and %s",
				      round, tids[i], s, held_by(&t, tids[i]) ?
				      "held" : "not held");
			held++;
		}
		ck_assert_int_ge(held, 3);	/* main and two spawners at least */
		ck_assert_msg(target_resume(&t, &err) == 0, "%s", err.msg);
		sleep_ms(5);
	}
	printf("target: thread_churn: %u stops, mean pause %llu us, max %llu us\n",
	       t.stops, (unsigned long long)(t.pause_us_total / t.stops),
	       (unsigned long long)t.pause_us_max);
	target_detach(&t);
	ck_assert_int_eq(tracer_pid(f.pid), 0);
	sleep_ms(50);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "spawn_errors"), 0);
	ck_assert_int_gt(fixture_value(&f, "spawned"), spawned);
	fixture_stop(&f);
}
END_TEST

/* A thread in uninterruptible sleep (a vfork parent) cannot be stopped: the
 * stop gives up at its timeout, names the thread and its state, and lets
 * the rest of the process go. */
START_TEST(a_thread_that_cannot_stop_times_out)
{
	const char *args[] = { "2", NULL };
	struct fixture f;
	struct target t;
	struct error err = { 0 };
	struct timespec start;
	char want[64];
	pid_t stuck;

	fixture_start(&f, "stuck_thread", args, NULL);
	stuck = (pid_t)fixture_value(&f, "stuck_tid");
	ck_assert_int_eq(thread_state(f.pid, stuck), 'D');
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	t.stop_timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &start);
	ck_assert_int_eq(target_stop(&t, &err), -ETIMEDOUT);
	snprintf(want, sizeof(want), "thread %d did not stop within 300 ms (state D", stuck);
	ck_assert_msg(strstr(err.msg, want), "message: %s", err.msg);
	/* 0.3 s to give up, at most 1 s more to release what could be. */
	ck_assert_double_lt(elapsed_s(&start), 2.0);
	ck_assert(!t.attached);
	/* Everything but the stuck thread runs free again. */
	{
		pid_t tids[16];
		int n = list_tids(f.pid, tids, 16);

		for (int i = 0; i < n; i++)
			if (tids[i] != stuck)
				ck_assert_int_ne(thread_state(f.pid, tids[i]), 't');
	}
	/* Once the vfork child is gone the thread wakes into the stop we asked
	 * for; the next attach lets it go (it must not wait for us), and holds
	 * the whole process this time. */
	while (elapsed_s(&start) < 2.5)
		sleep_ms(50);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(held_by(&t, stuck) ? &t : NULL);
	target_detach(&t);
	ck_assert_int_eq(tracer_pid(f.pid), 0);
	assert_free(f.pid);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "vfork_done"), 1);
	fixture_stop(&f);
}
END_TEST

Suite *target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, attach_stop_read_resume_detach);
	tcase_add_test(tc, hundred_stops_in_one_attachment);
	tcase_add_test(tc, hundred_attachments);
	tcase_add_test(tc, reads_known_and_unmapped_memory);
	tcase_add_test(tc, attach_errors_name_the_cause);
	tcase_add_test(tc, churning_threads_are_all_held);
	tcase_add_test(tc, a_thread_that_cannot_stop_times_out);
	suite_add_tcase(s, tc);
	return s;
}
