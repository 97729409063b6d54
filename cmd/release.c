/* heapdoc release: give the allocator's free memory back to the system now,
 * through the allocator's own call inside the process. */
#include <errno.h>
#include <stdlib.h>

#include "act.h"
#include "cmd.h"
#include "report/act.h"

static int release_exec(const struct cmd_args *a);

enum { REL_JSON, REL_DRY_RUN, REL_ARENA, REL_VERIFY, REL_TIMEOUT };

const struct cmd_entry cmd_release_entry = {
	.name = "release",
	.summary = "give free memory back to the system now (malloc_trim, purge, ...)",
	.description =
"Calls the allocator's own release function inside the process, on one\n"
"thread parked in a system call with no allocator code on its stack, while\n"
"the other threads keep running; the thread then resumes its system call\n"
"with every register (AVX-512 state included) as it was.  glibc:\n"
"malloc_trim(0); jemalloc: mallctl arena.4096.purge (dirty and muzzy pages);\n"
"tcmalloc: MallocExtension_ReleaseFreeMemory; mimalloc: mi_collect(true).\n"
"First it says what it expects to return (glibc: the resident whole free\n"
"pages a snapshot of the heap finds; jemalloc: dirty + muzzy; tcmalloc: the\n"
"free page heap) and does nothing when that is zero.  Then RSS before and\n"
"after (from /proc), what came back, how long the call ran and the longest\n"
"stop.  When no safe moment comes within the timeout (a thread inside the\n"
"allocator, an arena lock held), it says why and changes nothing (exit 1).\n"
"glibc's malloc_trim takes each arena's lock in turn for that arena's walk:\n"
"a thread that allocates from the arena being trimmed waits up to the call's\n"
"time (reported; 'make bench' measures it on a 400 MiB heap).  The memory\n"
"stays returned; what the program frees afterwards is kept as before\n"
"('heapdoc knobs' says what keeps it down).\n",
	.args = "<pid>", .args_min = 1, .args_max = 1,
	.args_missing = "which process? give a pid",
	.options = {
		[REL_JSON] = { .name = "json",
			.help = "a JSON document: call, predicted, done, refusal, rss_before, "
			"rss_after, returned, target {tid, call_us, pause_us, stops}, lasts, "
			"verify {outcome, rss_low, rss_end}" },
		[REL_DRY_RUN] = { .name = "dry-run", .help = "only say what would be returned" },
		[REL_ARENA] = { .name = "arena", .type = CMD_STRING, .value_name = "N",
			.help = "jemalloc: purge arena N only (glibc has no call that trims one "
			"arena alone)" },
		[REL_VERIFY] = CMD_ACT_VERIFY_OPTION,
		[REL_TIMEOUT] = CMD_ACT_TIMEOUT_OPTION,
	},
	.examples = {
		{ "heapdoc release --dry-run 4242",
		  "what malloc_trim (or a purge) would give back, without calling it" },
		{ "heapdoc release 4242",
		  "give it back now: RSS before and after, and what it cost the process" },
		{ "heapdoc release --verify 60s 4242",
		  "... and watch for a minute whether RSS stays down" },
		{ "heapdoc release --json $(pidof redis-server) | jq .returned",
		  "bytes that came back, for a script" },
	},
	.exec = release_exec,
};

static int release_run(struct cmd_act *c, struct act_release *r, struct error *err)
{
	int rc = cmd_act_identify(c, err);

	if (!rc)
		rc = cmd_act_open(c, err);
	if (!rc)
		rc = act_release(c->actor, &c->t, r, err);
	cmd_act_close(c);
	return cmd_act_refused(rc, err);
}

static int release_exec(const struct cmd_args *a)
{
	struct cmd_act c = { .opts = { .arena = -1, .dry_run = a->set[REL_DRY_RUN] } };
	struct act_release r;
	struct error err = { 0 };
	struct act_report rep;
	int code;

	code = cmd_act_parse(a, REL_VERIFY, REL_TIMEOUT, &c);
	if (code)
		return code;
	if (a->set[REL_ARENA]) {
		char *end;
		long v = strtol(a->value[REL_ARENA], &end, 10);

		if (end == a->value[REL_ARENA] || *end || v < 0 || v >= 4096)
			return cmd_usage_error(a->cmd, "--arena: '%s' is not an arena number",
					       a->value[REL_ARENA]);
		c.opts.arena = (int)v;
	}
	if (release_run(&c, &r, &err) < 0)
		return cmd_fail_json(&err, a->set[REL_JSON]);
	rep = (struct act_report){
		.pid = c.pid, .comm = c.status.name, .alloc = &c.id, .release = &r,
		.dry_run = c.opts.dry_run,
		.cost = &r.cost,
	};
	return cmd_act_report(&c, &rep, r.done, true, a->set[REL_JSON]);
}
