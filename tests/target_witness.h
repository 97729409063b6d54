/* The witnesses the target suites (target, target_signals) call on a held
 * process.  The truth is the fixture's own: busy_threads counts every
 * EINTR, short sleep, corrupted block and SIGUSR1 it sees.  The kernel is
 * the other witness: /proc/<pid>/status TracerPid and each thread's state
 * letter. */
#ifndef HEAPDOC_TESTS_TARGET_WITNESS_H
#define HEAPDOC_TESTS_TARGET_WITNESS_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testlib.h"

static inline void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* State letter of one thread; 0 if it is gone. */
static inline char thread_state(pid_t pid, pid_t tid)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (slurp(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return 0;
	return p[2];
}

static inline long long tracer_pid(pid_t pid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	ck_assert_int_eq(slurp(path, buf, sizeof(buf)), 0);
	p = strstr(buf, "TracerPid:");
	ck_assert_ptr_nonnull(p);
	return atoll(p + 10);
}

/* The tids in /proc/<pid>/task, at most max; returns how many. */
static inline int list_tids(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)) && n < max)
		if (atoi(de->d_name) > 0)
			tids[n++] = (pid_t)atoi(de->d_name);
	closedir(dir);
	return n;
}

/* Calls fn(pid, tid, arg) for every thread in /proc/<pid>/task; returns the
 * number of threads. */
static inline int each_thread(pid_t pid, void (*fn)(pid_t, pid_t, void *), void *arg)
{
	pid_t tids[4096];
	int n = list_tids(pid, tids, 4096);

	for (int i = 0; fn && i < n; i++)
		fn(pid, tids[i], arg);
	return n;
}

static inline void expect_state(pid_t pid, pid_t tid, void *want)
{
	char s = thread_state(pid, tid);

	ck_assert_msg(s && strchr(want, s), "pid %d thread %d is in state %c, "
		      "expected one of %s", pid, tid, s ? s : '?', (char *)want);
}

/* Untraced and running (sleeping in the kernel counts: S, or R, or a brief
 * D on a page fault), every thread. */
static inline void assert_free(pid_t pid)
{
	ck_assert_int_eq(tracer_pid(pid), 0);
	each_thread(pid, expect_state, "RSD");
}

/* The fixture saw nothing: no EINTR, no early wake-up, no corruption, and
 * it made progress since `rounds`. */
static inline void assert_undisturbed(struct fixture *f, long long rounds)
{
	fixture_refresh(f);
	ck_assert_int_eq(fixture_value(f, "eintr_unexpected"), 0);
	ck_assert_int_eq(fixture_value(f, "short_sleeps"), 0);
	ck_assert_int_eq(fixture_value(f, "read_errors"), 0);
	ck_assert_int_eq(fixture_value(f, "data_errors"), 0);
	ck_assert_msg(fixture_value(f, "alloc_rounds") > rounds,
		      "the allocating threads made no progress");
}

static inline double elapsed_s(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) / 1e9;
}

#endif
