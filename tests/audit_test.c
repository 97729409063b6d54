/* `heapdoc audit` on live processes whose protection is known.
 *
 * Each fixture (fixtures/audit_target.c, built four ways) measures inside
 * itself what its allocator really does: whether a freed chunk was filled
 * (perturb), whether malloc keeps the exact size (glibc's malloc-check),
 * whether a freed chunk comes straight back (scudo's quarantine), where its
 * RELRO pages are and where it listens.  The tests compare heapdoc's audit
 * with that, and apply each recommendation heapdoc prints (the environment
 * it names, the flags of a rebuild) to see the protection appear.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "judge/audit.h"
#include "observe/audit.h"
#include "report/audit.h"
#include "testlib.h"

#define SCUDO_LIB AUDIT_SCUDO_PATH
#define DEBUG_LIB "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"

static char out[1 << 18], err[8192];

static int audit(pid_t pid)
{
	char pidarg[16];
	const char *args[] = { "audit", "--json", pidarg, NULL };

	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	return run_heapdoc(args, out, sizeof(out), err, sizeof(err));
}

/* The string value of the first "key" after from (NULL: absent). */
static const char *string_after(const char *from, const char *key, char *buf, size_t len)
{
	char pat[96];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	if (!from || !(p = strstr(from, pat)))
		return NULL;
	p += strlen(pat);
	for (end = p; *end && !(*end == '"' && end[-1] != '\\'); end++)
		;
	snprintf(buf, len, "%.*s", (int)(end - p), p);
	return buf;
}

/* A check's state and detail, from the checks list. */
static const char *check(const char *field, const char *name)
{
	static char buf[1024];
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"name\": \"%s\"", name);
	p = strstr(out, pat);
	ck_assert_msg(p, "no check %s in:\n%.3000s", name, out);
	ck_assert(string_after(p, field, buf, sizeof(buf)));
	return buf;
}

static void ck_check(const char *name, const char *state)
{
	ck_assert_msg(!strcmp(check("state", name), state), "%s is %s, not %s: %s", name,
		      check("state", name), state, check("detail", name));
}

/* The recommendation called name: its apply line, or NULL. */
static const char *rec_apply(const char *name, char *buf, size_t len)
{
	const char *recs = strstr(out, "\"recommendations\"");
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"name\": \"%s\"", name);
	ck_assert(recs);
	p = strstr(recs, pat);
	return p ? string_after(p, "apply", buf, len) : NULL;
}

static void ck_has(const char *text)
{
	ck_assert_msg(strstr(out, text), "no %s in:\n%.4000s", text, out);
}

/* "K=V K=V" (an apply line) into env entries, in place. */
static void split_env(char *line, const char **env, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n + 1 < max;
	     t = strtok_r(NULL, " ", &save))
		env[n++] = t;
	env[n] = NULL;
}

START_TEST(plain_glibc)
{
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, NULL);
	ck_assert_int_eq(fixture_value(&f, "perturb.seen"), 0);
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 24);
	ck_assert_msg(audit(f.pid) == 0, "exit %d: %s", audit(f.pid), err);
	ck_has("\"name\": \"glibc\"");
	ck_has("\"hardened\": false");
	ck_check("safe_linking", "on");
	ck_assert_msg(strstr(check("detail", "safe_linking"), "confirmed: "), "%s",
		      check("detail", "safe_linking"));
	ck_check("tcache_double_free", "on");
	ck_check("malloc_check", "off");
	ck_check("perturb", "off");
	ck_check("quarantine", "n/a");
	ck_has("\"state\": \"intact\"");
	ck_has("\"untrusted_input\": false");
	ck_has("\"recommendations\": []");
	fixture_stop(&f);
}
END_TEST

