/* heapdoc exporter: the allocator figures of every matching process, for
 * Prometheus, refreshed in rounds (cmd/exporter_round.c) and served over
 * HTTP (cmd/serve.c) or written to a textfile for node_exporter. */
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "exporter.h"
#include "observe/proc.h"
#include "observe/target.h"

static int exporter_exec(const struct cmd_args *a);

enum {
	EXP_LISTEN, EXP_INTERVAL, EXP_MATCH, EXP_PID, EXP_CGROUP, EXP_TEXTFILE, EXP_WINDOW,
};

const struct cmd_entry cmd_exporter_entry = {
	.name = "exporter",
	.summary = "serve the allocator figures of matching processes to Prometheus",
	.description =
"Watches every process that --match, --pid or --cgroup selects and serves\n"
"their memory as Prometheus metrics at http://ADDR:PORT/metrics: RSS, the\n"
"allocator's allocated and resident bytes, its free bytes by kind, what a\n"
"release would return, arenas, the fragmentation ratio, the cgroup's limit\n"
"and usage, and triage's verdict over a rolling window.  Rounds run in the\n"
"background every --interval; a scrape answers from the last round and\n"
"never touches a process.  Each round stops a process once, briefly (the\n"
"light read of `heapdoc record`: a few hundred microseconds for glibc, one\n"
"borrowed thread for jemalloc and tcmalloc), and the full read (free bytes\n"
"by kind, arenas) walks its heap while it runs, once a minute; every stop is\n"
"in heapdoc_pause_seconds.  Between rounds no process is traced.  Processes\n"
"that appear are picked up by the next round; those that exit vanish from\n"
"it; one that cannot be read (permission, another tracer, no debug info) is\n"
"exported from /proc alone and counted in heapdoc_read_errors_total.\n"
"SIGTERM or SIGINT stops the exporter after releasing every process (exit\n"
"0).  heapdoc(1), EXPORTER, lists every metric and its labels.\n",
	.args = "", .args_min = 0, .args_max = 0,
	.options = {
		[EXP_LISTEN] = { .name = "listen", .type = CMD_STRING, .value_name = "ADDR:PORT",
			.help = "where to serve /metrics (default " EXPORTER_LISTEN_DEFAULT
			", loopback only; :9833 listens on every interface, port 0 on a free "
			"one, printed at start)" },
		[EXP_INTERVAL] = { .name = "interval", .type = CMD_DURATION, .value_name = "D",
			.help = "time between rounds (at least 1 s; default 15s)" },
		[EXP_MATCH] = { .name = "match", .type = CMD_STRING, .value_name = "REGEX",
			.help = "processes whose name or command line this extended regular "
			"expression matches" },
		[EXP_PID] = { .name = "pid", .type = CMD_STRING, .value_name = "PID",
			.repeat = true, .help = "this process, while it lives (again for more)" },
		[EXP_CGROUP] = { .name = "cgroup", .type = CMD_STRING, .value_name = "PATH",
			.repeat = true, .help = "every process in this cgroup and below it: a "
			"directory (/sys/fs/cgroup/system.slice/nginx.service), a path as "
			"/proc/PID/cgroup names it (/system.slice/nginx.service), or a systemd "
			"unit or slice (nginx.service); again for more" },
		[EXP_TEXTFILE] = { .name = "textfile", .type = CMD_STRING, .value_name = "PATH",
			.help = "also write each round to PATH (through PATH.tmp and a rename) for "
			"node_exporter's textfile collector; name it *.prom.  Without --listen, "
			"no server" },
		[EXP_WINDOW] = { .name = "window", .type = CMD_DURATION, .value_name = "D",
			.help = "the rolling window heapdoc_verdict is judged on (default 1h)" },
	},
	.examples = {
		{ "heapdoc exporter --match '^(redis-server|nginx)$'",
		  "every redis-server and nginx, at http://127.0.0.1:9833/metrics" },
		{ "heapdoc exporter --cgroup nginx.service --interval 30s",
		  "the processes of a systemd unit, every 30 seconds" },
		{ "heapdoc exporter --listen :9833 --cgroup /kubepods.slice",
		  "every pod's processes, run on a Kubernetes node's host (in a pod: "
		  "deploy/kubernetes)" },
		{ "heapdoc exporter --pid 4242 --textfile /var/lib/node_exporter/heapdoc.prom",
		  "one process, through node_exporter's textfile collector" },
		{ "curl -s localhost:9833/metrics | grep '^heapdoc_verdict.*} 1'",
		  "the verdict on each process over the last hour" },
	},
	.exec = exporter_exec,
};

/* ---- options ---------------------------------------------------------------- */

static int read_pids(const struct cmd_args *a, struct exporter *x)
{
	const char *v[CMD_MAX_REPEATED];
	size_t n = cmd_values(a, EXP_PID, v, CMD_MAX_REPEATED);
	struct error err = { 0 };
	struct proc_status st;

	for (size_t i = 0; i < n; i++) {
		int ret = cmd_parse_pid(a->cmd, v[i], &x->pids[i]);

		if (ret)
			return ret;
		/* A pid that names nothing now is a mistake worth stopping for. */
		ret = proc_read_status("", x->pids[i], &st, &err);
		if (!ret && st.tgid > 0 && st.tgid != x->pids[i])
			ret = proc_thread_error(x->pids[i], st.tgid, &err);
		if (ret)
			return cmd_fail(&err);
	}
	x->sel.pids = x->pids;
	x->sel.npids = n;
	return 0;
}

