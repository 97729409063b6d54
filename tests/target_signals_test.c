/* lib/observe/target: signals and exits around a held process.  A signal
 * sent to the target while it is held is delivered once, after; a SIGSTOP
 * is honoured; a target that exits or is killed while attached gives
 * -ESRCH; SIGTERM to heapdoc while it stops or holds a target releases it.
 *
 * The fixture counts every SIGUSR1, EINTR and short sleep it sees; the
 * kernel's TracerPid and thread states are the other witness
 * (target_witness.h). */
#include <errno.h>
#include <fcntl.h>
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

static long long wait_for_value(struct fixture *f, const char *key, long long want)
{
	long long v = -1;

	for (int i = 0; i < 100 && v != want; i++) {
		fixture_refresh(f);
		v = fixture_value(f, key);
		if (v != want)
			sleep_ms(20);
	}
	return v;
}

START_TEST(signal_while_held_is_delivered_once)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };

	fixture_start(&f, "busy_threads", NULL, NULL);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);

	/* Sent while held: stays pending in the kernel until resume. */
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	kill(f.pid, SIGUSR1);
	sleep_ms(50);
	ck_assert_msg(target_resume(&t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(wait_for_value(&f, "sigusr1", 1), 1);

	/* Sent while traced but running: the thread stops in its
	 * signal-delivery-stop; the next stop holds it there, resume delivers. */
	target_detach(&t);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	kill(f.pid, SIGUSR1);
	sleep_ms(50);
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	ck_assert_msg(target_resume(&t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(wait_for_value(&f, "sigusr1", 2), 2);

	/* Same, then detached without a resume. */
	kill(f.pid, SIGUSR1);	/* free again: delivered at once */
	ck_assert_int_eq(wait_for_value(&f, "sigusr1", 3), 3);
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	kill(f.pid, SIGUSR1);
	target_detach(&t);
	ck_assert_int_eq(wait_for_value(&f, "sigusr1", 4), 4);
	sleep_ms(200);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "sigusr1"), 4);
	assert_undisturbed(&f, 0);
	fixture_stop(&f);
}
END_TEST

static char process_state(pid_t pid)
{
	return thread_state(pid, pid);
}

static void wait_for_all_states(pid_t pid, const char *want)
{
	for (int i = 0; i < 100; i++) {
		pid_t tids[64];
		int n = list_tids(pid, tids, 64), bad = 0;

		for (int k = 0; k < n; k++)
			bad += !strchr(want, thread_state(pid, tids[k]));
		if (!bad)
			break;
		sleep_ms(10);
	}
	each_thread(pid, expect_state, (void *)want);
}

START_TEST(sigstop_while_held_is_honoured)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };

	fixture_start(&f, "busy_threads", NULL, NULL);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	kill(f.pid, SIGSTOP);
	target_detach(&t);
	wait_for_all_states(f.pid, "T");
	ck_assert_int_eq(tracer_pid(f.pid), 0);

	/* Stopping a group-stopped process holds it and leaves it stopped. */
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < t.nthreads; i++)
		ck_assert_int_eq(t.threads[i].stop_kind, TARGET_STOP_GROUP);
	ck_assert_msg(target_resume(&t, &err) == 0, "%s", err.msg);
	target_detach(&t);
	wait_for_all_states(f.pid, "T");

	kill(f.pid, SIGCONT);
	wait_for_all_states(f.pid, "RSD");
	ck_assert_int_ne(process_state(f.pid), 'T');
	assert_free(f.pid);
	sleep_ms(450);
	assert_undisturbed(&f, 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(exit_while_attached_is_esrch)
{
	struct fixture f;
	struct target t;
	struct error err = { 0 };
	unsigned char b;

	/* Exits on its own (stdin closed) while traced but running. */
	fixture_start(&f, "busy_threads", NULL, NULL);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	close(f.to_child);
	f.to_child = open("/dev/null", 0);
	for (int i = 0; i < 200 && process_state(f.pid) != 'Z'; i++)
		sleep_ms(5);
	ck_assert_int_eq(target_stop(&t, &err), -ESRCH);
	ck_assert_ptr_nonnull(strstr(err.msg, "exited"));
	ck_assert_int_eq(target_read(&t, 4096, &b, 1, &err), -ESRCH);
	target_detach(&t);
	fixture_stop(&f);

	/* Killed while held. */
	fixture_start(&f, "busy_threads", NULL, NULL);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "%s", err.msg);
	ck_assert_msg(target_stop(&t, &err) == 0, "%s", err.msg);
	kill(f.pid, SIGKILL);
	sleep_ms(50);
	ck_assert_int_eq(target_resume(&t, &err), 0);
	ck_assert_int_eq(target_stop(&t, &err), -ESRCH);
	target_detach(&t);
	fixture_stop(&f);
}
END_TEST

