/* heapdoc leaks: where the leak is — sampled allocation stacks from a live
 * process, ranked by the live bytes they keep adding, with pprof, jeprof
 * and folded-stack files for the tools people already use. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "base/human.h"
#include "base/util.h"
#include "judge/leaks.h"
#include "model/profile.h"
#include "observe/agent/agent_profile.h"
#include "observe/alloc/jemalloc_prof.h"
#include "observe/leaks_before.h"
#include "observe/proc.h"
#include "observe/target.h"
#include "report/leaks.h"

static int leaks_exec(const struct cmd_args *a);

enum { LEAKS_DURATION, LEAKS_RATE, LEAKS_JSON, LEAKS_PPROF, LEAKS_JEPROF, LEAKS_FOLDED,
       LEAKS_TOP, LEAKS_NO_GOT };

const struct cmd_entry cmd_leaks_entry = {
	.name = "leaks",
	.summary = "where the leak is: sampled allocation stacks, ranked by growth",
	.description =
"Loads a small sampling library into the running process (no restart, no\n"
"preload), samples allocations by bytes (on average one per --rate bytes,\n"
"each weighted so that counts and bytes are unbiased), and follows each\n"
"sampled allocation to its free.  Then ranks the allocation sites by how\n"
"much their live bytes grew over the window -- the leak -- with their stacks\n"
"(function, file:line, module), bytes and objects per second and their share\n"
"of the growth, and lists the sites holding the most live bytes.  On leaving\n"
"every relocation slot is put back and the library unloaded once no thread\n"
"can reach it; if heapdoc is killed, the library puts the slots back itself\n"
"within a few seconds.  Costs a few percent of a malloc-bound program at the\n"
"default rate.  Allocations made before heapdoc came have no stack: heapdoc\n"
"says how much was allocated then (read just before the library loads) and,\n"
"for glibc, counts the C++ objects among them by class -- every chunk in use\n"
"whose first word is a class's vtable pointer.\n"
"A jemalloc process started with prof:true is read through its own profiler\n"
"instead (mallctl prof.dump, at its own sampling rate): nothing is loaded, and\n"
"what it sampled before heapdoc came is counted too.\n",
	.args = "<pid>", .args_min = 1, .args_max = 1,
	.options = {
		[LEAKS_DURATION] = { .name = "duration", .type = CMD_DURATION,
			.value_name = "SECS", .help = "length of the window (30s, 2m); default "
			"10 s, or on a terminal until Ctrl-C, with a live view of the top sites" },
		[LEAKS_RATE] = { .name = "rate", .type = CMD_STRING, .value_name = "BYTES",
			.help = "mean bytes between samples (512K, 1M, 65536); default 512 KiB. "
			"Lower sees more, at more cost" },
		[LEAKS_JSON] = { .name = "json", .help = "a JSON document: sites ranked by "
			"growth (stack, growth_bytes, live_bytes, live_objects, alloc_bytes, "
			"alloc_objects), holding, before (allocated_bytes, classes), rate, window, "
			"cost" },
		[LEAKS_PPROF] = { .name = "pprof", .type = CMD_STRING, .value_name = "FILE",
			.help = "also write a gzip'd pprof profile (Go's heap layout: "
			"go tool pprof, speedscope, Parca)" },
		[LEAKS_JEPROF] = { .name = "jeprof", .type = CMD_STRING, .value_name = "FILE",
			.help = "also write jemalloc's heap_v2 text profile (jeprof --text)" },
		[LEAKS_FOLDED] = { .name = "folded", .type = CMD_STRING, .value_name = "FILE",
			.help = "also write folded stacks of live bytes (flamegraph.pl)" },
		[LEAKS_TOP] = { .name = "top", .type = CMD_STRING, .value_name = "N",
			.help = "sites shown in each list; default 10, 0 for all" },
		[LEAKS_NO_GOT] = { .name = "no-got", .help = "leave the GOT slots of -fno-plt "
			"code alone (then nothing at all stays behind, but such code is not "
			"sampled)" },
	},
	.examples = {
		{ "heapdoc leaks --duration 30s 4242",
		  "the sites whose live bytes grew over 30 s, and what holds memory" },
		{ "heapdoc leaks --pprof heap.pb.gz --duration 1m 4242 && go tool pprof -top heap.pb.gz",
		  "the same profile in pprof, by in-use space" },
		{ "heapdoc leaks --json --duration 10s 4242 | jq '.sites[0].stack[0]'",
		  "the frame that allocates the fastest-growing memory" },
		{ "heapdoc leaks --rate 64K --folded live.folded 4242",
		  "sample finely until Ctrl-C; flamegraph.pl live.folded > live.svg" },
		{ "heapdoc leaks --json --duration 5s 4242 | jq '.before.classes[:3]'",
		  "the C++ classes whose objects held the most memory before heapdoc came" },
	},
	.exec = leaks_exec,
};

struct leaks_opts {
	double duration_s;		/* 0: until Ctrl-C */
	uint64_t rate;
	bool json, live_view, no_got;
	size_t top;
	const char *pprof, *jeprof, *folded;
	pid_t pid;
};