START_TEST(glibc_malloc_check_and_perturb)
{
	const char *env[] = { "LD_PRELOAD=" DEBUG_LIB, "GLIBC_TUNABLES=glibc.malloc.check=3",
			      "MALLOC_PERTURB_=165", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	/* The process itself: malloc keeps the exact size, free fills. */
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 20);
	ck_assert_int_eq(fixture_value(&f, "perturb.seen"), 165);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_has("\"name\": \"glibc\"");
	ck_has("\"version\": \"2.");
	ck_check("malloc_check", "on");
	ck_assert(strstr(check("detail", "malloc_check"), "read from the library's state"));
	ck_check("perturb", "on");
	ck_assert(strstr(check("detail", "perturb"), "0xa5"));
	ck_check("tcache_double_free", "n/a");
	fixture_stop(&f);
}
END_TEST

START_TEST(glibc_check_asked_without_the_library)
{
	const char *env[] = { "GLIBC_TUNABLES=glibc.malloc.check=3", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 24);	/* not in force */
	ck_assert_int_eq(audit(f.pid), 0);
	ck_check("malloc_check", "off");
	ck_assert(strstr(check("detail", "malloc_check"), "not loaded"));
	fixture_stop(&f);
}
END_TEST

/* The tcache switched off: no key to check, whatever the version. */
START_TEST(glibc_without_tcache)
{
	const char *env[] = { "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_check("tcache_double_free", "off");
	ck_assert(strstr(check("detail", "tcache_double_free"), "tcache_count 0, mp_.tcache_count"));
	/* The fastbin still holds safe-linked chunks. */
	ck_assert(strstr(check("detail", "safe_linking"), "of fastbin"));
	fixture_stop(&f);
}
END_TEST

/* Without libc's debug information: what needs the heap says why it could
 * not be read; the rest of the audit stands. */
START_TEST(glibc_without_debug_info)
{
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, NULL);
	setenv("HEAPDOC_DEBUG_PATH", "/nonexistent", 1);
	ck_assert_int_eq(audit(f.pid), 0);
	unsetenv("HEAPDOC_DEBUG_PATH");
	ck_check("safe_linking", "on");
	ck_assert(strstr(check("detail", "safe_linking"), "not confirmed"));
	ck_assert(strstr(check("detail", "safe_linking"), "libc6-dbg"));
	ck_has("\"state\": \"unchecked\"");
	ck_has("\"comm\": \"audit_target\"");
	fixture_stop(&f);
}
END_TEST

