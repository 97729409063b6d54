/* heapdoc stats: what the allocator of a process holds, right now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/alloc/glibc.h"
#include "observe/alloc/jemalloc.h"
#include "observe/alloc/tcmalloc.h"
#include "cmd.h"
#include "observe/proc.h"
#include "report/stats.h"
#include "observe/target.h"
#include "base/util.h"

static int stats_exec(const struct cmd_args *a);

enum { STATS_JSON, STATS_HOLD };

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.summary = "what the allocator holds now: mallinfo2, arenas, caches, free space",
	.description =
"Reads the allocator's own state from outside the process: glibc's\n"
"mallinfo2() figures exactly as the process would compute them, every arena,\n"
"the per-thread caches, a census of chunks by size, and how much\n"
"malloc_trim(0) could give back.  For glibc the process is held only while\n"
"its heaps are copied (the pause is reported), then released; nothing is\n"
"injected; it needs glibc's debug symbols (Debian/Ubuntu: libc6-dbg).\n"
"jemalloc (mallctl: allocated, active, resident, dirty and muzzy pages,\n"
"arenas, size classes, opt.*) and tcmalloc (its numeric properties) are\n"
"asked through their own statistics calls, made on one thread of the\n"
"process that is parked in a system call with no allocator code on its\n"
"stack; its other threads keep running, and the thread resumes its system\n"
"call afterwards.\n",
	.args = "<pid>", .args_min = 1, .args_max = 1,
	.args_missing = "which process? give a pid",
	.options = {
		[STATS_JSON] = { .name = "json",
			.help = "one JSON object (keys: pid, allocator, allocated, resident, "
			"trimmable, corrupt, target.pause_us, glibc.mallinfo2, glibc.arenas, "
			"glibc.params, glibc.tcache, glibc.census, jemalloc.{allocated,active,"
			"resident,dirty,muzzy,arenas,bins,opt}, tcmalloc.properties, ...)" },
		[STATS_HOLD] = { .name = "hold",
			.help = "glibc: hold the process for the whole walk of its heaps (a strict "
			"snapshot; the pause grows with the heap, about 0.1-0.25 s for "
			"400 MiB).  By default heapdoc holds it only to read malloc's headers, "
			"twice (about a millisecond each), walks the heaps while it runs, and "
			"keeps the result if malloc's state was the same at both holds; if "
			"not (a process allocating right then), it falls back to the full "
			"hold.  target.method says which: \"validated\" or \"held\".  What "
			"validation cannot see: a chunk taken whole from the middle of a "
			"large bin with nothing else in malloc changing." },
	},
	.examples = {
		{ "heapdoc stats 4242",
		  "the allocator's figures, arenas, thread caches and chunk census" },
		{ "heapdoc stats --json 4242 | jq .glibc.mallinfo2",
		  "the nine mallinfo2() fields, as the process itself would get them" },
		{ "heapdoc stats --json 4242 | jq '.trimmable, .target.pause_us'",
		  "what malloc_trim(0) would return, and how long the process was held" },
		{ "heapdoc stats --json $(pidof redis-server) | jq '.jemalloc | .dirty, .muzzy'",
		  "jemalloc's unpurged pages, through its own mallctl" },
	},
	.exec = stats_exec,
};

struct stats_run {
	pid_t pid;
	struct proc_status status;
	struct alloc_id id;
	struct error why_blind;		/* why the allocator could not be read */
	struct target t;
	/* one of these, by allocator */
	struct glibc_reader *glibc;
	struct glibc_state st;
	bool have_state;
	struct jemalloc_reader *je;
	struct jemalloc_stats *je_stats;
	struct tcmalloc_reader *tc;
	struct tcmalloc_stats *tc_stats;
	struct alloc_summary sum;	/* jemalloc, tcmalloc */
	uint64_t resident;
	uint64_t pause_us;		/* the target's counters, kept past detach */
	unsigned stops;
	bool hold;			/* glibc: hold for the whole walk */
};

static bool stats_blind(const struct stats_run *run)
{
	return !run->glibc && !run->je && !run->tc;
}

