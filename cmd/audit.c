/* heapdoc audit: what protects a live process's heap, what its exposure
 * calls for, and what adding protection would cost. */
#include <stdio.h>

#include "cmd.h"
#include "judge/audit.h"
#include "observe/audit.h"
#include "report/audit.h"

static int audit_exec(const struct cmd_args *a);

enum { AUDIT_JSON };

const struct cmd_entry cmd_audit_entry = {
	.name = "audit",
	.summary = "what protects the heap now: allocator checks, exposure, binaries, advice",
	.description =
"Audits the allocator as the process runs it, not as its binary was built:\n"
"which allocator serves malloc and whether it is a hardened one (scudo,\n"
"hardened_malloc, a secure mimalloc); each protection (safe_linking,\n"
"tcache_double_free, malloc_check, perturb, quarantine, header_checksum,\n"
"zero_on_free, guard_pages, randomization) on, off or n/a, from the\n"
"allocator's own state where heapdoc can read it (glibc: safe-linked free\n"
"lists decoded, tcache_count, perturb_byte, libc_malloc_debug's hooks) and\n"
"from the environment it started with; the heap's integrity (glibc: a brief\n"
"walk, as `stats` does); the sockets through which others can reach it; how\n"
"the executable and each library were built (PIE, RELRO, BIND_NOW, stack\n"
"protector, FORTIFY, NX stack) and whether any RELRO page is writable right\n"
"now; and, for a process that takes untrusted input, ways to add protection\n"
"with what each costs on heapdoc's own benchmark (bench/alloc_cost.sh) and\n"
"what it gives up.  A process no one can reach gets no recommendation.\n"
"glibc is held for about a millisecond, twice; other allocators are not\n"
"stopped at all.  Exit status 0: nothing to add; 20: protection recommended;\n"
"21: the heap is corrupt or a RELRO page is writable now (21 wins over 20).\n",
	.args = "<pid>", .args_min = 1, .args_max = 1,
	.args_missing = "which process? give a pid",
	.options = {
		[AUDIT_JSON] = { .name = "json",
			.help = "one JSON object (keys: schema, pid, allocator.{name,version,"
			"hardened,variant}, checks[{name,state,detail}], integrity, "
			"exposure.{untrusted_input,listening}, binaries, relro_writable, "
			"recommendations[{name,apply,protects,cost,cost_ratio,loses}], "
			"target.pause_us)" },
	},
	.examples = {
		{ "heapdoc audit 4242", "the whole audit, for a person" },
		{ "heapdoc audit --json 4242 | jq '.checks[] | select(.state == \"off\")'",
		  "the protections this allocator has but does not use now" },
		{ "heapdoc audit --json $(pidof nginx) | jq -r '.recommendations[].apply'",
		  "the settings to apply, one per line" },
		{ "heapdoc audit 4242; [ $? -eq 21 ] && echo 'heap corrupt or GOT writable'",
		  "a runbook branching on the exit status" },
	},
	.exec = audit_exec,
};

static int audit_collect(pid_t pid, struct audit_obs *obs, struct error *err)
{
	int rc = audit_observe_files("", pid, obs, err);

	if (rc == 0)
		rc = audit_observe_allocator(pid, obs, err);
	return rc;
}

static int audit_exit_code(const struct audit_result *r)
{
	if (r->integrity == AUDIT_CORRUPT || r->relro_writable)
		return EXIT_AUDIT_PROBLEM;
	return r->nrecs ? EXIT_AUDIT_ADVICE : EXIT_OK;
}

static int audit_exec(const struct cmd_args *a)
{
	struct audit_obs obs = { 0 };
	struct audit_result res;
	struct error err = { 0 };
	pid_t pid;
	int code = cmd_parse_pid(a->cmd, a->argv[0], &pid);

	if (code)
		return code;
	if (audit_collect(pid, &obs, &err) < 0) {
		code = cmd_fail_json(&err, a->set[AUDIT_JSON]);
		goto out;
	}
	audit_judge(&obs, &res);
	if (a->set[AUDIT_JSON])
		audit_print_json(stdout, &obs, &res);
	else
		audit_print_text(stdout, &obs, &res);
	code = audit_exit_code(&res);
out:
	audit_obs_release(&obs);
	return code;
}
