/* heapdoc leaks: sampled allocation stacks from a live process.
 *
 * The truth is the fixture's own (fixtures/leak_sites.c): which function
 * leaks and how much it kept, what known_site allocated, whether its PLT
 * slot for malloc is redirected, whether a child it forked or threads it
 * started ran correctly.  The profile files it writes, read back by
 * heapdoc's own decoder and by go tool pprof and jeprof, are
 * tests/leaks_formats_test.c.
 */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leaks_files.h"
#include "model/profile.h"
#include "testlib.h"

#define AGENT_NAME "libheapdoc-agent"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool agent_mapped(pid_t pid)
{
	char path[64], buf[1 << 16];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	return slurp(path, buf, sizeof(buf)) == 0 && strstr(buf, AGENT_NAME);
}

/* heapdoc with args, in the background, stdout and stderr into out_path. */
static pid_t heapdoc_bg(const char *const *args, const char *out_path)
{
	char *argv[32];
	size_t n = 0;
	pid_t pid;

	argv[n++] = (char *)HEAPDOC_BIN;
	for (; *args && n + 1 < 32; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(HEAPDOC_BIN, argv);
		_exit(127);
	}
	return pid;
}

/* Waits until the library is mapped in pid and sampling has begun. */
static void wait_sampling(pid_t target)
{
	for (int i = 0; i < 200 && !agent_mapped(target); i++)
		sleep_ms(25);
	ck_assert_msg(agent_mapped(target), "the sampling library never appeared in %d", target);
	sleep_ms(300);
}

/* Starts leak_sites (with fixture arguments fargs) and, in the background,
 * heapdoc with args, whose NULL slot at pid_at takes the fixture's pid;
 * heapdoc's output goes to a temporary file named after name (out_path).
 * Returns heapdoc's pid once it samples. */
static pid_t sample_in_background(struct fixture *f, const char *const *fargs,
				  const char **args, size_t pid_at, const char *name,
				  char *out_path, size_t len)
{
	static char pid[16];
	pid_t h;

	fixture_start(f, "leak_sites", fargs, NULL);
	snprintf(pid, sizeof(pid), "%d", f->pid);
	args[pid_at] = pid;
	tmp_path(out_path, len, name);
	h = heapdoc_bg(args, out_path);
	wait_sampling(f->pid);
	return h;
}

static int wait_exit(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The "function" of the first frame of the first site in the JSON. */
static void first_site_function(const char *json, char *out, size_t len)
{
	const char *p = strstr(json, "\"sites\": [");
	const char *f = p ? strstr(p, "\"function\": \"") : NULL;

	out[0] = '\0';
	if (f) {
		f += strlen("\"function\": \"");
		snprintf(out, len, "%.*s", (int)strcspn(f, "\""), f);
	}
}

/* ---- the leaking function is ranked first ---------------------------------- */

START_TEST(leaking_function_ranked_first)
{
	static char out[1 << 20], err[4096];
	const char *args[] = { "leaks", "--json", "--duration", "4s", "--rate", "64K", NULL };
	struct fixture f;
	char pid[16], fn[128];
	const char *holding;
	int rc;

	fixture_start(&f, "leak_sites", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	{
		const char *a[] = { args[0], args[1], args[2], args[3], args[4], args[5], pid,
				    NULL };

		rc = run_heapdoc(a, out, sizeof(out), err, sizeof(err));
	}
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	first_site_function(out, fn, sizeof(fn));
	ck_assert_msg(!strcmp(fn, "leak_step"), "first site is '%s':\n%.3000s", fn, out);
	/* The busy sites free what they allocate: never growing. */
	holding = strstr(out, "\"holding\"");
	ck_assert_ptr_nonnull(holding);
	ck_assert_msg(!memmem(out, holding - out, "churn_small", 11) &&
		      !memmem(out, holding - out, "churn_large", 11),
		      "a churning site is listed as growing:\n%.4000s", out);
	ck_assert_msg(strstr(out, "\"left\": \"nothing\""), "library left behind:\n%s",
		      strstr(out, "\"cost\""));
	ck_assert(!agent_mapped(f.pid));
	/* The process carries on, its malloc its own again. */
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "malloc_hooked"), 0);
	fixture_stop(&f);
}
END_TEST