/* Readers first (symbols and DWARF are slow), while the target runs. */
static int stats_open(struct stats_run *run, struct error *err)
{
	int rc = 0;

	switch (run->id.kind) {
	case ALLOC_GLIBC:
		rc = glibc_open(&run->glibc, run->pid, &run->id, &run->why_blind);
		if (rc == -ENODATA || rc == -EOPNOTSUPP)
			rc = 0;		/* blind: /proc figures, and why */
		break;
	case ALLOC_JEMALLOC:
		rc = jemalloc_open(&run->je, run->pid, &run->id, &run->why_blind);
		run->je_stats = calloc(1, sizeof(*run->je_stats));
		break;
	case ALLOC_TCMALLOC:
		rc = tcmalloc_open(&run->tc, run->pid, &run->id, &run->why_blind);
		run->tc_stats = calloc(1, sizeof(*run->tc_stats));
		break;
	default:
		error_set(&run->why_blind, -EOPNOTSUPP, "heapdoc cannot read %s's "
			  "internals yet", alloc_kind_name(run->id.kind));
		break;
	}
	if (rc < 0 && rc != -ENODATA && rc != -EOPNOTSUPP && rc != -ENOENT) {
		*err = run->why_blind;
		return rc;
	}
	if ((run->je && !run->je_stats) || (run->tc && !run->tc_stats))
		return error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* The read itself, on an attached target. */
static int stats_read(struct stats_run *run, struct error *err)
{
	int rc = 0;

	if (run->glibc) {
		rc = run->hold ? glibc_snapshot(run->glibc, &run->t, &run->st, err) :
				 glibc_snapshot_brief(run->glibc, &run->t, &run->st, err);
		if (rc < 0)
			return rc;
		run->have_state = true;
	} else if (run->je) {
		rc = jemalloc_read(run->je, &run->t, 0, run->je_stats, err);
		if (rc == 0)
			jemalloc_summarise(run->je_stats, &run->sum, NULL);
	} else if (run->tc) {
		rc = tcmalloc_read(run->tc, &run->t, 0, run->tc_stats, err);
		if (rc == 0)
			tcmalloc_summarise(run->tc_stats, &run->sum, NULL);
	}
	if (rc == -EAGAIN) {	/* no safe moment came: say so, keep /proc figures */
		run->why_blind = *err;
		if (run->je)
			jemalloc_close(run->je), run->je = NULL;
		if (run->tc)
			tcmalloc_close(run->tc), run->tc = NULL;
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (run->je || run->tc) {
		run->resident = run->sum.resident;
		return 0;
	}
	if (run->id.kind == ALLOC_GLIBC)
		return glibc_resident(run->pid, &run->t, &run->resident, err);
	return 0;
}

#define PF_EXITING 0x00000004	/* include/linux/sched.h */

/* A process that dies while heapdoc reads it looks like one without debug
 * info (its files and mappings vanish mid-read): tell the two apart. */
static int check_still_alive(pid_t pid, struct error *err)
{
	struct proc_stat st;

	if (proc_read_stat("", pid, &st, NULL) < 0 || st.state == 'Z' || st.state == 'X' ||
	    (st.flags & PF_EXITING))
		return error_set(err, -ESRCH, "pid %d exited while being read", (int)pid);
	return 0;
}

static int stats_collect(struct stats_run *run, struct error *err)
{
	int rc;

	rc = proc_check_target("", run->pid, err);
	if (rc == 0)
		rc = proc_read_status("", run->pid, &run->status, err);
	if (rc == 0)
		rc = alloc_detect("", run->pid, NULL, &run->id, err);
	if (rc == 0)
		rc = stats_open(run, err);
	if (rc == 0 && stats_blind(run))
		rc = check_still_alive(run->pid, err);
	if (rc < 0)
		return rc;
	rc = target_attach(&run->t, run->pid, err);
	if (rc < 0)
		return rc;
	rc = stats_read(run, err);
	run->pause_us = run->t.pause_us_max;
	run->stops = run->t.stops;
	target_detach(&run->t);
	/* It may have been dying all along, slowly enough to be attached. */
	if (rc == 0 && stats_blind(run))
		rc = check_still_alive(run->pid, err);
	return rc;
}

static void stats_render(const struct stats_run *run, bool json)
{
	bool other = run->je || run->tc;
	struct stats_report r = {
		.pid = run->pid,
		.comm = run->status.name,
		.allocator = alloc_kind_name(run->id.kind),
		.version = run->glibc ? glibc_version(run->glibc) : run->id.version,
		.source = run->glibc ? glibc_layout_source(run->glibc) :
			  other ? run->sum.source : "proc",
		.why_invalid = run->glibc || other ? NULL : run->why_blind.msg,
		.glibc = run->have_state ? &run->st : NULL,
		.jemalloc = run->je ? run->je_stats : NULL,
		.tcmalloc = run->tc ? run->tc_stats : NULL,
		.allocated = run->have_state ? run->st.mi.uordblks + run->st.mi.hblkhd :
			     other ? run->sum.allocated : UNSET,
		.resident = run->resident,
		.rss = run->status.vm_rss,
		.pause_us = run->have_state ? run->st.pause_us : run->pause_us,
		.stops = run->stops,
	};

	if (json)
		stats_print_json(stdout, &r);
	else
		stats_print_text(stdout, &r);
}

static int stats_exec(const struct cmd_args *a)
{
	struct stats_run run = { .resident = UNSET, .hold = a->set[STATS_HOLD] };
	struct error err = { 0 };
	bool json = a->set[STATS_JSON];
	int rc, code;

	code = cmd_parse_pid(a->cmd, a->argv[0], &run.pid);
	if (code)
		return code;
	rc = stats_collect(&run, &err);
	if (rc < 0) {
		code = cmd_fail(&err);
		goto out;
	}
	stats_render(&run, json);
	if (stats_blind(&run)) {
		/* The figures that need no debug info were printed; the exit
		 * status says the allocator itself could not be read. */
		fprintf(stderr, "heapdoc: %s\n", run.why_blind.msg);
		code = EXIT_UNSUPPORTED;
	} else if (run.have_state && run.st.corrupt) {
		/* The figures were printed, as far as the walk got. */
		fprintf(stderr, "heapdoc: pid %d: the heap is corrupt (%u finding%s, first: %s)\n",
			(int)run.pid, run.st.nfindings, run.st.nfindings == 1 ? "" : "s",
			run.st.findings[0].what);
		code = EXIT_ERROR;
	}
out:
	glibc_state_free(&run.st);
	glibc_close(run.glibc);
	jemalloc_close(run.je);
	tcmalloc_close(run.tc);
	free(run.je_stats);
	free(run.tc_stats);
	return code;
}