START_TEST(scudo_with_quarantine)
{
	const char *env[] = { "LD_PRELOAD=" SCUDO_LIB, "SCUDO_OPTIONS=" AUDIT_SCUDO_QUARANTINE,
			      NULL };
	const char *plain[] = { "LD_PRELOAD=" SCUDO_LIB, NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	ck_assert_int_eq(fixture_value(&f, "reuse.64"), 0);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_has("\"name\": \"scudo\"");
	ck_has("\"version\": \"14.0.6\"");
	ck_has("\"hardened\": true");
	ck_check("quarantine", "on");
	ck_assert(strstr(check("detail", "quarantine"), "256 KiB quarantine (64 KiB per thread)"));
	ck_assert(strstr(check("detail", "quarantine"), "up to 2048 bytes"));
	ck_check("header_checksum", "on");
	ck_check("randomization", "on");
	fixture_stop(&f);

	/* Scudo's defaults: no quarantine, and the chunk comes straight back. */
	fixture_start(&f, "audit_target", NULL, plain);
	ck_assert_int_eq(fixture_value(&f, "reuse.64"), 100);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_check("quarantine", "off");
	fixture_stop(&f);
}
END_TEST

/* A jemalloc server on 127.0.0.1: exposure found, scudo recommended; the
 * recommendation applied as printed gives a hardened allocator with its
 * quarantine working. */
START_TEST(jemalloc_server_gets_scudo)
{
	const char *args[] = { "listen", NULL };
	const char *env[4];
	char apply[1024], port[64], unix_path[160];
	struct fixture f;

	fixture_start(&f, "audit_je", args, NULL);
	ck_assert_int_eq(audit(f.pid), 20);
	ck_has("\"name\": \"jemalloc\"");
	ck_has("\"untrusted_input\": true");
	snprintf(port, sizeof(port), "\"port\": %lld", fixture_value(&f, "tcp.port"));
	ck_has(port);
	snprintf(port, sizeof(port), "\"port\": %lld", fixture_value(&f, "udp.port"));
	ck_has(port);
	snprintf(unix_path, sizeof(unix_path), "\"path\": \"@heapdoc-audit-%d\"", (int)f.pid);
	ck_has(unix_path);
	ck_has("\"address\": \"127.0.0.1\"");
	ck_has("\"loopback\": true");
	ck_assert(rec_apply("scudo", apply, sizeof(apply)));
	ck_has("\"cost_ratio\": 0.");
	fixture_stop(&f);

	split_env(apply, env, 4);
	fixture_start(&f, "audit_je", args, env);
	ck_assert_int_eq(fixture_value(&f, "reuse.64"), 0);
	audit(f.pid);
	ck_has("\"name\": \"scudo\"");
	ck_has("\"hardened\": true");
	ck_check("quarantine", "on");
	ck_assert(!rec_apply("scudo", apply, sizeof(apply)));
	ck_assert(!rec_apply("scudo-quarantine", apply, sizeof(apply)));
	fixture_stop(&f);
}
END_TEST

/* glibc's own settings, recommended to a listening process and applied. */
START_TEST(glibc_advice_applied)
{
	const char *args[] = { "listen", NULL };
	char perturb[1024], check_env[1024];
	const char *env[4];
	struct fixture f;

	fixture_start(&f, "audit_target", args, NULL);
	ck_assert_int_eq(audit(f.pid), 20);
	ck_assert(rec_apply("scudo", perturb, sizeof(perturb)));
	ck_assert(rec_apply("glibc-perturb", perturb, sizeof(perturb)));
	ck_assert(rec_apply("glibc-malloc-check", check_env, sizeof(check_env)));
	fixture_stop(&f);

	split_env(perturb, env, 4);
	fixture_start(&f, "audit_target", args, env);
	ck_assert_int_eq(fixture_value(&f, "perturb.seen"), 165);
	audit(f.pid);
	ck_check("perturb", "on");
	ck_assert(!rec_apply("glibc-perturb", perturb, sizeof(perturb)));
	fixture_stop(&f);

	split_env(check_env, env, 4);
	fixture_start(&f, "audit_target", args, env);
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 20);
	audit(f.pid);
	ck_check("malloc_check", "on");
	fixture_stop(&f);
}
END_TEST

