/* The exporter's parts that need no process: the fleet model (units,
 * windows, pauses), the metrics page (promtool accepts it, labels are
 * escaped, every name is in heapdoc(1)), the HTTP server, and repeated
 * options. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cmd.h"
#include "model/fleet.h"
#include "observe/fleet.h"
#include "observe/proc.h"
#include "report/exporter.h"
#include "report/metrics.h"
#include "serve.h"
#include "testlib.h"

/* ---- the model -------------------------------------------------------------- */

START_TEST(unit_is_the_last_service_or_scope_in_the_path)
{
	static const struct { const char *cgroup, *unit; } cases[] = {
		{ "/system.slice/nginx.service", "nginx.service" },
		{ "/system.slice/docker-4f2a.scope", "docker-4f2a.scope" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service", "x.service" },
		{ "/system.slice/postgresql@15-main.service/payload", "postgresql@15-main.service" },
		{ "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope", "cri-containerd-ab.scope" },
		{ "/system.slice", "" },
		{ "/", "" },
		{ "", "" },
		{ "/.service", "" },	/* a bare suffix names no unit */
		{ "/a/service", "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char unit[256];

		fleet_unit_of(cases[i].cgroup, unit, sizeof(unit));
		ck_assert_msg(!strcmp(unit, cases[i].unit), "%s: got '%s'", cases[i].cgroup, unit);
	}
}
END_TEST

START_TEST(window_keeps_the_last_seconds)
{
	static struct observation obs;

	memset(&obs, 0, sizeof(obs));
	for (int i = 0; i < 100; i++)
		obs.samples[obs.nsamples++] = (struct sample){ .t = i * 15.0, .rss = (uint64_t)i };
	fleet_window_trim(&obs, 600);
	ck_assert_uint_eq(obs.nsamples, 41);
	ck_assert_uint_eq(obs.samples[0].rss, 59);
	ck_assert(obs.samples[40].t == 99 * 15.0);
	fleet_window_trim(&obs, 0);
	ck_assert_uint_eq(obs.nsamples, 1);
	ck_assert_uint_eq(obs.samples[0].rss, 99);
}
END_TEST

START_TEST(pauses_fill_cumulative_buckets_and_the_hour_forgets)
{
	struct fleet_pauses p = { 0 };
	struct fleet_hour h = { 0 };
	double t0 = 1.7e9;

	fleet_pauses_add(&p, 80);	/* 0.08 ms */
	fleet_pauses_add(&p, 400);
	fleet_pauses_add(&p, 2000000);	/* beyond the last bound */
	ck_assert_uint_eq(p.le[0], 1);
	ck_assert_uint_eq(p.le[2], 2);
	ck_assert_uint_eq(p.le[FLEET_PAUSE_BUCKETS - 1], 2);
	ck_assert_uint_eq(p.count, 3);
	ck_assert_uint_eq(p.total_us, 2000480);
	ck_assert_uint_eq(p.longest_us, 2000000);

	fleet_hour_add(&h, t0, 500);
	fleet_hour_add(&h, t0 + 30 * 60, 700);
	ck_assert_uint_eq(fleet_hour_total_us(&h, t0 + 59 * 60), 1200);
	/* The first minute is more than an hour old now; its slot is reused. */
	ck_assert_uint_eq(fleet_hour_total_us(&h, t0 + 61 * 60), 700);
	fleet_hour_add(&h, t0 + 60 * 60 + 1, 100);
	ck_assert_uint_eq(fleet_hour_total_us(&h, t0 + 60 * 60 + 2), 800);
}
END_TEST

/* ---- which processes -------------------------------------------------------- */

static char tree[128];

static void fake_file(const char *rel, const char *text, size_t len)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p $(dirname %s)", path);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(path, "w");
	ck_assert(f != NULL);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* A process in the fake /proc: its stat line (state, flags), command line
 * (NUL-separated, len bytes) and cgroup membership. */
static void fake_process(int pid, const char *comm, char state, unsigned long flags,
			 const char *cmdline, size_t cmdlen, const char *cgroup)
{
	char rel[64], stat[512];
	int n = snprintf(stat, sizeof(stat), "%d (%s) %c 1 %d %d 0 -1 %lu 10 0 0 0 5 3 0 0 20 0 1 0 "
			 "%d 1000000 100 0\n", pid, comm, state, pid, pid, flags, 1000 + pid);

	snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
	fake_file(rel, stat, (size_t)n);
	snprintf(rel, sizeof(rel), "proc/%d/cmdline", pid);
	fake_file(rel, cmdline, cmdlen);
	snprintf(rel, sizeof(rel), "proc/%d/cgroup", pid);
	fake_file(rel, cgroup, strlen(cgroup));
}

/* A command line literal and its length (its last NUL is the literal's). */
#define CMDLINE(s) s, sizeof(s) - 1

static void make_tree(void)
{
	snprintf(tree, sizeof(tree), "/tmp/heapdoc-fleet-%d", (int)getpid());
	fake_process(100, "nginx", 'S', 0x400100, CMDLINE("nginx\0-g\0daemon off;\0"),
		     "0::/system.slice/nginx.service\n");
	fake_process(200, "python3", 'S', 0x400000, CMDLINE("python3\0/srv/app/worker.py\0"),
		     "0::/user.slice/user-1000.slice/session-2.scope\n");
	fake_process(300, "kworker/0:1", 'I', 0x04208060, "", 0, "0::/\n");	/* PF_KTHREAD */
	fake_process(400, "redis-server", 'Z', 0x400000, "", 0, "0::/system.slice/redis.service\n");
	fake_process(500, "java", 'S', 0x400000, CMDLINE("java\0-jar\0app.jar\0"),
		     "12:memory:/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope\n"
		     "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope\n");
	fake_file("cg/cgroup.procs", "200\n", 4);
	fake_file("cg/child/cgroup.procs", "100\n", 4);
}

/* The pids fleet_find selects, as "100 200". */
static void found(const struct fleet_select *sel, char *out, size_t len)
{
	struct fleet_found *v;
	struct error err = { 0 };
	size_t n, at = 0;

	ck_assert_msg(fleet_find(tree, sel, &v, &n, &err) == 0, "%s", err.msg);
	out[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s%d", i ? " " : "", (int)v[i].pid);
	free(v);
}

START_TEST(processes_are_chosen_by_name_command_line_pid_and_cgroup)
{
	static const struct { const char *match, *cgroup; pid_t pid; const char *want; } cases[] = {
		{ "^nginx$", NULL, 0, "100" },
		{ "worker\\.py", NULL, 0, "200" },		/* the command line */
		{ "^(redis-server|kworker)", NULL, 0, "" },	/* a zombie, a kernel thread */
		{ "app", NULL, 0, "200 500" },		/* /srv/app/, app.jar */
		{ NULL, "nginx.service", 0, "100" },		/* a unit */
		{ NULL, "user.slice", 0, "200" },		/* a slice */
		{ NULL, "/kubepods.slice", 0, "500" },		/* a path and below */
		{ NULL, "/kubepods", 0, "" },			/* not a component */
		{ NULL, "/system.slice/nginx.service", 0, "100" },
		{ NULL, NULL, 500, "500" },
		{ NULL, NULL, 300, "" },			/* a kernel thread, even by pid */
		{ NULL, "DIR", 0, "100 200" },			/* cgroup.procs, and below */
	};
	char dir[256], got[256];

	make_tree();
	snprintf(dir, sizeof(dir), "%s/cg", tree);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fleet_select sel = { 0 };
		const char *cg = cases[i].cgroup && !strcmp(cases[i].cgroup, "DIR") ? dir :
				 cases[i].cgroup;
		regex_t re;

		if (cases[i].match) {
			ck_assert_int_eq(regcomp(&re, cases[i].match, REG_EXTENDED | REG_NOSUB), 0);
			sel.match = &re;
		}
		sel.cgroups = &cg;
		sel.ncgroups = cg != NULL;
		sel.pids = &cases[i].pid;
		sel.npids = cases[i].pid != 0;
		found(&sel, got, sizeof(got));
		ck_assert_msg(!strcmp(got, cases[i].want), "case %zu: got '%s', want '%s'", i, got,
			      cases[i].want);
		if (cases[i].match)
			regfree(&re);
	}
	snprintf(got, sizeof(got), "rm -rf %s", tree);
	ck_assert_int_eq(system(got), 0);
}
END_TEST

/* The kernel writes /proc/PID/smaps a page at a time and goes on after the
 * last mapping it wrote: a heap that grew in between comes twice, the
 * second time with its new end (a leaking process, every few reads). */
START_TEST(a_mapping_that_grew_while_read_is_read_at_its_new_size)
{
	static const char smaps[] =
		"55d0a0000000-55d0a0001000 r--p 00000000 08:01 42 /usr/bin/app\n"
		"Rss:                   4 kB\n"
		"55d0a1000000-55d0a1400000 rw-p 00000000 00:00 0 [heap]\n"
		"Rss:                4096 kB\n"
		"55d0a1000000-55d0a1800000 rw-p 00000000 00:00 0 [heap]\n"
		"Rss:                8192 kB\n"
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]\n"
		"Rss:                  12 kB\n";
	struct error err = { 0 };
	struct maps m = { 0 };
	char cmd[256];

	snprintf(tree, sizeof(tree), "/tmp/heapdoc-fleet-%d", (int)getpid());
	fake_file("proc/600/smaps", smaps, sizeof(smaps) - 1);
	ck_assert_msg(proc_read_smaps(tree, 600, &m, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_uint_eq(m.v[1].end, 0x55d0a1800000);
	ck_assert_uint_eq(m.v[1].rss, 8192 << 10);
	maps_free(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- the page ---------------------------------------------------------------- */

/* Runs promtool check metrics on text; its verdict in msg. */
static int promtool_check(const char *text, char *msg, size_t len)
{
	char path[64], cmd[256];
	FILE *f;
	int status;

	snprintf(path, sizeof(path), "/tmp/heapdoc-test-%d.prom", (int)getpid());
	f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s.out 2>&1", path, path);
	status = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s.out", path);
	slurp(cmd, msg, len);
	unlink(cmd);
	unlink(path);
	return status;
}

static void fake_target(struct fleet_target *t, struct observation *obs)
{
	memset(t, 0, sizeof(*t));
	memset(obs, 0, sizeof(*obs));
	t->pid = 4242;
	t->obs = obs;
	t->view = true;
	snprintf(t->cgroup, sizeof(t->cgroup), "/system.slice/we\"ird\\.service");
	fleet_unit_of(t->cgroup, t->unit, sizeof(t->unit));
	snprintf(obs->comm, sizeof(obs->comm), "a \"b\"\nc");
	obs->alloc.kind = ALLOC_GLIBC;
	obs->summary = (struct alloc_summary){ .valid = true, .trimmable = 4096, .narenas = 3 };
	cgroup_limits_unset(&obs->cgroup);
	obs->cgroup.memory_max = 1 << 30;
	obs->samples[obs->nsamples++] = (struct sample){ .t = 0, .rss = 100 << 20,
		.allocated = 60 << 20, .resident = 90 << 20 };
	obs->samples[obs->nsamples++] = (struct sample){ .t = 15, .rss = 101 << 20,
		.allocated = 61 << 20, .resident = 90 << 20 };
	for (size_t k = 0; k < FLEET_NFREE; k++)
		t->free[k] = UNSET;
	t->free[FLEET_FREE_BETWEEN_LIVE] = 20 << 20;
	t->free[FLEET_FREE_TOP] = 1 << 20;
	fleet_pauses_add(&t->pauses, 300);
	t->read_errors[FLEET_ERR_BUSY] = 2;
	t->last_success = 1.7e9 + 0.25;
}

START_TEST(page_passes_promtool_with_escaped_labels)
{
	static struct observation obs;
	struct fleet_target t;
	struct exporter_target e;
	struct exporter_self self = { .version = "0.1.0", .rounds = 2, .round_s = 0.01,
				      .last_round = 1.7e9, .serving = true, .scrapes = 1,
				      .cpu_s = 0.5, .rss = 8 << 20, .start_time = 1.7e9 - 30 };
	static char page[65536], msg[4096];
	FILE *f = fmemopen(page, sizeof(page), "w");

	fake_target(&t, &obs);
	e = (struct exporter_target){ &t, VERDICT_FRAGMENTATION };
	exporter_write(f, &e, 1, &self, 1.7e9 + 1);
	fclose(f);
	ck_assert_msg(promtool_check(page, msg, sizeof(msg)) == 0, "promtool: %s\n%s", msg, page);
	ck_assert_msg(strstr(page, "comm=\"a \\\"b\\\"\\nc\""), "comm not escaped:\n%s", page);
	ck_assert_msg(strstr(page, "unit=\"we\\\"ird\\\\.service\""), "unit:\n%s", page);
	ck_assert_msg(strstr(page, ",verdict=\"fragmentation\"} 1\n"), "%s", page);
	ck_assert_msg(strstr(page, ",kind=\"between_live\"} 20971520\n"), "%s", page);
	ck_assert_msg(!strstr(page, "kind=\"dirty\""), "a kind glibc has not:\n%s", page);
	ck_assert_msg(strstr(page, "heapdoc_fragmentation_ratio{pid=\"4242\""), "%s", page);
	/* No limit of its own: no heapdoc_cgroup_memory_usage_bytes line. */
	ck_assert_msg(!strstr(page, "\nheapdoc_cgroup_memory_usage_bytes{"), "%s", page);
	ck_assert_msg(strstr(page, "heapdoc_last_success_timestamp_seconds{pid=\"4242\",comm=\"a "
			     "\\\"b\\\"\\nc\",allocator=\"glibc\",cgroup=\"/system.slice/we\\\"ird"
			     "\\\\.service\",unit=\"we\\\"ird\\\\.service\"} 1700000000.25\n"),
		      "timestamps keep their fraction:\n%s", page);
	ck_assert_msg(strstr(page, "heapdoc_exporter_targets 1\n"), "%s", page);
}
END_TEST

/* Every metric is documented in heapdoc(1): the man page is where its
 * labels and units are explained. */
START_TEST(man_page_documents_every_metric)
{
	static char man[1 << 17];

	ck_assert_int_eq(slurp(HEAPDOC_ROOT "/man/heapdoc.1", man, sizeof(man)), 0);
	for (size_t i = 0; i < METRIC_COUNT; i++) {
		char roff[128], *p, *q;

		/* roff writes "_" as is; a name is documented where it starts a
		 * tagged paragraph (.B name). */
		snprintf(roff, sizeof(roff), ".B %s", metrics[i].name);
		p = strstr(man, roff);
		ck_assert_msg(p, "heapdoc(1) does not document %s", metrics[i].name);
		q = p + strlen(roff);
		ck_assert_msg(*q == '\n' || *q == ' ', "heapdoc(1): %s", roff);
	}
}
END_TEST

/* deploy/: the rules pass promtool check and their unit test, the
 * dashboard's queries parse, the DaemonSet and the systemd unit hold what
 * they must, and every metric they name is one heapdoc writes
 * (scripts/check-deploy.py says which check failed). */
START_TEST(deploy_files_pass_their_checks)
{
	ck_assert_int_eq(system("python3 " HEAPDOC_ROOT "/scripts/check-deploy.py " HEAPDOC_ROOT
				" >&2"), 0);
}
END_TEST

/* ---- the server ---------------------------------------------------------------- */

static int port_of(const struct serve *s)
{
	const char *colon = strrchr(serve_address(s), ':');

	ck_assert(colon != NULL);
	return atoi(colon + 1);
}

START_TEST(server_answers_the_last_page_and_nothing_else)
{
	static char body[8192];
	struct error err = { 0 };
	struct serve *s = NULL;
	int port;

	ck_assert_int_eq(serve_open(&s, "127.0.0.1:0", &err), 0);
	ck_assert_int_eq(serve_start(s, &err), 0);
	port = port_of(s);
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(http_get(port, "GET /metrics HTTP/1.1", body, sizeof(body)), 503);
	serve_publish(s, strdup("page one\n"), 9);
	ck_assert_int_eq(http_get(port, "GET /metrics HTTP/1.1", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "page one\n");
	/* Scrapes between two rounds read the same page: nothing is read for them. */
	ck_assert_int_eq(http_get(port, "GET /metrics?x=1 HTTP/1.0", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "page one\n");
	serve_publish(s, strdup("page two\n"), 9);
	ck_assert_int_eq(http_get(port, "GET /metrics HTTP/1.1", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "page two\n");
	ck_assert_int_eq(http_get(port, "HEAD /metrics HTTP/1.1", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "");
	ck_assert_int_eq(http_get(port, "GET / HTTP/1.1", body, sizeof(body)), 200);
	ck_assert_int_eq(http_get(port, "GET /debug HTTP/1.1", body, sizeof(body)), 404);
	ck_assert_int_eq(http_get(port, "POST /metrics HTTP/1.1", body, sizeof(body)), 405);
	ck_assert_int_eq(http_get(port, "hello", body, sizeof(body)), 400);
	ck_assert_uint_eq(serve_scrapes(s), 5);
	serve_close(s);
}
END_TEST

START_TEST(server_refuses_what_is_not_an_address)
{
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:", "127.0.0.1:http",
					   "no.such.host.invalid:80", "1.2.3.4:99999" };
	struct error err = { 0 };
	struct serve *s = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(serve_open(&s, bad[i], &err) < 0, "%s accepted", bad[i]);
		ck_assert_ptr_null(s);
	}
}
END_TEST

/* ---- options given again ---------------------------------------------------------- */

START_TEST(repeated_options_keep_every_value_in_order)
{
	char *argv[] = { "exporter", "--pid", "1", "--cgroup", "a.service", "--pid", "22",
			 "--match", "x", NULL };
	const char *v[4];
	struct cmd_args a;
	int code;

	ck_assert(cmd_parse(&cmd_exporter_entry, 9, argv, &a, &code));
	ck_assert_uint_eq(cmd_values(&a, 3, v, 4), 2);	/* --pid */
	ck_assert_str_eq(v[0], "1");
	ck_assert_str_eq(v[1], "22");
	ck_assert_uint_eq(cmd_values(&a, 4, v, 4), 1);	/* --cgroup */
	ck_assert_str_eq(v[0], "a.service");
}
END_TEST

Suite *fleet_suite(void)
{
	Suite *s = suite_create("fleet");
	TCase *model = tcase_create("model");
	TCase *page = tcase_create("page");
	TCase *server = tcase_create("server");

	tcase_add_test(model, unit_is_the_last_service_or_scope_in_the_path);
	tcase_add_test(model, window_keeps_the_last_seconds);
	tcase_add_test(model, pauses_fill_cumulative_buckets_and_the_hour_forgets);
	tcase_add_test(model, repeated_options_keep_every_value_in_order);
	tcase_add_test(model, processes_are_chosen_by_name_command_line_pid_and_cgroup);
	tcase_add_test(model, a_mapping_that_grew_while_read_is_read_at_its_new_size);
	tcase_add_test(page, page_passes_promtool_with_escaped_labels);
	tcase_add_test(page, man_page_documents_every_metric);
	tcase_add_test(page, deploy_files_pass_their_checks);
	tcase_add_test(server, server_answers_the_last_page_and_nothing_else);
	tcase_add_test(server, server_refuses_what_is_not_an_address);
	suite_add_tcase(s, model);
	suite_add_tcase(s, page);
	suite_add_tcase(s, server);
	return s;
}
