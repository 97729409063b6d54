/* Faults: heapdoc killed at random instants, by signals it catches (INT,
 * TERM) and by ones it cannot (KILL) or does not (QUIT, PIPE), while it
 * holds or calls into a target (stats, triage, release) that checks itself
 * (fixtures/fault_target.c):
 * its syscalls' results, real-time signals with their siginfo, the children
 * it forks, threads it creates and children it vforks to exec.  Against glibc (heapdoc holds it to copy its heaps), jemalloc
 * and tcmalloc (heapdoc borrows a thread and calls into the allocator).
 *
 * HEAPDOC_FAULT_CYCLES sets the kills per allocator (make soak: 1,000).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "testlib.h"

#define DEFAULT_CYCLES	40
#define MIN_MID_CALL	3	/* kills in the middle of calls, where allocators are called */
#define TAIL_US		12000	/* the end of a run, where its calls are */
#define SETTLE_MS	3000	/* a borrowed thread goes back within this */

static const int signals[] = { SIGKILL, SIGKILL, SIGTERM, SIGINT, SIGQUIT, SIGPIPE };

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts))
		;
}

static bool released(pid_t pid);

static long elapsed_us(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
}

/* How long cmd takes on pid when nothing stops it: the kills fall
 * anywhere in that time, from heapdoc's start to its last call. */
static long calibrate(pid_t pid, const char *cmd, const char *arg)
{
	const char *const args[] = { cmd, "--json", NULL, arg, NULL };
	char pidarg[16], out[1 << 15];
	struct timespec t0;
	long t[5], tmp;

	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	((const char **)args)[2] = pidarg;
	for (int i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run_heapdoc(args, out, sizeof(out), NULL, 0);
		t[i] = elapsed_us(&t0);
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			tmp = t[j];
			t[j] = t[j - 1];
			t[j - 1] = tmp;
		}
	}
	return t[2];	/* the median: a busy machine makes some runs slow */
}

/* Starts heapdoc on pid, kills it with sig after us microseconds (it may
 * have finished by then), reaps it.  True when that was in the middle of a
 * session of calls: its page is still in the target. */
static bool kill_heapdoc_at(pid_t pid, int sig, long us, const char *cmd, const char *arg)
{
	char pidarg[16];
	sigset_t all, old;
	pid_t child;
	int st;

	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	/* Until the exec, the child is this test, whose SIGTERM handler
	 * (Check's) kills the test's whole process group: signals wait until
	 * the dispositions are the defaults heapdoc starts with. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child == 0) {
		struct rlimit no_core = { 0, 0 };
		int null = open("/dev/null", O_RDWR);

		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(null, 1);
		dup2(null, 2);
		execl(HEAPDOC_BIN, "heapdoc", cmd, pidarg, arg, (char *)NULL);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	ck_assert_int_gt(child, 0);
	sleep_us(us);
	kill(child, sig);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	return !released(pid);
}

/* "TracerPid:" of pid, and whether it has executable anonymous memory (a
 * session's trampoline page, gone once its thread went back). */
static bool released(pid_t pid)
{
	char path[64], buf[8192], *p;
	bool clean = true;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (slurp(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "TracerPid:")) ||
	    strtol(p + 10, NULL, 10) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(buf, sizeof(buf), f)) {
		char perms[8] = "", name[512] = "";

		if (sscanf(buf, "%*x-%*x %7s %*x %*x:%*x %*u %511s", perms, name) >= 1 &&
		    perms[2] == 'x' && name[0] != '/' && name[0] != '[')
			clean = false;
	}
	fclose(f);
	return clean;
}

static void wait_released(pid_t pid)
{
	for (int ms = 0; ms < SETTLE_MS; ms += 20) {
		if (released(pid))
			return;
		sleep_us(20000);
	}
	ck_abort_msg("pid %d still holds something of heapdoc after %d ms", (int)pid, SETTLE_MS);
}

/* Everything the target checked came out right. */
static void ck_target_sound(struct fixture *f, const char *what)
{
	fixture_refresh(f);
	ck_assert_msg(fixture_value(f, "reader.bad") == 0, "%s: %lld bad reads", what,
		      fixture_value(f, "reader.bad"));
	ck_assert_msg(fixture_value(f, "sleep.short") == 0, "%s: %lld short sleeps", what,
		      fixture_value(f, "sleep.short"));
	ck_assert_msg(fixture_value(f, "sig.lost") == 0, "%s: %lld signals lost or reordered "
		      "(the first: %lld where %lld was due, si_code %lld)", what,
		      fixture_value(f, "sig.lost"), fixture_value(f, "sig.bad.got"),
		      fixture_value(f, "sig.bad.want"), fixture_value(f, "sig.bad.code"));
	ck_assert_msg(fixture_value(f, "sig.forged") == 0, "%s: %lld signals with a forged "
		      "siginfo", what, fixture_value(f, "sig.forged"));
	ck_assert_msg(fixture_value(f, "fork.bad") == 0, "%s: %lld children saw heapdoc",
		      what, fixture_value(f, "fork.bad"));
	ck_assert_msg(fixture_value(f, "spawn.bad") == 0, "%s: %lld threads or vforked "
		      "children failed", what, fixture_value(f, "spawn.bad"));
	ck_assert_int_gt(fixture_value(f, "reader.ok"), 0);
	ck_assert_int_gt(fixture_value(f, "spawn.ok"), 0);
	ck_assert_int_gt(fixture_value(f, "sig.received"), 0);
	ck_assert_int_gt(fixture_value(f, "fork.ok"), 0);
}

