/* heapdoc stats: what the allocator of a process holds, right now. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc/glibc.h"
#include "cmd.h"
#include "proc.h"
#include "report/stats.h"
#include "target.h"
#include "util.h"

static int exec_stats(int argc, char **argv);

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.summary = "what the allocator holds now: mallinfo2, arenas, caches, free space",
	.usage = "heapdoc stats [--json] <pid>",
	.help =
"Reads the allocator's own state from outside the process: glibc's\n"
"mallinfo2() figures exactly as the process would compute them, every arena,\n"
"the per-thread caches, a census of chunks by size, and how much\n"
"malloc_trim(0) could give back.  The process is held only while its heaps\n"
"are copied (the pause is reported), then released; nothing is injected.\n"
"Needs glibc's debug symbols (Debian/Ubuntu: libc6-dbg).\n"
"\n"
"Options:\n"
"  --json      one JSON object (keys: pid, allocator, allocated, resident,\n"
"              trimmable, corrupt, target.pause_us, glibc.mallinfo2,\n"
"              glibc.arenas, glibc.params, glibc.tcache, glibc.census, ...)\n"
"  -h, --help  this text\n"
"\n"
"Examples:\n"
"  heapdoc stats 4242\n"
"  heapdoc stats --json 4242 | jq .glibc.mallinfo2\n"
"  heapdoc stats --json 4242 | jq '.trimmable, .target.pause_us'\n",
	.exec = exec_stats,
};

struct stats_run {
	pid_t pid;
	struct proc_status status;
	struct glibc_reader *reader;
	struct error why_blind;		/* when there is no reader */
	struct target t;
	struct glibc_state st;
	bool have_state;
	uint64_t resident;
};

/* Symbols first (slow), then attach, snapshot, resident, detach. */
static int stats_collect(struct stats_run *run, struct error *err)
{
	int rc;

	rc = proc_check_target("", run->pid, err);
	if (rc < 0)
		return rc;
	rc = proc_read_status("", run->pid, &run->status, err);
	if (rc < 0)
		return rc;
	rc = glibc_open(&run->reader, run->pid, NULL, &run->why_blind);
	if (rc < 0 && rc != -ENODATA && rc != -EOPNOTSUPP) {
		*err = run->why_blind;
		return rc;
	}
	rc = target_attach(&run->t, run->pid, err);
	if (rc < 0)
		return rc;
	if (run->reader) {
		rc = glibc_snapshot(run->reader, &run->t, &run->st, err);
		if (rc < 0)
			goto out;
		run->have_state = true;
	}
	rc = glibc_resident(run->pid, &run->t, &run->resident, err);
out:
	target_detach(&run->t);
	return rc;
}

static void stats_render(const struct stats_run *run, bool json)
{
	struct stats_report r = {
		.pid = run->pid,
		.comm = run->status.name,
		.allocator = "glibc",
		.version = run->reader ? glibc_version(run->reader) : "",
		.source = run->reader ? glibc_layout_source(run->reader) : "proc",
		.why_invalid = run->reader ? NULL : run->why_blind.msg,
		.glibc = run->have_state ? &run->st : NULL,
		.allocated = run->have_state ? run->st.mi.uordblks + run->st.mi.hblkhd : UNSET,
		.resident = run->resident,
		.rss = run->status.vm_rss,
		.pause_us = run->have_state ? run->st.pause_us : 0,
		.stops = run->have_state ? run->st.tries : 0,
	};

	if (json)
		stats_print_json(stdout, &r);
	else
		stats_print_text(stdout, &r);
}

static int exec_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct stats_run run = { .resident = UNSET };
	struct error err = { 0 };
	bool json = false;
	int c, rc, code = EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_help(&cmd_stats_entry);
		default:
			return cmd_usage_error(&cmd_stats_entry, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error(&cmd_stats_entry, optind >= argc ?
				       "which process? give a pid" : "one pid only");
	if (cmd_parse_pid(argv[optind], &run.pid, &err) < 0)
		return cmd_usage_error(&cmd_stats_entry, "%s", err.msg);

	rc = stats_collect(&run, &err);
	if (rc < 0) {
		code = cmd_fail(&err);
		goto out;
	}
	stats_render(&run, json);
	if (!run.reader) {
		/* The figures that need no debug info were printed; the exit
		 * status says the allocator itself could not be read. */
		fprintf(stderr, "heapdoc: %s\n", run.why_blind.msg);
		code = EXIT_UNSUPPORTED;
	} else if (run.st.corrupt) {
		code = EXIT_ERROR;
	}
out:
	glibc_state_free(&run.st);
	glibc_close(run.reader);
	return code;
}
