/* heapdoc set: change an allocator setting in the running process, read it
 * back, and print what makes it permanent. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "act.h"
#include "cmd.h"
#include "observe/proc.h"
#include "judge/settings.h"
#include "report/act.h"

static int set_exec(const struct cmd_args *a);

enum { SET_JSON, SET_VERIFY, SET_TIMEOUT };

const struct cmd_entry cmd_set_entry = {
	.name = "set",
	.summary = "change an allocator setting in the running process, read it back",
	.description =
"Changes a setting inside the process through the allocator's own call, on\n"
"one thread parked in a system call with no allocator code on its stack\n"
"while the others keep running, reads it back from the allocator's own\n"
"state and prints old -> new.  NAMEs are those 'heapdoc knobs' prints, so a\n"
"knob line can be pasted:\n"
"  glibc     MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, MALLOC_MMAP_THRESHOLD_\n"
"            (mallopt, read back from mp_; any of them turns glibc's dynamic\n"
"            mmap threshold off, as the environment variables do)\n"
"  jemalloc  dirty_decay_ms, muzzy_decay_ms (every arena that exists, and the\n"
"            default for new ones), background_thread; MALLOC_CONF=a:1,b:2\n"
"  tcmalloc  TCMALLOC_RELEASE_RATE (SetMemoryReleaseRate),\n"
"            TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES, TCMALLOC_AGGRESSIVE_DECOMMIT\n"
"Sizes take k, m, g suffixes (binary).  Settings read only at start-up\n"
"(MALLOC_ARENA_MAX, GLIBC_TUNABLES, jemalloc's narenas ...) are refused with\n"
"the reason and the spelling for the next start (exit 2), as are unknown\n"
"names (with the names accepted) and values out of range.  The change lasts\n"
"until the process exits; heapdoc prints the env, systemd and Kubernetes\n"
"lines that make it permanent.\n",
	.args = "<pid> NAME=VALUE...", .args_min = 2, .args_max = 1 + SETTINGS_MAX,
	.args_missing = "which process, and what to set? give a pid and NAME=VALUE",
	.options = {
		[SET_JSON] = { .name = "json",
			.help = "a JSON document: changes [{name, requested, old, new, arenas, "
			"effect}], rss_before, rss_after, target, lasts, permanent [{name, "
			"env, systemd, kubernetes}], verify" },
		[SET_VERIFY] = CMD_ACT_VERIFY_OPTION,
		[SET_TIMEOUT] = CMD_ACT_TIMEOUT_OPTION,
	},
	.examples = {
		{ "heapdoc set 4242 MALLOC_TRIM_THRESHOLD_=131072",
		  "glibc returns the top of the heap once 128 KiB is free there" },
		{ "heapdoc set 4242 dirty_decay_ms=1000 muzzy_decay_ms=1000",
		  "jemalloc returns unused pages after a second instead of ten" },
		{ "heapdoc set --verify 60s 4242 TCMALLOC_RELEASE_RATE=10",
		  "tcmalloc returns free spans sooner; watch RSS for a minute" },
		{ "heapdoc set --json 4242 background_thread=true | jq -r '.permanent[].env'",
		  "the line to put in the service's environment" },
	},
	.exec = set_exec,
};

/* The NAME=VALUE arguments, for the allocator found: 0, or the exit code
 * of the usage error printed (a name this allocator lacks, one read only at
 * start-up, a value out of range). */
static int parse_settings(const struct cmd_args *a, struct cmd_act *c,
			  struct setting_req *req, size_t *nreq)
{
	char why[400];

	for (int i = 1; i < a->argc; i++)
		if (settings_parse(c->id.kind, c->id.prefix, a->argv[i], req, nreq, why,
				   sizeof(why)) < 0)
			return cmd_usage_error(a->cmd, "pid %d: %s", (int)c->pid, why);
	return 0;
}

static int set_run(struct cmd_act *c, struct act_change *ch, size_t n, struct act_cost *cost,
		   uint64_t *before, uint64_t *after, struct error *err)
{
	int rc = cmd_act_open(c, err);

	*before = act_rss(c->pid);
	if (!rc)
		rc = act_set(c->actor, &c->t, ch, n, cost, err);
	cmd_act_close(c);
	*after = act_rss(c->pid);
	return cmd_act_refused(rc, err);
}

static int set_exec(const struct cmd_args *a)
{
	struct cmd_act c = { .opts = { .arena = -1 } };
	struct setting_req req[SETTINGS_MAX];
	struct act_change ch[SETTINGS_MAX];
	struct knob permanent[SETTINGS_MAX];
	struct act_report rep = { 0 };
	struct environ env = { 0 };
	struct act_cost cost;
	struct error err = { 0 };
	bool lowers = false;
	size_t n = 0;
	int code = cmd_act_parse(a, SET_VERIFY, SET_TIMEOUT, &c);

	if (code)
		return code;
	if (cmd_act_identify(&c, &err) < 0)
		return cmd_fail_json(&err, a->set[SET_JSON]);
	code = parse_settings(a, &c, req, &n);
	if (code)
		return code;
	for (size_t i = 0; i < n; i++)
		ch[i] = (struct act_change){ .what = req[i].def->id, .want = req[i].value };
	if (set_run(&c, ch, n, &cost, &rep.rss_before, &rep.rss_after, &err) < 0)
		return cmd_fail_json(&err, a->set[SET_JSON]);
	rep.pid = c.pid;
	rep.comm = c.status.name;
	rep.alloc = &c.id;
	rep.req = req;
	rep.changes = ch;
	rep.n = n;
	rep.cost = &cost;
	rep.permanent = permanent;
	/* The process's environment says which spelling wins there. */
	proc_read_environ("", c.pid, &env, NULL);
	rep.npermanent = settings_permanent(c.id.kind, c.id.prefix, &env, req, n, permanent,
					    SETTINGS_MAX);
	environ_free(&env);
	for (size_t i = 0; i < n; i++)
		lowers |= settings_lowers_rss(req[i].def, &ch[i].old, &req[i].value);
	return cmd_act_report(&c, &rep, true, lowers, a->set[SET_JSON]);
}