static int read_selection(const struct cmd_args *a, struct exporter *x)
{
	char why[256];
	int ret;

	if (!a->set[EXP_MATCH] && !a->set[EXP_PID] && !a->set[EXP_CGROUP])
		return cmd_usage_error(a->cmd, "which processes? give --match, --pid or --cgroup");
	if (a->set[EXP_MATCH]) {
		ret = regcomp(&x->re, a->value[EXP_MATCH], REG_EXTENDED | REG_NOSUB);
		if (ret) {
			regerror(ret, &x->re, why, sizeof(why));
			return cmd_usage_error(a->cmd, "--match: '%s': %s", a->value[EXP_MATCH],
					       why);
		}
		x->have_re = true;
		x->sel.match = &x->re;
	}
	x->sel.ncgroups = cmd_values(a, EXP_CGROUP, x->cgroups, CMD_MAX_REPEATED);
	x->sel.cgroups = x->cgroups;
	return read_pids(a, x);
}

static int read_options(const struct cmd_args *a, struct exporter *x)
{
	x->interval_s = a->set[EXP_INTERVAL] ? a->seconds[EXP_INTERVAL] : EXPORTER_INTERVAL_S;
	x->window_s = a->set[EXP_WINDOW] ? a->seconds[EXP_WINDOW] : EXPORTER_WINDOW_S;
	x->textfile = a->value[EXP_TEXTFILE];
	x->listen = a->set[EXP_LISTEN] || !x->textfile ?
		    (a->value[EXP_LISTEN] ? a->value[EXP_LISTEN] : EXPORTER_LISTEN_DEFAULT) : NULL;
	if (x->interval_s < 1)
		return cmd_usage_error(a->cmd, "--interval: at least 1s (each round stops "
				       "every process once)");
	if (x->window_s < 2 * x->interval_s)
		return cmd_usage_error(a->cmd, "--window: at least two intervals");
	return read_selection(a, x);
}

/* ---- the loop ---------------------------------------------------------------- */

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

/* Waits until deadline_ns (CLOCK_MONOTONIC) with the signals that stop
 * heapdoc blocked, so one that arrives just before the wait still ends it
 * at once.  The signal, or 0 at the deadline. */
static int wait_until(uint64_t deadline_ns)
{
	sigset_t set, saved;
	siginfo_t info;
	int sig = 0;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&set, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, &saved);
	if (target_interrupted())
		sig = target_interrupt_signal();
	while (!sig) {
		uint64_t now = now_ns();
		struct timespec left;

		if (now >= deadline_ns)
			break;
		left = (struct timespec){ (time_t)((deadline_ns - now) / 1000000000ULL),
					  (long)((deadline_ns - now) % 1000000000ULL) };
		sig = sigtimedwait(&set, &info, &left);
		if (sig < 0)
			sig = 0;	/* the deadline, or another signal: look again */
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return sig;
}

static int run(struct exporter *x)
{
	struct error err = { 0 };
	int ret = 0, sig = 0;

	for (uint64_t start = now_ns(); !sig;) {
		ret = exporter_round(x, &err);
		if (ret == -EINTR) {
			sig = target_interrupt_signal();
			break;
		}
		if (ret) {
			fprintf(stderr, "heapdoc exporter: %s\n", err.msg);
			if (ret == -ENOMEM)
				break;
		}
		start += (uint64_t)(x->interval_s * 1e9);
		if (start < now_ns())
			start = now_ns();	/* a round longer than the interval */
		sig = wait_until(start);
	}
	if (sig)
		fprintf(stderr, "heapdoc exporter: stopped by SIG%s; %zu process%s released\n",
			sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", x->n, x->n == 1 ? "" : "es");
	return ret == -ENOMEM ? cmd_fail(&err) : EXIT_OK;
}

static int start_server(struct exporter *x)
{
	struct error err = { 0 };
	int ret;

	if (!x->listen)
		return 0;
	ret = serve_open(&x->server, x->listen, &err);
	if (!ret)
		ret = serve_start(x->server, &err);
	if (ret)
		return cmd_fail(&err);
	fprintf(stderr, "heapdoc exporter: serving http://%s/metrics\n",
		serve_address(x->server));
	return 0;
}

static int exporter_exec(const struct cmd_args *a)
{
	struct exporter *x = calloc(1, sizeof(*x));
	int code;

	if (!x) {
		fprintf(stderr, "heapdoc: out of memory\n");
		return EXIT_ERROR;
	}
	code = read_options(a, x);
	if (!code)
		code = exporter_open(x);
	if (!code)
		code = start_server(x);
	if (!code) {
		/* From here SIGINT, SIGTERM and SIGHUP only end the loop: every
		 * process is released before heapdoc exits. */
		target_guard_enter();
		code = run(x);
		target_guard_leave();
	}
	exporter_close(x);
	return code;
}