/* "512K", "1M", "1MiB", "65536" → bytes; 0 when it is none of these. */
static uint64_t parse_bytes(const char *arg)
{
	static const struct { const char *suffix; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "K", 1 << 10 }, { "KiB", 1 << 10 }, { "k", 1 << 10 },
		{ "M", 1 << 20 }, { "MiB", 1 << 20 }, { "G", 1 << 30 }, { "GiB", 1 << 30 },
	};
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end == arg || errno || arg[0] == '-')
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(end, units[i].suffix))
			return v <= UINT64_MAX / units[i].mul ? v * units[i].mul : 0;
	return 0;
}

static int read_opts(const struct cmd_args *a, struct leaks_opts *o)
{
	const struct cmd_entry *cmd = a->cmd;
	char *end;

	*o = (struct leaks_opts){ .rate = AGENT_DEFAULT_RATE, .top = 10 };
	o->json = a->set[LEAKS_JSON];
	o->no_got = a->set[LEAKS_NO_GOT];
	o->pprof = a->value[LEAKS_PPROF];
	o->jeprof = a->value[LEAKS_JEPROF];
	o->folded = a->value[LEAKS_FOLDED];
	if (a->set[LEAKS_RATE] && !(o->rate = parse_bytes(a->value[LEAKS_RATE])))
		return cmd_usage_error(cmd, "--rate: '%s' is not a number of bytes",
				       a->value[LEAKS_RATE]);
	if (a->set[LEAKS_TOP]) {
		o->top = strtoul(a->value[LEAKS_TOP], &end, 10);
		if (*end || a->value[LEAKS_TOP][0] == '-')
			return cmd_usage_error(cmd, "--top: '%s' is not a number",
					       a->value[LEAKS_TOP]);
	}
	if (a->set[LEAKS_DURATION]) {
		o->duration_s = a->seconds[LEAKS_DURATION];
		if (o->duration_s <= 0)
			return cmd_usage_error(cmd, "--duration: the window must be longer than 0");
	} else if (isatty(1) && isatty(2) && !o->json) {
		o->live_view = true;	/* until Ctrl-C */
	} else {
		o->duration_s = 10;
	}
	return cmd_parse_pid(cmd, a->argv[0], &o->pid);
}

/* ---- the window ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	if (!stop_signal)
		stop_signal = sig;
}

/* While sampling heapdoc holds nothing in the target: Ctrl-C just ends the
 * window (the cleanup that follows is guarded by lib/observe/target). */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The top growing sites, redrawn on stderr about once a second. */
