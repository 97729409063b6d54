/* heapdoc stats: what the allocator of a process holds, right now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "model/alloc_detail.h"
#include "observe/observe.h"
#include "report/stats.h"

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

static int stats_exec(const struct cmd_args *a)
{
	struct alloc_read how = { .hold = a->set[STATS_HOLD] };
	struct alloc_detail detail = { 0 };
	struct observation *obs = calloc(1, sizeof(*obs));
	struct observer o;
	struct error err = { 0 };
	const struct glibc_state *st;
	pid_t pid;
	int code;

	if (!obs)
		return cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
	code = cmd_parse_pid(a->cmd, a->argv[0], &pid);
	if (code)
		goto out;
	/* The same pipeline as triage, without a trend: one full read, with
	 * the allocator's own detail. */
	how.detail = &detail;
	code = observe_begin(&o, "", pid, true, obs, &err);
	if (!code)
		code = observe_finish(&o, &how, &err);
	observe_end(&o);
	if (code) {
		code = cmd_fail_json(&err, a->set[STATS_JSON]);
		goto out;
	}
	if (a->set[STATS_JSON])
		stats_print_json(stdout, obs, &detail);
	else
		stats_print_text(stdout, obs, &detail);
	fflush(stdout);
	st = detail.glibc;
	if (!st && !detail.jemalloc && !detail.tcmalloc && !detail.mimalloc) {
		/* The figures that need no allocator view were printed; the
		 * exit status says the allocator itself could not be read. */
		fprintf(stderr, "heapdoc: %s\n", obs->summary.why_invalid);
		code = EXIT_UNSUPPORTED;
	} else if (st && st->corrupt) {
		/* The figures were printed, as far as the walk got. */
		fprintf(stderr, "heapdoc: pid %d: the heap is corrupt (%u finding%s, first: %s)\n",
			(int)pid, st->nfindings, st->nfindings == 1 ? "" : "s",
			st->findings[0].what);
		code = EXIT_ERROR;
	}
out:
	alloc_detail_free(&detail);
	observation_release(obs);
	free(obs);
	return code;
}
