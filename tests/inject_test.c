/* lib/observe/inject: calling a function inside a live target, and its safety.
 *
 * The truth is the fixtures' own: inject_safety counts what its parked
 * threads saw (bytes read, events, early wake-ups, EINTR, clobbered xmm
 * registers) and what its probe function was called with; inject_busy names
 * the thread that lives inside jemalloc.  The entry byte is compared with
 * the executable file's own byte at the same place.
 */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "observe/elfsym.h"
#include "observe/inject.h"
#include "observe/target.h"
#include "testlib.h"

/* The run-time address of a function defined in the fixture's executable. */
static uint64_t fixture_symbol(pid_t pid, const char *name)
{
	char link[64], exe[4096];
	struct elfsym es;
	uint64_t base, addr = 0;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	ck_assert_int_eq(elfsym_load_base(pid, exe, &base, NULL), 0);
	ck_assert_int_eq(elfsym_open(&es, pid, exe, base, NULL), 0);
	ck_assert_int_eq(elfsym_lookup(&es, name, &addr, NULL), 0);
	elfsym_close(&es);
	return addr;
}

/* The mapped path of the first mapping whose name contains needle. */
static void mapped_path(pid_t pid, const char *needle, char *out, size_t len)
{
	char path[64], line[4700];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (p && strstr(p, needle)) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(out, len, "%s", p);
			break;
		}
	}
	fclose(f);
	ck_assert_msg(out[0], "%s is not mapped in %d", needle, pid);
}

static uint64_t auxv_entry(pid_t pid)
{
	char path[64];
	uint64_t pair[2], entry = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	while (read(fd, pair, sizeof(pair)) == sizeof(pair) && pair[0] != AT_NULL)
		if (pair[0] == AT_ENTRY)
			entry = pair[1];
	close(fd);
	ck_assert(entry != 0);
	return entry;
}

/* The byte at addr in the target's memory and in its executable file (at
 * the file offset the mapping of addr says). */
static void entry_bytes(pid_t pid, uint64_t addr, unsigned char *in_mem,
			unsigned char *in_file)
{
	char path[64], line[4700];
	unsigned long long lo, hi, off;
	bool found = false;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, in_mem, 1, addr), 1);
	close(fd);

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%llx-%llx %*s %llx", &lo, &hi, &off) == 3 &&
			addr >= lo && addr < hi;
	fclose(f);
	ck_assert(found);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, in_file, 1, addr - lo + off), 1);
	close(fd);
}

/* "TracerPid:" and the state letter from /proc/<pid>/status. */
static void trace_state(pid_t pid, long *tracer, char *state)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	ck_assert_int_ge(slurp(path, buf, sizeof(buf)), 0);
	p = strstr(buf, "TracerPid:");
	ck_assert_ptr_nonnull(p);
	*tracer = strtol(p + 10, NULL, 10);
	p = strstr(buf, "State:");
	ck_assert_ptr_nonnull(p);
	*state = p[7];
}

/* Executable anonymous mappings: a session's trampoline page while it
 * lasts (the fixtures make none of their own). */
static int anon_exec_mappings(pid_t pid)
{
	char path[64], line[4700], perms[8] = "", name[4096];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		name[0] = '\0';
		if (sscanf(line, "%*x-%*x %7s %*x %*x:%*x %*u %4095s", perms, name) >= 1 &&
		    perms[2] == 'x' && name[0] != '/' && name[0] != '[')
			n++;
	}
	fclose(f);
	return n;
}

/* What heapdoc must leave behind on every path: the entry point's byte as
 * the file has it (no int3), no page of its own, no tracer, no thread in a
 * ptrace stop. */