/* A process in another mount namespace, where heapdoc's copy of the
 * library is not at heapdoc's path: a copy goes through /proc/<pid>/root
 * into its /tmp, is loaded, and is removed at once. */
START_TEST(container_gets_a_copy)
{
	static char out[1 << 20], err[4096];
	char pid[16], cmd[256], listing[4096];
	struct fixture f;
	int rc;

	fixture_start(&f, "leak_sites", (const char *[]){ "1048576", HEAPDOC_ROOT, NULL }, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	rc = run_heapdoc((const char *[]){ "leaks", "--json", "--duration", "2s", "--rate", "64K",
			 pid, NULL }, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "\"library\": \"/tmp/heapdoc-agent-"), "not copied:\n%s",
		      strstr(out, "\"cost\""));
	ck_assert_msg(strstr(out, "\"left\": \"nothing\""), "left:\n%s", strstr(out, "\"cost\""));
	ck_assert(json_number_at(out, "cost.samples") > 0);
	snprintf(cmd, sizeof(cmd), "ls /proc/%d/root/tmp | grep -c heapdoc-agent", f.pid);
	run_tool(cmd, listing, sizeof(listing));
	ck_assert_msg(atoi(listing) == 0, "copies left in its /tmp: %s", listing);
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "malloc_hooked"), 0);
	fixture_stop(&f);
}
END_TEST

/* Code built -fno-plt calls malloc through GOT slots: they are redirected
 * through the forwarding page, which stays when the library goes. */
