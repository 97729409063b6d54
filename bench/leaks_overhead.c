/* What `heapdoc leaks` costs a malloc-bound process, side by side in one run.
 *
 *	leaks_overhead HEAPDOC [SECONDS] [ROUNDS] [RATE]
 *
 * The target is a child of this program: two threads that do nothing but
 * malloc and free blocks of 16 to 2064 bytes (a few live at a time, as a
 * busy server's request path does), counting operations in shared memory;
 * its main thread waits in a system call, as a server's does.  Each round
 * measures the loop's operations per second alone, then while
 * `heapdoc leaks` samples it at the default rate (the middle of heapdoc's
 * window, after the load), then after heapdoc has left.
 *
 * Operations are counted per second of the loop threads' own CPU time
 * (CLOCK_THREAD_CPUTIME_ID), not of the wall clock: on a shared machine
 * other work takes the cores away at random, and wall-clock ratios then
 * measure the neighbours.  What heapdoc itself costs in CPU (it reads the
 * samples) is printed apart, as a share of the loop's CPU over the same
 * window; the cost to a process is the sum of the two.  Wall-clock ratios
 * are printed too.
 *
 * The loop alone is measured on both sides of the sampling window, before
 * heapdoc came and after it left; the ratio to their mean ("bracketed")
 * cancels a machine that drifts within a round (a VM's neighbours), which
 * the ratio to the first alone alone does not.  The after-ratio says that
 * heapdoc left nothing behind that the bracket could hide.
 *
 * Printed: each round's ratios to the loop alone, their medians, heapdoc's
 * longest stops (from its JSON), and heapdoc's peak RSS for a short and a
 * long window at a fine rate (flat: heapdoc keeps sites and live samples,
 * not samples).  Exits 1 if the median CPU ratio while sampling is below
 * 0.90, or after heapdoc left below 0.95.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIVE 64			/* blocks each thread keeps at once */

struct shared {
	atomic_ulong ops[2];
	atomic_ulong cpu_ns[2];		/* each loop thread's own CPU time */
	atomic_int stop;
};

static struct shared *sh;

static void *loop(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	uint64_t x = 0x9E3779B97F4A7C15ULL * (idx + 1);
	void *live[LIVE] = { 0 };
	unsigned long n = 0;

	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		for (int i = 0; i < 1024; i++) {
			unsigned slot;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			slot = x % LIVE;
			free(live[slot]);
			live[slot] = malloc(16 + (x >> 32) % 2049);
			*(volatile char *)live[slot] = 1;
		}
		n += 1024;
		if (!(n & 0xffff)) {
			struct timespec ts;

			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
			atomic_store_explicit(&sh->cpu_ns[idx], ts.tv_sec * 1000000000UL +
					      ts.tv_nsec, memory_order_relaxed);
			atomic_store_explicit(&sh->ops[idx], n, memory_order_relaxed);
		}
	}
	return NULL;
}