static void assert_released(pid_t pid)
{
	unsigned char mem, file;
	long tracer;
	char state;

	entry_bytes(pid, auxv_entry(pid), &mem, &file);
	ck_assert_uint_eq(mem, file);
	ck_assert_int_eq(anon_exec_mappings(pid), 0);
	trace_state(pid, &tracer, &state);
	ck_assert_int_eq(tracer, 0);
	ck_assert_int_ne(state, 't');
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One call of inject_probe(1, 2, 3, 4, 5, "hello heapdoc") in thread tid. */
static void probe_in(struct target *t, uint64_t probe, pid_t tid)
{
	static const char str[] = "hello heapdoc";
	struct inject_opts opts = { .only_tid = tid, .timeout_ms = 2000 };
	struct inject_session s;
	struct error err = { 0 };
	uint64_t args[6] = { 1, 2, 3, 4, 5, 0 }, ret = 0;

	ck_assert_msg(inject_begin(&s, t, &opts, &err) == 0, "begin: %s", err.msg);
	ck_assert_int_eq(s.tid, tid);
	args[5] = inject_push(&s, str, sizeof(str), &err);
	ck_assert_msg(args[5] != 0, "push: %s", err.msg);
	ck_assert_msg(inject_call(&s, probe, args, 6, &ret, &err) == 0, "call: %s", err.msg);
	/* 1 + 2·2 + 3·3 + 4·4 + 5·5 + strlen("hello heapdoc") = 55 + 13 */
	ck_assert_uint_eq(ret, 68);
	ck_assert_msg(inject_end(&s, &err) == 0, "end: %s", err.msg);
	ck_assert_int_eq(s.calls, 1);
}

/* A call in each parked thread; then every thread still does what its
 * syscall promised. */
START_TEST(test_parked_threads_keep_their_semantics)
{
	static const char *const kinds[] = { "tid.main", "tid.reader", "tid.sleeper",
					     "tid.poller", "tid.waiter" };
	struct fixture f;
	struct target t = { 0 };
	struct error err = { 0 };
	uint64_t probe;

	fixture_start(&f, "inject_safety", NULL, NULL);
	probe = fixture_symbol(f.pid, "inject_probe");
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		probe_in(&t, probe, (pid_t)fixture_value(&f, kinds[i]));
	target_detach(&t);

	assert_released(f.pid);

	/* The sleeper's 1.5 s sleeps run on; let one that began before the
	 * calls finish after them. */
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "probe.calls"), 5);
	ck_assert_int_eq(fixture_value(&f, "probe.string_len"), 13);
	fixture_command(&f, "poke");
	sleep_ms(1700);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "read.bytes"), 1);
	ck_assert_int_eq(fixture_value(&f, "read.eintr"), 0);
	ck_assert_int_eq(fixture_value(&f, "read.xmm_bad"), 0);
	ck_assert_int_eq(fixture_value(&f, "epoll.events"), 1);
	ck_assert_int_eq(fixture_value(&f, "cond.events"), 1);
	ck_assert_int_eq(fixture_value(&f, "sleep.short"), 0);
	ck_assert_int_eq(fixture_value(&f, "sleep.eintr"), 0);
	ck_assert_int_ge(fixture_value(&f, "sleep.done"), 1);
	fixture_stop(&f);
}
END_TEST

/* What a call left to finish on its own leaves once it has: the call
 * completed, its thread back in its system call (not ended), nothing of
 * heapdoc in the process, the other threads working. */
static void ck_back_on_its_own(struct fixture *f, pid_t tid, long after_ms)
{
	char path[64], buf[256];

	sleep_ms(after_ms);
	assert_released(f->pid);
	fixture_refresh(f);
	ck_assert_int_eq(fixture_value(f, "slow.calls"), 1);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", f->pid, tid);
	ck_assert_int_ge(slurp(path, buf, sizeof(buf)), 0);
	ck_assert_msg(buf[0] != 'r', "thread %d runs: %s", tid, buf);	/* "running" */
	fixture_command(f, "poke");
	sleep_ms(100);
	fixture_refresh(f);
	ck_assert_int_eq(fixture_value(f, "read.bytes"), 1);
	ck_assert_int_eq(fixture_value(f, "read.eintr"), 0);
	ck_assert_int_eq(fixture_value(f, "read.xmm_bad"), 0);
}

/* heapdoc is stopped by sig while a 1.5 s call runs in the reader thread:
 * SIGTERM (caught: heapdoc lets the thread go and exits) or SIGKILL and
 * SIGSEGV (nothing of heapdoc runs).  Either way the thread finishes the
 * call, goes back to its read by itself, and gets the byte later. */
static void stop_heapdoc_mid_call(int sig)
{
	struct fixture f;
	uint64_t slow;
	pid_t child, reader;
	int st;

	fixture_start(&f, "inject_safety", NULL, NULL);
	slow = fixture_symbol(f.pid, "inject_slow");
	reader = (pid_t)fixture_value(&f, "tid.reader");
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct inject_opts opts = { .only_tid = reader, .wait_ms = 200 };
		struct rlimit no_core = { 0, 0 };
		struct target t = { 0 };
		struct inject_session s;
		struct error e = { 0 };
		uint64_t ret = 0, ms = 1500;
		int code = 10;

		setrlimit(RLIMIT_CORE, &no_core);
		/* Killed by sig as heapdoc would be, not by a sanitizer's
		 * handler (make asan installs one for SIGSEGV). */
		signal(sig, SIG_DFL);
		if (target_attach(&t, f.pid, &e) == 0 &&
		    inject_begin(&s, &t, &opts, &e) == 0) {
			int rc = inject_call(&s, slow, &ms, 1, &ret, &e);

			code = rc == -EINTR && target_interrupted() ? 0 : 11;
			if (code)
				fprintf(stderr, "heapdoc side: call %d: %s\n", rc, e.msg);
			if (inject_end(&s, &e))
				code = 12;
		}
		if (code)
			fprintf(stderr, "heapdoc side: %s\n", e.msg);
		target_detach(&t);
		_exit(code);
	}
	sleep_ms(400);			/* well inside the 1.5 s call */
	ck_assert_int_eq(anon_exec_mappings(f.pid), 1);	/* the call is under way */
	kill(child, sig);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	if (sig == SIGTERM)
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	else
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig, "child status %#x", st);
	ck_back_on_its_own(&f, reader, 1500 + 200 + 300);
	fixture_stop(&f);
}