static void live_view(struct agent_profile *ap, const struct leaks_opts *o)
{
	struct profile *p = ap->prof;
	struct leak_ranking r;
	char a[32];

	agent_profile_symbolise(p, NULL);
	if (judge_leaks(p, &r) < 0)
		return;
	fprintf(stderr, "\033[H\033[J");
	fprintf(stderr, "heapdoc leaks: pid %d (%s), %.0f s, %" PRIu64 " samples; Ctrl-C to "
		"stop and report\n\n", (int)p->pid, p->comm, p->window_s, p->cost.samples);
	for (size_t i = 0; i < r.ngrowing && i < (o->top ? o->top : 10); i++) {
		const struct prof_site *s = &p->sites[r.growing[i].site];
		char frame[600];

		leaks_describe_frame(p, s->frames[leak_site_frame(p, s)], frame, sizeof(frame));
		fprintf(stderr, "  %10s/s  %3.0f%%  %s\n",
			human_bytes(a, sizeof(a), (uint64_t)r.growing[i].bytes_per_s),
			100 * r.growing[i].share, frame);
	}
	if (!r.ngrowing)
		fprintf(stderr, "  (no site has grown yet)\n");
	leak_ranking_free(&r);
}

static int sample_window(struct agent_profile *ap, const struct leaks_opts *o,
			 struct error *err)
{
	double next_view = 1;
	int ret = 0;

	while (!stop_signal && !ret) {
		double t = agent_profile_elapsed(ap);

		if (o->duration_s && t >= o->duration_s)
			break;
		sleep_ms(o->duration_s ? (unsigned)MIN(AGENT_POLL_MS, (o->duration_s - t) * 1000 + 1)
				       : AGENT_POLL_MS);
		ret = agent_profile_poll(ap, err);
		if (o->live_view && ret == 0 && agent_profile_elapsed(ap) >= next_view) {
			live_view(ap, o);
			next_view += 1;
		}
	}
	if (o->live_view)
		fprintf(stderr, "\033[H\033[J");
	return ret;
}

/* jemalloc's own profiler: a dump at the start (the baseline), at the
 * middle (or, open-ended, each time the window doubles), and at the end. */
static int jemalloc_window(struct jemalloc_prof *jp, struct profile *p,
			   const struct leaks_opts *o, struct error *err)
{
	uint64_t start = now_ns();
	double next_mid = o->duration_s ? o->duration_s / 2 : 1, t = 0;
	int ret;

	ret = jemalloc_prof_dump(jp, p, JEPROF_MID, err);
	p->mid_s = 1e-9;		/* the baseline: growth is over the whole window */
	while (ret == 0 && !stop_signal && (!o->duration_s || t < o->duration_s)) {
		sleep_ms(AGENT_POLL_MS);
		t = (now_ns() - start) / 1e9;
		if (t >= next_mid && (!o->duration_s || t < o->duration_s)) {
			ret = jemalloc_prof_dump(jp, p, JEPROF_MID, err);
			p->mid_s = t;
			next_mid = o->duration_s ? 1e300 : 2 * t;
		}
	}
	p->window_s = (now_ns() - start) / 1e9;
	if (ret == 0)
		ret = jemalloc_prof_dump(jp, p, JEPROF_END, err);
	p->cost.source = PROF_SOURCE_JEMALLOC;
	p->cost.dumps = jp->dumps;
	p->cost.load_stop_us = jp->stop_us;
	p->cost.left = PROF_LEFT_NOTHING;
	if (ret == 0)
		agent_profile_symbolise(p, NULL);
	return ret;
}

/* True when pid runs jemalloc with its profiler on: then it is read. */
static bool use_jemalloc_prof(struct jemalloc_prof *jp, pid_t pid)
{
	if (jemalloc_prof_open(jp, pid, NULL) == 0)
		return true;
	jemalloc_prof_close(jp);
	return false;
}

/* ---- output ---------------------------------------------------------------------- */