/* Returns how many kills fell in the middle of a session of calls. */
static long kill_cycles(const char *allocator, const char *const *env, const char *setting,
			bool want_mid_call)
{
	const char *cycles_env = getenv("HEAPDOC_FAULT_CYCLES");
	long cycles = cycles_env ? strtol(cycles_env, NULL, 10) : DEFAULT_CYCLES;
	unsigned seed = 42;
	long mid_call = 0, window_stats = 1, window_set = 1, kills;
	struct fixture f;
	char what[64];

	fixture_start(&f, "fault_target", NULL, env);
	/* At least cycles kills, and on until a few fell in the middle of
	 * calls (timing on a busy machine varies), four times as many at most. */
	for (kills = 0; kills < cycles ||
	     (want_mid_call && mid_call < MIN_MID_CALL && kills < 4 * cycles); kills++) {
		long i = kills;
		int sig = signals[rand_r(&seed) % (sizeof(signals) / sizeof(signals[0]))];

		if (i % 10 == 0) {	/* the machine's load changes */
			window_stats = calibrate(f.pid, "stats", NULL);
			window_set = calibrate(f.pid, "set", setting);
		}
		/* Reading, sampling, and acting (set: a setting set to the
		 * value it has, a call into the allocator every time). */
		unsigned pick = rand_r(&seed) % 5;
		bool triage = pick == 0;
		const char *cmd = triage ? "triage" : pick == 1 ? "set" : "stats";

		/* The calls come last in a run, after the symbols are loaded:
		 * most kills fall in its last milliseconds, the others
		 * anywhere. */
		long window = pick == 1 ? window_set : window_stats;
		long tail = MIN(window * 55 / 100, TAIL_US);
		long at = rand_r(&seed) % 4 == 0 ? rand_r(&seed) % window
			  : window - tail + rand_r(&seed) % (tail + 1);

		mid_call += kill_heapdoc_at(f.pid, sig, triage ? rand_r(&seed) % 300000 : at, cmd,
					    pick == 1 ? setting : NULL);
		/* Often heapdoc comes back before the thread it borrowed last
		 * went back on its own (it waits for heapdoc half a second):
		 * that thread is then left alone.  Now and then the process
		 * is let settle and checked. */
		if (i % 10 == 9) {
			wait_released(f.pid);
			snprintf(what, sizeof(what), "%s, after %ld kills", allocator, i + 1);
			ck_target_sound(&f, what);
		}
	}
	wait_released(f.pid);
	ck_target_sound(&f, allocator);
	fprintf(stderr, "fault: %s: %ld kills of heapdoc, %ld in the middle of calls; the "
		"target read %lld sequence numbers, received %lld signals, forked %lld "
		"children: none lost, none wrong (sleeps cut short by EINTR: %lld)\n",
		allocator, kills, mid_call, fixture_value(&f, "reader.ok"),
		fixture_value(&f, "sig.received"), fixture_value(&f, "fork.ok"),
		fixture_value(&f, "sleep.eintr"));
	fixture_stop(&f);
	return mid_call;
}

START_TEST(kills_glibc)
{
	/* A glibc read holds the process and calls nothing; set's one call
	 * lasts half a millisecond in a 60 ms run, rarely hit at random (the
	 * inject suite kills heapdoc in the middle of glibc calls on purpose). */
	kill_cycles("glibc", NULL, "MALLOC_TOP_PAD_=131072", false);
}
END_TEST

START_TEST(kills_jemalloc)
{
	const char *env[] = { "LD_PRELOAD=libjemalloc.so.2", NULL };

	/* The kills must also fall where it matters, in calls. */
	ck_assert_int_gt(kill_cycles("jemalloc", env, "dirty_decay_ms=10000", true), 0);
}
END_TEST

START_TEST(kills_tcmalloc)
{
	const char *env[] = { "LD_PRELOAD=libtcmalloc.so.4", NULL };

	ck_assert_int_gt(kill_cycles("tcmalloc", env, "TCMALLOC_RELEASE_RATE=1", true), 0);
}
END_TEST

Suite *fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 7200);
	tcase_add_test(tc, kills_glibc);
	tcase_add_test(tc, kills_jemalloc);
	tcase_add_test(tc, kills_tcmalloc);
	suite_add_tcase(s, tc);
	return s;
}