/* SIGTERM while target_stop() waits: the guard cuts the wait short with
 * -EINTR and the cleanup path releases the target. */
START_TEST(sigterm_while_stopping_releases_the_target)
{
	const char *args[] = { "20", NULL };
	struct fixture f;
	struct timespec start;
	int ready[2], status;
	pid_t child, stuck;
	char c;

	fixture_start(&f, "stuck_thread", args, NULL);
	stuck = (pid_t)fixture_value(&f, "stuck_tid");
	ck_assert_int_eq(pipe(ready), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct target t;
		struct error err = { 0 };
		int r;

		if (target_attach(&t, f.pid, &err) < 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		t.stop_timeout_ms = 30000;
		r = target_stop(&t, &err);
		target_detach(&t);
		_exit(r == -EINTR && strstr(err.msg, "interrupted") ? 42 : 2);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	sleep_ms(300);
	clock_gettime(CLOCK_MONOTONIC, &start);
	kill(child, SIGTERM);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		      "status 0x%x", status);
	ck_assert_double_lt(elapsed_s(&start), 3.0);
	/* The helper is gone, and the kernel let go of what it still traced. */
	ck_assert_int_eq(tracer_pid(f.pid), 0);
	ck_assert_int_eq(thread_state(f.pid, stuck), 'D');
	fixture_stop(&f);
}
END_TEST

/* heapdoc killed politely while it holds the target: the guard turns the
 * signal into -EINTR, the cleanup path detaches, the target runs on. */
START_TEST(sigterm_while_held_releases_the_target)
{
	struct fixture f;
	int ready[2], status;
	pid_t child;
	char c;

	fixture_start(&f, "busy_threads", NULL, NULL);
	ck_assert_int_eq(pipe(ready), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct target t;
		struct error err = { 0 };
		unsigned char b[4096];
		uint64_t addr = (uint64_t)fixture_value(&f, "buffer_addr");
		int r = 0;

		if (target_attach(&t, f.pid, &err) < 0 || target_stop(&t, &err) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		/* A long read of the target, as a heap walk would do. */
		for (int i = 0; i < 100000 && r >= 0; i++) {
			r = (int)target_read(&t, addr, b, sizeof(b), &err);
			usleep(100);
		}
		target_detach(&t);
		_exit(r == -EINTR && target_interrupt_signal() == SIGTERM ? 42 : 2);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	each_thread(f.pid, expect_state, "t");
	kill(child, SIGTERM);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		      "the helper did not clean up after SIGTERM (status 0x%x)", status);
	assert_free(f.pid);
	sleep_ms(450);
	assert_undisturbed(&f, 0);
	fixture_stop(&f);
}
END_TEST

Suite *target_signals_suite(void)
{
	Suite *s = suite_create("target_signals");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, signal_while_held_is_delivered_once);
	tcase_add_test(tc, sigstop_while_held_is_honoured);
	tcase_add_test(tc, exit_while_attached_is_esrch);
	tcase_add_test(tc, sigterm_while_held_releases_the_target);
	tcase_add_test(tc, sigterm_while_stopping_releases_the_target);
	suite_add_tcase(s, tc);
	return s;
}