START_TEST(fno_plt_code_is_sampled)
{
	static char out[1 << 20], err[4096];
	struct fixture f;
	char pid[16], fn[128];
	int rc;

	fixture_start(&f, "leak_sites_noplt", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	rc = run_heapdoc((const char *[]){ "leaks", "--json", "--duration", "3s", "--rate", "64K",
			 pid, NULL }, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	first_site_function(out, fn, sizeof(fn));
	ck_assert_msg(!strcmp(fn, "leak_step"), "first site is '%s'", fn);
	ck_assert(json_number_at(out, "cost.got_slots_redirected") > 0);
	ck_assert(json_bool_at(out, "cost.forwarding_page_left"));
	ck_assert_msg(strstr(out, "\"left\": \"nothing\""), "left:\n%s", strstr(out, "\"cost\""));
	ck_assert(!agent_mapped(f.pid));
	fixture_command(&f, "threads");
	ck_assert_int_eq(fixture_value(&f, "threads_ok"), 1);
	fixture_stop(&f);
}
END_TEST

/* triage --sites: a leak verdict names the site that grows. */
START_TEST(triage_names_top_leak_site)
{
	static char out[1 << 20], err[4096];
	struct fixture f;
	char pid[16], why[256];
	const char *top;
	int rc;

	fixture_start(&f, "leak_sites", (const char *[]){ "4194304", NULL }, NULL);
	snprintf(pid, sizeof(pid), "%d", f.pid);
	rc = run_heapdoc((const char *[]){ "triage", "--sites", "--json", "--duration", "4s",
			 pid, NULL }, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 10, "exit %d: %s", rc, err);
	top = strstr(out, "\"top_leak_site\": {");
	ck_assert_msg(top, "no top_leak_site (sites_why: %s):\n%.2000s",
		      json_string_at(out, "sites_why", why, sizeof(why)),
		      strstr(out, "\"sites\"") ?: out);
	ck_assert_msg(!strncmp(strstr(top, "\"function\": \"") + 13, "leak_step\"", 10),
		      "top leak site:\n%.1500s", top);
	ck_assert(!agent_mapped(f.pid));
	fixture_stop(&f);
}
END_TEST

/* jemalloc, tcmalloc (gperftools) and mimalloc: the same slots, bound to
 * another allocator's malloc. */
START_TEST(other_allocators)
{
	static const struct {
		const char *fixture, *arg, *env, *leaker;
	} cases[] = {
		{ "je_leak", "grow", NULL, "lose" },
		{ "tc_leak", "grow", NULL, "lose" },
		{ "leak_sites", "1048576", "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
		  "leak_step" },
	};
	static char out[1 << 20], err[4096];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char pid[16], fn[128];
		struct fixture f;
		int rc;

		fixture_start(&f, cases[i].fixture, (const char *[]){ cases[i].arg, NULL },
			      (const char *[]){ cases[i].env, NULL });
		snprintf(pid, sizeof(pid), "%d", f.pid);
		rc = run_heapdoc((const char *[]){ "leaks", "--json", "--duration", "3s", "--rate",
				 "64K", pid, NULL }, out, sizeof(out), err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: exit %d: %s", cases[i].fixture, rc, err);
		first_site_function(out, fn, sizeof(fn));
		ck_assert_msg(!strcmp(fn, cases[i].leaker), "%s: first site is '%s'",
			      cases[i].fixture, fn);
		ck_assert_msg(strstr(out, "\"left\": \"nothing\""), "%s: library left behind",
			      cases[i].fixture);
		fixture_stop(&f);
	}
}
END_TEST

/* A jemalloc process started with prof:true: its own profiler is read
 * (prof.dump), nothing is loaded, no dump file is left behind. */
START_TEST(jemalloc_own_profiler)
{
	static char out[1 << 20], err[4096];
	struct fixture f;
	char pid[16], tmp[256], listing[1 << 14];
	const char *first, *next;
	int rc;

	fixture_start(&f, "je_leak", (const char *[]){ "grow", NULL },
		      (const char *[]){ "MALLOC_CONF=prof:true,lg_prof_sample:16", NULL });
	snprintf(pid, sizeof(pid), "%d", f.pid);
	rc = run_heapdoc((const char *[]){ "leaks", "--json", "--duration", "3s", pid, NULL },
			 out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "\"source\": \"jemalloc\""), "not read through prof.dump");
	ck_assert(!agent_mapped(f.pid));
	/* The growing site is the thread's; the 16 MiB lost at start holds. */
	first = strstr(out, "\"sites\": [");
	next = first ? strstr(first + 12, "\"growth_bytes\"") : NULL;
	next = next ? strstr(next + 1, "\"growth_bytes\"") : NULL;
	ck_assert_ptr_nonnull(first);
	ck_assert_msg(strstr(first, "\"function\": \"grow\"") &&
		      (!next || strstr(first, "\"function\": \"grow\"") < next),
		      "first site:\n%.2000s", first);
	snprintf(tmp, sizeof(tmp), "ls /proc/%d/root/tmp | grep -c heapdoc-jeprof", f.pid);
	run_tool(tmp, listing, sizeof(listing));
	ck_assert_msg(atoi(listing) == 0, "dump files left: %s", listing);
	fixture_stop(&f);
}
END_TEST

/* ---- unbiased counts and bytes ----------------------------------------------- */

/* known_site allocates N blocks of SIZE while heapdoc samples; the other
 * sites are quiet (no leak thread).  The estimate is a sum of independent
 * samples: within 5 standard deviations of the truth (sd = sqrt(N(1-q)/q)
 * for the count, q = 1 - exp(-SIZE/rate)). */
START_TEST(unbiased_counts_and_bytes)
{
	const long n = 20000, size = 4096, rate = 65536;
	const char *args[] = { "leaks", "--json", "--duration", "3s", "--rate", "64K", NULL,
			       NULL };
	static char json[1 << 20];
	char out_path[256];
	struct fixture f;
	double q = -expm1(-(double)size / rate), sd = sqrt(n * (1 - q) / q);
	const char *p;
	double objects = 0, bytes = 0;
	pid_t h = sample_in_background(&f, (const char *[]){ "0", NULL }, args, 6,
				       "unbiased.json", out_path, sizeof(out_path));

	fixture_command(&f, "known 20000 4096");
	ck_assert_int_eq(wait_exit(h), 0);
	ck_assert_int_eq(slurp(out_path, json, sizeof(json)), 0);
	unlink(out_path);
	/* Sum the sites holding memory whose first frame is known_site (it
	 * allocated once, early: it holds, it does not grow). */
	for (p = strstr(json, "\"holding\""); p && (p = strstr(p, "\"live_bytes\": ")); p++) {
		const char *next = strstr(p + 1, "\"live_bytes\": ");
		const char *fn = strstr(p, "\"function\": \"known_site\"");
		const char *objs = strstr(p, "\"live_objects\": ");

		if (fn && (!next || fn < next)) {
			bytes += atof(p + 14);
			objects += atof(objs + 16);
		}
	}
	ck_assert_msg(fabs(objects - n) < 5 * sd, "estimated %.0f objects of %ld (sd %.0f)",
		      objects, n, sd);
	ck_assert_msg(fabs(bytes - (double)n * size) < 5 * sd * size,
		      "estimated %.0f bytes of %ld", bytes, n * size);
	fixture_stop(&f);
}
END_TEST

/* The same rule, in heapdoc's arithmetic: simulated byte-weighted Poisson
 * sampling over a known stream, unbiased by profile_weight, lands on the
 * truth (within 4 sd, over a million allocations). */
START_TEST(unbias_weights_are_exact)
{
	const uint64_t rate = 1 << 16, sizes[] = { 16, 1000, 65536, 1 << 20 };
	uint64_t x = 88172645463325252ULL;

	for (size_t k = 0; k < 4; k++) {
		const long n = 200000;
		double left = 0, objects = 0, bytes = 0, q, sd;

		for (long i = 0; i < n; i++) {
			while (left <= 0) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				left += -log(1 - (double)(x >> 11) / 9007199254740992.0) * rate;
			}
			left -= (double)sizes[k];
			if (left <= 0) {
				double o, b;

				profile_weight(sizes[k], rate, &o, &b);
				objects += o;
				bytes += b;
				left = 0;	/* a fresh gap after a sample */
			}
		}
		q = -expm1(-(double)sizes[k] / rate);
		sd = sqrt(n * (1 - q) / q);
		ck_assert_msg(fabs(objects - n) <= 4 * sd + 1e-6, "size %llu: %.0f of %ld",
			      (unsigned long long)sizes[k], objects, n);
		ck_assert_double_eq_tol(bytes / objects, (double)sizes[k], 1e-9 * sizes[k]);
	}
}
END_TEST