static void run_target(void)
{
	pthread_t t[2];

	for (unsigned i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, loop, (void *)(uintptr_t)i);
	pause();		/* parked in a system call, like a server's main */
	_exit(0);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct rate {
	double wall;		/* operations per second */
	double cpu;		/* operations per second of the loop's CPU time */
	double cpu_s;		/* the loop's CPU seconds meanwhile */
};

/* Over the next `secs` seconds. */
static struct rate rate_over(double secs)
{
	unsigned long ops0 = atomic_load(&sh->ops[0]) + atomic_load(&sh->ops[1]);
	unsigned long cpu0 = atomic_load(&sh->cpu_ns[0]) + atomic_load(&sh->cpu_ns[1]);
	double t0 = now();
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	unsigned long ops, cpu;

	nanosleep(&ts, NULL);
	ops = atomic_load(&sh->ops[0]) + atomic_load(&sh->ops[1]) - ops0;
	cpu = atomic_load(&sh->cpu_ns[0]) + atomic_load(&sh->cpu_ns[1]) - cpu0;
	return (struct rate){ ops / (now() - t0), cpu ? ops / (cpu / 1e9) : 0, cpu / 1e9 };
}

/* Starts heapdoc leaks on pid with its stdout into a pipe; returns its pid. */
static pid_t start_heapdoc(const char *heapdoc, pid_t pid, const char *duration,
			   const char *rate, int *out)
{
	char pidstr[16];
	int fd[2];
	pid_t h;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	if (pipe(fd))
		return -1;
	h = fork();
	if (h == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execl(heapdoc, heapdoc, "leaks", "--json", "--duration", duration, "--rate", rate,
		      pidstr, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	*out = fd[0];
	return h;
}

/* Waits for heapdoc; its JSON in buf, its peak RSS in KiB, its CPU time. */
static int finish_heapdoc(pid_t h, int out, char *buf, size_t len, long *maxrss_kib,
			  double *cpu_s)
{
	struct rusage ru;
	size_t n = 0;
	ssize_t r;
	int st;

	while (n + 1 < len && (r = read(out, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(out);
	if (wait4(h, &st, 0, &ru) != h)
		return -1;
	*maxrss_kib = ru.ru_maxrss;
	*cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		 ru.ru_stime.tv_usec / 1e6;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A number in heapdoc's JSON "cost" object. */
static double json_num(const char *json, const char *key)
{
	const char *cost = strstr(json, "\"cost\"");
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = cost ? strstr(cost, pat) : NULL;
	return p ? atof(p + strlen(pat)) : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *heapdoc = argc > 1 ? argv[1] : "./heapdoc";
	double secs = argc > 2 ? atof(argv[2]) : 4;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	const char *rate = argc > 4 ? argv[4] : "512K";
	static char json[1 << 20];
	double during[16], bracketed[16], after[16], wall[16], own[16], stop_us = 0;
	long rss_short = 0, rss_long = 0;
	char dur[32];
	pid_t target;
	int bad = 0;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || rounds < 1 || rounds > 16 || secs <= 0)
		return 2;
	target = fork();
	if (target == 0)
		run_target();
	rate_over(1.5);		/* warm up (and a first CPU reading) */
	snprintf(dur, sizeof(dur), "%.1fs", secs + 2);
	printf("round  alone Mops/cpu-s  sampling  after  bracketed  | wall: sampling  | "
	       "heapdoc CPU (whole run)\n");
	for (int r = 0; r < rounds; r++) {
		struct rate alone = rate_over(secs), with, later;
		double hcpu = 0, window = secs + 2;
		int out, rc;
		long kib;
		pid_t h = start_heapdoc(heapdoc, target, dur, rate, &out);

		rate_over(1);			/* the load */
		with = rate_over(secs);
		rc = finish_heapdoc(h, out, json, sizeof(json), &kib, &hcpu);
		if (rc != 0) {
			fprintf(stderr, "heapdoc leaks exited %d\n", rc);
			bad = 1;
		}
		for (int k = 0; k < 3; k++) {
			static const char *const keys[] = { "load_stop_us", "stop_stop_us",
							     "unload_stop_us" };
			double v = json_num(json, keys[k]);

			stop_us = v > stop_us ? v : stop_us;
		}
		later = rate_over(secs);
		during[r] = with.cpu / alone.cpu;
		after[r] = later.cpu / alone.cpu;
		bracketed[r] = with.cpu / ((alone.cpu + later.cpu) / 2);
		wall[r] = with.wall / alone.wall;
		/* heapdoc's CPU against the loop's CPU over its window. */
		own[r] = hcpu / (with.cpu_s / secs * window);
		printf("%5d  %16.1f  %8.3f  %5.3f  %9.3f  | %8.3f        | %5.2f%%  (%.0f "
		       "samples)\n", r + 1, alone.cpu / 1e6, during[r], after[r], bracketed[r],
		       wall[r], 100 * own[r], json_num(json, "samples"));
		fflush(stdout);
	}
	qsort(during, rounds, sizeof(double), cmp);
	qsort(after, rounds, sizeof(double), cmp);
	qsort(bracketed, rounds, sizeof(double), cmp);
	qsort(wall, rounds, sizeof(double), cmp);
	qsort(own, rounds, sizeof(double), cmp);
	printf("median ops per loop CPU-second, sampling at %s / alone: %.3f (goal >= 0.95, "
	       "never < 0.90)\n", rate, during[rounds / 2]);
	printf("median ops per loop CPU-second, sampling / the mean of alone and after "
	       "(bracketed): %.3f\n", bracketed[rounds / 2]);
	printf("median ops per loop CPU-second, after heapdoc left / alone: %.3f (goal: 1)\n",
	       after[rounds / 2]);
	printf("median heapdoc CPU (its whole run: load, symbols, unload) as a share of the "
	       "loop's over the window: %.2f%%\n", 100 * own[rounds / 2]);
	printf("median wall-clock ops/s ratio while sampling: %.3f (on a busy machine this "
	       "measures the neighbours too)\n", wall[rounds / 2]);
	printf("longest stop of the target (load, stop, unload): %.1f ms\n", stop_us / 1000);

	/* heapdoc's memory against the number of samples it reads. */
	for (int i = 0; i < 2 && !getenv("LEAKS_BENCH_NO_RSS"); i++) {
		int out;
		long kib;
		double hcpu;
		pid_t h = start_heapdoc(heapdoc, target, i ? "12s" : "2s", "64K", &out);

		finish_heapdoc(h, out, json, sizeof(json), &kib, &hcpu);
		printf("heapdoc peak RSS, %s window at 64 KiB: %ld KiB for %.0f samples\n",
		       i ? "12 s" : "2 s", kib, json_num(json, "samples"));
		*(i ? &rss_long : &rss_short) = kib;
	}
	atomic_store(&sh->stop, 1);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	if (during[rounds / 2] < 0.90 || after[rounds / 2] < 0.95)
		bad = 1;
	if (rss_long > rss_short * 3 / 2 + 4096)
		bad = 1;
	return bad;
}