START_TEST(corrupt_heap)
{
	const char *args[] = { "corrupt", NULL };
	struct fixture f;

	fixture_start(&f, "glibc_heap", args, NULL);
	ck_assert_int_eq(audit(f.pid), 21);
	ck_has("\"state\": \"corrupt\"");
	ck_assert(json_int_at(out, "integrity.nfindings") > 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(relro_made_writable)
{
	const char *args[] = { "relro-writable", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", args, NULL);
	ck_assert_int_eq(audit(f.pid), 21);
	ck_has("\"relro_writable\": 1");
	ck_has("\"relro_writable\": true");
	fixture_stop(&f);
}
END_TEST

/* The RELRO pages heapdoc computes from the file are the ones the
 * dynamic linker protected, as the process itself sees them. */
START_TEST(relro_range_matches_the_process)
{
	struct audit_obs obs = { 0 };
	struct error e = { 0 };
	struct fixture f;

	fixture_start(&f, "audit_nopie", NULL, NULL);
	ck_assert_msg(audit_observe_files("", f.pid, &obs, &e) == 0, "%s", e.msg);
	ck_assert(obs.nmodules > 0 && obs.modules[0].executable);
	ck_assert_uint_eq(obs.modules[0].relro_start, fixture_value(&f, "relro.start"));
	ck_assert_uint_eq(obs.modules[0].relro_end, fixture_value(&f, "relro.end"));
	ck_assert(!obs.modules[0].relro_writable);
	audit_obs_release(&obs);
	fixture_stop(&f);
}
END_TEST

/* Built without PIE and with partial RELRO: the audit says so and tells
 * the flags; the same source rebuilt with them has what was missing. */
START_TEST(nopie_partial_relro_rebuilt)
{
	const char *args[] = { "listen", NULL };
	char apply[1024], cmd[2048];
	const char *flags;
	struct fixture f;

	fixture_start(&f, "audit_nopie", args, NULL);
	ck_assert_int_eq(audit(f.pid), 20);
	ck_has("\"pie\": false");
	ck_has("\"relro\": \"partial\"");
	ck_has("\"bind_now\": false");
	ck_has("\"stack_protector\": false");
	ck_assert(rec_apply("rebuild", apply, sizeof(apply)));
	ck_assert(strstr(apply, "-fPIE -pie") && strstr(apply, "-Wl,-z,relro,-z,now"));
	fixture_stop(&f);

	flags = strstr(apply, " with ") + 6;
	snprintf(cmd, sizeof(cmd), "cc -std=gnu11 -g -Wall -I%s/fixtures -o %s/audit_rebuilt "
		 "%s/fixtures/audit_target.c %s -lpthread", HEAPDOC_ROOT, FIXTURE_BIN,
		 HEAPDOC_ROOT, flags);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	fixture_start(&f, "audit_rebuilt", args, NULL);
	audit(f.pid);
	ck_has("\"pie\": true");
	ck_has("\"relro\": \"full\"");
	ck_has("\"stack_protector\": true");
	ck_has("\"fortify\": true");
	ck_assert(!rec_apply("rebuild", apply, sizeof(apply)));
	fixture_stop(&f);
}
END_TEST

START_TEST(errors)
{
	const char *none[] = { "audit", NULL };
	const char *help[] = { "audit", "--help", NULL };
	pid_t gone = fork();

	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	ck_assert_int_eq(audit(gone), 3);
	ck_has("\"code\": \"ESRCH\"");	/* --json fails as a JSON object */
	ck_has("\"exit\": 3");
	ck_assert_int_eq(run_heapdoc(none, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(run_heapdoc(help, out, sizeof(out), err, sizeof(err)), 0);
	ck_has("Exit status");
	ck_has("Examples:");
}
END_TEST

/* ---- without a process -------------------------------------------------- */

START_TEST(listeners_from_a_fake_tree)
{
	struct audit_socket *s;
	struct error e = { 0 };
	size_t n;

	ck_assert_msg(proc_read_listeners(FAKE_TREE("proc-net"), 4242, &s, &n, &e) == 0, "%s",
		      e.msg);
	ck_assert_uint_eq(n, 5);
	ck_assert(s[0].proto == AUDIT_TCP && !strcmp(s[0].address, "127.0.0.1") &&
		  s[0].port == 8080 && s[0].loopback && s[0].inode == 1001);
	ck_assert(s[1].proto == AUDIT_TCP6 && !strcmp(s[1].address, "::") && s[1].port == 443 &&
		  s[1].wildcard && !s[1].loopback);
	ck_assert(s[2].proto == AUDIT_UDP && !strcmp(s[2].address, "10.0.0.5") &&
		  s[2].port == 53 && !s[2].loopback);
	ck_assert(s[3].proto == AUDIT_UDP6 && !strcmp(s[3].address, "::1") && s[3].loopback);
	ck_assert(s[4].proto == AUDIT_UNIX && !strcmp(s[4].path, "/run/app/control.sock"));
	free(s);
}
END_TEST

static void judge_kind(struct audit_obs *obs, enum alloc_kind kind, const char *path,
		       struct audit_result *r)
{
	obs->alloc.kind = kind;
	snprintf(obs->alloc.path, sizeof(obs->alloc.path), "%s", path);
	obs->sockets_read = true;
	obs->glibc.tcache_count = UINT64_MAX;
	obs->glibc.perturb_byte = obs->glibc.debug_hooks = obs->glibc.debug_perturb_byte = -1;
	audit_judge(obs, r);
}

START_TEST(hardened_malloc_variants)
{
	struct audit_obs obs = { 0 };
	struct audit_result r;

	judge_kind(&obs, ALLOC_HARDENED_MALLOC, "/usr/lib/libhardened_malloc-light.so", &r);
	ck_assert(r.hardened);
	ck_assert_str_eq(r.variant, "light");
	ck_assert_int_eq(r.checks[8].state, AUDIT_OFF);		/* randomization */
	ck_assert_int_eq(r.checks[6].state, AUDIT_ON);		/* zero_on_free */
	judge_kind(&obs, ALLOC_HARDENED_MALLOC, "/usr/lib/libhardened_malloc.so", &r);
	ck_assert_str_eq(r.variant, "default");
	ck_assert_int_eq(r.checks[8].state, AUDIT_ON);
}
END_TEST

START_TEST(mimalloc_secure_by_name)
{
	struct audit_obs obs = { 0 };
	struct audit_result r;

	judge_kind(&obs, ALLOC_MIMALLOC, "/usr/lib/libmimalloc-secure.so.2", &r);
	ck_assert(r.hardened);
	ck_assert_int_eq(r.checks[0].state, AUDIT_ON);
	judge_kind(&obs, ALLOC_MIMALLOC, "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", &r);
	ck_assert(!r.hardened);
	ck_assert_int_eq(r.checks[0].state, AUDIT_OFF);
	ck_assert_int_eq(r.checks[7].state, AUDIT_OFF);		/* guard_pages */
}
END_TEST

START_TEST(advice_follows_exposure)
{
	struct audit_socket sock = { .proto = AUDIT_TCP, .address = "0.0.0.0", .port = 80,
				     .wildcard = true };
	struct audit_obs obs = { 0 };
	struct audit_result r;

	/* No door: nothing recommended, and it says why. */
	judge_kind(&obs, ALLOC_JEMALLOC, "/usr/lib/libjemalloc.so.2", &r);
	ck_assert_uint_eq(r.nrecs, 0);
	ck_assert(strstr(r.advice, "nothing to recommend"));
	/* Listening on every address: scudo, against jemalloc's figure. */
	obs.sockets = &sock;
	obs.nsockets = 1;
	judge_kind(&obs, ALLOC_JEMALLOC, "/usr/lib/libjemalloc.so.2", &r);
	ck_assert_int_eq(r.untrusted_input, 1);
	ck_assert(strstr(r.exposure, "network-facing: tcp 0.0.0.0:80"));
	ck_assert_uint_ge(r.nrecs, 1);
	ck_assert_str_eq(r.recs[0].name, "scudo");
	ck_assert_double_eq_tol(r.recs[0].cost_ratio,
				audit_cost("scudo-quarantine") / audit_cost("jemalloc"), 1e-9);
	ck_assert(strstr(r.recs[0].loses, "profiling"));
	/* Sockets that could not be read: advised as exposed. */
	obs.nsockets = 0;
	judge_kind(&obs, ALLOC_JEMALLOC, "/usr/lib/libjemalloc.so.2", &r);
	obs.sockets_read = false;
	audit_judge(&obs, &r);
	ck_assert_int_eq(r.untrusted_input, -1);
	ck_assert_uint_ge(r.nrecs, 1);
}
END_TEST

START_TEST(scudo_quarantine_needs_all_three)
{
	struct audit_obs obs = { 0 };
	struct audit_result r;

	snprintf(obs.env.scudo_options, sizeof(obs.env.scudo_options),
		 "quarantine_size_kb=256,thread_local_quarantine_size_kb=64");
	judge_kind(&obs, ALLOC_SCUDO, AUDIT_SCUDO_PATH, &r);
	ck_assert_int_eq(r.checks[4].state, AUDIT_OFF);
	ck_assert(strstr(r.checks[4].detail, "quarantine_max_chunk_size=0"));
	snprintf(obs.env.scudo_options, sizeof(obs.env.scudo_options),
		 "quarantine_size_kb=256 thread_local_quarantine_size_kb=64 "
		 "quarantine_max_chunk_size=512");
	judge_kind(&obs, ALLOC_SCUDO, AUDIT_SCUDO_PATH, &r);
	ck_assert_int_eq(r.checks[4].state, AUDIT_ON);
}
END_TEST

START_TEST(option_lists)
{
	char v[32];

	ck_assert(audit_option("glibc.malloc.check=3:glibc.malloc.perturb=165", ":",
			       "glibc.malloc.perturb", v, sizeof(v)));
	ck_assert_str_eq(v, "165");
	ck_assert(!audit_option("glibc.malloc.checkx=1", ":", "glibc.malloc.check", v, sizeof(v)));
	ck_assert(audit_option("a=1:a=2", ":", "a", v, sizeof(v)));
	ck_assert_str_eq(v, "2");
	ck_assert(audit_option("junk:free,san_guard_large:1", ",", "junk", v, sizeof(v)));
	ck_assert_str_eq(v, "free");
	ck_assert_uint_eq(audit_glibc_version("2.36"), 2036);
	ck_assert_uint_eq(audit_glibc_version(""), 0);
}
END_TEST

/* The costs the recommendations quote are the bench's last committed run,
 * and the bench measures exactly the settings recommended. */
START_TEST(costs_come_from_the_bench)
{
	static char text[16384], script[16384];
	unsigned n = 0;

	ck_assert(slurp(HEAPDOC_ROOT "/bench/results/alloc_cost.txt", text, sizeof(text)) >= 0);
	ck_assert(slurp(HEAPDOC_ROOT "/bench/alloc_cost.sh", script, sizeof(script)) >= 0);
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		double ops, ratio;

		if (sscanf(l, "alloc_cost %63s %lf ops/s %lf", name, &ops, &ratio) != 3)
			continue;
		ck_assert_msg(audit_cost(name) > ratio - 0.005 && audit_cost(name) < ratio + 0.005,
			      "%s: bench %.2f, lib/judge/audit_costs.c %.2f", name, ratio,
			      audit_cost(name));
		n++;
	}
	ck_assert_uint_eq(n, 8);
	ck_assert(strstr(script, "quarantine=" AUDIT_SCUDO_QUARANTINE "\n"));
	ck_assert(strstr(script, "perturb=" AUDIT_GLIBC_PERTURB "\n"));
}
END_TEST

/* ---- whole reports against committed files ------------------------------ */

/* A glibc 2.36 server as an audit would see it: listening on every address
 * and on a unix socket, its executable without PIE and with partial RELRO
 * (and its GOT made writable), a corrupt heap, perturb asked for. */
static void exposed_glibc(struct audit_obs *obs, struct audit_module *m, struct audit_socket *sk)
{
	memset(obs, 0, sizeof(*obs));
	obs->pid = 4242;
	snprintf(obs->comm, sizeof(obs->comm), "server");
	obs->alloc = (struct alloc_id){ .kind = ALLOC_GLIBC, .link = ALLOC_SHARED,
		.version = "2.36", .path = "/usr/lib/x86_64-linux-gnu/libc.so.6",
		.evidence = "libc.so.6 exports malloc (linked)" };
	snprintf(obs->env.glibc_tunables, sizeof(obs->env.glibc_tunables),
		 "glibc.malloc.arena_max=2");
	snprintf(obs->scudo_lib, sizeof(obs->scudo_lib), "%s", AUDIT_SCUDO_PATH);
	obs->glibc = (struct audit_glibc){ .walked = true, .method = "held", .tcache_count = 7,
		.arenas = 2, .safe_links = 12, .safe_link_at = 0x55d0c0de12a0,
		.safe_link_stored = 0x55d0c0de1, .safe_link_list = "tcache bin 0 of thread 4242",
		.corrupt = true, .nfindings = 2, .perturb_byte = 0, .debug_hooks = -1,
		.debug_perturb_byte = -1 };
	snprintf(obs->glibc.findings[0].what, sizeof(obs->glibc.findings[0].what),
		 "fastbin 1 holds a chunk of size 4096");
	snprintf(obs->glibc.findings[1].what, sizeof(obs->glibc.findings[1].what),
		 "bin 3 of arena 0x7f0000000000: endless list (a cycle)");
	m[0] = (struct audit_module){ .path = "/usr/sbin/server", .executable = true, .read = true,
		.relro = true, .stack_protector = true, .fortified = 3, .gnu_stack = true,
		.nx_stack = true, .relro_start = 0x403000, .relro_end = 0x404000,
		.relro_writable = true };
	m[1] = (struct audit_module){ .path = "/usr/lib/x86_64-linux-gnu/libc.so.6", .read = true,
		.pie = true, .relro = true, .stack_protector = true, .gnu_stack = true,
		.nx_stack = true };
	m[2] = (struct audit_module){ .path = "/opt/vendor/libold.so", .read = false,
		.why_unread = "open /proc/4242/root/opt/vendor/libold.so: Permission denied" };
	obs->modules = m;
	obs->nmodules = 3;
	sk[0] = (struct audit_socket){ .proto = AUDIT_TCP6, .address = "::", .port = 443,
		.inode = 1003, .wildcard = true };
	sk[1] = (struct audit_socket){ .proto = AUDIT_UNIX, .path = "/run/server.sock",
		.inode = 1007, .loopback = true };
	obs->sockets = sk;
	obs->nsockets = 2;
	obs->sockets_read = true;
	obs->pause_us = 812;
	obs->pause_total_us = 1406;
	obs->stops = 2;
}

/* Renders into a string; compares it with tests/expected/NAME, or writes
 * that file when HEAPDOC_UPDATE_EXPECTED is set (a change meant to alter
 * the report). */
static void ck_expected(const char *name, const struct audit_obs *obs,
			const struct audit_result *r, bool json)
{
	static char want[1 << 16];
	char path[4096], *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);

	ck_assert(f);
	if (json)
		audit_print_json(f, obs, r);
	else
		audit_print_text(f, obs, r);
	fclose(f);
	snprintf(path, sizeof(path), "%s/tests/expected/%s", HEAPDOC_ROOT, name);
	if (getenv("HEAPDOC_UPDATE_EXPECTED")) {
		f = fopen(path, "w");
		ck_assert(f && fwrite(got, 1, len, f) == len && fclose(f) == 0);
	}
	ck_assert_msg(slurp(path, want, sizeof(want)) >= 0, "no %s", path);
	ck_assert_msg(!strcmp(got, want), "%s differs; got:\n%s", name, got);
	free(got);
}

START_TEST(whole_report)
{
	struct audit_module m[3];
	struct audit_socket sk[2];
	struct audit_obs obs;
	struct audit_result r;

	unsetenv("LANG");
	unsetenv("LC_ALL");
	unsetenv("LC_CTYPE");
	exposed_glibc(&obs, m, sk);
	audit_judge(&obs, &r);
	ck_expected("audit-exposed-glibc.txt", &obs, &r, false);
	ck_expected("audit-exposed-glibc.json", &obs, &r, true);
}
END_TEST

Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *live = tcase_create("live"), *pure = tcase_create("pure");

	tcase_set_timeout(live, 120);
	tcase_add_test(live, plain_glibc);
	tcase_add_test(live, glibc_malloc_check_and_perturb);
	tcase_add_test(live, glibc_check_asked_without_the_library);
	tcase_add_test(live, glibc_without_tcache);
	tcase_add_test(live, glibc_without_debug_info);
	tcase_add_test(live, scudo_with_quarantine);
	tcase_add_test(live, jemalloc_server_gets_scudo);
	tcase_add_test(live, glibc_advice_applied);
	tcase_add_test(live, corrupt_heap);
	tcase_add_test(live, relro_made_writable);
	tcase_add_test(live, relro_range_matches_the_process);
	tcase_add_test(live, nopie_partial_relro_rebuilt);
	tcase_add_test(live, errors);
	tcase_add_test(pure, listeners_from_a_fake_tree);
	tcase_add_test(pure, hardened_malloc_variants);
	tcase_add_test(pure, mimalloc_secure_by_name);
	tcase_add_test(pure, advice_follows_exposure);
	tcase_add_test(pure, scudo_quarantine_needs_all_three);
	tcase_add_test(pure, option_lists);
	tcase_add_test(pure, costs_come_from_the_bench);
	tcase_add_test(pure, whole_report);
	suite_add_tcase(s, live);
	suite_add_tcase(s, pure);
	return s;
}