START_TEST(test_sigterm_mid_call_lets_the_thread_finish)
{
	stop_heapdoc_mid_call(SIGTERM);
}
END_TEST

START_TEST(test_sigkill_mid_call_lets_the_thread_finish)
{
	stop_heapdoc_mid_call(SIGKILL);
}
END_TEST

START_TEST(test_crash_mid_call_lets_the_thread_finish)
{
	stop_heapdoc_mid_call(SIGSEGV);
}
END_TEST

struct later_signal {
	pid_t pid, tid;
	int sig;
	long after_ms;
};

static void *send_later(void *arg)
{
	struct later_signal *l = arg;

	sleep_ms(l->after_ms);
	syscall(SYS_tgkill, l->pid, l->tid, l->sig);
	return NULL;
}

/* A signal for the borrowed thread during a call waits, queued by the
 * kernel (the thread's mask is full during a session), and is delivered
 * once the session ends; the call and the thread's syscall carry on. */
START_TEST(test_signal_during_call_is_redelivered)
{
	struct fixture f;
	struct target t = { 0 };
	struct error err = { 0 };
	struct inject_session s;
	struct inject_opts opts = { 0 };
	struct later_signal later = { .sig = SIGUSR1, .after_ms = 200 };
	uint64_t slow, ms = 600, ret = 0;
	pthread_t th;

	fixture_start(&f, "inject_safety", NULL, NULL);
	slow = fixture_symbol(f.pid, "inject_slow");
	later.pid = f.pid;
	later.tid = opts.only_tid = (pid_t)fixture_value(&f, "tid.reader");
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	ck_assert_msg(inject_begin(&s, &t, &opts, &err) == 0, "begin: %s", err.msg);
	pthread_create(&th, NULL, send_later, &later);
	ck_assert_msg(inject_call(&s, slow, &ms, 1, &ret, &err) == 0, "call: %s", err.msg);
	pthread_join(th, NULL);
	ck_assert_uint_eq(ret, 42);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "signal.usr1"), 0);	/* not yet */
	ck_assert_int_eq(inject_end(&s, &err), 0);
	target_detach(&t);

	sleep_ms(50);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "slow.calls"), 1);
	ck_assert_int_eq(fixture_value(&f, "signal.usr1"), 1);
	fixture_command(&f, "poke");
	sleep_ms(100);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "read.bytes"), 1);
	ck_assert_int_eq(fixture_value(&f, "read.eintr"), 0);
	ck_assert_int_eq(fixture_value(&f, "read.xmm_bad"), 0);
	fixture_stop(&f);
}
END_TEST

/* A call that outlives its limit is neither rewound nor waited for: its
 * thread finishes it and goes back to its own system call; nothing of
 * heapdoc stays behind and no thread is ended. */
START_TEST(test_hung_call_is_left_to_finish)
{
	struct fixture f;
	struct target t = { 0 };
	struct error err = { 0 };
	struct inject_session s;
	struct inject_opts opts = { .call_limit_ms = 300, .wait_ms = 200 };
	uint64_t slow, ms = 1500, ret;

	fixture_start(&f, "inject_safety", NULL, NULL);
	slow = fixture_symbol(f.pid, "inject_slow");
	opts.only_tid = (pid_t)fixture_value(&f, "tid.reader");
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	ck_assert_msg(inject_begin(&s, &t, &opts, &err) == 0, "begin: %s", err.msg);
	ck_assert_int_eq(inject_call(&s, slow, &ms, 1, &ret, &err), -ETIMEDOUT);
	ck_assert_msg(strstr(err.msg, "left to finish"), "%s", err.msg);
	ck_assert_int_eq(s.phase, INJECT_LEFT);
	ck_assert_int_eq(inject_end(&s, &err), 0);
	target_detach(&t);
	ck_back_on_its_own(&f, opts.only_tid, 1500 + 200 + 300);
	fixture_stop(&f);
}
END_TEST