/* ---- safety ---------------------------------------------------------------------- */

/* heapdoc is SIGKILLed while sampling: the library notices the heartbeat
 * stopped and puts the slots back itself; the process runs on. */
START_TEST(sigkill_leaves_process_running)
{
	const char *args[] = { "leaks", "--json", "--duration", "60s", NULL, NULL };
	char out_path[256];
	struct fixture f;
	long long before;
	pid_t h = sample_in_background(&f, NULL, args, 4, "killed.json", out_path,
				       sizeof(out_path));
	int i;

	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "malloc_hooked"), 1);
	before = fixture_value(&f, "leaked_objects");
	kill(h, SIGKILL);
	wait_exit(h);
	unlink(out_path);
	/* Heartbeat timeout (3 s) plus the library's check interval. */
	for (i = 0; i < 100; i++) {
		fixture_refresh(&f);
		if (!fixture_value(&f, "malloc_hooked"))
			break;
		sleep_ms(100);
	}
	ck_assert_msg(i < 100, "the slots were not put back after heapdoc died");
	ck_assert_int_gt(fixture_value(&f, "leaked_objects"), before);
	fixture_command(&f, "threads");
	ck_assert_int_eq(fixture_value(&f, "threads_ok"), 1);
	fixture_stop(&f);
}
END_TEST

/* fork, dlopen and new threads while sampling: the child runs correctly,
 * the module loaded later is sampled, and heapdoc still leaves cleanly. */