static int write_file(const char *path, const char *what, const struct profile *p,
		      int (*writer)(FILE *, const struct profile *))
{
	FILE *f = fopen(path, "we");
	int ret;

	if (!f) {
		fprintf(stderr, "heapdoc: %s: %m\n", path);
		return -errno;
	}
	ret = writer(f, p);
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (ret < 0)
		fprintf(stderr, "heapdoc: writing the %s profile to %s: %s\n", what, path,
			strerror(-ret));
	return ret;
}

static int report(const struct leaks_opts *o, const struct profile *p)
{
	struct leak_ranking r;
	struct style s;
	int ret = 0;

	if (judge_leaks(p, &r) < 0)
		return cmd_fail_json(&(struct error){ -ENOMEM, "out of memory" }, o->json);
	if (o->json) {
		leaks_print_json(stdout, p, &r);
	} else {
		style_for(stdout, &s);
		leaks_print_text(stdout, p, &r, &s, o->top);
	}
	fflush(stdout);
	leak_ranking_free(&r);
	if (o->pprof && write_file(o->pprof, "pprof", p, leaks_write_pprof) < 0)
		ret = EXIT_ERROR;
	if (o->jeprof && write_file(o->jeprof, "jeprof", p, leaks_write_jeprof) < 0)
		ret = EXIT_ERROR;
	if (o->folded && write_file(o->folded, "folded", p, leaks_write_folded) < 0)
		ret = EXIT_ERROR;
	return ret;
}

static int leaks_exec(const struct cmd_args *a)
{
	struct agent_profile ap = { 0 };
	struct jemalloc_prof jp;
	struct profile prof = { 0 };
	struct prof_before before;
	struct leaks_opts o;
	struct error err = { 0 }, end_err = { 0 };
	int ret, end;

	ret = read_opts(a, &o);
	if (ret)
		return ret;
	catch_stop_signals();
	/* What is there already, before anything is sampled. */
	ret = leaks_before_read(o.pid, &before, &err);
	if (ret < 0)
		return cmd_fail_json(&err, o.json);
	if (use_jemalloc_prof(&jp, o.pid)) {
		struct proc_status st;

		prof.pid = o.pid;
		if (proc_read_status("", o.pid, &st, NULL) == 0) {
			snprintf(prof.comm, sizeof(prof.comm), "%s", st.name);
			prof.rss_start = st.vm_rss;
		}
		ret = jemalloc_window(&jp, &prof, &o, &err);
		jemalloc_prof_close(&jp);
		if (proc_read_status("", o.pid, &st, NULL) == 0)
			prof.rss_end = st.vm_rss;
		/* Off after all (prof:false): heapdoc's own sampling instead. */
		if (ret != -EOPNOTSUPP)
			goto done;
		profile_free(&prof);
	}
	ret = agent_profile_begin(&ap, o.pid, &(struct agent_opts){ .rate = o.rate,
				  .no_got = o.no_got }, o.duration_s, &prof, &err);
	if (ret == 0) {
		if (o.live_view)
			fprintf(stderr, "heapdoc leaks: sampling pid %d; Ctrl-C to stop and "
				"report\n", o.pid);
		ret = sample_window(&ap, &o, &err);
	}
	end = agent_profile_end(&ap, ret ? &end_err : &err);
	if (!ret)
		ret = end;
done:
	prof.before = before;		/* profile_free frees it from here on */
	if (ret < 0 && !(ret == -ESRCH && prof.nsites)) {
		profile_free(&prof);
		return cmd_fail_json(&err, o.json);
	}
	ret = report(&o, &prof);
	if (prof.exited) {
		fprintf(stderr, "heapdoc: pid %d exited during the window\n", o.pid);
		ret = EXIT_NO_PROCESS;
	}
	profile_free(&prof);
	if (!ret && (stop_signal == SIGTERM || stop_signal == SIGHUP))
		ret = EXIT_SIGNAL_BASE + stop_signal;
	return ret;
}