static void busy_guard(pid_t pid, struct inject_guard *g)
{
	char lib[4096];
	struct error err = { 0 };

	mapped_path(pid, "libjemalloc", lib, sizeof(lib));
	*g = (struct inject_guard){ .what = "jemalloc" };
	ck_assert_msg(inject_guard_add_mapped(g, pid, lib, &err) == 0, "%s", err.msg);
}

/* The thread that lives inside jemalloc is never borrowed, even when asked
 * for by name: it is either running or parked with jemalloc on its stack. */
START_TEST(test_thread_inside_allocator_is_never_used)
{
	struct fixture f;
	struct inject_guard g;
	struct target t = { 0 };
	struct error err = { 0 };
	unsigned inside = 0;
	pid_t spinner;

	fixture_start(&f, "inject_busy", NULL, NULL);
	spinner = (pid_t)fixture_value(&f, "tid.spinner");
	busy_guard(f.pid, &g);
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	for (int i = 0; i < 20; i++) {
		struct inject_opts opts = { .guard = &g, .only_tid = spinner, .timeout_ms = 30 };
		struct inject_session s;

		ck_assert_int_eq(inject_begin(&s, &t, &opts, &err), -EAGAIN);
		inside += s.refused_inside;
	}
	/* The refusals were (also) for the right reason: jemalloc on its stack
	 * while parked in a syscall (madvise or mmap inside free/malloc). */
	ck_assert_uint_gt(inside, 0);
	target_detach(&t);
	inject_guard_free(&g);
	fixture_stop(&f);
}
END_TEST

/* A main thread parked in read(2) with stale return addresses into malloc
 * in an uninitialized local (fixtures/stale_frames.c) is outside the
 * allocator: its unwind says so, and heapdoc leaks, which needs that
 * thread for its calls, runs. */
START_TEST(test_stale_return_addresses_do_not_refuse)
{
	static char out[1 << 16], err[4096];
	struct fixture f;
	char pid[16];
	int rc;

	fixture_start(&f, "stale_frames", NULL, NULL);
	ck_assert_msg(fixture_value(&f, "stale_words") > 0,
		      "the fixture left no stale address into malloc to test with");
	snprintf(pid, sizeof(pid), "%d", f.pid);
	rc = run_heapdoc((const char *[]){ "leaks", "--duration", "1s", pid, NULL }, out,
			 sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "nothing of heapdoc remains"), "%s", out);
	fixture_stop(&f);
}
END_TEST

/* With jemalloc's rule (no thread at all inside it), a moment still comes,
 * and the thread chosen is never the one living in the allocator. */
START_TEST(test_jemalloc_rule_finds_a_moment)
{
	struct fixture f;
	struct inject_guard g;
	struct target t = { 0 };
	struct error err = { 0 };
	unsigned ok = 0;
	pid_t spinner;

	fixture_start(&f, "inject_busy", NULL, NULL);
	spinner = (pid_t)fixture_value(&f, "tid.spinner");
	busy_guard(f.pid, &g);
	g.all_threads_clear = true;
	ck_assert_msg(target_attach(&t, f.pid, &err) == 0, "attach: %s", err.msg);
	for (int i = 0; i < 10; i++) {
		struct inject_opts opts = { .guard = &g, .timeout_ms = 2000 };
		struct inject_session s;
		int r = inject_begin(&s, &t, &opts, &err);

		ck_assert_msg(r == 0 || r == -EAGAIN, "begin: %s", err.msg);
		if (r)
			continue;
		ck_assert_int_ne(s.tid, spinner);
		ck_assert_int_eq(inject_end(&s, &err), 0);
		ok++;
	}
	ck_assert_uint_gt(ok, 0);
	target_detach(&t);
	inject_guard_free(&g);
	fixture_stop(&f);
}
END_TEST

Suite *inject_suite(void)
{
	Suite *s = suite_create("inject");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parked_threads_keep_their_semantics);
	tcase_add_test(tc, test_sigterm_mid_call_lets_the_thread_finish);
	tcase_add_test(tc, test_sigkill_mid_call_lets_the_thread_finish);
	tcase_add_test(tc, test_crash_mid_call_lets_the_thread_finish);
	tcase_add_test(tc, test_signal_during_call_is_redelivered);
	tcase_add_test(tc, test_hung_call_is_left_to_finish);
	tcase_add_test(tc, test_thread_inside_allocator_is_never_used);
	tcase_add_test(tc, test_stale_return_addresses_do_not_refuse);
	tcase_add_test(tc, test_jemalloc_rule_finds_a_moment);
	suite_add_tcase(s, tc);
	return s;
}