START_TEST(fork_dlopen_threads_while_sampling)
{
	const char *args[] = { "leaks", "--json", "--duration", "4s", "--rate", "64K", NULL,
			       NULL };
	static char json[1 << 20];
	char out_path[256];
	struct fixture f;
	pid_t h = sample_in_background(&f, NULL, args, 6, "events.json", out_path,
				       sizeof(out_path));

	fixture_command(&f, "fork");
	ck_assert_int_eq(fixture_value(&f, "fork_status"), 0);
	fixture_command(&f, "threads");
	ck_assert_int_eq(fixture_value(&f, "threads_ok"), 1);
	fixture_command(&f, "dlopen");
	ck_assert_int_eq(fixture_value(&f, "dlopen_ok"), 1);
	ck_assert_int_eq(wait_exit(h), 0);
	ck_assert_int_eq(slurp(out_path, json, sizeof(json)), 0);
	unlink(out_path);
	ck_assert_msg(strstr(json, "\"function\": \"deflateInit2_\"") ||
		      strstr(json, "\"function\": \"deflateInit_\""),
		      "nothing sampled in libz, loaded during the window");
	ck_assert_msg(strstr(json, "\"left\": \"nothing\""), "left: %s", strstr(json, "\"left\""));
	ck_assert(!agent_mapped(f.pid));
	fixture_refresh(&f);
	ck_assert_int_eq(fixture_value(&f, "malloc_hooked"), 0);
	fixture_stop(&f);
}
END_TEST

/* The process exits in the middle: heapdoc says so, reports what it saw,
 * exits 3. */
START_TEST(target_exits_during_sampling)
{
	const char *args[] = { "leaks", "--duration", "20s", NULL, NULL };
	static char out[1 << 16];
	char out_path[256];
	struct fixture f;
	pid_t h = sample_in_background(&f, NULL, args, 3, "exit.txt", out_path,
				       sizeof(out_path));

	ck_assert_int_eq(write(f.to_child, "exit\n", 5), 5);
	waitpid(f.pid, NULL, 0);
	f.pid = 0;
	ck_assert_int_eq(wait_exit(h), 3);
	ck_assert_int_eq(slurp(out_path, out, sizeof(out)), 0);
	unlink(out_path);
	ck_assert_msg(strstr(out, "exited during the window"), "%s", out);
}
END_TEST

START_TEST(errors_are_clear)
{
	static char out[4096], err[4096];

	ck_assert_int_eq(run_heapdoc((const char *[]){ "leaks", "--duration", "1s", "12x",
				      NULL }, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(run_heapdoc((const char *[]){ "leaks", "--duration", "1s", "4000000",
				      NULL }, out, sizeof(out), err, sizeof(err)), 3);
	ck_assert_msg(strstr(err, "no such process"), "%s", err);
	ck_assert_int_eq(run_heapdoc((const char *[]){ "leaks", "--rate", "lots", "1", NULL },
				     out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_msg(strstr(err, "--rate"), "%s", err);
}
END_TEST

Suite *leaks_suite(void)
{
	Suite *s = suite_create("leaks");
	TCase *unit = tcase_create("unit"), *live = tcase_create("live");

	tcase_add_test(unit, unbias_weights_are_exact);
	tcase_add_test(unit, errors_are_clear);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, leaking_function_ranked_first);
	tcase_add_test(live, unbiased_counts_and_bytes);
	tcase_add_test(live, other_allocators);
	tcase_add_test(live, triage_names_top_leak_site);
	tcase_add_test(live, jemalloc_own_profiler);
	tcase_add_test(live, container_gets_a_copy);
	tcase_add_test(live, fno_plt_code_is_sampled);
	tcase_add_test(live, sigkill_leaves_process_running);
	tcase_add_test(live, fork_dlopen_threads_while_sampling);
	tcase_add_test(live, target_exits_during_sampling);
	suite_add_tcase(s, unit);
	suite_add_tcase(s, live);
	return s;
}
